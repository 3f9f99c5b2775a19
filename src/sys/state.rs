//! EDGE: keycheck's state directory (`~/.local/state/keycheck` on Linux, from
//! `directories`) and the files in it. Writes are atomic (a temp file in the same
//! directory, fsynced, then renamed), the directory is 0700 and files 0600, and a file
//! that cannot be read back (truncated, another version) is set aside, never trusted.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// State files are small; anything larger is not ours.
pub const MAX_STATE_SIZE: u64 = 4 * 1024 * 1024;

/// The state directory could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state {path}: {reason}")]
pub struct StateError {
    /// The file or directory.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// The state directory: `$KEYCHECK_STATE_DIR` when set (tests, packaging), else the
/// platform's state dir for keycheck.
#[must_use]
pub fn state_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KEYCHECK_STATE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let dirs = directories::ProjectDirs::from("", "", "keycheck")?;
    Some(
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_path_buf(),
    )
}

/// Reads `name` from `dir`: `Ok(None)` when it does not exist.
///
/// # Errors
/// [`StateError`] when it exists but cannot be read or is too large.
pub fn read(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, StateError> {
    let path = dir.join(name);
    let err = |reason: String| StateError {
        path: path.display().to_string(),
        reason,
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    let meta = file.metadata().map_err(|e| err(e.to_string()))?;
    if !meta.is_file() || meta.len() > MAX_STATE_SIZE {
        return Err(err("not a regular file of a sane size".to_owned()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_STATE_SIZE)
        .read_to_end(&mut bytes)
        .map_err(|e| err(e.to_string()))?;
    Ok(Some(bytes))
}

/// Writes `bytes` to `name` in `dir` atomically, creating `dir` (0700) if needed; the
/// file is 0600.
///
/// # Errors
/// [`StateError`] naming the file and the reason.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StateError> {
    let path = dir.join(name);
    ensure_dir(dir)?;
    replace_file(&path, bytes).map_err(|e| StateError {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never
/// part of one: a 0600 temp file in the same directory, synced, then renamed over
/// `path`, and the directory synced. The temp file is removed if anything fails.
///
/// # Errors
/// Any I/O error; `path` is then as it was.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let mut attempt = 0u32;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(file) => break (tmp, file),
            // A temp file left by a crashed run that had this pid.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is durable once the directory is synced; a directory that cannot be
    // opened for that (some network filesystems) still has the complete file.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates `dir` (0700) and its missing parents.
///
/// # Errors
/// [`StateError`] naming the directory and the reason.
pub fn ensure_dir(dir: &Path) -> Result<(), StateError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| StateError {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })
}

/// Moves an unreadable state file aside (`NAME.corrupt`) so the next write starts clean
/// and the bad copy stays for a person to look at.
pub fn set_aside(dir: &Path, name: &str) {
    let _ = std::fs::rename(dir.join(name), dir.join(format!("{name}.corrupt")));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn writes_atomically_with_private_modes_and_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        assert_eq!(read(&dir, "x.json").unwrap(), None);
        write_atomic(&dir, "x.json", b"{}").unwrap();
        write_atomic(&dir, "x.json", b"{\"a\":1}").unwrap();
        assert_eq!(read(&dir, "x.json").unwrap().unwrap(), b"{\"a\":1}");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("x.json")), 0o600);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temp file left"
        );
        set_aside(&dir, "x.json");
        assert_eq!(read(&dir, "x.json").unwrap(), None);
        assert!(dir.join("x.json.corrupt").exists());
    }
}
