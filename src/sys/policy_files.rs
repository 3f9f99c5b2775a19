//! EDGE: where the policy layers live, and reading them.
//!
//! The organisation's file is at a fixed, root-owned place
//! (`/etc/keycheck/policy.toml`, or `/Library/Application Support/keycheck/policy.toml`
//! on macOS); the user's file is in the platform config dir (`directories`). A missing
//! file is simply no layer. Files are read only when they are regular files, and at most
//! [`MAX_POLICY_SIZE`] bytes, so a FIFO or a huge file cannot stall keycheck.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::policy::LayerKind;

/// No sane policy is larger than this.
pub const MAX_POLICY_SIZE: u64 = 1024 * 1024;

/// A policy file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reading policy {path}: {reason}")]
pub struct ReadError {
    /// The file.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// One layer's file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// Which layer.
    pub kind: LayerKind,
    /// The path, as shown in messages.
    pub name: String,
    /// The text.
    pub text: String,
}

/// Where the organisation's policy file is on this platform.
///
/// Debug builds (the test suite) honour `KEYCHECK_ORG_POLICY` instead, so tests never
/// read the machine's real file; release builds ignore it, so a user cannot point
/// keycheck away from the organisation's policy.
#[must_use]
pub fn organisation_path() -> PathBuf {
    if cfg!(debug_assertions) {
        if let Some(p) = std::env::var_os("KEYCHECK_ORG_POLICY") {
            return PathBuf::from(p);
        }
    }
    if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/keycheck/policy.toml")
    } else {
        PathBuf::from("/etc/keycheck/policy.toml")
    }
}

/// Where the user's policy file is (`~/.config/keycheck/policy.toml` on Linux).
#[must_use]
pub fn user_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "keycheck").map(|d| d.config_dir().join("policy.toml"))
}

/// Reads the organisation's and the user's files (each if it exists) and `extra`
/// (`--policy FILE`, which must exist), in layer order. The built-in layer is not
/// included.
///
/// # Errors
/// [`ReadError`] when a file exists but cannot be read, is not a regular file, is too
/// large or is not UTF-8, or when `extra` does not exist.
pub fn read_layers(extra: Option<&Path>) -> Result<Vec<LayerFile>, ReadError> {
    let mut out = Vec::new();
    if let Some(l) = read_optional(&organisation_path(), LayerKind::Organisation)? {
        out.push(l);
    }
    if let Some(path) = user_path() {
        if let Some(l) = read_optional(&path, LayerKind::User)? {
            out.push(l);
        }
    }
    if let Some(path) = extra {
        out.push(LayerFile {
            kind: LayerKind::CommandLine,
            name: path.display().to_string(),
            text: read_policy_file(path)?,
        });
    }
    Ok(out)
}

fn read_optional(path: &Path, kind: LayerKind) -> Result<Option<LayerFile>, ReadError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        _ => Ok(Some(LayerFile {
            kind,
            name: path.display().to_string(),
            text: match kind {
                LayerKind::Organisation => read_organisation_file(path)?,
                _ => read_policy_file(path)?,
            },
        })),
    }
}

/// Reads one policy file, bounded; opened without blocking (a FIFO cannot stall it) and
/// checked to be a regular file once open.
///
/// # Errors
/// [`ReadError`] naming the file and the reason.
pub fn read_policy_file(path: &Path) -> Result<String, ReadError> {
    read_checked(path, |_| Ok(()))
}

/// Reads the organisation's file as [`read_policy_file`] does, after checking that only
/// root can change it: the file and its directory belong to root and nobody else may
/// write them. Anyone else who could write it could loosen the policy the user's own
/// file may only tighten. (Debug builds reading `KEYCHECK_ORG_POLICY` also accept files
/// of the user running the tests.)
///
/// # Errors
/// [`ReadError`] naming the file and why it is not trusted.
pub fn read_organisation_file(path: &Path) -> Result<String, ReadError> {
    let euid = rustix::process::geteuid().as_raw();
    let test_owner = (cfg!(debug_assertions) && std::env::var_os("KEYCHECK_ORG_POLICY").is_some())
        .then_some(euid);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        use std::os::unix::fs::MetadataExt as _;
        if let Ok(meta) = std::fs::metadata(dir) {
            trusted(meta.uid(), meta.mode(), test_owner).map_err(|reason| ReadError {
                path: path.display().to_string(),
                reason: format!("its directory {}: {reason}", dir.display()),
            })?;
        }
    }
    read_checked(path, |meta| {
        use std::os::unix::fs::MetadataExt as _;
        trusted(meta.uid(), meta.mode(), test_owner)
    })
}

/// PURE: whether a file or directory with owner `uid` and `mode` can be changed only by
/// root (or by `test_owner`, in tests).
fn trusted(uid: u32, mode: u32, test_owner: Option<u32>) -> Result<(), String> {
    if uid != 0 && Some(uid) != test_owner {
        return Err(format!(
            "belongs to user {uid}, not root: whoever owns it could loosen the organisation's policy, so it is not used"
        ));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "mode {:04o} lets others write it: they could loosen the organisation's policy, so it is not used (chmod go-w)",
            mode & 0o7777
        ));
    }
    Ok(())
}

fn read_checked(
    path: &Path,
    check: impl FnOnce(&std::fs::Metadata) -> Result<(), String>,
) -> Result<String, ReadError> {
    use crate::sys::scan::{open_regular, ReadError as OpenError};
    let err = |reason: String| ReadError {
        path: path.display().to_string(),
        reason,
    };
    let (file, meta) = open_regular(path).map_err(|e| match e {
        OpenError::Io(e) => err(describe(&e)),
        OpenError::NotRegular(kind) => err(format!("a {kind}, not a regular file")),
        OpenError::TooLarge => err("too large".to_owned()),
    })?;
    check(&meta).map_err(err)?;
    if meta.len() > MAX_POLICY_SIZE {
        return Err(err(format!(
            "{} bytes is too large for a policy file (limit {MAX_POLICY_SIZE})",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(describe(&e)))?;
    if bytes.len() as u64 > MAX_POLICY_SIZE {
        return Err(err(format!(
            "more than {MAX_POLICY_SIZE} bytes is too large for a policy file"
        )));
    }
    String::from_utf8(bytes).map_err(|_| err("not UTF-8 text".to_owned()))
}

fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod trust_tests {
    #![allow(clippy::unwrap_used)]
    use super::trusted;

    #[test]
    fn only_root_may_be_able_to_change_the_organisation_policy() {
        assert!(trusted(0, 0o100_644, None).is_ok());
        assert!(trusted(0, 0o040_755, None).is_ok());
        let other = trusted(1000, 0o100_644, None).unwrap_err();
        assert!(other.contains("belongs to user 1000, not root"), "{other}");
        let open = trusted(0, 0o100_666, None).unwrap_err();
        assert!(open.contains("mode 0666 lets others write it"), "{open}");
        assert!(trusted(0, 0o100_664, None).is_err(), "group-writable");
        // Tests point KEYCHECK_ORG_POLICY at their own files.
        assert!(trusted(1000, 0o100_644, Some(1000)).is_ok());
        assert!(trusted(1000, 0o100_646, Some(1000)).is_err());
    }
}
