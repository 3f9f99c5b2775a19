//! Rule `agent-lifetime-unbounded`: the ssh-agents this user runs, and how long they keep
//! the keys loaded into them.

use super::{Ctx, Rule, Subject};
use crate::sshagent::kind::AgentKind;

pub(super) const EXPLAIN_UNBOUNDED: &str = "\
An ssh-agent keeps every key added to it, decrypted, until it exits — often for days — \
unless it was started with a lifetime (`ssh-agent -t`). gpg-agent keeps SSH keys for \
default-cache-ttl-ssh (renewed on each use) up to max-cache-ttl-ssh; gnome-keyring's agent \
keeps them for the whole session and may store the passphrase in the login keyring. The \
policy says cached passphrases \"should expire after 1-2 hours or at the end of each login \
session\" on laptops and desktops and \"after 5-15 minutes for mobile devices\". Password \
manager agents (1Password, Secretive, KeePassXC) keep their own rules and are reported, not \
judged.";

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let window = ctx.policy.cache_window().as_secs();
    let profile = ctx.policy.profile.as_str();
    let limit = humantime::format_duration(std::time::Duration::from_secs(window));
    let show = |secs: u64| humantime::format_duration(std::time::Duration::from_secs(secs));
    for agent in &ctx.inventory.agents {
        let (message, fix) = match &agent.kind {
            Some(AgentKind::OpenSsh { lifetime_secs: None }) => (
                format!("ssh-agent runs without -t: keys stay loaded until it exits; the policy allows {limit} on a {profile}"),
                format!("start it as `ssh-agent -t {window}`, or run `keycheck agent` to enforce the window"),
            ),
            Some(AgentKind::OpenSsh { lifetime_secs: Some(t) }) if *t > window => (
                format!("ssh-agent -t keeps keys for {}; the policy allows {limit} on a {profile}", show(*t)),
                format!("start it as `ssh-agent -t {window}`"),
            ),
            Some(AgentKind::GpgAgent { default_ttl_secs, max_ttl_secs }) => {
                // max-cache-ttl-ssh bounds a key however often it is used; unset means
                // gpg-agent's default.
                let max = max_ttl_secs.unwrap_or(crate::sshagent::kind::GPG_AGENT_MAX_CACHE_TTL_SSH);
                let idle = default_ttl_secs.unwrap_or(crate::sshagent::kind::GPG_AGENT_DEFAULT_CACHE_TTL_SSH);
                if max <= window && idle <= window {
                    continue;
                }
                (
                    format!(
                        "gpg-agent keeps SSH keys up to {} (max-cache-ttl-ssh; default-cache-ttl-ssh {}); the policy allows {limit} on a {profile}",
                        show(max),
                        show(idle)
                    ),
                    format!("set `max-cache-ttl-ssh {window}` and `default-cache-ttl-ssh {}` in gpg-agent.conf, then `gpgconf --reload gpg-agent`", idle.min(window)),
                )
            }
            Some(AgentKind::GnomeKeyring) => (
                "gnome-keyring's ssh agent keeps keys for the whole session and may store the passphrase in the login keyring".to_owned(),
                "use ssh-agent with -t instead (disable gnome-keyring's ssh component), or run `keycheck agent` to enforce the window".to_owned(),
            ),
            _ => continue,
        };
        ctx.push(
            Rule::AgentLifetimeUnbounded,
            Subject::file(&agent.socket),
            message,
            Some(fix),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::evaluate;
    use super::super::testkit::{env, ids, inventory};
    use crate::inventory::AgentFacts;
    use crate::policy::Policy;
    use crate::sshagent::kind::AgentKind;

    fn judged(kind: AgentKind) -> Vec<&'static str> {
        let mut inv = inventory(vec![]);
        inv.agents.push(AgentFacts {
            socket: "/run/user/1000/ssh-agent.sock".to_owned(),
            kind: Some(kind),
            pid: Some(42),
            identities: 1,
            error: None,
        });
        ids(&evaluate(&inv, &Policy::builtin().unwrap(), &env()))
    }

    #[test]
    fn agents_are_judged_against_the_window() {
        let unbounded = ["agent-lifetime-unbounded"];
        assert_eq!(
            judged(AgentKind::OpenSsh {
                lifetime_secs: None
            }),
            unbounded
        );
        assert_eq!(
            judged(AgentKind::OpenSsh {
                lifetime_secs: Some(4 * 3600)
            }),
            unbounded
        );
        assert!(judged(AgentKind::OpenSsh {
            lifetime_secs: Some(3600)
        })
        .is_empty());
        assert_eq!(
            judged(AgentKind::GpgAgent {
                default_ttl_secs: Some(600),
                max_ttl_secs: Some(14_400)
            }),
            unbounded
        );
        // gpg-agent's own defaults (30 min idle, 2 h max) fit a laptop's 2 h window.
        assert!(judged(AgentKind::GpgAgent {
            default_ttl_secs: None,
            max_ttl_secs: None
        })
        .is_empty());
        assert_eq!(judged(AgentKind::GnomeKeyring), unbounded);
        assert!(judged(AgentKind::Vault {
            name: "1Password".to_owned()
        })
        .is_empty());
    }
}
