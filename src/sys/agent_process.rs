//! EDGE: the process behind an ssh-agent socket, what kind of agent it is, and how long it
//! keeps keys; and the agent sockets a user's ssh would use.
//!
//! Finding the process (Linux, through `/proc`):
//!
//! 1. The socket's inode: the listening socket bound at the path in `/proc/net/unix`
//!    (or at the path with symlinks resolved: the kernel lists the path given to `bind`).
//! 2. The peer pid (`SO_PEERCRED` of a connection, which the caller passes in) when that
//!    process is alive, ours, and holds the inode among its `/proc/PID/fd/*` links. The
//!    peer pid is the process that called `listen()`: for a daemonizing `ssh-agent -a S`
//!    or `gpg-agent --daemon` that is the parent, which has exited (measured on Linux 6.18:
//!    pid N while the agent was N+1), or, in `ssh-agent CMD` form, the command ssh-agent
//!    runs, which closed its copy.
//! 3. Otherwise a scan of our own processes' `/proc/PID/fd/*` for the inode (what
//!    `ss -xlp` does). A service manager (systemd) that listens for the agent's socket unit
//!    holds the inode too and is passed over.
//! 4. ssh-agent and gpg-agent make themselves non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`),
//!    so for anyone but root their `/proc/PID/fd` and `/proc/PID/exe` cannot be read
//!    (measured: `dr-x------ root root`, `EACCES`, for the owner too); their `cmdline`,
//!    `stat` and `status` can. Among our own processes whose open files cannot be read,
//!    the agent is then the one the peer pid names (if that process started before the
//!    socket was made, so the pid was not reused), or the ssh-agent whose `-a` names the
//!    socket, or else the one that wakes up each time keycheck connects to the socket (the
//!    `voluntary_ctxt_switches` of its threads, in `/proc/PID/task/*/status`, grow; the
//!    connection is closed without a request, so no agent asks its user anything). [`AgentProcess::evidence`]
//!    says which of these found it.
//!
//! Every `/proc` file is read bounded and without blocking; processes that vanish or
//! cannot be read are passed over quietly; the number of processes and descriptors
//! examined is bounded. gpg-agent's cache times come from `gpgconf --list-options
//! gpg-agent` (stdin closed, own process group, killed after a timeout), else from
//! `gpg-agent.conf`. macOS has no `/proc`: [`identify`] returns
//! [`IdentifyError::Unsupported`] there for now.
//!
//! Facts only: whether a lifetime is too long is the rules' business.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::sshagent::kind::AgentKind;

/// The process serving an ssh-agent socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentProcess {
    /// Its process id.
    pub pid: u32,
    /// When it started, in clock ticks since boot (`/proc/PID/stat` field 22). With `pid`
    /// it names this process instance: an agent restarted on the same socket differs in one
    /// or both.
    pub start_time: u64,
    /// Its executable (`/proc/PID/exe`); `None` when it cannot be read, as for
    /// non-dumpable agents run by anyone but root.
    pub exe: Option<String>,
    /// Its command line (`/proc/PID/cmdline`), the program name first.
    pub cmdline: Vec<String>,
    /// What kind of agent it is and how long it keeps keys.
    pub kind: AgentKind,
    /// How keycheck knows this process serves the socket.
    pub evidence: Evidence,
}

/// How keycheck tied a process to a socket, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// It has the listening socket open (one of its `/proc/PID/fd` links).
    HoldsSocket,
    /// Its open files cannot be read; it is the peer pid of a connection, alive, ours, and
    /// started before the socket was made.
    PeerCredentials,
    /// Its open files cannot be read; its command line binds this path (`ssh-agent -a`).
    CommandLine,
    /// Its open files cannot be read; of our processes whose open files cannot be read, it
    /// alone woke up each time keycheck connected to the socket.
    WokenByConnection,
}

/// Why the process behind a socket could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifyError {
    /// The operating system has no `/proc`.
    #[error(
        "finding the process behind an agent socket is not supported on {os} yet (it reads /proc)"
    )]
    Unsupported {
        /// `std::env::consts::OS`.
        os: &'static str,
    },
    /// The socket path cannot be examined.
    #[error("{socket}: {reason}")]
    Socket {
        /// The socket path.
        socket: String,
        /// Why, in a few words.
        reason: String,
    },
    /// The path is not a socket.
    #[error("{socket} is not a socket")]
    NotASocket {
        /// The path.
        socket: String,
    },
    /// The socket belongs to another user.
    #[error("{socket} belongs to uid {owner}, not to uid {uid}")]
    OtherOwner {
        /// The socket path.
        socket: String,
        /// Its owner.
        owner: u32,
        /// The user asked about.
        uid: u32,
    },
    /// A `/proc` file keycheck needs cannot be read.
    #[error("cannot read {path}: {kind}")]
    Proc {
        /// The file.
        path: String,
        /// The error.
        kind: std::io::ErrorKind,
    },
    /// No listening socket is bound at the path in `/proc/net/unix`.
    #[error(
        "nothing listens on {socket} (no listening socket with that path in /proc/net/unix; \
         a stale socket file, a socket bound by a relative path, or one in another network \
         namespace such as a container's)"
    )]
    NotListening {
        /// The socket path.
        socket: String,
    },
    /// No process of ours could be tied to the socket.
    #[error(
        "no process of uid {uid} could be tied to {socket}: none of those whose open files \
         can be read holds it, and none of the {hidden} whose open files are hidden (agents \
         make themselves non-dumpable) is its peer pid, an ssh-agent -a naming it, or woke up \
         when keycheck connected; the agent may run as another user or in another PID \
         namespace (a container or sandbox)"
    )]
    NotFound {
        /// The socket path.
        socket: String,
        /// The user asked about.
        uid: u32,
        /// How many of the user's processes hide their open files.
        hidden: usize,
    },
    /// Several processes could be the one.
    #[error("{socket} could be served by any of processes {pids:?}; keycheck cannot tell which")]
    Ambiguous {
        /// The socket path.
        socket: String,
        /// The candidates.
        pids: Vec<u32>,
    },
    /// The process was found but exited while it was being read.
    #[error("process {pid} serving {socket} exited while keycheck read it")]
    Vanished {
        /// The socket path.
        socket: String,
        /// The process id.
        pid: u32,
    },
}

/// Settings and limits for [`identify_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifyOptions {
    /// `$GNUPGHOME`: gpg-agent's home when its command line names none.
    pub gnupg_home: Option<PathBuf>,
    /// The user's home (`~/.gnupg` is gpg-agent's default home).
    pub home: Option<PathBuf>,
    /// The `gpgconf` program.
    pub gpgconf: PathBuf,
    /// How long `gpgconf` may run before it is killed.
    pub gpgconf_timeout: Duration,
    /// Whether keycheck may connect to the socket to see which process wakes up.
    pub wake_probe: bool,
    /// The most `/proc` entries examined.
    pub max_processes: usize,
    /// The most descriptor links read, all processes together.
    pub max_fds: usize,
}

impl IdentifyOptions {
    /// Defaults, with `gnupg_home` and `home` from `$GNUPGHOME` and `$HOME`.
    #[must_use]
    pub fn from_env() -> IdentifyOptions {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        IdentifyOptions {
            gnupg_home: var("GNUPGHOME"),
            home: var("HOME"),
            gpgconf: PathBuf::from("gpgconf"),
            gpgconf_timeout: Duration::from_secs(5),
            wake_probe: true,
            max_processes: 100_000,
            max_fds: 1_000_000,
        }
    }
}

/// Finds the process serving the ssh-agent socket at `socket` among the processes of
/// `uid`, recognises what agent it is and reads how long it keeps keys, with
/// [`IdentifyOptions::from_env`]. `peer_pid` is the pid `SO_PEERCRED` gave for a
/// connection to the socket, if the caller has one. See the module documentation for how.
///
/// # Errors
/// [`IdentifyError`]: the socket is missing, not a socket or another user's; nothing
/// listens on it; no process or several could be tied to it; `/proc/net/unix` cannot be
/// read; or the system has no `/proc`.
pub fn identify(
    socket: &Path,
    peer_pid: Option<u32>,
    uid: u32,
) -> Result<AgentProcess, IdentifyError> {
    identify_with(socket, peer_pid, uid, &IdentifyOptions::from_env())
}

/// [`identify`] with explicit options.
///
/// # Errors
/// As [`identify`].
#[cfg(target_os = "linux")]
pub fn identify_with(
    socket: &Path,
    peer_pid: Option<u32>,
    uid: u32,
    options: &IdentifyOptions,
) -> Result<AgentProcess, IdentifyError> {
    linux::identify(socket, peer_pid, uid, options)
}

/// [`identify`] with explicit options.
///
/// # Errors
/// Always [`IdentifyError::Unsupported`]: there is no `/proc` to read.
#[cfg(not(target_os = "linux"))]
pub fn identify_with(
    _socket: &Path,
    _peer_pid: Option<u32>,
    _uid: u32,
    _options: &IdentifyOptions,
) -> Result<AgentProcess, IdentifyError> {
    Err(IdentifyError::Unsupported {
        os: std::env::consts::OS,
    })
}

/// The agent sockets the user's ssh would use: `$SSH_AUTH_SOCK`, then each `IdentityAgent`
/// value (as `ssh -G` prints them), each once (the same socket reached by two paths
/// counts once), and only those that exist and are sockets.
///
/// As ssh_config(5) says: `none` means no agent; `SSH_AUTH_SOCK` means `ssh_auth_sock`;
/// a value starting with `$` (and not `${`) names an environment variable holding the path,
/// read from this process's environment; a leading `~` is `home`. `ssh -G` has already
/// expanded `~`, `${VAR}` and `%` tokens (measured with OpenSSH 9.2).
#[must_use]
pub fn user_agent_sockets(
    ssh_auth_sock: Option<&OsStr>,
    identity_agents: &[String],
    home: &Path,
) -> Vec<PathBuf> {
    let mut sockets = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |path: PathBuf| {
        if path.as_os_str().is_empty() {
            return;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            return;
        };
        if meta.file_type().is_socket() && seen.insert((meta.dev(), meta.ino())) {
            sockets.push(path);
        }
    };
    if let Some(sock) = ssh_auth_sock {
        add(PathBuf::from(sock));
    }
    for value in identity_agents {
        match value.as_str() {
            "none" => {}
            "SSH_AUTH_SOCK" => {
                if let Some(sock) = ssh_auth_sock {
                    add(PathBuf::from(sock));
                }
            }
            v if v.starts_with('$') && !v.starts_with("${") => {
                if let Some(path) = std::env::var_os(&v[1..]) {
                    add(PathBuf::from(path));
                }
            }
            "~" => add(home.to_owned()),
            v => match v.strip_prefix("~/") {
                Some(rest) => add(home.join(rest)),
                None => add(PathBuf::from(v)),
            },
        }
    }
    sockets
}

#[cfg(target_os = "linux")]
mod linux {
    //! The `/proc` implementation of [`super::identify_with`].

    use std::collections::{HashMap, HashSet};
    use std::io::{self, Read as _};
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
    use std::os::unix::process::CommandExt as _;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant, SystemTime};

    use super::{AgentProcess, Evidence, IdentifyError, IdentifyOptions};
    use crate::sshagent::kind::{
        self, is_socket_manager, listening_inodes, parse_cmdline, parse_gpg_agent_args,
        parse_gpg_agent_conf, parse_gpgconf_list_options, parse_ssh_agent_command_line, recognise,
        AgentKind, ProcStat, ProcStatus,
    };
    use crate::sys::scan::{describe_io, display_path, open_regular, read_bounded, ReadError};

    /// `/proc/net/unix` is about 100 bytes per socket.
    const MAX_NET_UNIX: u64 = 64 * 1024 * 1024;
    /// `/proc/PID/stat` and `/proc/PID/status` are a few KiB.
    const MAX_SMALL: u64 = 64 * 1024;
    /// Command lines longer than this are cut.
    const MAX_CMDLINE: u64 = 256 * 1024;
    /// The most `gpgconf` output and `gpg-agent.conf` read.
    const MAX_CONFIG: u64 = 1024 * 1024;
    /// The wake probe watches at most this many processes.
    const MAX_PROBED: usize = 512;
    /// The most threads of one process whose wake-ups the probe counts.
    const MAX_THREADS: usize = 256;
    /// Rounds of the wake probe: a process must wake in each.
    const PROBE_ROUNDS: usize = 3;
    /// How long one probe round waits for any process to wake.
    const PROBE_WAIT: Duration = Duration::from_secs(1);
    /// How long after the first wake-up the probe lets the others show theirs.
    const PROBE_SETTLE: Duration = Duration::from_millis(30);
    /// Slack for comparing a process's start with the socket's change time (the two
    /// clocks are read separately, and `/proc/uptime` has hundredths).
    const START_SLACK_CENTIS: u64 = 100;

    /// What `/proc/PID` showed about one process.
    enum Seen {
        /// Gone, a zombie, or not readable at all.
        Gone,
        /// Another user's.
        NotOurs,
        /// Its descriptors were read; whether one is the socket.
        Read { holds: bool },
        /// Its descriptors cannot be read (non-dumpable).
        Hidden,
    }

    pub(super) fn identify(
        socket: &Path,
        peer_pid: Option<u32>,
        uid: u32,
        options: &IdentifyOptions,
    ) -> Result<AgentProcess, IdentifyError> {
        let shown = display_path(socket);
        let meta = std::fs::metadata(socket).map_err(|e| IdentifyError::Socket {
            socket: shown.clone(),
            reason: describe_io(&e),
        })?;
        if !meta.file_type().is_socket() {
            return Err(IdentifyError::NotASocket { socket: shown });
        }
        if meta.uid() != uid {
            return Err(IdentifyError::OtherOwner {
                socket: shown,
                owner: meta.uid(),
                uid,
            });
        }
        let net_unix = read_text(Path::new("/proc/net/unix"), MAX_NET_UNIX).map_err(|kind| {
            IdentifyError::Proc {
                path: "/proc/net/unix".to_owned(),
                kind,
            }
        })?;
        // The kernel lists the path given to bind(): a path reached through a symlink
        // (`~/.ssh/agent.sock -> /tmp/ssh-X/agent.1`) is listed under its target.
        let mut inodes = listening_inodes(&net_unix, socket);
        if let Ok(real) = std::fs::canonicalize(socket) {
            if real != socket {
                inodes.extend(listening_inodes(&net_unix, &real));
            }
        }
        let targets: HashSet<String> = inodes
            .into_iter()
            .map(|inode| format!("socket:[{inode}]"))
            .collect();
        if targets.is_empty() {
            return Err(IdentifyError::NotListening { socket: shown });
        }
        let mut finder = Finder {
            socket,
            shown,
            uid,
            options,
            targets,
            fds_left: options.max_fds,
        };

        if let Some(pid) = peer_pid {
            if let Seen::Read { holds: true } = finder.see(pid) {
                if !finder.is_manager(pid) {
                    return finder.finish(pid, Evidence::HoldsSocket);
                }
            }
        }

        let (holders, hidden) = finder.scan();
        let holders: Vec<u32> = holders
            .into_iter()
            .filter(|&pid| !finder.is_manager(pid))
            .collect();
        match holders.as_slice() {
            [pid] => return finder.finish(*pid, Evidence::HoldsSocket),
            [] => {}
            _ => {
                return match finder.probe(&holders).as_slice() {
                    [pid] => finder.finish(*pid, Evidence::HoldsSocket),
                    _ => Err(IdentifyError::Ambiguous {
                        socket: finder.shown,
                        pids: holders,
                    }),
                }
            }
        }

        // Hidden processes: strong evidence first.
        let mut named: Vec<(u32, Evidence)> = Vec::new();
        if let Some(pid) = peer_pid.filter(|p| hidden.contains(p)) {
            if finder.started_before_socket(pid, &meta) && !finder.is_manager(pid) {
                named.push((pid, Evidence::PeerCredentials));
            }
        }
        for &pid in &hidden {
            if finder.binds_socket(pid) && !named.iter().any(|(p, _)| *p == pid) {
                named.push((pid, Evidence::CommandLine));
            }
        }
        if let [(pid, evidence)] = named.as_slice() {
            return finder.finish(*pid, *evidence);
        }
        if named.len() > 1 {
            let pids: Vec<u32> = named.iter().map(|(p, _)| *p).collect();
            return match finder.probe(&pids).as_slice() {
                [pid] => finder.finish(*pid, Evidence::WokenByConnection),
                _ => Err(IdentifyError::Ambiguous {
                    socket: finder.shown,
                    pids,
                }),
            };
        }

        // Then the wake probe: recognised agents first, then everything hidden.
        let hidden: Vec<u32> = hidden
            .into_iter()
            .filter(|&pid| !finder.is_manager(pid))
            .collect();
        let recognised: Vec<u32> = hidden
            .iter()
            .copied()
            .filter(|&pid| {
                // By name only: a vault's socket path would make every process one.
                let cmdline = read_cmdline(pid);
                !matches!(recognise(None, &cmdline, ""), AgentKind::Unknown { .. })
            })
            .collect();
        let mut tiers = vec![recognised];
        if tiers[0].len() != hidden.len() {
            tiers.push(hidden.clone());
        }
        for tier in tiers.iter().filter(|t| !t.is_empty()) {
            match finder.probe(tier).as_slice() {
                [pid] => return finder.finish(*pid, Evidence::WokenByConnection),
                [] => {}
                several => {
                    return Err(IdentifyError::Ambiguous {
                        socket: finder.shown,
                        pids: several.to_vec(),
                    })
                }
            }
        }
        Err(IdentifyError::NotFound {
            socket: finder.shown,
            uid,
            hidden: hidden.len(),
        })
    }

    struct Finder<'a> {
        socket: &'a Path,
        shown: String,
        uid: u32,
        options: &'a IdentifyOptions,
        /// `socket:[INODE]` for each listening inode at the path.
        targets: HashSet<String>,
        /// Descriptor links that may still be read.
        fds_left: usize,
    }

    impl Finder<'_> {
        /// Examines one process.
        fn see(&mut self, pid: u32) -> Seen {
            let proc_dir = PathBuf::from(format!("/proc/{pid}"));
            let Ok(status) = read_text(&proc_dir.join("status"), MAX_SMALL) else {
                return Seen::Gone;
            };
            if ProcStatus::parse(&status).euid != Some(self.uid) {
                return Seen::NotOurs;
            }
            match read_stat(pid) {
                Some(stat) if stat.state != 'Z' && stat.state != 'X' => {}
                _ => return Seen::Gone,
            }
            let fd_dir = proc_dir.join("fd");
            let entries = match std::fs::read_dir(&fd_dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Seen::Hidden,
                Err(_) => return Seen::Gone,
            };
            for entry in entries {
                if self.fds_left == 0 {
                    break;
                }
                self.fds_left -= 1;
                let Ok(entry) = entry else { continue };
                let Ok(target) = std::fs::read_link(entry.path()) else {
                    continue;
                };
                if self.targets.contains(target.to_string_lossy().as_ref()) {
                    return Seen::Read { holds: true };
                }
            }
            Seen::Read { holds: false }
        }

        /// Our processes that hold the socket, and those whose descriptors are hidden.
        fn scan(&mut self) -> (Vec<u32>, Vec<u32>) {
            let (mut holders, mut hidden) = (Vec::new(), Vec::new());
            let Ok(entries) = std::fs::read_dir("/proc") else {
                return (holders, hidden);
            };
            let me = std::process::id();
            for entry in entries.take(self.options.max_processes) {
                let Ok(entry) = entry else { continue };
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                if pid == me {
                    continue;
                }
                match self.see(pid) {
                    Seen::Read { holds: true } => holders.push(pid),
                    Seen::Hidden => hidden.push(pid),
                    _ => {}
                }
            }
            holders.sort_unstable();
            hidden.sort_unstable();
            (holders, hidden)
        }

        /// Returns true if and only if the process is a service manager (systemd).
        fn is_manager(&self, pid: u32) -> bool {
            is_socket_manager(read_exe(pid).as_deref(), &read_cmdline(pid))
        }

        /// Returns true if and only if the process is an ssh-agent whose `-a` names the
        /// socket.
        fn binds_socket(&self, pid: u32) -> bool {
            let cmdline = read_cmdline(pid);
            if !matches!(
                recognise(None, &cmdline, &self.shown),
                AgentKind::OpenSsh { .. }
            ) {
                return false;
            }
            let Some(bound) = parse_ssh_agent_command_line(&cmdline).bind_address else {
                return false;
            };
            let bound = Path::new(&bound);
            // A relative -a is relative to the agent's working directory, which cannot be
            // read either: only an absolute one is compared.
            bound.is_absolute()
                && (bound == self.socket
                    || matches!(
                        (std::fs::canonicalize(bound), std::fs::canonicalize(self.socket)),
                        (Ok(a), Ok(b)) if a == b
                    ))
        }

        /// Returns true if and only if the process started no later than the socket file
        /// was last changed (so it can have made the socket: its pid was not reused).
        fn started_before_socket(&self, pid: u32, socket: &std::fs::Metadata) -> bool {
            let (Some(stat), Some(uptime)) = (
                read_stat(pid),
                read_text(Path::new("/proc/uptime"), MAX_SMALL)
                    .ok()
                    .and_then(|t| kind::parse_proc_uptime_centis(&t)),
            ) else {
                return false;
            };
            let ticks = rustix::param::clock_ticks_per_second().max(1);
            let started = stat.start_time.saturating_mul(100) / ticks;
            let process_age = uptime.saturating_sub(started);
            let changed = SystemTime::UNIX_EPOCH
                + Duration::new(
                    u64::try_from(socket.ctime()).unwrap_or(0),
                    u32::try_from(socket.ctime_nsec()).unwrap_or(0),
                );
            let socket_age = SystemTime::now()
                .duration_since(changed)
                .map_or(0, |d| u64::try_from(d.as_millis() / 10).unwrap_or(u64::MAX));
            process_age + START_SLACK_CENTIS >= socket_age
        }

        /// Of `pids`, those that woke up in every one of a few rounds of connecting to the
        /// socket and closing the connection at once.
        fn probe(&self, pids: &[u32]) -> Vec<u32> {
            if !self.options.wake_probe || pids.len() > MAX_PROBED {
                return Vec::new();
            }
            let mut awake: Vec<u32> = pids.to_vec();
            for _ in 0..PROBE_ROUNDS {
                let before: HashMap<u32, u64> = awake
                    .iter()
                    .filter_map(|&pid| switches(pid).map(|n| (pid, n)))
                    .collect();
                if !knock(self.socket) {
                    return Vec::new();
                }
                let woke = |pid: &u32| matches!((before.get(pid), switches(*pid)), (Some(b), Some(a)) if a > *b);
                let deadline = Instant::now() + PROBE_WAIT;
                while !awake.iter().any(woke) && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(5));
                }
                thread::sleep(PROBE_SETTLE);
                awake.retain(woke);
                if awake.is_empty() {
                    break;
                }
            }
            awake
        }

        /// Reads the facts of the process found.
        fn finish(&self, pid: u32, evidence: Evidence) -> Result<AgentProcess, IdentifyError> {
            let vanished = || IdentifyError::Vanished {
                socket: self.shown.clone(),
                pid,
            };
            let stat = read_stat(pid).ok_or_else(vanished)?;
            let exe = read_exe(pid);
            let cmdline = read_cmdline(pid);
            let mut kind = recognise(exe.as_deref(), &cmdline, &self.shown);
            if let AgentKind::GpgAgent {
                default_ttl_secs,
                max_ttl_secs,
            } = &mut kind
            {
                (*default_ttl_secs, *max_ttl_secs) = gpg_agent_ttls(&cmdline, self.options);
            }
            // The same process still (not a new one with its pid)?
            if read_stat(pid).map(|s| s.start_time) != Some(stat.start_time) {
                return Err(vanished());
            }
            Ok(AgentProcess {
                pid,
                start_time: stat.start_time,
                exe,
                cmdline,
                kind,
                evidence,
            })
        }
    }

    /// gpg-agent's `(default-cache-ttl-ssh, max-cache-ttl-ssh)`: its command line, over
    /// `gpgconf --list-options gpg-agent` for its home, or when gpgconf gives nothing, its
    /// `gpg-agent.conf` over the built-in defaults.
    fn gpg_agent_ttls(cmdline: &[String], options: &IdentifyOptions) -> (Option<u64>, Option<u64>) {
        let args = parse_gpg_agent_args(cmdline);
        let home = args
            .homedir
            .as_ref()
            .map(PathBuf::from)
            .or_else(|| options.gnupg_home.clone())
            .or_else(|| options.home.as_ref().map(|h| h.join(".gnupg")));
        let mut ttls = match &home {
            Some(home) => gpgconf_ttls(home, options),
            None => (None, None),
        };
        if ttls == (None, None) {
            let conf = home
                .as_ref()
                .and_then(|h| read_text(&h.join("gpg-agent.conf"), MAX_CONFIG).ok())
                .map(|text| parse_gpg_agent_conf(&text))
                .unwrap_or_default();
            ttls = (
                conf.0.or(Some(kind::GPG_AGENT_DEFAULT_CACHE_TTL_SSH)),
                conf.1.or(Some(kind::GPG_AGENT_MAX_CACHE_TTL_SSH)),
            );
        }
        (
            args.default_ttl_secs.or(ttls.0),
            args.max_ttl_secs.or(ttls.1),
        )
    }

    /// Runs `gpgconf --homedir HOME --list-options gpg-agent` with stdin closed, in its own
    /// process group, killed after the timeout; `(None, None)` when it fails.
    fn gpgconf_ttls(home: &Path, options: &IdentifyOptions) -> (Option<u64>, Option<u64>) {
        let Ok(mut child) = Command::new(&options.gpgconf)
            .arg("--homedir")
            .arg(home)
            .arg("--list-options")
            .arg("gpg-agent")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
        else {
            return (None, None);
        };
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || {
                let mut bytes = Vec::new();
                let mut stdout = stdout;
                let _ = (&mut stdout).take(MAX_CONFIG).read_to_end(&mut bytes);
                let _ = io::copy(&mut stdout, &mut io::sink());
                let _ = tx.send(bytes);
            });
        }
        let deadline = Instant::now() + options.gpgconf_timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => break,
                // Exited (and reaped: its group is not signalled, the id may be reused).
                Ok(Some(_)) => return (None, None),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                _ => {
                    // Not reaped yet, so the group id is still its own.
                    let _ = rustix::process::kill_process_group(
                        rustix::process::Pid::from_child(&child),
                        rustix::process::Signal::KILL,
                    );
                    let _ = child.kill();
                    let _ = child.wait();
                    return (None, None);
                }
            }
        }
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(bytes) => parse_gpgconf_list_options(&String::from_utf8_lossy(&bytes)),
            Err(_) => (None, None),
        }
    }

    /// Connects to the socket without blocking and closes the connection at once.
    /// Returns true if and only if the connection was made.
    fn knock(socket: &Path) -> bool {
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let Ok(address) = SocketAddrUnix::new(socket) else {
            return false;
        };
        let Ok(fd) = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        ) else {
            return false;
        };
        rustix::net::connect(&fd, &address).is_ok()
    }

    /// `voluntary_ctxt_switches` of a process, summed over its threads (at most
    /// [`MAX_THREADS`]): the thread that accepts connections need not be the first.
    fn switches(pid: u32) -> Option<u64> {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let mut total: Option<u64> = None;
        for task in tasks.take(MAX_THREADS).flatten() {
            let Ok(text) = read_text(&task.path().join("status"), MAX_SMALL) else {
                continue;
            };
            if let Some(n) = ProcStatus::parse(&text).voluntary_ctxt_switches {
                total = Some(total.unwrap_or(0).saturating_add(n));
            }
        }
        total
    }

    fn read_stat(pid: u32) -> Option<ProcStat> {
        let text = read_text(Path::new(&format!("/proc/{pid}/stat")), MAX_SMALL).ok()?;
        ProcStat::parse(&text)
    }

    /// The command line, cut at [`MAX_CMDLINE`] bytes (the options keycheck reads come
    /// first).
    fn read_cmdline(pid: u32) -> Vec<String> {
        let path = PathBuf::from(format!("/proc/{pid}/cmdline"));
        let Ok((file, _)) = open_regular(&path) else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        match file.take(MAX_CMDLINE).read_to_end(&mut bytes) {
            Ok(_) => parse_cmdline(&bytes),
            Err(_) => Vec::new(),
        }
    }

    fn read_exe(pid: u32) -> Option<String> {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(|p| display_path(&p))
    }

    /// Reads a small text file (a `/proc` file or a configuration file) bounded and
    /// without blocking.
    fn read_text(path: &Path, max: u64) -> Result<String, io::ErrorKind> {
        match read_bounded(path, max) {
            Ok((bytes, _)) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(ReadError::Io(e)) => Err(e.kind()),
            Err(ReadError::NotRegular(_)) => Err(io::ErrorKind::InvalidInput),
            Err(ReadError::TooLarge) => Err(io::ErrorKind::FileTooLarge),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn agent_sockets_from_env_and_config() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let env_sock = home.join("env.sock");
        let cfg_sock = home.join("cfg sock");
        let _l1 = UnixListener::bind(&env_sock).unwrap();
        let _l2 = UnixListener::bind(&cfg_sock).unwrap();
        std::fs::write(home.join("plain"), "x").unwrap();
        std::os::unix::fs::symlink(&env_sock, home.join("link.sock")).unwrap();
        let values = [
            "none".to_owned(),
            "SSH_AUTH_SOCK".to_owned(),
            "~/cfg sock".to_owned(),
            cfg_sock.display().to_string(),
            home.join("link.sock").display().to_string(),
            home.join("plain").display().to_string(),
            home.join("missing.sock").display().to_string(),
            "$KEYCHECK_TEST_UNSET_VARIABLE".to_owned(),
            String::new(),
        ];
        let found = user_agent_sockets(Some(env_sock.as_os_str()), &values, home);
        assert_eq!(found, vec![env_sock.clone(), cfg_sock.clone()]);
        // Without $SSH_AUTH_SOCK, `SSH_AUTH_SOCK` names nothing.
        let found = user_agent_sockets(None, &values[..2], home);
        assert!(found.is_empty());
        assert!(user_agent_sockets(Some(OsStr::new("")), &[], home).is_empty());
    }

    #[test]
    fn a_path_that_is_not_a_socket_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let options = IdentifyOptions::from_env();
        let uid = rustix::process::getuid().as_raw();
        if cfg!(target_os = "linux") {
            assert_eq!(
                identify_with(&file, None, uid, &options),
                Err(IdentifyError::NotASocket {
                    socket: file.display().to_string()
                })
            );
            assert!(matches!(
                identify_with(&dir.path().join("missing"), None, uid, &options),
                Err(IdentifyError::Socket { .. })
            ));
            // Bound, then closed: the file stays but nothing listens.
            let stale = dir.path().join("stale.sock");
            drop(UnixListener::bind(&stale).unwrap());
            assert_eq!(
                identify_with(&stale, None, uid, &options),
                Err(IdentifyError::NotListening {
                    socket: stale.display().to_string()
                })
            );
            assert!(matches!(
                identify_with(&stale, None, uid.wrapping_add(1), &options),
                Err(IdentifyError::OtherOwner { .. })
            ));
        }
    }

    #[test]
    fn a_listener_in_this_process_is_not_found_in_the_scan() {
        // keycheck skips its own process: a socket only it holds is nobody's agent.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("own.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let options = IdentifyOptions {
            wake_probe: false,
            ..IdentifyOptions::from_env()
        };
        let uid = rustix::process::getuid().as_raw();
        let result = identify_with(&path, None, uid, &options);
        if cfg!(target_os = "linux") {
            assert!(
                matches!(result, Err(IdentifyError::NotFound { .. })),
                "{result:?}"
            );
        }
    }
}
