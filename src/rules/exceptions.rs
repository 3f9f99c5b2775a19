//! Policy exceptions and the policy's own findings: `exception-expired`,
//! `exception-unused` and `policy-loosening-ignored`.

use globset::{GlobBuilder, GlobMatcher};

use super::{Ctx, Rule, Subject, Waived};
use crate::finding::Finding;
use crate::policy::Exception;

pub(super) const EXPLAIN_LOOSENING: &str = "\
Policy comes in layers: the built-in policy, the organisation's file, the user's file and \
`--policy FILE`. The organisation decides; every layer after it may only tighten: raise a \
minimum, shorten a window, drop an algorithm, raise a rule's severity. A setting that would \
loosen the policy (lower rsa_min_bits, allow another algorithm, lengthen a cache window, \
switch a rule off, add an exception the organisation did not permit) is ignored, and this \
finding names the file and line so nobody believes it is in force.";

pub(super) const EXPLAIN_EXPIRED: &str = "\
An exception waives named rules for one path or key, for a reason, until a date. After \
that date it waives nothing: the findings it hid are back, and this finding says the \
exception has run out so it can be renewed deliberately or removed.";

pub(super) const EXPLAIN_UNUSED: &str = "\
An exception that matches no finding waives nothing: the key was fixed, moved or removed, \
or the exception's path or fingerprint is wrong. Stale exceptions hide future problems; \
remove it (as cargo-deny warns on unmatched exceptions).";

/// Takes the exceptions out of `found`: waived findings are returned, the rest go to
/// `ctx.out`, and expired or unused exceptions become findings of their own.
pub(super) fn apply(ctx: &mut Ctx<'_>, found: Vec<Finding>) -> Vec<Waived> {
    let policy = ctx.policy;
    let home = ctx.env.home.as_deref();
    let active: Vec<(&Exception, Option<GlobMatcher>)> = policy
        .exceptions
        .waive
        .iter()
        .filter(|e| e.expires >= ctx.env.today)
        .map(|e| (e, e.path.as_deref().and_then(|p| matcher(p, home))))
        .collect();
    let mut used = vec![false; active.len()];
    let mut waived = Vec::new();
    for finding in found {
        let hit = active.iter().position(|(e, glob)| {
            e.rules.contains(&finding.rule)
                && match (&e.fingerprint, glob) {
                    (Some(fp), _) => finding.fingerprint.as_deref() == Some(fp.as_str()),
                    (None, Some(glob)) => glob.is_match(&finding.path),
                    (None, None) => false,
                }
        });
        match hit {
            Some(i) => {
                if let Some(u) = used.get_mut(i) {
                    *u = true;
                }
                let e = active.get(i).map(|(e, _)| *e);
                waived.push(Waived {
                    reason: e.map(|e| e.reason.clone()).unwrap_or_default(),
                    expires: e.map(|e| e.expires.to_string()).unwrap_or_default(),
                    exception: e.map(|e| e.at.clone()).unwrap_or_default(),
                    finding,
                });
            }
            None => ctx.out.push(finding),
        }
    }
    for e in &policy.exceptions.waive {
        if e.expires < ctx.env.today {
            ctx.push(
                Rule::ExceptionExpired,
                Subject::file(&e.at),
                format!(
                    "the exception for {} waiving {} expired on {}; its findings are back",
                    subject(e),
                    e.rule_list(),
                    e.expires
                ),
                Some("fix what it waived, or renew the exception with a new expiry".to_owned()),
            );
        }
    }
    for ((e, _), used) in active.iter().zip(used) {
        if !used {
            ctx.push(
                Rule::ExceptionUnused,
                Subject::file(&e.at),
                format!(
                    "the exception for {} waiving {} matches no finding",
                    subject(e),
                    e.rule_list()
                ),
                Some("remove the exception from the policy".to_owned()),
            );
        }
    }
    waived
}

/// One finding per setting a later policy layer tried to loosen.
pub(super) fn loosenings(ctx: &mut Ctx<'_>) {
    for l in &ctx.policy.ignored {
        ctx.push(
            Rule::PolicyLooseningIgnored,
            Subject::file(&l.at),
            format!("{}: {}", l.key, l.message),
            Some(format!("remove {} from the file", l.key)),
        );
    }
}

fn subject(e: &Exception) -> String {
    match (&e.path, &e.fingerprint) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => f.clone(),
        (None, None) => "nothing".to_owned(),
    }
}

/// A glob over finding paths: `~/` is the home directory, `*` stays within one path
/// component and `**` crosses them.
fn matcher(pattern: &str, home: Option<&str>) -> Option<GlobMatcher> {
    let expanded = match (pattern.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => format!("{}/{rest}", home.trim_end_matches('/')),
        _ => pattern.to_owned(),
    };
    GlobBuilder::new(&expanded)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testkit::{env, ids, inventory, private};
    use super::super::{evaluate, judge};
    use crate::policy::Policy;

    fn policy(exceptions: &str) -> Policy {
        Policy::with_override("org.toml", &format!("version = 1\n{exceptions}")).unwrap()
    }

    #[test]
    fn a_path_exception_waives_only_its_rules_until_it_expires() {
        let p = policy(
            "[[exceptions.waive]]\npath = \"~/.ssh/legacy*\"\nrules = [\"passphrase-missing\"]\nreason = \"CI deploy key, ticket SEC-12\"\nexpires = 2026-12-31\n",
        );
        let inv = inventory(vec![
            private("/h/.ssh/legacy_rsa", "ssh-ed25519", 256),
            private("/h/.ssh/id_ed25519", "ssh-ed25519", 256),
        ]);
        let e = judge(&inv, &p, &env());
        assert_eq!(ids(&e.findings), ["passphrase-missing"]);
        assert_eq!(e.findings[0].path, "/h/.ssh/id_ed25519");
        assert_eq!(e.waived.len(), 1);
        assert_eq!(e.waived[0].finding.path, "/h/.ssh/legacy_rsa");
        assert_eq!(e.waived[0].reason, "CI deploy key, ticket SEC-12");
        assert_eq!(e.waived[0].exception, "org.toml:2:1");

        let mut later = env();
        later.today = time::macros::date!(2027 - 01 - 01);
        let f = evaluate(&inv, &p, &later);
        assert_eq!(
            ids(&f),
            [
                "passphrase-missing",
                "passphrase-missing",
                "exception-expired"
            ]
        );
        assert!(
            f[2].message.contains("expired on 2026-12-31"),
            "{}",
            f[2].message
        );
        assert_eq!(f[2].path, "org.toml:2:1");
    }

    #[test]
    fn star_does_not_cross_directories() {
        let p = policy(
            "[[exceptions.waive]]\npath = \"~/*\"\nrules = [\"passphrase-missing\"]\nreason = \"r\"\nexpires = 2027-01-01\n",
        );
        let inv = inventory(vec![private("/h/.ssh/id", "ssh-ed25519", 256)]);
        assert_eq!(
            ids(&evaluate(&inv, &p, &env())),
            ["passphrase-missing", "exception-unused"]
        );
    }

    #[test]
    fn a_fingerprint_exception_follows_the_key() {
        let p = policy(
            "[[exceptions.waive]]\nfingerprint = \"SHA256:/h/.ssh/id\"\nrules = [\"passphrase-missing\", \"duplicate-key\"]\nreason = \"r\"\nexpires = 2027-01-01\n",
        );
        let inv = inventory(vec![private("/h/.ssh/id", "ssh-ed25519", 256)]);
        let e = judge(&inv, &p, &env());
        assert!(e.findings.is_empty(), "{:?}", e.findings);
        assert_eq!(e.waived.len(), 1);
    }

    #[test]
    fn an_exception_matching_nothing_is_reported_as_info() {
        let p = policy(
            "[[exceptions.waive]]\npath = \"/nowhere/*\"\nrules = [\"kdf-weak\"]\nreason = \"r\"\nexpires = 2027-01-01\n",
        );
        let f = evaluate(&inventory(vec![]), &p, &env());
        assert_eq!(ids(&f), ["exception-unused"]);
        assert_eq!(f[0].severity, crate::finding::Severity::Info);
    }
}
