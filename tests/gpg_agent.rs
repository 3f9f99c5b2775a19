//! `keycheck cache enforce` against a real gpg-agent that holds a passphrase-protected
//! ed25519 key and caches its passphrase: gpg-agent ignores remove requests, so keycheck
//! clears its cache (`RELOADAGENT`) and says so, and it clears the cache of the gpg-agent
//! behind the socket it handles, not the one `GNUPGHOME` names.
//!
//! Each gpg-agent runs in its own short temp home (GnuPG's socket paths are limited in
//! length) with a stub pinentry that answers the Assuan pinentry protocol and logs the
//! command of each request (never its arguments), and is killed at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The throwaway passphrase of the test key file (ssh-add reads it through SSH_ASKPASS).
const KEY_PASS: &str = "kc-key-pass-1";

/// The throwaway passphrase gpg-agent protects the key with (its pinentry answers it).
const PROTECT_PASS: &str = "Kc-protect-9x!";

/// A command's time limit in this file.
const LIMIT: Duration = Duration::from_secs(20);

/// A gpg-agent with ssh support in its own temp home; killed on drop.
struct GpgAgent {
    home: tempfile::TempDir,
    socket: PathBuf,
}

impl GpgAgent {
    fn start(prefix: &str) -> GpgAgent {
        let home = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let pinentry = home.path().join("pinentry");
        let log = home.path().join("pinentry.log");
        // The Assuan pinentry protocol (pinentry's doc/pinentry.texi): greet with OK, answer
        // GETPIN with a data line and OK, everything else (OPTION, GETINFO, SETDESC,
        // SETPROMPT, SETREPEAT, ...) with OK, and end on BYE.
        std::fs::write(
            &pinentry,
            format!(
                "#!/bin/sh\n\
                 echo 'OK Pleased to meet you'\n\
                 while IFS= read -r line; do\n\
                 \x20 cmd=${{line%% *}}\n\
                 \x20 echo \"$cmd\" >> '{log}'\n\
                 \x20 case \"$cmd\" in\n\
                 \x20   GETPIN) echo 'D {PROTECT_PASS}'; echo OK ;;\n\
                 \x20   BYE) echo OK; exit 0 ;;\n\
                 \x20   *) echo OK ;;\n\
                 \x20 esac\n\
                 done\n",
                log = log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&pinentry, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(
            home.path().join("gpg-agent.conf"),
            format!(
                "enable-ssh-support\npinentry-program {}\ndefault-cache-ttl-ssh 3600\n\
                 max-cache-ttl-ssh 7200\n",
                pinentry.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("gpg-agent")
            .arg("--homedir")
            .arg(home.path())
            .arg("--daemon")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gpg-agent must be installed: apt-get install gpg-agent");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("gpg-agent --daemon did not return within {LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "gpg-agent --daemon: {status}");
        let out = bounded(
            Command::new("gpgconf")
                .arg("--homedir")
                .arg(home.path())
                .args(["--list-dirs", "agent-ssh-socket"]),
        );
        let socket = PathBuf::from(out.stdout.trim());
        support::wait_for_listener(&socket);
        GpgAgent { home, socket }
    }

    /// A passphrase-protected ed25519 key, `ssh-add`ed: ssh-add reads the file's passphrase
    /// from a stub SSH_ASKPASS, and gpg-agent asks its pinentry for a protection passphrase.
    fn add_key(&self, name: &str) -> String {
        let key = support::keygen(self.home.path(), name, "ed25519", KEY_PASS, &[]);
        let askpass = self.home.path().join("askpass");
        std::fs::write(&askpass, format!("#!/bin/sh\necho '{KEY_PASS}'\n")).unwrap();
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
        let out = bounded(
            Command::new("ssh-add")
                .arg(&key)
                .env("SSH_AUTH_SOCK", &self.socket)
                .env("SSH_ASKPASS", &askpass)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env_remove("DISPLAY"),
        );
        assert_eq!(out.code, 0, "ssh-add into gpg-agent: {}", out.stderr);
        support::ssh_keygen_l(&key.with_extension("pub"))
            .expect("ssh-keygen -l of the public key")
            .fingerprint
    }

    /// `ssh-add -l -E sha256` through the agent's socket.
    fn listed(&self) -> String {
        bounded(
            Command::new("ssh-add")
                .args(["-l", "-E", "sha256"])
                .env("SSH_AUTH_SOCK", &self.socket),
        )
        .stdout
    }

    /// The cached flag of each key gpg-agent holds (`KEYINFO --list`, field 7: `1` when its
    /// passphrase is cached, `-` otherwise; gpg-agent(1), "KEYINFO").
    fn cached_flags(&self) -> Vec<String> {
        let out = bounded(
            Command::new("gpg-connect-agent")
                .arg("--no-autostart")
                .arg("--homedir")
                .arg(self.home.path())
                .args(["KEYINFO --list", "/bye"]),
        );
        let flags: Vec<String> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("S KEYINFO "))
            .map(|l| l.split_whitespace().nth(6).unwrap_or_default().to_owned())
            .collect();
        assert!(!flags.is_empty(), "no KEYINFO lines: {}", out.stdout);
        flags
    }

    /// The commands the pinentry stub was asked.
    fn pinentry_calls(&self) -> String {
        std::fs::read_to_string(self.home.path().join("pinentry.log")).unwrap_or_default()
    }
}

impl Drop for GpgAgent {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "gpg-agent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs a command with stdin closed and the file's time limit.
fn bounded(cmd: &mut Command) -> support::RunResult {
    support::run_with_deadline(cmd, LIMIT)
}

/// `keycheck cache WHAT` with the agent's socket, a 2 s window, a private state dir and
/// `GNUPGHOME` pointing at another agent's home.
fn keycheck_cache(
    world: &Path,
    agent: &GpgAgent,
    gnupghome: &Path,
    args: &[&str],
) -> support::RunResult {
    let mut cmd = support::keycheck(world);
    cmd.arg("cache")
        .args(args)
        .arg("--policy")
        .arg(world.join("policy.toml"))
        .env("SSH_AUTH_SOCK", &agent.socket)
        .env("GNUPGHOME", gnupghome)
        .env("KEYCHECK_STATE_DIR", world.join("state"));
    support::run_with_deadline(&mut cmd, LIMIT)
}

#[test]
fn enforce_clears_the_cache_of_the_gpg_agent_behind_the_socket() {
    support::require_tools();
    let world = tempfile::tempdir().unwrap();
    std::fs::write(
        world.path().join("policy.toml"),
        "version = 1\n[cache]\nlaptop = \"2s\"\n",
    )
    .unwrap();

    let agent = GpgAgent::start("kc-g1");
    let fingerprint = agent.add_key("held");
    // The key is held and its protection passphrase cached.
    assert!(agent.listed().contains(&fingerprint), "{}", agent.listed());
    assert_eq!(agent.cached_flags(), ["1"]);
    let calls = agent.pinentry_calls();
    assert!(
        calls.contains("GETPIN"),
        "pinentry was never asked: {calls}"
    );

    // Another gpg-agent, the one GNUPGHOME names: a plain `gpg-connect-agent reloadagent`
    // would clear this one instead.
    let bystander = GpgAgent::start("kc-g2");
    bystander.add_key("other");
    assert_eq!(bystander.cached_flags(), ["1"]);

    let status = keycheck_cache(
        world.path(),
        &agent,
        bystander.home.path(),
        &["status", "--format", "json"],
    );
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["agents"][0]["kind"]["agent"], "gpg-agent", "{doc:#}");
    assert_eq!(
        doc["agents"][0]["identities"][0]["fingerprint"],
        fingerprint.as_str()
    );
    assert_eq!(
        doc["agents"][0]["identities"][0]["verdict"], "ok",
        "{doc:#}"
    );

    std::thread::sleep(Duration::from_millis(2200));
    let enforce = keycheck_cache(world.path(), &agent, bystander.home.path(), &["enforce"]);
    assert_eq!(enforce.code, 0, "{}{}", enforce.stdout, enforce.stderr);
    assert!(
        enforce
            .stdout
            .contains("gpg-agent ignores remove requests: its cached passphrases were cleared"),
        "{}",
        enforce.stdout
    );
    assert!(
        enforce.stdout.contains(&format!("cleared  {fingerprint}")),
        "{}",
        enforce.stdout
    );
    for secret in [KEY_PASS, PROTECT_PASS] {
        assert!(!enforce.stdout.contains(secret) && !enforce.stderr.contains(secret));
    }

    // The passphrase is no longer cached; gpg-agent still lists the key (it ignores
    // removal), and the bystander's cache is untouched.
    assert_eq!(agent.cached_flags(), ["-"]);
    assert!(agent.listed().contains(&fingerprint), "{}", agent.listed());
    assert_eq!(bystander.cached_flags(), ["1"]);

    // A cleared key is a new unlock: its window starts again.
    let again = keycheck_cache(
        world.path(),
        &agent,
        bystander.home.path(),
        &["status", "--format", "json"],
    );
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let doc: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(
        doc["agents"][0]["identities"][0]["verdict"], "ok",
        "{doc:#}"
    );
}
