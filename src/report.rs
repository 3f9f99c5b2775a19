//! PURE: an inventory and its findings rendered for people ([`human`]) and machines
//! ([`json`]), the report a fleet collects ([`export`]) and the SSHSIG signatures that
//! sign it ([`sshsig`]). Renderers write into any `io::Write`; they never choose where
//! output goes.

pub mod export;
pub mod human;
pub mod json;
pub mod sshsig;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Severity};
use crate::inventory::Inventory;
use crate::key::Kind;

/// Counts that sum up one check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Keys found (private, public and certificates).
    pub keys: usize,
    /// Private keys.
    pub private: usize,
    /// Public keys.
    pub public: usize,
    /// Certificates.
    pub certificates: usize,
    /// Failing findings.
    pub fail: usize,
    /// Warnings.
    pub warn: usize,
    /// Informational findings.
    pub info: usize,
    /// Files that could not be examined or read as keys.
    pub errors: usize,
    /// Files that are not keys.
    pub skipped: usize,
    /// Findings waived by policy exceptions.
    pub waived: usize,
}

impl Summary {
    /// Counts `inventory` and `findings`.
    #[must_use]
    pub fn of(inventory: &Inventory, findings: &[Finding]) -> Summary {
        let count_kind = |kind| {
            inventory
                .keys
                .iter()
                .filter(|k| k.facts.kind == kind)
                .count()
        };
        let count_severity = |s| findings.iter().filter(|f| f.severity == s).count();
        Summary {
            keys: inventory.keys.len(),
            private: count_kind(Kind::Private),
            public: count_kind(Kind::Public),
            certificates: count_kind(Kind::Certificate),
            fail: count_severity(Severity::Fail),
            warn: count_severity(Severity::Warn),
            info: count_severity(Severity::Info),
            errors: inventory.errors.len() + inventory.malformed.len(),
            skipped: inventory.skipped.len(),
            waived: 0,
        }
    }
}
