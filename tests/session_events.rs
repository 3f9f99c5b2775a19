//! `cache.clear_at_lock` and `cache.clear_at_logout` against real components: a private
//! session bus and a private "system" bus (each a `dbus-daemon` with a generated config),
//! a real `ssh-agent` holding keys added with `ssh-add`, and keycheck's session listener
//! running in `keycheck cache watch-session` (a child process, so the agent socket, the
//! state dir and the bus addresses are its own environment, never this process's).
//!
//! This machine has no logind (PID 1 is not systemd), so the tests that need logind own
//! `org.freedesktop.login1` on the private system bus themselves, with zbus, and stand in
//! for it: they answer `GetSession` and `GetSessionByPID` and emit `Lock`,
//! `SessionRemoved` and `PrepareForShutdown` as logind does (org.freedesktop.login1(5)).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use zbus::{ObjectPath, OwnedObjectPath};

/// How long any one thing may take before the test calls it hung.
const LIMIT: Duration = Duration::from_secs(10);

/// How long the tests wait to be sure no event comes.
const QUIET: Duration = Duration::from_millis(500);

/// The session the stand-in logind knows.
const SESSION_ID: &str = "c7";
/// Its object, as logind escapes the id (`c7` needs no escaping).
const SESSION_PATH: &str = "/org/freedesktop/login1/session/c7";

use support::desktop::Bus as DbusDaemon;

/// `dbus-send --type=signal` on `bus`.
fn send_signal(bus: &DbusDaemon, path: &str, member: &str, args: &[&str]) {
    let run = support::run_with_deadline(
        Command::new("dbus-send")
            .arg(format!("--bus={}", bus.address()))
            .arg("--type=signal")
            .arg(path)
            .arg(member)
            .args(args),
        LIMIT,
    );
    assert_eq!(run.code, 0, "dbus-send {member}: {}", run.stderr);
}

use support::ssh_agent::SshAgent as Agent;

/// `ssh-add -l`: the comments of the keys `agent` holds, or "none" for "The agent has no
/// identities." (exit 1).
fn held(agent: &Agent) -> Vec<String> {
    let out = agent.list();
    if out.code == 1 && out.stdout.contains("The agent has no identities.") {
        return vec!["none".to_owned()];
    }
    assert_eq!(out.code, 0, "ssh-add -l: {}{}", out.stdout, out.stderr);
    let mut comments: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    comments.sort();
    comments
}

/// The test's world: a temp dir with a policy, two keys and an agent holding both.
struct World {
    dir: tempfile::TempDir,
    agent: Agent,
    keys: [PathBuf; 2],
}

impl World {
    fn new(policy: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("policy.toml"),
            format!("version = 1\n{policy}"),
        )
        .unwrap();
        let keys = ["k1", "k2"].map(|name| support::keygen(dir.path(), name, "ed25519", "", &[]));
        let agent = Agent::start(dir.path(), &[]);
        for key in &keys {
            agent.add(key);
        }
        assert_eq!(held(&agent), ["k1", "k2"]);
        World { dir, agent, keys }
    }

    /// A keycheck command with this world's agent, state dir and policy.
    fn keycheck(&self, args: &[&str]) -> Command {
        let mut cmd = support::keycheck(self.dir.path());
        cmd.args(args)
            .arg("--policy")
            .arg(self.dir.path().join("policy.toml"))
            .env("SSH_AUTH_SOCK", &self.agent.socket)
            .env("KEYCHECK_STATE_DIR", self.dir.path().join("state"));
        cmd
    }

    /// `keycheck cache status`: keycheck starts tracking what the agent holds.
    fn track(&self) {
        let run = support::run_with_deadline(
            &mut self.keycheck(&["cache", "status", "--format", "json"]),
            LIMIT,
        );
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    }

    /// Starts `keycheck cache watch-session` on these buses.
    fn watch(&self, session: &str, system: &str, session_id: Option<&str>) -> Watcher {
        let mut cmd = self.keycheck(&["cache", "watch-session"]);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", session)
            .env("DBUS_SYSTEM_BUS_ADDRESS", system)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(id) = session_id {
            cmd.env("XDG_SESSION_ID", id);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut watcher = Watcher {
            child,
            _stdin: stdin,
            lines,
            ready: Value::Null,
        };
        let first = watcher.next();
        watcher.ready = first["ready"].clone();
        assert!(watcher.ready.is_object(), "not a ready line: {first}");
        watcher
    }
}

/// `keycheck cache watch-session`, reading its JSON lines; killed on drop.
struct Watcher {
    child: Child,
    /// Held open: the watcher ends when its stdin closes.
    _stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    ready: Value,
}

impl Watcher {
    /// The next line, within the limit.
    fn next(&mut self) -> Value {
        let line = self.lines.recv_timeout(LIMIT).unwrap_or_else(|e| {
            panic!("no line from keycheck cache watch-session within {LIMIT:?}: {e}")
        });
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// The next event, which must be `kind`.
    fn expect(&mut self, kind: &str) -> Value {
        let line = self.next();
        assert_eq!(line["event"], kind, "{line:#}");
        line
    }

    /// Asserts that no line comes for a while.
    fn quiet(&mut self) {
        if let Ok(line) = self.lines.recv_timeout(QUIET) {
            panic!("unexpected line from keycheck cache watch-session: {line}");
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The comment and verdict of each identity in a `cleared` document.
fn verdicts(line: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = line["cleared"]["agents"][0]["identities"]
        .as_array()
        .unwrap_or_else(|| panic!("no cleared identities in {line:#}"))
        .iter()
        .map(|i| {
            (
                i["comment"].as_str().unwrap().to_owned(),
                i["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// Standing in for logind on the private system bus (this machine has none): owns
/// `org.freedesktop.login1`, answers which session a process is in, emits its signals.
struct Logind {
    conn: zbus::Connection,
}

/// logind's manager object, as much of it as keycheck asks.
struct Manager;

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl Manager {
    /// `GetSession(s id) -> o`.
    async fn get_session(&self, id: &str) -> zbus::fdo::Result<OwnedObjectPath> {
        if id == SESSION_ID {
            Ok(ObjectPath::try_from(SESSION_PATH).unwrap().into())
        } else {
            Err(zbus::fdo::Error::Failed(format!("No session '{id}' known")))
        }
    }

    /// `GetSessionByPID(u pid) -> o`: every process is in our one session.
    #[zbus(name = "GetSessionByPID")]
    async fn get_session_by_pid(&self, _pid: u32) -> zbus::fdo::Result<OwnedObjectPath> {
        Ok(ObjectPath::try_from(SESSION_PATH).unwrap().into())
    }
}

impl Logind {
    fn start(bus: &DbusDaemon) -> Logind {
        let conn = zbus::block_on(async {
            zbus::connection::Builder::address(bus.address())
                .name("org.freedesktop.login1")
                .serve_at("/org/freedesktop/login1", Manager)
                .build()
                .await
        })
        .expect("own org.freedesktop.login1 on the private system bus");
        Logind { conn }
    }
}

/// Another process on the system bus, which does not own logind's name.
fn impostor(bus: &DbusDaemon) -> zbus::Connection {
    zbus::block_on(zbus::connection::Builder::address(bus.address()).build()).unwrap()
}

/// What logind's signals look like, sent from `conn` (to everyone, or to `to`).
fn emit(conn: &zbus::Connection, to: Option<&str>, signal: LogindSignal) {
    zbus::block_on(async {
        let manager = "/org/freedesktop/login1";
        let m = "org.freedesktop.login1.Manager";
        match signal {
            LogindSignal::Lock => {
                conn.emit_signal(
                    to,
                    SESSION_PATH,
                    "org.freedesktop.login1.Session",
                    "Lock",
                    &(),
                )
                .await
            }
            LogindSignal::SessionRemoved(id, path) => {
                conn.emit_signal(
                    to,
                    manager,
                    m,
                    "SessionRemoved",
                    &(id, ObjectPath::try_from(path).unwrap()),
                )
                .await
            }
            LogindSignal::PrepareForShutdown(start) => {
                conn.emit_signal(to, manager, m, "PrepareForShutdown", &(start,))
                    .await
            }
        }
    })
    .unwrap();
}

#[derive(Clone, Copy)]
enum LogindSignal {
    Lock,
    SessionRemoved(&'static str, &'static str),
    PrepareForShutdown(bool),
}

/// A round trip to the bus from `conn`: everything `conn` sent before has been routed.
fn round_trip(conn: &zbus::Connection) {
    zbus::block_on(conn.call_method(
        Some("org.freedesktop.DBus"),
        "/org/freedesktop/DBus",
        Some("org.freedesktop.DBus"),
        "GetId",
        &(),
    ))
    .unwrap();
}

/// The unique bus name of the process `pid` on the bus `conn` is on.
fn unique_name_of(conn: &zbus::Connection, pid: u32) -> String {
    zbus::block_on(async {
        let dbus = zbus::fdo::DBusProxy::new(conn).await.unwrap();
        for name in dbus.list_names().await.unwrap() {
            if !name.starts_with(':') {
                continue;
            }
            let owner = zbus::names::BusName::try_from(name.as_str()).unwrap();
            if dbus.get_connection_unix_process_id(owner).await.ok() == Some(pid) {
                return name.to_string();
            }
        }
        panic!("process {pid} has no connection to the bus");
    })
}

#[test]
fn a_screen_lock_empties_the_agent_when_clear_at_lock_is_set() {
    support::require_tools();
    let w = World::new("[cache]\nclear_at_lock = true\n");
    let session = DbusDaemon::start(w.dir.path(), "session");
    let system = DbusDaemon::start(w.dir.path(), "system");
    let mut watcher = w.watch(session.address(), system.address(), None);
    assert_eq!(
        watcher.ready["session_bus"],
        Value::Null,
        "{:#}",
        watcher.ready
    );
    // A system bus without logind is reported in one line; the session bus still works.
    let logind = watcher.ready["system_bus"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        logind.starts_with("logind is not on the system bus"),
        "{logind}"
    );

    // An unlock (the screen saver going inactive) is no lock.
    send_signal(
        &session,
        "/org/freedesktop/ScreenSaver",
        "org.freedesktop.ScreenSaver.ActiveChanged",
        &["boolean:false"],
    );
    send_signal(
        &session,
        "/org/freedesktop/ScreenSaver",
        "org.freedesktop.ScreenSaver.ActiveChanged",
        &["boolean:true"],
    );
    let locked = watcher.expect("locked");
    assert_eq!(
        verdicts(&locked),
        pairs(&[("k1", "removed"), ("k2", "removed")])
    );
    assert_eq!(held(&w.agent), ["none"]);
    watcher.quiet();
}

#[test]
fn gnome_s_screen_saver_is_heard_and_without_clear_at_lock_the_keys_stay() {
    support::require_tools();
    let w = World::new("");
    let session = DbusDaemon::start(w.dir.path(), "session");
    let system = DbusDaemon::start(w.dir.path(), "system");
    let mut watcher = w.watch(session.address(), system.address(), None);
    assert_eq!(
        watcher.ready["session_bus"],
        Value::Null,
        "{:#}",
        watcher.ready
    );

    send_signal(
        &session,
        "/org/gnome/ScreenSaver",
        "org.gnome.ScreenSaver.ActiveChanged",
        &["boolean:true"],
    );
    let locked = watcher.expect("locked");
    assert_eq!(locked["cleared"], Value::Null, "{locked:#}");
    assert_eq!(held(&w.agent), ["k1", "k2"]);
    watcher.quiet();
}

#[test]
fn logind_s_lock_and_logout_count_only_when_logind_sends_them() {
    support::require_tools();
    let w = World::new("[cache]\nclear_at_lock = true\n");
    let session = DbusDaemon::start(w.dir.path(), "session");
    let system = DbusDaemon::start(w.dir.path(), "system");
    let logind = Logind::start(&system);
    // No XDG_SESSION_ID: the listener asks logind with GetSessionByPID.
    let mut watcher = w.watch(session.address(), system.address(), None);
    assert_eq!(
        watcher.ready["system_bus"],
        Value::Null,
        "{:#}",
        watcher.ready
    );
    assert_eq!(watcher.ready["logind_session"], SESSION_PATH);

    // Another process on the system bus sends logind's signals, to everyone and straight
    // to the listener: none of them counts.
    let impostor = impostor(&system);
    let listener = unique_name_of(&impostor, watcher.child.id());
    for to in [None, Some(listener.as_str())] {
        emit(&impostor, to, LogindSignal::Lock);
        emit(
            &impostor,
            to,
            LogindSignal::SessionRemoved(SESSION_ID, SESSION_PATH),
        );
        emit(&impostor, to, LogindSignal::PrepareForShutdown(true));
    }
    round_trip(&impostor);
    assert_eq!(held(&w.agent), ["k1", "k2"]);
    // Routed after the impostor's: had any of those counted, its event would come first.
    emit(&logind.conn, None, LogindSignal::Lock);
    let locked = watcher.expect("locked");
    assert_eq!(
        verdicts(&locked),
        pairs(&[("k1", "removed"), ("k2", "removed")])
    );
    assert_eq!(held(&w.agent), ["none"]);
    watcher.quiet();

    // Logout removes what keycheck tracked (k1, seen by a pass) and nothing else (k2,
    // loaded since).
    w.agent.add(&w.keys[0]);
    w.track();
    w.agent.add(&w.keys[1]);
    emit(
        &logind.conn,
        None,
        LogindSignal::SessionRemoved("c9", "/org/freedesktop/login1/session/c9"),
    );
    emit(
        &logind.conn,
        None,
        LogindSignal::SessionRemoved(SESSION_ID, SESSION_PATH),
    );
    let out = watcher.expect("logged-out");
    assert_eq!(verdicts(&out), pairs(&[("k1", "removed"), ("k2", "ok")]));
    assert_eq!(held(&w.agent), ["k2"]);
    watcher.quiet();
}

#[test]
fn shutdown_is_a_logout_and_a_bus_that_goes_away_ends_only_its_listener() {
    support::require_tools();
    let w = World::new("");
    let mut session = DbusDaemon::start(w.dir.path(), "session");
    let system = DbusDaemon::start(w.dir.path(), "system");
    let logind = Logind::start(&system);
    w.track();
    // XDG_SESSION_ID names the session: the listener asks logind with GetSession.
    let mut watcher = w.watch(session.address(), system.address(), Some(SESSION_ID));
    assert_eq!(
        watcher.ready["logind_session"], SESSION_PATH,
        "{:#}",
        watcher.ready
    );
    assert_eq!(
        watcher.ready["session_bus"],
        Value::Null,
        "{:#}",
        watcher.ready
    );

    session.stop();
    let stopped = watcher.expect("stopped");
    assert_eq!(stopped["bus"], "session", "{stopped:#}");
    assert_eq!(stopped["cleared"], Value::Null, "{stopped:#}");

    emit(&logind.conn, None, LogindSignal::PrepareForShutdown(false));
    emit(&logind.conn, None, LogindSignal::PrepareForShutdown(true));
    // clear_at_logout is on by default.
    let out = watcher.expect("logged-out");
    assert_eq!(
        verdicts(&out),
        pairs(&[("k1", "removed"), ("k2", "removed")])
    );
    assert_eq!(held(&w.agent), ["none"]);
    watcher.quiet();
}

#[test]
fn a_missing_session_bus_is_reported_and_logind_is_still_heard() {
    support::require_tools();
    let w = World::new("[cache]\nclear_at_lock = true\n");
    let system = DbusDaemon::start(w.dir.path(), "system");
    let logind = Logind::start(&system);
    let nowhere = format!("unix:path={}", w.dir.path().join("no-bus").display());
    let mut watcher = w.watch(&nowhere, system.address(), Some(SESSION_ID));
    let problem = watcher.ready["session_bus"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        problem.starts_with("cannot connect to the session bus at unix:path="),
        "{problem}"
    );
    assert!(!problem.contains('\n'), "{problem}");
    assert_eq!(
        watcher.ready["system_bus"],
        Value::Null,
        "{:#}",
        watcher.ready
    );

    emit(&logind.conn, None, LogindSignal::Lock);
    let locked = watcher.expect("locked");
    assert_eq!(
        verdicts(&locked),
        pairs(&[("k1", "removed"), ("k2", "removed")])
    );
    assert_eq!(held(&w.agent), ["none"]);
}

#[test]
fn the_library_listener_takes_its_buses_explicitly_and_stops_at_once() {
    use keycheck::sys::session_events::{self, Buses, ListenOptions, SessionEvent};
    support::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let session = DbusDaemon::start(dir.path(), "session");
    let (tx, rx) = mpsc::channel();
    let listener = session_events::listen(
        &ListenOptions {
            buses: Buses {
                session: Some(session.address().to_owned()),
                system: None,
            },
            session_id: None,
            timeout: Duration::from_secs(5),
        },
        tx,
    );
    assert_eq!(listener.session, Ok(()));
    assert_eq!(
        listener.problems(),
        ["no system bus to listen on (its address is not set)"]
    );
    send_signal(
        &session,
        "/ScreenSaver",
        "org.freedesktop.ScreenSaver.ActiveChanged",
        &["boolean:true"],
    );
    assert_eq!(rx.recv_timeout(LIMIT), Ok(SessionEvent::Locked));
    let started = std::time::Instant::now();
    listener.stop();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The thread is gone, and with it the channel's sender.
    assert_eq!(
        rx.recv_timeout(LIMIT),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn a_bus_that_never_answers_is_given_up_on_within_the_time_limit() {
    use keycheck::sys::session_events::{self, Buses, ListenError, ListenOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("silent");
    // Accepts connections and never says a word; this test holds them open.
    let silent = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let (held_tx, held) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((stream, _)) = silent.accept() else {
                break;
            };
            let _ = held_tx.send(stream);
        }
    });
    let address = format!("unix:path={}", path.display());
    let (tx, _rx) = mpsc::channel();
    let started = std::time::Instant::now();
    let listener = session_events::listen(
        &ListenOptions {
            buses: Buses {
                session: Some(address.clone()),
                system: Some(address),
            },
            session_id: None,
            timeout: Duration::from_millis(500),
        },
        tx,
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    for problem in [
        listener.session.clone().map(|()| String::new()),
        listener.system.clone(),
    ] {
        assert!(
            matches!(
                problem,
                Err(ListenError::Timeout {
                    step: "connecting",
                    ..
                })
            ),
            "{problem:?}"
        );
    }
    listener.stop();
    assert_eq!(held.try_iter().count(), 2, "both listeners connected");
}
