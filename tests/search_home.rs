//! `sys::search` over generated home trees: real `ssh-keygen` and `puttygen` keys (and
//! `openssl` TLS keys) hidden in repositories, downloads and
//! dot-directories, among decoys and hostile entries.
//!
//! Every search has a deadline ([`DEADLINE`]): a hang fails the test. A missing
//! `ssh-keygen` or `puttygen` fails the test; nothing is skipped.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use keycheck::inventory::KeyRecord;
use keycheck::sys::search::evidence::{NO_SIGN, WITH_CERTIFICATE};
use keycheck::sys::search::{search, SearchError, SearchOptions, SearchResult};
use support::{
    keygen, listing_of_public_line, puttygen_public_openssh, run, run_ok, ssh_keygen_l, write_file,
    PASS,
};

/// How long one search of a test tree may take before the test calls it hung.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs the search on another thread and fails the test if it does not return in time.
fn search_with_deadline(roots: &[PathBuf], options: &SearchOptions) -> SearchResult {
    try_search_with_deadline(roots, options).expect("search")
}

fn try_search_with_deadline(
    roots: &[PathBuf],
    options: &SearchOptions,
) -> Result<SearchResult, SearchError> {
    let (tx, rx) = mpsc::channel();
    let (roots, options) = (roots.to_vec(), options.clone());
    std::thread::spawn(move || {
        let _ = tx.send(search(&roots, &options));
    });
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("the search hung: no result after {DEADLINE:?}"))
}

fn mkdirs(path: &Path) -> PathBuf {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    path.to_owned()
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn key_paths(result: &SearchResult) -> BTreeSet<String> {
    result
        .inventory
        .keys
        .iter()
        .map(|k| k.path.clone())
        .collect()
}

fn key<'r>(result: &'r SearchResult, path: &Path) -> &'r KeyRecord {
    let p = text(path);
    result
        .inventory
        .keys
        .iter()
        .find(|k| k.path == p)
        .unwrap_or_else(|| panic!("{p} not among the keys: {:#?}", key_paths(result)))
}

/// Whether `path` appears anywhere in the result (keys, skipped, malformed, errors).
fn mentioned(result: &SearchResult, path: &Path) -> bool {
    let p = text(path);
    let inv = &result.inventory;
    inv.keys.iter().any(|k| k.path == p)
        || inv.skipped.iter().any(|s| s.path == p)
        || inv.malformed.iter().any(|m| m.path == p)
        || inv.errors.iter().any(|e| e.path == p)
}

fn skip_reason(result: &SearchResult, path: &Path) -> String {
    let p = text(path);
    result
        .inventory
        .skipped
        .iter()
        .find(|s| s.path == p)
        .map(|s| s.reason.clone())
        .unwrap_or_else(|| panic!("{p} not skipped: {:#?}", result.inventory))
}

/// The SHA256 fingerprint `ssh-keygen -l` gives for a key file.
fn keygen_fingerprint(path: &Path) -> String {
    ssh_keygen_l(path)
        .unwrap_or_else(|| panic!("ssh-keygen -l cannot read {}", path.display()))
        .fingerprint
}

/// The SHA256 fingerprint of a PuTTY or ssh.com key, through `puttygen -O public-openssh`
/// and `ssh-keygen -l`.
fn puttygen_fingerprint(path: &Path, scratch: &Path) -> String {
    listing_of_public_line(&puttygen_public_openssh(path, None, scratch)).fingerprint
}

fn puttygen(args: &[&str], out: &Path) {
    run_ok(
        Command::new("puttygen")
            .args(args)
            .arg("-o")
            .arg(out)
            .args(["--new-passphrase", "/dev/null"]),
    );
}

/// Fails loudly when `tool` is missing: these tests never skip.
fn require(tool: &str) -> bool {
    assert!(
        have(tool),
        "`{tool}` is not installed; the tests need it (scripts/test.sh installs it)"
    );
    true
}

fn have(tool: &str) -> bool {
    run(Command::new("sh").args(["-c", &format!("command -v {tool}")]))
        .status
        .success()
}

/// A PEM block with `label` around base64 of junk bytes.
fn junk_block(label: &str, lines: usize) -> String {
    let body: Vec<String> = (0..lines)
        .map(|i| format!("{:0>64}", format!("eyJrZGYiOnsibmFtZSI6InNjcnlwdCJ9{i}")))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        body.join("\n")
    )
}

fn default_options(home: &Path) -> SearchOptions {
    SearchOptions {
        exclude: vec![".cache".to_owned()],
        skip: vec![home.join(".ssh")],
        threads: 2,
        ..SearchOptions::default()
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn finds_exactly_the_ssh_keys_in_a_home_tree() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let scratch = mkdirs(&tmp.path().join("scratch"));
    let home = mkdirs(&tmp.path().join("home"));

    // ~/.ssh is the normal scan's: skipped here.
    let dot_ssh = mkdirs(&home.join(".ssh"));
    let in_dot_ssh = keygen(&dot_ssh, "id_ed25519", "ed25519", "", &[]);

    // A key inside a git repository that ignores it (.gitignore and .ignore).
    let repo = mkdirs(&home.join("src/project"));
    mkdirs(&repo.join(".git"));
    write_file(&repo, ".gitignore", b"deploy_key\n*.pem\n", 0o644);
    write_file(&repo, ".ignore", b"deploy_key\n", 0o644);
    write_file(&repo, "main.rs", b"fn main() {}\n", 0o644);
    let deploy_key = keygen(&repo, "deploy_key", "ed25519", "", &[]);
    // Source that quotes a key line is not a key.
    write_file(
        &repo,
        "parse.go",
        b"package x\n\nconst begin = \"-----BEGIN OPENSSH PRIVATE KEY-----\"\n",
        0o644,
    );
    // A document quoting a key (broken on purpose): not a key, and not a malformed key.
    let readme = write_file(
        &repo,
        "README.md",
        b"# Setup\n\nPut this in ~/.ssh:\n\n```\n-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----\n```\n",
        0o644,
    );

    // An encrypted OpenSSH RSA key in Downloads, without its .pub.
    let downloads = mkdirs(&home.join("Downloads"));
    let server_access = keygen(&downloads, "server-access", "rsa", PASS, &["-b", "3072"]);
    fs::remove_file(downloads.join("server-access.pub")).expect("rm .pub");

    // PEM keys: SSH only with evidence.
    let legacy = mkdirs(&home.join("work/legacy"));
    let deploy_pem = keygen(
        &legacy,
        "deploy.pem",
        "rsa",
        "",
        &["-b", "2048", "-m", "PEM"],
    );
    let signing = keygen(&legacy, "signing.p8", "ecdsa", PASS, &["-m", "PKCS8"]);
    let github = keygen(&legacy, "github.pem", "ecdsa", "", &["-m", "PEM"]);
    fs::remove_file(legacy.join("github.pem.pub")).expect("rm .pub");
    let id_rsa_old = keygen(
        &legacy,
        "id_rsa_old",
        "rsa",
        "",
        &["-b", "2048", "-m", "PEM"],
    );
    fs::remove_file(legacy.join("id_rsa_old.pub")).expect("rm .pub");
    let mismatch = keygen(&legacy, "mismatch.pem", "ecdsa", "", &["-m", "PEM"]);
    let other = keygen(&scratch, "other", "ecdsa", "", &[]);
    fs::copy(other.with_extension("pub"), legacy.join("mismatch.pem.pub")).expect("cp");

    // PuTTY and ssh.com keys are SSH keys by format.
    let putty_dir = mkdirs(&home.join(".putty"));
    let ppk = putty_dir.join("mykey.ppk");
    puttygen(&["-q", "-t", "ed25519", "-C", "putty-key"], &ppk);
    // ssh.com export takes RSA and DSA keys only.
    let rsa_ppk = scratch.join("rsa.ppk");
    puttygen(
        &["-q", "-t", "rsa", "-b", "2048", "-C", "tectia-key"],
        &rsa_ppk,
    );
    let tectia = home.join("tectia_key");
    run_ok(
        Command::new("puttygen")
            .arg(&rsa_ppk)
            .args(["-O", "private-sshcom", "-o"])
            .arg(&tectia),
    );

    // Excluded: under .cache.
    let cache = mkdirs(&home.join(".cache/old"));
    let cached = keygen(&cache, "id_ed25519", "ed25519", "", &[]);

    // TLS decoys.
    let certs = mkdirs(&home.join("certs"));
    let fake_cert = junk_block("CERTIFICATE", 6);
    let bundle_src = keygen(&scratch, "bundle", "rsa", "", &["-b", "2048", "-m", "PEM"]);
    let mut bundle = fs::read(&bundle_src).expect("read");
    bundle.extend_from_slice(fake_cert.as_bytes());
    // A default name does not outweigh a certificate in the same file.
    let id_rsa_bundle = write_file(&certs, "id_rsa_bundle", &bundle, 0o600);
    let bare = keygen(&scratch, "bare", "rsa", "", &["-b", "2048", "-m", "PEM"]);
    let server_key_fallback = certs.join("server-fallback.key");
    fs::copy(&bare, &server_key_fallback).expect("cp");
    let mut openssl_decoys = Vec::new();
    // openssl is required (scripts/test.sh installs it): the TLS decoys must be real.
    if require("openssl") {
        let server_key = certs.join("server.key");
        run_ok(
            Command::new("openssl")
                .args([
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ])
                .arg("-out")
                .arg(&server_key),
        );
        let (tls_key, tls_crt) = (scratch.join("tls.key"), scratch.join("tls.crt"));
        run_ok(
            Command::new("openssl")
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                .arg("ec_paramgen_curve:P-256")
                .args([
                    "-nodes",
                    "-subj",
                    "/CN=keycheck-test",
                    "-days",
                    "1",
                    "-keyout",
                ])
                .arg(&tls_key)
                .arg("-out")
                .arg(&tls_crt),
        );
        let (key_text, crt_text) = (
            fs::read(&tls_key).expect("key"),
            fs::read(&tls_crt).expect("crt"),
        );
        let key_then_cert = write_file(
            &certs,
            "key-then-cert.pem",
            &[key_text.as_slice(), &crt_text].concat(),
            0o600,
        );
        let cert_then_key = write_file(
            &certs,
            "cert-then-key.pem",
            &[crt_text.as_slice(), &key_text].concat(),
            0o600,
        );
        openssl_decoys.push((server_key, NO_SIGN));
        openssl_decoys.push((key_then_cert, WITH_CERTIFICATE));
        openssl_decoys.push((cert_then_key, WITH_CERTIFICATE));
    }

    // Not SSH at all: Cosign and Sigstore keys.
    let sigstore = mkdirs(&home.join(".sigstore"));
    let cosign = write_file(
        &sigstore,
        "cosign.key",
        junk_block("ENCRYPTED COSIGN PRIVATE KEY", 5).as_bytes(),
        0o600,
    );
    let sigstore_key = write_file(
        &sigstore,
        "sigstore.key",
        junk_block("ENCRYPTED SIGSTORE PRIVATE KEY", 5).as_bytes(),
        0o600,
    );

    // A key-looking file that is not a key.
    let notes = mkdirs(&home.join("notes"));
    let broken = write_file(
        &notes,
        "id_ed25519",
        b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA!!!!\n",
        0o600,
    );

    // A broken PEM key in a test suite (as Python ships `badkey.pem`): not tied to SSH,
    // so not a malformed SSH key; the same bytes named `id_rsa` are one.
    let tls_tests = mkdirs(&home.join("lib/python3/test"));
    let broken_pem =
        b"-----BEGIN RSA PRIVATE KEY-----\nnot base64 at all!\n-----END RSA PRIVATE KEY-----\n";
    let badkey = write_file(&tls_tests, "badkey.pem", broken_pem, 0o644);
    let broken_id_rsa = write_file(&notes, "id_rsa", broken_pem, 0o600);

    let mut options = default_options(&home);
    options.identity_files = vec![github.clone(), home.join("no/such/file")];
    let result = search_with_deadline(std::slice::from_ref(&home), &options);
    let inv = &result.inventory;

    let expected: BTreeSet<String> = [
        &deploy_key,
        &server_access,
        &deploy_pem,
        &signing,
        &github,
        &id_rsa_old,
        &ppk,
        &tectia,
    ]
    .iter()
    .map(|p| text(p))
    .collect();
    assert_eq!(key_paths(&result), expected, "{inv:#?}");

    // Fingerprints exactly as ssh-keygen -l (through puttygen for PuTTY and ssh.com).
    for path in [
        &deploy_key,
        &server_access,
        &deploy_pem,
        &signing,
        &github,
        &id_rsa_old,
    ] {
        assert_eq!(
            key(&result, path).facts.fingerprint.as_deref(),
            Some(keygen_fingerprint(path).as_str()),
            "{}",
            path.display()
        );
    }
    for path in [&ppk, &tectia] {
        assert_eq!(
            key(&result, path).facts.fingerprint.as_deref(),
            Some(puttygen_fingerprint(path, &scratch).as_str()),
            "{}",
            path.display()
        );
    }
    // The encrypted PKCS#8 key hides its public part: completed from signing.p8.pub.
    let signing_key = key(&result, &signing);
    assert!(signing_key.facts.encrypted);
    assert_eq!(
        signing_key.facts.public_from.as_deref(),
        Some(format!("{}.pub", text(&signing)).as_str())
    );
    assert_eq!(
        signing_key.facts.algorithm.as_deref(),
        Some("ecdsa-sha2-nistp256")
    );
    assert!(key(&result, &server_access).facts.encrypted);
    assert_eq!(
        key(&result, &ppk).facts.comment.as_deref(),
        Some("putty-key")
    );
    assert_eq!(key(&result, &deploy_key).file.mode, 0o600);

    // PEM without evidence, and PEM with a certificate, are skipped with the reason.
    assert_eq!(skip_reason(&result, &mismatch), NO_SIGN);
    assert_eq!(skip_reason(&result, &server_key_fallback), NO_SIGN);
    assert_eq!(skip_reason(&result, &id_rsa_bundle), WITH_CERTIFICATE);
    for (path, reason) in &openssl_decoys {
        assert_eq!(&skip_reason(&result, path), reason, "{}", path.display());
    }
    assert!(skip_reason(&result, &readme).contains("quotes a private key"));
    assert_eq!(inv.malformed.len(), 2, "{:#?}", inv.malformed);
    assert_eq!(inv.malformed[0].path, text(&broken));
    assert_eq!(inv.malformed[1].path, text(&broken_id_rsa));
    assert!(
        skip_reason(&result, &badkey).contains("no sign of SSH use"),
        "{}",
        skip_reason(&result, &badkey)
    );

    // Never mentioned: excluded, skipped directories, not SSH, public keys, plain text.
    for path in [
        &cached,
        &in_dot_ssh,
        &cosign,
        &sigstore_key,
        &repo.join("parse.go"),
        &repo.join("main.rs"),
        &deploy_pem.with_extension("pem.pub"),
    ] {
        assert!(
            !mentioned(&result, path),
            "{} is in {inv:#?}",
            path.display()
        );
    }
    assert!(inv.errors.is_empty(), "{:#?}", inv.errors);
    assert!(inv.dirs.is_empty());

    // Sorted by path.
    let paths: Vec<&String> = inv.keys.iter().map(|k| &k.path).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);

    let c = result.counts;
    let files = walk_count(&home, &[".ssh", ".cache"]);
    assert_eq!(c.files_visited, files, "{c:?}");
    assert!(c.dirs_visited >= 10, "{c:?}");
    assert!(c.candidates >= expected.len() as u64 + 5, "{c:?}");
    assert!(c.bytes_read > 0, "{c:?}");
}

/// Regular files under `root`, not entering directories named in `skip_names`.
fn walk_count(root: &Path, skip_names: &[&str]) -> u64 {
    let mut n = 0;
    for entry in fs::read_dir(root).expect("read_dir") {
        let entry = entry.expect("entry");
        let t = entry.file_type().expect("type");
        if t.is_dir() {
            if !skip_names.iter().any(|s| entry.file_name() == *s) {
                n += walk_count(&entry.path(), skip_names);
            }
        } else if t.is_file() {
            n += 1;
        }
    }
    n
}

#[test]
fn fifos_symlink_loops_and_devices_do_not_hang() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let home = mkdirs(&tmp.path().join("home"));
    let deep = mkdirs(&home.join("a/b"));
    let real = keygen(&deep, "id_ed25519", "ed25519", "", &[]);
    for fifo in [home.join("id_rsa"), deep.join("id_ecdsa")] {
        run_ok(Command::new("mkfifo").arg(&fifo));
    }
    symlink(".", home.join("self")).expect("symlink");
    symlink("..", deep.join("up")).expect("symlink");
    symlink("loop_b", home.join("loop_a")).expect("symlink");
    symlink("loop_a", home.join("loop_b")).expect("symlink");
    symlink("/dev/zero", home.join("id_dsa")).expect("symlink");
    symlink("/dev/zero", home.join("id_dsa.pub")).expect("symlink");
    symlink(&real, home.join("link_to_key")).expect("symlink");
    symlink("/nonexistent/keycheck-test", home.join("dangling")).expect("symlink");
    // A key header over 2 MiB: not read whole (OpenSSH reads at most 1 MiB).
    let mut huge = b"-----BEGIN OPENSSH PRIVATE KEY-----\n".to_vec();
    huge.resize(2 << 20, b'A');
    let huge = write_file(&home, "id_huge", &huge, 0o600);

    let result = search_with_deadline(std::slice::from_ref(&home), &default_options(&home));
    assert_eq!(
        key_paths(&result),
        BTreeSet::from([text(&real)]),
        "{:#?}",
        result.inventory
    );
    assert!(skip_reason(&result, &huge).contains("too large"));
    // Symlinks are not followed, FIFOs and devices never opened: nothing to report.
    let inv = &result.inventory;
    assert!(inv.errors.is_empty() && inv.skipped.len() == 1, "{inv:#?}");
    assert_eq!(result.counts.files_visited, 3, "{:?}", result.counts);
    assert!(result.counts.bytes_read < 1 << 20, "{:?}", result.counts);
}

#[test]
fn a_directory_of_100k_files_is_searched() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let home = mkdirs(&tmp.path().join("home"));
    let big = mkdirs(&home.join("big"));
    for i in 0..100_000 {
        fs::write(big.join(format!("f{i:06}.txt")), b"line\n").expect("write");
    }
    let key_path = keygen(&big, "zz_key", "ed25519", "", &[]);
    let result = search_with_deadline(std::slice::from_ref(&home), &default_options(&home));
    assert_eq!(key_paths(&result), BTreeSet::from([text(&key_path)]));
    assert_eq!(result.counts.files_visited, 100_002, "{:?}", result.counts);
}

#[test]
fn excludes_skips_and_roots() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let home = mkdirs(&tmp.path().join("home"));
    let extra = mkdirs(&tmp.path().join("extra"));
    let mut keys = BTreeMap::new();
    for rel in [
        "Downloads/id_ed25519",
        "src/Downloads/id_ed25519",
        "old/key.bak",
        "big/id_ed25519",
        "src/big/id_ed25519",
        "skipme/id_ed25519",
        ".cache/keys/id_ed25519",
        "kept/id_ed25519",
    ] {
        let path = home.join(rel);
        let dir = mkdirs(path.parent().expect("parent"));
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        keys.insert(rel, keygen(&dir, &name, "ed25519", "", &[]));
    }
    let extra_key = keygen(&extra, "id_ed25519", "ed25519", "", &[]);
    let linked = tmp.path().join("linked");
    symlink(&extra, &linked).expect("symlink");

    let options = SearchOptions {
        exclude: vec![
            ".cache".to_owned(),
            "/Downloads".to_owned(),
            "*.bak".to_owned(),
            format!("{}/big", home.display()),
        ],
        skip: vec![home.join("skipme")],
        threads: 2,
        ..SearchOptions::default()
    };
    // The home, a root inside an excluded directory of it (searched: it was asked for),
    // the home again, and a symlink to a directory.
    let nested = home.join(".cache/keys");
    let roots = [home.clone(), nested.clone(), home.clone(), linked.clone()];
    let result = search_with_deadline(&roots, &options);
    let expected: BTreeSet<String> = [
        text(&keys["src/Downloads/id_ed25519"]),
        text(&keys["src/big/id_ed25519"]),
        text(&keys["kept/id_ed25519"]),
        text(&keys[".cache/keys/id_ed25519"]),
        text(&linked.join("id_ed25519")),
    ]
    .into_iter()
    .collect();
    assert_eq!(key_paths(&result), expected, "{:#?}", result.inventory);
    assert_eq!(
        key(&result, &linked.join("id_ed25519")).facts.fingerprint,
        Some(keygen_fingerprint(&extra_key))
    );

    // A skipped root is not searched at all.
    let options = SearchOptions {
        skip: vec![home.clone()],
        ..SearchOptions::default()
    };
    let result = search_with_deadline(std::slice::from_ref(&home), &options);
    assert!(result.inventory.keys.is_empty());
    assert_eq!(result.counts.files_visited, 0);
}

#[test]
fn hard_links_are_reported_once() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let home = mkdirs(&tmp.path().join("home"));
    let a = keygen(&mkdirs(&home.join("a")), "id_ed25519", "ed25519", "", &[]);
    let b = home.join("b_copy");
    fs::hard_link(&a, &b).expect("hard link");
    let result = search_with_deadline(std::slice::from_ref(&home), &default_options(&home));
    assert_eq!(key_paths(&result), BTreeSet::from([text(&a)]));
    assert_eq!(
        skip_reason(&result, &b),
        format!("same file as {} (a link to it)", text(&a))
    );
}

#[test]
fn bad_roots_and_patterns_are_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let missing = tmp.path().join("missing");
    let err = try_search_with_deadline(std::slice::from_ref(&missing), &SearchOptions::default())
        .expect_err("missing root");
    assert_eq!(
        err,
        SearchError::Root {
            path: text(&missing),
            reason: "no such file or directory (it may have vanished during the scan)".to_owned()
        }
    );
    let options = SearchOptions {
        exclude: vec!["{a,b".to_owned()],
        ..SearchOptions::default()
    };
    let err = try_search_with_deadline(&[tmp.path().to_owned()], &options).expect_err("bad glob");
    assert!(
        matches!(&err, SearchError::Exclude { pattern, .. } if pattern == "{a,b"),
        "{err:?}"
    );
}

#[test]
fn progress_option_does_not_change_the_result() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let home = mkdirs(&tmp.path().join("home"));
    let k = keygen(&mkdirs(&home.join("x")), "id_ed25519", "ed25519", "", &[]);
    let mut options = default_options(&home);
    options.progress = true;
    let with = search_with_deadline(std::slice::from_ref(&home), &options);
    options.progress = false;
    let without = search_with_deadline(std::slice::from_ref(&home), &options);
    assert_eq!(with, without);
    assert_eq!(key_paths(&with), BTreeSet::from([text(&k)]));
}

// --- unreadable directories --------------------------------------------------------------

/// Where the child run below writes what it found, when this test binary runs it as an
/// unprivileged user.
const CHILD_ROOT: &str = "KEYCHECK_SEARCH_CHILD_ROOT";
const CHILD_OUT: &str = "KEYCHECK_SEARCH_CHILD_OUT";

#[test]
fn unreadable_directory_is_an_error_and_the_walk_goes_on() {
    support::require_tools();
    let tmp = tempfile::tempdir().expect("tmp");
    let home = mkdirs(&tmp.path().join("home"));
    let open = keygen(
        &mkdirs(&home.join("open")),
        "id_ed25519",
        "ed25519",
        "",
        &[],
    );
    let locked = mkdirs(&home.join("locked"));
    keygen(&locked, "id_ed25519", "ed25519", "", &[]);
    let later = keygen(
        &mkdirs(&home.join("zz_later")),
        "id_ed25519",
        "ed25519",
        "",
        &[],
    );
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod 000");

    let (keys, errors) = if support::is_root() {
        // Root reads a mode-000 directory anyway: search as nobody (setpriv, util-linux)
        // by running this test binary's `child_search_as_nobody`.
        assert!(
            have("setpriv"),
            "setpriv (util-linux) is needed to test unreadable directories as root"
        );
        for p in [
            tmp.path(),
            home.as_path(),
            &home.join("open"),
            &home.join("zz_later"),
        ] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        for k in [&open, &later] {
            fs::set_permissions(k, fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let out_dir = mkdirs(&tmp.path().join("out"));
        fs::set_permissions(&out_dir, fs::Permissions::from_mode(0o777)).expect("chmod");
        let out = out_dir.join("result.txt");
        let exe = support::test_binary_for_nobody();
        let run = support::run_with_deadline(
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&exe)
                .args(["--exact", "child_search_as_nobody", "--test-threads=1"])
                .env(CHILD_ROOT, &home)
                .env(CHILD_OUT, &out),
            DEADLINE,
        );
        assert_eq!(
            run.code,
            0,
            "the child search failed (can nobody run {}?):\n{}\n{}",
            exe.display(),
            run.stdout,
            run.stderr
        );
        let lines = fs::read_to_string(&out).expect("child output");
        let mut keys = BTreeSet::new();
        let mut errors = Vec::new();
        for line in lines.lines() {
            match line.split_once('\t') {
                Some(("key", path)) => {
                    keys.insert(path.to_owned());
                }
                Some(("error", rest)) => {
                    let (path, error) = rest.split_once('\t').expect("path\terror");
                    errors.push((path.to_owned(), error.to_owned()));
                }
                _ => panic!("bad child line {line:?}"),
            }
        }
        (keys, errors)
    } else {
        let result = search_with_deadline(std::slice::from_ref(&home), &default_options(&home));
        let errors = result
            .inventory
            .errors
            .iter()
            .map(|e| (e.path.clone(), e.error.clone()))
            .collect();
        (key_paths(&result), errors)
    };
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).expect("chmod back");
    assert_eq!(keys, BTreeSet::from([text(&open), text(&later)]));
    assert_eq!(
        errors,
        vec![(text(&locked), "permission denied".to_owned())]
    );
}

/// Runs only when `unreadable_directory_is_an_error_and_the_walk_goes_on` starts this
/// binary as an unprivileged user; otherwise does nothing.
#[test]
fn child_search_as_nobody() {
    let (Some(root), Some(out)) = (std::env::var_os(CHILD_ROOT), std::env::var_os(CHILD_OUT))
    else {
        return;
    };
    let root = PathBuf::from(root);
    let result = search_with_deadline(std::slice::from_ref(&root), &default_options(&root));
    let mut lines = String::new();
    for k in &result.inventory.keys {
        lines.push_str(&format!("key\t{}\n", k.path));
    }
    for e in &result.inventory.errors {
        lines.push_str(&format!("error\t{}\t{}\n", e.path, e.error));
    }
    fs::write(out, lines).expect("write child output");
}
