//! Inputs the fuzz targets (`fuzz/`, run by `scripts/fuzz.sh`) found crashing, hanging
//! or exhausting the memory of keycheck's parsers, each fed again to the same parser
//! with the answer it must give. The inputs live in `tests/fixtures/fuzz/`, named
//! `TARGET-what`; each test says which target found it and what was wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use keycheck::sshconfig::{Block, ConfigText, IncludedFile};

/// Runs `work` on its own thread and fails if it takes longer than `limit`: a parser
/// that went quadratic again fails the test instead of hanging it.
fn within<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("took longer than {limit:?}"))
}

/// The `sshconfig` target's reading of its input: parts split at NUL bytes, part 1 the
/// main file `config`, parts 2 and on the files `f2`, `f3`, ... an `Include` names.
fn sshconfig_scan(input: &[u8]) -> ConfigText {
    let text = String::from_utf8_lossy(input);
    let mut parts = text.split('\0');
    let _ssh_g = parts.next();
    let root = parts.next().unwrap_or_default();
    let files: Vec<(String, String)> = parts
        .enumerate()
        .map(|(i, t)| (format!("f{}", i + 2), t.to_owned()))
        .collect();
    ConfigText::from_files("config", root, |pattern| {
        let found: Vec<IncludedFile> = files
            .iter()
            .filter(|(name, _)| keycheck::sshconfig::glob_match(pattern, name))
            .map(|(name, text)| IncludedFile {
                path: name.clone(),
                text: Ok(text.clone()),
            })
            .collect();
        if found.is_empty() {
            Err("no such file".to_owned())
        } else {
            Ok(found)
        }
    })
}

// Found by the sshconfig target (out-of-memory, over 2 GB): a 13 KB file whose `Host`
// line names 1,000 hosts, followed by 2,000 directives and included 20 times. Each
// directive kept its own copy of the `Host` line's names (40 million strings); a 1 MiB
// `~/.ssh/config` alone could ask for hundreds of GB. The blocks are now shared.
#[test]
fn sshconfig_directives_share_their_host_line() {
    let input = include_bytes!("fixtures/fuzz/sshconfig-oom-host-blocks");
    let scan = within(Duration::from_secs(60), move || sshconfig_scan(input));
    assert_eq!(scan.files.len(), 21, "the main file and 20 includes");
    let under_hosts: Vec<_> = scan
        .directives
        .iter()
        .filter(|d| d.keyword == "a")
        .collect();
    assert_eq!(under_hosts.len(), 20 * 2000);
    // One `Host` block per reading of the file, shared by the 2,000 directives under it.
    let mut blocks = HashSet::new();
    for d in &under_hosts {
        let block = d.within.last().expect("directive outside its Host block");
        let Block::Host(names) = &**block else {
            panic!("directive under {block:?}");
        };
        assert_eq!(names.len(), 1000);
        blocks.insert(Arc::as_ptr(block));
    }
    assert_eq!(blocks.len(), 20, "the Host block is copied, not shared");
    assert_eq!(scan.literal_hosts().len(), 1000);
}

// Found with the one above: `literal_hosts` looked each name up in the list of
// names so far, quadratic in the names of a file (a 1 MiB config holds some 150,000:
// over 10^10 comparisons). It now remembers them in a set. 300,000 names here: minutes
// the old way, well under a second now.
#[test]
fn sshconfig_literal_hosts_are_listed_in_linear_time() {
    let names: Vec<String> = (0..300_000).map(|i| format!("h{i}")).collect();
    let config = format!("Host {}\n  User me\nHost h1 h2\n", names.join(" "));
    let hosts = within(Duration::from_secs(60), move || {
        ConfigText::from_files("config", &config, |_| Err("none".to_owned())).literal_hosts()
    });
    assert_eq!(hosts.len(), 300_000);
    assert_eq!(hosts[..3], ["h0", "h1", "h2"]);
}

// Found by reading the fleet code after the two above, then confirmed with the
// fleet_report target on a crafted 4 MB report of 100,000 findings with distinct rule
// ids (libFuzzer: timeout after 201 s). `entry_of` looked each finding's rule up in the
// list of rules so far: quadratic in a report's distinct rule ids, so one hostile report
// among thousands could stall `keycheck fleet`. 200,000 here: many minutes the old way.
#[test]
fn fleet_a_report_with_many_distinct_rules_reads_in_linear_time() {
    let report = |distinct: usize| {
        let findings: Vec<String> = (0..200_000)
            .map(|i| format!(r#"{{"rule":"r{}","severity":"fail"}}"#, i % distinct))
            .collect();
        format!(
            r#"{{"schema":"keycheck.report/v1","host":{{"id":"h"}},"user":{{"name":"a"}},"generated_at":"2026-11-01T00:00:00Z","findings":[{},{{"rule":"r7","severity":"warn"}}]}}"#,
            findings.join(",")
        )
    };
    // As many distinct rule ids as a report may name: counted in one pass.
    let text = report(256);
    let entry = within(Duration::from_secs(60), move || {
        let view: keycheck::fleet::ReportView = serde_json::from_str(&text).unwrap();
        keycheck::fleet::entry_of(&view).unwrap()
    });
    assert_eq!((entry.fail, entry.warn), (200_000, 1));
    assert_eq!(entry.rules.len(), 256);
    let r7 = entry
        .rules
        .iter()
        .find(|(r, _)| r.as_ref() == "r7")
        .unwrap();
    assert_eq!(r7.1, 200_000 / 256 + 1 + 1);
    // 200,000 distinct rule ids: refused, quickly, with the reason.
    let text = report(200_000);
    let err = within(Duration::from_secs(60), move || {
        serde_json::from_str::<keycheck::fleet::ReportView>(&text)
            .err()
            .map(|e| e.to_string())
    });
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("more than 256 different rule ids")),
        "{err:?}"
    );
}

// Found with the one above: the fleet kept each host id's users in a list and looked
// every report's user up in it, quadratic in the users one host id reports. A stream of
// reports from one host id, each naming another user, could stall `keycheck fleet`.
// 200,000 such reports here: many minutes the old way.
#[test]
fn fleet_many_users_of_one_host_merge_in_linear_time() {
    let summary = within(Duration::from_secs(60), || {
        let mut fleet = keycheck::fleet::Fleet::default();
        for i in 0..200_000 {
            fleet.merge(keycheck::fleet::HostEntry {
                host_id: "h".to_owned(),
                hostname: "h.example".to_owned(),
                os: Arc::from("Debian"),
                user: format!("u{i}"),
                generated_at: 1_793_491_200,
                fail: u32::from(i % 2 == 0),
                warn: 0,
                rules: Vec::new(),
                keys: Vec::new(),
            });
        }
        fleet.summary(1_793_491_200, 86_400)
    });
    assert_eq!(summary.hosts, 200_000);
    assert_eq!(summary.compliant_hosts, 100_000);
    assert_eq!(summary.reports_superseded, 0);
}
