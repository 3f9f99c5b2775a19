//! `keycheck fleet --format html` as a browser shows it: the real page rendered by
//! Debian's Chromium, headless. The DOM Chromium builds must keep hostile hostnames as
//! text (no script or img element, no event handler attribute), and its screenshot is
//! the picture in the README.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test --test fleet_html` copies the screenshot to
//! `docs/fleet.png`; look at it before committing it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::keycheck;

/// How long one Chromium run may take before the test calls it hung.
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(60);

/// The screenshot's size in CSS pixels (and image pixels: the scale factor is 1).
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 1480;

const SCRIPT_HOST: &str = "<script>alert(1)</script>";
const IMG_HOST: &str = "\"><img src=x onerror=alert(2)>";

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// One report: `keys` as (algorithm, bits), `findings` as (rule, severity).
fn report(
    id: &str,
    hostname: &str,
    user: &str,
    age: Duration,
    keys: &[(&str, u32)],
    findings: &[(&str, &str)],
) -> Value {
    let at = time::OffsetDateTime::now_utc() - age;
    json!({
        "schema": "keycheck.report/v1",
        "host": {"id": id, "hostname": hostname, "os": "Debian GNU/Linux 12 (bookworm)"},
        "user": {"name": user, "uid": 1000},
        "generated_at": rfc3339(at),
        "keys": keys.iter().map(|(a, b)| json!({
            "kind": "private", "algorithm": a, "bits": b, "path": format!("/home/{user}/.ssh/id")
        })).collect::<Vec<_>>(),
        "findings": findings.iter().map(|(r, s)| json!({
            "rule": r, "severity": s, "path": format!("/home/{user}/.ssh/id")
        })).collect::<Vec<_>>(),
    })
}

/// A small fleet: clean hosts, failing ones, one only warned, a stale one, and two whose
/// hostnames try to inject markup.
fn write_fleet(dir: &Path) {
    let hour = Duration::from_secs(3600);
    let ed = ("ssh-ed25519", 256);
    let rsa4k = ("ssh-rsa", 4096);
    let rsa1k = ("ssh-rsa", 1024);
    let ecdsa = ("ecdsa-sha2-nistp256", 256);
    let reports = [
        report("h-alpha", "alpha", "alice", hour, &[ed], &[]),
        report("h-bravo", "bravo", "bob", 2 * hour, &[ed, rsa4k], &[]),
        report(
            "h-charlie",
            "charlie",
            "carol",
            hour,
            &[rsa1k, ed],
            &[
                ("rsa-below-minimum", "fail"),
                ("passphrase-missing", "fail"),
                ("file-permissions", "warn"),
            ],
        ),
        report(
            "h-delta",
            "delta",
            "dave",
            3 * hour,
            &[ecdsa],
            &[("cache-unbounded", "warn"), ("kdf-weak", "warn")],
        ),
        report(
            "h-script",
            SCRIPT_HOST,
            "eve",
            hour,
            &[rsa1k, rsa1k],
            &[
                ("rsa-below-minimum", "fail"),
                ("rsa-below-minimum", "fail"),
                ("duplicate-key", "warn"),
            ],
        ),
        report(
            "h-img",
            IMG_HOST,
            "mallory",
            hour,
            &[ed],
            &[("passphrase-missing", "fail"), ("cache-unbounded", "warn")],
        ),
        report(
            "h-echo",
            "echo",
            "erin",
            Duration::from_secs(30 * 86400),
            &[rsa4k],
            &[("key-too-old", "warn")],
        ),
        report("h-foxtrot", "foxtrot", "frank", hour, &[ed, ecdsa], &[]),
    ];
    for (i, r) in reports.iter().enumerate() {
        std::fs::write(
            dir.join(format!("report-{i}.json")),
            serde_json::to_vec_pretty(r).unwrap(),
        )
        .unwrap();
    }
}

/// Runs Debian's Chromium headless with `args` then `url`, in its own process group with
/// a private profile; kills the whole group and fails the test after the deadline.
/// Returns its stdout. Chromium's stderr (D-Bus noise on a machine without a system bus)
/// is shown only when it fails.
fn chromium(scratch: &Path, args: &[&str], url: &str) -> Vec<u8> {
    use std::os::unix::process::CommandExt as _;
    support::require_tool("chromium", "chromium");
    let profile = tempfile::tempdir_in(scratch).unwrap();
    let stdout_path = scratch.join("chromium.stdout");
    let stderr_path = scratch.join("chromium.stderr");
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-extensions",
        "--disable-sync",
        "--no-default-browser-check",
        "--force-device-scale-factor=1",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(url)
    .env("HOME", scratch)
    .env("LANG", "C.UTF-8")
    .stdin(Stdio::null())
    .stdout(File::create(&stdout_path).unwrap())
    .stderr(File::create(&stderr_path).unwrap())
    .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let group = rustix::process::Pid::from_child(&child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHROMIUM_DEADLINE {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            let _ = child.wait();
            panic!(
                "{cmd:?} hung: killed after {CHROMIUM_DEADLINE:?}; stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Helpers (zygote, renderer) left behind by a browser that exited.
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    assert!(
        status.success(),
        "{cmd:?} failed ({status}); stderr:\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    std::fs::read(&stdout_path).unwrap()
}

/// The name of each element and the names of its attributes, from serialized HTML: in
/// the DOM Chromium dumps, text `<` is always `&lt;`, so every `<` opens a tag.
fn tags(dom: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if rest.starts_with("!--") {
            let end = rest.find("-->").expect("comment closed");
            rest = &rest[end + 3..];
            continue;
        }
        let end = rest.find('>').expect("tag closed");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('/') || tag.starts_with('!') {
            continue;
        }
        // Attribute values are quoted; drop them so only names are left.
        let mut bare = String::new();
        let mut quoted = false;
        for c in tag.chars() {
            match c {
                '"' => quoted = !quoted,
                _ if quoted => {}
                '=' => bare.push(' '),
                c => bare.push(c),
            }
        }
        let mut words = bare.split_whitespace().map(str::to_ascii_lowercase);
        let name = words.next().unwrap_or_default();
        found.push((name, words.collect()));
    }
    found
}

/// The width and height from a PNG's IHDR, after checking the signature and chunk type.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 33, "{} bytes is no PNG", png.len());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[8..12], &13u32.to_be_bytes(), "IHDR length");
    assert_eq!(&png[12..16], b"IHDR", "first chunk is IHDR");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// ImageMagick's count of distinct colours in an image.
fn colours(png: &Path) -> u64 {
    let out = support::run_ok(Command::new("identify").args(["-format", "%k"]).arg(png));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("identify -format %k: {e}"))
}

#[test]
fn chromium_renders_the_fleet_page_with_hostile_hostnames_as_text() {
    let home = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write_fleet(reports.path());
    let page = scratch.path().join("page.html");
    let out = keycheck(home.path())
        .args(["fleet", "--accept-unsigned", "--format", "html", "--output"])
        .arg(&page)
        .arg(reports.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "keycheck fleet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = format!("file://{}", page.display());

    let dom = String::from_utf8(chromium(scratch.path(), &["--dump-dom"], &url)).unwrap();
    assert!(dom.contains("</html>"), "a whole document: {dom}");
    // The hostile hostnames are text: escaped in the serialized DOM, no element made.
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{dom}"
    );
    assert!(
        dom.contains("\"&gt;&lt;img src=x onerror=alert(2)&gt;"),
        "{dom}"
    );
    let tags = tags(&dom);
    for (name, attributes) in &tags {
        assert!(
            !["script", "img", "svg", "iframe", "object", "embed"].contains(&name.as_str()),
            "a <{name}> element in the DOM: {dom}"
        );
        assert!(
            !attributes.iter().any(|a| a.starts_with("on")),
            "an event handler on <{name}> {attributes:?}: {dom}"
        );
    }
    let rows = tags.iter().filter(|(name, _)| name == "tr").count();
    assert!(
        rows >= 8 + 7,
        "a row per host and per rule: {rows} rows\n{dom}"
    );
    // The overall figure, each rule of the chart, and each host's row.
    assert!(
        dom.contains("5 of 8"),
        "5 of 8 host/user pairs compliant: {dom}"
    );
    for rule in [
        "rsa-below-minimum",
        "passphrase-missing",
        "file-permissions",
        "cache-unbounded",
        "kdf-weak",
        "duplicate-key",
        "key-too-old",
    ] {
        assert!(dom.contains(&format!(">{rule}<")), "rule {rule}: {dom}");
    }
    for host in ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"] {
        assert!(dom.contains(&format!(">{host}<")), "host {host}: {dom}");
    }
    for user in ["alice", "bob", "carol", "dave", "eve", "mallory", "erin"] {
        assert!(dom.contains(&format!(">{user}<")), "user {user}: {dom}");
    }
    assert!(dom.contains("ssh-rsa 1024"), "{dom}");

    // The picture: a real PNG of the window's size, not one flat colour.
    let shot = scratch.path().join("fleet.png");
    let printed = chromium(
        scratch.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size={WIDTH},{HEIGHT}"),
            "--hide-scrollbars",
        ],
        &url,
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {} ({e}); chromium printed {}",
            shot.display(),
            String::from_utf8_lossy(&printed)
        )
    });
    assert_eq!(png_size(&png), (WIDTH, HEIGHT));
    let n = colours(&shot);
    assert!(n > 50, "the screenshot has only {n} colours");

    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let docs: PathBuf = [env!("CARGO_MANIFEST_DIR"), "docs", "fleet.png"]
            .iter()
            .collect();
        std::fs::copy(&shot, &docs).unwrap();
    } else {
        std::fs::copy(
            &shot,
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet.png"),
        )
        .unwrap();
    }
}
