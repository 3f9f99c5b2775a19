//! Rules on the ssh client configuration: `cache-unbounded`, `cache-window-exceeded`,
//! `use-keychain`, `forward-agent`. The facts come from `ssh -G` (see
//! [`crate::sshconfig`]); the window is the policy's for this device's profile.

use super::{Ctx, Rule, Subject};
use crate::sshconfig::{ConfigIssue, ALL_HOSTS};

pub(super) const EXPLAIN_UNBOUNDED: &str = "\
`AddKeysToAgent yes` (or ask/confirm) with no time adds every key you use to the agent \
until the agent exits, often days. The policy says cached passphrases \"should expire after \
1-2 hours or at the end of each login session\" on laptops and desktops and \"after 5-15 \
minutes for mobile devices\". Give the directive a time within the window of this device's \
profile ([cache]).";

pub(super) const EXPLAIN_WINDOW: &str = "\
`AddKeysToAgent` with a time longer than the policy's cache window for this device's \
profile ([cache] laptop, desktop, mobile, server) keeps decrypted keys in the agent longer \
than the policy allows.";

pub(super) const EXPLAIN_KEYCHAIN: &str = "\
On macOS, `UseKeychain yes` stores the passphrase in the login Keychain, so the key is \
unlocked without asking for as long as the Keychain is: effectively forever, which no \
cache window allows.";

pub(super) const EXPLAIN_FORWARD: &str = "\
`ForwardAgent yes` under `Host *` lets every server you connect to use your keys while \
you are connected: a root user there can log in anywhere as you. Least privilege: forward \
only to the hosts that need it, or use ProxyJump, which needs no forwarding.";

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let Some(config) = &ctx.inventory.ssh_config else {
        return;
    };
    let window = ctx.policy.cache_window().as_secs();
    let profile = ctx.policy.profile.as_str();
    let limit = ssh_time(window);
    for issue in config.issues(window) {
        let (rule, source, message, fix) = match &issue {
            ConfigIssue::CacheUnbounded { host, mode, source } => (
                Rule::CacheUnbounded,
                source,
                format!(
                    "AddKeysToAgent {} with no time{}: keys stay in the agent until it exits; the policy allows {limit} on a {profile}",
                    serde_json::to_value(mode).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                    for_host(host)
                ),
                format!("write `AddKeysToAgent {limit}` there instead"),
            ),
            ConfigIssue::CacheWindowExceeded { host, secs, source } => (
                Rule::CacheWindowExceeded,
                source,
                format!(
                    "AddKeysToAgent keeps keys for {}{}; the policy allows {limit} on a {profile}",
                    ssh_time(u64::from(*secs)),
                    for_host(host)
                ),
                format!("write `AddKeysToAgent {limit}` there instead"),
            ),
            ConfigIssue::UseKeychain { host, source } => (
                Rule::UseKeychain,
                source,
                format!(
                    "UseKeychain yes{}: the passphrase is kept in the Keychain with no time limit",
                    for_host(host)
                ),
                "write `UseKeychain no` there, and remove the passphrase from Keychain Access".to_owned(),
            ),
            ConfigIssue::ForwardAgentEverywhere { source } => (
                Rule::ForwardAgent,
                source,
                "ForwardAgent yes for every host: any server you reach can use your keys while you are connected".to_owned(),
                "remove it from `Host *` and forward only to the hosts that need it, or use ProxyJump (ssh -J)".to_owned(),
            ),
        };
        let at = source.to_string();
        ctx.push(rule, Subject::file(&at), message, Some(fix));
    }
}

fn for_host(host: &str) -> String {
    if host == ALL_HOSTS {
        " for every host".to_owned()
    } else {
        format!(" for Host {host}")
    }
}

/// Seconds in ssh_config's time format (`2h`, `15m`, `90s`).
fn ssh_time(secs: u64) -> String {
    if secs > 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs > 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::evaluate;
    use super::super::testkit::{env, ids, inventory};
    use super::ssh_time;
    use crate::policy::Policy;
    use crate::sshconfig::{
        AddKeysMode, AddKeysToAgent, ForwardAgent, HostSettings, Source, Sourced, SshConfigFacts,
        PROBE_HOST,
    };

    fn host(name: &str, add: Option<(AddKeysMode, Option<u32>)>, forward: bool) -> HostSettings {
        let src = |line| {
            Some(Source {
                file: "/h/.ssh/config".to_owned(),
                line: Some(line),
            })
        };
        HostSettings {
            host: name.to_owned(),
            probe: name == PROBE_HOST,
            hostname: None,
            user: None,
            add_keys_to_agent: add.map(|(mode, lifetime_secs)| Sourced {
                value: AddKeysToAgent {
                    mode,
                    lifetime_secs,
                },
                source: src(if name == PROBE_HOST { 2 } else { 7 }),
            }),
            forward_agent: Some(Sourced {
                value: if forward {
                    ForwardAgent::Yes
                } else {
                    ForwardAgent::No
                },
                source: src(3),
            }),
            use_keychain: None,
            identity_files: vec![],
            identity_agent: None,
        }
    }

    #[test]
    fn config_issues_become_findings_at_their_line() {
        let mut inv = inventory(vec![]);
        inv.ssh_config = Some(SshConfigFacts::new(
            "/h/.ssh/config".to_owned(),
            true,
            vec!["/h/.ssh/config".to_owned()],
            vec![
                host(PROBE_HOST, Some((AddKeysMode::Yes, None)), true),
                host("work", Some((AddKeysMode::Yes, Some(4 * 3600))), true),
            ],
            vec![],
        ));
        let f = evaluate(&inv, &Policy::builtin().unwrap(), &env());
        assert_eq!(
            ids(&f),
            ["cache-unbounded", "forward-agent", "cache-window-exceeded"]
        );
        assert_eq!(f[0].path, "/h/.ssh/config:2");
        assert!(f[0].message.contains("for every host"), "{}", f[0].message);
        assert!(
            f[0].message.contains("allows 2h on a laptop"),
            "{}",
            f[0].message
        );
        assert_eq!(f[2].path, "/h/.ssh/config:7");
        assert!(
            f[2].message.contains("4h for Host work"),
            "{}",
            f[2].message
        );
        // On a mobile device the window is 15 minutes.
        let mobile = Policy::with_override("org", "profile = \"mobile\"\n").unwrap();
        let f = evaluate(&inv, &mobile, &env());
        assert!(
            f[0].fix.as_deref().unwrap().contains("AddKeysToAgent 15m"),
            "{f:?}"
        );
    }

    #[test]
    fn times_read_like_ssh_config() {
        assert_eq!(ssh_time(7200), "2h");
        assert_eq!(ssh_time(900), "15m");
        assert_eq!(ssh_time(90), "90s");
    }
}
