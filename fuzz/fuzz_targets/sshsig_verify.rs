//! The SSHSIG verifier (`report::sshsig::verify`) on arbitrary signature bytes, against a
//! fixed message and fixed allowed signers (the committed fixture keys).
//!
//! Byte 0 picks the principal asked for (bits 1-2) and the form of the rest: even, the
//! armored text itself; odd, the binary SSHSIG blob, armored here as
//! `-----BEGIN SSH SIGNATURE-----` so that the fuzzer mutates the blob, not its base64.
//! Invariant: only the fixture key's signature is ever accepted, and for the principal
//! its line allows.
#![no_main]

use std::sync::LazyLock;

use keycheck::key::blob;
use keycheck::report::sshsig::{self, AllowedSigners, VerifyError};
use libfuzzer_sys::fuzz_target;

/// What `scripts/fuzz.sh` signs for the seeds (`ssh-keygen -Y sign -n keycheck-report`).
const MESSAGE: &[u8] = b"keycheck fuzz message\n";

const SIGNER: &str = include_str!("../../tests/fixtures/ssh/id_ed25519.pub");
const OTHER: &str = include_str!("../../tests/fixtures/ssh/id_ed25519_enc.pub");

const PRINCIPALS: [&str; 4] = ["fuzz-host", "file-only", "other-key", "nobody"];

static SIGNERS: LazyLock<AllowedSigners> = LazyLock::new(|| {
    let (signer, other) = (SIGNER.trim(), OTHER.trim());
    let text = format!(
        "# fuzz\nfuzz-host,both {signer}\nfile-only namespaces=\"file\" {signer}\nother-key {other}\n"
    );
    AllowedSigners::parse(&text).expect("the fixture keys parse")
});

fn fingerprint(line: &str) -> String {
    let encoded = line.split_whitespace().nth(1).expect("a key line");
    let blob = base64_decode(encoded);
    blob::fingerprint(&blob)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("fixture base64")
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let principal = PRINCIPALS[usize::from(choice >> 1) & 3];
    let text = if choice & 1 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let mut text = "-----BEGIN SSH SIGNATURE-----\n".to_owned();
        keycheck_fuzz::push_wrapped(&mut text, &keycheck_fuzz::base64(rest), 70);
        text.push_str("-----END SSH SIGNATURE-----\n");
        text
    };
    match sshsig::verify(MESSAGE, &text, &SIGNERS, principal) {
        Ok(by) => {
            assert_eq!(principal, "fuzz-host", "accepted for {principal}");
            assert_eq!(by.principal, principal);
            assert_eq!(by.line, 2);
            assert_eq!(by.fingerprint, fingerprint(SIGNER));
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            if let VerifyError::NamespaceNotAllowed { line, .. } = e {
                assert_eq!((principal, line), ("file-only", 3));
            }
        }
    }
});
