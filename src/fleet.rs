//! PURE: the fleet's picture from many `keycheck.report/v1` documents: the newest report
//! per host and user, and compliance overall, per rule, per key algorithm and size, and
//! per host. Reports arrive one at a time ([`Fleet::add`]) and only a small summary of
//! each is kept, so memory grows with the number of hosts, not with the reports' size.
//! A report's keys and findings are counted while it is parsed, never held as a list
//! (a 16 MiB report of `{}` keys would otherwise take 20 times its size), and a report
//! with more than [`MAX_NAMES`] different rule ids or key kinds, or a name longer than
//! [`MAX_NAME_LEN`], is refused: each name is kept per host, and counting them must
//! stay cheap whatever a report holds.
//! Reading files, checking signatures and rendering are the callers'.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

pub mod render;

/// The schema id a report must carry.
pub const REPORT_SCHEMA: &str = "keycheck.report/v1";

/// Most different rule ids, and most different key kinds (algorithm and size), one
/// report may list. keycheck has a few dozen rules and a device a handful of key kinds.
pub const MAX_NAMES: usize = 256;

/// Longest hostname, OS, user name, rule id or key algorithm a report may give, in
/// bytes (a DNS name has at most 253).
pub const MAX_NAME_LEN: usize = 256;

/// The parts of a report the fleet needs. Unknown fields are ignored (a newer keycheck
/// may add some); missing required ones make the report malformed. Text is borrowed from
/// the report's bytes where it holds no escapes: a fleet parses millions of these.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportView<'a> {
    /// Must be [`REPORT_SCHEMA`].
    #[serde(borrow)]
    pub schema: Cow<'a, str>,
    /// The reporting machine.
    #[serde(borrow)]
    pub host: HostView<'a>,
    /// The reporting user.
    #[serde(borrow)]
    pub user: UserView<'a>,
    /// When it was made (RFC 3339).
    #[serde(borrow)]
    pub generated_at: Cow<'a, str>,
    /// The private keys, counted per kind while parsing.
    #[serde(default)]
    pub keys: KeyCounts,
    /// The findings, counted while parsing.
    #[serde(default)]
    pub findings: FindingCounts,
}

/// A report's host.
#[derive(Debug, Clone, Deserialize)]
pub struct HostView<'a> {
    /// The stable host id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Its hostname.
    #[serde(default, borrow)]
    pub hostname: Cow<'a, str>,
    /// Its operating system.
    #[serde(default, borrow)]
    pub os: Cow<'a, str>,
}

/// A report's user.
#[derive(Debug, Clone, Deserialize)]
pub struct UserView<'a> {
    /// The login name, when the device could tell it.
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
    /// The numeric user id.
    #[serde(default)]
    pub uid: Option<u32>,
}

impl UserView<'_> {
    /// The name, or `uid N` when the device did not know it.
    #[must_use]
    pub fn label(&self) -> String {
        match (&self.name, self.uid) {
            (Some(name), _) => name.to_string(),
            (None, Some(uid)) => format!("uid {uid}"),
            (None, None) => "unknown user".to_owned(),
        }
    }
}

/// One key of a report.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyView<'a> {
    /// `private`, `public`, `certificate`.
    #[serde(default, borrow)]
    pub kind: Cow<'a, str>,
    /// The algorithm (`ssh-ed25519`, ...), when known.
    #[serde(default, borrow)]
    pub algorithm: Option<Cow<'a, str>>,
    /// The size in bits, when known.
    #[serde(default)]
    pub bits: Option<u32>,
}

/// One finding of a report.
#[derive(Debug, Clone, Deserialize)]
pub struct FindingView<'a> {
    /// The rule id.
    #[serde(borrow)]
    pub rule: Cow<'a, str>,
    /// `fail`, `warn` or `info`.
    #[serde(borrow)]
    pub severity: Cow<'a, str>,
}

/// Names and how often each came up, in name order; at most [`MAX_NAMES`] of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally(BTreeMap<String, u32>);

impl Tally {
    /// Counts one more `name`; `what` names the names in the error (`rule ids`).
    ///
    /// # Errors
    /// When `name` would be the `MAX_NAMES + 1`th different name.
    fn add(&mut self, name: &str, what: &str) -> Result<(), String> {
        if let Some(n) = self.0.get_mut(name) {
            *n = n.saturating_add(1);
            return Ok(());
        }
        if self.0.len() >= MAX_NAMES {
            return Err(format!("more than {MAX_NAMES} different {what}"));
        }
        self.0.insert(name.to_owned(), 1);
        Ok(())
    }

    /// Each name with its count, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

/// The error of a name longer than [`MAX_NAME_LEN`], or `None`.
fn too_long(what: &str, name: &str) -> Option<String> {
    (name.len() > MAX_NAME_LEN)
        .then(|| format!("a {what} of {} bytes (at most {MAX_NAME_LEN})", name.len()))
}

/// A report's private keys, counted per algorithm and size (`ssh-rsa 2048`) as they are
/// parsed: no list of keys is ever built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyCounts {
    /// Private keys per algorithm and size.
    pub kinds: Tally,
}

/// A report's findings, counted as they are parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingCounts {
    /// Findings of severity `fail`.
    pub fail: u32,
    /// Findings of severity `warn`.
    pub warn: u32,
    /// Findings per rule id.
    pub rules: Tally,
}

impl<'de> Deserialize<'de> for KeyCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = KeyCounts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of keys")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeyCounts, A::Error> {
                let mut counts = KeyCounts::default();
                while let Some(k) = seq.next_element::<KeyView<'de>>()? {
                    if k.kind != "private" {
                        continue;
                    }
                    let label = match (&k.algorithm, k.bits) {
                        (Some(a), _) if a.len() > MAX_NAME_LEN => {
                            return Err(de::Error::custom(
                                too_long("key algorithm", a).unwrap_or_default(),
                            ))
                        }
                        (Some(a), Some(b)) => Cow::Owned(format!("{a} {b}")),
                        (Some(a), None) => Cow::Borrowed(&**a),
                        (None, _) => Cow::Borrowed("unknown"),
                    };
                    counts
                        .kinds
                        .add(&label, "key kinds")
                        .map_err(de::Error::custom)?;
                }
                Ok(counts)
            }
        }
        d.deserialize_seq(Keys)
    }
}

impl<'de> Deserialize<'de> for FindingCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Findings;
        impl<'de> Visitor<'de> for Findings {
            type Value = FindingCounts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of findings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FindingCounts, A::Error> {
                let mut counts = FindingCounts::default();
                while let Some(f) = seq.next_element::<FindingView<'de>>()? {
                    match &*f.severity {
                        "fail" => counts.fail = counts.fail.saturating_add(1),
                        "warn" => counts.warn = counts.warn.saturating_add(1),
                        _ => {}
                    }
                    if let Some(e) = too_long("rule id", &f.rule) {
                        return Err(de::Error::custom(e));
                    }
                    counts
                        .rules
                        .add(&f.rule, "rule ids")
                        .map_err(de::Error::custom)?;
                }
                Ok(counts)
            }
        }
        d.deserialize_seq(Findings)
    }
}

/// Why a report was not merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// Where it came from (a file, or `-:LINE`).
    pub source: String,
    /// Why, one line.
    pub reason: String,
}

/// What is kept of the newest report of one host and user: small, since a fleet has
/// as many of these as hosts. Names that repeat across hosts (OS, rule ids, key
/// labels) are shared, not copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostEntry {
    /// The host id.
    pub host_id: String,
    /// The hostname the report gave.
    pub hostname: String,
    /// Its OS.
    #[serde(serialize_with = "as_str")]
    pub os: Arc<str>,
    /// The user.
    pub user: String,
    /// When the report was made (Unix seconds).
    pub generated_at: i64,
    /// Its failing findings.
    pub fail: u32,
    /// Its warnings.
    pub warn: u32,
    /// Findings per rule id, in name order.
    #[serde(serialize_with = "as_map")]
    pub rules: Vec<(Arc<str>, u32)>,
    /// Private keys per algorithm and size (`ssh-rsa 2048`), in name order.
    #[serde(serialize_with = "as_map")]
    pub keys: Vec<(Arc<str>, u32)>,
}

fn as_str<S: Serializer>(text: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(text)
}

fn as_map<S: Serializer>(pairs: &[(Arc<str>, u32)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (&**k, v)))
}

/// Shares the strings many reports repeat.
#[derive(Debug, Default)]
struct Names(HashMap<Arc<str>, ()>);

impl Names {
    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some((k, ())) = self.0.get_key_value(name) {
            return Arc::clone(k);
        }
        let k: Arc<str> = Arc::from(name);
        self.0.insert(Arc::clone(&k), ());
        k
    }
}

/// The merge in progress.
#[derive(Debug, Default)]
pub struct Fleet {
    /// The newest entry of each host id and user.
    newest: HashSet<ByHostAndUser>,
    names: Names,
    /// Reports read (merged or not).
    pub read: u64,
    /// Reports superseded by a newer one of the same host and user.
    pub superseded: u64,
    /// Reports not merged, with the reason.
    pub rejected: Vec<Rejected>,
}

/// A kept entry, the same as another when both are of one host id and user: found in
/// one hash look-up. (A list of users per host made the merge quadratic in the users
/// one host id reports: a stream of reports from one host id, each naming another user,
/// could stall `keycheck fleet`.)
#[derive(Debug)]
struct ByHostAndUser(HostEntry);

impl PartialEq for ByHostAndUser {
    fn eq(&self, other: &Self) -> bool {
        self.0.host_id == other.0.host_id && self.0.user == other.0.user
    }
}

impl Eq for ByHostAndUser {}

impl Hash for ByHostAndUser {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.host_id.hash(state);
        self.0.user.hash(state);
    }
}

impl Fleet {
    /// Adds one parsed report that came from `source`.
    pub fn add(&mut self, report: &ReportView<'_>, source: &str) {
        match entry_of(report) {
            Ok(entry) => self.merge(entry),
            Err(reason) => self.reject(source, reason),
        }
    }

    /// Merges the summary of one report (made by [`entry_of`], possibly on another
    /// thread): it replaces an older one of the same host and user.
    pub fn merge(&mut self, entry: HostEntry) {
        self.read += 1;
        self.keep(entry);
    }

    /// Merges a fleet built from other reports (on another thread): as if its reports
    /// had been merged here, whatever the order.
    pub fn absorb(&mut self, mut other: Fleet) {
        // Move the smaller into the larger: fewer entries re-hashed, a smaller peak.
        if other.newest.len() > self.newest.len() {
            std::mem::swap(self, &mut other);
        }
        self.read += other.read;
        self.superseded += other.superseded;
        self.rejected.extend(other.rejected);
        for entry in other.newest {
            self.keep(entry.0);
        }
    }

    /// Keeps `entry` unless a newer report of its host and user is kept. Of two reports
    /// made at the same second the worse is kept, so the order of arrival never matters.
    fn keep(&mut self, mut entry: HostEntry) {
        entry.os = self.names.get(&entry.os);
        for (name, _) in entry.rules.iter_mut().chain(entry.keys.iter_mut()) {
            *name = self.names.get(name);
        }
        entry.rules.shrink_to_fit();
        entry.keys.shrink_to_fit();
        let entry = ByHostAndUser(entry);
        let kept = match self.newest.take(&entry) {
            Some(old) => {
                self.superseded += 1;
                if precedence(&entry.0) > precedence(&old.0) {
                    entry
                } else {
                    old
                }
            }
            None => entry,
        };
        self.newest.insert(kept);
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
    pub fn summary(mut self, now: i64, max_age: i64) -> Summary {
        // In source order (`-:9` before `-:10`), whatever thread read them.
        self.rejected
            .sort_by(|a, b| source_order(&a.source).cmp(&source_order(&b.source)));
        let mut rules: BTreeMap<String, RuleLine> = BTreeMap::new();
        let mut keys: BTreeMap<String, u64> = BTreeMap::new();
        let mut hosts: Vec<HostEntry> = self.newest.into_iter().map(|e| e.0).collect();
        for h in &hosts {
            for (rule, n) in &h.rules {
                let line = rules.entry(rule.to_string()).or_default();
                line.hosts += 1;
                line.findings += u64::from(*n);
            }
            for (label, n) in &h.keys {
                *keys.entry(label.to_string()).or_default() += u64::from(*n);
            }
        }
        // Worst first: most failing findings, then most warnings, then by name.
        hosts.sort_by(|a, b| {
            (b.fail, b.warn)
                .cmp(&(a.fail, a.warn))
                .then_with(|| a.hostname.cmp(&b.hostname))
                .then_with(|| a.host_id.cmp(&b.host_id))
                .then_with(|| a.user.cmp(&b.user))
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
            rejected: self.rejected,
        }
    }
}

/// A rejected report's source as (file, line): streams name their lines `FILE:LINE`.
fn source_order(source: &str) -> (&str, u64) {
    match source.rsplit_once(':') {
        Some((file, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => {
            (file, line.parse().unwrap_or(u64::MAX))
        }
        _ => (source, 0),
    }
}

/// Which of two reports of one host and user is kept: the newest, then the worse, then
/// any fixed order of what they say.
fn precedence(e: &HostEntry) -> impl Ord + '_ {
    (
        e.generated_at,
        e.fail,
        e.warn,
        &e.hostname,
        &*e.os,
        &e.rules,
        &e.keys,
    )
}

/// What the fleet keeps of one report, or why it cannot be merged.
///
/// # Errors
/// One line: another schema, no usable host id, a hostname, OS or user name longer than
/// [`MAX_NAME_LEN`], a time that is not RFC 3339.
pub fn entry_of(report: &ReportView<'_>) -> Result<HostEntry, String> {
    if report.schema != REPORT_SCHEMA {
        return Err(format!("schema {:?} is not {REPORT_SCHEMA}", report.schema));
    }
    if report.host.id.is_empty() || report.host.id.len() > 128 {
        return Err("the host id is empty or too long".to_owned());
    }
    let user = report.user.label();
    for (what, name) in [
        ("hostname", &*report.host.hostname),
        ("host OS", &*report.host.os),
        ("user name", &user),
    ] {
        if let Some(e) = too_long(what, name) {
            return Err(e);
        }
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
    let pairs =
        |t: &Tally| -> Vec<(Arc<str>, u32)> { t.iter().map(|(k, n)| (Arc::from(k), n)).collect() };
    Ok(HostEntry {
        host_id: report.host.id.to_string(),
        hostname: report.host.hostname.to_string(),
        os: Arc::from(&*report.host.os),
        user,
        generated_at: at.unix_timestamp(),
        fail: report.findings.fail,
        warn: report.findings.warn,
        rules: pairs(&report.findings.rules),
        keys: pairs(&report.keys.kinds),
    })
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

    /// Test reports borrow from text that lives as long as the test binary.
    fn leaked(v: serde_json::Value) -> ReportView<'static> {
        serde_json::from_str(Box::leak(v.to_string().into_boxed_str())).unwrap()
    }

    fn report(host: &str, user: &str, at: &str, findings: &[(&str, &str)]) -> ReportView<'static> {
        let findings: Vec<serde_json::Value> = findings
            .iter()
            .map(|(rule, sev)| serde_json::json!({"rule": rule, "severity": sev, "path": "/k"}))
            .collect();
        leaked(serde_json::json!({
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
    fn fleets_merged_on_other_threads_give_the_same_summary_in_any_split() {
        let reports = [
            report(
                "h1",
                "alice",
                "2026-11-01T00:00:00Z",
                &[("kdf-weak", "warn")],
            ),
            report("h1", "alice", "2026-11-20T00:00:00Z", &[]),
            // The same second as the one above, but worse: kept whatever the order.
            report(
                "h1",
                "alice",
                "2026-11-20T00:00:00Z",
                &[("passphrase-missing", "fail")],
            ),
            report(
                "h2",
                "bob",
                "2026-11-02T00:00:00Z",
                &[("rsa-too-short", "fail")],
            ),
            report("h2", "carol", "2026-11-03T00:00:00Z", &[]),
        ];
        let mut one = Fleet::default();
        for r in &reports {
            one.add(r, "x");
        }
        one.reject("-:10", "bad".to_owned());
        one.reject("-:9", "bad".to_owned());
        let one = one.summary(0, i64::MAX);
        assert_eq!(one.per_host[0].fail, 1, "{:?}", one.per_host);
        assert_eq!(one.rejected[0].source, "-:9");
        for split in 0..=reports.len() {
            for reversed in [false, true] {
                let (mut a, mut b) = (Fleet::default(), Fleet::default());
                b.reject("-:9", "bad".to_owned());
                a.reject("-:10", "bad".to_owned());
                let mut order: Vec<_> = reports.iter().collect();
                if reversed {
                    order.reverse();
                }
                for (i, r) in order.into_iter().enumerate() {
                    if i < split { &mut a } else { &mut b }.add(r, "x");
                }
                b.absorb(a);
                assert_eq!(
                    b.summary(0, i64::MAX),
                    one,
                    "split {split} reversed {reversed}"
                );
            }
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
    fn keys_and_findings_are_counted_while_parsing_with_bounded_names() {
        let parse = |v: serde_json::Value| {
            serde_json::from_str::<ReportView<'_>>(Box::leak(v.to_string().into_boxed_str()))
                .map_err(|e| e.to_string())
        };
        let base = |keys: serde_json::Value, findings: serde_json::Value| {
            serde_json::json!({
                "schema": REPORT_SCHEMA,
                "host": {"id": "h", "hostname": "h.example", "os": "Debian"},
                "user": {"name": "u"},
                "generated_at": "2026-11-20T00:00:00Z",
                "keys": keys,
                "findings": findings,
            })
        };
        let r = parse(base(
            serde_json::json!([{}, {"kind": "public", "algorithm": "x"},
                {"kind": "private", "algorithm": "ssh-rsa", "bits": 2048},
                {"kind": "private", "algorithm": "ssh-rsa", "bits": 2048},
                {"kind": "private"}]),
            serde_json::json!([{"rule": "z-rule", "severity": "warn"},
                {"rule": "a-rule", "severity": "fail"},
                {"rule": "z-rule", "severity": "info"}]),
        ))
        .unwrap();
        let e = entry_of(&r).unwrap();
        assert_eq!((e.fail, e.warn), (1, 1));
        let names = |v: &[(Arc<str>, u32)]| -> Vec<(String, u32)> {
            v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        assert_eq!(
            names(&e.rules),
            [("a-rule".to_owned(), 1), ("z-rule".to_owned(), 2)],
            "in name order"
        );
        assert_eq!(
            names(&e.keys),
            [("ssh-rsa 2048".to_owned(), 2), ("unknown".to_owned(), 1)]
        );

        let rules: Vec<serde_json::Value> = (0..=MAX_NAMES)
            .map(|i| serde_json::json!({"rule": format!("r{i}"), "severity": "warn"}))
            .collect();
        let err = parse(base(serde_json::json!([]), rules.into())).unwrap_err();
        assert!(err.starts_with("more than 256 different rule ids"), "{err}");
        let kinds: Vec<serde_json::Value> = (0..=MAX_NAMES)
            .map(|i| serde_json::json!({"kind": "private", "algorithm": format!("a{i}")}))
            .collect();
        let err = parse(base(kinds.into(), serde_json::json!([]))).unwrap_err();
        assert!(
            err.starts_with("more than 256 different key kinds"),
            "{err}"
        );
        let long = "x".repeat(MAX_NAME_LEN + 1);
        let err = parse(base(
            serde_json::json!([]),
            serde_json::json!([{"rule": long, "severity": "warn"}]),
        ))
        .unwrap_err();
        assert!(err.starts_with("a rule id of 257 bytes"), "{err}");
        let err = parse(base(
            serde_json::json!([{"kind": "private", "algorithm": long}]),
            serde_json::json!([]),
        ))
        .unwrap_err();
        assert!(err.starts_with("a key algorithm of 257 bytes"), "{err}");
        let err = parse(base(serde_json::json!({}), serde_json::json!([]))).unwrap_err();
        assert!(
            err.starts_with("invalid type: map, expected a list of keys"),
            "{err}"
        );

        let mut r = parse(base(serde_json::json!([]), serde_json::json!([]))).unwrap();
        r.host.hostname = Cow::Owned(long.clone());
        assert_eq!(
            entry_of(&r).unwrap_err(),
            "a hostname of 257 bytes (at most 256)"
        );
    }

    #[test]
    fn rejects_other_schemas_bad_times_and_odd_host_ids_and_flags_stale_hosts() {
        let mut fleet = Fleet::default();
        let mut r = report("a", "u", "2026-11-20T00:00:00Z", &[]);
        r.schema = "keycheck.check/v1".into();
        fleet.add(&r, "wrong-schema");
        fleet.add(&report("a", "u", "yesterday", &[]), "bad-time");
        fleet.add(&report("", "u", "2026-11-20T00:00:00Z", &[]), "no-id");
        fleet.add(&report("old", "u", "2026-01-01T00:00:00Z", &[]), "old");
        let now = time::macros::datetime!(2026-11-23 00:00 UTC).unix_timestamp();
        let s = fleet.summary(now, 7 * 86400);
        let sources: Vec<&str> = s.rejected.iter().map(|r| r.source.as_str()).collect();
        assert_eq!(
            sources,
            ["bad-time", "no-id", "wrong-schema"],
            "in source order"
        );
        assert_eq!(s.reports_read, 4);
        assert_eq!(s.hosts, 1);
        assert_eq!(s.stale.len(), 1);
        assert_eq!(s.stale[0].host_id, "old");
    }
}
