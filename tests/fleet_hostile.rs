//! `keycheck fleet` against hostile input: reports far over the size limit (files and
//! NDJSON lines), JSON nested 100,000 deep, wrong types, duplicate keys, reports built to
//! blow up memory or time once parsed, forged and misplaced signatures, a device's key
//! signing for another host, special files, an unreadable directory, all mixed with good
//! reports.
//!
//! Every bad report is rejected with a reason that names it and says why, the good ones
//! are merged, the exit code is 1 when anything was rejected, each run finishes before
//! its deadline, and the peak resident memory of keycheck (VmHWM, polled from
//! /proc/PID/status) stays under a bound.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{symlink, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Most memory a fleet run over these reports may take (peak RSS). A report is at most
/// 16 MiB and the runs below read few enough files to use one worker thread.
const RSS_BOUND_KB: u64 = 200 * 1024;

/// How long one fleet run may take (debug build, busy CI) before it counts as hung.
const DEADLINE: Duration = Duration::from_secs(60);

/// The most a report file may hold (`ReadOptions::max_report_size`).
const MAX_REPORT: usize = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Devices, reports, runs
// ---------------------------------------------------------------------------------------

/// A laptop: its own HOME and state dir (no session bus, so its device key is a 0600
/// file there), signing reports for its host id with `keycheck device-key sign`.
struct Device {
    home: tempfile::TempDir,
    host: String,
}

impl Device {
    fn new(host: &str) -> Device {
        Device {
            home: tempfile::tempdir().unwrap(),
            host: host.to_owned(),
        }
    }

    fn device_key(&self, args: &[&std::ffi::OsStr]) -> Value {
        let home = self.home.path();
        let out = support::run(
            support::keycheck(home)
                .arg("device-key")
                .args(args)
                .env("KEYCHECK_STATE_DIR", home.join("state"))
                .env(
                    "DBUS_SESSION_BUS_ADDRESS",
                    format!("unix:path={}", home.join("no-bus").display()),
                ),
        );
        assert!(out.status.success(), "{}", support::text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Signs `file` into `file.sig` with this device's key.
    fn sign(&self, file: &Path) {
        self.device_key(&["sign".as_ref(), file.as_os_str()]);
    }

    /// The allowed_signers line for this device's host id.
    fn signer_line(&self) -> String {
        self.device_key(&["show".as_ref(), "--principal".as_ref(), self.host.as_ref()])
            ["signer_line"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An NDJSON envelope line: `report` (compact JSON) with this device's signature.
    fn envelope(&self, report: &Value) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.json");
        let text = serde_json::to_string(report).unwrap();
        fs::write(&file, &text).unwrap();
        self.sign(&file);
        let sig = fs::read_to_string(dir.path().join("r.json.sig")).unwrap();
        format!(
            "{{\"report\": {text}, \"signature\": {}}}",
            serde_json::to_string(&sig).unwrap()
        )
    }
}

/// A signing key that is not a device's: made by ssh-keygen, it signs with
/// `ssh-keygen -Y sign`.
struct Rogue {
    key: PathBuf,
    _dir: tempfile::TempDir,
}

impl Rogue {
    fn new() -> Rogue {
        support::require_tool("ssh-keygen", "openssh-client");
        let dir = tempfile::tempdir().unwrap();
        let key = support::keygen(dir.path(), "rogue", "ed25519", "", &[]);
        Rogue { key, _dir: dir }
    }

    /// `ssh-keygen -Y sign -n NAMESPACE -f KEY FILE` (writes FILE.sig).
    fn sign(&self, file: &Path, namespace: &str) {
        support::run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
                .arg(&self.key)
                .arg(file),
        );
    }

    /// `ssh-keygen -Y sign -n keycheck-report -f KEY FILE...`: one run for them all.
    fn sign_all(&self, files: &[PathBuf]) {
        support::run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-Y", "sign", "-n", "keycheck-report", "-f"])
                .arg(&self.key)
                .args(files),
        );
    }

    /// An allowed_signers line letting this key sign reports for `principal`.
    fn signer_line(&self, principal: &str) -> String {
        let public = fs::read_to_string(self.key.with_extension("pub")).unwrap();
        let mut words = public.split_whitespace();
        let (kind, blob) = (words.next().unwrap(), words.next().unwrap());
        format!("{principal} namespaces=\"keycheck-report\" {kind} {blob}")
    }
}

fn report(host: &str, user: &str, at: &str, findings: &[(&str, &str)]) -> Value {
    json!({
        "schema": "keycheck.report/v1",
        "host": {"id": host, "hostname": format!("{host}.example"), "os": "Debian GNU/Linux 12"},
        "user": {"name": user, "uid": 1000},
        "generated_at": at,
        "keys": [{"kind": "private", "algorithm": "ssh-ed25519", "bits": 256, "path": "/home/u/.ssh/id_ed25519"}],
        "findings": findings.iter().map(|(r, s)| json!({"rule": r, "severity": s, "path": "/home/u/.ssh/id_ed25519"})).collect::<Vec<_>>(),
    })
}

const AT: &str = "2026-11-22T00:00:00Z";

/// Host A's `host` object as report text.
const HOST_A: &str = r#"{"id":"host-a","hostname":"host-a.example","os":"Debian GNU/Linux 12"}"#;

fn write_json(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    path
}

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// A file of `len` bytes that takes no disk space (a hole): reading it would still
/// cost `len` bytes of memory.
fn sparse(path: &Path, len: u64) {
    fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// One fleet run: exit code, stdout, stderr, wall time and peak RSS.
struct FleetRun {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    peak_rss_kb: u64,
}

impl FleetRun {
    fn doc(&self) -> Value {
        let doc: Value = serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "not one JSON document ({e}); exit {}\n{}\n{}",
                self.code, self.stdout, self.stderr
            )
        });
        assert_eq!(doc["schema"], "keycheck.fleet/v1", "{doc:#}");
        doc
    }
}

/// The high-water mark of the process's resident memory, in kB, while it runs.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `cmd` with `stdin` fed from a file (or closed), kills it after [`DEADLINE`]
/// (failing the test) and polls its peak RSS until it exits.
fn run_measured(cmd: &mut Command, stdin: Option<&Path>) -> FleetRun {
    let started = Instant::now();
    let stdin = match stdin {
        Some(path) => Stdio::from(fs::File::open(path).unwrap()),
        None => Stdio::null(),
    };
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut peak = 0;
    let status = loop {
        // Read before reaping: VmHWM is gone once the process has exited.
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} hung: killed after {DEADLINE:?} (peak RSS {peak} kB)");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = started.elapsed();
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    let code = status
        .code()
        .unwrap_or_else(|| panic!("keycheck fleet killed by a signal ({status}): {stderr}"));
    assert!(peak > 0, "could not read the peak RSS of keycheck");
    FleetRun {
        code,
        stdout,
        stderr,
        elapsed,
        peak_rss_kb: peak,
    }
}

/// `keycheck fleet --format json --allowed-signers ALLOWED PATHS...`.
fn fleet(home: &Path, allowed: &Path, paths: &[&Path]) -> FleetRun {
    let mut cmd = support::keycheck(home);
    cmd.args(["fleet", "--format", "json", "--allowed-signers"])
        .arg(allowed)
        .args(paths);
    run_measured(&mut cmd, None)
}

/// Each rejected report as (source, reason).
fn rejected(doc: &Value) -> Vec<(String, String)> {
    doc["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["source"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Asserts that the report from `source` (a file, or `FILE:LINE`) was rejected with a
/// reason containing one of `words`.
fn assert_rejected(doc: &Value, source: &str, words: &[&str]) {
    let all = rejected(doc);
    let found: Vec<&(String, String)> = all.iter().filter(|(s, _)| s == source).collect();
    assert_eq!(
        found.len(),
        1,
        "{source}: rejected {} times in {all:#?}",
        found.len()
    );
    let reason = &found[0].1;
    assert!(
        words.iter().any(|w| reason.contains(w)),
        "{source}: reason {reason:?} names none of {words:?}"
    );
}

/// The (host id, user) pairs merged.
fn merged(doc: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = doc["per_host"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["host_id"].as_str().unwrap().to_owned(),
                h["user"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(h, u)| ((*h).to_owned(), (*u).to_owned()))
        .collect();
    v.sort();
    v
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

fn assert_bounded(run: &FleetRun, what: &str) {
    assert!(
        run.peak_rss_kb < RSS_BOUND_KB,
        "{what}: peak RSS {} kB over the bound of {RSS_BOUND_KB} kB",
        run.peak_rss_kb
    );
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
#[allow(clippy::disallowed_macros)] // eprintln: peak RSS and time, shown with --nocapture
fn reports_far_over_the_size_limit_are_refused_unread() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::new("host-a");
    let allowed = dir.path().join("allowed_signers");
    fs::write(&allowed, format!("{}\n", a.signer_line())).unwrap();
    let reports = dir.path().join("reports");
    fs::create_dir(&reports).unwrap();

    let good = write_json(&reports, "good.json", &report("host-a", "alice", AT, &[]));
    a.sign(&good);
    // 200 MB, signed or not: refused by its size before a byte is read.
    let huge = reports.join("huge.json");
    sparse(&huge, 200 * 1024 * 1024);
    fs::write(reports.join("huge.json.sig"), b"never looked at").unwrap();
    // Just over the limit, with real content.
    let mut over = serde_json::to_vec(&report("host-a", "over", AT, &[])).unwrap();
    over.truncate(over.len() - 1);
    over.extend_from_slice(b", \"pad\": \"");
    over.resize(MAX_REPORT + 10, b'x');
    over.extend_from_slice(b"\"}");
    let over = write_bytes(&reports, "over.json", &over);
    // An NDJSON stream: a 200 MB line of zeros, then a signed envelope.
    let stream = dir.path().join("stream.ndjson");
    sparse(&stream, 200 * 1024 * 1024);
    {
        let mut f = fs::OpenOptions::new().append(true).open(&stream).unwrap();
        f.seek(SeekFrom::End(0)).unwrap();
        writeln!(f).unwrap();
        writeln!(f, "{}", a.envelope(&report("host-a", "bob", AT, &[]))).unwrap();
    }

    let run = fleet(home.path(), &allowed, &[&reports, &stream]);
    eprintln!(
        "huge reports: {:?}, peak RSS {} kB",
        run.elapsed, run.peak_rss_kb
    );
    let doc = run.doc();
    assert_eq!(run.code, 1, "rejections make exit 1: {}", run.stderr);
    assert_eq!(
        merged(&doc),
        pairs(&[("host-a", "alice"), ("host-a", "bob")]),
        "{doc:#}"
    );
    assert_rejected(
        &doc,
        &show(&huge),
        &["larger than the limit of 16777216 bytes"],
    );
    assert_rejected(
        &doc,
        &show(&over),
        &["larger than the limit of 16777216 bytes"],
    );
    assert_rejected(
        &doc,
        &format!("{}:1", show(&stream)),
        &["longer than 16777216 bytes"],
    );
    assert_eq!(rejected(&doc).len(), 3, "{:#?}", rejected(&doc));
    // Nothing of the 200 MB was held at once.
    assert!(
        run.peak_rss_kb < 100 * 1024,
        "peak RSS {} kB: a refused report was read into memory",
        run.peak_rss_kb
    );
}

#[test]
fn malformed_json_is_rejected_with_its_reason() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::new("host-a");
    let allowed = dir.path().join("allowed_signers");
    fs::write(&allowed, format!("{}\n", a.signer_line())).unwrap();
    let reports = dir.path().join("reports");
    fs::create_dir(&reports).unwrap();

    // Written out by hand, so the edits below find their text whatever order a JSON
    // library would write the fields in.
    let good = format!(
        "{{\"schema\":\"keycheck.report/v1\",\"host\":{HOST_A},\"user\":{{\"name\":\"alice\",\"uid\":1000}},\
         \"generated_at\":\"{AT}\",\"keys\":[{{\"kind\":\"private\",\"algorithm\":\"ssh-ed25519\",\
         \"bits\":256,\"path\":\"/k\"}}],\"findings\":[]}}"
    );
    let body = good.strip_prefix('{').unwrap();
    let deep = 100_000;
    // (file, bytes, words one of which the reason must contain)
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "deep-top.json",
            "[".repeat(deep),
            &["not a keycheck report"],
        ),
        (
            "deep-host.json",
            format!(
                "{{\"schema\": \"keycheck.report/v1\", \"host\": {}{}}}",
                "[".repeat(deep),
                "]".repeat(deep)
            ),
            &["invalid type", "recursion limit"],
        ),
        (
            "deep-unclosed.json",
            format!("{{\"extra\": {}, {body}", "{\"a\":".repeat(deep)),
            &["not a keycheck report"],
        ),
        (
            "host-is-text.json",
            good.replace(HOST_A, "\"host-a\""),
            &["invalid type: string \"host-a\", expected"],
        ),
        (
            "bits-is-text.json",
            good.replace("\"bits\":256", "\"bits\":\"256\""),
            &["invalid type: string \"256\", expected u32"],
        ),
        (
            "keys-is-object.json",
            good.replace("\"keys\":[", "\"keys\":{\"k\":[")
                .replace("],\"findings\"", "]},\"findings\""),
            &["invalid type: map, expected"],
        ),
        (
            "time-is-number.json",
            good.replace("\"2026-11-22T00:00:00Z\"", "1795305600"),
            &["invalid type: integer `1795305600`, expected"],
        ),
        (
            "negative-bits.json",
            good.replace("\"bits\":256", "\"bits\":-1"),
            &["invalid value: integer `-1`, expected u32"],
        ),
        (
            "duplicate-host.json",
            good.replacen(
                "\"host\":",
                "\"host\":{\"id\":\"host-b\",\"hostname\":\"b\"},\"host\":",
                1,
            ),
            &["duplicate field `host`"],
        ),
        (
            "duplicate-id.json",
            good.replacen(
                "\"id\":\"host-a\"",
                "\"id\":\"host-a\",\"id\":\"host-b\"",
                1,
            ),
            &["duplicate field `id`"],
        ),
        (
            "duplicate-schema.json",
            good.replacen(
                "\"schema\":",
                "\"schema\":\"keycheck.report/v2\",\"schema\":",
                1,
            ),
            &["duplicate field `schema`"],
        ),
        (
            "nul-in-string.json",
            good.replacen("\"alice\"", "\"al\u{0}ice\"", 1),
            &["control character"],
        ),
        ("empty.json", String::new(), &["EOF while parsing"]),
        ("not-utf8.json", String::new(), &["not a keycheck report"]),
    ];
    let mut files = Vec::new();
    for (name, bytes, words) in &cases {
        let mut bytes = bytes.clone().into_bytes();
        if *name == "not-utf8.json" {
            bytes = good.clone().into_bytes();
            let at = good.find("alice").unwrap();
            bytes[at] = 0xff;
        }
        assert!(
            *name == "empty.json" || bytes != good.as_bytes(),
            "{name}: unchanged"
        );
        let path = write_bytes(&reports, name, &bytes);
        // Validly signed by the host's own key: only the content is wrong.
        a.sign(&path);
        files.push((path, *words));
    }
    // Nested 100,000 deep in a field the fleet ignores: skipped without recursion, and
    // the report is merged.
    let ignored = write_bytes(
        &reports,
        "deep-ignored.json",
        format!(
            "{{\"extra\": {}{}, {}",
            "[".repeat(deep),
            "]".repeat(deep),
            body.replace("\"alice\"", "\"deep\"")
        )
        .as_bytes(),
    );
    a.sign(&ignored);
    let fine = write_bytes(&reports, "good.json", good.as_bytes());
    a.sign(&fine);

    let run = fleet(home.path(), &allowed, &[&reports]);
    let doc = run.doc();
    assert_eq!(run.code, 1, "{}", run.stderr);
    for (path, words) in &files {
        assert_rejected(&doc, &show(path), words);
    }
    assert_eq!(rejected(&doc).len(), files.len(), "{:#?}", rejected(&doc));
    assert_eq!(
        merged(&doc),
        pairs(&[("host-a", "alice"), ("host-a", "deep")]),
        "{doc:#}"
    );
    assert_bounded(&run, "malformed JSON");
}

#[test]
fn forged_signatures_and_claims_of_another_host_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Device::new("host-a"), Device::new("host-b"));
    let rogue = Rogue::new();
    let allowed = dir.path().join("allowed_signers");
    fs::write(
        &allowed,
        format!(
            "{}\n{}\n{}\n",
            a.signer_line(),
            b.signer_line(),
            rogue.signer_line("rogue-host")
        ),
    )
    .unwrap();
    let reports = dir.path().join("reports");
    fs::create_dir(&reports).unwrap();
    let r = &reports;

    let good_a = write_json(r, "a.json", &report("host-a", "alice", AT, &[]));
    a.sign(&good_a);
    let good_b = write_json(r, "b.json", &report("host-b", "bob", AT, &[]));
    b.sign(&good_b);
    // Device A's key signing a report that claims to come from host B.
    let a_as_b = write_json(r, "a-as-b.json", &report("host-b", "mallory", AT, &[]));
    a.sign(&a_as_b);
    // A key in no allowed_signers line for host A, and for a host nobody listed.
    let unlisted = write_json(r, "unlisted.json", &report("host-a", "mallory", AT, &[]));
    rogue.sign(&unlisted, "keycheck-report");
    let unknown = write_json(r, "unknown.json", &report("host-z", "mallory", AT, &[]));
    rogue.sign(&unknown, "keycheck-report");
    // The rogue key is allowed for rogue-host, but signs with another namespace.
    let namespace = write_json(r, "namespace.json", &report("rogue-host", "m", AT, &[]));
    rogue.sign(&namespace, "file");
    // A's signature of a.json beside other bytes that claim host A.
    let other = write_json(
        r,
        "other-bytes.json",
        &report("host-a", "alice", "2026-11-23T00:00:00Z", &[]),
    );
    fs::copy(r.join("a.json.sig"), r.join("other-bytes.json.sig")).unwrap();
    // Broken .sig files beside reports of host A.
    let sig_of_a = fs::read(r.join("a.json.sig")).unwrap();
    let mut broken = Vec::new();
    for (name, words) in [
        ("truncated", &["not an SSH signature"][..]),
        ("empty-sig", &["not an SSH signature"][..]),
        ("binary-sig", &["not text"][..]),
        ("huge-sig", &["larger than the limit of 65536 bytes"][..]),
        ("fifo-sig", &["not a regular file (fifo)"][..]),
        ("zero-sig", &["not a regular file (character device)"][..]),
        ("dir-sig", &["not a regular file (directory)"][..]),
    ] {
        let path = write_json(r, &format!("{name}.json"), &report("host-a", name, AT, &[]));
        let sig = r.join(format!("{name}.json.sig"));
        match name {
            "truncated" => fs::write(&sig, &sig_of_a[..sig_of_a.len() / 2]).unwrap(),
            "empty-sig" => fs::write(&sig, b"").unwrap(),
            "binary-sig" => fs::write(&sig, [0xff, 0xfe, 0x00, 0x80]).unwrap(),
            "huge-sig" => sparse(&sig, 1024 * 1024),
            "fifo-sig" => rustix::fs::mkfifoat(
                rustix::fs::CWD,
                &sig,
                rustix::fs::Mode::from_raw_mode(0o600),
            )
            .unwrap(),
            "zero-sig" => symlink("/dev/zero", &sig).unwrap(),
            _ => fs::create_dir(&sig).unwrap(),
        }
        broken.push((path, words));
    }
    // Reports that are not files: a FIFO (opening it to read would block) and /dev/zero.
    let fifo = r.join("fifo.json");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let zero = r.join("zero.json");
    symlink("/dev/zero", &zero).unwrap();
    // An NDJSON stream: A's signature on a report claiming B, a good envelope, and an
    // envelope whose signature is B's over A's report.
    let stream = dir.path().join("stream.ndjson");
    let a_report = report("host-a", "carol", AT, &[]);
    fs::write(
        &stream,
        format!(
            "{}\n{}\n{}\n",
            a.envelope(&report("host-b", "mallory", AT, &[])),
            a.envelope(&a_report),
            b.envelope(&a_report),
        ),
    )
    .unwrap();

    let run = fleet(home.path(), &allowed, &[&reports, &stream]);
    let doc = run.doc();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        merged(&doc),
        pairs(&[("host-a", "alice"), ("host-b", "bob"), ("host-a", "carol")]),
        "{doc:#}"
    );
    let not_allowed_b = "is not allowed to sign for \"host-b\"";
    assert_rejected(&doc, &show(&a_as_b), &[not_allowed_b]);
    assert_rejected(
        &doc,
        &show(&unlisted),
        &["is not allowed to sign for \"host-a\""],
    );
    assert_rejected(
        &doc,
        &show(&unknown),
        &["\"host-z\" is not in the allowed signers"],
    );
    assert_rejected(&doc, &show(&namespace), &["namespace is \"file\""]);
    assert_rejected(&doc, &show(&other), &["bad signature"]);
    for (path, words) in &broken {
        assert_rejected(&doc, &show(path), words);
    }
    assert_rejected(&doc, &show(&fifo), &["not a regular file (fifo)"]);
    assert_rejected(
        &doc,
        &show(&zero),
        &["not a regular file (character device)"],
    );
    let line = |n: u32| format!("{}:{n}", show(&stream));
    assert_rejected(&doc, &line(1), &[not_allowed_b]);
    assert_rejected(&doc, &line(3), &["is not allowed to sign for \"host-a\""]);
    assert_eq!(
        rejected(&doc).len(),
        9 + broken.len(),
        "{:#?}",
        rejected(&doc)
    );
    for (source, reason) in rejected(&doc) {
        assert!(
            reason.starts_with("signature refused")
                || reason.starts_with("its .sig")
                || reason.starts_with("not a regular file"),
            "{source}: {reason}"
        );
    }
    assert_bounded(&run, "forged signatures");
}

#[test]
#[allow(clippy::disallowed_macros)] // eprintln: peak RSS and time, shown with --nocapture
fn reports_built_to_exhaust_memory_or_time_are_bounded() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = Device::new("host-a");
    let allowed = dir.path().join("allowed_signers");
    fs::write(&allowed, format!("{}\n", a.signer_line())).unwrap();
    let reports = dir.path().join("reports");
    fs::create_dir(&reports).unwrap();

    // Each just under the size limit, validly signed by the host's own key.
    let head = |user: &str| {
        format!(
            "{{\"schema\":\"keycheck.report/v1\",\"host\":{HOST_A},\"user\":{{\"name\":\"{user}\"}},\
             \"generated_at\":\"{AT}\""
        )
    };
    let fill = |user: &str, field: &str, item: &dyn Fn(usize) -> String| {
        let mut text = head(user);
        text.push_str(&format!(", \"{field}\": ["));
        let mut i = 0;
        while text.len() < MAX_REPORT - 200 {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&item(i));
            i += 1;
        }
        text.push_str("]}");
        text
    };
    // Millions of tiny key entries: each a struct once parsed.
    let many_keys = fill("many-keys", "keys", &|_| "{}".to_owned());
    // Millions of findings of one rule.
    let many_findings = fill("many-findings", "findings", &|_| {
        "{\"rule\":\"kdf-weak\",\"severity\":\"warn\"}".to_owned()
    });
    // Hundreds of thousands of different key kinds and rule ids: each a name to count.
    let key_kinds = fill("key-kinds", "keys", &|i| {
        format!("{{\"kind\":\"private\",\"algorithm\":\"alg-{i}\"}}")
    });
    let rule_ids = fill("rule-ids", "findings", &|i| {
        format!("{{\"rule\":\"rule-{i}\",\"severity\":\"fail\"}}")
    });
    // Names of megabytes.
    let long_hostname = head("long-hostname").replace(
        "\"hostname\":\"host-a.example\"",
        &format!("\"hostname\":\"{}\"", "h".repeat(8 * 1024 * 1024)),
    ) + "}";
    assert!(long_hostname.len() > 8 * 1024 * 1024);
    let long_rule = head("long-rule")
        + &format!(
            ", \"findings\": [{{\"rule\":\"{}\",\"severity\":\"fail\"}}]}}",
            "r".repeat(8 * 1024 * 1024)
        );
    let mut files = Vec::new();
    for (name, text) in [
        ("many-keys", &many_keys),
        ("many-findings", &many_findings),
        ("key-kinds", &key_kinds),
        ("rule-ids", &rule_ids),
        ("long-hostname", &long_hostname),
        ("long-rule", &long_rule),
    ] {
        assert!(text.len() < MAX_REPORT, "{name}: {} bytes", text.len());
        serde_json::from_str::<Value>(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = write_bytes(&reports, &format!("{name}.json"), text.as_bytes());
        a.sign(&path);
        files.push(path);
    }
    let good = write_json(&reports, "good.json", &report("host-a", "alice", AT, &[]));
    a.sign(&good);

    let run = fleet(home.path(), &allowed, &[&reports]);
    eprintln!(
        "amplifying reports: {:?}, peak RSS {} kB",
        run.elapsed, run.peak_rss_kb
    );
    let doc = run.doc();
    assert_eq!(run.code, 1, "{}", run.stderr);
    // Many entries are fine: they are counted, not kept.
    assert_eq!(
        merged(&doc),
        pairs(&[
            ("host-a", "alice"),
            ("host-a", "many-findings"),
            ("host-a", "many-keys"),
        ]),
        "{doc:#}"
    );
    let many = doc["per_host"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["user"] == "many-findings")
        .unwrap();
    assert!(many["warn"].as_u64().unwrap() > 300_000, "{many:#}");
    // Too many different names, or names too long, are refused with the reason.
    assert_rejected(&doc, &show(&files[2]), &["different key kinds"]);
    assert_rejected(&doc, &show(&files[3]), &["different rule ids"]);
    assert_rejected(&doc, &show(&files[4]), &["hostname"]);
    assert_rejected(&doc, &show(&files[5]), &["rule id"]);
    assert_eq!(rejected(&doc).len(), 4, "{:#?}", rejected(&doc));
    assert_bounded(&run, "amplifying reports");
}

/// Runs `keycheck fleet` as nobody when the tests run as root (see tests/hostile.rs).
fn fleet_unprivileged(home: &Path, allowed: &Path, paths: &[&Path]) -> FleetRun {
    if !support::is_root() {
        return fleet(home, allowed, paths);
    }
    support::require_tool("setpriv", "util-linux");
    // In `home`, which the user nobody may enter: the checkout may sit below a directory
    // only its owner can enter.
    let bin = home.join("keycheck-for-nobody");
    if !bin.exists() {
        let src = env!("CARGO_BIN_EXE_keycheck");
        if fs::hard_link(src, &bin).is_err() {
            fs::copy(src, &bin).unwrap();
        }
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["fleet", "--format", "json", "--allowed-signers"])
        .arg(allowed)
        .args(paths)
        .env_clear()
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    run_measured(&mut cmd, None)
}

#[test]
fn an_unreadable_directory_of_reports_is_listed_and_the_rest_merged() {
    let home = tempfile::tempdir().unwrap();
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let a = Device::new("host-a");
    let allowed = dir.path().join("allowed_signers");
    fs::write(&allowed, format!("{}\n", a.signer_line())).unwrap();
    let reports = dir.path().join("reports");
    let open = reports.join("open");
    let locked = reports.join("locked");
    for d in [&reports, &open, &locked] {
        fs::create_dir(d).unwrap();
    }
    let good = write_json(&open, "a.json", &report("host-a", "alice", AT, &[]));
    a.sign(&good);
    let hidden = write_json(&locked, "h.json", &report("host-a", "hidden", AT, &[]));
    a.sign(&hidden);
    for p in [&reports, &open] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();

    let run = fleet_unprivileged(home.path(), &allowed, &[&reports]);
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
    let doc = run.doc();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(merged(&doc), pairs(&[("host-a", "alice")]), "{doc:#}");
    assert_rejected(&doc, &show(&locked), &["permission denied"]);
    assert_eq!(rejected(&doc).len(), 1, "{:#?}", rejected(&doc));

    // A path given on the command line that cannot be read is an error (exit 2).
    let run = fleet(home.path(), &allowed, &[&dir.path().join("missing")]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("missing"), "{}", run.stderr);
}

#[test]
#[allow(clippy::disallowed_macros)] // eprintln: peak RSS and time, shown with --nocapture
fn a_mix_of_hostile_and_good_reports_on_every_worker_merges_the_good_ones() {
    const GOOD: usize = 150;
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // One key for a fleet of hosts (signing them all in one ssh-keygen run), another
    // for one other host.
    let fleet_key = Rogue::new();
    let other_key = Rogue::new();
    let hosts: Vec<String> = (0..GOOD).map(|i| format!("host-{i:03}")).collect();
    let allowed = dir.path().join("allowed_signers");
    fs::write(
        &allowed,
        format!(
            "{}\n{}\n",
            fleet_key.signer_line(&hosts.join(",")),
            other_key.signer_line("other-host")
        ),
    )
    .unwrap();
    let reports = dir.path().join("reports");
    fs::create_dir(&reports).unwrap();
    let mut signed = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let findings: &[(&str, &str)] = if i % 3 == 0 {
            &[("passphrase-missing", "fail")]
        } else {
            &[]
        };
        signed.push(write_json(
            &reports,
            &format!("{host}.json"),
            &report(host, "alice", AT, findings),
        ));
    }
    // The hostile ones, named to fall between the good ones (files are read in name
    // order, 64 to a worker), each validly signed unless its signature is the point.
    let big = |user: &str, item: &str| {
        let mut text = format!(
            "{{\"schema\":\"keycheck.report/v1\",\"host\":{{\"id\":\"host-000\"}},\
             \"user\":{{\"name\":\"{user}\"}},\"generated_at\":\"{AT}\",\"keys\":["
        );
        let mut i = 0;
        while text.len() < MAX_REPORT - 200 {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&item.replace("{i}", &i.to_string()));
            i += 1;
        }
        text + "]}"
    };
    let mut bad = Vec::new();
    for (name, text, why) in [
        ("host-010-keys.json", big("keys-1", "{}"), None),
        ("host-070-keys.json", big("keys-2", "{}"), None),
        ("host-130-keys.json", big("keys-3", "{}"), None),
        (
            "host-020-kinds.json",
            big("kinds", "{\"kind\":\"private\",\"algorithm\":\"a{i}\"}"),
            Some("different key kinds"),
        ),
        (
            "host-080-nested.json",
            format!("{{\"extra\": {}", "[".repeat(1_000_000)),
            Some("not a keycheck report"),
        ),
        (
            "host-140-claims-other.json",
            serde_json::to_string(&report("other-host", "mallory", AT, &[])).unwrap(),
            Some("is not allowed to sign for \"other-host\""),
        ),
    ] {
        let path = write_bytes(&reports, name, text.as_bytes());
        signed.push(path.clone());
        if let Some(why) = why {
            bad.push((path, why));
        }
    }
    fleet_key.sign_all(&signed);
    let huge = reports.join("host-050-huge.json");
    sparse(&huge, 200 * 1024 * 1024);
    bad.push((huge, "larger than the limit"));
    let forged = write_json(
        &reports,
        "host-100-forged.json",
        &report("host-100", "mallory", AT, &[]),
    );
    other_key.sign(&forged, "keycheck-report");
    bad.push((forged, "is not allowed to sign for \"host-100\""));
    let changed = reports.join("host-110-changed.json");
    fs::copy(reports.join("host-110.json"), &changed).unwrap();
    fs::copy(
        reports.join("host-111.json.sig"),
        reports.join("host-110-changed.json.sig"),
    )
    .unwrap();
    bad.push((changed, "bad signature"));

    let run = fleet(home.path(), &allowed, &[&reports]);
    eprintln!(
        "mixed fleet of {} files: {:?}, peak RSS {} kB",
        GOOD + 9,
        run.elapsed,
        run.peak_rss_kb
    );
    let doc = run.doc();
    assert_eq!(run.code, 1, "{}", run.stderr);
    for (path, why) in &bad {
        assert_rejected(&doc, &show(path), &[why]);
    }
    assert_eq!(rejected(&doc).len(), bad.len(), "{:#?}", rejected(&doc));
    let mut expected: Vec<(String, String)> = hosts
        .iter()
        .map(|h| (h.clone(), "alice".to_owned()))
        .collect();
    for user in ["keys-1", "keys-2", "keys-3"] {
        expected.push(("host-000".to_owned(), user.to_owned()));
    }
    expected.sort();
    assert_eq!(merged(&doc), expected);
    assert_eq!(doc["compliant_hosts"], (GOOD - GOOD.div_ceil(3) + 3) as u64);
    assert_eq!(
        doc["rules"]["passphrase-missing"]["hosts"],
        GOOD.div_ceil(3) as u64
    );
    assert_bounded(&run, "a mixed fleet");
}
