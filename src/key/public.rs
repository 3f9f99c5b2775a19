//! PURE: public keys and certificates: one-line OpenSSH public keys, OpenSSH
//! certificates, RFC 4716 public keys.

use super::armor::Armor;
use super::{KeyFacts, ParseError};

/// Facts of a `---- BEGIN SSH2 PUBLIC KEY ----` block.
pub(super) fn inspect_rfc4716(_armor: &Armor) -> Result<KeyFacts, ParseError> {
    Err(ParseError::Invalid { context: "rfc4716 public key", detail: "not yet supported".to_owned() })
}

/// Facts of a one-line public key or certificate; `None` when the text is not one.
pub(super) fn inspect_line(_text: &str) -> Option<Result<KeyFacts, ParseError>> {
    None
}
