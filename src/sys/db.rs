//! EDGE: `keycheck.db`, the SQLite file in the state directory that osquery's automatic
//! table construction (ATC) reads, so Fleet/osquery can query every laptop's keys and
//! findings (`packaging/osquery/keycheck.atc.json`). This module writes facts and
//! findings as they are given; it never judges, and it never reads the file back.
//!
//! # Tables (schema version [`SCHEMA_VERSION`])
//!
//! - `meta`, one row: `schema_version` INTEGER, `generated_at`, `host_id`, `user`,
//!   `profile`, `keycheck_version`.
//! - `findings`, one row per finding in force: `host_id`, `user`, `generated_at`, `rule`,
//!   `severity`, `key_path` (the file or directory the finding is about), `fingerprint`,
//!   `message`, `fix`.
//! - `keys`, one row per key file: `key_path`, `kind`, `format`, `algorithm`, `bits`
//!   INTEGER, `fingerprint`, `encrypted` INTEGER 0/1, `cipher`, `kdf`, `kdf_rounds`
//!   INTEGER, `comment`, `mode` INTEGER (permission bits, 384 = 0600), `owner` INTEGER
//!   (uid), `modified`, `found` (`scan`, `search`, `identity-file`).
//!
//! Unknown values are NULL. No column is named `path`: ATC adds its own `path` column
//! (the database file a row came from) and drops a table's column of that name.
//!
//! # Why atomic replace, not WAL
//!
//! Every update writes a complete new database to a temporary file in the same
//! directory (0600, no journal on disk), fsyncs it, and renames it over `keycheck.db`;
//! then the directory is fsynced. A reader opens either the old file or the new one,
//! never a mix, and a reader that already has the old file open keeps reading that
//! (unlinked) file consistently. WAL was rejected because of how osquery reads:
//!
//! - ATC opens the file read-only for each query and takes SQLite locks only when the
//!   file is in WAL mode; for any other journal mode it reads with no locking at all
//!   (`genTableRowsForSqliteTable` with `respect_locking = false`). An in-place update
//!   of a rollback-journal database is then seen half written, or the reader takes the
//!   writer's journal for a hot one and fails ("attempt to write a readonly database":
//!   what `tests/sqlite_db.rs` saw when this module was made to update in place). A
//!   file that is never modified after it is renamed into place cannot be.
//! - A WAL reader needs the `-shm` file, and must create it (and may create `-wal`)
//!   when it is missing: a reader without write access to the directory then fails,
//!   and osquery running as root would create root-owned sidecar files in the user's
//!   state directory, with modes we do not choose. Atomic replace leaves exactly one
//!   file, `keycheck.db`, mode 0600, and nothing beside it.
//!
//! osquery runs as root, so a 0600 file in a 0700 directory is readable to it and to
//! the user, and to no one else.

use std::io;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection, OpenFlags};

use crate::finding::Finding;
use crate::inventory::{Found, Inventory};
use crate::key::Kind;
use crate::sys::state;

/// The database's file name in the state directory.
pub const FILE_NAME: &str = "keycheck.db";

/// The version of the tables below, stored in `meta.schema_version` and in SQLite's
/// `user_version`. Raised whenever a column is renamed, removed or changes meaning.
pub const SCHEMA_VERSION: i64 = 1;

/// Temporary files of a write that did not finish (the writer was killed) are removed
/// by the next write once they are this old; a write takes milliseconds.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// The tables, created in every new file.
const SCHEMA: &str = "
CREATE TABLE meta (
    schema_version   INTEGER NOT NULL,
    generated_at     TEXT NOT NULL,
    host_id          TEXT NOT NULL,
    user             TEXT NOT NULL,
    profile          TEXT NOT NULL,
    keycheck_version TEXT NOT NULL
);
CREATE TABLE findings (
    host_id      TEXT NOT NULL,
    user         TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    rule         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    key_path     TEXT NOT NULL,
    fingerprint  TEXT,
    message      TEXT NOT NULL,
    fix          TEXT
);
CREATE TABLE keys (
    key_path    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    format      TEXT NOT NULL,
    algorithm   TEXT,
    bits        INTEGER,
    fingerprint TEXT,
    encrypted   INTEGER NOT NULL CHECK (encrypted IN (0, 1)),
    cipher      TEXT,
    kdf         TEXT,
    kdf_rounds  INTEGER,
    comment     TEXT,
    mode        INTEGER NOT NULL,
    owner       INTEGER NOT NULL,
    modified    TEXT,
    found       TEXT NOT NULL
);
";

/// Who and when a database describes; the caller computes these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbContext {
    /// The host's stable id (never the raw machine id).
    pub host_id: String,
    /// The user whose keys these are.
    pub user: String,
    /// When the facts were gathered, as RFC 3339 UTC text (`2026-11-23T08:00:00Z`).
    pub generated_at: String,
    /// The policy's device profile (`laptop`, `desktop`, ...).
    pub policy_profile: String,
}

/// `keycheck.db` could not be written. The previous file, if any, is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The state directory could not be created.
    #[error("cannot create the state directory {path}: {reason}")]
    Dir {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file operation on the new database failed.
    #[error("cannot write {path}: {kind}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        kind: io::ErrorKind,
    },
    /// SQLite refused a statement.
    #[error("cannot write {path}: sqlite: {reason}")]
    Sqlite {
        /// The file.
        path: String,
        /// SQLite's message.
        reason: String,
    },
}

/// Writes `inventory` and `findings` as a new `keycheck.db` in `dir` (created 0700 if
/// missing) and atomically replaces the previous one. Returns the database's path.
///
/// # Errors
/// [`DbError`] when the directory cannot be created or the new file cannot be
/// written; the previous database then stays in place, untouched.
pub fn write(
    dir: &Path,
    ctx: &DbContext,
    inventory: &Inventory,
    findings: &[Finding],
) -> Result<PathBuf, DbError> {
    state::ensure_dir(dir).map_err(|e| DbError::Dir {
        path: e.path,
        reason: e.reason,
    })?;
    remove_stale_temps(dir);
    let path = dir.join(FILE_NAME);
    let tmp = dir.join(temp_name());
    let result = write_new(&tmp, ctx, inventory, findings).and_then(|()| {
        // Sidecars of the final name are never ours (we keep no journal on disk): a
        // stray hot `-journal` would be rolled back into the new file by a reader.
        for suffix in ["-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("{FILE_NAME}{suffix}")));
        }
        std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, &e))?;
        // The rename is durable only once the directory is synced.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(dir, &e))
    });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

/// Writes the whole database to `tmp`, a new file, and syncs it to disk.
fn write_new(
    tmp: &Path,
    ctx: &DbContext,
    inventory: &Inventory,
    findings: &[Finding],
) -> Result<(), DbError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)
        .map_err(|e| io_error(tmp, &e))?;
    // The umask can only take bits away; make it exactly 0600.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io_error(tmp, &e))?;
    let sqlite = |e: rusqlite::Error| DbError::Sqlite {
        path: tmp.display().to_string(),
        reason: e.to_string(),
    };
    let mut conn = Connection::open_with_flags(
        tmp,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    // The file is private until it is renamed into place, so a crash only leaves a
    // temporary file behind: no journal on disk (no sidecar file, ever), and one fsync
    // of our own once SQLite is done instead of SQLite's.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = MEMORY;
         PRAGMA synchronous = OFF;
         PRAGMA user_version = {SCHEMA_VERSION};"
    ))
    .map_err(sqlite)?;
    fill(&mut conn, ctx, inventory, findings).map_err(sqlite)?;
    conn.close().map_err(|(_, e)| sqlite(e))?;
    file.sync_all().map_err(|e| io_error(tmp, &e))
}

/// Creates the tables and inserts every row in one transaction.
fn fill(
    conn: &mut Connection,
    ctx: &DbContext,
    inventory: &Inventory,
    findings: &[Finding],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)?;
    tx.execute(
        "INSERT INTO meta (schema_version, generated_at, host_id, user, profile, \
         keycheck_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            SCHEMA_VERSION,
            ctx.generated_at,
            ctx.host_id,
            ctx.user,
            ctx.policy_profile,
            env!("CARGO_PKG_VERSION"),
        ],
    )?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO findings (host_id, user, generated_at, rule, severity, key_path, \
             fingerprint, message, fix) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for f in findings {
            insert.execute(params![
                ctx.host_id,
                ctx.user,
                ctx.generated_at,
                f.rule.id(),
                f.severity.as_str(),
                f.path,
                f.fingerprint,
                f.message,
                f.fix,
            ])?;
        }
        let mut insert = tx.prepare(
            "INSERT INTO keys (key_path, kind, format, algorithm, bits, fingerprint, \
             encrypted, cipher, kdf, kdf_rounds, comment, mode, owner, modified, found) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        for key in &inventory.keys {
            let facts = &key.facts;
            let found = inventory
                .found
                .get(&key.path)
                .copied()
                .unwrap_or(Found::Scan);
            insert.execute(params![
                key.path,
                kind_name(facts.kind),
                facts.format.as_str(),
                facts.algorithm,
                facts.bits,
                facts.fingerprint,
                facts.encrypted,
                facts.cipher,
                facts.kdf,
                facts.kdf_rounds,
                facts.comment,
                key.file.mode & 0o7777,
                key.file.owner,
                key.file.modified,
                found_name(found),
            ])?;
        }
    }
    tx.commit()
}

/// The stable spelling of a key kind, as in reports.
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Private => "private",
        Kind::Public => "public",
        Kind::Certificate => "certificate",
    }
}

/// The stable spelling of how a key was found, as in reports.
fn found_name(found: Found) -> &'static str {
    match found {
        Found::Scan => "scan",
        Found::Search => "search",
        Found::IdentityFile => "identity-file",
    }
}

/// Temporary files are `.keycheck.db.PID.N.tmp`: hidden, unique per write even when
/// two writers (the agent and `keycheck report`) run at once, and never matched by
/// the ATC path, which names `keycheck.db` exactly.
fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{FILE_NAME}.{}.{n}.tmp", std::process::id())
}

/// Returns true if and only if `name` is one of our temporary files.
fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(&format!(".{FILE_NAME}."))
        .is_some_and(|rest| rest.ends_with(".tmp"))
}

/// Removes temporary files left by writers that were killed mid-write. Best effort:
/// a file that cannot be removed now is tried again next time.
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(is_temp_name) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= STALE_TEMP_AGE);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn io_error(path: &Path, e: &io::Error) -> DbError {
    DbError::Io {
        path: path.display().to_string(),
        kind: e.kind(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::rules::testkit::{encrypted, inventory, private};
    use crate::rules::Rule;

    fn ctx() -> DbContext {
        DbContext {
            host_id: "h1".to_owned(),
            user: "alice".to_owned(),
            generated_at: "2026-11-23T08:00:00Z".to_owned(),
            policy_profile: "laptop".to_owned(),
        }
    }

    fn finding(path: &str) -> Finding {
        Finding {
            rule: Rule::RsaBelowMinimum,
            severity: crate::finding::Severity::Fail,
            path: path.to_owned(),
            fingerprint: None,
            message: "m".to_owned(),
            fix: None,
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_one_private_file_and_replaces_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let inv = inventory(vec![
            private("/h/.ssh/a", "ssh-rsa", 1024),
            encrypted(private("/h/.ssh/b", "ssh-ed25519", 256), 16),
        ]);
        let path = write(&dir, &ctx(), &inv, &[finding("/h/.ssh/a")]).unwrap();
        assert_eq!(path, dir.join(FILE_NAME));
        let path = write(&dir, &ctx(), &inv, &[]).unwrap();
        assert_eq!(names(&dir), [FILE_NAME], "no sidecar or temporary file");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let count = |table: &str| -> i64 {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!((count("keys"), count("findings"), count("meta")), (2, 0, 1));
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let journal: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "delete", "not WAL: readers need no sidecar files");
    }

    #[test]
    fn no_column_is_named_path() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master m, pragma_table_info(m.name) c \
                 WHERE m.type = 'table' AND lower(c.name) = 'path'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn a_failed_write_says_why_in_one_line_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let err = write(&file, &ctx(), &Inventory::default(), &[]).unwrap_err();
        assert!(matches!(err, DbError::Dir { .. }), "{err:?}");
        let text = err.to_string();
        assert!(!text.contains('\n') && text.contains("not-a-dir"), "{text}");

        // A non-empty directory where the database goes: the rename fails, even as root.
        let dir = tmp.path().join("state");
        std::fs::create_dir_all(dir.join(FILE_NAME).join("x")).unwrap();
        let err = write(&dir, &ctx(), &Inventory::default(), &[finding("/x")]).unwrap_err();
        assert!(matches!(err, DbError::Io { .. }), "{err:?}");
        assert!(!err.to_string().contains('\n'));
        assert_eq!(names(&dir), [FILE_NAME], "the temporary file is removed");
        assert!(
            dir.join(FILE_NAME).join("x").is_dir(),
            "what was there stays"
        );
    }

    #[test]
    fn stale_temporary_files_are_removed_fresh_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let stale = dir.join(".keycheck.db.1.0.tmp");
        let fresh = dir.join(".keycheck.db.2.0.tmp");
        let other = dir.join("agent.json");
        for p in [&stale, &fresh, &other] {
            std::fs::write(p, b"").unwrap();
        }
        let old = SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        remove_stale_temps(dir);
        assert!(!stale.exists());
        assert!(fresh.exists() && other.exists());
        assert!(is_temp_name(&temp_name()));
        assert!(!is_temp_name(FILE_NAME));
    }
}
