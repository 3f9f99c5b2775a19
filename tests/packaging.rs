//! The files that install the background agent, checked by the tools that read them: the
//! systemd user unit with `systemd-analyze verify` and `systemd-analyze security --offline`
//! (user and system scope), the LaunchAgent with Python's plistlib, and the Homebrew formula
//! against the crate it builds (no Ruby here: its shape is checked as text).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const UNIT: &str = "packaging/systemd/keycheck-agent.service";
const PLIST: &str = "packaging/launchd/io.keycheck.agent.plist";
const FORMULA: &str = "packaging/homebrew/keycheck.rb";
const ATC: &str = "packaging/osquery/keycheck.atc.json";

/// The highest overall exposure `systemd-analyze security` may give the unit.
const MAX_EXPOSURE: f64 = 1.5;

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs `cmd`; a missing program fails the test with what to install.
fn output(cmd: &mut Command, package: &str) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (apt-get install {package}): {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `Key=value` settings of a unit file, in order, with their sections' comments and
/// blank lines left out.
fn settings(unit: &str) -> Vec<(&str, &str)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(|l| {
            l.split_once('=')
                .unwrap_or_else(|| panic!("not Key=value: {l}"))
        })
        .collect()
}

fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    settings(unit)
        .into_iter()
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .collect()
}

fn value<'a>(unit: &'a str, key: &str) -> &'a str {
    match values(unit, key).as_slice() {
        [v] => v,
        other => panic!("{key}= set {} times: {other:?}", other.len()),
    }
}

/// The shipped unit in a directory of its own, under its own name, with ExecStart running
/// the binary cargo built (`verify` requires it to exist); `extra` lines go at the end of
/// `[Service]`. The directory doubles as `XDG_RUNTIME_DIR`.
struct UnitCopy {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl UnitCopy {
    fn new(extra: &str) -> UnitCopy {
        let shipped = read(UNIT);
        let exec = "ExecStart=/usr/bin/keycheck agent";
        assert!(shipped.contains(exec), "{UNIT} must run `{exec}`");
        let built = format!("ExecStart={} agent", env!("CARGO_BIN_EXE_keycheck"));
        let mut unit = shipped.replace(exec, &built);
        if !extra.is_empty() {
            unit = unit.replace("\n[Install]", &format!("{extra}\n\n[Install]"));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keycheck-agent.service");
        fs::write(&path, unit).unwrap();
        UnitCopy { dir, path }
    }

    /// `systemd-analyze [--user] ARGS UNIT`.
    fn analyze(&self, user: bool, args: &[&str]) -> Output {
        let mut cmd = Command::new("systemd-analyze");
        if user {
            // --user needs XDG_RUNTIME_DIR to name an existing directory.
            cmd.arg("--user").env("XDG_RUNTIME_DIR", self.dir.path());
        }
        cmd.args(args).arg(&self.path);
        output(&mut cmd, "systemd")
    }
}

#[test]
fn unit_verifies_without_a_word_in_user_and_system_scope() {
    let unit = UnitCopy::new("");
    for user in [true, false] {
        let out = unit.analyze(user, &["verify"]);
        // verify exits 0 on unknown keys and bad values; only its output tells.
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "systemd-analyze{} verify: {}\nstdout: {}\nstderr: {}",
            if user { " --user" } else { "" },
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn verify_speaks_up_about_a_bad_setting() {
    // The check above means something only if verify complains, on stderr, about what is wrong.
    let unit = UnitCopy::new("ProtectSytem=strict\nProtectHome=readonly");
    let out = unit.analyze(true, &["verify"]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("ProtectSytem"), "{stderr}");
    assert!(stderr.contains("readonly"), "{stderr}");
}

/// The overall exposure from `systemd-analyze security`'s last line:
/// `→ Overall exposure level for keycheck-agent.service: 1.4 OK 🙂`.
fn overall_exposure(out: &Output) -> f64 {
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("Overall exposure level for keycheck-agent.service:"))
        .unwrap_or_else(|| panic!("no overall exposure in:\n{stdout}{}", text(&out.stderr)));
    let level = line.rsplit_once(':').unwrap().1.split_whitespace().next();
    level
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"))
}

#[test]
fn unit_exposure_is_at_most_one_and_a_half_in_both_scopes() {
    let unit = UnitCopy::new("");
    for user in [true, false] {
        // --threshold is on a 0-100 scale: 15 is 1.5, and above it the exit status is 1.
        let out = unit.analyze(user, &["security", "--offline=yes", "--threshold=15"]);
        let exposure = overall_exposure(&out);
        assert!(
            exposure <= MAX_EXPOSURE && out.status.success(),
            "{} scope: exposure {exposure} ({}); the settings it counts against the unit:\n{}",
            if user { "user" } else { "system" },
            out.status,
            text(&out.stdout)
                .lines()
                .filter(|l| l.starts_with('✗'))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn unit_runs_the_agent_and_writes_only_where_keycheck_and_osquery_look() {
    let unit = read(UNIT);
    assert_eq!(value(&unit, "ExecStart"), "/usr/bin/keycheck agent");
    assert_eq!(value(&unit, "Restart"), "on-failure");
    assert!(!value(&unit, "StartLimitIntervalSec").is_empty());
    assert!(value(&unit, "StartLimitBurst").parse::<u32>().unwrap() > 0);
    assert_eq!(value(&unit, "WantedBy"), "default.target");
    assert_eq!(value(&unit, "ProtectSystem"), "strict");
    assert_eq!(value(&unit, "ProtectHome"), "read-only");
    assert_eq!(value(&unit, "RestrictAddressFamilies"), "AF_UNIX");

    // One writable directory: the one the agent is told to use, made before it starts.
    let state = "%h/.local/state/keycheck";
    assert_eq!(value(&unit, "ReadWritePaths"), state);
    assert_eq!(
        value(&unit, "Environment"),
        format!("KEYCHECK_STATE_DIR={state}")
    );
    assert_eq!(
        value(&unit, "ExecStartPre"),
        format!("+mkdir -p -m 0700 {state}")
    );
    // The path keycheck itself uses without the variable, and osquery's ATC config reads.
    let atc: Value = serde_json::from_str(&read(ATC)).unwrap();
    let tables = atc["auto_table_construction"].as_object().unwrap();
    assert!(!tables.is_empty());
    for (name, table) in tables {
        assert_eq!(
            table["path"], "/home/%/.local/state/keycheck/keycheck.db",
            "{name}"
        );
    }
}

#[test]
fn launch_agent_is_a_plist_that_runs_the_agent_and_keeps_it_alive() {
    let path = repo_file(PLIST);
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
    ])
    .arg(&path);
    let out = output(&mut cmd, "python3");
    assert!(out.status.success(), "plistlib: {}", text(&out.stderr));
    let plist: Value = serde_json::from_slice(&out.stdout).unwrap();

    let stem = path.file_stem().unwrap().to_str().unwrap();
    assert_eq!(plist["Label"], stem, "the label names the file");
    assert_eq!(plist["RunAtLoad"], true);
    assert_eq!(plist["KeepAlive"]["SuccessfulExit"], false);
    let args: Vec<&str> = plist["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args, ["/usr/local/bin/keycheck", "agent"]);
    assert_eq!(plist["ProcessType"], "Background");
    assert_eq!(plist["LowPriorityIO"], true);
    assert_eq!(plist["Umask"], 0o077);
    // launchd expands no ~: the installer replaces @HOME@ (the comment says how).
    for key in ["StandardOutPath", "StandardErrorPath"] {
        let log = plist[key].as_str().unwrap();
        assert!(log.starts_with("@HOME@/Library/Logs/"), "{key}: {log}");
        assert!(
            Path::new(&log.replace("@HOME@", "/Users/someone")).is_absolute(),
            "{key}"
        );
    }
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("sed \"s|@HOME@|$HOME|g\""),
        "how to install it"
    );
}

#[test]
fn homebrew_formula_builds_the_crate_and_runs_its_agent() {
    let formula = read(FORMULA);
    let has = |s: &str| assert!(formula.contains(s), "{FORMULA} lacks {s:?}");
    has("class Keycheck < Formula");
    has("depends_on \"rust\" => :build");
    has("system \"cargo\", \"install\", *std_cargo_args");
    has("(etc/\"keycheck\").install \"policy.toml\"");
    assert!(repo_file("policy.toml").is_file());
    has("run [opt_bin/\"keycheck\", \"agent\"]");
    has("keep_alive successful_exit: false");
    has("log_path var/\"log/keycheck-agent.log\"");
    has("error_log_path var/\"log/keycheck-agent.log\"");
    has("shell_output(\"#{bin}/keycheck --version\")");
    has("\"#{bin}/keycheck check #{ssh}\"");
    // The man pages and completions where build.rs writes them.
    has("#{out}/man/*.1");
    for file in ["keycheck.bash", "_keycheck", "keycheck.fish"] {
        has(&format!("#{{out}}/completions/{file}"));
    }

    // The licence is the crate's.
    let cargo = read("Cargo.toml");
    let license = cargo
        .lines()
        .find_map(|l| l.strip_prefix("license = "))
        .unwrap()
        .trim_matches('"');
    let any_of: Vec<String> = license.split(" OR ").map(|l| format!("\"{l}\"")).collect();
    has(&format!("license any_of: [{}]", any_of.join(", ")));

    // Every block is closed: `do`, `class`, `def` and `if` lines against `end` lines, the
    // heredoc's text left out.
    let mut depth = 0i32;
    let mut heredoc = false;
    for line in formula.lines().map(str::trim) {
        if heredoc {
            heredoc = line != "EOS";
            continue;
        }
        heredoc = line.ends_with("<<~EOS");
        let opens = line.ends_with(" do")
            || line.starts_with("class ")
            || line.starts_with("def ")
            || line.starts_with("if ");
        if opens {
            depth += 1;
        } else if line == "end" {
            depth -= 1;
            assert!(depth >= 0, "an `end` too many");
        }
    }
    assert_eq!(depth, 0, "unclosed blocks");
    for block in ["service do", "test do", "def install", "def caveats"] {
        has(block);
    }
}
