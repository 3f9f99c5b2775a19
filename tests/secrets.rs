//! Secrets never leak: keys whose private parts the test knows (real `ssh-keygen` and
//! `puttygen` keys of every type keycheck reads, plain and under known passphrases, in
//! OpenSSH, legacy PEM, PKCS#8 and PuTTY form) and the device key keycheck makes for its
//! reports are run through every output keycheck has, for real, and none of those outputs
//! may hold a secret:
//!
//! - `keycheck check` (text, JSON, verbose, the common-passphrase audit, `--search-home`),
//!   also on broken keys that still hold secret bytes (with `RUST_BACKTRACE=1`, so a
//!   panic would show);
//! - `keycheck report` (JSON, NDJSON, CSV, to a file with its `.sig`, `--signer-line`),
//!   the hidden `device-key show|sign`, `keycheck fleet` over those reports (text, JSON,
//!   CSV, HTML) and `keycheck cache status`;
//! - `keycheck.db` (every row, dumped by the `sqlite3` CLI, and the file's bytes);
//! - the background agent at `KEYCHECK_LOG=trace`, with a real ssh-agent holding every key
//!   and a real notification server (dunst on Xvfb) on a private bus: its log, every
//!   message on the bus (`dbus-monitor`), what dunst received (`dunstctl history`),
//!   `keycheck status`, and every file it leaves in HOME;
//! - the device key in a real Secret Service (gnome-keyring): every message on that bus
//!   while keycheck creates, stores and uses it;
//! - in-process, what the parsers return for thousands of damaged copies of the keys
//!   (`Debug` of the inspection, the armour and the audit's unlocker, every error).
//!
//! A secret is looked for as raw bytes, lower- and upper-case hex, standard and URL-safe
//! base64 (at each of the three alignments a secret can have against base64's 3-byte
//! groups), and as the decimal byte list `{:?}` prints; in each output as written, with
//! whitespace, `\n` escapes and colons taken out (wrapped base64, `dbus-monitor`'s spaced
//! hex bytes, OpenSSL's `ab:cd:` hex), and in every decimal byte list it holds (`{:?}` of
//! bytes, a JSON array, zbus's trace of a message). Secrets are matched in windows of 16
//! bytes (whole when shorter). The scanner is first shown to find each of those spellings
//! (`the_scanner_finds_every_spelling_it_looks_for`), and every run checks that it finds
//! each key's secrets in the unencrypted key files that hold them.
//!
//! The agent's own process must not be dumpable or traceable:
//! `the_agent_cannot_be_dumped_or_traced` probes it as the same, non-root user.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use pkcs1::der::Decode as _;
use serde_json::Value;
use ssh_key::private::KeypairData;
use ssh_key::PrivateKey;

use support::desktop::Desktop;
use support::ssh_agent::SshAgent;
use support::{armour_body_lines, base64_decode, hex, keycheck, run_ok, run_with_deadline};

// ---------------------------------------------------------------------------------------
// The scanner
// ---------------------------------------------------------------------------------------

/// Key material is looked for in runs of this many bytes: a leak of fewer consecutive
/// bytes of a key goes unseen (and 16 random bytes never turn up by chance).
const WINDOW: usize = 16;

/// Base64 of key material is looked for in runs of this many characters (15 bytes).
const B64_WINDOW: usize = 20;

/// One spelling of (part of) a secret.
struct Needle {
    secret: usize,
    form: &'static str,
    bytes: Vec<u8>,
}

/// A secret found in an output.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Hit {
    secret: String,
    form: &'static str,
    view: &'static str,
    /// A few bytes around the first place it was found, lossily as text.
    context: String,
}

/// Finds every spelling of a set of secrets in arbitrary bytes.
struct Scanner {
    /// The secrets' names, for messages.
    secrets: Vec<String>,
    needles: Vec<Needle>,
    /// Needles by their first 8 bytes (every needle has at least 8).
    index: HashMap<[u8; 8], Vec<usize>>,
    /// A cheap first test of those 8 bytes: a bit per hash bucket.
    filter: Vec<u64>,
}

const FILTER_BITS: u32 = 20;

fn bucket(head: [u8; 8]) -> usize {
    let h = u64::from_le_bytes(head).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - FILTER_BITS)) as usize
}

impl Scanner {
    fn new() -> Scanner {
        Scanner {
            secrets: Vec::new(),
            needles: Vec::new(),
            index: HashMap::new(),
            filter: vec![0; (1 << FILTER_BITS) / 64],
        }
    }

    fn add(&mut self, name: &str, bytes: &[u8]) {
        assert!(
            bytes.len() >= 8,
            "secret {name} is too short to look for ({} bytes)",
            bytes.len()
        );
        let secret = self.secrets.len();
        self.secrets.push(name.to_owned());
        for (form, bytes) in spellings(bytes) {
            let head: [u8; 8] = bytes[..8].try_into().unwrap();
            let b = bucket(head);
            self.filter[b / 64] |= 1 << (b % 64);
            self.index.entry(head).or_default().push(self.needles.len());
            self.needles.push(Needle {
                secret,
                form,
                bytes,
            });
        }
    }

    fn names(&self) -> Vec<&str> {
        self.secrets.iter().map(String::as_str).collect()
    }

    /// Every secret found in `haystack`, once per secret, spelling and view.
    fn hits(&self, haystack: &[u8]) -> Vec<Hit> {
        let mut found = BTreeMap::new();
        for (view, bytes) in views(haystack) {
            for at in 0..bytes.len().saturating_sub(7) {
                let head: [u8; 8] = bytes[at..at + 8].try_into().unwrap();
                let b = bucket(head);
                if self.filter[b / 64] & (1 << (b % 64)) == 0 {
                    continue;
                }
                let Some(list) = self.index.get(&head) else {
                    continue;
                };
                for &i in list {
                    let needle = &self.needles[i];
                    if bytes[at..].starts_with(&needle.bytes) {
                        let key = (needle.secret, needle.form, view);
                        found.entry(key).or_insert_with(|| {
                            let from = at.saturating_sub(24);
                            let to = (at + needle.bytes.len() + 24).min(bytes.len());
                            String::from_utf8_lossy(&bytes[from..to]).into_owned()
                        });
                    }
                }
            }
        }
        found
            .into_iter()
            .map(|((secret, form, view), context)| Hit {
                secret: self.secrets[secret].clone(),
                form,
                view,
                context,
            })
            .collect()
    }

    /// What `haystack` holds of the secrets other than `allowed`.
    fn leaks(&self, haystack: &[u8], allowed: &[&str]) -> Vec<Hit> {
        self.hits(haystack)
            .into_iter()
            .filter(|h| !allowed.contains(&h.secret.as_str()))
            .collect()
    }

    /// Fails the test if `haystack` (named `what`) holds a secret other than `allowed`.
    fn assert_clean(&self, what: &str, haystack: &[u8], allowed: &[&str]) {
        let leaks = self.leaks(haystack, allowed);
        assert!(
            leaks.is_empty(),
            "{what} ({} bytes) holds secrets:\n{}",
            haystack.len(),
            leaks
                .iter()
                .map(|h| format!(
                    "  {} as {} ({}): ...{:?}...",
                    h.secret, h.form, h.view, h.context
                ))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// Fails the test unless `haystack` holds `secret` (the positive control).
    fn assert_found(&self, what: &str, haystack: &[u8], secret: &str) {
        let hits = self.hits(haystack);
        assert!(
            hits.iter().any(|h| h.secret == secret),
            "the scanner does not find {secret} in {what}; it finds {hits:#?}"
        );
    }
}

/// Returns true if and only if every byte of `w` is the same (padding, not a secret).
fn uniform(w: &[u8]) -> bool {
    w.iter().all(|b| *b == w[0])
}

/// Every spelling of `secret` the scanner looks for: windows of [`WINDOW`] bytes (the
/// whole secret when shorter) raw and in hex, and base64 of the secret's whole 3-byte
/// groups for each of its three alignments, in windows of [`B64_WINDOW`] characters.
fn spellings(secret: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let pieces: Vec<&[u8]> = if secret.len() > WINDOW {
        secret.windows(WINDOW).filter(|w| !uniform(w)).collect()
    } else {
        vec![secret]
    };
    for piece in pieces {
        out.push(("raw bytes", piece.to_vec()));
        let h = hex(piece);
        out.push(("hex", h.to_ascii_uppercase().into_bytes()));
        out.push(("hex", h.into_bytes()));
    }
    // A secret inside a longer buffer starts at some offset modulo 3 of the encoder's
    // groups: from the first whole group on, its encoding is fixed by that offset.
    for skip in 0..3 {
        let groups = secret.len().saturating_sub(skip) / 3;
        if groups < 2 {
            continue;
        }
        let chunk = &secret[skip..skip + groups * 3];
        for (form, engine) in [("base64", &STANDARD), ("url-safe base64", &URL_SAFE)] {
            let text = engine.encode(chunk);
            if text.len() <= B64_WINDOW {
                out.push((form, text.into_bytes()));
            } else {
                for start in (0..=text.len() - B64_WINDOW).step_by(4) {
                    out.push((form, text.as_bytes()[start..start + B64_WINDOW].to_vec()));
                }
            }
        }
    }
    out
}

/// The ways an output is read: as written; without whitespace, `\n`/`\r` escapes and
/// colons (base64 wrapped in lines, spaced or colon-separated hex); and each list of
/// decimal numbers 0..=255 as the bytes it spells (`{:?}` of a byte slice, a JSON array).
fn views(haystack: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut squeezed = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        match haystack[i] {
            b'\\' if matches!(haystack.get(i + 1), Some(b'n' | b'r' | b't')) => i += 2,
            b' ' | b'\t' | b'\n' | b'\r' | b':' => i += 1,
            b => {
                squeezed.push(b);
                i += 1;
            }
        }
    }
    let mut out = vec![("as written", haystack.to_vec()), ("squeezed", squeezed)];
    for list in decimal_lists(haystack) {
        out.push(("decimal byte list", list));
    }
    out
}

/// Each run of at least 8 numbers 0..=255 separated by commas and whitespace.
fn decimal_lists(haystack: &[u8]) -> Vec<Vec<u8>> {
    let mut lists = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut number: Option<u32> = None;
    let mut finish = |current: &mut Vec<u8>| {
        if current.len() >= 8 {
            lists.push(std::mem::take(current));
        }
        current.clear();
    };
    for &b in haystack {
        match b {
            b'0'..=b'9' => {
                let n = number.unwrap_or(0) * 10 + u32::from(b - b'0');
                number = Some(n.min(1000));
            }
            b',' | b' ' | b'\n' | b'\r' | b'\t' => {
                if let Some(n) = number.take() {
                    match u8::try_from(n) {
                        Ok(byte) => current.push(byte),
                        Err(_) => finish(&mut current),
                    }
                }
            }
            _ => {
                if let Some(n) = number.take() {
                    match u8::try_from(n) {
                        Ok(byte) => current.push(byte),
                        Err(_) => finish(&mut current),
                    }
                }
                finish(&mut current);
            }
        }
    }
    if let Some(n) = number {
        if let Ok(byte) = u8::try_from(n) {
            current.push(byte);
        }
    }
    finish(&mut current);
    lists
}

// ---------------------------------------------------------------------------------------
// Keys whose secrets are known
// ---------------------------------------------------------------------------------------

/// The passphrase of the OpenSSH ECDSA key.
const PASS_ECDSA: &str = "plum-velvet-anchor-4471 ecdsa";
/// The passphrase of the OpenSSH RSA key.
const PASS_RSA: &str = "quiet orbit, nine lanterns (rsa)";
/// The passphrase of the PKCS#8 key.
const PASS_PKCS8: &str = "Tangerine!Mosaic?58-pkcs8";
/// The passphrase of the PuTTY key.
const PASS_PPK: &str = "Orchid lattice 93 for PuTTY";
/// The legacy PEM key's passphrase: on keycheck's built-in list of common passphrases,
/// so `--try-common-passphrases` finds it (and must still never show it).
const PASS_COMMON: &str = "1qaz2wsx3edc";

/// How a key is kept in `~/.ssh`.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// OpenSSH format, no passphrase.
    OpensshPlain,
    /// OpenSSH format (aes256-ctr, bcrypt) under this passphrase.
    Openssh(&'static str),
    /// Unencrypted PEM (PKCS#1 or SEC1).
    PemPlain,
    /// Legacy encrypted PEM (`Proc-Type: 4,ENCRYPTED`, AES-128-CBC, MD5) under this
    /// passphrase.
    LegacyPem(&'static str),
    /// PKCS#8 `ENCRYPTED PRIVATE KEY` (PBES2) under this passphrase.
    Pkcs8(&'static str),
}

impl Form {
    /// `ssh-keygen -p` arguments that turn an unencrypted OpenSSH key into this form.
    fn rewrite(self) -> Option<Vec<&'static str>> {
        match self {
            Form::OpensshPlain => None,
            Form::Openssh(pass) => Some(vec!["-N", pass]),
            Form::PemPlain => Some(vec!["-N", "", "-m", "PEM"]),
            Form::LegacyPem(pass) => Some(vec!["-N", pass, "-m", "PEM"]),
            Form::Pkcs8(pass) => Some(vec!["-N", pass, "-m", "PKCS8"]),
        }
    }

    /// The first lines the file must start with.
    fn header(self) -> &'static str {
        match self {
            Form::OpensshPlain | Form::Openssh(_) => "-----BEGIN OPENSSH PRIVATE KEY-----\n",
            Form::PemPlain => "-----BEGIN ",
            Form::LegacyPem(_) => "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n",
            Form::Pkcs8(_) => "-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
        }
    }

    fn passphrase(self) -> Option<&'static str> {
        match self {
            Form::OpensshPlain | Form::PemPlain => None,
            Form::Openssh(p) | Form::LegacyPem(p) | Form::Pkcs8(p) => Some(p),
        }
    }
}

/// The keys: every type, plain and encrypted, in each container format.
const KEYS: [(&str, &[&str], Form); 6] = [
    ("id_ed25519", &["-t", "ed25519"], Form::OpensshPlain),
    (
        "id_ecdsa",
        &["-t", "ecdsa", "-b", "256"],
        Form::Openssh(PASS_ECDSA),
    ),
    (
        "id_ecdsa_pem",
        &["-t", "ecdsa", "-b", "384"],
        Form::PemPlain,
    ),
    (
        "id_ecdsa_pkcs8",
        &["-t", "ecdsa", "-b", "521"],
        Form::Pkcs8(PASS_PKCS8),
    ),
    (
        "id_rsa",
        &["-t", "rsa", "-b", "2048"],
        Form::Openssh(PASS_RSA),
    ),
    (
        "id_rsa_legacy",
        &["-t", "rsa", "-b", "2048"],
        Form::LegacyPem(PASS_COMMON),
    ),
];

/// PuTTY copies of two of the keys (`puttygen`, PPK v3): one unencrypted, one under a
/// passphrase (aes256-cbc, Argon2id).
const PPKS: [(&str, &str, Option<&str>); 2] = [
    ("id_rsa.ppk", "id_rsa", None),
    ("id_ed25519_enc.ppk", "id_ed25519", Some(PASS_PPK)),
];

/// How many private key files `~/.ssh` holds.
const PRIVATE_KEYS: usize = KEYS.len() + PPKS.len();

/// A temp HOME whose `~/.ssh` holds [`KEYS`] and [`PPKS`], unencrypted OpenSSH copies of them in a
/// sources directory outside HOME (for ssh-add), and a scanner that knows every key's
/// private values and every passphrase.
struct Fixture {
    /// HOME.
    home: tempfile::TempDir,
    /// The unencrypted OpenSSH sources (and `NAME.pem` copies of the RSA keys).
    sources: tempfile::TempDir,
    scanner: Scanner,
    /// The files in `~/.ssh` that hold their key unencrypted, with that key's secret
    /// names: the only files where those secrets may be.
    plain_files: Vec<(PathBuf, Vec<String>)>,
}

impl Fixture {
    fn new() -> Fixture {
        support::require_tools();
        support::require_tool("sqlite3", "sqlite3");
        support::require_tool("python3", "python3");
        let home = tempfile::tempdir().unwrap();
        let ssh = home.path().join(".ssh");
        fs::create_dir(&ssh).unwrap();
        support::set_mode(&ssh, 0o700);
        let sources = tempfile::tempdir().unwrap();
        let mut scanner = Scanner::new();
        let mut plain_files = Vec::new();
        let mut secrets_of = HashMap::new();
        for pass in [PASS_ECDSA, PASS_RSA, PASS_PKCS8, PASS_PPK, PASS_COMMON] {
            scanner.add(&format!("passphrase {pass:?}"), pass.as_bytes());
        }
        for (name, args, form) in KEYS {
            let source = sources.path().join(name);
            run_ok(
                Command::new("ssh-keygen")
                    .args(["-q", "-N", "", "-C", name])
                    .args(args)
                    .arg("-f")
                    .arg(&source),
            );
            let values = private_values(&source);
            let mut names = Vec::new();
            for (field, bytes) in &values {
                let secret = format!("{name} {field}");
                scanner.add(&secret, bytes);
                names.push(secret);
            }
            // The positive control on real files: the unencrypted source holds each of
            // its key's values (as base64 across the armour's lines).
            let text = fs::read(&source).unwrap();
            for secret in &names {
                scanner.assert_found(&format!("source {name}"), &text, secret);
            }
            if args[1] == "rsa" {
                // The PEM form carries two more values (d mod p-1, d mod q-1).
                let pem = sources.path().join(format!("{name}.pem"));
                fs::copy(&source, &pem).unwrap();
                rewrite(&pem, &["-N", "", "-m", "PEM"]);
                for (field, bytes) in rsa_pem_values(&pem, &values) {
                    let secret = format!("{name} {field}");
                    scanner.add(&secret, &bytes);
                    names.push(secret);
                }
            }

            let key = ssh.join(name);
            fs::copy(&source, &key).unwrap();
            fs::copy(source.with_extension("pub"), key.with_extension("pub")).unwrap();
            support::set_mode(&key, 0o600);
            if let Some(rewrite_args) = form.rewrite() {
                rewrite(&key, &rewrite_args);
            }
            let written = fs::read_to_string(&key).unwrap();
            assert!(
                written.starts_with(form.header()),
                "{name} is not {form:?}:\n{written}"
            );
            if form.passphrase().is_none() {
                plain_files.push((key.clone(), names.clone()));
            }
            secrets_of.insert(name, names);
        }
        for (file, of, passphrase) in PPKS {
            let key = ssh.join(file);
            let mut cmd = Command::new("puttygen");
            cmd.arg(sources.path().join(of))
                .args(["-O", "private", "-o"])
                .arg(&key);
            if let Some(pass) = passphrase {
                let pass_file = sources.path().join(format!("{file}.passphrase"));
                fs::write(&pass_file, format!("{pass}\n")).unwrap();
                cmd.arg("--new-passphrase").arg(&pass_file);
            }
            run_ok(&mut cmd);
            support::set_mode(&key, 0o600);
            let written = fs::read_to_string(&key).unwrap();
            let encryption = if passphrase.is_some() {
                "aes256-cbc"
            } else {
                "none"
            };
            assert!(
                written.starts_with("PuTTY-User-Key-File-3: ")
                    && written.contains(&format!("\nEncryption: {encryption}\n")),
                "{file}:\n{written}"
            );
            if passphrase.is_none() {
                plain_files.push((key, secrets_of[of].clone()));
            }
        }
        Fixture {
            home,
            sources,
            scanner,
            plain_files,
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn ssh(&self) -> PathBuf {
        self.home().join(".ssh")
    }

    fn state_dir(&self) -> PathBuf {
        self.home().join(".local/state/keycheck")
    }

    /// An ssh-agent in `dir` holding every key.
    fn agent_with_every_key(&self, dir: &Path) -> SshAgent {
        let agent = SshAgent::start(dir, &[]);
        for (name, _, _) in KEYS {
            agent.add(&self.sources.path().join(name));
        }
        let listed = agent.listed();
        assert_eq!(listed.lines().count(), KEYS.len(), "{listed}");
        agent
    }

    /// Adds the device key's private value once `keycheck report` made it (a file: no
    /// secret store answers these runs).
    fn add_device_key(&mut self) -> PathBuf {
        let path = self.state_dir().join("device-key");
        let values = private_values(&path);
        assert_eq!(values.len(), 1, "the device key is one Ed25519 seed");
        self.scanner.add("device key seed", &values[0].1);
        self.scanner.assert_found(
            "the device key file",
            &fs::read(&path).unwrap(),
            "device key seed",
        );
        path
    }

    /// Every file under HOME must be clean, but for each plain key file its own key
    /// (which must be found there: the scan reads them right) and the device key file.
    fn assert_home_clean(&self, device_key: Option<&Path>) -> usize {
        let mut files = Vec::new();
        let mut todo = vec![self.home().to_path_buf()];
        while let Some(dir) = todo.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    todo.push(path);
                } else if meta.is_file() {
                    files.push(path);
                }
            }
        }
        files.sort();
        for file in &files {
            let bytes = fs::read(file).unwrap();
            let what = file.display().to_string();
            if Some(file.as_path()) == device_key {
                self.scanner
                    .assert_clean(&what, &bytes, &["device key seed"]);
                continue;
            }
            match self.plain_files.iter().find(|(p, _)| p == file) {
                Some((_, own)) => {
                    let own: Vec<&str> = own.iter().map(String::as_str).collect();
                    for secret in own
                        .iter()
                        .filter(|s| !s.ends_with(" dmp1") && !s.ends_with(" dmq1"))
                    {
                        self.scanner.assert_found(&what, &bytes, secret);
                    }
                    self.scanner.assert_clean(&what, &bytes, &own);
                }
                None => self.scanner.assert_clean(&what, &bytes, &[]),
            }
        }
        files.len()
    }
}

/// `ssh-keygen -q -p -P '' ARGS -f KEY`: rewrites an unencrypted key in place.
fn rewrite(key: &Path, args: &[&str]) {
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-p", "-P", ""])
            .args(args)
            .arg("-f")
            .arg(key),
    );
}

/// The private values of an unencrypted OpenSSH key, read with the `ssh-key` crate: the
/// Ed25519 seed, RSA's d, p, q and iqmp, or the ECDSA scalar. ssh-key 0.6 refuses some
/// P-521 keys ("length invalid"), so ECDSA keys are read from the private section
/// directly, and checked against ssh-key where it can read them.
fn private_values(path: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let parsed = PrivateKey::read_openssh_file(path);
    if let Ok(key) = &parsed {
        assert!(!key.is_encrypted(), "{} is encrypted", path.display());
    }
    match parsed.as_ref().map(PrivateKey::key_data) {
        Ok(KeypairData::Ed25519(k)) => vec![("seed", k.private.to_bytes().to_vec())],
        Ok(KeypairData::Rsa(k)) => vec![
            ("d", k.private.d.as_bytes().to_vec()),
            ("p", k.private.p.as_bytes().to_vec()),
            ("q", k.private.q.as_bytes().to_vec()),
            ("iqmp", k.private.iqmp.as_bytes().to_vec()),
        ],
        Ok(KeypairData::Ecdsa(k)) => {
            let scalar = ecdsa_scalar(path);
            assert_eq!(magnitude(k.private_key_bytes()), scalar);
            vec![("scalar", scalar)]
        }
        // Only the P-521 key may be refused, and only with that error.
        Err(e) if e.to_string() == "length invalid" && ecdsa_scalar(path).len() >= 64 => {
            vec![("scalar", ecdsa_scalar(path))]
        }
        other => panic!("{}: {:?}", path.display(), other.map(|k| k.algorithm())),
    }
}

/// A big-endian number without its leading zero bytes.
fn magnitude(b: &[u8]) -> Vec<u8> {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[first..].to_vec()
}

/// The private scalar of an unencrypted OpenSSH ECDSA key (PROTOCOL.key §3, RFC 5656:
/// check integers, key type, curve name, public point, then the scalar as an mpint).
fn ecdsa_scalar(path: &Path) -> Vec<u8> {
    let text = fs::read_to_string(path).unwrap();
    let body = base64_decode(&armour_body_lines(&text).concat());
    let mut at = private_section(&body) + 8;
    let mut string = || {
        let len = u32::from_be_bytes(body[at..at + 4].try_into().unwrap()) as usize;
        let value = &body[at + 4..at + 4 + len];
        at += 4 + len;
        value
    };
    assert!(
        string().starts_with(b"ecdsa-sha2-nistp"),
        "{}",
        path.display()
    );
    string(); // the curve
    assert_eq!(string()[0], 4, "an uncompressed point");
    magnitude(string())
}

/// An unencrypted PKCS#1 PEM RSA key's CRT exponents, read with the `pkcs1` crate, after
/// checking that its d, p, q and iqmp are those `ssh-key` read from the OpenSSH form.
fn rsa_pem_values(pem: &Path, openssh: &[(&str, Vec<u8>)]) -> Vec<(&'static str, Vec<u8>)> {
    let text = fs::read_to_string(pem).unwrap();
    assert!(
        text.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"),
        "{text}"
    );
    let der = base64_decode(&armour_body_lines(&text).concat());
    let key = pkcs1::RsaPrivateKey::from_der(&der).unwrap();
    let strip = magnitude;
    for (field, value) in [
        ("d", key.private_exponent.as_bytes()),
        ("p", key.prime1.as_bytes()),
        ("q", key.prime2.as_bytes()),
        ("iqmp", key.coefficient.as_bytes()),
    ] {
        let theirs = openssh.iter().find(|(f, _)| *f == field).unwrap();
        assert_eq!(
            strip(value),
            strip(&theirs.1),
            "{field} differs between the forms"
        );
    }
    vec![
        ("dmp1", key.exponent1.as_bytes().to_vec()),
        ("dmq1", key.exponent2.as_bytes().to_vec()),
    ]
}

// ---------------------------------------------------------------------------------------
// Running keycheck
// ---------------------------------------------------------------------------------------

/// Everything one run printed.
struct Ran {
    what: String,
    stdout: String,
    stderr: String,
}

/// Runs `keycheck ARGS` in `home` with `envs`, at `KEYCHECK_LOG=trace` with backtraces
/// on; fails the test on a panic (exit 101) or a code outside `codes`.
fn run_keycheck(home: &Path, envs: &[(&str, &Path)], args: &[&str], codes: &[i32]) -> Ran {
    let mut cmd = keycheck(home);
    cmd.env("KEYCHECK_LOG", "trace")
        .env("RUST_BACKTRACE", "1")
        .envs(envs.iter().map(|(k, v)| (*k, *v)))
        .args(args);
    let run = run_with_deadline(&mut cmd, Duration::from_secs(30));
    let what = format!("keycheck {}", args.join(" "));
    assert!(
        codes.contains(&run.code) && !run.stderr.contains("panicked"),
        "{what} exited {}:\nstdout:\n{}\nstderr:\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    Ran {
        what,
        stdout: run.stdout,
        stderr: run.stderr,
    }
}

/// `sqlite3 DB .dump`: every table, every row, as SQL text (BLOBs as hex).
fn sqlite_dump(db: &Path) -> String {
    let out = run_ok(
        Command::new("sqlite3")
            .arg("-readonly")
            .arg(db)
            .arg(".dump"),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("INSERT INTO"), "an empty keycheck.db: {text}");
    text
}

/// The broken keys: real keys damaged so that keycheck reads them up to a point and
/// reports them malformed, each still holding secret bytes.
fn write_broken_keys(fixture: &Fixture, dir: &Path) -> Vec<PathBuf> {
    fs::create_dir_all(dir).unwrap();
    support::set_mode(dir, 0o700);
    let openssh_body = |name: &str| {
        let text = fs::read_to_string(fixture.sources.path().join(name)).unwrap();
        base64_decode(&armour_body_lines(&text).concat())
    };
    let mut written = Vec::new();
    let mut write = |name: &str, label: &str, body: &[u8]| {
        let text = armour(label, body);
        written.push(support::write_file(dir, name, text.as_bytes(), 0o600));
    };

    // The check integers differ (OpenSSH: a wrong passphrase, or damage).
    let mut body = openssh_body("id_ed25519");
    let private = private_section(&body);
    body[private + 7] ^= 0x5a;
    write("checkints_differ", "OPENSSH PRIVATE KEY", &body);

    // The private section cut off in the middle of the private exponent.
    let body = openssh_body("id_rsa");
    let private = private_section(&body);
    write(
        "truncated_rsa",
        "OPENSSH PRIVATE KEY",
        &body[..private + 600],
    );

    // The private section's copy of the public point differs from the public key.
    let mut body = openssh_body("id_ecdsa");
    let private = private_section(&body);
    // checkints (8), string "ecdsa-sha2-nistp256" (4 + 19), string "nistp256" (4 + 8),
    // the point's length (4), then 0x04 and the point.
    body[private + 8 + 23 + 12 + 4 + 5] ^= 0x01;
    write("public_mismatch", "OPENSSH PRIVATE KEY", &body);

    // PKCS#1 DER cut off in the middle of a prime.
    let pem = fs::read_to_string(fixture.sources.path().join("id_rsa_legacy.pem")).unwrap();
    let der = base64_decode(&armour_body_lines(&pem).concat());
    write(
        "truncated_pem",
        "RSA PRIVATE KEY",
        &der[..der.len() * 3 / 4],
    );
    written
}

/// `body` armoured under `label`, in lines of 70 characters as OpenSSH writes them.
fn armour(label: &str, body: &[u8]) -> String {
    let b64 = STANDARD.encode(body);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(70)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Where the private section starts in an OpenSSH key body (PROTOCOL.key: magic, cipher,
/// kdf, kdf options, key count, public key, then the private section as a string).
fn private_section(body: &[u8]) -> usize {
    let mut at = b"openssh-key-v1\0".len();
    let string = |at: &mut usize| {
        let len = u32::from_be_bytes(body[*at..*at + 4].try_into().unwrap()) as usize;
        *at += 4 + len;
    };
    string(&mut at); // cipher
    string(&mut at); // kdf
    string(&mut at); // kdf options
    at += 4; // number of keys
    string(&mut at); // public key
    at + 4
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

/// The positive control: each spelling the scanner claims to find, written into an
/// otherwise harmless output, is found, with the right secret and spelling; and clean
/// text with look-alike content is not flagged.
#[test]
fn the_scanner_finds_every_spelling_it_looks_for() {
    let key: Vec<u8> = (0..64u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut scanner = Scanner::new();
    scanner.add("key", &key);
    scanner.add("passphrase", b"correct horse battery");
    let filler = b"keycheck: fingerprint SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU ok\n";
    let embed = |middle: &[u8]| -> Vec<u8> {
        let mut out = filler.to_vec();
        out.extend_from_slice(middle);
        out.extend_from_slice(filler);
        out
    };
    let piece = &key[10..40];
    let mut cases: Vec<(String, Vec<u8>, &str, &str)> = vec![
        ("raw".into(), embed(piece), "raw bytes", "key"),
        ("hex".into(), embed(hex(piece).as_bytes()), "hex", "key"),
        (
            "HEX".into(),
            embed(hex(piece).to_ascii_uppercase().as_bytes()),
            "hex",
            "key",
        ),
        (
            "{:?}".into(),
            embed(format!("Reader {{ data: {piece:?} }}").as_bytes()),
            "raw bytes",
            "key",
        ),
        (
            "pretty JSON array".into(),
            embed(serde_json::to_string_pretty(&piece).unwrap().as_bytes()),
            "raw bytes",
            "key",
        ),
        (
            "colon hex".into(),
            embed(
                piece
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
                    .as_bytes(),
            ),
            "hex",
            "key",
        ),
        (
            "passphrase".into(),
            embed(b"the passphrase is correct horse battery!"),
            "raw bytes",
            "passphrase",
        ),
    ];
    // Base64 at each alignment, wrapped in lines as PEM is, and with JSON's "\n".
    for lead in 0..3 {
        let mut buf = vec![0xa5u8; lead];
        buf.extend_from_slice(piece);
        buf.extend_from_slice(b"tail");
        let text = STANDARD.encode(&buf);
        cases.push((
            format!("base64 at {lead}"),
            embed(text.as_bytes()),
            "base64",
            "key",
        ));
        let wrapped: Vec<&str> = text
            .as_bytes()
            .chunks(11)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        cases.push((
            format!("wrapped base64 at {lead}"),
            embed(wrapped.join("\n").as_bytes()),
            "base64",
            "key",
        ));
        cases.push((
            format!("JSON-escaped base64 at {lead}"),
            embed(wrapped.join("\\n").as_bytes()),
            "base64",
            "key",
        ));
        cases.push((
            format!("url-safe base64 at {lead}"),
            embed(URL_SAFE.encode(&buf).as_bytes()),
            "url-safe base64",
            "key",
        ));
        let mut pass = vec![b'x'; lead];
        pass.extend_from_slice(b"correct horse battery");
        cases.push((
            format!("base64 passphrase at {lead}"),
            embed(STANDARD.encode(&pass).as_bytes()),
            "base64",
            "passphrase",
        ));
    }
    for (what, bytes, form, secret) in &cases {
        let hits = scanner.hits(bytes);
        assert!(
            hits.iter().any(|h| h.form == *form && h.secret == *secret),
            "{what}: not found as {form}; found {hits:#?}"
        );
        assert!(!scanner.leaks(bytes, &[]).is_empty(), "{what}: not a leak");
        scanner.assert_clean(what, bytes, &[secret]);
    }
    // 15 bytes of the key, less than a window: not a leak the scan claims to see; the
    // same for the passphrase minus its last letter and for clean text.
    scanner.assert_clean("15 bytes", &embed(&key[3..18]), &[]);
    scanner.assert_clean("hex of 15 bytes", &embed(hex(&key[3..18]).as_bytes()), &[]);
    scanner.assert_clean(
        "15 letters of the passphrase",
        &embed(b"orrect horse ba"),
        &[],
    );
    scanner.assert_clean("filler", filler, &[]);
    assert_eq!(scanner.names(), ["key", "passphrase"]);
}

/// `keycheck check`, `report`, `device-key`, `fleet`, `cache status` and `keycheck.db`,
/// with an ssh-agent holding every key, on good and on broken keys.
#[test]
fn no_secret_in_check_report_fleet_cache_or_keycheck_db() {
    let mut fixture = Fixture::new();
    let home = fixture.home().to_path_buf();
    let scratch = tempfile::tempdir().unwrap();
    let agent = fixture.agent_with_every_key(scratch.path());
    let sock = agent.socket.clone();
    let envs: [(&str, &Path); 1] = [("SSH_AUTH_SOCK", &sock)];
    let mut ran: Vec<Ran> = Vec::new();
    let ssh = fixture.ssh();
    let ssh = ssh.to_str().unwrap();
    let sources = fixture.sources.path().to_str().unwrap().to_owned();

    // check, in every format, on ~/.ssh and on the unencrypted sources.
    for args in [
        vec!["check"],
        vec!["check", "-v"],
        vec!["check", "--format", "json"],
        vec!["check", "-v", "--format", "json", "--search-home"],
        vec!["check", "-v", &sources],
        vec!["check", "-v", "--format", "json", &sources],
        vec!["check", "--fail-on", "warn", ssh],
    ] {
        ran.push(run_keycheck(&home, &envs, &args, &[1]));
    }
    // The common-passphrase audit decrypts: it finds the legacy key's passphrase.
    for format in ["human", "json"] {
        let args = [
            "check",
            "-v",
            "--try-common-passphrases",
            "--passphrase-budget",
            "1",
            "--format",
            format,
        ];
        let run = run_keycheck(&home, &envs, &args, &[1]);
        assert!(
            run.stdout.contains("passphrase-weak"),
            "the audit found nothing:\n{}",
            run.stdout
        );
        ran.push(run);
    }

    // Reports (the first signed one makes the device key), then the fleet over them.
    let reports = scratch.path().join("reports");
    fs::create_dir(&reports).unwrap();
    let report_file = reports.join("this-host.json");
    let report_arg = report_file.to_str().unwrap();
    ran.push(run_keycheck(
        &home,
        &envs,
        &["report", "-o", report_arg],
        &[1],
    ));
    let device_key = fixture.add_device_key();
    for args in [
        vec!["report"],
        vec!["report", "--format", "ndjson"],
        vec!["report", "--format", "csv"],
        vec!["report", "--no-sign", "-o", report_arg],
        vec!["report", "-o", report_arg],
        vec!["device-key", "show", "--principal", "host-1"],
    ] {
        ran.push(run_keycheck(&home, &envs, &args, &[0, 1]));
    }
    let signed = scratch.path().join("signed.txt");
    fs::write(&signed, b"sign me").unwrap();
    ran.push(run_keycheck(
        &home,
        &envs,
        &["device-key", "sign", signed.to_str().unwrap()],
        &[0],
    ));
    let line = run_keycheck(&home, &envs, &["report", "--signer-line"], &[0]);
    let allowed = scratch.path().join("allowed_signers");
    fs::write(&allowed, &line.stdout).unwrap();
    ran.push(line);
    let allowed = allowed.to_str().unwrap();
    let reports_arg = reports.to_str().unwrap();
    let page = scratch.path().join("fleet.html");
    for format in ["text", "json", "csv", "html"] {
        let run = run_keycheck(
            &home,
            &envs,
            &[
                "fleet",
                "--allowed-signers",
                allowed,
                "--format",
                format,
                reports_arg,
            ],
            &[0],
        );
        assert!(
            !run.stdout.is_empty(),
            "fleet --format {format} printed nothing"
        );
        ran.push(run);
    }
    ran.push(run_keycheck(
        &home,
        &envs,
        &[
            "fleet",
            "--allowed-signers",
            allowed,
            "--format",
            "html",
            "--output",
            page.to_str().unwrap(),
            reports_arg,
        ],
        &[0],
    ));
    let fleet_json = ran
        .iter()
        .find(|r| r.what.contains("fleet") && r.what.contains("json"))
        .unwrap();
    let fleet: Value = serde_json::from_str(&fleet_json.stdout).unwrap();
    assert_eq!(fleet["hosts"], 1, "the signed report was merged: {fleet:#}");

    // What the ssh-agent holds.
    for format in ["human", "json"] {
        ran.push(run_keycheck(
            &home,
            &envs,
            &["cache", "status", "--format", format],
            &[0, 1],
        ));
    }

    // Broken keys: read up to the damage, then reported, never a panic.
    let broken_dir = scratch.path().join("broken");
    let broken = write_broken_keys(&fixture, &broken_dir);
    let broken_arg = broken_dir.to_str().unwrap();
    for args in [
        vec!["check", "-v", broken_arg],
        vec!["check", "-v", "--format", "json", broken_arg],
        vec![
            "check",
            "--try-common-passphrases",
            "--passphrase-budget",
            "1",
            broken_arg,
        ],
    ] {
        ran.push(run_keycheck(&home, &envs, &args, &[0, 1]));
    }
    let broken_json = ran
        .iter()
        .find(|r| r.what.contains("json") && r.what.contains(broken_arg))
        .unwrap();
    let errors: Value = serde_json::from_str(&broken_json.stdout).unwrap();
    let errors = errors["errors"].as_array().unwrap();
    assert_eq!(errors.len(), broken.len(), "{errors:#?}");
    for file in &broken {
        let (error, secret) = broken_expectations(file);
        let reported = errors
            .iter()
            .find(|e| e["path"] == file.to_str().unwrap())
            .unwrap_or_else(|| panic!("{} is not an error: {errors:#?}", file.display()));
        assert!(
            reported["error"].as_str().unwrap().contains(error),
            "{reported:#}"
        );
        let what = format!("the broken key {}", file.display());
        fixture
            .scanner
            .assert_found(&what, &fs::read(file).unwrap(), secret);
    }

    // Every output and every file.
    let scanner = &fixture.scanner;
    let mut checked = 0;
    for run in &ran {
        scanner.assert_clean(&format!("{} stdout", run.what), run.stdout.as_bytes(), &[]);
        scanner.assert_clean(&format!("{} stderr", run.what), run.stderr.as_bytes(), &[]);
        checked += run.stdout.len() + run.stderr.len();
    }
    for file in [
        report_file.clone(),
        PathBuf::from(format!("{report_arg}.sig")),
        page,
        signed.with_extension("txt.sig"),
    ] {
        let bytes = fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        scanner.assert_clean(&file.display().to_string(), &bytes, &[]);
    }
    let db = fixture.state_dir().join("keycheck.db");
    let dump = sqlite_dump(&db);
    assert!(
        dump.contains("id_rsa_legacy"),
        "the keys are in keycheck.db"
    );
    scanner.assert_clean("keycheck.db rows", dump.as_bytes(), &[]);
    let files = fixture.assert_home_clean(Some(&device_key));
    assert!(files >= KEYS.len() * 2 + 4, "only {files} files in HOME");
    assert!(checked > 50_000, "only {checked} bytes of output");
    drop(agent);
}

/// The error each broken key is reported with, and a secret it still holds (so that its
/// run proves something).
fn broken_expectations(file: &Path) -> (&'static str, &'static str) {
    match file.file_name().unwrap().to_str().unwrap() {
        "checkints_differ" => ("the two check integers differ", "id_ed25519 seed"),
        "truncated_rsa" => ("private section: truncated", "id_rsa d"),
        "public_mismatch" => (
            "its public part is not the file's public key",
            "id_ecdsa scalar",
        ),
        "truncated_pem" => ("malformed ASN.1", "id_rsa_legacy d"),
        other => panic!("unknown broken key {other}"),
    }
}

/// At most this many cuts and as many changed bytes per key in
/// `no_secret_in_what_the_parsers_say_about_damaged_keys`.
const DAMAGE_PER_KEY: usize = 400;

/// keycheck's parsers, called in-process on thousands of damaged copies of the keys in
/// every unencrypted form (OpenSSH, PKCS#1 and SEC1 PEM, PuTTY): every cut of the decoded
/// body and a byte changed at every position (every few positions for the longer keys),
/// or for the PuTTY file cuts and changed characters of its text. They never panic, and
/// nothing they return holds a secret: the `Debug` of the inspection and of the armour,
/// the audit's `Unlocker` or its error, and every error message.
#[test]
fn no_secret_in_what_the_parsers_say_about_damaged_keys() {
    use keycheck::key::{armor, decrypt, inspect, Inspection};
    use std::collections::HashSet;
    use std::fmt::Write as _;

    let fixture = Fixture::new();
    let sources = fixture.sources.path();
    let mut armoured: Vec<PathBuf> = KEYS.iter().map(|(name, _, _)| sources.join(name)).collect();
    armoured.push(sources.join("id_rsa.pem"));
    armoured.push(sources.join("id_rsa_legacy.pem"));
    armoured.push(fixture.ssh().join("id_ecdsa_pem"));
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    for path in &armoured {
        let text = fs::read_to_string(path).unwrap();
        let label = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("-----BEGIN "))
            .and_then(|l| l.strip_suffix("-----"))
            .unwrap()
            .to_owned();
        let body = base64_decode(&armour_body_lines(&text).concat());
        let step = body.len().div_ceil(DAMAGE_PER_KEY);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for at in (0..body.len()).step_by(step) {
            let cut = armour(&label, &body[..at]);
            variants.push((format!("{name} cut at {at}"), cut.into_bytes()));
            let mut changed = body.clone();
            changed[at] ^= 0x41;
            let changed = armour(&label, &changed);
            variants.push((format!("{name} byte {at} changed"), changed.into_bytes()));
        }
    }
    let ppk = fs::read(fixture.ssh().join("id_rsa.ppk")).unwrap();
    let step = ppk.len().div_ceil(DAMAGE_PER_KEY);
    for at in (0..ppk.len()).step_by(step) {
        variants.push((format!("id_rsa.ppk cut at {at}"), ppk[..at].to_vec()));
        let mut changed = ppk.clone();
        changed[at] = if changed[at] == b'A' { b'/' } else { b'A' };
        variants.push((format!("id_rsa.ppk character {at} changed"), changed));
    }

    let mut said = HashSet::new();
    let (mut keys, mut malformed) = (0, 0);
    for (what, bytes) in &variants {
        let run = std::panic::catch_unwind(|| {
            let mut out = String::new();
            let inspection = inspect(bytes);
            if let Inspection::Malformed { error, .. } = &inspection {
                writeln!(out, "{error}").unwrap();
            }
            writeln!(out, "{inspection:?}").unwrap();
            if let Some(found) = std::str::from_utf8(bytes).ok().and_then(armor::find) {
                writeln!(out, "{found:?}").unwrap();
            }
            match decrypt::prepare(bytes) {
                Ok(unlocker) => writeln!(out, "{unlocker:?} {}", unlocker.protection()),
                Err(e) => writeln!(out, "{e}\n{e:?}"),
            }
            .unwrap();
            (inspection, out)
        });
        let (inspection, out) = run.unwrap_or_else(|_| panic!("keycheck panicked on {what}"));
        match inspection {
            Inspection::Key(_) => keys += 1,
            Inspection::Malformed { .. } => malformed += 1,
            Inspection::NotKey(_) => {}
        }
        said.insert(out);
    }
    assert!(
        keys > 1000 && malformed > 1000,
        "the damage did not reach both outcomes: {keys} keys, {malformed} malformed of {}",
        variants.len()
    );
    let mut all: Vec<&String> = said.iter().collect();
    all.sort();
    let text = all
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    fixture
        .scanner
        .assert_clean("what the parsers say", text.as_bytes(), &[]);
}

/// The background agent at trace level, with a real ssh-agent holding every key (whose
/// 2 s cache window it enforces, so keys are removed and notified) and a real
/// notification server: its log, everything on the session bus, what the server
/// received, `keycheck status` and every file it leaves.
#[test]
fn no_secret_in_the_agents_log_notifications_bus_or_state() {
    let fixture = Fixture::new();
    let home = fixture.home().to_path_buf();
    let scratch = tempfile::tempdir().unwrap();
    let ssh_agent = fixture.agent_with_every_key(scratch.path());
    let policy = scratch.path().join("policy.toml");
    fs::write(&policy, "version = 1\n[cache]\nlaptop = \"2s\"\n").unwrap();
    let desktop = Desktop::start();
    let bus_log = scratch.path().join("bus.log");
    let mut monitor = desktop
        .tool("dbus-monitor")
        .arg("--session")
        .stdout(fs::File::create(&bus_log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("dbus-monitor to listen", Duration::from_secs(10), || {
        fs::read_to_string(&bus_log)
            .unwrap_or_default()
            .contains("NameLost")
    });

    let log = scratch.path().join("agent.log");
    let mut cmd = keycheck(&home);
    cmd.args(["agent", "--poll-interval", "1", "--policy"])
        .arg(&policy)
        .env("KEYCHECK_LOG", "trace")
        .env("RUST_BACKTRACE", "1")
        .env("SSH_AUTH_SOCK", &ssh_agent.socket)
        .envs(desktop.envs())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap());
    let mut agent = KillOnDrop(cmd.spawn().unwrap());
    let state_file = fixture.state_dir().join("agent-state.json");
    let state = |pred: &dyn Fn(&Value) -> bool| {
        fs::read(&state_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|s| s["pid"] == agent.0.id() && pred(s))
    };
    let agent_log = || fs::read_to_string(&log).unwrap_or_default();
    wait_until("the agent's first check", Duration::from_secs(20), || {
        state(&|s| s["check"]["summary"]["private"] == PRIVATE_KEYS).is_some()
    });
    // The window passes: every key is removed from the ssh-agent, and notified.
    wait_until("the ssh-agent emptied", Duration::from_secs(20), || {
        agent_log().matches("key removed from its agent").count() >= KEYS.len()
    });
    let listed = ssh_agent.listed();
    assert!(!listed.contains("SHA256:"), "still loaded: {listed}");
    // A change and a reload while it runs.
    support::set_mode(&fixture.ssh().join("id_rsa"), 0o644);
    run_ok(Command::new("kill").args(["-HUP", &agent.0.id().to_string()]));
    wait_until("the permission finding", Duration::from_secs(20), || {
        state(&|s| s.to_string().contains("file-permissions")).is_some()
    });
    wait_until("the reload", Duration::from_secs(10), || {
        agent_log().contains("SIGHUP")
    });
    // What was notified: the unprotected keys, the removals, the file's mode.
    let mut received = Vec::new();
    wait_until("the notifications", Duration::from_secs(20), || {
        received = desktop.received();
        let said = format!("{received:?}");
        [
            "passphrase-missing",
            "removed from ssh-agent",
            "file-permissions",
        ]
        .iter()
        .all(|what| said.contains(what))
    });

    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    for args in [vec!["status"], vec!["status", "--format", "json"]] {
        let run = run_keycheck(&home, &[], &args, &[0, 1]);
        outputs.push((run.what.clone(), run.stdout.into_bytes()));
        outputs.push((format!("{} stderr", run.what), run.stderr.into_bytes()));
    }
    run_ok(Command::new("kill").args(["-TERM", &agent.0.id().to_string()]));
    let status = agent.0.wait().unwrap();
    assert!(
        status.success(),
        "the agent exited {status}:\n{}",
        agent_log()
    );
    let history = run_ok(desktop.tool("dunstctl").arg("history")).stdout;
    let _ = monitor.kill();
    let _ = monitor.wait();

    let log_text = agent_log();
    assert!(
        log_text.contains("TRACE") && log_text.contains("key removed from its agent"),
        "the log is not at trace level:\n{log_text}"
    );
    assert!(!log_text.contains("panicked"), "{log_text}");
    let bus = fs::read(&bus_log).unwrap();
    assert!(
        String::from_utf8_lossy(&bus).contains("member=Notify"),
        "no notification on the bus"
    );
    assert!(
        received
            .iter()
            .any(|n| n.body_text().contains("id_ed25519")),
        "{received:#?}"
    );
    outputs.push(("the agent's log".to_owned(), log_text.into_bytes()));
    outputs.push(("the session bus (dbus-monitor)".to_owned(), bus));
    outputs.push(("dunstctl history".to_owned(), history));
    outputs.push((
        "the notifications received".to_owned(),
        format!("{received:?}").into_bytes(),
    ));
    let db = fixture.state_dir().join("keycheck.db");
    outputs.push(("keycheck.db rows".to_owned(), sqlite_dump(&db).into_bytes()));
    for (what, bytes) in &outputs {
        fixture.scanner.assert_clean(what, bytes, &[]);
    }
    let files = fixture.assert_home_clean(None);
    assert!(files >= KEYS.len() * 2 + 3, "only {files} files in HOME");
    drop(ssh_agent);
    desktop.close();
}

/// Kills the child when dropped (a failing test leaves no agent behind).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

// ---------------------------------------------------------------------------------------
// The agent's process
// ---------------------------------------------------------------------------------------

/// Run as the agent's user (`nobody` when the tests run as root, since root may read and
/// trace anything): forks a control process of its own (dumpable, with the core size
/// limit raised to the hard limit), then for the agent and the control reports who owns
/// `/proc/PID/status` (root for a process that is not dumpable), the core size limits, whether
/// `/proc/PID/environ` can be read and `/proc/PID/mem` opened, and whether
/// `ptrace(PTRACE_ATTACH)` succeeds (the control is then detached). Prints JSON.
const PROBE: &str = r#"
import ctypes, errno, json, os, resource, sys, time
agent = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_ATTACH, PTRACE_DETACH, WALL = 16, 17, 0x40000000
ready_r, ready_w = os.pipe()
control = os.fork()
if control == 0:
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    os.write(ready_w, b"x")
    time.sleep(60)
    os._exit(0)
os.read(ready_r, 1)

def name(e):
    return errno.errorcode.get(e, str(e))

def probe(pid):
    out = {"owner": os.stat(f"/proc/{pid}/status").st_uid}
    with open(f"/proc/{pid}/limits") as f:
        out["core"] = [l.split()[4:6] for l in f if l.startswith("Max core file size")][0]
    for what in ("environ", "mem"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as f:
                if what == "environ":
                    f.read()
            out[what] = "ok"
        except OSError as e:
            out[what] = name(e.errno)
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
        os.waitpid(pid, WALL)
        libc.ptrace(PTRACE_DETACH, pid, None, None)
        out["ptrace"] = "ok"
    else:
        out["ptrace"] = name(ctypes.get_errno())
    return out

result = {"uid": os.getuid(), "agent": probe(agent), "control": probe(control)}
os.kill(control, 9)
os.waitpid(control, 0)
print(json.dumps(result))
"#;

/// The hard core size limit of this process (`unlimited` or a number of bytes).
fn hard_core_limit() -> String {
    let limits = fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    line.split_whitespace().nth(5).unwrap().to_owned()
}

/// `keycheck agent` makes its process non-dumpable (`PR_SET_DUMPABLE` 0) and sets its
/// core size limit to 0, soft and hard: probed as the agent's own user (nobody, with
/// `setpriv`, when the tests run as root), it cannot read the agent's environment, open
/// its memory or `ptrace` it, while all three work on a control process of that user;
/// `/proc/PID/*` of the agent belong to root; and its core limit is 0 although it was
/// started with the hard limit as its soft and hard limit (`prlimit`).
#[test]
fn the_agent_cannot_be_dumped_or_traced() {
    support::require_tools();
    support::require_tool("python3", "python3");
    support::require_tool("prlimit", "util-linux");
    let root = rustix::process::geteuid().is_root();
    let nobody = 65534;
    // A 0755 dir the agent's user can reach, with a copy of the binary (the checkout may
    // be under a home only its owner can enter) and the agent's HOME.
    let dir = tempfile::tempdir().unwrap();
    support::set_mode(dir.path(), 0o755);
    let bin = dir.path().join("keycheck");
    fs::copy(env!("CARGO_BIN_EXE_keycheck"), &bin).unwrap();
    support::set_mode(&bin, 0o755);
    let home = dir.path().join("home");
    let ssh = home.join(".ssh");
    fs::create_dir_all(&ssh).unwrap();
    support::keygen(&ssh, "id_ed25519", "ed25519", "", &[]);
    if root {
        for path in [
            &home,
            &ssh,
            &ssh.join("id_ed25519"),
            &ssh.join("id_ed25519.pub"),
        ] {
            std::os::unix::fs::chown(path, Some(nobody), Some(nobody)).unwrap();
        }
    }
    support::set_mode(&home, 0o700);
    support::set_mode(&ssh, 0o700);
    let as_user = |cmd: &mut Command| {
        if root {
            cmd.args([
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
            ]);
        }
    };

    let hard = hard_core_limit();
    assert_ne!(
        hard, "0",
        "the hard core size limit is 0 already: the test cannot tell what the agent does"
    );
    let log = dir.path().join("agent.log");
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--core={hard}:{hard}")).arg("--");
    as_user(&mut cmd);
    cmd.arg(&bin)
        .args(["agent", "--poll-interval", "60"])
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .env("KEYCHECK_LOG", "info")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap());
    let mut agent = KillOnDrop(cmd.spawn().unwrap());
    let pid = agent.0.id();
    let state_file = home.join(".local/state/keycheck/agent-state.json");
    wait_until("the agent's first check", Duration::from_secs(20), || {
        fs::read(&state_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|s| s["pid"] == pid && s["check"]["summary"]["private"] == 1)
    });
    // prlimit and setpriv exec what they run: the pid is the agent's, running as the user.
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = if root {
        nobody
    } else {
        rustix::process::getuid().as_raw()
    };
    assert!(status.starts_with("Name:\tkeycheck\n"), "{status}");
    assert!(
        status.contains(&format!("\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")),
        "{status}"
    );

    let mut probe = Command::new("prlimit");
    probe.arg(format!("--core={hard}:{hard}")).arg("--");
    as_user(&mut probe);
    // nobody cannot use a python3 installed under root's home (pyenv): the system's.
    let path = if root {
        "/usr/local/bin:/usr/bin:/bin".into()
    } else {
        std::env::var_os("PATH").unwrap_or_default()
    };
    probe
        .args(["python3", "-c", PROBE, &pid.to_string()])
        .env_clear()
        .env("PATH", path)
        .current_dir("/");
    let out = run_with_deadline(&mut probe, Duration::from_secs(30));
    assert_eq!(
        out.code, 0,
        "the probe failed:\n{}\n{}",
        out.stdout, out.stderr
    );
    let seen: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(seen["uid"], uid, "{seen:#}");
    let yama = fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").unwrap_or_default();
    let control = &seen["control"];
    assert_eq!(control["owner"], uid, "{seen:#}");
    assert_eq!(control["core"], serde_json::json!([hard, hard]), "{seen:#}");
    assert_eq!(
        control["environ"], "ok",
        "the probe reads its own processes: {seen:#}"
    );
    if yama.trim().parse::<u32>().unwrap_or(0) < 2 {
        // Yama's mode 2 and 3 refuse PTRACE_ATTACH to everyone but root (CAP_SYS_PTRACE).
        assert_eq!(control["mem"], "ok", "{seen:#}");
        assert_eq!(control["ptrace"], "ok", "{seen:#}");
    }
    let agent_seen = &seen["agent"];
    assert_eq!(
        agent_seen["owner"], 0,
        "/proc/PID/* of a non-dumpable process are root's: {seen:#}"
    );
    assert_eq!(
        agent_seen["core"],
        serde_json::json!(["0", "0"]),
        "{seen:#}"
    );
    assert_eq!(agent_seen["environ"], "EACCES", "{seen:#}");
    assert_eq!(agent_seen["mem"], "EACCES", "{seen:#}");
    assert_eq!(agent_seen["ptrace"], "EPERM", "{seen:#}");

    // Still running, unharmed by the probe; stops cleanly.
    run_ok(Command::new("kill").args(["-TERM", &pid.to_string()]));
    let status = agent.0.wait().unwrap();
    let log = fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "the agent exited {status}:\n{log}");
    assert!(!log.contains("could not"), "{log}");
}

// ---------------------------------------------------------------------------------------
// The device key in a real Secret Service
// ---------------------------------------------------------------------------------------

/// Set in the child that reads the device key back from the keyring.
const READER_ENV: &str = "KEYCHECK_SECRETS_KEYRING_READER";

/// Not a test of its own: the child side of
/// `the_device_key_in_a_secret_service_never_crosses_the_bus_in_the_clear`, run inside
/// its D-Bus session, prints the device key the keyring holds (base64, after `@@ `).
/// Does nothing unless `KEYCHECK_SECRETS_KEYRING_READER` is set.
#[cfg(target_os = "linux")]
#[test]
fn keyring_reader() {
    use std::io::Write as _;
    use std::sync::Arc;

    use keycheck::sys::device_key::{KEYRING_ACCOUNT, KEYRING_SERVICE};
    if std::env::var_os(READER_ENV).is_none() {
        return;
    }
    let store: Arc<keyring_core::CredentialStore> =
        zbus_secret_service_keyring_store::Store::new().expect("the Secret Service");
    let entry = store
        .build(KEYRING_SERVICE, KEYRING_ACCOUNT, None)
        .expect("the keyring entry");
    let secret = entry.get_secret().expect("the device key in the keyring");
    writeln!(std::io::stdout(), "@@ {}", STANDARD.encode(secret)).unwrap();
}

/// `keycheck report` with a real gnome-keyring on dbus-run-session's bus keeps the device
/// key there (no key file), and every message on that bus while it creates, stores and
/// uses it is recorded (`dbus-monitor`): the Secret Service session is the encrypted one
/// (`dh-ietf1024-sha256-aes128-cbc-pkcs7`), and the key, read back from the keyring
/// afterwards, is in none of those messages, outputs or files.
#[cfg(target_os = "linux")]
#[test]
fn the_device_key_in_a_secret_service_never_crosses_the_bus_in_the_clear() {
    support::require_tool("dbus-run-session", "dbus");
    support::require_tool("gnome-keyring-daemon", "gnome-keyring");
    let mut fixture = Fixture::new();
    let home = fixture.home().to_path_buf();
    let out = tempfile::tempdir().unwrap();
    let runtime = out.path().join("run");
    fs::create_dir(&runtime).unwrap();
    support::set_mode(&runtime, 0o700);
    let script = r#"
eval "$(printf '%s' "$KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
dbus-monitor --session >"$OUT/bus.log" 2>/dev/null &
monitor=$!
i=0
until grep -q NameLost "$OUT/bus.log" 2>/dev/null; do
  i=$((i + 1)); [ "$i" -lt 200 ] || { echo "dbus-monitor did not start" >&2; exit 3; }
  sleep 0.05
done
"$KC" report -o "$OUT/report.json" >"$OUT/report.out" 2>"$OUT/report.err"; echo $? >"$OUT/report.rc"
"$KC" report --signer-line >"$OUT/line.out" 2>"$OUT/line.err"; echo $? >"$OUT/line.rc"
"$KC" device-key show >"$OUT/show.out" 2>"$OUT/show.err"; echo $? >"$OUT/show.rc"
kill "$monitor"
wait "$monitor"
"$TEST_BINARY" --exact keyring_reader --nocapture --test-threads=1 -q >"$OUT/reader.out" 2>"$OUT/reader.err"
echo $? >"$OUT/reader.rc"
"#;
    let mut cmd = Command::new("dbus-run-session");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("LANG", "C.UTF-8")
        .env("NO_COLOR", "1")
        .env("KEYCHECK_LOG", "trace")
        .env("RUST_BACKTRACE", "1")
        .env("KC", env!("CARGO_BIN_EXE_keycheck"))
        .env("TEST_BINARY", std::env::current_exe().unwrap())
        .env(READER_ENV, "1")
        .env("OUT", out.path())
        .env("KEYRING_PASSWORD", "throwaway-keyring-password")
        .args(["--", "sh", "-c", script]);
    let session = run_with_deadline(&mut cmd, Duration::from_secs(60));
    assert_eq!(
        session.code, 0,
        "dbus-run-session: {}{}",
        session.stdout, session.stderr
    );
    let read = |name: &str| fs::read(out.path().join(name)).unwrap_or_default();
    let text = |name: &str| String::from_utf8_lossy(&read(name)).into_owned();
    for (run, codes) in [
        ("report", &["0", "1"][..]),
        ("line", &["0"]),
        ("show", &["0"]),
        ("reader", &["0"]),
    ] {
        let rc = text(&format!("{run}.rc"));
        assert!(
            codes.contains(&rc.trim()),
            "{run} exited {rc}:\n{}\n{}",
            text(&format!("{run}.out")),
            text(&format!("{run}.err"))
        );
    }
    let shown: Value = serde_json::from_slice(&read("show.out")).unwrap();
    assert_eq!(shown["store"]["kind"], "secret-service", "{shown:#}");
    assert!(
        !fixture.state_dir().join("device-key").exists(),
        "a key file beside the keyring"
    );

    // The key as the keyring holds it.
    let reader = text("reader.out");
    let encoded = reader
        .lines()
        .find_map(|l| l.strip_prefix("@@ "))
        .unwrap_or_else(|| panic!("the reader printed no key:\n{reader}"));
    let key = PrivateKey::from_openssh(STANDARD.decode(encoded).unwrap()).unwrap();
    let Some(ed25519) = key.key_data().ed25519() else {
        panic!("the device key is not Ed25519");
    };
    let public = key.public_key().to_openssh().unwrap();
    let without_comment: Vec<&str> = public.split_whitespace().take(2).collect();
    assert_eq!(
        shown["public_key"],
        without_comment.join(" "),
        "another key"
    );
    fixture
        .scanner
        .add("device key seed", &ed25519.private.to_bytes());

    // The bus saw the key being stored and used, over an encrypted session only.
    let bus = read("bus.log");
    let bus_text = String::from_utf8_lossy(&bus);
    for call in [
        "member=OpenSession",
        "member=CreateItem",
        "member=GetSecret",
    ] {
        assert!(bus_text.contains(call), "no {call} on the bus:\n{bus_text}");
    }
    assert!(
        bus_text.contains("string \"dh-ietf1024-sha256-aes128-cbc-pkcs7\"")
            && !bus_text.contains("string \"plain\""),
        "the Secret Service session is not (only) the encrypted one:\n{bus_text}"
    );
    assert!(
        !bus_text.contains("OPENSSH PRIVATE KEY"),
        "the key in the clear on the bus"
    );
    fixture.scanner.assert_clean("the session bus", &bus, &[]);
    for name in [
        "report.out",
        "report.err",
        "report.json",
        "report.json.sig",
        "line.out",
        "line.err",
        "show.out",
        "show.err",
    ] {
        fixture.scanner.assert_clean(name, &read(name), &[]);
    }
    fixture.assert_home_clean(None);
}
