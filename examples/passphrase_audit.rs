//! Times the common-passphrase audit per key, for `bench/passphrase-audit.sh`.
//!
//! ```text
//! cargo run --release --example passphrase_audit -- [--threads N] [--budget SECONDS] KEY...
//! ```
//!
//! For each key file, one tab-separated line: path, how the key is protected, the outcome,
//! wall-clock seconds for the whole audit of that key, and milliseconds per attempt
//! (wall-clock time divided by attempts made, all threads together).

use std::io::Write as _;
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use keycheck::key::decrypt;
use keycheck::sys::passphrase_audit::{audit, AuditOptions, AuditOutcome};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "passphrase_audit: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut options = AuditOptions::default();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => {
                let n = args.next().ok_or("--threads needs a number")?;
                options.threads = Some(
                    n.parse::<NonZeroUsize>()
                        .map_err(|_| format!("--threads {n}: not a positive number"))?,
                );
            }
            "--budget" => {
                let s = args.next().ok_or("--budget needs seconds")?;
                let secs: f64 = s
                    .parse()
                    .map_err(|_| format!("--budget {s}: not seconds"))?;
                options.budget_per_key = Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("--budget {s}: not a duration"))?;
            }
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        return Err("usage: passphrase_audit [--threads N] [--budget SECONDS] KEY...".to_owned());
    }
    let mut out = std::io::stdout().lock();
    for path in files {
        let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
        let protection =
            decrypt::prepare(&bytes).map_or_else(|e| e.to_string(), |u| u.protection());
        let start = Instant::now();
        let outcome = audit(&[&bytes], &options, None).pop().ok_or("no outcome")?;
        let elapsed = start.elapsed().as_secs_f64();
        let (label, attempts) = match &outcome {
            AuditOutcome::Weak { .. } => ("weak".to_owned(), None),
            AuditOutcome::NotFound { tried } => {
                (format!("not-found ({tried} tried)"), Some(*tried))
            }
            AuditOutcome::OutOfTime { tried, of } => {
                (format!("out-of-time ({tried} of {of})"), Some(*tried))
            }
            AuditOutcome::Unsupported(why) => (format!("unsupported: {why}"), None),
        };
        let per_attempt = match attempts {
            Some(n) if n > 0 => format!("{:.2}", elapsed * 1000.0 / n as f64),
            _ => "-".to_owned(),
        };
        writeln!(
            out,
            "{path}\t{protection}\t{label}\t{elapsed:.3}\t{per_attempt}"
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}
