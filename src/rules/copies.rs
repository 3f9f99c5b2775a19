//! Rule `duplicate-key`: one private key kept in more places than the policy allows.

use std::collections::BTreeMap;

use super::{shell_quote, Ctx, Rule, Subject};
use crate::key::Kind;

pub(super) const EXPLAIN: &str = "\
\"Private key files should be kept in as few places as possible.\" Every copy is one more \
file to protect, to back up safely and to remember when the key must be revoked. Copies \
are found by fingerprint, so a PEM copy of an OpenSSH key counts too. Limit: [files] \
max_copies (1).";

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let max = usize::try_from(ctx.policy.files.max_copies).unwrap_or(usize::MAX);
    let mut by_fingerprint: BTreeMap<&str, Vec<&crate::inventory::KeyRecord>> = BTreeMap::new();
    for key in &ctx.inventory.keys {
        if key.facts.kind != Kind::Private {
            continue;
        }
        if let Some(fp) = key.facts.fingerprint.as_deref() {
            by_fingerprint.entry(fp).or_default().push(key);
        }
    }
    for copies in by_fingerprint.values_mut() {
        if copies.len() <= max {
            continue;
        }
        // The copy nearest the scanned root counts as the original (`~/.ssh/id_rsa` rather
        // than `~/.ssh/backup/id_rsa`).
        copies.sort_by_key(|k| (k.path.matches('/').count(), k.path.as_str()));
        let Some(first) = copies.first() else {
            continue;
        };
        for copy in &copies[max..] {
            ctx.push(
                Rule::DuplicateKey,
                Subject::key(copy),
                format!(
                    "the same private key as {} ({} copies; the policy allows {max})",
                    first.path,
                    copies.len()
                ),
                Some(format!(
                    "rm -i {}",
                    shell_quote(&copy.path, copy.file.path_escaped)
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::evaluate;
    use super::super::testkit::{encrypted, env, ids, inventory, private};
    use crate::policy::Policy;

    #[test]
    fn second_copy_is_reported_once() {
        let a = encrypted(private("/h/.ssh/a", "ssh-ed25519", 256), 16);
        let mut b = encrypted(private("/h/.ssh/b", "ssh-ed25519", 256), 16);
        b.facts.fingerprint.clone_from(&a.facts.fingerprint);
        let c = encrypted(private("/h/.ssh/c", "ssh-ed25519", 256), 16);
        let f = evaluate(
            &inventory(vec![a.clone(), b.clone(), c]),
            &Policy::builtin().unwrap(),
            &env(),
        );
        assert_eq!(ids(&f), ["duplicate-key"]);
        assert_eq!(f[0].path, "/h/.ssh/b");
        assert!(f[0].message.contains("/h/.ssh/a"));

        let two = Policy::with_override("t", "[files]\nmax_copies = 2\n").unwrap();
        assert!(evaluate(&inventory(vec![a, b]), &two, &env()).is_empty());
    }

    #[test]
    fn public_halves_are_not_copies() {
        let a = encrypted(private("/h/.ssh/a", "ssh-ed25519", 256), 16);
        let mut pubkey = private("/h/.ssh/a.pub", "ssh-ed25519", 256);
        pubkey.facts.kind = crate::key::Kind::Public;
        pubkey.facts.fingerprint.clone_from(&a.facts.fingerprint);
        assert!(evaluate(
            &inventory(vec![a, pubkey]),
            &Policy::builtin().unwrap(),
            &env()
        )
        .is_empty());
    }
}
