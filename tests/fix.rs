//! `keycheck fix` as a person runs it, on a temp HOME with keys from the real
//! `ssh-keygen`: the dry-run plan, its commands, and that it changes nothing; then the
//! real interactive flow in a real terminal (tmux), typing answers and passphrases into
//! OpenSSH's own prompts, interrupted, killed, and undone.

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

    // Without --dry-run and without a terminal to ask on: the plan, a refusal, exit 2,
    // and still nothing changed in ~/.ssh.
    let ssh = |snapshot: std::collections::BTreeMap<std::path::PathBuf, _>| {
        snapshot
            .into_iter()
            .filter(|(p, _)| p.starts_with(home.ssh()))
            .collect::<Vec<_>>()
    };
    let out = home.keycheck(&["fix"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains("   run: chmod "));
    assert!(
        text(&out.stderr).contains("standard input is not a terminal"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(ssh(home.snapshot()), ssh(before));
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

// ---------------------------------------------------------------------------------------
// The interactive flow, in a real terminal
// ---------------------------------------------------------------------------------------

/// The passphrase typed into ssh-keygen's prompts.
const NEW: &str = "fix-test-passphrase-7";

/// Answers ssh-keygen's two prompts for a new passphrase.
fn type_new_passphrase(term: &mut support::tmux::Tmux) {
    term.expect("Enter new passphrase (empty for no passphrase):");
    term.type_line(NEW);
    term.expect("Enter same passphrase again:");
    term.type_line(NEW);
}

/// `keycheck check --format json` facts of the key at `path`.
fn facts(home: &Home, path: &std::path::Path) -> serde_json::Value {
    let (_, doc) = home.json(&[path.to_str().unwrap()]);
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["path"] == path.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} not among the keys: {doc:#}", path.display()))
        .clone()
}

/// The backup sets under the temp HOME's state directory.
fn backup_sets(home: &Home) -> Vec<std::path::PathBuf> {
    let root = home.dir.path().join(".local/state/keycheck/backups");
    match fs::read_dir(root) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn an_unencrypted_key_gets_a_passphrase_typed_into_ssh_keygen() {
    let home = Home::new();
    let key = home.keygen("id_ed25519", &["-t", "ed25519"], "");
    let public = support::ssh_keygen_y(&key, "").unwrap();

    let mut term = home.keycheck_in_terminal(&["fix"]);
    term.expect("apply? [y]es / [n]o / [a]ll / [q]uit");
    term.type_line("y");
    type_new_passphrase(&mut term);
    let (code, screen) = term.exit();

    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("now has a passphrase"), "{screen}");
    assert!(
        screen.contains("checked again: nothing fails or warns"),
        "{screen}"
    );
    assert!(
        !screen.contains(NEW),
        "the passphrase is never echoed:\n{screen}"
    );
    assert_eq!(
        support::ssh_keygen_y(&key, ""),
        None,
        "the key opens without a passphrase"
    );
    assert_eq!(support::ssh_keygen_y(&key, NEW).as_deref(), Some(&*public));
    let facts = facts(&home, &key);
    assert_eq!(facts["format"], "openssh", "{facts:#}");
    assert_eq!(facts["kdf"], "bcrypt", "{facts:#}");
    assert_eq!(facts["kdf_rounds"], 100, "{facts:#}");
    assert_eq!(support::mode_of(&key), 0o600);
    // The original is kept, private, and no copy is left beside the key.
    let sets = backup_sets(&home);
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert_eq!(support::mode_of(&sets[0]), 0o700);
    assert!(screen.contains(sets[0].to_str().unwrap()), "{screen}");
    assert_eq!(
        fs::read_dir(home.ssh()).unwrap().count(),
        2,
        "only the key and its .pub"
    );
}

#[test]
fn a_legacy_pem_key_is_rewritten_as_openssh_with_the_policys_rounds() {
    let home = Home::new();
    let key = home.keygen("id_rsa", &["-t", "rsa", "-b", "2048", "-m", "PEM"], PASS);
    assert!(text(&fs::read(&key).unwrap()).starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let public = support::ssh_keygen_y(&key, PASS).unwrap();
    // No .pub: the encrypted PEM hides its public key, so ssh-keygen -y is asked first.
    fs::remove_file(home.ssh().join("id_rsa.pub")).unwrap();
    let policy = home.dir.path().join("extra.toml");
    fs::write(&policy, "version = 1\n[keys]\nbcrypt_min_rounds = 150\n").unwrap();

    let mut term = home.keycheck_in_terminal(&["fix", "--policy", policy.to_str().unwrap()]);
    term.expect("resolves warn legacy-pem-encryption");
    term.expect("apply?");
    term.type_line("y");
    term.expect("Enter passphrase");
    term.type_line(PASS);
    term.expect("Enter old passphrase:");
    term.type_line(PASS);
    type_new_passphrase(&mut term);
    let (code, screen) = term.exit();

    assert_eq!(code, 0, "{screen}");
    assert!(text(&fs::read(&key).unwrap()).starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    let facts = facts(&home, &key);
    assert_eq!(facts["kdf"], "bcrypt", "{facts:#}");
    assert_eq!(facts["kdf_rounds"], 150, "{facts:#}");
    assert_eq!(support::ssh_keygen_y(&key, PASS), None);
    assert_eq!(support::ssh_keygen_y(&key, NEW).as_deref(), Some(&*public));
}

#[test]
fn a_small_rsa_key_gets_an_ed25519_replacement_beside_it_and_stays() {
    let home = Home::new();
    let old = home.keygen("id_rsa", &["-t", "rsa", "-b", "1024"], PASS);
    let before = fs::read(&old).unwrap();
    fs::write(
        home.ssh().join("config"),
        "Host example.invalid\n  IdentityFile ~/.ssh/id_rsa\n",
    )
    .unwrap();
    set_mode(&home.ssh().join("config"), 0o600);

    let mut term = home.keycheck_in_terminal(&["fix"]);
    term.expect("resolves fail rsa-below-minimum");
    term.expect("apply?");
    term.type_line("y");
    term.expect("Enter passphrase (empty for no passphrase):");
    term.type_line(NEW);
    term.expect("Enter same passphrase again:");
    term.type_line(NEW);
    let (code, screen) = term.exit();

    // The old key still fails the policy until it is retired: exit 1, and it is intact.
    assert_eq!(code, 1, "{screen}");
    assert_eq!(fs::read(&old).unwrap(), before);
    let new = home.ssh().join("id_ed25519");
    let public = fs::read_to_string(home.ssh().join("id_ed25519.pub")).unwrap();
    assert!(public.starts_with("ssh-ed25519 "), "{public}");
    assert!(
        screen.contains(public.trim()),
        "the public key is shown:\n{screen}"
    );
    assert_eq!(
        support::ssh_keygen_y(&new, ""),
        None,
        "the new key has a passphrase"
    );
    assert_eq!(
        support::ssh_keygen_y(&new, NEW).as_deref(),
        Some(public.trim())
    );
    assert!(
        screen.contains("the old key's comment, a hint of where it is used: test@keycheck"),
        "{screen}"
    );
    assert!(
        screen.contains("~/.ssh/config:2: IdentityFile ~/.ssh/id_rsa (Host example.invalid)"),
        "{screen}"
    );
    assert!(screen.contains("checked again, what remains:"), "{screen}");
    assert!(
        screen.contains("~/.ssh/id_rsa fail rsa-below-minimum"),
        "{screen}"
    );
}

#[test]
fn killing_fix_at_the_passphrase_prompt_leaves_the_key_intact() {
    let home = Home::new();
    let key = home.keygen("id_ed25519", &["-t", "ed25519"], "");
    let before = fs::read(&key).unwrap();
    let copy = home.ssh().join(".id_ed25519.keycheck-fix");

    let mut term = home.keycheck_in_terminal(&["fix"]);
    term.expect("apply?");
    term.type_line("y");
    term.expect("Enter new passphrase (empty for no passphrase):");
    let pid = term.command_pid();
    assert!(copy.exists(), "the rewrite works on a copy beside the key");
    // While it holds the key's bytes, keycheck cannot leave them in a core file.
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(&core[4..6], ["0", "0"], "{limits}");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Reaped by the pane's shell (so its descriptors and lock are gone).
    let (code, screen) = term.exit();
    assert_eq!(code, 128 + 9, "{screen}");
    drop(term); // hangs up on ssh-keygen too
    assert_eq!(fs::read(&key).unwrap(), before, "the original is intact");
    assert!(
        copy.exists(),
        "a kill leaves the copy (nothing can run at SIGKILL)"
    );

    // The next run removes the copy (its original is intact) before planning.
    let out = home.keycheck(&["fix"]);
    assert!(
        text(&out.stderr).contains("removed 1 copies left by an interrupted keycheck fix"),
        "{}",
        text(&out.stderr)
    );
    assert!(!copy.exists());
    assert_eq!(steps(&text(&out.stdout)).len(), 1, "{}", text(&out.stdout));
    assert_eq!(fs::read(&key).unwrap(), before);
}

#[test]
fn ctrl_c_at_the_passphrase_prompt_rolls_the_step_back() {
    let home = Home::new();
    let key = home.keygen("id_ed25519", &["-t", "ed25519"], "");
    let before = home.snapshot();

    let mut term = home.keycheck_in_terminal(&["fix"]);
    term.expect("apply?");
    term.type_line("y");
    term.expect("Enter new passphrase (empty for no passphrase):");
    term.key("C-c");
    let (code, screen) = term.exit();

    assert_eq!(code, 130, "{screen}");
    assert!(screen.contains("interrupted"), "{screen}");
    assert!(screen.contains("nothing was changed"), "{screen}");
    assert!(!home.ssh().join(".id_ed25519.keycheck-fix").exists());
    let after: Vec<_> = home
        .snapshot()
        .into_iter()
        .filter(|(p, _)| p.starts_with(home.ssh()))
        .collect();
    let before: Vec<_> = before.into_iter().collect();
    assert_eq!(after, before, "not one byte or mode of ~/.ssh changed");
    assert!(
        backup_sets(&home).is_empty(),
        "an empty backup set is not left"
    );
    assert!(
        support::ssh_keygen_y(&key, "").is_some(),
        "still without a passphrase"
    );
}

#[test]
fn undo_restores_byte_identical_originals() {
    let home = Home::new();
    home.keygen("id_ed25519", &["-t", "ed25519"], "");
    home.keygen("id_ecdsa", &["-t", "ecdsa", "-m", "PEM"], PASS);
    set_mode(&home.ssh().join("id_ecdsa"), 0o640);
    set_mode(&home.ssh(), 0o755);
    let ssh = |home: &Home| -> Vec<_> {
        home.snapshot()
            .into_iter()
            .filter(|(p, _)| p.starts_with(home.ssh()))
            .collect()
    };
    let before = ssh(&home);

    let mut term = home.keycheck_in_terminal(&["fix", "--yes"]);
    // The ECDSA key: its mode, then its rewrite out of legacy PEM.
    term.expect("Enter old passphrase:");
    term.type_line(PASS);
    type_new_passphrase(&mut term);
    // The Ed25519 key: a passphrase.
    type_new_passphrase(&mut term);
    let (code, screen) = term.exit();
    assert_eq!(code, 0, "{screen}");
    let fixed = ssh(&home);
    assert_ne!(fixed, before);

    let out = home.keycheck(&["fix", "--undo", "--yes"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("restore "), "{stdout}");
    assert_eq!(ssh(&home), before, "every byte and mode is as it was");

    // Once undone, a run is not undone again.
    let out = home.keycheck(&["fix", "--undo", "--yes"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("nothing to undo"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn undo_keeps_a_key_changed_since_the_fix_before_restoring() {
    let home = Home::new();
    let key = home.keygen("id_ed25519", &["-t", "ed25519"], "");
    let original = fs::read(&key).unwrap();
    let mut term = home.keycheck_in_terminal(&["fix", "--yes"]);
    type_new_passphrase(&mut term);
    assert_eq!(term.exit().0, 0);
    // Changed by the person after the fix: undo must not lose this either.
    fs::write(&key, b"edited since").unwrap();

    let out = home.keycheck(&["fix", "--undo", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(fs::read(&key).unwrap(), original);
    let sets = backup_sets(&home);
    let kept: Vec<_> = fs::read_dir(&sets[0])
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".before-undo"))
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "{:?}",
        fs::read_dir(&sets[0]).unwrap().collect::<Vec<_>>()
    );
    assert_eq!(fs::read(&kept[0]).unwrap(), b"edited since");
}

#[test]
fn a_rewrite_killed_at_any_point_leaves_the_old_key_or_the_new_one() {
    // The points of a rewrite where the debug build's hook sends itself SIGKILL, and
    // whether ssh-keygen has asked for the passphrase by then.
    for (point, after_prompt) in [
        ("kept", false),
        ("copied", false),
        ("rewritten", true),
        ("checked", true),
        ("recorded", true),
        ("replaced", true),
    ] {
        let home = Home::new();
        let key = home.keygen("id_ed25519", &["-t", "ed25519"], "");
        let before = fs::read(&key).unwrap();
        let public = support::ssh_keygen_y(&key, "").unwrap();

        let mut term =
            home.keycheck_in_terminal_with(&["fix"], &[("KEYCHECK_TEST_KILL_AT", point)]);
        term.expect("apply?");
        term.type_line("y");
        if after_prompt {
            type_new_passphrase(&mut term);
        }
        let (code, screen) = term.exit();
        assert_eq!(code, 128 + 9, "{point}: killed\n{screen}");
        drop(term);

        // Never neither: the original byte for byte, or the new key complete.
        let now = fs::read(&key).unwrap();
        if point == "replaced" {
            assert_ne!(now, before, "{point}");
            assert_eq!(support::ssh_keygen_y(&key, ""), None, "{point}");
            assert_eq!(
                support::ssh_keygen_y(&key, NEW).as_deref(),
                Some(&*public),
                "{point}: the new key is complete"
            );
        } else {
            assert_eq!(now, before, "{point}: the original is intact");
        }

        // The next run clears what was left beside the key...
        let out = home.keycheck(&["fix"]);
        // (no terminal to ask on: it changes nothing else; nothing is left to fix once
        // the new key is in place)
        let want = if point == "replaced" { 0 } else { 2 };
        assert_eq!(
            out.status.code(),
            Some(want),
            "{point}: {}",
            text(&out.stderr)
        );
        let left: Vec<_> = fs::read_dir(home.ssh())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".keycheck-fix"))
            .collect();
        assert!(left.is_empty(), "{point}: {left:?}");
        // A backup set stays only where a change was recorded.
        let recorded = matches!(point, "recorded" | "replaced");
        assert_eq!(backup_sets(&home).len(), usize::from(recorded), "{point}");
        // ...and --undo brings back the original whenever the change was recorded.
        let out = home.keycheck(&["fix", "--undo", "--yes"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{point}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert_eq!(fs::read(&key).unwrap(), before, "{point}: undone");
    }
}

#[test]
fn a_key_of_another_user_is_not_rewritten_and_links_are_followed_to_the_key() {
    assert!(
        support::is_root(),
        "this test gives a key to another user, which needs root (CI runs as root)"
    );
    let home = Home::new();
    let theirs = home.keygen("id_theirs", &["-t", "ed25519"], "");
    let status = std::process::Command::new("chown")
        .args(["65534:65534"])
        .arg(&theirs)
        .status()
        .unwrap();
    assert!(status.success());
    let before = fs::read(&theirs).unwrap();
    // A link in ~/.ssh to a key elsewhere: the key itself is rewritten, the link stays.
    let elsewhere = home.dir.path().join("keys");
    fs::create_dir(&elsewhere).unwrap();
    set_mode(&elsewhere, 0o700);
    let target = elsewhere.join("id_work");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "work", "-f"])
        .arg(&target)
        .output()
        .unwrap();
    assert!(out.status.success());
    let public = support::ssh_keygen_y(&target, "").unwrap();
    let link = home.ssh().join("id_work");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    let mut term = home.keycheck_in_terminal(&[
        "fix",
        "--yes",
        theirs.to_str().unwrap(),
        link.to_str().unwrap(),
    ]);
    type_new_passphrase(&mut term);
    let (code, screen) = term.exit();

    assert_eq!(code, 2, "a step failed:\n{screen}");
    assert!(
        screen.contains("belongs to user 65534, not to you; keycheck rewrites only your own files"),
        "{screen}"
    );
    assert_eq!(fs::read(&theirs).unwrap(), before);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        support::ssh_keygen_y(&target, NEW).as_deref(),
        Some(&*public)
    );
}

#[test]
fn keys_with_names_that_are_not_plain_text_are_fixed_and_undone() {
    use std::os::unix::ffi::OsStrExt as _;
    let home = Home::new();
    let mut keys = Vec::new();
    for name in [&b"id_\xff"[..], b"id_\x1b[31m"] {
        let path = home.ssh().join(std::ffi::OsStr::from_bytes(name));
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "odd", "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        keys.push((path.clone(), fs::read(&path).unwrap()));
    }

    let mut term = home.keycheck_in_terminal(&["fix", "--yes"]);
    type_new_passphrase(&mut term);
    type_new_passphrase(&mut term);
    let (code, screen) = term.exit();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("~/.ssh/id_\\xff"), "{screen}");
    for (path, before) in &keys {
        assert_ne!(&fs::read(path).unwrap(), before, "{}", path.display());
        assert_eq!(support::ssh_keygen_y(path, ""), None, "{}", path.display());
    }

    let out = home.keycheck(&["fix", "--undo", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    for (path, before) in &keys {
        assert_eq!(&fs::read(path).unwrap(), before, "{}", path.display());
    }
}
