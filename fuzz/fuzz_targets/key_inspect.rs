//! `keycheck::key::inspect`, the format detector: any file's bytes, as the scan reads
//! them, through whichever reader the content picks (and `decrypt::prepare`, which reads
//! the same bytes for the passphrase audit). Seeds: every key fixture, as files.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = keycheck_fuzz::check_key(data);
});
