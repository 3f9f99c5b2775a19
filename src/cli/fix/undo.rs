//! `keycheck fix --undo`: put back what the last run changed, from its backup set.
//!
//! Each change is looked at as its file is now ([`keycheck::fix::backup::undo`]): a key
//! keycheck rewrote is restored byte for byte (a file changed since is kept in the set
//! first, never lost); a mode goes back only if nobody changed it since; replacement
//! keys are never deleted. The set is then marked undone, so a second `--undo` goes no
//! further back than the run before.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use keycheck::fix::backup::{self, Change, Undo};
use keycheck::inventory::format_mode;
use keycheck::sys::fix_files;
use keycheck::sys::scan;

pub(super) fn run(state_dir: &Path, yes: bool) -> Result<ExitCode> {
    let _lock = fix_files::lock(state_dir)?;
    let Some((dir, mut manifest)) = fix_files::latest(state_dir)? else {
        println!("nothing to undo: no keycheck fix run has changes left to undo");
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "undo the keycheck fix of {} (backups in {}):",
        manifest.created_at,
        dir.display()
    );
    // Last change first: a key rewritten after its mode was tightened goes back before
    // its mode does.
    let decisions: Vec<Undo> = manifest
        .changes
        .iter()
        .rev()
        .map(|change| {
            let (path, escaped) = path_of(change);
            backup::undo(
                change,
                &fix_files::current(&scan::path_from_display(path, escaped)),
            )
        })
        .collect();
    for decision in &decisions {
        match decision {
            Undo::SetMode { path, mode, .. } => {
                println!("  chmod {path} back to {}", format_mode(*mode));
            }
            Undo::Restore {
                path, keep_current, ..
            } => {
                println!("  restore {path} as it was");
                if *keep_current {
                    println!("     it changed since the fix: the file as it is now is kept in the backup folder first");
                }
            }
            Undo::Leave { path, reason } => println!("  leave {path}: {reason}"),
        }
    }
    let actions = decisions
        .iter()
        .filter(|d| !matches!(d, Undo::Leave { .. }))
        .count();
    if actions > 0 && !yes && !confirm()? {
        println!("nothing was changed");
        return Ok(ExitCode::SUCCESS);
    }

    let mut failed = 0;
    for decision in &decisions {
        if let Err(e) = carry_out(decision, &dir, manifest.changes.len() + 1) {
            failed += 1;
            println!("  failed: {e:#}");
        }
    }
    manifest.undone_at = Some(crate::cli::rfc3339_now(true));
    fix_files::save_manifest(&dir, &manifest)?;
    if failed > 0 {
        eprintln!(
            "keycheck: {failed} change(s) could not be undone (see above); the backups stay in {}",
            dir.display()
        );
        return Ok(ExitCode::from(2));
    }
    println!(
        "undone; the backups stay in {} until you delete them",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The path a change is about, and whether it holds `\\xNN` escapes.
fn path_of(change: &Change) -> (&str, bool) {
    match change {
        Change::Chmod { path, escaped, .. } | Change::Rewrite { path, escaped, .. } => {
            (path, *escaped)
        }
        Change::Replace { new_path, .. } => (new_path, false),
    }
}

fn carry_out(decision: &Undo, dir: &Path, next: usize) -> Result<()> {
    match decision {
        Undo::SetMode {
            path,
            escaped,
            mode,
        } => {
            fix_files::set_mode(&scan::path_from_display(path, *escaped), *mode)?;
            println!("  done: {path} is {} again", format_mode(*mode));
        }
        Undo::Restore {
            path,
            escaped,
            backup,
            mode,
            keep_current,
        } => {
            let real = scan::path_from_display(path, *escaped);
            let original = fix_files::read_backup(dir, backup)?;
            if *keep_current {
                let now = scan::read_key_file(&real)
                    .map_err(|reason| anyhow::anyhow!("{path}: {reason}; left as it is"))?;
                let base = real.file_name().map_or_else(
                    || "file".to_owned(),
                    |n| format!("{}.before-undo", n.to_string_lossy()),
                );
                let kept = fix_files::keep_in(dir, &base, next, &now)?;
                println!(
                    "  kept {path} as it was before the undo: {}",
                    dir.join(kept).display()
                );
            }
            fix_files::restore(&real, &original, *mode)?;
            println!("  done: {path} restored");
        }
        Undo::Leave { .. } => {}
    }
    Ok(())
}

/// Asks once before undoing; needs a terminal.
fn confirm() -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("keycheck fix --undo asks before it changes anything and standard input is not a terminal: pass --yes; nothing was changed");
    }
    print!("undo these changes? [y/N]: ");
    std::io::stdout().flush().context("writing the question")?;
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the answer")?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
