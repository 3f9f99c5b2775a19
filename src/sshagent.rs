//! PURE: what keycheck knows about ssh-agents: the wire protocol it speaks with them
//! ([`protocol`]) and what kind of agent a process is and how long it keeps keys
//! ([`kind`]). The sockets and `/proc` are read by the edges in `sys`.

pub mod kind;
pub mod protocol;
