//! keycheck: find the SSH keys a person holds and judge them against an organisation's
//! policy.
//!
//! The core modules ([`key`], [`policy`], [`rules`], [`finding`], [`report`]) are pure:
//! bytes, plain values and a `now` in, values out. They never touch the filesystem, the
//! environment, sockets or the clock, and never print. The edges live in [`sys`];
//! the command line lives in the binary (`src/cli/`).

pub mod daemon;
pub mod finding;
pub mod fix;
pub mod fleet;
pub mod inventory;
pub mod key;
pub mod policy;
pub mod report;
pub mod rules;
pub mod sshagent;
pub mod sshconfig;
pub mod sys;
