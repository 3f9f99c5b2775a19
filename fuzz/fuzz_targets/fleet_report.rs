//! What `keycheck fleet` reads: report JSON (`fleet::ReportView`, `fleet::entry_of`) as
//! one file and as an NDJSON stream (`sys::fleet_input::read_ndjson`, with envelopes
//! whose signatures go through the real SSHSIG verifier), then the summary and its four
//! renderings.
//!
//! Invariants: the counts add up; the JSON rendering parses; and merging is independent
//! of order (the reports merged one by one, or in reverse into two fleets then joined,
//! give the same summary).
#![no_main]

use std::sync::LazyLock;

use keycheck::fleet::{entry_of, render, Fleet, ReportView};
use keycheck::report::sshsig::{self, AllowedSigners};
use keycheck::sys::fleet_input::{read_ndjson, Counts, ReadOptions, SigCheck};
use libfuzzer_sys::fuzz_target;

/// 2026-11-01T00:00:00Z.
const NOW: i64 = 1_793_491_200;
/// 30 days.
const MAX_AGE: i64 = 30 * 86_400;

/// The committed fixture key may sign for host `fuzz-host`.
static SIGNERS: LazyLock<AllowedSigners> = LazyLock::new(|| {
    let key = include_str!("../../tests/fixtures/ssh/id_ed25519.pub");
    AllowedSigners::parse(&format!("fuzz-host {}", key.trim())).expect("the fixture key parses")
});

fn verify(data: &[u8], signature: Option<&str>, host_id: &str) -> SigCheck {
    match signature {
        Some(sig) => match sshsig::verify(data, sig, &SIGNERS, host_id) {
            Ok(_) => SigCheck::Verified,
            Err(e) => SigCheck::Refused(format!("signature refused: {e}")),
        },
        None => SigCheck::Accepted,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut fleet = Fleet::default();
    // The whole input as one report file.
    match serde_json::from_slice::<ReportView>(data) {
        Ok(report) => fleet.add(&report, "report.json"),
        Err(e) => fleet.reject("report.json", format!("not a keycheck report: {e}")),
    }
    // The input as a stream; a small size limit reaches the long-line path.
    let options = ReadOptions {
        max_report_size: 2048,
        threads: 1,
        signatures: true,
    };
    let mut counts = Counts::default();
    read_ndjson(
        data,
        "-",
        options,
        &verify,
        &mut fleet,
        &|_| {},
        &mut counts,
    )
    .expect("reading from memory never fails");
    let read = fleet.read;
    let lines = data.split(|&b| b == b'\n').count() as u64;
    assert!(read <= lines + 1, "{read} reports from {lines} lines");
    assert!(counts.verified + counts.unverified <= read);
    let summary = fleet.summary(NOW, MAX_AGE);
    assert_eq!(summary.reports_read, read);
    assert_eq!(
        summary.hosts + summary.reports_superseded + summary.reports_rejected,
        read
    );
    assert!(summary.compliant_hosts <= summary.hosts);
    assert_eq!(summary.per_host.len() as u64, summary.hosts);
    assert_eq!(summary.rejected.len() as u64, summary.reports_rejected);

    let mut out = Vec::new();
    render::json(&mut out, &summary).expect("json renders");
    serde_json::from_slice::<serde_json::Value>(&out).expect("the JSON rendering parses");
    out.clear();
    render::text(&mut out, &summary).expect("text renders");
    out.clear();
    render::csv(&mut out, &summary).expect("csv renders");
    out.clear();
    render::html(&mut out, &summary, "fuzz").expect("html renders");

    // Order independence, over the stream's reports that merge.
    let entries: Vec<_> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice::<ReportView>(line).ok())
        .filter_map(|report| entry_of(&report).ok())
        .collect();
    let mut forward = Fleet::default();
    for entry in entries.iter().cloned() {
        forward.merge(entry);
    }
    let (mut first, mut second) = (Fleet::default(), Fleet::default());
    for (i, entry) in entries.into_iter().rev().enumerate() {
        if i % 2 == 0 {
            first.merge(entry);
        } else {
            second.merge(entry);
        }
    }
    first.absorb(second);
    assert_eq!(
        forward.summary(NOW, MAX_AGE),
        first.summary(NOW, MAX_AGE),
        "the merge depends on order"
    );
});
