//! The legacy readers (`key::legacy`): byte 0 picks SSH-1 (even: the rest follows the
//! `SSH PRIVATE KEY FILE FORMAT 1.1` magic) or ssh.com (odd: the rest is the decoded
//! body, armoured here as `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----`).
#![no_main]

use keycheck::key::{Format, Inspection};
use libfuzzer_sys::fuzz_target;

const SSH1_MAGIC: &[u8] = b"SSH PRIVATE KEY FILE FORMAT 1.1\n\0";

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let (bytes, format) = if choice & 1 == 0 {
        ([SSH1_MAGIC, rest].concat(), Format::Ssh1)
    } else {
        let mut text = "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n".to_owned();
        keycheck_fuzz::push_wrapped(&mut text, &keycheck_fuzz::base64(rest), 70);
        text.push_str("---- END SSH2 ENCRYPTED PRIVATE KEY ----\n");
        (text.into_bytes(), Format::Sshcom)
    };
    match keycheck_fuzz::check_key(&bytes) {
        Inspection::Key(facts) => assert_eq!(facts.format, format),
        Inspection::Malformed { format: found, .. } => assert_eq!(found, Some(format)),
        Inspection::NotKey(reason) => panic!("{format:?} read as not a key: {reason}"),
    }
});
