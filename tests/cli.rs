//! The `keycheck` command as a person runs it: default root, exit codes, policy files,
//! output formats, `explain`. Keys come from the real `ssh-keygen`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

mod support;

use support::home::Home;
use support::{set_mode, text, PASS};

fn rules(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn default_run_checks_dot_ssh_and_passes_good_keys() {
    let home = Home::new();
    home.keygen("id_ed25519", &["-t", "ed25519"], PASS);
    let out = home.keycheck(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("   ok ~/.ssh/id_ed25519 "), "{stdout}");
    assert!(
        stdout.contains("passphrase (aes256-ctr, bcrypt 16 rounds)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "summary: 2 keys (1 private, 1 public, 0 certificates), 0 failing, 0 warnings"
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "colour with NO_COLOR and no terminal: {stdout:?}"
    );
    // `keycheck check` is the same command.
    assert_eq!(home.keycheck(&["check"]).stdout, out.stdout);
}

#[test]
fn unencrypted_key_fails_with_the_fix_command() {
    let home = Home::new();
    let key = home.keygen("id_ed25519", &["-t", "ed25519"], "");
    let out = home.keycheck(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(" FAIL ~/.ssh/id_ed25519 "), "{stdout}");
    assert!(
        stdout.contains("fail[passphrase-missing] private key is not protected by a passphrase"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("fix: ssh-keygen -p -a 100 -f {}", key.display())),
        "{stdout}"
    );

    // The fix works, and afterwards the check passes.
    let status = Command::new("ssh-keygen")
        .args(["-q", "-p", "-a", "100", "-P", "", "-N", PASS, "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(home.keycheck(&[]).status.code(), Some(0));
}

#[test]
fn fail_on_warn_counts_warnings() {
    let home = Home::new();
    home.keygen("id_rsa", &["-t", "rsa", "-b", "3072"], PASS);
    let (code, doc) = home.json(&[]);
    assert_eq!(rules(&doc), ["rsa-below-recommended"]);
    assert_eq!(doc["findings"][0]["severity"], "warn");
    assert_eq!(code, 0);
    let (code, _) = home.json(&["--fail-on", "warn"]);
    assert_eq!(code, 1);
}

#[test]
fn permissions_and_copies() {
    let home = Home::new();
    let key = home.keygen("id_ed25519", &["-t", "ed25519"], PASS);
    set_mode(&key, 0o644);
    fs::create_dir(home.ssh().join("backup")).unwrap();
    let copy = home.ssh().join("backup/id_ed25519.bak");
    fs::copy(&key, &copy).unwrap();
    set_mode(&copy, 0o600);
    set_mode(&home.ssh(), 0o777);
    let (code, doc) = home.json(&[]);
    assert_eq!(code, 1);
    let findings = doc["findings"].as_array().unwrap();
    let dir_finding = findings
        .iter()
        .find(|f| f["path"] == home.ssh().to_str().unwrap())
        .expect("a finding on ~/.ssh");
    assert_eq!(dir_finding["rule"], "file-permissions");
    assert_eq!(
        dir_finding["fix"],
        format!("chmod 755 {}", home.ssh().display())
    );
    let key_finding = findings
        .iter()
        .find(|f| f["path"] == key.to_str().unwrap())
        .expect("a finding on the key");
    assert_eq!(key_finding["rule"], "file-permissions");
    assert_eq!(key_finding["fix"], format!("chmod 600 {}", key.display()));
    let dup = findings
        .iter()
        .find(|f| f["rule"] == "duplicate-key")
        .expect("duplicate-key");
    assert_eq!(dup["path"], copy.to_str().unwrap());
    assert_eq!(dup["severity"], "warn");
    // The copy is the same key: same fingerprint in the inventory.
    let keys = doc["keys"].as_array().unwrap();
    let fp = |p: &Path| {
        keys.iter()
            .find(|k| k["path"] == p.to_str().unwrap())
            .unwrap()["fingerprint"]
            .clone()
    };
    assert_eq!(fp(&key), fp(&copy));
    assert_eq!(doc["summary"]["fail"], 2);
}

#[test]
fn explicit_paths_replace_the_default_root() {
    let home = Home::new();
    home.keygen("id_ed25519", &["-t", "ed25519"], "");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", PASS, "-f"])
        .arg(elsewhere.path().join("k"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let (code, doc) = home.json(&[elsewhere.path().join("k").to_str().unwrap()]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["keys"].as_array().unwrap().len(), 1);
    assert_eq!(doc["summary"]["private"], 1);
}

#[test]
fn missing_path_is_a_runtime_error() {
    let home = Home::new();
    let out = home.keycheck(&["check", "/nonexistent/keycheck-test"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("keycheck: /nonexistent/keycheck-test: no such file or directory"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn no_dot_ssh_is_not_an_error() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keycheck"))
        .args(["--format", "json"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("does not exist: no SSH keys to check"));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "keycheck.check/v1");
    assert_eq!(doc["summary"]["keys"], 0);
}

#[test]
fn usage_errors_exit_2() {
    let home = Home::new();
    let out = home.keycheck(&["check", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("yaml"));
    let out = home.keycheck(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("keycheck "));
}

#[test]
fn policy_file_overrides_and_errors_name_the_line() {
    let home = Home::new();
    home.keygen("id_rsa", &["-t", "rsa", "-b", "3072"], PASS);
    let policy = home.dir.path().join("policy.toml");
    fs::write(&policy, "version = 1\n[keys]\nrsa_min_bits = 4096\n").unwrap();
    let (code, doc) = home.json(&["--policy", policy.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(rules(&doc), ["rsa-below-minimum"]);

    fs::write(
        &policy,
        "version = 1\n[rules]\nrsa-below-recommended = \"off\"\n",
    )
    .unwrap();
    // `--policy` may only tighten: switching a rule off is ignored, and said so.
    let (code, doc) = home.json(&["--policy", policy.to_str().unwrap()]);
    assert_eq!(code, 0);
    let mut found = rules(&doc);
    found.sort();
    assert_eq!(found, ["policy-loosening-ignored", "rsa-below-recommended"]);

    fs::write(&policy, "version = 1\n\n[keys]\nrsa_min_bits = \"big\"\n").unwrap();
    let out = home.keycheck(&["--policy", policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("keycheck: {}:4:16: ", policy.display())),
        "{stderr}"
    );
    assert!(stderr.contains("\"big\""), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");

    let out = home.keycheck(&["--policy", "/nonexistent/policy.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("reading policy /nonexistent/policy.toml"));
}

#[test]
fn explain_lists_and_explains_rules() {
    let home = Home::new();
    let out = home.keycheck(&["explain"]);
    assert_eq!(out.status.code(), Some(0));
    let list = text(&out.stdout);
    for id in [
        "algorithm-denied",
        "passphrase-missing",
        "kdf-weak",
        "duplicate-key",
        "unreadable",
    ] {
        assert!(list.contains(id), "{list}");
    }
    let out = home.keycheck(&["explain", "passphrase-missing"]);
    assert!(text(&out.stdout).starts_with("passphrase-missing (fail by default)"));
    let out = home.keycheck(&["explain", "no-such-rule"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn closed_pipe_ends_quietly() {
    let home = Home::new();
    for i in 0..30 {
        home.keygen(&format!("k{i}"), &["-t", "ed25519"], "");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_keycheck"))
        .args(["--format", "json"])
        .env("HOME", home.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
}

#[test]
fn colour_only_when_forced_or_on_a_terminal_and_never_with_no_color() {
    let home = Home::new();
    home.keygen("id_ed25519", &["-t", "ed25519"], "");
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keycheck"));
        cmd.env("HOME", home.dir.path())
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        text(&cmd.output().unwrap().stdout)
    };
    // A pipe is not a terminal: no colour.
    assert!(!run(&[]).contains('\u{1b}'));
    // CLICOLOR_FORCE stands in for a terminal here: colour.
    assert!(run(&[("CLICOLOR_FORCE", "1")]).contains("\u{1b}["));
    // NO_COLOR wins over everything.
    assert!(!run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\u{1b}'));
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = Command::new(env!("CARGO_BIN_EXE_keycheck"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8(out.stdout).unwrap();
    // The tests run from a git checkout: the commit is the checkout's.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(head.status.success(), "not a git checkout");
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(
        shown.trim(),
        format!(
            "keycheck {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            head.trim()
        )
    );
}
