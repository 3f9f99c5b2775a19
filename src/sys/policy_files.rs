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
            text: read_policy_file(path)?,
        })),
    }
}

/// Reads one policy file, bounded.
///
/// # Errors
/// [`ReadError`] naming the file and the reason.
pub fn read_policy_file(path: &Path) -> Result<String, ReadError> {
    let err = |reason: String| ReadError {
        path: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(describe(&e)))?;
    if !meta.is_file() {
        return Err(err("not a regular file".to_owned()));
    }
    if meta.len() > MAX_POLICY_SIZE {
        return Err(err(format!(
            "{} bytes is too large for a policy file (limit {MAX_POLICY_SIZE})",
            meta.len()
        )));
    }
    let file = std::fs::File::open(path).map_err(|e| err(describe(&e)))?;
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(describe(&e)))?;
    String::from_utf8(bytes).map_err(|_| err("not UTF-8 text".to_owned()))
}

fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}
