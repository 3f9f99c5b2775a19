//! PURE: PuTTY private key files, versions 2 and 3.

use super::{KeyFacts, ParseError};

/// Facts of a `PuTTY-User-Key-File-N` text.
pub(super) fn inspect(_text: &str) -> Result<KeyFacts, ParseError> {
    Err(ParseError::Invalid { context: "putty key", detail: "not yet supported".to_owned() })
}
