//! Rules on the ssh client configuration: `cache-unbounded`, `cache-window-exceeded`,
//! `use-keychain`, `forward-agent`.

use super::Ctx;

pub(super) const EXPLAIN_UNBOUNDED: &str = "\
`AddKeysToAgent yes` (or ask/confirm) with no time adds every key you use to the agent \
until the agent exits, often days. The policy says cached passphrases \"should expire after \
1-2 hours or at the end of each login session\" on laptops and desktops and \"after 5-15 \
minutes for mobile devices\". Give the directive a time within the window of this device's \
profile ([cache]).";

pub(super) const EXPLAIN_WINDOW: &str = "\
`AddKeysToAgent` with a time longer than the policy's cache window for this device's \
profile ([cache] laptop, desktop, mobile, server) keeps decrypted keys in the agent longer \
than the policy allows.";

pub(super) const EXPLAIN_KEYCHAIN: &str = "\
On macOS, `UseKeychain yes` stores the passphrase in the login Keychain, so the key is \
unlocked without asking for as long as the Keychain is: effectively forever, which no \
cache window allows.";

pub(super) const EXPLAIN_FORWARD: &str = "\
`ForwardAgent yes` under `Host *` lets every server you connect to use your keys while \
you are connected: a root user there can log in anywhere as you. Least privilege: forward \
only to the hosts that need it, or use ProxyJump, which needs no forwarding.";

pub(super) fn check(_ctx: &mut Ctx<'_>) {}
