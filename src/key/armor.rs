//! PURE: tolerant text armour extraction (PEM `-----BEGIN X-----` and RFC 4716
//! `---- BEGIN X ----`).
//!
//! Real files differ from what their writers produce: CR LF line endings, a line of text
//! before the armour, the base64 body on one line. This module still finds the key and
//! records each difference as a [`Quirk`], so the facts stay exact and the report can say
//! whether OpenSSH would load the file as it is.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use zeroize::Zeroizing;

use super::{ParseError, Quirk};

/// Standard alphabet, padding optional (some writers drop it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Longest base64 line any writer we know produces (PEM 64, OpenSSH 70, RFC 4716 72).
const WRAPPED_LINE_MAX: usize = 76;

/// The dash style of an armour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `-----BEGIN X-----` (RFC 7468 / PEM, OpenSSH).
    Pem,
    /// `---- BEGIN X ----` (RFC 4716, ssh.com).
    Ssh2,
}

/// One armoured block, decoded.
pub struct Armor {
    /// The label between BEGIN and the dashes, e.g. `OPENSSH PRIVATE KEY`.
    pub label: String,
    /// Dash style.
    pub style: Style,
    /// `Name: value` headers before the body (PEM `Proc-Type`, RFC 4716 `Comment`), with
    /// continuation lines joined and surrounding quotes removed from values.
    pub headers: Vec<(String, String)>,
    /// The decoded body. May hold private key material, so it is wiped on drop.
    pub body: Zeroizing<Vec<u8>>,
    /// How the text differs from what the format's writer produces.
    pub quirks: Vec<Quirk>,
    /// The length of the longest body line (OpenSSL's legacy PEM decryption refuses
    /// lines over 64 characters).
    pub longest_line: usize,
}

impl std::fmt::Debug for Armor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Armor")
            .field("label", &self.label)
            .field("style", &self.style)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("quirks", &self.quirks)
            .field("longest_line", &self.longest_line)
            .finish_non_exhaustive()
    }
}

impl Armor {
    /// The value of header `name` (case-insensitive), if present.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A copy with `body` in place of this armour's body and no quirks, as a writer would
    /// wrap it (for tests that feed hand-made bodies to the format parsers).
    #[cfg(test)]
    pub(crate) fn with_body(&self, body: &[u8]) -> Armor {
        Armor {
            label: self.label.clone(),
            style: self.style,
            headers: self.headers.clone(),
            body: Zeroizing::new(body.to_vec()),
            quirks: Vec::new(),
            longest_line: 64,
        }
    }
}

/// Parses a BEGIN line, returning the label and style.
fn begin_label(line: &str) -> Option<(&str, Style)> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("-----BEGIN ") {
        return rest.strip_suffix("-----").map(|l| (l, Style::Pem));
    }
    if let Some(rest) = line.strip_prefix("---- BEGIN ") {
        return rest.strip_suffix(" ----").map(|l| (l, Style::Ssh2));
    }
    None
}

fn end_line(label: &str, style: Style) -> String {
    match style {
        Style::Pem => format!("-----END {label}-----"),
        Style::Ssh2 => format!("---- END {label} ----"),
    }
}

/// Finds the first armoured block in `text`.
///
/// Returns `None` when there is no BEGIN line at all, `Some(Err((label, error)))` when
/// there is one but the block is broken (no END line, bad base64).
#[must_use]
pub fn find(text: &str) -> Option<Result<Armor, (String, ParseError)>> {
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let mut before = false;
    let (label, style) = loop {
        let line = lines.next()?;
        if let Some(found) = begin_label(line) {
            break found;
        }
        if !line.trim().is_empty() {
            before = true;
        }
    };
    let end = end_line(label, style);
    let mut quirks = Vec::new();
    if text.contains("\r\n") {
        quirks.push(Quirk::CrlfLineEndings);
    }
    if before {
        quirks.push(Quirk::TextBeforeArmor);
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut body_text = Zeroizing::new(String::new());
    let mut in_headers = true;
    let mut continuing = false;
    let mut closed = false;
    let mut longest_line = 0;
    for line in lines.by_ref() {
        let trimmed = line.trim();
        if trimmed == end {
            closed = true;
            break;
        }
        if in_headers {
            if continuing {
                continuing = trimmed.ends_with('\\');
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(trimmed.trim_end_matches('\\'));
                }
                continue;
            }
            if let Some((name, value)) = header(trimmed) {
                continuing = value.ends_with('\\');
                headers.push((name.to_owned(), value.trim_end_matches('\\').to_owned()));
                continue;
            }
            in_headers = false;
        }
        longest_line = longest_line.max(trimmed.len());
        body_text.push_str(trimmed);
    }
    if !closed {
        return Some(Err((label.to_owned(), ParseError::MissingEnd { end })));
    }
    if lines.any(|l| !l.trim().is_empty()) {
        quirks.push(Quirk::TextAfterArmor);
    }
    if longest_line > WRAPPED_LINE_MAX {
        quirks.push(Quirk::UnwrappedBase64);
    }
    for (_, value) in &mut headers {
        if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
            *value = value[1..value.len() - 1].to_owned();
        }
    }
    let compact: Zeroizing<String> =
        Zeroizing::new(body_text.chars().filter(|c| !c.is_whitespace()).collect());
    let body = match BASE64.decode(compact.as_bytes()) {
        Ok(body) => Zeroizing::new(body),
        Err(_) => {
            return Some(Err((
                label.to_owned(),
                ParseError::Base64 {
                    context: "armored body",
                },
            )))
        }
    };
    Some(Ok(Armor {
        label: label.to_owned(),
        style,
        headers,
        body,
        quirks,
        longest_line,
    }))
}

/// Splits a `Name: value` header line. Header names are tokens without spaces, which
/// base64 lines never contain a colon to resemble.
fn header(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some((name, value.trim()))
}

/// Decodes standalone base64 (for one-line public keys and PuTTY bodies).
///
/// # Errors
/// [`ParseError::Base64`] naming `context` when the text is not base64.
pub fn decode_base64(text: &str, context: &'static str) -> Result<Zeroizing<Vec<u8>>, ParseError> {
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
    BASE64
        .decode(compact.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| ParseError::Base64 { context })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_block_with_headers_and_quirks() {
        let text = "hello\r\n-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,00\r\n\r\naGVs\r\nbG8=\r\n-----END RSA PRIVATE KEY-----\r\n";
        let armor = find(text).expect("block").expect("parses");
        assert_eq!(armor.label, "RSA PRIVATE KEY");
        assert_eq!(armor.header("proc-type"), Some("4,ENCRYPTED"));
        assert_eq!(armor.header("DEK-Info"), Some("AES-128-CBC,00"));
        assert_eq!(armor.body.as_slice(), b"hello");
        assert_eq!(
            armor.quirks,
            vec![Quirk::CrlfLineEndings, Quirk::TextBeforeArmor]
        );
    }

    #[test]
    fn rfc4716_continuation_and_quotes() {
        let text = "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"a long \\\ncomment\"\naGVsbG8=\n---- END SSH2 PUBLIC KEY ----\n";
        let armor = find(text).expect("block").expect("parses");
        assert_eq!(armor.style, Style::Ssh2);
        assert_eq!(armor.header("Comment"), Some("a long comment"));
        assert_eq!(armor.body.as_slice(), b"hello");
        assert!(armor.quirks.is_empty());
    }

    #[test]
    fn missing_end_and_bad_base64() {
        let missing = find("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n").expect("block");
        assert!(matches!(missing, Err((_, ParseError::MissingEnd { .. }))));
        let bad = find("-----BEGIN EC PRIVATE KEY-----\n!!!!\n-----END EC PRIVATE KEY-----\n")
            .expect("block");
        assert!(matches!(bad, Err((_, ParseError::Base64 { .. }))));
        assert!(find("no armour here").is_none());
    }

    #[test]
    fn long_line_is_a_quirk() {
        let body = "QUFB".repeat(40);
        let text =
            format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\ntrailer\n");
        let armor = find(&text).expect("block").expect("parses");
        assert_eq!(
            armor.quirks,
            vec![Quirk::TextAfterArmor, Quirk::UnwrappedBase64]
        );
        assert_eq!(armor.body.len(), 120);
    }
}
