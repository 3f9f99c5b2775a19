//! EDGE: search whole trees (the home directory and extra paths) for SSH private keys,
//! wherever they hide: in git repositories, `Downloads/`, dot-directories.
//!
//! The roots are walked in parallel with the `ignore` crate (ripgrep's walker) with every
//! filter off: `.gitignore` and `.ignore` files are not honoured and hidden files are not
//! skipped, because a key ignored by git is exactly the key that hides. Symlinks are never
//! followed (so a symlink loop cannot trap the walk, and a key is found where it really
//! is); directories in [`SearchOptions::skip`] and entries matching
//! [`SearchOptions::exclude`] are not entered.
//!
//! Every regular file is opened the way `sys::scan` opens files (non-blocking, no
//! controlling terminal, the descriptor checked to be a regular file; FIFOs, sockets and
//! devices are never opened) and only its first [`HEAD_LEN`] bytes are read. Only a file
//! whose head announces a private key ([`head::classify`]) is read whole (up to
//! [`SearchOptions::max_file_size`]) and inspected with [`key::inspect`]; then
//! [`evidence::ssh_use`] decides whether it is an SSH key.
//!
//! This module returns facts, never judgements: private keys with their file facts,
//! PEM keys that show no sign of SSH use (in `skipped`), files that look like keys but
//! cannot be read as keys (`malformed`), and what could not be examined (`errors`). Key
//! bytes are held only in buffers that are wiped on drop, and nothing here prints.

pub mod evidence;
pub mod head;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, IsTerminal as _, Read as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memchr::memmem;
use zeroize::{Zeroize as _, Zeroizing};

use crate::inventory::{FileError, Inventory, KeyRecord, Malformed, Skipped};
use crate::key::{self, Format, Inspection, Kind, Quirk};
use crate::sys::scan::{
    self, describe_io, display_path, file_facts, read_public_beside, ReadError, MAX_KEY_FILE_SIZE,
};

use evidence::{Clues, Verdict};
use head::Candidate;

/// How many bytes of each file are read to decide whether it could hold a key.
///
/// Every key writer puts the BEGIN line (or the PuTTY header, or the SSH-1 magic) first;
/// this leaves room for a few lines of text before it (`Bag Attributes` from
/// `openssl pkcs12`, an `EC PARAMETERS` block from `openssl ecparam`). A key that stands
/// further into a file is not found.
pub const HEAD_LEN: usize = 1024;

/// How often (in files) each walker thread moves the progress counter.
const PROGRESS_BATCH: u64 = 512;

/// What to search and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOptions {
    /// Entries not to enter or examine, as gitignore-style patterns: a pattern without a
    /// slash (`.cache`, `*.iso`) matches a name at any depth, a pattern with a slash
    /// (`/snap`, `go/pkg`) is anchored at each root, and a pattern that starts with a
    /// root's own path (`/home/me/big`) applies to that root only.
    pub exclude: Vec<String>,
    /// Directories not to enter (such as `~/.ssh`, which the normal scan covers). A root
    /// that is one of them is not searched.
    pub skip: Vec<PathBuf>,
    /// Files the ssh configuration names with `IdentityFile` (`~` already expanded): a PEM
    /// key found at one of them is an SSH key.
    pub identity_files: Vec<PathBuf>,
    /// Walker threads; 0 picks one per CPU (at most 12).
    pub threads: usize,
    /// Whether to stay on the file system of each root (not entering mount points such
    /// as network shares or FUSE mounts below the home directory).
    pub same_file_system: bool,
    /// Whether to show a spinner with the count of files examined on stderr. It is shown
    /// only when stderr is a terminal, whatever this says.
    pub progress: bool,
    /// Largest candidate file read whole, in bytes; a larger one is skipped.
    pub max_file_size: u64,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            exclude: Vec::new(),
            skip: Vec::new(),
            identity_files: Vec::new(),
            threads: 0,
            same_file_system: false,
            progress: false,
            max_file_size: MAX_KEY_FILE_SIZE,
        }
    }
}

/// How much work a search did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchCounts {
    /// Regular files opened.
    pub files_visited: u64,
    /// Directories entered (roots included).
    pub dirs_visited: u64,
    /// Bytes read from files: heads, whole candidates and nothing else.
    pub bytes_read: u64,
    /// Files whose head announced a private key and were read whole.
    pub candidates: u64,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    /// Private SSH keys (`keys`), PEM keys with no sign of SSH use and other candidates
    /// that hold no key (`skipped`), key files that cannot be read as keys (`malformed`),
    /// and files and directories that could not be examined (`errors`), each sorted by
    /// path. `dirs` is empty: a home search does not judge the directories it walks.
    pub inventory: Inventory,
    /// How much work the search did.
    pub counts: SearchCounts,
}

/// A search could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// A root does not exist or cannot be examined.
    #[error("search root {path}: {reason}")]
    Root {
        /// The root as given.
        path: String,
        /// Why.
        reason: String,
    },
    /// An exclude pattern is not a valid glob.
    #[error("exclude pattern {pattern:?}: {reason}")]
    Exclude {
        /// The pattern as given.
        pattern: String,
        /// Why it is refused.
        reason: String,
    },
}

/// Searches `roots` (directories, or single files) for SSH private keys.
///
/// # Errors
/// [`SearchError::Root`] when a root does not exist or cannot be examined, and
/// [`SearchError::Exclude`] for an invalid exclude pattern. Problems inside the roots
/// (an unreadable directory, a file that vanished) are `errors` entries in the result, and
/// the search goes on.
pub fn search(roots: &[PathBuf], options: &SearchOptions) -> Result<SearchResult, SearchError> {
    let mut skip = Skip::new(&options.skip);
    let walk_roots = prepare_roots(roots, &mut skip)?;
    let excludes = Excludes::new(&walk_roots, &options.exclude)?;
    let shared = Shared {
        identity: options
            .identity_files
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| (m.dev(), m.ino()))
            .collect(),
        max_file_size: options.max_file_size,
        progress: progress_bar(options.progress),
        found: Mutex::new(Found::default()),
    };
    if let Some((first, rest)) = walk_roots.split_first() {
        let mut builder = WalkBuilder::new(first);
        for root in rest {
            builder.add(root);
        }
        let filter = Arc::new(Filter { skip, excludes });
        builder
            .standard_filters(false)
            .follow_links(false)
            .same_file_system(options.same_file_system)
            .threads(options.threads)
            .filter_entry(move |entry| filter.keep(entry));
        builder
            .build_parallel()
            .visit(&mut VisitorBuilder { shared: &shared });
    }
    if let Some(bar) = &shared.progress {
        bar.finish_and_clear();
    }
    let found = shared
        .found
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Ok(found.into_result())
}

/// Checks the roots and returns the paths to walk. A root that is a skipped directory, or
/// the same directory as an earlier root, is dropped; every root is added to `skip` so
/// that a root inside another is walked once, as itself (with its own anchored excludes).
fn prepare_roots(roots: &[PathBuf], skip: &mut Skip) -> Result<Vec<PathBuf>, SearchError> {
    let root_error = |root: &Path, e: &io::Error| SearchError::Root {
        path: display_path(root),
        reason: describe_io(e),
    };
    let mut walk = Vec::new();
    let mut seen = HashSet::new();
    for root in roots {
        let lmeta = std::fs::symlink_metadata(root).map_err(|e| root_error(root, &e))?;
        let meta = if lmeta.file_type().is_symlink() {
            std::fs::metadata(root).map_err(|e| root_error(root, &e))?
        } else {
            lmeta.clone()
        };
        let id = (meta.dev(), meta.ino());
        if skip.ids.contains(&id) || !seen.insert(id) {
            continue;
        }
        if lmeta.file_type().is_symlink() && meta.is_dir() {
            // The walker does not follow a root that is a symlink; with a trailing slash
            // the path names the directory itself, and entries are still shown under the
            // root as given.
            let mut path = OsString::from(root.as_os_str());
            path.push("/");
            walk.push(PathBuf::from(path));
        } else {
            walk.push(root.clone());
        }
    }
    for id in seen {
        skip.add_id(id);
    }
    Ok(walk)
}

/// Directories not to enter, by path and by (device, inode).
#[derive(Debug, Default)]
struct Skip {
    paths: HashSet<PathBuf>,
    ids: HashSet<(u64, u64)>,
    inos: HashSet<u64>,
}

impl Skip {
    fn new(dirs: &[PathBuf]) -> Skip {
        let mut skip = Skip::default();
        for dir in dirs {
            skip.paths.insert(dir.clone());
            if let Ok(canonical) = std::fs::canonicalize(dir) {
                skip.paths.insert(canonical);
            }
            if let Ok(meta) = std::fs::metadata(dir) {
                skip.add_id((meta.dev(), meta.ino()));
            }
        }
        skip
    }

    fn add_id(&mut self, id: (u64, u64)) {
        self.ids.insert(id);
        self.inos.insert(id.1);
    }

    /// Returns true if and only if the directory at `path`, whose directory entry gives
    /// inode `ino`, is to be skipped. The inode from the directory listing is only a
    /// cheap first test; the device and inode of the directory itself decide.
    fn contains_dir(&self, path: &Path, ino: Option<u64>) -> bool {
        if self.paths.contains(path) {
            return true;
        }
        if !ino.is_some_and(|ino| self.inos.contains(&ino)) {
            return false;
        }
        std::fs::symlink_metadata(path).is_ok_and(|m| self.ids.contains(&(m.dev(), m.ino())))
    }
}

/// The exclude patterns, compiled once per root.
#[derive(Debug)]
struct Excludes {
    per_root: Vec<(PathBuf, Gitignore)>,
}

impl Excludes {
    fn new(roots: &[PathBuf], patterns: &[String]) -> Result<Excludes, SearchError> {
        let mut per_root = Vec::new();
        if patterns.is_empty() {
            return Ok(Excludes { per_root });
        }
        for root in roots {
            let mut builder = GitignoreBuilder::new(root);
            for pattern in patterns {
                let Some(line) = pattern_for_root(pattern, root, roots) else {
                    continue;
                };
                builder
                    .add_line(None, &line)
                    .map_err(|e| exclude_error(pattern, &e))?;
            }
            let matcher = builder.build().map_err(|e| match patterns.first() {
                Some(p) if patterns.len() == 1 => exclude_error(p, &e),
                _ => exclude_error(&patterns.join(" "), &e),
            })?;
            per_root.push((root.clone(), matcher));
        }
        Ok(Excludes { per_root })
    }

    /// Returns true if and only if `path` matches an exclude pattern of the root it lies
    /// under (the innermost one, when roots nest).
    fn excluded(&self, path: &Path, is_dir: bool) -> bool {
        let matcher = self
            .per_root
            .iter()
            .filter(|(root, _)| path.starts_with(root))
            .max_by_key(|(root, _)| root.as_os_str().len());
        matcher.is_some_and(|(_, m)| m.matched(path, is_dir).is_ignore())
    }
}

fn exclude_error(pattern: &str, e: &ignore::Error) -> SearchError {
    SearchError::Exclude {
        pattern: pattern.to_owned(),
        reason: e.to_string(),
    }
}

/// The gitignore line `pattern` is for `root`, or `None` when it is an absolute pattern
/// for another root. A pattern that starts with `root`'s path is rebased onto it
/// (`/home/me/big` becomes `/big` for root `/home/me`).
fn pattern_for_root(pattern: &str, root: &Path, roots: &[PathBuf]) -> Option<String> {
    let (negation, body) = match pattern.strip_prefix('!') {
        Some(rest) => ("!", rest),
        None => ("", pattern),
    };
    if !body.starts_with('/') {
        return Some(pattern.to_owned());
    }
    let under = |r: &Path| Path::new(body).strip_prefix(r).ok().map(Path::to_owned);
    if let Some(rest) = under(root) {
        if rest.as_os_str().is_empty() {
            // The root itself: exclude everything below it.
            return Some(format!("{negation}/**"));
        }
        return Some(format!("{negation}/{}", rest.to_string_lossy()));
    }
    if roots.iter().any(|r| under(r).is_some()) {
        return None;
    }
    Some(pattern.to_owned())
}

/// What the walker consults before it enters a directory or visits a file.
struct Filter {
    skip: Skip,
    excludes: Excludes,
}

impl Filter {
    fn keep(&self, entry: &DirEntry) -> bool {
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if is_dir && self.skip.contains_dir(entry.path(), entry.ino()) {
            return false;
        }
        !self.excludes.excluded(entry.path(), is_dir)
    }
}

fn progress_bar(wanted: bool) -> Option<ProgressBar> {
    if !wanted || !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} searching for SSH keys: {human_pos} files examined ({elapsed})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// What the walker threads share.
struct Shared {
    /// (device, inode) of every `IdentityFile`.
    identity: HashSet<(u64, u64)>,
    max_file_size: u64,
    progress: Option<ProgressBar>,
    /// Where each thread leaves what it found when it ends.
    found: Mutex<Found>,
}

/// What one thread (and, merged, the whole search) found.
#[derive(Default)]
struct Found {
    /// Keys with the (device, inode) of their file, to report hard links once.
    keys: Vec<(KeyRecord, (u64, u64))>,
    malformed: Vec<Malformed>,
    skipped: Vec<Skipped>,
    errors: Vec<FileError>,
    counts: SearchCounts,
}

impl Found {
    fn merge(&mut self, other: Found) {
        self.keys.extend(other.keys);
        self.malformed.extend(other.malformed);
        self.skipped.extend(other.skipped);
        self.errors.extend(other.errors);
        let (c, o) = (&mut self.counts, other.counts);
        c.files_visited += o.files_visited;
        c.dirs_visited += o.dirs_visited;
        c.bytes_read += o.bytes_read;
        c.candidates += o.candidates;
    }

    /// Sorts everything by path (the walk order is not deterministic) and reports a key
    /// reached through several hard links once, at its first path.
    fn into_result(mut self) -> SearchResult {
        self.keys.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        let mut first_path: HashMap<(u64, u64), String> = HashMap::new();
        let mut keys = Vec::with_capacity(self.keys.len());
        for (record, id) in self.keys {
            match first_path.get(&id) {
                Some(first) => self.skipped.push(Skipped {
                    reason: format!("same file as {first} (a link to it)"),
                    path: record.path,
                }),
                None => {
                    first_path.insert(id, record.path.clone());
                    keys.push(record);
                }
            }
        }
        self.malformed.sort_by(|a, b| a.path.cmp(&b.path));
        self.skipped.sort_by(|a, b| a.path.cmp(&b.path));
        self.errors.sort_by(|a, b| a.path.cmp(&b.path));
        SearchResult {
            inventory: Inventory {
                keys,
                dirs: Vec::new(),
                malformed: self.malformed,
                skipped: self.skipped,
                errors: self.errors,
                ..Inventory::default()
            },
            counts: self.counts,
        }
    }
}

struct VisitorBuilder<'s> {
    shared: &'s Shared,
}

impl<'s> ParallelVisitorBuilder<'s> for VisitorBuilder<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            shared: self.shared,
            found: Found::default(),
            head: [0; HEAD_LEN],
            unreported: 0,
        })
    }
}

/// One walker thread's state: what it found so far and its head buffer.
struct Visitor<'s> {
    shared: &'s Shared,
    found: Found,
    head: [u8; HEAD_LEN],
    /// Files examined since the progress counter last moved.
    unreported: u64,
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        // The head of the last file read may be anything (a .env file, say).
        self.head.zeroize();
        if let Some(bar) = &self.shared.progress {
            bar.inc(self.unreported);
        }
        self.shared
            .found
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .merge(std::mem::take(&mut self.found));
    }
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        match entry {
            Err(err) => self.walk_error(&err, None),
            Ok(entry) => match entry.file_type() {
                Some(t) if t.is_dir() => self.found.counts.dirs_visited += 1,
                Some(t) if t.is_file() => self.examine(entry.path()),
                // A root given as a symlink to a file; no other symlink is followed.
                Some(t) if t.is_symlink() && entry.depth() == 0 => self.examine(entry.path()),
                // Symlinks are not followed (their targets are found where they are);
                // FIFOs, sockets and devices cannot be key files and are never opened.
                _ => {}
            },
        }
        WalkState::Continue
    }
}

impl Visitor<'_> {
    fn error(&mut self, path: &Path, error: impl Into<String>) {
        self.found.errors.push(FileError {
            path: display_path(path),
            error: error.into(),
        });
    }

    fn skip(&mut self, path: &Path, reason: impl Into<String>) {
        self.found.skipped.push(Skipped {
            path: display_path(path),
            reason: reason.into(),
        });
    }

    /// Records a walker error (an unreadable directory, mostly) as `errors` entries.
    fn walk_error(&mut self, err: &ignore::Error, path: Option<&Path>) {
        match err {
            ignore::Error::Partial(errs) => {
                for e in errs {
                    self.walk_error(e, path);
                }
            }
            ignore::Error::WithPath { path, err } => self.walk_error(err, Some(path)),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                self.walk_error(err, path);
            }
            ignore::Error::Loop { child, .. } => self.error(
                child,
                "directory loop (already searched through another path); not entered again",
            ),
            ignore::Error::Io(e) => {
                let text = describe_io(e);
                self.error(path.unwrap_or(Path::new("")), text);
            }
            other => {
                let text = other.to_string();
                self.error(path.unwrap_or(Path::new("")), text);
            }
        }
    }

    fn tick(&mut self) {
        self.unreported += 1;
        if self.unreported >= PROGRESS_BATCH {
            if let Some(bar) = &self.shared.progress {
                bar.inc(self.unreported);
            }
            self.unreported = 0;
        }
    }

    /// Opens one regular file, reads its head and, when the head announces a private key,
    /// reads and judges the whole file.
    fn examine(&mut self, path: &Path) {
        self.found.counts.files_visited += 1;
        self.tick();
        let (mut file, meta) = match scan::open_regular(path) {
            Ok(opened) => opened,
            Err(ReadError::Io(e)) => return self.error(path, describe_io(&e)),
            Err(ReadError::NotRegular(kind)) => {
                return self.error(path, format!("not a regular file ({kind}); not read"))
            }
            Err(ReadError::TooLarge) => return,
        };
        let want = usize::try_from(meta.len()).map_or(HEAD_LEN, |len| len.min(HEAD_LEN));
        if want == 0 {
            return;
        }
        let n = match read_head(&mut file, &mut self.head[..want]) {
            Ok(n) => n,
            Err(e) => return self.error(path, describe_io(&e)),
        };
        self.found.counts.bytes_read += n as u64;
        let Some(candidate) = head::classify(&self.head[..n]) else {
            return;
        };
        self.found.counts.candidates += 1;
        let whole = self.read_rest(&mut file, &meta, n);
        self.head[..n].zeroize();
        match whole {
            Ok(bytes) => {
                self.found.counts.bytes_read += (bytes.len() - n) as u64;
                self.judge(path, &meta, candidate, &bytes);
            }
            Err(ReadError::Io(e)) => self.error(path, describe_io(&e)),
            Err(ReadError::TooLarge) => self.skip(
                path,
                format!(
                    "looks like a private key but is too large to be one (over {} bytes; \
                     OpenSSH reads at most {MAX_KEY_FILE_SIZE}); not read",
                    self.shared.max_file_size
                ),
            ),
            Err(ReadError::NotRegular(_)) => {}
        }
    }

    /// The whole file: the `n` head bytes already read and the rest, up to the limit.
    fn read_rest(
        &self,
        file: &mut File,
        meta: &Metadata,
        n: usize,
    ) -> Result<Zeroizing<Vec<u8>>, ReadError> {
        let max = self.shared.max_file_size;
        if meta.len() > max {
            return Err(ReadError::TooLarge);
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(
            usize::try_from(meta.len()).unwrap_or(0).saturating_add(1),
        ));
        bytes.extend_from_slice(&self.head[..n]);
        let limit = (max + 1).saturating_sub(n as u64);
        file.take(limit)
            .read_to_end(&mut bytes)
            .map_err(ReadError::Io)?;
        if bytes.len() as u64 > max {
            return Err(ReadError::TooLarge);
        }
        Ok(bytes)
    }

    /// Returns true if and only if something ties the file at `path` to SSH: an
    /// `IdentityFile` names it, it has an `ssh-keygen` default name, or a `.pub` file
    /// sits beside it.
    fn pem_tied_to_ssh(&self, path: &Path, meta: &Metadata) -> bool {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let mut pub_path = OsString::from(path.as_os_str());
        pub_path.push(".pub");
        self.shared.identity.contains(&(meta.dev(), meta.ino()))
            || evidence::is_default_name(&name)
            || Path::new(&pub_path).exists()
    }

    /// Inspects a candidate's bytes and files the outcome.
    fn judge(&mut self, path: &Path, meta: &Metadata, candidate: Candidate, bytes: &[u8]) {
        let mut inspection = key::inspect(bytes);
        if !candidate.at_start && !is_private_key(&inspection) {
            // key::inspect reads the first armoured block; the key stands after another
            // one (a certificate, `EC PARAMETERS`) or after text.
            inspection = match key::inspect(&bytes[candidate.offset..]) {
                Inspection::Key(mut facts) => {
                    if !facts.quirks.contains(&Quirk::TextBeforeArmor) {
                        facts.quirks.push(Quirk::TextBeforeArmor);
                    }
                    // OpenSSH refuses its own format after other text; PEM it reads.
                    if facts.format == Format::Openssh {
                        facts.openssh_loads = false;
                    }
                    Inspection::Key(facts)
                }
                other => other,
            };
        }
        let mut facts = match inspection {
            Inspection::Key(facts) if facts.kind == Kind::Private => facts,
            Inspection::Key(_) => return,
            Inspection::NotKey(reason) => return self.skip(path, reason),
            // A broken PEM file is as likely a TLS test fixture as an SSH key: only one
            // that something ties to SSH (an IdentityFile, an `id_*` name, a `.pub`
            // beside it) is reported as a malformed key.
            Inspection::Malformed {
                format: Some(format),
                error,
            } if candidate.at_start
                && evidence::is_pem(format)
                && !self.pem_tied_to_ssh(path, meta) =>
            {
                return self.skip(
                    path,
                    format!(
                        "a broken {} file with no sign of SSH use ({error})",
                        format.as_str()
                    ),
                )
            }
            Inspection::Malformed { format, error } if candidate.at_start => {
                self.found.malformed.push(Malformed {
                    path: display_path(path),
                    format,
                    error: error.to_string(),
                });
                return;
            }
            Inspection::Malformed { error, .. } => {
                return self.skip(
                    path,
                    format!("text that quotes a private key, but holds no readable key ({error})"),
                )
            }
        };
        let mut pub_path = OsString::from(path.as_os_str());
        pub_path.push(".pub");
        let pub_path = PathBuf::from(pub_path);
        let public = read_public_beside(&pub_path, self.shared.max_file_size);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let clues = Clues {
            facts: &facts,
            file_name: &name,
            with_certificate: evidence::is_pem(facts.format) && holds_certificate(bytes),
            identity_file: self.shared.identity.contains(&(meta.dev(), meta.ino())),
            public_beside: public.as_ref(),
        };
        match evidence::ssh_use(&clues) {
            Verdict::Ssh(_) => {
                if let Some(public) = &public {
                    scan::complete_from_beside(&mut facts, public, &display_path(&pub_path));
                }
                self.found.keys.push((
                    KeyRecord {
                        path: display_path(path),
                        facts: *facts,
                        file: file_facts(meta, path),
                    },
                    (meta.dev(), meta.ino()),
                ));
            }
            Verdict::NotSsh(reason) => self.skip(path, reason),
        }
    }
}

/// Returns true if and only if the inspection found a private key.
fn is_private_key(inspection: &Inspection) -> bool {
    matches!(inspection, Inspection::Key(facts) if facts.kind == Kind::Private)
}

/// Returns true if and only if `bytes` holds a PEM certificate BEGIN line
/// (`CERTIFICATE`, `TRUSTED CERTIFICATE`, `X509 CERTIFICATE`).
fn holds_certificate(bytes: &[u8]) -> bool {
    memmem::find_iter(bytes, b"CERTIFICATE-----").any(|end| {
        let line_start = memchr::memrchr(b'\n', &bytes[..end]).map_or(0, |i| i + 1);
        bytes[line_start..end]
            .trim_ascii_start()
            .starts_with(b"-----BEGIN ")
    })
}

/// Reads until `buf` is full or the file ends. For a regular file whose size `buf` was
/// cut to, that is one `read`.
fn read_head(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_found_only_on_begin_lines() {
        assert!(holds_certificate(
            b"-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nMII\n"
        ));
        assert!(holds_certificate(b"-----BEGIN TRUSTED CERTIFICATE-----\n"));
        assert!(!holds_certificate(
            b"-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n"
        ));
        assert!(!holds_certificate(
            b"# see -----END CERTIFICATE----- below\n"
        ));
    }

    #[test]
    fn absolute_patterns_are_rebased_onto_their_root() {
        let roots = [PathBuf::from("/home/me"), PathBuf::from("/srv/data")];
        let home = Path::new("/home/me");
        assert_eq!(
            pattern_for_root(".cache", home, &roots).as_deref(),
            Some(".cache")
        );
        assert_eq!(
            pattern_for_root("/snap", home, &roots).as_deref(),
            Some("/snap")
        );
        assert_eq!(
            pattern_for_root("/home/me/big/*.iso", home, &roots).as_deref(),
            Some("/big/*.iso")
        );
        assert_eq!(
            pattern_for_root("!/home/me/big/keep", home, &roots).as_deref(),
            Some("!/big/keep")
        );
        assert_eq!(pattern_for_root("/srv/data/x", home, &roots), None);
        assert_eq!(
            pattern_for_root("/home/me", home, &roots).as_deref(),
            Some("/**")
        );
    }

    #[test]
    fn excludes_match_names_anywhere_and_anchored_paths_at_the_root() {
        let roots = [PathBuf::from("/home/me")];
        let patterns = [".cache", "/Downloads", "*.iso", "/home/me/big"].map(String::from);
        let ex = Excludes::new(&roots, &patterns).expect("valid patterns");
        assert!(ex.excluded(Path::new("/home/me/.cache"), true));
        assert!(ex.excluded(Path::new("/home/me/src/x/.cache"), true));
        assert!(ex.excluded(Path::new("/home/me/Downloads"), true));
        assert!(!ex.excluded(Path::new("/home/me/src/Downloads"), true));
        assert!(ex.excluded(Path::new("/home/me/src/disk.iso"), false));
        assert!(ex.excluded(Path::new("/home/me/big"), true));
        assert!(!ex.excluded(Path::new("/home/me/src/big"), true));
        assert!(!ex.excluded(Path::new("/home/me/src/id_rsa"), false));
        assert!(!ex.excluded(Path::new("/elsewhere/.cache"), true));
    }
}
