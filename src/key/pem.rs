//! PURE: PEM private keys: PKCS#1 RSA, PKCS#8 (plain and PBES2-encrypted), SEC1 EC, DSA.

use super::armor::Armor;
use super::{Format, KeyFacts, ParseError};

/// Facts of a PEM private key block of `format`.
pub(super) fn inspect(_format: Format, _armor: &Armor) -> Result<KeyFacts, ParseError> {
    Err(ParseError::Invalid { context: "pem private key", detail: "not yet supported".to_owned() })
}
