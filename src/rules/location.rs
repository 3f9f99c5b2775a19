//! Rules on where private keys live: `stray-private-key`, `private-key-on-server`.

use super::{Ctx, Rule, Subject};
use crate::inventory::Found;
use crate::key::Kind;
use crate::policy::Profile;

pub(super) const EXPLAIN_STRAY: &str = "\
\"Private key files should be kept in as few places as possible.\" A private key outside \
~/.ssh — in a project checkout, in Downloads, in a backup folder — is one more copy to \
protect and to forget, and is easily committed, synced or shared by accident. keycheck \
finds them with `keycheck check --search-home` (and the paths in [files] search), and \
through the IdentityFile entries of your ssh config.";

pub(super) const EXPLAIN_SERVER: &str = "\
Private key files must \"never [be kept] on external servers\". A key on a shared machine \
is exposed to its administrators and to anyone who compromises it. With profile = \
\"server\" every user private key found fails. Use agent forwarding to a trusted host or \
ProxyJump instead of copying keys.";

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let inv = ctx.inventory;
    for key in &inv.keys {
        if key.facts.kind != Kind::Private {
            continue;
        }
        if ctx.policy.profile == Profile::Server {
            ctx.push(
                Rule::PrivateKeyOnServer,
                Subject::key(key),
                "a private key on a machine whose policy profile is \"server\"".to_owned(),
                Some(format!(
                    "move the key off this server (use ssh -A or ProxyJump from your laptop), then shred -u {}",
                    super::shell_quote(&key.path, key.file.path_escaped)
                )),
            );
        }
        let how = inv.found.get(&key.path).copied().unwrap_or(Found::Scan);
        if how == Found::Scan {
            continue;
        }
        let inside = inv.ssh_dir.as_deref().is_some_and(|dir| {
            key.path
                .strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'))
        });
        if inside {
            continue;
        }
        let via = match how {
            Found::IdentityFile => " (named by IdentityFile in your ssh config)",
            _ => "",
        };
        ctx.push(
            Rule::StrayPrivateKey,
            Subject::key(key),
            format!("a private key outside ~/.ssh{via}"),
            Some(
                "keep one copy in ~/.ssh (update IdentityFile to point there) and delete this one"
                    .to_owned(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::evaluate;
    use super::super::testkit::{encrypted, env, ids, inventory, private};
    use crate::inventory::Found;
    use crate::policy::Policy;

    #[test]
    fn keys_found_outside_dot_ssh_are_strays() {
        let mut inv = inventory(vec![
            encrypted(private("/h/.ssh/id", "ssh-ed25519", 256), 16),
            encrypted(private("/h/src/repo/deploy", "ssh-ed25519", 256), 16),
            encrypted(private("/h/.ssh/team/id", "ssh-ed25519", 256), 16),
        ]);
        inv.ssh_dir = Some("/h/.ssh".to_owned());
        inv.found
            .insert("/h/src/repo/deploy".to_owned(), Found::Search);
        inv.found
            .insert("/h/.ssh/team/id".to_owned(), Found::IdentityFile);
        let f = evaluate(&inv, &Policy::builtin().unwrap(), &env());
        assert_eq!(ids(&f), ["stray-private-key"]);
        assert_eq!(f[0].path, "/h/src/repo/deploy");
    }

    #[test]
    fn on_a_server_every_private_key_fails() {
        let p = Policy::with_override("org", "profile = \"server\"\n").unwrap();
        let inv = inventory(vec![encrypted(
            private("/h/.ssh/id", "ssh-ed25519", 256),
            16,
        )]);
        let f = evaluate(&inv, &p, &env());
        assert_eq!(ids(&f), ["private-key-on-server"]);
        assert_eq!(f[0].severity, crate::finding::Severity::Fail);
    }
}
