//! Policy files as a security team writes them: every validation error is a snapshot
//! (`tests/fixtures/policies/bad/NAME.toml` → `NAME.expected`), the merged policy of a
//! good organisation file is a snapshot, and the CLI reads the layers from where they
//! live: the organisation's file, the user's config dir, `--policy`.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test --test policy_files` rewrites the snapshots; review the
//! diff.

#![allow(clippy::unwrap_used)]

mod support;

use std::fs;
use std::path::Path;

use keycheck::policy::{self, LayerKind, Policy, Source};

fn fixtures() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/policies"
    ))
}

/// Compares `actual` with the snapshot at `path`, or writes it when asked to.
fn snapshot(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        fs::write(path, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "snapshot {} differs", path.display());
}

fn org_layer(name: &str, text: &str) -> Result<Policy, policy::Error> {
    Policy::from_sources(&[
        Source {
            kind: LayerKind::Builtin,
            name: "built-in policy",
            text: policy::BUILTIN,
        },
        Source {
            kind: LayerKind::Organisation,
            name,
            text,
        },
    ])
}

#[test]
fn every_validation_error_names_file_line_column_value_and_what_is_accepted() {
    let dir = fixtures().join("bad");
    let mut seen = 0;
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = format!("bad/{}", path.file_name().unwrap().to_str().unwrap());
        let text = fs::read_to_string(&path).unwrap();
        let err = org_layer(&name, &text).expect_err(&name);
        let mut out = String::new();
        for d in err.diagnostics() {
            assert!(d.at.starts_with(&format!("{name}:")), "{d}");
            out.push_str(&d.to_string());
            out.push('\n');
        }
        snapshot(&path.with_extension("expected"), &out);
        seen += 1;
    }
    assert!(seen >= 30, "only {seen} bad policies");
}

#[test]
fn the_many_problems_file_lists_every_problem() {
    let text = fs::read_to_string(fixtures().join("bad/many-problems.toml")).unwrap();
    let err = org_layer("p.toml", &text).unwrap_err();
    assert_eq!(err.diagnostics().len(), 4, "{:?}", err.diagnostics());
    assert!(err.to_string().ends_with("(and 3 more problems)"), "{err}");
}

#[test]
fn a_good_organisation_policy_merges_as_snapshotted() {
    let path = fixtures().join("good/organisation.toml");
    let text = fs::read_to_string(&path).unwrap();
    let p = org_layer("good/organisation.toml", &text).unwrap();
    assert_eq!(p.keys.rsa_min_bits, 3072);
    assert_eq!(p.cache_window(), std::time::Duration::from_secs(3600));
    assert!(p.ignored.is_empty());
    snapshot(&fixtures().join("good/organisation.show"), &p.show());
}

#[test]
fn the_template_is_the_builtin_policy_and_shows_as_a_valid_policy() {
    let p = Policy::builtin().unwrap();
    // `policy show` output is itself a valid policy file, equal to what it shows.
    let again = org_layer("shown.toml", &p.show()).unwrap();
    assert_eq!(again.keys, p.keys);
    assert_eq!(again.files, p.files);
    assert_eq!(again.cache, p.cache);
    assert_eq!(again.notify, p.notify);
    assert_eq!(again.profile, p.profile);
    assert_eq!(again.rules.len(), keycheck::rules::Rule::ALL.len());
}

// --- the CLI reading real files from the places they live ---------------------------

struct World {
    home: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let home = tempfile::tempdir().unwrap();
        fs::create_dir(home.path().join(".ssh")).unwrap();
        World { home }
    }
    fn org(&self, text: &str) {
        let path = self.home.path().join("org-policy.toml");
        fs::write(&path, text).unwrap();
        support::set_mode(&path, 0o644);
    }
    fn user(&self, text: &str) {
        let dir = self.home.path().join(".config/keycheck");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("policy.toml"), text).unwrap();
    }
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = support::run(support::keycheck(self.home.path()).args(args));
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }
}

#[test]
fn an_organisation_policy_others_can_write_is_refused() {
    let w = World::new();
    w.org("version = 1\n[keys]\nrsa_min_bits = 1024\n");
    let org = w.home.path().join("org-policy.toml");
    support::set_mode(&org, 0o666);
    let (code, out, err) = w.run(&["check"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains(org.to_str().unwrap()), "{err}");
    assert!(err.contains("mode 0666 lets others write it"), "{err}");
    // Its directory counts too.
    support::set_mode(&org, 0o644);
    support::set_mode(w.home.path(), 0o777);
    let (code, _, err) = w.run(&["policy", "show"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("its directory"), "{err}");
    support::set_mode(w.home.path(), 0o700);
    let (code, _, err) = w.run(&["policy", "show"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn policy_show_names_the_layer_of_each_value() {
    let w = World::new();
    w.org("version = 1\n[keys]\nrsa_min_bits = 3072\n[cache]\nlaptop = \"1h\"\n");
    w.user("version = 1\n[keys]\nbcrypt_min_rounds = 64\nrsa_min_bits = 2048\n");
    let (code, out, err) = w.run(&["policy", "show"]);
    assert_eq!(code, 0, "{err}");
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in\n{out}"))
            .to_owned()
    };
    let org = w.home.path().join("org-policy.toml");
    let user = w.home.path().join(".config/keycheck/policy.toml");
    assert!(
        line("rsa_min_bits").contains(&format!("# {}:3:16", org.display())),
        "{out}"
    );
    assert!(
        line("laptop").contains(&format!("# {}:5:10", org.display())),
        "{out}"
    );
    assert!(
        line("bcrypt_min_rounds").contains(&format!("# {}:3:21", user.display())),
        "{out}"
    );
    assert!(line("passphrase_required").ends_with("# built-in"), "{out}");
    // The user's attempt to lower the organisation's minimum is listed as ignored.
    assert!(
        out.contains(&format!(
            "#   {}:4:16: keys.rsa_min_bits: 2048 would loosen",
            user.display()
        )),
        "{out}"
    );
}

#[test]
fn check_reports_user_loosening_as_a_finding_and_keeps_the_org_value() {
    let w = World::new();
    w.org("version = 1\n[keys]\nrsa_min_bits = 3072\n[exceptions]\nusers_may_add = false\n");
    w.user("version = 1\n[keys]\nrsa_min_bits = 1024\n[[exceptions.waive]]\npath = \"~/.ssh/*\"\nrules = [\"rsa-below-minimum\"]\nreason = \"mine\"\nexpires = 2099-01-01\n");
    let key = w.home.path().join(".ssh/id_rsa");
    support::run_ok(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "rsa", "-b", "2048", "-N", "a passphrase", "-f"])
            .arg(&key),
    );
    let (code, out, _) = w.run(&["check", "--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut rules: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    rules.sort_unstable();
    assert_eq!(
        rules,
        [
            "policy-loosening-ignored",
            "policy-loosening-ignored",
            "rsa-below-minimum"
        ]
    );
}

#[test]
fn organisation_exceptions_waive_and_users_may_add_when_allowed() {
    let w = World::new();
    w.org("version = 1\n[exceptions]\nusers_may_add = true\n");
    w.user("version = 1\n[[exceptions.waive]]\npath = \"~/.ssh/id_ed25519\"\nrules = [\"passphrase-missing\"]\nreason = \"test key\"\nexpires = 2099-01-01\n");
    let key = w.home.path().join(".ssh/id_ed25519");
    support::run_ok(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key),
    );
    let (code, out, err) = w.run(&["check", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0, "{out}");
    assert_eq!(
        doc["waived"][0]["finding"]["rule"], "passphrase-missing",
        "{out}"
    );
    assert_eq!(doc["waived"][0]["reason"], "test key");
}

#[test]
fn policy_check_lists_every_problem_and_init_writes_the_template() {
    let w = World::new();
    let bad = fixtures().join("bad/many-problems.toml");
    let (code, out, _) = w.run(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(
        out.contains("many-problems.toml:2:11: profile: \"tablet\""),
        "{out}"
    );

    let good = fixtures().join("good/organisation.toml");
    let (code, out, _) = w.run(&["policy", "check", good.to_str().unwrap()]);
    assert_eq!(
        (code, out.trim_end()),
        (0, format!("{}: valid", good.display()).as_str())
    );
    // As a user's file the same text loosens things (users_may_add, the profile's window).
    let (code, out, _) = w.run(&["policy", "check", "--as-user", good.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("would be ignored as a user's file"), "{out}");

    let (code, out, err) = w.run(&["policy", "init"]);
    assert_eq!(code, 0, "{err}");
    let written = w.home.path().join(".config/keycheck/policy.toml");
    assert!(out.contains(&written.display().to_string()), "{out}");
    assert_eq!(fs::read_to_string(&written).unwrap(), policy::BUILTIN);
    let (code, _, err) = w.run(&["policy", "init"]);
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
}
