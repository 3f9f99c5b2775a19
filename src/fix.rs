//! PURE: the plan of `keycheck fix`. From the findings of a check and the records they
//! are about, the steps that fix what can be fixed on this laptop, each naming the
//! findings it resolves and the exact command it stands for, and the findings nothing
//! here can fix (listed, never dropped).
//!
//! Nothing here touches a file: the command line prints the plan (and, later, carries it
//! out). Paths are as the scan shows them; the commands quote them for a POSIX shell.

pub mod backup;
pub mod rewrite;

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::{Finding, Severity};
use crate::inventory::{format_mode, Inventory, KeyRecord};
use crate::key::Format;
use crate::policy::Policy;
use crate::rules::{self, shell_quote, Rule};

/// [`Action::rank`] of a replacement.
const REPLACE_RANK: u8 = 2;

/// What one step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Take group and other permissions away: `chmod TO PATH`.
    Chmod {
        /// The file or directory.
        path: String,
        /// Its mode now (permission bits only).
        from: u32,
        /// The mode it gets: `from` with what the policy forbids taken away.
        to: u32,
    },
    /// Add a passphrase, or change it, and rewrite the key in the OpenSSH format with
    /// bcrypt `rounds`: `ssh-keygen -p -o -a ROUNDS -f KEY`. The key itself is unchanged.
    Reencrypt {
        /// The private key file.
        key: String,
        /// The bcrypt rounds (the policy's minimum, at least 100).
        rounds: u32,
    },
    /// Make a new key beside one that cannot be fixed in place; the old key stays where it
    /// is until the person has registered the new one and retires it.
    Replace {
        /// The key to retire.
        old: String,
        /// Where the new private key goes (a name no file has).
        new_path: String,
        /// The `ssh-keygen` command that makes it.
        command: String,
        /// Its arguments before `-f NEW_PATH`.
        args: Vec<String>,
    },
}

impl Action {
    /// The file or directory the step changes (or, for a replacement, retires).
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Action::Chmod { path, .. } => path,
            Action::Reencrypt { key, .. } => key,
            Action::Replace { old, .. } => old,
        }
    }

    /// The order of steps on one path: permissions first (OpenSSH refuses to read a key
    /// others can read), then the rewrite, then the replacement.
    fn rank(&self) -> u8 {
        match self {
            Action::Chmod { .. } => 0,
            Action::Reencrypt { .. } => 1,
            Action::Replace { .. } => REPLACE_RANK,
        }
    }

    /// A stable name for the action (`chmod`, `reencrypt`, `replace`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Action::Chmod { .. } => "chmod",
            Action::Reencrypt { .. } => "reencrypt",
            Action::Replace { .. } => "replace",
        }
    }

    /// One line saying what the step does, for people.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Action::Chmod { from, to, .. } => format!(
                "tighten the mode from {} to {}",
                format_mode(*from),
                format_mode(*to)
            ),
            Action::Reencrypt { rounds, .. } => format!(
                "set a passphrase and rewrite the key in the OpenSSH format with {rounds} bcrypt rounds (the key itself does not change)"
            ),
            Action::Replace { .. } => {
                "make a replacement key beside it; the old key stays until you retire it".to_owned()
            }
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What it does.
    pub action: Action,
    /// The command it stands for, ready to paste into a POSIX shell.
    pub command: String,
    /// The findings it resolves, in the check's order.
    pub findings: Vec<Finding>,
    /// The path holds `\\xNN` escapes for bytes that are not UTF-8 (see
    /// `sys::scan::path_from_display`).
    pub escaped: bool,
}

/// A finding nothing on this laptop can fix, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFixable {
    /// The finding, with its own suggested fix.
    pub finding: Finding,
    /// Why `keycheck fix` leaves it to the person.
    pub reason: String,
}

/// What `keycheck fix` would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The steps, by path, then chmod, reencrypt, replace.
    pub steps: Vec<Step>,
    /// The findings left to the person, in the check's order.
    pub not_fixable: Vec<NotFixable>,
}

impl Plan {
    /// Returns true if and only if the plan has nothing to do and nothing to report.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.not_fixable.is_empty()
    }
}

/// Formats `ssh-keygen -p` reads and can write back in the OpenSSH format.
fn ssh_keygen_reads(format: Format) -> bool {
    matches!(
        format,
        Format::Openssh
            | Format::Pkcs1Pem
            | Format::Pkcs8Pem
            | Format::Pkcs8EncryptedPem
            | Format::Sec1Pem
            | Format::DsaPem
    )
}

/// Plans the fix of `findings` (those of a check of `inventory` under `policy`).
/// Informational findings are left out. `exists` says whether a path is taken on disk
/// (the caller's look; the plan never names a replacement over an existing file).
#[must_use]
pub fn plan(
    findings: &[Finding],
    inventory: &Inventory,
    policy: &Policy,
    exists: &dyn Fn(&str) -> bool,
) -> Plan {
    let keys: BTreeMap<&str, &KeyRecord> = inventory
        .keys
        .iter()
        .map(|k| (k.path.as_str(), k))
        .collect();
    let findings: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .collect();
    // Keys that must be replaced: they are retired, not rewritten.
    let retired: BTreeSet<&str> = findings
        .iter()
        .filter(|f| replaces(f, &keys))
        .map(|f| f.path.as_str())
        .collect();

    // (path, rank) -> step under construction.
    let mut steps: BTreeMap<(String, u8), Step> = BTreeMap::new();
    let mut not_fixable = Vec::new();
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    let rounds = rules::bcrypt_rounds(policy);

    for finding in findings {
        let path = finding.path.as_str();
        let key = keys.get(path).copied();
        let manual = |reason: &str| NotFixable {
            finding: finding.clone(),
            reason: reason.to_owned(),
        };
        let action = match finding.rule {
            Rule::RsaBelowMinimum | Rule::AlgorithmDenied
                if retired.contains(path) && key.is_some() =>
            {
                replace_action(path, key, inventory, policy, exists, &mut chosen, &steps)
            }
            Rule::AlgorithmDenied => {
                not_fixable.push(manual(
                    "the file hides the key's algorithm: write its public key beside it, then check again",
                ));
                continue;
            }
            Rule::PassphraseMissing
            | Rule::PassphraseWeak
            | Rule::KdfWeak
            | Rule::LegacyPemEncryption => {
                if retired.contains(path) {
                    // Retiring the key resolves this too.
                    replace_action(path, key, inventory, policy, exists, &mut chosen, &steps)
                } else if key.is_some_and(|k| ssh_keygen_reads(k.facts.format)) {
                    Some(Action::Reencrypt {
                        key: path.to_owned(),
                        rounds,
                    })
                } else {
                    not_fixable.push(manual(
                        "ssh-keygen cannot rewrite this file's format: convert it with the command shown",
                    ));
                    continue;
                }
            }
            Rule::FilePermissions => {
                let is_chmod = finding
                    .fix
                    .as_deref()
                    .is_some_and(|f| f.starts_with("chmod "));
                match chmod_action(path, key, inventory, policy).filter(|_| is_chmod) {
                    Some(action) => Some(action),
                    None => {
                        not_fixable.push(manual(if is_chmod {
                            "the file is not one the check recorded"
                        } else {
                            "the file belongs to another user: only root can give it back"
                        }));
                        continue;
                    }
                }
            }
            _ => None,
        };
        let Some(action) = action else {
            not_fixable.push(manual("not something keycheck can change on this laptop"));
            continue;
        };
        let escaped = key.is_some_and(|k| k.file.path_escaped)
            || inventory
                .dirs
                .iter()
                .any(|d| d.path == path && d.file.path_escaped);
        let entry = steps
            .entry((path.to_owned(), action.rank()))
            .or_insert_with(|| Step {
                command: command(&action, escaped),
                action,
                findings: Vec::new(),
                escaped,
            });
        entry.findings.push(finding.clone());
    }
    Plan {
        steps: steps.into_values().collect(),
        not_fixable,
    }
}

/// Returns true if and only if `keycheck fix` can act on findings of `rule` (for the
/// agent's notifications, which then name `keycheck fix PATH`).
#[must_use]
pub fn acts_on(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::PassphraseMissing
            | Rule::PassphraseWeak
            | Rule::KdfWeak
            | Rule::LegacyPemEncryption
            | Rule::FilePermissions
            | Rule::RsaBelowMinimum
            | Rule::AlgorithmDenied
    )
}

/// `keycheck fix PATH`, with the home directory shown as `~` and the rest quoted for a
/// POSIX shell.
#[must_use]
pub fn command_line(path: &str, escaped: bool, home: Option<&str>) -> String {
    let under_home = home
        .filter(|h| !h.is_empty() && *h != "/")
        .and_then(|h| path.strip_prefix(h))
        .and_then(|rest| rest.strip_prefix('/'));
    match under_home {
        Some(rest) if !rest.is_empty() => format!("keycheck fix ~/{}", shell_quote(rest, escaped)),
        _ => format!("keycheck fix {}", shell_quote(path, escaped)),
    }
}

/// Returns true if and only if `finding` says its key must be replaced: RSA below the
/// minimum, or an algorithm the policy denies (when the file shows which).
fn replaces(finding: &Finding, keys: &BTreeMap<&str, &KeyRecord>) -> bool {
    let known = keys
        .get(finding.path.as_str())
        .is_some_and(|k| k.facts.algorithm.is_some());
    match finding.rule {
        Rule::RsaBelowMinimum => keys.contains_key(finding.path.as_str()),
        Rule::AlgorithmDenied => known,
        _ => false,
    }
}

/// The replacement of the key at `path`, chosen once per key and never named like a
/// file on disk, in the inventory, or another replacement of this plan.
fn replace_action(
    path: &str,
    key: Option<&KeyRecord>,
    inventory: &Inventory,
    policy: &Policy,
    exists: &dyn Fn(&str) -> bool,
    chosen: &mut BTreeSet<String>,
    steps: &BTreeMap<(String, u8), Step>,
) -> Option<Action> {
    let key = key?;
    if let Some(step) = steps.get(&(path.to_owned(), REPLACE_RANK)) {
        return Some(step.action.clone());
    }
    let r = rules::replacement(path, key.file.path_escaped, inventory, policy, &|p| {
        exists(p) || chosen.contains(p.strip_suffix(".pub").unwrap_or(p))
    });
    chosen.insert(r.new_path.clone());
    Some(Action::Replace {
        old: path.to_owned(),
        new_path: r.new_path,
        command: r.command,
        args: r.args,
    })
}

/// The chmod that brings a key file or key directory within the policy, when its mode
/// allows more than the policy does.
fn chmod_action(
    path: &str,
    key: Option<&KeyRecord>,
    inventory: &Inventory,
    policy: &Policy,
) -> Option<Action> {
    let (mode, limit) = match key {
        Some(k) => (k.file.mode, policy.files.key_mode),
        None => {
            let dir = inventory.dirs.iter().find(|d| d.path == path)?;
            (dir.file.mode, policy.files.ssh_dir_mode)
        }
    };
    let from = mode & 0o7777;
    (from & !limit != 0).then(|| Action::Chmod {
        path: path.to_owned(),
        from,
        to: from & limit,
    })
}

/// The shell command of `action`.
fn command(action: &Action, escaped: bool) -> String {
    match action {
        Action::Chmod { path, to, .. } => format!("chmod {to:o} {}", shell_quote(path, escaped)),
        Action::Reencrypt { key, rounds } => format!(
            "ssh-keygen -p -o -a {rounds} -f {}",
            shell_quote(key, escaped)
        ),
        Action::Replace { command, .. } => command.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::inventory::{DirRecord, FileFacts};
    use crate::rules::evaluate;
    use crate::rules::testkit::{encrypted, env, inventory, private};

    fn plan_of(inv: &Inventory, policy: &Policy) -> Plan {
        let findings = evaluate(inv, policy, &env());
        plan(&findings, inv, policy, &|_| false)
    }

    fn builtin() -> Policy {
        Policy::builtin().unwrap()
    }

    fn rule_ids(step: &Step) -> Vec<&'static str> {
        step.findings.iter().map(|f| f.rule.id()).collect()
    }

    #[test]
    fn unencrypted_key_is_reencrypted_with_the_policys_rounds() {
        let inv = inventory(vec![private("/h/.ssh/id_ed25519", "ssh-ed25519", 256)]);
        let p = plan_of(&inv, &builtin());
        assert_eq!(p.steps.len(), 1, "{p:#?}");
        assert_eq!(
            p.steps[0].action,
            Action::Reencrypt {
                key: "/h/.ssh/id_ed25519".to_owned(),
                rounds: 100
            }
        );
        assert_eq!(
            p.steps[0].command,
            "ssh-keygen -p -o -a 100 -f /h/.ssh/id_ed25519"
        );
        assert_eq!(rule_ids(&p.steps[0]), ["passphrase-missing"]);
        assert!(p.not_fixable.is_empty());

        let strict = Policy::with_override("t", "[keys]\nbcrypt_min_rounds = 200\n").unwrap();
        let p = plan_of(&inv, &strict);
        assert_eq!(
            p.steps[0].command,
            "ssh-keygen -p -o -a 200 -f /h/.ssh/id_ed25519"
        );
    }

    #[test]
    fn weak_kdf_legacy_pem_and_pkcs8_are_reencrypted() {
        let weak = encrypted(private("/h/.ssh/a", "ssh-ed25519", 256), 8);
        let mut pem = private("/h/.ssh/b", "ssh-rsa", 4096);
        pem.facts.format = Format::Pkcs1Pem;
        pem.facts.encrypted = true;
        pem.facts.cipher = Some("AES-128-CBC".to_owned());
        pem.facts.kdf = Some("md5".to_owned());
        let mut p8 = private("/h/.ssh/c", "ssh-ed25519", 256);
        p8.facts.format = Format::Pkcs8EncryptedPem;
        p8.facts.encrypted = true;
        p8.facts.kdf = Some("pbkdf2-sha256".to_owned());
        p8.facts.kdf_rounds = Some(2048);
        let p = plan_of(&inventory(vec![weak, pem, p8]), &builtin());
        let got: Vec<(&str, &str, Vec<&str>)> = p
            .steps
            .iter()
            .map(|s| (s.action.path(), s.action.name(), rule_ids(s)))
            .collect();
        assert_eq!(
            got,
            [
                ("/h/.ssh/a", "reencrypt", vec!["kdf-weak"]),
                ("/h/.ssh/b", "reencrypt", vec!["legacy-pem-encryption"]),
                ("/h/.ssh/c", "reencrypt", vec!["kdf-weak"]),
            ]
        );
        assert_eq!(p.steps[1].command, "ssh-keygen -p -o -a 100 -f /h/.ssh/b");
    }

    #[test]
    fn putty_keys_are_left_to_the_person() {
        let mut v2 = private("/h/k.ppk", "ssh-ed25519", 256);
        v2.facts.format = Format::PuttyV2;
        v2.facts.encrypted = true;
        v2.facts.kdf = Some("sha1".to_owned());
        let p = plan_of(&inventory(vec![v2]), &builtin());
        assert!(p.steps.is_empty());
        assert_eq!(p.not_fixable.len(), 1);
        assert_eq!(p.not_fixable[0].finding.rule, Rule::KdfWeak);
        assert!(p.not_fixable[0].reason.contains("ssh-keygen cannot"));
    }

    #[test]
    fn one_step_per_key_for_several_findings() {
        // A weak passphrase (audit) and too few rounds: one rewrite resolves both.
        let key = encrypted(private("/h/.ssh/id", "ssh-ed25519", 256), 8);
        let mut inv = inventory(vec![key]);
        inv.passphrase_audit.insert(
            "/h/.ssh/id".to_owned(),
            crate::inventory::Audit::Weak { tried: 3 },
        );
        let p = plan_of(&inv, &builtin());
        assert_eq!(p.steps.len(), 1, "{p:#?}");
        assert_eq!(rule_ids(&p.steps[0]), ["passphrase-weak", "kdf-weak"]);
    }

    #[test]
    fn open_key_file_and_directory_are_chmodded() {
        let mut key = encrypted(private("/h/.ssh/id", "ssh-ed25519", 256), 16);
        key.file.mode = 0o644;
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
        let p = plan_of(&inv, &builtin());
        let actions: Vec<&Action> = p.steps.iter().map(|s| &s.action).collect();
        assert_eq!(
            actions,
            [
                &Action::Chmod {
                    path: "/h/.ssh".to_owned(),
                    from: 0o777,
                    to: 0o755
                },
                &Action::Chmod {
                    path: "/h/.ssh/id".to_owned(),
                    from: 0o644,
                    to: 0o600
                },
            ]
        );
        assert_eq!(p.steps[0].command, "chmod 755 /h/.ssh");
        assert_eq!(p.steps[1].command, "chmod 600 /h/.ssh/id");
        assert_eq!(rule_ids(&p.steps[1]), ["file-permissions"]);
    }

    #[test]
    fn foreign_owner_is_not_fixable_here() {
        let mut key = encrypted(private("/h/.ssh/id", "ssh-ed25519", 256), 16);
        key.file.owner = 0;
        let p = plan_of(&inventory(vec![key]), &builtin());
        assert!(p.steps.is_empty());
        assert_eq!(p.not_fixable.len(), 1);
        assert!(p.not_fixable[0].reason.contains("another user"));
    }

    #[test]
    fn small_rsa_is_replaced_not_reencrypted() {
        let mut old = private("/h/.ssh/id_rsa", "ssh-rsa", 1024);
        old.file.mode = 0o644;
        let p = plan_of(&inventory(vec![old]), &builtin());
        let got: Vec<(&str, Vec<&str>)> = p
            .steps
            .iter()
            .map(|s| (s.action.name(), rule_ids(s)))
            .collect();
        // The chmod still applies to the old key while it stays; the missing passphrase
        // is resolved by retiring the key.
        assert_eq!(
            got,
            [
                ("chmod", vec!["file-permissions"]),
                ("replace", vec!["rsa-below-minimum", "passphrase-missing"]),
            ],
            "{p:#?}"
        );
        assert_eq!(
            p.steps[1].action,
            Action::Replace {
                old: "/h/.ssh/id_rsa".to_owned(),
                new_path: "/h/.ssh/id_ed25519".to_owned(),
                command: "ssh-keygen -t ed25519 -a 100 -f /h/.ssh/id_ed25519".to_owned(),
                args: ["-t", "ed25519", "-a", "100"].map(String::from).to_vec(),
            }
        );
        assert_eq!(
            p.steps[1].command,
            "ssh-keygen -t ed25519 -a 100 -f /h/.ssh/id_ed25519"
        );
    }

    #[test]
    fn rsa_replacement_when_the_policy_allows_only_rsa() {
        let policy =
            Policy::with_override("t", "[keys]\nallowed_algorithms = [\"ssh-rsa\"]\n").unwrap();
        let old = encrypted(private("/h/.ssh/id_dsa", "ssh-dss", 1024), 16);
        let p = plan_of(&inventory(vec![old]), &policy);
        assert_eq!(p.steps.len(), 1, "{p:#?}");
        assert_eq!(rule_ids(&p.steps[0]), ["algorithm-denied"]);
        assert_eq!(
            p.steps[0].command,
            "ssh-keygen -t rsa -b 4096 -a 100 -f /h/.ssh/id_rsa_4096"
        );
    }

    #[test]
    fn replacements_never_collide_with_disk_or_each_other() {
        let a = encrypted(private("/h/.ssh/id_dsa", "ssh-dss", 1024), 16);
        let b = encrypted(private("/h/.ssh/id_rsa", "ssh-rsa", 1024), 16);
        let inv = inventory(vec![a, b]);
        let policy = builtin();
        let findings = evaluate(&inv, &policy, &env());
        // `id_ed25519.pub` exists on disk though the scan did not see it.
        let p = plan(&findings, &inv, &policy, &|p| p == "/h/.ssh/id_ed25519.pub");
        let new: Vec<&str> = p
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Replace { new_path, .. } => new_path.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(new, ["/h/.ssh/id_ed25519_2", "/h/.ssh/id_ed25519_3"]);
    }

    #[test]
    fn hidden_algorithm_and_other_rules_are_listed_not_dropped() {
        let mut hidden = encrypted(private("/h/.ssh/k", "x", 0), 16);
        hidden.facts.algorithm = None;
        hidden.facts.bits = None;
        let mid = encrypted(private("/h/.ssh/m", "ssh-rsa", 3072), 16);
        let p = plan_of(&inventory(vec![hidden, mid]), &builtin());
        assert!(p.steps.is_empty(), "{p:#?}");
        let ids: Vec<&str> = p.not_fixable.iter().map(|n| n.finding.rule.id()).collect();
        assert_eq!(ids, ["algorithm-denied", "rsa-below-recommended"]);
        assert!(p.not_fixable[1].finding.fix.is_some());
    }

    #[test]
    fn quoted_paths_and_order_by_path_then_action() {
        let mut b = private("/h/.ssh/b key", "ssh-ed25519", 256);
        b.file.mode = 0o640;
        let a = private("/h/.ssh/a", "ssh-ed25519", 256);
        let p = plan_of(&inventory(vec![b, a]), &builtin());
        let got: Vec<(&str, &str)> = p
            .steps
            .iter()
            .map(|s| (s.action.path(), s.action.name()))
            .collect();
        assert_eq!(
            got,
            [
                ("/h/.ssh/a", "reencrypt"),
                ("/h/.ssh/b key", "chmod"),
                ("/h/.ssh/b key", "reencrypt"),
            ]
        );
        assert_eq!(p.steps[1].command, "chmod 600 '/h/.ssh/b key'");
        assert_eq!(
            p.steps[2].command,
            "ssh-keygen -p -o -a 100 -f '/h/.ssh/b key'"
        );
    }

    #[test]
    fn the_fix_command_line_shows_home_as_a_tilde_and_quotes_the_rest() {
        let home = Some("/home/a");
        assert_eq!(
            command_line("/home/a/.ssh/id_rsa", false, home),
            "keycheck fix ~/.ssh/id_rsa"
        );
        assert_eq!(
            command_line("/home/a/.ssh/my key", false, home),
            "keycheck fix ~/'.ssh/my key'"
        );
        assert_eq!(
            command_line("/home/ab/id", false, home),
            "keycheck fix /home/ab/id"
        );
        assert_eq!(command_line("/srv/k", false, None), "keycheck fix /srv/k");
        assert!(acts_on(Rule::PassphraseMissing) && !acts_on(Rule::AgentLifetimeUnbounded));
    }

    #[test]
    fn nothing_to_fix_is_an_empty_plan() {
        let inv = inventory(vec![encrypted(
            private("/h/.ssh/id", "ssh-ed25519", 256),
            16,
        )]);
        assert!(plan_of(&inv, &builtin()).is_empty());
    }
}
