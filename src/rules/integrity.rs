//! Rules on files keycheck could not take at face value: `key-not-loadable`,
//! `malformed-key`, `unreadable`.

use super::{shell_quote, Ctx, Rule, Subject};
use crate::key::{Kind, Quirk};

pub(super) const EXPLAIN_NOT_LOADABLE: &str = "\
The key inside the file is intact, but the text around it differs from what OpenSSH \
writes (CR LF line endings, a line of text before the BEGIN line, the base64 on one line) \
and OpenSSH refuses to load it as it is. keycheck reports the key's real facts anyway; \
the fix restores the layout OpenSSH reads.";

pub(super) const EXPLAIN_MALFORMED: &str = "\
The file looks like a key (a PEM or OpenSSH armour, a PuTTY header, a key magic) but \
cannot be read as one: it is truncated, corrupted, or a kind of key keycheck does not \
read. It may still be a working key for some program, so keycheck cannot show it meets \
the policy. Restore it from a backup, or remove it if it is no longer used.";

pub(super) const EXPLAIN_UNREADABLE: &str = "\
keycheck could not examine the file: permission denied, it vanished during the scan, it \
is not a regular file (a FIFO or device named like a key), it is too large to be a key, or \
it sits in a symlink loop. Nothing is known about it, so nothing is shown to be safe.";

pub(super) fn check(ctx: &mut Ctx<'_>) {
    for key in &ctx.inventory.keys {
        if key.facts.kind != Kind::Private || key.facts.openssh_loads || key.facts.quirks.is_empty()
        {
            continue;
        }
        let quirks: Vec<&str> = key.facts.quirks.iter().map(|q| q.describe()).collect();
        let path = shell_quote(&key.path, key.file.path_escaped);
        let fix = if key.facts.quirks.contains(&Quirk::CrlfLineEndings) {
            format!("sed -i 's/\\r$//' {path}")
        } else if key.facts.quirks.contains(&Quirk::TextBeforeArmor) {
            format!("sed -i '0,/^-----BEGIN/{{/^-----BEGIN/!d}}' {path}")
        } else {
            format!("re-wrap the base64 body of {path} at 64 columns (for example with fold -w 64)")
        };
        ctx.push(
            Rule::KeyNotLoadable,
            Subject::key(key),
            format!(
                "the key is intact but OpenSSH will not load the file as it is ({})",
                quirks.join(", ")
            ),
            Some(fix),
        );
    }
    for bad in &ctx.inventory.malformed {
        let what = bad.format.map_or("a key", crate::key::Format::as_str);
        ctx.push(
            Rule::MalformedKey,
            Subject::file(&bad.path),
            format!("looks like {what} but cannot be read: {}", bad.error),
            Some("restore it from a backup, or remove it if it is no longer used".to_owned()),
        );
    }
    for error in &ctx.inventory.errors {
        ctx.push(
            Rule::Unreadable,
            Subject::file(&error.path),
            format!("cannot be examined: {}", error.error),
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::evaluate;
    use super::super::testkit::{encrypted, env, ids, inventory, private};
    use crate::finding::Severity;
    use crate::inventory::{FileError, Malformed};
    use crate::key::{Format, Quirk};
    use crate::policy::Policy;

    #[test]
    fn quirky_key_that_openssh_refuses() {
        let mut key = encrypted(private("/k", "ssh-ed25519", 256), 16);
        key.facts.quirks = vec![Quirk::CrlfLineEndings];
        key.facts.openssh_loads = false;
        let f = evaluate(
            &inventory(vec![key.clone()]),
            &Policy::builtin().unwrap(),
            &env(),
        );
        assert_eq!(ids(&f), ["key-not-loadable"]);
        assert!(f[0].message.contains("CRLF"));
        key.facts.openssh_loads = true;
        assert!(evaluate(&inventory(vec![key]), &Policy::builtin().unwrap(), &env()).is_empty());
    }

    #[test]
    fn malformed_fails_and_unreadable_warns() {
        let mut inv = inventory(vec![]);
        inv.malformed.push(Malformed {
            path: "/k".to_owned(),
            format: Some(Format::Openssh),
            error: "truncated".to_owned(),
        });
        inv.errors.push(FileError {
            path: "/fifo".to_owned(),
            error: "not a regular file (fifo)".to_owned(),
        });
        let f = evaluate(&inv, &Policy::builtin().unwrap(), &env());
        assert_eq!(ids(&f), ["unreadable", "malformed-key"]);
        assert_eq!(f[0].severity, Severity::Warn);
        assert_eq!(f[1].severity, Severity::Fail);
        assert!(f[1].message.contains("openssh"));
    }
}
