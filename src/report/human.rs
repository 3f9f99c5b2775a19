//! The human view of `keycheck check`, in the style of cargo and ripgrep: one line per key
//! with its verdict, each failing or warning finding with its fix under it, then a
//! summary line. Colour is the caller's choice (an `anstream` writer strips it when the
//! output is not a terminal or `NO_COLOR` is set).

use std::collections::BTreeMap;
use std::io;

use anstyle::{AnsiColor, Style};

use super::Summary;
use crate::finding::{Finding, Severity};
use crate::inventory::{Inventory, KeyRecord};
use crate::key::{KeyFacts, Kind};
use crate::rules::Evaluation;

const FAIL: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const OK: Style = AnsiColor::Green.on_default().bold();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The home directory, shown as `~`.
    pub home: Option<String>,
    /// Also list files that are not keys, and info findings.
    pub verbose: bool,
}

/// Writes the human view of one check.
///
/// # Errors
/// Any error of `out`.
pub fn write_check(
    out: &mut dyn io::Write,
    inventory: &Inventory,
    evaluation: &Evaluation,
    options: &Options,
) -> io::Result<()> {
    let findings = &evaluation.findings;
    let short = |path: &str| shorten(path, options.home.as_deref());
    let mut by_path: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        if f.severity > Severity::Info || options.verbose {
            by_path.entry(f.path.as_str()).or_default().push(f);
        }
    }
    let width = inventory
        .keys
        .iter()
        .map(|k| short(&k.path).chars().count())
        .max()
        .unwrap_or(0)
        .min(48);

    let mut lines: Vec<(&str, Line<'_>)> = Vec::new();
    for key in &inventory.keys {
        lines.push((&key.path, Line::Key(key)));
    }
    for dir in &inventory.dirs {
        if by_path.contains_key(dir.path.as_str()) {
            lines.push((&dir.path, Line::Other("directory")));
        }
    }
    for e in &inventory.errors {
        lines.push((&e.path, Line::Error(e.error.clone())));
    }
    for m in &inventory.malformed {
        lines.push((
            &m.path,
            Line::Error(format!("cannot be read as a key: {}", m.error)),
        ));
    }
    lines.sort_by(|a, b| a.0.cmp(b.0));

    for (path, line) in &lines {
        let own = by_path.remove(path).unwrap_or_default();
        let worst = own.iter().map(|f| f.severity).max();
        let (label, style) = match (line, worst) {
            (_, Some(Severity::Fail)) => ("FAIL", FAIL),
            (_, Some(Severity::Warn)) => ("warn", WARN),
            (Line::Error(_), _) => ("error", WARN),
            (Line::Key(k), _) if k.facts.kind != Kind::Private => ("  -", DIM),
            _ => ("ok", OK),
        };
        let shown = short(path);
        write!(out, "{style}{label:>5}{style:#} {shown:<width$}")?;
        match line {
            Line::Key(key) => {
                writeln!(out, "  {}", describe(key))?;
                if let Some(note) = inventory
                    .passphrase_audit
                    .get(&key.path)
                    .and_then(audit_note)
                {
                    writeln!(out, "{:>5}   {DIM}passphrase audit: {note}{DIM:#}", "")?;
                }
            }
            Line::Other(what) => writeln!(out, "  {what}")?,
            Line::Error(error) => writeln!(out, "  {DIM}{error}{DIM:#}")?,
        }
        for f in own {
            write_finding(out, f)?;
        }
    }
    // Findings about paths that have no line of their own: policy files (`file:line:col`)
    // and anything else, so that no finding is ever dropped from the view.
    for f in by_path.into_values().flatten() {
        writeln!(out, "{:>5} {}", "", short(&f.path))?;
        write_finding(out, f)?;
    }
    if options.verbose {
        for s in &inventory.skipped {
            writeln!(
                out,
                "{DIM}skip{DIM:#}  {}  {DIM}{}{DIM:#}",
                short(&s.path),
                s.reason
            )?;
        }
    }
    if options.verbose {
        for w in &evaluation.waived {
            writeln!(
                out,
                "{DIM}waived{DIM:#} {} {}[{}] until {} by {}: {}",
                short(&w.finding.path),
                w.finding.severity.as_str(),
                w.finding.rule.id(),
                w.expires,
                w.exception,
                w.reason
            )?;
        }
    }
    let sum = Summary {
        waived: evaluation.waived.len(),
        ..Summary::of(inventory, findings)
    };
    write_summary(out, &sum, options.verbose)
}

/// What the passphrase audit left unsaid by a finding: a key it could not finish or
/// could not try. (A weak passphrase is a finding; one not found needs no note.)
fn audit_note(audit: &crate::inventory::Audit) -> Option<String> {
    use crate::inventory::Audit;
    match audit {
        Audit::OutOfTime { tried, of } => Some(format!(
            "out of time after {tried} of {of} common passphrases (--passphrase-budget gives it longer)"
        )),
        Audit::Unsupported { reason } => Some(format!("not tried: {reason}")),
        Audit::Weak { .. } | Audit::NotFound { .. } => None,
    }
}

enum Line<'a> {
    Key(&'a KeyRecord),
    Other(&'static str),
    Error(String),
}

fn write_finding(out: &mut dyn io::Write, f: &Finding) -> io::Result<()> {
    let style = match f.severity {
        Severity::Fail => FAIL,
        Severity::Warn => WARN,
        Severity::Info => DIM,
    };
    writeln!(
        out,
        "      {style}{}{style:#}{BOLD}[{}]{BOLD:#} {}",
        f.severity.as_str(),
        f.rule.id(),
        f.message
    )?;
    if let Some(fix) = &f.fix {
        writeln!(out, "        {DIM}fix:{DIM:#} {fix}")?;
    }
    Ok(())
}

fn write_summary(out: &mut dyn io::Write, s: &Summary, verbose: bool) -> io::Result<()> {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![format!(
        "{} ({} private, {} public, {})",
        plural(s.keys, "key", "keys"),
        s.private,
        s.public,
        plural(s.certificates, "certificate", "certificates")
    )];
    parts.push(format!("{} failing", s.fail));
    parts.push(plural(s.warn, "warning", "warnings"));
    if s.errors > 0 {
        parts.push(plural(s.errors, "file with errors", "files with errors"));
    }
    if s.skipped > 0 {
        let hint = if verbose { "" } else { " (-v lists them)" };
        parts.push(format!("{} not keys{hint}", s.skipped));
    }
    if s.waived > 0 {
        let hint = if verbose { "" } else { " (-v lists them)" };
        parts.push(format!("{} waived by exceptions{hint}", s.waived));
    }
    let style = if s.fail > 0 {
        FAIL
    } else if s.warn > 0 || s.errors > 0 {
        WARN
    } else {
        OK
    };
    writeln!(out)?;
    writeln!(out, "{style}summary:{style:#} {}", parts.join(", "))
}

/// What the key line says about a key after its path.
fn describe(key: &KeyRecord) -> String {
    let f: &KeyFacts = &key.facts;
    let mut parts = Vec::new();
    let algorithm = f.algorithm.as_deref().unwrap_or("unknown algorithm");
    parts.push(match f.bits {
        Some(bits) => format!("{algorithm} {bits}"),
        None => algorithm.to_owned(),
    });
    parts.push(match f.kind {
        Kind::Public => "public key".to_owned(),
        Kind::Certificate => match &f.certificate {
            Some(c) => format!("{} certificate \"{}\"", c.cert_type, c.key_id),
            None => "certificate".to_owned(),
        },
        Kind::Private if f.hardware_backed && !f.encrypted => "hardware key".to_owned(),
        Kind::Private if !f.encrypted => "no passphrase".to_owned(),
        Kind::Private => {
            let mut how = Vec::new();
            if let Some(c) = &f.cipher {
                how.push(c.clone());
            }
            match (&f.kdf, f.kdf_rounds) {
                (Some(k), Some(n)) if k == "bcrypt" => how.push(format!("bcrypt {n} rounds")),
                (Some(k), Some(n)) if k.starts_with("pbkdf") => {
                    how.push(format!("{k} {n} iterations"))
                }
                (Some(k), _) => how.push(k.clone()),
                _ => {}
            }
            format!("passphrase ({})", how.join(", "))
        }
    });
    parts.push(f.format.as_str().to_owned());
    if let Some(fp) = &f.fingerprint {
        parts.push(fp.clone());
    }
    let mut line = parts.join("  ");
    if let Some(from) = &f.public_from {
        line.push_str(&format!(
            "  (public part from {})",
            from.rsplit('/').next().unwrap_or(from)
        ));
    }
    line
}

/// `path` with the home directory shown as `~`.
#[must_use]
pub fn shorten(path: &str, home: Option<&str>) -> String {
    match home {
        Some(home) if !home.is_empty() && home != "/" => match path.strip_prefix(home) {
            Some(rest) if rest.starts_with('/') => format!("~{rest}"),
            _ => path.to_owned(),
        },
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::policy::Policy;
    use crate::rules::testkit;

    #[test]
    fn key_line_finding_fix_and_summary() {
        let inv = testkit::inventory(vec![
            testkit::private("/home/a/.ssh/id_rsa", "ssh-rsa", 1024),
            testkit::encrypted(
                testkit::private("/home/a/.ssh/id_ed25519", "ssh-ed25519", 256),
                16,
            ),
        ]);
        let evaluation = crate::rules::judge(&inv, &Policy::builtin().unwrap(), &testkit::env());
        let mut out = Vec::new();
        let options = Options {
            home: Some("/home/a".to_owned()),
            verbose: false,
        };
        write_check(&mut out, &inv, &evaluation, &options).unwrap();
        let text = String::from_utf8(out).unwrap();
        let plain = anstream::adapter::strip_str(&text).to_string();
        let lines: Vec<&str> = plain.lines().collect();
        assert!(lines[0].starts_with("   ok ~/.ssh/id_ed25519"), "{plain}");
        assert!(
            lines[0].contains("passphrase (aes256-ctr, bcrypt 16 rounds)"),
            "{plain}"
        );
        assert!(lines[1].starts_with(" FAIL ~/.ssh/id_rsa"), "{plain}");
        assert!(
            plain.contains("fail[passphrase-missing] private key is not protected by a passphrase")
        );
        assert!(plain.contains("fix: ssh-keygen -p -a 100 -f /home/a/.ssh/id_rsa"));
        assert!(plain.contains("fail[rsa-below-minimum]"));
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("summary: 2 keys (2 private, 0 public, 0 certificates), 2 failing"),
            "{plain}"
        );
    }

    #[test]
    fn shorten_only_whole_components() {
        assert_eq!(shorten("/home/a/.ssh/k", Some("/home/a")), "~/.ssh/k");
        assert_eq!(shorten("/home/ab/k", Some("/home/a")), "/home/ab/k");
        assert_eq!(shorten("/x", None), "/x");
    }

    #[test]
    fn the_passphrase_audit_notes_keys_it_could_not_finish() {
        use crate::inventory::Audit;
        let mut inv = testkit::inventory(vec![testkit::encrypted(
            testkit::private("/home/a/.ssh/id_ed25519", "ssh-ed25519", 256),
            100,
        )]);
        inv.passphrase_audit.insert(
            "/home/a/.ssh/id_ed25519".to_owned(),
            Audit::OutOfTime { tried: 85, of: 482 },
        );
        let evaluation = crate::rules::judge(&inv, &Policy::builtin().unwrap(), &testkit::env());
        let mut out = Vec::new();
        let options = Options {
            home: Some("/home/a".to_owned()),
            verbose: false,
        };
        write_check(&mut out, &inv, &evaluation, &options).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("passphrase audit: out of time after 85 of 482"),
            "{text}"
        );
    }
}
