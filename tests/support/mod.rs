//! Shared helpers for the integration tests: the real-tool key matrix, running keycheck
//! with a deadline, and reading its JSON.
//!
//! Everything here runs the real `ssh-keygen` (OpenSSH) and `puttygen` (PuTTY); nothing is
//! mocked. A missing tool is a test failure, never a skip.

#![allow(dead_code)]

pub mod desktop;
pub mod home;
pub mod ssh_agent;
pub mod tmux;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The throwaway passphrase every encrypted test key uses.
pub const PASS: &str = "keycheck-test";

/// Sets `path`'s permission bits.
pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// The permission bits of `path` (not following a symlink).
pub fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Output bytes as text, for messages and matching.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// How long one keycheck run may take before the test calls it hung.
pub const DEADLINE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------

/// Panics (fails the test) unless every real tool the tests use can be run.
/// `scripts/test.sh` installs them; a missing one fails loudly, it never skips.
pub fn require_tools() {
    for tool in [
        "ssh-keygen",
        "ssh",
        "ssh-agent",
        "ssh-add",
        "puttygen",
        "openssl",
        "gpg-agent",
        "gpgconf",
        "gpg-connect-agent",
        "setpriv",
        "dbus-daemon",
        "dbus-send",
        "dbus-monitor",
        "Xvfb",
        "dunst",
        "dunstctl",
        "busctl",
        "import",
        "pgrep",
    ] {
        require_tool(
            tool,
            "openssh-client putty-tools openssl gpg-agent gpgconf util-linux dbus xvfb dunst \
             systemd imagemagick procps",
        );
    }
}

/// Panics (fails the test) unless `tool` can be run; `packages` are what
/// `scripts/test.sh` installs for it. A missing tool fails loudly, it never skips.
pub fn require_tool(tool: &str, packages: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed; these tests need the real tools, they never skip: \
         bash scripts/test.sh installs them ({packages})"
    );
}

/// Runs a command with stdin closed (so no tool ever waits for a passphrase prompt).
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null());
    retry_busy(|| cmd.output()).unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs `start` again while it fails with "text file busy": a program just copied (see
/// [`test_binary_for_nobody`]) stays busy while any child forked by another test thread
/// still holds the copy's write descriptor, until that child's exec closes it.
pub fn retry_busy<T>(mut start: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    const ETXTBSY: i32 = 26;
    let mut tries = 0;
    loop {
        match start() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Runs a command with `input` on stdin.
pub fn run_with_input(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(input).expect("write to child stdin");
    drop(stdin);
    child.wait_with_output().expect("wait for child")
}

/// Runs a command and panics with its stderr unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ssh_keygen() -> Command {
    Command::new("ssh-keygen")
}

fn puttygen() -> Command {
    Command::new("puttygen")
}

/// One line of `ssh-keygen -l -E sha256`: `BITS SHA256:... COMMENT (TYPE)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Key size as ssh-keygen prints it.
    pub bits: u32,
    /// `SHA256:...`.
    pub fingerprint: String,
    /// The type in parentheses, e.g. `ED25519`, `RSA`, `ED25519-CERT`.
    pub key_type: String,
}

/// Parses the first line of `ssh-keygen -l` output.
pub fn parse_listing(stdout: &[u8]) -> Listing {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().next().unwrap_or_default().trim().to_owned();
    let mut words = line.split_whitespace();
    let bits = words
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no bits in ssh-keygen -l line {line:?}"));
    let fingerprint = words
        .next()
        .filter(|w| w.starts_with("SHA256:"))
        .unwrap_or_else(|| panic!("no SHA256 fingerprint in ssh-keygen -l line {line:?}"))
        .to_owned();
    let key_type = line
        .rsplit_once('(')
        .and_then(|(_, t)| t.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no (TYPE) in ssh-keygen -l line {line:?}"))
        .to_owned();
    Listing {
        bits,
        fingerprint,
        key_type,
    }
}

/// `ssh-keygen -l -E sha256 -f FILE`, or `None` when ssh-keygen cannot read it.
///
/// For a private key ssh-keygen may fall back to `FILE.pub`: compare with
/// [`listing_of_public_line`] of `ssh-keygen -y` to get the truth from the key itself.
pub fn ssh_keygen_l(path: &Path) -> Option<Listing> {
    let out = run(ssh_keygen().args(["-l", "-E", "sha256", "-f"]).arg(path));
    out.status.success().then(|| parse_listing(&out.stdout))
}

/// `ssh-keygen -l -E sha256 -f -` over one public key line.
pub fn listing_of_public_line(line: &str) -> Listing {
    let out = run_with_input(
        ssh_keygen().args(["-l", "-E", "sha256", "-f", "-"]),
        format!("{}\n", line.trim()).as_bytes(),
    );
    assert!(
        out.status.success(),
        "ssh-keygen -l -f - rejected {line:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_listing(&out.stdout)
}

/// `ssh-keygen -y -P PASS -f FILE`: the public key line OpenSSH derives from the private
/// key, or `None` when OpenSSH cannot load it with that passphrase.
pub fn ssh_keygen_y(path: &Path, passphrase: &str) -> Option<String> {
    let out = run(ssh_keygen().args(["-y", "-P", passphrase, "-f"]).arg(path));
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Writes `text` to a fresh file in `dir` and returns its path (used for puttygen's
/// passphrase files).
fn passphrase_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).expect("write passphrase file");
    path
}

/// `puttygen FILE -O public-openssh`, with the passphrase in a file when there is one.
pub fn puttygen_public_openssh(path: &Path, passphrase: Option<&str>, scratch: &Path) -> String {
    let mut cmd = puttygen();
    cmd.arg(path).args(["-O", "public-openssh"]);
    if let Some(p) = passphrase {
        cmd.arg("--old-passphrase")
            .arg(passphrase_file(scratch, "puttygen-old-pass", p));
    }
    String::from_utf8_lossy(&run_ok(&mut cmd).stdout)
        .trim()
        .to_owned()
}

/// Whether puttygen fails to load the private half of FILE with an empty passphrase (the
/// empirical "is it encrypted" for PuTTY, ssh.com and SSH-1 files).
pub fn puttygen_needs_passphrase(path: &Path, scratch: &Path) -> bool {
    let empty = passphrase_file(scratch, "puttygen-empty-pass", "");
    let out = run(puttygen()
        .arg(path)
        .args(["-O", "text", "--old-passphrase"])
        .arg(empty));
    !out.status.success()
}

/// `puttygen -l FILE` for an SSH-1 key: `BITS MD5-FINGERPRINT COMMENT`; returns BITS.
pub fn puttygen_ssh1_bits(path: &Path) -> u32 {
    let out = run_ok(puttygen().arg("-l").arg(path));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no bits in puttygen -l output {text:?}"))
}

/// The OpenSSH algorithm name of a public key line (its first word), with a certificate
/// type reduced to the algorithm of the key it certifies.
pub fn algorithm_of_line(line: &str) -> String {
    let first = line.split_whitespace().next().unwrap_or_default();
    first
        .strip_suffix("-cert-v01@openssh.com")
        .unwrap_or(first)
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// The key matrix
// ---------------------------------------------------------------------------------------

/// Which real tool knows the truth about a file, and how to ask it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// A private key OpenSSH loads: `ssh-keygen -y` gives its public half.
    OpensshPrivate,
    /// A PuTTY or ssh.com private key: `puttygen -O public-openssh` gives its public half.
    Puttygen,
    /// An SSH-1 key: only `puttygen -l` reads it (bits); algorithm is `rsa1`.
    Ssh1,
    /// An OpenSSH public key line (`.pub`) or certificate: `ssh-keygen -l` reads it.
    PublicLine,
    /// An RFC 4716 public key: `ssh-keygen -i` converts it to a line.
    Rfc4716,
}

/// One file of the generated matrix and how it was made.
#[derive(Debug, Clone)]
pub struct Entry {
    /// File name inside [`Matrix::dir`].
    pub name: String,
    /// Full path (the scanned dir joined with the name, as keycheck reports it).
    pub path: PathBuf,
    /// The commands that made it, for failure messages.
    pub how: String,
    /// Expected `kind`.
    pub kind: &'static str,
    /// Expected `format`.
    pub format: &'static str,
    /// Which tool tells the truth about it.
    pub truth: Truth,
    /// The passphrase it was written with (`None` = unencrypted).
    pub passphrase: Option<&'static str>,
    /// Expected `cipher`, `kdf`, `kdf_rounds` when the generator fixed them.
    pub cipher: Option<String>,
    /// Expected `kdf`.
    pub kdf: Option<String>,
    /// Expected `kdf_rounds`.
    pub kdf_rounds: Option<u32>,
    /// The format hides the public half once encrypted (legacy PEM, PKCS#8, ssh.com).
    pub hides_public: bool,
    /// Name of the `.pub` written beside it, if any.
    pub public_file: Option<String>,
}

impl Entry {
    /// Whether the file holds a private key.
    pub fn is_private(&self) -> bool {
        self.kind == "private"
    }
}

/// A generated key matrix in a temporary directory.
pub struct Matrix {
    /// Keeps the temp dir alive (`None` for the shared matrix under the target dir).
    pub root: Option<tempfile::TempDir>,
    /// The directory keycheck scans (holds only matrix files).
    pub dir: PathBuf,
    /// Scratch space outside `dir` (base keys, CA key, passphrase files).
    pub work: PathBuf,
    /// Every file in `dir`, with what was expected of it.
    pub entries: Vec<Entry>,
    /// How long generation took.
    pub elapsed: Duration,
}

impl Matrix {
    /// The entry for a file name.
    pub fn entry(&self, name: &str) -> &Entry {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no matrix entry {name}"))
    }
}

/// How a variant is made from a base key.
#[derive(Debug, Clone)]
enum Make {
    /// Copy the base as it is (an unencrypted OpenSSH key).
    Copy,
    /// Copy, then `ssh-keygen -p -f COPY -P '' -N NEW [-m FMT] [-a N] [-Z CIPHER]`.
    Rewrite {
        format: Option<&'static str>,
        pass: Option<&'static str>,
        rounds: Option<u32>,
        cipher: Option<&'static str>,
    },
    /// `puttygen BASE -o NAME [--ppk-param version=V] [-O private-sshcom] [--new-passphrase]`.
    Putty {
        output: &'static str,
        version: Option<u8>,
        pass: Option<&'static str>,
    },
    /// Copy an SSH-1 base, optionally `puttygen -P --new-passphrase`.
    Ssh1 { pass: Option<&'static str> },
    /// `ssh-keygen -e -f BASE.pub > NAME`.
    Rfc4716,
    /// `ssh-keygen -s CA -I ID -n alice -V +52w` on a copy of `BASE.pub`.
    Certificate,
}

/// One variant of the matrix.
struct Spec {
    base: &'static str,
    name: String,
    make: Make,
    with_pub: bool,
}

/// Base keys, generated once: (name, ssh-keygen -t, -b).
const BASES: &[(&str, &str, Option<u32>)] = &[
    ("rsa1024", "rsa", Some(1024)),
    ("rsa2048", "rsa", Some(2048)),
    ("rsa2049", "rsa", Some(2049)),
    ("rsa3072", "rsa", Some(3072)),
    ("rsa4096", "rsa", Some(4096)),
    ("ecdsa256", "ecdsa", Some(256)),
    ("ecdsa384", "ecdsa", Some(384)),
    ("ecdsa521", "ecdsa", Some(521)),
    ("ed25519", "ed25519", None),
    ("dsa", "dsa", None),
];

fn rewrite(
    format: Option<&'static str>,
    pass: Option<&'static str>,
    rounds: Option<u32>,
    cipher: Option<&'static str>,
) -> Make {
    Make::Rewrite {
        format,
        pass,
        rounds,
        cipher,
    }
}

fn specs() -> Vec<Spec> {
    let mut v = Vec::new();
    let mut add = |base: &'static str, suffix: &str, make: Make, with_pub: bool| {
        v.push(Spec {
            base,
            name: format!("{base}-{suffix}"),
            make,
            with_pub,
        });
    };
    // Default OpenSSH format, unencrypted, every base.
    for (base, _, _) in BASES {
        add(base, "openssh", Make::Copy, true);
    }
    // OpenSSH format, encrypted: default, -a rounds, -Z ciphers.
    add(
        "ed25519",
        "openssh-enc",
        rewrite(None, Some(PASS), None, None),
        true,
    );
    add(
        "ed25519",
        "openssh-a32",
        rewrite(None, Some(PASS), Some(32), None),
        true,
    );
    add(
        "ed25519",
        "openssh-a100",
        rewrite(None, Some(PASS), Some(100), None),
        true,
    );
    add(
        "rsa2048",
        "openssh-a16-aes128ctr",
        rewrite(None, Some(PASS), Some(16), Some("aes128-ctr")),
        true,
    );
    add(
        "ecdsa256",
        "openssh-aes256cbc",
        rewrite(None, Some(PASS), None, Some("aes256-cbc")),
        true,
    );
    add(
        "ecdsa384",
        "openssh-aes256gcm",
        rewrite(None, Some(PASS), None, Some("aes256-gcm@openssh.com")),
        true,
    );
    add(
        "ed25519",
        "openssh-chacha",
        rewrite(
            None,
            Some(PASS),
            None,
            Some("chacha20-poly1305@openssh.com"),
        ),
        true,
    );
    add(
        "rsa4096",
        "openssh-enc",
        rewrite(None, Some(PASS), None, None),
        true,
    );
    add(
        "dsa",
        "openssh-enc",
        rewrite(None, Some(PASS), None, None),
        true,
    );
    // -m PEM, unencrypted: PKCS#1 for RSA, SEC1 for ECDSA, DSA PEM; Ed25519 stays OpenSSH.
    for (base, _, _) in BASES {
        add(base, "pem", rewrite(Some("PEM"), None, None, None), true);
    }
    // -m PEM, encrypted (legacy AES-128-CBC + MD5): the public half is hidden; .pub beside.
    for base in ["rsa2048", "rsa3072", "ecdsa384", "dsa"] {
        add(
            base,
            "pem-enc",
            rewrite(Some("PEM"), Some(PASS), None, None),
            true,
        );
    }
    // -m PKCS8, unencrypted.
    for base in [
        "rsa2048", "rsa4096", "ecdsa256", "ecdsa521", "dsa", "ed25519",
    ] {
        add(
            base,
            "pkcs8",
            rewrite(Some("PKCS8"), None, None, None),
            true,
        );
    }
    // -m PKCS8, encrypted (PBES2): hidden public half; one WITHOUT a .pub.
    for base in ["rsa3072", "ecdsa256"] {
        add(
            base,
            "pkcs8-enc",
            rewrite(Some("PKCS8"), Some(PASS), None, None),
            true,
        );
    }
    add(
        "ecdsa521",
        "pkcs8-enc-nopub",
        rewrite(Some("PKCS8"), Some(PASS), None, None),
        false,
    );
    // PuTTY v3 and v2, with and without a passphrase.
    let ppk = |version, pass| Make::Putty {
        output: "private",
        version: Some(version),
        pass,
    };
    add("ed25519", "ppk3", ppk(3, None), true);
    add("rsa2048", "ppk3-enc", ppk(3, Some(PASS)), true);
    add("ecdsa521", "ppk3-enc", ppk(3, Some(PASS)), true);
    add("dsa", "ppk3", ppk(3, None), true);
    add("ecdsa384", "ppk2", ppk(2, None), true);
    add("ed25519", "ppk2-enc", ppk(2, Some(PASS)), true);
    add("rsa3072", "ppk2-enc", ppk(2, Some(PASS)), true);
    // ssh.com (RSA and DSA only).
    let sshcom = |pass| Make::Putty {
        output: "private-sshcom",
        version: None,
        pass,
    };
    add("rsa2048", "sshcom", sshcom(None), true);
    add("dsa", "sshcom", sshcom(None), true);
    add("rsa3072", "sshcom-enc", sshcom(Some(PASS)), true);
    // SSH-1 (no .pub: the SSH-1 public format is not an OpenSSH public key).
    add("rsa1", "ssh1", Make::Ssh1 { pass: None }, false);
    add("rsa1", "ssh1-enc", Make::Ssh1 { pass: Some(PASS) }, false);
    // RFC 4716 public keys and a certificate.
    add("ecdsa256", "rfc4716", Make::Rfc4716, false);
    add("rsa2048", "rfc4716", Make::Rfc4716, false);
    add("ed25519", "openssh-cert.pub", Make::Certificate, false);
    v
}

/// Runs `jobs` on a few threads (generation is CPU-bound in the tools).
fn parallel<T: Sync>(items: &[T], f: impl Fn(&T) + Sync) {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        * 2;
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                if let Err(panic) =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item)))
                {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_else(|| "panic".to_owned());
                    failure.lock().expect("lock").get_or_insert(msg);
                }
            });
        }
    });
    if let Some(msg) = failure.into_inner().expect("lock") {
        panic!("{msg}");
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Generates the whole key matrix with the real tools into a fresh temp dir.
///
/// Few base keys are generated (RSA 4096 is slow); every variant is a copy rewritten by
/// `ssh-keygen -p` or converted by `puttygen`.
pub fn generate_matrix() -> Matrix {
    let root = tempfile::tempdir().expect("temp dir");
    let mut m = generate_matrix_in(root.path());
    m.root = Some(root);
    m
}

/// One matrix shared by every test of this test binary (generated on first use), under
/// cargo's target tmp dir (`target/tmp/keycheck-key-matrix`), replaced on each run.
pub fn shared_matrix() -> &'static Matrix {
    static MATRIX: std::sync::OnceLock<Matrix> = std::sync::OnceLock::new();
    MATRIX.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("keycheck-key-matrix");
        if root.exists() {
            fs::remove_dir_all(&root).expect("remove the previous matrix");
        }
        fs::create_dir_all(&root).expect("mkdir matrix root");
        generate_matrix_in(&root)
    })
}

/// Generates the matrix into `root/keys` (scanned) and `root/work` (scratch).
pub fn generate_matrix_in(root: &Path) -> Matrix {
    require_tools();
    let started = Instant::now();
    let dir = root.join("keys");
    let work = root.join("work");
    fs::create_dir(&dir).expect("mkdir keys");
    fs::create_dir(&work).expect("mkdir work");
    chmod(&dir, 0o700);
    let pass_file = passphrase_file(&work, "pass", PASS);

    // 1. Base keys, in parallel.
    let mut base_jobs: Vec<(String, Vec<String>)> = BASES
        .iter()
        .map(|(name, t, b)| {
            let mut args = vec!["-q".to_owned(), "-t".to_owned(), (*t).to_owned()];
            if let Some(b) = b {
                args.extend(["-b".to_owned(), b.to_string()]);
            }
            (name.to_string(), args)
        })
        .collect();
    base_jobs.push((
        "ca".to_owned(),
        vec!["-q".into(), "-t".into(), "ed25519".into()],
    ));
    base_jobs.push(("rsa1".to_owned(), Vec::new()));
    parallel(&base_jobs, |(name, args)| {
        let out = work.join(name);
        if name == "rsa1" {
            run_ok(
                puttygen()
                    .args(["-q", "-t", "rsa1", "-b", "2048", "-C", "base-rsa1", "-o"])
                    .arg(&out)
                    .args(["--new-passphrase", "/dev/null"]),
            );
        } else {
            run_ok(
                ssh_keygen()
                    .args(args)
                    .args(["-N", "", "-C", &format!("base-{name}"), "-f"])
                    .arg(&out),
            );
        }
    });

    // 2. Variants, in parallel.
    let specs = specs();
    let entries: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    parallel(&specs, |spec| {
        let made = make_variant(spec, &dir, &work, &pass_file);
        entries.lock().expect("lock").extend(made);
    });
    let mut entries = entries.into_inner().expect("lock");
    entries.sort_by(|a, b| a.name.cmp(&b.name));

    // Every file in the dir must be an entry, and the other way round.
    let mut on_disk: Vec<String> = fs::read_dir(&dir)
        .expect("read keys dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let listed: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    assert_eq!(
        on_disk, listed,
        "matrix bookkeeping is out of step with the files"
    );

    Matrix {
        root: None,
        dir,
        work,
        entries,
        elapsed: started.elapsed(),
    }
}

/// What a base key is, for expectations.
fn base_is(base: &str, prefix: &str) -> bool {
    base.starts_with(prefix)
}

fn make_variant(spec: &Spec, dir: &Path, work: &Path, pass_file: &Path) -> Vec<Entry> {
    let base = work.join(spec.base);
    let base_pub = work.join(format!("{}.pub", spec.base));
    let path = dir.join(&spec.name);
    let mut how;
    let mut entry = Entry {
        name: spec.name.clone(),
        path: path.clone(),
        how: String::new(),
        kind: "private",
        format: "openssh",
        truth: Truth::OpensshPrivate,
        passphrase: None,
        cipher: None,
        kdf: None,
        kdf_rounds: None,
        hides_public: false,
        public_file: None,
    };
    let base_cmd = BASES
        .iter()
        .find(|(n, _, _)| *n == spec.base)
        .map(|(_, t, b)| match b {
            Some(b) => format!("ssh-keygen -t {t} -b {b}"),
            None => format!("ssh-keygen -t {t}"),
        })
        .unwrap_or_else(|| "puttygen -t rsa1 -b 2048".to_owned());
    match &spec.make {
        Make::Copy => {
            fs::copy(&base, &path).expect("copy base");
            how = base_cmd;
        }
        Make::Rewrite {
            format,
            pass,
            rounds,
            cipher,
        } => {
            fs::copy(&base, &path).expect("copy base");
            let mut cmd = ssh_keygen();
            cmd.args(["-p", "-f"])
                .arg(&path)
                .args(["-P", "", "-N", pass.unwrap_or("")]);
            how = format!("{base_cmd}; ssh-keygen -p -N {:?}", pass.unwrap_or(""));
            if let Some(f) = format {
                cmd.args(["-m", f]);
                how += &format!(" -m {f}");
            }
            if let Some(a) = rounds {
                cmd.args(["-a", &a.to_string()]);
                how += &format!(" -a {a}");
            }
            if let Some(z) = cipher {
                cmd.args(["-Z", z]);
                how += &format!(" -Z {z}");
            }
            run_ok(&mut cmd);
            entry.passphrase = *pass;
            let ed25519 = base_is(spec.base, "ed25519");
            entry.format = match (*format, ed25519) {
                // ssh-keygen 9.2 writes Ed25519 keys in its own format whatever -m says.
                (_, true) | (None, _) => "openssh",
                (Some("PEM"), _) if base_is(spec.base, "rsa") => "pkcs1-pem",
                (Some("PEM"), _) if base_is(spec.base, "ecdsa") => "sec1-pem",
                (Some("PEM"), _) => "dsa-pem",
                (Some(_), _) if pass.is_some() => "pkcs8-encrypted-pem",
                (Some(_), _) => "pkcs8-pem",
            };
            if pass.is_some() {
                match entry.format {
                    "openssh" => {
                        entry.cipher = Some(cipher.unwrap_or("aes256-ctr").to_owned());
                        entry.kdf = Some("bcrypt".to_owned());
                        entry.kdf_rounds = Some(rounds.unwrap_or(16));
                    }
                    "pkcs1-pem" | "sec1-pem" | "dsa-pem" => {
                        entry.cipher = Some("AES-128-CBC".to_owned());
                        entry.kdf = Some("md5".to_owned());
                        entry.kdf_rounds = Some(1);
                        entry.hides_public = true;
                    }
                    _ => {
                        // OpenSSL 3 PEM_write_PKCS8PrivateKey via ssh-keygen: PBES2 with
                        // PBKDF2-HMAC-SHA256, 2048 iterations (PKCS5_DEFAULT_ITER), AES-128-CBC.
                        entry.cipher = Some("aes128-cbc".to_owned());
                        entry.kdf = Some("pbkdf2-sha256".to_owned());
                        entry.kdf_rounds = Some(2048);
                        entry.hides_public = true;
                    }
                }
            }
        }
        Make::Putty {
            output,
            version,
            pass,
        } => {
            let mut cmd = puttygen();
            cmd.arg(&base).args(["-o"]).arg(&path).args(["-O", output]);
            how = format!("{base_cmd}; puttygen -O {output}");
            if let Some(v) = version {
                cmd.args(["--ppk-param", &format!("version={v}")]);
                how += &format!(" --ppk-param version={v}");
            }
            if pass.is_some() {
                cmd.arg("--new-passphrase").arg(pass_file);
                how += " --new-passphrase FILE";
            }
            run_ok(&mut cmd);
            chmod(&path, 0o600);
            entry.truth = Truth::Puttygen;
            entry.passphrase = *pass;
            if *output == "private-sshcom" {
                entry.format = "sshcom";
                entry.hides_public = pass.is_some();
                if pass.is_some() {
                    entry.cipher = Some("3des-cbc".to_owned());
                }
            } else if *version == Some(2) {
                entry.format = "putty-v2";
                if pass.is_some() {
                    entry.cipher = Some("aes256-cbc".to_owned());
                    entry.kdf = Some("sha1".to_owned());
                }
            } else {
                entry.format = "putty-v3";
                if pass.is_some() {
                    entry.cipher = Some("aes256-cbc".to_owned());
                    entry.kdf = Some("argon2id".to_owned());
                    entry.kdf_rounds = Some(ppk_header_number(&path, "Argon2-Passes"));
                }
            }
        }
        Make::Ssh1 { pass } => {
            fs::copy(&base, &path).expect("copy rsa1 base");
            how = base_cmd;
            if pass.is_some() {
                run_ok(
                    puttygen()
                        .arg(&path)
                        .args(["-q", "-P", "--new-passphrase"])
                        .arg(pass_file),
                );
                how += "; puttygen -P --new-passphrase FILE";
            }
            chmod(&path, 0o600);
            entry.truth = Truth::Ssh1;
            entry.format = "ssh1";
            entry.passphrase = *pass;
            if pass.is_some() {
                // puttygen writes SSH-1 keys with cipher type 3 (SSH_CIPHER_3DES).
                entry.cipher = Some("3des".to_owned());
            }
        }
        Make::Rfc4716 => {
            let out = run_ok(ssh_keygen().args(["-e", "-f"]).arg(&base_pub));
            fs::write(&path, &out.stdout).expect("write rfc4716");
            how = format!("{base_cmd}; ssh-keygen -e -f BASE.pub");
            entry.kind = "public";
            entry.format = "rfc4716-public";
            entry.truth = Truth::Rfc4716;
        }
        Make::Certificate => {
            let sign_dir = work.join(format!("cert-{}", spec.name));
            fs::create_dir(&sign_dir).expect("mkdir cert");
            let key_pub = sign_dir.join("key.pub");
            fs::copy(&base_pub, &key_pub).expect("copy pub");
            run_ok(
                ssh_keygen()
                    .args(["-q", "-s"])
                    .arg(work.join("ca"))
                    .args(["-I", "keycheck-test-cert", "-n", "alice", "-V", "+52w"])
                    .arg(&key_pub),
            );
            fs::copy(sign_dir.join("key-cert.pub"), &path).expect("copy cert");
            how = format!("{base_cmd}; ssh-keygen -s CA -I keycheck-test-cert -n alice -V +52w");
            entry.kind = "certificate";
            entry.format = "openssh-certificate";
            entry.truth = Truth::PublicLine;
        }
    }
    entry.how = how.clone();
    let mut out = vec![entry];
    if spec.with_pub {
        let pub_name = format!("{}.pub", spec.name);
        let pub_path = dir.join(&pub_name);
        fs::copy(&base_pub, &pub_path).expect("copy .pub");
        out[0].public_file = Some(pub_name.clone());
        out.push(Entry {
            name: pub_name,
            path: pub_path,
            how: format!("{how}; .pub of the base key"),
            kind: "public",
            format: "openssh-public",
            truth: Truth::PublicLine,
            passphrase: None,
            cipher: None,
            kdf: None,
            kdf_rounds: None,
            hides_public: false,
            public_file: None,
        });
    }
    out
}

/// A numeric `Name: value` header of a PPK file.
pub fn ppk_header_number(path: &Path, name: &str) -> u32 {
    let text = fs::read_to_string(path).expect("read ppk");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} header in {}", path.display()))
}

// ---------------------------------------------------------------------------------------
// Running keycheck
// ---------------------------------------------------------------------------------------

/// What one keycheck run did.
#[derive(Debug)]
pub struct RunResult {
    /// Exit code (panics earlier if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall-clock time.
    pub elapsed: Duration,
}

impl RunResult {
    /// Parses stdout as the `keycheck.check/v1` JSON document.
    pub fn json(&self) -> Report {
        let value: Value = serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}); exit {}\nstdout:\n{}\nstderr:\n{}",
                self.code, self.stdout, self.stderr
            )
        });
        assert_eq!(
            value["schema"], "keycheck.check/v1",
            "wrong schema in {value:#}"
        );
        for list in ["keys", "findings", "errors", "skipped"] {
            assert!(
                value[list].is_array(),
                "`{list}` is not an array in {value:#}"
            );
        }
        assert!(
            value["summary"].is_object(),
            "`summary` missing in {value:#}"
        );
        Report { value }
    }
}

/// A keycheck command ready to run: the binary, HOME in a temp dir, NO_COLOR=1.
pub fn keycheck(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keycheck"));
    cmd.env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("KEYCHECK_ORG_POLICY", home.join("org-policy.toml"))
        .env("NO_COLOR", "1")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8");
    cmd
}

/// Runs a command with a deadline: spawns it, and kills it and fails the test if it is
/// still running after `deadline`.
pub fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> RunResult {
    let started = Instant::now();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child =
        retry_busy(|| cmd.spawn()).unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} hung: killed after {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out_reader.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    let code = status
        .code()
        .unwrap_or_else(|| panic!("{cmd:?} was killed by a signal ({status}); stderr:\n{stderr}"));
    RunResult {
        code,
        stdout,
        stderr,
        elapsed,
    }
}

/// `keycheck check ARGS...` with a deadline.
pub fn check<I, S>(home: &Path, args: I) -> RunResult
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = keycheck(home);
    cmd.arg("check").args(args);
    run_with_deadline(&mut cmd, DEADLINE)
}

/// `keycheck check DIR --format json`, parsed.
pub fn check_json(home: &Path, dir: &Path) -> (RunResult, Report) {
    let run = check(
        home,
        [dir.as_os_str(), OsStr::new("--format"), OsStr::new("json")],
    );
    assert!(
        run.code == 0 || run.code == 1,
        "keycheck check {} exited {} (not 0/1)\nstdout:\n{}\nstderr:\n{}",
        dir.display(),
        run.code,
        run.stdout,
        run.stderr
    );
    let report = run.json();
    (run, report)
}

// ---------------------------------------------------------------------------------------
// Reading the report
// ---------------------------------------------------------------------------------------

/// The parsed `keycheck.check/v1` document.
pub struct Report {
    /// The whole document.
    pub value: Value,
}

/// Where a path was accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    /// In `keys`.
    Key,
    /// In `errors`.
    Error,
    /// In `skipped`.
    Skipped,
}

impl Report {
    /// The `keys` entries.
    pub fn keys(&self) -> &[Value] {
        self.value["keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The `findings` entries.
    pub fn findings(&self) -> &[Value] {
        self.value["findings"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The `errors` entries.
    pub fn errors(&self) -> &[Value] {
        self.value["errors"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The `skipped` entries.
    pub fn skipped(&self) -> &[Value] {
        self.value["skipped"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The key entry for `path`; panics unless there is exactly one.
    pub fn key(&self, path: &Path) -> &Value {
        let p = path.to_string_lossy();
        let found: Vec<&Value> = self.keys().iter().filter(|k| k["path"] == *p).collect();
        assert_eq!(
            found.len(),
            1,
            "expected exactly one `keys` entry for {p}, found {}; errors: {:#}; skipped: {:#}",
            found.len(),
            self.value["errors"],
            self.value["skipped"]
        );
        found[0]
    }

    /// The key entries for `path` (normally zero or one).
    pub fn keys_at(&self, path: &Path) -> Vec<&Value> {
        let p = path.to_string_lossy();
        self.keys().iter().filter(|k| k["path"] == *p).collect()
    }

    /// Every place each reported path appears, keyed by path.
    pub fn places(&self) -> BTreeMap<String, Vec<Place>> {
        let mut map: BTreeMap<String, Vec<Place>> = BTreeMap::new();
        for (list, place) in [
            (self.keys(), Place::Key),
            (self.errors(), Place::Error),
            (self.skipped(), Place::Skipped),
        ] {
            for item in list {
                let path = item["path"]
                    .as_str()
                    .unwrap_or_else(|| panic!("entry without a string path: {item:#}"))
                    .to_owned();
                map.entry(path).or_default().push(place);
            }
        }
        map
    }

    /// The findings about `path` with rule `rule`.
    pub fn findings_for(&self, path: &str, rule: &str) -> Vec<&Value> {
        self.findings()
            .iter()
            .filter(|f| f["path"] == path && f["rule"] == rule)
            .collect()
    }

    /// Whether any finding is `fail`.
    pub fn has_failing_finding(&self) -> bool {
        self.findings().iter().any(|f| f["severity"] == "fail")
    }

    /// Every text the report says about `path` (error, skip reason, finding messages).
    pub fn reasons_for(&self, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.errors().iter().filter(|e| e["path"] == path) {
            out.push(format!(
                "error: {}",
                e["error"].as_str().unwrap_or_default()
            ));
        }
        for s in self.skipped().iter().filter(|s| s["path"] == path) {
            out.push(format!(
                "skipped: {}",
                s["reason"].as_str().unwrap_or_default()
            ));
        }
        for f in self.findings().iter().filter(|f| f["path"] == path) {
            out.push(format!(
                "{} {}: {}",
                f["severity"].as_str().unwrap_or_default(),
                f["rule"].as_str().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default()
            ));
        }
        out
    }
}

/// A JSON value as `Option<u32>`, failing on anything but null or a number.
pub fn opt_u32(v: &Value) -> Option<u32> {
    match v {
        Value::Null => None,
        Value::Number(n) => Some(
            n.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or_else(|| panic!("{n} is not a u32")),
        ),
        other => panic!("expected a number or null, got {other}"),
    }
}

/// A JSON value as `Option<&str>`, failing on anything but null or a string.
pub fn opt_str(v: &Value) -> Option<&str> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => panic!("expected a string or null, got {other}"),
    }
}

// ---------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 decoding (padding optional), for reading test keys.
pub fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean.trim_end_matches('='))
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.trim_end_matches('='))
        })
        .unwrap_or_else(|e| panic!("test key body is not base64: {e}"))
}

/// The base64 body lines between the BEGIN and END lines of an armoured file (headers
/// such as `Proc-Type:` and blank lines left out).
pub fn armour_body_lines(text: &str) -> Vec<String> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with("-----BEGIN ") || line.starts_with("---- BEGIN ") {
            inside = true;
            continue;
        }
        if line.starts_with("-----END ") || line.starts_with("---- END ") {
            break;
        }
        if inside && !line.is_empty() && !line.contains(':') {
            out.push(line.to_owned());
        }
    }
    out
}

/// Writes `bytes` to `dir/name` with `mode`.
pub fn write_file(dir: &Path, name: impl AsRef<Path>, bytes: &[u8], mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    chmod(&path, mode);
    path
}

/// Generates one key with ssh-keygen: `ssh-keygen -q -t T [-b B] -N PASS [extra] -C name -f`.
pub fn keygen(dir: &Path, name: &str, t: &str, pass: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    run_ok(
        ssh_keygen()
            .args(["-q", "-t", t, "-N", pass, "-C", name])
            .args(extra)
            .arg("-f")
            .arg(&path),
    );
    path
}

/// The ways a report may spell `path`: lossy UTF-8 (U+FFFD) and with `\xNN` escapes for
/// bytes that are not UTF-8.
pub fn display_forms(path: &Path) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let mut escaped = String::new();
    for chunk in bytes.utf8_chunks() {
        escaped.push_str(chunk.valid());
        for b in chunk.invalid() {
            escaped.push_str(&format!("\\x{b:02x}"));
        }
    }
    let lossy = path.to_string_lossy().into_owned();
    if escaped == lossy {
        vec![lossy]
    } else {
        vec![lossy, escaped]
    }
}

/// Whether this process runs as root (where `chmod 000` does not stop reading).
pub fn is_root() -> bool {
    let out = run(Command::new("id").arg("-u"));
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Waits until something accepts connections on `socket` (an agent binds its socket a
/// moment before it listens, so the file existing is not enough), for at most 10 s.
pub fn wait_for_listener(socket: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {} after 10 s",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A copy of the running test binary that another user (nobody) can execute: the
/// checkout may live under a directory only its owner can enter (a root home), so tests
/// that re-run themselves as nobody run this copy, from a 0755 directory in the temp dir.
pub fn test_binary_for_nobody() -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let exe = std::env::current_exe().expect("the test binary");
    let dir = std::env::temp_dir().join(format!("keycheck-as-nobody-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("create a dir for the test binary");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod 755");
    let copy = dir.join(exe.file_name().expect("binary name"));
    if !copy.exists() {
        let tmp = dir.join(format!(".copy-{:?}", std::thread::current().id()));
        fs::copy(&exe, &tmp).expect("copy the test binary");
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).expect("chmod 755");
        let _ = fs::rename(&tmp, &copy);
    }
    copy
}
