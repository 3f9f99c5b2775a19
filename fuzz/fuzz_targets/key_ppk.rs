//! The PuTTY readers (`key::ppk` and `key::decrypt::ppk`), v2 and v3: the input is the
//! whole `.ppk` text (its base64 lines are short, and the headers are what varies).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = keycheck_fuzz::check_key(data);
});
