//! The `authorized_keys` reader (`key::authorized::AuthorizedKeys::from_bytes`): every
//! line's options and key, then the JSON the report writes of it. Invariant: a key line
//! read alone (as a `.pub` file) is the same key.
#![no_main]

use keycheck::key::authorized::AuthorizedKeys;
use keycheck::key::{self, Inspection};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = AuthorizedKeys::from_bytes(data);
    let lines = data.split(|&b| b == b'\n').count();
    let mut last = 0;
    for line in &keys.lines {
        // One entry per non-blank, non-comment line, in order, numbered from 1.
        assert!(line.line > last && line.line as usize <= lines);
        last = line.line;
        if let Err(e) = &line.result {
            assert!(!e.to_string().is_empty());
        }
    }
    let raw: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for (number, key) in keys.keys() {
        // The same line alone, as a `.pub` file, is the same key.
        let line = raw[number as usize - 1];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if std::str::from_utf8(line).is_ok() {
            match key::inspect(line) {
                Inspection::Key(facts) => assert_eq!(
                    (&facts.fingerprint, facts.bits, &facts.algorithm),
                    (&key.key.fingerprint, key.key.bits, &key.key.algorithm),
                    "line {number} read alone is another key"
                ),
                other => panic!("line {number} read alone is {other:?}"),
            }
        }
        if let Some(expiry) = &key.options.expiry_time {
            // Any offset a caller may pass, at both ends of what a time zone can be.
            let _ = expiry.unix_seconds(i32::MIN);
            let _ = expiry.unix_seconds(i32::MAX);
        }
    }
    assert!(keys.keys().count() <= keys.lines.len());
    serde_json::to_string(&keys).expect("authorized keys serialise");
});
