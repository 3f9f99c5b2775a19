//! `keycheck explain [RULE]`: what a rule checks and why.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Result};

use keycheck::policy::Policy;
use keycheck::rules::Rule;

pub(super) fn run(rule: Option<&str>) -> Result<ExitCode> {
    let policy = super::policy::load(None)?;
    let mut out = std::io::stdout().lock();
    let Some(id) = rule else {
        for rule in Rule::ALL {
            writeln!(
                out,
                "{:<24} {:<5} {}",
                rule.id(),
                severity(&policy, rule),
                rule.summary()
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some(rule) = Rule::from_id(id) else {
        bail!("unknown rule \"{id}\"; `keycheck explain` lists the rules");
    };
    writeln!(
        out,
        "{} ({} by default)\n",
        rule.id(),
        severity(&policy, rule)
    )?;
    writeln!(out, "Checks: {}.\n", rule.summary())?;
    writeln!(out, "{}\n", textwrap(rule.explanation(), 78))?;
    match rule.citation() {
        Some(quote) => writeln!(
            out,
            "Policy: {}\n",
            textwrap(quote, 70).replace('\n', "\n        ")
        )?,
        None => writeln!(
            out,
            "Policy: none; this rule is about keycheck's own view of your files and policy.\n"
        )?,
    }
    writeln!(
        out,
        "Fix: {}",
        textwrap(rule.remedy(), 73).replace('\n', "\n     ")
    )?;
    Ok(ExitCode::SUCCESS)
}

fn severity(policy: &Policy, rule: Rule) -> &'static str {
    policy.severity(rule).map_or("off", |s| s.as_str())
}

/// Wraps text at `width` columns on spaces.
fn textwrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut col = 0;
    for word in text.split_whitespace() {
        if col > 0 && col + 1 + word.len() > width {
            out.push('\n');
            col = 0;
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out
}
