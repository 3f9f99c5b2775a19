//! Rule `file-permissions`: key files and key directories closed to others and owned by
//! the person they belong to.

use super::{shell_quote, Ctx, Rule, Subject};
use crate::inventory::{format_mode, FileFacts};
use crate::key::Kind;

pub(super) const EXPLAIN: &str = "\
A private key file that group or others can read is a key others can copy; OpenSSH itself \
refuses to use one (\"UNPROTECTED PRIVATE KEY FILE\"). A key directory such as ~/.ssh that \
others can write lets them plant keys or replace authorized_keys and config. A key file \
owned by another user can be changed by that user. Limits: [files] key_mode (0600) and \
ssh_dir_mode (0755: others must not write).";

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let files = &ctx.policy.files;
    for key in &ctx.inventory.keys {
        if key.facts.kind == Kind::Private {
            check_file(
                ctx,
                Subject::key(key),
                &key.file,
                "private key file",
                files.key_mode,
            );
        }
    }
    for dir in &ctx.inventory.dirs {
        check_file(
            ctx,
            Subject::file(&dir.path),
            &dir.file,
            "key directory",
            files.ssh_dir_mode,
        );
    }
}

/// Judges one file's mode against the most it may allow, and its owner against the
/// person being checked.
fn check_file(ctx: &mut Ctx<'_>, subject: Subject<'_>, file: &FileFacts, what: &str, limit: u32) {
    let uid = ctx.env.uid;
    let path = shell_quote(subject.path, file.path_escaped);
    let mode = file.mode & 0o7777;
    if mode & !limit != 0 {
        ctx.push(
            Rule::FilePermissions,
            subject,
            format!(
                "{what} mode is {}; the policy allows at most {}",
                format_mode(mode),
                format_mode(limit)
            ),
            Some(format!("chmod {:o} {path}", mode & limit)),
        );
    }
    if file.owner != uid {
        ctx.push(
            Rule::FilePermissions,
            subject,
            format!(
                "{what} is owned by uid {}, not by you (uid {uid})",
                file.owner
            ),
            Some(format!("sudo chown {uid} {path}")),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::evaluate;
    use super::super::testkit::{encrypted, env, ids, inventory, private};
    use crate::inventory::{DirRecord, FileFacts};
    use crate::policy::Policy;

    #[test]
    fn group_readable_key_fails_with_chmod() {
        let mut key = encrypted(private("/h/.ssh/id", "ssh-ed25519", 256), 16);
        key.file.mode = 0o644;
        let f = evaluate(
            &inventory(vec![key.clone()]),
            &Policy::builtin().unwrap(),
            &env(),
        );
        assert_eq!(ids(&f), ["file-permissions"]);
        assert!(f[0].message.contains("0644"));
        assert_eq!(f[0].fix.as_deref(), Some("chmod 600 /h/.ssh/id"));
        key.file.mode = 0o400;
        assert!(evaluate(&inventory(vec![key]), &Policy::builtin().unwrap(), &env()).is_empty());
    }

    #[test]
    fn foreign_owner_and_open_directory() {
        let mut key = encrypted(private("/h/.ssh/id", "ssh-ed25519", 256), 16);
        key.file.owner = 0;
        let mut inv = inventory(vec![key]);
        inv.dirs.push(DirRecord {
            path: "/h/.ssh".to_owned(),
            file: FileFacts {
                mode: 0o777,
                owner: 1000,
                modified: None,
                path_escaped: false,
            },
        });
        let f = evaluate(&inv, &Policy::builtin().unwrap(), &env());
        assert_eq!(ids(&f), ["file-permissions", "file-permissions"]);
        assert!(
            f[0].message.contains("key directory mode is 0777"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].fix.as_deref(), Some("chmod 755 /h/.ssh"));
        assert!(f[1].message.contains("uid 0"));
        inv.dirs[0].file.mode = 0o755;
        inv.keys[0].file.owner = 1000;
        assert!(evaluate(&inv, &Policy::builtin().unwrap(), &env()).is_empty());
    }
}
