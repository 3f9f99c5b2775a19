//! PURE: the cache window, enforced with keycheck's own clock.
//!
//! The agent protocol never says how long a key has been loaded, and OpenSSH restarts a
//! key's `-t` timer whenever it is added again. So keycheck remembers when it first saw
//! each identity in each agent instance, and a key is over the window once
//! `first_seen + window` has passed, however often it was re-added meanwhile. An agent
//! instance is its socket plus the agent process's pid and start time: an agent restarted
//! on the same socket path holds freshly unlocked keys and starts with a clean slate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version of [`CacheState`] as persisted.
pub const STATE_VERSION: u32 = 1;

/// One running agent, as the edges identified it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AgentInstance {
    /// The socket path.
    pub socket: String,
    /// The agent process's pid (0 when it could not be found).
    pub pid: u32,
    /// The process's start time (clock ticks since boot; 0 when unknown).
    pub start_time: u64,
}

/// What keycheck remembers between passes: when each identity was first seen, per agent
/// instance. Persisted in the state directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Per agent instance.
    pub agents: Vec<AgentRecord>,
}

/// The identities of one agent instance and when each was first seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// The agent instance.
    pub agent: AgentInstance,
    /// First-seen time (Unix seconds) by fingerprint.
    pub first_seen: BTreeMap<String, u64>,
}

/// What one pass concluded about one loaded identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The identity's fingerprint (`SHA256:…`).
    pub fingerprint: String,
    /// When keycheck first saw it in this agent instance (Unix seconds).
    pub first_seen: u64,
    /// When its window ends (Unix seconds).
    pub expires_at: u64,
    /// Returns true once the window has passed: the identity must be removed.
    pub expired: bool,
}

impl Verdict {
    /// Seconds left in the window (0 once expired).
    #[must_use]
    pub fn remaining(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }
}

impl CacheState {
    /// Records what `agent` holds now (`fingerprints`) and judges each against `window`
    /// seconds. Identities seen before keep their first-seen time; new ones start now;
    /// ones no longer loaded are forgotten (loading them again is a new unlock). A record
    /// for the same socket but another process (a restarted agent) is dropped.
    pub fn observe(
        &mut self,
        agent: &AgentInstance,
        fingerprints: &[&str],
        now: u64,
        window: u64,
    ) -> Vec<Verdict> {
        self.version = STATE_VERSION;
        self.agents
            .retain(|r| r.agent.socket != agent.socket || r.agent == *agent);
        let record = match self.agents.iter().position(|r| r.agent == *agent) {
            Some(i) => &mut self.agents[i],
            None => {
                self.agents.push(AgentRecord {
                    agent: agent.clone(),
                    first_seen: BTreeMap::new(),
                });
                let last = self.agents.len() - 1;
                &mut self.agents[last]
            }
        };
        record
            .first_seen
            .retain(|fp, _| fingerprints.contains(&fp.as_str()));
        let mut out = Vec::with_capacity(fingerprints.len());
        for fp in fingerprints {
            let entry = record.first_seen.entry((*fp).to_owned()).or_insert(now);
            // A clock that went backwards must not stretch a window: restart from now.
            if *entry > now {
                *entry = now;
            }
            let first = *entry;
            let expires_at = first.saturating_add(window);
            out.push(Verdict {
                fingerprint: (*fp).to_owned(),
                first_seen: first,
                expires_at,
                expired: now >= expires_at,
            });
        }
        out
    }

    /// Forgets an identity (after keycheck removed it from the agent).
    pub fn forget(&mut self, agent: &AgentInstance, fingerprint: &str) {
        for r in self.agents.iter_mut().filter(|r| r.agent == *agent) {
            r.first_seen.remove(fingerprint);
        }
    }

    /// Keeps only the records of `live` agents (after a pass over every socket).
    pub fn retain_agents(&mut self, live: &[AgentInstance]) {
        self.agents.retain(|r| live.contains(&r.agent));
    }

    /// The earliest end of a window among the identities tracked, for a timer.
    #[must_use]
    pub fn next_deadline(&self, window: u64) -> Option<u64> {
        self.agents
            .iter()
            .flat_map(|r| r.first_seen.values())
            .map(|t| t.saturating_add(window))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(pid: u32, start: u64) -> AgentInstance {
        AgentInstance {
            socket: "/run/user/1000/agent.sock".to_owned(),
            pid,
            start_time: start,
        }
    }

    #[test]
    fn the_clock_starts_at_first_sight_and_re_adding_does_not_reset_it() {
        let mut s = CacheState::default();
        let a = agent(10, 500);
        let v = s.observe(&a, &["SHA256:k1"], 1000, 7200);
        assert_eq!(v[0].first_seen, 1000);
        assert!(!v[0].expired);
        assert_eq!(v[0].remaining(1000), 7200);
        // Seen again later (the user ran ssh-add again meanwhile): same clock.
        let v = s.observe(&a, &["SHA256:k1", "SHA256:k2"], 5000, 7200);
        assert_eq!((v[0].first_seen, v[1].first_seen), (1000, 5000));
        let v = s.observe(&a, &["SHA256:k1", "SHA256:k2"], 8200, 7200);
        assert!(v[0].expired, "{v:?}");
        assert!(!v[1].expired);
        assert_eq!(s.next_deadline(7200), Some(8200));
    }

    #[test]
    fn a_key_removed_and_loaded_again_is_a_new_unlock() {
        let mut s = CacheState::default();
        let a = agent(10, 500);
        s.observe(&a, &["SHA256:k1"], 1000, 60);
        s.observe(&a, &[], 1100, 60);
        let v = s.observe(&a, &["SHA256:k1"], 1200, 60);
        assert_eq!(v[0].first_seen, 1200);
    }

    #[test]
    fn a_restarted_agent_on_the_same_socket_starts_fresh() {
        let mut s = CacheState::default();
        s.observe(&agent(10, 500), &["SHA256:k1"], 1000, 60);
        let v = s.observe(&agent(77, 900), &["SHA256:k1"], 5000, 60);
        assert_eq!(v[0].first_seen, 5000);
        assert!(!v[0].expired);
        assert_eq!(s.agents.len(), 1);
    }

    #[test]
    fn agents_not_seen_are_dropped_and_a_backwards_clock_is_harmless() {
        let mut s = CacheState::default();
        let a = agent(10, 500);
        s.observe(&a, &["SHA256:k1"], 1000, 60);
        let v = s.observe(&a, &["SHA256:k1"], 10, 60);
        assert_eq!(v[0].first_seen, 10);
        let v = s.observe(&a, &["SHA256:k1"], 70, 60);
        assert!(v[0].expired, "{v:?}");
        s.retain_agents(&[]);
        assert!(s.agents.is_empty());
        assert_eq!(s.next_deadline(60), None);
    }
}
