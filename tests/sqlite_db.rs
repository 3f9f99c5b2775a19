//! `keycheck.db` against the real thing: keys made by `ssh-keygen`, the real scan and
//! rules, the file written by `sys::db`, and the `sqlite3` CLI running the exact queries
//! of the shipped `packaging/osquery/keycheck.atc.json`; readers racing 50 rewrites; and
//! the shipped Fleet policies run over the tables as osquery presents them.
//!
//! A missing `ssh-keygen` or `sqlite3` fails the test (`scripts/test.sh` installs them);
//! nothing is skipped.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keycheck::finding::Finding;
use keycheck::inventory::Inventory;
use keycheck::policy::Policy;
use keycheck::rules::{self, Env};
use keycheck::sys::db::{self, DbContext};
use keycheck::sys::scan::{self, ScanOptions};
use rusqlite::{Connection, OpenFlags};
use serde::Deserialize;
use serde_json::Value;
use support::{keygen, run, ssh_keygen_l, PASS};

/// The ATC configuration osquery is given.
const ATC: &str = include_str!("../packaging/osquery/keycheck.atc.json");
/// The Fleet policies over those tables.
const FLEET: &str = include_str!("../packaging/osquery/fleet-policies.yml");

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Fails the test unless the `sqlite3` CLI can be run.
fn require_sqlite3() {
    let ok = Command::new("sqlite3")
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`sqlite3` is not installed; these tests run the real CLI, they never skip: \
         bash scripts/test.sh installs it (apt package sqlite3)"
    );
}

/// Runs `sqlite3 -readonly -batch -bail [mode...] DB SQL` (read-only, as osquery opens
/// the file) and returns stdout; panics on failure or on anything written to stderr.
fn sqlite3(db: &Path, mode: &[&str], sql: &str) -> String {
    let out = run(Command::new("sqlite3")
        .args(["-readonly", "-batch", "-bail"])
        .args(mode)
        .arg(db)
        .arg(sql));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "sqlite3 {} {sql:?} failed ({}): {stderr}",
        db.display(),
        out.status
    );
    String::from_utf8(out.stdout).expect("sqlite3 prints UTF-8")
}

/// The rows of `sql` as JSON objects (`sqlite3 -json`; no output means no rows).
fn rows(db: &Path, sql: &str) -> Vec<serde_json::Map<String, Value>> {
    let text = sqlite3(db, &["-json"], sql);
    if text.trim().is_empty() {
        return Vec::new();
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("sqlite3 -json output: {e}: {text}"))
}

/// The column names `sql` returns, in order (`sqlite3 -header -csv`, first line).
fn header(db: &Path, sql: &str) -> Vec<String> {
    let text = sqlite3(db, &["-header", "-csv"], sql);
    let first = text.lines().next().unwrap_or_default();
    first.split(',').map(|c| c.trim().to_owned()).collect()
}

/// One table of the shipped ATC configuration.
#[derive(Debug, Clone)]
struct AtcTable {
    name: String,
    query: String,
    path: String,
    columns: Vec<String>,
    platform: String,
}

/// The tables of `packaging/osquery/keycheck.atc.json`.
fn atc_tables() -> Vec<AtcTable> {
    let config: Value = serde_json::from_str(ATC).expect("keycheck.atc.json is JSON");
    let tables = config["auto_table_construction"]
        .as_object()
        .expect("an auto_table_construction object");
    tables
        .iter()
        .map(|(name, t)| {
            let text = |key: &str| {
                t[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: `{key}` is not a string"))
                    .to_owned()
            };
            AtcTable {
                name: name.clone(),
                query: text("query"),
                path: text("path"),
                platform: text("platform"),
                columns: t["columns"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name}: `columns` is not a list"))
                    .iter()
                    .map(|c| c.as_str().expect("column names are strings").to_owned())
                    .collect(),
            }
        })
        .collect()
}

/// What the real scan and rules make of a directory of keys.
struct Judged {
    inventory: Inventory,
    findings: Vec<Finding>,
}

fn scan_and_judge(dir: &Path) -> Judged {
    let inventory =
        scan::scan(&[dir.to_path_buf()], ScanOptions::default()).expect("scan the key dir");
    let policy = Policy::builtin().expect("the built-in policy");
    let now = time::OffsetDateTime::now_utc();
    let env = Env {
        uid: rustix::process::geteuid().as_raw(),
        today: now.date(),
        now: u64::try_from(now.unix_timestamp()).expect("after 1970"),
        home: None,
    };
    let findings = rules::judge(&inventory, &policy, &env).findings;
    Judged {
        inventory,
        findings,
    }
}

/// Keys that break the policy: an unencrypted RSA 1024 key and a protected ed25519 key
/// (each with its `.pub`). Returns the RSA key's path.
fn weak_keys(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("key dir");
    keygen(dir, "id_ed25519", "ed25519", PASS, &[]);
    keygen(dir, "id_rsa_1024", "rsa", "", &["-b", "1024"])
}

/// Keys the policy accepts: one protected ed25519 key and its `.pub`.
fn good_keys(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("key dir");
    keygen(dir, "id_ed25519", "ed25519", PASS, &[])
}

fn ctx(generated_at: &str) -> DbContext {
    DbContext {
        host_id: "host-3f9a".to_owned(),
        user: "alice".to_owned(),
        generated_at: generated_at.to_owned(),
        policy_profile: "laptop".to_owned(),
    }
}

/// Now as RFC 3339 UTC text with nanoseconds, the way the caller writes it.
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format now")
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read state dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

fn count(db: &Path, table: &str) -> usize {
    sqlite3(db, &[], &format!("SELECT count(*) FROM {table}"))
        .trim()
        .parse()
        .expect("a count")
}

// ---------------------------------------------------------------------------------------
// The ATC queries against a real keycheck.db
// ---------------------------------------------------------------------------------------

#[test]
fn atc_queries_return_the_declared_columns_and_the_right_rows() {
    require_sqlite3();
    let tmp = tempfile::tempdir().expect("tempdir");
    let rsa = weak_keys(&tmp.path().join("ssh"));
    let ed25519 = tmp.path().join("ssh/id_ed25519");
    let judged = scan_and_judge(&tmp.path().join("ssh"));
    let state = tmp.path().join("state");
    let generated_at = now_rfc3339();
    let db_path = db::write(
        &state,
        &ctx(&generated_at),
        &judged.inventory,
        &judged.findings,
    )
    .expect("write keycheck.db");

    // One private file, nothing beside it: no journal, no WAL, no temporary file.
    assert_eq!(db_path, state.join(db::FILE_NAME));
    assert_eq!(mode(&db_path), 0o600);
    assert_eq!(mode(&state), 0o700);
    assert_eq!(file_names(&state), [db::FILE_NAME]);
    assert_eq!(
        sqlite3(&db_path, &[], "PRAGMA journal_mode").trim(),
        "delete"
    );

    let tables = atc_tables();
    let names: BTreeSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["keycheck_findings", "keycheck_keys", "keycheck_meta"])
    );
    let mut by_table = BTreeMap::new();
    for table in &tables {
        // The per-user glob of the default state dir, on Linux.
        assert_eq!(
            table.path,
            format!("/home/%/.local/state/keycheck/{}", db::FILE_NAME),
            "{}",
            table.name
        );
        assert_eq!(table.platform, "linux", "{}", table.name);
        assert!(
            !table.columns.iter().any(|c| c.eq_ignore_ascii_case("path")),
            "{}: ATC reserves the column `path`",
            table.name
        );
        assert!(
            !table.query.trim_end().ends_with(';'),
            "{}: no trailing `;` (the views below wrap the query)",
            table.name
        );
        // The exact query osquery runs returns exactly the declared columns, in order.
        assert_eq!(
            header(&db_path, &table.query),
            table.columns,
            "{}",
            table.name
        );
        let got = rows(&db_path, &table.query);
        for row in &got {
            let mut keys: Vec<&String> = row.keys().collect();
            keys.sort();
            let mut want: Vec<&String> = table.columns.iter().collect();
            want.sort();
            assert_eq!(keys, want, "{}", table.name);
        }
        by_table.insert(table.name.clone(), got);
    }

    // keycheck_findings: one row per finding in force, with who and when.
    let findings = &by_table["keycheck_findings"];
    assert_eq!(findings.len(), judged.findings.len());
    let rsa_path = scan::display_path(&rsa);
    let rsa_fingerprint = ssh_keygen_l(&rsa).expect("ssh-keygen -l").fingerprint;
    let mut rsa_rules = BTreeSet::new();
    for row in findings {
        assert_eq!(row["host_id"], "host-3f9a");
        assert_eq!(row["user"], "alice");
        assert_eq!(row["generated_at"], generated_at.as_str());
        if row["key_path"] == rsa_path.as_str() {
            rsa_rules.insert(row["rule"].as_str().expect("rule").to_owned());
            assert_eq!(row["fingerprint"], rsa_fingerprint.as_str());
        }
    }
    for rule in ["rsa-below-minimum", "passphrase-missing"] {
        assert!(
            rsa_rules.contains(rule),
            "{rule} for {rsa_path}: {findings:?}"
        );
        let row = findings
            .iter()
            .find(|r| r["key_path"] == rsa_path.as_str() && r["rule"] == rule)
            .expect("the row");
        assert_eq!(row["severity"], "fail");
        assert!(row["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(row["fix"]
            .as_str()
            .is_some_and(|f| f.contains("ssh-keygen")));
    }

    // keycheck_keys: the facts of every key file, integers as integers.
    let keys = &by_table["keycheck_keys"];
    assert_eq!(keys.len(), judged.inventory.keys.len());
    assert_eq!(
        keys.len(),
        4,
        "two private keys and their .pub files: {keys:?}"
    );
    let key = |path: &Path| {
        let path = scan::display_path(path);
        keys.iter()
            .find(|r| r["key_path"] == path.as_str())
            .unwrap_or_else(|| panic!("no row for {path}: {keys:?}"))
    };
    let uid = u64::from(rustix::process::geteuid().as_raw());
    let row = key(&rsa);
    assert_eq!(row["kind"], "private");
    assert_eq!(row["format"], "openssh");
    assert_eq!(row["algorithm"], "ssh-rsa");
    assert_eq!(row["bits"], 1024);
    assert_eq!(row["encrypted"], 0);
    assert_eq!(row["fingerprint"], rsa_fingerprint.as_str());
    assert_eq!(row["comment"], "id_rsa_1024");
    assert_eq!(row["mode"], 0o600);
    assert_eq!(row["owner"], uid);
    assert_eq!(row["found"], "scan");
    assert!(row["modified"].as_str().is_some_and(|m| m.ends_with('Z')));
    let row = key(&ed25519);
    assert_eq!(row["algorithm"], "ssh-ed25519");
    assert_eq!(row["bits"], 256);
    assert_eq!(row["encrypted"], 1);
    assert_eq!(row["cipher"], "aes256-ctr");
    assert_eq!(row["kdf"], "bcrypt");
    assert_eq!(row["kdf_rounds"], 16, "ssh-keygen's default -a");
    let row = key(&rsa.with_extension("pub"));
    assert_eq!(row["kind"], "public");
    assert_eq!(row["format"], "openssh-public");
    assert_eq!(row["mode"], 0o644);

    // Stored as INTEGER, not as text that looks like a number.
    let ed = scan::display_path(&ed25519);
    assert_eq!(
        sqlite3(
            &db_path,
            &[],
            &format!(
                "SELECT typeof(bits), typeof(encrypted), typeof(kdf_rounds), typeof(mode), \
                 typeof(owner) FROM keys WHERE key_path = '{ed}'"
            ),
        )
        .trim(),
        "integer|integer|integer|integer|integer"
    );
    assert_eq!(
        sqlite3(
            &db_path,
            &[],
            "SELECT count(*) FROM keys WHERE typeof(encrypted) != 'integer' \
             OR typeof(mode) != 'integer' OR typeof(owner) != 'integer' \
             OR typeof(bits) NOT IN ('integer', 'null') \
             OR typeof(kdf_rounds) NOT IN ('integer', 'null')"
        )
        .trim(),
        "0"
    );

    // keycheck_meta: one row.
    let meta = &by_table["keycheck_meta"];
    assert_eq!(meta.len(), 1);
    assert_eq!(meta[0]["schema_version"], db::SCHEMA_VERSION);
    assert_eq!(meta[0]["generated_at"], generated_at.as_str());
    assert_eq!(meta[0]["host_id"], "host-3f9a");
    assert_eq!(meta[0]["user"], "alice");
    assert_eq!(meta[0]["profile"], "laptop");
    assert_eq!(meta[0]["keycheck_version"], env!("CARGO_PKG_VERSION"));

    // No table has a column named `path` (ATC would drop it for its own).
    assert_eq!(
        sqlite3(
            &db_path,
            &[],
            "SELECT count(*) FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND lower(c.name) = 'path'"
        )
        .trim(),
        "0"
    );
}

#[test]
fn a_second_write_replaces_the_rows() {
    require_sqlite3();
    let tmp = tempfile::tempdir().expect("tempdir");
    let rsa = weak_keys(&tmp.path().join("weak"));
    good_keys(&tmp.path().join("good"));
    let weak = scan_and_judge(&tmp.path().join("weak"));
    let good = scan_and_judge(&tmp.path().join("good"));
    let state = tmp.path().join("state");

    let db_path = db::write(&state, &ctx("t1"), &weak.inventory, &weak.findings).expect("write");
    let first = (count(&db_path, "keys"), count(&db_path, "findings"));
    assert_eq!(first, (weak.inventory.keys.len(), weak.findings.len()));
    db::write(&state, &ctx("t2"), &weak.inventory, &weak.findings).expect("write again");
    assert_eq!(
        (count(&db_path, "keys"), count(&db_path, "findings")),
        first,
        "the same facts twice are not twice the rows"
    );
    assert_eq!(
        count(
            &db_path,
            "(SELECT DISTINCT key_path, rule, severity, message FROM findings)"
        ),
        first.1
    );

    db::write(&state, &ctx("t3"), &good.inventory, &good.findings).expect("write good");
    assert_eq!(
        (count(&db_path, "keys"), count(&db_path, "findings")),
        (good.inventory.keys.len(), good.findings.len())
    );
    let rsa_path = scan::display_path(&rsa);
    assert!(rows(
        &db_path,
        &format!("SELECT 1 FROM keys WHERE key_path = '{rsa_path}'")
    )
    .is_empty());
    assert_eq!(
        sqlite3(
            &db_path,
            &[],
            "SELECT count(*), max(generated_at) FROM meta"
        )
        .trim(),
        "1|t3"
    );
    assert_eq!(file_names(&state), [db::FILE_NAME]);
    assert_eq!(mode(&db_path), 0o600);
}

// ---------------------------------------------------------------------------------------
// Readers during rewrites
// ---------------------------------------------------------------------------------------

/// One consistent look at the database: key and finding counts, meta rows, and the
/// `generated_at` that names the write.
const SNAPSHOT: &str = "SELECT (SELECT count(*) FROM keys), (SELECT count(*) FROM findings), \
                        (SELECT count(*) FROM meta), (SELECT generated_at FROM meta)";

type Snapshot = (usize, usize, usize, String);

fn snapshot(conn: &Connection) -> rusqlite::Result<Snapshot> {
    conn.query_row(SNAPSHOT, [], |r| {
        Ok((
            r.get::<_, i64>(0)? as usize,
            r.get::<_, i64>(1)? as usize,
            r.get::<_, i64>(2)? as usize,
            r.get(3)?,
        ))
    })
}

/// What a reader saw: good snapshots and anything that went wrong.
#[derive(Debug, Default)]
struct Seen {
    snapshots: Vec<Snapshot>,
    errors: Vec<String>,
}

/// Runs `read` until `stop`, collecting what it returns.
fn reader(
    stop: Arc<AtomicBool>,
    read: impl Fn() -> Result<Snapshot, String> + Send + 'static,
) -> std::thread::JoinHandle<Seen> {
    std::thread::spawn(move || {
        let mut seen = Seen::default();
        while !stop.load(Ordering::Relaxed) {
            match read() {
                Ok(s) => seen.snapshots.push(s),
                Err(e) => seen.errors.push(e),
            }
        }
        seen
    })
}

#[test]
#[allow(clippy::disallowed_macros)] // eprintln: reads per reader, shown with --nocapture
fn readers_never_see_half_a_write_during_50_rewrites() {
    require_sqlite3();
    let tmp = tempfile::tempdir().expect("tempdir");
    weak_keys(&tmp.path().join("weak"));
    good_keys(&tmp.path().join("good"));
    let weak = scan_and_judge(&tmp.path().join("weak"));
    let good = scan_and_judge(&tmp.path().join("good"));
    let weak_counts = (weak.inventory.keys.len(), weak.findings.len());
    let good_counts = (good.inventory.keys.len(), good.findings.len());
    assert_ne!(
        weak_counts, good_counts,
        "the two states must be told apart"
    );
    // Write i holds the weak state when i is even, the good one when odd.
    let stamp = |i: usize| format!("2026-01-01T00:00:{i:02}Z");
    let expected = |generated_at: &str| -> Option<(usize, usize)> {
        let i: usize = generated_at
            .strip_prefix("2026-01-01T00:00:")?
            .strip_suffix('Z')?
            .parse()
            .ok()?;
        Some(if i.is_multiple_of(2) {
            weak_counts
        } else {
            good_counts
        })
    };
    let write = |i: usize| {
        let judged = if i.is_multiple_of(2) { &weak } else { &good };
        db::write(
            &tmp.path().join("state"),
            &ctx(&stamp(i)),
            &judged.inventory,
            &judged.findings,
        )
        .expect("write keycheck.db")
    };
    let db_path = write(0);

    let stop = Arc::new(AtomicBool::new(false));
    // As osquery's ATC reads a rollback-journal file: opened read-only for each query,
    // with the no-locking VFS (`unix-none`).
    let path = db_path.clone();
    let per_query = reader(stop.clone(), move || {
        let conn = Connection::open_with_flags_and_vfs(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            "unix-none",
        )
        .map_err(|e| format!("open: {e}"))?;
        snapshot(&conn).map_err(|e| format!("query: {e}"))
    });
    // A reader that holds one connection open through every rewrite.
    let path = db_path.clone();
    let held = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open read-only");
    let held = std::sync::Mutex::new(held);
    let holding = reader(stop.clone(), move || {
        let conn = held.lock().map_err(|e| e.to_string())?;
        snapshot(&conn).map_err(|e| format!("query: {e}"))
    });
    // The sqlite3 CLI, one process per query.
    let path = db_path.clone();
    let cli = reader(stop.clone(), move || {
        let out = Command::new("sqlite3")
            .args(["-readonly", "-batch", "-bail"])
            .arg(&path)
            .arg(SNAPSHOT)
            .output()
            .map_err(|e| format!("run sqlite3: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || !stderr.trim().is_empty() {
            return Err(format!("sqlite3 ({}): {stderr}", out.status));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.trim().split('|').collect();
        let n = |i: usize| f.get(i).and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
        Ok((n(0), n(1), n(2), f.get(3).unwrap_or(&"").to_string()))
    });

    for i in 1..=50 {
        write(i);
        std::thread::sleep(Duration::from_millis(2));
    }
    // Let every reader see the last state too.
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);

    for (name, handle) in [
        ("per-query", per_query),
        ("held open", holding),
        ("sqlite3", cli),
    ] {
        let seen = handle.join().expect("reader thread");
        assert!(seen.errors.is_empty(), "{name} reader: {:?}", seen.errors);
        assert!(!seen.snapshots.is_empty(), "{name} reader read nothing");
        for (keys, findings, meta, generated_at) in &seen.snapshots {
            assert_eq!(*meta, 1, "{name}: meta rows");
            assert_eq!(
                Some((*keys, *findings)),
                expected(generated_at),
                "{name}: a half-written state ({keys} keys, {findings} findings at {generated_at})"
            );
        }
        let states: BTreeSet<&String> = seen.snapshots.iter().map(|s| &s.3).collect();
        eprintln!(
            "{name} reader: {} reads, {} states",
            seen.snapshots.len(),
            states.len()
        );
        if name != "held open" {
            assert!(states.len() >= 2, "{name} reader never saw a rewrite");
            assert!(
                states.contains(&stamp(50)),
                "{name} reader never saw the last write"
            );
        }
    }
    assert_eq!(file_names(&tmp.path().join("state")), [db::FILE_NAME]);
    assert_eq!(mode(&db_path), 0o600);
}

// ---------------------------------------------------------------------------------------
// Fleet policies
// ---------------------------------------------------------------------------------------

/// One document of `fleet-policies.yml`, in Fleet's `fleetctl apply` format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    spec: PolicySpec,
}

/// The fields Fleet's `PolicySpec` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    name: String,
    query: String,
    description: String,
    resolution: String,
    platform: String,
    #[serde(default)]
    critical: bool,
    #[serde(default)]
    team: Option<String>,
}

fn fleet_policies() -> Vec<PolicySpec> {
    let mut specs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(FLEET) {
        let doc = PolicyDoc::deserialize(doc).expect("a Fleet policy document");
        assert_eq!(doc.api_version, "v1");
        assert_eq!(doc.kind, "policy");
        specs.push(doc.spec);
    }
    specs
}

/// A scratch copy of `db` with the ATC tables as osquery presents them: a view per
/// table over its exact query, every column as text, plus the implicit `path` column.
fn osquery_view(db: &Path, scratch: &Path) {
    std::fs::copy(db, scratch).expect("copy keycheck.db");
    let mut sql = String::new();
    for table in atc_tables() {
        let columns: Vec<String> = table
            .columns
            .iter()
            .map(|c| format!("CAST({c} AS TEXT) AS {c}"))
            .collect();
        sql.push_str(&format!(
            "CREATE VIEW {} AS SELECT '{}' AS path, {} FROM ({});\n",
            table.name,
            db.display(),
            columns.join(", "),
            table.query
        ));
    }
    let out = run(Command::new("sqlite3")
        .args(["-batch", "-bail"])
        .arg(scratch)
        .arg(&sql));
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "create the views: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fleet_policies_parse_and_pass_or_fail_as_they_should() {
    require_sqlite3();
    let policies = fleet_policies();
    let names: BTreeSet<&str> = policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), policies.len(), "policy names are unique");
    for p in &policies {
        assert_eq!(
            p.platform, "linux",
            "{}: the ATC tables exist on Linux",
            p.name
        );
        assert!(!p.description.trim().is_empty() && !p.resolution.trim().is_empty());
        assert!(
            !p.critical && p.team.is_none(),
            "{}: global policies",
            p.name
        );
    }

    let tmp = tempfile::tempdir().expect("tempdir");
    weak_keys(&tmp.path().join("weak"));
    good_keys(&tmp.path().join("good"));
    let weak = scan_and_judge(&tmp.path().join("weak"));
    let good = scan_and_judge(&tmp.path().join("good"));
    assert!(
        !good
            .findings
            .iter()
            .any(|f| f.severity == keycheck::finding::Severity::Fail),
        "the good keys fail nothing: {:?}",
        good.findings
    );
    let two_days_ago = (time::OffsetDateTime::now_utc() - time::Duration::days(2))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    let now = now_rfc3339();
    // Each case: its name, what was judged and when, and the policies it must fail.
    let cases: [(&str, &Judged, &str, &[&str]); 3] = [
        (
            "weak",
            &weak,
            &now,
            &[
                "keycheck: no failing SSH key findings",
                "keycheck: no unencrypted SSH private keys",
                "keycheck: no RSA SSH keys below 2048 bits",
            ],
        ),
        ("good", &good, &now, &[]),
        (
            "stale",
            &good,
            &two_days_ago,
            &["keycheck: ran in the last day"],
        ),
    ];
    for (case, judged, generated_at, failing) in cases {
        for name in failing {
            assert!(names.contains(name), "no policy named {name:?}");
        }
        let state = tmp.path().join(case);
        let db_path = db::write(
            &state,
            &ctx(generated_at),
            &judged.inventory,
            &judged.findings,
        )
        .expect("write keycheck.db");
        let scratch = tmp.path().join(format!("{case}-osquery.db"));
        osquery_view(&db_path, &scratch);
        for p in &policies {
            let got = rows(&scratch, &p.query);
            let passes = !got.is_empty();
            assert_eq!(
                passes,
                !failing.contains(&p.name.as_str()),
                "{case}: policy {:?} {} ({got:?})",
                p.name,
                if passes { "passes" } else { "fails" }
            );
        }
    }
}
