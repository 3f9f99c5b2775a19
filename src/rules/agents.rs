//! Rule `agent-lifetime-unbounded`: the ssh-agents this user runs, and how long they keep
//! the keys loaded into them.

use super::Ctx;

pub(super) const EXPLAIN_UNBOUNDED: &str = "\
An ssh-agent keeps every key added to it, decrypted, until it exits — often for days — \
unless it was started with a lifetime (`ssh-agent -t`). gpg-agent keeps SSH keys for \
default-cache-ttl-ssh (renewed on each use) up to max-cache-ttl-ssh; gnome-keyring's agent \
keeps them for the whole session and may store the passphrase in the login keyring. The \
policy says cached passphrases \"should expire after 1-2 hours or at the end of each login \
session\" on laptops and desktops and \"after 5-15 minutes for mobile devices\". Password \
manager agents (1Password, Secretive, KeePassXC) keep their own rules and are reported, not \
judged.";

pub(super) fn check(_ctx: &mut Ctx<'_>) {}
