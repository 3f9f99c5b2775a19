//! EDGE: watching the files a check depends on (`~/.ssh`, the policy files, the ssh
//! configuration) through the OS's file events (inotify on Linux, FSEvents on macOS).
//!
//! Each target is watched together with its nearest existing parent, so deleting and
//! recreating `~/.ssh` (or creating a policy file that did not exist) is seen: a watch on
//! a deleted directory dies silently, and [`Watcher::refresh`] puts it back on the new
//! one. Events are passed on raw; the caller debounces them with its own clock, so the
//! watcher never wakes the process on its own (the `notify` watcher thread blocks on the
//! kernel's events, with no tick).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// These paths (inside a target, or a target itself) changed.
    Paths(Vec<PathBuf>),
    /// Events were lost (queue overflow) or the watcher failed: look at everything again.
    Rescan(String),
}

/// One thing to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A directory or file; it need not exist yet.
    pub path: PathBuf,
    /// For a directory: also everything below it.
    pub recursive: bool,
}

/// The watch could not be set up at all.
#[derive(Debug, thiserror::Error)]
#[error("watching files: {0}")]
pub struct WatchError(#[from] notify::Error);

/// Watches [`Target`]s and calls back with each [`Change`] that concerns one of them.
pub struct Watcher {
    inner: RecommendedWatcher,
    targets: Vec<Target>,
    /// What is watched now: path → (device, inode, recursive) when the watch was set.
    watched: BTreeMap<PathBuf, (u64, u64, bool)>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("targets", &self.targets)
            .field("watched", &self.watched)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Starts watching `targets`; `on_change` is called on the watcher's own thread.
    ///
    /// # Errors
    /// [`WatchError`] when the OS facility cannot be set up (for example, the inotify
    /// instance limit is reached).
    pub fn new(
        targets: Vec<Target>,
        on_change: impl Fn(Change) + Send + 'static,
    ) -> Result<Watcher, WatchError> {
        let interest = targets.clone();
        let inner =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
                Ok(event) if event.need_rescan() => {
                    on_change(Change::Rescan("file events were lost".to_owned()));
                }
                Ok(event) => {
                    if matches!(event.kind, EventKind::Access(_)) {
                        return;
                    }
                    let paths: Vec<PathBuf> = event
                        .paths
                        .into_iter()
                        .filter(|p| concerns(&interest, p))
                        .collect();
                    if !paths.is_empty() {
                        on_change(Change::Paths(paths));
                    }
                }
                Err(e) => on_change(Change::Rescan(format!("the file watcher failed: {e}"))),
            })?;
        let mut watcher = Watcher {
            inner,
            targets,
            watched: BTreeMap::new(),
        };
        watcher.refresh();
        Ok(watcher)
    }

    /// Brings the watches up to date with what exists now: a target that appeared is
    /// watched, one that was deleted or replaced is watched again on its new inode.
    /// Returns one line per watch that could not be set (the caller logs them).
    pub fn refresh(&mut self) -> Vec<String> {
        let mut wanted: BTreeMap<PathBuf, (u64, u64, bool)> = BTreeMap::new();
        for target in &self.targets {
            if let Ok(meta) = std::fs::metadata(&target.path) {
                if meta.is_dir() {
                    let entry = wanted.entry(target.path.clone()).or_insert((
                        meta.dev(),
                        meta.ino(),
                        false,
                    ));
                    entry.2 |= target.recursive;
                }
            }
            // The nearest existing ancestor sees the target (or a missing directory on
            // its way) being created, deleted or renamed.
            let mut parent = target.path.parent();
            while let Some(dir) = parent {
                if let Ok(meta) = std::fs::metadata(dir) {
                    if meta.is_dir() {
                        wanted
                            .entry(dir.to_path_buf())
                            .or_insert((meta.dev(), meta.ino(), false));
                        break;
                    }
                }
                parent = dir.parent();
            }
        }
        let mut problems = Vec::new();
        let stale: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|(path, now)| wanted.get(*path) != Some(*now))
            .map(|(path, _)| path.clone())
            .collect();
        for path in stale {
            // The watch may already be gone with its directory; that is fine.
            let _ = self.inner.unwatch(&path);
            self.watched.remove(&path);
        }
        for (path, id) in wanted {
            if self.watched.contains_key(&path) {
                continue;
            }
            let mode = if id.2 {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            match self.inner.watch(&path, mode) {
                Ok(()) => {
                    self.watched.insert(path, id);
                }
                Err(e) => problems.push(format!("cannot watch {}: {e}", path.display())),
            }
        }
        problems
    }

    /// The directories watched now, and whether recursively.
    #[must_use]
    pub fn watched(&self) -> Vec<(PathBuf, bool)> {
        self.watched
            .iter()
            .map(|(path, id)| (path.clone(), id.2))
            .collect()
    }
}

/// Returns true when a change at `path` can matter to one of `targets`: it is a target,
/// lies inside a recursive one, or is a directory on the way to one.
fn concerns(targets: &[Target], path: &Path) -> bool {
    targets.iter().any(|t| {
        path == t.path
            || (t.recursive && path.starts_with(&t.path))
            || (t.path.starts_with(path) && path.components().count() > 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_near_a_target_concern_it() {
        let targets = vec![
            Target {
                path: PathBuf::from("/h/.ssh"),
                recursive: true,
            },
            Target {
                path: PathBuf::from("/h/.config/keycheck/policy.toml"),
                recursive: false,
            },
        ];
        assert!(concerns(&targets, Path::new("/h/.ssh")));
        assert!(concerns(&targets, Path::new("/h/.ssh/id_rsa")));
        assert!(concerns(&targets, Path::new("/h/.ssh/sub/key")));
        assert!(concerns(&targets, Path::new("/h/.config/keycheck")));
        assert!(concerns(
            &targets,
            Path::new("/h/.config/keycheck/policy.toml")
        ));
        assert!(!concerns(
            &targets,
            Path::new("/h/.config/keycheck/other.toml")
        ));
        assert!(!concerns(&targets, Path::new("/h/.bash_history")));
        assert!(!concerns(&targets, Path::new("/h/.sshx")));
        assert!(!concerns(&targets, Path::new("/")));
    }
}
