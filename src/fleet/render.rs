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

/// A self-contained HTML page: inline CSS, no script, no network. The overall figure
/// with a meter, a chart of compliance by rule (the share of host/user pairs each rule
/// affects, against the whole fleet), the keys, the hosts worst first, stale hosts and
/// rejected reports. Every value from a report is escaped.
///
/// # Errors
/// Any error of `out`.
pub fn html(out: &mut dyn io::Write, s: &Summary, title: &str) -> io::Result<()> {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body><main>\n<h1>{}</h1>\n",
        esc(title),
        esc(title)
    );
    let failing = s.hosts - s.compliant_hosts;
    let warned = s
        .per_host
        .iter()
        .filter(|h| h.fail == 0 && h.warn > 0)
        .count();
    let _ = writeln!(
        page,
        "<section class=\"overall\"><div class=\"figure {}\">{}<small>compliant</small></div>\
         <div class=\"detail\"><p class=\"big\"><b>{} of {}</b> host/user pairs compliant \
         (no failing finding)</p>\
         <div class=\"meter\" title=\"{}\"><span style=\"width:{:.1}%\"></span></div>\
         <p class=\"counts\"><span class=\"tag fail\">{failing} failing</span> \
         <span class=\"tag warn\">{warned} with warnings only</span> \
         <span class=\"tag stale\">{} stale</span></p>\
         <p class=\"muted\">{} reports read, {} superseded by newer ones, {} rejected.</p>\
         </div></section>",
        if failing == 0 { "ok" } else { "fail" },
        percent(s.compliant_hosts, s.hosts),
        s.compliant_hosts,
        s.hosts,
        percent(s.compliant_hosts, s.hosts),
        share(s.compliant_hosts, s.hosts),
        s.stale.len(),
        s.reports_read,
        s.reports_superseded,
        s.reports_rejected,
    );

    page.push_str(
        "<h2>Compliance by rule</h2>\n<p class=\"muted\">The share of host/user pairs with \
         at least one finding of the rule; the whole bar is the fleet.</p>\n",
    );
    if s.rules.is_empty() {
        page.push_str("<p>No findings anywhere in the fleet.</p>\n");
    } else {
        page.push_str(
            "<table class=\"bars\"><thead><tr><th>rule</th><th>hosts affected</th>\
             <th class=\"num\">hosts</th><th class=\"num\">compliant</th>\
             <th class=\"num\">findings</th></tr></thead><tbody>\n",
        );
        let mut rules: Vec<_> = s.rules.iter().collect();
        rules.sort_by(|a, b| b.1.hosts.cmp(&a.1.hosts).then(a.0.cmp(b.0)));
        for (rule, line) in rules {
            let affected = share(line.hosts, s.hosts);
            let _ = writeln!(
                page,
                "<tr><td class=\"rule\">{}</td>\
                 <td class=\"bar\"><div class=\"track\"><span style=\"width:{affected:.1}%\"></span></div></td>\
                 <td class=\"num\">{} of {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(rule),
                line.hosts,
                s.hosts,
                percent(s.hosts.saturating_sub(line.hosts), s.hosts),
                line.findings
            );
        }
        page.push_str("</tbody></table>\n");
    }

    page.push_str("<h2>Private keys by algorithm and size</h2>\n");
    if s.keys.is_empty() {
        page.push_str("<p>No private keys reported.</p>\n");
    } else {
        page.push_str(
            "<table class=\"narrow\"><thead><tr><th>algorithm and size</th><th class=\"num\">keys</th></tr></thead><tbody>\n",
        );
        for (label, n) in &s.keys {
            let _ = writeln!(
                page,
                "<tr><td class=\"mono\">{}</td><td class=\"num\">{n}</td></tr>",
                esc(label)
            );
        }
        page.push_str("</tbody></table>\n");
    }

    page.push_str(
        "<h2>Hosts, worst first</h2>\n<table class=\"hosts\"><thead><tr><th>status</th>\
         <th>host</th><th>user</th><th>OS</th><th>report (UTC)</th><th class=\"num\">fail</th>\
         <th class=\"num\">warn</th><th>rules</th></tr></thead><tbody>\n",
    );
    for h in &s.per_host {
        let status = if h.fail > 0 {
            "fail"
        } else if h.warn > 0 {
            "warn"
        } else {
            "ok"
        };
        let mut rules = String::new();
        for (r, n) in &h.rules {
            let _ = write!(rules, "<span class=\"chip\">{} ×{n}</span> ", esc(r));
        }
        let _ = writeln!(
            page,
            "<tr class=\"{status}\"><td><span class=\"tag {status}\">{status}</span></td>\
             <td class=\"host\" title=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"when\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&h.host_id),
            esc(&h.hostname),
            esc(&h.user),
            esc(&h.os),
            utc_minute(h.generated_at),
            h.fail,
            h.warn,
            rules.trim_end()
        );
    }
    page.push_str("</tbody></table>\n");
    if !s.stale.is_empty() {
        page.push_str(
            "<h2>Stale hosts</h2>\n<p class=\"muted\">No report within the maximum age.</p>\n\
             <table class=\"narrow\"><thead><tr><th>host</th><th>user</th><th class=\"num\">last report</th></tr></thead><tbody>\n",
        );
        for st in &s.stale {
            let _ = writeln!(
                page,
                "<tr><td class=\"host\" title=\"{}\">{}</td><td>{}</td><td class=\"num\">{} days ago</td></tr>",
                esc(&st.host_id),
                esc(&st.hostname),
                esc(&st.user),
                st.age_seconds / 86400
            );
        }
        page.push_str("</tbody></table>\n");
    }
    if !s.rejected.is_empty() {
        page.push_str(
            "<h2>Rejected reports</h2>\n<table><thead><tr><th>source</th><th>reason</th></tr></thead><tbody>\n",
        );
        for r in &s.rejected {
            let _ = writeln!(
                page,
                "<tr><td class=\"mono\">{}</td><td>{}</td></tr>",
                esc(&r.source),
                esc(&r.reason)
            );
        }
        page.push_str("</tbody></table>\n");
    }
    page.push_str("</main></body></html>\n");
    out.write_all(page.as_bytes())
}

const CSS: &str = "\
:root{--fail:#c0392b;--warn:#d68910;--ok:#1e8449;--line:#e3e6ea;--muted:#5f6b76}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;color:#1f2328;background:#f6f8fa}\
main{max-width:72em;margin:0 auto;padding:1.5em 2em 3em;background:#fff;min-height:100vh;box-sizing:border-box}\
h1{font-size:1.6em;margin:.2em 0 .8em}h2{font-size:1.2em;margin:1.8em 0 .4em}\
.muted{color:var(--muted);font-size:.9em;margin:.3em 0 .8em}\
.overall{display:flex;gap:2em;align-items:center;padding:1.2em 1.5em;border:1px solid var(--line);border-radius:8px}\
.figure{font-size:3.2em;font-weight:700;line-height:1;text-align:center;min-width:3.6em}\
.figure small{display:block;font-size:.3em;font-weight:400;color:var(--muted);margin-top:.3em}\
.figure.fail{color:var(--fail)}.figure.ok{color:var(--ok)}\
.detail{flex:1}.big{font-size:1.15em;margin:0 0 .5em}\
.meter{height:.9em;background:#f2d7d5;border-radius:4px;overflow:hidden}\
.meter span{display:block;height:100%;background:var(--ok)}\
.counts{margin:.7em 0 0}\
table{border-collapse:collapse;margin-bottom:1em;width:100%}\
th,td{padding:.35em .7em;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}\
th{font-size:.85em;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line)}\
tbody tr:nth-child(even){background:#fafbfc}\
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.mono,.rule,.chip{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:.9em}\
.rule{white-space:nowrap}.bars td{vertical-align:middle}table.narrow{width:auto;min-width:28em}.bars td.bar{width:45%}\
.track{height:1em;background:#e8f5ec;border-radius:3px;overflow:hidden}\
.track span{display:block;height:100%;background:var(--fail)}\
.host{overflow-wrap:anywhere;max-width:18em}.when{white-space:nowrap}\
.tag{display:inline-block;padding:.05em .55em;border-radius:1em;font-size:.8em;font-weight:600;color:#fff}\
.tag.fail{background:var(--fail)}.tag.warn{background:var(--warn)}.tag.ok{background:var(--ok)}.tag.stale{background:#6c7a89}\
.chip{display:inline-block;margin:0 .3em .2em 0;padding:0 .4em;background:#eef1f4;border-radius:3px;font-size:.8em}\
tr.fail td:first-child{box-shadow:inset 4px 0 var(--fail)}tr.warn td:first-child{box-shadow:inset 4px 0 var(--warn)}\
tr.ok td:first-child{box-shadow:inset 4px 0 var(--ok)}";

/// `part` as a percentage of `whole`, 0 for an empty fleet.
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// A Unix time as `YYYY-MM-DD HH:MM` in UTC (empty when out of range).
fn utc_minute(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

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
    fn html_of_an_empty_fleet_says_so() {
        let s = Fleet::default().summary(0, i64::MAX);
        let mut out = Vec::new();
        html(&mut out, &s, "t").unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(page.contains("<b>0 of 0</b>"), "{page}");
        assert!(
            page.contains("No findings anywhere in the fleet."),
            "{page}"
        );
        assert!(page.contains("No private keys reported."), "{page}");
        assert!(!page.contains("NaN"), "{page}");
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
