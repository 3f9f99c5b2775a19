//! `keycheck agent`: the background agent. It watches `~/.ssh`, the policy files and the
//! ssh configuration, re-checks on every change, keeps what it saw in the state
//! directory for `keycheck status`, and sleeps otherwise: the only timer is the slow
//! poll of the ssh-agents (and the next deadline it computes), so an idle laptop is not
//! woken.

mod process;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::value::RawValue;

use super::AgentArgs;
use keycheck::daemon::notice::{self, Event, NotifiedState};
use keycheck::finding::Finding;
use keycheck::fix;
use keycheck::policy::Policy;
use keycheck::report;
use keycheck::rules::{self, Env, Rule};
use keycheck::sys::cache_pass::{self, CacheDocument, IdentityVerdict};
use keycheck::sys::desktop::Desktop;
use keycheck::sys::gather::{self, GatherOptions};
use keycheck::sys::scan::{self, InspectCache};
use keycheck::sys::session_events::{self, ListenOptions, SessionEvent};
use keycheck::sys::watch::{Change, Target, Watcher};
use keycheck::sys::{db, host, policy_files, state};

pub(crate) use process::running_agent;

/// The state file the agent rewrites after each check, read by `keycheck status`.
pub(crate) const STATE_FILE: &str = "agent-state.json";
/// Its schema id.
pub(crate) const STATE_SCHEMA: &str = "keycheck.agent-state/v1";

/// What was notified, so a restart does not notify it again.
const NOTIFIED_FILE: &str = "notified.json";
/// `keycheck.db` is rewritten at least this often, so osquery sees that the agent runs
/// even when nothing changes.
const DB_REFRESH: Duration = Duration::from_secs(12 * 3600);
/// First wait before trying again to deliver notifications that found no server; it
/// doubles up to the poll interval.
const FIRST_RETRY: Duration = Duration::from_secs(5);

/// After a file event, wait until the files have been quiet this long...
const QUIET: Duration = Duration::from_millis(50);
/// ...but never longer than this after the first event of a burst.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// What wakes the agent's loop.
#[derive(Debug)]
pub(crate) enum Wake {
    /// A signal arrived (SIGTERM, SIGINT: stop; SIGHUP: reload the policy).
    Signal(i32),
    /// Watched files changed.
    Files(Change),
    /// The screen locked, the session ended, or a bus went away.
    Session(SessionEvent),
}

pub(super) fn run(args: &AgentArgs) -> Result<ExitCode> {
    process::init_logging();
    process::harden();
    let dir = state::state_dir().context("cannot find a state directory for keycheck")?;
    state::ensure_dir(&dir)?;
    let _lock = process::lock(&dir)?;
    let home = directories::BaseDirs::new()
        .map(|d| d.home_dir().to_path_buf())
        .context("cannot find your home directory")?;

    let (tx, rx) = mpsc::channel();
    process::forward_signals(tx.clone())?;
    let policy_paths = policy_paths(args.policy.as_deref());
    let mut targets = vec![Target {
        path: home.join(".ssh"),
        recursive: true,
    }];
    targets.extend(policy_paths.iter().map(|p| Target {
        path: p.clone(),
        recursive: false,
    }));
    targets.push(Target {
        path: PathBuf::from("/etc/ssh/ssh_config"),
        recursive: false,
    });
    targets.push(Target {
        path: PathBuf::from("/etc/ssh/ssh_config.d"),
        recursive: true,
    });
    let files_tx = tx.clone();
    let mut watcher = match Watcher::new(targets, move |change| {
        let _ = files_tx.send(Wake::Files(change));
    }) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!("{e}; changes are seen only at each poll");
            None
        }
    };
    if let Some(w) = watcher.as_mut() {
        for problem in w.refresh() {
            tracing::warn!("{problem}");
        }
    }

    // Screen lock and logout come over D-Bus; the listener's threads block on the buses
    // and wake the loop only when a signal arrives.
    let (session_tx, session_rx) = mpsc::channel();
    let listener = session_events::listen(&ListenOptions::from_env(), session_tx);
    for problem in listener.problems() {
        tracing::info!("screen lock and logout not followed there: {problem}");
    }
    let forward = tx.clone();
    std::thread::Builder::new()
        .name("session-events".to_owned())
        .spawn(move || {
            for event in session_rx {
                if forward.send(Wake::Session(event)).is_err() {
                    break;
                }
            }
        })
        .context("starting the session event thread")?;

    let mut agent = Agent::start(args, home, dir, policy_paths)?;
    tracing::info!(
        pid = std::process::id(),
        profile = agent.policy.profile.as_str(),
        poll_seconds = agent.poll.as_secs(),
        "keycheck agent started"
    );
    agent.recheck();
    agent.poll_agents();

    loop {
        let now = Instant::now();
        let deadline = agent.deadline();
        let woke = rx.recv_timeout(deadline.saturating_duration_since(now));
        match woke {
            Ok(Wake::Signal(signal)) if signal == signal_hook::consts::SIGHUP => {
                tracing::info!("SIGHUP: reloading the policy");
                agent.reload_policy();
                agent.recheck();
            }
            Ok(Wake::Signal(signal)) => {
                tracing::info!(signal, "stopping");
                break;
            }
            Ok(Wake::Files(Change::Paths(paths))) => agent.changed(&paths),
            Ok(Wake::Files(Change::Rescan(why))) => {
                tracing::warn!("{why}: checking everything again");
                agent.cache = InspectCache::default();
                agent.changed(&[]);
            }
            Ok(Wake::Session(event)) => agent.session_event(event),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if agent.burst_due(now) {
            if let Some(w) = watcher.as_mut() {
                for problem in w.refresh() {
                    tracing::warn!("{problem}");
                }
            }
            if std::mem::take(&mut agent.policy_changed) {
                agent.reload_policy();
            }
            agent.burst = None;
            agent.recheck();
        }
        if now >= agent.next_poll || agent.cache_deadline.is_some_and(|d| now >= d) {
            agent.poll_agents();
        }
        agent.retry_due(now);
    }
    drop(watcher);
    listener.stop();
    tracing::info!("keycheck agent stopped");
    Ok(ExitCode::SUCCESS)
}

/// The policy files whose change reloads the policy: the organisation's, the user's,
/// and `--policy FILE`.
fn policy_paths(extra: Option<&Path>) -> Vec<PathBuf> {
    let mut paths = vec![policy_files::organisation_path()];
    paths.extend(policy_files::user_path());
    paths.extend(extra.map(Path::to_path_buf));
    paths
}

/// The agent's memory between wakes.
struct Agent {
    extra_policy: Option<PathBuf>,
    policy_paths: Vec<PathBuf>,
    policy: Policy,
    /// The policy problem in force (the last good policy is used meanwhile).
    policy_problem: Option<String>,
    policy_changed: bool,
    home: PathBuf,
    dir: PathBuf,
    cache: InspectCache,
    findings: Vec<Finding>,
    /// Paths of the last check that hold `\\xNN` escapes (for the fix commands).
    escaped_paths: BTreeSet<String>,
    started_at: String,
    poll: Duration,
    next_poll: Instant,
    /// The user's ssh-agent sockets, as of the last look at the ssh config.
    sockets: Vec<PathBuf>,
    /// When the next loaded identity's window ends.
    cache_deadline: Option<Instant>,
    /// The last pass over the ssh-agents.
    cache_doc: Option<CacheDocument>,
    /// The last check, as written to the state file (kept as text: a parsed JSON tree
    /// would cost ten times its size).
    check: Box<RawValue>,
    /// What was notified (persisted).
    notified: NotifiedState,
    /// Notifications on their way to the desktop.
    desktop: Desktop,
    /// Occurrences to notify with the next plan.
    events: Vec<Event>,
    /// When to try again to deliver what is pending, and the wait after that.
    retry: Option<(Instant, Duration)>,
    /// This host's id and the user, for `keycheck.db` (`None`: the host has no id).
    db_identity: Option<(String, String)>,
    /// When `keycheck.db` was last written.
    db_written: Option<Instant>,
    /// First and latest file event of the burst not yet checked.
    burst: Option<(Instant, Instant)>,
}

impl Agent {
    fn start(
        args: &AgentArgs,
        home: PathBuf,
        dir: PathBuf,
        policy_paths: Vec<PathBuf>,
    ) -> Result<Agent> {
        let poll = Duration::from_secs(args.poll_interval.max(1));
        let mut agent = Agent {
            extra_policy: args.policy.clone(),
            policy_paths,
            // In force until the layered policy loads; stays if it is broken at start.
            policy: Policy::builtin()?,
            policy_problem: None,
            policy_changed: false,
            home,
            dir,
            cache: InspectCache::default(),
            escaped_paths: BTreeSet::new(),
            findings: Vec::new(),
            started_at: super::rfc3339_now(false),
            poll,
            next_poll: Instant::now() + poll,
            sockets: Vec::new(),
            cache_deadline: None,
            cache_doc: None,
            check: null_json(),
            notified: NotifiedState::default(),
            desktop: Desktop::new(),
            events: Vec::new(),
            retry: None,
            db_identity: None,
            db_written: None,
            burst: None,
        };
        agent.notified = load_notified(&agent.dir);
        agent.db_identity = match host::host(Some(&agent.dir)) {
            Ok(h) => {
                let user = host::user();
                Some((h.id, user.name.unwrap_or_else(|| user.uid.to_string())))
            }
            Err(e) => {
                tracing::warn!("keycheck.db not kept: {e}");
                None
            }
        };
        agent.reload_policy();
        Ok(agent)
    }

    /// Loads the policy; a broken one leaves the last good policy (at start, the
    /// built-in one) in force and is logged with its file:line.
    fn reload_policy(&mut self) {
        match super::policy::load(self.extra_policy.as_deref()) {
            Ok(policy) => {
                if self.policy_problem.take().is_some() {
                    tracing::info!("the policy is valid again and in force");
                }
                self.policy = policy;
            }
            Err(e) => {
                let problem = describe_policy_error(&e);
                if self.policy_problem.as_deref() != Some(problem.as_str()) {
                    tracing::error!(
                        "policy not reloaded, the last good one stays in force: {problem}"
                    );
                }
                self.policy_problem = Some(problem);
            }
        }
    }

    /// Notes a change to `paths` (empty: anything) and starts or extends the burst.
    fn changed(&mut self, paths: &[PathBuf]) {
        let now = Instant::now();
        if paths.is_empty()
            || paths
                .iter()
                .any(|p| self.policy_paths.iter().any(|q| q == p || q.starts_with(p)))
        {
            self.policy_changed = true;
        }
        self.burst = Some(match self.burst {
            Some((first, _)) => (first, now),
            None => (now, now),
        });
    }

    fn burst_due(&self, now: Instant) -> bool {
        self.burst
            .is_some_and(|(first, last)| now >= last + QUIET || now >= first + MAX_DELAY)
    }

    /// When the loop must wake next without a message.
    fn deadline(&self) -> Instant {
        let mut deadline = self.next_poll;
        if let Some(d) = self.cache_deadline {
            deadline = deadline.min(d);
        }
        if let Some((at, _)) = self.retry {
            deadline = deadline.min(at);
        }
        if let Some((first, last)) = self.burst {
            deadline = deadline.min((last + QUIET).min(first + MAX_DELAY));
        }
        deadline
    }

    /// One pass over the ssh-agents: remove what is over the cache window, and find when
    /// the next identity's window ends. Also the slow poll: identities are loaded
    /// without any file event.
    fn poll_agents(&mut self) {
        if self.db_written.is_some_and(|t| t.elapsed() >= DB_REFRESH) {
            self.recheck();
        }
        let now = Instant::now();
        self.next_poll = now + self.poll;
        match cache_pass::pass_on(&self.policy, &self.sockets, true, unix_now()) {
            Ok(doc) => {
                self.cache_deadline = doc
                    .agents
                    .iter()
                    .flat_map(|a| &a.identities)
                    .filter(|i| i.verdict == IdentityVerdict::Ok)
                    .map(|i| i.seconds_left)
                    .min()
                    .map(|secs| now + Duration::from_secs(secs.max(1)));
                self.took_effect(&doc, "the cache window passed", true);
                // An idle poll writes nothing: only a change of what the agents hold (or
                // of what keycheck did to it) is worth a write.
                let changed =
                    self.cache_doc.as_ref().map(cache_signature) != Some(cache_signature(&doc));
                self.cache_doc = Some(doc);
                if changed {
                    self.write_state();
                }
            }
            Err(e) => {
                tracing::error!("cache window not enforced: {e}");
                self.cache_deadline = None;
            }
        }
        // Also the time for reminders of what is still unresolved.
        self.notify();
    }

    /// Plans the notifications for the findings in force and the events since the last
    /// plan, sends them, and persists what was notified.
    fn notify(&mut self) {
        let mut events = std::mem::take(&mut self.events);
        if let Some(problem) = &self.policy_problem {
            events.push(Event::PolicyBroken {
                message: problem.clone(),
            });
        }
        // An agent without a lifetime of its own is what this process makes up for: it
        // keeps the window itself, so telling the person about it would only nag.
        // What `keycheck fix` can fix, the notification names it for: the guided fix
        // keeps a backup and never loses a key, where a pasted command might.
        let home = scan::display_path(&self.home);
        let findings: Vec<Finding> = self
            .findings
            .iter()
            .filter(|f| f.rule != Rule::AgentLifetimeUnbounded)
            .map(|f| {
                let mut f = f.clone();
                if fix::acts_on(f.rule) && f.fix.is_some() {
                    let escaped = self.escaped_paths.contains(&f.path);
                    f.fix = Some(fix::command_line(&f.path, escaped, Some(&home)));
                }
                f
            })
            .collect();
        let before = self.notified.to_json();
        let notices = notice::plan(
            &mut self.notified,
            &findings,
            &events,
            unix_now(),
            &self.policy.notify,
        );
        if !notices.is_empty() || self.desktop.pending() > 0 {
            self.deliver(notices);
        }
        let after = self.notified.to_json();
        if after != before {
            if let Err(e) = state::write_atomic(&self.dir, NOTIFIED_FILE, &after) {
                tracing::error!("{e}");
            }
        }
    }

    /// Sends `notices` with what is pending; on failure (the desktop logs why) tries
    /// again later, waiting longer each time.
    fn deliver(&mut self, notices: Vec<keycheck::daemon::notice::Notice>) {
        match self.desktop.send(notices) {
            Ok(delivered) => {
                if delivered > 0 {
                    tracing::info!(delivered, "notified");
                }
                self.retry = None;
            }
            Err(_) => {
                let wait = self
                    .retry
                    .map_or(FIRST_RETRY, |(_, w)| (w * 2).min(self.poll));
                self.retry = Some((Instant::now() + wait, wait));
            }
        }
    }

    /// Tries the pending notifications again once their retry time has come.
    fn retry_due(&mut self, now: Instant) {
        if self.retry.is_some_and(|(at, _)| now >= at) {
            self.deliver(Vec::new());
        }
    }

    /// A session event: clear the agents as the policy says.
    fn session_event(&mut self, event: SessionEvent) {
        if let SessionEvent::Stopped { bus, reason } = &event {
            tracing::warn!(
                "{bus:?} bus: {reason}; screen lock and logout no longer followed there"
            );
            return;
        }
        let Some(scope) = session_events::scope_for(&self.policy, &event) else {
            tracing::info!("{event:?}: the policy does not clear keys then");
            return;
        };
        match cache_pass::clear_on(&self.policy, &self.sockets, scope, unix_now()) {
            Ok(doc) => {
                let why = match event {
                    SessionEvent::Locked => "the screen locked",
                    _ => "the session ended",
                };
                self.took_effect(&doc, why, false);
                self.cache_doc = Some(doc);
                self.cache_deadline = None;
                self.write_state();
                self.notify();
            }
            Err(e) => tracing::error!("agents not cleared: {e}"),
        }
    }

    /// Logs what a pass removed, and its warnings; removals by the window are notified.
    fn took_effect(&mut self, doc: &CacheDocument, why: &str, notify: bool) {
        for warning in &doc.warnings {
            tracing::warn!("{warning}");
        }
        for (socket, identity) in doc.removed() {
            tracing::info!(
                socket,
                fingerprint = identity.fingerprint.as_str(),
                comment = identity.comment.as_str(),
                verdict = identity.verdict.as_str(),
                "key removed from its agent: {why}"
            );
            if notify {
                self.events.push(Event::Removed {
                    socket: socket.to_owned(),
                    fingerprint: identity.fingerprint.clone(),
                    comment: identity.comment.clone(),
                    window_secs: doc.window_seconds,
                });
            }
        }
    }

    /// Gathers, judges, records the state and reports what is new.
    fn recheck(&mut self) {
        let started = Instant::now();
        let options = GatherOptions {
            paths: Vec::new(),
            home: Some(self.home.clone()),
            max_depth: 8,
            search_home: false,
            progress: false,
        };
        let gathered = match gather::gather(&self.policy, &options, Some(&mut self.cache)) {
            Ok(g) => g,
            Err(e) => {
                tracing::error!("check failed: {e}");
                return;
            }
        };
        for note in &gathered.notes {
            tracing::info!("{note}");
        }
        let inventory = gathered.inventory;
        let now = time::OffsetDateTime::now_utc();
        let env = Env {
            uid: rustix::process::geteuid().as_raw(),
            today: now.date(),
            now: u64::try_from(now.unix_timestamp()).unwrap_or(0),
            home: Some(scan::display_path(&self.home)),
        };
        let evaluation = rules::judge(&inventory, &self.policy, &env);
        for finding in &evaluation.findings {
            if !self.findings.contains(finding) {
                tracing::info!(
                    rule = finding.rule.id(),
                    severity = finding.severity.as_str(),
                    path = finding.path.as_str(),
                    "new finding: {}",
                    finding.message
                );
            }
        }
        for old in &self.findings {
            if !evaluation.findings.contains(old) {
                tracing::info!(rule = old.rule.id(), path = old.path.as_str(), "resolved");
            }
        }
        self.sockets = cache_pass::agent_sockets(Some(&self.home), inventory.ssh_config.as_ref());
        let mut check = Vec::new();
        if let Err(e) = report::json::write_check(&mut check, &inventory, &evaluation) {
            tracing::error!("rendering the state: {e}");
            return;
        }
        self.check = String::from_utf8(check)
            .ok()
            .and_then(|text| RawValue::from_string(text).ok())
            .unwrap_or_else(null_json);
        self.write_state();
        if let Some((host_id, user)) = &self.db_identity {
            let ctx = db::DbContext {
                host_id: host_id.clone(),
                user: user.clone(),
                generated_at: super::rfc3339_now(true),
                policy_profile: self.policy.profile.as_str().to_owned(),
            };
            match db::write(&self.dir, &ctx, &inventory, &evaluation.findings) {
                Ok(_) => self.db_written = Some(Instant::now()),
                Err(e) => tracing::error!("{e}"),
            }
        }
        self.findings = evaluation.findings;
        self.escaped_paths = inventory
            .keys
            .iter()
            .filter(|k| k.file.path_escaped)
            .map(|k| k.path.clone())
            .chain(
                inventory
                    .dirs
                    .iter()
                    .filter(|d| d.file.path_escaped)
                    .map(|d| d.path.clone()),
            )
            .collect();
        self.notify();
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis(),
            reads = self.cache.reads,
            cached = self.cache.hits,
            "checked"
        );
    }

    /// Writes what the agent saw last, atomically, for `keycheck status`.
    fn write_state(&self) {
        let doc = StateDocument {
            schema: STATE_SCHEMA,
            pid: std::process::id(),
            started_at: &self.started_at,
            updated_at: super::rfc3339_now(false),
            profile: self.policy.profile.as_str(),
            policy_problem: self.policy_problem.as_deref(),
            check: &self.check,
            cache: self.cache_doc.as_ref(),
        };
        match serde_json::to_vec_pretty(&doc) {
            Ok(bytes) => {
                if let Err(e) = state::write_atomic(&self.dir, STATE_FILE, &bytes) {
                    tracing::error!("{e}");
                }
            }
            Err(e) => tracing::error!("rendering the state: {e}"),
        }
    }
}

/// What `keycheck status` reads: the last check of the running agent.
#[derive(Serialize)]
struct StateDocument<'a> {
    schema: &'static str,
    pid: u32,
    started_at: &'a str,
    updated_at: String,
    profile: &'static str,
    policy_problem: Option<&'a str>,
    check: &'a RawValue,
    cache: Option<&'a CacheDocument>,
}

fn describe_policy_error(e: &anyhow::Error) -> String {
    if let Some(invalid) = e.downcast_ref::<keycheck::policy::Error>() {
        let lines: Vec<String> = invalid
            .diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect();
        if !lines.is_empty() {
            return lines.join("; ");
        }
    }
    format!("{e:#}")
}

/// What was notified before: a state that cannot be read is set aside, and everything in
/// force is notified again (better twice than never).
fn load_notified(dir: &Path) -> NotifiedState {
    match state::read(dir, NOTIFIED_FILE) {
        Ok(Some(bytes)) => NotifiedState::from_json(&bytes).unwrap_or_else(|e| {
            tracing::warn!("{NOTIFIED_FILE} not usable ({e}); set aside");
            state::set_aside(dir, NOTIFIED_FILE);
            NotifiedState::default()
        }),
        Ok(None) => NotifiedState::default(),
        Err(e) => {
            tracing::warn!("{e}");
            NotifiedState::default()
        }
    }
}

/// What a pass over the agents saw and did, apart from the seconds that tick away.
fn cache_signature(doc: &CacheDocument) -> Vec<String> {
    let mut lines = Vec::new();
    for agent in &doc.agents {
        lines.push(format!("{} {:?}", agent.socket, agent.error));
        for i in &agent.identities {
            lines.push(format!(
                "{} {} {} {}",
                agent.socket,
                i.fingerprint,
                i.first_seen,
                i.verdict.as_str()
            ));
        }
    }
    lines
}

fn null_json() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).unwrap_or_default()
}

fn unix_now() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0)
}
