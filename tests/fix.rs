//! `keycheck fix` as a person runs it, on a temp HOME with keys from the real
//! `ssh-keygen`: the dry-run plan, its commands, and that it changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

mod support;

use support::home::Home;
use support::{set_mode, text, PASS};

/// The step lines (`N. ACTION PATH: ...`) of a printed plan, as (action, path).
fn steps(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|l| {
            let mut words = l.split_whitespace().skip(1);
            let action = words.next().unwrap().to_owned();
            let path = words.next().unwrap().trim_end_matches(':').to_owned();
            (action, path)
        })
        .collect()
}

#[test]
fn unencrypted_key_gets_a_reencrypt_step_with_the_absolute_path() {
    let home = Home::new();
    let key = home.keygen("id_ed25519", &["-t", "ed25519"], "");
    let out = home.keycheck(&["fix", "--dry-run"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        steps(&stdout),
        [("reencrypt".to_owned(), "~/.ssh/id_ed25519".to_owned())]
    );
    let command = format!("   run: ssh-keygen -p -o -a 100 -f {}\n", key.display());
    assert!(key.is_absolute());
    assert!(stdout.contains(&command), "{stdout}");
    assert!(
        stdout.contains("resolves fail passphrase-missing"),
        "{stdout}"
    );
    assert!(stdout.contains("dry run: nothing is changed"), "{stdout}");
}

#[test]
fn policy_rounds_are_used() {
    let home = Home::new();
    let key = home.keygen("id_ed25519", &["-t", "ed25519"], "");
    let policy = home.dir.path().join("extra.toml");
    fs::write(&policy, "version = 1\n[keys]\nbcrypt_min_rounds = 150\n").unwrap();
    let out = home.keycheck(&["fix", "--dry-run", "--policy", policy.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("ssh-keygen -p -o -a 150 -f {}", key.display())),
        "{stdout}"
    );
}

#[test]
fn small_rsa_key_gets_a_replacement_under_a_new_name_and_no_reencrypt() {
    let home = Home::new();
    let old = home.keygen("id_rsa", &["-t", "rsa", "-b", "1024"], "");
    // The obvious name is taken: the replacement must not be written over it.
    home.keygen("id_ed25519", &["-t", "ed25519"], PASS);
    let out = home.keycheck(&["fix", "--dry-run"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        steps(&stdout),
        [("replace".to_owned(), "~/.ssh/id_rsa".to_owned())],
        "{stdout}"
    );
    let new = home.ssh().join("id_ed25519_2");
    assert!(!new.exists() && !home.ssh().join("id_ed25519_2.pub").exists());
    assert!(
        stdout.contains(&format!(
            "   run: ssh-keygen -t ed25519 -a 100 -f {}\n",
            new.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("resolves fail rsa-below-minimum"),
        "{stdout}"
    );
    // Its missing passphrase is resolved by retiring it, not by rewriting it.
    assert!(!stdout.contains("ssh-keygen -p"), "{stdout}");
    assert!(old.exists());
}

#[test]
fn open_key_gets_a_chmod_step() {
    let home = Home::new();
    let key = home.keygen("id_ed25519", &["-t", "ed25519"], PASS);
    set_mode(&key, 0o644);
    let out = home.keycheck(&["fix", "--dry-run"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        steps(&stdout),
        [("chmod".to_owned(), "~/.ssh/id_ed25519".to_owned())]
    );
    assert!(stdout.contains("from 0644 to 0600"), "{stdout}");
    assert!(
        stdout.contains(&format!("   run: chmod 600 {}\n", key.display())),
        "{stdout}"
    );
}

#[test]
fn dry_run_changes_nothing_on_disk() {
    let home = Home::new();
    home.keygen("id_ed25519", &["-t", "ed25519"], "");
    home.keygen("id_rsa", &["-t", "rsa", "-b", "1024"], "");
    let open = home.keygen("id_ecdsa", &["-t", "ecdsa"], PASS);
    set_mode(&open, 0o640);
    set_mode(&home.ssh(), 0o777);
    let before = home.snapshot();
    let out = home.keycheck(&["fix", "--dry-run"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    // Every kind of step was planned...
    for action in ["chmod", "reencrypt", "replace"] {
        assert!(
            steps(&stdout).iter().any(|(a, _)| a == action),
            "{action}: {stdout}"
        );
    }
    // ...and not one byte or mode changed.
    assert_eq!(home.snapshot(), before);

    // Without --dry-run: the plan, a refusal, exit 2, and still nothing changed.
    let out = home.keycheck(&["fix", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains("   run: chmod "));
    assert!(
        text(&out.stderr).contains("applying the plan is not implemented yet"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(home.snapshot(), before);
}

#[test]
fn nothing_to_fix_exits_zero_and_paths_limit_the_plan() {
    let home = Home::new();
    home.keygen("id_ed25519", &["-t", "ed25519"], PASS);
    let out = home.keycheck(&["fix", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("nothing to fix\n"));
    let out = home.keycheck(&["fix"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let weak = home.keygen("weak", &["-t", "ed25519"], "");
    let out = home.keycheck(&["fix", "--dry-run", weak.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        steps(&stdout),
        [("reencrypt".to_owned(), "~/.ssh/weak".to_owned())]
    );
}
