//! PURE: which agent a process is (OpenSSH ssh-agent, gpg-agent, gnome-keyring, vault agents) and how long it keeps keys.
//!
//! Everything here reads text the edge `sys::agent_process` collected: a process's
//! command line, `/proc/net/unix`, `/proc/PID/stat` and `/proc/PID/status`, `gpg-agent.conf`
//! and the output of `gpgconf --list-options gpg-agent`. No I/O here: no files, no
//! processes, no environment. Every parser takes any text and never panics; what it cannot
//! read is `None`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// gpg-agent's built-in `default-cache-ttl-ssh`, in seconds (`DEFAULT_CACHE_TTL_SSH` in
/// gnupg's `agent/agent.h`; `gpgconf --list-options gpg-agent` prints it as the default
/// with GnuPG 2.2.40).
pub const GPG_AGENT_DEFAULT_CACHE_TTL_SSH: u64 = 1800;

/// gpg-agent's built-in `max-cache-ttl-ssh`, in seconds (`MAX_CACHE_TTL_SSH` in gnupg's
/// `agent/agent.h`; printed as the default by gpgconf 2.2.40).
pub const GPG_AGENT_MAX_CACHE_TTL_SSH: u64 = 7200;

/// The largest time OpenSSH's `convtime` accepts: it returns an `int`.
const CONVTIME_MAX: u64 = i32::MAX as u64;

/// Which agent serves a socket, and how long it keeps the keys added to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "agent")]
pub enum AgentKind {
    /// OpenSSH's `ssh-agent`.
    #[serde(rename = "openssh")]
    OpenSsh {
        /// The default lifetime of added keys (`ssh-agent -t`), in seconds; `None` when
        /// keys are kept until removed (no `-t`, or `-t 0`). `ssh-add -t` can still give a
        /// key its own lifetime, which the agent does not reveal.
        lifetime_secs: Option<u64>,
    },
    /// GnuPG's `gpg-agent` with ssh support.
    GpgAgent {
        /// `default-cache-ttl-ssh`: seconds a key stays usable after its last use.
        default_ttl_secs: Option<u64>,
        /// `max-cache-ttl-ssh`: seconds a key stays usable after it was added, however
        /// often it is used.
        max_ttl_secs: Option<u64>,
    },
    /// GNOME Keyring's ssh agent (`gnome-keyring-daemon` or `gcr-ssh-agent`).
    GnomeKeyring,
    /// A password manager's agent.
    Vault {
        /// The product: `1Password`, `Secretive`, `KeePassXC`, `Bitwarden`.
        name: String,
    },
    /// A process keycheck does not recognise.
    Unknown {
        /// Its executable, or its command name when the executable cannot be read.
        exe: String,
    },
}

/// What keycheck reads from an `ssh-agent` command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshAgentArgs {
    /// `-t life`, in seconds (the last one given wins, as in ssh-agent).
    pub lifetime_secs: Option<u64>,
    /// `-a bind_address`: the socket path ssh-agent was told to listen on.
    pub bind_address: Option<String>,
}

/// Reads the options of an `ssh-agent` command line as ssh-agent's `getopt` does, with
/// its option string `cDdksE:a:O:P:t:` (OpenSSH 9.2 `ssh-agent.c`).
///
/// `cmdline` is the whole command line, the program name first, as `/proc/PID/cmdline`
/// gives it. Options may be combined (`-Dt 60`, `-Dt60`) and an option's argument may be
/// attached (`-t3600`) or the next word (`-t 3600`). OpenSSH uses its own BSD `getopt`,
/// which does not reorder: the first word that is not an option, or `--`, ends the options,
/// and everything after it belongs to the command ssh-agent runs (measured with OpenSSH
/// 9.2: in `ssh-agent -a S sh -c CMD -t 5`, the `-t 5` goes to `sh`).
#[must_use]
pub fn parse_ssh_agent_command_line(cmdline: &[String]) -> SshAgentArgs {
    let mut args = SshAgentArgs::default();
    let mut words = cmdline.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--" || word == "-" || !word.starts_with('-') {
            break;
        }
        for (at, option) in word.char_indices().skip(1) {
            if !matches!(option, 'E' | 'a' | 'O' | 'P' | 't') {
                // A flag (c, D, d, k, s), or a letter ssh-agent would have refused.
                continue;
            }
            let attached = &word[at + option.len_utf8()..];
            let value = if attached.is_empty() {
                match words.next() {
                    Some(next) => next.as_str(),
                    // ssh-agent stops with a usage message: nothing more to read.
                    None => return args,
                }
            } else {
                attached
            };
            match option {
                't' => args.lifetime_secs = parse_openssh_time(value).filter(|&t| t != 0),
                'a' => args.bind_address = Some(value.to_owned()),
                _ => {}
            }
            break;
        }
    }
    args
}

/// The default key lifetime `ssh-agent -t` sets, in seconds, from its whole command line
/// (program name first); `None` without `-t`, with `-t 0` (ssh-agent then keeps keys until
/// they are removed) or with a time ssh-agent would refuse. See
/// [`parse_ssh_agent_command_line`] for how the words are read.
#[must_use]
pub fn parse_ssh_agent_args(args: &[String]) -> Option<u64> {
    parse_ssh_agent_command_line(args).lifetime_secs
}

/// Reads an OpenSSH time (`convtime` in OpenSSH 9.2 `misc.c`): a sequence of numbers,
/// each followed by an optional unit `s`, `m`, `h`, `d` or `w` in either case (a bare
/// number is seconds), summed: `90`, `10m`, `1h30m`, `1H30M`, `2d`, `1w`.
///
/// Like `convtime`, each number is read with `strtol`, so leading white space and a sign
/// are accepted (`-t ' 5'` and `-t '1h 5'` work with ssh-agent 9.2) but a negative number
/// is not; totals above `INT_MAX` and empty text are refused (`None`).
#[must_use]
pub fn parse_openssh_time(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut at = 0;
    let mut total: u64 = 0;
    while at < bytes.len() {
        while bytes.get(at).is_some_and(|&b| is_c_space(b)) {
            at += 1;
        }
        let negative = match bytes.get(at) {
            Some(b'-') => {
                at += 1;
                true
            }
            Some(b'+') => {
                at += 1;
                false
            }
            _ => false,
        };
        let digits = at;
        let mut number: u64 = 0;
        while let Some(&b) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
            number = number
                .saturating_mul(10)
                .saturating_add(u64::from(b - b'0'));
            at += 1;
        }
        if at == digits || (negative && number != 0) {
            return None;
        }
        let multiplier = match bytes.get(at) {
            None => 1,
            Some(unit) => {
                at += 1;
                match unit.to_ascii_lowercase() {
                    b's' => 1,
                    b'm' => 60,
                    b'h' => 60 * 60,
                    b'd' => 24 * 60 * 60,
                    b'w' => 7 * 24 * 60 * 60,
                    _ => return None,
                }
            }
        };
        if number > CONVTIME_MAX / multiplier {
            return None;
        }
        let seconds = number * multiplier;
        if total > CONVTIME_MAX - seconds {
            return None;
        }
        total += seconds;
    }
    Some(total)
}

/// Returns true if and only if `b` is white space to C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Reads `default-cache-ttl-ssh` and `max-cache-ttl-ssh` from the text of a
/// `gpg-agent.conf`, as `(default, max)` in seconds; `None` for one not set.
///
/// The syntax is GnuPG's option file: one `option value` per line, the option name
/// without dashes and case-sensitive, `#` starting a comment line, blank lines ignored, a
/// value optionally in double quotes, and a later line overriding an earlier one. As
/// gpgconf 2.2.40 reads it (measured): `option=value` is not an option line, a leading run
/// of digits is the value (`12abc` is 12, `0x10` is 0), and a negative value is ignored.
/// Built-in defaults are not applied here (see [`GPG_AGENT_DEFAULT_CACHE_TTL_SSH`]).
#[must_use]
pub fn parse_gpg_agent_conf(text: &str) -> (Option<u64>, Option<u64>) {
    let (mut default, mut max) = (None, None);
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find(|c: char| c.is_ascii_whitespace()) {
            Some(at) => (&line[..at], &line[at..]),
            None => (line, ""),
        };
        let slot = match name {
            "default-cache-ttl-ssh" => &mut default,
            "max-cache-ttl-ssh" => &mut max,
            _ => continue,
        };
        let value = rest.trim_start();
        let value = value.strip_prefix('"').unwrap_or(value);
        if let Some(seconds) = leading_number(value) {
            *slot = Some(seconds);
        }
    }
    (default, max)
}

/// The run of ASCII digits `text` starts with, if any (saturating at `u64::MAX`).
fn leading_number(text: &str) -> Option<u64> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    Some(text[..digits].bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Reads the effective `default-cache-ttl-ssh` and `max-cache-ttl-ssh` from the output of
/// `gpgconf --list-options gpg-agent`, as `(default, max)` in seconds.
///
/// Each option line is `name:flags:level:description:type:alt-type:argname:default:argdef:value`
/// (GnuPG manual, "Listing options"); the value field is empty when the configuration does
/// not set the option, and the default field then applies. GnuPG 2.2.40 prints, for a
/// `gpg-agent.conf` with `default-cache-ttl-ssh 600` and nothing for the maximum:
///
/// ```text
/// default-cache-ttl-ssh:24:1:expire SSH keys after N seconds:3:3:N:1800::600
/// max-cache-ttl-ssh:24:2:set maximum SSH key lifetime to N seconds:3:3:N:7200::
/// ```
#[must_use]
pub fn parse_gpgconf_list_options(text: &str) -> (Option<u64>, Option<u64>) {
    let (mut default, mut max) = (None, None);
    for line in text.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        let slot = match fields.first() {
            Some(&"default-cache-ttl-ssh") => &mut default,
            Some(&"max-cache-ttl-ssh") => &mut max,
            _ => continue,
        };
        let number = |i: usize| {
            fields
                .get(i)
                .map(|f| f.trim())
                .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|f| f.parse::<u64>().ok())
        };
        // Field 10 (value) overrides field 8 (default).
        *slot = number(9).or_else(|| number(7));
    }
    (default, max)
}

/// What keycheck reads from a `gpg-agent` command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpgAgentArgs {
    /// `--homedir DIR`: the GnuPG home the agent uses (and reads `gpg-agent.conf` from).
    pub homedir: Option<String>,
    /// `--default-cache-ttl-ssh N`, which overrides the configuration file.
    pub default_ttl_secs: Option<u64>,
    /// `--max-cache-ttl-ssh N`, which overrides the configuration file.
    pub max_ttl_secs: Option<u64>,
}

/// Reads `--homedir`, `--default-cache-ttl-ssh` and `--max-cache-ttl-ssh` from a whole
/// `gpg-agent` command line (program name first), each as `--option VALUE` or
/// `--option=VALUE`; the last one given wins, and `--` ends the options. Only the full
/// option names are recognised (GnuPG also accepts unambiguous abbreviations).
#[must_use]
pub fn parse_gpg_agent_args(cmdline: &[String]) -> GpgAgentArgs {
    let mut args = GpgAgentArgs::default();
    let mut words = cmdline.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        let Some(option) = word.strip_prefix("--") else {
            continue;
        };
        let (name, attached) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (option, None),
        };
        if !matches!(
            name,
            "homedir" | "default-cache-ttl-ssh" | "max-cache-ttl-ssh"
        ) {
            continue;
        }
        let Some(value) = attached.or_else(|| words.next().map(String::as_str)) else {
            break;
        };
        match name {
            "homedir" => args.homedir = Some(value.to_owned()),
            "default-cache-ttl-ssh" => {
                args.default_ttl_secs = leading_number(value).or(args.default_ttl_secs);
            }
            _ => args.max_ttl_secs = leading_number(value).or(args.max_ttl_secs),
        }
    }
    args
}

/// Recognises an agent from its executable, its command line and the socket it serves.
///
/// `exe` is the target of `/proc/PID/exe` when it can be read (a `" (deleted)"` suffix,
/// which Linux adds after the binary was upgraded, is ignored); the command name
/// (`cmdline[0]`) is used as well, since the executable of an agent that made itself
/// non-dumpable cannot be read. For ssh-agent the lifetime comes from the command line;
/// gpg-agent's times are left `None` here, for the edge to fill in from its
/// configuration. Vault agents are recognised by name or by their usual socket paths.
#[must_use]
pub fn recognise(exe: Option<&str>, cmdline: &[String], socket: &str) -> AgentKind {
    let names: Vec<String> = exe
        .map(|e| e.strip_suffix(" (deleted)").unwrap_or(e))
        .into_iter()
        .chain(cmdline.first().map(String::as_str))
        .map(|path| basename(path).to_ascii_lowercase())
        .collect();
    let named = |wanted: &[&str]| names.iter().any(|n| wanted.contains(&n.as_str()));
    if named(&["ssh-agent"]) {
        return AgentKind::OpenSsh {
            lifetime_secs: parse_ssh_agent_args(cmdline),
        };
    }
    if named(&["gpg-agent"]) {
        return AgentKind::GpgAgent {
            default_ttl_secs: None,
            max_ttl_secs: None,
        };
    }
    if named(&["gnome-keyring-daemon", "gcr-ssh-agent"]) {
        return AgentKind::GnomeKeyring;
    }
    if let Some(name) = vault_name(&names, socket) {
        return AgentKind::Vault {
            name: name.to_owned(),
        };
    }
    AgentKind::Unknown {
        exe: exe
            .or(cmdline.first().map(String::as_str))
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The product name of a password manager's agent, from its (lowercased) program names or
/// its socket path.
fn vault_name(names: &[String], socket: &str) -> Option<&'static str> {
    let named = |wanted: &[&str]| names.iter().any(|n| wanted.contains(&n.as_str()));
    // 1Password: ~/.1password/agent.sock on Linux, ~/Library/Group Containers/
    // 2BUA8C4S2C.com.1password/t/agent.sock on macOS; its app is 1password (Linux) or
    // 1Password (macOS); op-ssh-sign is its git signing helper.
    if named(&["1password", "op-ssh-sign"])
        || socket.ends_with("/.1password/agent.sock")
        || socket.contains(".com.1password/")
    {
        return Some("1Password");
    }
    // Secretive: ~/Library/Containers/com.maxgoedjen.Secretive.SecretAgent/Data/socket.ssh.
    if named(&["secretagent", "secretive"])
        || socket.contains("/com.maxgoedjen.Secretive.SecretAgent/")
    {
        return Some("Secretive");
    }
    if named(&["keepassxc"]) {
        return Some("KeePassXC");
    }
    // Bitwarden desktop: ~/.bitwarden-ssh-agent.sock.
    if named(&["bitwarden"]) || basename(socket) == ".bitwarden-ssh-agent.sock" {
        return Some("Bitwarden");
    }
    None
}

/// Returns true if and only if the process is a service manager that listens on sockets
/// for the services it starts (systemd, system or user instance: `gpg-agent-ssh.socket`).
/// Such a process holds an agent's socket too, but it is not the agent.
#[must_use]
pub fn is_socket_manager(exe: Option<&str>, cmdline: &[String]) -> bool {
    exe.map(|e| e.strip_suffix(" (deleted)").unwrap_or(e))
        .into_iter()
        .chain(cmdline.first().map(String::as_str))
        .any(|path| basename(path) == "systemd")
}

/// The last component of a `/`-separated path.
fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Splits the bytes of `/proc/PID/cmdline` (words ended by NUL) into words, each decoded
/// as UTF-8 with invalid bytes replaced. A process that rewrote its title may leave one
/// word with spaces in it; that word is kept whole.
#[must_use]
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|word| String::from_utf8_lossy(word).into_owned())
        .collect()
}

/// The inodes of every listening socket bound at `path` in the text of `/proc/net/unix`.
///
/// Each line is `Num RefCount Protocol Flags Type St Inode Path` (the kernel's
/// `unix_seq_show`); a listening socket has Flags `00010000` (`__SO_ACCEPTCON`) and St
/// `01`. Connections accepted from it carry the same path with St `03`, and are left out.
/// The path is the rest of the line after one space, so it may hold spaces; the path of an
/// abstract socket starts with `@` (the kernel prints its NUL bytes as `@`), so pass
/// `@name` to look one up. The kernel prints the path as given to `bind`: a socket bound by
/// a relative path is listed under that relative path. Usually there is one inode; there
/// are more when an agent's socket file was replaced while it kept listening.
#[must_use]
pub fn listening_inodes(text: &str, path: &std::path::Path) -> Vec<u64> {
    let wanted = path.to_string_lossy();
    let mut inodes = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        let mut fields = [""; 7];
        let mut complete = true;
        for field in &mut fields {
            rest = rest.trim_start_matches(' ');
            let end = rest.find(' ').unwrap_or(rest.len());
            if end == 0 {
                complete = false;
                break;
            }
            *field = &rest[..end];
            rest = &rest[end..];
        }
        let [_, _, _, flags, _, state, inode] = fields;
        if !complete || flags != "00010000" || state != "01" {
            continue;
        }
        if rest.strip_prefix(' ') != Some(wanted.as_ref()) {
            continue;
        }
        if let Ok(inode) = inode.parse::<u64>() {
            inodes.push(inode);
        }
    }
    inodes
}

/// The inode of the one listening socket bound at `path` in the text of `/proc/net/unix`
/// (see [`listening_inodes`] for the format); `None` when there is none, or more than one
/// (a stale listener whose socket file was replaced makes the name ambiguous).
#[must_use]
pub fn parse_proc_net_unix(text: &str, path: &std::path::Path) -> Option<u64> {
    match listening_inodes(text, path).as_slice() {
        [inode] => Some(*inode),
        _ => None,
    }
}

/// What keycheck reads from `/proc/PID/stat` (proc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3, the state: `R`, `S`, `D`, `Z` (zombie), `T`, ...
    pub state: char,
    /// Field 4, the parent's process id.
    pub ppid: u32,
    /// Field 22, the time the process started after boot, in clock ticks.
    pub start_time: u64,
}

impl ProcStat {
    /// Reads the text of `/proc/PID/stat`. Field 2, `(comm)`, is the command name in
    /// parentheses and may itself hold spaces and parentheses, so the fields after it are
    /// counted from the last `)`.
    #[must_use]
    pub fn parse(stat: &str) -> Option<ProcStat> {
        let (_, after) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = after.split_ascii_whitespace().collect();
        // fields[0] is field 3.
        let state = fields.first()?;
        let mut chars = state.chars();
        let state = chars.next().filter(|_| chars.next().is_none())?;
        Some(ProcStat {
            state,
            ppid: fields.get(1)?.parse().ok()?,
            start_time: fields.get(19)?.parse().ok()?,
        })
    }
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
/// With the process id it names one process instance: a restarted agent gets another.
#[must_use]
pub fn parse_proc_stat_start_time(stat: &str) -> Option<u64> {
    ProcStat::parse(stat).map(|s| s.start_time)
}

/// What keycheck reads from `/proc/PID/status` (proc(5)); a field not found is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcStatus {
    /// The effective user id (the second number of `Uid:`).
    pub euid: Option<u32>,
    /// `voluntary_ctxt_switches`: how many times the process went to sleep waiting.
    pub voluntary_ctxt_switches: Option<u64>,
}

impl ProcStatus {
    /// Reads the text of `/proc/PID/status`.
    #[must_use]
    pub fn parse(status: &str) -> ProcStatus {
        let mut out = ProcStatus::default();
        for line in status.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            match key {
                "Uid" => {
                    out.euid = value
                        .split_ascii_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse().ok());
                }
                "voluntary_ctxt_switches" => {
                    out.voluntary_ctxt_switches = value.trim().parse().ok()
                }
                _ => {}
            }
        }
        out
    }
}

/// The time since boot from the text of `/proc/uptime` (`"123.45 678.90"`: its first
/// number, in seconds), in hundredths of a second.
#[must_use]
pub fn parse_proc_uptime_centis(text: &str) -> Option<u64> {
    let first = text.split_ascii_whitespace().next()?;
    let (whole, fraction) = first.split_once('.').unwrap_or((first, "0"));
    let whole: u64 = whole.parse().ok()?;
    let fraction = fraction.get(..2).unwrap_or(fraction);
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let centis: u64 = fraction.parse().ok()?;
    let centis = if fraction.len() == 1 {
        centis * 10
    } else {
        centis
    };
    whole.checked_mul(100)?.checked_add(centis)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;

    fn words(line: &[&str]) -> Vec<String> {
        line.iter().map(|w| (*w).to_owned()).collect()
    }

    // ---- OpenSSH times and ssh-agent command lines ------------------------------------

    #[test]
    fn openssh_time_as_convtime_reads_it() {
        // The accepted ones were all accepted by `ssh-agent -t` 9.2 on this machine.
        for (text, seconds) in [
            ("90", 90),
            ("0", 0),
            ("10m", 600),
            ("1h", 3600),
            ("1h30m", 5400),
            ("1H30M", 5400),
            ("2d", 172_800),
            ("1w", 604_800),
            ("1W2D3h4M5S", 604_800 + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5),
            ("5m3", 303),
            (" 5", 5),
            ("+5", 5),
            ("1h 5", 3605),
            ("-0", 0),
            ("2147483647", 2_147_483_647),
        ] {
            assert_eq!(parse_openssh_time(text), Some(seconds), "{text:?}");
        }
        for text in [
            "",
            " ",
            "+",
            "-5",
            "h",
            "5x",
            "1h-1m",
            "2147483648",
            "3551w",
            "99999999999999999999999999",
            "1.5h",
            "5 ",
            "٣",
        ] {
            assert_eq!(parse_openssh_time(text), None, "{text:?}");
        }
    }

    #[test]
    fn ssh_agent_lifetime_from_captured_command_lines() {
        // /proc/PID/cmdline of agents started on this machine (OpenSSH 9.2p1).
        for (cmdline, lifetime) in [
            (
                &["ssh-agent", "-t", "1h", "-a", "/tmp/apx/d.sock", "-s"][..],
                Some(3600),
            ),
            (&["ssh-agent", "-D", "-a", "/tmp/apx/fg sock"][..], None),
            (
                &["ssh-agent", "-Dt", "60", "-a", "/tmp/apx/c.sock"][..],
                Some(60),
            ),
            (
                &["ssh-agent", "-t", "1H30m", "-a", "/tmp/apx/e.sock", "-s"][..],
                Some(5400),
            ),
            (&["/usr/bin/ssh-agent", "-t3600"][..], Some(3600)),
            (&["ssh-agent", "-Dt90"][..], Some(90)),
            (&["ssh-agent", "-t", "0"][..], None),
            (&["ssh-agent", "-t", "60", "-t", "90"][..], Some(90)),
            (&["ssh-agent", "-t", "60", "-t", "bad"][..], None),
            // What follows the command belongs to it (measured: `sh` got the `-t 5`).
            (
                &[
                    "ssh-agent",
                    "-a",
                    "/tmp/apx/f.sock",
                    "sh",
                    "-c",
                    "echo",
                    "-t",
                    "5",
                ][..],
                None,
            ),
            (&["ssh-agent", "--", "sleep", "-t", "5"][..], None),
            (&["ssh-agent", "-", "-t", "5"][..], None),
            (&["ssh-agent", "-a", "-t", "-t", "5"][..], Some(5)),
            (&["ssh-agent", "-t"][..], None),
            (&["ssh-agent"][..], None),
            (&[][..], None),
            (&["ssh-agent", "-Xt", "7"][..], Some(7)),
            (&["ssh-agent", "-é", "-t", "8"][..], Some(8)),
        ] {
            assert_eq!(
                parse_ssh_agent_args(&words(cmdline)),
                lifetime,
                "{cmdline:?}"
            );
        }
    }

    #[test]
    fn ssh_agent_bind_address() {
        let args =
            parse_ssh_agent_command_line(&words(&["ssh-agent", "-D", "-a", "/tmp/apx/fg sock"]));
        assert_eq!(args.bind_address.as_deref(), Some("/tmp/apx/fg sock"));
        let args = parse_ssh_agent_command_line(&words(&["ssh-agent", "-sa/run/a.sock"]));
        assert_eq!(args.bind_address.as_deref(), Some("/run/a.sock"));
        let args = parse_ssh_agent_command_line(&words(&["ssh-agent", "bash", "-a", "x"]));
        assert_eq!(args, SshAgentArgs::default());
        // -E takes an argument: "-a" here is the hash name, not an option.
        let args = parse_ssh_agent_command_line(&words(&["ssh-agent", "-E", "-a", "-t", "9"]));
        assert_eq!(args.bind_address, None);
        assert_eq!(args.lifetime_secs, Some(9));
    }

    // ---- gpg-agent ----------------------------------------------------------------------

    /// `gpgconf --homedir EMPTY --list-options gpg-agent`, GnuPG 2.2.40 (Debian 12), with
    /// no gpg-agent.conf: the defaults only.
    const GPGCONF_DEFAULTS: &str = "\
Monitor:1:0:Options controlling the diagnostic output:0:0::::
verbose:12:0:verbose:0:0::::
debug-level:24:1::1:1::\"none::
log-file:8:1:write server mode logs to FILE:32:1:FILE:::
Configuration:1:0:Options controlling the configuration:0:0::::
disable-scdaemon:8:1:do not use the SCdaemon:0:0::::
enable-ssh-support:0:0:enable ssh support:0:0::::
ssh-fingerprint-digest:24:2:use ALGO to show ssh fingerprints:1:1:ALGO:\"md5::
enable-putty-support:0:0::0:0::::
enable-extended-key-format:8:3::0:0::::
faked-system-time:0:3::1:1::::
Security:1:0:Options controlling the security:0:0::::
default-cache-ttl:24:0:expire cached PINs after N seconds:3:3:N:600::
default-cache-ttl-ssh:24:1:expire SSH keys after N seconds:3:3:N:1800::
max-cache-ttl:24:2:set maximum PIN cache lifetime to N seconds:3:3:N:7200::
max-cache-ttl-ssh:24:2:set maximum SSH key lifetime to N seconds:3:3:N:7200::
ignore-cache-for-signing:8:0:do not use the PIN cache when signing:0:0::::
no-allow-external-cache:8:0:disallow the use of an external password cache:0:0::::
no-allow-mark-trusted:8:1:disallow clients to mark keys as \"trusted\":0:0::::
Passphrase policy:1:1:Options enforcing a passphrase policy:0:0::::
enforce-passphrase-constraints:8:2:do not allow bypassing the passphrase policy:0:0::::
min-passphrase-len:24:1:set minimal required length for new passphrases to N:3:3:N:8::
min-passphrase-nonalpha:24:2:require at least N non-alpha characters for a new passphrase:3:3:N:1::
check-passphrase-pattern:8:2:check new passphrases against pattern in FILE:32:1:FILE:::
check-sym-passphrase-pattern:8:2::32:1::::
max-passphrase-days:24:2:expire the passphrase after N days:3:3:N:0::
enable-passphrase-history:8:2:do not allow the reuse of old passphrases:0:0::::
Pinentry:1:1:Options controlling the PIN-Entry:0:0::::
no-allow-loopback-pinentry:8:2:disallow caller to override the pinentry:0:0::::
grab:8:2:let PIN-Entry grab keyboard and mouse:0:0::::
pinentry-timeout:8:1:set the Pinentry timeout to N seconds:3:3:N:::
allow-emacs-pinentry:8:1:allow passphrase to be prompted through Emacs:0:0::::
";

    /// The TTL lines of the same, with a gpg-agent.conf of `default-cache-ttl-ssh 600` and
    /// `max-cache-ttl-ssh 14400`.
    const GPGCONF_SET: &str = "\
default-cache-ttl:24:0:expire cached PINs after N seconds:3:3:N:600::
default-cache-ttl-ssh:24:1:expire SSH keys after N seconds:3:3:N:1800::600
max-cache-ttl:24:2:set maximum PIN cache lifetime to N seconds:3:3:N:7200::
max-cache-ttl-ssh:24:2:set maximum SSH key lifetime to N seconds:3:3:N:7200::14400
";

    #[test]
    fn gpgconf_defaults_and_values() {
        assert_eq!(
            parse_gpgconf_list_options(GPGCONF_DEFAULTS),
            (
                Some(GPG_AGENT_DEFAULT_CACHE_TTL_SSH),
                Some(GPG_AGENT_MAX_CACHE_TTL_SSH)
            )
        );
        assert_eq!(
            parse_gpgconf_list_options(GPGCONF_SET),
            (Some(600), Some(14400))
        );
        // A future version may append fields; the value stays field 10.
        assert_eq!(
            parse_gpgconf_list_options("max-cache-ttl-ssh:24:2:d:3:3:N:7200::60:extra:"),
            (None, Some(60))
        );
    }

    #[test]
    fn gpgconf_garbage() {
        for text in [
            "",
            "default-cache-ttl-ssh",
            "default-cache-ttl-ssh:::::::::",
            "default-cache-ttl-ssh:24:1:d:3:3:N:x::y",
            "default-cache-ttl-ssh:24:1:d:3:3:N:-5::",
            "default-cache-ttl-ssh:24:1:d:3:3:N:99999999999999999999999::",
            "\u{0}:\u{ffff}:::",
        ] {
            assert_eq!(parse_gpgconf_list_options(text), (None, None), "{text:?}");
        }
    }

    #[test]
    fn gpg_agent_conf_as_gpgconf_reads_it() {
        let conf = "# comment\ndefault-cache-ttl-ssh 600\nmax-cache-ttl-ssh 14400\n";
        assert_eq!(parse_gpg_agent_conf(conf), (Some(600), Some(14400)));
        // Each as gpgconf 2.2.40 showed the value of the file.
        for (text, value) in [
            ("default-cache-ttl-ssh=700", None),
            ("  default-cache-ttl-ssh   700  # trailing", Some(700)),
            (
                "default-cache-ttl-ssh 700\ndefault-cache-ttl-ssh 900",
                Some(900),
            ),
            ("DEFAULT-CACHE-TTL-SSH 700", None),
            ("default-cache-ttl-ssh \"700\"", Some(700)),
            ("default-cache-ttl-ssh 0x10", Some(0)),
            ("default-cache-ttl-ssh 12abc", Some(12)),
            ("default-cache-ttl-ssh\t701", Some(701)),
            ("default-cache-ttl-ssh -5", None),
            ("default-cache-ttl-ssh 99999999999", Some(99_999_999_999)),
            ("--default-cache-ttl-ssh 702", None),
            ("# default-cache-ttl-ssh 703", None),
            ("default-cache-ttl-ssh", None),
            (
                "default-cache-ttl-ssh 704\ndefault-cache-ttl-ssh bad",
                Some(704),
            ),
        ] {
            assert_eq!(parse_gpg_agent_conf(text).0, value, "{text:?}");
        }
        assert_eq!(parse_gpg_agent_conf("\u{feff}\0\n#\n\"\n"), (None, None));
    }

    #[test]
    fn gpg_agent_command_line() {
        // /proc/PID/cmdline of the gpg-agent started on this machine.
        let args = parse_gpg_agent_args(&words(&[
            "gpg-agent",
            "--daemon",
            "--enable-ssh-support",
            "--homedir",
            "/tmp/apx/g1",
        ]));
        assert_eq!(args.homedir.as_deref(), Some("/tmp/apx/g1"));
        assert_eq!((args.default_ttl_secs, args.max_ttl_secs), (None, None));
        let args = parse_gpg_agent_args(&words(&[
            "/usr/bin/gpg-agent",
            "--supervised",
            "--homedir=/h",
            "--default-cache-ttl-ssh",
            "60",
            "--max-cache-ttl-ssh=120",
            "--",
            "--max-cache-ttl-ssh=5",
        ]));
        assert_eq!(
            args,
            GpgAgentArgs {
                homedir: Some("/h".to_owned()),
                default_ttl_secs: Some(60),
                max_ttl_secs: Some(120),
            }
        );
        assert_eq!(
            parse_gpg_agent_args(&words(&["gpg-agent", "--homedir"])),
            GpgAgentArgs::default()
        );
    }

    // ---- recognition --------------------------------------------------------------------

    #[test]
    fn recognises_agents_by_name() {
        let ssh = recognise(
            Some("/usr/bin/ssh-agent"),
            &words(&["ssh-agent", "-t", "1h", "-a", "/tmp/apx/d.sock", "-s"]),
            "/tmp/apx/d.sock",
        );
        assert_eq!(
            ssh,
            AgentKind::OpenSsh {
                lifetime_secs: Some(3600)
            }
        );
        // Non-dumpable agents: /proc/PID/exe cannot be read, the command name is enough.
        assert_eq!(
            recognise(
                None,
                &words(&["ssh-agent", "-D"]),
                "/run/user/1000/openssh_agent"
            ),
            AgentKind::OpenSsh {
                lifetime_secs: None
            }
        );
        assert_eq!(
            recognise(
                Some("/usr/bin/ssh-agent (deleted)"),
                &words(&["/usr/bin/ssh-agent", "-Dt10m"]),
                "s"
            ),
            AgentKind::OpenSsh {
                lifetime_secs: Some(600)
            }
        );
        let gpg = AgentKind::GpgAgent {
            default_ttl_secs: None,
            max_ttl_secs: None,
        };
        assert_eq!(
            recognise(
                Some("/usr/bin/gpg-agent"),
                &words(&["gpg-agent", "--daemon", "--enable-ssh-support"]),
                "/tmp/apx/g1/S.gpg-agent.ssh"
            ),
            gpg
        );
        assert_eq!(
            recognise(None, &words(&["/usr/bin/gpg-agent", "--supervised"]), "x"),
            gpg
        );
        for name in [
            "/usr/bin/gnome-keyring-daemon",
            "/usr/libexec/gcr-ssh-agent",
        ] {
            assert_eq!(
                recognise(Some(name), &words(&[name, "--foreground"]), "x"),
                AgentKind::GnomeKeyring
            );
        }
    }

    #[test]
    fn recognises_vaults() {
        let vault = |name: &str| AgentKind::Vault {
            name: name.to_owned(),
        };
        for (exe, cmdline, socket, expected) in [
            (
                Some("/opt/1Password/1password"),
                "/opt/1Password/1password",
                "/x",
                "1Password",
            ),
            (
                None,
                "electron",
                "/home/u/.1password/agent.sock",
                "1Password",
            ),
            (
                None,
                "x",
                "/Users/u/Library/Group Containers/2BUA8C4S2C.com.1password/t/agent.sock",
                "1Password",
            ),
            (
                Some("/Applications/1Password.app/Contents/MacOS/1Password"),
                "1Password",
                "/x",
                "1Password",
            ),
            (
                None,
                "x",
                "/Users/u/Library/Containers/com.maxgoedjen.Secretive.SecretAgent/Data/socket.ssh",
                "Secretive",
            ),
            (Some("/usr/bin/keepassxc"), "keepassxc", "/x", "KeePassXC"),
            (
                Some("/opt/Bitwarden/bitwarden"),
                "bitwarden",
                "/x",
                "Bitwarden",
            ),
            (None, "x", "/home/u/.bitwarden-ssh-agent.sock", "Bitwarden"),
        ] {
            assert_eq!(
                recognise(exe, &words(&[cmdline]), socket),
                vault(expected),
                "{exe:?} {cmdline} {socket}"
            );
        }
    }

    #[test]
    fn unknown_agents_keep_their_name() {
        assert_eq!(
            recognise(
                Some("/usr/bin/python3"),
                &words(&["python3", "agent.py"]),
                "/s"
            ),
            AgentKind::Unknown {
                exe: "/usr/bin/python3".to_owned()
            }
        );
        assert_eq!(
            recognise(None, &words(&["my-agent"]), "/s"),
            AgentKind::Unknown {
                exe: "my-agent".to_owned()
            }
        );
        assert_eq!(
            recognise(None, &[], ""),
            AgentKind::Unknown { exe: String::new() }
        );
        // A name merely containing "ssh-agent" is not ssh-agent.
        assert!(matches!(
            recognise(None, &words(&["not-ssh-agent"]), "/s"),
            AgentKind::Unknown { .. }
        ));
    }

    #[test]
    fn socket_managers() {
        assert!(is_socket_manager(
            Some("/usr/lib/systemd/systemd"),
            &words(&["/lib/systemd/systemd", "--user"])
        ));
        assert!(is_socket_manager(None, &words(&["/sbin/systemd"])));
        assert!(!is_socket_manager(
            Some("/usr/bin/gpg-agent"),
            &words(&["gpg-agent", "--supervised"])
        ));
    }

    #[test]
    fn agent_kind_json() {
        let json = serde_json::to_string(&AgentKind::OpenSsh {
            lifetime_secs: Some(3600),
        })
        .unwrap();
        assert_eq!(json, r#"{"agent":"openssh","lifetime_secs":3600}"#);
        let json = serde_json::to_string(&AgentKind::GpgAgent {
            default_ttl_secs: Some(600),
            max_ttl_secs: None,
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"agent":"gpg-agent","default_ttl_secs":600,"max_ttl_secs":null}"#
        );
        let json = serde_json::to_string(&AgentKind::GnomeKeyring).unwrap();
        assert_eq!(json, r#"{"agent":"gnome-keyring"}"#);
    }

    // ---- /proc --------------------------------------------------------------------------

    #[test]
    fn cmdline_words() {
        assert_eq!(
            parse_cmdline(b"ssh-agent\0-t\x001h\0-a\0/tmp/apx/d.sock\0-s\0"),
            words(&["ssh-agent", "-t", "1h", "-a", "/tmp/apx/d.sock", "-s"])
        );
        assert_eq!(
            parse_cmdline(b"ssh-agent\0-a\0/tmp/a b\0"),
            words(&["ssh-agent", "-a", "/tmp/a b"])
        );
        assert_eq!(
            parse_cmdline(b"sshd: user@pts/0"),
            words(&["sshd: user@pts/0"])
        );
        assert_eq!(parse_cmdline(b""), Vec::<String>::new());
        assert_eq!(parse_cmdline(b"\0"), Vec::<String>::new());
        assert_eq!(parse_cmdline(b"\xff\0x\0"), words(&["\u{fffd}", "x"]));
    }

    /// `/proc/net/unix` on this machine (Linux 6.18) with the test agents running, a
    /// Python client connected to `/tmp/apx/fg sock` (its accepted end is the St 03 line
    /// with that path), a bound datagram socket and a listening abstract socket.
    const PROC_NET_UNIX: &str = "\
Num       RefCount Protocol Flags    Type St Inode Path
00000000ab2ffa80: 00000002 00000000 00010000 0001 01 415332 /tmp/apx/h.sock
000000006ad47385: 00000002 00000000 00010000 0001 01 415711 /tmp/apx/g1/S.gpg-agent
00000000b05e8db8: 00000002 00000000 00010000 0001 01 415712 /tmp/apx/g1/S.gpg-agent.extra
0000000023f1a6c6: 00000002 00000000 00010000 0001 01 415713 /tmp/apx/g1/S.gpg-agent.browser
00000000524f37ca: 00000002 00000000 00010000 0001 01 415714 /tmp/apx/g1/S.gpg-agent.ssh
000000005adfc1ec: 00000003 00000000 00000000 0001 03 423959
000000006a34f75d: 00000003 00000000 00000000 0001 03  1584
000000007061e6e2: 00000002 00000000 00010000 0001 01 415170 /tmp/apx/fg sock
000000003ae2060a: 00000002 00000000 00010000 0001 01 414601 /tmp/apx/d.sock
00000000ac96eaaa: 00000003 00000000 00000000 0001 03 423960 /tmp/apx/fg sock
0000000045b9f5fb: 00000003 00000000 00000000 0001 03  1583
00000000188faa58: 00000002 00000000 00000000 0002 01 423958 /tmp/apx/dgram.sock
000000001cc1cb96: 00000002 00000000 00010000 0001 01 423957 @keycheck abstract
";

    #[test]
    fn proc_net_unix_listening_socket_by_path() {
        let at = |p: &str| parse_proc_net_unix(PROC_NET_UNIX, Path::new(p));
        assert_eq!(at("/tmp/apx/d.sock"), Some(414_601));
        assert_eq!(at("/tmp/apx/fg sock"), Some(415_170));
        assert_eq!(at("/tmp/apx/g1/S.gpg-agent.ssh"), Some(415_714));
        assert_eq!(at("/tmp/apx/g1/S.gpg-agent"), Some(415_711));
        assert_eq!(at("@keycheck abstract"), Some(423_957));
        // Bound but not listening (datagram), missing, prefix, header.
        assert_eq!(at("/tmp/apx/dgram.sock"), None);
        assert_eq!(at("/tmp/apx/none.sock"), None);
        assert_eq!(at("/tmp/apx/fg"), None);
        assert_eq!(at("/tmp/apx/fg sock "), None);
        assert_eq!(at("Path"), None);
        assert_eq!(at(""), None);
    }

    #[test]
    fn proc_net_unix_stale_listener_is_ambiguous() {
        let text = format!(
            "{PROC_NET_UNIX}00000000deadbeef: 00000002 00000000 00010000 0001 01 99 /tmp/apx/d.sock\n"
        );
        let path = Path::new("/tmp/apx/d.sock");
        assert_eq!(listening_inodes(&text, path), vec![414_601, 99]);
        assert_eq!(parse_proc_net_unix(&text, path), None);
    }

    #[test]
    fn proc_net_unix_garbage() {
        for text in [
            "",
            "\n\n",
            "Num       RefCount Protocol Flags    Type St Inode Path",
            "x: 1 2 00010000 0001 01",
            "x: 1 2 00010000 0001 01 notanumber /s",
            "x: 1 2 00010000 0001 01 99999999999999999999999 /s",
            "x: 1 2 00010000 0001 01 5/s",
            "\u{0} \u{ffff} 00010000 0001 01 5 \u{0}",
        ] {
            assert_eq!(parse_proc_net_unix(text, Path::new("/s")), None, "{text:?}");
        }
        assert_eq!(
            parse_proc_net_unix("x: 1 2 00010000 0001 01 5 /s", Path::new("/s")),
            Some(5)
        );
    }

    /// `/proc/PID/stat` of the daemonized `ssh-agent -t 1h -a /tmp/apx/d.sock`.
    const STAT_SSH_AGENT: &str = "3892 (ssh-agent) S 1 3892 3892 0 -1 4194368 35 0 0 0 0 0 0 0 20 0 1 0 601551 7897088 481 18446744073709551615 94543951360000 94543951630861 140733644437760 0 0 0 0 4098 16385 1 0 0 17 0 0 0 0 0 0 94543951812048 94543951818832 94544036786176 140733644442112 140733644442150 140733644442150 140733644443621 0\n";

    /// `/proc/PID/stat` of `sleep` copied to `/tmp/apx/x) y (z` and run from there.
    const STAT_PARENS: &str = "10680 (x) y (z) S 10677 10677 3020 0 -1 4194304 134 0 0 0 0 0 0 0 20 0 1 0 625835 2990080 418 18446744073709551615 94176986402816 94176986420745 140733674936640 0 0 0 0 6 0 1 0 0 17 0 0 0 0 0 0 94176986434832 94176986436096 94177622126592 140733674940943 140733674940963 140733674940963 140733674942439 0\n";

    #[test]
    fn proc_stat_start_time() {
        assert_eq!(parse_proc_stat_start_time(STAT_SSH_AGENT), Some(601_551));
        assert_eq!(
            ProcStat::parse(STAT_SSH_AGENT),
            Some(ProcStat {
                state: 'S',
                ppid: 1,
                start_time: 601_551
            })
        );
        assert_eq!(parse_proc_stat_start_time(STAT_PARENS), Some(625_835));
        assert_eq!(ProcStat::parse(STAT_PARENS).unwrap().ppid, 10677);
        // A zombie keeps its fields.
        let zombie = STAT_SSH_AGENT.replacen(") S ", ") Z ", 1);
        assert_eq!(ProcStat::parse(&zombie).unwrap().state, 'Z');
    }

    #[test]
    fn proc_stat_garbage() {
        for text in [
            "",
            ")",
            "1 (x)",
            "1 (x) S 1 2 3",
            "1 x S 1 1 1 0 -1 4194368 35 0 0 0 0 0 0 0 20 0 1 0 601551",
            "1 (x) SS 1 1 1 0 -1 4194368 35 0 0 0 0 0 0 0 20 0 1 0 601551",
            "1 (x) S 1 1 1 0 -1 4194368 35 0 0 0 0 0 0 0 20 0 1 0 -5",
            "1 (x) S 1 1 1 0 -1 4194368 35 0 0 0 0 0 0 0 20 0 1 0 99999999999999999999999",
            "(((((",
            "\u{0})\u{ffff}",
        ] {
            assert_eq!(parse_proc_stat_start_time(text), None, "{text:?}");
        }
    }

    /// The lines keycheck reads of `/proc/PID/status` of an ssh-agent run by `nobody`.
    const STATUS: &str = "Name:\tssh-agent\nUmask:\t0077\nState:\tS (sleeping)\nTgid:\t5575\nPid:\t5575\nPPid:\t1\nUid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\nvoluntary_ctxt_switches:\t3\nnonvoluntary_ctxt_switches:\t0\n";

    #[test]
    fn proc_status() {
        assert_eq!(
            ProcStatus::parse(STATUS),
            ProcStatus {
                euid: Some(65534),
                voluntary_ctxt_switches: Some(3)
            }
        );
        assert_eq!(
            ProcStatus::parse("Uid:\t1000\t0\t0\t0\n").euid,
            Some(0),
            "the effective uid is the second"
        );
        for text in [
            "",
            "Uid:",
            "Uid:\tx\ty",
            "voluntary_ctxt_switches:\t-1",
            "\u{0}:",
        ] {
            assert_eq!(ProcStatus::parse(text).voluntary_ctxt_switches, None);
            assert_eq!(ProcStatus::parse(text).euid, None);
        }
    }

    #[test]
    fn proc_uptime() {
        assert_eq!(
            parse_proc_uptime_centis("6265.83 12207.01\n"),
            Some(626_583)
        );
        assert_eq!(parse_proc_uptime_centis("12.5 1.0"), Some(1250));
        assert_eq!(parse_proc_uptime_centis("12 1.0"), Some(1200));
        for text in ["", "x", "1.x", "-1.00", "1.", "99999999999999999999.00"] {
            assert_eq!(parse_proc_uptime_centis(text), None, "{text:?}");
        }
    }
}
