//! EDGE: the per-device Ed25519 key that signs this device's reports.
//!
//! The key is created on first use and kept in the OS secret store through the
//! `keyring-core` family: the Secret Service on Linux (gnome-keyring, KeePassXC, …, via
//! `zbus-secret-service-keyring-store`), the login Keychain on macOS
//! (`apple-native-keyring-store`; compiled there, not tested by this repository's CI).
//! Where no secret store answers within [`Options::store_timeout`], the key is a 0600
//! file in the state directory instead, and [`DeviceKey::store`] says so, so the report
//! can say which.
//!
//! What is stored is the OpenSSH private key text (unencrypted: unattended runs must be
//! able to sign), held in wiped-on-drop buffers and `ssh-key`'s zeroizing key types.
//! It is never printed, logged, or put in an error; the secret store's own copies
//! (D-Bus messages, its decrypted buffers) are beyond keycheck's reach.
//!
//! One device, one key. The state directory keeps a record (`device-key.json`: the store
//! and the public key, nothing secret) of where the key lives, and a lock file:
//! - the first run takes the lock, asks the secret store, creates the key there (or in
//!   the file), and writes the record; a second process waits for the lock and then
//!   finds that key, so two racing first runs never make two keys;
//! - later runs look only where the record says. If that store is unreachable, or the
//!   key there was deleted or replaced, they fail with an error saying so, rather than
//!   silently signing with a new key the fleet's `allowed_signers` does not list;
//! - a record that was lost is rebuilt from what the stores hold; a key in both the
//!   secret store and the file is an error.
//!
//! Every call into the secret store runs on a helper thread and is abandoned after the
//! timeout (a locked collection waiting on a prompt nobody sees, a bus that never
//! activates the service), so keycheck itself never hangs on it.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use keyring_core::{CredentialStore, Entry};
use serde::{Deserialize, Serialize};
use ssh_key::PublicKey;
use zeroize::Zeroizing;

use crate::report::sshsig::{KeyError, Principal, SigningKey, DEVICE_KEY_COMMENT};
use crate::sys::state::{self, StateError};

/// The secret store entry's service name.
pub const KEYRING_SERVICE: &str = "keycheck";
/// The secret store entry's account name.
pub const KEYRING_ACCOUNT: &str = "device-signing-key";
/// The private key file in the state directory, where no secret store answers.
pub const KEY_FILE: &str = "device-key";
/// The record of where the key lives (public data only).
pub const RECORD_FILE: &str = "device-key.json";
/// The lock that serialises creating and finding the key.
pub const LOCK_FILE: &str = "device-key.lock";
/// How long one call into the secret store may take by default.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(5);

const RECORD_SCHEMA: &str = "keycheck.device-key/v1";
/// The label the Secret Service shows (seahorse, KeePassXC).
#[cfg(target_os = "linux")]
const KEYRING_LABEL: &str = "keycheck device signing key (signs keycheck reports)";
/// A key file is a few hundred bytes; anything larger is not ours.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Where the device key is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Store {
    /// The freedesktop Secret Service (Linux).
    SecretService,
    /// The login Keychain (macOS).
    Keychain,
    /// A 0600 file, because no secret store answered when the key was created.
    File {
        /// The key file.
        path: PathBuf,
    },
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Store::SecretService => f.write_str("Secret Service"),
            Store::Keychain => f.write_str("macOS Keychain"),
            Store::File { path } => write!(f, "key file {}", path.display()),
        }
    }
}

/// The device key could not be found, created or used. Messages never contain key
/// material, and each says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceKeyError {
    /// There is no state directory (no `HOME`, no `KEYCHECK_STATE_DIR`).
    #[error("no state directory for the device key: set HOME or KEYCHECK_STATE_DIR")]
    NoStateDir,
    /// The state directory or the record could not be written or read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The key file or the lock file could not be used.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key file can be read by others.
    #[error("device key {path} is readable by others (mode {mode:o}): run `chmod 600 {path}`")]
    InsecureFile {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Another keycheck held the lock for longer than any store call may take.
    #[error("another keycheck held {path} for {waited_ms} ms while finding or creating the device key; try again")]
    Busy {
        /// The lock file.
        path: String,
        /// How long this process waited.
        waited_ms: u64,
    },
    /// The record is unreadable.
    #[error("device key record {path} is unreadable ({reason}): fix it, or delete it to let keycheck find the key again")]
    BadRecord {
        /// The record file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key lives in a secret store that does not answer.
    #[error("the device key is kept in the {store} (see {record}), which cannot be used now: {reason}; run keycheck in the login session, with the keyring unlocked")]
    StoreUnavailable {
        /// The store.
        store: String,
        /// The record file.
        record: String,
        /// What the store said, or that it did not answer in time.
        reason: String,
    },
    /// The record names a key that is no longer in its store.
    #[error("the device key recorded in {record} is no longer in the {store}: delete {record} to create a new key, then give the fleet its new signer line (`keycheck report --signer-line`)")]
    Missing {
        /// The store.
        store: String,
        /// The record file.
        record: String,
    },
    /// The store holds another key than the record names: it was replaced.
    #[error("the device key in the {store} is {found}, but {record} records {expected}: the key was replaced; delete {record} to accept the new key, then give the fleet its new signer line")]
    Mismatch {
        /// The store.
        store: String,
        /// The record file.
        record: String,
        /// The fingerprint the record names.
        expected: String,
        /// The fingerprint of the key found.
        found: String,
    },
    /// Both the secret store and the key file hold a device key, and they differ.
    #[error("two device keys: {in_store} in the {store} and {in_file} in {path}; keep the one the fleet's allowed_signers lists and remove the other")]
    TwoKeys {
        /// The secret store.
        store: String,
        /// Its key's fingerprint.
        in_store: String,
        /// The key file.
        path: String,
        /// Its key's fingerprint.
        in_file: String,
    },
    /// More than one item in the secret store has keycheck's service and account names.
    #[error("{count} items in the {store} are named {service}/{account}: remove all but one (seahorse, or `secret-tool clear service {service} username {account}` to start over)", service = KEYRING_SERVICE, account = KEYRING_ACCOUNT)]
    Ambiguous {
        /// The store.
        store: String,
        /// How many items.
        count: usize,
    },
    /// The stored secret is not an unencrypted OpenSSH Ed25519 key.
    #[error("the device key in the {store} is unusable: {reason}")]
    Corrupt {
        /// Where.
        store: String,
        /// Why (never the secret).
        reason: String,
    },
    /// Signing or encoding failed.
    #[error("device key: {0}")]
    Key(#[from] KeyError),
}

/// How [`DeviceKey::load_or_create`] looks for the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The state directory: the record, the lock, and the key file where no secret store
    /// answers.
    pub state_dir: PathBuf,
    /// Whether to use the OS secret store at all (false: the key file only; for tests
    /// that must not touch the desktop session's keyring).
    pub os_store: bool,
    /// How long one call into the secret store may take.
    pub store_timeout: Duration,
}

impl Options {
    /// The defaults for `state_dir`: the OS secret store, [`DEFAULT_STORE_TIMEOUT`].
    #[must_use]
    pub fn new(state_dir: PathBuf) -> Options {
        Options {
            state_dir,
            os_store: true,
            store_timeout: DEFAULT_STORE_TIMEOUT,
        }
    }

    /// The defaults for keycheck's state directory (`$KEYCHECK_STATE_DIR`, or the
    /// platform's).
    ///
    /// # Errors
    /// [`DeviceKeyError::NoStateDir`] when there is none.
    pub fn from_env() -> Result<Options, DeviceKeyError> {
        state::state_dir()
            .map(Options::new)
            .ok_or(DeviceKeyError::NoStateDir)
    }
}

/// This device's signing key, and where it is kept. `Debug` shows the store and the
/// fingerprint, never the key.
pub struct DeviceKey {
    key: SigningKey,
    store: Store,
    created: bool,
    why_file: Option<String>,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("store", &self.store)
            .field("fingerprint", &self.key.fingerprint())
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// Finds this device's key, creating it on first use (see the module docs for where
    /// and how).
    ///
    /// # Errors
    /// [`DeviceKeyError`]: the state directory is unusable, the store named by the
    /// record does not answer or lost the key, two keys exist, or another keycheck holds
    /// the lock for too long.
    pub fn load_or_create(options: &Options) -> Result<DeviceKey, DeviceKeyError> {
        let dir = &options.state_dir;
        state::ensure_dir(dir)?;
        // Longer than anything a holder does under the lock: two bounded store calls.
        let lock_wait = options.store_timeout * 2 + Duration::from_secs(5);
        let _lock = Lock::acquire(&dir.join(LOCK_FILE), lock_wait)?;
        match read_record(dir)? {
            Some(record) => load_recorded(options, &record),
            None => discover_or_create(options),
        }
    }

    /// Where the key is kept.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Returns true if and only if this call created the key.
    #[must_use]
    pub fn created(&self) -> bool {
        self.created
    }

    /// Why the key is in a file rather than the OS secret store (what the store said
    /// when the key was created), when it is.
    #[must_use]
    pub fn why_file(&self) -> Option<&str> {
        self.why_file.as_deref()
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The public key as `ssh-ed25519 AAAA...`.
    #[must_use]
    pub fn public_key_text(&self) -> String {
        self.key.public_key_text()
    }

    /// `SHA256:...`.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint()
    }

    /// The `allowed_signers` line for this device:
    /// `<principal> namespaces="keycheck-report" ssh-ed25519 AAAA...`. The principal is
    /// the host id, computed by the caller.
    #[must_use]
    pub fn signer_line(&self, principal: &Principal) -> String {
        self.key.signer_line(principal)
    }

    /// Signs `data` (SSHSIG, namespace `keycheck-report`, SHA-512) and returns the
    /// armored signature.
    ///
    /// # Errors
    /// [`DeviceKeyError::Key`] if signing fails.
    pub fn sign(&self, data: &[u8]) -> Result<String, DeviceKeyError> {
        Ok(self.key.sign(data)?)
    }
}

// ---------------------------------------------------------------------------------------
// The record
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RecordStore {
    SecretService,
    Keychain,
    File,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    schema: String,
    store: RecordStore,
    /// `ssh-ed25519 AAAA...`.
    public_key: String,
    /// Why the key is in a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    why_file: Option<String>,
}

fn read_record(dir: &Path) -> Result<Option<Record>, DeviceKeyError> {
    let Some(bytes) = state::read(dir, RECORD_FILE)? else {
        return Ok(None);
    };
    let bad = |reason: String| DeviceKeyError::BadRecord {
        path: dir.join(RECORD_FILE).display().to_string(),
        reason,
    };
    let record: Record = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if record.schema != RECORD_SCHEMA {
        return Err(bad(format!("schema {:?}", record.schema)));
    }
    Ok(Some(record))
}

fn write_record(
    dir: &Path,
    store: RecordStore,
    key: &SigningKey,
    why_file: Option<&str>,
) -> Result<(), DeviceKeyError> {
    let record = Record {
        schema: RECORD_SCHEMA.to_owned(),
        store,
        public_key: key.public_key_text(),
        why_file: why_file.map(str::to_owned),
    };
    let mut json = serde_json::to_vec_pretty(&record).map_err(|e| DeviceKeyError::BadRecord {
        path: dir.join(RECORD_FILE).display().to_string(),
        reason: e.to_string(),
    })?;
    json.push(b'\n');
    Ok(state::write_atomic(dir, RECORD_FILE, &json)?)
}

fn record_path(options: &Options) -> String {
    options.state_dir.join(RECORD_FILE).display().to_string()
}

// ---------------------------------------------------------------------------------------
// Finding and creating
// ---------------------------------------------------------------------------------------

/// Later runs: only where the record says.
fn load_recorded(options: &Options, record: &Record) -> Result<DeviceKey, DeviceKeyError> {
    let dir = &options.state_dir;
    let (key, store) = match record.store {
        RecordStore::File => {
            let path = dir.join(KEY_FILE);
            let key = read_key_file(&path)?.ok_or_else(|| DeviceKeyError::Missing {
                store: "key file".to_owned(),
                record: record_path(options),
            })?;
            (key, Store::File { path })
        }
        recorded => {
            let (kind, store) = os_store_kind().ok_or_else(|| DeviceKeyError::BadRecord {
                path: record_path(options),
                reason: "it names a secret store this platform does not have".to_owned(),
            })?;
            if kind != recorded {
                return Err(DeviceKeyError::BadRecord {
                    path: record_path(options),
                    reason: "it names another platform's secret store".to_owned(),
                });
            }
            let unavailable = |reason: String| DeviceKeyError::StoreUnavailable {
                store: store.to_string(),
                record: record_path(options),
                reason,
            };
            if !options.os_store {
                return Err(unavailable("the OS secret store is turned off".to_owned()));
            }
            let secret = match bounded(options.store_timeout, lookup) {
                None => return Err(unavailable(no_answer(options.store_timeout))),
                Some(Lookup::Found(secret)) => secret,
                Some(Lookup::Absent(_)) => {
                    return Err(DeviceKeyError::Missing {
                        store: store.to_string(),
                        record: record_path(options),
                    })
                }
                Some(Lookup::Ambiguous(count)) => {
                    return Err(DeviceKeyError::Ambiguous {
                        store: store.to_string(),
                        count,
                    })
                }
                Some(Lookup::Unavailable(reason)) => return Err(unavailable(reason)),
            };
            (parse_secret(&secret, &store)?, store)
        }
    };
    if key.public_key_text() != record.public_key {
        return Err(DeviceKeyError::Mismatch {
            store: store.to_string(),
            record: record_path(options),
            expected: fingerprint_of_text(&record.public_key),
            found: key.fingerprint(),
        });
    }
    Ok(DeviceKey {
        key,
        store,
        created: false,
        why_file: record.why_file.clone(),
    })
}

/// First run, or the record was lost: ask the secret store, look at the key file, and
/// create the key where it belongs if neither has one.
fn discover_or_create(options: &Options) -> Result<DeviceKey, DeviceKeyError> {
    let dir = &options.state_dir;
    let path = dir.join(KEY_FILE);
    let in_file = read_key_file(&path)?;
    let os = os_store_kind();
    let lookup = match os {
        None => Lookup::Unavailable("this platform has no supported secret store".to_owned()),
        Some(_) if !options.os_store => {
            Lookup::Unavailable("the OS secret store is turned off".to_owned())
        }
        Some(_) => bounded(options.store_timeout, lookup)
            .unwrap_or_else(|| Lookup::Unavailable(no_answer(options.store_timeout))),
    };
    let why_file = match (lookup, os) {
        (Lookup::Found(secret), Some((kind, store))) => {
            let key = parse_secret(&secret, &store)?;
            if let Some(file_key) = &in_file {
                if file_key.public_key_text() != key.public_key_text() {
                    return Err(DeviceKeyError::TwoKeys {
                        store: store.to_string(),
                        in_store: key.fingerprint(),
                        path: path.display().to_string(),
                        in_file: file_key.fingerprint(),
                    });
                }
            }
            write_record(dir, kind, &key, None)?;
            return Ok(DeviceKey {
                key,
                store,
                created: false,
                why_file: None,
            });
        }
        (Lookup::Ambiguous(count), Some((_, store))) => {
            return Err(DeviceKeyError::Ambiguous {
                store: store.to_string(),
                count,
            })
        }
        (Lookup::Absent(entry), Some((kind, store))) => {
            if in_file.is_some() {
                // A key made while the store was away: it stays the device key.
                "the key was made in the key file earlier, when no secret store answered".to_owned()
            } else {
                match create_in_store(options, entry, &store)? {
                    Ok((key, created)) => {
                        write_record(dir, kind, &key, None)?;
                        return Ok(DeviceKey {
                            key,
                            store,
                            created,
                            why_file: None,
                        });
                    }
                    Err(reason) => reason,
                }
            }
        }
        (Lookup::Unavailable(reason), _) => reason,
        // A lookup result with no store kind cannot happen: no store, no lookup.
        (_, None) => "this platform has no supported secret store".to_owned(),
    };
    let (key, created) = match in_file {
        Some(key) => (key, false),
        None => create_file(&path)?,
    };
    write_record(dir, RecordStore::File, &key, Some(&why_file))?;
    Ok(DeviceKey {
        key,
        store: Store::File { path },
        created,
        why_file: Some(why_file),
    })
}

/// Creates a key in the secret store and reads it back. The outer error is fatal; the
/// inner `Err` says why the store could not take it (then the key goes to the file).
/// The boolean is false when the store, read back, holds another process's key.
fn create_in_store(
    options: &Options,
    entry: Entry,
    store: &Store,
) -> Result<Result<(SigningKey, bool), String>, DeviceKeyError> {
    let key = new_key()?;
    let text = key.to_openssh()?;
    let stored = bounded(options.store_timeout, move || {
        entry
            .set_secret(text.as_bytes())
            .map_err(|e| describe(&e))?;
        entry
            .get_secret()
            .map(Zeroizing::new)
            .map_err(|e| describe(&e))
    });
    let secret = match stored {
        None => return Ok(Err(no_answer(options.store_timeout))),
        Some(Err(reason)) => return Ok(Err(reason)),
        Some(Ok(secret)) => secret,
    };
    let back = parse_secret(&secret, store)?;
    let ours = back.public_key_text() == key.public_key_text();
    Ok(Ok((back, ours)))
}

fn new_key() -> Result<SigningKey, KeyError> {
    SigningKey::generate(&mut ssh_key::rand_core::OsRng, DEVICE_KEY_COMMENT)
}

fn parse_secret(secret: &[u8], store: &Store) -> Result<SigningKey, DeviceKeyError> {
    SigningKey::from_openssh(secret).map_err(|e| DeviceKeyError::Corrupt {
        store: store.to_string(),
        reason: e.to_string(),
    })
}

fn fingerprint_of_text(public_key: &str) -> String {
    PublicKey::from_openssh(public_key).map_or_else(
        |_| format!("{public_key:?}"),
        |k| k.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
    )
}

fn no_answer(timeout: Duration) -> String {
    format!(
        "the secret store did not answer within {} ms",
        timeout.as_millis()
    )
}

// ---------------------------------------------------------------------------------------
// The key file
// ---------------------------------------------------------------------------------------

fn file_error(path: &Path, e: &std::io::Error) -> DeviceKeyError {
    DeviceKeyError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Reads the key file: `Ok(None)` when there is none.
fn read_key_file(path: &Path) -> Result<Option<SigningKey>, DeviceKeyError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(path, &e)),
    };
    let meta = file.metadata().map_err(|e| file_error(path, &e))?;
    if !meta.is_file() || meta.len() > MAX_KEY_FILE {
        return Err(DeviceKeyError::File {
            path: path.display().to_string(),
            reason: "not a regular file of a sane size".to_owned(),
        });
    }
    // ssh refuses a private key others can read ("UNPROTECTED PRIVATE KEY FILE"); so
    // does keycheck: the key may have leaked.
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(DeviceKeyError::InsecureFile {
            path: path.display().to_string(),
            mode,
        });
    }
    // Sized up front so the buffer never reallocates (and leaves no unwiped copy).
    let capacity = usize::try_from(meta.len()).unwrap_or(0) + 1;
    let mut text = Zeroizing::new(Vec::with_capacity(capacity));
    file.take(MAX_KEY_FILE)
        .read_to_end(&mut text)
        .map_err(|e| file_error(path, &e))?;
    let store = Store::File {
        path: path.to_path_buf(),
    };
    parse_secret(&text, &store).map(Some)
}

/// Creates the key file without ever replacing one: the key is written to a temporary
/// 0600 file, fsynced, then hard-linked to its name, which fails if the name exists.
/// Returns the key the file holds afterwards, and whether this call created it.
fn create_file(path: &Path) -> Result<(SigningKey, bool), DeviceKeyError> {
    let key = new_key()?;
    let text = key.to_openssh()?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{KEY_FILE}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(file_error(&tmp, &e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok((key, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let existing = read_key_file(path)?.ok_or_else(|| DeviceKeyError::File {
                path: path.display().to_string(),
                reason: "it vanished while being created".to_owned(),
            })?;
            Ok((existing, false))
        }
        Err(e) => Err(file_error(path, &e)),
    }
}

// ---------------------------------------------------------------------------------------
// The lock
// ---------------------------------------------------------------------------------------

/// An exclusive `flock` on the lock file, released when dropped (the file is closed).
struct Lock {
    _file: File,
}

impl Lock {
    fn acquire(path: &Path, wait: Duration) -> Result<Lock, DeviceKeyError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| file_error(path, &e))?;
        let started = Instant::now();
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                    if started.elapsed() >= wait {
                        return Err(DeviceKeyError::Busy {
                            path: path.display().to_string(),
                            waited_ms: u64::try_from(started.elapsed().as_millis())
                                .unwrap_or(u64::MAX),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(DeviceKeyError::File {
                        path: path.display().to_string(),
                        reason: format!("cannot lock: {e}"),
                    })
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The OS secret store
// ---------------------------------------------------------------------------------------

/// What the secret store said when asked for the key.
enum Lookup {
    /// The secret.
    Found(Zeroizing<Vec<u8>>),
    /// No such item; the entry can create it.
    Absent(Entry),
    /// More than one item matches.
    Ambiguous(usize),
    /// No store, a locked one, or an error.
    Unavailable(String),
}

/// This platform's secret store, if keycheck supports one.
fn os_store_kind() -> Option<(RecordStore, Store)> {
    if cfg!(target_os = "linux") {
        Some((RecordStore::SecretService, Store::SecretService))
    } else if cfg!(target_os = "macos") {
        Some((RecordStore::Keychain, Store::Keychain))
    } else {
        None
    }
}

#[cfg(target_os = "linux")]
fn open_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn open_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn open_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(keyring_core::Error::NotSupportedByStore(
        "no supported secret store on this platform".to_owned(),
    ))
}

fn build_entry(store: &CredentialStore) -> keyring_core::Result<Entry> {
    #[cfg(target_os = "linux")]
    let modifiers = Some(HashMap::from([("label", KEYRING_LABEL)]));
    #[cfg(not(target_os = "linux"))]
    let modifiers: Option<HashMap<&str, &str>> = None;
    store.build(KEYRING_SERVICE, KEYRING_ACCOUNT, modifiers.as_ref())
}

/// Asks the store for the key (on a helper thread: see [`bounded`]).
fn lookup() -> Lookup {
    let entry = match open_store().and_then(|s| build_entry(s.as_ref())) {
        Ok(entry) => entry,
        Err(e) => return Lookup::Unavailable(describe(&e)),
    };
    match entry.get_secret() {
        Ok(secret) => Lookup::Found(Zeroizing::new(secret)),
        Err(keyring_core::Error::NoEntry) => Lookup::Absent(entry),
        Err(keyring_core::Error::Ambiguous(items)) => Lookup::Ambiguous(items.len()),
        Err(e) => Lookup::Unavailable(describe(&e)),
    }
}

/// A keyring error as text that cannot contain the secret: the variants that carry the
/// stored bytes (`BadEncoding`, `BadDataFormat`) are named, never shown, and variants
/// added later get a generic text.
fn describe(e: &keyring_core::Error) -> String {
    use keyring_core::Error as E;
    match e {
        E::PlatformFailure(err) => format!("the secret store failed: {err}"),
        E::NoStorageAccess(err) => {
            format!("the secret store cannot be used (locked, or no default collection): {err}")
        }
        E::NoEntry => "no such item".to_owned(),
        E::BadEncoding(_) => "the stored secret is not text".to_owned(),
        E::BadDataFormat(..) => "the stored secret is malformed".to_owned(),
        E::Ambiguous(items) => format!("{} items match", items.len()),
        E::BadStoreFormat(_)
        | E::TooLong(..)
        | E::Invalid(..)
        | E::NoDefaultStore
        | E::NotSupportedByStore(_) => e.to_string(),
        _ => "the secret store returned an unexpected error".to_owned(),
    }
}

/// Runs `f` on a helper thread and waits at most `timeout` for it. `None` when it did not
/// finish in time: the thread is abandoned (it ends with the process, or when the store
/// finally answers, and its result is dropped and wiped).
fn bounded<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("keycheck-secret-store".to_owned())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .ok()?;
    rx.recv_timeout(timeout).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn file_only(dir: &Path) -> Options {
        Options {
            os_store: false,
            ..Options::new(dir.to_path_buf())
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_a_private_key_file_once_and_reuses_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let first = DeviceKey::load_or_create(&file_only(&dir)).unwrap();
        assert!(first.created());
        let path = dir.join(KEY_FILE);
        assert_eq!(first.store(), &Store::File { path: path.clone() });
        assert_eq!(first.why_file(), Some("the OS secret store is turned off"));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        let second = DeviceKey::load_or_create(&file_only(&dir)).unwrap();
        assert!(!second.created());
        assert_eq!(second.public_key_text(), first.public_key_text());
        assert_eq!(second.why_file(), first.why_file());
        let record = std::fs::read_to_string(dir.join(RECORD_FILE)).unwrap();
        assert!(record.contains(&first.public_key_text()), "{record}");
        assert!(!record.contains("PRIVATE"), "{record}");

        let sig = second.sign(b"report").unwrap();
        let line = second.signer_line(&Principal::new("host-x").unwrap());
        let allowed = crate::report::sshsig::AllowedSigners::parse(&line).unwrap();
        crate::report::sshsig::verify(b"report", &sig, &allowed, "host-x").unwrap();
    }

    #[test]
    fn a_lost_record_is_rebuilt_and_a_lost_key_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = DeviceKey::load_or_create(&file_only(dir)).unwrap();
        std::fs::remove_file(dir.join(RECORD_FILE)).unwrap();
        let again = DeviceKey::load_or_create(&file_only(dir)).unwrap();
        assert!(!again.created());
        assert_eq!(again.public_key_text(), first.public_key_text());

        std::fs::remove_file(dir.join(KEY_FILE)).unwrap();
        let err = DeviceKey::load_or_create(&file_only(dir)).unwrap_err();
        assert!(matches!(err, DeviceKeyError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("delete"), "{err}");
    }

    #[test]
    fn a_replaced_key_is_an_error_not_a_new_signer() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = DeviceKey::load_or_create(&file_only(dir)).unwrap();
        let path = dir.join(KEY_FILE);
        std::fs::remove_file(&path).unwrap();
        let (other, created) = create_file(&path).unwrap();
        assert!(created);
        assert_ne!(other.fingerprint(), first.fingerprint());
        let err = DeviceKey::load_or_create(&file_only(dir)).unwrap_err();
        match &err {
            DeviceKeyError::Mismatch { expected, .. } => assert_eq!(expected, &first.fingerprint()),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        DeviceKey::load_or_create(&file_only(dir)).unwrap();
        let path = dir.join(KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = DeviceKey::load_or_create(&file_only(dir)).unwrap_err();
        assert!(
            matches!(err, DeviceKeyError::InsecureFile { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_garbled_record_is_reported_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        DeviceKey::load_or_create(&file_only(dir)).unwrap();
        std::fs::write(dir.join(RECORD_FILE), "{").unwrap();
        let err = DeviceKey::load_or_create(&file_only(dir)).unwrap_err();
        assert!(matches!(err, DeviceKeyError::BadRecord { .. }), "{err}");
    }

    #[test]
    fn threads_racing_on_first_use_get_one_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let keys: Vec<(String, bool)> = (0..8)
            .map(|_| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    let k = DeviceKey::load_or_create(&file_only(&dir)).unwrap();
                    (k.public_key_text(), k.created())
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert!(keys.iter().all(|(k, _)| *k == keys[0].0), "{keys:?}");
        assert_eq!(keys.iter().filter(|(_, created)| *created).count(), 1);
    }

    #[test]
    fn debug_and_errors_never_show_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let k = DeviceKey::load_or_create(&file_only(tmp.path())).unwrap();
        let text = std::fs::read_to_string(tmp.path().join(KEY_FILE)).unwrap();
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        let debug = format!("{k:?}");
        assert!(debug.contains(&k.fingerprint()));
        assert!(!debug.contains(&body[..40]), "{debug}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }

    #[test]
    fn a_call_that_never_returns_is_abandoned_in_time() {
        let started = Instant::now();
        let (_keep, rx) = mpsc::channel::<()>();
        let out = bounded(Duration::from_millis(100), move || rx.recv().ok());
        assert!(out.is_none());
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(bounded(Duration::from_secs(5), || 7), Some(7));
    }
}
