//! EDGE: walk the given roots (by default `~/.ssh`) and turn every file into facts.
//!
//! Safety on hostile trees: the file type is checked before anything is opened, so a
//! FIFO, socket or device named like a key is never opened; files are opened
//! non-blocking and the opened descriptor is checked again (a file swapped for a FIFO
//! between the two checks is caught); at most `max_file_size` bytes are read; directory
//! loops through symlinks are detected by device and inode, and a directory that holds
//! the root being walked (a symlink to `/`, to the home, to `..`; a bind mount of one) or
//! that sits on a kernel pseudo file system (`/proc`, `/sys`) is not entered, since
//! walking it would read the whole machine; permission denied, vanished
//! files become per-file entries and the scan goes on; a name that is not UTF-8 or holds
//! a control character is shown with escapes (and marked `path_escaped`) and examined
//! like any other.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, Metadata};
use std::io::{self, Read as _};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use zeroize::Zeroizing;

use crate::inventory::{
    known_ssh_file, AuthorizedFile, DirRecord, FileError, FileFacts, Inventory, KeyRecord,
    Malformed, Skipped,
};
use crate::key::{self, Format, Inspection, KeyFacts, Kind};

/// OpenSSH refuses key files over 1 MiB (`MAX_KEY_FILE_SIZE` in authfile.c), so a
/// larger file is not a usable key and is not read.
pub const MAX_KEY_FILE_SIZE: u64 = 1024 * 1024;

/// How far and how much to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Directory levels below each root to descend.
    pub max_depth: usize,
    /// Largest file read, in bytes.
    pub max_file_size: u64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_depth: 8,
            max_file_size: MAX_KEY_FILE_SIZE,
        }
    }
}

/// A root given by the user could not be scanned at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct RootError {
    /// The root as given.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// Scans each root (a directory or a file) and returns what it holds.
///
/// # Errors
/// [`RootError`] when a root does not exist or cannot be examined. Problems with files
/// inside a root are entries in the inventory, not errors.
pub fn scan(roots: &[PathBuf], options: ScanOptions) -> Result<Inventory, RootError> {
    scan_cached(roots, options, None)
}

/// [`scan`], re-reading only the files that changed since `cache` saw them (the
/// background agent re-scans on every change). The cache learns what this scan read.
///
/// # Errors
/// As [`scan`].
pub fn scan_cached(
    roots: &[PathBuf],
    options: ScanOptions,
    cache: Option<&mut InspectCache>,
) -> Result<Inventory, RootError> {
    let mut scanner = Scanner {
        options,
        inventory: Inventory::default(),
        seen_dirs: HashSet::new(),
        seen_files: BTreeMap::new(),
        cache,
        holders: HashSet::new(),
        pseudo_root: false,
    };
    for root in roots {
        let display = display_path(root);
        let meta = std::fs::metadata(root).map_err(|e| RootError {
            path: display.clone(),
            reason: describe_io(&e),
        })?;
        if meta.is_dir() {
            scanner.inventory.dirs.push(DirRecord {
                path: display.clone(),
                file: file_facts(&meta, root),
            });
            scanner.holders = holders_of(root, &meta);
            scanner.pseudo_root = pseudo_filesystem(root).is_some();
            scanner.walk(root, &display, &meta, 0);
        } else {
            scanner.visit(root, display, &meta);
        }
    }
    scanner.complete_public_parts();
    let inv = &mut scanner.inventory;
    inv.keys.sort_by(|a, b| a.path.cmp(&b.path));
    inv.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    inv.errors.sort_by(|a, b| a.path.cmp(&b.path));
    inv.malformed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(scanner.inventory)
}

/// What inspecting one file concluded, remembered by [`InspectCache`].
#[derive(Debug, Clone)]
enum Outcome {
    Key(Box<KeyFacts>),
    NotKey(String),
    Malformed {
        format: Option<Format>,
        error: String,
    },
}

/// The identity of a file's content as `stat` shows it: a rewrite, a replacement or a
/// mode change alters at least one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// File timestamps advance in clock ticks of a few milliseconds, so a file changed twice
/// within one tick, without changing size, keeps its stamp. As git does with its index,
/// a file modified this recently is not remembered: the next scan reads it again.
const SETTLE_SECS: i64 = 2;

/// Inspection outcomes by path and [`Stamp`]: a re-scan reads only the files whose stamp
/// changed. Holds facts only (never key bytes). Entries for files no longer seen are
/// dropped at the end of each [`InspectCache::end_round`].
#[derive(Debug)]
pub struct InspectCache {
    entries: HashMap<PathBuf, (Stamp, Outcome, bool)>,
    /// Files changed less than this many seconds ago are not remembered.
    settle_secs: i64,
    /// Files read since the cache was made (the rest came from the cache).
    pub reads: u64,
    /// Files whose outcome came from the cache.
    pub hits: u64,
}

impl Default for InspectCache {
    fn default() -> Self {
        InspectCache {
            entries: HashMap::new(),
            settle_secs: SETTLE_SECS,
            reads: 0,
            hits: 0,
        }
    }
}

impl InspectCache {
    /// Starts a round of scans: entries not used before [`InspectCache::end_round`] are
    /// forgotten then.
    pub fn begin_round(&mut self) {
        for entry in self.entries.values_mut() {
            entry.2 = false;
        }
    }

    /// Ends a round: forgets files that no scan of the round visited.
    pub fn end_round(&mut self) {
        self.entries.retain(|_, entry| entry.2);
    }

    /// The number of files remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns true when nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn lookup(&mut self, path: &Path, meta: &Metadata) -> Option<Outcome> {
        let stamp = Stamp::of(meta);
        match self.entries.get_mut(path) {
            Some(entry) if entry.0 == stamp => {
                entry.2 = true;
                self.hits += 1;
                Some(entry.1.clone())
            }
            _ => None,
        }
    }

    fn remember(&mut self, path: &Path, meta: &Metadata, outcome: &Outcome) {
        self.reads += 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let newest = meta.mtime().max(meta.ctime());
        if newest > now - self.settle_secs {
            self.entries.remove(path);
            return;
        }
        self.entries
            .insert(path.to_path_buf(), (Stamp::of(meta), outcome.clone(), true));
    }
}

struct Scanner<'c> {
    cache: Option<&'c mut InspectCache>,
    options: ScanOptions,
    inventory: Inventory,
    /// (device, inode) of every directory entered, to stop symlink loops.
    seen_dirs: HashSet<(u64, u64)>,
    /// (device, inode) of every file read, and the path it was first read at.
    seen_files: BTreeMap<(u64, u64), String>,
    /// (device, inode) of every directory that holds the root being walked: entering
    /// one (through a symlink or a bind mount) would walk the root's whole ancestry.
    holders: HashSet<(u64, u64)>,
    /// The root being walked is itself on a pseudo file system (asked for by name), so
    /// the directories below it may be too.
    pseudo_root: bool,
}

impl Scanner<'_> {
    fn error(&mut self, path: String, error: impl Into<String>) {
        self.inventory.errors.push(FileError {
            path,
            error: error.into(),
        });
    }

    fn skip(&mut self, path: String, reason: impl Into<String>) {
        self.inventory.skipped.push(Skipped {
            path,
            reason: reason.into(),
        });
    }

    fn walk(&mut self, dir: &Path, display: &str, meta: &Metadata, depth: usize) {
        if self.holders.contains(&(meta.dev(), meta.ino())) {
            return self.error(
                display.to_owned(),
                "contains the directory being scanned (a symlink or mount back up the tree); not entered",
            );
        }
        if !self.pseudo_root {
            if let Some(fs) = pseudo_filesystem(dir) {
                return self.error(
                    display.to_owned(),
                    format!("on {fs}, a kernel pseudo file system; not entered"),
                );
            }
        }
        if !self.seen_dirs.insert((meta.dev(), meta.ino())) {
            self.error(
                display.to_owned(),
                "directory loop (already scanned through another path); not entered again",
            );
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return self.error(display.to_owned(), describe_io(&e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => names.push(entry.file_name()),
                Err(e) => self.error(
                    display.to_owned(),
                    format!("reading the directory: {}", describe_io(&e)),
                ),
            }
        }
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let shown = display_path(&path);
            let lmeta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.error(shown, describe_io(&e));
                    continue;
                }
            };
            let meta = if lmeta.file_type().is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        let target = std::fs::read_link(&path)
                            .map(|t| display_path(&t))
                            .unwrap_or_default();
                        self.skip(shown, format!("broken symlink to {target}"));
                        continue;
                    }
                    Err(e) => {
                        self.error(shown, describe_io(&e));
                        continue;
                    }
                }
            } else {
                lmeta
            };
            if meta.is_dir() {
                if depth + 1 > self.options.max_depth {
                    self.error(
                        shown,
                        format!(
                            "more than {} directory levels deep; not scanned",
                            self.options.max_depth
                        ),
                    );
                } else {
                    self.walk(&path, &shown, &meta, depth + 1);
                }
            } else {
                self.visit(&path, shown, &meta);
            }
        }
    }

    /// Examines one non-directory path whose metadata (symlinks followed) is `meta`.
    fn visit(&mut self, path: &Path, shown: String, meta: &Metadata) {
        let ft = meta.file_type();
        if ft.is_socket() {
            return self.skip(
                shown,
                "socket (such as an ssh-agent or ControlMaster socket)",
            );
        }
        if !ft.is_file() {
            return self.error(
                shown,
                format!("not a regular file ({}); not opened", file_type_name(meta)),
            );
        }
        if meta.len() > self.options.max_file_size {
            return self.skip(
                shown,
                format!(
                    "too large to be a key ({} bytes; OpenSSH reads at most {} bytes); not read",
                    meta.len(),
                    self.options.max_file_size
                ),
            );
        }
        if let Some(outcome) = self.cache.as_deref_mut().and_then(|c| c.lookup(path, meta)) {
            return self.record(path, shown, meta, outcome);
        }
        let (bytes, meta) = match read_bounded(path, self.options.max_file_size) {
            Ok(read) => read,
            Err(ReadError::Io(e)) => return self.error(shown, describe_io(&e)),
            Err(ReadError::NotRegular(kind)) => {
                return self.error(shown, format!("not a regular file ({kind}); not read"))
            }
            Err(ReadError::TooLarge) => {
                return self.skip(
                    shown,
                    "too large to be a key (it grew during the scan); not read",
                )
            }
        };
        let outcome = match key::inspect(&bytes) {
            Inspection::Key(facts) => Outcome::Key(facts),
            Inspection::NotKey(reason) => Outcome::NotKey(reason),
            Inspection::Malformed { format, error } => Outcome::Malformed {
                format,
                error: error.to_string(),
            },
        };
        drop(bytes);
        if let Some(cache) = self.cache.as_deref_mut() {
            cache.remember(path, &meta, &outcome);
        }
        self.record(path, shown, &meta, outcome);
    }

    /// Enters what inspecting the file at `path` (metadata `meta`) concluded.
    fn record(&mut self, path: &Path, shown: String, meta: &Metadata, outcome: Outcome) {
        if let Some(first) = self.seen_files.get(&(meta.dev(), meta.ino())) {
            let reason = format!("same file as {first} (a link to it)");
            return self.skip(shown, reason);
        }
        self.seen_files
            .insert((meta.dev(), meta.ino()), shown.clone());
        let file = file_facts(meta, path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match outcome {
            Outcome::Key(facts) => {
                if facts.kind != Kind::Private {
                    if let Some(reason) = known_ssh_file(&name) {
                        return self.skip(shown, reason);
                    }
                }
                self.inventory.keys.push(KeyRecord {
                    path: shown,
                    facts: *facts,
                    file,
                });
            }
            Outcome::NotKey(reason) => {
                let reason = known_ssh_file(&name).map_or(reason, str::to_owned);
                self.skip(shown, reason);
            }
            Outcome::Malformed { format, error } => self.inventory.malformed.push(Malformed {
                path: shown,
                format,
                error,
            }),
        }
    }

    /// Fills the hidden public facts of encrypted legacy keys from `KEY.pub`: from the
    /// scan when it was scanned, else read beside the key.
    fn complete_public_parts(&mut self) {
        let by_path: BTreeMap<String, usize> = self
            .inventory
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.path.clone(), i))
            .collect();
        for i in 0..self.inventory.keys.len() {
            let key = &self.inventory.keys[i];
            if key.facts.kind != Kind::Private {
                continue;
            }
            let pub_path = format!("{}.pub", key.path);
            let public = match by_path.get(&pub_path) {
                Some(&j) => self.inventory.keys[j].facts.clone(),
                // Only a key that hides its public part is completed from a .pub that
                // was not scanned with it.
                None if key.facts.needs_public_part() => {
                    match read_public_beside(Path::new(&pub_path), self.options.max_file_size) {
                        Some(facts) => facts,
                        None => continue,
                    }
                }
                None => continue,
            };
            complete_from_beside(&mut self.inventory.keys[i].facts, &public, &pub_path);
        }
    }
}

/// The (device, inode) of every directory above `root` (whose metadata is `meta`), by
/// its path as given and by its real path: the directories a walk of `root` must not
/// enter again through a symlink or a bind mount, since each holds `root` itself.
fn holders_of(root: &Path, meta: &Metadata) -> HashSet<(u64, u64)> {
    let own = (meta.dev(), meta.ino());
    let given = std::path::absolute(root).ok();
    let real = std::fs::canonicalize(root).ok();
    given
        .iter()
        .chain(real.iter())
        .flat_map(|p| p.ancestors().skip(1))
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .filter(|id| *id != own)
        .collect()
}

/// The name of the kernel pseudo file system `dir` is on, if it is one: `/proc` (whose
/// `self/root` leads back to `/`), `/sys`, cgroups, debugfs, autofs (entering may mount
/// a network share) and the like. Their trees are endless or huge and hold no keys.
#[cfg(target_os = "linux")]
fn pseudo_filesystem(dir: &Path) -> Option<&'static str> {
    // statfs(2) f_type magic numbers, from linux/magic.h.
    let name = match i128::from(rustix::fs::statfs(dir).ok()?.f_type) {
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x6462_6720 => "debugfs",
        0x7472_6163 => "tracefs",
        0x7363_6673 => "securityfs",
        0x0027_e0eb => "cgroup",
        0x6367_7270 => "cgroup2",
        0x1cd1 => "devpts",
        0xcafe_4a11 => "bpf",
        0x6265_6570 => "configfs",
        0x6165_676c => "pstore",
        0xde5e_81e4 => "efivarfs",
        0x6573_5543 => "fusectl",
        0x4249_4e4d => "binfmt_misc",
        0x0187 => "autofs",
        _ => return None,
    };
    Some(name)
}

/// Other systems have no `/proc` to loop through.
#[cfg(not(target_os = "linux"))]
fn pseudo_filesystem(_dir: &Path) -> Option<&'static str> {
    None
}

/// Completes a private key's facts from the public key file `pub_path` beside it.
///
/// A key that hides its public part (encrypted legacy PEM, encrypted PKCS#8, encrypted
/// ssh.com) takes algorithm, bits and fingerprint from it (see
/// [`key::KeyFacts::complete_from_public`]); an encrypted OpenSSH key, which keeps its
/// comment inside the encrypted part, takes the comment of a `.pub` with the same
/// fingerprint. `public` that is a private key changes nothing.
pub(crate) fn complete_from_beside(
    facts: &mut key::KeyFacts,
    public: &key::KeyFacts,
    pub_path: &str,
) {
    if facts.kind != Kind::Private || public.kind == Kind::Private {
        return;
    }
    if facts.needs_public_part() {
        facts.complete_from_public(public, pub_path);
    } else if facts.comment.is_none() && public.fingerprint == facts.fingerprint {
        facts.comment.clone_from(&public.comment);
    }
}

/// Reads and inspects a `.pub` file next to a key, if there is a readable one.
pub(crate) fn read_public_beside(path: &Path, max: u64) -> Option<key::KeyFacts> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > max {
        return None;
    }
    let (bytes, _) = read_bounded(path, max).ok()?;
    match key::inspect(&bytes) {
        Inspection::Key(facts) if facts.kind != Kind::Private => Some(*facts),
        _ => None,
    }
}

/// Reads `authorized_keys` and `authorized_keys2` in `dir` (each if it exists), bounded
/// and without blocking, as the scan reads keys. A file that exists but cannot be read is
/// an error entry.
#[must_use]
pub fn read_authorized_keys(dir: &Path) -> (Vec<AuthorizedFile>, Vec<FileError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for name in ["authorized_keys", "authorized_keys2"] {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        let shown = display_path(&path);
        match read_bounded(&path, MAX_KEY_FILE_SIZE) {
            Ok((bytes, _)) => files.push(AuthorizedFile {
                path: shown,
                entries: crate::key::authorized::AuthorizedKeys::from_bytes(&bytes),
            }),
            Err(e) => errors.push(FileError {
                path: shown,
                error: match e {
                    ReadError::Io(e) => describe_io(&e),
                    ReadError::NotRegular(kind) => format!("a {kind}, not a file"),
                    ReadError::TooLarge => "larger than 1 MiB".to_owned(),
                },
            }),
        }
    }
    (files, errors)
}

/// Reads a key file again (bounded, non-blocking, into memory wiped on drop), for the
/// opt-in passphrase audit.
///
/// # Errors
/// One phrase saying why the file could not be read.
pub fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    match read_bounded(path, MAX_KEY_FILE_SIZE) {
        Ok((bytes, _)) => Ok(bytes),
        Err(ReadError::Io(e)) => Err(describe_io(&e)),
        Err(ReadError::NotRegular(kind)) => Err(format!("a {kind}, not a file")),
        Err(ReadError::TooLarge) => Err("larger than 1 MiB".to_owned()),
    }
}

/// Why [`open_regular`] or [`read_bounded`] did not return a file's bytes.
pub(crate) enum ReadError {
    /// The open or the read failed.
    Io(io::Error),
    /// The opened descriptor is not a regular file (its type, as [`file_type_name`] says).
    NotRegular(&'static str),
    /// The file holds more than the limit.
    TooLarge,
}

/// Opens `path` without blocking (a FIFO swapped in after the type check cannot hang the
/// scan) and without becoming its controlling terminal, and checks that the opened
/// descriptor is a regular file.
pub(crate) fn open_regular(path: &Path) -> Result<(File, Metadata), ReadError> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ReadError::Io(e.into()))?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(file_type_name(&meta)));
    }
    Ok((file, meta))
}

/// Opens `path` as [`open_regular`] does and reads at most `max` bytes into a buffer that
/// is wiped on drop.
pub(crate) fn read_bounded(
    path: &Path,
    max: u64,
) -> Result<(Zeroizing<Vec<u8>>, Metadata), ReadError> {
    let (file, meta) = open_regular(path)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(
        usize::try_from(meta.len().min(max)).unwrap_or(0),
    ));
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge);
    }
    Ok((bytes, meta))
}

/// The filesystem facts of a file whose metadata (symlinks followed) is `meta`.
pub(crate) fn file_facts(meta: &Metadata, path: &Path) -> FileFacts {
    let modified = time::OffsetDateTime::from_unix_timestamp(meta.mtime())
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    FileFacts {
        mode: meta.mode() & 0o7777,
        owner: meta.uid(),
        modified,
        path_escaped: needs_escapes(path.as_os_str().as_bytes()),
    }
}

/// A lowercase name for the type of a file that is not a regular file.
pub(crate) fn file_type_name(meta: &Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_fifo() {
        "fifo"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symlink"
    } else {
        "special file"
    }
}

/// One lowercase phrase for an I/O error, without the OS's "(os error N)" suffix.
pub(crate) fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => {
            "no such file or directory (it may have vanished during the scan)".to_owned()
        }
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            "symlink loop (too many levels of symbolic links)".to_owned()
        }
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

/// Returns true if and only if [`display_path`] shows the path `bytes` with escapes: it
/// is not UTF-8, or it holds a control character (C0, DEL or C1). A terminal acts on
/// those (an escape sequence in a file name could recolour the screen, retitle the
/// window or move the cursor), and a newline would split a line of output in two.
#[must_use]
pub fn needs_escapes(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).map_or(true, |text| text.chars().any(char::is_control))
}

/// A path as text. A path that is UTF-8 without control characters is shown as it is; in
/// any other ([`needs_escapes`]), bytes that are not UTF-8 and the bytes of control
/// characters are shown as `\xNN` and backslashes as `\\`, so the text is unambiguous,
/// inert on a terminal, and a bash `$'...'` string of it names the real file.
#[must_use]
pub fn display_path(path: &Path) -> String {
    let bytes = path.as_os_str().as_bytes();
    if !needs_escapes(bytes) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if c.is_control() {
                for b in c.encode_utf8(&mut [0; 4]).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The path [`display_path`] showed as `text`: `escaped` (the record's `path_escaped`)
/// says `\\xNN` and `\\\\` stand for a byte and a backslash.
#[must_use]
pub fn path_from_display(text: &str, escaped: bool) -> PathBuf {
    use std::os::unix::ffi::OsStringExt as _;
    if !escaped {
        return PathBuf::from(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            let hex = bytes
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if bytes.get(i + 1) == Some(&b'x') {
                if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const KEY: &[u8] = include_bytes!("../../tests/fixtures/ssh/id_ed25519");
    const OTHER: &[u8] = include_bytes!("../../tests/fixtures/ssh/id_ed25519_enc");

    #[test]
    fn displayed_paths_map_back_to_their_bytes() {
        use std::os::unix::ffi::OsStrExt as _;
        for raw in [
            &b"/h/.ssh/id"[..],
            b"/h/a\\b\xff/x\\x41",
            b"/h/\xc3(",
            b"\\",
            b"/h/id\nnew\\line",
            b"/h/id_\x1b]0;title\x07",
            "/h/c1\u{9b}31m \u{e9}".as_bytes(),
        ] {
            let path = Path::new(std::ffi::OsStr::from_bytes(raw));
            let shown = display_path(path);
            let escaped = needs_escapes(raw);
            assert_eq!(path_from_display(&shown, escaped), path, "{shown}");
            assert!(!shown.chars().any(char::is_control), "{shown:?}");
        }
        assert_eq!(
            display_path(Path::new("/h/a\nb\u{9b}\u{e9}")),
            "/h/a\\x0ab\\xc2\\x9b\u{e9}"
        );
        assert_eq!(display_path(Path::new("/h/a\\b c")), "/h/a\\b c");
    }

    fn scan_round(roots: &[PathBuf], cache: &mut InspectCache) -> Inventory {
        cache.begin_round();
        let inv = scan_cached(roots, ScanOptions::default(), Some(cache)).unwrap();
        cache.end_round();
        inv
    }

    #[test]
    fn the_cache_rereads_only_changed_files_and_forgets_deleted_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::write(&a, KEY).unwrap();
        std::fs::write(&b, "not a key\n").unwrap();
        let roots = vec![tmp.path().to_path_buf()];
        let mut cache = InspectCache {
            settle_secs: 0,
            ..InspectCache::default()
        };

        let first = scan_round(&roots, &mut cache);
        assert_eq!((cache.reads, cache.hits, cache.len()), (2, 0, 2));
        let second = scan_round(&roots, &mut cache);
        assert_eq!(
            (cache.reads, cache.hits),
            (2, 2),
            "nothing changed: no reads"
        );
        assert_eq!(first.keys, second.keys);
        assert_eq!(first.skipped, second.skipped);

        std::fs::write(&a, OTHER).unwrap();
        let third = scan_round(&roots, &mut cache);
        assert_eq!(
            (cache.reads, cache.hits),
            (3, 3),
            "only the rewritten file is read"
        );
        assert!(third.keys[0].facts.encrypted, "its new content is seen");

        std::fs::remove_file(&b).unwrap();
        scan_round(&roots, &mut cache);
        assert_eq!(cache.len(), 1, "the deleted file is forgotten");
    }

    #[test]
    fn files_changed_in_the_last_seconds_are_always_read_again() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a"), KEY).unwrap();
        let roots = vec![tmp.path().to_path_buf()];
        let mut cache = InspectCache::default();
        scan_round(&roots, &mut cache);
        scan_round(&roots, &mut cache);
        assert_eq!((cache.reads, cache.hits, cache.len()), (2, 0, 0));
    }
}
