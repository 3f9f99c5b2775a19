//! A private desktop for notification tests: a D-Bus session bus, an X server (Xvfb) and
//! a real freedesktop notification server (dunst), all started by the test in its own
//! temporary directory and killed when the [`Desktop`] is dropped.
//!
//! - The bus ([`Bus`], usable on its own by tests that need only a bus) is
//!   `dbus-daemon --nofork --print-address` with a generated configuration whose only
//!   listen address is a socket in the temp dir and which has no service directory, so
//!   nothing is D-Bus-activated behind the test's back (unless the test asks for an
//!   activatable server with [`Options::activation`]).
//! - Xvfb picks its own display number (`-displayfd`), so parallel tests never collide.
//! - dunst runs with a generated configuration (unlimited history, nothing from the
//!   user's files) and only `DISPLAY` and `DBUS_SESSION_BUS_ADDRESS` from this desktop.
//!
//! What the server received is read back with `dunstctl close-all` then
//! `dunstctl history` ([`Desktop::received`]); urgency is only on the wire, so
//! [`Desktop::monitor`] runs `dbus-monitor`. A program under test gets the desktop through
//! [`Desktop::envs`]; it must run in a child process, since the notifier reads
//! `DBUS_SESSION_BUS_ADDRESS` from its environment.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long starting a component may take before the test fails.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// The notification server's well-known bus name.
pub const SERVER_NAME: &str = "org.freedesktop.Notifications";

/// How a desktop starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Start without a notification server ([`Desktop::start_server`] starts one later).
    pub no_server: bool,
    /// Make the bus able to start a notification server by D-Bus activation. The bus runs
    /// with this desktop's `DISPLAY`, as a desktop session's bus does.
    pub activation: Option<Activation>,
}

/// What the bus runs to activate a notification server.
#[derive(Debug, Clone)]
pub enum Activation {
    /// dunst with this desktop's configuration.
    Dunst,
    /// Another command line (the service file's `Exec=`).
    Exec(String),
}

/// One notification as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The server's id for it.
    pub id: i64,
    /// `app_name`.
    pub appname: String,
    /// The summary.
    pub summary: String,
    /// The body as sent (with markup escapes when the sender escaped it).
    pub body: String,
}

impl Received {
    /// The body as a person reads it: the markup escapes `&amp;`, `&lt;`, `&gt;` undone.
    pub fn body_text(&self) -> String {
        self.body
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }
}

/// One `Notify` call seen on the bus by `dbus-monitor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyCall {
    /// `app_name`.
    pub appname: String,
    /// The summary.
    pub summary: String,
    /// The `urgency` hint (0 low, 1 normal, 2 critical), when sent.
    pub urgency: Option<u8>,
    /// `expire_timeout` in milliseconds (-1 server default, 0 never).
    pub timeout: Option<i32>,
}

/// A private session bus, X server and notification server.
pub struct Desktop {
    dir: tempfile::TempDir,
    display: String,
    bus: Bus,
    xvfb: Child,
    server: Option<Child>,
    servers_started: usize,
    /// What servers stopped earlier had received (a restart must lose nothing).
    earlier: Vec<Received>,
}

impl Desktop {
    /// Starts a bus, Xvfb and dunst, and waits until dunst owns the notification name.
    pub fn start() -> Desktop {
        Desktop::start_with(Options::default())
    }

    /// Starts a desktop as `options` say.
    pub fn start_with(options: Options) -> Desktop {
        super::require_tools();
        let dir = tempfile::Builder::new()
            .prefix("keycheck-desktop-")
            .tempdir()
            .expect("temp dir for the desktop");

        // The X server first: an activatable server started by the bus needs its DISPLAY.
        let mut xvfb = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1024x768x24"])
            .args(["-nolisten", "tcp", "-noreset"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(dir.path(), "xvfb.log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Xvfb: {e}"));
        let number = first_line(&mut xvfb, "Xvfb -displayfd", &dir.path().join("xvfb.log"));
        let display = format!(":{number}");

        let activation = options.activation.as_ref().map(|a| match a {
            Activation::Dunst => dunst_command(dir.path()),
            Activation::Exec(line) => line.clone(),
        });
        let mut bus_env = Command::new("dbus-daemon");
        isolate(&mut bus_env, dir.path(), &display, None);
        let bus = Bus::start_in(
            dir.path(),
            "session",
            activation
                .as_deref()
                .map(|exec| (SERVER_NAME, exec))
                .as_slice(),
            bus_env,
        );
        let mut desktop = Desktop {
            dir,
            display,
            bus,
            xvfb,
            server: None,
            servers_started: 0,
            earlier: Vec::new(),
        };
        fs::write(desktop.dunstrc(), DUNSTRC).expect("write dunstrc");

        if !options.no_server {
            desktop.start_server();
        }
        desktop
    }

    /// The env pairs a child process needs to use this desktop.
    pub fn envs(&self) -> Vec<(String, String)> {
        vec![
            (
                "DBUS_SESSION_BUS_ADDRESS".to_owned(),
                self.address().to_owned(),
            ),
            ("DISPLAY".to_owned(), self.display.clone()),
        ]
    }

    /// The bus address (`unix:path=…,guid=…`).
    pub fn address(&self) -> &str {
        self.bus.address()
    }

    /// The X display (`:N`).
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The desktop's temp dir (logs, configs, the bus socket).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn dunstrc(&self) -> PathBuf {
        self.dir.path().join("dunstrc")
    }

    /// Starts dunst and waits until it owns the notification name; fails the test with
    /// dunst's stderr if it does not.
    pub fn start_server(&mut self) {
        assert!(
            self.server.is_none(),
            "the notification server already runs"
        );
        self.servers_started += 1;
        let log = format!("dunst-{}.log", self.servers_started);
        let mut cmd = Command::new("dunst");
        cmd.arg("-conf").arg(self.dunstrc());
        isolate(
            &mut cmd,
            self.dir.path(),
            &self.display,
            Some(self.address()),
        );
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(log_file(self.dir.path(), &log))
            .stderr(log_file(self.dir.path(), &log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dunst: {e}"));
        let deadline = Instant::now() + START_DEADLINE;
        while !self.server_owned() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "dunst exited ({status}) before owning {SERVER_NAME}:\n{}",
                    read_log(self.dir.path(), &log)
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "dunst did not own {SERVER_NAME} within {START_DEADLINE:?}:\n{}",
                    read_log(self.dir.path(), &log)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.server = Some(child);
    }

    /// Kills the notification server (whichever process owns the name, started by the
    /// test or by activation), after keeping what it had received, and waits until the
    /// name has no owner.
    pub fn stop_server(&mut self) {
        let pid = self
            .server_pid()
            .expect("stop_server: no notification server owns the name");
        let mut kept = self.history();
        self.earlier.append(&mut kept);
        kill(pid, rustix::process::Signal::KILL);
        if let Some(mut child) = self.server.take() {
            let _ = child.wait();
        }
        let deadline = Instant::now() + START_DEADLINE;
        while self.server_owned() {
            assert!(
                Instant::now() < deadline,
                "{SERVER_NAME} still has an owner after killing pid {pid}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the server process without killing it (SIGSTOP): it holds the name and
    /// answers nothing.
    pub fn pause_server(&self) {
        kill(
            self.server_pid().expect("no server to pause"),
            rustix::process::Signal::STOP,
        );
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume_server(&self) {
        kill(
            self.server_pid().expect("no server to resume"),
            rustix::process::Signal::CONT,
        );
    }

    /// Returns true if and only if something owns the notification name now.
    pub fn server_owned(&self) -> bool {
        let out = self.bus_call("NameHasOwner");
        out.contains("boolean true")
    }

    /// The pid of the process owning the notification name.
    pub fn server_pid(&self) -> Option<i32> {
        let out = self.bus_call("GetConnectionUnixProcessID");
        out.split_whitespace()
            .skip_while(|w| *w != "uint32")
            .nth(1)
            .and_then(|w| w.parse().ok())
    }

    /// `dbus-send` to the bus daemon about the notification name; its stdout (empty on
    /// an error reply).
    fn bus_call(&self, method: &str) -> String {
        let out = self
            .tool("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
            ])
            .arg(format!("org.freedesktop.DBus.{method}"))
            .arg(format!("string:{SERVER_NAME}"))
            .stderr(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run dbus-send: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A command for a tool that talks to this desktop (nothing else from the caller's
    /// environment but PATH).
    pub fn tool(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        isolate(
            &mut cmd,
            self.dir.path(),
            &self.display,
            Some(self.address()),
        );
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Everything the notification servers of this desktop received, oldest first:
    /// closes what is on screen (dunst lists only closed notifications), then reads
    /// `dunstctl history`, after what servers stopped earlier had.
    pub fn received(&self) -> Vec<Received> {
        let mut all = self.earlier.clone();
        if self.server_owned() {
            all.extend(self.history());
        }
        all
    }

    /// The current server's history, oldest first.
    fn history(&self) -> Vec<Received> {
        super::run_ok(self.tool("dunstctl").arg("close-all"));
        let out = super::run_ok(self.tool("dunstctl").arg("history"));
        parse_history(&String::from_utf8_lossy(&out.stdout))
    }

    /// Waits until the servers received at least `n` notifications in all, and returns
    /// them; fails the test with what did arrive after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} notifications within {timeout:?}, got {}: {got:#?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts `dbus-monitor` on the notification interface and waits until it listens.
    pub fn monitor(&self) -> Monitor {
        let log = self.dir.path().join(format!(
            "monitor-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let child = self
            .tool("dbus-monitor")
            .args(["--session", "interface='org.freedesktop.Notifications'"])
            .stdout(fs::File::create(&log).expect("monitor log"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dbus-monitor: {e}"));
        let monitor = Monitor { child, log };
        // In monitor mode it first reports losing its own unique name.
        monitor.wait_until(START_DEADLINE, |text| text.contains("member=NameLost"));
        monitor
    }

    /// Writes a screenshot of the X screen (ImageMagick `import -window root`).
    pub fn screenshot(&self, path: &Path) {
        super::run_ok(self.tool("import").args(["-window", "root"]).arg(path));
    }

    /// Stops everything (as dropping does) and fails the test if any process of this
    /// desktop is left: the bus, the X server, the notification server (also when the bus
    /// activated it), or anything else whose command line names the desktop's dir
    /// (`pgrep -f`).
    pub fn close(self) {
        let mut pids = vec![
            (self.bus.pid(), "dbus-daemon"),
            (pid_of(&self.xvfb), "Xvfb"),
        ];
        pids.extend(self.server_pid().map(|pid| (pid, "dunst")));
        let dir = self.dir.path().to_path_buf();
        drop(self);
        for (pid, comm) in pids {
            // Gone, a zombie its killed parent could not reap, or the pid already reused.
            let left = proc_stat(pid).filter(|s| s.comm == comm && s.state != 'Z');
            assert!(
                left.is_none(),
                "{comm} (pid {pid}) of the test desktop still runs"
            );
        }
        let out = super::run(Command::new("pgrep").arg("-f").arg(&dir));
        assert!(
            out.stdout.is_empty(),
            "processes of the test desktop are left: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.bus.stop();
        // TERM lets Xvfb remove its lock file and socket.
        terminate(&mut self.xvfb);
    }
}

/// Stops `child` with SIGTERM, or SIGKILL if it still runs after a second.
fn terminate(child: &mut Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid_of(child)) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A private `dbus-daemon`: a unix socket in a temp dir, a policy that allows everything,
/// and no service directory unless services are given, so nothing is D-Bus-activated
/// behind a test's back. Dropping it kills it and everything it activated.
pub struct Bus {
    child: Child,
    address: String,
    stopped: bool,
}

impl Bus {
    /// Starts a bus of `kind` (`session` or `system`) with its socket, config and log in
    /// `dir`, and waits for its address.
    pub fn start(dir: &Path, kind: &str) -> Bus {
        Bus::start_in(dir, kind, &[], Command::new("dbus-daemon"))
    }

    /// The same, with activatable `services` (well-known name, `Exec=` line), run by
    /// `cmd` (a `dbus-daemon` command whose environment the activated services inherit).
    pub fn start_in(dir: &Path, kind: &str, services: &[(&str, &str)], mut cmd: Command) -> Bus {
        let mut servicedir = String::new();
        if !services.is_empty() {
            let sdir = dir.join(format!("{kind}-services"));
            fs::create_dir_all(&sdir).expect("service dir");
            for (name, exec) in services {
                fs::write(
                    sdir.join(format!("{name}.service")),
                    format!("[D-BUS Service]\nName={name}\nExec={exec}\n"),
                )
                .expect("write service file");
            }
            servicedir = format!("  <servicedir>{}</servicedir>\n", sdir.display());
        }
        let config = dir.join(format!("{kind}-bus.conf"));
        fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{kind}</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
{servicedir}  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket = dir.join(format!("{kind}-bus")).display()
            ),
        )
        .expect("write bus config");
        let log = dir.join(format!("{kind}-bus.log"));
        let mut child = cmd
            .arg("--nofork")
            .arg("--print-address")
            .arg(format!("--config-file={}", config.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(dir, &format!("{kind}-bus.log")))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dbus-daemon: {e}"));
        let address = first_line(&mut child, "dbus-daemon --print-address", &log);
        Bus {
            child,
            address,
            stopped: false,
        }
    }

    /// The address (`unix:path=…,guid=…`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The daemon's pid.
    pub fn pid(&self) -> i32 {
        pid_of(&self.child)
    }

    /// Kills what the bus activated (it runs in sessions of its own, so by ancestry), then
    /// the bus, and waits until they are gone.
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            // Its pid may belong to another process by now.
            return;
        }
        let activated = descendants(self.pid());
        for &pid in &activated {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Their parents (or init) reap them.
        let deadline = Instant::now() + START_DEADLINE;
        while activated.iter().any(|pid| running(*pid)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running `dbus-monitor`; killed when dropped.
pub struct Monitor {
    child: Child,
    log: PathBuf,
}

impl Monitor {
    /// Everything it printed so far.
    pub fn text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `done(text)` holds, failing the test with the text after `timeout`.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text();
            if done(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "dbus-monitor did not show what was expected within {timeout:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `Notify` calls seen so far.
    pub fn notify_calls(&self) -> Vec<NotifyCall> {
        parse_notify_calls(&self.text())
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// dunst's configuration for tests: read markup in bodies (as the configuration dunst
/// ships does), keep every notification in the history, show them all at once, and never
/// treat the (idle) test user as away.
const DUNSTRC: &str = "\
[global]
    markup = full
    history_length = 1000
    notification_limit = 0
    sticky_history = yes
    idle_threshold = 0
    show_age_threshold = -1
    font = Monospace 9
    width = 600
    height = 300

[urgency_low]
    timeout = 5

[urgency_normal]
    timeout = 10

[urgency_critical]
    timeout = 0
";

/// The command line that runs dunst with the configuration in `dir`.
fn dunst_command(dir: &Path) -> String {
    format!("/usr/bin/env dunst -conf {}", dir.join("dunstrc").display())
}

/// Clears `cmd`'s environment but for PATH, a home in `dir`, the display and the bus.
fn isolate(cmd: &mut Command, dir: &Path, display: &str, bus: Option<&str>) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("LANG", "C.UTF-8")
        .env("DISPLAY", display);
    if let Some(address) = bus {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", address);
    }
}

fn log_file(dir: &Path, name: &str) -> fs::File {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .unwrap_or_else(|e| panic!("cannot open {name}: {e}"))
}

fn read_log(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// The first line a starting daemon prints on stdout (trimmed); fails the test with its
/// log when it prints none within the start deadline. The pipe stays open behind it.
fn first_line(child: &mut Child, what: &str, log: &Path) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = BufReader::new(stdout);
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line);
        // Keep reading (and so the pipe open) until the daemon exits.
        let _ = std::io::copy(&mut out, &mut std::io::sink());
    });
    match rx.recv_timeout(START_DEADLINE) {
        Ok(line) if !line.trim().is_empty() => line.trim().to_owned(),
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} printed nothing within {START_DEADLINE:?} ({other:?}):\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

/// A process as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// The executable's name (`comm`).
    pub comm: String,
    /// `R`, `S`, `Z`, ...
    pub state: char,
    /// The parent's pid.
    pub ppid: i32,
}

/// `/proc/PID/stat`, or `None` when there is no such process.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_owned();
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some(ProcStat { comm, state, ppid })
}

/// Every process whose chain of parents leads to `root`.
fn descendants(root: i32) -> Vec<i32> {
    let parents: Vec<(i32, i32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?.ppid)))
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Returns true if and only if `pid` runs (a zombie counts as gone).
fn running(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|s| s.state != 'Z')
}

fn pid_of(child: &Child) -> i32 {
    i32::try_from(child.id()).expect("pid fits i32")
}

fn kill(pid: i32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid).expect("a positive pid");
    rustix::process::kill_process(pid, signal)
        .unwrap_or_else(|e| panic!("cannot signal pid {pid:?}: {e}"));
}

/// Parses `dunstctl history` (JSON of `aa{sv}`, newest first) into oldest first.
pub fn parse_history(json: &str) -> Vec<Received> {
    let value: Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("dunstctl history is not JSON ({e}):\n{json}"));
    let field = |n: &Value, name: &str| n[name]["data"].clone();
    let text = |n: &Value, name: &str| field(n, name).as_str().unwrap_or_default().to_owned();
    let mut out: Vec<Received> = value["data"][0]
        .as_array()
        .unwrap_or_else(|| panic!("no notification list in dunstctl history:\n{json}"))
        .iter()
        .map(|n| Received {
            id: field(n, "id").as_i64().unwrap_or_default(),
            appname: text(n, "appname"),
            summary: text(n, "summary"),
            body: text(n, "body"),
        })
        .collect();
    out.sort_by_key(|r| r.id);
    out
}

/// Parses `dbus-monitor` output into the `Notify` calls it shows.
pub fn parse_notify_calls(text: &str) -> Vec<NotifyCall> {
    let mut calls = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if !(line.starts_with("method call") && line.contains("member=Notify")) {
            continue;
        }
        // Its arguments run to the next message header (a body's own lines included).
        let mut block = Vec::new();
        while let Some(next) = lines.peek() {
            if ["method call ", "method return ", "signal ", "error "]
                .iter()
                .any(|h| next.starts_with(h))
            {
                break;
            }
            block.push(lines.next().unwrap_or_default().trim());
        }
        let strings: Vec<&str> = block
            .iter()
            .filter_map(|l| {
                l.strip_prefix("string \"")
                    .and_then(|s| s.strip_suffix('"'))
            })
            .collect();
        let urgency = block
            .iter()
            .position(|l| *l == "string \"urgency\"")
            .and_then(|i| block.get(i + 1))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok());
        let timeout = block
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("int32 "))
            .and_then(|n| n.parse().ok());
        calls.push(NotifyCall {
            appname: strings.first().copied().unwrap_or_default().to_owned(),
            summary: strings.get(2).copied().unwrap_or_default().to_owned(),
            urgency,
            timeout,
        });
    }
    calls
}
