//! The public key and certificate readers (`key::public`, `key::blob`). Byte 0 picks
//! the form of the rest:
//!
//! - 0: a key blob, read by `blob::describe` and as the one-line `TYPE BASE64 comment`
//!   a `.pub` file holds (`TYPE` from the blob), which must agree;
//! - 1: a key blob in an RFC 4716 `---- BEGIN SSH2 PUBLIC KEY ----` block;
//! - other: text, as a `.pub` or RFC 4716 file.
#![no_main]

use keycheck::key::blob::{self, Reader};
use keycheck::key::{Format, Inspection, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    match choice {
        0 => {
            let described = blob::describe(rest);
            let key_type = Reader::new(rest)
                .name("type")
                .ok()
                .filter(|t| !t.is_empty() && !t.contains([' ', '\t', '\n', '\r']))
                .unwrap_or_else(|| "ssh-ed25519".to_owned());
            let line = format!("{key_type} {} fuzz", keycheck_fuzz::base64(rest));
            let inspection = keycheck_fuzz::check_key(line.as_bytes());
            if let (Ok(info), Inspection::Key(facts)) = (&described, &inspection) {
                if facts.kind == Kind::Public {
                    assert_eq!(facts.format, Format::OpensshPublic);
                    assert_eq!(
                        facts.fingerprint.as_deref(),
                        Some(info.fingerprint.as_str())
                    );
                    assert_eq!(facts.bits, info.bits);
                    assert_eq!(facts.algorithm.as_deref(), Some(info.algorithm.as_str()));
                    assert_eq!(facts.comment.as_deref(), Some("fuzz"));
                }
            }
            if let Ok(info) = described {
                assert_eq!(info.fingerprint, blob::fingerprint(rest));
            }
        }
        1 => {
            let mut text = "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"fuzz\"\n".to_owned();
            keycheck_fuzz::push_wrapped(&mut text, &keycheck_fuzz::base64(rest), 70);
            text.push_str("---- END SSH2 PUBLIC KEY ----\n");
            match keycheck_fuzz::check_key(text.as_bytes()) {
                Inspection::Key(facts) => {
                    assert_eq!(facts.format, Format::Rfc4716Public);
                    assert_ne!(facts.kind, Kind::Private);
                }
                Inspection::Malformed { format, .. } => {
                    assert_eq!(format, Some(Format::Rfc4716Public));
                }
                Inspection::NotKey(reason) => panic!("RFC 4716 block read as not a key: {reason}"),
            }
        }
        _ => {
            let _ = keycheck_fuzz::check_key(rest);
        }
    }
});
