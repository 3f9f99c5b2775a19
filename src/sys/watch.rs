//! EDGE: watching the files a check depends on (`~/.ssh`, the policy files, the ssh
//! configuration) through the OS's file events (inotify on Linux, FSEvents on macOS).
//!
//! Each target is watched together with its nearest existing parent, so deleting and
//! recreating `~/.ssh` (or creating a policy file that did not exist) is seen: a watch on
//! a deleted directory dies silently, and [`Watcher::refresh`] puts it back on the new
//! one. Events are passed on raw; the caller debounces them with its own clock, so the
//! watcher never wakes the process on its own: its thread blocks on the kernel's events,
//! with no tick.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

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
pub struct WatchError(String);

/// Directories below a recursive target watched at most (inotify watches are a
/// per-user resource; `~/.ssh` holds a handful).
const MAX_SUBDIRS: usize = 1000;
/// Directory levels below a recursive target watched at most (as the scan's default).
const MAX_DEPTH: usize = 8;

/// Watches [`Target`]s and calls back with each [`Change`] that concerns one of them.
pub struct Watcher {
    backend: backend::Backend,
    targets: Vec<Target>,
    /// What is watched now: directory → (device, inode, recursive) when the watch was set.
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
        let backend = backend::Backend::new(move |change| match change {
            Change::Paths(paths) => {
                let paths: Vec<PathBuf> = paths
                    .into_iter()
                    .filter(|p| concerns(&interest, p))
                    .collect();
                if !paths.is_empty() {
                    on_change(Change::Paths(paths));
                }
            }
            rescan @ Change::Rescan(_) => on_change(rescan),
        })?;
        let mut watcher = Watcher {
            backend,
            targets,
            watched: BTreeMap::new(),
        };
        watcher.refresh();
        Ok(watcher)
    }

    /// Brings the watches up to date with what exists now: a target that appeared is
    /// watched, one that was deleted or replaced is watched again on its new inode, and
    /// (where the OS watches one directory at a time) new subdirectories of a recursive
    /// target are added. Returns one line per watch that could not be set (the caller
    /// logs them).
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
        if backend::ONE_DIRECTORY_AT_A_TIME {
            let roots: Vec<PathBuf> = wanted
                .iter()
                .filter(|(_, id)| id.2)
                .map(|(p, _)| p.clone())
                .collect();
            for root in roots {
                subdirectories(&root, &mut wanted);
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
            self.backend.unwatch(&path);
            self.watched.remove(&path);
        }
        for (path, id) in wanted {
            if self.watched.contains_key(&path) {
                continue;
            }
            match self.backend.watch(&path, id.2) {
                Ok(()) => {
                    self.watched.insert(path, id);
                }
                Err(e) => problems.push(format!("cannot watch {}: {e}", path.display())),
            }
        }
        problems
    }
}

/// Adds the directories below `root` (not following symlinks, bounded in depth and
/// number) to `wanted`, each as a directory watched on its own.
fn subdirectories(root: &Path, wanted: &mut BTreeMap<PathBuf, (u64, u64, bool)>) {
    let mut stack = vec![(root.to_path_buf(), 0)];
    let mut added = 0;
    while let Some((dir, depth)) = stack.pop() {
        if depth >= MAX_DEPTH {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if added >= MAX_SUBDIRS {
                return;
            }
            added += 1;
            let path = entry.path();
            wanted
                .entry(path.clone())
                .or_insert((meta.dev(), meta.ino(), false));
            stack.push((path, depth + 1));
        }
    }
}

/// Linux: inotify, one directory per watch, with the events a check needs and no others.
/// Not `IN_OPEN` or `IN_ACCESS` (every program reading a file in `$HOME` or `/etc` would
/// wake the agent), not `IN_MODIFY` (a file written in many pieces would wake it once per
/// write: `IN_CLOSE_WRITE` says when the writer is done).
#[cfg(target_os = "linux")]
mod backend {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex, PoisonError};

    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};

    use super::{Change, WatchError};

    /// inotify watches directories one by one; recursion is the caller's.
    pub(super) const ONE_DIRECTORY_AT_A_TIME: bool = true;

    type Dirs = Arc<Mutex<HashMap<WatchDescriptor, PathBuf>>>;

    pub(super) struct Backend {
        watches: Watches,
        dirs: Dirs,
        by_path: HashMap<PathBuf, WatchDescriptor>,
    }

    impl Backend {
        pub(super) fn new(
            on_change: impl Fn(Change) + Send + 'static,
        ) -> Result<Backend, WatchError> {
            let mut inotify = Inotify::init().map_err(|e| WatchError(e.to_string()))?;
            let watches = inotify.watches();
            let dirs: Dirs = Arc::default();
            let seen = Arc::clone(&dirs);
            std::thread::Builder::new()
                .name("watch".to_owned())
                .spawn(move || {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let events = match inotify.read_events_blocking(&mut buffer) {
                            Ok(events) => events,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(e) => {
                                on_change(Change::Rescan(format!("the file watcher failed: {e}")));
                                return;
                            }
                        };
                        let mut paths = Vec::new();
                        let mut lost = false;
                        {
                            let mut dirs = seen.lock().unwrap_or_else(PoisonError::into_inner);
                            for event in events {
                                if event.mask.contains(EventMask::Q_OVERFLOW) {
                                    lost = true;
                                    continue;
                                }
                                if event.mask.contains(EventMask::IGNORED) {
                                    // The watch is gone (its directory was deleted).
                                    if let Some(dir) = dirs.remove(&event.wd) {
                                        paths.push(dir);
                                    }
                                    continue;
                                }
                                if let Some(dir) = dirs.get(&event.wd) {
                                    paths.push(match event.name {
                                        Some(name) => dir.join(name),
                                        None => dir.clone(),
                                    });
                                }
                            }
                        }
                        if lost {
                            on_change(Change::Rescan("file events were lost".to_owned()));
                        } else if !paths.is_empty() {
                            paths.sort();
                            paths.dedup();
                            on_change(Change::Paths(paths));
                        }
                    }
                })
                .map_err(|e| WatchError(e.to_string()))?;
            Ok(Backend {
                watches,
                dirs,
                by_path: HashMap::new(),
            })
        }

        pub(super) fn watch(&mut self, dir: &Path, _recursive: bool) -> std::io::Result<()> {
            let mask = WatchMask::CREATE
                | WatchMask::DELETE
                | WatchMask::CLOSE_WRITE
                | WatchMask::MOVED_FROM
                | WatchMask::MOVED_TO
                | WatchMask::ATTRIB
                | WatchMask::DELETE_SELF
                | WatchMask::MOVE_SELF
                | WatchMask::ONLYDIR
                | WatchMask::DONT_FOLLOW;
            let wd = self.watches.add(dir, mask)?;
            self.dirs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(wd.clone(), dir.to_path_buf());
            self.by_path.insert(dir.to_path_buf(), wd);
            Ok(())
        }

        pub(super) fn unwatch(&mut self, dir: &Path) {
            if let Some(wd) = self.by_path.remove(dir) {
                self.dirs
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&wd);
                // Already gone with its directory, or removed now.
                let _ = self.watches.remove(wd);
            }
        }
    }
}

/// Elsewhere (macOS): the `notify` crate (FSEvents), recursive watches.
#[cfg(not(target_os = "linux"))]
mod backend {
    use std::path::Path;

    use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

    use super::{Change, WatchError};

    /// FSEvents watches trees.
    pub(super) const ONE_DIRECTORY_AT_A_TIME: bool = false;

    pub(super) struct Backend {
        inner: RecommendedWatcher,
    }

    impl Backend {
        pub(super) fn new(
            on_change: impl Fn(Change) + Send + 'static,
        ) -> Result<Backend, WatchError> {
            let inner =
                notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
                    Ok(event) if event.need_rescan() => {
                        on_change(Change::Rescan("file events were lost".to_owned()));
                    }
                    Ok(event) => {
                        if !matches!(event.kind, EventKind::Access(_)) {
                            on_change(Change::Paths(event.paths));
                        }
                    }
                    Err(e) => on_change(Change::Rescan(format!("the file watcher failed: {e}"))),
                })
                .map_err(|e| WatchError(e.to_string()))?;
            Ok(Backend { inner })
        }

        pub(super) fn watch(&mut self, dir: &Path, recursive: bool) -> std::io::Result<()> {
            let mode = if recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            self.inner.watch(dir, mode).map_err(std::io::Error::other)
        }

        pub(super) fn unwatch(&mut self, dir: &Path) {
            let _ = self.inner.unwatch(dir);
        }
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
