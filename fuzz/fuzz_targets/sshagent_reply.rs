//! The ssh-agent reply readers (`sshagent::protocol`): `frame_length` on the first four
//! bytes, then the input as the body of an identities answer (`decode_identities`) and
//! of a status reply (`decode_status`).
//!
//! Invariants: a decoded identity list encodes back to the same bytes (when every comment
//! was UTF-8, which the reader keeps lossily), each identity's facts come from its blob,
//! and a remove request for each blob encodes to a frame whose length header is right.
#![no_main]

use keycheck::key::blob;
use keycheck::sshagent::protocol::{
    decode_identities, decode_status, frame_length, Request, MAX_FRAME, SSH_AGENT_IDENTITIES_ANSWER,
};
use libfuzzer_sys::fuzz_target;

fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).expect("short").to_be_bytes());
    out.extend_from_slice(bytes);
}

fuzz_target!(|data: &[u8]| {
    if let Some(header) = data.first_chunk::<4>() {
        if let Ok(len) = frame_length(*header, MAX_FRAME) {
            assert!(len > 0 && len <= MAX_FRAME as usize);
        }
    }
    match decode_identities(data) {
        Ok(identities) => {
            let mut again = vec![SSH_AGENT_IDENTITIES_ANSWER];
            again.extend_from_slice(&u32::try_from(identities.len()).expect("few").to_be_bytes());
            let mut lossy = false;
            for id in &identities {
                string(&mut again, &id.blob);
                string(&mut again, id.comment.as_bytes());
                lossy |= id.comment.contains('\u{fffd}');
                assert_eq!(
                    id.is_certificate(),
                    id.algorithm
                        .as_deref()
                        .is_some_and(|a| a.ends_with("-cert-v01@openssh.com"))
                );
                let _ = id.ssh_add_type();
                if let (false, Some(fingerprint)) = (id.is_certificate(), &id.fingerprint) {
                    assert_eq!(fingerprint, &blob::fingerprint(&id.blob));
                }
                let _ = format!("{id:?}");
                if let Ok(frame) = (Request::RemoveIdentity { blob: &id.blob }).encode() {
                    let header = frame.first_chunk::<4>().expect("a frame has a header");
                    assert_eq!(frame_length(*header, MAX_FRAME), Ok(frame.len() - 4));
                }
            }
            if !lossy {
                assert_eq!(again, data, "identities do not encode back to their bytes");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match decode_status(data, "remove identity") {
        Ok(_) => assert_eq!(data.len(), 1),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
