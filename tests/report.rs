//! `keycheck report` against real keys made by ssh-keygen in a temp HOME, a real
//! ssh-agent, and the committed JSON Schema (`schemas/keycheck.report-v1.json`) checked by
//! a real validator.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test --test report` rewrites the schema file from the types;
//! review the diff (a change to a v1 report must stay compatible: add optional fields,
//! never rename or retype one).

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use hmac::Mac as _;
use serde_json::{json, Value};

use support::{
    armour_body_lines, base64_decode, hex, keycheck, keygen, run_ok, run_with_deadline,
    ssh_agent::SshAgent, RunResult, DEADLINE,
};

const SCHEMA_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schemas/keycheck.report-v1.json"
);

/// A temp HOME with real keys: one without a passphrase (fails), an RSA 2048 one the
/// organisation's exception waives, an unencrypted PEM ECDSA key open to others (fails
/// twice), an encrypted PKCS#8 RSA key, and a broken key file (an error entry).
struct Home {
    dir: tempfile::TempDir,
    /// The private key files.
    private: Vec<PathBuf>,
}

impl Home {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ssh(&self) -> PathBuf {
        self.path().join(".ssh")
    }
}

fn home_with_keys() -> Home {
    support::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let ssh = dir.path().join(".ssh");
    fs::create_dir(&ssh).unwrap();
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).unwrap();
    let private = vec![
        keygen(&ssh, "id_ed25519", "ed25519", "", &[]),
        keygen(&ssh, "id_rsa", "rsa", support::PASS, &["-b", "2048"]),
        keygen(&ssh, "id_ecdsa", "ecdsa", "", &["-m", "PEM"]),
        keygen(&ssh, "id_rsa_pkcs8", "rsa", support::PASS, &["-m", "PKCS8"]),
    ];
    fs::set_permissions(ssh.join("id_ecdsa"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(
        ssh.join("broken"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    fs::set_permissions(ssh.join("broken"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(
        dir.path().join("org-policy.toml"),
        "version = 1\n\n[[exceptions.waive]]\npath = \"~/.ssh/id_rsa\"\n\
         rules = [\"rsa-below-recommended\"]\nreason = \"vendor appliance; ticket SEC-1\"\n\
         expires = 2099-12-31\n",
    )
    .unwrap();
    Home { dir, private }
}

/// `keycheck report ARGS...` in `home`, with `SSH_AUTH_SOCK` when an agent is given.
fn report(home: &Path, agent: Option<&SshAgent>, args: &[&str]) -> RunResult {
    let mut cmd = keycheck(home);
    if let Some(agent) = agent {
        cmd.env("SSH_AUTH_SOCK", &agent.socket);
    }
    cmd.arg("report").args(args);
    run_with_deadline(&mut cmd, DEADLINE)
}

/// `keycheck report` as JSON, parsed; exit 1 (failing findings) expected.
fn report_json(home: &Path, agent: Option<&SshAgent>) -> Value {
    let run = report(home, agent, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&fs::read_to_string(SCHEMA_FILE).unwrap()).unwrap();
    jsonschema::draft202012::meta::validator()
        .validate(&schema)
        .unwrap_or_else(|e| panic!("the committed schema is not valid JSON Schema 2020-12: {e}"));
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not validate:\n  {}\n{doc:#}",
        errors.join("\n  ")
    );
}

fn command_line(cmd: &mut Command) -> String {
    String::from_utf8(run_ok(cmd).stdout)
        .unwrap()
        .trim()
        .to_owned()
}

fn is_hex64(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[test]
fn the_committed_schema_is_what_the_types_generate() {
    let generated = keycheck::report::export::json_schema_text().unwrap();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        fs::create_dir_all(Path::new(SCHEMA_FILE).parent().unwrap()).unwrap();
        fs::write(SCHEMA_FILE, &generated).unwrap();
        return;
    }
    let committed = fs::read_to_string(SCHEMA_FILE)
        .unwrap_or_else(|_| panic!("no {SCHEMA_FILE}; run with UPDATE_SNAPSHOTS=1"));
    assert_eq!(
        committed, generated,
        "schemas/keycheck.report-v1.json is stale: UPDATE_SNAPSHOTS=1 cargo test --test report, and review the diff"
    );
}

#[test]
fn json_report_carries_every_field_with_its_value() {
    let home = home_with_keys();
    let agent = SshAgent::start(home.path(), &[]);
    agent.add(&home.ssh().join("id_ed25519"));
    let started = time::OffsetDateTime::now_utc().unix_timestamp();
    let doc = report_json(home.path(), Some(&agent));
    let ended = time::OffsetDateTime::now_utc().unix_timestamp();

    assert_eq!(doc["schema"], "keycheck.report/v1");
    assert!(doc.get("signing").is_none(), "unsigned: {doc:#}");

    // Host: the keyed hash of the machine id, never the id itself.
    let host = &doc["host"];
    assert!(is_hex64(&host["id"]), "{host}");
    let machine_id = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .zip(["machine-id", "dbus-machine-id"])
        .find_map(|(path, source)| {
            let text = fs::read_to_string(path).ok()?;
            let id = text.trim().to_owned();
            (id.len() == 32).then_some((id, source))
        });
    match machine_id {
        Some((raw, source)) => {
            assert_eq!(host["id_source"], source);
            let id = host["id"].as_str().unwrap();
            assert!(!id.contains(&raw), "raw machine id in the report");
            let mut mac =
                hmac::Hmac::<sha2::Sha256>::new_from_slice(b"keycheck host id v1").unwrap();
            mac.update(raw.as_bytes());
            assert_eq!(id, hex(&mac.finalize().into_bytes()));
            let everything = doc.to_string();
            assert!(!everything.contains(&raw), "raw machine id in the report");
        }
        None => {
            assert_eq!(host["id_source"], "generated");
            assert!(home.path().join(".local/state/keycheck/host-id").is_file());
        }
    }
    assert_eq!(
        host["hostname"],
        command_line(Command::new("uname").arg("-n"))
    );
    let os = fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| command_line(Command::new("uname").arg("-sr")));
    assert_eq!(host["os"], os.as_str());

    // Stable across runs.
    let again = report_json(home.path(), Some(&agent));
    assert_eq!(again["host"], doc["host"]);
    assert_eq!(again["policy"], doc["policy"]);

    let uid: u32 = command_line(Command::new("id").arg("-u")).parse().unwrap();
    assert_eq!(
        doc["user"],
        json!({"name": command_line(Command::new("id").arg("-un")), "uid": uid})
    );
    assert_eq!(
        doc["tool"],
        json!({"name": "keycheck", "version": env!("CARGO_PKG_VERSION")})
    );
    assert!(is_hex64(&doc["policy"]["digest"]), "{}", doc["policy"]);
    assert_eq!(doc["policy"]["profile"], "laptop");

    let generated = time::OffsetDateTime::parse(
        doc["generated_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(generated.offset(), time::UtcOffset::UTC);
    assert!((started..=ended).contains(&generated.unix_timestamp()));

    assert_eq!(
        doc["roots"],
        json!([{"path": home.ssh().to_str().unwrap(), "found_by": "scan"}])
    );

    // Keys: facts as ssh-keygen sees them.
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 8, "four private keys and their .pub files");
    for private in &home.private {
        let truth = support::ssh_keygen_l(&private.with_extension("pub")).unwrap();
        let key = keys
            .iter()
            .find(|k| k["path"] == private.to_str().unwrap())
            .unwrap_or_else(|| panic!("{} not reported", private.display()));
        assert_eq!(key["kind"], "private");
        assert_eq!(key["fingerprint"], truth.fingerprint.as_str());
        assert_eq!(key["bits"], truth.bits);
    }
    let ecdsa = keys
        .iter()
        .find(|k| k["path"].as_str().unwrap().ends_with("id_ecdsa"))
        .unwrap();
    assert_eq!(
        (&ecdsa["format"], &ecdsa["mode"]),
        (&json!("sec1-pem"), &json!("0644"))
    );

    // Agents, findings, waived, errors.
    assert_eq!(
        doc["agents"].as_array().unwrap().len(),
        1,
        "{}",
        doc["agents"]
    );
    let agent_facts = &doc["agents"][0];
    assert_eq!(agent_facts["socket"], agent.socket.to_str().unwrap());
    assert_eq!(agent_facts["kind"]["agent"], "openssh");
    assert_eq!(agent_facts["pid"], agent.pid());
    assert_eq!(agent_facts["identities"], 1);
    let findings: BTreeSet<(String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap();
            let name = path.rsplit('/').next().unwrap().to_owned();
            (f["rule"].as_str().unwrap().to_owned(), name)
        })
        .collect();
    for expected in [
        ("passphrase-missing", "id_ed25519"),
        ("passphrase-missing", "id_ecdsa"),
        ("file-permissions", "id_ecdsa"),
        ("malformed-key", "broken"),
    ] {
        assert!(
            findings.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} missing from {findings:?}"
        );
    }
    assert!(!findings.contains(&("rsa-below-recommended".to_owned(), "id_rsa".to_owned())));
    let waived = doc["waived"].as_array().unwrap();
    assert_eq!(waived.len(), 1, "{waived:?}");
    assert_eq!(waived[0]["finding"]["rule"], "rsa-below-recommended");
    assert_eq!(waived[0]["reason"], "vendor appliance; ticket SEC-1");
    assert_eq!(waived[0]["expires"], "2099-12-31");
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0]["path"],
        home.ssh().join("broken").to_str().unwrap()
    );

    let summary = &doc["summary"];
    let count = |sev: &str| {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == sev)
            .count()
    };
    assert_eq!(summary["keys"], 8);
    assert_eq!(summary["private"], 4);
    assert_eq!(summary["fail"], count("fail"));
    assert_eq!(summary["warn"], count("warn"));
    assert_eq!(summary["waived"], 1);
    assert_eq!(summary["errors"], 1);

    // The same facts and judgements as `keycheck check --format json`: one serialisation.
    let mut check = keycheck(home.path());
    check
        .env("SSH_AUTH_SOCK", &agent.socket)
        .args(["check", "--format", "json"]);
    let check: Value =
        serde_json::from_str(&run_with_deadline(&mut check, DEADLINE).stdout).unwrap();
    for field in ["keys", "findings", "waived", "errors", "agents", "summary"] {
        assert_eq!(
            doc[field], check[field],
            "{field} differs from keycheck check"
        );
    }

    // The library's types read the real document back, and write the same bytes again.
    let run = report(home.path(), Some(&agent), &[]);
    let typed: keycheck::report::export::Report = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        String::from_utf8(typed.to_json().unwrap()).unwrap(),
        run.stdout
    );
}

#[test]
fn the_policy_digest_follows_the_values_not_the_files_they_come_from() {
    support::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    fs::create_dir(home.join(".ssh")).unwrap();
    keygen(
        &home.join(".ssh"),
        "id_ed25519",
        "ed25519",
        support::PASS,
        &[],
    );
    let policy_of = |org: Option<&str>| {
        let org_file = home.join("org-policy.toml");
        match org {
            Some(text) => {
                fs::write(&org_file, text).unwrap();
                support::set_mode(&org_file, 0o644);
            }
            None => {
                let _ = fs::remove_file(&org_file);
            }
        }
        let run = report(home, None, &[]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        serde_json::from_str::<Value>(&run.stdout).unwrap()["policy"].clone()
    };
    let builtin = policy_of(None);
    assert_eq!(
        policy_of(Some("version = 1\n[keys]\nrsa_min_bits = 2048\n")),
        builtin,
        "the built-in value, set again by the organisation"
    );
    let tighter = policy_of(Some("version = 1\n[keys]\nrsa_min_bits = 3072\n"));
    assert_ne!(tighter["digest"], builtin["digest"]);
    let desktop = policy_of(Some("version = 1\nprofile = \"desktop\"\n"));
    assert_eq!(desktop["profile"], "desktop");
    assert_ne!(desktop["digest"], builtin["digest"]);
}

#[test]
fn real_reports_validate_against_the_committed_schema_and_broken_ones_do_not() {
    let validator = validator();
    let home = home_with_keys();
    let agent = SshAgent::start(home.path(), &[]);
    let doc = report_json(home.path(), Some(&agent));
    assert_valid(&validator, &doc);

    // A home without ~/.ssh: empty lists, still a valid report.
    let empty = tempfile::tempdir().unwrap();
    let run = report(empty.path(), None, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let empty_doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(empty_doc["keys"], json!([]));
    assert_valid(&validator, &empty_doc);

    // A signed report's signing block validates too.
    let mut signed = doc.clone();
    signed["signing"] = json!({
        "namespace": "keycheck-report",
        "principal": doc["host"]["id"],
        "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
        "fingerprint": "SHA256:x",
        "key_store": "secret-service",
    });
    assert_valid(&validator, &signed);

    type Mutation = (&'static str, fn(&mut Value));
    let broken: [Mutation; 11] = [
        ("host id a number", |d| d["host"]["id"] = json!(123)),
        ("host id not hex", |d| {
            d["host"]["id"] = json!("z".repeat(64))
        }),
        ("bits a string", |d| d["keys"][0]["bits"] = json!("256")),
        ("mode not octal", |d| d["keys"][0]["mode"] = json!("0999")),
        ("unknown severity", |d| {
            d["findings"][0]["severity"] = json!("fatal")
        }),
        ("unknown rule", |d| {
            d["findings"][0]["rule"] = json!("no-such-rule")
        }),
        ("summary count a string", |d| {
            d["summary"]["fail"] = json!("1")
        }),
        ("another schema", |d| {
            d["schema"] = json!("keycheck.check/v1")
        }),
        ("time not RFC 3339", |d| {
            d["generated_at"] = json!("yesterday")
        }),
        ("summary missing", |d| {
            d.as_object_mut().unwrap().remove("summary");
        }),
        ("unknown key store", |d| {
            d["signing"] = json!({"namespace": "keycheck-report", "principal": "p",
                "public_key": "k", "fingerprint": "f", "key_store": "usb-stick"});
        }),
    ];
    for (what, mutate) in broken {
        let mut bad = doc.clone();
        mutate(&mut bad);
        assert!(!validator.is_valid(&bad), "a report with {what} validates");
    }
}

#[test]
fn ndjson_is_one_self_describing_line_per_finding_then_a_summary() {
    let home = home_with_keys();
    let doc = report_json(home.path(), None);
    let run = report(home.path(), None, &["--format", "ndjson"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(lines.len(), findings.len() + 1);
    for line in &lines {
        assert_eq!(line["schema"], "keycheck.report/v1");
        assert_eq!(line["host_id"], doc["host"]["id"]);
        assert_eq!(line["hostname"], doc["host"]["hostname"]);
        assert_eq!(line["user"], doc["user"]["name"]);
        assert_eq!(line["uid"], doc["user"]["uid"]);
        assert!(line["generated_at"].is_string());
    }
    for (line, finding) in lines.iter().zip(findings) {
        assert_eq!(line["record"], "finding");
        for field in ["rule", "severity", "path", "fingerprint", "message", "fix"] {
            assert_eq!(line[field], finding[field], "{field} of {line}");
        }
    }
    let summary = lines.last().unwrap();
    assert_eq!(summary["record"], "summary");
    assert_eq!(summary["policy_digest"], doc["policy"]["digest"]);
    for (field, count) in doc["summary"].as_object().unwrap() {
        assert_eq!(&summary[field], count, "{field}");
    }
}

#[test]
fn csv_has_a_header_and_one_row_per_finding() {
    let home = home_with_keys();
    let doc = report_json(home.path(), None);
    let run = report(home.path(), None, &["--format", "csv"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let mut reader = csv::Reader::from_reader(run.stdout.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "generated_at",
            "host_id",
            "hostname",
            "user",
            "rule",
            "severity",
            "path",
            "fingerprint",
            "message",
            "fix"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(rows.len(), findings.len());
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    for (row, f) in rows.iter().zip(findings) {
        assert_eq!(&row[1], doc["host"]["id"].as_str().unwrap());
        assert_eq!(&row[2], doc["host"]["hostname"].as_str().unwrap());
        let got: Vec<&str> = row.iter().skip(4).collect();
        let want: Vec<String> = ["rule", "severity", "path", "fingerprint", "message", "fix"]
            .iter()
            .map(|k| text(&f[*k]))
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn output_replaces_the_file_atomically_with_mode_0600() {
    let home = home_with_keys();
    let out_dir = home.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("report.json");
    fs::write(&target, "old").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
    // A second name for the old file: written in place, it would change too.
    let kept = out_dir.join("kept");
    fs::hard_link(&target, &kept).unwrap();
    let old_inode = fs::metadata(&target).unwrap().ino();

    for (format, parse) in [
        (
            "json",
            (|t: &str| serde_json::from_str::<Value>(t).is_ok()) as fn(&str) -> bool,
        ),
        ("ndjson", |t: &str| {
            t.lines().all(|l| serde_json::from_str::<Value>(l).is_ok())
        }),
        ("csv", |t: &str| t.starts_with("generated_at,host_id,")),
    ] {
        let run = report(
            home.path(),
            None,
            &[
                "--format",
                format,
                "--output",
                target.to_str().unwrap(),
                "--no-sign",
            ],
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_eq!(run.stdout, "", "nothing on stdout with --output");
        assert_eq!(run.stderr, "");
        let meta = fs::metadata(&target).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600, "{format}");
        let text = fs::read_to_string(&target).unwrap();
        assert!(parse(&text), "{format} output: {text}");
    }
    assert_ne!(
        fs::metadata(&target).unwrap().ino(),
        old_inode,
        "renamed into place"
    );
    assert_eq!(
        fs::read_to_string(&kept).unwrap(),
        "old",
        "old file never written in place"
    );
    let left: Vec<String> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(left, ["kept", "report.json"], "no temp file left");

    // A relative path is relative to the working directory.
    let mut cmd = keycheck(home.path());
    cmd.current_dir(&out_dir)
        .args(["report", "-o", "relative.json"]);
    assert_eq!(run_with_deadline(&mut cmd, DEADLINE).code, 1);
    let doc: Value =
        serde_json::from_str(&fs::read_to_string(out_dir.join("relative.json")).unwrap()).unwrap();
    assert_eq!(doc["schema"], "keycheck.report/v1");
}

#[test]
fn errors_are_one_clear_line() {
    let home = home_with_keys();
    let missing = home.path().join("no/such/dir/report.json");
    let run = report(home.path(), None, &["--output", missing.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "keycheck: writing the report to {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
    let into_dir = report(
        home.path(),
        None,
        &["--output", home.ssh().to_str().unwrap()],
    );
    assert_eq!(into_dir.code, 2);
    assert_eq!(into_dir.stderr.lines().count(), 1, "{}", into_dir.stderr);
    assert!(
        into_dir
            .stderr
            .starts_with("keycheck: writing the report to "),
        "{}",
        into_dir.stderr
    );
    assert!(
        home.ssh().join("id_ed25519").is_file(),
        "the directory is untouched"
    );

    let bad_format = report(home.path(), None, &["--format", "xml"]);
    assert_eq!(bad_format.code, 2);
    assert!(
        bad_format.stderr.contains("invalid value 'xml'"),
        "{}",
        bad_format.stderr
    );
}

/// Every 16-byte window of what a private key file holds, in the forms an output could
/// leak it in: the base64 body as text, and the decoded bytes raw and as hex (both cases).
/// Runs of one repeated byte are left out: they are padding, not secrets.
fn private_windows(path: &Path) -> HashSet<Vec<u8>> {
    let text = fs::read_to_string(path).unwrap();
    let lines = armour_body_lines(&text);
    assert!(!lines.is_empty(), "{} has no armoured body", path.display());
    let body = lines.concat();
    let decoded = base64_decode(&body);
    let mut needles = HashSet::new();
    for w in body.as_bytes().windows(16) {
        needles.insert(w.to_vec());
    }
    for w in decoded.windows(16) {
        if w.iter().all(|b| *b == w[0]) {
            continue;
        }
        needles.insert(w.to_vec());
        let h = hex(w);
        needles.insert(h.to_ascii_uppercase().into_bytes());
        needles.insert(h.into_bytes());
    }
    needles
}

#[test]
fn no_private_key_bytes_in_any_format() {
    let home = home_with_keys();
    let agent = SshAgent::start(home.path(), &[]);
    agent.add(&home.ssh().join("id_ed25519"));
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    for format in ["json", "ndjson", "csv"] {
        let run = report(home.path(), Some(&agent), &["--format", format]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        outputs.push((format.to_owned(), run.stdout.into_bytes()));
    }
    let file = home.path().join("report.json");
    let run = report(home.path(), Some(&agent), &["-o", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    outputs.push(("--output file".to_owned(), fs::read(&file).unwrap()));

    let mut needles = HashSet::new();
    for key in &home.private {
        needles.extend(private_windows(key));
    }
    assert!(
        needles.len() > 1000,
        "the keys give {} windows",
        needles.len()
    );
    for (what, bytes) in &outputs {
        assert!(
            bytes.len() > 200,
            "{what} output is too short to mean anything"
        );
        let present: HashSet<&[u8]> = bytes.windows(16).chain(bytes.windows(32)).collect();
        let leaked: Vec<String> = needles
            .iter()
            .filter(|n| present.contains(n.as_slice()))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        assert!(
            leaked.is_empty(),
            "{what} output holds private key bytes: {leaked:?}"
        );
    }
}
