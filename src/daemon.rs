//! PURE: the decisions of keycheck's long-running work, apart from the clock, sockets and
//! files that feed them: which loaded keys have outlived the cache window ([`expiry`]).
//! Callers pass `now` and what the edges saw; nothing here sleeps, reads or writes.

pub mod expiry;
pub mod notice;
