//! `keycheck policy show | check | init`, and loading the layered policy for the other
//! subcommands.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use keycheck::policy::{self, LayerKind, Policy, Source};
use keycheck::sys::policy_files;

use super::PolicyCommand;

/// The policy in force: built-in, organisation, user, then `extra` (`--policy FILE`).
pub(super) fn load(extra: Option<&Path>) -> Result<Policy> {
    let files = policy_files::read_layers(extra)?;
    let mut sources = vec![Source {
        kind: LayerKind::Builtin,
        name: "built-in policy",
        text: policy::BUILTIN,
    }];
    sources.extend(files.iter().map(|f| Source {
        kind: f.kind,
        name: &f.name,
        text: &f.text,
    }));
    Ok(Policy::from_sources(&sources)?)
}

pub(super) fn run(command: &PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Show { policy } => {
            let merged = load(policy.as_deref())?;
            let mut out = std::io::stdout().lock();
            out.write_all(merged.show().as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Check { files, as_user } => check(files, *as_user),
        PolicyCommand::Init { path, force } => init(path.as_deref(), *force),
    }
}

/// Validates each file as a layer over the built-in policy: as the organisation's file
/// (it may set anything), or with `--as-user` as a user's file (loosening is reported).
fn check(files: &[PathBuf], as_user: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut bad = false;
    for path in files {
        let name = path.display().to_string();
        let text = match policy_files::read_policy_file(path) {
            Ok(text) => text,
            Err(e) => {
                writeln!(out, "{e}")?;
                bad = true;
                continue;
            }
        };
        let kind = if as_user {
            LayerKind::User
        } else {
            LayerKind::Organisation
        };
        let sources = [
            Source {
                kind: LayerKind::Builtin,
                name: "built-in policy",
                text: policy::BUILTIN,
            },
            Source {
                kind,
                name: &name,
                text: &text,
            },
        ];
        match Policy::from_sources(&sources) {
            Ok(p) if p.ignored.is_empty() => writeln!(out, "{name}: valid")?,
            Ok(p) => {
                for l in &p.ignored {
                    writeln!(out, "{}: {}: {}", l.at, l.key, l.message)?;
                }
                writeln!(
                    out,
                    "{name}: valid, but {} setting(s) would be ignored as a user's file",
                    p.ignored.len()
                )?;
                bad = true;
            }
            Err(e) => {
                for d in e.diagnostics() {
                    writeln!(out, "{d}")?;
                }
                writeln!(out, "{name}: {} problem(s)", e.diagnostics().len())?;
                bad = true;
            }
        }
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes the commented template (the built-in policy) to `path`, by default the user's
/// policy file; never over an existing file unless `force`.
fn init(path: Option<&Path>, force: bool) -> Result<ExitCode> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => {
            policy_files::user_path().context("cannot find your config directory; give a path")?
        }
    };
    if path.as_os_str() == "-" {
        std::io::stdout()
            .lock()
            .write_all(policy::BUILTIN.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if !force && std::fs::symlink_metadata(&path).is_ok() {
        bail!(
            "{} already exists; keycheck will not overwrite it (use --force)",
            path.display()
        );
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, policy::BUILTIN)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(
        std::io::stdout().lock(),
        "wrote the policy template to {}",
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
