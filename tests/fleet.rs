//! `keycheck fleet` over report files, directories and NDJSON on stdin: the newest report
//! per host and user wins, malformed and oversized reports are listed with their reason
//! while the merge goes on, and hostile values stay text in every format.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;

use serde_json::{json, Value};
use support::keycheck;

fn report(host: &str, hostname: &str, at: &str, findings: &[(&str, &str)]) -> Value {
    json!({
        "schema": "keycheck.report/v1",
        "host": {"id": host, "hostname": hostname, "os": "Debian GNU/Linux 12"},
        "user": {"name": "alice", "uid": 1000},
        "generated_at": at,
        "keys": [{"kind": "private", "algorithm": "ssh-rsa", "bits": 1024, "path": "/home/alice/.ssh/id_rsa"}],
        "findings": findings.iter().map(|(r, s)| json!({"rule": r, "severity": s, "path": "/home/alice/.ssh/id_rsa"})).collect::<Vec<_>>(),
    })
}

/// Each rejected report of a fleet document as "SOURCE REASON".
fn rejected(doc: &Value) -> Vec<String> {
    doc["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["source"].as_str().unwrap(),
                r["reason"].as_str().unwrap()
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, v: &Value) {
    std::fs::write(dir.join(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

#[test]
fn merges_the_newest_report_per_host_and_lists_what_it_rejects() {
    let home = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let sub = reports.path().join("laptops");
    std::fs::create_dir(&sub).unwrap();
    write(
        &sub,
        "a-old.json",
        &report(
            "aaaa",
            "alpha",
            "2026-11-01T00:00:00Z",
            &[("passphrase-missing", "fail")],
        ),
    );
    write(
        &sub,
        "a-new.json",
        &report("aaaa", "alpha", "2026-11-22T00:00:00Z", &[]),
    );
    write(
        &sub,
        "b.json",
        &report(
            "bbbb",
            "<script>alert(1)</script>",
            "2026-11-22T00:00:00Z",
            &[("rsa-below-minimum", "fail"), ("kdf-weak", "warn")],
        ),
    );
    std::fs::write(
        sub.join("broken.json"),
        b"{\"schema\": \"keycheck.report/v1\", \"host\": ",
    )
    .unwrap();
    std::fs::write(sub.join("notes.txt"), b"not a report, not *.json: not read").unwrap();
    // Deep nesting in a field the fleet ignores (it is skipped, not parsed, yet bounded).
    let deep = format!("{{\"extra\": {}", "[".repeat(10_000));
    std::fs::write(sub.join("deep.json"), deep.as_bytes()).unwrap();

    let out = keycheck(home.path())
        .args(["fleet", "--accept-unsigned", "--format", "json"])
        .arg(reports.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "rejected reports make exit 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "keycheck.fleet/v1");
    assert_eq!(doc["reports_read"], 5);
    assert_eq!(doc["reports_superseded"], 1);
    assert_eq!(doc["hosts"], 2);
    assert_eq!(
        doc["compliant_hosts"], 1,
        "alpha's newest report is clean: {doc:#}"
    );
    assert_eq!(doc["per_host"][0]["host_id"], "bbbb", "worst first");
    assert_eq!(doc["rules"]["rsa-below-minimum"]["hosts"], 1);
    assert!(
        doc["rules"].get("passphrase-missing").is_none(),
        "the old report was superseded"
    );
    let rejected = rejected(&doc);
    assert_eq!(rejected.len(), 2, "{rejected:#?}");
    assert!(
        rejected
            .iter()
            .any(|r| r.contains("broken.json") && r.contains("not a keycheck report")),
        "{rejected:#?}"
    );
    assert!(
        rejected
            .iter()
            .any(|r| r.contains("deep.json") && r.contains("not a keycheck report")),
        "{rejected:#?}"
    );

    // The HTML page keeps the hostile hostname as text.
    let html = reports.path().join("fleet.html");
    let out = keycheck(home.path())
        .args(["fleet", "--accept-unsigned", "--format", "html", "--output"])
        .arg(&html)
        .arg(reports.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>"));
}

#[test]
fn reads_an_ndjson_stream_from_stdin_with_bounded_lines() {
    let home = tempfile::tempdir().unwrap();
    let mut child = keycheck(home.path())
        .args(["fleet", "--accept-unsigned", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for i in 0..200 {
            let r = report(
                &format!("host{i:03}"),
                &format!("h{i}"),
                "2026-11-22T00:00:00Z",
                &[("passphrase-missing", "fail")],
            );
            writeln!(stdin, "{}", serde_json::to_string(&r).unwrap()).unwrap();
        }
        // An envelope line, a wrong type, and a line far over the size limit.
        let env =
            json!({"report": report("env", "e", "2026-11-22T00:00:00Z", &[]), "signature": null});
        writeln!(stdin, "{env}").unwrap();
        writeln!(stdin, "{{\"schema\": 5}}").unwrap();
        let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(17 * 1024 * 1024));
        stdin.write_all(huge.as_bytes()).unwrap();
        writeln!(stdin).unwrap();
        let r = report("last", "l", "2026-11-22T00:00:00Z", &[]);
        writeln!(stdin, "{}", serde_json::to_string(&r).unwrap()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(doc["hosts"], 202, "{:#}", doc["rejected"]);
    assert_eq!(doc["compliant_hosts"], 2);
    let reasons: Vec<&str> = doc["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:#?}");
    assert!(
        reasons.iter().any(|r| r.contains("longer than")),
        "{reasons:#?}"
    );
    assert_eq!(doc["rejected"][0]["source"], "-:202");
}

#[test]
fn refuses_to_merge_unverified_reports_unless_asked() {
    let home = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    write(
        reports.path(),
        "a.json",
        &report("aaaa", "alpha", "2026-11-22T00:00:00Z", &[]),
    );
    let out = keycheck(home.path())
        .arg("fleet")
        .arg(reports.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--accept-unsigned"), "{err}");
}

/// Runs the hidden `keycheck device-key` diagnostic in `home` (no session bus: the key is
/// a file in the state dir) and returns its JSON.
fn device_key(home: &Path, args: &[&str]) -> Value {
    let out = keycheck(home)
        .arg("device-key")
        .args(args)
        .env("KEYCHECK_STATE_DIR", home.join("state"))
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", home.join("no-bus").display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn merges_only_reports_signed_for_their_own_host_id() {
    let laptop = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let host = "ab".repeat(32);
    let good = reports.path().join("good.json");
    write(
        reports.path(),
        "good.json",
        &report(&host, "alpha", "2026-11-22T00:00:00Z", &[]),
    );
    let shown = device_key(
        laptop.path(),
        &["sign", good.to_str().unwrap(), "--principal", &host],
    );
    assert!(reports.path().join("good.json.sig").exists(), "{shown:#}");
    let line = device_key(laptop.path(), &["show", "--principal", &host])["signer_line"]
        .as_str()
        .unwrap()
        .to_owned();
    let allowed = reports.path().join("allowed_signers");
    std::fs::write(&allowed, format!("{line}\n")).unwrap();

    // A changed copy with the good signature, an unsigned one, and one signed by the same
    // device key but claiming another host's id.
    let mut changed = std::fs::read(&good).unwrap();
    let at = changed.iter().position(|&b| b == b'2').unwrap();
    changed[at] = b'1';
    std::fs::write(reports.path().join("changed.json"), &changed).unwrap();
    std::fs::copy(
        reports.path().join("good.json.sig"),
        reports.path().join("changed.json.sig"),
    )
    .unwrap();
    write(
        reports.path(),
        "unsigned.json",
        &report(&"cd".repeat(32), "beta", "2026-11-22T00:00:00Z", &[]),
    );
    let other = reports.path().join("other.json");
    write(
        reports.path(),
        "other.json",
        &report(&"ef".repeat(32), "gamma", "2026-11-22T00:00:00Z", &[]),
    );
    device_key(
        laptop.path(),
        &["sign", other.to_str().unwrap(), "--principal", &host],
    );

    let home = tempfile::tempdir().unwrap();
    let out = keycheck(home.path())
        .args(["fleet", "--format", "json", "--allowed-signers"])
        .arg(&allowed)
        .arg(reports.path())
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(doc["hosts"], 1, "{doc:#}");
    assert_eq!(doc["per_host"][0]["host_id"], host);
    let reasons = rejected(&doc);
    assert_eq!(reasons.len(), 3, "{reasons:#?}");
    for (file, why) in [
        ("changed.json", "signature refused"),
        ("unsigned.json", "unsigned"),
        ("other.json", "signature refused"),
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(file) && r.contains(why)),
            "{file}: {reasons:#?}"
        );
    }

    // --accept-unsigned lets the unsigned one in, never the forged ones.
    let out = keycheck(home.path())
        .args(["fleet", "--accept-unsigned", "--allowed-signers"])
        .arg(&allowed)
        .arg(reports.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 host/user pairs"), "{text}");
    assert!(
        text.contains("signatures: 1 verified, 1 merged unverified"),
        "{text}"
    );
}

#[test]
fn a_real_signed_report_verifies_with_ssh_keygen_and_merges_as_verified() {
    support::require_tools();
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    std::fs::create_dir(&ssh).unwrap();
    support::keygen(&ssh, "id_rsa", "rsa", "", &["-b", "1024"]);
    let state = home.path().join("state");
    let no_bus = format!("unix:path={}", home.path().join("no-bus").display());
    let run = |args: &[&str]| {
        keycheck(home.path())
            .args(args)
            .env("KEYCHECK_STATE_DIR", &state)
            .env("DBUS_SESSION_BUS_ADDRESS", &no_bus)
            .output()
            .unwrap()
    };
    let reports = tempfile::tempdir().unwrap();
    let file = reports.path().join("laptop.json");
    let out = run(&["report", "--output", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = run(&["report", "--signer-line"]);
    assert!(
        line.status.success(),
        "{}",
        String::from_utf8_lossy(&line.stderr)
    );
    let allowed = reports.path().join("allowed_signers");
    std::fs::write(&allowed, &line.stdout).unwrap();
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc["signing"]["key_store"], "file", "{doc:#}");
    let host = doc["host"]["id"].as_str().unwrap().to_owned();
    assert!(String::from_utf8_lossy(&line.stdout).starts_with(&format!(
        "{host} namespaces=\"keycheck-report\" ssh-ed25519 "
    )));

    // The real ssh-keygen accepts the report as written.
    let verify = std::process::Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "keycheck-report", "-f"])
        .arg(&allowed)
        .args(["-I", &host, "-s"])
        .arg(reports.path().join("laptop.json.sig"))
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // The fleet merges it as verified, with its findings.
    let out = keycheck(home.path())
        .args(["fleet", "--format", "json", "--allowed-signers"])
        .arg(&allowed)
        .arg(reports.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fleet: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(fleet["hosts"], 1, "{fleet:#}");
    assert_eq!(fleet["rules"]["rsa-below-minimum"]["hosts"], 1, "{fleet:#}");
    assert_eq!(fleet["keys"]["ssh-rsa 1024"], 1, "{fleet:#}");

    // And keycheck.db holds the same findings for osquery.
    let db = state.join("keycheck.db");
    let rows = std::process::Command::new("sqlite3")
        .arg("-readonly")
        .arg(&db)
        .arg("SELECT rule FROM findings ORDER BY rule;")
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rows.stdout);
    assert!(
        rules.contains("rsa-below-minimum") && rules.contains("passphrase-missing"),
        "{rules}"
    );
}
