//! keycheck against hostile directory contents: broken keys, special files, loops, huge
//! files, unreadable files, names that are not UTF-8.
//!
//! Each run has a deadline ([`support::DEADLINE`]): a hang is killed and fails the test.
//! Every entry must be accounted for (in `keys`, `errors` or `skipped`, or as a
//! `malformed-key` / `unreadable` finding) with a reason, and the exit code must be right.

mod support;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{
    check, check_json, keygen, run, run_ok, run_with_deadline, write_file, Report, PASS,
};

/// How a hostile entry was accounted for.
#[derive(Debug)]
enum Seen {
    Key(Value),
    Error(String),
    Skipped(String),
    Finding { rule: String, message: String },
}

/// Everything the report says about `path`; fails unless the entry is accounted for.
fn accounted(report: &Report, path: &str) -> Vec<Seen> {
    let mut seen = Vec::new();
    for k in report.keys().iter().filter(|k| k["path"] == path) {
        seen.push(Seen::Key(k.clone()));
    }
    for e in report.errors().iter().filter(|e| e["path"] == path) {
        seen.push(Seen::Error(
            e["error"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    for s in report.skipped().iter().filter(|s| s["path"] == path) {
        seen.push(Seen::Skipped(
            s["reason"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    for f in report.findings().iter().filter(|f| {
        f["path"] == path && (f["rule"] == "malformed-key" || f["rule"] == "unreadable")
    }) {
        seen.push(Seen::Finding {
            rule: f["rule"].as_str().unwrap_or_default().to_owned(),
            message: f["message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    assert!(
        !seen.is_empty(),
        "{path} is not accounted for in keys/errors/skipped/findings:\n{:#}",
        report.value
    );
    let listed = seen
        .iter()
        .filter(|s| !matches!(s, Seen::Finding { .. }))
        .count();
    assert!(
        listed <= 1,
        "{path} is listed more than once across keys/errors/skipped: {seen:?}"
    );
    seen
}

/// The reasons (error, skip reason, finding message) given for a non-key entry, lowercased.
fn reasons(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Key(_) => None,
            Seen::Error(r) | Seen::Skipped(r) => Some(r.to_lowercase()),
            Seen::Finding { message, .. } => Some(message.to_lowercase()),
        })
        .collect()
}

/// Asserts the entry was not reported as a key, and that some reason names one of `words`.
fn assert_rejected_with(report: &Report, path: &Path, words: &[&str]) {
    let p = path.to_string_lossy();
    let seen = accounted(report, &p);
    assert!(
        !seen.iter().any(|s| matches!(s, Seen::Key(_))),
        "{p} was reported as a key: {seen:?}"
    );
    let reasons = reasons(&seen);
    assert!(
        reasons.iter().all(|r| !r.trim().is_empty()),
        "{p}: empty reason in {seen:?}"
    );
    assert!(
        reasons.iter().any(|r| words.iter().any(|w| r.contains(w))),
        "{p}: no reason names the cause (one of {words:?}): {seen:?}"
    );
}

/// Asserts the entry is an error or a `malformed-key` finding (not a key, not skipped):
/// it looks like a key but cannot be read.
fn assert_malformed(report: &Report, path: &Path) {
    let p = path.to_string_lossy();
    let seen = accounted(report, &p);
    let malformed = seen.iter().any(|s| {
        matches!(s, Seen::Error(_))
            || matches!(s, Seen::Finding { rule, .. } if rule == "malformed-key")
    });
    assert!(
        malformed && !seen.iter().any(|s| matches!(s, Seen::Key(_) | Seen::Skipped(_))),
        "{p} looks like a key but is unreadable: expected an error / malformed-key finding, got {seen:?}"
    );
    assert!(
        reasons(&seen).iter().all(|r| r.len() > 3),
        "{p}: no reason given: {seen:?}"
    );
}

/// Exit code follows the findings: 1 with a failing finding, else 0 (errors and warnings
/// alone do not fail the check).
fn assert_exit_follows(run: &support::RunResult, report: &Report) {
    let failing = report.has_failing_finding();
    assert_eq!(
        run.code,
        i32::from(failing),
        "exit code {} but failing findings = {failing}\n{:#}",
        run.code,
        report.value["findings"]
    );
}

fn new_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    fs::create_dir(&dir).expect("mkdir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod dir");
    dir
}

/// A valid unencrypted OpenSSH Ed25519 key's text.
fn valid_key_text(scratch: &Path, name: &str) -> String {
    let path = keygen(scratch, name, "ed25519", "", &[]);
    fs::read_to_string(path).expect("read key")
}

/// Deterministic pseudo-random bytes (xorshift), no dependency needed.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

fn mkfifo(path: &Path) {
    run_ok(Command::new("mkfifo").arg(path));
}

// ---------------------------------------------------------------------------------------

#[test]
fn empty_file_is_skipped_not_a_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = new_dir(tmp.path(), "ssh");
    let path = write_file(&dir, "id_ed25519", b"", 0o600);
    let (run, report) = check_json(tmp.path(), &dir);
    assert_rejected_with(&report, &path, &["empty"]);
    assert_exit_follows(&run, &report);
}

#[test]
fn random_bytes_are_not_a_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = new_dir(tmp.path(), "ssh");
    let path = write_file(&dir, "id_rsa", &noise(4096, 0x9e37_79b9_7f4a_7c15), 0o600);
    let (run, report) = check_json(tmp.path(), &dir);
    assert_rejected_with(
        &report,
        &path,
        &[
            "binary",
            "not a key",
            "not an ssh key",
            "unrecognised",
            "unrecognized",
        ],
    );
    assert_exit_follows(&run, &report);
}

#[test]
fn truncated_keys_are_malformed() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let scratch = new_dir(tmp.path(), "scratch");
    let dir = new_dir(tmp.path(), "ssh");
    // OpenSSH key cut in half (no END line), and cut in the body but with its END line.
    let text = valid_key_text(&scratch, "src");
    let half = write_file(&dir, "id_half", &text.as_bytes()[..text.len() / 2], 0o600);
    let lines: Vec<&str> = text.lines().collect();
    let short = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[lines.len() - 1]);
    let short_body = write_file(&dir, "id_short_body", short.as_bytes(), 0o600);
    // Legacy PEM and PPK cut in half.
    let pem = keygen(&scratch, "pem", "rsa", "", &["-b", "2048", "-m", "PEM"]);
    let pem_text = fs::read(&pem).expect("read pem");
    let pem_half = write_file(&dir, "id_pem_half", &pem_text[..pem_text.len() / 2], 0o600);
    let ppk = scratch.join("k.ppk");
    run_ok(
        Command::new("puttygen")
            .arg(scratch.join("src"))
            .arg("-o")
            .arg(&ppk),
    );
    let ppk_text = fs::read(&ppk).expect("read ppk");
    let ppk_half = write_file(&dir, "id_ppk_half", &ppk_text[..ppk_text.len() / 2], 0o600);

    let (run, report) = check_json(tmp.path(), &dir);
    for path in [&half, &short_body, &pem_half, &ppk_half] {
        assert_malformed(&report, path);
    }
    assert_eq!(run.code, 1, "malformed keys must fail: {}", run.stdout);
}

#[test]
fn corrupted_keys_are_accounted_for() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let scratch = new_dir(tmp.path(), "scratch");
    let dir = new_dir(tmp.path(), "ssh");
    let text = valid_key_text(&scratch, "src");
    // A flipped bit in the middle of the file: may or may not still parse, but must be
    // accounted for and must not crash anything.
    let mut flipped = text.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    let flip = write_file(&dir, "id_flipped", &flipped, 0o600);
    // A character that is not base64 in the middle of the body: cannot parse.
    let mut bad = text.clone().into_bytes();
    bad[mid] = b'!';
    let bad_b64 = write_file(&dir, "id_bad_base64", &bad, 0o600);
    // The public key length field inflated: the announced data is not there.
    let lines: Vec<&str> = text.lines().collect();
    let body = support::base64_decode(&lines[1..lines.len() - 1].concat());
    let mut inflated = body.clone();
    // openssh-key-v1\0 + "none" + "none" + "" + u32 nkeys, then the public key length.
    let at = 15 + 8 + 8 + 4 + 4;
    inflated[at..at + 4].copy_from_slice(&0x7fff_fff0_u32.to_be_bytes());
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&inflated);
    let wrapped: Vec<String> = b64
        .as_bytes()
        .chunks(70)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let inflated_text = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        wrapped.join("\n")
    );
    let inflated_path = write_file(&dir, "id_inflated_length", inflated_text.as_bytes(), 0o600);
    // A PEM header over garbage.
    let garbage = write_file(
        &dir,
        "id_garbage_pem",
        b"-----BEGIN RSA PRIVATE KEY-----\nAAAAAAAAAAAAAAAAAAAAAAAA\n-----END RSA PRIVATE KEY-----\n",
        0o600,
    );

    let (run, report) = check_json(tmp.path(), &dir);
    let flip_seen = accounted(&report, &flip.to_string_lossy());
    if let Some(Seen::Key(k)) = flip_seen.iter().find(|s| matches!(s, Seen::Key(_))) {
        // If it still parses, its facts must still be those of an Ed25519 key.
        assert_eq!(k["kind"], "private", "{k:#}");
    }
    for path in [&bad_b64, &inflated_path, &garbage] {
        assert_malformed(&report, path);
    }
    assert_eq!(run.code, 1, "malformed keys must fail");
}

#[test]
fn fifo_named_like_a_key_does_not_block() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = new_dir(tmp.path(), "ssh");
    let fifo = dir.join("id_rsa");
    mkfifo(&fifo);
    let (run, report) = check_json(tmp.path(), &dir);
    assert_rejected_with(
        &report,
        &fifo,
        &["fifo", "pipe", "not a regular file", "special"],
    );
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
    assert_exit_follows(&run, &report);
}

#[test]
fn symlink_to_dev_zero_is_not_read_forever() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = new_dir(tmp.path(), "ssh");
    let link = dir.join("id_ecdsa");
    symlink("/dev/zero", &link).expect("symlink");
    let (run, report) = check_json(tmp.path(), &dir);
    assert_rejected_with(
        &report,
        &link,
        &[
            "device",
            "not a regular file",
            "special",
            "symlink",
            "symbolic link",
            "too large",
            "too big",
        ],
    );
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
    assert_exit_follows(&run, &report);
}

#[test]
fn symlink_loops_terminate() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = new_dir(tmp.path(), "ssh");
    // a -> b -> a
    let a = dir.join("id_a");
    let b = dir.join("id_b");
    symlink("id_b", &a).expect("symlink a");
    symlink("id_a", &b).expect("symlink b");
    // A directory that contains a link back to its parent, and a link to itself.
    let sub = new_dir(&dir, "sub");
    symlink("..", sub.join("up")).expect("symlink up");
    let self_link = dir.join("self");
    symlink(".", &self_link).expect("symlink self");
    let (run, report) = check_json(tmp.path(), &dir);
    for p in [&a, &b] {
        assert_rejected_with(
            &report,
            p,
            &[
                "loop",
                "too many levels",
                "symbolic link",
                "symlink",
                "dangling",
                "not found",
                "no such file",
            ],
        );
    }
    // However keycheck treats directories, nothing may be reported twice or recurse.
    let places = report.places();
    for (p, where_) in &places {
        assert_eq!(where_.len(), 1, "{p} reported {} times", where_.len());
        assert!(
            !p.contains("/up/") && !p.contains("/self/"),
            "{p}: keycheck followed a directory symlink loop"
        );
    }
    assert!(places.len() <= 6, "too many entries: {places:#?}");
    assert_exit_follows(&run, &report);
}

#[test]
fn huge_file_is_handled_quickly() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = new_dir(tmp.path(), "ssh");
    // 20 MB that looks like an OpenSSH key: the armour and 20 MB of base64 lines.
    let mut big = b"-----BEGIN OPENSSH PRIVATE KEY-----\n".to_vec();
    let line = [b'A'; 70];
    while big.len() < 20 * 1024 * 1024 {
        big.extend_from_slice(&line);
        big.push(b'\n');
    }
    big.extend_from_slice(b"-----END OPENSSH PRIVATE KEY-----\n");
    let path = write_file(&dir, "id_big", &big, 0o600);
    // And 20 MB of noise.
    let noise_path = write_file(&dir, "id_big_noise", &noise(20 * 1024 * 1024, 7), 0o600);
    let (run, report) = check_json(tmp.path(), &dir);
    for p in [&path, &noise_path] {
        let seen = accounted(&report, &p.to_string_lossy());
        assert!(
            !seen.iter().any(|s| matches!(s, Seen::Key(_))),
            "{}: a 20 MB file reported as a key: {seen:?}",
            p.display()
        );
    }
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
    assert_exit_follows(&run, &report);
}

#[test]
fn unreadable_file_is_reported() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let scratch = new_dir(tmp.path(), "scratch");
    let dir = new_dir(tmp.path(), "ssh");
    let src = keygen(&scratch, "k", "ed25519", PASS, &["-a", "100"]);
    let locked = dir.join("id_ed25519");
    fs::copy(&src, &locked).expect("copy");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod 000");

    if support::is_root() {
        // Root reads a mode-000 file anyway: keycheck must then report the key with its
        // real mode, not pretend it is unreadable.
        let (_, report) = check_json(tmp.path(), &dir);
        let key = report.key(&locked);
        assert_eq!(key["mode"], "0000", "{key:#}");
        assert_eq!(key["encrypted"], true, "{key:#}");

        // As an unprivileged user (setpriv, util-linux) the file really is unreadable.
        let have_setpriv = run(Command::new("sh").args(["-c", "command -v setpriv"]))
            .status
            .success();
        assert!(
            have_setpriv,
            "setpriv (util-linux) is needed to test unreadable files as root"
        );
        // nobody must be able to reach the dir and the binary.
        for p in [tmp.path(), dir.as_path()] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_keycheck"))
            .args(["check"])
            .arg(&dir)
            .args(["--format", "json"])
            .env_clear()
            .env("HOME", tmp.path())
            .env("NO_COLOR", "1")
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        let run = run_with_deadline(&mut cmd, support::DEADLINE);
        let report = run.json();
        assert_rejected_with(
            &report,
            &locked,
            &[
                "permission denied",
                "unreadable",
                "cannot read",
                "can't read",
                "not readable",
            ],
        );
        assert_eq!(
            run.code, 1,
            "an unreadable key must fail the check: {}",
            run.stdout
        );
    } else {
        let (run, report) = check_json(tmp.path(), &dir);
        assert_rejected_with(
            &report,
            &locked,
            &[
                "permission denied",
                "unreadable",
                "cannot read",
                "can't read",
                "not readable",
            ],
        );
        assert_eq!(run.code, 1, "an unreadable key must fail the check");
    }
}

#[test]
fn non_utf8_file_name_is_reported() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let scratch = new_dir(tmp.path(), "scratch");
    let dir = new_dir(tmp.path(), "ssh");
    let src = keygen(&scratch, "k", "ed25519", "", &[]);
    let name = OsStr::from_bytes(b"id_\xff\xfe_key");
    fs::copy(&src, dir.join(name)).expect("copy");
    let (run, report) = check_json(tmp.path(), &dir);
    let places = report.places();
    assert_eq!(places.len(), 1, "expected one entry: {:#}", report.value);
    let (path, where_) = places.iter().next().expect("one entry");
    assert!(
        support::display_forms(&dir.join(name)).contains(path),
        "path {path:?} does not name the file"
    );
    let key = &report.keys()[0];
    assert_eq!(key["algorithm"], "ssh-ed25519", "{key:#}");
    assert_eq!(key["encrypted"], false, "{key:#}");
    assert_eq!(
        run.code, 1,
        "an unencrypted key fails the check (passphrase-missing)"
    );
    let findings = report.findings_for(path, "passphrase-missing");
    assert!(
        !findings.is_empty(),
        "no passphrase-missing finding for {path}: {:#}",
        report.value["findings"]
    );
    let mut problems = Vec::new();
    if where_ != &[support::Place::Key] {
        problems.push(format!(
            "the file is read and reported as a key, yet listed in {where_:?} \
             (must be exactly one of keys/errors/skipped): {}",
            report.reasons_for(path).join("; ")
        ));
    }
    // The fix command must work when pasted into a shell: its path must name the file.
    let fix = findings[0]["fix"].as_str().unwrap_or_default();
    let quoted_path = fix.rsplit_once(" -f ").map(|(_, p)| p).unwrap_or_default();
    let exists = run_ok(Command::new("bash").args([
        "-c",
        &format!("test -e {quoted_path} && echo yes || echo no"),
    ]));
    if String::from_utf8_lossy(&exists.stdout).trim() != "yes" {
        problems.push(format!(
            "fix `{fix}` does not name the file when run by a shell (path {quoted_path})"
        ));
    }
    assert!(
        problems.is_empty(),
        "non-UTF-8 file name:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn everything_hostile_at_once() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let scratch = new_dir(tmp.path(), "scratch");
    let dir = new_dir(tmp.path(), "ssh");
    let text = valid_key_text(&scratch, "src");
    write_file(&dir, "empty", b"", 0o600);
    write_file(&dir, "random", &noise(1000, 3), 0o600);
    write_file(&dir, "half", &text.as_bytes()[..text.len() / 2], 0o600);
    mkfifo(&dir.join("id_rsa"));
    symlink("/dev/zero", dir.join("id_ecdsa")).expect("symlink");
    symlink("loop_b", dir.join("loop_a")).expect("symlink");
    symlink("loop_a", dir.join("loop_b")).expect("symlink");
    symlink("/nonexistent/keycheck-test", dir.join("dangling")).expect("symlink");
    write_file(&dir, "id_big", &vec![b'-'; 20 * 1024 * 1024], 0o600);
    fs::write(dir.join(OsStr::from_bytes(b"\xffname")), &text).expect("write");
    write_file(&dir, "good", text.as_bytes(), 0o600);
    let (run, report) = check_json(tmp.path(), &dir);
    let mut missing = Vec::new();
    for entry in fs::read_dir(&dir).expect("read dir") {
        let name = entry.expect("entry").file_name();
        let forms = support::display_forms(&dir.join(&name));
        let found = forms.iter().any(|p| {
            report.places().contains_key(p)
                || report.findings().iter().any(|f| {
                    f["path"] == p.as_str()
                        && (f["rule"] == "malformed-key" || f["rule"] == "unreadable")
                })
        });
        if !found {
            missing.push(forms[0].clone());
        }
    }
    assert!(
        missing.is_empty(),
        "not accounted for: {missing:?}\n{:#}",
        report.value
    );
    assert_eq!(run.code, 1);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

// ---------------------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------------------

#[test]
fn only_good_keys_exit_zero() {
    support::require_tools();
    let home = tempfile::tempdir().expect("home");
    let ssh = new_dir(home.path(), ".ssh");
    keygen(&ssh, "id_ed25519", "ed25519", PASS, &["-a", "100"]);
    // Default root: ~/.ssh from $HOME.
    let run = check(home.path(), ["--format", "json"]);
    let report = run.json();
    assert_eq!(
        run.code, 0,
        "a passphrase-protected Ed25519 key (-a 100, mode 0600) must pass:\n{:#}\n{}",
        report.value, run.stderr
    );
    let key = report.key(&ssh.join("id_ed25519"));
    assert_eq!(key["encrypted"], true);
    assert_eq!(key["kdf_rounds"], 100);
    // The human format agrees on the exit code.
    let human = check(home.path(), Vec::<&str>::new());
    assert_eq!(human.code, 0, "{}{}", human.stdout, human.stderr);
}

#[test]
fn unencrypted_key_exits_one() {
    support::require_tools();
    let home = tempfile::tempdir().expect("home");
    let dir = new_dir(home.path(), "keys");
    let key = keygen(&dir, "id_ed25519", "ed25519", "", &[]);
    let (run, report) = check_json(home.path(), &dir);
    assert_eq!(run.code, 1);
    assert!(
        !report
            .findings_for(&key.to_string_lossy(), "passphrase-missing")
            .is_empty(),
        "{:#}",
        report.value["findings"]
    );
}

#[test]
fn nonexistent_path_exits_two() {
    let home = tempfile::tempdir().expect("home");
    let missing = home.path().join("no-such-dir");
    let run = check(home.path(), [missing.as_os_str()]);
    assert_eq!(
        run.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("no-such-dir"),
        "the error should name the path: {}",
        run.stderr
    );
    let json = check(
        home.path(),
        [missing.as_os_str(), "--format".as_ref(), "json".as_ref()],
    );
    assert_eq!(json.code, 2, "{}{}", json.stdout, json.stderr);
}

#[test]
fn usage_error_exits_two() {
    let home = tempfile::tempdir().expect("home");
    let run = check(home.path(), ["--format", "yaml"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
}

// ---------------------------------------------------------------------------------------
// Special files, loops, churn, unreadable directories, very many files
// ---------------------------------------------------------------------------------------

/// Makes a device node at `path` when this process may (root with CAP_MKNOD), else a
/// symlink to `fallback` (a device every Linux has): CI may run unprivileged, and a
/// symlink to a device is examined the same way (its target's type decides).
#[allow(clippy::disallowed_macros)] // eprintln: says when a symlink stands in for a node
fn device_node(path: &Path, kind: rustix::fs::FileType, major: u32, minor: u32, fallback: &str) {
    let made = rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        kind,
        rustix::fs::Mode::from_raw_mode(0o600),
        rustix::fs::makedev(major, minor),
    );
    if let Err(e) = made {
        // Unprivileged, or root without CAP_MKNOD (a user namespace, a confined container).
        eprintln!(
            "note: cannot mknod {} ({e}); testing a symlink to {fallback} instead",
            path.display()
        );
        symlink(fallback, path).expect("symlink to a device");
    }
}

/// Runs `keycheck check ARGS` as the unprivileged user `nobody` (setpriv, util-linux)
/// when the tests run as root (root reads any file whatever its mode), else as this
/// user. The binary is linked (or copied) into `home` first (the user nobody may enter
/// it; the checkout may sit below a directory only its owner can enter).
fn check_unprivileged(home: &Path, args: &[&std::ffi::OsStr]) -> support::RunResult {
    if !support::is_root() {
        return support::check(home, args);
    }
    support::require_tool("setpriv", "util-linux");
    let bin = home.join("keycheck-for-nobody");
    if !bin.exists() {
        let src = env!("CARGO_BIN_EXE_keycheck");
        if fs::hard_link(src, &bin).is_err() {
            fs::copy(src, &bin).expect("copy the keycheck binary");
        }
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .arg("check")
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    run_with_deadline(&mut cmd, support::DEADLINE)
}

/// Gives `path` to nobody when running as root (so the unprivileged run owns what it
/// scans, as a user owns their ~/.ssh).
fn give_to_nobody(path: &Path) {
    if support::is_root() {
        std::os::unix::fs::lchown(path, Some(65534), Some(65534)).expect("chown to nobody");
    }
}

#[test]
fn sockets_devices_and_proc_links_named_like_keys_are_never_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = new_dir(tmp.path(), "ssh");
    let socket = dir.join("id_ed25519");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind a socket");
    let chr = dir.join("id_rsa");
    device_node(
        &chr,
        rustix::fs::FileType::CharacterDevice,
        1,
        5,
        "/dev/zero",
    );
    let blk = dir.join("id_ecdsa");
    // Loop device 0: never opened, so it need not exist behind the node.
    device_node(&blk, rustix::fs::FileType::BlockDevice, 7, 0, "/dev/null");
    let mut links = Vec::new();
    for (name, target, words) in [
        ("id_dsa", "/dev/zero", &["character device"][..]),
        ("id_null", "/dev/null", &["character device"][..]),
        ("id_urandom", "/dev/urandom", &["character device"][..]),
        // keycheck's own memory: a regular file by its type, that no read may return.
        (
            "id_mem",
            "/proc/self/mem",
            &[
                "input/output",
                "i/o error",
                "cannot read",
                "not a regular file",
            ][..],
        ),
        // keycheck's own stdout, a pipe the test reads: opening it to read would block.
        ("id_stdout", "/proc/self/fd/1", &["fifo"][..]),
    ] {
        let link = dir.join(name);
        symlink(target, &link).expect("symlink");
        links.push((link, words));
    }
    let (run, report) = check_json(tmp.path(), &dir);
    assert_rejected_with(&report, &socket, &["socket"]);
    assert_rejected_with(&report, &chr, &["character device"]);
    assert_rejected_with(&report, &blk, &["block device", "character device"]);
    for (link, words) in &links {
        assert_rejected_with(&report, link, words);
    }
    assert!(report.keys().is_empty(), "{:#}", report.value["keys"]);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
    assert_exit_follows(&run, &report);
    // What could not be examined is a warning (`unreadable`): --fail-on warn counts it.
    let strict = check(
        tmp.path(),
        [
            dir.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("json"),
            OsStr::new("--fail-on"),
            OsStr::new("warn"),
        ],
    );
    assert_eq!(strict.code, 1, "{}{}", strict.stdout, strict.stderr);
}

#[test]
fn directory_loops_and_links_to_the_root_or_proc_terminate() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = new_dir(tmp.path(), "ssh");
    let a = new_dir(&dir, "a");
    let b = new_dir(&a, "b");
    let key = keygen(&b, "id_ed25519", "ed25519", PASS, &["-a", "100"]);
    // a/b/up -> ../.. is the scanned directory; a/b/back -> .. is a; a/self -> . is a.
    let mut loops = Vec::new();
    for (link, target) in [
        (b.join("up"), PathBuf::from("../..")),
        (b.join("back"), PathBuf::from("..")),
        (a.join("self"), PathBuf::from(".")),
        // The directory holding the scanned one, by absolute path: every way back into
        // the tree is a loop.
        (a.join("parent"), tmp.path().to_path_buf()),
        // The root of the file system holds the scanned directory too: walking it would
        // read the whole machine.
        (dir.join("slash"), PathBuf::from("/")),
        // Kernel pseudo file systems: /proc/self/root leads back to / again, and /sys
        // is endless to walk.
        (dir.join("proc"), PathBuf::from("/proc/self")),
        (dir.join("sys"), PathBuf::from("/sys")),
    ] {
        symlink(&target, &link).expect("symlink");
        loops.push(link);
    }
    let started = std::time::Instant::now();
    let (run, report) = check_json(tmp.path(), &dir);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // The key is found once, through the real path only.
    assert_eq!(report.key(&key)["encrypted"], true);
    let private = report.keys().iter().filter(|k| k["kind"] == "private");
    assert_eq!(private.count(), 1, "{:#}", report.value["keys"]);
    for link in &loops {
        assert_rejected_with(
            &report,
            link,
            &["loop", "contains", "pseudo", "not entered"],
        );
    }
    let places = report.places();
    for (p, where_) in &places {
        assert_eq!(where_.len(), 1, "{p} reported {} times", where_.len());
        let below_a_link = loops
            .iter()
            .any(|l| p.starts_with(&format!("{}/", l.to_string_lossy())));
        assert!(!below_a_link, "{p}: keycheck walked through a loop");
    }
    assert!(places.len() <= 10, "too many entries: {places:#?}");
    assert_exit_follows(&run, &report);
}

#[test]
fn keys_renamed_deleted_and_replaced_during_the_scan() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let scratch = new_dir(tmp.path(), "scratch");
    let dir = new_dir(tmp.path(), "ssh");
    // What never changes must be reported the same on every run.
    let stable = keygen(&dir, "id_stable", "ed25519", PASS, &["-a", "100"]);
    write_file(&dir, "notes", b"not a key\n", 0o600);
    let one = valid_key_text(&scratch, "one");
    let two = fs::read(keygen(&scratch, "two", "ecdsa", PASS, &["-a", "100"])).expect("key");

    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (stop, dir) = (Arc::clone(&stop), dir.clone());
        let one = one.into_bytes();
        std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for i in 0..6u64 {
                    let path = dir.join(format!("id_churn_{i}"));
                    let tmp = dir.join(format!(".tmp_{i}"));
                    // Clear whatever the last round left (file, link, FIFO or directory).
                    let _ = fs::remove_file(&path).or_else(|_| fs::remove_dir_all(&path));
                    match (round + i) % 7 {
                        // Replaced atomically, by one key then another.
                        0 | 1 => {
                            let bytes = if round.is_multiple_of(2) { &one } else { &two };
                            fs::write(&tmp, bytes).expect("write");
                            fs::rename(&tmp, &path).expect("rename over");
                        }
                        // Written in place, so a scan may see it half written.
                        2 => {
                            let mut f = fs::File::create(&path).expect("create");
                            for chunk in one.chunks(37) {
                                std::io::Write::write_all(&mut f, chunk).expect("write");
                            }
                        }
                        // Gone (already removed above).
                        3 => {}
                        // A FIFO where the key was.
                        4 => {
                            let _ = rustix::fs::mkfifoat(
                                rustix::fs::CWD,
                                &path,
                                rustix::fs::Mode::from_raw_mode(0o600),
                            );
                        }
                        // A directory holding a key, then a link to /dev/zero.
                        5 => {
                            if fs::create_dir(&path).is_ok() {
                                let _ = fs::write(path.join("id_inner"), &one);
                            }
                        }
                        _ => {
                            let _ = symlink("/dev/zero", &path);
                        }
                    }
                    // A rename of a key to another name and back.
                    let moved = dir.join(format!("id_moved_{i}"));
                    let _ = fs::rename(&path, &moved);
                    let _ = fs::rename(&moved, &path);
                }
                round += 1;
            }
            round
        })
    };

    let mut runs = 0;
    // How the churning names were seen, across runs: the scans must have met the churn.
    let mut seen = std::collections::BTreeSet::new();
    let started = std::time::Instant::now();
    while runs < 12 || started.elapsed() < Duration::from_secs(2) {
        let (run, report) = check_json(tmp.path(), &dir);
        runs += 1;
        for (path, where_) in report.places() {
            if path.contains("id_churn_") || path.contains("id_moved_") {
                seen.insert(format!("{where_:?}"));
            }
        }
        if report
            .findings()
            .iter()
            .any(|f| f["rule"] == "malformed-key")
        {
            seen.insert("malformed".to_owned());
        }
        assert_eq!(
            report.key(&stable)["encrypted"],
            true,
            "run {runs}: the stable key"
        );
        assert_rejected_with(&report, &dir.join("notes"), &["text", "not a key"]);
        for (path, where_) in report.places() {
            assert_eq!(where_.len(), 1, "run {runs}: {path} listed as {where_:?}");
            assert!(
                path.starts_with(&*dir.to_string_lossy()),
                "run {runs}: {path} is outside the scanned directory"
            );
            assert!(
                report.reasons_for(&path).iter().all(|r| r.len() > 10)
                    || where_ == [support::Place::Key],
                "run {runs}: {path} without a reason: {:?}",
                report.reasons_for(&path)
            );
        }
        assert_exit_follows(&run, &report);
        if runs > 200 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = churn.join().expect("the churn thread");
    assert!(rounds > 3, "the churn thread ran only {rounds} rounds");
    assert!(
        seen.len() >= 3,
        "{runs} scans met too little of the churn ({rounds} rounds): {seen:?}"
    );
}

#[test]
fn unreadable_directories_and_files_are_reported_and_the_scan_goes_on() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let dir = new_dir(tmp.path(), "ssh");
    let good = keygen(&dir, "id_good", "ed25519", PASS, &["-a", "100"]);
    // A directory that cannot be listed, one that can be listed but not entered (its
    // entries cannot be examined), and a key file that cannot be read.
    let locked = new_dir(&dir, "locked");
    keygen(&locked, "id_hidden", "ed25519", "", &[]);
    let unsearchable = new_dir(&dir, "unsearchable");
    let inside = keygen(&unsearchable, "id_inside", "ed25519", "", &[]);
    let unreadable = keygen(&dir, "id_unreadable", "ed25519", "", &[]);
    for p in [
        dir.as_path(),
        &good,
        &locked,
        &locked.join("id_hidden"),
        &locked.join("id_hidden.pub"),
        &unsearchable,
        &inside,
        &unsearchable.join("id_inside.pub"),
        &unreadable,
        &dir.join("id_unreadable.pub"),
        &dir.join("id_good.pub"),
    ] {
        give_to_nobody(p);
    }
    support::set_mode(&locked, 0o000);
    support::set_mode(&unsearchable, 0o600);
    support::set_mode(&unreadable, 0o000);

    let run = check_unprivileged(
        tmp.path(),
        &[dir.as_os_str(), OsStr::new("--format"), OsStr::new("json")],
    );
    let report = run.json();
    assert_rejected_with(&report, &locked, &["permission denied"]);
    assert_rejected_with(&report, &inside, &["permission denied"]);
    assert_rejected_with(&report, &unreadable, &["permission denied"]);
    assert_eq!(report.key(&good)["encrypted"], true, "the scan went on");
    // Nothing inside the locked directory can be named; nothing there is made up.
    assert!(
        !report
            .places()
            .keys()
            .any(|p| p.starts_with(&*locked.to_string_lossy()) && p != &*locked.to_string_lossy()),
        "{:#}",
        report.value
    );
    // Not examined is a warning: exit 0, and 1 with --fail-on warn.
    assert_exit_follows(&run, &report);
    assert_eq!(run.code, 0, "{:#}", report.value["findings"]);
    let strict = check_unprivileged(
        tmp.path(),
        &[
            dir.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("json"),
            OsStr::new("--fail-on"),
            OsStr::new("warn"),
        ],
    );
    assert_eq!(strict.code, 1, "{}{}", strict.stdout, strict.stderr);
    // Restore the modes so the temp dir can be removed by an unprivileged test runner.
    support::set_mode(&locked, 0o700);
    support::set_mode(&unsearchable, 0o700);
}

/// How a report must show `path`: as it is when it is UTF-8 without control characters,
/// else with `\xNN` for each byte that is not UTF-8 or belongs to a control character
/// (C0, DEL, C1: a terminal would act on them) and `\\` for a backslash.
fn shown_as(path: &Path) -> String {
    let bytes = path.as_os_str().as_bytes();
    let plain = std::str::from_utf8(bytes).ok();
    if let Some(text) = plain.filter(|t| !t.chars().any(char::is_control)) {
        return text.to_owned();
    }
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    for b in c.encode_utf8(&mut [0; 4]).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[test]
fn odd_names_are_shown_unambiguously_and_inert() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let scratch = new_dir(tmp.path(), "scratch");
    let dir = new_dir(tmp.path(), "ssh");
    let src = keygen(&scratch, "k", "ed25519", PASS, &["-a", "100"]);
    // A directory whose name is not UTF-8 holding a key; names with a newline (it would
    // forge a line of output), a terminal escape sequence (an OSC that retitles the
    // window, and a colour), a C1 control, a backslash escape look-alike, a leading dash
    // and spaces.
    let odd_dir = dir.join(OsStr::from_bytes(b"dir\xc3("));
    fs::create_dir(&odd_dir).expect("mkdir");
    let mut paths = vec![odd_dir.join("id_ed25519")];
    for name in [
        &b"id\n OK  id_fine"[..],
        b"id_\x1b]0;pwned\x07\x1b[31mred",
        "id_c1\u{9b}2J".as_bytes(),
        b"id\\xff",
        b"-id dash",
        b"id \xe9t\xe9",
    ] {
        paths.push(dir.join(OsStr::from_bytes(name)));
    }
    for p in &paths {
        fs::copy(&src, p).expect("copy");
        fs::set_permissions(p, fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    // An unencrypted one: its fix command must name it when bash runs it.
    let plain = keygen(&scratch, "plain", "ed25519", "", &[]);
    let unprotected = dir.join(OsStr::from_bytes(b"id_new\nline\x1b[0m"));
    fs::copy(&plain, &unprotected).expect("copy");
    fs::set_permissions(&unprotected, fs::Permissions::from_mode(0o600)).expect("chmod");
    paths.push(unprotected.clone());

    let (run, report) = check_json(tmp.path(), &dir);
    let places = report.places();
    for p in &paths {
        let shown = shown_as(p);
        assert_eq!(
            places.get(&shown).map(Vec::as_slice),
            Some(&[support::Place::Key][..]),
            "{p:?} is not shown as {shown:?} in {places:#?}"
        );
        let key = report.keys().iter().find(|k| k["path"] == shown.as_str());
        // `path_escaped` (left out when false) says the path has escapes to undo.
        let escaped = key.expect("the key")["path_escaped"]
            .as_bool()
            .unwrap_or(false);
        assert_eq!(escaped, shown != p.to_string_lossy(), "{p:?}");
    }
    assert_eq!(places.len(), paths.len(), "{places:#?}");
    assert_exit_follows(&run, &report);
    let fix = report.findings_for(&shown_as(&unprotected), "passphrase-missing")[0]["fix"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let quoted = fix.rsplit_once(" -f ").map(|(_, p)| p).unwrap_or_default();
    let exists = run_ok(
        Command::new("bash").args(["-c", &format!("test -f {quoted} && echo yes || echo no")]),
    );
    assert_eq!(
        String::from_utf8_lossy(&exists.stdout).trim(),
        "yes",
        "fix `{fix}` does not name the file"
    );

    // The opt-in passphrase audit reads an escaped name by its bytes, as any other.
    let weak_dir = new_dir(tmp.path(), "weak");
    let weak = weak_dir.join(OsStr::from_bytes(b"id_\x1b[0m\xff"));
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-a", "2", "-N", "password", "-f"])
            .arg(&weak),
    );
    let audited = check(
        tmp.path(),
        [
            weak_dir.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("json"),
            OsStr::new("--try-common-passphrases"),
        ],
    )
    .json();
    assert_eq!(
        audited.value["passphrase_audit"][shown_as(&weak)]["result"],
        "weak",
        "{:#}",
        audited.value["passphrase_audit"]
    );

    // The human output, coloured as on a terminal: keycheck's own colours only, no
    // control character from a file name, and no line a file name made up.
    let mut cmd = support::keycheck(tmp.path());
    cmd.arg("check")
        .arg(&dir)
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1");
    let human = run_with_deadline(&mut cmd, support::DEADLINE);
    assert!(
        human.stdout.contains("\u{1b}["),
        "CLICOLOR_FORCE gave no colour: {:?}",
        human.stdout
    );
    for bad in ["\u{1b}]", "\u{7}", "\u{9b}", "\u{1b}[31mred", "\u{1b}[0m\n"] {
        assert!(
            !human.stdout.contains(bad),
            "{bad:?} from a file name reached the terminal:\n{:?}",
            human.stdout
        );
    }
    assert!(
        !human.stdout.lines().any(|l| l.starts_with(" OK  id_fine")),
        "a file name forged a line:\n{}",
        human.stdout
    );
}

#[test]
#[allow(clippy::disallowed_macros)] // eprintln: timings, shown with --nocapture
fn a_hundred_thousand_files_in_one_directory_are_all_accounted_for() {
    support::require_tools();
    const FILES: usize = 100_000;
    // On tmpfs when there is one: 100,000 creations take a second there, and up to half
    // a minute on a busy disk. Most files are empty, so they cost tmpfs no pages.
    let shm = Path::new("/dev/shm");
    let tmp = tempfile::Builder::new()
        .prefix("keycheck-many-")
        .tempdir_in(shm)
        .or_else(|_| tempfile::tempdir())
        .expect("tmp");
    let scratch = new_dir(tmp.path(), "scratch");
    let dir = new_dir(tmp.path(), "ssh");
    let key = fs::read(keygen(&scratch, "k", "ed25519", PASS, &["-a", "100"])).expect("key");
    let mut names = Vec::with_capacity(FILES);
    let making = std::time::Instant::now();
    for i in 0..FILES {
        let name = format!("f{i:06}");
        let bytes: &[u8] = match i % 1000 {
            // One key (the rest would be copies of it: duplicate-key).
            0 if i == 0 => &key,
            // Key-shaped but cut short: malformed.
            500 => b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n",
            250 | 750 => b"just some text\n",
            _ => b"",
        };
        fs::write(dir.join(&name), bytes).expect("write");
        names.push(name);
    }
    eprintln!("made {FILES} files in {:?}", making.elapsed());
    let started = std::time::Instant::now();
    let mut cmd = support::keycheck(tmp.path());
    cmd.arg("check").arg(&dir).args(["--format", "json"]);
    // About 3 s on an idle machine (debug build); the deadline leaves room for a busy CI.
    let run = run_with_deadline(&mut cmd, Duration::from_secs(60));
    let report = run.json();
    let elapsed = started.elapsed();
    eprintln!("scanned in {:?} (keycheck {:?})", elapsed, run.elapsed);
    let places = report.places();
    let malformed: std::collections::HashSet<&str> = report
        .findings()
        .iter()
        .filter(|f| f["rule"] == "malformed-key")
        .filter_map(|f| f["path"].as_str())
        .collect();
    let mut missing = Vec::new();
    for name in &names {
        let p = dir.join(name).to_string_lossy().into_owned();
        match places.get(&p) {
            Some(where_) => assert_eq!(where_.len(), 1, "{p} listed as {where_:?}"),
            None if malformed.contains(p.as_str()) => {}
            None => missing.push(p),
        }
    }
    assert!(
        missing.is_empty(),
        "{} not accounted for, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(report.keys().len(), 1);
    assert_eq!(malformed.len(), FILES / 1000);
    assert_eq!(run.code, 1, "malformed keys fail the check");
}
