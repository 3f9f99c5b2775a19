//! EDGES: everything that touches the world — the `~/.ssh` scan, the home search, the
//! policy files, the ssh client's effective configuration (`ssh -G`), the ssh-agent
//! socket and the cache pass, file watching, D-Bus session events, desktop notifications,
//! the state directory, `keycheck.db` for osquery (SQLite), the per-device report signing
//! key in the OS secret store, and the reports `keycheck fleet` reads.
//!
//! Edges return facts and never judge: deciding that mode 0644 is bad belongs in `rules`.

pub mod agent_process;
pub mod cache_pass;
pub mod db;
pub mod desktop;
pub mod device_key;
pub mod fix_files;
pub mod fleet_input;
pub mod gather;
pub mod hardening;
pub mod host;
pub mod passphrase_audit;
pub mod policy_files;
pub mod scan;
pub mod search;
pub mod session_events;
pub mod ssh_agent;
pub mod sshconfig;
pub mod state;
pub mod watch;
