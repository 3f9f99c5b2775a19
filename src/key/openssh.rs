//! PURE: OpenSSH `openssh-key-v1` private keys (PROTOCOL.key).

use super::armor::Armor;
use super::{KeyFacts, ParseError};

/// Facts of an `OPENSSH PRIVATE KEY` block.
pub(super) fn inspect(_armor: &Armor) -> Result<KeyFacts, ParseError> {
    Err(ParseError::Invalid { context: "openssh private key", detail: "not yet supported".to_owned() })
}
