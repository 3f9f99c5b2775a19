//! PURE: a [`Report`] as one record per finding, for tools that read records rather than
//! documents: NDJSON for log shippers and SIEMs, CSV for spreadsheets.
//!
//! Each NDJSON line stands alone: it names the schema and the kind of record, the host,
//! the user and when the check ran, then the finding's own fields. After the findings
//! comes one `summary` line, so a clean host still says it was checked. A CSV row holds
//! the same fields as a finding line (`record`, `schema` and `uid` aside), under a header
//! row that is written even when there is no finding.

use std::io;

use serde::Serialize;

use super::{Report, REPORT_SCHEMA};
use crate::finding::{Finding, Severity};
use crate::report::Summary;
use crate::rules::Rule;

/// The CSV header, in column order.
pub const CSV_HEADER: [&str; 10] = [
    "generated_at",
    "host_id",
    "hostname",
    "user",
    "rule",
    "severity",
    "path",
    "fingerprint",
    "message",
    "fix",
];

/// Who and when, shared by every line of one report.
#[derive(Serialize)]
struct Origin<'a> {
    schema: &'static str,
    record: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    generated_at: time::OffsetDateTime,
    host_id: &'a str,
    hostname: &'a str,
    user: Option<&'a str>,
    uid: u32,
}

#[derive(Serialize)]
struct FindingLine<'a> {
    #[serde(flatten)]
    origin: Origin<'a>,
    rule: Rule,
    severity: Severity,
    path: &'a str,
    fingerprint: Option<&'a str>,
    message: &'a str,
    fix: Option<&'a str>,
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    #[serde(flatten)]
    origin: Origin<'a>,
    tool_version: &'a str,
    policy_digest: &'a str,
    #[serde(flatten)]
    summary: Summary,
}

fn origin<'a>(report: &'a Report, record: &'static str) -> Origin<'a> {
    Origin {
        schema: REPORT_SCHEMA,
        record,
        generated_at: report.generated_at,
        host_id: &report.host.id,
        hostname: &report.host.hostname,
        user: report.user.name.as_deref(),
        uid: report.user.uid,
    }
}

/// Writes one JSON line per finding in force (`"record": "finding"`), then one
/// `"record": "summary"` line with the report's counts.
///
/// # Errors
/// Any error of `out`.
pub fn write_ndjson(out: &mut dyn io::Write, report: &Report) -> io::Result<()> {
    for f in &report.findings {
        let line = FindingLine {
            origin: origin(report, "finding"),
            rule: f.rule,
            severity: f.severity,
            path: &f.path,
            fingerprint: f.fingerprint.as_deref(),
            message: &f.message,
            fix: f.fix.as_deref(),
        };
        write_line(out, &line)?;
    }
    let summary = SummaryLine {
        origin: origin(report, "summary"),
        tool_version: &report.tool.version,
        policy_digest: &report.policy.digest,
        summary: report.summary,
    };
    write_line(out, &summary)
}

fn write_line(out: &mut dyn io::Write, line: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, line).map_err(|e| match e.io_error_kind() {
        // Keep the kind (a closed pipe must stay recognisable as one).
        Some(kind) => io::Error::from(kind),
        None => io::Error::other(e),
    })?;
    out.write_all(b"\n")
}

/// Writes a header row and one row per finding in force, quoted as RFC 4180 says (a
/// field with a comma, a quote or a line break is quoted, quotes doubled; lines end in
/// CRLF). Absent values are empty fields.
///
/// # Errors
/// Any error of `out`.
pub fn write_csv(out: &mut dyn io::Write, report: &Report) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(CSV_HEADER).map_err(csv_error)?;
    let generated_at = report
        .generated_at
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(io::Error::other)?;
    for f in &report.findings {
        w.write_record(row(report, &generated_at, f))
            .map_err(csv_error)?;
    }
    w.flush()
}

fn row<'a>(report: &'a Report, generated_at: &'a str, f: &'a Finding) -> [&'a str; 10] {
    [
        generated_at,
        &report.host.id,
        &report.host.hostname,
        report.user.name.as_deref().unwrap_or_default(),
        f.rule.id(),
        f.severity.as_str(),
        &f.path,
        f.fingerprint.as_deref().unwrap_or_default(),
        &f.message,
        f.fix.as_deref().unwrap_or_default(),
    ]
}

/// A CSV writer's error as an `io::Error`, keeping the kind of an I/O failure.
fn csv_error(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::tests_support::report_with;
    use super::*;

    fn finding(path: &str, message: &str, fix: Option<&str>) -> Finding {
        Finding {
            rule: Rule::FilePermissions,
            severity: Severity::Fail,
            path: path.to_owned(),
            fingerprint: None,
            message: message.to_owned(),
            fix: fix.map(str::to_owned),
        }
    }

    #[test]
    fn ndjson_lines_stand_alone_and_end_with_the_summary() {
        let report = report_with(vec![
            finding("/h/.ssh/a", "open to others", Some("chmod 600 /h/.ssh/a")),
            finding("/h/.ssh/b\nc", "line\nbreak", None),
        ]);
        let mut out = Vec::new();
        write_ndjson(&mut out, &report).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        for line in &lines {
            assert_eq!(line["schema"], REPORT_SCHEMA);
            assert_eq!(line["host_id"], report.host.id);
            assert_eq!(line["generated_at"], "2026-05-01T12:00:00Z");
        }
        assert_eq!(lines[0]["record"], "finding");
        assert_eq!(lines[0]["rule"], "file-permissions");
        assert_eq!(lines[1]["path"], "/h/.ssh/b\nc");
        assert_eq!(lines[1]["fix"], serde_json::Value::Null);
        assert_eq!(lines[2]["record"], "summary");
        assert_eq!(lines[2]["fail"], report.summary.fail);
        assert_eq!(lines[2]["policy_digest"], report.policy.digest);
    }

    #[test]
    fn csv_quotes_as_rfc_4180_says_and_always_has_a_header() {
        let report = report_with(vec![finding(
            "/h/.ssh/a,\"b\"",
            "two\nlines",
            Some("chmod 600 x"),
        )]);
        let mut out = Vec::new();
        write_csv(&mut out, &report).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.split("\r\n");
        assert_eq!(lines.next().unwrap(), CSV_HEADER.join(","));
        assert!(
            text.contains(",\"/h/.ssh/a,\"\"b\"\"\",,\"two\nlines\",chmod 600 x\r\n"),
            "{text}"
        );
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][6], "/h/.ssh/a,\"b\"");
        assert_eq!(&rows[0][8], "two\nlines");

        let mut empty = Vec::new();
        write_csv(&mut empty, &report_with(Vec::new())).unwrap();
        assert_eq!(
            String::from_utf8(empty).unwrap(),
            format!("{}\r\n", CSV_HEADER.join(","))
        );
    }
}
