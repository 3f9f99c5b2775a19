//! keycheck's ssh-agent client (`keycheck::sys::ssh_agent`) against the real OpenSSH
//! `ssh-agent` and `ssh-add`, and against hostile fake agents.
//!
//! Each test starts its own agent on a socket in its own temp dir (never the agent of the
//! person running the tests) and kills it at the end. Keys are made once with the real
//! `ssh-keygen` (a certificate with `ssh-keygen -s`) and loaded with the real `ssh-add`;
//! what keycheck lists must be what `ssh-add -l -E sha256` and `ssh-add -L` print.
//!
//! Needs `ssh-agent`, `ssh-add`, `ssh-keygen` (openssh-client) and `setpriv`
//! (util-linux), and root (to make sockets and agents owned by another user). A missing
//! tool fails the tests, it never skips them.

mod support;

use support::ssh_agent::SshAgent;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{chown, symlink, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use keycheck::sshagent::protocol::{Identity, ProtocolError, MAX_FRAME, MAX_IDENTITIES};
use keycheck::sys::ssh_agent::{connect, AgentConnection, AgentError, ConnectOptions};
use support::{run, run_ok};

/// The uid of `nobody`, who owns the foreign sockets and agents.
const NOBODY: u32 = 65534;

/// The longest any call into the client may take in these tests (the hostile agents use
/// a 300 ms limit; the default is 2 s).
const BOUND: Duration = Duration::from_secs(5);

/// The limit the hostile-agent tests give the client.
const SHORT: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------------------
// Tools, keys, agents
// ---------------------------------------------------------------------------------------

/// One key the tests load into agents.
#[derive(Debug)]
struct TestKey {
    /// The private key file (with `PATH.pub`, and `PATH-cert.pub` for the certified one).
    path: PathBuf,
    /// The comment ssh-keygen wrote into it.
    comment: &'static str,
}

/// The keys every test shares, generated once under cargo's target tmp dir.
struct Keys {
    ed25519: TestKey,
    rsa: TestKey,
    ecdsa: TestKey,
    /// Loaded with `ssh-add -t`.
    timed: TestKey,
    /// Has a certificate (`certified-cert.pub`, signed by a throwaway CA) next to it, so
    /// `ssh-add` loads the key and the certificate.
    certified: TestKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        support::require_tools();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("keycheck-agent-keys");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the key dir");
        let make = |name: &str, comment: &'static str, args: &[&str]| {
            let path = dir.join(name);
            run_ok(
                Command::new("ssh-keygen")
                    .args(["-q", "-N", "", "-C", comment, "-f"])
                    .arg(&path)
                    .args(args),
            );
            TestKey { path, comment }
        };
        let keys = Keys {
            ed25519: make("ed25519", "ed25519 key", &["-t", "ed25519"]),
            rsa: make("rsa", "rsa@example.com", &["-t", "rsa", "-b", "3072"]),
            ecdsa: make("ecdsa", "ecdsa key ünï", &["-t", "ecdsa", "-b", "384"]),
            timed: make("timed", "timed key", &["-t", "ed25519"]),
            certified: make("certified", "certified key", &["-t", "ecdsa", "-b", "256"]),
        };
        let ca = make("ca", "ca@example.com", &["-t", "ed25519"]);
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-s"])
                .arg(&ca.path)
                .args(["-I", "test-cert", "-n", "alice", "-V", "+1d"])
                .arg(dir.join("certified.pub")),
        );
        assert!(dir.join("certified-cert.pub").exists());
        keys
    })
}

/// A real ssh-agent on a socket in its own temp dir; killed when dropped.
struct Agent {
    dir: tempfile::TempDir,
    socket: PathBuf,
    /// The agent process: the `-D` child, or the pid a daemonizing agent printed.
    pid: i32,
    /// The `-D` agent (killed when dropped); `None` for a daemonized one.
    foreground: Option<SshAgent>,
}

impl Agent {
    /// `ssh-agent -D -a SOCKET` (stays in the foreground: SO_PEERCRED shows its pid).
    fn foreground() -> Agent {
        support::require_tools();
        let dir = tempfile::tempdir().expect("temp dir");
        let agent = SshAgent::start(dir.path(), &[]);
        Agent {
            socket: agent.socket.clone(),
            pid: i32::try_from(agent.pid()).expect("pid fits"),
            foreground: Some(agent),
            dir,
        }
    }

    /// `ssh-agent -a SOCKET -s`: forks into the background after listening, so the pid
    /// SO_PEERCRED reports is its parent's, which has exited.
    fn daemonized() -> Agent {
        support::require_tools();
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("agent.sock");
        let out = run_ok(Command::new("ssh-agent").arg("-a").arg(&socket).arg("-s"));
        let text = String::from_utf8_lossy(&out.stdout);
        let pid = text
            .split(';')
            .find_map(|part| part.trim().strip_prefix("SSH_AGENT_PID="))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no SSH_AGENT_PID in {text:?}"));
        let agent = Agent {
            dir,
            socket,
            pid,
            foreground: None,
        };
        support::wait_for_listener(&agent.socket);
        agent
    }

    /// `ssh-add ARGS` talking to this agent only.
    fn ssh_add(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ssh-add");
        cmd.env("SSH_AUTH_SOCK", &self.socket)
            .env("HOME", self.dir.path())
            .env_remove("SSH_AGENT_PID")
            .env_remove("SSH_ASKPASS")
            .env_remove("DISPLAY")
            .args(args);
        cmd
    }

    /// Loads a key (and its certificate, when one lies next to it).
    fn add(&self, key: &TestKey, args: &[&str]) {
        let mut cmd = self.ssh_add(args);
        run_ok(cmd.arg(&key.path));
    }

    /// `ssh-add -l -E sha256`, one `(bits, fingerprint, comment, type)` per line; empty
    /// when the agent has no identities (checking ssh-add's words for it).
    fn ssh_add_l(&self) -> BTreeSet<(u32, String, String, String)> {
        let out = run(&mut self.ssh_add(&["-l", "-E", "sha256"]));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.code() == Some(1) {
            assert_eq!(text.trim(), "The agent has no identities.");
            return BTreeSet::new();
        }
        assert!(out.status.success(), "ssh-add -l failed: {out:?}");
        text.lines()
            .map(|line| {
                let (bits, rest) = line.split_once(' ').expect("bits");
                let (fp, rest) = rest.split_once(' ').expect("fingerprint");
                let (comment, key_type) = rest.rsplit_once(" (").expect("(TYPE)");
                (
                    bits.parse().expect("numeric bits"),
                    fp.to_owned(),
                    comment.to_owned(),
                    key_type.trim_end_matches(')').to_owned(),
                )
            })
            .collect()
    }

    /// `ssh-add -L`, one `(blob, comment)` per line.
    fn ssh_add_big_l(&self) -> BTreeSet<(Vec<u8>, String)> {
        let out = run(&mut self.ssh_add(&["-L"]));
        if out.status.code() == Some(1) {
            return BTreeSet::new();
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|line| {
                let mut words = line.splitn(3, ' ');
                let _type = words.next();
                let blob = STANDARD
                    .decode(words.next().expect("base64"))
                    .expect("valid base64");
                (blob, words.next().unwrap_or_default().to_owned())
            })
            .collect()
    }

    fn connect(&self) -> AgentConnection {
        connect(&self.socket, &ConnectOptions::default()).unwrap_or_else(|e| panic!("connect: {e}"))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // A foreground agent is killed by its own drop.
        if self.foreground.is_none() {
            if let Some(pid) = rustix::process::Pid::from_raw(self.pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        }
    }
}

/// A child process killed when dropped (also when the test fails).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What keycheck lists, in `ssh-add -l`'s terms.
fn as_ssh_add_l(list: &[Identity]) -> BTreeSet<(u32, String, String, String)> {
    list.iter()
        .map(|id| {
            (
                id.bits.expect("bits"),
                id.fingerprint.clone().expect("fingerprint"),
                id.comment.clone(),
                id.ssh_add_type(),
            )
        })
        .collect()
}

/// What keycheck lists, in `ssh-add -L`'s terms.
fn as_ssh_add_big_l(list: &[Identity]) -> BTreeSet<(Vec<u8>, String)> {
    list.iter()
        .map(|id| (id.blob.clone(), id.comment.clone()))
        .collect()
}

/// Runs `f` on a thread and fails the test unless it returns within [`BOUND`]; returns
/// its result and how long it took.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(BOUND) {
        Ok(value) => (value, start.elapsed()),
        Err(_) => panic!("the agent client did not return within {BOUND:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Real agents
// ---------------------------------------------------------------------------------------

#[test]
fn lists_what_ssh_add_lists() {
    let keys = keys();
    let agent = Agent::foreground();
    let mut conn = agent.connect();
    assert_eq!(conn.peer.pid, agent.pid, "ssh-agent -D listens itself");
    assert_eq!(conn.peer.uid, 0);
    assert_eq!(conn.list_identities().expect("list"), Vec::new());
    assert!(agent.ssh_add_l().is_empty());

    agent.add(&keys.ed25519, &[]);
    agent.add(&keys.rsa, &[]);
    agent.add(&keys.ecdsa, &[]);
    agent.add(&keys.timed, &["-t", "600"]);
    agent.add(&keys.certified, &[]);

    let list = conn.list_identities().expect("list");
    assert_eq!(list.len(), 6, "five keys and one certificate: {list:?}");
    assert_eq!(as_ssh_add_l(&list), agent.ssh_add_l());
    assert_eq!(as_ssh_add_big_l(&list), agent.ssh_add_big_l());

    let comments: BTreeSet<&str> = list.iter().map(|id| id.comment.as_str()).collect();
    for key in [
        &keys.ed25519,
        &keys.rsa,
        &keys.ecdsa,
        &keys.timed,
        &keys.certified,
    ] {
        assert!(comments.contains(key.comment), "{} missing", key.comment);
    }
    // The certificate: listed with the certified key's fingerprint, like ssh-add -l.
    let certs: Vec<&Identity> = list.iter().filter(|id| id.is_certificate()).collect();
    assert_eq!(certs.len(), 1);
    let cert = certs[0];
    assert_eq!(
        cert.algorithm.as_deref(),
        Some("ecdsa-sha2-nistp256-cert-v01@openssh.com")
    );
    assert_eq!(cert.comment, "certified key");
    let plain = list
        .iter()
        .find(|id| !id.is_certificate() && id.comment == "certified key")
        .expect("the certified key itself");
    assert_eq!(cert.fingerprint, plain.fingerprint);
    assert_eq!(cert.bits, Some(256));
    let facts = cert.certificate.as_ref().expect("certificate facts");
    assert_eq!(facts.key_id, "test-cert");
    assert_eq!(facts.principals, ["alice"]);
    // The same connection keeps working.
    assert_eq!(conn.list_identities().expect("list again"), list);
}

#[test]
fn remove_one_then_all() {
    let keys = keys();
    let agent = Agent::foreground();
    agent.add(&keys.ed25519, &[]);
    agent.add(&keys.rsa, &[]);
    agent.add(&keys.certified, &[]);
    let mut conn = agent.connect();
    let list = conn.list_identities().expect("list");
    assert_eq!(list.len(), 4);

    let rsa = list
        .iter()
        .find(|id| id.algorithm.as_deref() == Some("ssh-rsa"))
        .expect("rsa key listed");
    assert!(conn.remove(&rsa.blob).expect("remove"));
    let left = agent.ssh_add_l();
    assert_eq!(left.len(), 3);
    assert!(left
        .iter()
        .all(|(_, fp, _, _)| Some(fp) != rsa.fingerprint.as_ref()));
    // Removing it again: the agent says failure, which is not an error.
    assert!(!conn.remove(&rsa.blob).expect("remove again"));

    // Removing the certificate leaves the key it certifies.
    let cert = list.iter().find(|id| id.is_certificate()).expect("cert");
    assert!(conn.remove(&cert.blob).expect("remove cert"));
    let left = agent.ssh_add_l();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|(_, _, _, t)| !t.ends_with("-CERT")));
    assert!(left.iter().any(|(_, _, c, _)| c == "certified key"));
    assert_eq!(
        as_ssh_add_l(&conn.list_identities().expect("list")),
        agent.ssh_add_l()
    );

    assert!(conn.remove_all().expect("remove all"));
    let out = run(&mut agent.ssh_add(&["-l"]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "The agent has no identities."
    );
    assert_eq!(conn.list_identities().expect("list"), Vec::new());
}

#[test]
fn daemonized_agent_lists_too() {
    let keys = keys();
    let agent = Agent::daemonized();
    agent.add(&keys.ed25519, &[]);
    agent.add(&keys.timed, &["-t", "600"]);
    let mut conn = agent.connect();
    // SO_PEERCRED names the process that called listen(): the parent, gone by now.
    assert_ne!(conn.peer.pid, agent.pid);
    assert!(!Path::new(&format!("/proc/{}/cmdline", conn.peer.pid)).exists());
    assert_eq!(conn.peer.uid, 0);
    let list = conn.list_identities().expect("list");
    assert_eq!(as_ssh_add_l(&list), agent.ssh_add_l());
    assert_eq!(list.len(), 2);
}

#[test]
fn a_symlink_to_your_own_agent_is_followed() {
    let keys = keys();
    let agent = Agent::foreground();
    agent.add(&keys.ed25519, &[]);
    let link = agent.dir.path().join("link");
    symlink(&agent.socket, &link).expect("symlink");
    let mut conn = connect(&link, &ConnectOptions::default()).expect("connect via symlink");
    assert_eq!(conn.list_identities().expect("list").len(), 1);
}

#[test]
fn an_agent_running_as_another_user_is_refused() {
    support::require_tools();
    // nobody must reach the socket dir: a 0777 dir under a 0755 temp dir.
    let dir = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).expect("mkdir");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).expect("chmod");
    let socket = shared.join("agent.sock");
    let child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "ssh-agent",
            "-D",
            "-a",
        ])
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ssh-agent as nobody");
    let agent = KillOnDrop(child);
    support::wait_for_listener(&socket);
    // The file now looks like ours: only SO_PEERCRED can tell.
    chown(&socket, Some(0), Some(0)).expect("chown the socket to root");
    let err = connect(&socket, &ConnectOptions::default()).expect_err("refused");
    match &err {
        AgentError::PeerNotYou {
            peer_uid, peer_pid, ..
        } => {
            assert_eq!(*peer_uid, NOBODY);
            assert_eq!(i64::from(*peer_pid), i64::from(agent.0.id()));
        }
        other => panic!("expected PeerNotYou, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("runs as uid {NOBODY}")) && text.contains("not as you (uid 0)"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// Sockets that are not yours, or not sockets
// ---------------------------------------------------------------------------------------

#[test]
fn a_socket_owned_by_another_user_is_refused_before_connecting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    chown(&socket, Some(NOBODY), Some(NOBODY)).expect("chown");
    let err = connect(&socket, &ConnectOptions::default()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        format!(
            "socket {} is owned by uid 65534, not you (uid 0): keycheck talks only to your \
             own agent",
            socket.display()
        )
    );
    assert!(
        listener.accept().is_err(),
        "keycheck connected to a socket it had refused"
    );

    // Through a symlink: the message names both.
    let link = dir.path().join("link");
    symlink(&socket, &link).expect("symlink");
    let err = connect(&link, &ConnectOptions::default()).expect_err("refused");
    assert!(matches!(err, AgentError::NotOwned { owner: NOBODY, .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "socket {} (a symlink to {}) is owned by uid 65534, not you (uid 0): keycheck \
             talks only to your own agent",
            link.display(),
            fs::canonicalize(&socket).expect("canonical").display()
        )
    );
}

#[test]
fn paths_that_are_no_agent_socket() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.sock");
    let err = connect(&missing, &ConnectOptions::default()).expect_err("missing");
    assert!(
        matches!(&err, AgentError::Stat { kind, .. } if *kind == std::io::ErrorKind::NotFound),
        "{err:?}"
    );

    let file = dir.path().join("file");
    fs::write(&file, b"not a socket").expect("write");
    let err = connect(&file, &ConnectOptions::default()).expect_err("a file");
    assert_eq!(
        err.to_string(),
        format!("{} is a regular file, not an agent socket", file.display())
    );

    let dangling = dir.path().join("dangling");
    symlink(&missing, &dangling).expect("symlink");
    assert!(matches!(
        connect(&dangling, &ConnectOptions::default()),
        Err(AgentError::Stat { .. })
    ));

    // A socket nobody listens on any more.
    let stale = dir.path().join("stale.sock");
    drop(UnixListener::bind(&stale).expect("bind"));
    let err = connect(&stale, &ConnectOptions::default()).expect_err("stale");
    assert!(
        matches!(&err, AgentError::Connect { kind, .. } if *kind == std::io::ErrorKind::ConnectionRefused),
        "{err:?}"
    );
}

#[test]
fn connect_gives_up_on_a_full_backlog() {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("agent.sock");
    let listener = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .expect("socket");
    let addr = SocketAddrUnix::new(&socket).expect("address");
    rustix::net::bind(&listener, &addr).expect("bind");
    rustix::net::listen(&listener, 0).expect("listen");
    // Fill the backlog with connections nobody accepts.
    let mut pending = Vec::new();
    loop {
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .expect("socket");
        match rustix::net::connect(&fd, &addr) {
            Ok(()) => pending.push(fd),
            Err(_) => break,
        }
        assert!(pending.len() < 100, "the backlog never fills");
    }
    let options = ConnectOptions {
        timeout: SHORT,
        ..ConnectOptions::default()
    };
    let (result, took) = within(move || connect(&socket, &options).map(|_| ()));
    assert!(
        matches!(result, Err(AgentError::ConnectTimeout { .. })),
        "{result:?}"
    );
    assert!(took >= SHORT, "gave up after {took:?}");
    drop(pending);
    drop(listener);
}

// ---------------------------------------------------------------------------------------
// Hostile agents: the client must fail cleanly and in time
// ---------------------------------------------------------------------------------------

/// A fake agent: a listener (owned by us, so it passes the trust checks) whose one
/// connection is handed to `serve`.
struct FakeAgent {
    _dir: tempfile::TempDir,
    socket: PathBuf,
}

impl FakeAgent {
    fn start(serve: impl FnOnce(UnixStream) + Send + 'static) -> FakeAgent {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&socket).expect("bind");
        thread::spawn(move || {
            if let Ok((stream, _)) = listener.accept() {
                serve(stream);
            }
        });
        FakeAgent { _dir: dir, socket }
    }

    /// A fake agent that reads the request's frame and answers `reply` (raw bytes), then
    /// keeps the connection open for a while.
    fn answering(reply: Vec<u8>) -> FakeAgent {
        FakeAgent::start(move |mut stream| {
            let _ = read_request(&mut stream);
            let _ = stream.write_all(&reply);
            thread::sleep(BOUND);
        })
    }

    /// Lists identities with the short limit; returns the result and the time taken.
    fn list(&self) -> (Result<Vec<Identity>, AgentError>, Duration) {
        let socket = self.socket.clone();
        within(move || {
            let options = ConnectOptions {
                timeout: SHORT,
                ..ConnectOptions::default()
            };
            connect(&socket, &options)?.list_identities()
        })
    }
}

/// Reads one request frame.
fn read_request(stream: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header)?;
    let mut body = vec![0u8; u32::from_be_bytes(header).min(MAX_FRAME) as usize];
    stream.read_exact(&mut body)?;
    Ok(body)
}

fn protocol_error(result: &Result<Vec<Identity>, AgentError>) -> &ProtocolError {
    match result {
        Err(AgentError::Protocol { source, .. }) => source,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn fake_agent_sending_garbage() {
    let fake = FakeAgent::answering(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec());
    let (result, _) = fake.list();
    assert_eq!(
        protocol_error(&result),
        &ProtocolError::FrameTooLarge {
            length: u32::from_be_bytes(*b"HTTP"),
            max: MAX_FRAME
        }
    );
}

#[test]
fn fake_agent_announcing_a_huge_reply() {
    let fake = FakeAgent::answering(vec![0xff, 0xff, 0xff, 0xff, 12, 0, 0]);
    let (result, _) = fake.list();
    assert!(matches!(
        protocol_error(&result),
        ProtocolError::FrameTooLarge {
            length: u32::MAX,
            ..
        }
    ));
}

#[test]
fn fake_agent_announcing_huge_counts() {
    let fake = FakeAgent::answering(vec![0, 0, 0, 5, 12, 0xff, 0xff, 0xff, 0xff]);
    let (result, _) = fake.list();
    assert_eq!(
        protocol_error(&result),
        &ProtocolError::TooManyIdentities {
            count: u32::MAX,
            max: MAX_IDENTITIES
        }
    );
    // A count the frame cannot hold.
    let fake = FakeAgent::answering(vec![0, 0, 0, 9, 12, 0, 0, 0, 100, 0, 0, 0, 0]);
    let (result, _) = fake.list();
    assert!(matches!(
        protocol_error(&result),
        ProtocolError::Truncated { .. }
    ));
}

#[test]
fn fake_agent_with_the_wrong_reply_or_extra_bytes() {
    let fake = FakeAgent::answering(vec![0, 0, 0, 1, 6]);
    let (result, _) = fake.list();
    assert!(matches!(
        protocol_error(&result),
        ProtocolError::UnexpectedType { found: 6, .. }
    ));
    let fake = FakeAgent::answering(vec![0, 0, 0, 1, 5]);
    let (result, _) = fake.list();
    assert!(matches!(
        protocol_error(&result),
        ProtocolError::AgentFailure { .. }
    ));
    let fake = FakeAgent::answering(vec![0, 0, 0, 5, 12, 0, 0, 0, 0, 0xde, 0xad]);
    let (result, _) = fake.list();
    assert!(matches!(
        protocol_error(&result),
        ProtocolError::TrailingBytes { count: 2, .. }
    ));
    let fake = FakeAgent::answering(vec![0, 0, 0, 0]);
    let (result, _) = fake.list();
    assert_eq!(protocol_error(&result), &ProtocolError::Empty);
}

#[test]
fn fake_agent_truncating_its_reply_and_hanging_up() {
    let fake = FakeAgent::start(|mut stream| {
        let _ = read_request(&mut stream);
        let _ = stream.write_all(&[0, 0, 0, 100, 12, 0, 0]);
        // Dropped: the connection closes mid-reply.
    });
    let (result, took) = fake.list();
    assert!(
        matches!(result, Err(AgentError::Closed { .. })),
        "{result:?}"
    );
    assert!(took < SHORT, "took {took:?}");
}

#[test]
fn fake_agent_truncating_its_reply_and_staying() {
    let fake = FakeAgent::answering(vec![0, 0, 0, 100, 12, 0, 0]);
    let (result, took) = fake.list();
    assert!(
        matches!(result, Err(AgentError::Timeout { .. })),
        "{result:?}"
    );
    assert!(took >= SHORT, "took {took:?}");
}

#[test]
fn fake_agent_that_never_answers() {
    let fake = FakeAgent::start(|mut stream| {
        let _ = read_request(&mut stream);
        thread::sleep(BOUND * 2);
    });
    let (result, took) = fake.list();
    let err = result.expect_err("timeout");
    assert!(matches!(err, AgentError::Timeout { .. }), "{err:?}");
    assert!(took >= SHORT, "took {took:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the agent at {} did not answer \"list identities\" within 300ms",
            fake.socket.display()
        )
    );
}

#[test]
fn fake_agent_dripping_one_byte_at_a_time() {
    // Each read gets a byte well within the limit; the whole reply never comes. The
    // limit is for the whole request, so this ends too.
    let fake = FakeAgent::start(|mut stream| {
        let _ = read_request(&mut stream);
        let mut reply = vec![0, 0, 0, 200, 12, 0, 0, 0, 1];
        reply.extend(std::iter::repeat_n(0u8, 200));
        for byte in reply {
            if stream.write_all(&[byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    let (result, took) = fake.list();
    assert!(
        matches!(result, Err(AgentError::Timeout { .. })),
        "{result:?}"
    );
    assert!(took >= SHORT && took < SHORT * 3, "took {took:?}");
}

#[test]
fn default_limit_is_two_seconds() {
    assert_eq!(ConnectOptions::default().timeout, Duration::from_secs(2));
    let fake = FakeAgent::start(|mut stream| {
        let _ = read_request(&mut stream);
        thread::sleep(BOUND * 2);
    });
    let socket = fake.socket.clone();
    let (result, took) = within(move || connect(&socket, &ConnectOptions::default())?.remove_all());
    assert!(
        matches!(result, Err(AgentError::Timeout { .. })),
        "{result:?}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < BOUND,
        "took {took:?}"
    );
}

#[test]
fn fake_agent_sees_exactly_the_requests() {
    let (tx, rx) = mpsc::channel();
    let fake = FakeAgent::start(move |mut stream| {
        for reply in [
            &[0u8, 0, 0, 1, 6][..],
            &[0, 0, 0, 1, 5],
            &[0, 0, 0, 5, 12, 0, 0, 0, 0],
        ] {
            let Ok(request) = read_request(&mut stream) else {
                return;
            };
            let _ = tx.send(request);
            let _ = stream.write_all(reply);
        }
    });
    let socket = fake.socket.clone();
    let (result, _) = within(move || -> Result<_, AgentError> {
        let mut conn = connect(&socket, &ConnectOptions::default())?;
        Ok((
            conn.remove(b"blob")?,
            conn.remove_all()?,
            conn.list_identities()?,
        ))
    });
    assert_eq!(result.expect("exchanges"), (true, false, Vec::new()));
    let requests: Vec<Vec<u8>> = rx.try_iter().collect();
    assert_eq!(
        requests,
        [
            vec![18, 0, 0, 0, 4, b'b', b'l', b'o', b'b'],
            vec![19],
            vec![11]
        ]
    );
}
