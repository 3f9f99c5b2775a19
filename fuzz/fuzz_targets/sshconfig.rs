//! The ssh client configuration readers (`sshconfig`): the hand scan of the files with
//! their `Include`s (`ConfigText::from_files`), what `ssh -G` prints
//! (`ClientConfig::from_ssh_g`), the join of both (`HostSettings::from_client`) and the
//! issues the cache rules judge.
//!
//! Input: parts split at NUL bytes. Part 0 is the `ssh -G` output (and ssh's stderr, for
//! `problem_from_stderr`), part 1 the main file `config`, parts 2 and on the files `f2`,
//! `f3`, ... that an `Include` names, literally or by a glob (`glob_match`).
#![no_main]

use keycheck::sshconfig::{
    add_keys_written, convtime, glob_match, problem_from_stderr, ClientConfig, ConfigText,
    HostSettings, IncludedFile, SshConfigFacts, MAX_CONFIG_FILES, PROBE_HOST,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let ssh_g = parts.next().unwrap_or_default();
    let root = parts.next().unwrap_or_default();
    let files: Vec<(String, &str)> = parts
        .enumerate()
        .map(|(i, text)| (format!("f{}", i + 2), text))
        .collect();
    let include = |pattern: &str| {
        let found: Vec<IncludedFile> = files
            .iter()
            .filter(|(name, _)| glob_match(pattern, name))
            .map(|(name, text)| IncludedFile {
                path: name.clone(),
                text: Ok((*text).to_owned()),
            })
            .collect();
        if found.is_empty() {
            Err("no such file".to_owned())
        } else {
            Ok(found)
        }
    };
    let scan = ConfigText::from_files("config", root, include);
    assert!(scan.files.len() <= MAX_CONFIG_FILES);
    assert_eq!(scan.files.first().map(String::as_str), Some("config"));
    for d in &scan.directives {
        assert!(d.line >= 1);
        assert_eq!(d.keyword, d.keyword.to_ascii_lowercase());
        assert!(!d.args.is_empty());
        if d.keyword == "addkeystoagent" {
            let _ = add_keys_written(&d.args);
        }
        for arg in &d.args {
            if let Some(secs) = convtime(arg) {
                assert!(secs <= i32::MAX as u32);
            }
        }
    }
    let hosts = scan.literal_hosts();
    for (i, host) in hosts.iter().enumerate() {
        assert!(!host.is_empty() && !host.contains(['*', '?']));
        assert!(!hosts[..i].contains(host), "{host} listed twice");
    }
    let _ = problem_from_stderr(ssh_g, "host");
    let Ok(client) = ClientConfig::from_ssh_g(ssh_g) else {
        return;
    };
    let names = std::iter::once(PROBE_HOST).chain(hosts.iter().map(String::as_str).take(8));
    let settings: Vec<HostSettings> = names
        .map(|host| HostSettings::from_client(host, &client, &scan, "config", "/home/fuzz"))
        .collect();
    let facts = SshConfigFacts::new(
        "config".to_owned(),
        true,
        scan.files.clone(),
        settings,
        scan.problems.clone(),
    );
    for window in [0, 3600, u64::MAX] {
        let _ = facts.issues(window);
    }
    serde_json::to_string(&facts).expect("facts serialise");
});
