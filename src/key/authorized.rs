//! PURE: `authorized_keys` files, line by line: the options in front of each key and the
//! key's own facts.
//!
//! The format is sshd(8)'s `AUTHORIZED_KEYS FILE FORMAT`: each line that is not blank and
//! not a `#` comment is `[options] keytype base64 [comment]`. This module follows sshd's
//! own reading (OpenSSH 9.2, `auth2-pubkeyfile.c` `auth_check_authkey_line`): the line is
//! read as a key first; only when that fails is its first field taken as options
//! (`sshkey_advance_past_options`) and the rest read as the key. The options are then
//! parsed as `auth-options.c` `sshauthopt_parse` does, and a line whose options sshd
//! refuses is an error here, because sshd ignores that key.
//!
//! Keys are read by the same one-line parser as `.pub` files, so algorithm, bits and
//! fingerprint are what `ssh-keygen -l -E sha256` prints. No I/O here: the caller reads the
//! file (and bounds its size). Never panics, whatever the input; errors are per line.

use serde::{Serialize, Serializer};

use super::public::{options_end, typed_key};
use super::{KeyFacts, ParseError};

/// sshd keeps at most this many `environment=` options per key (`SSH_AUTHOPT_ENV_MAX`).
const ENV_MAX: usize = 1024;
/// sshd keeps at most this many `permitopen=`/`permitlisten=` options per key
/// (`SSH_AUTHOPT_PERMIT_MAX`).
const PERMIT_MAX: usize = 4096;
/// The longest host name sshd accepts in a permission (`NI_MAXHOST` - 1).
const HOST_MAX: usize = 1024;
/// The largest tunnel device number (`SSH_TUNID_MAX`).
const TUNNEL_MAX: u32 = 0x7fff_fffd;
/// How much of an option's name an error quotes.
const NAME_SHOWN: usize = 32;

/// Every entry of an `authorized_keys` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizedKeys {
    /// One entry per line that is neither blank nor a comment, in file order.
    pub lines: Vec<AuthorizedLine>,
}

impl AuthorizedKeys {
    /// Reads the text of an `authorized_keys` (or `authorized_keys2`) file.
    ///
    /// Lines end in LF or CR LF; text that is not UTF-8 is read lossily (a key line is
    /// ASCII, only a comment could be affected). Never panics.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut lines = Vec::new();
        for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let text = String::from_utf8_lossy(raw);
            // sshd skips spaces and tabs, then blank lines and `#` comments.
            let text = text.trim_start_matches([' ', '\t']);
            if text.trim().is_empty() || text.starts_with('#') {
                continue;
            }
            lines.push(AuthorizedLine {
                line: u32::try_from(index + 1).unwrap_or(u32::MAX),
                result: parse_line(text),
            });
        }
        AuthorizedKeys { lines }
    }

    /// The keys that sshd would accept, with their line numbers.
    pub fn keys(&self) -> impl Iterator<Item = (u32, &AuthorizedKey)> {
        self.lines
            .iter()
            .filter_map(|l| l.result.as_ref().ok().map(|k| (l.line, k)))
    }
}

/// One non-blank, non-comment line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizedLine {
    /// 1-based line number.
    pub line: u32,
    /// The key and its options, or why sshd would not use this line.
    #[serde(flatten, serialize_with = "serialize_result")]
    pub result: Result<AuthorizedKey, AuthorizedError>,
}

/// A key sshd would accept, with its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizedKey {
    /// The options in front of the key (empty when there are none).
    pub options: KeyOptions,
    /// The key's facts, as for a `.pub` file.
    pub key: KeyFacts,
}

/// The options of one key (sshd(8), `AUTHORIZED_KEYS FILE FORMAT`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyOptions {
    /// Every option as written, in order: names lowercased (`no-pty`, `command`), values
    /// unquoted.
    pub all: Vec<KeyOption>,
    /// `restrict`: every forwarding, the pty and `~/.ssh/rc` are off unless re-enabled.
    pub restrict: bool,
    /// `cert-authority`: the key is a CA trusted to sign user certificates.
    pub cert_authority: bool,
    /// `command="..."`: the only command this key may run.
    pub command: Option<String>,
    /// `from="..."`: the comma-separated host and address patterns the key may log in from.
    pub from: Option<Vec<String>>,
    /// `expiry-time="..."`: when the key stops being accepted (the earliest, if several).
    pub expiry_time: Option<ExpiryTime>,
}

/// One option as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyOption {
    /// The name, lowercased, with its `no-` prefix (`no-pty`, `from`, `cert-authority`).
    pub name: String,
    /// The unquoted value of a `name="value"` option.
    pub value: Option<String>,
}

/// An `expiry-time="YYYYMMDD[HHMM[SS]][Z|UTC]"` value (sshd's `parse_absolute_time`).
///
/// Without `Z` or `UTC` sshd reads it in the server's local time zone, which a pure module
/// cannot know: [`ExpiryTime::unix_seconds`] takes the offset from the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiryTime {
    /// The value as written.
    pub text: String,
    /// Year (at least 1970).
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day, 1 to 31 (as `strptime` takes it; 31 February rolls over like `mktime`).
    pub day: u8,
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 61 (`strptime` allows leap seconds).
    pub second: u8,
    /// True when the value ends in `Z` or `UTC`; otherwise it is local time.
    pub utc: bool,
}

impl ExpiryTime {
    /// The moment as seconds since the Unix epoch. `local_offset_secs` (seconds east of
    /// UTC) applies only when the value is local time. Out-of-range days, as
    /// `mktime` does, roll over into the next month.
    #[must_use]
    pub fn unix_seconds(&self, local_offset_secs: i32) -> i64 {
        let days =
            days_from_civil(i64::from(self.year), i64::from(self.month)) + i64::from(self.day) - 1;
        let seconds = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        if self.utc {
            seconds
        } else {
            seconds - i64::from(local_offset_secs)
        }
    }

    /// Parses the value of `expiry-time`, as `parse_absolute_time` in OpenSSH's `misc.c`.
    fn parse(text: &str) -> Option<Self> {
        let (digits, utc) = if let Some(d) = strip_suffix_ci(text, "utc") {
            (d, true)
        } else if let Some(d) = strip_suffix_ci(text, "z") {
            (d, true)
        } else {
            (text, false)
        };
        if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let field = |from: usize, len: usize| -> Option<u16> {
            digits.get(from..from + len).and_then(|s| s.parse().ok())
        };
        let small = |from: usize, max: u8, min: u8| -> Option<u8> {
            let value = u8::try_from(field(from, 2)?).ok()?;
            (min..=max).contains(&value).then_some(value)
        };
        let year = field(0, 4)?;
        // mktime would give a negative time_t before 1970, which sshd refuses.
        if year < 1970 {
            return None;
        }
        let long = digits.len() >= 12;
        Some(ExpiryTime {
            text: text.to_owned(),
            year,
            month: small(4, 12, 1)?,
            day: small(6, 31, 1)?,
            hour: if long { small(8, 23, 0)? } else { 0 },
            minute: if long { small(10, 59, 0)? } else { 0 },
            second: if digits.len() == 14 {
                small(12, 61, 0)?
            } else {
                0
            },
            utc,
        })
    }
}

/// Days from 1970-01-01 to the first day of `month` of `year` (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64) -> i64 {
    // Howard Hinnant's days_from_civil, for day 1.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Why sshd would not use a line of `authorized_keys`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizedError {
    /// The line names a key type but the key cannot be read.
    #[error("key: {0}")]
    Key(ParseError),
    /// Nothing on the line reads as a key, with or without options.
    #[error("no key on the line")]
    NoKey,
    /// A double quote in the options field is never closed.
    #[error("options: unbalanced quotes")]
    UnbalancedQuotes,
    /// sshd refuses the options (`sshauthopt_parse`), so it ignores the key.
    #[error("options: {reason} (at \"{option}\")")]
    BadOption {
        /// sshd's own words (`unknown key option`, `missing end quote`,
        /// `multiple "command" clauses`, `invalid expires time`, ...).
        reason: &'static str,
        /// The start of the option at fault, up to its `=` (at most 32 characters).
        option: String,
    },
}

fn serialize_result<S: Serializer>(
    result: &Result<AuthorizedKey, AuthorizedError>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Failed {
        error: String,
    }
    match result {
        Ok(key) => key.serialize(s),
        Err(error) => Failed {
            error: error.to_string(),
        }
        .serialize(s),
    }
}

/// Reads one line (leading blanks already skipped) as sshd does: as a key, else as
/// options followed by a key.
fn parse_line(line: &str) -> Result<AuthorizedKey, AuthorizedError> {
    let first = typed_key(line);
    let first_error = match first {
        Some(Ok(key)) => {
            return Ok(AuthorizedKey {
                options: KeyOptions::default(),
                key,
            })
        }
        Some(Err(error)) => Some(error),
        None => None,
    };
    let Some(end) = options_end(line) else {
        return Err(first_error.map_or(AuthorizedError::UnbalancedQuotes, AuthorizedError::Key));
    };
    let (options, rest) = line.split_at(end);
    match typed_key(rest.trim_start_matches([' ', '\t'])) {
        Some(Ok(key)) => Ok(AuthorizedKey {
            options: parse_options(options)?,
            key,
        }),
        Some(Err(error)) => Err(AuthorizedError::Key(error)),
        None => Err(first_error.map_or(AuthorizedError::NoKey, AuthorizedError::Key)),
    }
}

/// The negatable flags of `sshauthopt_parse`, in the order it tries them.
const NEGATABLE_FLAGS: &[&str] = &[
    "port-forwarding",
    "agent-forwarding",
    "x11-forwarding",
    "touch-required",
    "verify-required",
    "pty",
    "user-rc",
];

/// Parses an options field as OpenSSH 9.2 `auth-options.c` `sshauthopt_parse` does: names
/// are case-insensitive prefixes, values must be double-quoted (`\"` inside stands for
/// `"`), options are separated by single commas.
fn parse_options(text: &str) -> Result<KeyOptions, AuthorizedError> {
    let mut opts = KeyOptions::default();
    let mut env_names: Vec<String> = Vec::new();
    let mut permits = 0_usize;
    let mut principals = false;
    let mut rest = text;
    while !rest.is_empty() {
        let at = rest;
        let fail = |reason: &'static str| AuthorizedError::BadOption {
            reason,
            option: option_name(at),
        };
        if let Some(after) = strip_prefix_ci(rest, "restrict") {
            opts.restrict = true;
            opts.all.push(flag("restrict"));
            rest = after;
        } else if let Some(after) = strip_prefix_ci(rest, "cert-authority") {
            opts.cert_authority = true;
            opts.all.push(flag("cert-authority"));
            rest = after;
        } else if let Some((name, after)) = negatable_flag(rest) {
            opts.all.push(flag(&name));
            rest = after;
        } else if let Some((name, after)) = valued_option(rest) {
            let (value, after) = dequote(after).map_err(fail)?;
            match name {
                "command" => {
                    if opts.command.is_some() {
                        return Err(fail("multiple \"command\" clauses"));
                    }
                    opts.command = Some(value.clone());
                }
                "principals" => {
                    if principals {
                        return Err(fail("multiple \"principals\" clauses"));
                    }
                    principals = true;
                }
                "from" => {
                    if opts.from.is_some() {
                        return Err(fail("multiple \"from\" clauses"));
                    }
                    opts.from = Some(value.split(',').map(str::to_owned).collect());
                }
                "expiry-time" => {
                    let expiry = ExpiryTime::parse(&value).ok_or(fail("invalid expires time"))?;
                    let earlier = opts.expiry_time.as_ref().is_none_or(|old| {
                        expiry.unix_seconds(0) < old.unix_seconds(0)
                            || (expiry.unix_seconds(0) == old.unix_seconds(0) && expiry.utc)
                    });
                    if earlier {
                        opts.expiry_time = Some(expiry);
                    }
                }
                "environment" => {
                    if env_names.len() > ENV_MAX {
                        return Err(fail("too many environment strings"));
                    }
                    let name = value
                        .split_once('=')
                        .map(|(n, _)| n)
                        .filter(|n| {
                            !n.is_empty()
                                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        })
                        .ok_or(fail("invalid environment string"))?;
                    if !env_names.iter().any(|n| n == name) {
                        env_names.push(name.to_owned());
                    }
                }
                "permitopen" | "permitlisten" => {
                    if permits > PERMIT_MAX {
                        return Err(fail("too many permission directives"));
                    }
                    check_permit(&value, name == "permitlisten").map_err(fail)?;
                    permits += 1;
                }
                // "tunnel"
                _ => {
                    let valid = value.eq_ignore_ascii_case("any")
                        || (!value.is_empty()
                            && value.bytes().all(|b| b.is_ascii_digit())
                            && value.parse::<u32>().is_ok_and(|n| n <= TUNNEL_MAX));
                    if !valid {
                        return Err(fail("invalid tun device"));
                    }
                }
            }
            opts.all.push(KeyOption {
                name: name.to_owned(),
                value: Some(value),
            });
            rest = after;
        }
        // Nothing matched, or something follows a match: only a comma may.
        if rest.is_empty() {
            break;
        }
        let Some(after) = rest.strip_prefix(',') else {
            return Err(AuthorizedError::BadOption {
                reason: "unknown key option",
                option: option_name(at),
            });
        };
        if after.is_empty() {
            return Err(AuthorizedError::BadOption {
                reason: "unexpected end-of-options",
                option: option_name(at),
            });
        }
        rest = after;
    }
    Ok(opts)
}

fn flag(name: &str) -> KeyOption {
    KeyOption {
        name: name.to_owned(),
        value: None,
    }
}

/// `opt_flag` with negation allowed: `[no-]NAME` as a case-insensitive prefix.
fn negatable_flag(text: &str) -> Option<(String, &str)> {
    let (negated, body) = match strip_prefix_ci(text, "no-") {
        Some(body) => (true, body),
        None => (false, text),
    };
    NEGATABLE_FLAGS.iter().find_map(|name| {
        let after = strip_prefix_ci(body, name)?;
        let shown = if negated {
            format!("no-{name}")
        } else {
            (*name).to_owned()
        };
        Some((shown, after))
    })
}

/// `opt_match`: `NAME=` (case-insensitive) for the options that take a value.
fn valued_option(text: &str) -> Option<(&'static str, &str)> {
    [
        "command",
        "principals",
        "from",
        "expiry-time",
        "environment",
        "permitopen",
        "permitlisten",
        "tunnel",
    ]
    .into_iter()
    .find_map(|name| {
        let after = strip_prefix_ci(text, name)?.strip_prefix('=')?;
        Some((name, after))
    })
}

/// `opt_dequote`: a double-quoted value where `\"` stands for `"` (other backslashes stay).
fn dequote(text: &str) -> Result<(String, &str), &'static str> {
    let Some(body) = text.strip_prefix('"') else {
        return Err("missing start quote");
    };
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((value, body.get(at + 1..).unwrap_or_default())),
            '\\' if body.get(at + 1..).is_some_and(|r| r.starts_with('"')) => {
                value.push('"');
                chars.next();
            }
            _ => value.push(c),
        }
    }
    Err("missing end quote")
}

/// `handle_permit`: `host:port` (or `[host]:port`), port `*` or 1 to 65535; a
/// `permitlisten` may be a bare port.
fn check_permit(value: &str, listen: bool) -> Result<(), &'static str> {
    let owned;
    let value = if listen && !value.contains(':') {
        owned = format!("*:{value}");
        &owned
    } else {
        value
    };
    // hpdelim2: a bracketed host, or everything up to the first ':' or '/'.
    let (host, port) = if value.starts_with('[') {
        let close = value.find(']').ok_or("invalid permission hostname")?;
        let (host, rest) = value.split_at(close + 1);
        match rest.chars().next() {
            None => (host, None),
            Some(':' | '/') => (host, rest.get(1..)),
            Some(_) => return Err("invalid permission hostname"),
        }
    } else {
        match value.find([':', '/']) {
            Some(at) => (value.get(..at).unwrap_or_default(), value.get(at + 1..)),
            None => (value, None),
        }
    };
    if host.len() > HOST_MAX {
        return Err("invalid permission hostname");
    }
    match port {
        Some("*") => Ok(()),
        Some(port)
            if !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p > 0) =>
        {
            Ok(())
        }
        _ => Err("invalid permission port"),
    }
}

/// `text` without a case-insensitive ASCII `prefix`.
fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// `text` without a case-insensitive ASCII `suffix`, when something is left.
fn strip_suffix_ci<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len()).filter(|&c| c > 0)?;
    let tail = text.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix)
        .then(|| text.get(..cut))
        .flatten()
}

/// The name of the option starting `text`, for error messages: up to `=` or `,`, and never
/// its value (a `command` may hold secrets).
fn option_name(text: &str) -> String {
    let end = text.find(['=', ',']).unwrap_or(text.len());
    text.get(..end)
        .unwrap_or_default()
        .chars()
        .take(NAME_SHOWN)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Keys generated with OpenSSH 9.2 `ssh-keygen`; fingerprints copied from
    //! `ssh-keygen -l -E sha256 -f`.

    use super::*;
    use crate::key::{Format, Kind};

    /// `ssh-keygen -t ed25519 -C alice@laptop`:
    /// 256 SHA256:wHL+9JCDj2dnMciqZKApFwVRXpcIjPMbYTIs/JuQIaM alice@laptop (ED25519)
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB8dA28Zet38HLhFz64ZG9RZKLKGbmolVQ3vIKppgrb3 alice@laptop";
    const ED25519_FP: &str = "SHA256:wHL+9JCDj2dnMciqZKApFwVRXpcIjPMbYTIs/JuQIaM";

    /// `ssh-keygen -t rsa -b 1024 -C old-rsa`:
    /// 1024 SHA256:pPkaS6lYNb1HwH0rNxH6K8WtL3KgGN8mLI6SAci65TE old-rsa (RSA)
    const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCq1ttNzCxB2twskdrHLbSpg91eNTPRQikLOaIaqucbVW52+6ZxB3ppfKCNHNp6nqm/8Mioym2M6Cbc2oNLew1BBOyTNYEHhfQT0sqwrf0saCnZKkGnHMxj9wkirYyBk5Jeyh44wdt3jRZMFVlDxZ3tIk7TC3QyYYthRCZnvLQNvQ== old-rsa";
    const RSA_1024_FP: &str = "SHA256:pPkaS6lYNb1HwH0rNxH6K8WtL3KgGN8mLI6SAci65TE";

    /// `ssh-keygen -t ecdsa -b 256 -C ci`:
    /// 256 SHA256:Dr7D+q8JTkb/qLCdShlx+ipYIMewnLUOcsjkg+uEias ci (ECDSA)
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOI3fwvho+0ZSgP5yirGGmouuOiVgw+rJrLflNQ9FhadCX1Xu2vC9CnNvFpHwk17G38qjmrK+JdPjR1gjJB/IsM= ci";
    const ECDSA_FP: &str = "SHA256:Dr7D+q8JTkb/qLCdShlx+ipYIMewnLUOcsjkg+uEias";

    fn parse(text: &str) -> Vec<AuthorizedLine> {
        AuthorizedKeys::from_bytes(text.as_bytes()).lines
    }

    fn one(text: &str) -> Result<AuthorizedKey, AuthorizedError> {
        let lines = parse(text);
        assert_eq!(lines.len(), 1, "{text:?}");
        lines.into_iter().next().unwrap().result
    }

    fn bad_option(text: &str) -> (&'static str, String) {
        match one(text) {
            Err(AuthorizedError::BadOption { reason, option }) => (reason, option),
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn plain_keys_with_line_numbers_comments_and_blanks() {
        let text = format!(
            "# keys for alice\n\n{ED25519}\n   \n\t# indented comment\n{RSA_1024}\n{ECDSA}"
        );
        let lines = parse(&text);
        let numbers: Vec<u32> = lines.iter().map(|l| l.line).collect();
        assert_eq!(numbers, [3, 6, 7]);
        let keys: Vec<&AuthorizedKey> = lines.iter().map(|l| l.result.as_ref().unwrap()).collect();
        assert_eq!(keys[0].key.fingerprint.as_deref(), Some(ED25519_FP));
        assert_eq!(keys[0].key.algorithm.as_deref(), Some("ssh-ed25519"));
        assert_eq!(keys[0].key.bits, Some(256));
        assert_eq!(keys[0].key.comment.as_deref(), Some("alice@laptop"));
        assert_eq!(keys[0].key.kind, Kind::Public);
        assert_eq!(keys[0].key.format, Format::OpensshPublic);
        assert_eq!(keys[0].options, KeyOptions::default());
        assert_eq!(keys[1].key.fingerprint.as_deref(), Some(RSA_1024_FP));
        assert_eq!(keys[1].key.bits, Some(1024));
        assert_eq!(keys[2].key.fingerprint.as_deref(), Some(ECDSA_FP));
    }

    #[test]
    fn tricky_option_quoting() {
        let text = format!(
            r#"command="echo \"a, b\" c d",from="10.0.0.0/8,!10.1.*,*.example.com",no-pty,environment="A_B=x y" {ED25519}"#
        );
        let key = one(&text).unwrap();
        assert_eq!(key.key.fingerprint.as_deref(), Some(ED25519_FP));
        assert_eq!(key.key.comment.as_deref(), Some("alice@laptop"));
        let opts = key.options;
        assert_eq!(opts.command.as_deref(), Some(r#"echo "a, b" c d"#));
        assert_eq!(
            opts.from,
            Some(vec![
                "10.0.0.0/8".to_owned(),
                "!10.1.*".to_owned(),
                "*.example.com".to_owned()
            ])
        );
        let names: Vec<&str> = opts.all.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["command", "from", "no-pty", "environment"]);
        assert_eq!(opts.all[3].value.as_deref(), Some("A_B=x y"));
        assert!(!opts.restrict && !opts.cert_authority);

        // A backslash before anything but a quote stays.
        let key = one(&format!(r#"command="a\b\\" {ED25519}"#));
        // `\\"` is a backslash, then an escaped quote: the value runs on and never closes.
        assert_eq!(key, Err(AuthorizedError::UnbalancedQuotes));
        let key = one(&format!(r#"command="a\b" {ED25519}"#)).unwrap();
        assert_eq!(key.options.command.as_deref(), Some(r"a\b"));
        // Names are case-insensitive, and so is the `no-` prefix.
        let key = one(&format!(
            "RESTRICT,Cert-Authority,No-Agent-Forwarding,PTY {ED25519}"
        ))
        .unwrap();
        assert!(key.options.restrict && key.options.cert_authority);
        let names: Vec<&str> = key.options.all.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            ["restrict", "cert-authority", "no-agent-forwarding", "pty"]
        );
        // Tabs separate the options from the key too.
        let key = one(&format!("no-pty\t\t{ED25519}")).unwrap();
        assert_eq!(key.options.all.len(), 1);
    }

    #[test]
    fn expiry_time_forms() {
        let at = |value: &str| {
            one(&format!("expiry-time=\"{value}\" {ED25519}"))
                .unwrap()
                .options
                .expiry_time
                .unwrap()
        };
        let day = at("20300101");
        assert_eq!((day.year, day.month, day.day, day.hour), (2030, 1, 1, 0));
        assert!(!day.utc);
        // `date -u -d 2030-01-01 +%s`
        assert_eq!(day.unix_seconds(0), 1_893_456_000);
        assert_eq!(day.unix_seconds(3600), 1_893_456_000 - 3600);
        let minute = at("203001021530");
        assert_eq!((minute.day, minute.hour, minute.minute), (2, 15, 30));
        let utc = at("20300102153045Z");
        assert!(utc.utc);
        assert_eq!(utc.second, 45);
        // `date -u -d '2030-01-02 15:30:45' +%s`; the offset does not apply to UTC.
        assert_eq!(utc.unix_seconds(7200), 1_893_598_245);
        assert!(at("20300101utc").utc);
        // 31 February rolls over into March, as mktime does: `date -u -d 2030-03-03 +%s`.
        assert_eq!(at("20300231").unix_seconds(0), 1_898_726_400);
        // Several: the earliest wins.
        let key = one(&format!(
            "expiry-time=\"20310101\",expiry-time=\"20300601\",expiry-time=\"20320101\" {ED25519}"
        ))
        .unwrap();
        assert_eq!(key.options.expiry_time.unwrap().text, "20300601");
        for bad in [
            "2030010",
            "203001011",
            "20301301",
            "20300100",
            "20300132",
            "2030010125",
            "19690101",
            "2030-01-01",
            "",
            "Z",
            "20300101 ",
        ] {
            let (reason, option) = bad_option(&format!("expiry-time=\"{bad}\" {ED25519}"));
            assert_eq!(reason, "invalid expires time", "{bad:?}");
            assert_eq!(option, "expiry-time");
        }
    }

    #[test]
    fn options_sshd_refuses() {
        for (options, reason, option) in [
            ("unknown-opt", "unknown key option", "unknown-opt"),
            ("no-restrict", "unknown key option", "no-restrict"),
            ("restricted", "unknown key option", "restricted"),
            ("no-ptyx", "unknown key option", "no-ptyx"),
            ("pty=\"1\"", "unknown key option", "pty"),
            ("no-pty,", "unexpected end-of-options", "no-pty"),
            ("command=ls", "missing start quote", "command"),
            (
                "command=\"a\",command=\"b\"",
                "multiple \"command\" clauses",
                "command",
            ),
            ("from=\"a\",FROM=\"b\"", "multiple \"from\" clauses", "FROM"),
            (
                "principals=\"a\",principals=\"b\"",
                "multiple \"principals\" clauses",
                "principals",
            ),
            (
                "environment=\"NOEQUALS\"",
                "invalid environment string",
                "environment",
            ),
            (
                "environment=\"A-B=1\"",
                "invalid environment string",
                "environment",
            ),
            (
                "environment=\"=1\"",
                "invalid environment string",
                "environment",
            ),
            (
                "permitopen=\"host\"",
                "invalid permission port",
                "permitopen",
            ),
            (
                "permitopen=\"host:0\"",
                "invalid permission port",
                "permitopen",
            ),
            (
                "permitopen=\"host:65536\"",
                "invalid permission port",
                "permitopen",
            ),
            (
                "permitopen=\"[::1\"",
                "invalid permission hostname",
                "permitopen",
            ),
            ("tunnel=\"x\"", "invalid tun device", "tunnel"),
            ("command=\"x\"junk", "unknown key option", "command"),
        ] {
            let text = format!("{options} {ED25519}");
            assert_eq!(bad_option(&text), (reason, option.to_owned()), "{options}");
        }
        // The ones sshd takes.
        for options in [
            "permitopen=\"host:22\"",
            "permitopen=\"[::1]:*\"",
            "permitopen=\"*:443\"",
            "permitlisten=\"8080\"",
            "permitlisten=\"localhost:8080\"",
            "tunnel=\"0\"",
            "tunnel=\"any\"",
            "principals=\"alice,bob\"",
            "environment=\"A=1\",environment=\"A=2\"",
            "touch-required,no-touch-required,verify-required,user-rc,x11-forwarding",
            // An empty option between commas matches nothing and sshd moves on.
            "no-pty,,restrict",
            ",no-pty",
        ] {
            let text = format!("{options} {ED25519}");
            assert!(one(&text).is_ok(), "{options}");
        }
    }

    #[test]
    fn lines_that_hold_no_usable_key() {
        assert_eq!(one("garbage line here"), Err(AuthorizedError::NoKey));
        assert_eq!(one("no-pty"), Err(AuthorizedError::NoKey));
        assert_eq!(
            one(&format!("command=\"oops {ED25519}")),
            Err(AuthorizedError::UnbalancedQuotes)
        );
        // A known type with broken base64: the key's own error, with or without options.
        let broken = "ssh-ed25519 AAAA!!!! alice";
        assert!(matches!(one(broken), Err(AuthorizedError::Key(_))));
        assert!(matches!(
            one(&format!("no-pty {broken}")),
            Err(AuthorizedError::Key(_))
        ));
        // Type and blob disagree.
        let body = ED25519.split(' ').nth(1).unwrap();
        let error = one(&format!("ssh-rsa {body}")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "key: public key type: the line says ssh-rsa but the key is ssh-ed25519"
        );
        // Errors name the option at fault, never an option's value.
        let error = one(&format!("command=\"secret-token\",bogus {ED25519}")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "options: unknown key option (at \"bogus\")"
        );
        let error = one(&format!("command=\"secret-token\"junk {ED25519}")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "options: unknown key option (at \"command\")"
        );
        assert!(!error.to_string().contains("secret"));
    }

    #[test]
    fn crlf_lines() {
        let text = format!("{ED25519}\r\n\r\nno-pty {RSA_1024}\r\n# c\r\n");
        let lines = parse(&text);
        assert_eq!(lines.len(), 2);
        let first = lines[0].result.as_ref().unwrap();
        assert_eq!(first.key.comment.as_deref(), Some("alice@laptop"));
        assert_eq!(first.key.fingerprint.as_deref(), Some(ED25519_FP));
        assert_eq!(lines[1].line, 3);
        let second = lines[1].result.as_ref().unwrap();
        assert_eq!(second.key.comment.as_deref(), Some("old-rsa"));
        assert_eq!(second.options.all[0].name, "no-pty");
    }

    #[test]
    fn keys_skips_errors() {
        let text = format!("{ED25519}\nbogus\nno-pty {ECDSA}\n");
        let keys: Vec<u32> = AuthorizedKeys::from_bytes(text.as_bytes())
            .keys()
            .map(|(line, _)| line)
            .collect();
        assert_eq!(keys, [1, 3]);
    }

    #[test]
    fn garbage_never_panics() {
        // 100 KB garbage lines of several shapes, and one valid key after them.
        let mut state: u32 = 0x2545_f491;
        let mut text = String::new();
        for alphabet in [
            &b"A"[..],
            b"\"",
            b"\\\", =",
            b"ssh-rsa AAAA",
            b"ab\"c d,e=f\\",
        ] {
            for _ in 0..100 * 1024 {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let pick = usize::from(state.to_be_bytes()[1]) % alphabet.len();
                text.push(char::from(alphabet[pick]));
            }
            text.push('\n');
        }
        text.push_str(&format!("ssh-ed25519 {}", "A".repeat(100 * 1024)));
        text.push('\n');
        text.push_str(ED25519);
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"\n\xff\xfe\x00 ssh-ed25519 \xc3\n");
        let parsed = AuthorizedKeys::from_bytes(&bytes);
        assert_eq!(parsed.lines.len(), 8);
        assert!(parsed.lines[..6].iter().all(|l| l.result.is_err()));
        assert_eq!(
            parsed.lines[6]
                .result
                .as_ref()
                .unwrap()
                .key
                .fingerprint
                .as_deref(),
            Some(ED25519_FP)
        );
        for text in [
            "\"",
            "\\",
            "a,\"",
            "=\"",
            "no-",
            "command=\"",
            "expiry-time=\"\"Z",
        ] {
            let _ = AuthorizedKeys::from_bytes(text.as_bytes());
            let _ = AuthorizedKeys::from_bytes(format!("{text} {ED25519}").as_bytes());
        }
    }

    #[test]
    fn serialises_keys_and_errors() {
        let text = format!("restrict {ED25519}\nbogus\n");
        let json = serde_json::to_value(AuthorizedKeys::from_bytes(text.as_bytes())).unwrap();
        assert_eq!(json["lines"][0]["line"], 1);
        assert_eq!(json["lines"][0]["options"]["restrict"], true);
        assert_eq!(json["lines"][0]["key"]["fingerprint"], ED25519_FP);
        assert_eq!(json["lines"][1]["error"], "no key on the line");
    }
}
