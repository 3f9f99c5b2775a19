//! EDGE: reading the reports `keycheck fleet` merges: files, directories (every `*.json`
//! below them), and NDJSON streams (`-` for stdin, or `*.ndjson` files) where each line is
//! a report or an envelope `{"report": {...}, "signature": "-----BEGIN SSH SIGNATURE..."}`.
//!
//! A report file's signature is the detached `FILE.sig` beside it (what `ssh-keygen -Y
//! sign` writes). Files are read and checked on worker threads, at most
//! [`ReadOptions::max_report_size`] bytes each, and only each report's summary reaches
//! the merge, so memory stays bounded whatever the number of reports. A report that
//! cannot be read, parsed or verified is rejected with its reason and the rest go on.

use std::io::{BufRead, Read as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::fleet::{entry_of, Fleet, HostEntry, ReportView};
use crate::sys::scan::{self, ReadError};

/// What checking one report's signature concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigCheck {
    /// Signed by an allowed signer.
    Verified,
    /// Accepted without a valid signature (`--accept-unsigned`).
    Accepted,
    /// Not merged: why.
    Refused(String),
}

/// Limits and parallelism.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Largest report read, in bytes (larger ones are rejected unread).
    pub max_report_size: u64,
    /// Worker threads; 0 picks one per CPU.
    pub threads: usize,
    /// Look for each report's `.sig` (false when nothing is verified: no allowed
    /// signers, `--accept-unsigned`).
    pub signatures: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_report_size: 16 * 1024 * 1024,
            threads: 0,
            signatures: true,
        }
    }
}

/// A path given could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct InputError {
    /// The path as given.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// Decides about one report's signature: `data` is the report's exact bytes, `signature`
/// the armored SSHSIG if there is one, `host_id` the host the report claims to come from
/// (the principal its signer must be allowed to sign for).
pub type Verify<'a> = dyn Fn(&[u8], Option<&str>, &str) -> SigCheck + Sync + 'a;

/// Called with the number of reports read since the last call (for a progress bar).
pub type Tick<'a> = dyn Fn(u64) + Sync + 'a;

/// How many reports were verified and accepted unverified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// With a valid signature.
    pub verified: u64,
    /// Merged without one (`--accept-unsigned`).
    pub unverified: u64,
}

/// Reads every report under `paths` into `fleet`, checking each with `verify`.
/// `tick` is told how many reports were read, every few dozen (for a progress bar).
///
/// # Errors
/// [`InputError`] when a path given does not exist or a directory cannot be listed.
pub fn read_into(
    paths: &[PathBuf],
    options: ReadOptions,
    verify: &Verify<'_>,
    fleet: &mut Fleet,
    tick: &Tick<'_>,
) -> Result<Counts, InputError> {
    let mut files = Vec::new();
    let mut streams = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            streams.push(path.clone());
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| InputError {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            let mut unlisted = Vec::new();
            list_reports(path, &mut files, &mut unlisted).map_err(|e| InputError {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            for (source, reason) in unlisted {
                fleet.reject(&source, reason);
            }
        } else if path.extension().is_some_and(|e| e == "ndjson") {
            streams.push(path.clone());
        } else {
            files.push(path.clone());
        }
    }
    // Byte order (cheaper than comparing path components, and as deterministic).
    files.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    let mut counts = Counts::default();
    read_files(&files, options, verify, fleet, tick, &mut counts);
    for stream in streams {
        read_stream(&stream, options, verify, fleet, tick, &mut counts)?;
    }
    Ok(counts)
}

/// Every `*.json` file below `dir` (symlinks not followed into directories). What below
/// `dir` cannot be listed (a subdirectory without permission, an entry that vanished)
/// goes to `unlisted` as (path, reason): the reports elsewhere are still merged, and the
/// ones it may hold are named as not read.
///
/// # Errors
/// When `dir` itself cannot be listed.
fn list_reports(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    unlisted: &mut Vec<(String, String)>,
) -> std::io::Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if d != dir => {
                unlisted.push((
                    d.display().to_string(),
                    format!(
                        "directory not read ({}): the reports in it are not merged",
                        scan::describe_io(&e)
                    ),
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let (ft, path) = match entry.and_then(|e| Ok((e.file_type()?, e.path()))) {
                Ok(found) => found,
                Err(e) => {
                    unlisted.push((
                        d.display().to_string(),
                        format!("an entry could not be read: {}", scan::describe_io(&e)),
                    ));
                    continue;
                }
            };
            if ft.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    Ok(())
}

type Outcome = Result<(HostEntry, SigCheck), (String, String)>;

/// Files a worker claims at a time, and reports between two progress ticks.
const CHUNK: usize = 64;

/// Reads `files` on worker threads. Each worker merges into a fleet of its own and the
/// fleets are merged at the end: no channel, no lock and no wake-up per report.
fn read_files(
    files: &[PathBuf],
    options: ReadOptions,
    verify: &Verify<'_>,
    fleet: &mut Fleet,
    tick: &Tick<'_>,
    counts: &mut Counts,
) {
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        n => n,
    }
    .min(files.len().div_ceil(CHUNK).max(1));
    let next = AtomicUsize::new(0);
    let work = || {
        let mut fleet = Fleet::default();
        let mut counts = Counts::default();
        loop {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            let chunk = files
                .get(start..files.len().min(start + CHUNK))
                .unwrap_or(&[]);
            if chunk.is_empty() {
                break;
            }
            for path in chunk {
                merge(&mut fleet, read_one(path, options, verify), &mut counts);
            }
            tick(chunk.len() as u64);
        }
        (fleet, counts)
    };
    let parts: Vec<(Fleet, Counts)> = if threads <= 1 {
        vec![work()]
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    };
    for (part, part_counts) in parts {
        fleet.absorb(part);
        counts.verified += part_counts.verified;
        counts.unverified += part_counts.unverified;
    }
}

fn merge(fleet: &mut Fleet, outcome: Outcome, counts: &mut Counts) {
    match outcome {
        Ok((entry, check)) => {
            match check {
                SigCheck::Verified => counts.verified += 1,
                SigCheck::Accepted => counts.unverified += 1,
                SigCheck::Refused(_) => {}
            }
            fleet.merge(entry);
        }
        Err((source, reason)) => fleet.reject(&source, reason),
    }
}

/// The largest `.sig` read.
const MAX_SIGNATURE_SIZE: u64 = 64 * 1024;

fn read_one(path: &Path, options: ReadOptions, verify: &Verify<'_>) -> Outcome {
    let source = || path.display().to_string();
    let bytes = read_report(path, options.max_report_size)
        .map_err(|e| (source(), describe(&e, options.max_report_size)))?;
    let signature = if options.signatures {
        let mut sig_path = path.as_os_str().to_owned();
        sig_path.push(".sig");
        match read_report(Path::new(&sig_path), MAX_SIGNATURE_SIZE) {
            Ok(s) => Some(
                String::from_utf8(s).map_err(|_| (source(), "its .sig is not text".to_owned()))?,
            ),
            Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err((
                    source(),
                    format!("its .sig: {}", describe(&e, MAX_SIGNATURE_SIZE)),
                ))
            }
        }
    } else {
        None
    };
    judge(&bytes, signature.as_deref(), &source(), verify)
}

/// Parses and verifies one report's bytes: a report's signature must come from a key
/// allowed to sign for the host id the report claims.
fn judge(bytes: &[u8], signature: Option<&str>, source: &str, verify: &Verify<'_>) -> Outcome {
    let report: ReportView = serde_json::from_slice(bytes)
        .map_err(|e| (source.to_owned(), format!("not a keycheck report: {e}")))?;
    let check = verify(bytes, signature, &report.host.id);
    if let SigCheck::Refused(reason) = check {
        return Err((source.to_owned(), reason));
    }
    let entry = entry_of(&report).map_err(|reason| (source.to_owned(), reason))?;
    Ok((entry, check))
}

/// A line of an NDJSON stream that wraps a report with its signature.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    report: &'a RawValue,
    signature: Option<String>,
}

fn read_stream(
    path: &Path,
    options: ReadOptions,
    verify: &Verify<'_>,
    fleet: &mut Fleet,
    tick: &Tick<'_>,
    counts: &mut Counts,
) -> Result<(), InputError> {
    let shown = if path.as_os_str() == "-" {
        "-".to_owned()
    } else {
        path.display().to_string()
    };
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(|e| InputError {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Box::new(std::io::BufReader::new(file))
    };
    read_ndjson(reader, &shown, options, verify, fleet, tick, counts)
}

/// Reads an NDJSON stream of reports (each line a report or an envelope with its
/// signature) from `reader` into `fleet`, naming each line `{shown}:{line}`. Lines longer
/// than [`ReadOptions::max_report_size`] are skipped unbuffered and rejected. What
/// `keycheck fleet -` does with its standard input; public for the fuzz target.
///
/// # Errors
/// [`InputError`] when reading fails.
pub fn read_ndjson(
    reader: impl BufRead,
    shown: &str,
    options: ReadOptions,
    verify: &Verify<'_>,
    fleet: &mut Fleet,
    tick: &Tick<'_>,
    counts: &mut Counts,
) -> Result<(), InputError> {
    let mut reader = reader.take(u64::MAX);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        // Bounded: a line longer than the limit is skipped to its end, not buffered.
        let limit = options.max_report_size + 1;
        let read = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(|e| InputError {
                path: shown.to_owned(),
                reason: e.to_string(),
            })?;
        if read == 0 {
            break;
        }
        number += 1;
        let source = format!("{shown}:{number}");
        if line.len() as u64 >= limit && line.last() != Some(&b'\n') {
            skip_line(&mut reader);
            tick(1);
            fleet.reject(
                &source,
                format!("longer than {} bytes", options.max_report_size),
            );
            continue;
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        tick(1);
        let outcome = match serde_json::from_slice::<Envelope<'_>>(text) {
            Ok(env) => judge(
                env.report.get().as_bytes(),
                env.signature.as_deref(),
                &source,
                verify,
            ),
            _ => judge(text, None, &source, verify),
        };
        merge(fleet, outcome, counts);
    }
    Ok(())
}

fn skip_line(reader: &mut dyn BufRead) {
    loop {
        let (done, used) = match reader.fill_buf() {
            Ok([]) | Err(_) => return,
            Ok(buf) => match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (true, i + 1),
                None => (false, buf.len()),
            },
        };
        reader.consume(used);
        if done {
            return;
        }
    }
}

/// Reads a report file without blocking (the scan's [`scan::open_regular`]): at most
/// `max` bytes, and no more than the size the file had when opened, so a report that is
/// not being written takes one read.
fn read_report(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let (mut file, meta) = scan::open_regular(path)?;
    if meta.len() > max {
        return Err(ReadError::TooLarge);
    }
    let mut bytes = vec![0; usize::try_from(meta.len()).map_err(|_| ReadError::TooLarge)?];
    let mut filled = 0;
    while filled < bytes.len() {
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

/// Why a file could not be read, as one line.
fn describe(error: &ReadError, max: u64) -> String {
    match error {
        ReadError::Io(e) => scan::describe_io(e),
        ReadError::NotRegular(kind) => format!("not a regular file ({kind})"),
        ReadError::TooLarge => format!("larger than the limit of {max} bytes; not read"),
    }
}
