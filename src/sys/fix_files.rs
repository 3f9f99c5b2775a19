//! EDGE: the files of `keycheck fix`: its lock, its backup sets in the state dir, the
//! temp copy a key is rewritten in, and the atomic swaps that replace or restore a key.
//!
//! The order that keeps every key: the original is copied into the backup set (synced)
//! before anything else; the rewrite happens on a copy beside the original
//! (`.NAME.keycheck-fix`, 0600, created exclusively); the copy replaces the original by
//! one `rename` only once it has been checked, and the directory is synced after. A run
//! killed at any point leaves the original in place, or the checked rewrite in its place;
//! a leftover copy is removed by the next run (see [`remove_leftover`]).

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::fix::backup::{self, Change, Current, Manifest, MANIFEST};
use crate::sys::scan;
use crate::sys::state;

/// The directory of backup sets in the state dir.
pub const BACKUPS: &str = "backups";

/// The lock file that keeps two runs of `keycheck fix` apart.
const LOCK: &str = "fix.lock";

/// The suffix of the copy a key is rewritten in.
const TEMP_SUFFIX: &str = ".keycheck-fix";

/// A file or directory `keycheck fix` could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FixFileError {
    /// The file or directory.
    pub path: String,
    /// Why.
    pub reason: String,
}

fn error(path: &Path, reason: impl ToString) -> FixFileError {
    FixFileError {
        path: scan::display_path(path),
        reason: reason.to_string(),
    }
}

/// Held while `keycheck fix` runs; released when dropped.
#[derive(Debug)]
pub struct FixLock {
    _file: File,
}

/// Takes the lock in `state_dir`, without waiting.
///
/// # Errors
/// [`FixFileError`] when another run holds it or the file cannot be used.
pub fn lock(state_dir: &Path) -> Result<FixLock, FixFileError> {
    state::ensure_dir(state_dir).map_err(|e| error(state_dir, e.reason))?;
    let path = state_dir.join(LOCK);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc_o_nofollow())
        .open(&path)
        .map_err(|e| error(&path, e))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(FixLock { _file: file }),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(error(
            &path,
            "another keycheck fix is running for this user; let it finish first",
        )),
        Err(e) => Err(error(&path, format!("cannot lock: {e}"))),
    }
}

/// `O_NOFOLLOW`: a symlink planted in place of a file keycheck creates is refused.
fn libc_o_nofollow() -> i32 {
    i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

/// Creates `dir` (0700) if needed and makes sure it is a directory of this user that
/// nobody else can enter.
fn private_dir(dir: &Path) -> Result<(), FixFileError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| error(dir, e))?;
    let meta = fs::symlink_metadata(dir).map_err(|e| error(dir, e))?;
    if !meta.is_dir() {
        return Err(error(dir, "not a directory"));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(error(dir, "owned by another user"));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| error(dir, e))?;
    }
    Ok(())
}

/// Syncs a directory so a rename in it is durable (best effort: some filesystems cannot).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The directory a file is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// One run's backup set: `STATE/backups/<time>-<pid>/`, 0700, with the originals and
/// [`MANIFEST`].
#[derive(Debug)]
pub struct BackupSet {
    dir: PathBuf,
    manifest: Manifest,
}

impl BackupSet {
    /// Makes a new, empty set in `state_dir`, named after `created_at` (RFC 3339) so
    /// that sets sort by time.
    ///
    /// # Errors
    /// [`FixFileError`] when the directory cannot be made private.
    pub fn create(state_dir: &Path, created_at: &str) -> Result<BackupSet, FixFileError> {
        let root = state_dir.join(BACKUPS);
        private_dir(&root)?;
        let stamp: String = created_at
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let dir = root.join(format!("{stamp}-{}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| error(&dir, e))?;
        let set = BackupSet {
            dir,
            manifest: Manifest::new(created_at.to_owned()),
        };
        set.save()?;
        Ok(set)
    }

    /// The set's directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns true if and only if nothing was changed yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.manifest.changes.is_empty()
    }

    /// Copies `bytes` (the original of `path`) into the set, synced, 0600; returns its
    /// name in the set.
    ///
    /// # Errors
    /// [`FixFileError`]; the set then holds no partial copy.
    pub fn keep(&mut self, path: &Path, bytes: &[u8]) -> Result<String, FixFileError> {
        let base = path
            .file_name()
            .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
        keep_in(&self.dir, &base, self.manifest.changes.len() + 1, bytes)
    }

    /// Removes `name` (kept by [`BackupSet::keep`] for a change that was then not made).
    pub fn discard(&self, name: &str) {
        let _ = fs::remove_file(self.dir.join(name));
    }

    /// Adds `change` to the manifest and writes it (atomically).
    ///
    /// # Errors
    /// [`FixFileError`] when the manifest cannot be written.
    pub fn record(&mut self, change: Change) -> Result<(), FixFileError> {
        self.manifest.changes.push(change);
        self.save()
    }

    fn save(&self) -> Result<(), FixFileError> {
        save_manifest(&self.dir, &self.manifest)
    }

    /// Removes the set if nothing was changed (a run that applied no step leaves no
    /// trace). Returns true if it was removed.
    pub fn remove_if_empty(&self) -> bool {
        if !self.is_empty() {
            return false;
        }
        let _ = fs::remove_file(self.dir.join(MANIFEST));
        fs::remove_dir(&self.dir).is_ok()
    }
}

/// Writes `bytes` into the set at `dir` as `N-BASE` (the first `N` from `first` that is
/// free), created exclusively, 0600, synced; returns the name.
///
/// # Errors
/// [`FixFileError`]; the set then holds no partial copy.
pub fn keep_in(dir: &Path, base: &str, first: usize, bytes: &[u8]) -> Result<String, FixFileError> {
    let mut n = first;
    loop {
        let name = format!("{n}-{base}");
        let target = dir.join(&name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc_o_nofollow())
            .open(&target)
        {
            Ok(mut file) => {
                let written = file.write_all(bytes).and_then(|()| file.sync_all());
                if let Err(e) = written {
                    let _ = fs::remove_file(&target);
                    return Err(error(&target, e));
                }
                sync_dir(dir);
                return Ok(name);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(error(&target, e)),
        }
    }
}

/// Writes `manifest` into the set at `dir`, atomically.
///
/// # Errors
/// [`FixFileError`] naming the manifest.
pub fn save_manifest(dir: &Path, manifest: &Manifest) -> Result<(), FixFileError> {
    let path = dir.join(MANIFEST);
    let bytes = serde_json::to_vec_pretty(manifest).map_err(|e| error(&path, e))?;
    state::replace_file(&path, &bytes).map_err(|e| error(&path, e))
}

/// The newest backup set in `state_dir` that lists changes and was not undone yet.
///
/// # Errors
/// [`FixFileError`] when the backups directory or a manifest cannot be read (a set
/// whose manifest is unreadable stops the search: undo never skips over it to an older
/// one).
pub fn latest(state_dir: &Path) -> Result<Option<(PathBuf, Manifest)>, FixFileError> {
    let root = state_dir.join(BACKUPS);
    let entries = match fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(&root, e)),
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs.into_iter().rev() {
        let path = dir.join(MANIFEST);
        let bytes = match state::read(&dir, MANIFEST) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => continue,
            Err(e) => return Err(error(&path, e.reason)),
        };
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| error(&path, format!("not a keycheck backup manifest: {e}")))?;
        if manifest.schema != backup::SCHEMA {
            return Err(error(
                &path,
                format!(
                    "schema {:?}, expected {:?}",
                    manifest.schema,
                    backup::SCHEMA
                ),
            ));
        }
        if manifest.undone_at.is_none() && !manifest.changes.is_empty() {
            return Ok(Some((dir, manifest)));
        }
    }
    Ok(None)
}

/// Removes the backup sets of runs that changed nothing (a run killed between copying a
/// key into its set and recording the change: the key itself was not replaced, as a
/// replacement is recorded first). Such a set holds only copies of files that are still
/// in place, perhaps without a passphrase. Call it with the run's lock held. Returns how
/// many sets were removed.
#[must_use]
pub fn remove_unused(state_dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(state_dir.join(BACKUPS)) else {
        return 0;
    };
    let mut removed = 0;
    for dir in entries.filter_map(Result::ok) {
        if !dir.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = dir.path();
        let unused = match state::read(&dir, MANIFEST) {
            Ok(Some(bytes)) => serde_json::from_slice::<Manifest>(&bytes)
                .is_ok_and(|m| m.schema == backup::SCHEMA && m.changes.is_empty()),
            _ => false,
        };
        if !unused {
            continue;
        }
        let files = fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok);
        for file in files {
            if file.file_type().is_ok_and(|t| t.is_file()) {
                let _ = fs::remove_file(file.path());
            }
        }
        if fs::remove_dir(&dir).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// What `path` is like now: missing, or its mode and (for a regular file of sane size)
/// the SHA-256 of its content.
#[must_use]
pub fn current(path: &Path) -> Current {
    match fs::symlink_metadata(path) {
        Err(_) => Current::Missing,
        Ok(meta) => Current::Present {
            mode: meta.mode() & 0o7777,
            sha256: meta
                .is_file()
                .then(|| scan::read_key_file(path).ok())
                .flatten()
                .map(|bytes| backup::sha256_hex(&bytes)),
        },
    }
}

/// Reads a file in the backup set at `dir`.
///
/// # Errors
/// [`FixFileError`] naming the backup.
pub fn read_backup(dir: &Path, name: &str) -> Result<Zeroizing<Vec<u8>>, FixFileError> {
    let path = dir.join(name);
    scan::read_key_file(&path).map_err(|reason| error(&path, reason))
}

/// Puts `bytes` at `path` atomically (a temp file beside it, synced, renamed) with
/// `mode`.
///
/// # Errors
/// [`FixFileError`]; `path` is then as it was.
pub fn restore(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FixFileError> {
    state::replace_file(path, bytes).map_err(|e| error(path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| error(path, e))
}

/// Sets the permission bits of `path` (never following a symlink: the plan's paths are
/// the files themselves).
///
/// # Errors
/// [`FixFileError`] naming the path.
pub fn set_mode(path: &Path, mode: u32) -> Result<(), FixFileError> {
    let meta = fs::symlink_metadata(path).map_err(|e| error(path, e))?;
    if meta.file_type().is_symlink() {
        return Err(error(path, "a symbolic link; its mode is its target's"));
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| error(path, e))
}

/// Where the copy of `original` is rewritten: `.NAME.keycheck-fix` beside it.
#[must_use]
pub fn temp_path(original: &Path) -> PathBuf {
    let name = original
        .file_name()
        .map_or_else(|| "key".into(), |n| n.to_string_lossy().into_owned());
    parent(original).join(format!(".{name}{TEMP_SUFFIX}"))
}

/// The original a leftover copy at `path` belongs to, if `path` is named like one.
#[must_use]
pub fn original_of(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let inner = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    (!inner.is_empty()).then(|| parent(path).join(inner))
}

/// Removes the copy a killed run left at `path` when it is one: named like a copy, a
/// regular file of this user, beside an original that still exists (so the copy holds
/// nothing the original does not). Returns true if it was removed.
#[must_use]
pub fn remove_leftover(path: &Path) -> bool {
    let Some(original) = original_of(path) else {
        return false;
    };
    let ours = fs::symlink_metadata(path)
        .is_ok_and(|m| m.is_file() && m.uid() == rustix::process::geteuid().as_raw());
    ours && original.is_file() && fs::remove_file(path).is_ok()
}

/// The copy a key is rewritten in; removed when dropped unless it replaced the original.
#[derive(Debug)]
pub struct TempCopy {
    path: PathBuf,
    done: bool,
}

impl TempCopy {
    /// Writes `bytes` (the original's) to [`temp_path`] of `original`: created
    /// exclusively, never through a symlink, 0600, synced.
    ///
    /// # Errors
    /// [`FixFileError`], with nothing left behind.
    pub fn create(original: &Path, bytes: &[u8]) -> Result<TempCopy, FixFileError> {
        let path = temp_path(original);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc_o_nofollow())
            .open(&path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    error(
                        &path,
                        "exists: another program made it; keycheck leaves it alone",
                    )
                } else {
                    error(&path, e)
                }
            })?;
        let copy = TempCopy { path, done: false };
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| error(&copy.path, e))?;
        Ok(copy)
    }

    /// Where the copy is.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its bytes now (after the rewrite).
    ///
    /// # Errors
    /// [`FixFileError`] naming the copy.
    pub fn read(&self) -> Result<Zeroizing<Vec<u8>>, FixFileError> {
        scan::read_key_file(&self.path).map_err(|reason| error(&self.path, reason))
    }

    /// Replaces `original` with the copy: mode `mode`, synced, renamed over it in one
    /// step, then the directory synced.
    ///
    /// # Errors
    /// [`FixFileError`]; the original is then as it was and the copy is removed.
    pub fn replace(mut self, original: &Path, mode: u32) -> Result<(), FixFileError> {
        let synced = File::open(&self.path)
            .and_then(|f| {
                f.set_permissions(fs::Permissions::from_mode(mode))?;
                f.sync_all()
            })
            .map_err(|e| error(&self.path, e));
        synced?;
        fs::rename(&self.path, original).map_err(|e| error(original, e))?;
        self.done = true;
        sync_dir(parent(original));
        Ok(())
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_copy_replaces_the_original_or_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("id");
        fs::write(&key, b"old").unwrap();

        let copy = TempCopy::create(&key, b"old").unwrap();
        assert_eq!(copy.path(), tmp.path().join(".id.keycheck-fix"));
        assert!(TempCopy::create(&key, b"x").is_err(), "created exclusively");
        drop(copy);
        assert!(!temp_path(&key).exists(), "dropped copies are removed");

        let copy = TempCopy::create(&key, b"old").unwrap();
        fs::write(copy.path(), b"new").unwrap();
        copy.replace(&key, 0o600).unwrap();
        assert_eq!(fs::read(&key).unwrap(), b"new");
        assert_eq!(fs::metadata(&key).unwrap().mode() & 0o777, 0o600);
        assert!(!temp_path(&key).exists());
    }

    #[test]
    fn a_link_planted_where_the_copy_goes_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("id");
        fs::write(&key, b"key").unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, b"untouched").unwrap();
        std::os::unix::fs::symlink(&victim, temp_path(&key)).unwrap();
        let err = TempCopy::create(&key, b"key").unwrap_err();
        assert!(err.to_string().contains(".id.keycheck-fix"), "{err}");
        assert_eq!(fs::read(&victim).unwrap(), b"untouched");
        assert!(
            fs::symlink_metadata(temp_path(&key))
                .unwrap()
                .file_type()
                .is_symlink(),
            "the planted link is left for the person to see"
        );
    }

    #[test]
    fn leftovers_are_removed_only_beside_their_original() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("id");
        let left = temp_path(&key);
        assert_eq!(original_of(&left).unwrap(), key);
        assert_eq!(original_of(&tmp.path().join("id")), None);
        fs::write(&left, b"copy").unwrap();
        assert!(
            !remove_leftover(&left),
            "no original: the copy is all there is"
        );
        fs::write(&key, b"key").unwrap();
        assert!(remove_leftover(&left));
        assert!(!left.exists());
    }

    #[test]
    fn backup_sets_are_private_and_the_latest_undoable_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let _lock = lock(&state).unwrap();
        assert!(lock(&state).is_err(), "one run at a time");

        let empty = BackupSet::create(&state, "2026-11-23T10:00:00Z").unwrap();
        assert!(empty.remove_if_empty());
        assert_eq!(latest(&state).unwrap(), None);
        // A run killed after keeping a copy but before recording a change.
        let mut killed = BackupSet::create(&state, "2026-11-23T10:00:00Z").unwrap();
        killed.keep(Path::new("/h/.ssh/id"), b"secret").unwrap();
        assert_eq!(remove_unused(&state), 1);
        assert!(!killed.dir().exists());

        let mut set = BackupSet::create(&state, "2026-11-23T10:00:01Z").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&state.join(BACKUPS)), 0o700);
        assert_eq!(mode(set.dir()), 0o700);
        let name = set.keep(Path::new("/h/.ssh/id"), b"secret").unwrap();
        assert_eq!(name, "1-id");
        assert_eq!(mode(&set.dir().join(&name)), 0o600);
        set.record(Change::Chmod {
            path: "/h/.ssh/id".to_owned(),
            escaped: false,
            from: 0o644,
            to: 0o600,
        })
        .unwrap();
        let (dir, manifest) = latest(&state).unwrap().unwrap();
        assert_eq!(dir, set.dir());
        assert_eq!(manifest.changes.len(), 1);
        assert_eq!(*read_backup(&dir, &name).unwrap(), b"secret");

        let mut undone = manifest;
        undone.undone_at = Some("later".to_owned());
        save_manifest(&dir, &undone).unwrap();
        assert_eq!(latest(&state).unwrap(), None);
    }
}
