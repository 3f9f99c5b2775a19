//! `keycheck check` over a whole home, as a person runs it: keys hidden in a repository
//! (git-ignored), in Downloads and at an IdentityFile path are reported as strays; a TLS
//! key and a Cosign key are not SSH keys; caches are skipped; the real `ssh -G` reads the
//! ssh config; `authorized_keys` entries are judged. Keys come from the real ssh-keygen
//! and openssl.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn keygen(path: &Path, args: &[&str]) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    support::run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-C", "home-test", "-f"])
            .arg(path)
            .args(args),
    );
}

fn write(path: &Path, text: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn check(&self, args: &[&str]) -> (i32, Value) {
        let out = support::run(
            support::keycheck(self.dir.path())
                .args(["check", "--format", "json"])
                .args(args),
        );
        let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), doc)
    }
}

/// A home with keys where people leave them.
fn home() -> Home {
    let h = Home {
        dir: tempfile::tempdir().unwrap(),
    };
    let pass = ["-N", "a long test passphrase"];
    fs::create_dir(h.path(".ssh")).unwrap();
    fs::set_permissions(h.path(".ssh"), fs::Permissions::from_mode(0o700)).unwrap();
    keygen(
        &h.path(".ssh/id_ed25519"),
        &[&["-t", "ed25519"][..], &pass].concat(),
    );
    // A repository that git-ignores the deploy key it holds.
    write(&h.path("src/app/.gitignore"), "deploy_key\n", 0o644);
    keygen(
        &h.path("src/app/deploy_key"),
        &[&["-t", "ed25519"][..], &pass].concat(),
    );
    // A PEM key in Downloads with its .pub (evidence of SSH use).
    keygen(
        &h.path("Downloads/old_rsa"),
        &[&["-t", "rsa", "-b", "3072", "-m", "PEM"][..], &pass].concat(),
    );
    // The key an IdentityFile names.
    keygen(
        &h.path("office/keys/office_key"),
        &[&["-t", "ed25519"][..], &pass].concat(),
    );
    // A key in a cache: excluded by the policy.
    keygen(
        &h.path(".cache/tool/id_ed25519"),
        &[&["-t", "ed25519"][..], &pass].concat(),
    );
    // A TLS key and certificate, and a Cosign key: not SSH keys.
    fs::create_dir_all(h.path("srv/tls")).unwrap();
    support::run_ok(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-days", "1",
                "-keyout",
            ])
            .arg(h.path("srv/tls/server.key"))
            .arg("-out")
            .arg(h.path("srv/tls/server.crt")),
    );
    write(
        &h.path(".sigstore/cosign.key"),
        "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\neyJrZGYiOnsibmFtZSI6InNjcnlwdCJ9fQ==\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n",
        0o600,
    );
    // ssh config: keys added to the agent forever, and a host whose key lives elsewhere.
    write(
        &h.path(".ssh/config"),
        "Host office\n  IdentityFile ~/office/keys/office_key\n  AddKeysToAgent 4h\n\nHost *\n  AddKeysToAgent yes\n",
        0o600,
    );
    // authorized_keys: our own key, and a DSA key the policy denies.
    keygen(&h.path("scratch/dsa"), &["-t", "dsa", "-N", ""]);
    let own = fs::read_to_string(h.path(".ssh/id_ed25519.pub")).unwrap();
    let dsa = fs::read_to_string(h.path("scratch/dsa.pub")).unwrap();
    write(
        &h.path(".ssh/authorized_keys"),
        &format!("{own}no-pty {dsa}"),
        0o600,
    );
    fs::remove_dir_all(h.path("scratch")).unwrap();
    h
}

fn findings<'a>(doc: &'a Value, rule: &str) -> Vec<&'a Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

#[test]
fn search_home_finds_the_ssh_keys_and_only_them() {
    support::require_tools();
    let h = home();
    let (code, doc) = h.check(&["--search-home"]);
    let private: BTreeSet<String> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kind"] == "private")
        .map(|k| k["path"].as_str().unwrap().to_owned())
        .collect();
    let expect: BTreeSet<String> = [
        ".ssh/id_ed25519",
        "src/app/deploy_key",
        "Downloads/old_rsa",
        "office/keys/office_key",
    ]
    .iter()
    .map(|p| h.path(p).display().to_string())
    .collect();
    assert_eq!(private, expect, "{doc:#}");

    let strays: BTreeSet<String> = findings(&doc, "stray-private-key")
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    let mut outside = expect.clone();
    outside.remove(&h.path(".ssh/id_ed25519").display().to_string());
    assert_eq!(strays, outside, "{doc:#}");
    // The IdentityFile key says how it was found.
    assert_eq!(
        doc["found"][h.path("office/keys/office_key").display().to_string()],
        "identity-file",
        "{doc:#}"
    );
    // Fingerprints are ssh-keygen's.
    let deploy = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["path"] == h.path("src/app/deploy_key").display().to_string())
        .unwrap();
    let listing = support::ssh_keygen_l(&h.path("src/app/deploy_key.pub")).unwrap();
    assert_eq!(deploy["fingerprint"], listing.fingerprint);
    // Warnings only: every key has a passphrase and a policy-sized algorithm.
    assert_eq!(code, 0, "{doc:#}");
}

#[test]
fn the_default_run_reads_the_ssh_config_and_authorized_keys() {
    support::require_tools();
    let h = home();
    let (_, doc) = h.check(&[]);
    let unbounded = findings(&doc, "cache-unbounded");
    assert_eq!(unbounded.len(), 1, "{doc:#}");
    assert_eq!(
        unbounded[0]["path"],
        format!("{}:6", h.path(".ssh/config").display())
    );
    let exceeded = findings(&doc, "cache-window-exceeded");
    assert_eq!(exceeded.len(), 1, "{doc:#}");
    assert!(exceeded[0]["message"]
        .as_str()
        .unwrap()
        .contains("4h for Host office"));
    let weak = findings(&doc, "authorized-key-weak");
    assert_eq!(weak.len(), 1, "{doc:#}");
    assert_eq!(
        weak[0]["path"],
        format!("{}:2", h.path(".ssh/authorized_keys").display())
    );
    // Without --search-home only the IdentityFile key is found outside ~/.ssh.
    let strays = findings(&doc, "stray-private-key");
    assert_eq!(strays.len(), 1, "{doc:#}");
    assert_eq!(
        strays[0]["path"],
        h.path("office/keys/office_key").display().to_string()
    );
    // On a mobile device, `AddKeysToAgent 4h` and the window of 15 minutes disagree too;
    // with a laptop window of 5h (an organisation's choice) the 4h host is fine.
    fs::write(
        h.path("org-policy.toml"),
        "version = 1\n[cache]\nlaptop = \"5h\"\n",
    )
    .unwrap();
    let (_, doc) = h.check(&[]);
    assert!(
        findings(&doc, "cache-window-exceeded").is_empty(),
        "{doc:#}"
    );
}

#[test]
fn policy_search_paths_are_searched_on_every_default_run() {
    support::require_tools();
    let h = home();
    fs::write(
        h.path("org-policy.toml"),
        "version = 1\n[files]\nsearch = [\"~/src\"]\n",
    )
    .unwrap();
    let (_, doc) = h.check(&[]);
    let strays: BTreeSet<&str> = findings(&doc, "stray-private-key")
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        strays.contains(h.path("src/app/deploy_key").to_str().unwrap()),
        "{doc:#}"
    );
    assert!(
        !strays.contains(h.path("Downloads/old_rsa").to_str().unwrap()),
        "{doc:#}"
    );
}

#[test]
fn the_common_passphrase_audit_finds_weak_keys_and_never_shows_the_passphrase() {
    support::require_tools();
    let h = Home {
        dir: tempfile::tempdir().unwrap(),
    };
    fs::create_dir(h.path(".ssh")).unwrap();
    fs::set_permissions(h.path(".ssh"), fs::Permissions::from_mode(0o700)).unwrap();
    // `-a 4`: few bcrypt rounds so the test is quick (kdf-weak says so, as it should).
    keygen(
        &h.path(".ssh/id_weak"),
        &["-t", "ed25519", "-a", "4", "-N", "letmein"],
    );
    keygen(
        &h.path(".ssh/id_pem"),
        &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "changeme"],
    );
    keygen(
        &h.path(".ssh/id_strong"),
        &[
            "-t",
            "ed25519",
            "-a",
            "4",
            "-N",
            "vault-Quorum-9-tangerine-OBELISK",
        ],
    );
    // Without the flag nothing is tried.
    let (_, doc) = h.check(&[]);
    assert!(findings(&doc, "passphrase-weak").is_empty(), "{doc:#}");

    let out = support::run(support::keycheck(h.dir.path()).args([
        "check",
        "--format",
        "json",
        "--try-common-passphrases",
    ]));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let weak: BTreeSet<&str> = findings(&doc, "passphrase-weak")
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let expect: BTreeSet<String> = [".ssh/id_weak", ".ssh/id_pem"]
        .iter()
        .map(|p| h.path(p).display().to_string())
        .collect();
    assert_eq!(
        weak,
        expect.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        "{doc:#}"
    );
    assert_eq!(
        doc["passphrase_audit"][h.path(".ssh/id_strong").display().to_string()]["result"],
        "not-found",
        "{doc:#}"
    );
    assert_eq!(out.status.code(), Some(1));
    // Neither the report nor the human view names a passphrase.
    let human = support::run(support::keycheck(h.dir.path()).args([
        "check",
        "-v",
        "--try-common-passphrases",
    ]));
    for text in [&out.stdout, &out.stderr, &human.stdout, &human.stderr] {
        let text = String::from_utf8_lossy(text);
        for secret in ["letmein", "changeme", "vault-Quorum"] {
            assert!(!text.contains(secret), "{secret} printed:\n{text}");
        }
    }
}

#[test]
fn certificates_signed_by_the_real_ssh_keygen_expire_and_warn() {
    support::require_tools();
    let h = Home {
        dir: tempfile::tempdir().unwrap(),
    };
    fs::create_dir(h.path(".ssh")).unwrap();
    fs::set_permissions(h.path(".ssh"), fs::Permissions::from_mode(0o700)).unwrap();
    keygen(&h.path("ca/ca"), &["-t", "ed25519", "-N", ""]);
    let pass = ["-N", "a long test passphrase"];
    for (name, validity) in [
        ("id_old", "20200101:20200102"),
        ("id_soon", "-1d:+3d"),
        ("id_later", "-1d:+60d"),
        ("id_forever", "always:forever"),
    ] {
        let key = h.path(&format!(".ssh/{name}"));
        keygen(&key, &[&["-t", "ed25519"][..], &pass].concat());
        support::run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-s"])
                .arg(h.path("ca/ca"))
                .args(["-I", name, "-n", "me", "-V", validity])
                .arg(h.path(&format!(".ssh/{name}.pub"))),
        );
    }
    let (code, doc) = h.check(&[]);
    let at = |rule: &str| -> Vec<String> {
        findings(&doc, rule)
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_owned())
            .collect()
    };
    let cert = |name: &str| {
        h.path(&format!(".ssh/{name}-cert.pub"))
            .display()
            .to_string()
    };
    assert_eq!(at("certificate-expired"), [cert("id_old")], "{doc:#}");
    assert_eq!(at("certificate-expiring"), [cert("id_soon")], "{doc:#}");
    assert_eq!(code, 1);
}
