//! EDGE: who and what this machine is, for reports: a stable host id, the host name, the
//! operating system, and the user running keycheck.
//!
//! The host id is HMAC-SHA256, keyed with [`HOST_ID_KEY`], over the machine's own id:
//! `/etc/machine-id` (systemd), else `/var/lib/dbus/machine-id` (D-Bus), else on macOS
//! the `IOPlatformUUID` that `ioreg -rd1 -c IOPlatformExpertDevice` prints. The raw
//! machine id never leaves this module: it is meant to stay on the machine
//! (machine-id(5) asks applications to hash it with an application-specific key, as here),
//! and the keyed hash cannot be matched against the ids other tools report. Where no
//! machine id exists (a minimal container, a BSD), a random secret is generated once and
//! kept in keycheck's state directory (`host-id`), and the report says so.
//!
//! A machine cloned from an image without regenerating its machine id shares its id with
//! the image, as it does for systemd and D-Bus.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::report::export::{Host, IdSource, User};
use crate::sys::state;

/// The HMAC key that makes keycheck's host id its own: the same machine id gives an
/// unrelated value under any other key.
pub const HOST_ID_KEY: &[u8] = b"keycheck host id v1";

/// The state file holding the generated secret of a machine without a machine id.
pub const GENERATED_ID_FILE: &str = "host-id";

/// The machine id files, in the order they are tried, with what each is.
pub const MACHINE_ID_FILES: [(&str, IdSource); 2] = [
    ("/etc/machine-id", IdSource::MachineId),
    ("/var/lib/dbus/machine-id", IdSource::DbusMachineId),
];

/// The files os-release(5) names, in the order they are tried.
const OS_RELEASE_FILES: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// The host could not be identified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// No machine id exists and keycheck has no state directory to keep one in.
    #[error(
        "this machine has no machine id (/etc/machine-id) and keycheck has no state directory to keep a generated one; set KEYCHECK_STATE_DIR"
    )]
    NoStateDir,
    /// No machine id exists and the generated one cannot be kept.
    #[error("this machine has no machine id (/etc/machine-id) and the generated host id cannot be kept: {0}")]
    State(#[from] state::StateError),
}

/// The machine: its stable id, name and operating system. `state_dir` keeps the
/// generated secret of a machine without a machine id.
///
/// # Errors
/// [`HostError`] when no machine id exists and the generated one cannot be kept (an id
/// that changed from one report to the next would split the host in two in the fleet).
pub fn host(state_dir: Option<&Path>) -> Result<Host, HostError> {
    let files: Vec<(PathBuf, IdSource)> = MACHINE_ID_FILES
        .iter()
        .map(|(path, source)| (PathBuf::from(path), *source))
        .collect();
    let (id, id_source) = host_id(&files, state_dir)?;
    let uname = rustix::system::uname();
    let os = OS_RELEASE_FILES
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| pretty_name(&text))
        .unwrap_or_else(|| {
            format!(
                "{} {}",
                uname.sysname().to_string_lossy(),
                uname.release().to_string_lossy()
            )
        });
    Ok(Host {
        id,
        id_source,
        hostname: uname.nodename().to_string_lossy().into_owned(),
        os,
    })
}

/// The host id and where it came from: the first of `files` that holds a valid machine
/// id, else (macOS) the platform UUID, else the secret generated in `state_dir`.
///
/// # Errors
/// [`HostError`] when it comes to generating and `state_dir` cannot keep the secret.
pub fn host_id(
    files: &[(PathBuf, IdSource)],
    state_dir: Option<&Path>,
) -> Result<(String, IdSource), HostError> {
    for (path, source) in files {
        if let Some(id) = read_small(path).and_then(|text| machine_id(&text)) {
            return Ok((derive_id(id.as_bytes()), *source));
        }
    }
    if let Some(uuid) = platform_uuid() {
        return Ok((derive_id(uuid.as_bytes()), IdSource::IoPlatformUuid));
    }
    let dir = state_dir.ok_or(HostError::NoStateDir)?;
    let secret = generated_secret(dir)?;
    Ok((derive_id(secret.as_bytes()), IdSource::Generated))
}

/// HMAC-SHA256 of `machine_id` under [`HOST_ID_KEY`], as 64 lowercase hex digits.
#[must_use]
pub fn derive_id(machine_id: &[u8]) -> String {
    // HMAC pads a key shorter than the hash's block (64 bytes for SHA-256) with zeros
    // (RFC 2104, section 2), so the padded key is the same key, given in the one form
    // whose constructor cannot fail.
    let mut key = [0u8; 64];
    key[..HOST_ID_KEY.len()].copy_from_slice(HOST_ID_KEY);
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&key.into());
    mac.update(machine_id);
    crate::report::export::hex(&mac.finalize().into_bytes())
}

/// The machine id in a machine-id file's text: 32 hex digits on one line, as
/// machine-id(5) defines it. An empty file or `uninitialized` (first boot) is none.
#[must_use]
pub fn machine_id(text: &str) -> Option<String> {
    let id = text.trim();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// `PRETTY_NAME` of an os-release(5) file, unquoted; `None` when absent or empty.
#[must_use]
pub fn pretty_name(text: &str) -> Option<String> {
    let value = text
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("PRETTY_NAME="))?;
    let value = unquote(value.trim());
    (!value.is_empty()).then_some(value)
}

/// A shell-style value as os-release(5) writes it: in double quotes (with `\"`, `\\`,
/// `` \` `` and `\$` escapes), in single quotes, or bare.
fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some(next @ ('"' | '\\' | '`' | '$')) => out.push(next),
                    Some(other) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        out
    } else if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        inner.to_owned()
    } else {
        value.to_owned()
    }
}

/// The `IOPlatformUUID` in the output of `ioreg -rd1 -c IOPlatformExpertDevice`
/// (`"IOPlatformUUID" = "0A1B...-..."`).
#[must_use]
pub fn ioreg_platform_uuid(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("\"IOPlatformUUID\"")?;
        let value = rest.trim_start().strip_prefix('=')?.trim();
        let uuid = value.strip_prefix('"')?.strip_suffix('"')?;
        let valid = !uuid.is_empty() && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        valid.then(|| uuid.to_owned())
    })
}

/// The platform UUID on macOS (from `ioreg`); `None` elsewhere or when it cannot be read.
#[cfg(target_os = "macos")]
fn platform_uuid() -> Option<String> {
    let out = std::process::Command::new("/usr/sbin/ioreg")
        .args(["-rd1", "-c", "IOPlatformExpertDevice"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    ioreg_platform_uuid(&String::from_utf8_lossy(&out.stdout))
}

/// The platform UUID on macOS; there is none elsewhere.
#[cfg(not(target_os = "macos"))]
fn platform_uuid() -> Option<String> {
    None
}

/// The secret kept in `dir` (64 hex digits), generated from the system's random source on
/// first use. The first writer wins: a concurrent run reads what it wrote.
fn generated_secret(dir: &Path) -> Result<String, state::StateError> {
    let valid = |bytes: &[u8]| {
        let text = std::str::from_utf8(bytes).ok()?.trim();
        (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())).then(|| text.to_owned())
    };
    if let Some(bytes) = state::read(dir, GENERATED_ID_FILE)? {
        if let Some(secret) = valid(&bytes) {
            return Ok(secret);
        }
        state::set_aside(dir, GENERATED_ID_FILE);
    }
    let err = |path: &Path, e: std::io::Error| state::StateError {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut random = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| err(Path::new("/dev/urandom"), e))?;
    let secret = crate::report::export::hex(&random);
    state::ensure_dir(dir)?;
    let path = dir.join(GENERATED_ID_FILE);
    let tmp = dir.join(format!(".{GENERATED_ID_FILE}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(format!("{secret}\n").as_bytes())?;
        f.sync_all()?;
        // A link, unlike a rename, never replaces a secret another run kept first.
        std::fs::hard_link(&tmp, &path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(secret),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            state::read(dir, GENERATED_ID_FILE)?
                .as_deref()
                .and_then(valid)
                .ok_or_else(|| state::StateError {
                    path: path.display().to_string(),
                    reason: "written by another run, but not readable as a host id".to_owned(),
                })
        }
        Err(e) => Err(err(&path, e)),
    }
}

/// The user running keycheck: the effective uid, and its name from `/etc/passwd`, else
/// `$USER` or `$LOGNAME` (accounts from a directory service are not in `/etc/passwd`).
#[must_use]
pub fn user() -> User {
    let uid = rustix::process::geteuid().as_raw();
    let name = read_small(Path::new("/etc/passwd"))
        .and_then(|text| passwd_name(&text, uid))
        .or_else(|| {
            ["USER", "LOGNAME"]
                .iter()
                .filter_map(|var| std::env::var(var).ok())
                .find(|name| !name.is_empty())
        });
    User { name, uid }
}

/// The login name of `uid` in the text of a passwd(5) file.
#[must_use]
pub fn passwd_name(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let entry_uid: u32 = fields.nth(1)?.parse().ok()?;
        (entry_uid == uid && !name.is_empty() && !name.starts_with('#')).then(|| name.to_owned())
    })
}

/// A small text file, or `None` when it cannot be read (or is not small).
fn read_small(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(1024 * 1024).read_to_string(&mut text).ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_id_is_a_keyed_hash_of_the_machine_id() {
        let id = derive_id(ID.as_bytes());
        assert_eq!(id.len(), 64);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(!id.contains(ID));
        assert_eq!(id, derive_id(ID.as_bytes()), "stable");
        assert_ne!(id, derive_id(b"0123456789abcdef0123456789abcdee"));
        let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(HOST_ID_KEY).unwrap();
        mac.update(ID.as_bytes());
        assert_eq!(id, crate::report::export::hex(&mac.finalize().into_bytes()));
        // Not a plain SHA-256 of the id: the key makes it keycheck's own.
        use sha2::Digest as _;
        assert_ne!(
            id,
            crate::report::export::hex(&Sha256::digest(ID.as_bytes()))
        );
    }

    #[test]
    fn machine_id_files_are_read_as_machine_id_5_defines_them() {
        assert_eq!(machine_id(&format!("{ID}\n")).as_deref(), Some(ID));
        assert_eq!(
            machine_id(&ID.to_ascii_uppercase()).as_deref(),
            Some(ID),
            "one id, however it is spelt"
        );
        for bad in [
            "",
            "\n",
            "uninitialized\n",
            "0123",
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert_eq!(machine_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_first_valid_file_wins_then_the_generated_secret_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let etc = tmp.path().join("machine-id");
        let dbus = tmp.path().join("dbus-machine-id");
        let state = tmp.path().join("state");
        let files = [
            (etc.clone(), IdSource::MachineId),
            (dbus.clone(), IdSource::DbusMachineId),
        ];
        std::fs::write(&dbus, format!("{ID}\n")).unwrap();
        std::fs::write(&etc, "uninitialized\n").unwrap();
        let (id, source) = host_id(&files, Some(&state)).unwrap();
        assert_eq!(
            (id.as_str(), source),
            (derive_id(ID.as_bytes()).as_str(), IdSource::DbusMachineId)
        );
        assert!(!state.exists(), "nothing kept while a machine id exists");

        std::fs::remove_file(&dbus).unwrap();
        assert_eq!(host_id(&files, None), Err(HostError::NoStateDir));
        let (first, source) = host_id(&files, Some(&state)).unwrap();
        assert_eq!(source, IdSource::Generated);
        assert_eq!(first.len(), 64);
        let kept = state.join(GENERATED_ID_FILE);
        assert_eq!(
            std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let secret = std::fs::read_to_string(&kept).unwrap();
        assert_ne!(secret.trim(), first, "the kept secret is not the id itself");
        assert_eq!(host_id(&files, Some(&state)).unwrap().0, first, "stable");
        assert_eq!(
            std::fs::read_dir(&state).unwrap().count(),
            1,
            "no temp file left"
        );

        // A damaged secret is set aside and a new one kept.
        std::fs::write(&kept, "garbage").unwrap();
        let (again, _) = host_id(&files, Some(&state)).unwrap();
        assert_ne!(again, first);
        assert!(state.join(format!("{GENERATED_ID_FILE}.corrupt")).exists());
    }

    #[test]
    fn os_release_pretty_name_is_unquoted() {
        let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            pretty_name(text).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(
            pretty_name("PRETTY_NAME='Arch Linux'\n").as_deref(),
            Some("Arch Linux")
        );
        assert_eq!(
            pretty_name("PRETTY_NAME=Alpine\n").as_deref(),
            Some("Alpine")
        );
        assert_eq!(
            pretty_name(r#"PRETTY_NAME="say \"hi\" \$x""#).as_deref(),
            Some(r#"say "hi" $x"#)
        );
        assert_eq!(pretty_name("NAME=x\nPRETTY_NAME=\"\"\n"), None);
        assert_eq!(pretty_name("NAME=x\n"), None);
    }

    #[test]
    fn ioreg_output_gives_the_platform_uuid() {
        let out = r#"+-o J316sAP  <class IOPlatformExpertDevice, id 0x100000220, registered>
    {
      "IOPlatformSerialNumber" = "C02XXXXXXX"
      "IOPlatformUUID" = "6A3E2C1B-4D5F-5A6B-8C7D-9E0F1A2B3C4D"
    }
"#;
        assert_eq!(
            ioreg_platform_uuid(out).as_deref(),
            Some("6A3E2C1B-4D5F-5A6B-8C7D-9E0F1A2B3C4D")
        );
        assert_eq!(ioreg_platform_uuid("\"IOPlatformUUID\" = \"\"\n"), None);
        assert_eq!(ioreg_platform_uuid("nothing here\n"), None);
    }

    #[test]
    fn passwd_gives_the_name_of_the_uid() {
        let text =
            "root:x:0:0:root:/root:/bin/bash\n#comment\nada:x:1000:1000:Ada:/home/ada:/bin/sh\n";
        assert_eq!(passwd_name(text, 1000).as_deref(), Some("ada"));
        assert_eq!(passwd_name(text, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(text, 1001), None);
    }

    #[test]
    fn this_host_has_a_name_an_os_and_a_hex_id() {
        let tmp = tempfile::tempdir().unwrap();
        let host = host(Some(tmp.path())).unwrap();
        assert_eq!(host.id.len(), 64);
        assert!(!host.hostname.is_empty());
        assert!(!host.os.is_empty());
    }
}
