//! PURE: the subset of the ssh-agent protocol keycheck speaks (draft-miller-ssh-agent).
//!
//! keycheck only lists and removes identities, so it needs three requests and four replies
//! (draft-miller-ssh-agent §3, §4.4, §4.5; OpenSSH `PROTOCOL.agent`):
//!
//! | request                               | reply                                 |
//! |---------------------------------------|---------------------------------------|
//! | `SSH_AGENTC_REQUEST_IDENTITIES` (11)  | `SSH_AGENT_IDENTITIES_ANSWER` (12)    |
//! | `SSH_AGENTC_REMOVE_IDENTITY` (18)     | `SSH_AGENT_SUCCESS` (6) / `FAILURE` (5) |
//! | `SSH_AGENTC_REMOVE_ALL_IDENTITIES` (19) | `SSH_AGENT_SUCCESS` (6) / `FAILURE` (5) |
//!
//! Every message travels in a frame: `uint32 length`, then `length` bytes whose first is
//! the message type. [`Request::encode`] writes whole frames; [`frame_length`] checks a
//! reply's length header against a limit before anything is read, and [`decode_identities`]
//! and [`decode_status`] read a reply's body (the bytes after the length).
//!
//! This module does no I/O: the socket belongs to `sys::ssh_agent`. Decoding never panics
//! and never allocates according to a count or length the agent sends: lengths are checked
//! against the bytes actually present, and the identity count against [`MAX_IDENTITIES`].
//!
//! Facts about each key (algorithm, bits, fingerprint) come from the same code that reads
//! key files (`key::blob`, and `key::inspect` for certificates), so they are exactly what
//! `ssh-add -l -E sha256` prints.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::key::blob::{self, Reader};
use crate::key::{CertFacts, Inspection, ParseError};

/// `SSH_AGENT_FAILURE`: the agent refused or did not understand a request.
pub const SSH_AGENT_FAILURE: u8 = 5;
/// `SSH_AGENT_SUCCESS`: the request was carried out.
pub const SSH_AGENT_SUCCESS: u8 = 6;
/// `SSH_AGENTC_REQUEST_IDENTITIES`: list the keys the agent holds.
pub const SSH_AGENTC_REQUEST_IDENTITIES: u8 = 11;
/// `SSH_AGENT_IDENTITIES_ANSWER`: the list of keys.
pub const SSH_AGENT_IDENTITIES_ANSWER: u8 = 12;
/// `SSH_AGENTC_REMOVE_IDENTITY`: remove one key, named by its public key blob.
pub const SSH_AGENTC_REMOVE_IDENTITY: u8 = 18;
/// `SSH_AGENTC_REMOVE_ALL_IDENTITIES`: remove every key.
pub const SSH_AGENTC_REMOVE_ALL_IDENTITIES: u8 = 19;
/// `SSH2_AGENT_FAILURE`: an old failure code OpenSSH's client still treats as failure
/// (`authfd.c` `agent_failed`).
pub const SSH2_AGENT_FAILURE: u8 = 30;
/// `SSH_COM_AGENT2_FAILURE`: ssh.com's agent's failure code, also treated as failure by
/// OpenSSH's client (`authfd.c` `agent_failed`).
pub const SSH_COM_AGENT2_FAILURE: u8 = 102;

/// The largest frame body keycheck sends or accepts, in bytes: OpenSSH's client limit
/// for replies (`authfd.c` `MAX_AGENT_REPLY_LEN`) and its agent's limit for requests
/// (`ssh-agent.c` `AGENT_MAX_LEN`), both 256 KiB.
pub const MAX_FRAME: u32 = 256 * 1024;

/// The most identities keycheck accepts in one answer: the limit of OpenSSH's own client
/// (`authfd.c` `MAX_AGENT_IDENTITIES`), so keycheck sees an agent exactly as `ssh-add -l`
/// does (which refuses longer lists).
pub const MAX_IDENTITIES: u32 = 2048;

/// The suffix of every OpenSSH certificate type name (PROTOCOL.certkeys).
const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

/// The smallest identity on the wire: an empty blob and an empty comment.
const MIN_IDENTITY_LEN: usize = 8;

/// A request keycheck sends to an agent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// `SSH_AGENTC_REQUEST_IDENTITIES`.
    RequestIdentities,
    /// `SSH_AGENTC_REMOVE_IDENTITY` of the key with this public key blob.
    RemoveIdentity {
        /// The key's public key blob, as the agent listed it.
        blob: &'a [u8],
    },
    /// `SSH_AGENTC_REMOVE_ALL_IDENTITIES`.
    RemoveAllIdentities,
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::RequestIdentities => f.write_str("RequestIdentities"),
            Request::RemoveIdentity { blob } => f
                .debug_struct("RemoveIdentity")
                .field("blob_len", &blob.len())
                .finish_non_exhaustive(),
            Request::RemoveAllIdentities => f.write_str("RemoveAllIdentities"),
        }
    }
}

impl Request<'_> {
    /// The message type byte.
    #[must_use]
    pub fn message_type(&self) -> u8 {
        match self {
            Request::RequestIdentities => SSH_AGENTC_REQUEST_IDENTITIES,
            Request::RemoveIdentity { .. } => SSH_AGENTC_REMOVE_IDENTITY,
            Request::RemoveAllIdentities => SSH_AGENTC_REMOVE_ALL_IDENTITIES,
        }
    }

    /// The whole frame: `uint32 length`, the type byte, and for a removal the key blob as
    /// a `string`.
    ///
    /// # Errors
    /// [`ProtocolError::FrameTooLarge`] when the frame body would exceed [`MAX_FRAME`]
    /// (the agent would drop the connection).
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut body = vec![self.message_type()];
        if let Request::RemoveIdentity { blob } = self {
            let too_large = ProtocolError::FrameTooLarge {
                length: u32::try_from(blob.len().saturating_add(5)).unwrap_or(u32::MAX),
                max: MAX_FRAME,
            };
            let Ok(len) = u32::try_from(blob.len()) else {
                return Err(too_large);
            };
            if len > MAX_FRAME - 5 {
                return Err(too_large);
            }
            body.extend_from_slice(&len.to_be_bytes());
            body.extend_from_slice(blob);
        }
        // The body is at most MAX_FRAME bytes, so its length fits.
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        let mut frame = Vec::with_capacity(4 + body.len());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&body);
        Ok(frame)
    }
}

/// One key an agent holds, as `SSH_AGENT_IDENTITIES_ANSWER` lists it.
///
/// `algorithm`, `bits` and `fingerprint` are what `ssh-add -l -E sha256` prints. For a
/// certificate, as in `ssh-add -l`, `bits` and `fingerprint` are those of the certified key
/// (the same as for the plain key, which the agent usually holds too), while `algorithm`
/// is the certificate type (`ssh-ed25519-cert-v01@openssh.com`, the first word of
/// `ssh-add -L`; `ssh-add -l` shows it as `ED25519-CERT`).
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// The public key (or certificate) blob: what [`Request::RemoveIdentity`] names.
    pub blob: Vec<u8>,
    /// The comment the agent keeps with the key, read lossily (invalid UTF-8 becomes
    /// U+FFFD).
    pub comment: String,
    /// The algorithm name at the head of the blob; `None` when it is not a printable name.
    pub algorithm: Option<String>,
    /// Key size as `ssh-add -l` prints it; `None` for algorithms keycheck does not know
    /// and for blobs it cannot read.
    pub bits: Option<u32>,
    /// `SHA256:...` exactly as `ssh-add -l -E sha256` prints it; `None` when the blob
    /// cannot be read as a key (ssh-add would not list it either).
    pub fingerprint: Option<String>,
    /// What the certificate says about itself, when the blob is a certificate keycheck
    /// can read.
    pub certificate: Option<CertFacts>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The blob is public, but long and useless in a log line: show its length only.
        f.debug_struct("Identity")
            .field("algorithm", &self.algorithm)
            .field("bits", &self.bits)
            .field("fingerprint", &self.fingerprint)
            .field("comment", &self.comment)
            .field("blob_len", &self.blob.len())
            .field("certificate", &self.certificate.is_some())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The key type `ssh-add -l` shows in parentheses (OpenSSH `sshkey_type`):
    /// `ED25519`, `RSA`, `ECDSA-CERT`, …; an algorithm OpenSSH would not name stays as
    /// it is written.
    #[must_use]
    pub fn ssh_add_type(&self) -> String {
        let algorithm = self.algorithm.as_deref().unwrap_or("?");
        let (plain, cert) = match algorithm.strip_suffix(CERT_SUFFIX) {
            Some(plain) => (plain, "-CERT"),
            None => (algorithm, ""),
        };
        let base = match plain {
            "ssh-ed25519" => "ED25519",
            "ssh-rsa" => "RSA",
            "ssh-dss" => "DSA",
            "sk-ssh-ed25519@openssh.com" => "ED25519-SK",
            "sk-ecdsa-sha2-nistp256@openssh.com" => "ECDSA-SK",
            p if p.starts_with("ecdsa-sha2-") => "ECDSA",
            other => other,
        };
        format!("{base}{cert}")
    }

    /// An identity from its blob and comment, with the facts the blob gives.
    ///
    /// Never fails: a blob keycheck cannot read keeps what could be read (`None` for the
    /// rest), so one odd key never hides the others.
    #[must_use]
    pub fn from_blob(blob: Vec<u8>, comment: String) -> Self {
        let algorithm = Reader::new(&blob).name("public key algorithm").ok();
        let (mut bits, mut fingerprint, mut certificate) = (None, None, None);
        match &algorithm {
            Some(name) if name.ends_with(CERT_SUFFIX) => {
                // A certificate: the crate's certificate reader (through a one-line public
                // key, the form `ssh-add -L` prints) gives the certified key's facts.
                let line = format!("{name} {}", STANDARD.encode(&blob));
                if let Inspection::Key(facts) = crate::key::inspect(line.as_bytes()) {
                    bits = facts.bits;
                    fingerprint = facts.fingerprint;
                    certificate = facts.certificate;
                }
            }
            Some(_) => {
                if let Ok(info) = blob::describe(&blob) {
                    bits = info.bits;
                    fingerprint = Some(info.fingerprint);
                }
            }
            None => {}
        }
        Identity {
            blob,
            comment,
            algorithm,
            bits,
            fingerprint,
            certificate,
        }
    }

    /// Returns true if and only if the blob is an OpenSSH certificate.
    #[must_use]
    pub fn is_certificate(&self) -> bool {
        self.algorithm
            .as_deref()
            .is_some_and(|a| a.ends_with(CERT_SUFFIX))
    }
}

/// A message from the agent that keycheck cannot use.
///
/// Messages are lowercase and never carry key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame announces (or would need) more bytes than the limit.
    #[error("agent message of {length} bytes is over the {max}-byte limit")]
    FrameTooLarge {
        /// The length announced.
        length: u32,
        /// The limit.
        max: u32,
    },
    /// A frame announces no bytes at all (not even a message type).
    #[error("empty agent message")]
    Empty,
    /// The reply is not one of the messages that answer the request.
    #[error("unexpected agent reply type {found} to {request}")]
    UnexpectedType {
        /// The request it answers (`request identities`, `remove identity`, ...).
        request: &'static str,
        /// The message type received.
        found: u8,
    },
    /// The agent answered `SSH_AGENT_FAILURE` where keycheck needs an answer.
    #[error("the agent refused to {request}")]
    AgentFailure {
        /// The request it refused.
        request: &'static str,
    },
    /// The message ends before a field it announces.
    #[error("agent reply truncated: {context}")]
    Truncated {
        /// Which field was cut off.
        context: &'static str,
    },
    /// The identities answer announces more keys than [`MAX_IDENTITIES`].
    #[error("agent lists {count} identities, more than the {max} keycheck (and ssh-add) accept")]
    TooManyIdentities {
        /// The count announced.
        count: u32,
        /// The limit.
        max: u32,
    },
    /// Bytes follow the last field of a message.
    #[error("{count} unexpected bytes after the agent's {context}")]
    TrailingBytes {
        /// Which message.
        context: &'static str,
        /// How many bytes are left over.
        count: usize,
    },
}

/// The body length a frame header announces, checked against `max` before anything is
/// read.
///
/// # Errors
/// [`ProtocolError::Empty`] for a zero length, [`ProtocolError::FrameTooLarge`] above `max`.
pub fn frame_length(header: [u8; 4], max: u32) -> Result<usize, ProtocolError> {
    let length = u32::from_be_bytes(header);
    if length == 0 {
        return Err(ProtocolError::Empty);
    }
    if length > max {
        return Err(ProtocolError::FrameTooLarge { length, max });
    }
    usize::try_from(length).map_err(|_| ProtocolError::FrameTooLarge { length, max })
}

/// Reads the body of the reply to [`Request::RequestIdentities`]:
///
/// ```text
/// byte    SSH_AGENT_IDENTITIES_ANSWER
/// uint32  nkeys
/// nkeys × (string key blob, string comment)
/// ```
///
/// # Errors
/// [`ProtocolError::AgentFailure`] when the agent answers failure; otherwise
/// [`ProtocolError`] for any other type, a count over [`MAX_IDENTITIES`], a truncated
/// list, or bytes after it. A comment that is not UTF-8 is never an error.
pub fn decode_identities(body: &[u8]) -> Result<Vec<Identity>, ProtocolError> {
    const REQUEST: &str = "list identities";
    let mut r = Reader::new(body);
    match r.u8("message type").map_err(truncated)? {
        SSH_AGENT_IDENTITIES_ANSWER => {}
        t if is_failure(t) => return Err(ProtocolError::AgentFailure { request: REQUEST }),
        found => {
            return Err(ProtocolError::UnexpectedType {
                request: REQUEST,
                found,
            })
        }
    }
    let count = r.u32("identity count").map_err(truncated)?;
    if count > MAX_IDENTITIES {
        return Err(ProtocolError::TooManyIdentities {
            count,
            max: MAX_IDENTITIES,
        });
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    // Each identity takes at least 8 bytes: a count the body cannot hold is a truncated
    // list, found before anything is allocated for it.
    if count > r.rest().len() / MIN_IDENTITY_LEN {
        return Err(ProtocolError::Truncated {
            context: "identity list shorter than its count",
        });
    }
    let mut identities = Vec::with_capacity(count);
    for _ in 0..count {
        let blob = r.string("identity key blob").map_err(truncated)?.to_vec();
        let comment = r.text("identity comment").map_err(truncated)?;
        identities.push(Identity::from_blob(blob, comment));
    }
    if !r.rest().is_empty() {
        return Err(ProtocolError::TrailingBytes {
            context: "identity list",
            count: r.rest().len(),
        });
    }
    Ok(identities)
}

/// Reads the body of the reply to [`Request::RemoveIdentity`] or
/// [`Request::RemoveAllIdentities`]: returns true for `SSH_AGENT_SUCCESS`, false for
/// `SSH_AGENT_FAILURE` (or one of the old failure codes OpenSSH's client accepts).
///
/// `request` names the request in errors (`remove identity`).
///
/// # Errors
/// [`ProtocolError`] for an empty body, any other message type, or bytes after the type.
pub fn decode_status(body: &[u8], request: &'static str) -> Result<bool, ProtocolError> {
    let mut r = Reader::new(body);
    let success = match r.u8("message type").map_err(truncated)? {
        SSH_AGENT_SUCCESS => true,
        t if is_failure(t) => false,
        found => return Err(ProtocolError::UnexpectedType { request, found }),
    };
    if !r.rest().is_empty() {
        return Err(ProtocolError::TrailingBytes {
            context: "status reply",
            count: r.rest().len(),
        });
    }
    Ok(success)
}

/// Returns true if and only if `message_type` is one OpenSSH's client reads as failure
/// (`authfd.c` `agent_failed`).
fn is_failure(message_type: u8) -> bool {
    matches!(
        message_type,
        SSH_AGENT_FAILURE | SSH2_AGENT_FAILURE | SSH_COM_AGENT2_FAILURE
    )
}

/// The reader only fails on truncation; anything else it reports is treated the same.
fn truncated(e: ParseError) -> ProtocolError {
    match e {
        ParseError::Truncated { context } | ParseError::Invalid { context, .. } => {
            ProtocolError::Truncated { context }
        }
        _ => ProtocolError::Truncated {
            context: "agent message",
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::key::blob::{ed25519_blob, rsa_blob, Writer};

    /// `tests/fixtures/ssh/id_ed25519-cert.pub`; `ssh-keygen -l -E sha256` prints
    /// `256 SHA256:gsKRd8irhGWJfdt0WLzt6SYZnLsy7kYKNKP7nAQaCP0 fixture-ed25519 (ED25519-CERT)`.
    const CERT_LINE: &str = include_str!("../../tests/fixtures/ssh/id_ed25519-cert.pub");
    /// `tests/fixtures/ssh/id_ed25519.pub`, the key that certificate certifies.
    const KEY_LINE: &str = include_str!("../../tests/fixtures/ssh/id_ed25519.pub");
    const FIXTURE_FP: &str = "SHA256:gsKRd8irhGWJfdt0WLzt6SYZnLsy7kYKNKP7nAQaCP0";

    fn blob_of(line: &str) -> Vec<u8> {
        STANDARD
            .decode(line.split_whitespace().nth(1).unwrap())
            .unwrap()
    }

    /// An identities answer body holding `entries`, with `count` announced.
    fn answer(count: u32, entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut body = vec![SSH_AGENT_IDENTITIES_ANSWER];
        body.extend_from_slice(&count.to_be_bytes());
        for (blob, comment) in entries {
            let w = Writer::new().string(blob).string(comment).finish();
            body.extend_from_slice(&w);
        }
        body
    }

    #[test]
    fn requests_are_framed() {
        assert_eq!(
            Request::RequestIdentities.encode().unwrap(),
            [0, 0, 0, 1, 11]
        );
        assert_eq!(
            Request::RemoveAllIdentities.encode().unwrap(),
            [0, 0, 0, 1, 19]
        );
        assert_eq!(
            Request::RemoveIdentity { blob: b"abc" }.encode().unwrap(),
            [0, 0, 0, 8, 18, 0, 0, 0, 3, b'a', b'b', b'c']
        );
    }

    #[test]
    fn a_removal_too_large_for_the_agent_is_refused() {
        let blob = vec![0u8; MAX_FRAME as usize - 5];
        let frame = Request::RemoveIdentity { blob: &blob }.encode().unwrap();
        assert_eq!(frame.len(), 4 + MAX_FRAME as usize);
        let blob = vec![0u8; MAX_FRAME as usize - 4];
        assert_eq!(
            Request::RemoveIdentity { blob: &blob }.encode(),
            Err(ProtocolError::FrameTooLarge {
                length: MAX_FRAME + 1,
                max: MAX_FRAME
            })
        );
    }

    #[test]
    fn request_debug_hides_the_blob() {
        let text = format!("{:?}", Request::RemoveIdentity { blob: b"secretish" });
        assert_eq!(text, "RemoveIdentity { blob_len: 9, .. }");
    }

    #[test]
    fn frame_length_is_checked_before_reading() {
        assert_eq!(frame_length([0, 0, 0, 5], MAX_FRAME), Ok(5));
        assert_eq!(
            frame_length([0, 0, 0, 0], MAX_FRAME),
            Err(ProtocolError::Empty)
        );
        assert_eq!(
            frame_length([0xff, 0xff, 0xff, 0xff], MAX_FRAME),
            Err(ProtocolError::FrameTooLarge {
                length: u32::MAX,
                max: MAX_FRAME
            })
        );
        assert_eq!(
            frame_length([0, 4, 0, 0], MAX_FRAME),
            Ok(MAX_FRAME as usize)
        );
        assert!(frame_length([0, 4, 0, 1], MAX_FRAME).is_err());
    }

    #[test]
    fn empty_list() {
        assert_eq!(decode_identities(&[12, 0, 0, 0, 0]), Ok(Vec::new()));
    }

    #[test]
    fn plain_keys_get_ssh_add_facts() {
        let ed = blob_of(KEY_LINE);
        let mut n = vec![0xc5u8];
        n.extend(std::iter::repeat_n(0x11, 383));
        let rsa = rsa_blob(&[1, 0, 1], &n);
        let list =
            decode_identities(&answer(2, &[(&ed, b"fixture-ed25519"), (&rsa, b"r")])).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].blob, ed);
        assert_eq!(list[0].comment, "fixture-ed25519");
        assert_eq!(list[0].algorithm.as_deref(), Some("ssh-ed25519"));
        assert_eq!(list[0].bits, Some(256));
        assert_eq!(list[0].fingerprint.as_deref(), Some(FIXTURE_FP));
        assert!(!list[0].is_certificate());
        assert!(list[0].certificate.is_none());
        assert_eq!(list[1].algorithm.as_deref(), Some("ssh-rsa"));
        assert_eq!(list[1].bits, Some(3072));
        assert_eq!(list[1].fingerprint, Some(blob::fingerprint(&rsa)));
    }

    #[test]
    fn certificates_show_the_certified_key_like_ssh_add() {
        let cert = blob_of(CERT_LINE);
        let list = decode_identities(&answer(1, &[(&cert, b"fixture-ed25519")])).unwrap();
        let id = &list[0];
        assert!(id.is_certificate());
        assert_eq!(
            id.algorithm.as_deref(),
            Some("ssh-ed25519-cert-v01@openssh.com")
        );
        assert_eq!(id.bits, Some(256));
        assert_eq!(id.fingerprint.as_deref(), Some(FIXTURE_FP));
        let facts = id.certificate.as_ref().unwrap();
        assert_eq!(facts.cert_type, "user");
    }

    #[test]
    fn odd_blobs_keep_what_can_be_read() {
        let unknown = Writer::new()
            .string(b"ssh-mldsa44@example.com")
            .string(&[7; 40])
            .finish();
        let cut = ed25519_blob(&[1; 32])[..20].to_vec();
        let bad_cert = Writer::new()
            .string(b"ssh-ed25519-cert-v01@openssh.com")
            .string(&[0; 32])
            .finish();
        let list = decode_identities(&answer(
            4,
            &[
                (&unknown, b"u"),
                (&cut, b"c"),
                (&bad_cert, b"b"),
                (&[0xff, 0, 1], b"g"),
            ],
        ))
        .unwrap();
        assert_eq!(
            list[0].algorithm.as_deref(),
            Some("ssh-mldsa44@example.com")
        );
        assert_eq!(list[0].bits, None);
        assert_eq!(list[0].fingerprint, Some(blob::fingerprint(&unknown)));
        assert_eq!(list[1].algorithm.as_deref(), Some("ssh-ed25519"));
        assert_eq!((list[1].bits, list[1].fingerprint.as_deref()), (None, None));
        assert!(list[2].is_certificate());
        assert_eq!((list[2].bits, list[2].fingerprint.as_deref()), (None, None));
        assert!(list[2].certificate.is_none());
        assert_eq!(list[3].algorithm, None);
        assert_eq!(list[3].fingerprint, None);
    }

    #[test]
    fn comments_are_read_lossily() {
        let ed = ed25519_blob(&[3; 32]);
        let list = decode_identities(&answer(1, &[(&ed, b"caf\xe9 \xff")])).unwrap();
        assert_eq!(list[0].comment, "caf\u{fffd} \u{fffd}");
        assert_eq!(list[0].bits, Some(256));
    }

    #[test]
    fn failure_and_wrong_types() {
        for failure in [5, 30, 102] {
            assert_eq!(
                decode_identities(&[failure]),
                Err(ProtocolError::AgentFailure {
                    request: "list identities"
                })
            );
        }
        assert_eq!(
            decode_identities(&[6]),
            Err(ProtocolError::UnexpectedType {
                request: "list identities",
                found: 6
            })
        );
        assert_eq!(
            decode_identities(&[]),
            Err(ProtocolError::Truncated {
                context: "message type"
            })
        );
    }

    #[test]
    fn huge_counts_are_refused_without_allocating() {
        let mut body = vec![12];
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            decode_identities(&body),
            Err(ProtocolError::TooManyIdentities {
                count: u32::MAX,
                max: MAX_IDENTITIES
            })
        );
        // Within the limit but more than the body can hold: found before allocating.
        let mut body = vec![12];
        body.extend_from_slice(&MAX_IDENTITIES.to_be_bytes());
        body.extend_from_slice(&[0; 15]);
        assert_eq!(
            decode_identities(&body),
            Err(ProtocolError::Truncated {
                context: "identity list shorter than its count"
            })
        );
    }

    #[test]
    fn truncated_lists_and_trailing_bytes() {
        let ed = ed25519_blob(&[3; 32]);
        let full = answer(1, &[(&ed, b"comment")]);
        for cut in 1..full.len() {
            assert!(decode_identities(&full[..cut]).is_err(), "cut at {cut}");
        }
        // A blob length pointing far past the end.
        let mut body = vec![12, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xf0];
        body.extend_from_slice(&[0; 8]);
        assert_eq!(
            decode_identities(&body),
            Err(ProtocolError::Truncated {
                context: "identity key blob"
            })
        );
        let mut extra = full.clone();
        extra.push(0);
        assert_eq!(
            decode_identities(&extra),
            Err(ProtocolError::TrailingBytes {
                context: "identity list",
                count: 1
            })
        );
        let short = answer(2, &[(&ed, b"comment")]);
        assert!(decode_identities(&short).is_err());
    }

    #[test]
    fn status_replies() {
        assert_eq!(decode_status(&[6], "remove identity"), Ok(true));
        assert_eq!(decode_status(&[5], "remove identity"), Ok(false));
        assert_eq!(decode_status(&[102], "remove identity"), Ok(false));
        assert_eq!(
            decode_status(&[12, 0, 0, 0, 0], "remove identity"),
            Err(ProtocolError::UnexpectedType {
                request: "remove identity",
                found: 12
            })
        );
        assert!(decode_status(&[], "remove identity").is_err());
        assert_eq!(
            decode_status(&[6, 0], "remove identity"),
            Err(ProtocolError::TrailingBytes {
                context: "status reply",
                count: 1
            })
        );
    }

    #[test]
    fn garbage_never_panics() {
        // A cheap deterministic byte soup (xorshift), plus every prefix of a valid answer
        // with each byte flipped.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| (state >> (i % 8 * 8)) as u8 ^ i as u8)
                .collect();
            let mut body = vec![12];
            body.extend_from_slice(&bytes);
            let _ = decode_identities(&body);
            let _ = decode_identities(&bytes);
            let _ = decode_status(&bytes, "remove identity");
        }
        let cert = blob_of(CERT_LINE);
        let full = answer(1, &[(&cert, b"c")]);
        for i in 0..full.len() {
            let mut flipped = full.clone();
            flipped[i] ^= 0xff;
            let _ = decode_identities(&flipped);
        }
    }

    #[test]
    fn ssh_add_types_read_like_ssh_add() {
        let id = |alg: &str| {
            let mut i = Identity::from_blob(Vec::new(), String::new());
            i.algorithm = Some(alg.to_owned());
            i.ssh_add_type()
        };
        assert_eq!(id("ssh-ed25519"), "ED25519");
        assert_eq!(id("ecdsa-sha2-nistp384"), "ECDSA");
        assert_eq!(id("ssh-rsa-cert-v01@openssh.com"), "RSA-CERT");
        assert_eq!(id("sk-ssh-ed25519@openssh.com"), "ED25519-SK");
        assert_eq!(id("x-new@example.org"), "x-new@example.org");
    }
}
