//! The process behind an ssh-agent socket, against real agents: OpenSSH's `ssh-agent`
//! (foreground, daemonizing, with and without `-t`, restarted on the same path) and GnuPG's
//! `gpg-agent` with ssh support and its own `gpg-agent.conf`.
//!
//! Each test starts its own agents on sockets in its own temporary directory, with its own
//! GnuPG home, and ends them by their process ids (gpg-agent through `gpgconf --kill`). No
//! test touches the agent of the person running it. The peer pid is read with
//! `SO_PEERCRED` here, independently of keycheck.
//!
//! Run as root, every process's open files can be read. Real users cannot read those of
//! ssh-agent and gpg-agent (they make themselves non-dumpable), so
//! `hidden_agents_are_found_without_their_open_files` runs as `nobody` when the tests run
//! as root (the test binary runs that one test again under uid 65534).
//!
//! Needs `ssh-agent` (openssh-client), `gpg-agent` and `gpgconf` (gpg-agent); a missing
//! tool fails the tests, it never skips them.

#![allow(clippy::unwrap_used)]

mod support;

use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keycheck::sshagent::kind::AgentKind;
use keycheck::sys::agent_process::{
    identify, identify_with, user_agent_sockets, AgentProcess, Evidence, IdentifyError,
    IdentifyOptions,
};
use support::{run, run_ok};

/// How long an agent may take to start listening or to exit.
const PATIENCE: Duration = Duration::from_secs(10);

/// Set when this test binary runs again as `nobody` for the hidden-agent test.
const AS_NOBODY: &str = "KEYCHECK_AGENT_TEST_AS_NOBODY";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The pid `SO_PEERCRED` gives for a connection to the socket: the process that called
/// `listen()`.
fn peer_pid(socket: &Path) -> u32 {
    let stream = UnixStream::connect(socket)
        .unwrap_or_else(|e| panic!("connect to {}: {e}", socket.display()));
    let cred = rustix::net::sockopt::socket_peercred(&stream).expect("SO_PEERCRED");
    u32::try_from(cred.pid.as_raw_nonzero().get()).expect("positive pid")
}

/// Returns true if and only if the process is gone (or a zombie nobody reaped yet).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Returns true if and only if this process can list the open files of `pid`.
fn fds_readable(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok()
}

/// Evidence expected for `pid`: `HoldsSocket` when its open files can be read, else
/// `hidden`.
fn expected_evidence(pid: u32, hidden: Evidence) -> Evidence {
    if fds_readable(pid) {
        Evidence::HoldsSocket
    } else {
        hidden
    }
}

/// A daemonized agent, signalled with SIGTERM by its pid when the test ends.
struct Daemon {
    pid: u32,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
}

impl Daemon {
    /// Terminates the agent and waits until it is gone.
    fn stop(self) {
        let pid = self.pid;
        drop(self);
        let deadline = Instant::now() + PATIENCE;
        while !is_gone(pid) {
            assert!(Instant::now() < deadline, "agent {pid} did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A foreground agent, our child, killed and reaped when the test ends.
struct Foreground(Child);

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `ssh-agent -s ARGS` (it daemonizes) and returns the agent, its socket and the pid
/// of the process that ran (and exited): `SSH_AGENT_PID`, `SSH_AUTH_SOCK` and that pid.
fn start_ssh_agent(args: &[&str]) -> (Daemon, PathBuf, u32) {
    let mut cmd = Command::new("ssh-agent");
    cmd.arg("-s").args(args);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let parent = child.id();
    let out = child.wait_with_output().expect("wait for ssh-agent");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SSH_AUTH_SOCK=/tmp/x/a.sock; export SSH_AUTH_SOCK;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("no {name} in ssh-agent output {text:?}"))
            .to_owned()
    };
    let pid: u32 = value("SSH_AGENT_PID")
        .parse()
        .expect("SSH_AGENT_PID is a number");
    let socket = PathBuf::from(value("SSH_AUTH_SOCK"));
    let daemon = Daemon { pid };
    support::wait_for_listener(&socket);
    (daemon, socket, parent)
}

/// Runs `ssh-agent -D -a SOCKET ARGS` in the foreground, as our child.
fn start_foreground_ssh_agent(socket: &Path, args: &[&str]) -> Foreground {
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(socket)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ssh-agent -D");
    let agent = Foreground(child);
    support::wait_for_listener(socket);
    agent
}

/// A gpg-agent with ssh support in its own GnuPG home, killed with
/// `gpgconf --homedir HOME --kill gpg-agent` when the test ends.
struct GpgAgent {
    home: PathBuf,
    socket: PathBuf,
    pid: u32,
    parent: u32,
}

impl Drop for GpgAgent {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "gpg-agent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Starts `gpg-agent --daemon --enable-ssh-support --homedir HOME ARGS`, with `conf` as its
/// `gpg-agent.conf` if given.
fn start_gpg_agent(home: &Path, conf: Option<&str>, args: &[&str]) -> GpgAgent {
    std::fs::create_dir_all(home).expect("create the GnuPG home");
    std::fs::set_permissions(home, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod 700 the GnuPG home");
    if let Some(conf) = conf {
        std::fs::write(home.join("gpg-agent.conf"), conf).expect("write gpg-agent.conf");
    }
    let log = home.join("gpg-agent.stderr");
    // The daemon keeps stderr open: it goes to a file, so no pipe waits for it.
    let mut cmd = Command::new("gpg-agent");
    cmd.args(["--daemon", "--enable-ssh-support", "--homedir"])
        .arg(home)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("create the gpg-agent log"));
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let parent = child.id();
    let out = child.wait_with_output().expect("wait for gpg-agent");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let dirs = run_ok(
        Command::new("gpgconf")
            .arg("--homedir")
            .arg(home)
            .args(["--list-dirs", "agent-ssh-socket"]),
    );
    let socket = PathBuf::from(String::from_utf8_lossy(&dirs.stdout).trim());
    // The agent's own word for its pid: `getinfo pid` → "D 4737\nOK".
    let info = run_ok(
        Command::new("gpg-connect-agent")
            .arg("--homedir")
            .arg(home)
            .args(["--no-autostart", "getinfo pid", "/bye"]),
    );
    let info = String::from_utf8_lossy(&info.stdout);
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("D "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in gpg-connect-agent output {info:?}"));
    let agent = GpgAgent {
        home: home.to_owned(),
        socket,
        pid,
        parent,
    };
    support::wait_for_listener(&agent.socket);
    agent
}

fn identified(socket: &Path, peer: Option<u32>) -> AgentProcess {
    identify(socket, peer, uid()).unwrap_or_else(|e| panic!("identify {}: {e}", socket.display()))
}

fn openssh(lifetime_secs: Option<u64>) -> AgentKind {
    AgentKind::OpenSsh { lifetime_secs }
}

// ---------------------------------------------------------------------------------------
// ssh-agent
// ---------------------------------------------------------------------------------------

#[test]
fn foreground_agent_is_its_own_peer_pid() {
    support::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("fg agent.sock");
    let agent = start_foreground_ssh_agent(&socket, &[]);
    let pid = agent.0.id();
    let peer = peer_pid(&socket);
    assert_eq!(peer, pid, "with -D, SO_PEERCRED names the agent itself");
    let found = identified(&socket, Some(peer));
    assert_eq!(found.pid, pid);
    assert_eq!(found.kind, openssh(None));
    assert_eq!(
        found.evidence,
        expected_evidence(pid, Evidence::PeerCredentials)
    );
    assert_eq!(
        found.cmdline,
        ["ssh-agent", "-D", "-a", &socket.display().to_string()]
    );
    if fds_readable(pid) {
        assert_eq!(found.exe.as_deref(), Some("/usr/bin/ssh-agent"));
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert_eq!(
        Some(found.start_time),
        keycheck::sshagent::kind::parse_proc_stat_start_time(&stat)
    );
}

#[test]
fn daemonized_agent_is_found_past_its_exited_parent() {
    support::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let (agent, reported, parent) = start_ssh_agent(&["-a", socket.to_str().unwrap()]);
    assert_eq!(reported, socket);
    let peer = peer_pid(&socket);
    // The SO_PEERCRED gotcha: the pid is the parent that called listen() and exited.
    assert_eq!(peer, parent);
    assert_ne!(peer, agent.pid);
    assert!(is_gone(peer), "the parent {peer} should have exited");
    let found = identified(&socket, Some(peer));
    assert_eq!(found.pid, agent.pid, "SSH_AGENT_PID");
    assert_eq!(found.kind, openssh(None));
    assert_eq!(
        found.evidence,
        expected_evidence(agent.pid, Evidence::CommandLine)
    );
    // Without a peer pid too.
    assert_eq!(identified(&socket, None).pid, agent.pid);
    // Through a symlink (`ln -s $SSH_AUTH_SOCK ~/.ssh/agent.sock`): /proc/net/unix lists
    // the path the agent bound, and keycheck resolves the link to find it.
    let link = dir.path().join("link.sock");
    std::os::unix::fs::symlink(&socket, &link).unwrap();
    assert_eq!(identified(&link, None).pid, agent.pid);
    // And the user's sockets name it once, however many ways it is reached.
    let sockets = user_agent_sockets(
        Some(socket.as_os_str()),
        &[
            "SSH_AUTH_SOCK".to_owned(),
            link.display().to_string(),
            "none".to_owned(),
        ],
        dir.path(),
    );
    assert_eq!(sockets, [socket]);
}

#[test]
fn default_socket_agent_is_found() {
    // `eval $(ssh-agent -s)`: the socket is /tmp/ssh-XXXXXXXXXX/agent.<parent pid>.
    support::require_tools();
    let (agent, socket, parent) = start_ssh_agent(&[]);
    assert!(
        socket
            .file_name()
            .is_some_and(|n| n == format!("agent.{parent}").as_str()),
        "{}",
        socket.display()
    );
    let found = identified(&socket, Some(peer_pid(&socket)));
    assert_eq!(found.pid, agent.pid);
    assert_eq!(
        found.evidence,
        expected_evidence(agent.pid, Evidence::WokenByConnection)
    );
    let dir = socket.parent().unwrap().to_owned();
    agent.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn lifetime_comes_from_the_command_line() {
    support::require_tools();
    let dir = tempfile::tempdir().unwrap();
    for (args, lifetime) in [
        (&["-t", "1h"][..], 3600),
        (&["-t", "90"][..], 90),
        (&["-t1h30m"][..], 5400),
    ] {
        let socket = dir.path().join(format!("t{lifetime}.sock"));
        let mut all = args.to_vec();
        all.extend(["-a", socket.to_str().unwrap()]);
        let (agent, _, parent) = start_ssh_agent(&all);
        let found = identified(&socket, Some(parent));
        assert_eq!(found.pid, agent.pid, "{args:?}");
        assert_eq!(found.kind, openssh(Some(lifetime)), "{args:?}");
    }
    // Combined flags in the foreground.
    let socket = dir.path().join("combined.sock");
    let agent = start_foreground_ssh_agent(&socket, &["-t", "10m"]);
    let found = identified(&socket, Some(agent.0.id()));
    assert_eq!(found.kind, openssh(Some(600)));
}

#[test]
fn restarted_agent_is_another_instance() {
    support::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let (first, _, _) = start_ssh_agent(&["-a", socket.to_str().unwrap()]);
    let before = identified(&socket, None);
    assert_eq!(before.pid, first.pid);
    first.stop();
    // ssh-agent removes its socket when terminated.
    let _ = std::fs::remove_file(&socket);
    // A start time is in clock ticks (1/100 s): let the clock move on, so the instance
    // differs even if the pid were reused.
    std::thread::sleep(Duration::from_millis(20));
    let (second, _, _) = start_ssh_agent(&["-a", socket.to_str().unwrap()]);
    let after = identified(&socket, None);
    assert_eq!(after.pid, second.pid);
    assert_ne!(
        (before.pid, before.start_time),
        (after.pid, after.start_time)
    );
    assert!(after.start_time >= before.start_time);
}

// ---------------------------------------------------------------------------------------
// gpg-agent
// ---------------------------------------------------------------------------------------

#[test]
fn gpg_agent_with_its_configuration() {
    support::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let agent = start_gpg_agent(
        &dir.path().join("gnupg"),
        Some("# keycheck test\ndefault-cache-ttl-ssh 600\nmax-cache-ttl-ssh 14400\n"),
        &[],
    );
    let peer = peer_pid(&agent.socket);
    assert_eq!(peer, agent.parent, "gpg-agent --daemon forks too");
    assert_ne!(peer, agent.pid);
    let found = identified(&agent.socket, Some(peer));
    assert_eq!(found.pid, agent.pid, "getinfo pid");
    assert_eq!(
        found.kind,
        AgentKind::GpgAgent {
            default_ttl_secs: Some(600),
            max_ttl_secs: Some(14400),
        }
    );
    assert_eq!(
        found.evidence,
        expected_evidence(agent.pid, Evidence::WokenByConnection)
    );
}

#[test]
fn gpg_agent_defaults_and_command_line() {
    support::require_tools();
    let dir = tempfile::tempdir().unwrap();
    // No gpg-agent.conf: gpgconf gives the built-in defaults; the command line overrides.
    let agent = start_gpg_agent(
        &dir.path().join("gnupg"),
        None,
        &["--max-cache-ttl-ssh", "99"],
    );
    let found = identified(&agent.socket, None);
    assert_eq!(found.pid, agent.pid);
    assert_eq!(
        found.kind,
        AgentKind::GpgAgent {
            default_ttl_secs: Some(1800),
            max_ttl_secs: Some(99),
        }
    );
    // Without gpgconf, gpg-agent.conf and the defaults.
    std::fs::write(
        agent.home.join("gpg-agent.conf"),
        "default-cache-ttl-ssh 42\n",
    )
    .unwrap();
    let options = IdentifyOptions {
        gpgconf: dir.path().join("no-such-gpgconf"),
        ..IdentifyOptions::from_env()
    };
    let found = identify_with(&agent.socket, None, uid(), &options).unwrap();
    assert_eq!(
        found.kind,
        AgentKind::GpgAgent {
            default_ttl_secs: Some(42),
            max_ttl_secs: Some(99),
        }
    );
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

#[test]
fn a_dead_agent_leaves_nothing_listening() {
    support::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let agent = start_foreground_ssh_agent(&socket, &[]);
    drop(agent); // SIGKILL: the socket file stays behind.
    assert!(socket.exists());
    assert_eq!(
        identify(&socket, None, uid()),
        Err(IdentifyError::NotListening {
            socket: socket.display().to_string()
        })
    );
}

// ---------------------------------------------------------------------------------------
// Agents whose open files cannot be read
// ---------------------------------------------------------------------------------------

#[test]
fn hidden_agents_are_found_without_their_open_files() {
    support::require_tools();
    if uid() == 0 && std::env::var_os(AS_NOBODY).is_none() {
        // Root reads everything: run this test again as nobody.
        let exe = support::test_binary_for_nobody();
        let out = run(Command::new(exe)
            .args([
                "hidden_agents_are_found_without_their_open_files",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(AS_NOBODY, "1")
            .env("HOME", "/nonexistent")
            .env_remove("GNUPGHOME")
            .env_remove("SSH_AUTH_SOCK")
            .current_dir("/")
            .uid(65534)
            .gid(65534));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "as nobody ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    // ssh-agent -a: found by its command line.
    let socket = dir.path().join("bound.sock");
    let (bound, _, parent) = start_ssh_agent(&["-t", "5m", "-a", socket.to_str().unwrap()]);
    assert!(!fds_readable(bound.pid), "ssh-agent should be non-dumpable");
    let found = identified(&socket, Some(parent));
    assert_eq!(
        (found.pid, found.evidence),
        (bound.pid, Evidence::CommandLine)
    );
    assert_eq!(found.kind, openssh(Some(300)));
    assert_eq!(found.exe, None, "exe cannot be read either");

    // ssh-agent -D: its own peer pid.
    let socket = dir.path().join("fg.sock");
    let fg = start_foreground_ssh_agent(&socket, &[]);
    let found = identified(&socket, Some(peer_pid(&socket)));
    assert_eq!(
        (found.pid, found.evidence),
        (fg.0.id(), Evidence::PeerCredentials)
    );

    // The default socket: woken by a connection, among the other hidden agents.
    let (default, socket, parent) = start_ssh_agent(&[]);
    let found = identified(&socket, Some(parent));
    assert_eq!(
        (found.pid, found.evidence),
        (default.pid, Evidence::WokenByConnection)
    );
    assert_eq!(found.kind, openssh(None));

    // gpg-agent, with its configuration read through gpgconf for its --homedir.
    let gpg = start_gpg_agent(
        &dir.path().join("gnupg"),
        Some("default-cache-ttl-ssh 600\nmax-cache-ttl-ssh 14400\n"),
        &[],
    );
    assert!(!fds_readable(gpg.pid), "gpg-agent should be non-dumpable");
    let found = identified(&gpg.socket, Some(gpg.parent));
    assert_eq!(
        (found.pid, found.evidence),
        (gpg.pid, Evidence::WokenByConnection)
    );
    assert_eq!(
        found.kind,
        AgentKind::GpgAgent {
            default_ttl_secs: Some(600),
            max_ttl_secs: Some(14400),
        }
    );

    // Without the probe, nothing ties the default socket to a process.
    let options = IdentifyOptions {
        wake_probe: false,
        ..IdentifyOptions::from_env()
    };
    assert!(matches!(
        identify_with(&socket, Some(parent), uid(), &options),
        Err(IdentifyError::NotFound { hidden, .. }) if hidden >= 4
    ));
    let socket_dir = socket.parent().unwrap().to_owned();
    default.stop();
    let _ = std::fs::remove_dir_all(socket_dir);
}
