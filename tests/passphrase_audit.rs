//! The common-passphrase audit against real keys: for each format, a key the real tool
//! encrypted with a passphrase from the built-in list is found weak, and one with a strong
//! random passphrase is not (after the whole list was tried).
//!
//! Keys are made at test time in a temp dir by the real `ssh-keygen` (openssh-client) and
//! `puttygen` (putty-tools); a missing tool fails the tests, it never skips them. bcrypt
//! runs at `-a 2` and Argon2 at 2 passes so that trying the whole list stays quick.

#![allow(clippy::unwrap_used)]

mod support;

use std::fs;
use std::io::Read as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use keycheck::key::decrypt::{self, DecryptError};
use keycheck::sys::passphrase_audit::{audit, AuditOptions, AuditOutcome};
use support::{keygen, require_tools, run, run_ok, ssh_keygen_y};

/// Generous: the strong keys must run through the whole list, even on a slow machine.
const BUDGET: Duration = Duration::from_secs(600);

/// The built-in list, empty passphrase included.
fn list() -> Vec<&'static str> {
    decrypt::common_passphrases().collect()
}

/// `passphrase`, after checking that it is in the built-in list (so that editing the
/// list cannot quietly turn a "weak" key into a strong one).
fn from_list(passphrase: &'static str) -> &'static str {
    assert!(
        list().contains(&passphrase),
        "{passphrase:?} is no longer in data/common-passphrases.txt; pick another entry"
    );
    passphrase
}

/// 48 random hex digits from /dev/urandom: in no list.
fn strong_passphrase() -> String {
    let mut bytes = [0u8; 24];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How the real tools make a key: (dir, file name, passphrase) -> path.
type Make = dyn Fn(&Path, &str, &str) -> PathBuf;

/// `ssh-keygen -t T -N PASS -a 2 EXTRA...`.
fn ssh_keygen(t: &'static str, extra: &'static [&'static str]) -> Box<Make> {
    Box::new(move |dir, name, pass| {
        let mut args = vec!["-a", "2"];
        args.extend_from_slice(extra);
        keygen(dir, name, t, pass, &args)
    })
}

/// `puttygen -t ed25519 --ppk-param PARAMS --new-passphrase FILE -o NAME`.
fn puttygen(params: &'static str) -> Box<Make> {
    Box::new(move |dir, name, pass| {
        let pass_file = dir.join(format!("{name}.pass"));
        fs::write(&pass_file, pass).unwrap();
        let path = dir.join(name);
        run_ok(
            Command::new("puttygen")
                .args(["-t", "ed25519", "-C", name, "--ppk-param", params])
                .arg("--new-passphrase")
                .arg(&pass_file)
                .arg("-o")
                .arg(&path),
        );
        fs::remove_file(pass_file).unwrap();
        path
    })
}

/// Returns true if and only if the real tool loads the private half of `path` with
/// `pass`: `ssh-keygen -y` for OpenSSH's formats, `puttygen -O text` (which needs the
/// private half, unlike `-O public-openssh`) for PPK.
fn real_tool_opens(path: &Path, pass: &str, first_line: &str) -> bool {
    if !first_line.starts_with("PuTTY") {
        return ssh_keygen_y(path, pass).is_some();
    }
    let pass_file = path.with_extension("old-pass");
    fs::write(&pass_file, pass).unwrap();
    let out = run(Command::new("puttygen")
        .arg(path)
        .args(["-O", "text", "--old-passphrase"])
        .arg(&pass_file));
    fs::remove_file(pass_file).unwrap();
    out.status.success()
}

/// Makes a weak key (passphrase `weak`, from the list) and a strong one with `make`,
/// checks with the real tool that each passphrase opens its key, and audits both.
fn weak_found_strong_not(label: &str, weak: &'static str, make: &Make, first_line: &str) {
    require_tools();
    let weak = from_list(weak);
    let strong = strong_passphrase();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let weak_path = make(dir, "weak", weak);
    let strong_path = make(dir, "strong", &strong);

    for (path, pass) in [(&weak_path, weak), (&strong_path, strong.as_str())] {
        let text = fs::read_to_string(path).unwrap();
        assert!(
            text.starts_with(first_line),
            "{label}: {} starts {:?}, expected {first_line:?}",
            path.display(),
            text.lines().next()
        );
        // The real tool agrees that the passphrase opens the key and another does not.
        assert!(
            real_tool_opens(path, pass, first_line),
            "{label}: the real tool cannot open {} with its passphrase",
            path.display()
        );
        assert!(
            !real_tool_opens(path, "not-the-passphrase", first_line),
            "{label}: the real tool opens {} with a wrong passphrase",
            path.display()
        );
    }

    let keys = [
        fs::read(&weak_path).unwrap(),
        fs::read(&strong_path).unwrap(),
    ];
    let options = AuditOptions {
        budget_per_key: BUDGET,
        threads: None,
    };
    let outcomes = audit(&keys, &options, None);
    let n = list().len();
    assert_eq!(
        outcomes,
        vec![
            AuditOutcome::Weak { tried: n },
            AuditOutcome::NotFound { tried: n }
        ],
        "{label}"
    );
    let shown = format!("{outcomes:?}");
    assert!(
        !shown.contains(weak) && !shown.contains(&strong),
        "{label}: {shown}"
    );
}

#[test]
fn openssh_ed25519_default_cipher() {
    weak_found_strong_not(
        "ed25519 aes256-ctr",
        "letmein",
        &ssh_keygen("ed25519", &[]),
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    );
}

#[test]
fn openssh_rsa_default_cipher() {
    weak_found_strong_not(
        "rsa-2048 aes256-ctr",
        "changeme",
        &ssh_keygen("rsa", &["-b", "2048"]),
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    );
}

#[test]
fn openssh_aes256_gcm() {
    weak_found_strong_not(
        "ed25519 aes256-gcm",
        "correct horse battery staple",
        &ssh_keygen("ed25519", &["-Z", "aes256-gcm@openssh.com"]),
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    );
}

#[test]
fn openssh_chacha20_poly1305() {
    weak_found_strong_not(
        "ecdsa chacha20-poly1305",
        "passphrase",
        &ssh_keygen("ecdsa", &["-Z", "chacha20-poly1305@openssh.com"]),
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    );
}

#[test]
fn legacy_pem_rsa() {
    weak_found_strong_not(
        "rsa-2048 -m PEM",
        "P@ssw0rd",
        &ssh_keygen("rsa", &["-b", "2048", "-m", "PEM"]),
        "-----BEGIN RSA PRIVATE KEY-----",
    );
}

#[test]
fn legacy_pem_ecdsa() {
    weak_found_strong_not(
        "ecdsa-384 -m PEM",
        "iloveyou",
        &ssh_keygen("ecdsa", &["-b", "384", "-m", "PEM"]),
        "-----BEGIN EC PRIVATE KEY-----",
    );
}

#[test]
fn pkcs8_pbes2() {
    weak_found_strong_not(
        "ecdsa-256 -m PKCS8",
        "sunshine",
        &ssh_keygen("ecdsa", &["-b", "256", "-m", "PKCS8"]),
        "-----BEGIN ENCRYPTED PRIVATE KEY-----",
    );
}

#[test]
fn putty_ppk_v2() {
    weak_found_strong_not(
        "ppk v2",
        "qwerty123",
        &puttygen("version=2"),
        "PuTTY-User-Key-File-2: ssh-ed25519",
    );
}

#[test]
fn putty_ppk_v3() {
    weak_found_strong_not(
        "ppk v3 argon2id",
        "secret",
        &puttygen("version=3,passes=2"),
        "PuTTY-User-Key-File-3: ssh-ed25519",
    );
}

/// ssh.com keys cannot be audited, and unencrypted keys need no audit: both say so.
#[test]
fn sshcom_and_unencrypted_keys_are_unsupported() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let plain = keygen(dir, "plain", "ed25519", "", &[]);
    let base = keygen(dir, "base", "rsa", "", &["-b", "2048"]);
    let pass_file = dir.join("pass");
    fs::write(&pass_file, "letmein").unwrap();
    let sshcom = dir.join("sshcom");
    run_ok(
        Command::new("puttygen")
            .arg(&base)
            .args(["-O", "private-sshcom", "--new-passphrase"])
            .arg(&pass_file)
            .arg("-o")
            .arg(&sshcom),
    );
    let bytes = fs::read(&sshcom).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("SSH2 ENCRYPTED PRIVATE KEY"));
    assert_eq!(
        decrypt::prepare(&bytes).unwrap_err(),
        DecryptError::Unsupported {
            format: "sshcom",
            what: "the sshcom format".to_owned()
        }
    );
    let keys = [bytes, fs::read(&plain).unwrap()];
    let options = AuditOptions {
        budget_per_key: BUDGET,
        threads: NonZeroUsize::new(2),
    };
    assert_eq!(
        audit(&keys, &options, None),
        vec![
            AuditOutcome::Unsupported(
                "sshcom: the sshcom format is not supported by the passphrase audit".to_owned()
            ),
            AuditOutcome::Unsupported(
                "openssh file is not encrypted: no passphrase to audit".to_owned()
            ),
        ]
    );
}

/// A key at OpenSSH's default 16 bcrypt rounds with a tiny budget runs out of time, and
/// says how far it got without saying anything else.
#[test]
fn budget_runs_out_on_default_rounds() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let path = keygen(tmp.path(), "k", "ed25519", &strong_passphrase(), &[]);
    let options = AuditOptions {
        budget_per_key: Duration::from_millis(200),
        threads: NonZeroUsize::new(2),
    };
    let outcomes = audit(&[fs::read(&path).unwrap()], &options, None);
    let n = list().len();
    match outcomes.as_slice() {
        [AuditOutcome::OutOfTime { tried, of }] => {
            assert_eq!(*of, n);
            assert!(*tried < n, "{tried} of {n} in 200 ms at 16 rounds?");
        }
        other => panic!("expected OutOfTime, got {other:?}"),
    }
}
