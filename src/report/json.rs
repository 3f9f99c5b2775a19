//! The `keycheck.check/v1` JSON document of `keycheck check --format json`.
//!
//! Facts and findings only: no key material ever reaches this module, since
//! [`crate::key::KeyFacts`] holds none.

use std::io;

use serde::Serialize;

use super::export::ErrorEntry;
use super::Summary;
use crate::finding::Finding;
use crate::inventory::{AgentFacts, Audit, Found, Inventory, KeyRecord, Skipped};
use crate::rules::Evaluation;
use std::collections::BTreeMap;

/// The schema id of the check document.
pub const CHECK_SCHEMA: &str = "keycheck.check/v1";

#[derive(Serialize)]
struct CheckDocument<'a> {
    schema: &'static str,
    keys: &'a [KeyRecord],
    findings: &'a [Finding],
    waived: &'a [crate::rules::Waived],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    found: &'a BTreeMap<String, Found>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    passphrase_audit: &'a BTreeMap<String, Audit>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    agents: &'a [AgentFacts],
    errors: Vec<ErrorEntry>,
    skipped: &'a [Skipped],
    summary: Summary,
}

/// Writes the check document, pretty-printed, followed by a newline.
///
/// # Errors
/// Any error of `out`.
pub fn write_check(
    out: &mut dyn io::Write,
    inventory: &Inventory,
    evaluation: &Evaluation,
) -> io::Result<()> {
    let findings = &evaluation.findings;
    let errors = ErrorEntry::all_of(inventory);
    let doc = CheckDocument {
        schema: CHECK_SCHEMA,
        keys: &inventory.keys,
        findings,
        waived: &evaluation.waived,
        found: &inventory.found,
        passphrase_audit: &inventory.passphrase_audit,
        agents: &inventory.agents,
        errors,
        skipped: &inventory.skipped,
        summary: Summary {
            waived: evaluation.waived.len(),
            ..Summary::of(inventory, findings)
        },
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(|e| match e.io_error_kind() {
        // Keep the kind (a closed pipe must stay recognisable as one).
        Some(kind) => io::Error::from(kind),
        None => io::Error::other(e),
    })?;
    out.write_all(b"\n")
}
