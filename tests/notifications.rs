//! Desktop notifications against a real notification server: dunst on Xvfb, on a private
//! session bus, started per test by `support::desktop`.
//!
//! The notifier reads `DBUS_SESSION_BUS_ADDRESS` from the process environment, so each
//! case drives `keycheck::sys::desktop::Desktop` in a child process: this test binary
//! run again with `KEYCHECK_NOTIFY_DRIVER` set, where the `driver` test reads commands
//! (one JSON object per line) on stdin and answers each on stdout. Parallel tests never
//! share an environment variable.

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use keycheck::daemon::notice::{self, Event, Notice, NoticeKind, NotifiedState, Urgency};
use keycheck::finding::{Finding, Severity};
use keycheck::policy::NotifyPolicy;
use keycheck::rules::Rule;
use serde_json::{json, Value};

use support::desktop::{Activation, Desktop as TestDesktop, Options, Received};

/// Set in the driver child; holds nothing of interest.
const DRIVER_ENV: &str = "KEYCHECK_NOTIFY_DRIVER";

/// How long any one driver command may take before the test calls it hung.
const ANSWER_DEADLINE: Duration = Duration::from_secs(10);

/// How long to wait for notifications to arrive.
const ARRIVAL: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// The driver: runs in the child process.
// ---------------------------------------------------------------------------------------

/// Not a test of its own: the child side of every case below. Does nothing unless
/// `KEYCHECK_NOTIFY_DRIVER` is set.
#[test]
fn driver() {
    if std::env::var_os(DRIVER_ENV).is_none() {
        return;
    }
    use keycheck::sys::desktop::Desktop;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("keycheck=info"))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let mut desktop = Desktop::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.expect("driver stdin");
        let cmd: Value = serde_json::from_str(&line).expect("driver command is JSON");
        let started = Instant::now();
        let mut answer = match cmd["cmd"].as_str().expect("cmd") {
            "config" => {
                desktop = Desktop::new()
                    .with_capacity(cmd["capacity"].as_u64().map_or(100, |n| n as usize))
                    .with_timeout(Duration::from_millis(
                        cmd["timeout_ms"].as_u64().unwrap_or(2000),
                    ));
                json!({})
            }
            "send" => {
                let notices: Vec<Notice> =
                    serde_json::from_value(cmd["notices"].clone()).expect("notices");
                result(desktop.send(notices))
            }
            "flush" => result(desktop.flush()),
            "present" => json!({ "present": desktop.server_present() }),
            "probe" => match desktop.probe() {
                Ok(server) => json!({ "probe": format!("{server:?}") }),
                Err(e) => json!({ "err": e.to_string(), "variant": variant(&e) }),
            },
            "quit" => break,
            other => panic!("unknown driver command {other}"),
        };
        answer["ms"] = json!(started.elapsed().as_millis() as u64);
        answer["pending"] = json!(desktop.pending());
        answer["dropped"] = json!(desktop.dropped());
        let mut out = std::io::stdout().lock();
        writeln!(out, "@@ {answer}").expect("driver stdout");
        out.flush().expect("driver stdout");
    }
}

fn result(r: Result<usize, keycheck::sys::desktop::DesktopError>) -> Value {
    match r {
        Ok(n) => json!({ "ok": n }),
        Err(e) => json!({ "err": e.to_string(), "variant": variant(&e) }),
    }
}

/// The error's variant name (`NoServer`).
fn variant(e: &keycheck::sys::desktop::DesktopError) -> String {
    format!("{e:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

// ---------------------------------------------------------------------------------------
// The parent side.
// ---------------------------------------------------------------------------------------

/// A driver child process on some session bus.
struct Driver {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<Value>,
    stderr: std::thread::JoinHandle<String>,
}

impl Driver {
    /// A driver on `desktop`'s bus.
    fn on(desktop: &TestDesktop) -> Driver {
        Driver::with_env(&desktop.envs(), desktop.dir())
    }

    /// A driver with `envs` (and nothing else of this process's environment but PATH).
    fn with_env(envs: &[(String, String)], home: &Path) -> Driver {
        let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
        cmd.args(["--exact", "driver", "--nocapture", "--test-threads=1", "-q"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_RUNTIME_DIR", home)
            .env(DRIVER_ENV, "1")
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start the driver");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(answer) = line.strip_prefix("@@ ") {
                    let value = serde_json::from_str(answer).expect("driver answer is JSON");
                    if tx.send(value).is_err() {
                        break;
                    }
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        Driver {
            child,
            stdin,
            answers,
            stderr,
        }
    }

    /// Sends one command and returns the answer; fails the test if none comes in time.
    fn call(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").expect("write to the driver");
        self.stdin.flush().expect("flush the driver's stdin");
        match self.answers.recv_timeout(ANSWER_DEADLINE) {
            Ok(answer) => answer,
            Err(_) => {
                let _ = self.child.kill();
                panic!("driver hung or died on {cmd}");
            }
        }
    }

    fn send(&mut self, notices: &[Notice]) -> Value {
        self.call(json!({ "cmd": "send", "notices": notices }))
    }

    fn flush(&mut self) -> Value {
        self.call(json!({ "cmd": "flush" }))
    }

    fn present(&mut self) -> bool {
        self.call(json!({ "cmd": "present" }))["present"]
            .as_bool()
            .expect("present is a bool")
    }

    /// Ends the child and returns its stderr (the notifier's log, at info and above).
    fn quit(mut self) -> String {
        writeln!(self.stdin, "{}", json!({ "cmd": "quit" })).expect("write quit");
        drop(self.stdin);
        let deadline = Instant::now() + ANSWER_DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the driver did not exit");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stderr = self.stderr.join().expect("stderr reader");
        assert!(status.success(), "the driver failed ({status}):\n{stderr}");
        stderr
    }
}

fn ok(answer: &Value) -> u64 {
    answer["ok"]
        .as_u64()
        .unwrap_or_else(|| panic!("expected a delivery, got {answer}"))
}

fn err_variant(answer: &Value) -> &str {
    answer["variant"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {answer}"))
}

fn ms(answer: &Value) -> u64 {
    answer["ms"].as_u64().expect("ms")
}

fn pending(answer: &Value) -> u64 {
    answer["pending"].as_u64().expect("pending")
}

fn notify_policy() -> NotifyPolicy {
    NotifyPolicy {
        min_severity: Severity::Warn,
        repeat_after: Duration::from_secs(24 * 3600),
        incident_url: String::new(),
    }
}

fn finding(rule: Rule, severity: Severity, path: &str, message: &str, fix: &str) -> Finding {
    Finding {
        rule,
        severity,
        path: path.to_owned(),
        fingerprint: Some("SHA256:2WkPwvV8Hhv0Q3fY3XbSg8p5o0vE7bXQm1nV+q0b3Yk".to_owned()),
        message: message.to_owned(),
        fix: Some(fix.to_owned()),
    }
}

fn plain(summary: &str, urgency: Urgency) -> Notice {
    Notice {
        kind: NoticeKind::New,
        summary: summary.to_owned(),
        body: format!("body of {summary}"),
        urgency,
        subjects: Vec::new(),
    }
}

fn summaries(received: &[Received]) -> Vec<&str> {
    received.iter().map(|r| r.summary.as_str()).collect()
}

// ---------------------------------------------------------------------------------------
// The cases.
// ---------------------------------------------------------------------------------------

#[test]
fn a_finding_arrives_with_appname_summary_reason_and_fix() {
    let desktop = TestDesktop::start();
    // A file name with markup characters: the server must show it as it is.
    let path = "/home/alice/.ssh/id_rsa <old> & co";
    let mut state = NotifiedState::default();
    let notices = notice::plan(
        &mut state,
        &[finding(
            Rule::PassphraseMissing,
            Severity::Fail,
            path,
            "the private key has no passphrase",
            "ssh-keygen -p -f '/home/alice/.ssh/id_rsa <old> & co'",
        )],
        &[],
        1_800_000_000,
        &notify_policy(),
    );
    assert_eq!(notices.len(), 1);
    let mut driver = Driver::on(&desktop);
    let answer = driver.send(&notices);
    assert_eq!(ok(&answer), 1, "{answer}");
    assert_eq!(pending(&answer), 0);

    // Critical notifications stay on screen: photograph it before reading it back.
    std::thread::sleep(Duration::from_millis(300));
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("notification.png");
    desktop.screenshot(&shot);
    let size = std::fs::metadata(&shot).expect("screenshot written").len();
    assert!(size > 2000, "the screenshot looks empty ({size} bytes)");

    let got = desktop.wait_for(1, ARRIVAL);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].appname, "keycheck");
    assert_eq!(got[0].summary, format!("Key needs attention: {path}"));
    assert_eq!(got[0].body_text(), notices[0].body);
    assert!(
        got[0]
            .body_text()
            .contains("Fix: ssh-keygen -p -f '/home/alice/.ssh/id_rsa <old> & co'"),
        "{got:#?}"
    );
    // dunst reads markup in bodies, so the notifier escaped it.
    assert!(got[0].body.contains("&lt;old&gt; &amp; co"), "{got:#?}");
    driver.quit();
    desktop.close();
}

#[test]
fn three_new_keys_arrive_as_one_notification() {
    let desktop = TestDesktop::start();
    let findings = [
        finding(
            Rule::PassphraseMissing,
            Severity::Fail,
            "/home/alice/.ssh/id_ed25519",
            "the private key has no passphrase",
            "ssh-keygen -p -f /home/alice/.ssh/id_ed25519",
        ),
        finding(
            Rule::RsaBelowMinimum,
            Severity::Fail,
            "/home/alice/.ssh/id_rsa",
            "RSA key of 1024 bits; the policy requires at least 2048",
            "ssh-keygen -t ed25519 -a 100",
        ),
        finding(
            Rule::FilePermissions,
            Severity::Fail,
            "/home/alice/.ssh/deploy",
            "mode 0644 lets other users read the private key",
            "chmod 600 /home/alice/.ssh/deploy",
        ),
    ];
    let mut state = NotifiedState::default();
    let notices = notice::plan(&mut state, &findings, &[], 1_800_000_000, &notify_policy());
    let mut driver = Driver::on(&desktop);
    assert_eq!(ok(&driver.send(&notices)), 1);
    driver.quit();
    let got = desktop.wait_for(1, ARRIVAL);
    // Give a stray second notification the chance to show up before counting.
    std::thread::sleep(Duration::from_millis(200));
    let got_again = desktop.received();
    assert_eq!(got_again, got, "exactly one notification");
    assert_eq!(got[0].summary, "3 keys need attention");
    let body = got[0].body_text();
    for f in &findings {
        assert!(body.contains(&f.path), "{body}");
        assert!(
            body.contains(f.fix.as_deref().unwrap_or_default()),
            "{body}"
        );
        assert!(body.contains(&f.message), "{body}");
    }
    desktop.close();
}

#[test]
fn urgency_and_timeout_are_on_the_wire() {
    let desktop = TestDesktop::start();
    let monitor = desktop.monitor();
    let mut driver = Driver::on(&desktop);
    let notices = [
        plain("failing", Urgency::Critical),
        plain("warning", Urgency::Normal),
        plain("informational", Urgency::Low),
    ];
    assert_eq!(ok(&driver.send(&notices)), 3);
    driver.quit();
    monitor.wait_until(ARRIVAL, |t| t.matches("member=Notify").count() >= 3);
    let calls: Vec<_> = monitor
        .notify_calls()
        .into_iter()
        .map(|c| (c.appname, c.summary, c.urgency, c.timeout))
        .collect();
    let k = "keycheck".to_owned();
    assert_eq!(
        calls,
        [
            (k.clone(), "failing".to_owned(), Some(2), Some(0)),
            (k.clone(), "warning".to_owned(), Some(1), Some(10_000)),
            (k, "informational".to_owned(), Some(0), Some(5_000)),
        ]
    );
    drop(monitor);
    desktop.close();
}

#[test]
fn a_restarted_server_gets_what_waited_nothing_lost_nothing_twice() {
    let mut desktop = TestDesktop::start();
    let mut driver = Driver::on(&desktop);
    assert!(driver.present());
    assert_eq!(ok(&driver.send(&[plain("before", Urgency::Normal)])), 1);

    desktop.stop_server();
    assert!(!driver.present());
    let secret_body = "body of while-stopped";
    let answer = driver.send(&[plain("while-stopped", Urgency::Critical)]);
    assert_eq!(err_variant(&answer), "NoServer", "{answer}");
    assert!(ms(&answer) < 1500, "took {answer}");
    assert_eq!(pending(&answer), 1);
    let answer = driver.flush();
    assert_eq!(err_variant(&answer), "NoServer", "{answer}");
    assert_eq!(pending(&answer), 1, "still kept");

    desktop.start_server();
    assert!(driver.present());
    let answer = driver.flush();
    assert_eq!(ok(&answer), 1, "{answer}");
    assert_eq!(pending(&answer), 0);
    assert_eq!(ok(&driver.flush()), 0, "nothing left to send");
    let log = driver.quit();

    let got = desktop.wait_for(2, ARRIVAL);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(desktop.received(), got);
    assert_eq!(summaries(&got), ["before", "while-stopped"]);
    assert!(got.iter().all(|r| r.appname == "keycheck"));

    // One warning for the outage (the repeat is at debug), one line each, no body.
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("no notification server"), "{log}");
    assert!(log.contains("delivered again"), "{log}");
    assert!(!log.contains(secret_body), "a body reached the log:\n{log}");
    desktop.close();
}

#[test]
fn a_hung_server_times_out_and_its_late_delivery_is_not_repeated() {
    let desktop = TestDesktop::start();
    let mut driver = Driver::on(&desktop);
    driver.call(json!({ "cmd": "config", "timeout_ms": 500 }));
    desktop.pause_server();
    let answer = driver.send(&[plain("late", Urgency::Normal)]);
    assert_eq!(err_variant(&answer), "TimedOut", "{answer}");
    assert!(ms(&answer) < 1500, "took {answer}");
    assert_eq!(pending(&answer), 1);
    // The first attempt still waits: no second one starts, and the call returns at once.
    let answer = driver.flush();
    assert_eq!(err_variant(&answer), "TimedOut", "{answer}");
    assert!(ms(&answer) < 200, "took {answer}");
    assert_eq!(pending(&answer), 1);

    desktop.resume_server();
    let got = desktop.wait_for(1, ARRIVAL);
    assert_eq!(summaries(&got), ["late"]);
    // The late delivery is collected, not repeated.
    let answer = driver.flush();
    assert_eq!(ok(&answer), 1, "{answer}");
    assert_eq!(pending(&answer), 0);
    assert_eq!(ok(&driver.flush()), 0);
    driver.quit();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(summaries(&desktop.received()), ["late"]);
    desktop.close();
}

#[test]
fn without_a_session_bus_delivery_fails_fast_and_keeps_the_notice() {
    let home = tempfile::tempdir().expect("temp dir");
    let missing = home.path().join("no-such-dir").join("bus");
    let envs = [(
        "DBUS_SESSION_BUS_ADDRESS".to_owned(),
        format!("unix:path={}", missing.display()),
    )];
    let mut driver = Driver::with_env(&envs, home.path());
    let answer = driver.send(&[plain("nowhere", Urgency::Critical)]);
    assert_eq!(err_variant(&answer), "NoBus", "{answer}");
    assert!(
        answer["err"]
            .as_str()
            .is_some_and(|e| e.starts_with("no D-Bus session bus: ")),
        "{answer}"
    );
    assert!(ms(&answer) < 1500, "took {answer}");
    assert_eq!(pending(&answer), 1);
    assert!(!driver.present());
    let answer = driver.call(json!({ "cmd": "probe" }));
    assert_eq!(err_variant(&answer), "NoBus", "{answer}");
    let log = driver.quit();
    assert_eq!(
        log.lines().filter(|l| l.contains("WARN")).count(),
        1,
        "{log}"
    );
}

#[test]
fn a_bus_that_can_activate_the_server_gets_it_started() {
    let desktop = TestDesktop::start_with(Options {
        no_server: true,
        activation: Some(Activation::Dunst),
    });
    assert!(!desktop.server_owned());
    let mut driver = Driver::on(&desktop);
    assert_eq!(
        driver.call(json!({ "cmd": "probe" }))["probe"],
        "Activatable"
    );
    assert!(!driver.present(), "activatable is not running");
    assert_eq!(ok(&driver.send(&[plain("activated", Urgency::Normal)])), 1);
    assert!(desktop.server_owned(), "the bus started dunst");
    driver.quit();
    assert_eq!(summaries(&desktop.wait_for(1, ARRIVAL)), ["activated"]);
    desktop.close();
}

#[test]
fn a_failed_activation_is_not_retried_on_every_flush() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let counter = scratch.path().join("activations");
    let script = scratch.path().join("broken-server");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{}'\necho 'cannot open display' >&2\nexit 1\n",
            counter.display()
        ),
    )
    .expect("write the broken server");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let desktop = TestDesktop::start_with(Options {
        no_server: true,
        activation: Some(Activation::Exec(script.display().to_string())),
    });
    let mut driver = Driver::on(&desktop);
    let answer = driver.send(&[plain("never", Urgency::Normal)]);
    assert_eq!(err_variant(&answer), "ActivationFailed", "{answer}");
    assert!(ms(&answer) < 1500, "took {answer}");
    let runs = || {
        std::fs::read_to_string(&counter)
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(runs(), 1);
    let answer = driver.flush();
    assert_eq!(err_variant(&answer), "NoServer", "{answer}");
    assert!(ms(&answer) < 1500, "took {answer}");
    assert_eq!(pending(&answer), 1);
    assert_eq!(runs(), 1, "no second activation so soon");
    driver.quit();
    desktop.close();
}

#[test]
fn a_full_outbox_drops_the_oldest_and_says_how_many() {
    let mut desktop = TestDesktop::start_with(Options {
        no_server: true,
        activation: None,
    });
    let mut driver = Driver::on(&desktop);
    driver.call(json!({ "cmd": "config", "capacity": 3 }));
    let notices: Vec<Notice> = (1..=5)
        .map(|i| plain(&format!("n{i}"), Urgency::Normal))
        .collect();
    let answer = driver.send(&notices);
    assert_eq!(err_variant(&answer), "NoServer", "{answer}");
    assert_eq!((pending(&answer), answer["dropped"].as_u64()), (3, Some(2)));
    desktop.start_server();
    let answer = driver.flush();
    assert_eq!(ok(&answer), 4, "the note and the three kept: {answer}");
    assert_eq!((pending(&answer), answer["dropped"].as_u64()), (0, Some(0)));
    let log = driver.quit();
    assert!(log.contains("outbox full"), "{log}");
    let got = desktop.wait_for(4, ARRIVAL);
    assert_eq!(
        summaries(&got),
        ["2 keycheck notifications were dropped", "n3", "n4", "n5"]
    );
    desktop.close();
}

#[test]
fn a_key_removed_by_the_window_is_announced() {
    let desktop = TestDesktop::start();
    let mut state = NotifiedState::default();
    let notices = notice::plan(
        &mut state,
        &[],
        &[Event::Removed {
            socket: "/tmp/agent.sock".to_owned(),
            fingerprint: "SHA256:2WkPwvV8Hhv0Q3fY3XbSg8p5o0vE7bXQm1nV+q0b3Yk".to_owned(),
            comment: "alice@laptop".to_owned(),
            window_secs: 7200,
        }],
        1_800_000_000,
        &notify_policy(),
    );
    let mut driver = Driver::on(&desktop);
    assert_eq!(ok(&driver.send(&notices)), 1);
    driver.quit();
    let got = desktop.wait_for(1, ARRIVAL);
    assert_eq!(got[0].summary, "Key removed from ssh-agent");
    let body = got[0].body_text();
    assert!(
        body.contains("The passphrase cache window (2h) passed."),
        "{body}"
    );
    assert!(
        body.contains("alice@laptop (SHA256:2WkPwvV8Hhv0Q3fY3XbSg8p5o0vE7bXQm1nV+q0b3Yk)"),
        "{body}"
    );
    desktop.close();
}

#[test]
fn a_server_that_never_starts_costs_one_timeout_and_leaves_nothing() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let script = scratch.path().join("stuck-server");
    // A duration no other process on the machine sleeps for, to find it by.
    let nap = format!("600.{}", std::process::id());
    std::fs::write(&script, format!("#!/bin/sh\nexec sleep {nap}\n"))
        .expect("write the stuck server");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let desktop = TestDesktop::start_with(Options {
        no_server: true,
        activation: Some(Activation::Exec(script.display().to_string())),
    });
    let mut driver = Driver::on(&desktop);
    driver.call(json!({ "cmd": "config", "timeout_ms": 500 }));
    let answer = driver.send(&[plain("stuck", Urgency::Normal)]);
    assert_eq!(err_variant(&answer), "TimedOut", "{answer}");
    assert!(ms(&answer) < 1500, "took {answer}");
    let answer = driver.flush();
    assert_eq!(err_variant(&answer), "TimedOut", "{answer}");
    assert_eq!(pending(&answer), 1);
    let sleeping = || {
        let out = Command::new("pgrep")
            .arg("-f")
            .arg(format!("^sleep {nap}$"))
            .output()
            .expect("run pgrep");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert!(!sleeping().is_empty(), "the bus started the stuck server");
    driver.quit();
    desktop.close();
    assert_eq!(sleeping(), "", "the stuck server outlived its desktop");
}
