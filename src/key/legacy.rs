//! PURE: two old formats still found on long-lived laptops: the ssh.com SSH2 private key
//! and the SSH-1 RSA private key.

use super::armor::Armor;
use super::{KeyFacts, ParseError};

/// The first bytes of an SSH-1 private key file.
pub(super) const SSH1_MAGIC: &[u8] = b"SSH PRIVATE KEY FILE FORMAT 1.1\n\0";

/// Facts of an SSH-1 key; `rest` follows [`SSH1_MAGIC`].
pub(super) fn inspect_ssh1(_rest: &[u8]) -> Result<KeyFacts, ParseError> {
    Err(ParseError::Invalid { context: "ssh1 key", detail: "not yet supported".to_owned() })
}

/// Facts of a `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----` block.
pub(super) fn inspect_sshcom(_armor: &Armor) -> Result<KeyFacts, ParseError> {
    Err(ParseError::Invalid { context: "ssh.com private key", detail: "not yet supported".to_owned() })
}
