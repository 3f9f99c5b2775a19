//! PURE: the fleet summary for people (text, a static HTML page) and machines (JSON,
//! CSV). Every value from a report is untrusted: the HTML escapes each one, the CSV
//! quotes per RFC 4180 and defuses cells a spreadsheet would run as a formula.

use std::fmt::Write as _;
use std::io;

use super::Summary;

/// Plain text: the overall figure, rules, keys, the worst hosts, stale hosts, rejects.
///
/// # Errors
/// Any error of `out`.
pub fn text(out: &mut dyn io::Write, s: &Summary) -> io::Result<()> {
    writeln!(
        out,
        "fleet: {} of {} host/user pairs compliant ({}); {} reports read, {} superseded, {} rejected",
        s.compliant_hosts,
        s.hosts,
        percent(s.compliant_hosts, s.hosts),
        s.reports_read,
        s.reports_superseded,
        s.reports_rejected
    )?;
    if !s.rules.is_empty() {
        writeln!(out, "\nper rule (hosts affected, findings):")?;
        let mut rules: Vec<_> = s.rules.iter().collect();
        rules.sort_by(|a, b| b.1.hosts.cmp(&a.1.hosts).then(a.0.cmp(b.0)));
        for (rule, line) in rules {
            writeln!(out, "  {rule:<28} {:>8} {:>9}", line.hosts, line.findings)?;
        }
    }
    if !s.keys.is_empty() {
        writeln!(out, "\nprivate keys per algorithm and size:")?;
        for (label, n) in &s.keys {
            writeln!(out, "  {label:<36} {n:>8}")?;
        }
    }
    let failing: Vec<_> = s.per_host.iter().filter(|h| h.fail + h.warn > 0).collect();
    if !failing.is_empty() {
        writeln!(out, "\nhosts, worst first (fail, warn):")?;
        for h in failing.iter().take(50) {
            writeln!(
                out,
                "  {:<32} {:<12} {:>4} {:>4}",
                clean(&h.hostname),
                clean(&h.user),
                h.fail,
                h.warn
            )?;
        }
        if failing.len() > 50 {
            writeln!(
                out,
                "  ... and {} more (CSV or JSON list them all)",
                failing.len() - 50
            )?;
        }
    }
    if !s.stale.is_empty() {
        writeln!(out, "\nstale (no recent report): {}", s.stale.len())?;
        for st in s.stale.iter().take(50) {
            writeln!(
                out,
                "  {:<32} {:<12} {} days",
                clean(&st.hostname),
                clean(&st.user),
                st.age_seconds / 86400
            )?;
        }
    }
    if !s.rejected.is_empty() {
        writeln!(out, "\nrejected reports: {}", s.rejected.len())?;
        for r in s.rejected.iter().take(50) {
            writeln!(out, "  {}: {}", clean(&r.source), clean(&r.reason))?;
        }
    }
    Ok(())
}

/// One row per host and user, worst first.
///
/// # Errors
/// Any error of `out`.
pub fn csv(out: &mut dyn io::Write, s: &Summary) -> io::Result<()> {
    writeln!(out, "host_id,hostname,os,user,generated_at,fail,warn,rules")?;
    for h in &s.per_host {
        let at = time::OffsetDateTime::from_unix_timestamp(h.generated_at)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let rules: Vec<String> = h.rules.iter().map(|(r, n)| format!("{r}={n}")).collect();
        writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            cell(&h.host_id),
            cell(&h.hostname),
            cell(&h.os),
            cell(&h.user),
            at,
            h.fail,
            h.warn,
            cell(&rules.join(";"))
        )?;
    }
    Ok(())
}

/// The summary as one JSON document.
///
/// # Errors
/// Any error of `out`.
pub fn json(out: &mut dyn io::Write, s: &Summary) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, s).map_err(io::Error::other)?;
    writeln!(out)
}

/// A self-contained HTML page: inline CSS, no script, no network; a bar per rule
/// showing the share of hosts it affects.
///
/// # Errors
/// Any error of `out`.
pub fn html(out: &mut dyn io::Write, s: &Summary, title: &str) -> io::Result<()> {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        esc(title),
        esc(title)
    );
    let _ = writeln!(
        page,
        "<p class=\"big\">{} of {} host/user pairs compliant <b>{}</b></p>\
         <p>{} reports read, {} superseded by newer ones, {} rejected, {} stale.</p>",
        s.compliant_hosts,
        s.hosts,
        percent(s.compliant_hosts, s.hosts),
        s.reports_read,
        s.reports_superseded,
        s.reports_rejected,
        s.stale.len()
    );
    page.push_str("<h2>Compliance by rule</h2>\n<table class=\"bars\">\n");
    let mut rules: Vec<_> = s.rules.iter().collect();
    rules.sort_by(|a, b| b.1.hosts.cmp(&a.1.hosts).then(a.0.cmp(b.0)));
    for (rule, line) in rules {
        let affected = if s.hosts == 0 {
            0.0
        } else {
            line.hosts as f64 * 100.0 / s.hosts as f64
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"bar\"><span style=\"width:{affected:.1}%\"></span></td>\
             <td>{} hosts ({affected:.1}%)</td><td>{} findings</td></tr>",
            esc(rule),
            line.hosts,
            line.findings
        );
    }
    page.push_str("</table>\n<h2>Private keys by algorithm and size</h2>\n<table>\n");
    for (label, n) in &s.keys {
        let _ = writeln!(page, "<tr><td>{}</td><td>{n}</td></tr>", esc(label));
    }
    page.push_str(
        "</table>\n<h2>Hosts, worst first</h2>\n<table>\n\
         <tr><th>host</th><th>user</th><th>OS</th><th>fail</th><th>warn</th><th>rules</th></tr>\n",
    );
    for h in &s.per_host {
        let rules: Vec<String> = h.rules.iter().map(|(r, n)| format!("{r} ×{n}")).collect();
        let _ = writeln!(
            page,
            "<tr class=\"{}\"><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if h.fail > 0 { "fail" } else { "ok" },
            esc(&h.host_id),
            esc(&h.hostname),
            esc(&h.user),
            esc(&h.os),
            h.fail,
            h.warn,
            esc(&rules.join(", "))
        );
    }
    page.push_str("</table>\n");
    if !s.stale.is_empty() {
        page.push_str("<h2>Stale hosts</h2>\n<table>\n");
        for st in &s.stale {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{} days</td></tr>",
                esc(&st.hostname),
                esc(&st.user),
                st.age_seconds / 86400
            );
        }
        page.push_str("</table>\n");
    }
    if !s.rejected.is_empty() {
        page.push_str("<h2>Rejected reports</h2>\n<table>\n");
        for r in &s.rejected {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&r.source),
                esc(&r.reason)
            );
        }
        page.push_str("</table>\n");
    }
    page.push_str("</body></html>\n");
    out.write_all(page.as_bytes())
}

const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin-bottom:1.5em}td,th{padding:.2em .6em;text-align:left;border-bottom:1px solid #ddd}\
.big{font-size:1.4em}.bars td.bar{width:20em}.bar span{display:block;height:1em;background:#c0392b}\
tr.fail td:first-child{border-left:4px solid #c0392b}tr.ok td:first-child{border-left:4px solid #27ae60}";

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// HTML-escapes text for element content and quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A CSV cell: quoted when needed, and prefixed with `'` when a spreadsheet would read
/// it as a formula.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Text for a terminal: control characters replaced, so a hostname cannot move the
/// cursor or change colours.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::{Fleet, ReportView};
    use super::*;

    /// Test reports borrow from text that lives as long as the test binary.
    fn leaked(v: serde_json::Value) -> ReportView<'static> {
        serde_json::from_str(Box::leak(v.to_string().into_boxed_str())).unwrap()
    }

    fn summary_with_host(hostname: &str) -> Summary {
        let r: ReportView<'static> = leaked(serde_json::json!({
            "schema": super::super::REPORT_SCHEMA,
            "host": {"id": "h", "hostname": hostname, "os": "x"},
            "user": {"name": "=cmd|' /C calc'!A0"},
            "generated_at": "2026-11-20T00:00:00Z",
            "findings": [{"rule": "passphrase-missing", "severity": "fail"}]
        }));
        let mut fleet = Fleet::default();
        fleet.add(&r, "src\u{1b}[31m");
        fleet.summary(0, i64::MAX)
    }

    #[test]
    fn html_shows_hostile_values_as_text() {
        let s = summary_with_host("<script>alert(1)</script>");
        let mut out = Vec::new();
        html(&mut out, &s, "Fleet <b>").unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("<title>Fleet &lt;b&gt;</title>"));
    }

    #[test]
    fn csv_quotes_and_defuses_formulas_and_text_drops_control_characters() {
        let s = summary_with_host("a,b\"c");
        let mut out = Vec::new();
        csv(&mut out, &s).unwrap();
        let text_csv = String::from_utf8(out).unwrap();
        assert!(text_csv.contains("\"a,b\"\"c\""), "{text_csv}");
        assert!(text_csv.contains("'=cmd"), "{text_csv}");
        let mut out = Vec::new();
        text(&mut out, &summary_with_host("evil\u{1b}[2J")).unwrap();
        let shown = String::from_utf8(out).unwrap();
        assert!(!shown.contains('\u{1b}'), "{shown:?}");
    }
}
