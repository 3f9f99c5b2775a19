//! PURE: from the first bytes of a file, whether it could hold an SSH private key.
//!
//! A home search opens every file, so this must be cheap and must not miss a key that
//! `key::inspect` would read. It looks for the exact BEGIN lines of the private key
//! formats `key::inspect` knows, the PuTTY header and the SSH-1 magic; anything else
//! (Cosign's `ENCRYPTED COSIGN PRIVATE KEY`, PGP blocks, a source line that quotes a BEGIN
//! line) is not a candidate. No I/O here, and nothing is decided about SSH use: that is
//! `evidence`.

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// The SSH-1 private key magic (`AUTHFILE_ID_STRING` in OpenSSH's old authfile.c),
/// always at offset 0.
const SSH1_MAGIC: &[u8] = b"SSH PRIVATE KEY FILE FORMAT 1.1\n";

/// How a PuTTY key file starts (`PuTTY-User-Key-File-2:` or `-3:`).
const PUTTY: &[u8] = b"PuTTY-User-Key-File-";

/// Every private key BEGIN line `key::inspect` reads, and what it announces.
const BEGIN_LINES: &[(&[u8], Marker)] = &[
    (b"-----BEGIN OPENSSH PRIVATE KEY-----", Marker::Openssh),
    (b"-----BEGIN RSA PRIVATE KEY-----", Marker::Pem),
    (b"-----BEGIN DSA PRIVATE KEY-----", Marker::Pem),
    (b"-----BEGIN EC PRIVATE KEY-----", Marker::Pem),
    (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", Marker::Pem),
    (b"-----BEGIN PRIVATE KEY-----", Marker::Pem),
    (
        b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----",
        Marker::Sshcom,
    ),
];

/// Every BEGIN line above contains this.
static PRIVATE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"PRIVATE KEY"));

/// The kind of private key a head announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----`.
    Openssh,
    /// A PEM private key: `-----BEGIN (RSA |DSA |EC |ENCRYPTED |)PRIVATE KEY-----`.
    Pem,
    /// `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----` (ssh.com / Tectia).
    Sshcom,
    /// `PuTTY-User-Key-File-`.
    Putty,
    /// `SSH PRIVATE KEY FILE FORMAT 1.1`.
    Ssh1,
}

/// A file whose head announces a private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// What the head announces.
    pub marker: Marker,
    /// Byte offset of the line that announces it.
    pub offset: usize,
    /// True if and only if only a byte order mark and white space stand before that line,
    /// so the file is a key file rather than a text that contains or quotes one.
    pub at_start: bool,
}

/// Returns the private key the head of a file announces, if any.
///
/// `head` is the first bytes of the file, possibly cut in the middle of a line: a BEGIN
/// line cut short by the end of `head` still counts (reading the whole file settles it).
#[must_use]
pub fn classify(head: &[u8]) -> Option<Candidate> {
    if head.starts_with(SSH1_MAGIC) {
        return Some(Candidate {
            marker: Marker::Ssh1,
            offset: 0,
            at_start: true,
        });
    }
    let start = leading_blank(head);
    if head[start..].starts_with(PUTTY) {
        return Some(Candidate {
            marker: Marker::Putty,
            offset: start,
            at_start: true,
        });
    }
    for hit in PRIVATE_KEY.find_iter(head) {
        let line_start = memchr::memrchr(b'\n', &head[..hit]).map_or(0, |i| i + 1);
        let (line_end, cut) = match memchr::memchr(b'\n', &head[hit..]) {
            Some(i) => (hit + i, false),
            None => (head.len(), true),
        };
        let line = head[line_start..line_end].trim_ascii();
        let found = BEGIN_LINES.iter().find(|(begin, _)| {
            *begin == line || (cut && begin.len() > line.len() && begin.starts_with(line))
        });
        if let Some(&(_, marker)) = found {
            return Some(Candidate {
                marker,
                offset: line_start,
                at_start: line_start <= start,
            });
        }
    }
    None
}

/// The length of the byte order mark and white space that open `bytes`.
fn leading_blank(bytes: &[u8]) -> usize {
    let bom = if bytes.starts_with("\u{feff}".as_bytes()) {
        3
    } else {
        0
    };
    bom + bytes[bom..]
        .iter()
        .take_while(|b| b.is_ascii_whitespace())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(head: &[u8]) -> Option<Marker> {
        classify(head).map(|c| c.marker)
    }

    #[test]
    fn every_private_key_begin_line_is_a_candidate() {
        let cases: &[(&[u8], Marker)] = &[
            (
                b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE",
                Marker::Openssh,
            ),
            (b"-----BEGIN RSA PRIVATE KEY-----\nMIIE", Marker::Pem),
            (b"-----BEGIN DSA PRIVATE KEY-----\r\nMIIB", Marker::Pem),
            (b"-----BEGIN EC PRIVATE KEY-----\n", Marker::Pem),
            (b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n", Marker::Pem),
            (b"-----BEGIN PRIVATE KEY-----\n", Marker::Pem),
            (
                b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: x\n",
                Marker::Sshcom,
            ),
            (
                b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
                Marker::Putty,
            ),
            (
                b"SSH PRIVATE KEY FILE FORMAT 1.1\n\0\0\0\0\0\0\0\0",
                Marker::Ssh1,
            ),
        ];
        for (head, expected) in cases {
            let found = classify(head);
            assert_eq!(
                found.map(|c| c.marker),
                Some(*expected),
                "{}",
                String::from_utf8_lossy(head)
            );
            assert!(found.is_some_and(|c| c.at_start && c.offset == 0));
        }
    }

    #[test]
    fn other_blocks_and_quotes_are_not_candidates() {
        let heads: &[&[u8]] = &[
            b"",
            b"fn main() {}\n",
            b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\neyJrZGYiOnsibmFtZSI6InNjcnlwdCJ9\n",
            b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJr\n",
            b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n",
            b"-----BEGIN CERTIFICATE-----\nMIIB\n",
            b"-----BEGIN PUBLIC KEY-----\nMIIB\n",
            b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
            b"const KEY: &str = \"-----BEGIN RSA PRIVATE KEY-----\\nMIIE\";\n",
            b"if line == \"-----BEGIN OPENSSH PRIVATE KEY-----\" {\n",
            b"# PuTTY-User-Key-File-2 is the old format\n",
            b"x SSH PRIVATE KEY FILE FORMAT 1.1\n",
            b"\x00\x01\x02PRIVATE KEY\xff",
        ];
        for head in heads {
            assert_eq!(marker(head), None, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn text_before_the_begin_line_is_found_but_not_at_start() {
        let head = b"Bag Attributes\n    localKeyID: 01\n-----BEGIN PRIVATE KEY-----\nMIIE\n";
        let found = classify(head).expect("candidate");
        assert_eq!(found.marker, Marker::Pem);
        assert_eq!(&head[found.offset..found.offset + 11], b"-----BEGIN ");
        assert!(!found.at_start);

        let head = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\n";
        let found = classify(head).expect("candidate");
        assert_eq!(found.marker, Marker::Pem);
        assert!(!found.at_start);
    }

    #[test]
    fn leading_bom_and_blank_lines_are_still_at_start() {
        let head = "\u{feff}\n  \r\n-----BEGIN OPENSSH PRIVATE KEY-----\n".as_bytes();
        let found = classify(head).expect("candidate");
        assert_eq!(found.marker, Marker::Openssh);
        assert!(found.at_start);
        let head = "\u{feff}PuTTY-User-Key-File-2: ssh-rsa\n".as_bytes();
        assert!(classify(head).is_some_and(|c| c.marker == Marker::Putty && c.at_start));
    }

    #[test]
    fn a_begin_line_cut_by_the_end_of_the_head_counts() {
        assert_eq!(
            marker(b"\n\n-----BEGIN OPENSSH PRIVATE KEY--"),
            Some(Marker::Openssh)
        );
        assert_eq!(marker(b"-----BEGIN RSA PRIVATE KEY"), Some(Marker::Pem));
        // Cut, but already not a BEGIN line of ours.
        assert_eq!(marker(b"-----BEGIN FOO PRIVATE KEY"), None);
    }
}
