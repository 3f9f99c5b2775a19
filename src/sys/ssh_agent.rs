//! EDGE: the ssh-agent socket. [`connect`] opens a connection to an agent and
//! [`AgentConnection`] lists and removes the identities it holds, speaking the pure
//! [`crate::sshagent::protocol`].
//!
//! Trust comes first, because an agent socket is a path anyone could have put there:
//!
//! 1. the path must be a socket owned by the effective uid of this process. A symlink is
//!    followed and the socket it leads to is checked (the error then names both);
//! 2. the connection is made with a time limit ([`ConnectOptions::timeout`], through
//!    `SO_SNDTIMEO`, which bounds a unix `connect` waiting on a full backlog; unix(7));
//! 3. the peer's credentials (`SO_PEERCRED`, unix(7)) must show the same uid. A file
//!    owner can be arranged by whoever created the file; the peer's uid cannot.
//!
//! The pid in [`PeerCred`] is the process that called `listen()`. For an agent started
//! the usual way (`ssh-agent -a SOCKET`, which forks into the background after listening)
//! that is the parent, which has already exited; only `ssh-agent -D` reports the agent's
//! own pid. The uid is right either way.
//!
//! Every request gets [`ConnectOptions::timeout`] in total (sending and the whole reply),
//! and a reply may hold at most [`ConnectOptions::max_frame`] bytes: its length is checked
//! before its body is read, and the body buffer grows only with bytes actually received.
//! Any other reply (short, garbage, longer than announced) is an error, never a panic or a
//! hang. Errors name the socket and never carry key bytes.
//!
//! Facts only: which keys an agent should hold is for the rules to judge.

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::net::sockopt::{self, Timeout};
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use crate::sshagent::protocol::{
    decode_identities, decode_status, frame_length, Identity, ProtocolError, Request, MAX_FRAME,
};
use crate::sys::scan::{describe_io, display_path, file_type_name};

/// How to connect to an agent and how long to wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The time limit for connecting, and separately for each request (sending it and
    /// reading the whole reply). At least 1 ms is used.
    pub timeout: Duration,
    /// The largest reply accepted, in bytes (after the 4-byte length).
    pub max_frame: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(2),
            max_frame: MAX_FRAME,
        }
    }
}

/// The credentials of the process at the other end of the socket (`SO_PEERCRED`), as
/// they were when it called `listen()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// The process that created the listening socket; for a daemonizing agent, its
    /// parent, which may have exited (see the module docs).
    pub pid: i32,
    /// Its effective user id: always the uid of this process (checked by [`connect`]).
    pub uid: u32,
    /// Its effective group id.
    pub gid: u32,
}

/// keycheck could not talk to an agent, or would not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The socket path cannot be examined (missing, permission denied, dangling symlink).
    #[error("cannot use agent socket {socket}: {detail}")]
    Stat {
        /// The path as given.
        socket: String,
        /// The kind of I/O error.
        kind: io::ErrorKind,
        /// The error as one lowercase phrase.
        detail: String,
    },
    /// The path is not a socket.
    #[error("{socket}{} is a {found}, not an agent socket", via(.target))]
    NotASocket {
        /// The path as given.
        socket: String,
        /// Where the symlink `socket` leads, when it is one.
        target: Option<String>,
        /// What it is instead (`regular file`, `directory`, ...).
        found: &'static str,
    },
    /// The socket file is owned by another user.
    #[error(
        "socket {socket}{} is owned by uid {owner}, not you (uid {uid}): keycheck talks \
         only to your own agent",
        via(.target)
    )]
    NotOwned {
        /// The path as given.
        socket: String,
        /// Where the symlink `socket` leads, when it is one.
        target: Option<String>,
        /// The socket file's owner.
        owner: u32,
        /// The effective uid of this process.
        uid: u32,
    },
    /// The agent process runs as another user (the file's owner was not enough to tell).
    #[error(
        "the agent at {socket} runs as uid {peer_uid} (pid {peer_pid}), not as you (uid \
         {uid}): keycheck talks only to your own agent"
    )]
    PeerNotYou {
        /// The path as given.
        socket: String,
        /// The peer's uid (`SO_PEERCRED`).
        peer_uid: u32,
        /// The peer's pid (`SO_PEERCRED`).
        peer_pid: i32,
        /// The effective uid of this process.
        uid: u32,
    },
    /// The connection could not be made (nobody listening, path too long, ...).
    #[error("cannot connect to the agent at {socket}: {detail}")]
    Connect {
        /// The path as given.
        socket: String,
        /// The kind of I/O error.
        kind: io::ErrorKind,
        /// The error as one lowercase phrase.
        detail: String,
    },
    /// The agent did not accept the connection in time (its backlog is full).
    #[error(
        "the agent at {socket} did not accept a connection within {}",
        humantime::format_duration(*.timeout)
    )]
    ConnectTimeout {
        /// The path as given.
        socket: String,
        /// The limit.
        timeout: Duration,
    },
    /// The peer's credentials could not be read.
    #[error("cannot read the credentials of the agent at {socket}: {detail}")]
    PeerCred {
        /// The path as given.
        socket: String,
        /// The error as one lowercase phrase.
        detail: String,
    },
    /// The agent did not answer a request in time.
    #[error(
        "the agent at {socket} did not answer \"{request}\" within {}",
        humantime::format_duration(*.timeout)
    )]
    Timeout {
        /// The path as given.
        socket: String,
        /// The request.
        request: &'static str,
        /// The limit.
        timeout: Duration,
    },
    /// The agent closed the connection before its reply was complete.
    #[error("the agent at {socket} closed the connection during \"{request}\"")]
    Closed {
        /// The path as given.
        socket: String,
        /// The request.
        request: &'static str,
    },
    /// Sending or receiving failed.
    #[error("talking to the agent at {socket} (\"{request}\"): {detail}")]
    Io {
        /// The path as given.
        socket: String,
        /// The request.
        request: &'static str,
        /// The kind of I/O error.
        kind: io::ErrorKind,
        /// The error as one lowercase phrase.
        detail: String,
    },
    /// The agent's reply is not one keycheck can use.
    #[error("the agent at {socket} (\"{request}\"): {source}")]
    Protocol {
        /// The path as given.
        socket: String,
        /// The request.
        request: &'static str,
        /// What is wrong with the reply.
        source: ProtocolError,
    },
}

/// ` (a symlink to TARGET)`, or nothing.
fn via(target: &Option<String>) -> String {
    target
        .as_ref()
        .map(|t| format!(" (a symlink to {t})"))
        .unwrap_or_default()
}

/// A connection to an agent that passed the trust checks of [`connect`].
#[derive(Debug)]
pub struct AgentConnection {
    /// Who is at the other end.
    pub peer: PeerCred,
    stream: UnixStream,
    socket: String,
    options: ConnectOptions,
}

/// Connects to the agent listening on `path`, after checking that it is yours.
///
/// # Errors
/// [`AgentError::Stat`] when the path cannot be examined; [`AgentError::NotASocket`] and
/// [`AgentError::NotOwned`] when it is not a socket owned by this process's effective uid;
/// [`AgentError::Connect`] or [`AgentError::ConnectTimeout`] when the connection fails;
/// [`AgentError::PeerCred`] and [`AgentError::PeerNotYou`] when the process listening
/// cannot be shown to run as this process's effective uid.
pub fn connect(path: &Path, options: &ConnectOptions) -> Result<AgentConnection, AgentError> {
    let socket = display_path(path);
    let uid = rustix::process::geteuid().as_raw();
    check_socket_file(path, &socket, uid)?;

    let timeout = options.timeout.max(Duration::from_millis(1));
    let stream = connect_within(path, timeout).map_err(|e| {
        if e.kind() == io::ErrorKind::WouldBlock {
            AgentError::ConnectTimeout {
                socket: socket.clone(),
                timeout,
            }
        } else {
            AgentError::Connect {
                socket: socket.clone(),
                kind: e.kind(),
                detail: describe_io(&e),
            }
        }
    })?;

    let cred = sockopt::socket_peercred(&stream).map_err(|e| AgentError::PeerCred {
        socket: socket.clone(),
        detail: describe_io(&e.into()),
    })?;
    let peer = PeerCred {
        pid: cred.pid.as_raw_nonzero().get(),
        uid: cred.uid.as_raw(),
        gid: cred.gid.as_raw(),
    };
    if peer.uid != uid {
        return Err(AgentError::PeerNotYou {
            socket,
            peer_uid: peer.uid,
            peer_pid: peer.pid,
            uid,
        });
    }
    Ok(AgentConnection {
        peer,
        stream,
        socket,
        options: ConnectOptions {
            timeout,
            max_frame: options.max_frame,
        },
    })
}

/// Checks that `path` (or where it leads) is a socket owned by `uid`.
fn check_socket_file(path: &Path, socket: &str, uid: u32) -> Result<(), AgentError> {
    let stat_error = |e: io::Error| AgentError::Stat {
        socket: socket.to_owned(),
        kind: e.kind(),
        detail: describe_io(&e),
    };
    let mut meta = fs::symlink_metadata(path).map_err(stat_error)?;
    let mut target = None;
    if meta.file_type().is_symlink() {
        meta = fs::metadata(path).map_err(stat_error)?;
        target = Some(
            fs::canonicalize(path)
                .map(|t| display_path(&t))
                .map_err(stat_error)?,
        );
    }
    if !meta.file_type().is_socket() {
        return Err(AgentError::NotASocket {
            socket: socket.to_owned(),
            target,
            found: if meta.is_file() {
                "regular file"
            } else {
                file_type_name(&meta)
            },
        });
    }
    if meta.uid() != uid {
        return Err(AgentError::NotOwned {
            socket: socket.to_owned(),
            target,
            owner: meta.uid(),
            uid,
        });
    }
    Ok(())
}

/// `connect(2)` with `SO_SNDTIMEO` set, so that waiting on a full backlog ends with
/// `EAGAIN` (`WouldBlock`) after `timeout` (unix(7); Linux `unix_stream_connect`).
fn connect_within(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let addr = SocketAddrUnix::new(path)?;
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    sockopt::set_socket_timeout(&fd, Timeout::Send, Some(timeout))?;
    rustix::net::connect(&fd, &addr)?;
    Ok(UnixStream::from(fd))
}

impl AgentConnection {
    /// The socket path as given to [`connect`], for messages.
    #[must_use]
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// The identities the agent holds (`SSH_AGENTC_REQUEST_IDENTITIES`), in its order.
    ///
    /// # Errors
    /// [`AgentError::Timeout`], [`AgentError::Closed`] or [`AgentError::Io`] when the
    /// exchange fails; [`AgentError::Protocol`] when the reply is refused, too large or
    /// malformed.
    pub fn list_identities(&mut self) -> Result<Vec<Identity>, AgentError> {
        const REQUEST: &str = "list identities";
        let body = self.exchange(Request::RequestIdentities, REQUEST)?;
        decode_identities(&body).map_err(|source| self.protocol(REQUEST, source))
    }

    /// Removes the key with this public key blob (`SSH_AGENTC_REMOVE_IDENTITY`; pass
    /// [`Identity::blob`]). Returns true if and only if the agent answered success (it
    /// answers failure for a key it does not hold).
    ///
    /// # Errors
    /// As [`AgentConnection::list_identities`]; also [`AgentError::Protocol`] when the
    /// blob is too large to send.
    pub fn remove(&mut self, blob: &[u8]) -> Result<bool, AgentError> {
        const REQUEST: &str = "remove identity";
        let body = self.exchange(Request::RemoveIdentity { blob }, REQUEST)?;
        decode_status(&body, REQUEST).map_err(|source| self.protocol(REQUEST, source))
    }

    /// Removes every key (`SSH_AGENTC_REMOVE_ALL_IDENTITIES`). Returns true if and only if
    /// the agent answered success.
    ///
    /// # Errors
    /// As [`AgentConnection::list_identities`].
    pub fn remove_all(&mut self) -> Result<bool, AgentError> {
        const REQUEST: &str = "remove all identities";
        let body = self.exchange(Request::RemoveAllIdentities, REQUEST)?;
        decode_status(&body, REQUEST).map_err(|source| self.protocol(REQUEST, source))
    }

    fn protocol(&self, request: &'static str, source: ProtocolError) -> AgentError {
        AgentError::Protocol {
            socket: self.socket.clone(),
            request,
            source,
        }
    }

    fn timeout(&self, request: &'static str) -> AgentError {
        AgentError::Timeout {
            socket: self.socket.clone(),
            request,
            timeout: self.options.timeout,
        }
    }

    fn io(&self, request: &'static str, e: &io::Error) -> AgentError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => self.timeout(request),
            kind => AgentError::Io {
                socket: self.socket.clone(),
                request,
                kind,
                detail: describe_io(e),
            },
        }
    }

    /// Sends one request and returns the body of its reply, within the time limit.
    fn exchange(
        &mut self,
        request: Request<'_>,
        name: &'static str,
    ) -> Result<Vec<u8>, AgentError> {
        let deadline = Instant::now() + self.options.timeout;
        let frame = request.encode().map_err(|e| self.protocol(name, e))?;
        self.send(&frame, deadline, name)?;
        self.receive(deadline, name)
    }

    fn send(
        &mut self,
        frame: &[u8],
        deadline: Instant,
        name: &'static str,
    ) -> Result<(), AgentError> {
        let mut sent = 0;
        while sent < frame.len() {
            let left = self.left(deadline, name)?;
            // The send timeout set when connecting is the whole limit; after a partial
            // write (only a large removal can need one) it is cut to what is left.
            if sent > 0 {
                self.stream
                    .set_write_timeout(Some(left))
                    .map_err(|e| self.io(name, &e))?;
            }
            match self.stream.write(&frame[sent..]) {
                Ok(0) => {
                    return Err(AgentError::Closed {
                        socket: self.socket.clone(),
                        request: name,
                    })
                }
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(name, &e)),
            }
        }
        Ok(())
    }

    /// Reads one reply frame and returns its body. The length is checked against the
    /// limit as soon as its 4 bytes are in; bytes past the announced end are an error (the
    /// agent speaks only when asked, so they can only be garbage).
    fn receive(&mut self, deadline: Instant, name: &'static str) -> Result<Vec<u8>, AgentError> {
        let mut received: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let mut total: Option<usize> = None;
        loop {
            if let Some(total) = total {
                if received.len() >= total {
                    break;
                }
            }
            let left = self.left(deadline, name)?;
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| self.io(name, &e))?;
            let n = match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(AgentError::Closed {
                        socket: self.socket.clone(),
                        request: name,
                    })
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io(name, &e)),
            };
            received.extend_from_slice(&chunk[..n]);
            if total.is_none() {
                if let Some(header) = received.first_chunk::<4>() {
                    let body = frame_length(*header, self.options.max_frame)
                        .map_err(|e| self.protocol(name, e))?;
                    total = Some(4 + body);
                }
            }
        }
        let total = total.unwrap_or(0);
        if received.len() > total {
            return Err(self.protocol(
                name,
                ProtocolError::TrailingBytes {
                    context: "reply frame",
                    count: received.len() - total,
                },
            ));
        }
        received.drain(..4);
        Ok(received)
    }

    /// The time left before `deadline`, or [`AgentError::Timeout`] when there is none.
    fn left(&self, deadline: Instant, name: &'static str) -> Result<Duration, AgentError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timeout(name));
        }
        Ok(left)
    }
}
