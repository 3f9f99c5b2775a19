//! Searches directory trees for SSH private keys with `keycheck::sys::search` and prints
//! the paths of the keys found, one per line (or everything found as JSON with `--json`).
//! Used by `bench/search-home.sh` until `keycheck check --search-home` is wired up.
//!
//! ```text
//! cargo run --release --example search_home -- ROOT... [--exclude GLOB]... [--skip DIR]...
//!     [--identity-file FILE]... [--threads N] [--progress] [--stats] [--json]
//! ```

#![allow(clippy::disallowed_macros)]

use std::path::PathBuf;
use std::process::ExitCode;

use keycheck::sys::search::{search, SearchOptions};

fn main() -> ExitCode {
    let mut roots = Vec::new();
    let mut options = SearchOptions::default();
    let (mut stats, mut json) = (false, false);
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| match args.next() {
            Some(v) => v,
            None => {
                eprintln!("search_home: {name} needs a value");
                std::process::exit(2);
            }
        };
        match arg.to_str() {
            Some("--exclude") => options
                .exclude
                .push(value("--exclude").to_string_lossy().into_owned()),
            Some("--skip") => options.skip.push(PathBuf::from(value("--skip"))),
            Some("--identity-file") => options
                .identity_files
                .push(PathBuf::from(value("--identity-file"))),
            Some("--threads") => {
                let Ok(n) = value("--threads").to_string_lossy().parse() else {
                    eprintln!("search_home: --threads needs a number");
                    return ExitCode::from(2);
                };
                options.threads = n;
            }
            Some("--progress") => options.progress = true,
            Some("--stats") => stats = true,
            Some("--json") => json = true,
            Some(flag) if flag.starts_with("--") => {
                eprintln!("search_home: unknown option {flag}");
                return ExitCode::from(2);
            }
            _ => roots.push(PathBuf::from(arg)),
        }
    }
    if roots.is_empty() {
        eprintln!("usage: search_home ROOT... [--exclude GLOB]... [--skip DIR]... [--identity-file FILE]... [--threads N] [--progress] [--stats] [--json]");
        return ExitCode::from(2);
    }
    let result = match search(&roots, &options) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("search_home: {e}");
            return ExitCode::from(2);
        }
    };
    let inv = &result.inventory;
    if json {
        let value = serde_json::json!({
            "keys": inv.keys,
            "skipped": inv.skipped,
            "malformed": inv.malformed,
            "errors": inv.errors,
            "counts": {
                "files_visited": result.counts.files_visited,
                "dirs_visited": result.counts.dirs_visited,
                "bytes_read": result.counts.bytes_read,
                "candidates": result.counts.candidates,
            },
        });
        println!("{value:#}");
    } else {
        for key in &inv.keys {
            println!("{}", key.path);
        }
    }
    if stats {
        let c = result.counts;
        eprintln!(
            "search_home: {} files and {} directories visited, {} bytes read, {} candidates; \
             {} keys, {} skipped, {} malformed, {} errors",
            c.files_visited,
            c.dirs_visited,
            c.bytes_read,
            c.candidates,
            inv.keys.len(),
            inv.skipped.len(),
            inv.malformed.len(),
            inv.errors.len()
        );
    }
    ExitCode::SUCCESS
}
