//! PURE: lays validated layers over each other. The built-in policy and the
//! organisation's file set values freely; every later layer (the user's file,
//! `--policy FILE`) may only tighten. A setting that would loosen the policy is
//! ignored and recorded as a [`Loosening`], which the rules turn into a
//! `policy-loosening-ignored` finding.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::layer::{Partial, Set};
use super::{LayerKind, Level, Loosening, Profile};
use crate::finding::Severity;

/// The merged settings so far, the kind of layer each came from, and what was refused.
#[derive(Debug, Default)]
pub(super) struct Merger {
    pub acc: Partial,
    pub kinds: BTreeMap<&'static str, LayerKind>,
    pub ignored: Vec<Loosening>,
}

/// How a value reads in messages and in `policy show`.
pub(super) trait Shown {
    fn shown(&self) -> String;
}

impl Shown for u32 {
    fn shown(&self) -> String {
        self.to_string()
    }
}
impl Shown for bool {
    fn shown(&self) -> String {
        self.to_string()
    }
}
impl Shown for String {
    fn shown(&self) -> String {
        format!("{self:?}")
    }
}
impl Shown for Duration {
    fn shown(&self) -> String {
        format!("\"{}\"", humantime::format_duration(*self))
    }
}
impl Shown for time::Date {
    fn shown(&self) -> String {
        self.to_string()
    }
}
impl Shown for Vec<String> {
    fn shown(&self) -> String {
        let items: Vec<String> = self.iter().map(|s| format!("{s:?}")).collect();
        format!("[{}]", items.join(", "))
    }
}
impl Shown for Profile {
    fn shown(&self) -> String {
        format!("\"{}\"", self.as_str())
    }
}
impl Shown for Severity {
    fn shown(&self) -> String {
        format!("\"{}\"", self.as_str())
    }
}
impl Shown for Level {
    fn shown(&self) -> String {
        format!("\"{}\"", self.as_str())
    }
}

/// Returns true if and only if `new` grants nothing `old` did not: every permission
/// bit of the new mode is also in the old one.
pub(super) fn mode_within(new: u32, old: u32) -> bool {
    new & !old == 0
}

impl Merger {
    /// Lays `layer` (of `kind`) over what is merged so far.
    pub fn apply(&mut self, layer: Partial, kind: LayerKind) {
        let free = kind.sets_freely();
        let Partial {
            version,
            profile,
            allowed_algorithms,
            rsa_min_bits,
            rsa_recommended_bits,
            rsa_recommended_becomes_minimum,
            passphrase_required,
            hardware_keys_exempt,
            bcrypt_min_rounds,
            pbkdf2_min_iterations,
            argon2_min_memory_kib,
            max_age,
            certificate_expiry_warning,
            key_mode,
            ssh_dir_mode,
            max_copies,
            search,
            exclude,
            cache_laptop,
            cache_desktop,
            cache_mobile,
            cache_server,
            clear_at_logout,
            clear_at_lock,
            notify_min_severity,
            notify_repeat_after,
            incident_url,
            report_dir,
            report_database,
            users_may_add,
            exceptions,
            rules,
        } = layer;

        let higher = |new: &u32, old: &u32| new >= old;
        let lower_duration = |new: &Duration, old: &Duration| new <= old;
        let true_is_tighter = |new: &bool, old: &bool| *new || !*old;
        let false_is_tighter = |new: &bool, old: &bool| !*new || *old;

        if let Some(v) = version {
            self.acc.version = Some(v);
        }
        let a = &mut self.acc;
        let (k, ig) = (&mut self.kinds, &mut self.ignored);
        take(
            &mut a.rsa_min_bits,
            rsa_min_bits,
            "keys.rsa_min_bits",
            kind,
            k,
            ig,
            higher,
        );
        take(
            &mut a.rsa_recommended_bits,
            rsa_recommended_bits,
            "keys.rsa_recommended_bits",
            kind,
            k,
            ig,
            higher,
        );
        take(
            &mut a.rsa_recommended_becomes_minimum,
            rsa_recommended_becomes_minimum,
            "keys.rsa_recommended_becomes_minimum",
            kind,
            k,
            ig,
            |new, old| new <= old,
        );
        take(
            &mut a.passphrase_required,
            passphrase_required,
            "keys.passphrase_required",
            kind,
            k,
            ig,
            true_is_tighter,
        );
        take(
            &mut a.hardware_keys_exempt,
            hardware_keys_exempt,
            "keys.hardware_keys_exempt",
            kind,
            k,
            ig,
            false_is_tighter,
        );
        take(
            &mut a.bcrypt_min_rounds,
            bcrypt_min_rounds,
            "keys.bcrypt_min_rounds",
            kind,
            k,
            ig,
            higher,
        );
        take(
            &mut a.pbkdf2_min_iterations,
            pbkdf2_min_iterations,
            "keys.pbkdf2_min_iterations",
            kind,
            k,
            ig,
            higher,
        );
        take(
            &mut a.argon2_min_memory_kib,
            argon2_min_memory_kib,
            "keys.argon2_min_memory_kib",
            kind,
            k,
            ig,
            higher,
        );
        // No maximum age at all is the loosest; any age tightens it.
        take(
            &mut a.max_age,
            max_age,
            "keys.max_age",
            kind,
            k,
            ig,
            lower_duration,
        );
        // Warning earlier about certificates is stricter.
        take(
            &mut a.certificate_expiry_warning,
            certificate_expiry_warning,
            "keys.certificate_expiry_warning",
            kind,
            k,
            ig,
            |new, old| new >= old,
        );
        take(
            &mut a.key_mode,
            key_mode,
            "files.key_mode",
            kind,
            k,
            ig,
            |n, o| mode_within(*n, *o),
        );
        take(
            &mut a.ssh_dir_mode,
            ssh_dir_mode,
            "files.ssh_dir_mode",
            kind,
            k,
            ig,
            |n, o| mode_within(*n, *o),
        );
        take(
            &mut a.max_copies,
            max_copies,
            "files.max_copies",
            kind,
            k,
            ig,
            |n, o| n <= o,
        );
        take(
            &mut a.cache_laptop,
            cache_laptop,
            "cache.laptop",
            kind,
            k,
            ig,
            lower_duration,
        );
        take(
            &mut a.cache_desktop,
            cache_desktop,
            "cache.desktop",
            kind,
            k,
            ig,
            lower_duration,
        );
        take(
            &mut a.cache_mobile,
            cache_mobile,
            "cache.mobile",
            kind,
            k,
            ig,
            lower_duration,
        );
        take(
            &mut a.cache_server,
            cache_server,
            "cache.server",
            kind,
            k,
            ig,
            lower_duration,
        );
        take(
            &mut a.clear_at_logout,
            clear_at_logout,
            "cache.clear_at_logout",
            kind,
            k,
            ig,
            true_is_tighter,
        );
        take(
            &mut a.clear_at_lock,
            clear_at_lock,
            "cache.clear_at_lock",
            kind,
            k,
            ig,
            true_is_tighter,
        );
        take(
            &mut a.notify_min_severity,
            notify_min_severity,
            "notify.min_severity",
            kind,
            k,
            ig,
            |n, o| n <= o,
        );
        take(
            &mut a.notify_repeat_after,
            notify_repeat_after,
            "notify.repeat_after",
            kind,
            k,
            ig,
            lower_duration,
        );
        set_once(
            &mut a.incident_url,
            incident_url,
            "notify.incident_url",
            kind,
            k,
            ig,
        );
        set_once(&mut a.report_dir, report_dir, "report.dir", kind, k, ig);
        set_once(
            &mut a.report_database,
            report_database,
            "report.database",
            kind,
            k,
            ig,
        );

        // Profile after the cache windows: whether a switch is tighter depends on them.
        if let Some(new) = profile {
            let old = a.profile.as_ref().map(|s| s.value);
            let window = |p: Profile| cache_window(a, p);
            let tighter = match old {
                None => true,
                Some(old) => {
                    !(old == Profile::Server && new.value != Profile::Server)
                        && window(new.value) <= window(old)
                }
            };
            let old_set = a.profile.clone();
            accept_or_refuse(
                &mut a.profile,
                new,
                old_set,
                "profile",
                kind,
                free || tighter,
                k,
                ig,
            );
        }

        // Lists: an allow list only shrinks, excludes only shrink, search paths only grow.
        if let Some(new) = allowed_algorithms {
            narrow(
                &mut a.allowed_algorithms,
                new,
                "keys.allowed_algorithms",
                kind,
                k,
                ig,
                "is not allowed by",
            );
        }
        if let Some(new) = exclude {
            narrow(
                &mut a.exclude,
                new,
                "files.exclude",
                kind,
                k,
                ig,
                "is not excluded by",
            );
        }
        if let Some(new) = search {
            match &mut a.search {
                Some(old) if !free => {
                    for p in new.value {
                        if !old.value.contains(&p) {
                            old.value.push(p);
                        }
                    }
                }
                _ => {
                    a.search = Some(new);
                    k.insert("files.search", kind);
                }
            }
        }

        // Exceptions and who may add them.
        if let Some(new) = users_may_add {
            take(
                &mut a.users_may_add,
                Some(new),
                "exceptions.users_may_add",
                kind,
                k,
                ig,
                false_is_tighter,
            );
        }
        let may_add = free || a.users_may_add.as_ref().is_some_and(|s| s.value);
        for exception in exceptions {
            if may_add {
                a.exceptions.push(exception);
            } else {
                ig.push(Loosening {
                    at: exception.at.clone(),
                    key: "exceptions.waive".to_owned(),
                    message: format!(
                        "an exception waiving {} is ignored: the organisation does not let users add exceptions ([exceptions] users_may_add = false)",
                        exception.rule_list()
                    ),
                });
            }
        }

        // Rule levels: a later layer may raise a rule's severity, never lower or waive it.
        for (rule, level) in rules {
            let pos = a.rules.iter().position(|(r, _)| *r == rule);
            let current = pos
                .and_then(|i| a.rules.get(i))
                .map_or(Level::from_severity(rule.default_severity()), |(_, s)| {
                    s.value
                });
            if free || level.value >= current {
                match pos.and_then(|i| a.rules.get_mut(i)) {
                    Some(slot) => slot.1 = level,
                    None => a.rules.push((rule, level)),
                }
            } else {
                ig.push(Loosening {
                    at: level.at,
                    key: format!("rules.{}", rule.id()),
                    message: format!(
                        "{} would lower the rule from {}; ignored (a later policy layer may only tighten)",
                        level.value.shown(),
                        current.shown()
                    ),
                });
            }
        }
    }
}

/// The window of `profile` in the settings merged so far (no window: unbounded).
pub(super) fn cache_window(p: &Partial, profile: Profile) -> Duration {
    let field = match profile {
        Profile::Laptop => &p.cache_laptop,
        Profile::Desktop => &p.cache_desktop,
        Profile::Mobile => &p.cache_mobile,
        Profile::Server => &p.cache_server,
    };
    field.as_ref().map_or(Duration::MAX, |s| s.value)
}

/// Lays one scalar over the merged value: taken when the layer sets freely, when nothing
/// was set before, or when `tighter(new, old)`; otherwise refused.
#[allow(clippy::too_many_arguments)]
fn take<T: Shown + Clone>(
    acc: &mut Option<Set<T>>,
    new: Option<Set<T>>,
    key: &'static str,
    kind: LayerKind,
    kinds: &mut BTreeMap<&'static str, LayerKind>,
    ignored: &mut Vec<Loosening>,
    tighter: impl Fn(&T, &T) -> bool,
) {
    let Some(new) = new else { return };
    let ok = match acc {
        None => true,
        Some(old) => kind.sets_freely() || tighter(&new.value, &old.value),
    };
    let old = acc.clone();
    accept_or_refuse(acc, new, old, key, kind, ok, kinds, ignored);
}

#[allow(clippy::too_many_arguments)]
fn accept_or_refuse<T: Shown>(
    acc: &mut Option<Set<T>>,
    new: Set<T>,
    old: Option<Set<T>>,
    key: &'static str,
    kind: LayerKind,
    ok: bool,
    kinds: &mut BTreeMap<&'static str, LayerKind>,
    ignored: &mut Vec<Loosening>,
) {
    if ok {
        *acc = Some(new);
        kinds.insert(key, kind);
        return;
    }
    let mut message = format!("{} would loosen the policy", new.value.shown());
    if let Some(old) = old {
        let _ = write!(
            message,
            " (in force: {} from {})",
            old.value.shown(),
            origin(&old.at)
        );
    }
    message.push_str("; ignored (a later policy layer may only tighten)");
    ignored.push(Loosening {
        at: new.at,
        key: key.to_owned(),
        message,
    });
}

/// A setting only the organisation decides: a later layer may set it only while it
/// still has its built-in value.
fn set_once(
    acc: &mut Option<Set<String>>,
    new: Option<Set<String>>,
    key: &'static str,
    kind: LayerKind,
    kinds: &mut BTreeMap<&'static str, LayerKind>,
    ignored: &mut Vec<Loosening>,
) {
    let Some(new) = new else { return };
    let org_set = kinds
        .get(key)
        .is_some_and(|k| *k == LayerKind::Organisation);
    if kind.sets_freely() || !org_set {
        *acc = Some(new);
        kinds.insert(key, kind);
    } else if acc.as_ref().is_some_and(|old| old.value != new.value) {
        ignored.push(Loosening {
            at: new.at,
            key: key.to_owned(),
            message: format!(
                "{} is ignored: the organisation's policy sets this",
                new.value.shown()
            ),
        });
    }
}

/// A list that may only shrink: a later layer keeps what it names that was already
/// there; names it adds are refused.
fn narrow(
    acc: &mut Option<Set<Vec<String>>>,
    new: Set<Vec<String>>,
    key: &'static str,
    kind: LayerKind,
    kinds: &mut BTreeMap<&'static str, LayerKind>,
    ignored: &mut Vec<Loosening>,
    refusal: &str,
) {
    let old = match acc {
        Some(old) if !kind.sets_freely() => old,
        _ => {
            *acc = Some(new);
            kinds.insert(key, kind);
            return;
        }
    };
    let (kept, added): (Vec<String>, Vec<String>) =
        new.value.into_iter().partition(|x| old.value.contains(x));
    for extra in added {
        ignored.push(Loosening {
            at: new.at.clone(),
            key: key.to_owned(),
            message: format!(
                "\"{extra}\" {refusal} the policy in force ({}); ignored (a later policy layer may only tighten)",
                origin(&old.at)
            ),
        });
    }
    *acc = Some(Set {
        value: kept,
        at: new.at,
    });
    kinds.insert(key, kind);
}

/// Where a value in force came from, for messages: the built-in policy's positions mean
/// nothing to a reader.
fn origin(at: &str) -> &str {
    if at.starts_with("built-in policy") {
        "the built-in policy"
    } else {
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_within() {
        assert!(mode_within(0o600, 0o600));
        assert!(mode_within(0o400, 0o600));
        assert!(!mode_within(0o640, 0o600));
        assert!(!mode_within(0o700, 0o600));
    }
}
