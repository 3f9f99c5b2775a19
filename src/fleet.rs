//! PURE: the fleet's picture from many `keycheck.report/v1` documents: the newest report
//! per host and user, and compliance overall, per rule, per key algorithm and size, and
//! per host. Reports arrive one at a time ([`Fleet::add`]) and only a small summary of
//! each is kept, so memory grows with the number of hosts, not with the reports' size.
//! Reading files, checking signatures and rendering are the callers'.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub mod render;

/// The schema id a report must carry.
pub const REPORT_SCHEMA: &str = "keycheck.report/v1";

/// The parts of a report the fleet needs. Unknown fields are ignored (a newer keycheck
/// may add some); missing required ones make the report malformed.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportView {
    /// Must be [`REPORT_SCHEMA`].
    pub schema: String,
    /// The reporting machine.
    pub host: HostView,
    /// The reporting user.
    pub user: UserView,
    /// When it was made (RFC 3339).
    pub generated_at: String,
    /// The key facts.
    #[serde(default)]
    pub keys: Vec<KeyView>,
    /// The findings.
    #[serde(default)]
    pub findings: Vec<FindingView>,
}

/// A report's host.
#[derive(Debug, Clone, Deserialize)]
pub struct HostView {
    /// The stable host id.
    pub id: String,
    /// Its hostname.
    #[serde(default)]
    pub hostname: String,
    /// Its operating system.
    #[serde(default)]
    pub os: String,
}

/// A report's user.
#[derive(Debug, Clone, Deserialize)]
pub struct UserView {
    /// The user name.
    pub name: String,
}

/// One key of a report.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyView {
    /// `private`, `public`, `certificate`.
    #[serde(default)]
    pub kind: String,
    /// The algorithm (`ssh-ed25519`, ...), when known.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// The size in bits, when known.
    #[serde(default)]
    pub bits: Option<u32>,
}

/// One finding of a report.
#[derive(Debug, Clone, Deserialize)]
pub struct FindingView {
    /// The rule id.
    pub rule: String,
    /// `fail`, `warn` or `info`.
    pub severity: String,
}

/// Why a report was not merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// Where it came from (a file, or `-:LINE`).
    pub source: String,
    /// Why, one line.
    pub reason: String,
}

/// What is kept of the newest report of one host and user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostEntry {
    /// The host id.
    pub host_id: String,
    /// The hostname the report gave.
    pub hostname: String,
    /// Its OS.
    pub os: String,
    /// The user.
    pub user: String,
    /// When the report was made (Unix seconds).
    pub generated_at: i64,
    /// Its failing findings.
    pub fail: u32,
    /// Its warnings.
    pub warn: u32,
    /// Findings per rule id.
    pub rules: BTreeMap<String, u32>,
    /// Private keys per algorithm and size (`ssh-rsa 2048`).
    pub keys: BTreeMap<String, u32>,
    /// Where the report came from.
    pub source: String,
}

/// The merge in progress.
#[derive(Debug, Default)]
pub struct Fleet {
    newest: BTreeMap<(String, String), HostEntry>,
    /// Reports read (merged or not).
    pub read: u64,
    /// Reports superseded by a newer one of the same host and user.
    pub superseded: u64,
    /// Reports not merged, with the reason.
    pub rejected: Vec<Rejected>,
}

impl Fleet {
    /// Adds one parsed report that came from `source`.
    pub fn add(&mut self, report: &ReportView, source: &str) {
        match entry_of(report, source) {
            Ok(entry) => self.merge(entry),
            Err(reason) => self.reject(source, reason),
        }
    }

    /// Merges the summary of one report (made by [`entry_of`], possibly on another
    /// thread): it replaces an older one of the same host and user.
    pub fn merge(&mut self, entry: HostEntry) {
        self.read += 1;
        let slot = (entry.host_id.clone(), entry.user.clone());
        match self.newest.get(&slot) {
            Some(old) if old.generated_at >= entry.generated_at => self.superseded += 1,
            Some(_) => {
                self.superseded += 1;
                self.newest.insert(slot, entry);
            }
            None => {
                self.newest.insert(slot, entry);
            }
        }
    }

    /// Records a report that was read but could not be merged.
    pub fn reject(&mut self, source: &str, reason: String) {
        self.read += 1;
        self.rejected.push(Rejected {
            source: source.to_owned(),
            reason,
        });
    }

    /// The fleet's compliance at `now` (Unix seconds); hosts whose newest report is
    /// older than `max_age` seconds are stale.
    #[must_use]
    pub fn summary(&self, now: i64, max_age: i64) -> Summary {
        let mut rules: BTreeMap<String, RuleLine> = BTreeMap::new();
        let mut keys: BTreeMap<String, u64> = BTreeMap::new();
        let mut hosts: Vec<HostEntry> = self.newest.values().cloned().collect();
        for h in &hosts {
            for (rule, n) in &h.rules {
                let line = rules.entry(rule.clone()).or_default();
                line.hosts += 1;
                line.findings += u64::from(*n);
            }
            for (label, n) in &h.keys {
                *keys.entry(label.clone()).or_default() += u64::from(*n);
            }
        }
        // Worst first: most failing findings, then most warnings, then by name.
        hosts.sort_by(|a, b| {
            (b.fail, b.warn)
                .cmp(&(a.fail, a.warn))
                .then_with(|| a.hostname.cmp(&b.hostname))
                .then_with(|| a.host_id.cmp(&b.host_id))
        });
        let compliant = hosts.iter().filter(|h| h.fail == 0).count();
        let stale = hosts
            .iter()
            .filter(|h| now - h.generated_at > max_age)
            .map(|h| Stale {
                host_id: h.host_id.clone(),
                hostname: h.hostname.clone(),
                user: h.user.clone(),
                age_seconds: now - h.generated_at,
            })
            .collect();
        Summary {
            schema: "keycheck.fleet/v1",
            reports_read: self.read,
            reports_superseded: self.superseded,
            reports_rejected: self.rejected.len() as u64,
            hosts: hosts.len() as u64,
            compliant_hosts: compliant as u64,
            rules,
            keys,
            stale,
            per_host: hosts,
            rejected: self.rejected.clone(),
        }
    }
}

/// What the fleet keeps of one report, or why it cannot be merged.
///
/// # Errors
/// One line: another schema, no usable host id, a time that is not RFC 3339.
pub fn entry_of(report: &ReportView, source: &str) -> Result<HostEntry, String> {
    if report.schema != REPORT_SCHEMA {
        return Err(format!("schema {:?} is not {REPORT_SCHEMA}", report.schema));
    }
    if report.host.id.is_empty() || report.host.id.len() > 128 {
        return Err("the host id is empty or too long".to_owned());
    }
    let at = time::OffsetDateTime::parse(
        &report.generated_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|_| {
        format!(
            "generated_at {:?} is not an RFC 3339 time",
            report.generated_at
        )
    })?;
    let mut entry = HostEntry {
        host_id: report.host.id.clone(),
        hostname: report.host.hostname.clone(),
        os: report.host.os.clone(),
        user: report.user.name.clone(),
        generated_at: at.unix_timestamp(),
        fail: 0,
        warn: 0,
        rules: BTreeMap::new(),
        keys: BTreeMap::new(),
        source: source.to_owned(),
    };
    for f in &report.findings {
        match f.severity.as_str() {
            "fail" => entry.fail += 1,
            "warn" => entry.warn += 1,
            _ => {}
        }
        *entry.rules.entry(f.rule.clone()).or_default() += 1;
    }
    for k in report.keys.iter().filter(|k| k.kind == "private") {
        let label = match (&k.algorithm, k.bits) {
            (Some(a), Some(b)) => format!("{a} {b}"),
            (Some(a), None) => a.clone(),
            (None, _) => "unknown".to_owned(),
        };
        *entry.keys.entry(label).or_default() += 1;
    }
    Ok(entry)
}

/// One rule across the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleLine {
    /// Host and user pairs with at least one finding of the rule.
    pub hosts: u64,
    /// Its findings in all.
    pub findings: u64,
}

/// A host whose newest report is too old.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stale {
    /// The host id.
    pub host_id: String,
    /// Its hostname.
    pub hostname: String,
    /// The user.
    pub user: String,
    /// How old its newest report is, in seconds.
    pub age_seconds: i64,
}

/// The fleet's compliance (`keycheck.fleet/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `keycheck.fleet/v1`.
    pub schema: &'static str,
    /// Reports read.
    pub reports_read: u64,
    /// Reports replaced by a newer one of the same host and user.
    pub reports_superseded: u64,
    /// Reports not merged.
    pub reports_rejected: u64,
    /// Host and user pairs merged.
    pub hosts: u64,
    /// Of those, the ones without a failing finding.
    pub compliant_hosts: u64,
    /// Per rule.
    pub rules: BTreeMap<String, RuleLine>,
    /// Private keys per algorithm and size.
    pub keys: BTreeMap<String, u64>,
    /// Hosts without a recent report.
    pub stale: Vec<Stale>,
    /// Every host and user, worst first.
    pub per_host: Vec<HostEntry>,
    /// Reports not merged, with the reason.
    pub rejected: Vec<Rejected>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn report(host: &str, user: &str, at: &str, findings: &[(&str, &str)]) -> ReportView {
        let findings: Vec<serde_json::Value> = findings
            .iter()
            .map(|(rule, sev)| serde_json::json!({"rule": rule, "severity": sev, "path": "/k"}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "schema": REPORT_SCHEMA,
            "host": {"id": host, "hostname": format!("{host}.example"), "os": "Debian"},
            "user": {"name": user, "uid": 1000},
            "generated_at": at,
            "keys": [
                {"kind": "private", "algorithm": "ssh-rsa", "bits": 1024, "path": "/k"},
                {"kind": "public", "algorithm": "ssh-rsa", "bits": 1024, "path": "/k.pub"},
                {"kind": "private", "algorithm": "ssh-ed25519", "bits": 256, "path": "/e"}
            ],
            "findings": findings,
            "extra": "ignored"
        }))
        .unwrap()
    }

    #[test]
    fn keeps_the_newest_report_per_host_and_user_whatever_the_order() {
        let old = report(
            "h1",
            "alice",
            "2026-11-01T00:00:00Z",
            &[("passphrase-missing", "fail")],
        );
        let new = report("h1", "alice", "2026-11-20T00:00:00Z", &[]);
        for order in [[&old, &new], [&new, &old]] {
            let mut fleet = Fleet::default();
            for r in order {
                fleet.add(r, "x");
            }
            let s = fleet.summary(0, i64::MAX);
            assert_eq!(
                (s.hosts, s.compliant_hosts, s.reports_superseded),
                (1, 1, 1)
            );
            assert!(s.rules.is_empty());
        }
    }

    #[test]
    fn counts_rules_keys_and_sorts_hosts_worst_first() {
        let mut fleet = Fleet::default();
        fleet.add(
            &report("a", "u", "2026-11-20T00:00:00Z", &[("kdf-weak", "warn")]),
            "1",
        );
        fleet.add(
            &report(
                "b",
                "u",
                "2026-11-20T00:00:00Z",
                &[
                    ("passphrase-missing", "fail"),
                    ("rsa-below-minimum", "fail"),
                ],
            ),
            "2",
        );
        fleet.add(&report("c", "u", "2026-11-20T00:00:00Z", &[]), "3");
        let s = fleet.summary(0, i64::MAX);
        assert_eq!((s.hosts, s.compliant_hosts), (3, 2));
        let order: Vec<&str> = s.per_host.iter().map(|h| h.host_id.as_str()).collect();
        assert_eq!(order, ["b", "a", "c"]);
        assert_eq!(
            s.rules["passphrase-missing"],
            RuleLine {
                hosts: 1,
                findings: 1
            }
        );
        assert_eq!(s.keys["ssh-rsa 1024"], 3, "private keys only");
        assert_eq!(s.keys["ssh-ed25519 256"], 3);
    }

    #[test]
    fn rejects_other_schemas_bad_times_and_odd_host_ids_and_flags_stale_hosts() {
        let mut fleet = Fleet::default();
        let mut r = report("a", "u", "2026-11-20T00:00:00Z", &[]);
        r.schema = "keycheck.check/v1".to_owned();
        fleet.add(&r, "wrong-schema");
        fleet.add(&report("a", "u", "yesterday", &[]), "bad-time");
        fleet.add(&report("", "u", "2026-11-20T00:00:00Z", &[]), "no-id");
        fleet.add(&report("old", "u", "2026-01-01T00:00:00Z", &[]), "old");
        let now = time::macros::datetime!(2026-11-23 00:00 UTC).unix_timestamp();
        let s = fleet.summary(now, 7 * 86400);
        let sources: Vec<&str> = s.rejected.iter().map(|r| r.source.as_str()).collect();
        assert_eq!(sources, ["wrong-schema", "bad-time", "no-id"]);
        assert_eq!(s.reports_read, 4);
        assert_eq!(s.hosts, 1);
        assert_eq!(s.stale.len(), 1);
        assert_eq!(s.stale[0].host_id, "old");
    }
}
