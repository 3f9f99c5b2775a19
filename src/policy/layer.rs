//! PURE: the second stage for one file. Turns a [`RawPolicy`] into a [`Partial`]: only
//! the settings the file names, each checked on its own (types, ranges, known names) and
//! tagged with `file:line:column`. Every problem found becomes a [`Diagnostic`]; all of
//! them are reported, not just the first.

use std::time::Duration;

use super::raw::{At, RawException, RawPolicy};
use super::{Diagnostic, Exception, Level, Profile, VERSION};
use crate::finding::Severity;
use crate::rules::Rule;

/// A validated value and where it was written (`file:line:column`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Set<T> {
    pub value: T,
    pub at: String,
}

/// The settings one file names, each valid on its own.
#[derive(Debug, Default)]
pub(super) struct Partial {
    pub version: Option<Set<u32>>,
    pub profile: Option<Set<Profile>>,
    pub allowed_algorithms: Option<Set<Vec<String>>>,
    pub rsa_min_bits: Option<Set<u32>>,
    pub rsa_recommended_bits: Option<Set<u32>>,
    pub rsa_recommended_becomes_minimum: Option<Set<time::Date>>,
    pub passphrase_required: Option<Set<bool>>,
    pub hardware_keys_exempt: Option<Set<bool>>,
    pub bcrypt_min_rounds: Option<Set<u32>>,
    pub pbkdf2_min_iterations: Option<Set<u32>>,
    pub argon2_min_memory_kib: Option<Set<u32>>,
    pub max_age: Option<Set<Duration>>,
    pub certificate_expiry_warning: Option<Set<Duration>>,
    pub key_mode: Option<Set<u32>>,
    pub ssh_dir_mode: Option<Set<u32>>,
    pub max_copies: Option<Set<u32>>,
    pub search: Option<Set<Vec<String>>>,
    pub exclude: Option<Set<Vec<String>>>,
    pub cache_laptop: Option<Set<Duration>>,
    pub cache_desktop: Option<Set<Duration>>,
    pub cache_mobile: Option<Set<Duration>>,
    pub cache_server: Option<Set<Duration>>,
    pub clear_at_logout: Option<Set<bool>>,
    pub clear_at_lock: Option<Set<bool>>,
    pub notify_min_severity: Option<Set<Severity>>,
    pub notify_repeat_after: Option<Set<Duration>>,
    pub incident_url: Option<Set<String>>,
    pub report_dir: Option<Set<String>>,
    pub report_database: Option<Set<String>>,
    pub users_may_add: Option<Set<bool>>,
    pub exceptions: Vec<Exception>,
    pub rules: Vec<(Rule, Set<Level>)>,
}

/// Where a file's text is, to turn byte offsets into `file:line:column`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Locator<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl Locator<'_> {
    /// `name:line:column` of a byte offset.
    pub fn at(&self, offset: usize) -> String {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}", self.name)
    }

    /// The text of a span, shortened for a message.
    fn snippet(&self, span: std::ops::Range<usize>) -> String {
        let text = self.text.get(span).unwrap_or("").trim();
        let mut out: String = text.chars().take(60).collect();
        if out.len() < text.len() {
            out.push('…');
        }
        out
    }
}

/// Validates one raw file.
pub(super) fn validate(raw: RawPolicy, loc: Locator<'_>) -> (Partial, Vec<Diagnostic>) {
    let mut v = Validator {
        loc,
        diagnostics: Vec::new(),
    };
    let mut p = Partial {
        version: raw.version.and_then(|x| v.version(&x)),
        profile: raw.profile.and_then(|x| v.profile(&x)),
        ..Partial::default()
    };

    let k = raw.keys;
    p.allowed_algorithms = k.allowed_algorithms.and_then(|x| v.algorithms(&x));
    p.rsa_min_bits = k
        .rsa_min_bits
        .and_then(|x| v.number(&x, "keys.rsa_min_bits", 512, 16384));
    p.rsa_recommended_bits = k
        .rsa_recommended_bits
        .and_then(|x| v.number(&x, "keys.rsa_recommended_bits", 512, 16384));
    if let (Some(min), Some(rec)) = (&p.rsa_min_bits, &p.rsa_recommended_bits) {
        if min.value > rec.value {
            v.diagnostics.push(Diagnostic {
                at: min.at.clone(),
                key: "keys.rsa_min_bits".to_owned(),
                message: format!(
                    "{} is above keys.rsa_recommended_bits ({}); the minimum cannot exceed the recommendation",
                    min.value, rec.value
                ),
            });
            p.rsa_min_bits = None;
        }
    }
    p.rsa_recommended_becomes_minimum = k
        .rsa_recommended_becomes_minimum
        .and_then(|x| v.date(&x, "keys.rsa_recommended_becomes_minimum"));
    p.passphrase_required = k.passphrase_required.map(|x| v.flag(&x));
    p.hardware_keys_exempt = k.hardware_keys_exempt.map(|x| v.flag(&x));
    p.bcrypt_min_rounds = k
        .bcrypt_min_rounds
        .and_then(|x| v.number(&x, "keys.bcrypt_min_rounds", 1, 1 << 20));
    p.pbkdf2_min_iterations = k
        .pbkdf2_min_iterations
        .and_then(|x| v.number(&x, "keys.pbkdf2_min_iterations", 1, u32::MAX.into()));
    p.argon2_min_memory_kib = k
        .argon2_min_memory_kib
        .and_then(|x| v.number(&x, "keys.argon2_min_memory_kib", 8, u32::MAX.into()));
    p.max_age = k
        .max_age
        .and_then(|x| v.duration(&x, "keys.max_age", false));
    p.certificate_expiry_warning = k
        .certificate_expiry_warning
        .and_then(|x| v.duration(&x, "keys.certificate_expiry_warning", true));

    let f = raw.files;
    p.key_mode = f.key_mode.and_then(|x| v.mode(&x, "files.key_mode"));
    p.ssh_dir_mode = f
        .ssh_dir_mode
        .and_then(|x| v.mode(&x, "files.ssh_dir_mode"));
    p.max_copies = f.max_copies.and_then(|x| {
        if *x.get_ref() == 0 {
            v.error(
                &x,
                "files.max_copies",
                "0 would forbid every key; use 1 or more",
            );
            return None;
        }
        v.number(&x, "files.max_copies", 1, 1000)
    });
    p.search = f.search.and_then(|x| v.paths(&x, "files.search", false));
    p.exclude = f.exclude.and_then(|x| v.paths(&x, "files.exclude", true));

    let c = raw.cache;
    p.cache_laptop = c.laptop.and_then(|x| v.duration(&x, "cache.laptop", true));
    p.cache_desktop = c
        .desktop
        .and_then(|x| v.duration(&x, "cache.desktop", true));
    p.cache_mobile = c.mobile.and_then(|x| v.duration(&x, "cache.mobile", true));
    p.cache_server = c.server.and_then(|x| v.duration(&x, "cache.server", true));
    p.clear_at_logout = c.clear_at_logout.map(|x| v.flag(&x));
    p.clear_at_lock = c.clear_at_lock.map(|x| v.flag(&x));

    let n = raw.notify;
    p.notify_min_severity = n.min_severity.and_then(|x| v.severity(&x));
    p.notify_repeat_after = n
        .repeat_after
        .and_then(|x| v.duration(&x, "notify.repeat_after", false));
    p.incident_url = n.incident_url.and_then(|x| v.url(&x));

    let r = raw.report;
    p.report_dir = r.dir.map(|x| v.text(&x));
    p.report_database = r.database.map(|x| v.text(&x));

    p.users_may_add = raw.exceptions.users_may_add.map(|x| v.flag(&x));
    for entry in raw.exceptions.waive {
        if let Some(exception) = v.exception(&entry) {
            p.exceptions.push(exception);
        }
    }

    for (id, level) in raw.rules {
        let rule = Rule::from_id(id.get_ref());
        if rule.is_none() {
            v.error(
                &id,
                &format!("rules.{}", id.get_ref()),
                &format!(
                    "unknown rule id \"{}\"; `keycheck explain` lists the rules",
                    id.get_ref()
                ),
            );
        }
        let level = v.level(&level, &format!("rules.{}", id.get_ref()));
        if let (Some(rule), Some(level)) = (rule, level) {
            p.rules.push((rule, level));
        }
    }
    (p, v.diagnostics)
}

struct Validator<'a> {
    loc: Locator<'a>,
    diagnostics: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn error<T>(&mut self, value: &At<T>, key: &str, message: &str) {
        self.diagnostics.push(Diagnostic {
            at: self.loc.at(value.span().start),
            key: key.to_owned(),
            message: message.to_owned(),
        });
    }

    fn set<T, U>(&self, raw: &At<U>, value: T) -> Set<T> {
        Set {
            value,
            at: self.loc.at(raw.span().start),
        }
    }

    fn version(&mut self, x: &At<i64>) -> Option<Set<u32>> {
        if *x.get_ref() != i64::from(VERSION) {
            self.error(
                x,
                "version",
                &format!(
                    "version {} is not supported; this keycheck reads version {VERSION}",
                    x.get_ref()
                ),
            );
            return None;
        }
        Some(self.set(x, VERSION))
    }

    fn profile(&mut self, x: &At<String>) -> Option<Set<Profile>> {
        match Profile::from_name(x.get_ref()) {
            Some(profile) => Some(self.set(x, profile)),
            None => {
                self.error(
                    x,
                    "profile",
                    &format!(
                        "\"{}\" is not a device profile; use \"laptop\", \"desktop\", \"mobile\" or \"server\"",
                        x.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn algorithms(&mut self, x: &At<Vec<At<String>>>) -> Option<Set<Vec<String>>> {
        let mut out = Vec::new();
        let mut ok = true;
        for name in x.get_ref() {
            let n = name.get_ref();
            let plausible = !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
            if !plausible {
                self.error(
                    name,
                    "keys.allowed_algorithms",
                    &format!(
                        "\"{n}\" is not an algorithm name; use OpenSSH names such as \"ssh-ed25519\" or \"ecdsa-sha2-nistp256\""
                    ),
                );
                ok = false;
            } else if !out.contains(n) {
                out.push(n.clone());
            }
        }
        ok.then(|| self.set(x, out))
    }

    fn number(&mut self, x: &At<i64>, key: &str, min: i64, max: i64) -> Option<Set<u32>> {
        let n = *x.get_ref();
        if n < min || n > max {
            self.error(
                x,
                key,
                &format!("{n} is out of range; use a whole number from {min} to {max}"),
            );
            return None;
        }
        u32::try_from(n).ok().map(|n| self.set(x, n))
    }

    fn flag(&mut self, x: &At<bool>) -> Set<bool> {
        self.set(x, *x.get_ref())
    }

    fn text(&mut self, x: &At<String>) -> Set<String> {
        self.set(x, x.get_ref().clone())
    }

    fn url(&mut self, x: &At<String>) -> Option<Set<String>> {
        let u = x.get_ref();
        if !u.is_empty() && !u.starts_with("https://") && !u.starts_with("mailto:") {
            self.error(
                x,
                "notify.incident_url",
                &format!("\"{u}\" is not an https:// or mailto: link"),
            );
            return None;
        }
        Some(self.text(x))
    }

    fn date(&mut self, x: &At<toml::value::Datetime>, key: &str) -> Option<Set<time::Date>> {
        match parse_date(x.get_ref()) {
            Some(d) => Some(self.set(x, d)),
            None => {
                self.error(
                    x,
                    key,
                    &format!(
                        "{} is not a plain date; write it like 2027-07-01",
                        x.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn mode(&mut self, x: &At<String>, key: &str) -> Option<Set<u32>> {
        match parse_mode(x.get_ref()) {
            Some(m) => Some(self.set(x, m)),
            None => {
                self.error(
                    x,
                    key,
                    &format!(
                        "\"{}\" is not a file mode; write it in octal like \"0600\"",
                        x.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn duration(
        &mut self,
        x: &At<toml::Value>,
        key: &str,
        allow_zero: bool,
    ) -> Option<Set<Duration>> {
        let shown = self.loc.snippet(x.span());
        let parsed = match x.get_ref() {
            toml::Value::Integer(n) if *n < 0 => Err(format!(
                "{n} is negative; a duration is a number of seconds or a text such as \"2h\" or \"15m\""
            )),
            toml::Value::Integer(n) => Ok(Duration::from_secs(n.unsigned_abs())),
            toml::Value::String(s) if s.trim_start().starts_with('-') => Err(format!(
                "\"{s}\" is negative; a duration is a number of seconds or a text such as \"2h\" or \"15m\""
            )),
            toml::Value::String(s) => humantime::parse_duration(s).map_err(|e| {
                format!(
                    "\"{s}\" is not a duration ({e}); write a number of seconds or a text such as \"2h\", \"15m\" or \"90d\""
                )
            }),
            _ => Err(format!(
                "{shown} is not a duration; write a number of seconds or a text such as \"2h\", \"15m\" or \"90d\""
            )),
        };
        match parsed {
            Ok(d) if d.is_zero() && !allow_zero => {
                self.error(x, key, &format!("{shown} is zero; use a positive duration"));
                None
            }
            Ok(d) => Some(self.set(x, d)),
            Err(message) => {
                self.error(x, key, &message);
                None
            }
        }
    }

    fn paths(
        &mut self,
        x: &At<Vec<At<String>>>,
        key: &str,
        globs: bool,
    ) -> Option<Set<Vec<String>>> {
        let mut out = Vec::new();
        let mut ok = true;
        for p in x.get_ref() {
            let s = p.get_ref();
            if s.is_empty() {
                self.error(p, key, "an empty path; remove it");
                ok = false;
            } else if globs {
                if let Err(e) = globset::Glob::new(s) {
                    self.error(p, key, &format!("\"{s}\" is not a glob: {}", e.kind()));
                    ok = false;
                } else if !out.contains(s) {
                    out.push(s.clone());
                }
            } else if !(s.starts_with('/') || s.starts_with("~/")) {
                self.error(
                    p,
                    key,
                    &format!("\"{s}\" is relative; write an absolute path or one starting with ~/"),
                );
                ok = false;
            } else if !out.contains(s) {
                out.push(s.clone());
            }
        }
        ok.then(|| self.set(x, out))
    }

    fn severity(&mut self, x: &At<String>) -> Option<Set<Severity>> {
        let s = match x.get_ref().as_str() {
            "info" => Severity::Info,
            "warn" => Severity::Warn,
            "fail" => Severity::Fail,
            other => {
                self.error(
                    x,
                    "notify.min_severity",
                    &format!("\"{other}\" is not a severity; use \"info\", \"warn\" or \"fail\""),
                );
                return None;
            }
        };
        Some(self.set(x, s))
    }

    fn level(&mut self, x: &At<String>, key: &str) -> Option<Set<Level>> {
        match Level::from_name(x.get_ref()) {
            Some(level) => Some(self.set(x, level)),
            None => {
                self.error(
                    x,
                    key,
                    &format!(
                        "\"{}\" is not a level; use \"fail\", \"warn\", \"info\" or \"off\"",
                        x.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn exception(&mut self, entry: &At<RawException>) -> Option<Exception> {
        let e = entry.get_ref();
        let before = self.diagnostics.len();
        let key = "exceptions.waive";
        match (&e.path, &e.fingerprint) {
            (None, None) => self.error(
                entry,
                key,
                "an exception needs `path` (a glob) or `fingerprint` (SHA256:...) to say what it waives",
            ),
            (Some(_), Some(f)) => self.error(
                f,
                key,
                "give either `path` or `fingerprint`, not both; write two exceptions",
            ),
            _ => {}
        }
        if let Some(p) = &e.path {
            if let Err(err) = globset::Glob::new(p.get_ref()) {
                self.error(
                    p,
                    "exceptions.waive.path",
                    &format!("\"{}\" is not a glob: {}", p.get_ref(), err.kind()),
                );
            }
        }
        if let Some(f) = &e.fingerprint {
            if !f.get_ref().starts_with("SHA256:") {
                self.error(
                    f,
                    "exceptions.waive.fingerprint",
                    &format!(
                        "\"{}\" is not a fingerprint; copy it from `ssh-keygen -l -f KEY` (SHA256:...)",
                        f.get_ref()
                    ),
                );
            }
        }
        let mut rules = Vec::new();
        match &e.rules {
            None => self.error(
                entry,
                key,
                "an exception needs `rules`, the rule ids it waives",
            ),
            Some(list) if list.get_ref().is_empty() => self.error(
                list,
                "exceptions.waive.rules",
                "an empty list waives nothing; name the rule ids to waive",
            ),
            Some(list) => {
                for id in list.get_ref() {
                    match Rule::from_id(id.get_ref()) {
                        Some(rule) if rule.waivable() => rules.push(rule),
                        Some(_) => self.error(
                            id,
                            "exceptions.waive.rules",
                            &format!(
                                "\"{}\" is about the policy itself and cannot be waived",
                                id.get_ref()
                            ),
                        ),
                        None => self.error(
                            id,
                            "exceptions.waive.rules",
                            &format!(
                                "unknown rule id \"{}\"; `keycheck explain` lists the rules",
                                id.get_ref()
                            ),
                        ),
                    }
                }
            }
        }
        let reason = match &e.reason {
            Some(r) if !r.get_ref().trim().is_empty() => r.get_ref().trim().to_owned(),
            Some(r) => {
                self.error(
                    r,
                    "exceptions.waive.reason",
                    "the reason is empty; say why the rule is waived",
                );
                String::new()
            }
            None => {
                self.error(entry, key, "an exception needs a `reason`");
                String::new()
            }
        };
        let expires = match &e.expires {
            Some(d) => self.date(d, "exceptions.waive.expires").map(|s| s.value),
            None => {
                self.error(
                    entry,
                    key,
                    "an exception needs `expires = YYYY-MM-DD`; exceptions without expiry are refused",
                );
                None
            }
        };
        if self.diagnostics.len() > before {
            return None;
        }
        Some(Exception {
            path: e.path.as_ref().map(|p| p.get_ref().clone()),
            fingerprint: e.fingerprint.as_ref().map(|f| f.get_ref().clone()),
            rules,
            reason,
            expires: expires?,
            at: self.loc.at(entry.span().start),
        })
    }
}

/// Parses an octal mode such as `0600` or `600`.
pub(super) fn parse_mode(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 4 {
        return None;
    }
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

/// A TOML date with no time part (`2027-07-01`).
fn parse_date(value: &toml::value::Datetime) -> Option<time::Date> {
    match (&value.date, &value.time, &value.offset) {
        (Some(date), None, None) => {
            let month = time::Month::try_from(date.month).ok()?;
            time::Date::from_calendar_date(i32::from(date.year), month, date.day).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_as_octal() {
        assert_eq!(parse_mode("0600"), Some(0o600));
        assert_eq!(parse_mode("700"), Some(0o700));
        assert_eq!(parse_mode("0800"), None);
        assert_eq!(parse_mode(""), None);
        assert_eq!(parse_mode("77777"), None);
    }

    #[test]
    fn locator_counts_lines_and_columns() {
        let loc = Locator {
            name: "p.toml",
            text: "a = 1\nbé = 2\n",
        };
        assert_eq!(loc.at(0), "p.toml:1:1");
        assert_eq!(loc.at(6), "p.toml:2:1");
        assert_eq!(loc.at(10), "p.toml:2:4");
    }
}
