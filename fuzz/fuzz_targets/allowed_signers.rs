//! The `allowed_signers` reader (`report::sshsig::AllowedSigners::parse`), which
//! `keycheck fleet --allowed-signers` reads.
//!
//! Invariants: an error names a line and column inside the text; every signer is found
//! again by each of its principals, on its own line number.
#![no_main]

use keycheck::report::sshsig::AllowedSigners;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.split('\n').count();
    match AllowedSigners::parse(&text) {
        Ok(signers) => {
            assert_eq!(signers.is_empty(), signers.signers().is_empty());
            let mut last = 0;
            for signer in signers.signers() {
                assert!(signer.line > last && signer.line <= lines);
                last = signer.line;
                assert!(!signer.principals.is_empty());
                for principal in &signer.principals {
                    assert!(
                        signers.lines_for(principal).any(|s| s.line == signer.line),
                        "line {} not found for {principal:?}",
                        signer.line
                    );
                }
                let _ = signer.allows_namespace("keycheck-report");
            }
            assert_eq!(signers.lines_for("").count(), 0);
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            let line = text.split('\n').nth(e.line - 1).unwrap_or_default();
            assert!(e.column >= 1 && e.column <= line.chars().count() + 1);
            assert!(!e.to_string().is_empty());
        }
    }
});
