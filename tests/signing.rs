//! Report signing against the real tools: SSHSIG signatures made by keycheck's device key
//! are checked by OpenSSH's `ssh-keygen -Y verify`, signatures made by `ssh-keygen -Y
//! sign` are checked by keycheck's verifier, and the device key is kept in a real
//! gnome-keyring (Secret Service) on a private session bus, or in a 0600 file when no
//! secret store answers.
//!
//! The device key lives behind `DBUS_SESSION_BUS_ADDRESS` and `KEYCHECK_STATE_DIR`, so
//! each case runs the built binary's hidden `keycheck device-key show|sign` in child
//! processes with its own HOME, state directory and bus. No case touches the desktop
//! session's keyring or bus: every child is given a bus address the test made (a socket
//! that does not exist, a private dbus-daemon, or dbus-run-session's own bus).

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use keycheck::report::sshsig::{self, AllowedSigners, VerifyError};
use serde_json::Value;

use support::desktop::Bus;
use support::{keycheck, keygen, run_ok, run_with_deadline, run_with_input, RunResult};

/// The principal the tests sign for (keycheck's host ids look like this).
const HOST: &str = "host-5f0c2a9e";

/// How long one device-key run may take before the test calls it hung: longer than the
/// secret store timeout (5 s) plus the lock wait.
const KEY_DEADLINE: Duration = Duration::from_secs(30);

/// Panics unless `tool` is installed (scripts/test.sh installs it; never a skip).
fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{tool}` is not installed; these tests need it and never skip: bash scripts/test.sh \
         installs it (openssh-client, dbus, gnome-keyring)"
    );
}

/// A bus address where nothing listens: the secret store is simply absent.
fn no_bus(dir: &Path) -> String {
    format!("unix:path={}", dir.join("no-such-bus").display())
}

/// `keycheck device-key ARGS` with its own state dir and bus.
fn device_key(home: &Path, state: &Path, bus: &str, args: &[&str]) -> RunResult {
    let mut cmd = keycheck(home);
    cmd.env("KEYCHECK_STATE_DIR", state)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .arg("device-key")
        .args(args);
    run_with_deadline(&mut cmd, KEY_DEADLINE)
}

/// The JSON of a successful `device-key` run.
fn shown(run: &RunResult) -> Value {
    assert_eq!(
        run.code, 0,
        "device-key failed\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout))
}

fn text(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{field}` in {v:#}"))
        .to_owned()
}

/// `ssh-keygen -Y verify -n keycheck-report -f ALLOWED -I PRINCIPAL -s SIG < DATA`.
fn ssh_keygen_verify(allowed: &Path, principal: &str, sig: &Path, data: &[u8]) -> Output {
    run_with_input(
        Command::new("ssh-keygen")
            .args(["-Y", "verify", "-n", sshsig::NAMESPACE, "-f"])
            .arg(allowed)
            .args(["-I", principal, "-s"])
            .arg(sig),
        data,
    )
}

/// `ssh-keygen -Y sign -n NAMESPACE -f KEY [extra] < DATA`: the armored signature.
fn ssh_keygen_sign(key: &Path, namespace: &str, extra: &[&str], data: &[u8]) -> String {
    let out = run_with_input(
        Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", namespace])
            .args(extra)
            .arg("-f")
            .arg(key),
        data,
    );
    assert!(
        out.status.success(),
        "ssh-keygen -Y sign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("armored signature is text")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every spelling of a private key's secret that could leak into output: the 32-byte
/// seed as raw bytes, hex and base64, and each base64 line of the OpenSSH key file.
struct Secret {
    seed: Vec<u8>,
    spellings: Vec<String>,
}

impl Secret {
    fn of_key_file(path: &Path) -> Secret {
        let text = fs::read_to_string(path).expect("read the device key file");
        let key = ssh_key::PrivateKey::from_openssh(&text).expect("an OpenSSH private key");
        let seed = key
            .key_data()
            .ed25519()
            .expect("an Ed25519 key")
            .private
            .to_bytes()
            .to_vec();
        let mut spellings = vec![
            support::hex(&seed),
            support::hex(&seed).to_uppercase(),
            base64_std(&seed),
            "PRIVATE KEY".to_owned(),
        ];
        spellings.extend(
            text.lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 20)
                .map(str::to_owned),
        );
        Secret { seed, spellings }
    }

    /// Panics if `bytes` contain the secret in any spelling.
    fn assert_absent(&self, what: &str, bytes: &[u8]) {
        assert!(
            !bytes.windows(self.seed.len()).any(|w| w == self.seed),
            "{what} contains the raw seed"
        );
        let text = String::from_utf8_lossy(bytes);
        for spelling in &self.spellings {
            assert!(
                !text.contains(spelling.as_str()),
                "{what} contains a spelling of the private key ({} chars)",
                spelling.len()
            );
        }
    }
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Spreads `n` positions evenly over `len` bytes, first and last included.
fn positions(len: usize, n: usize) -> Vec<usize> {
    (0..n).map(|i| i * (len - 1) / (n - 1)).collect()
}

/// A copy of `data` with the byte at `pos` changed (one bit flipped, a different bit for
/// each position).
fn changed(data: &[u8], pos: usize) -> Vec<u8> {
    let mut copy = data.to_vec();
    copy[pos] ^= 1 << (pos % 8);
    copy
}

// ---------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------

/// A real `keycheck check --format json` document, signed by the device key (a key file:
/// no secret store here), is accepted by `ssh-keygen -Y verify` and by keycheck's
/// verifier; every sampled single-byte change is rejected by keycheck's verifier, and a
/// dozen of them by ssh-keygen too. The private key never appears in any output.
#[test]
fn a_signed_report_verifies_with_ssh_keygen_and_every_changed_byte_is_rejected() {
    require("ssh-keygen");
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let ssh = home.join(".ssh");
    fs::create_dir_all(&ssh).expect("mkdir .ssh");
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).expect("chmod .ssh");
    keygen(&ssh, "id_ed25519", "ed25519", "", &[]);
    keygen(&ssh, "id_rsa", "rsa", support::PASS, &["-b", "2048"]);
    keygen(&ssh, "id_ecdsa", "ecdsa", "", &[]);
    let (check, report) = support::check_json(&home, &ssh);
    assert!(!report.keys().is_empty(), "the report lists the keys");
    let data = check.stdout.into_bytes();
    assert!(data.len() > 1000, "a real document ({} bytes)", data.len());

    let work = tmp.path().join("work");
    fs::create_dir_all(&work).expect("mkdir work");
    let doc = work.join("report.json");
    fs::write(&doc, &data).expect("write report");
    let state = tmp.path().join("state");
    let bus = no_bus(tmp.path());
    let doc_arg = doc.to_str().expect("utf-8 temp path");
    let signed = device_key(&home, &state, &bus, &["sign", doc_arg, "--principal", HOST]);
    let info = shown(&signed);
    assert_eq!(info["store"]["kind"], "file", "{info:#}");
    let sig_path = PathBuf::from(text(&info, "signature"));
    assert_eq!(sig_path, work.join("report.json.sig"));
    let sig = fs::read_to_string(&sig_path).expect("read signature");
    assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----\n"), "{sig}");
    let line = text(&info, "signer_line");
    assert_eq!(
        line,
        format!(
            "{HOST} namespaces=\"keycheck-report\" {}",
            text(&info, "public_key")
        )
    );
    let allowed_path = work.join("allowed_signers");
    fs::write(&allowed_path, format!("{line}\n")).expect("write allowed_signers");
    let allowed = AllowedSigners::parse(&line).expect("parse the signer line");

    // Untouched: both accept, and agree on the key.
    let out = ssh_keygen_verify(&allowed_path, HOST, &sig_path, &data);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ssh-keygen rejected an untouched report: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by = sshsig::verify(&data, &sig, &allowed, HOST).expect("keycheck accepts it");
    assert_eq!(by.principal, HOST);
    assert_eq!(by.fingerprint, text(&info, "fingerprint"));
    assert!(
        said.contains(&format!("Good \"keycheck-report\" signature for {HOST}"))
            && said.contains(&by.fingerprint),
        "{said}"
    );

    // One byte changed, on disk: both reject.
    let one = changed(&data, data.len() / 2);
    let out = ssh_keygen_verify(&allowed_path, HOST, &sig_path, &one);
    assert!(
        !out.status.success(),
        "ssh-keygen accepted a changed report"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("incorrect signature"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(matches!(
        sshsig::verify(&one, &sig, &allowed, HOST),
        Err(VerifyError::BadSignature { .. })
    ));

    // A few hundred positions across the whole document.
    let sample = positions(data.len(), 300);
    for (i, &pos) in sample.iter().enumerate() {
        let copy = changed(&data, pos);
        match sshsig::verify(&copy, &sig, &allowed, HOST) {
            Err(VerifyError::BadSignature { fingerprint }) => {
                assert_eq!(fingerprint, by.fingerprint);
            }
            other => panic!("byte {pos} changed: keycheck said {other:?}"),
        }
        if i % 25 == 0 {
            let out = ssh_keygen_verify(&allowed_path, HOST, &sig_path, &copy);
            assert!(
                !out.status.success(),
                "ssh-keygen accepted the report with byte {pos} changed"
            );
        }
    }

    // The private key never shows: not in any output, signature, or public file.
    let secret = Secret::of_key_file(&state.join("device-key"));
    secret.assert_absent("device-key sign stdout", signed.stdout.as_bytes());
    secret.assert_absent("device-key sign stderr", signed.stderr.as_bytes());
    secret.assert_absent("the signature", sig.as_bytes());
    secret.assert_absent("allowed_signers", line.as_bytes());
    let record = fs::read(state.join("device-key.json")).expect("the record");
    secret.assert_absent("the record", &record);
    let again = device_key(&home, &state, &bus, &["show", "--principal", HOST]);
    secret.assert_absent("device-key show stdout", again.stdout.as_bytes());
    secret.assert_absent("device-key show stderr", again.stderr.as_bytes());
}

/// Interop the other way: keycheck's verifier accepts what `ssh-keygen -Y sign -n
/// keycheck-report` signs (SHA-512 and SHA-256), and refuses, as ssh-keygen does, a
/// signature in another namespace, for another principal, by a key the file does not
/// list, or by a key whose line excludes the namespace.
#[test]
fn the_verifier_accepts_ssh_keygen_signatures_and_refuses_what_ssh_keygen_refuses() {
    require("ssh-keygen");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let signer = keygen(dir, "signer", "ed25519", "", &[]);
    let stranger = keygen(dir, "stranger", "ed25519", "", &[]);
    let pub_text = |key: &Path| {
        let line = fs::read_to_string(key.with_extension("pub")).expect("read .pub");
        line.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let data = b"{\"schema\":\"keycheck.report/v1\",\"host\":{\"id\":\"host-5f0c2a9e\"}}\n";
    let allowed_text = format!(
        "# keycheck fleet\nother-host {}\n{HOST},spare namespaces=\"keycheck-report\" {} signer\n",
        pub_text(&stranger),
        pub_text(&signer)
    );
    let allowed_path = dir.join("allowed_signers");
    fs::write(&allowed_path, &allowed_text).expect("write allowed_signers");
    let allowed = AllowedSigners::parse(&allowed_text).expect("parse");
    let fingerprint = support::ssh_keygen_l(&signer.with_extension("pub"))
        .expect("ssh-keygen -l")
        .fingerprint;

    let check = |name: &str, sig: &str, principal: &str, allowed_path: &Path| {
        let sig_path = dir.join(format!("{name}.sig"));
        fs::write(&sig_path, sig).expect("write sig");
        ssh_keygen_verify(allowed_path, principal, &sig_path, data)
            .status
            .success()
    };

    for extra in [&[][..], &["-O", "hashalg=sha256"][..]] {
        let sig = ssh_keygen_sign(&signer, sshsig::NAMESPACE, extra, data);
        let by =
            sshsig::verify(data, &sig, &allowed, HOST).unwrap_or_else(|e| panic!("{extra:?}: {e}"));
        assert_eq!(
            (by.principal.as_str(), by.line, by.fingerprint.as_str()),
            (HOST, 3, fingerprint.as_str())
        );
        assert!(check("good", &sig, HOST, &allowed_path));
        assert!(sshsig::verify(data, &sig, &allowed, "spare").is_ok());
    }

    let sig = ssh_keygen_sign(&signer, sshsig::NAMESPACE, &[], data);
    // Another principal.
    assert_eq!(
        sshsig::verify(data, &sig, &allowed, "host-other"),
        Err(VerifyError::UnknownPrincipal {
            principal: "host-other".to_owned()
        })
    );
    assert!(!check("principal", &sig, "host-other", &allowed_path));
    // A principal listed with another key.
    assert!(matches!(
        sshsig::verify(data, &sig, &allowed, "other-host"),
        Err(VerifyError::UnlistedKey { .. })
    ));
    assert!(!check(
        "listed-other-key",
        &sig,
        "other-host",
        &allowed_path
    ));

    // Another namespace.
    let file_sig = ssh_keygen_sign(&signer, "file", &[], data);
    assert_eq!(
        sshsig::verify(data, &file_sig, &allowed, HOST),
        Err(VerifyError::WrongNamespace {
            found: "file".to_owned()
        })
    );
    assert!(!check("namespace", &file_sig, HOST, &allowed_path));

    // A key nobody listed for the principal.
    let stranger_sig = ssh_keygen_sign(&stranger, sshsig::NAMESPACE, &[], data);
    assert_eq!(
        sshsig::verify(data, &stranger_sig, &allowed, HOST),
        Err(VerifyError::UnlistedKey {
            principal: HOST.to_owned(),
            fingerprint: support::ssh_keygen_l(&stranger.with_extension("pub"))
                .expect("ssh-keygen -l")
                .fingerprint
        })
    );
    assert!(!check("stranger", &stranger_sig, HOST, &allowed_path));

    // The right key, on a line that allows other namespaces only.
    let narrow_text = format!("{HOST} namespaces=\"git,file\" {}\n", pub_text(&signer));
    let narrow_path = dir.join("allowed_signers.narrow");
    fs::write(&narrow_path, &narrow_text).expect("write");
    assert_eq!(
        sshsig::verify(
            data,
            &sig,
            &AllowedSigners::parse(&narrow_text).expect("parse"),
            HOST
        ),
        Err(VerifyError::NamespaceNotAllowed {
            principal: HOST.to_owned(),
            line: 1
        })
    );
    assert!(!check("narrow", &sig, HOST, &narrow_path));
}

// ---------------------------------------------------------------------------------------
// Where the device key is kept
// ---------------------------------------------------------------------------------------

/// The Secret Service path against a real gnome-keyring-daemon on dbus-run-session's own
/// bus, with a fresh HOME (so a fresh login keyring, unlocked with a throwaway password):
/// four processes racing on first use get one key; later processes, and a process with
/// an empty state directory, find that same key in the keyring; no key file is written;
/// and a report signed with it verifies with ssh-keygen.
#[test]
fn the_device_key_lives_in_a_real_gnome_keyring() {
    require("dbus-run-session");
    require("gnome-keyring-daemon");
    require("ssh-keygen");
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let runtime = tmp.path().join("run");
    let out = tmp.path().join("out");
    for d in [&home, &runtime, &out] {
        fs::create_dir_all(d).expect("mkdir");
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    fs::write(out.join("data"), b"{\"schema\":\"keycheck.report/v1\"}\n").expect("write data");
    // Runs inside the session: the keyring daemon, then the racing first uses (each
    // writes its exit code), then a signing run and a run with an empty state dir.
    let script = r#"
eval "$(printf '%s' "$KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
for i in 1 2 3 4; do
  ( KEYCHECK_STATE_DIR="$OUT/state" "$KC" device-key show --principal "$HOST" \
      >"$OUT/race-$i.json" 2>"$OUT/race-$i.err"; echo $? >"$OUT/race-$i.rc" ) &
done
wait
KEYCHECK_STATE_DIR="$OUT/state" "$KC" device-key sign "$OUT/data" >"$OUT/sign.json" 2>"$OUT/sign.err"
echo $? >"$OUT/sign.rc"
KEYCHECK_STATE_DIR="$OUT/fresh-state" "$KC" device-key show >"$OUT/fresh.json" 2>"$OUT/fresh.err"
echo $? >"$OUT/fresh.rc"
"#;
    let mut cmd = Command::new("dbus-run-session");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("LANG", "C.UTF-8")
        .env("KC", env!("CARGO_BIN_EXE_keycheck"))
        .env("OUT", &out)
        .env("HOST", HOST)
        .env("KEYRING_PASSWORD", "throwaway-test-password")
        .args(["--", "sh", "-c", script]);
    let session = run_with_deadline(&mut cmd, Duration::from_secs(60));
    assert_eq!(session.code, 0, "dbus-run-session: {}", session.stderr);

    let read = |name: &str| -> Value {
        let rc = fs::read_to_string(out.join(format!("{name}.rc"))).expect("rc file");
        let err = fs::read_to_string(out.join(format!("{name}.err"))).unwrap_or_default();
        let json = fs::read_to_string(out.join(format!("{name}.json"))).unwrap_or_default();
        assert_eq!(rc.trim(), "0", "{name} failed:\n{json}\n{err}");
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}\n{json}"))
    };
    let races: Vec<Value> = (1..=4).map(|i| read(&format!("race-{i}"))).collect();
    let key = text(&races[0], "public_key");
    for (i, r) in races.iter().enumerate() {
        assert_eq!(r["store"]["kind"], "secret-service", "race {i}: {r:#}");
        assert_eq!(text(r, "public_key"), key, "race {i} got another key");
        assert!(r.get("why_file").is_none(), "{r:#}");
    }
    assert_eq!(
        races.iter().filter(|r| r["created"] == true).count(),
        1,
        "exactly one racer creates the key: {races:#?}"
    );
    let sign = read("sign");
    let fresh = read("fresh");
    for (name, v) in [("sign", &sign), ("fresh", &fresh)] {
        assert_eq!(v["store"]["kind"], "secret-service", "{name}: {v:#}");
        assert_eq!(text(v, "public_key"), key, "{name} found another key");
        assert_eq!(v["created"], false, "{name}: {v:#}");
    }
    // The keyring holds it (a login keyring appeared in the fresh HOME), the state dirs
    // hold no key file.
    assert!(home.join(".local/share/keyrings/login.keyring").is_file());
    for state in ["state", "fresh-state"] {
        let dir = out.join(state);
        assert!(!dir.join("device-key").exists(), "a key file in {state}");
        let record = fs::read_to_string(dir.join("device-key.json")).expect("record");
        assert!(
            record.contains("\"secret-service\"") && record.contains(&key),
            "{record}"
        );
        assert!(!record.contains("PRIVATE"), "{record}");
    }

    // A report signed with the keyring's key verifies with ssh-keygen and keycheck.
    let line = text(&races[0], "signer_line");
    let allowed_path = out.join("allowed_signers");
    fs::write(&allowed_path, format!("{line}\n")).expect("write allowed_signers");
    let data = fs::read(out.join("data")).expect("data");
    let sig_path = out.join("data.sig");
    let verdict = ssh_keygen_verify(&allowed_path, HOST, &sig_path, &data);
    assert!(
        verdict.status.success(),
        "{}",
        String::from_utf8_lossy(&verdict.stderr)
    );
    let sig = fs::read_to_string(&sig_path).expect("sig");
    let allowed = AllowedSigners::parse(&line).expect("parse");
    sshsig::verify(&data, &sig, &allowed, HOST).expect("keycheck accepts it");
}

/// With no session bus at all, the key is a 0600 file in the state directory (itself
/// 0700), created once and reused; the output says the store is a file and why; six
/// processes racing on first use get one key.
#[test]
fn without_a_secret_store_the_key_is_a_private_file_reused_next_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    fs::create_dir_all(&home).expect("mkdir home");
    let state = tmp.path().join("state");
    let bus = no_bus(tmp.path());

    let first = device_key(&home, &state, &bus, &["show"]);
    let first_info = shown(&first);
    let key_file = state.join("device-key");
    assert_eq!(first_info["store"]["kind"], "file", "{first_info:#}");
    assert_eq!(
        first_info["store"]["path"],
        key_file.to_str().expect("utf-8 temp path")
    );
    assert_eq!(first_info["created"], true);
    assert!(
        text(&first_info, "why_file").contains("No such file or directory"),
        "{first_info:#}"
    );
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&state), 0o700);

    let second = device_key(&home, &state, &bus, &["show"]);
    let second_info = shown(&second);
    assert_eq!(second_info["created"], false);
    assert_eq!(second_info["store"], first_info["store"]);
    assert_eq!(
        text(&second_info, "public_key"),
        text(&first_info, "public_key")
    );
    let secret = Secret::of_key_file(&key_file);
    for (what, run) in [("first", &first), ("second", &second)] {
        secret.assert_absent(&format!("{what} stdout"), run.stdout.as_bytes());
        secret.assert_absent(&format!("{what} stderr"), run.stderr.as_bytes());
    }

    // Racing first uses in another state dir.
    let race_state = tmp.path().join("race-state");
    let children: Vec<_> = (0..6)
        .map(|_| {
            let mut cmd = keycheck(&home);
            cmd.env("KEYCHECK_STATE_DIR", &race_state)
                .env("DBUS_SESSION_BUS_ADDRESS", &bus)
                .args(["device-key", "show"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn keycheck")
        })
        .collect();
    let results: Vec<Value> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).expect("JSON")
        })
        .collect();
    let key = text(&results[0], "public_key");
    assert!(
        results.iter().all(|r| text(r, "public_key") == key),
        "{results:#?}"
    );
    assert_eq!(results.iter().filter(|r| r["created"] == true).count(), 1);
    let names: Vec<String> = fs::read_dir(&race_state)
        .expect("read state")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(
        names,
        ["device-key", "device-key.json", "device-key.lock"],
        "no temporary file left"
    );
}

/// A secret store that never answers (a bus that was told it can activate
/// org.freedesktop.secrets, whose program never claims the name) does not hang keycheck:
/// the first run gives up after the store timeout and keeps the key in a file; the next
/// run does not ask the store again. A key the record places in that store is an error
/// after the same bound, never a silent new key.
#[test]
fn a_secret_store_that_never_answers_does_not_hang_keycheck() {
    require("dbus-daemon");
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    fs::create_dir_all(&home).expect("mkdir home");
    let sleep = run_ok(Command::new("sh").args(["-c", "command -v sleep"]));
    let sleep = String::from_utf8_lossy(&sleep.stdout).trim().to_owned();
    let bus_dir = tmp.path().join("bus");
    fs::create_dir_all(&bus_dir).expect("mkdir bus");
    let exec = format!("{sleep} 600");
    let bus = Bus::start_in(
        &bus_dir,
        "session",
        &[("org.freedesktop.secrets", exec.as_str())],
        Command::new("dbus-daemon"),
    );

    let state = tmp.path().join("state");
    let first = device_key(&home, &state, bus.address(), &["show"]);
    let info = shown(&first);
    assert_eq!(info["store"]["kind"], "file", "{info:#}");
    assert!(
        text(&info, "why_file").contains("did not answer within 5000 ms"),
        "{info:#}"
    );
    assert!(
        first.elapsed >= Duration::from_secs(4) && first.elapsed < Duration::from_secs(12),
        "gave up after {:?}",
        first.elapsed
    );

    let second = device_key(&home, &state, bus.address(), &["show"]);
    let again = shown(&second);
    assert_eq!(text(&again, "public_key"), text(&info, "public_key"));
    assert!(
        second.elapsed < Duration::from_secs(3),
        "the second run asked the store again ({:?})",
        second.elapsed
    );

    // A record that says the key is in the Secret Service, which now never answers.
    let kept = tmp.path().join("kept-state");
    fs::create_dir_all(&kept).expect("mkdir");
    fs::set_permissions(&kept, fs::Permissions::from_mode(0o700)).expect("chmod");
    fs::write(
        kept.join("device-key.json"),
        format!(
            "{{\"schema\":\"keycheck.device-key/v1\",\"store\":\"secret-service\",\"public_key\":\"{}\"}}\n",
            text(&info, "public_key")
        ),
    )
    .expect("write record");
    let refused = device_key(&home, &kept, bus.address(), &["show"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("did not answer within 5000 ms")
            && refused.stderr.contains("login session"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.elapsed < Duration::from_secs(12),
        "{:?}",
        refused.elapsed
    );
    assert!(!kept.join("device-key").exists(), "no second key was made");
    drop(bus);
}
