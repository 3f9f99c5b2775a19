//! `keycheck cache status | enforce` against real `ssh-agent`s: keys loaded without `-t`
//! are removed once the policy's window has passed (as `ssh-add -l` confirms), keys inside
//! it stay, and an agent restarted on the same socket starts a fresh clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use support::ssh_agent::SshAgent as Agent;

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(window: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".ssh")).unwrap();
        std::fs::write(
            dir.path().join("policy.toml"),
            format!("version = 1\n[cache]\nlaptop = \"{window}\"\n"),
        )
        .unwrap();
        World { dir }
    }

    fn key(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        support::run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(&path),
        );
        path
    }

    fn cache(&self, agent: &Agent, what: &str) -> (i32, Value) {
        let out = support::run(
            support::keycheck(self.dir.path())
                .args(["cache", what, "--format", "json", "--policy"])
                .arg(self.dir.path().join("policy.toml"))
                .env("SSH_AUTH_SOCK", &agent.socket)
                .env("KEYCHECK_STATE_DIR", self.dir.path().join("state")),
        );
        let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), doc)
    }
}

fn verdicts(doc: &Value) -> Vec<(String, String)> {
    doc["agents"][0]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["comment"].as_str().unwrap().to_owned(),
                i["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn keys_over_the_window_are_removed_and_the_others_stay() {
    support::require_tools();
    let w = World::new("2s");
    let agent = Agent::start(w.dir.path(), &[]);
    let (old, young) = (w.key("old"), w.key("young"));
    agent.add(&old);
    let (code, doc) = w.cache(&agent, "status");
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(verdicts(&doc), [("old".to_owned(), "ok".to_owned())]);
    assert_eq!(doc["agents"][0]["kind"]["agent"], "openssh", "{doc:#}");
    assert_eq!(doc["agents"][0]["pid"], agent.pid(), "{doc:#}");

    std::thread::sleep(Duration::from_millis(2200));
    agent.add(&young);
    // `status` reports but never removes.
    let (code, doc) = w.cache(&agent, "status");
    assert_eq!(code, 1, "{doc:#}");
    assert!(
        verdicts(&doc).contains(&("old".to_owned(), "expired".to_owned())),
        "{doc:#}"
    );
    assert!(agent.listed().contains(" old "), "{}", agent.listed());

    // Re-adding the old key does not reset keycheck's clock (it does reset OpenSSH's).
    agent.add(&old);
    let (code, doc) = w.cache(&agent, "enforce");
    assert_eq!(code, 0, "{doc:#}");
    let v = verdicts(&doc);
    assert!(
        v.contains(&("old".to_owned(), "removed".to_owned())),
        "{doc:#}"
    );
    assert!(
        v.contains(&("young".to_owned(), "ok".to_owned())),
        "{doc:#}"
    );
    let listed = agent.listed();
    assert!(!listed.contains(" old "), "{listed}");
    assert!(listed.contains(" young "), "{listed}");
}

#[test]
fn a_restarted_agent_on_the_same_socket_starts_a_fresh_clock() {
    support::require_tools();
    let w = World::new("2s");
    let key = w.key("k");
    let agent = Agent::start(w.dir.path(), &[]);
    agent.add(&key);
    w.cache(&agent, "status");
    std::thread::sleep(Duration::from_millis(2200));
    drop(agent);
    let agent = Agent::start(w.dir.path(), &[]);
    agent.add(&key);
    let (code, doc) = w.cache(&agent, "enforce");
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(verdicts(&doc), [("k".to_owned(), "ok".to_owned())]);
    assert!(agent.listed().contains(" k "));
}

#[test]
fn no_agent_is_not_an_error() {
    support::require_tools();
    let w = World::new("2h");
    let out = support::run(
        support::keycheck(w.dir.path())
            .args(["cache", "status"])
            .env_remove("SSH_AUTH_SOCK")
            .env("KEYCHECK_STATE_DIR", w.dir.path().join("state")),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no ssh-agent found"));
}

/// `keycheck check --format json` with `SSH_AUTH_SOCK` set; the rule ids found.
fn check_rules(w: &World, socket: &Path, gnupg: Option<&Path>) -> Vec<String> {
    let mut cmd = support::keycheck(w.dir.path());
    cmd.args(["check", "--format", "json"])
        .env("SSH_AUTH_SOCK", socket)
        .env("KEYCHECK_STATE_DIR", w.dir.path().join("state"));
    if let Some(home) = gnupg {
        cmd.env("GNUPGHOME", home);
    }
    let out = support::run(&mut cmd);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["agents"][0]["socket"],
        socket.display().to_string(),
        "{doc:#}"
    );
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn check_audits_how_long_each_agent_keeps_keys() {
    support::require_tools();
    let w = World::new("2h");
    let unbounded = ["agent-lifetime-unbounded".to_owned()];
    for (args, expect) in [
        (&[][..], &unbounded[..]),
        (&["-t", "4h"][..], &unbounded[..]),
        (&["-t", "1h"][..], &[][..]),
    ] {
        let agent = Agent::start(w.dir.path(), args);
        assert_eq!(
            check_rules(&w, &agent.socket, None),
            expect,
            "ssh-agent {args:?}"
        );
    }
}

#[test]
fn check_audits_gpg_agent_ttls() {
    support::require_tools();
    let w = World::new("2h");
    // GnuPG's socket paths are limited in length: keep its home short.
    let home = tempfile::Builder::new()
        .prefix("kc-gpg")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    for (conf, expect) in [
        ("default-cache-ttl-ssh 600\nmax-cache-ttl-ssh 14400\n", 1),
        ("default-cache-ttl-ssh 600\nmax-cache-ttl-ssh 3600\n", 0),
    ] {
        std::fs::write(home.path().join("gpg-agent.conf"), conf).unwrap();
        let started = Command::new("gpg-agent")
            .args(["--daemon", "--enable-ssh-support", "--homedir"])
            .arg(home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("gpg-agent must be installed: apt-get install gpg-agent");
        assert!(started.success());
        let socket = home.path().join("S.gpg-agent.ssh");
        let socket = if socket.exists() {
            socket
        } else {
            let out = Command::new("gpgconf")
                .args(["--homedir"])
                .arg(home.path())
                .args(["--list-dirs", "agent-ssh-socket"])
                .output()
                .unwrap();
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        };
        let found = check_rules(&w, &socket, Some(home.path()));
        let _ = Command::new("gpgconf")
            .args(["--homedir"])
            .arg(home.path())
            .args(["--kill", "gpg-agent"])
            .status();
        assert_eq!(
            found
                .iter()
                .filter(|r| *r == "agent-lifetime-unbounded")
                .count(),
            expect,
            "{conf}: {found:?}"
        );
    }
}
