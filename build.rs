//! Build script: the commit `keycheck --version` shows, and the man pages and shell
//! completions the packages install, written from the command line's own definition.
//!
//! Into `OUT_DIR`:
//! - `man/keycheck.1` and one page per subcommand (`keycheck-check.1`, ...);
//! - `completions/keycheck.bash`, `completions/_keycheck` (zsh), `completions/keycheck.fish`.
//!
//! `scripts/package.sh` copies them out of the release build for cargo-deb and
//! cargo-generate-rpm.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory as _;
use clap_complete::Shell;

/// The definition the binary parses with, included as is.
#[allow(dead_code, unreachable_pub)]
#[path = "src/cli/args.rs"]
mod args;

/// The version the included definition names (the binary adds the commit).
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[allow(clippy::disallowed_macros)] // a build script speaks to cargo on stdout
fn main() -> std::io::Result<()> {
    println!("cargo::rerun-if-changed=src/cli/args.rs");
    println!("cargo::rerun-if-env-changed=KEYCHECK_BUILD_COMMIT");
    let commit = build_commit();
    println!("cargo::rustc-env=KEYCHECK_BUILD_COMMIT={commit}");

    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "cargo sets OUT_DIR")
        })?);
    let version: &'static str = Box::leak(format!("{VERSION} ({commit})").into_boxed_str());
    let cli = args::Cli::command().version(version);

    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    clap_mangen::generate_to(cli.clone(), &man)?;

    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cli.clone(), "keycheck", &completions)?;
    }
    Ok(())
}

/// `KEYCHECK_BUILD_COMMIT` when set (a build from a source tarball can name its commit),
/// else the checkout's commit (12 hex digits), else `unknown commit`.
#[allow(clippy::disallowed_macros)]
fn build_commit() -> String {
    if let Some(commit) = std::env::var("KEYCHECK_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
    {
        return format!("commit {}", commit.trim());
    }
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status.success().then_some(())?;
        let text = String::from_utf8(out.stdout).ok()?;
        Some(text.trim().to_owned()).filter(|t| !t.is_empty())
    };
    // Run again when HEAD moves: HEAD itself, the branch it names, and packed refs.
    for path in ["HEAD", "packed-refs"]
        .into_iter()
        .map(str::to_owned)
        .chain(git(&["symbolic-ref", "-q", "HEAD"]))
    {
        if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
            let file = Path::new(&file);
            if file.exists() {
                println!("cargo::rerun-if-changed={}", file.display());
            }
        }
    }
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => format!("commit {commit}"),
        None => "unknown commit".to_owned(),
    }
}
