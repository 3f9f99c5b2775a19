//! EDGE: desktop notifications through notify-rust (the freedesktop notification server
//! on the D-Bus session bus on Linux, the platform API on macOS).
//!
//! [`Desktop`] keeps an outbox: notices wait there until a server takes them, so a
//! missing or restarting notification server loses nothing. The outbox is bounded
//! ([`DEFAULT_CAPACITY`]); past that the oldest notices are dropped and counted, and the
//! next delivery starts with one notice saying how many ([`Notice::dropped`]).
//!
//! Delivery never blocks the caller for long: each attempt runs on a worker thread and
//! the caller waits at most the timeout ([`DEFAULT_TIMEOUT`]). An attempt that outlives
//! it (a server that accepted the connection but does not answer) is not abandoned: the
//! next call collects what it delivered in the meantime, and no second attempt starts
//! while it is still waiting, so a hung server costs one thread and no duplicates.
//!
//! Nothing is sent to a name nobody owns unless the bus can start a server for it (D-Bus
//! activation, as desktops without a resident server do); after an activation fails,
//! keycheck does not try again for [`ACTIVATION_RETRY`], because a server that cannot
//! start (no display) would otherwise be spawned and crash on every retry.
//!
//! Notice bodies are logged at debug level at most: they name key files.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use crate::daemon::notice::Notice;

/// How many notices wait for a server at most; the oldest are dropped (and counted) past it.
pub const DEFAULT_CAPACITY: usize = 100;

/// How long one call waits for the bus and the notification server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// After D-Bus activation of a notification server failed, how long until keycheck lets the
/// bus try again.
pub const ACTIVATION_RETRY: Duration = Duration::from_secs(300);

/// The application name notifications carry.
pub const APP_NAME: &str = "keycheck";

/// The well-known bus name of a freedesktop notification server.
pub const SERVER_NAME: &str = "org.freedesktop.Notifications";

/// The sequence number of the "notices were dropped" notice in a batch.
const DROPPED_NOTE: u64 = u64::MAX;

/// Why notices could not be delivered. They stay queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DesktopError {
    /// There is no session bus to talk to (none running, or its address is wrong).
    #[error("no D-Bus session bus: {reason}")]
    NoBus {
        /// What connecting said.
        reason: String,
    },
    /// The bus is there, but no notification server is (and none can be started now).
    #[error("no notification server on the session bus (nothing owns {SERVER_NAME})")]
    NoServer,
    /// The bus tried to start a notification server, and it failed.
    #[error("the session bus could not start a notification server: {reason}")]
    ActivationFailed {
        /// What the bus said.
        reason: String,
    },
    /// The server (or the bus) refused or lost a notification.
    #[error("the notification server did not take the notification: {reason}")]
    Refused {
        /// What the server or bus said.
        reason: String,
    },
    /// The bus or server did not answer in time; the attempt goes on in the background.
    #[error("the notification server did not answer within {millis} ms")]
    TimedOut {
        /// How long keycheck waited.
        millis: u64,
    },
}

/// Whether a notification server is on the session bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// A server owns the notification name.
    Running,
    /// Nobody owns it, but the bus would start a server on the first notification.
    Activatable,
    /// Nobody owns it and the bus cannot start one.
    Absent,
}

/// One notice in the outbox.
#[derive(Debug, Clone)]
struct Queued {
    seq: u64,
    notice: Notice,
}

/// What a delivery worker reports, in order.
#[derive(Debug)]
enum Report {
    /// The notice with this sequence number was delivered.
    Delivered(u64),
    /// The attempt stopped here; the rest stays queued.
    Failed(DesktopError),
}

/// Work running on a worker thread, possibly past the deadline of the call that began it.
#[derive(Debug)]
enum Job {
    Deliver {
        rx: Receiver<Report>,
        /// How many dropped notices the batch's "dropped" notice counted (0: none sent).
        note: u64,
    },
    Probe {
        rx: Receiver<Result<Server, DesktopError>>,
    },
}

/// The desktop notifier: an outbox of notices and the means to deliver them.
#[derive(Debug)]
pub struct Desktop {
    outbox: VecDeque<Queued>,
    next_seq: u64,
    capacity: usize,
    timeout: Duration,
    dropped: u64,
    job: Option<Job>,
    activation_failed_at: Option<Instant>,
    failing: Option<DesktopError>,
}

impl Default for Desktop {
    fn default() -> Self {
        Desktop::new()
    }
}

impl Desktop {
    /// An empty outbox of [`DEFAULT_CAPACITY`] that waits [`DEFAULT_TIMEOUT`] per call.
    #[must_use]
    pub fn new() -> Desktop {
        Desktop {
            outbox: VecDeque::new(),
            next_seq: 0,
            capacity: DEFAULT_CAPACITY,
            timeout: DEFAULT_TIMEOUT,
            dropped: 0,
            job: None,
            activation_failed_at: None,
            failing: None,
        }
    }

    /// The same with another capacity (at least 1).
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Desktop {
        self.capacity = capacity.max(1);
        self
    }

    /// The same with another per-call timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Desktop {
        self.timeout = timeout;
        self
    }

    /// How many notices wait for delivery.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.outbox.len()
    }

    /// How many notices were dropped from a full outbox and not yet reported as dropped.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Queues `notices`, dropping the oldest queued ones when the outbox is full.
    pub fn queue(&mut self, notices: Vec<Notice>) {
        for notice in notices {
            if self.outbox.len() >= self.capacity {
                if let Some(old) = self.outbox.pop_front() {
                    self.dropped += 1;
                    tracing::warn!(
                        summary = %old.notice.summary,
                        dropped = self.dropped,
                        "notification outbox full: dropped the oldest notification"
                    );
                }
            }
            self.outbox.push_back(Queued {
                seq: self.next_seq,
                notice,
            });
            self.next_seq += 1;
        }
    }

    /// Queues `notices`, then delivers everything pending ([`Desktop::flush`]).
    ///
    /// # Errors
    /// As [`Desktop::flush`]; the notices stay queued.
    pub fn send(&mut self, notices: Vec<Notice>) -> Result<usize, DesktopError> {
        self.queue(notices);
        self.flush()
    }

    /// Delivers every pending notice, oldest first, and returns how many were delivered
    /// (including ones an earlier, timed-out attempt delivered since). Waits at most the
    /// timeout. Logs a failure at warn once, and again only when the reason changes.
    ///
    /// # Errors
    /// [`DesktopError`] when the bus or the server is missing, refuses, or does not answer
    /// in time. What was not delivered stays queued for the next call.
    pub fn flush(&mut self) -> Result<usize, DesktopError> {
        let settled = self.settle();
        if self.outbox.is_empty() && self.dropped == 0 {
            // Nothing waits (an earlier attempt still running has nothing left to deliver).
            self.recovered();
            return Ok(settled.unwrap_or(0));
        }
        let earlier = match settled {
            Ok(n) => n,
            Err(e) => return self.failed(e),
        };
        let allow_activation = self
            .activation_failed_at
            .is_none_or(|t| t.elapsed() >= ACTIVATION_RETRY);
        let note = self.dropped;
        let mut batch = Vec::with_capacity(self.outbox.len() + 1);
        if note > 0 {
            batch.push((DROPPED_NOTE, Notice::dropped(note)));
        }
        batch.extend(self.outbox.iter().map(|q| (q.seq, q.notice.clone())));
        let (tx, rx) = mpsc::channel();
        if let Err(e) = spawn(move || deliver(batch, allow_activation, &tx)) {
            return self.failed(e);
        }
        let (delivered, result) = self.wait_delivery(rx, note, Some(Instant::now() + self.timeout));
        match result {
            Ok(()) => {
                self.recovered();
                tracing::debug!(delivered, "notifications delivered");
                Ok(earlier + delivered)
            }
            Err(e) => {
                if matches!(e, DesktopError::ActivationFailed { .. }) {
                    self.activation_failed_at = Some(Instant::now());
                }
                self.failed(e)
            }
        }
    }

    /// Returns true if and only if a notification server runs on the session bus now
    /// (something owns [`SERVER_NAME`]): a cheap check for when to retry delivery.
    /// False when there is no bus, no server, or no answer within the timeout.
    pub fn server_present(&mut self) -> bool {
        matches!(self.probe(), Ok(Server::Running))
    }

    /// Asks the session bus whether a notification server runs or can be started.
    ///
    /// # Errors
    /// [`DesktopError::NoBus`] without a session bus, [`DesktopError::TimedOut`] when the
    /// bus does not answer in time (or an earlier call's work still waits for it).
    pub fn probe(&mut self) -> Result<Server, DesktopError> {
        self.settle()?;
        let (tx, rx) = mpsc::channel();
        spawn(move || {
            let _ = tx.send(probe_bus());
        })?;
        match receive(&rx, Some(Instant::now() + self.timeout)) {
            Ok(answer) => answer,
            Err(Waited::Done) => Err(DesktopError::NoBus {
                reason: "the probe ended without an answer".to_owned(),
            }),
            Err(Waited::Running) => {
                self.job = Some(Job::Probe { rx });
                Err(self.timed_out())
            }
        }
    }

    /// Takes what an earlier call's timed-out work left behind: its deliveries leave the
    /// outbox. Returns how many it delivered, or [`DesktopError::TimedOut`] while it still
    /// waits (no new work starts then).
    fn settle(&mut self) -> Result<usize, DesktopError> {
        match self.job.take() {
            None => Ok(0),
            Some(Job::Deliver { rx, note }) => match self.wait_delivery(rx, note, None) {
                (_, Err(DesktopError::TimedOut { .. })) => Err(self.timed_out()),
                (n, Err(DesktopError::ActivationFailed { .. })) => {
                    // A server that took that long to fail to start is not retried at once.
                    self.activation_failed_at = Some(Instant::now());
                    Ok(n)
                }
                // Any other failure is stale: the caller is about to try again.
                (n, _) => Ok(n),
            },
            Some(Job::Probe { rx }) => match rx.try_recv() {
                Err(TryRecvError::Empty) => {
                    self.job = Some(Job::Probe { rx });
                    Err(self.timed_out())
                }
                _ => Ok(0),
            },
        }
    }

    /// Applies what a delivery worker reports until it ends or `deadline` passes (with
    /// `None`, only what is there now). Delivered notices leave the outbox. A worker still
    /// running at the deadline is kept, and the result is [`DesktopError::TimedOut`].
    fn wait_delivery(
        &mut self,
        rx: Receiver<Report>,
        note: u64,
        deadline: Option<Instant>,
    ) -> (usize, Result<(), DesktopError>) {
        let mut delivered = 0;
        loop {
            match receive(&rx, deadline) {
                Ok(Report::Delivered(seq)) => {
                    self.remove(seq, note);
                    delivered += 1;
                }
                Ok(Report::Failed(e)) => return (delivered, Err(e)),
                Err(Waited::Done) => return (delivered, Ok(())),
                Err(Waited::Running) => {
                    self.job = Some(Job::Deliver { rx, note });
                    return (delivered, Err(self.timed_out()));
                }
            }
        }
    }

    /// Takes a delivered notice out of the outbox.
    fn remove(&mut self, seq: u64, note: u64) {
        if seq == DROPPED_NOTE {
            self.dropped = self.dropped.saturating_sub(note);
        } else if let Some(i) = self.outbox.iter().position(|q| q.seq == seq) {
            self.outbox.remove(i);
        } else {
            // Dropped from a full outbox while a late attempt was delivering it after all.
            self.dropped = self.dropped.saturating_sub(1);
        }
    }

    fn timed_out(&self) -> DesktopError {
        DesktopError::TimedOut {
            millis: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Logs a failure (at warn when it is a new reason, else at debug) and returns it.
    fn failed(&mut self, e: DesktopError) -> Result<usize, DesktopError> {
        if self.failing.as_ref() == Some(&e) {
            tracing::debug!(error = %e, pending = self.outbox.len(), "notifications still not delivered");
        } else {
            tracing::warn!(error = %e, pending = self.outbox.len(), "desktop notifications not delivered; keeping them until a notification server answers");
            self.failing = Some(e.clone());
        }
        Err(e)
    }

    /// Logs the end of a run of failures.
    fn recovered(&mut self) {
        if self.failing.take().is_some() {
            tracing::info!("desktop notifications delivered again");
        }
        self.activation_failed_at = None;
    }
}

/// How waiting on a worker ended without a message.
enum Waited {
    /// The worker finished (its sender is gone).
    Done,
    /// The worker still runs.
    Running,
}

/// The next message from a worker, waiting until `deadline` (`None`: not at all).
fn receive<T>(rx: &Receiver<T>, deadline: Option<Instant>) -> Result<T, Waited> {
    match deadline {
        None => rx.try_recv().map_err(|e| match e {
            TryRecvError::Empty => Waited::Running,
            TryRecvError::Disconnected => Waited::Done,
        }),
        Some(d) => rx
            .recv_timeout(d.saturating_duration_since(Instant::now()))
            .map_err(|e| match e {
                RecvTimeoutError::Timeout => Waited::Running,
                RecvTimeoutError::Disconnected => Waited::Done,
            }),
    }
}

/// Runs `work` on a named worker thread.
fn spawn(work: impl FnOnce() + Send + 'static) -> Result<(), DesktopError> {
    std::thread::Builder::new()
        .name("keycheck-notify".to_owned())
        .spawn(work)
        .map(drop)
        .map_err(|e| DesktopError::Refused {
            reason: format!("cannot start a worker thread: {e}"),
        })
}

/// The worker: delivers `batch` in order, reporting each delivery, and stops at the first
/// failure.
fn deliver(batch: Vec<(u64, Notice)>, allow_activation: bool, tx: &Sender<Report>) {
    let server = match probe_bus() {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Report::Failed(e));
            return;
        }
    };
    let activating = match server {
        Server::Running => false,
        Server::Activatable if allow_activation => true,
        Server::Activatable | Server::Absent => {
            let _ = tx.send(Report::Failed(DesktopError::NoServer));
            return;
        }
    };
    // A server that reads markup in bodies gets them escaped; the first call also makes
    // the bus start an activatable server.
    let markup = match body_markup() {
        Ok(m) => m,
        Err(e) => {
            let _ = tx.send(Report::Failed(classify(&e, activating)));
            return;
        }
    };
    for (seq, notice) in batch {
        match show(&notice, markup) {
            Ok(()) => {
                tracing::debug!(summary = %notice.summary, body = %notice.body, "notification delivered");
                if tx.send(Report::Delivered(seq)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Report::Failed(classify(&e, false)));
                return;
            }
        }
    }
}

/// The error for a notify-rust failure; `activating` when the bus had to start the server.
fn classify(e: &notify_rust::error::Error, activating: bool) -> DesktopError {
    let reason = e.to_string();
    if activating {
        DesktopError::ActivationFailed { reason }
    } else {
        DesktopError::Refused { reason }
    }
}

/// Shows one notice.
fn show(notice: &Notice, markup: bool) -> Result<(), notify_rust::error::Error> {
    let body = if markup {
        escape_markup(&notice.body)
    } else {
        notice.body.clone()
    };
    let mut n = notify_rust::Notification::new();
    n.appname(APP_NAME).summary(&notice.summary).body(&body);
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        use crate::daemon::notice::Urgency;
        // Critical notices stay until dismissed (the spec's advice, and dunst's default);
        // the others leave after a while and stay in the server's history.
        let (urgency, timeout) = match notice.urgency {
            Urgency::Low => (
                notify_rust::Urgency::Low,
                notify_rust::Timeout::Milliseconds(5_000),
            ),
            Urgency::Normal => (
                notify_rust::Urgency::Normal,
                notify_rust::Timeout::Milliseconds(10_000),
            ),
            Urgency::Critical => (notify_rust::Urgency::Critical, notify_rust::Timeout::Never),
        };
        n.urgency(urgency).timeout(timeout);
    }
    n.show().map(drop)
}

/// Escapes the characters the notification spec's body markup gives a meaning to.
fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Returns true if and only if the server reads markup in bodies.
#[cfg(all(unix, not(target_os = "macos")))]
fn body_markup() -> Result<bool, notify_rust::error::Error> {
    Ok(notify_rust::get_capabilities()?
        .iter()
        .any(|c| c == "body-markup"))
}

/// Returns true if and only if the server reads markup in bodies (never, off freedesktop).
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn body_markup() -> Result<bool, notify_rust::error::Error> {
    Ok(false)
}

/// Asks the session bus about the notification name: owned, activatable or neither.
#[cfg(all(unix, not(target_os = "macos")))]
fn probe_bus() -> Result<Server, DesktopError> {
    let no_bus = |e: zbus::Error| DesktopError::NoBus {
        reason: e.to_string(),
    };
    let refused = |e: zbus::fdo::Error| DesktopError::Refused {
        reason: e.to_string(),
    };
    zbus::block_on(async {
        let conn = zbus::connection::Builder::session()
            .method_timeout(DEFAULT_TIMEOUT)
            .build()
            .await
            .map_err(no_bus)?;
        let dbus = zbus::fdo::DBusProxy::new(&conn).await.map_err(no_bus)?;
        let name = zbus::names::BusName::try_from(SERVER_NAME).map_err(no_bus)?;
        if dbus.name_has_owner(name).await.map_err(refused)? {
            return Ok(Server::Running);
        }
        let activatable = dbus.list_activatable_names().await.map_err(refused)?;
        Ok(if activatable.iter().any(|n| n.as_str() == SERVER_NAME) {
            Server::Activatable
        } else {
            Server::Absent
        })
    })
}

/// Off freedesktop, the platform's notification centre is always there.
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn probe_bus() -> Result<Server, DesktopError> {
    Ok(Server::Running)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::notice::{NoticeKind, Urgency};

    fn notice(summary: &str) -> Notice {
        Notice {
            kind: NoticeKind::New,
            summary: summary.to_owned(),
            body: String::new(),
            urgency: Urgency::Normal,
            subjects: Vec::new(),
        }
    }

    fn summaries(d: &Desktop) -> Vec<&str> {
        d.outbox.iter().map(|q| q.notice.summary.as_str()).collect()
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_counts_them() {
        let mut d = Desktop::new().with_capacity(2);
        d.queue(vec![notice("a"), notice("b"), notice("c")]);
        d.queue(vec![notice("d")]);
        assert_eq!(summaries(&d), ["c", "d"]);
        assert_eq!((d.pending(), d.dropped()), (2, 2));
    }

    #[test]
    fn delivered_notices_leave_the_outbox_and_the_note_settles_its_count() {
        let mut d = Desktop::new().with_capacity(2);
        d.queue(vec![notice("a"), notice("b"), notice("c")]);
        let seqs: Vec<u64> = d.outbox.iter().map(|q| q.seq).collect();
        d.remove(seqs[1], 1);
        assert_eq!(summaries(&d), ["b"]);
        // The note counted one drop; one more happened since: one is left to report.
        d.queue(vec![notice("d"), notice("e")]);
        assert_eq!(d.dropped(), 2);
        d.remove(DROPPED_NOTE, 1);
        assert_eq!(d.dropped(), 1);
        // A late attempt delivered a notice that was dropped meanwhile: not dropped after all.
        d.remove(seqs[0], 0);
        assert_eq!(d.dropped(), 0);
        assert_eq!(summaries(&d), ["d", "e"]);
    }

    #[test]
    fn a_late_worker_is_collected_without_waiting() {
        let mut d = Desktop::new();
        d.queue(vec![notice("a"), notice("b")]);
        let (tx, rx) = mpsc::channel();
        let (delivered, result) = d.wait_delivery(rx, 0, Some(Instant::now()));
        assert_eq!(delivered, 0);
        assert!(
            matches!(result, Err(DesktopError::TimedOut { .. })),
            "{result:?}"
        );
        assert!(d.job.is_some(), "the running attempt is kept");
        // While it runs, nothing new starts.
        assert!(matches!(d.settle(), Err(DesktopError::TimedOut { .. })));
        // It delivers the first, then fails.
        let first = d.outbox[0].seq;
        tx.send(Report::Delivered(first)).ok();
        tx.send(Report::Failed(DesktopError::NoServer)).ok();
        assert_eq!(d.settle(), Ok(1));
        assert!(d.job.is_none());
        assert_eq!(summaries(&d), ["b"]);
    }

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape_markup("a <b> & 'c' \"d\""),
            "a &lt;b&gt; &amp; 'c' \"d\""
        );
    }

    #[test]
    fn errors_are_one_line_naming_the_cause() {
        assert_eq!(
            DesktopError::NoServer.to_string(),
            "no notification server on the session bus (nothing owns org.freedesktop.Notifications)"
        );
        assert_eq!(
            DesktopError::TimedOut { millis: 2000 }.to_string(),
            "the notification server did not answer within 2000 ms"
        );
    }
}
