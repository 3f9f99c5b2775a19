//! EDGES: everything that touches the world — the filesystem scan, and later the
//! ssh-agent socket, notifications, the watcher, the keyring and SQLite.
//!
//! Edges return facts and never judge: deciding that mode 0644 is bad belongs in `rules`.

pub mod passphrase_audit;
pub mod scan;
