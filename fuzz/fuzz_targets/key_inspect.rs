//! `keycheck::key::inspect`, the format detector: any file's bytes, as the scan reads
//! them, through whichever reader the content picks (and `decrypt::prepare`, which reads
//! the same bytes for the passphrase audit). Seeds: every key fixture, as files.
//!
//! Invariant: a text file with CR LF line endings holds the same key as with LF (only
//! the quirks and whether OpenSSH loads it may differ).
#![no_main]

use keycheck::key::{Format, Inspection};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let inspection = keycheck_fuzz::check_key(data);
    // SSH-1 keys are binary (their magic holds a LF), every other format is text.
    let Inspection::Key(facts) = inspection else {
        return;
    };
    if facts.format == Format::Ssh1 {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains('\r') {
        return;
    }
    let crlf = text.replace('\n', "\r\n");
    match keycheck_fuzz::check_key(crlf.as_bytes()) {
        Inspection::Key(again) => {
            let same = |f: &keycheck::key::KeyFacts| {
                (
                    f.kind,
                    f.format,
                    f.algorithm.clone(),
                    f.bits,
                    f.encrypted,
                    f.fingerprint.clone(),
                    f.comment.clone(),
                    f.cipher.clone(),
                    f.kdf.clone(),
                    f.kdf_rounds,
                )
            };
            assert_eq!(same(&facts), same(&again), "CR LF changes the key");
        }
        other => panic!("with CR LF line endings the key is {other:?}"),
    }
});
