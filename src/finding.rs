//! PURE: a finding is what the policy thinks of one key or file: a stable rule id, a
//! severity, the subject, a one-line message and the command that fixes it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::rules::Rule;

/// How much a finding matters.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth knowing; never changes the exit code.
    Info,
    /// Should be fixed; fails the check only with `--fail-on warn`.
    Warn,
    /// Violates the policy; fails the check.
    Fail,
}

impl Severity {
    /// The stable spelling (`fail`, `warn`, `info`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
        }
    }
}

/// One judgement of the policy about one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// The rule that produced it.
    pub rule: Rule,
    /// Its severity under the policy in force.
    pub severity: Severity,
    /// The file (or directory) it is about.
    pub path: String,
    /// The key's fingerprint, when known.
    pub fingerprint: Option<String>,
    /// One line saying what is wrong.
    pub message: String,
    /// The command (or step) that fixes it.
    pub fix: Option<String>,
}
