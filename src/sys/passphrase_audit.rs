//! EDGE: the opt-in common-passphrase audit (`keycheck check --try-common-passphrases`)
//! over many keys, with a time budget per key and the attempts spread over threads.
//!
//! It owns only the clock ([`Instant`]) and the threads ([`std::thread::scope`]); reading
//! key files stays with the caller and all the cryptography with the pure
//! [`crate::key::decrypt`]. Keys are audited one after the other; the attempts on one key
//! are shared by all threads, each taking the next passphrase of the list, so one key with
//! a costly KDF keeps every core busy and the budget is wall-clock time per key.
//!
//! What it reports is whether a passphrase from the list opens the key, and never which
//! one: no outcome, progress event, error or `Debug` output carries a passphrase or its
//! position in the list. A weak key's `tried` is therefore the length of the list, not the
//! number of attempts it took. Nothing here logs. (How long a weak key's audit took still
//! hints at the position, as attempts cost the same; callers should not record per-key
//! durations next to outcomes.)

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::key::decrypt::{self, DecryptError, Unlocker};

/// The most memory the attempts on one key may use together: a key whose KDF is memory-hard
/// (Argon2, scrypt) gets fewer threads rather than exhausting a many-core machine's memory.
pub const MEMORY_BUDGET_BYTES: u64 = 1024 * 1024 * 1024;

/// How long and how wide the audit runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditOptions {
    /// Wall-clock time allowed per key. An attempt that has started runs to its end, so
    /// a key may take up to one attempt longer.
    pub budget_per_key: Duration,
    /// Threads to spread the attempts over; `None` = [`std::thread::available_parallelism`].
    pub threads: Option<NonZeroUsize>,
}

impl Default for AuditOptions {
    /// 30 seconds per key: on 2 cores that is the whole built-in list against an OpenSSH
    /// key at the default 16 bcrypt rounds (see `bench/passphrase-audit.sh`).
    fn default() -> Self {
        AuditOptions {
            budget_per_key: Duration::from_secs(30),
            threads: None,
        }
    }
}

/// The result of auditing one key. Never says which passphrase matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditOutcome {
    /// A passphrase from the list opens the key.
    Weak {
        /// The length of the list the key was checked against (deliberately not the
        /// number of attempts before the hit, which would tell where in the list the
        /// passphrase is).
        tried: usize,
    },
    /// No passphrase from the list opens the key: every one was tried.
    NotFound {
        /// How many passphrases were tried (the whole list).
        tried: usize,
    },
    /// The budget ran out before the list did (or one attempt would cost more than the
    /// audit allows, with `tried` 0); the key may still be weak.
    OutOfTime {
        /// How many passphrases were tried, none of which opened the key.
        tried: usize,
        /// The length of the list.
        of: usize,
    },
    /// The key cannot be audited: not encrypted, a format or cipher the audit does not
    /// support, or not readable as a key. The text says which (never key bytes).
    Unsupported(String),
}

/// Where the audit is, for a live display. Reported per key only: attempt counts within
/// a key would hint at where a matching passphrase sits in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditProgress {
    /// The audit of key number `key` (0-based, in the order given) begins.
    Started {
        /// The key's index.
        key: usize,
        /// How many keys there are.
        keys: usize,
    },
    /// The audit of key number `key` is over.
    Finished {
        /// The key's index.
        key: usize,
        /// How many keys there are.
        keys: usize,
    },
}

/// Audits each key file's bytes against the built-in list
/// ([`decrypt::common_passphrases`], the empty passphrase first), in the order given.
///
/// Returns one outcome per key, in the same order. `progress`, when given, is called on
/// the calling thread as each key starts and finishes.
#[must_use]
pub fn audit<K: AsRef<[u8]> + Sync>(
    keys: &[K],
    options: &AuditOptions,
    progress: Option<&(dyn Fn(AuditProgress) + Sync)>,
) -> Vec<AuditOutcome> {
    let list: Vec<&str> = decrypt::common_passphrases().collect();
    audit_with_list(keys, &list, options, progress)
}

/// [`audit`] with a list of the caller's instead of the built-in one.
#[must_use]
pub fn audit_with_list<K: AsRef<[u8]> + Sync>(
    keys: &[K],
    passphrases: &[&str],
    options: &AuditOptions,
    progress: Option<&(dyn Fn(AuditProgress) + Sync)>,
) -> Vec<AuditOutcome> {
    let threads = options
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get);
    let report = |event| {
        if let Some(progress) = progress {
            progress(event);
        }
    };
    let count = keys.len();
    keys.iter()
        .enumerate()
        .map(|(key, bytes)| {
            report(AuditProgress::Started { key, keys: count });
            let outcome = match decrypt::prepare(bytes.as_ref()) {
                Ok(unlocker) => try_list(&unlocker, passphrases, options.budget_per_key, threads),
                Err(DecryptError::TooCostly { .. }) => AuditOutcome::OutOfTime {
                    tried: 0,
                    of: passphrases.len(),
                },
                Err(error) => AuditOutcome::Unsupported(error.to_string()),
            };
            report(AuditProgress::Finished { key, keys: count });
            outcome
        })
        .collect()
}

/// Tries `passphrases` against one key with up to `threads` threads (fewer when the KDF's
/// memory times the threads would exceed [`MEMORY_BUDGET_BYTES`]) until one opens it, the
/// list ends or `budget` has passed.
fn try_list(
    unlocker: &Unlocker,
    passphrases: &[&str],
    budget: Duration,
    threads: usize,
) -> AuditOutcome {
    let of = passphrases.len();
    // A budget too large for the clock is no budget.
    let deadline = Instant::now().checked_add(budget);
    let next = AtomicUsize::new(0);
    let tried = AtomicUsize::new(0);
    let found = AtomicBool::new(false);
    let work = || loop {
        if found.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let Some(passphrase) = passphrases.get(next.fetch_add(1, Ordering::Relaxed)) else {
            break;
        };
        if unlocker.try_passphrase(passphrase.as_bytes()) {
            found.store(true, Ordering::Relaxed);
        }
        tried.fetch_add(1, Ordering::Relaxed);
    };
    let helpers = thread_count(threads, unlocker.memory_per_attempt(), of) - 1;
    if helpers == 0 {
        work();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..helpers {
                scope.spawn(work);
            }
            work();
        });
    }
    let tried = tried.into_inner();
    if found.into_inner() {
        AuditOutcome::Weak { tried: of }
    } else if tried == of {
        AuditOutcome::NotFound { tried }
    } else {
        AuditOutcome::OutOfTime { tried, of }
    }
}

/// How many threads to run for one key: at most `threads`, at most one per passphrase,
/// at most as many as fit [`MEMORY_BUDGET_BYTES`] at `memory` bytes each, and at least one.
fn thread_count(threads: usize, memory: u64, passphrases: usize) -> usize {
    let by_memory = usize::try_from(MEMORY_BUDGET_BYTES / memory.max(1)).unwrap_or(usize::MAX);
    threads.min(by_memory).min(passphrases).max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// The committed fixture: OpenSSH, aes256-ctr, bcrypt 16, passphrase `keycheck-test`.
    const ED25519_ENC: &[u8] = include_bytes!("../../tests/fixtures/ssh/id_ed25519_enc");
    /// Legacy PEM, AES-128-CBC, passphrase `keycheck-test` (cheap attempts).
    const RSA_PEM_ENC: &[u8] = include_bytes!("../../tests/fixtures/ssh/id_rsa_pem_enc");

    fn options(threads: usize) -> AuditOptions {
        AuditOptions {
            budget_per_key: Duration::from_secs(600),
            threads: NonZeroUsize::new(threads),
        }
    }

    #[test]
    fn weak_reports_the_list_length_not_the_position() {
        let list = ["a", "b", "keycheck-test", "c", "d", "e"];
        for threads in [1, 2, 4] {
            let outcomes = audit_with_list(&[RSA_PEM_ENC], &list, &options(threads), None);
            assert_eq!(outcomes, vec![AuditOutcome::Weak { tried: 6 }], "{threads}");
        }
    }

    #[test]
    fn not_found_after_the_whole_list() {
        let list = ["", "a", "b", "c", "d"];
        let outcomes = audit_with_list(&[RSA_PEM_ENC], &list, &options(2), None);
        assert_eq!(outcomes, vec![AuditOutcome::NotFound { tried: 5 }]);
    }

    #[test]
    fn zero_budget_is_out_of_time() {
        let list = ["a", "keycheck-test"];
        let opts = AuditOptions {
            budget_per_key: Duration::ZERO,
            threads: NonZeroUsize::new(2),
        };
        let outcomes = audit_with_list(&[ED25519_ENC], &list, &opts, None);
        assert_eq!(outcomes, vec![AuditOutcome::OutOfTime { tried: 0, of: 2 }]);
    }

    #[test]
    fn unsupported_and_not_encrypted_keys_and_progress() {
        let plain: &[u8] = include_bytes!("../../tests/fixtures/ssh/id_ed25519");
        let keys: [&[u8]; 3] = [b"hello", plain, RSA_PEM_ENC];
        let events = Mutex::new(Vec::new());
        let record = |event| events.lock().unwrap().push(event);
        let outcomes = audit_with_list(&keys, &["x"], &options(2), Some(&record));
        assert_eq!(
            outcomes,
            vec![
                AuditOutcome::Unsupported("not a key: text without a key".to_owned()),
                AuditOutcome::Unsupported(
                    "openssh file is not encrypted: no passphrase to audit".to_owned()
                ),
                AuditOutcome::NotFound { tried: 1 },
            ]
        );
        let events = events.into_inner().unwrap();
        assert_eq!(events.len(), 6);
        assert_eq!(events[0], AuditProgress::Started { key: 0, keys: 3 });
        assert_eq!(events[5], AuditProgress::Finished { key: 2, keys: 3 });
    }

    #[test]
    fn too_costly_is_out_of_time_without_an_attempt() {
        let text = include_str!("../../tests/fixtures/ssh/id_ecdsa.ppk")
            .replace("Argon2-Memory: 8192", "Argon2-Memory: 4194304");
        let outcomes = audit_with_list(&[text.as_bytes()], &["a", "b"], &options(1), None);
        assert_eq!(outcomes, vec![AuditOutcome::OutOfTime { tried: 0, of: 2 }]);
    }

    #[test]
    fn threads_are_bounded_by_memory_and_list() {
        assert_eq!(thread_count(8, 0, 100), 8);
        assert_eq!(thread_count(8, 8 << 20, 100), 8);
        assert_eq!(thread_count(64, 64 << 20, 100), 16);
        assert_eq!(thread_count(8, 2 << 30, 100), 1);
        assert_eq!(thread_count(8, 0, 3), 3);
        assert_eq!(thread_count(8, 0, 0), 1);
        assert_eq!(thread_count(0, 0, 5), 1);
    }

    #[test]
    fn empty_list_and_no_keys() {
        assert_eq!(
            audit_with_list(&[RSA_PEM_ENC], &[], &options(2), None),
            vec![AuditOutcome::NotFound { tried: 0 }]
        );
        let none: [&[u8]; 0] = [];
        assert!(audit(&none, &AuditOptions::default(), None).is_empty());
    }
}
