//! The ssh client configuration and `authorized_keys` against the real tools: `ssh -G`
//! on configurations written into a temporary HOME, and `authorized_keys` files built
//! from keys the real `ssh-keygen` made, checked against `ssh-keygen -l`.
//!
//! Needs `ssh` and `ssh-keygen` (openssh-client); a missing tool fails the tests, it
//! never skips them. Nothing here reads the real `~/.ssh`: every run passes the
//! configuration with `-F` and sets HOME to its own temporary directory.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keycheck::key::authorized::{AuthorizedError, AuthorizedKeys};
use keycheck::sshconfig::{
    AddKeysMode, AddKeysToAgent, ClientConfig, ConfigIssue, ForwardAgent, HostSettings, Source,
    SshConfigFacts, ALL_HOSTS, PROBE_HOST,
};
use keycheck::sys::sshconfig::{read_ssh_config, read_ssh_config_with, ReadOptions};
use support::{run, run_ok};

/// The absolute path of a tool, or a failed test saying how to install it.
fn tool(name: &str) -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run sh to look for {name}: {e}"));
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && path.starts_with('/'),
        "`{name}` is not installed; these tests need the real OpenSSH client, they never \
         skip: apt-get install openssh-client"
    );
    PathBuf::from(path)
}

fn ssh() -> PathBuf {
    tool("ssh")
}

/// A temporary HOME with `~/.ssh/config` holding `config` and the extra `files`
/// (relative to `~/.ssh`).
fn home_with(config: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("temp HOME");
    let dot_ssh = home.path().join(".ssh");
    fs::create_dir(&dot_ssh).expect("mkdir .ssh");
    fs::write(dot_ssh.join("config"), config).expect("write config");
    for (name, text) in files {
        let path = dot_ssh.join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write included file");
    }
    home
}

fn read(home: &Path) -> SshConfigFacts {
    read_ssh_config(&ssh(), home, None).expect("ssh -G runs")
}

fn host<'a>(facts: &'a SshConfigFacts, name: &str) -> &'a HostSettings {
    facts
        .hosts
        .iter()
        .find(|h| h.host == name)
        .unwrap_or_else(|| panic!("no settings for {name}: {facts:#?}"))
}

fn add(mode: AddKeysMode, secs: Option<u32>) -> AddKeysToAgent {
    AddKeysToAgent {
        mode,
        lifetime_secs: secs,
    }
}

fn at(file: &Path, line: u32) -> Source {
    Source {
        file: file.to_string_lossy().into_owned(),
        line: Some(line),
    }
}

/// The lines of a file where `needle` occurs, 1-based (so tests do not hard-code them).
fn line_of(path: &Path, needle: &str, nth: usize) -> u32 {
    let text = fs::read_to_string(path).expect("read back");
    let index = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} #{nth} not in {}", path.display()))
        .0;
    u32::try_from(index + 1).expect("small file")
}

const CONFIG: &str = "\
# keycheck test configuration
Include conf.d/*

Host work
  HostName work.example.com
  AddKeysToAgent 4h
  IdentityFile ~/.ssh/id_work

Host short
  AddKeysToAgent 1h
  IdentityFile ~/.ssh/id_short

Host careful
  AddKeysToAgent confirm 30m

Host db
  HostName db.internal

Match host db.internal
  AddKeysToAgent 3h

Host *.wild !never
  User wildcard

Host *
  AddKeysToAgent yes
  IdentityFile %d/.ssh/id_ed25519
";

const FORWARD: &str = "\
# all hosts
Host *
  ForwardAgent yes
";

#[test]
fn effective_settings_and_issues_from_real_ssh() {
    let home = home_with(CONFIG, &[("conf.d/forward.conf", FORWARD)]);
    let h = home.path();
    let config = h.join(".ssh/config");
    let forward = h.join(".ssh/conf.d/forward.conf");
    let facts = read(h);

    assert!(facts.config_read);
    assert_eq!(facts.problems, [], "{facts:#?}");
    assert_eq!(
        facts.files,
        [
            config.to_string_lossy().into_owned(),
            forward.to_string_lossy().into_owned()
        ]
    );
    let names: Vec<&str> = facts.hosts.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(names, [PROBE_HOST, "work", "short", "careful", "db"]);

    // Host *: AddKeysToAgent yes without a time; ForwardAgent yes from the Include.
    let probe = host(&facts, PROBE_HOST);
    assert!(probe.probe);
    let star_add = at(&config, line_of(&config, "AddKeysToAgent yes", 0));
    let probe_add = probe.add_keys_to_agent.as_ref().expect("addkeystoagent");
    assert_eq!(probe_add.value, add(AddKeysMode::Yes, None));
    assert_eq!(probe_add.source.as_ref(), Some(&star_add));
    let probe_forward = probe.forward_agent.as_ref().expect("forwardagent");
    assert_eq!(probe_forward.value, ForwardAgent::Yes);
    assert_eq!(probe_forward.source, Some(at(&forward, 3)));
    assert_eq!(
        probe.use_keychain, None,
        "only Apple's ssh prints usekeychain"
    );

    // Each host's own value, placed on its own line.
    for (name, want, needle) in [
        (
            "work",
            add(AddKeysMode::Yes, Some(14_400)),
            "AddKeysToAgent 4h",
        ),
        (
            "short",
            add(AddKeysMode::Yes, Some(3600)),
            "AddKeysToAgent 1h",
        ),
        (
            "careful",
            add(AddKeysMode::Confirm, Some(1800)),
            "AddKeysToAgent confirm 30m",
        ),
        // From the Match block: `Match host` sees the HostName.
        (
            "db",
            add(AddKeysMode::Yes, Some(10_800)),
            "AddKeysToAgent 3h",
        ),
    ] {
        let settings = host(&facts, name).add_keys_to_agent.as_ref().expect(name);
        assert_eq!(settings.value, want, "{name}");
        assert_eq!(
            settings.source,
            Some(at(&config, line_of(&config, needle, 0))),
            "{name}"
        );
        assert_eq!(
            host(&facts, name).forward_agent.as_ref().map(|f| &f.value),
            Some(&ForwardAgent::Yes)
        );
    }

    // Identity files: `~` and `%d` expanded with the temp HOME, ssh's order kept.
    let work = host(&facts, "work");
    let paths: Vec<&str> = work
        .identity_files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    let in_home = |name: &str| h.join(".ssh").join(name).to_string_lossy().into_owned();
    assert_eq!(paths, [in_home("id_work"), in_home("id_ed25519")]);
    assert_eq!(work.identity_files[0].written, "~/.ssh/id_work");
    assert_eq!(
        work.identity_files[0].source,
        Some(at(
            &config,
            line_of(&config, "IdentityFile ~/.ssh/id_work", 0)
        ))
    );
    assert_eq!(work.identity_files[1].written, "%d/.ssh/id_ed25519");
    assert_eq!(
        facts.identity_files,
        [
            in_home("id_ed25519"),
            in_home("id_work"),
            in_home("id_short")
        ]
    );
    assert_eq!(work.hostname.as_deref(), Some("work.example.com"));

    // With a 2 h window: Host * once, not once per host; the hosts that differ.
    assert_eq!(
        facts.issues(2 * 3600),
        [
            ConfigIssue::CacheUnbounded {
                host: ALL_HOSTS.to_owned(),
                mode: AddKeysMode::Yes,
                source: star_add.clone(),
            },
            ConfigIssue::ForwardAgentEverywhere {
                source: at(&forward, 3),
            },
            ConfigIssue::CacheWindowExceeded {
                host: "work".to_owned(),
                secs: 14_400,
                source: at(&config, line_of(&config, "AddKeysToAgent 4h", 0)),
            },
            ConfigIssue::CacheWindowExceeded {
                host: "db".to_owned(),
                secs: 10_800,
                source: at(&config, line_of(&config, "AddKeysToAgent 3h", 0)),
            },
        ]
    );
    // A day's window: only what has no time at all.
    assert_eq!(facts.issues(86_400).len(), 2);
}

/// Every `AddKeysToAgent` form, what OpenSSH 9.2 `ssh -G` prints for it, and what
/// keycheck reads from that.
const ADD_KEYS_FORMS: &[(&str, &str, AddKeysToAgent)] = &[
    (
        "no",
        "false",
        AddKeysToAgent {
            mode: AddKeysMode::No,
            lifetime_secs: None,
        },
    ),
    (
        "yes",
        "true",
        AddKeysToAgent {
            mode: AddKeysMode::Yes,
            lifetime_secs: None,
        },
    ),
    (
        "ask",
        "ask",
        AddKeysToAgent {
            mode: AddKeysMode::Ask,
            lifetime_secs: None,
        },
    ),
    (
        "confirm",
        "confirm",
        AddKeysToAgent {
            mode: AddKeysMode::Confirm,
            lifetime_secs: None,
        },
    ),
    (
        "confirm 10m",
        "confirm 600",
        AddKeysToAgent {
            mode: AddKeysMode::Confirm,
            lifetime_secs: Some(600),
        },
    ),
    (
        "confirm 30m",
        "confirm 1800",
        AddKeysToAgent {
            mode: AddKeysMode::Confirm,
            lifetime_secs: Some(1800),
        },
    ),
    (
        "1h",
        "3600",
        AddKeysToAgent {
            mode: AddKeysMode::Yes,
            lifetime_secs: Some(3600),
        },
    ),
    (
        "4h",
        "14400",
        AddKeysToAgent {
            mode: AddKeysMode::Yes,
            lifetime_secs: Some(14_400),
        },
    ),
    (
        "1h30m",
        "5400",
        AddKeysToAgent {
            mode: AddKeysMode::Yes,
            lifetime_secs: Some(5400),
        },
    ),
    (
        "90",
        "90",
        AddKeysToAgent {
            mode: AddKeysMode::Yes,
            lifetime_secs: Some(90),
        },
    ),
    (
        "0",
        "true",
        AddKeysToAgent {
            mode: AddKeysMode::Yes,
            lifetime_secs: None,
        },
    ),
    (
        "confirm 0",
        "confirm",
        AddKeysToAgent {
            mode: AddKeysMode::Confirm,
            lifetime_secs: None,
        },
    ),
    (
        "=YES",
        "true",
        AddKeysToAgent {
            mode: AddKeysMode::Yes,
            lifetime_secs: None,
        },
    ),
];

#[test]
fn every_addkeystoagent_form_as_real_ssh_prints_it() {
    let mut config = String::new();
    for (i, (written, _, _)) in ADD_KEYS_FORMS.iter().enumerate() {
        let sep = if written.starts_with('=') { "" } else { " " };
        config.push_str(&format!("Host form{i}\n  AddKeysToAgent{sep}{written}\n"));
    }
    let home = home_with(&config, &[]);
    let path = home.path().join(".ssh/config");
    for (i, (written, printed, _)) in ADD_KEYS_FORMS.iter().enumerate() {
        let out = run_ok(
            Command::new(ssh())
                .args(["-G", "-F"])
                .arg(&path)
                .arg(format!("form{i}"))
                .env("HOME", home.path()),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("addkeystoagent "))
            .expect("ssh -G prints addkeystoagent");
        assert_eq!(line, *printed, "AddKeysToAgent {written}");
        let client = ClientConfig::from_ssh_g(&stdout).expect("keycheck reads ssh -G");
        assert_eq!(client.add_keys_to_agent, Some(ADD_KEYS_FORMS[i].2));
    }
    let facts = read(home.path());
    assert_eq!(facts.problems, []);
    for (i, (written, _, want)) in ADD_KEYS_FORMS.iter().enumerate() {
        let settings = host(&facts, &format!("form{i}"))
            .add_keys_to_agent
            .as_ref()
            .expect("addkeystoagent");
        assert_eq!(settings.value, *want, "AddKeysToAgent {written}");
        let line = u32::try_from(2 * i + 2).expect("small");
        // The default (`no`, written explicitly here) is placed too.
        assert_eq!(settings.source, Some(at(&path, line)), "{written}");
    }
}

#[test]
fn forms_ssh_refuses_are_problems_with_their_line() {
    // `ask` takes no time in OpenSSH 9.2, and UseKeychain is Apple's only.
    for (config, line, reason) in [
        ("Host a\n  AddKeysToAgent ask 5m\n", 2, "unsupported option"),
        (
            "Host *\n  UseKeychain yes\n",
            2,
            "Bad configuration option: usekeychain",
        ),
    ] {
        let home = home_with(config, &[]);
        let path = home.path().join(".ssh/config");
        let facts = read(home.path());
        assert!(facts.hosts.is_empty(), "{facts:#?}");
        assert_eq!(facts.problems.len(), 1, "{facts:#?}");
        let problem = &facts.problems[0];
        assert_eq!(
            problem.file.as_deref(),
            Some(path.to_string_lossy().as_ref())
        );
        assert_eq!(problem.line, Some(line));
        assert_eq!(problem.reason, reason);
        assert!(problem.hosts.contains(&PROBE_HOST.to_owned()));
    }
    // Under IgnoreUnknown, non-Apple ssh accepts it and prints nothing for it.
    let home = home_with(
        "IgnoreUnknown UseKeychain\nHost *\n  UseKeychain yes\n",
        &[],
    );
    let facts = read(home.path());
    assert_eq!(facts.problems, []);
    assert_eq!(host(&facts, PROBE_HOST).use_keychain, None);
    assert_eq!(facts.issues(3600), []);
}

#[test]
fn missing_config_is_a_fact_with_the_client_defaults() {
    let home = tempfile::tempdir().expect("temp HOME");
    let facts = read(home.path());
    assert!(!facts.config_read);
    assert!(facts.files.is_empty());
    assert_eq!(facts.problems.len(), 1);
    assert!(facts.problems[0].reason.starts_with("no such file"));
    assert_eq!(facts.hosts.len(), 1);
    let probe = &facts.hosts[0];
    assert_eq!(
        probe
            .add_keys_to_agent
            .as_ref()
            .map(|a| (a.value, &a.source)),
        Some((add(AddKeysMode::No, None), &None))
    );
    assert_eq!(
        probe.forward_agent.as_ref().map(|f| &f.value),
        Some(&ForwardAgent::No)
    );
    // ssh's default identity list, expanded with this HOME.
    let first = home
        .path()
        .join(".ssh/id_rsa")
        .to_string_lossy()
        .into_owned();
    assert_eq!(facts.identity_files.first(), Some(&first));
    assert!(facts.identity_files.len() >= 5);
    assert!(probe.identity_files.iter().all(|f| f.source.is_none()));
    assert_eq!(facts.issues(0), []);

    // A directory where the file should be: not opened, same fallback.
    fs::create_dir_all(home.path().join(".ssh/config")).expect("mkdir");
    let facts = read(home.path());
    assert!(!facts.config_read);
    assert_eq!(facts.hosts.len(), 1);
}

#[test]
fn fifo_in_include_is_a_problem_not_a_hang() {
    let home = home_with(
        "Include conf.d/*\nHost a\n  AddKeysToAgent 1h\n",
        &[("conf.d/x", "Host b\n")],
    );
    // A FIFO the Include glob names: ssh blocks reading it; the hand scan must not.
    let fifo = home.path().join(".ssh/conf.d/y");
    run_ok(Command::new("mkfifo").arg(&fifo));
    let started = Instant::now();
    let facts = read_ssh_config_with(
        &ssh(),
        home.path(),
        None,
        &ReadOptions {
            timeout: Duration::from_secs(1),
            ..ReadOptions::default()
        },
    )
    .expect("ssh runs");
    assert!(started.elapsed() < Duration::from_secs(15));
    let fifo_shown = fifo.to_string_lossy().into_owned();
    assert_eq!(facts.files.last(), Some(&fifo_shown));
    assert_eq!(facts.problems.len(), 2, "{facts:#?}");
    assert_eq!(facts.problems[0].file.as_deref(), Some(fifo_shown.as_str()));
    assert_eq!(facts.problems[0].reason, "not a regular file; not opened");
    // ssh itself blocks on the FIFO, for every host: each run is killed, none settled.
    assert!(facts.hosts.is_empty());
    assert_eq!(facts.problems[1].hosts, [PROBE_HOST, "b", "a"]);
    assert!(facts.problems[1]
        .reason
        .starts_with("ssh -G did not finish within 1 s"));
}

#[test]
fn hanging_match_exec_is_killed_with_its_command() {
    let home = tempfile::tempdir().expect("temp HOME");
    let pid_file = home.path().join("exec.pid");
    let config = format!(
        "Match exec \"echo $$ > {}; exec sleep 60\"\n  AddKeysToAgent yes\nHost a\n",
        pid_file.display()
    );
    fs::create_dir(home.path().join(".ssh")).expect("mkdir");
    fs::write(home.path().join(".ssh/config"), config).expect("write");
    let started = Instant::now();
    let facts = read_ssh_config_with(
        &ssh(),
        home.path(),
        None,
        &ReadOptions {
            timeout: Duration::from_secs(1),
            ..ReadOptions::default()
        },
    )
    .expect("ssh runs");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    assert!(facts.hosts.is_empty());
    assert_eq!(facts.problems.len(), 1, "{facts:#?}");
    assert!(facts.problems[0]
        .reason
        .contains("did not finish within 1 s"));
    assert_eq!(facts.problems[0].hosts, [PROBE_HOST, "a"]);
    // The `sleep` ssh started is gone too (killed with ssh's process group).
    let pid = fs::read_to_string(&pid_file).expect("the exec command ran");
    let stat = format!("/proc/{}/stat", pid.trim());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = fs::read_to_string(&stat)
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim().to_owned()));
        match state {
            None => break,
            Some(s) if s.starts_with('Z') => break,
            Some(s) => {
                assert!(
                    Instant::now() < deadline,
                    "the Match exec command {} survives: {s}",
                    pid.trim()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn missing_ssh_binary_is_an_error() {
    let home = tempfile::tempdir().expect("temp HOME");
    let error =
        read_ssh_config(Path::new("/nonexistent/ssh"), home.path(), None).expect_err("no such ssh");
    assert_eq!(
        error.to_string(),
        "cannot run /nonexistent/ssh: entity not found"
    );
}

// ---------------------------------------------------------------------------------------
// authorized_keys
// ---------------------------------------------------------------------------------------

/// `ssh-keygen -t TYPE [-b BITS]` in `dir`; returns the `.pub` line.
fn keygen(dir: &Path, name: &str, args: &[&str]) -> String {
    let path = dir.join(name);
    run_ok(
        Command::new(tool("ssh-keygen"))
            .args(["-q", "-N", "", "-C"])
            .arg(format!("{name}@test"))
            .args(args)
            .arg("-f")
            .arg(&path),
    );
    fs::read_to_string(path.with_extension("pub"))
        .expect("read .pub")
        .trim()
        .to_owned()
}

/// `ssh-keygen -l -E sha256 -f FILE`: (bits, fingerprint, type) per key listed.
fn listing(path: &Path) -> Vec<(u32, String, String)> {
    let out = run_ok(
        Command::new(tool("ssh-keygen"))
            .args(["-l", "-E", "sha256", "-f"])
            .arg(path),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let mut words = line.split_whitespace();
            let bits = words.next().and_then(|b| b.parse().ok()).expect("bits");
            let fingerprint = words.next().expect("fingerprint").to_owned();
            let key_type = line
                .rsplit_once('(')
                .and_then(|(_, t)| t.strip_suffix(')'))
                .expect("(TYPE)")
                .to_owned();
            (bits, fingerprint, key_type)
        })
        .collect()
}

#[test]
fn authorized_keys_from_real_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let ed25519 = keygen(d, "ed", &["-t", "ed25519"]);
    // OpenSSH 9.2 still makes 1024-bit RSA (its minimum) and DSA keys.
    let rsa1024 = keygen(d, "rsa", &["-t", "rsa", "-b", "1024"]);
    let dsa = keygen(d, "dsa", &["-t", "dsa"]);
    let ecdsa = keygen(d, "ec", &["-t", "ecdsa", "-b", "384"]);
    let refused = run(Command::new(tool("ssh-keygen"))
        .args(["-q", "-N", "", "-t", "rsa", "-b", "768", "-f"])
        .arg(d.join("small")));
    assert!(
        !refused.status.success(),
        "ssh-keygen made a 768-bit RSA key"
    );

    let text = format!(
        "# keys allowed to log in\n\
         \n\
         {ed25519}\n\
         command=\"echo \\\"a, b\\\" c\",from=\"10.0.0.0/8,!10.1.*\",no-pty {rsa1024}\r\n\
         \t  restrict,cert-authority,expiry-time=\"20300101Z\" {dsa}\n\
         not a key at all\n\
         no-agent-forwarding,environment=\"LANG=C\" {ecdsa}\n"
    );
    let path = d.join("authorized_keys");
    fs::write(&path, &text).expect("write authorized_keys");
    let parsed = AuthorizedKeys::from_bytes(text.as_bytes());

    let lines: Vec<u32> = parsed.lines.iter().map(|l| l.line).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7]);
    assert_eq!(parsed.lines[3].result, Err(AuthorizedError::NoKey));
    let keys: Vec<_> = parsed.keys().map(|(_, k)| k).collect();
    let real = listing(&path);
    assert_eq!(keys.len(), real.len(), "{real:?}");
    for (key, (bits, fingerprint, key_type)) in keys.iter().zip(&real) {
        assert_eq!(key.key.bits, Some(*bits), "{key_type}");
        assert_eq!(key.key.fingerprint.as_deref(), Some(fingerprint.as_str()));
    }
    let algorithms: Vec<&str> = keys
        .iter()
        .map(|k| k.key.algorithm.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(
        algorithms,
        ["ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp384"]
    );
    assert_eq!(keys[1].key.bits, Some(1024));
    assert_eq!(keys[1].key.comment.as_deref(), Some("rsa@test"));

    // The options.
    assert_eq!(keys[0].options.all, []);
    let rsa = &keys[1].options;
    assert_eq!(rsa.command.as_deref(), Some("echo \"a, b\" c"));
    assert_eq!(
        rsa.from.as_deref(),
        Some(&["10.0.0.0/8".to_owned(), "!10.1.*".to_owned()][..])
    );
    let dsa = &keys[2].options;
    assert!(dsa.restrict && dsa.cert_authority);
    let expiry = dsa.expiry_time.as_ref().expect("expiry-time");
    assert!(expiry.utc);
    // `date -u -d 2030-01-01 +%s`
    assert_eq!(expiry.unix_seconds(0), 1_893_456_000);
    assert_eq!(keys[3].options.all.len(), 2);

    // A line sshd would refuse for its options is an error here, though `ssh-keygen -l`
    // (which does not read options) still lists its key.
    let bad = format!("no-such-option {ed25519}\n");
    let bad_path = d.join("authorized_keys2");
    fs::write(&bad_path, &bad).expect("write");
    assert_eq!(listing(&bad_path).len(), 1);
    let parsed = AuthorizedKeys::from_bytes(bad.as_bytes());
    assert_eq!(
        parsed.lines[0].result,
        Err(AuthorizedError::BadOption {
            reason: "unknown key option",
            option: "no-such-option".to_owned(),
        })
    );
}
