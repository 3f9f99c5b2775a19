//! EDGES: everything that touches the world — the `~/.ssh` scan, the home search, the
//! policy files, the ssh client's effective configuration (`ssh -G`), the ssh-agent
//! socket, and later notifications, the watcher, the keyring and SQLite.
//!
//! Edges return facts and never judge: deciding that mode 0644 is bad belongs in `rules`.

pub mod agent_process;
pub mod cache_pass;
pub mod desktop;
pub mod gather;
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
