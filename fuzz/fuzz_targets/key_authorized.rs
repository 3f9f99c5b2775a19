//! The `authorized_keys` reader (`key::authorized::AuthorizedKeys::from_bytes`): every
//! line's options and key, then the JSON the report writes of it.
#![no_main]

use keycheck::key::authorized::AuthorizedKeys;
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
    for (_, key) in keys.keys() {
        if let Some(expiry) = &key.options.expiry_time {
            // Any offset a caller may pass, at both ends of what a time zone can be.
            let _ = expiry.unix_seconds(i32::MIN);
            let _ = expiry.unix_seconds(i32::MAX);
        }
    }
    assert!(keys.keys().count() <= keys.lines.len());
    serde_json::to_string(&keys).expect("authorized keys serialise");
});
