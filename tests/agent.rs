//! The background agent (`keycheck agent`) on a temp HOME: it sees changes to ~/.ssh and
//! the policy as they happen, writes what it saw for `keycheck status`, runs once per
//! user, keeps the last good policy, and stops promptly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{keycheck, keygen, require_tools, set_mode, write_file};

/// A running `keycheck agent` on a temp HOME, killed when dropped.
struct RunningAgent {
    child: Option<Child>,
    home: PathBuf,
    log: PathBuf,
}

impl RunningAgent {
    fn start(home: &Path, args: &[&str]) -> RunningAgent {
        Self::start_with(home, args, &[])
    }

    fn start_with(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> RunningAgent {
        let log = home.join(format!("agent-{}.log", unique()));
        let mut cmd = keycheck(home);
        cmd.arg("agent")
            .args(args)
            .env("KEYCHECK_LOG", "debug")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = cmd.spawn().unwrap();
        let agent = RunningAgent {
            child: Some(child),
            home: home.to_path_buf(),
            log,
        };
        agent.wait_for("the first check", Duration::from_secs(20), |_| true);
        agent
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn state_file(&self) -> PathBuf {
        self.home.join(".local/state/keycheck/agent-state.json")
    }

    fn state(&self) -> Option<Value> {
        let bytes = std::fs::read(self.state_file()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Returns true once the agent's log holds `text`, false if it does not within
    /// `WAIT` (the agent acts before it writes the line: a test that saw the action
    /// may be ahead of the log).
    fn logged(&self, text: &str) -> bool {
        let started = Instant::now();
        while started.elapsed() < WAIT {
            if self.log().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Waits until the state written by this agent satisfies `pred`; fails the test with
    /// the agent's log after `timeout`.
    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            if let Some(state) = self.state() {
                if state["pid"].as_u64() == Some(u64::from(self.pid())) && pred(&state) {
                    return state;
                }
            }
            assert!(
                started.elapsed() < timeout,
                "waited {timeout:?} for {what}; last state: {:#}\nagent log:\n{}",
                self.state().unwrap_or(Value::Null),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and returns the exit status and how long the agent took to exit.
    fn stop(mut self) -> (ExitStatus, Duration) {
        self.signal("TERM");
        let started = Instant::now();
        let mut child = self.child.take().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("the agent ignored SIGTERM for 10 s; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn temp_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    set_mode(&home.path().join(".ssh"), 0o700);
    home
}

fn findings(state: &Value) -> &[Value] {
    state["check"]["findings"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

fn has_finding(state: &Value, path: &Path, rule: &str) -> bool {
    let path = path.to_str().unwrap();
    findings(state)
        .iter()
        .any(|f| f["path"] == path && f["rule"] == rule)
}

const WAIT: Duration = Duration::from_secs(15);

#[test]
fn sees_a_new_key_at_once_and_status_shows_it() {
    require_tools();
    let home = temp_home();
    let agent = RunningAgent::start(home.path(), &[]);
    let first = agent.wait_for("an empty first check", WAIT, |_| true);
    assert_eq!(first["check"]["summary"]["keys"], 0, "{first:#}");

    let key = keygen(&home.path().join(".ssh"), "id_ed25519", "ed25519", "", &[]);
    let state = agent.wait_for("the new key's finding", WAIT, |s| {
        has_finding(s, &key, "passphrase-missing")
    });
    assert_eq!(state["check"]["summary"]["private"], 1, "{state:#}");

    let out = keycheck(home.path()).arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("running (pid {})", agent.pid())),
        "{text}"
    );
    assert!(text.contains("passphrase-missing"), "{text}");
    assert!(text.contains("fix: ssh-keygen -p"), "{text}");
    // The same finding is in keycheck.db for osquery.
    let db = home.path().join(".local/state/keycheck/keycheck.db");
    let rows = Command::new("sqlite3")
        .arg("-readonly")
        .arg(&db)
        .arg("SELECT rule, key_path FROM findings;")
        .output()
        .unwrap();
    let rows = String::from_utf8_lossy(&rows.stdout);
    assert!(
        rows.contains(&format!("passphrase-missing|{}", key.display())),
        "{rows}"
    );

    let (status, _) = agent.stop();
    assert!(status.success(), "{status:?}");
    let out = keycheck(home.path()).arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not running"), "{text}");
}

#[test]
fn under_systemd_without_a_journal_it_logs_to_stderr_and_says_so() {
    require_tools();
    let home = temp_home();
    let journal = Path::new("/run/systemd/journal/socket");
    assert!(
        !journal.exists(),
        "this test is for a machine without journald; here logs go to the journal"
    );
    let agent = RunningAgent::start_with(home.path(), &[], &[("JOURNAL_STREAM", "8:12345")]);
    let log = agent.log();
    assert!(log.contains("journald unavailable"), "{log}");
    assert!(log.contains("keycheck agent started"), "{log}");
}

#[test]
fn status_without_an_agent_says_how_to_start_one() {
    let home = temp_home();
    let out = keycheck(home.path()).arg("status").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("has not run yet"), "{err}");
    assert!(err.contains("keycheck agent"), "{err}");
}

#[test]
fn keeps_watching_when_dot_ssh_is_deleted_and_recreated() {
    require_tools();
    let home = temp_home();
    let ssh = home.path().join(".ssh");
    keygen(&ssh, "id_ed25519", "ed25519", "", &[]);
    let agent = RunningAgent::start(home.path(), &[]);
    agent.wait_for("the first key", WAIT, |s| {
        s["check"]["summary"]["private"] == 1
    });

    std::fs::remove_dir_all(&ssh).unwrap();
    agent.wait_for("~/.ssh gone", WAIT, |s| s["check"]["summary"]["keys"] == 0);

    std::fs::create_dir(&ssh).unwrap();
    set_mode(&ssh, 0o700);
    let weak = keygen(&ssh, "id_rsa", "rsa", "", &["-b", "1024"]);
    agent.wait_for("the weak key in the new ~/.ssh", WAIT, |s| {
        has_finding(s, &weak, "rsa-below-minimum")
    });

    // And once more: the watch on the second ~/.ssh works too.
    let other = keygen(&ssh, "id_other", "ed25519", "", &[]);
    agent.wait_for("a later key in the new ~/.ssh", WAIT, |s| {
        has_finding(s, &other, "passphrase-missing")
    });
}

#[test]
fn a_burst_of_a_thousand_files_gives_one_coherent_result() {
    require_tools();
    let home = temp_home();
    let scratch = tempfile::tempdir().unwrap();
    let key = keygen(scratch.path(), "k", "ed25519", "", &[]);
    let bytes = std::fs::read(&key).unwrap();
    let desktop = Desktop::start();
    let agent = start_on_desktop(home.path(), &desktop, &[], &[]);
    agent.wait_for("the first check", WAIT, |_| true);
    let checks_before = agent.log().matches(" checked").count();

    let dir = home.path().join(".ssh/many");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..1000 {
        write_file(&dir, format!("key{i:04}"), &bytes, 0o600);
    }
    let state = agent.wait_for("all 1000 keys", Duration::from_secs(60), |s| {
        s["check"]["summary"]["private"] == 1000
    });
    let missing = findings(&state)
        .iter()
        .filter(|f| f["rule"] == "passphrase-missing")
        .count();
    assert_eq!(missing, 1000);
    // Debounced: a handful of checks for the whole burst, not one per file event.
    std::thread::sleep(Duration::from_millis(500));
    let checks = agent.log().matches(" checked").count() - checks_before;
    assert!(
        (1..=10).contains(&checks),
        "{checks} checks for one burst; log:\n{}",
        agent.log()
    );
    // Notified as what it is, a group, not a thousand times. (A check may land in the
    // middle of the burst, so the group can come in two parts.)
    let got = desktop.wait_for(1, WAIT);
    assert!((1..=2).contains(&got.len()), "{got:#?}");
    assert!(got[0].summary.contains("keys need attention"), "{got:#?}");
    drop(agent);
    desktop.close();
}

#[test]
fn a_broken_policy_edit_keeps_the_last_good_policy() {
    require_tools();
    let home = temp_home();
    let key = keygen(
        &home.path().join(".ssh"),
        "id_rsa",
        "rsa",
        "",
        &["-b", "2048"],
    );
    let config = home.path().join(".config/keycheck");
    std::fs::create_dir_all(&config).unwrap();
    let policy = config.join("policy.toml");
    std::fs::write(&policy, "[keys]\nrsa_min_bits = 4096\n").unwrap();
    let agent = RunningAgent::start(home.path(), &[]);
    agent.wait_for("the user policy in force", WAIT, |s| {
        has_finding(s, &key, "rsa-below-minimum")
    });

    std::fs::write(&policy, "[keys]\nrsa_min_bits = \"lots\"\n").unwrap();
    let state = agent.wait_for("the broken policy reported", WAIT, |s| {
        s["policy_problem"].is_string()
    });
    let problem = state["policy_problem"].as_str().unwrap();
    assert!(problem.contains("policy.toml:2:"), "{problem}");
    assert!(problem.contains("rsa_min_bits"), "{problem}");
    assert!(
        has_finding(&state, &key, "rsa-below-minimum"),
        "the last good policy stays in force: {state:#}"
    );

    std::fs::remove_file(&policy).unwrap();
    agent.wait_for("the built-in policy once the file is gone", WAIT, |s| {
        s["policy_problem"].is_null() && !has_finding(s, &key, "rsa-below-minimum")
    });
    assert!(agent.logged("policy not reloaded"), "{}", agent.log());
}

#[test]
fn sighup_reloads_and_rechecks() {
    require_tools();
    let home = temp_home();
    let agent = RunningAgent::start(home.path(), &[]);
    // The agent writes its state after its first check and again after its first pass
    // over the ssh-agents; only once both are written is the next write the SIGHUP's.
    let first = agent.wait_for("the first check and agent pass", WAIT, |s| {
        !s["cache"].is_null()
    });
    agent.signal("HUP");
    agent.wait_for("a check after SIGHUP", WAIT, |s| {
        s["updated_at"] != first["updated_at"]
    });
    assert!(agent.logged("SIGHUP: reloading the policy"));
}

#[test]
fn one_agent_per_user_and_sigterm_stops_it_cleanly() {
    require_tools();
    let home = temp_home();
    let agent = RunningAgent::start(home.path(), &[]);
    let out = keycheck(home.path()).arg("agent").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "already running for this user (pid {})",
            agent.pid()
        )),
        "{err}"
    );

    // Core dumps are off for the agent's process.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", agent.pid())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core.split_whitespace().collect::<Vec<_>>()[4..6],
        ["0", "0"],
        "{core}"
    );

    let (status, took) = agent.stop();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(2), "took {took:?} to stop");

    // The lock went with it: a new agent starts.
    let again = RunningAgent::start(home.path(), &[]);
    let (status, _) = again.stop();
    assert!(status.success());
}

#[test]
fn findings_across_files_stay_right_as_files_come_and_go() {
    require_tools();
    let home = temp_home();
    let ssh = home.path().join(".ssh");
    let key = keygen(&ssh, "id_ed25519", "ed25519", "secret words", &[]);
    let agent = RunningAgent::start(home.path(), &[]);
    agent.wait_for("the first key", WAIT, |s| {
        s["check"]["summary"]["private"] == 1
    });

    let copy = ssh.join("backup_key");
    std::fs::copy(&key, &copy).unwrap();
    agent.wait_for("the copy seen as a duplicate", WAIT, |s| {
        has_finding(s, &copy, "duplicate-key") || has_finding(s, &key, "duplicate-key")
    });
    std::fs::remove_file(&copy).unwrap();
    let state = agent.wait_for("the duplicate resolved", WAIT, |s| {
        s["check"]["summary"]["private"] == 1
    });
    assert!(
        !findings(&state)
            .iter()
            .any(|f| f["rule"] == "duplicate-key"),
        "{state:#}"
    );
}

use support::ssh_agent::SshAgent;

/// Waits until `ssh_agent` holds no identity; fails the test with the agent's log.
fn wait_empty(ssh_agent: &SshAgent, what: &str, agent: &RunningAgent) {
    let started = Instant::now();
    while !ssh_agent.listed().contains("no identities") {
        assert!(
            started.elapsed() < WAIT,
            "{what}: still loaded: {}\nagent log:\n{}",
            ssh_agent.listed(),
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keys_are_removed_from_a_real_ssh_agent_when_the_window_passes() {
    require_tools();
    let home = temp_home();
    let scratch = tempfile::tempdir().unwrap();
    let policy = scratch.path().join("policy.toml");
    std::fs::write(&policy, "version = 1\n[cache]\nlaptop = \"3s\"\n").unwrap();
    let ssh_agent = SshAgent::start(scratch.path(), &[]);
    let early = keygen(scratch.path(), "early", "ed25519", "", &[]);
    ssh_agent.add(&early);

    let socket = ssh_agent.socket.to_str().unwrap().to_owned();
    let agent = RunningAgent::start_with(
        home.path(),
        &["--poll-interval", "1", "--policy", policy.to_str().unwrap()],
        &[("SSH_AUTH_SOCK", &socket)],
    );
    // Seen at the start, removed once its 3 s have passed, without any file event.
    let state = agent.wait_for("the loaded key tracked", WAIT, |s| {
        s["cache"]["agents"][0]["identities"][0]["comment"] == "early"
    });
    assert_eq!(
        state["cache"]["agents"][0]["identities"][0]["verdict"], "ok",
        "{state:#}"
    );
    assert!(ssh_agent.listed().contains("early"));
    let out = keycheck(home.path()).arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 loaded (window 3s)"), "{text}");
    assert!(text.contains(" early  first seen "), "{text}");
    wait_empty(&ssh_agent, "the first key after its window", &agent);
    assert!(
        agent.logged("key removed from its agent"),
        "{}",
        agent.log()
    );

    // A key loaded later is noticed at the next poll and gets a full window of its own.
    let late = keygen(scratch.path(), "late", "ed25519", "", &[]);
    ssh_agent.add(&late);
    let seen = agent.wait_for("the later key tracked", WAIT, |s| {
        s["cache"]["agents"][0]["identities"][0]["comment"] == "late"
    });
    assert_eq!(seen["cache"]["agents"][0]["identities"][0]["verdict"], "ok");
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        ssh_agent.listed().contains("late"),
        "removed before its window ended"
    );
    wait_empty(&ssh_agent, "the later key after its window", &agent);
}

// --- With a real desktop: a private session bus, Xvfb and dunst -------------------------

use support::desktop::Desktop;

fn desktop_envs(desktop: &Desktop) -> Vec<(String, String)> {
    desktop.envs()
}

fn start_on_desktop(
    home: &Path,
    desktop: &Desktop,
    args: &[&str],
    extra: &[(&str, &str)],
) -> RunningAgent {
    let envs = desktop_envs(desktop);
    let mut all: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    RunningAgent::start_with(home, args, &all)
}

#[test]
fn an_unencrypted_key_is_notified_once_with_its_fix_and_a_restart_does_not_repeat_it() {
    require_tools();
    let home = temp_home();
    let desktop = Desktop::start();
    let agent = start_on_desktop(home.path(), &desktop, &[], &[]);
    let key = keygen(&home.path().join(".ssh"), "id_ed25519", "ed25519", "", &[]);
    agent.wait_for("the finding", WAIT, |s| {
        has_finding(s, &key, "passphrase-missing")
    });
    // The screen as the person sees it (docs/notification.png comes from here); reading
    // the history below closes what is on screen.
    std::thread::sleep(Duration::from_millis(500));
    desktop.screenshot(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("agent-notification.png"));
    let got = desktop.wait_for(1, WAIT);
    std::thread::sleep(Duration::from_millis(800));
    let got_later = desktop.received();
    assert_eq!(
        got_later.len(),
        1,
        "exactly one notification: {got_later:#?}"
    );
    let n = &got[0];
    assert_eq!(n.appname, "keycheck");
    let body = n.body_text();
    assert!(
        n.summary.contains("id_ed25519") || body.contains("id_ed25519"),
        "names the key: {n:#?}"
    );
    assert!(
        body.contains("Fix: keycheck fix ~/.ssh/id_ed25519"),
        "names the guided fix: {n:#?}"
    );

    // Following the fix clears the finding and sends nothing more.
    support::run_ok(
        Command::new("ssh-keygen")
            .args([
                "-q",
                "-p",
                "-P",
                "",
                "-N",
                "correct horse battery staple",
                "-f",
            ])
            .arg(&key),
    );
    agent.wait_for("the finding cleared", WAIT, |s| {
        !has_finding(s, &key, "passphrase-missing")
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(desktop.received().len(), 1, "{:#?}", desktop.received());
    std::fs::remove_file(&key).unwrap();
    let key = keygen(&home.path().join(".ssh"), "id_ed25519", "ed25519", "", &[]);
    agent.wait_for("the finding back", WAIT, |s| {
        has_finding(s, &key, "passphrase-missing")
    });
    desktop.wait_for(2, WAIT);

    // A restart remembers what it notified.
    let (status, _) = agent.stop();
    assert!(status.success());
    let again = start_on_desktop(home.path(), &desktop, &[], &[]);
    again.wait_for("the finding after the restart", WAIT, |s| {
        has_finding(s, &key, "passphrase-missing")
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(desktop.received().len(), 2, "{:#?}", desktop.received());
    drop(again);
    desktop.close();
}

#[test]
fn a_notification_server_that_comes_back_gets_what_it_missed() {
    require_tools();
    let home = temp_home();
    let mut desktop = Desktop::start();
    let agent = start_on_desktop(home.path(), &desktop, &[], &[]);
    desktop.stop_server();
    let key = keygen(
        &home.path().join(".ssh"),
        "id_rsa",
        "rsa",
        "",
        &["-b", "1024"],
    );
    agent.wait_for("the finding", WAIT, |s| {
        has_finding(s, &key, "rsa-below-minimum")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(desktop.received().is_empty());
    desktop.start_server();
    let got = desktop.wait_for(1, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        desktop.received().len(),
        1,
        "nothing lost, nothing twice: {got:#?}"
    );
    assert!(got[0].body_text().contains("id_rsa"), "{got:#?}");
    drop(agent);
    desktop.close();
}

#[test]
fn a_key_removed_by_the_window_is_notified() {
    require_tools();
    let home = temp_home();
    let scratch = tempfile::tempdir().unwrap();
    let policy = scratch.path().join("policy.toml");
    std::fs::write(&policy, "version = 1\n[cache]\nlaptop = \"2s\"\n").unwrap();
    let ssh_agent = SshAgent::start(scratch.path(), &[]);
    let key = keygen(scratch.path(), "work laptop key", "ed25519", "", &[]);
    ssh_agent.add(&key);
    let desktop = Desktop::start();
    let socket = ssh_agent.socket.to_str().unwrap().to_owned();
    let agent = start_on_desktop(
        home.path(),
        &desktop,
        &["--poll-interval", "1", "--policy", policy.to_str().unwrap()],
        &[("SSH_AUTH_SOCK", &socket)],
    );
    wait_empty(&ssh_agent, "the key after its window", &agent);
    let removal = |n: &support::desktop::Received| {
        n.body_text().contains("work laptop key") && n.summary.contains("removed")
    };
    let started = Instant::now();
    while !desktop.received().iter().any(removal) {
        assert!(
            started.elapsed() < WAIT,
            "no removal notice: {:#?}\n{}",
            desktop.received(),
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let got = desktop.received();
    assert_eq!(got.iter().filter(|n| removal(n)).count(), 1, "{got:#?}");
    // The agent keeps the window itself: the ssh-agent's own lack of one is not nagged about.
    assert!(
        !got.iter()
            .any(|n| n.body_text().contains("agent-lifetime-unbounded")),
        "{got:#?}"
    );
    drop(agent);
    desktop.close();
}

#[test]
fn a_locked_screen_clears_the_agent_when_the_policy_says_so() {
    require_tools();
    let home = temp_home();
    let scratch = tempfile::tempdir().unwrap();
    let policy = scratch.path().join("policy.toml");
    std::fs::write(&policy, "version = 1\n[cache]\nclear_at_lock = true\n").unwrap();
    let ssh_agent = SshAgent::start(scratch.path(), &[]);
    ssh_agent.add(&keygen(scratch.path(), "k1", "ed25519", "", &[]));
    ssh_agent.add(&keygen(scratch.path(), "k2", "ed25519", "", &[]));
    let desktop = Desktop::start();
    let socket = ssh_agent.socket.to_str().unwrap().to_owned();
    let agent = start_on_desktop(
        home.path(),
        &desktop,
        &["--policy", policy.to_str().unwrap()],
        &[("SSH_AUTH_SOCK", &socket)],
    );
    agent.wait_for("both keys tracked", WAIT, |s| {
        s["cache"]["agents"][0]["identities"]
            .as_array()
            .map(Vec::len)
            == Some(2)
    });
    assert!(ssh_agent.listed().contains("k1"));
    support::run_ok(desktop.tool("dbus-send").args([
        "--session",
        "--type=signal",
        "/org/freedesktop/ScreenSaver",
        "org.freedesktop.ScreenSaver.ActiveChanged",
        "boolean:true",
    ]));
    wait_empty(&ssh_agent, "both keys after the lock", &agent);
    assert!(agent.logged("the screen locked"), "{}", agent.log());
    drop(agent);
    desktop.close();
}

#[test]
fn a_broken_policy_is_notified_once() {
    require_tools();
    let home = temp_home();
    let desktop = Desktop::start();
    let agent = start_on_desktop(home.path(), &desktop, &[], &[]);
    let config = home.path().join(".config/keycheck");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("policy.toml"), "[keys\n").unwrap();
    agent.wait_for("the broken policy", WAIT, |s| {
        s["policy_problem"].is_string()
    });
    let got = desktop.wait_for(1, WAIT);
    // Touching it again (still broken) does not notify again.
    std::fs::write(config.join("policy.toml"), "[keys\n\n").unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(desktop.received().len(), 1, "{got:#?}");
    assert!(
        got[0].body_text().contains("policy.toml:1"),
        "names the file and line: {got:#?}"
    );
    drop(agent);
    desktop.close();
}
