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
use std::sync::mpsc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::fleet::{entry_of, Fleet, HostEntry, ReportView};

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

/// How many reports were verified and accepted unverified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// With a valid signature.
    pub verified: u64,
    /// Merged without one (`--accept-unsigned`).
    pub unverified: u64,
}

/// Reads every report under `paths` into `fleet`, checking each with `verify`.
/// `tick` is called once per report read (for a progress bar).
///
/// # Errors
/// [`InputError`] when a path given does not exist or a directory cannot be listed.
pub fn read_into(
    paths: &[PathBuf],
    options: ReadOptions,
    verify: &Verify<'_>,
    fleet: &mut Fleet,
    tick: &(dyn Fn() + Sync),
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
            list_reports(path, &mut files).map_err(|e| InputError {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        } else if path.extension().is_some_and(|e| e == "ndjson") {
            streams.push(path.clone());
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    let mut counts = Counts::default();
    read_files(&files, options, verify, fleet, tick, &mut counts);
    for stream in streams {
        read_stream(&stream, options, verify, fleet, tick, &mut counts)?;
    }
    Ok(counts)
}

/// Every `*.json` file below `dir` (symlinks not followed into directories).
fn list_reports(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let ft = entry.file_type()?;
            let path = entry.path();
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

fn read_files(
    files: &[PathBuf],
    options: ReadOptions,
    verify: &Verify<'_>,
    fleet: &mut Fleet,
    tick: &(dyn Fn() + Sync),
    counts: &mut Counts,
) {
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        n => n,
    }
    .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<Outcome>(1024);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                let outcome = read_one(path, options, verify);
                tick();
                if tx.send(outcome).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for outcome in rx {
            merge(fleet, outcome, counts);
        }
    });
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

fn read_one(path: &Path, options: ReadOptions, verify: &Verify<'_>) -> Outcome {
    let source = path.display().to_string();
    let fail = |reason: String| Err((source.clone(), reason));
    let bytes = match read_bounded(path, options.max_report_size) {
        Ok(b) => b,
        Err(reason) => return fail(reason),
    };
    let sig_path = {
        let mut p = path.as_os_str().to_owned();
        p.push(".sig");
        PathBuf::from(p)
    };
    let signature = match options.signatures.then(|| std::fs::metadata(&sig_path)) {
        Some(Ok(_)) => match read_bounded(&sig_path, 64 * 1024) {
            Ok(s) => match String::from_utf8(s.to_vec()) {
                Ok(s) => Some(s),
                Err(_) => return fail("its .sig is not text".to_owned()),
            },
            Err(reason) => return fail(format!("its .sig: {reason}")),
        },
        Some(Err(_)) | None => None,
    };
    judge(&bytes, signature.as_deref(), &source, verify)
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
    tick: &(dyn Fn() + Sync),
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
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        if read == 0 {
            break;
        }
        number += 1;
        let source = format!("{shown}:{number}");
        if line.len() as u64 >= limit && line.last() != Some(&b'\n') {
            skip_line(&mut reader);
            tick();
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
        tick();
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

/// The scan's bounded, non-blocking read, with its errors as one line.
fn read_bounded(path: &Path, max: u64) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
    use crate::sys::scan::{self, ReadError};
    match scan::read_bounded(path, max) {
        Ok((bytes, _)) => Ok(bytes),
        Err(ReadError::Io(e)) => Err(scan::describe_io(&e)),
        Err(ReadError::NotRegular(kind)) => Err(format!("not a regular file ({kind})")),
        Err(ReadError::TooLarge) => Err(format!("more than the {max} bytes a report may have")),
    }
}
