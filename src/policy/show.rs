//! PURE: the merged policy as commented TOML, each value followed by the layer it came
//! from (`keycheck policy show`). The output parses as a policy file again.

use std::fmt::Write as _;

use super::merge::Shown as _;
use super::{Exception, Policy};
use crate::inventory::format_mode;
use crate::rules::Rule;

/// Renders `policy` with its origins.
pub(super) fn render(policy: &Policy) -> String {
    let mut out = String::new();
    out.push_str(
        "# The policy in force, merged from these layers (later ones may only tighten):\n",
    );
    for (kind, name) in &policy.layers {
        let _ = writeln!(out, "#   {:<13} {name}", kind.as_str());
    }
    let mut w = Writer { out, policy };
    w.line("version", &policy.version.to_string());
    w.line("profile", &policy.profile.shown());

    w.section("keys");
    let k = &policy.keys;
    w.line("keys.allowed_algorithms", &k.allowed_algorithms.shown());
    w.line("keys.rsa_min_bits", &k.rsa_min_bits.shown());
    w.line("keys.rsa_recommended_bits", &k.rsa_recommended_bits.shown());
    if let Some(d) = k.rsa_recommended_becomes_minimum {
        w.line("keys.rsa_recommended_becomes_minimum", &d.shown());
    }
    w.line("keys.passphrase_required", &k.passphrase_required.shown());
    w.line("keys.hardware_keys_exempt", &k.hardware_keys_exempt.shown());
    w.line("keys.bcrypt_min_rounds", &k.bcrypt_min_rounds.shown());
    w.line(
        "keys.pbkdf2_min_iterations",
        &k.pbkdf2_min_iterations.shown(),
    );
    w.line(
        "keys.argon2_min_memory_kib",
        &k.argon2_min_memory_kib.shown(),
    );
    match k.max_age {
        Some(age) => w.line("keys.max_age", &age.shown()),
        None => w
            .out
            .push_str("# max_age: not set (keys of any age pass)\n"),
    }

    w.line(
        "keys.certificate_expiry_warning",
        &k.certificate_expiry_warning.shown(),
    );

    w.section("files");
    let f = &policy.files;
    w.line(
        "files.key_mode",
        &format!("\"{}\"", format_mode(f.key_mode)),
    );
    w.line(
        "files.ssh_dir_mode",
        &format!("\"{}\"", format_mode(f.ssh_dir_mode)),
    );
    w.line("files.max_copies", &f.max_copies.shown());
    w.line("files.search", &f.search.shown());
    w.line("files.exclude", &f.exclude.shown());

    w.section("cache");
    let c = &policy.cache;
    w.line("cache.laptop", &c.laptop.shown());
    w.line("cache.desktop", &c.desktop.shown());
    w.line("cache.mobile", &c.mobile.shown());
    w.line("cache.server", &c.server.shown());
    w.line("cache.clear_at_logout", &c.clear_at_logout.shown());
    w.line("cache.clear_at_lock", &c.clear_at_lock.shown());

    w.section("notify");
    let n = &policy.notify;
    w.line("notify.min_severity", &n.min_severity.shown());
    w.line("notify.repeat_after", &n.repeat_after.shown());
    w.line("notify.incident_url", &n.incident_url.shown());

    w.section("report");
    w.line("report.dir", &policy.report.dir.shown());
    w.line("report.database", &policy.report.database.shown());

    w.section("rules");
    for rule in Rule::ALL {
        let level = policy.severity(rule).map_or("off", |s| s.as_str());
        let key = format!("rules.{}", rule.id());
        let origin = policy.origins.get(&key).map_or("default", String::as_str);
        let text = format!("\"{}\" = \"{level}\"", rule.id());
        let _ = writeln!(w.out, "{text:<44} # {}", short(origin));
    }

    w.section("exceptions");
    w.line(
        "exceptions.users_may_add",
        &policy.exceptions.users_may_add.shown(),
    );
    for e in &policy.exceptions.waive {
        exception(&mut w.out, e);
    }

    if !policy.ignored.is_empty() {
        w.out
            .push_str("\n# Ignored, because a later layer may only tighten the policy:\n");
        for l in &policy.ignored {
            let _ = writeln!(w.out, "#   {}: {}: {}", l.at, l.key, l.message);
        }
    }
    w.out
}

struct Writer<'a> {
    out: String,
    policy: &'a Policy,
}

impl Writer<'_> {
    fn section(&mut self, name: &str) {
        let _ = write!(self.out, "\n[{name}]\n");
    }

    fn line(&mut self, key: &str, value: &str) {
        let name = key.rsplit('.').next().unwrap_or(key);
        let origin = self
            .policy
            .origins
            .get(key)
            .map_or("built-in", String::as_str);
        let text = format!("{name} = {value}");
        if text.len() > 60 {
            let _ = writeln!(self.out, "# from {}\n{text}", short(origin));
        } else {
            let _ = writeln!(self.out, "{text:<44} # {}", short(origin));
        }
    }
}

fn exception(out: &mut String, e: &Exception) {
    let _ = writeln!(
        out,
        "\n[[exceptions.waive]]                          # {}",
        short(&e.at)
    );
    if let Some(p) = &e.path {
        let _ = writeln!(out, "path = {}", p.shown());
    }
    if let Some(f) = &e.fingerprint {
        let _ = writeln!(out, "fingerprint = {}", f.shown());
    }
    let ids: Vec<String> = e.rules.iter().map(|r| r.id().to_owned()).collect();
    let _ = writeln!(out, "rules = {}", ids.shown());
    let _ = writeln!(out, "reason = {}", e.reason.shown());
    let _ = writeln!(out, "expires = {}", e.expires);
}

/// The built-in policy's positions are noise to a reader; its name is enough.
fn short(origin: &str) -> &str {
    if origin.starts_with("built-in policy") {
        "built-in"
    } else {
        origin
    }
}
