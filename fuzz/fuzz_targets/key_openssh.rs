//! The `openssh-key-v1` reader (`key::openssh` and `key::decrypt::openssh`): the input
//! is the decoded body, armoured here as `-----BEGIN OPENSSH PRIVATE KEY-----`, so the
//! fuzzer mutates the binary format rather than its base64.
#![no_main]

use keycheck::key::{Format, Inspection};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = keycheck_fuzz::armor("OPENSSH PRIVATE KEY", "", data);
    match keycheck_fuzz::check_key(text.as_bytes()) {
        Inspection::Key(facts) => assert_eq!(facts.format, Format::Openssh),
        Inspection::Malformed { format, .. } => assert_eq!(format, Some(Format::Openssh)),
        Inspection::NotKey(reason) => panic!("an OpenSSH armour read as not a key: {reason}"),
    }
});
