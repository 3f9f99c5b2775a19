//! PURE: the record of one `keycheck fix` run (its backup set's `manifest.json`) and
//! what `keycheck fix --undo` does with each change it lists.
//!
//! A backup set is a 0700 directory in the state dir holding a copy of every file the
//! run rewrote, byte for byte, and this manifest. Undo restores them, newest change first;
//! it never deletes a file, and a file changed since the fix is kept in the set before
//! the original goes back, so no undo loses anything either.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The manifest's file name in a backup set.
pub const MANIFEST: &str = "manifest.json";

/// The manifest's schema.
pub const SCHEMA: &str = "keycheck.fix-backup/v1";

/// What one `keycheck fix` run changed, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`SCHEMA`].
    pub schema: String,
    /// When the run started (RFC 3339).
    pub created_at: String,
    /// When `--undo` restored this set (RFC 3339); `None` while it is the one to undo.
    #[serde(default)]
    pub undone_at: Option<String>,
    /// The changes, in the order they were made.
    pub changes: Vec<Change>,
}

impl Manifest {
    /// An empty manifest made at `created_at`.
    #[must_use]
    pub fn new(created_at: String) -> Manifest {
        Manifest {
            schema: SCHEMA.to_owned(),
            created_at,
            undone_at: None,
            changes: Vec::new(),
        }
    }
}

/// One change of a run. Paths are real paths as text (see `sys::scan::display_path`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    /// A mode was tightened.
    Chmod {
        /// The file or directory.
        path: String,
        /// `path` holds `\\xNN` escapes (see `sys::scan::path_from_display`).
        #[serde(default, skip_serializing_if = "is_false")]
        escaped: bool,
        /// Its mode before.
        from: u32,
        /// Its mode after.
        to: u32,
    },
    /// A key file was rewritten; the original is `backup` in the set.
    Rewrite {
        /// The key file.
        path: String,
        /// `path` holds `\\xNN` escapes (see `sys::scan::path_from_display`).
        #[serde(default, skip_serializing_if = "is_false")]
        escaped: bool,
        /// The original's file name in the backup set.
        backup: String,
        /// The original's mode (permission bits).
        mode: u32,
        /// SHA-256 of the original (hex).
        sha256_before: String,
        /// SHA-256 of what keycheck wrote (hex).
        sha256_after: String,
    },
    /// A replacement key was made beside `old`.
    Replace {
        /// The key to retire.
        old: String,
        /// The new private key.
        new_path: String,
    },
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// SHA-256 of `bytes`, lowercase hex.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a file is like now, as undo needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    /// It does not exist.
    Missing,
    /// It exists with this mode and, for a file, this content hash.
    Present {
        /// Permission bits.
        mode: u32,
        /// SHA-256 of the content (hex); `None` for a directory or an unreadable file.
        sha256: Option<String>,
    },
}

/// What undo does about one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// Set the mode back.
    SetMode {
        /// The file or directory.
        path: String,
        /// `path` holds `\\xNN` escapes.
        escaped: bool,
        /// The mode it had.
        mode: u32,
    },
    /// Put the backup back (atomically); `keep_current` when the file now differs from
    /// what keycheck wrote, so it goes into the set first.
    Restore {
        /// The key file.
        path: String,
        /// `path` holds `\\xNN` escapes.
        escaped: bool,
        /// The backup's file name in the set.
        backup: String,
        /// Its mode.
        mode: u32,
        /// Keep the file as it is now in the set before restoring.
        keep_current: bool,
    },
    /// Nothing to do; why, for people.
    Leave {
        /// The path concerned.
        path: String,
        /// Why it is left.
        reason: String,
    },
}

/// What undo does about `change`, given what its file is like now.
#[must_use]
pub fn undo(change: &Change, current: &Current) -> Undo {
    match change {
        Change::Chmod {
            path,
            escaped,
            from,
            to,
        } => match current {
            Current::Present { mode, .. } if mode == to => Undo::SetMode {
                path: path.clone(),
                escaped: *escaped,
                mode: *from,
            },
            Current::Present { mode, .. } if mode == from => Undo::Leave {
                path: path.clone(),
                reason: "its mode is already as it was".to_owned(),
            },
            Current::Present { mode, .. } => Undo::Leave {
                path: path.clone(),
                reason: format!(
                    "its mode was changed since the fix (now {}); left as it is",
                    crate::inventory::format_mode(*mode)
                ),
            },
            Current::Missing => Undo::Leave {
                path: path.clone(),
                reason: "it no longer exists".to_owned(),
            },
        },
        Change::Rewrite {
            path,
            escaped,
            backup,
            mode,
            sha256_before,
            sha256_after,
        } => {
            let sha = match current {
                Current::Present { sha256, .. } => sha256.as_deref(),
                Current::Missing => None,
            };
            if sha == Some(sha256_before.as_str()) {
                return Undo::Leave {
                    path: path.clone(),
                    reason: "it is already the original".to_owned(),
                };
            }
            Undo::Restore {
                path: path.clone(),
                escaped: *escaped,
                backup: backup.clone(),
                mode: *mode,
                keep_current: matches!(current, Current::Present { .. })
                    && sha != Some(sha256_after.as_str()),
            }
        }
        Change::Replace { new_path, .. } => Undo::Leave {
            path: new_path.clone(),
            reason: "the replacement key stays (undo never deletes a key); delete it yourself if you do not want it".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rewrite() -> Change {
        Change::Rewrite {
            path: "/h/.ssh/id".to_owned(),
            escaped: false,
            backup: "1-id".to_owned(),
            mode: 0o600,
            sha256_before: sha256_hex(b"before"),
            sha256_after: sha256_hex(b"after"),
        }
    }

    fn present(mode: u32, content: &[u8]) -> Current {
        Current::Present {
            mode,
            sha256: Some(sha256_hex(content)),
        }
    }

    #[test]
    fn a_rewrite_is_restored_and_a_later_change_kept_first() {
        let restore = |keep| Undo::Restore {
            path: "/h/.ssh/id".to_owned(),
            escaped: false,
            backup: "1-id".to_owned(),
            mode: 0o600,
            keep_current: keep,
        };
        assert_eq!(undo(&rewrite(), &present(0o600, b"after")), restore(false));
        assert_eq!(undo(&rewrite(), &present(0o600, b"edited")), restore(true));
        assert_eq!(undo(&rewrite(), &Current::Missing), restore(false));
        assert!(matches!(
            undo(&rewrite(), &present(0o600, b"before")),
            Undo::Leave { .. }
        ));
    }

    #[test]
    fn a_mode_goes_back_only_if_nobody_changed_it_since() {
        let c = Change::Chmod {
            path: "/h/.ssh".to_owned(),
            escaped: false,
            from: 0o777,
            to: 0o755,
        };
        assert_eq!(
            undo(&c, &present(0o755, b"")),
            Undo::SetMode {
                path: "/h/.ssh".to_owned(),
                escaped: false,
                mode: 0o777
            }
        );
        assert!(
            matches!(undo(&c, &present(0o700, b"")), Undo::Leave { reason, .. } if reason.contains("changed since"))
        );
        assert!(matches!(undo(&c, &Current::Missing), Undo::Leave { .. }));
    }

    #[test]
    fn a_replacement_is_never_deleted() {
        let c = Change::Replace {
            old: "/h/.ssh/id_rsa".to_owned(),
            new_path: "/h/.ssh/id_ed25519".to_owned(),
        };
        assert!(
            matches!(undo(&c, &present(0o600, b"k")), Undo::Leave { path, .. } if path == "/h/.ssh/id_ed25519")
        );
    }

    #[test]
    fn the_manifest_reads_back() {
        let mut m = Manifest::new("2026-11-23T00:00:00Z".to_owned());
        m.changes.push(rewrite());
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains("\"action\":\"rewrite\""), "{text}");
        assert_eq!(serde_json::from_str::<Manifest>(&text).unwrap(), m);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
