//! EDGE: the login session's screen-lock and logout signals, heard over D-Bus, and what the
//! policy makes of them ([`handle`]).
//!
//! [`listen`] starts one thread per bus. Each runs its own zbus connection (zbus 6 is async
//! only; `zbus::block_on` drives it on that thread) and sends [`SessionEvent`]s into the
//! caller's channel:
//!
//! - session bus: `ActiveChanged(true)` of `org.freedesktop.ScreenSaver` (KDE's screen
//!   locker, xfce4-screensaver and others) or of `org.gnome.ScreenSaver` (GNOME Shell) is
//!   [`SessionEvent::Locked`]. Any sender is
//!   believed: everything on the session bus runs as this user, and a false lock only clears
//!   keys early.
//! - system bus: logind's `Lock` on this session's object (`org.freedesktop.login1.Session`,
//!   what `loginctl lock-session` sends) is [`SessionEvent::Locked`]; logind's
//!   `SessionRemoved` for this session, or `PrepareForShutdown(true)`, is
//!   [`SessionEvent::LoggedOut`] (org.freedesktop.login1(5)). Other users' processes share
//!   the system bus, so these signals count only when their sender is the connection that
//!   owns `org.freedesktop.login1` right now (tracked through `NameOwnerChanged`): the bus
//!   stamps every message with its sender's unique name, and a signal sent straight to
//!   keycheck by anyone else is ignored. This session is `$XDG_SESSION_ID` when set (logind's
//!   `GetSession`), else the session logind places this process in (`GetSessionByPID`).
//!
//! Every step of setting up (connecting, subscribing, asking logind) is bounded by
//! [`ListenOptions::timeout`]. A bus that cannot be used is reported in [`Listener`], one line
//! each, and the other bus still works. A bus that goes away later ends its thread with a
//! [`SessionEvent::Stopped`]. The threads never panic (a panic inside zbus is caught and
//! reported the same way) and end when [`Listener::stop`] is called, when the [`Listener`] is
//! dropped, or when the receiving end of the channel is gone.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_core::Stream;
use serde::Serialize;
use zbus::message::Type as MessageType;
use zbus::{Connection, Message, MessageStream, OwnedObjectPath};

use crate::policy::Policy;
use crate::sys::cache_pass::{self, CacheDocument, CachePassError, ClearScope};

/// The screen savers' interfaces whose `ActiveChanged(true)` means the screen locked.
pub const SCREENSAVER_INTERFACES: [&str; 2] =
    ["org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver"];

/// logind's well-known name on the system bus.
pub const LOGIND: &str = "org.freedesktop.login1";

/// logind's manager object.
const LOGIND_PATH: &str = "/org/freedesktop/login1";
/// logind's manager interface.
const LOGIND_MANAGER: &str = "org.freedesktop.login1.Manager";
/// logind's session interface.
const LOGIND_SESSION: &str = "org.freedesktop.login1.Session";
/// The bus itself.
const DBUS_NAME: &str = "org.freedesktop.DBus";
/// The bus's object.
const DBUS_PATH: &str = "/org/freedesktop/DBus";

/// The system bus's address when `DBUS_SYSTEM_BUS_ADDRESS` is unset (D-Bus specification,
/// "Well-known Message Bus Instances").
pub const DEFAULT_SYSTEM_BUS: &str = "unix:path=/var/run/dbus/system_bus_socket";

/// Something that happened to the login session, or to a listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum SessionEvent {
    /// The screen was locked (or logind asked the session to lock).
    Locked,
    /// The login session ended, or the machine is shutting down.
    LoggedOut,
    /// A listener ended on its own: its bus went away. No more events come from that bus.
    Stopped {
        /// Which bus.
        bus: Bus,
        /// Why, in one line.
        reason: String,
    },
}

/// One of the two buses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bus {
    /// The user's session bus (screen savers).
    Session,
    /// The system bus (logind).
    System,
}

impl std::fmt::Display for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bus::Session => "session bus",
            Bus::System => "system bus",
        })
    }
}

/// The addresses of the buses to listen on; `None` leaves that bus out (and says so).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buses {
    /// The session bus (`unix:path=/run/user/1000/bus`).
    pub session: Option<String>,
    /// The system bus.
    pub system: Option<String>,
}

impl Buses {
    /// The buses of this process's environment: `DBUS_SESSION_BUS_ADDRESS` (else
    /// `$XDG_RUNTIME_DIR/bus` when that socket exists) and `DBUS_SYSTEM_BUS_ADDRESS` (else
    /// [`DEFAULT_SYSTEM_BUS`]).
    #[must_use]
    pub fn from_env() -> Buses {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let session = var("DBUS_SESSION_BUS_ADDRESS").or_else(|| {
            let path = std::path::Path::new(&var("XDG_RUNTIME_DIR")?).join("bus");
            path.exists()
                .then(|| format!("unix:path={}", path.display()))
        });
        let system =
            var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_else(|| DEFAULT_SYSTEM_BUS.to_owned());
        Buses {
            session,
            system: Some(system),
        }
    }
}

/// What to listen on, and how long each step of setting up may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenOptions {
    /// The buses.
    pub buses: Buses,
    /// This login session's id for logind; `None`: ask logind which session this process
    /// is in (`GetSessionByPID`).
    pub session_id: Option<String>,
    /// The limit for setting up each bus (connecting, subscribing, asking logind).
    pub timeout: Duration,
}

impl ListenOptions {
    /// [`Buses::from_env`], `$XDG_SESSION_ID`, and 5 s.
    #[must_use]
    pub fn from_env() -> ListenOptions {
        ListenOptions {
            buses: Buses::from_env(),
            session_id: std::env::var("XDG_SESSION_ID")
                .ok()
                .filter(|v| !v.is_empty()),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why a bus is not listened on. One line each, for the caller to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// No address for the bus.
    #[error("no {bus} to listen on (its address is not set)")]
    NoAddress {
        /// Which bus.
        bus: Bus,
    },
    /// The bus could not be reached, or refused keycheck.
    #[error("cannot connect to the {bus} at {address}: {detail}")]
    Connect {
        /// Which bus.
        bus: Bus,
        /// Its address.
        address: String,
        /// What went wrong.
        detail: String,
    },
    /// A step of setting up took too long.
    #[error("the {bus} did not answer within {} s while keycheck was {step}", .timeout.as_secs_f32())]
    Timeout {
        /// Which bus.
        bus: Bus,
        /// What keycheck was doing.
        step: &'static str,
        /// The limit.
        timeout: Duration,
    },
    /// The bus refused a subscription.
    #[error("cannot subscribe to signals on the {bus}: {detail}")]
    Subscribe {
        /// Which bus.
        bus: Bus,
        /// What the bus said.
        detail: String,
    },
    /// logind is not on the system bus.
    #[error(
        "logind is not on the system bus ({detail}): its lock and logout signals cannot be heard"
    )]
    NoLogind {
        /// What the bus said.
        detail: String,
    },
    /// logind could not tell which session this is.
    #[error("logind cannot tell this login session ({how}): {detail}")]
    NoSession {
        /// How keycheck asked (`GetSession "3"`, `GetSessionByPID 1234`).
        how: String,
        /// What logind said.
        detail: String,
    },
    /// The listener thread could not be started or did not report back.
    #[error("cannot start listening on the {bus}: {detail}")]
    Thread {
        /// Which bus.
        bus: Bus,
        /// What went wrong.
        detail: String,
    },
}

/// The running listeners, and how each bus started.
#[derive(Debug)]
pub struct Listener {
    /// Whether the screen savers' signals are listened for on the session bus.
    pub session: Result<(), ListenError>,
    /// Whether logind's signals are listened for on the system bus: this session's logind
    /// object path, or why not.
    pub system: Result<String, ListenError>,
    stop: Arc<StopSignal>,
    threads: Vec<JoinHandle<()>>,
}

impl Listener {
    /// The buses not listened on, one line each, for the caller to log.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        [self.session.as_ref().err(), self.system.as_ref().err()]
            .into_iter()
            .flatten()
            .map(ToString::to_string)
            .collect()
    }

    /// Stops the listeners and waits for their threads to end (each wakes at once: this
    /// does not wait on a bus).
    pub fn stop(mut self) {
        self.stop.stop();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// Applies the policy to a session event at time `now` (Unix seconds): a lock clears every
/// agent ([`ClearScope::All`]) when `cache.clear_at_lock` is set, a logout removes what
/// keycheck tracked ([`ClearScope::Tracked`]) when `cache.clear_at_logout` is set. `None`
/// when the policy asks nothing for this event.
#[must_use]
pub fn handle(
    policy: &Policy,
    event: SessionEvent,
    now: u64,
) -> Option<Result<CacheDocument, CachePassError>> {
    let scope = scope_for(policy, &event)?;
    Some(cache_pass::clear(policy, scope, now))
}

/// What [`handle`] clears for `event` under `policy`, if anything.
#[must_use]
pub fn scope_for(policy: &Policy, event: &SessionEvent) -> Option<ClearScope> {
    match event {
        SessionEvent::Locked if policy.cache.clear_at_lock => Some(ClearScope::All),
        SessionEvent::LoggedOut if policy.cache.clear_at_logout => Some(ClearScope::Tracked),
        _ => None,
    }
}

/// Starts listening for session events on the buses of `options`, sending them to
/// `events`. Returns once each bus is listened on or has failed (each within about
/// [`ListenOptions::timeout`]), so a signal sent after this returns is not missed.
#[must_use]
pub fn listen(options: &ListenOptions, events: Sender<SessionEvent>) -> Listener {
    let stop = Arc::new(StopSignal::default());
    let mut threads = Vec::new();
    // Both threads start before either is waited for: the buses are set up in parallel.
    let mut start = |bus: Bus, address: Option<&String>| {
        let address = address.ok_or(ListenError::NoAddress { bus })?.clone();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let job = Job {
            bus,
            address,
            session_id: options.session_id.clone(),
            timeout: options.timeout,
            events: events.clone(),
            stop: Arc::clone(&stop),
        };
        let thread = std::thread::Builder::new()
            .name(format!("keycheck {bus}"))
            .spawn(move || job.run(&ready_tx))
            .map_err(|e| ListenError::Thread {
                bus,
                detail: e.to_string(),
            })?;
        threads.push(thread);
        Ok((bus, ready_rx))
    };
    let session = start(Bus::Session, options.buses.session.as_ref());
    let system = start(Bus::System, options.buses.system.as_ref());
    // Every step a thread takes before it reports is bounded by the timeout; the margin
    // covers starting the threads.
    let deadline = Instant::now() + options.timeout + Duration::from_secs(2);
    let wait =
        |started: Result<(Bus, mpsc::Receiver<Result<String, ListenError>>), ListenError>| {
            let (bus, ready) = started?;
            ready
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| {
                    Err(ListenError::Thread {
                        bus,
                        detail: "the listener did not report back in time".to_owned(),
                    })
                })
        };
    let session = wait(session).map(|_| ());
    let system = wait(system);
    Listener {
        session,
        system,
        stop,
        threads,
    }
}

/// What one listener thread needs.
struct Job {
    bus: Bus,
    address: String,
    session_id: Option<String>,
    timeout: Duration,
    events: Sender<SessionEvent>,
    stop: Arc<StopSignal>,
}

/// How a listener ended.
enum End {
    /// Asked to stop, or nobody listens to its events any more: end quietly.
    Quiet,
    /// Its bus went away.
    Lost(String),
}

impl Job {
    /// The thread's body: never panics (a panic inside zbus is caught and reported).
    fn run(self, ready: &mpsc::SyncSender<Result<String, ListenError>>) {
        let (bus, events) = (self.bus, self.events.clone());
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| zbus::block_on(self.listen(ready))));
        let reason = match outcome {
            Ok(End::Quiet) => return,
            Ok(End::Lost(reason)) => reason,
            Err(_) => "the listener failed inside the D-Bus library".to_owned(),
        };
        let _ = events.send(SessionEvent::Stopped { bus, reason });
    }

    async fn listen(self, ready: &mpsc::SyncSender<Result<String, ListenError>>) -> End {
        let deadline = Instant::now() + self.timeout;
        let set_up = async {
            let runtime = zruntime::SharedRuntime::current().map_err(|e| ListenError::Thread {
                bus: self.bus,
                detail: e.to_string(),
            })?;
            let bounds = Bounds {
                runtime,
                deadline,
                bus: self.bus,
                timeout: self.timeout,
            };
            let connect = zbus::connection::Builder::address(self.address.as_str())
                .method_timeout(self.timeout)
                .build();
            let conn =
                bounds
                    .run("connecting", connect)
                    .await?
                    .map_err(|e| ListenError::Connect {
                        bus: self.bus,
                        address: self.address.clone(),
                        detail: e.to_string(),
                    })?;
            // The stream exists before the first subscription: nothing is missed.
            let stream = MessageStream::from(&conn);
            let watch = match self.bus {
                Bus::Session => {
                    for interface in SCREENSAVER_INTERFACES {
                        let rule =
                            format!("type='signal',interface='{interface}',member='ActiveChanged'");
                        bounds
                            .run("subscribing", add_match(&conn, rule))
                            .await?
                            .map_err(|detail| ListenError::Subscribe {
                                bus: self.bus,
                                detail,
                            })?;
                    }
                    Watch::ScreenSaver
                }
                Bus::System => {
                    let logind = bounds
                        .run("asking logind for this session", self.find_logind(&conn))
                        .await??;
                    Watch::Logind(logind)
                }
            };
            Ok::<_, ListenError>((conn, stream, watch))
        };
        // `_conn` keeps the connection open for as long as the loop runs.
        let (_conn, stream, mut watch) = match set_up.await {
            Ok(ok) => ok,
            Err(e) => {
                let _ = ready.send(Err(e));
                return End::Quiet;
            }
        };
        let shown = match &watch {
            Watch::ScreenSaver => String::new(),
            Watch::Logind(l) => l.session_path.clone(),
        };
        if ready.send(Ok(shown)).is_err() {
            return End::Quiet;
        }
        let mut stream = pin!(stream);
        loop {
            let next = std::future::poll_fn(|cx| {
                if self.stop.poll_stopped(cx).is_ready() {
                    return Poll::Ready(None);
                }
                stream.as_mut().poll_next(cx).map(Some)
            })
            .await;
            let message = match next {
                None => return End::Quiet,
                Some(None) => return End::Lost(format!("the {} closed the connection", self.bus)),
                Some(Some(Err(e))) => {
                    return End::Lost(format!("reading from the {} failed: {e}", self.bus))
                }
                Some(Some(Ok(message))) => message,
            };
            if let Some(event) = watch.event(&message) {
                if self.events.send(event).is_err() {
                    return End::Quiet;
                }
            }
        }
    }

    /// Subscribes to logind's signals for this session: who owns logind's name, which
    /// object is this session.
    async fn find_logind(&self, conn: &Connection) -> Result<Logind, ListenError> {
        let subscribe = |detail| ListenError::Subscribe {
            bus: Bus::System,
            detail,
        };
        add_match(
            conn,
            format!(
                "type='signal',sender='{DBUS_NAME}',interface='{DBUS_NAME}',\
                 member='NameOwnerChanged',arg0='{LOGIND}'"
            ),
        )
        .await
        .map_err(subscribe)?;
        let owner: String = call(
            conn,
            DBUS_NAME,
            DBUS_PATH,
            DBUS_NAME,
            "GetNameOwner",
            &(LOGIND,),
        )
        .await
        .map_err(|detail| ListenError::NoLogind { detail })?;
        // Asked of the owner's unique name: the answer comes from logind itself.
        let (how, path) = match &self.session_id {
            Some(id) => (
                format!("GetSession \"{id}\""),
                call::<OwnedObjectPath, _>(
                    conn,
                    &owner,
                    LOGIND_PATH,
                    LOGIND_MANAGER,
                    "GetSession",
                    &(id.as_str(),),
                )
                .await,
            ),
            None => {
                let pid = std::process::id();
                (
                    format!("GetSessionByPID {pid}"),
                    call::<OwnedObjectPath, _>(
                        conn,
                        &owner,
                        LOGIND_PATH,
                        LOGIND_MANAGER,
                        "GetSessionByPID",
                        &(pid,),
                    )
                    .await,
                )
            }
        };
        let session_path = path
            .map_err(|detail| ListenError::NoSession { how, detail })?
            .to_string();
        for rule in [
            format!(
                "type='signal',sender='{LOGIND}',path='{session_path}',\
                 interface='{LOGIND_SESSION}',member='Lock'"
            ),
            format!(
                "type='signal',sender='{LOGIND}',path='{LOGIND_PATH}',\
                 interface='{LOGIND_MANAGER}',member='SessionRemoved'"
            ),
            format!(
                "type='signal',sender='{LOGIND}',path='{LOGIND_PATH}',\
                 interface='{LOGIND_MANAGER}',member='PrepareForShutdown'"
            ),
        ] {
            add_match(conn, rule).await.map_err(subscribe)?;
        }
        Ok(Logind {
            owner: Some(owner),
            session_path,
            session_id: self.session_id.clone(),
        })
    }
}

/// The time limit of setting up one bus.
struct Bounds {
    runtime: zruntime::SharedRuntime,
    deadline: Instant,
    bus: Bus,
    timeout: Duration,
}

impl Bounds {
    /// `future`, unless the deadline passes first.
    async fn run<F: Future>(
        &self,
        step: &'static str,
        future: F,
    ) -> Result<F::Output, ListenError> {
        self.runtime
            .timeout_at(self.deadline, future)
            .await
            .map_err(|_| ListenError::Timeout {
                bus: self.bus,
                step,
                timeout: self.timeout,
            })
    }
}

/// `AddMatch(rule)` on the bus; the error as one line.
async fn add_match(conn: &Connection, rule: String) -> Result<(), String> {
    conn.call_method(
        Some(DBUS_NAME),
        DBUS_PATH,
        Some(DBUS_NAME),
        "AddMatch",
        &(rule,),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// One method call and its single return value; the error as one line.
async fn call<T, B>(
    conn: &Connection,
    destination: &str,
    path: &str,
    interface: &str,
    method: &str,
    body: &B,
) -> Result<T, String>
where
    T: for<'d> serde::Deserialize<'d> + zbus::Type,
    B: serde::Serialize + zbus::DynamicType,
{
    let reply = conn
        .call_method(Some(destination), path, Some(interface), method, body)
        .await
        .map_err(|e| e.to_string())?;
    reply.body().deserialize::<T>().map_err(|e| e.to_string())
}

/// What a listener looks for.
enum Watch {
    /// The screen savers' `ActiveChanged`.
    ScreenSaver,
    /// logind's signals for this session.
    Logind(Logind),
}

/// logind as the system-bus listener knows it.
struct Logind {
    /// The unique name owning `org.freedesktop.login1` now (`None` while nobody does).
    owner: Option<String>,
    /// This session's object.
    session_path: String,
    /// This session's id, when known.
    session_id: Option<String>,
}

impl Watch {
    /// The session event `message` means, if any; keeps track of logind's owner.
    fn event(&mut self, message: &Message) -> Option<SessionEvent> {
        if message.message_type() != MessageType::Signal {
            return None;
        }
        let header = message.header();
        let signal = Signal {
            sender: header.sender().map(|s| s.as_str()),
            path: header.path().map(|p| p.as_str()),
            interface: header.interface().map(|i| i.as_str()),
            member: header.member().map(|m| m.as_str()),
        };
        match self {
            Watch::ScreenSaver => {
                screensaver_event(&signal, || message.body().deserialize::<bool>().ok())
            }
            Watch::Logind(logind) => logind.event(&signal, message),
        }
    }
}

/// The header of a signal.
#[derive(Debug, Clone, Copy)]
struct Signal<'a> {
    sender: Option<&'a str>,
    path: Option<&'a str>,
    interface: Option<&'a str>,
    member: Option<&'a str>,
}

/// `ActiveChanged(true)` of a screen saver interface is a lock; `active` reads the argument.
fn screensaver_event(
    signal: &Signal<'_>,
    active: impl FnOnce() -> Option<bool>,
) -> Option<SessionEvent> {
    let interface = signal.interface?;
    (SCREENSAVER_INTERFACES.contains(&interface)
        && signal.member == Some("ActiveChanged")
        && active() == Some(true))
    .then_some(SessionEvent::Locked)
}

impl Logind {
    fn event(&mut self, signal: &Signal<'_>, message: &Message) -> Option<SessionEvent> {
        if signal.sender == Some(DBUS_NAME)
            && signal.interface == Some(DBUS_NAME)
            && signal.member == Some("NameOwnerChanged")
        {
            if let Ok((name, _old, new)) = message.body().deserialize::<(String, String, String)>()
            {
                if name == LOGIND {
                    self.owner = (!new.is_empty()).then_some(new);
                }
            }
            return None;
        }
        let args = match (signal.interface, signal.member) {
            (Some(LOGIND_SESSION), Some("Lock")) => LogindArgs::Lock,
            (Some(LOGIND_MANAGER), Some("SessionRemoved")) => {
                let (id, path) = message
                    .body()
                    .deserialize::<(String, OwnedObjectPath)>()
                    .ok()?;
                LogindArgs::SessionRemoved {
                    id,
                    path: path.to_string(),
                }
            }
            (Some(LOGIND_MANAGER), Some("PrepareForShutdown")) => {
                LogindArgs::PrepareForShutdown(message.body().deserialize::<bool>().ok()?)
            }
            _ => return None,
        };
        logind_event(signal, &args, self)
    }
}

/// The arguments of the logind signals keycheck listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LogindArgs {
    /// `Session.Lock()`.
    Lock,
    /// `Manager.SessionRemoved(s id, o path)`.
    SessionRemoved { id: String, path: String },
    /// `Manager.PrepareForShutdown(b start)`.
    PrepareForShutdown(bool),
}

/// The session event a logind signal means for this session, if any: only signals sent by
/// logind's current owner count.
fn logind_event(signal: &Signal<'_>, args: &LogindArgs, logind: &Logind) -> Option<SessionEvent> {
    if signal.sender.is_none() || signal.sender != logind.owner.as_deref() {
        return None;
    }
    match args {
        LogindArgs::Lock => {
            (signal.path == Some(logind.session_path.as_str())).then_some(SessionEvent::Locked)
        }
        LogindArgs::SessionRemoved { id, path } => {
            let ours = *path == logind.session_path || logind.session_id.as_deref() == Some(id);
            (signal.path == Some(LOGIND_PATH) && ours).then_some(SessionEvent::LoggedOut)
        }
        LogindArgs::PrepareForShutdown(start) => {
            (signal.path == Some(LOGIND_PATH) && *start).then_some(SessionEvent::LoggedOut)
        }
    }
}

/// A flag that ends the listeners' waits: set once, wakes every waiting thread.
#[derive(Debug, Default)]
struct StopSignal {
    stopped: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl StopSignal {
    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let wakers =
            std::mem::take(&mut *self.wakers.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in wakers {
            waker.wake();
        }
    }

    /// Ready once stopped; otherwise remembers who to wake.
    fn poll_stopped(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.stopped.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        {
            let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
            if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                wakers.push(cx.waker().clone());
            }
        }
        // Stopped between the first look and the registration: do not sleep through it.
        if self.stopped.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal<'a>(
        sender: &'a str,
        path: &'a str,
        interface: &'a str,
        member: &'a str,
    ) -> Signal<'a> {
        Signal {
            sender: Some(sender),
            path: Some(path),
            interface: Some(interface),
            member: Some(member),
        }
    }

    fn logind() -> Logind {
        Logind {
            owner: Some(":1.5".to_owned()),
            session_path: "/org/freedesktop/login1/session/_32".to_owned(),
            session_id: Some("2".to_owned()),
        }
    }

    #[test]
    fn screen_savers_lock_on_active_changed_true_only() {
        for interface in SCREENSAVER_INTERFACES {
            let s = signal(":1.9", "/ScreenSaver", interface, "ActiveChanged");
            assert_eq!(
                screensaver_event(&s, || Some(true)),
                Some(SessionEvent::Locked)
            );
            assert_eq!(screensaver_event(&s, || Some(false)), None);
            assert_eq!(screensaver_event(&s, || None), None);
        }
        let other = signal(":1.9", "/x", "org.example.ScreenSaver", "ActiveChanged");
        assert_eq!(screensaver_event(&other, || Some(true)), None);
    }

    #[test]
    fn logind_signals_count_only_from_its_owner_and_for_this_session() {
        let l = logind();
        let session = "/org/freedesktop/login1/session/_32";
        let lock = signal(":1.5", session, LOGIND_SESSION, "Lock");
        assert_eq!(
            logind_event(&lock, &LogindArgs::Lock, &l),
            Some(SessionEvent::Locked)
        );
        let spoofed = signal(":1.77", session, LOGIND_SESSION, "Lock");
        assert_eq!(logind_event(&spoofed, &LogindArgs::Lock, &l), None);
        let other_session = signal(
            ":1.5",
            "/org/freedesktop/login1/session/_33",
            LOGIND_SESSION,
            "Lock",
        );
        assert_eq!(logind_event(&other_session, &LogindArgs::Lock, &l), None);

        let removed = signal(":1.5", LOGIND_PATH, LOGIND_MANAGER, "SessionRemoved");
        let ours = LogindArgs::SessionRemoved {
            id: "2".to_owned(),
            path: session.to_owned(),
        };
        let theirs = LogindArgs::SessionRemoved {
            id: "3".to_owned(),
            path: "/org/freedesktop/login1/session/_33".to_owned(),
        };
        assert_eq!(
            logind_event(&removed, &ours, &l),
            Some(SessionEvent::LoggedOut)
        );
        assert_eq!(logind_event(&removed, &theirs, &l), None);

        let shutdown = signal(":1.5", LOGIND_PATH, LOGIND_MANAGER, "PrepareForShutdown");
        assert_eq!(
            logind_event(&shutdown, &LogindArgs::PrepareForShutdown(true), &l),
            Some(SessionEvent::LoggedOut)
        );
        assert_eq!(
            logind_event(&shutdown, &LogindArgs::PrepareForShutdown(false), &l),
            None
        );

        let mut gone = logind();
        gone.owner = None;
        assert_eq!(logind_event(&lock, &LogindArgs::Lock, &gone), None);
    }

    #[test]
    fn the_policy_decides_what_each_event_clears() {
        #[allow(clippy::unwrap_used)]
        let mut policy = crate::policy::Policy::builtin().unwrap();
        policy.cache.clear_at_lock = false;
        policy.cache.clear_at_logout = false;
        for event in [
            SessionEvent::Locked,
            SessionEvent::LoggedOut,
            SessionEvent::Stopped {
                bus: Bus::Session,
                reason: String::new(),
            },
        ] {
            assert_eq!(scope_for(&policy, &event), None);
            assert!(handle(&policy, event, 0).is_none());
        }
        policy.cache.clear_at_lock = true;
        policy.cache.clear_at_logout = true;
        assert_eq!(
            scope_for(&policy, &SessionEvent::Locked),
            Some(ClearScope::All)
        );
        assert_eq!(
            scope_for(&policy, &SessionEvent::LoggedOut),
            Some(ClearScope::Tracked)
        );
    }

    #[test]
    fn a_missing_address_is_reported_and_nothing_waits() {
        let (tx, _rx) = mpsc::channel();
        let started = Instant::now();
        let listener = listen(
            &ListenOptions {
                buses: Buses::default(),
                session_id: None,
                timeout: Duration::from_secs(5),
            },
            tx,
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(listener.problems().len(), 2, "{:?}", listener.problems());
        assert_eq!(
            listener.session,
            Err(ListenError::NoAddress { bus: Bus::Session })
        );
        listener.stop();
    }
}
