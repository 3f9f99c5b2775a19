//! Carrying out the plan, one step at a time, asking first.
//!
//! Every change is recorded in the run's backup set before it is made, and every key
//! that is rewritten is copied there first. A rewrite happens on a copy beside the key
//! (`ssh-keygen -p` asks for the passphrases on the terminal; keycheck never sees them);
//! the copy replaces the key in one rename only once it is checked to be the same key,
//! encrypted, in the OpenSSH format with the policy's rounds. While a step changes a
//! file, SIGINT, SIGTERM and SIGHUP are held: the step is rolled back (the copy removed)
//! and the run stops. Between steps they stop the run at once, as usual.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use zeroize::Zeroizing;

use keycheck::fix::backup::{sha256_hex, Change};
use keycheck::fix::{rewrite, Action, Step};
use keycheck::inventory::Inventory;
use keycheck::report::human::shorten;
use keycheck::sshconfig::SshConfigFacts;
use keycheck::sys::fix_files::{self, BackupSet, TempCopy};
use keycheck::sys::scan;

/// Ends a step as failed, with a message.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err(Stop::Failed(anyhow!($($arg)*)))
    };
}

/// How the steps went.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Steps that failed (their files are as they were).
    pub(super) failed: usize,
    /// A signal stopped the run.
    pub(super) interrupted: bool,
}

/// The person's answer to "apply this step?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Yes,
    No,
    All,
    Quit,
}

/// Why a step did not complete.
enum Stop {
    /// It failed; the message says why (never key material).
    Failed(anyhow::Error),
    /// A signal came while it ran; it was rolled back.
    Interrupted,
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Stop {
        Stop::Failed(e)
    }
}

impl From<fix_files::FixFileError> for Stop {
    fn from(e: fix_files::FixFileError) -> Stop {
        Stop::Failed(e.into())
    }
}

/// A key about to be rewritten, as it is before.
struct Original<'k> {
    /// Its real path (links followed).
    real: &'k Path,
    /// Its bytes.
    bytes: &'k [u8],
    /// Its fingerprint, which the rewritten key must have.
    fingerprint: &'k str,
    /// SHA-256 of its bytes (hex).
    sha256: &'k str,
    /// Its permission bits.
    mode: u32,
}

/// Carries out steps.
pub(super) struct Runner<'a> {
    backups: BackupSet,
    inventory: &'a Inventory,
    home: Option<&'a str>,
    all: bool,
    signals: Signals,
    ssh_config: Option<Option<SshConfigFacts>>,
}

impl<'a> Runner<'a> {
    /// A runner recording into `backups`; `all` accepts every step without asking.
    pub(super) fn new(
        backups: BackupSet,
        inventory: &'a Inventory,
        home: Option<&'a str>,
        all: bool,
    ) -> Result<Runner<'a>> {
        Ok(Runner {
            backups,
            inventory,
            home,
            all,
            signals: Signals::install()?,
            ssh_config: None,
        })
    }

    /// The backup set, once the run is over.
    pub(super) fn finish(self) -> BackupSet {
        self.backups
    }

    /// Asks about and carries out each step in turn.
    pub(super) fn run(&mut self, steps: &[Step]) -> Outcome {
        let mut outcome = Outcome::default();
        for (i, step) in steps.iter().enumerate() {
            println!();
            println!(
                "step {}/{}: {} {}: {}",
                i + 1,
                steps.len(),
                step.action.name(),
                self.short(step.action.path()),
                step.action.describe()
            );
            println!("   run: {}", step.command);
            if !self.all {
                match ask() {
                    Answer::Yes => {}
                    Answer::All => self.all = true,
                    Answer::No => {
                        println!("   skipped");
                        continue;
                    }
                    Answer::Quit => {
                        println!("   stopped here; the remaining steps were not run");
                        break;
                    }
                }
            }
            let done = match &step.action {
                Action::Chmod { path, from, to } => self.chmod(path, step.escaped, *from, *to),
                Action::Reencrypt { key, rounds } => self.reencrypt(key, step.escaped, *rounds),
                Action::Replace {
                    old,
                    new_path,
                    args,
                    ..
                } => self.replace(old, new_path, step.escaped, args),
            };
            match done {
                Ok(()) => {}
                Err(Stop::Failed(e)) => {
                    outcome.failed += 1;
                    println!("   failed: {e:#}");
                }
                Err(Stop::Interrupted) => {
                    outcome.interrupted = true;
                    break;
                }
            }
            if self.signals.caught() {
                outcome.interrupted = true;
                break;
            }
        }
        outcome
    }

    fn short(&self, path: &str) -> String {
        shorten(path, self.home)
    }

    /// Takes away the bits the plan takes away (`from` less `to`) from the mode the file
    /// has now, after recording it.
    fn chmod(&mut self, shown: &str, escaped: bool, from: u32, to: u32) -> Result<(), Stop> {
        let path = scan::path_from_display(shown, escaped);
        let meta = fs::symlink_metadata(&path).with_context(|| shown.to_owned())?;
        let now = meta.mode() & 0o7777;
        let new = now & !(from & !to);
        if new == now {
            println!("   already {:o}: nothing to do", new);
            return Ok(());
        }
        self.signals.clone().critical(|| {
            self.backups.record(Change::Chmod {
                path: scan::display_path(&path),
                escaped: scan::needs_escapes(path.as_os_str().as_encoded_bytes()),
                from: now,
                to: new,
            })?;
            fix_files::set_mode(&path, new)?;
            Ok::<_, Stop>(())
        })?;
        println!("   done: {} is now {:o}", self.short(shown), new);
        Ok(())
    }

    /// Adds or changes the passphrase through `ssh-keygen -p` on a copy, which replaces
    /// the key once checked.
    fn reencrypt(&mut self, shown: &str, escaped: bool, rounds: u32) -> Result<(), Stop> {
        let given = scan::path_from_display(shown, escaped);
        // A link to a key: the key itself is rewritten, where it is.
        let real = fs::canonicalize(&given).with_context(|| shown.to_owned())?;
        let meta = fs::metadata(&real).with_context(|| real.display().to_string())?;
        if !meta.is_file() {
            fail!("{}: not a regular file", real.display());
        }
        let uid = rustix::process::geteuid().as_raw();
        if meta.uid() != uid {
            fail!(
                "{}: belongs to user {}, not to you; keycheck rewrites only your own files",
                real.display(),
                meta.uid()
            );
        }
        let mode = meta.mode() & 0o7777;
        let original =
            scan::read_key_file(&real).map_err(|reason| anyhow!("{}: {reason}", real.display()))?;
        let public = read_public(&real).or_else(|| read_public(&given));
        let expected = match rewrite::fingerprint(&original, public.as_deref().map(|p| &p[..])) {
            Some(fp) => fp,
            None => public_from_ssh_keygen(&real)?,
        };
        let before = sha256_hex(&original);

        let signals = self.signals.clone();
        signals.critical(|| {
            let kept = self.backups.keep(&real, &original)?;
            fault_point("kept");
            let key = Original {
                real: &real,
                bytes: &original,
                fingerprint: &expected,
                sha256: &before,
                mode,
            };
            let rewritten = self.rewrite(&key, &kept, rounds);
            if rewritten.is_err() {
                self.backups.discard(&kept);
            }
            rewritten
        })?;
        println!(
            "   done: {} now has a passphrase, in the OpenSSH format with {rounds} bcrypt rounds",
            self.short(shown)
        );
        if meta.nlink() > 1 {
            println!(
                "   warning: {} had {} other hard links; they still hold the key as it was: delete them",
                real.display(),
                meta.nlink() - 1
            );
        }
        Ok(())
    }

    /// The rewrite itself, the original kept as `kept`: the copy, `ssh-keygen -p` on it,
    /// its check, the record, the rename.
    fn rewrite(&mut self, key: &Original<'_>, kept: &str, rounds: u32) -> Result<(), Stop> {
        let real = key.real;
        let copy = TempCopy::create(real, key.bytes)?;
        fault_point("copied");
        let status = Command::new("ssh-keygen")
            .args(["-p", "-o", "-a", &rounds.to_string(), "-f"])
            .arg(copy.path())
            .status()
            .context("running ssh-keygen")?;
        if self.signals.caught() {
            return Err(Stop::Interrupted);
        }
        if !status.success() {
            return Err(Stop::Failed(anyhow!(
                "ssh-keygen did not change the passphrase ({status}); {} is unchanged",
                real.display()
            )));
        }
        fault_point("rewritten");
        let new = copy.read()?;
        rewrite::check(key.fingerprint, rounds, &new)
            .with_context(|| format!("{} is unchanged", real.display()))?;
        fault_point("checked");
        let now =
            scan::read_key_file(real).map_err(|reason| anyhow!("{}: {reason}", real.display()))?;
        if sha256_hex(&now) != key.sha256 {
            return Err(Stop::Failed(anyhow!(
                "{} changed while ssh-keygen ran; left as it is now",
                real.display()
            )));
        }
        self.backups.record(Change::Rewrite {
            path: scan::display_path(real),
            escaped: scan::needs_escapes(real.as_os_str().as_encoded_bytes()),
            backup: kept.to_owned(),
            mode: key.mode,
            sha256_before: key.sha256.to_owned(),
            sha256_after: sha256_hex(&new),
        })?;
        fault_point("recorded");
        copy.replace(real, key.mode & 0o600)?;
        fault_point("replaced");
        Ok(())
    }

    /// Makes a replacement key beside `old` and says how to move over to it.
    fn replace(
        &mut self,
        old: &str,
        new_shown: &str,
        escaped: bool,
        args: &[String],
    ) -> Result<(), Stop> {
        let new = scan::path_from_display(new_shown, escaped);
        let new_pub = with_suffix(&new, ".pub");
        for taken in [&new, &new_pub] {
            if taken.symlink_metadata().is_ok() {
                fail!(
                    "{} exists now; keycheck never writes over a file (run keycheck fix again for a free name)",
                    taken.display()
                );
            }
        }
        let status = self.signals.clone().critical(|| {
            Command::new("ssh-keygen")
                .args(args)
                .arg("-f")
                .arg(&new)
                .status()
                .context("running ssh-keygen")
        })?;
        if self.signals.caught() {
            return Err(Stop::Interrupted);
        }
        if !status.success() || !new.is_file() {
            fail!("ssh-keygen did not make the new key ({status})");
        }
        self.backups.record(Change::Replace {
            old: old.to_owned(),
            new_path: scan::display_path(&new),
        })?;
        self.explain_replacement(old, new_shown, &new_pub);
        Ok(())
    }

    /// The new public key and the steps to move over to it.
    fn explain_replacement(&mut self, old: &str, new_shown: &str, new_pub: &Path) {
        let old_short = self.short(old);
        let new_short = self.short(new_shown);
        println!("   done: made {new_short}");
        match scan::read_key_file(new_pub) {
            Ok(bytes) => println!(
                "   its public key ({new_short}.pub):\n     {}",
                printable(String::from_utf8_lossy(&bytes).trim())
            ),
            Err(reason) => println!("   {}: {reason}", new_pub.display()),
        }
        let comment = self
            .inventory
            .keys
            .iter()
            .find(|k| k.path == old)
            .and_then(|k| k.facts.comment.clone());
        if let Some(comment) = comment.filter(|c| !c.is_empty()) {
            println!(
                "   the old key's comment, a hint of where it is used: {}",
                printable(&comment)
            );
        }
        let entries = self.identity_file_entries(old);
        println!("   to move over to it:");
        println!(
            "     1. add {new_short}.pub wherever {old_short} is registered: each server's ~/.ssh/authorized_keys (ssh-copy-id -i {new_short}.pub HOST, while the old key still works) and your forges' SSH key settings"
        );
        if entries.is_empty() {
            println!(
                "     2. if your ssh config or scripts name {old_short}, point them at {new_short}"
            );
        } else {
            println!("     2. point these IdentityFile entries at {new_short}:");
            for entry in &entries {
                println!("          {entry}");
            }
        }
        println!(
            "     3. log in with the new key alone: ssh -o IdentitiesOnly=yes -i {new_short} HOST"
        );
        println!(
            "     4. then remove {old_short}'s public key from those places and retire {old_short} (delete it, or move it out of ~/.ssh)"
        );
    }

    /// `file:line: IdentityFile WRITTEN (Host H)` for each entry of the ssh config that
    /// names `old`.
    fn identity_file_entries(&mut self, old: &str) -> Vec<String> {
        let config = self.ssh_config.get_or_insert_with(|| {
            if let Some(config) = &self.inventory.ssh_config {
                return Some(config.clone());
            }
            let home = directories::BaseDirs::new()?.home_dir().to_path_buf();
            keycheck::sys::sshconfig::read_ssh_config(Path::new("ssh"), &home, None).ok()
        });
        let Some(config) = config else {
            return Vec::new();
        };
        let mut entries: Vec<String> = config
            .hosts
            .iter()
            .flat_map(|h| h.identity_files.iter().map(move |f| (h, f)))
            .filter(|(_, f)| f.path == old)
            .filter_map(|(h, f)| {
                let source = f.source.as_ref()?;
                let at = match source.line {
                    Some(line) => format!("{}:{line}", shorten(&source.file, self.home)),
                    None => shorten(&source.file, self.home),
                };
                Some(format!(
                    "{at}: IdentityFile {} (Host {})",
                    printable(&f.written),
                    printable(&h.host)
                ))
            })
            .collect();
        entries.sort();
        entries.dedup();
        entries
    }
}

/// `text` with control characters shown as `\\u{NN}`: a key's comment is the file's,
/// and must not drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `path` with `suffix` added to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The `.pub` beside `key`, if there is one that can be read.
fn read_public(key: &Path) -> Option<Zeroizing<Vec<u8>>> {
    scan::read_key_file(&with_suffix(key, ".pub")).ok()
}

/// The fingerprint of the key in `key` from `ssh-keygen -y` (it asks for the
/// passphrase: the file hides its public key and no `.pub` is beside it).
fn public_from_ssh_keygen(key: &Path) -> Result<String> {
    println!(
        "   the file hides its public key and no .pub is beside it: ssh-keygen asks for the passphrase to show it, so the rewritten key can be checked against it"
    );
    let out = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(key)
        .stdout(Stdio::piped())
        .output()
        .context("running ssh-keygen -y")?;
    if !out.status.success() {
        bail!(
            "ssh-keygen could not read the public key of {} ({}); it is unchanged",
            key.display(),
            out.status
        );
    }
    rewrite::fingerprint(&out.stdout, None).ok_or_else(|| {
        anyhow!(
            "ssh-keygen -y printed no public key for {}; it is unchanged",
            key.display()
        )
    })
}

/// Where a rewrite may be killed by the fault tests: in debug builds only,
/// `KEYCHECK_TEST_KILL_AT=POINT` sends the process SIGKILL when it reaches `POINT`
/// (`kept`, `copied`, `rewritten`, `checked`, `recorded`, `replaced`). Release builds
/// have no such hook.
fn fault_point(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os("KEYCHECK_TEST_KILL_AT").is_some_and(|p| p == point) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

/// Asks "apply this step?" on the terminal; no answer (end of input) is quit.
fn ask() -> Answer {
    loop {
        print!("   apply? [y]es / [n]o / [a]ll / [q]uit (default no): ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => {
                println!();
                return Answer::Quit;
            }
            Ok(_) => {}
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Answer::Yes,
            "" | "n" | "no" => return Answer::No,
            "a" | "all" => return Answer::All,
            "q" | "quit" => return Answer::Quit,
            other => println!("   {other:?}: answer y, n, a or q"),
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP: outside a step they end the process as usual; inside
/// one they are held until it is over (and rolled back).
#[derive(Clone)]
struct Signals {
    outside: Arc<AtomicBool>,
    caught: Arc<AtomicBool>,
}

impl Signals {
    fn install() -> Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let outside = Arc::new(AtomicBool::new(true));
        let caught = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            signal_hook::flag::register(signal, Arc::clone(&caught))
                .context("setting up signal handling")?;
            signal_hook::flag::register_conditional_default(signal, Arc::clone(&outside))
                .context("setting up signal handling")?;
        }
        Ok(Signals { outside, caught })
    }

    /// Runs `f` with the signals held.
    fn critical<T>(&self, f: impl FnOnce() -> T) -> T {
        self.outside.store(false, Ordering::SeqCst);
        let result = f();
        self.outside.store(true, Ordering::SeqCst);
        result
    }

    /// A signal came while held.
    fn caught(&self) -> bool {
        self.caught.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn comments_cannot_drive_the_terminal() {
        assert_eq!(super::printable("me@laptop"), "me@laptop");
        assert_eq!(
            super::printable("a\u{1b}]0;owned\u{7}\nb"),
            "a\\u{1b}]0;owned\\u{7}\\u{a}b"
        );
    }
}
