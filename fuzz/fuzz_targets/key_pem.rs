//! The PEM readers (`key::pem`, `key::decrypt::pem` and `key::decrypt::pkcs8`): PKCS#1,
//! PKCS#8 (plain and PBES2-encrypted), SEC1 and DSA DER, armoured here.
//!
//! Input: byte 0 picks the label (low 3 bits) and whether legacy encryption headers come
//! first (bit 7); byte 1 then picks the `DEK-Info` cipher, or (for the last choice)
//! says the header text itself follows up to a NUL byte; then 8 or 16 bytes of IV for
//! the named ciphers; the rest is the DER body.
#![no_main]

use keycheck::key::{Format, Inspection};
use libfuzzer_sys::fuzz_target;

const LABELS: [(&str, Format); 5] = [
    ("RSA PRIVATE KEY", Format::Pkcs1Pem),
    ("PRIVATE KEY", Format::Pkcs8Pem),
    ("ENCRYPTED PRIVATE KEY", Format::Pkcs8EncryptedPem),
    ("EC PRIVATE KEY", Format::Sec1Pem),
    ("DSA PRIVATE KEY", Format::DsaPem),
];

/// OpenSSL's legacy PEM ciphers, with their IV lengths.
const CIPHERS: [(&str, usize); 5] = [
    ("AES-128-CBC", 16),
    ("AES-192-CBC", 16),
    ("AES-256-CBC", 16),
    ("DES-EDE3-CBC", 8),
    ("DES-CBC", 8),
];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let (label, format) = LABELS[usize::from(choice & 7) % LABELS.len()];
    let (headers, der) = if choice & 0x80 == 0 {
        (String::new(), rest)
    } else {
        let Some((&cipher, rest)) = rest.split_first() else {
            return;
        };
        match CIPHERS.get(usize::from(cipher) % (CIPHERS.len() + 1)) {
            Some(&(name, iv_len)) => {
                let Some((iv, der)) = rest.split_at_checked(iv_len.min(rest.len())) else {
                    return;
                };
                let iv: String = iv.iter().map(|b| format!("{b:02X}")).collect();
                (
                    format!("Proc-Type: 4,ENCRYPTED\nDEK-Info: {name},{iv}\n"),
                    der,
                )
            }
            None => {
                let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                let text = String::from_utf8_lossy(&rest[..end]).into_owned();
                (text, rest.get(end + 1..).unwrap_or_default())
            }
        }
    };
    let text = keycheck_fuzz::armor(label, &headers, der);
    let inspection = keycheck_fuzz::check_key(text.as_bytes());
    // Header text of the fuzzer's own may end the armour early or hide it: only the
    // structured headers promise the format.
    if headers.is_empty() || headers.starts_with("Proc-Type: 4,ENCRYPTED\nDEK-Info: ") {
        match inspection {
            Inspection::Key(facts) => assert_eq!(facts.format, format),
            Inspection::Malformed { format: found, .. } => assert_eq!(found, Some(format)),
            Inspection::NotKey(reason) => panic!("{label} armour read as not a key: {reason}"),
        }
    }
});
