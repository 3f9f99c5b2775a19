//! keycheck against the real tools: every fact it reports about a generated key must be
//! what `ssh-keygen` (or `puttygen`, for formats OpenSSH cannot read) says about it.
//!
//! Needs `ssh-keygen` (openssh-client) and `puttygen` (putty-tools); a missing tool fails
//! the tests, it never skips them.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{
    algorithm_of_line, armour_body_lines, base64_decode, check, check_json, hex, keygen,
    listing_of_public_line, opt_str, opt_u32, ppk_header_number, puttygen_needs_passphrase,
    puttygen_public_openssh, puttygen_ssh1_bits, run, run_ok, shared_matrix, ssh_keygen_l,
    ssh_keygen_y, Entry, Listing, Matrix, Place, Truth, PASS,
};

/// What the real tools say about one matrix file.
#[derive(Debug)]
struct Real {
    algorithm: Option<String>,
    bits: Option<u32>,
    fingerprint: Option<String>,
    encrypted: bool,
    /// `None` where "does OpenSSH load it" is not a meaningful question (RFC 4716).
    openssh_loads: Option<bool>,
}

fn from_listing(line: &str, listing: &Listing) -> (Option<String>, Option<u32>, Option<String>) {
    (
        Some(algorithm_of_line(line)),
        Some(listing.bits),
        Some(listing.fingerprint.clone()),
    )
}

/// Asks the real tools about `e`, cross-checking them against each other and against how
/// the file was generated. Problems with the *tools' view* panic (the matrix is wrong).
fn real_facts(m: &Matrix, e: &Entry) -> Real {
    let path = &e.path;
    let ctx = format!("{} ({})", e.name, e.how);
    match e.truth {
        Truth::OpensshPrivate => {
            // The truth from the key itself: its public half as OpenSSH derives it.
            let line = ssh_keygen_y(path, e.passphrase.unwrap_or(""))
                .unwrap_or_else(|| panic!("{ctx}: ssh-keygen -y cannot load a generated key"));
            let listing = listing_of_public_line(&line);
            let encrypted = ssh_keygen_y(path, "").is_none();
            assert_eq!(
                encrypted,
                e.passphrase.is_some(),
                "{ctx}: ssh-keygen -y -P '' disagrees with how the key was generated"
            );
            // What `ssh-keygen -l` prints for the file (it may fall back to FILE.pub).
            let printed = ssh_keygen_l(path);
            let hidden = encrypted && e.hides_public;
            if hidden && e.public_file.is_none() {
                assert_eq!(
                    printed, None,
                    "{ctx}: ssh-keygen -l read a hidden public half without a .pub"
                );
                return Real {
                    algorithm: None,
                    bits: None,
                    fingerprint: None,
                    encrypted,
                    openssh_loads: Some(true),
                };
            }
            let printed = printed.unwrap_or_else(|| panic!("{ctx}: ssh-keygen -l failed"));
            assert_eq!(
                (printed.bits, &printed.fingerprint),
                (listing.bits, &listing.fingerprint),
                "{ctx}: ssh-keygen -l and ssh-keygen -y | ssh-keygen -l disagree"
            );
            let (algorithm, bits, fingerprint) = from_listing(&line, &listing);
            Real {
                algorithm,
                bits,
                fingerprint,
                encrypted,
                openssh_loads: Some(true),
            }
        }
        Truth::Puttygen => {
            let line = puttygen_public_openssh(path, e.passphrase, &m.work);
            let listing = listing_of_public_line(&line);
            let encrypted = puttygen_needs_passphrase(path, &m.work);
            assert_eq!(
                encrypted,
                e.passphrase.is_some(),
                "{ctx}: puttygen with an empty passphrase disagrees with how it was generated"
            );
            let (algorithm, bits, fingerprint) = from_listing(&line, &listing);
            Real {
                algorithm,
                bits,
                fingerprint,
                encrypted,
                openssh_loads: Some(ssh_keygen_y(path, e.passphrase.unwrap_or("")).is_some()),
            }
        }
        Truth::Ssh1 => {
            // ssh-keygen 9.2 cannot read SSH-1 keys at all; puttygen -l gives the bits.
            assert!(
                ssh_keygen_l(path).is_none(),
                "{ctx}: ssh-keygen -l read SSH-1?"
            );
            let encrypted = puttygen_needs_passphrase(path, &m.work);
            assert_eq!(encrypted, e.passphrase.is_some(), "{ctx}: encryption");
            Real {
                algorithm: Some("rsa1".to_owned()),
                bits: Some(puttygen_ssh1_bits(path)),
                fingerprint: None, // not compared: no tool prints a SHA256 for SSH-1
                encrypted,
                openssh_loads: Some(false),
            }
        }
        Truth::PublicLine => {
            let text = fs::read_to_string(path).expect("read public key");
            let listing =
                ssh_keygen_l(path).unwrap_or_else(|| panic!("{ctx}: ssh-keygen -l failed"));
            let (algorithm, bits, fingerprint) = from_listing(&text, &listing);
            Real {
                algorithm,
                bits,
                fingerprint,
                encrypted: false,
                openssh_loads: Some(true),
            }
        }
        Truth::Rfc4716 => {
            let out = run_ok(Command::new("ssh-keygen").args(["-i", "-f"]).arg(path));
            let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let listing = listing_of_public_line(&line);
            let (algorithm, bits, fingerprint) = from_listing(&line, &listing);
            Real {
                algorithm,
                bits,
                fingerprint,
                encrypted: false,
                openssh_loads: None,
            }
        }
    }
}

/// `AES-128-CBC`, `aes128-cbc` and `aes128_cbc` name the same cipher; used only for the
/// spellings the design does not fix (PKCS#8 PBES2, ssh.com, SSH-1).
fn loose(s: &str) -> String {
    s.to_ascii_lowercase().replace(['-', '_'], "")
}

/// Compares keycheck's entry for `e` with the truth; returns every difference.
fn compare(m: &Matrix, e: &Entry, key: &Value, real: &Real) -> Vec<String> {
    let bad = std::cell::RefCell::new(Vec::new());
    let expect = |field: &str, got: &Value, want: Value| {
        if *got != want {
            bad.borrow_mut()
                .push(format!("{field}: keycheck {got}, expected {want}"));
        }
    };
    expect("kind", &key["kind"], Value::from(e.kind));
    expect("format", &key["format"], Value::from(e.format));
    expect(
        "algorithm",
        &key["algorithm"],
        Value::from(real.algorithm.clone()),
    );
    expect("bits", &key["bits"], Value::from(real.bits));
    if e.truth != Truth::Ssh1 {
        expect(
            "fingerprint",
            &key["fingerprint"],
            Value::from(real.fingerprint.clone()),
        );
    }
    expect("encrypted", &key["encrypted"], Value::from(real.encrypted));
    if let Some(loads) = real.openssh_loads {
        expect("openssh_loads", &key["openssh_loads"], Value::from(loads));
    }
    expect("quirks", &key["quirks"], serde_json::json!([]));
    // Where hidden public facts came from.
    // An unencrypted PKCS#8 DSA key holds only x, not the public y (deriving it takes a
    // modular exponentiation), so its public facts come from the .pub as well.
    let dsa_pkcs8 = e.format == "pkcs8-pem" && real.algorithm.as_deref() == Some("ssh-dss");
    let want_from = ((real.encrypted && e.hides_public) || dsa_pkcs8)
        .then_some(())
        .and(e.public_file.as_ref())
        .map(|p| m.dir.join(p).to_string_lossy().into_owned());
    expect("public_from", &key["public_from"], Value::from(want_from));
    // Protection.
    if real.encrypted {
        match e.format {
            "sshcom" | "pkcs8-encrypted-pem" | "ssh1" => {
                let got = opt_str(&key["cipher"]).map(loose);
                let want = e.cipher.as_deref().map(loose);
                if got != want {
                    bad.borrow_mut().push(format!(
                        "cipher: keycheck {}, expected {want:?}",
                        key["cipher"]
                    ));
                }
            }
            _ => expect("cipher", &key["cipher"], Value::from(e.cipher.clone())),
        }
        if e.kdf.is_some() {
            expect("kdf", &key["kdf"], Value::from(e.kdf.clone()));
        }
        if e.kdf_rounds.is_some() {
            expect("kdf_rounds", &key["kdf_rounds"], Value::from(e.kdf_rounds));
        }
        if e.format == "putty-v3" {
            let memory = ppk_header_number(&e.path, "Argon2-Memory");
            let parallelism = ppk_header_number(&e.path, "Argon2-Parallelism");
            expect(
                "kdf_memory_kib",
                &key["kdf_memory_kib"],
                Value::from(memory),
            );
            expect(
                "kdf_parallelism",
                &key["kdf_parallelism"],
                Value::from(parallelism),
            );
        }
    } else {
        expect("cipher", &key["cipher"], Value::Null);
        expect("kdf", &key["kdf"], Value::Null);
        expect("kdf_rounds", &key["kdf_rounds"], Value::Null);
    }
    if e.is_private() {
        expect("mode", &key["mode"], Value::from("0600"));
    }
    expect(
        "hardware_backed",
        &key["hardware_backed"],
        Value::from(false),
    );
    bad.into_inner()
}

/// Every file appears exactly once across keys/errors/skipped, and nothing else appears.
fn accounting_problems(m: &Matrix, report: &support::Report) -> Vec<String> {
    let places = report.places();
    let mut problems = Vec::new();
    for e in &m.entries {
        let p = e.path.to_string_lossy().into_owned();
        match places.get(&p).map(Vec::as_slice) {
            Some([Place::Key]) => {}
            Some(other) => problems.push(format!(
                "{} [{}]: listed in {other:?}, not as one key: {}",
                e.name,
                e.how,
                report.reasons_for(&p).join("; ")
            )),
            None => problems.push(format!("{}: missing from keys/errors/skipped", e.name)),
        }
    }
    let known: BTreeSet<String> = m
        .entries
        .iter()
        .map(|e| e.path.to_string_lossy().into_owned())
        .collect();
    for p in places.keys() {
        if !known.contains(p) {
            problems.push(format!("{p}: reported but not a matrix file"));
        }
    }
    problems
}

#[test]
fn matrix_facts_match_real_tools() {
    let m = shared_matrix();
    eprintln!(
        "generated {} files in {:.1?} under {}",
        m.entries.len(),
        m.elapsed,
        m.dir.display()
    );
    // First what the real tools say (this also validates the matrix itself).
    let started = std::time::Instant::now();
    let reals: Vec<Real> = m.entries.iter().map(|e| real_facts(&m, e)).collect();
    eprintln!("asked the real tools in {:.1?}", started.elapsed());
    let home = tempfile::tempdir().expect("home");
    let (run, report) = check_json(home.path(), &m.dir);
    let mut failures = accounting_problems(&m, &report);
    if run.code != 1 || !report.has_failing_finding() {
        failures.push(format!(
            "exit {} (failing findings: {}): the matrix holds unencrypted keys, expected exit 1",
            run.code,
            report.has_failing_finding()
        ));
    }
    let places = report.places();
    for (e, real) in m.entries.iter().zip(&reals) {
        if places
            .get(e.path.to_string_lossy().as_ref())
            .map(Vec::as_slice)
            != Some(&[Place::Key])
        {
            continue; // already a failure above
        }
        let key = report.key(&e.path);
        let bad = compare(&m, e, key, real);
        if !bad.is_empty() {
            failures.push(format!(
                "{} [{}]\n      {}",
                e.name,
                e.how,
                bad.join("\n      ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems over {} files (keycheck vs the real tools):\n  {}",
        failures.len(),
        m.entries.len(),
        failures.join("\n  ")
    );
}

#[test]
fn encrypted_pkcs8_without_pub_has_no_public_facts() {
    let m = shared_matrix();
    let home = tempfile::tempdir().expect("home");
    let (_, report) = check_json(home.path(), &m.dir);
    let e = m.entry("ecdsa521-pkcs8-enc-nopub");
    assert!(e.public_file.is_none());
    let key = report.key(&e.path);
    assert_eq!(key["format"], "pkcs8-encrypted-pem", "{key:#}");
    assert_eq!(key["encrypted"], true, "{key:#}");
    assert_eq!(key["algorithm"], Value::Null, "{key:#}");
    assert_eq!(key["fingerprint"], Value::Null, "{key:#}");
    assert_eq!(key["bits"], Value::Null, "{key:#}");
    assert_eq!(key["public_from"], Value::Null, "{key:#}");
    // The same kind of key with its .pub beside it gets the facts from that .pub.
    let with = m.entry("ecdsa256-pkcs8-enc");
    let key = report.key(&with.path);
    let pub_path = m.dir.join(with.public_file.as_ref().expect("has .pub"));
    assert_eq!(
        key["public_from"],
        pub_path.to_string_lossy().as_ref(),
        "{key:#}"
    );
    assert_eq!(key["algorithm"], "ecdsa-sha2-nistp256", "{key:#}");
}

// ---------------------------------------------------------------------------------------
// Quirks: what real OpenSSH does with text that differs from what its writer produces
// ---------------------------------------------------------------------------------------

/// Measured on OpenSSH 9.2p1 (Debian 12) linked with OpenSSL 3.0, by
/// `ssh-keygen -y -P '' -f FILE` (and `-P keycheck-test` for the encrypted ones), with
/// files at mode 0600. "loads" = exit 0 and the right public key.
///
/// | source \ variant            | CRLF  | text before | text after | body on one line |
/// |-----------------------------|-------|-------------|------------|------------------|
/// | OpenSSH, unencrypted        | fails | fails       | loads      | loads            |
/// | OpenSSH, encrypted          | fails | fails       | loads      | loads            |
/// | PKCS#1 PEM, unencrypted     | loads | loads       | loads      | loads            |
/// | PKCS#1 PEM, encrypted (AES) | loads | loads       | loads      | fails            |
/// | PKCS#8 PEM, encrypted       | loads | loads       | loads      | loads            |
///
/// Also measured by hand (same results, not part of this test): SEC1 and DSA PEM behave
/// as PKCS#1 (unencrypted: all load; `Proc-Type: 4,ENCRYPTED`: one-line body fails);
/// unencrypted PKCS#8 loads in every variant. For an encrypted legacy PEM the limit is
/// the line length: body lines of 64 characters load, 65 or more fail. The OpenSSH
/// failures print `Load key "...": error in libcrypto` (OpenSSH's own reader rejects the
/// file and the PEM fallback cannot read it either).
const QUIRK_TABLE: &[(&str, &str, bool)] = &[
    ("openssh", "crlf", false),
    ("openssh", "before", false),
    ("openssh", "after", true),
    ("openssh", "oneline", true),
    ("openssh-enc", "crlf", false),
    ("openssh-enc", "before", false),
    ("openssh-enc", "after", true),
    ("openssh-enc", "oneline", true),
    ("pkcs1", "crlf", true),
    ("pkcs1", "before", true),
    ("pkcs1", "after", true),
    ("pkcs1", "oneline", true),
    ("pkcs1-enc", "crlf", true),
    ("pkcs1-enc", "before", true),
    ("pkcs1-enc", "after", true),
    ("pkcs1-enc", "oneline", false),
    ("pkcs8-enc", "crlf", true),
    ("pkcs8-enc", "before", true),
    ("pkcs8-enc", "after", true),
    ("pkcs8-enc", "oneline", true),
];

/// The variant's text and the quirk keycheck must report for it.
fn quirk_variant(text: &str, variant: &str) -> (String, &'static str) {
    match variant {
        "crlf" => (text.replace('\n', "\r\n"), "crlf-line-endings"),
        "before" => (
            format!("This is my work key, do not share it\n{text}"),
            "text-before-armor",
        ),
        "after" => (
            format!("{text}copied from the old laptop\n"),
            "text-after-armor",
        ),
        "oneline" => {
            // Keep BEGIN/END, headers and the blank line after them; join the body.
            let mut out = Vec::new();
            let mut body = String::new();
            for line in text.lines() {
                let is_body = !line.starts_with("-----") && !line.is_empty() && !line.contains(':');
                if is_body {
                    body.push_str(line);
                } else {
                    if !body.is_empty() {
                        out.push(std::mem::take(&mut body));
                    }
                    out.push(line.to_owned());
                }
            }
            (out.join("\n") + "\n", "unwrapped-base64")
        }
        other => panic!("unknown variant {other}"),
    }
}

#[test]
fn quirks_match_what_openssh_loads() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let src = tmp.path().join("src");
    let dir = tmp.path().join("quirks");
    fs::create_dir(&src).expect("mkdir");
    fs::create_dir(&dir).expect("mkdir");
    // (name, encrypted, hides public half, path)
    let sources: Vec<(&str, bool, bool, PathBuf)> = vec![
        (
            "openssh",
            false,
            false,
            keygen(&src, "openssh", "ed25519", "", &[]),
        ),
        (
            "openssh-enc",
            true,
            false,
            keygen(&src, "openssh-enc", "ed25519", PASS, &[]),
        ),
        (
            "pkcs1",
            false,
            false,
            keygen(&src, "pkcs1", "rsa", "", &["-b", "2048", "-m", "PEM"]),
        ),
        (
            "pkcs1-enc",
            true,
            true,
            keygen(&src, "pkcs1-enc", "rsa", PASS, &["-b", "2048", "-m", "PEM"]),
        ),
        (
            "pkcs8-enc",
            true,
            true,
            keygen(&src, "pkcs8-enc", "ecdsa", PASS, &["-m", "PKCS8"]),
        ),
    ];
    let mut cases = Vec::new();
    for (name, encrypted, hides, path) in &sources {
        let pass = if *encrypted { PASS } else { "" };
        let truth_line = ssh_keygen_y(path, pass).expect("source loads");
        let truth = listing_of_public_line(&truth_line);
        let text = fs::read_to_string(path).expect("read source");
        for variant in ["crlf", "before", "after", "oneline"] {
            let (bytes, quirk) = quirk_variant(&text, variant);
            let file = format!("{name}.{variant}");
            let vpath = support::write_file(&dir, &file, bytes.as_bytes(), 0o600);
            if *hides {
                // keycheck needs the .pub for the hidden public facts; ssh-keygen -y
                // does not read it.
                fs::copy(
                    format!("{}.pub", path.display()),
                    dir.join(format!("{file}.pub")),
                )
                .expect("copy .pub");
            }
            let real_loads = match ssh_keygen_y(&vpath, pass) {
                Some(line) => {
                    assert_eq!(
                        algorithm_of_line(&line),
                        algorithm_of_line(&truth_line),
                        "{file}: loaded as a different key"
                    );
                    true
                }
                None => false,
            };
            let wrong_pass_loads = if *encrypted {
                ssh_keygen_y(&vpath, "").is_some()
            } else {
                false
            };
            assert!(!wrong_pass_loads, "{file}: loads without its passphrase");
            cases.push((
                file,
                name.to_owned(),
                variant,
                *encrypted,
                quirk,
                real_loads,
                truth.clone(),
            ));
        }
    }

    // The table in this file (and `openssh_loads_with` in src/key.rs) must be what
    // OpenSSH actually does.
    let mut table_wrong = Vec::new();
    for (file, name, variant, _, _, real_loads, _) in &cases {
        let row = QUIRK_TABLE
            .iter()
            .find(|(n, v, _)| n == name && v == variant)
            .unwrap_or_else(|| panic!("no table row for {file}"));
        if row.2 != *real_loads {
            table_wrong.push(format!(
                "{file}: table says {}, ssh-keygen {}",
                row.2, real_loads
            ));
        }
    }
    assert!(
        table_wrong.is_empty(),
        "OpenSSH no longer behaves as QUIRK_TABLE says (update it and openssh_loads_with):\n  {}",
        table_wrong.join("\n  ")
    );

    let home = tempfile::tempdir().expect("home");
    let (_, report) = check_json(home.path(), &dir);
    let mut failures = Vec::new();
    for (file, _, _, encrypted, quirk, real_loads, truth) in &cases {
        let key = report.key(&dir.join(file));
        let mut bad = Vec::new();
        if key["fingerprint"] != truth.fingerprint.as_str() {
            bad.push(format!(
                "fingerprint {} (real {})",
                key["fingerprint"], truth.fingerprint
            ));
        }
        if key["bits"] != truth.bits {
            bad.push(format!("bits {} (real {})", key["bits"], truth.bits));
        }
        if key["encrypted"] != *encrypted {
            bad.push(format!("encrypted {} (real {encrypted})", key["encrypted"]));
        }
        if key["quirks"] != serde_json::json!([quirk]) {
            bad.push(format!("quirks {} (expected [{quirk:?}])", key["quirks"]));
        }
        if key["openssh_loads"] != *real_loads {
            bad.push(format!(
                "openssh_loads {} (ssh-keygen -y: {})",
                key["openssh_loads"],
                if *real_loads { "loads" } else { "fails" }
            ));
        }
        if !bad.is_empty() {
            failures.push(format!("{file}: {}", bad.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "quirk variants reported wrongly:\n  {}",
        failures.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// No private key material in any output
// ---------------------------------------------------------------------------------------

/// Reads an SSH wire string.
fn ssh_string(data: &[u8], at: &mut usize) -> Option<Vec<u8>> {
    let len = u32::from_be_bytes(data.get(*at..*at + 4)?.try_into().ok()?) as usize;
    let s = data.get(*at + 4..*at + 4 + len)?.to_vec();
    *at += 4 + len;
    Some(s)
}

/// The private section of an unencrypted openssh-key-v1 blob.
fn openssh_private_section(blob: &[u8]) -> Vec<u8> {
    let magic = b"openssh-key-v1\0";
    assert!(blob.starts_with(magic), "not openssh-key-v1");
    let mut at = magic.len();
    let _cipher = ssh_string(blob, &mut at).expect("cipher");
    let _kdf = ssh_string(blob, &mut at).expect("kdf");
    let _kdf_opts = ssh_string(blob, &mut at).expect("kdf options");
    let n = u32::from_be_bytes(blob[at..at + 4].try_into().expect("4 bytes"));
    at += 4;
    for _ in 0..n {
        ssh_string(blob, &mut at).expect("public key");
    }
    ssh_string(blob, &mut at).expect("private section")
}

/// 16-byte windows of `private` that do not also occur in `public`, as lower and upper hex.
fn hex_windows(private: &[u8], public: &[u8], out: &mut BTreeSet<String>) {
    for chunk in private.chunks_exact(16) {
        if public.windows(16).any(|w| w == chunk) {
            continue;
        }
        // All-equal runs (padding, zeros) are not secret and match innocently.
        if chunk.iter().all(|b| *b == chunk[0]) {
            continue;
        }
        let h = hex(chunk);
        out.insert(h.to_ascii_uppercase());
        out.insert(h);
    }
}

/// The private components puttygen dumps (`private_*=0x...`), as byte windows.
fn puttygen_private_windows(path: &Path, public: &[u8], out: &mut BTreeSet<String>) {
    let dump = run(Command::new("puttygen").arg(path).args(["-O", "text"]));
    if !dump.status.success() {
        return; // PKCS#8: puttygen cannot read it; the DER windows cover it.
    }
    for line in String::from_utf8_lossy(&dump.stdout).lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if !name.starts_with("private") {
            continue;
        }
        let mut digits = value.trim().trim_start_matches("0x").to_owned();
        if digits.len() % 2 == 1 {
            digits.insert(0, '0');
        }
        let bytes: Vec<u8> = (0..digits.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
            .collect();
        hex_windows(&bytes, public, out);
    }
}

/// Strings that would betray `e`'s private key if they appeared in keycheck's output.
fn private_needles(e: &Entry, base_pub_blob: &[u8]) -> BTreeSet<String> {
    let text = fs::read(&e.path).expect("read key");
    let mut needles = BTreeSet::new();
    match e.format {
        "openssh" | "pkcs1-pem" | "sec1-pem" | "dsa-pem" | "pkcs8-pem" | "sshcom" => {
            let text = String::from_utf8(text).expect("armoured key is text");
            let lines = armour_body_lines(&text);
            for line in &lines {
                if line.len() >= 20 {
                    needles.insert(line.clone());
                }
            }
            let body = base64_decode(&lines.concat());
            let private = if e.format == "openssh" {
                openssh_private_section(&body)
            } else {
                body
            };
            hex_windows(&private, base_pub_blob, &mut needles);
        }
        "putty-v2" | "putty-v3" => {
            let text = String::from_utf8(text).expect("ppk is text");
            let mut lines = text.lines();
            let count: usize = lines
                .by_ref()
                .find_map(|l| l.strip_prefix("Private-Lines: "))
                .and_then(|n| n.trim().parse().ok())
                .expect("Private-Lines");
            let private_lines: Vec<&str> = lines.take(count).collect();
            for line in &private_lines {
                if line.len() >= 20 {
                    needles.insert((*line).to_owned());
                }
            }
            hex_windows(
                &base64_decode(&private_lines.concat()),
                base_pub_blob,
                &mut needles,
            );
        }
        "ssh1" => {}
        other => panic!("no needles for format {other}"),
    }
    puttygen_private_windows(&e.path, base_pub_blob, &mut needles);
    needles
}

#[test]
fn output_never_contains_private_key_material() {
    let m = shared_matrix();
    let home = tempfile::tempdir().expect("home");
    let dir_arg = m.dir.as_os_str();
    let json = check(home.path(), [dir_arg, "--format".as_ref(), "json".as_ref()]);
    let human = check(home.path(), [dir_arg]);
    let human_explicit = check(
        home.path(),
        [dir_arg, "--format".as_ref(), "human".as_ref()],
    );
    for run in [&json, &human, &human_explicit] {
        assert!(
            run.code == 0 || run.code == 1,
            "keycheck exited {}: {}",
            run.code,
            run.stderr
        );
    }
    assert!(!human.stdout.trim().is_empty(), "human output is empty");
    let outputs = [
        ("json stdout", &json.stdout),
        ("json stderr", &json.stderr),
        ("human stdout", &human.stdout),
        ("human stderr", &human.stderr),
        ("human (--format human) stdout", &human_explicit.stdout),
    ];
    let mut checked = 0;
    let mut leaks = Vec::new();
    for e in m
        .entries
        .iter()
        .filter(|e| e.is_private() && e.passphrase.is_none())
    {
        let pub_name = e.public_file.clone();
        let public_blob = match &pub_name {
            Some(p) => {
                let line = fs::read_to_string(m.dir.join(p)).expect("read .pub");
                base64_decode(line.split_whitespace().nth(1).expect("pub base64"))
            }
            None => Vec::new(),
        };
        let needles = private_needles(e, &public_blob);
        assert!(
            !needles.is_empty() || e.format == "ssh1",
            "{}: no private material found to look for",
            e.name
        );
        checked += 1;
        for (what, out) in &outputs {
            for needle in &needles {
                if out.contains(needle.as_str()) {
                    leaks.push(format!(
                        "{what} contains private material of {} ({needle})",
                        e.name
                    ));
                }
            }
        }
    }
    assert!(
        checked >= 20,
        "only {checked} unencrypted private keys checked"
    );
    assert!(
        leaks.is_empty(),
        "private key material in output:\n  {}",
        leaks.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// The committed fixtures
// ---------------------------------------------------------------------------------------

#[test]
fn committed_fixtures_match_expected_txt() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ssh");
    let expected = fs::read_to_string(dir.join("expected.txt"))
        .expect("tests/fixtures/ssh/expected.txt (run tests/fixtures/ssh/generate.sh)");
    // Copy to a temp dir with the modes keycheck expects (git does not keep 0600).
    let tmp = tempfile::tempdir().expect("tmp");
    let copy = tmp.path().join("ssh");
    fs::create_dir(&copy).expect("mkdir");
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).expect("read fixtures") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "generate.sh" || name == "expected.txt" {
            continue;
        }
        fs::copy(entry.path(), copy.join(&name)).expect("copy fixture");
        names.push(name);
    }
    let home = tempfile::tempdir().expect("home");
    let (_, report) = check_json(home.path(), &copy);
    let mut failures = Vec::new();
    let mut seen = 0;
    for line in expected
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        // `NAME: BITS SHA256:... COMMENT (TYPE)`
        let (name, listing) = line.split_once(": ").expect("NAME: listing");
        let path = copy.join(name);
        seen += 1;
        let [key] = report.keys_at(&path)[..] else {
            failures.push(format!(
                "{name}: not one key entry: {}",
                report.reasons_for(&path.to_string_lossy()).join("; ")
            ));
            continue;
        };
        let mut words = listing.split_whitespace();
        let bits: u32 = words.next().and_then(|b| b.parse().ok()).expect("bits");
        let fp = words.next().expect("fingerprint");
        if opt_u32(&key["bits"]) != Some(bits) {
            failures.push(format!("{name}: bits {} expected {bits}", key["bits"]));
        }
        if fp.starts_with("SHA256:") && key["fingerprint"] != fp {
            failures.push(format!(
                "{name}: fingerprint {} expected {fp}",
                key["fingerprint"]
            ));
        }
    }
    assert!(seen >= 9, "expected.txt lists only {seen} fixtures");
    let places = report.places();
    for name in &names {
        let p = copy.join(name).to_string_lossy().into_owned();
        if places.get(&p).map(Vec::len) != Some(1) {
            failures.push(format!("{name}: not accounted for exactly once"));
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures:\n  {}",
        failures.join("\n  ")
    );
}
