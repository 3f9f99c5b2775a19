//! Rule `authorized-key-weak`: entries in `~/.ssh/authorized_keys` that break the key
//! rules, so someone could log in to this machine with a key the policy refuses.

use super::{Ctx, Rule, Subject};

pub(super) const EXPLAIN: &str = "\
~/.ssh/authorized_keys lists the keys that may log in to this machine as you. An entry \
whose key the policy would refuse — a denied algorithm such as DSA, an RSA key below the \
minimum — is a door held open by a weak lock, whoever owns it. The rule applies the \
[keys] rules to every entry.";

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let keys = &ctx.policy.keys;
    for file in &ctx.inventory.authorized_keys {
        for (line, entry) in file.entries.keys() {
            let facts = &entry.key;
            // A certificate line names the CA's key type after its algorithm; the
            // algorithm of the key inside is what signs.
            let algorithm = facts.algorithm.as_deref().unwrap_or("unknown");
            let base = algorithm
                .strip_suffix("-cert-v01@openssh.com")
                .unwrap_or(algorithm);
            let mut why = None;
            if !keys.allowed_algorithms.iter().any(|a| a == base) {
                why = Some(format!("{base} keys are not allowed by the policy"));
            } else if base == "ssh-rsa" {
                if let Some(bits) = facts.bits {
                    let minimum = match keys.rsa_recommended_becomes_minimum {
                        Some(date) if ctx.env.today >= date => keys.rsa_recommended_bits,
                        _ => keys.rsa_min_bits,
                    };
                    if bits < minimum {
                        why = Some(format!(
                            "a {bits}-bit RSA key; the policy requires at least {minimum}"
                        ));
                    }
                }
            }
            let Some(why) = why else { continue };
            let comment = facts
                .comment
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            let at = format!("{}:{line}", file.path);
            ctx.push(
                Rule::AuthorizedKeyWeak,
                Subject {
                    path: &at,
                    fingerprint: facts.fingerprint.as_deref(),
                },
                format!("line {line}{comment}: {why}; whoever holds it can log in here as you"),
                Some(format!(
                    "remove line {line} from {} and ask the key's owner for an Ed25519 key",
                    super::shell_quote(&file.path, false)
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::evaluate;
    use super::super::testkit::{env, ids, inventory};
    use crate::inventory::AuthorizedFile;
    use crate::key::authorized::AuthorizedKeys;
    use crate::policy::Policy;

    /// A 2048-bit RSA key and an Ed25519 key, as `ssh-keygen` writes their public halves.
    const RSA_2048: &str = include_str!("../../tests/fixtures/ssh/id_rsa_pem_enc.pub");
    const ED25519: &str = include_str!("../../tests/fixtures/ssh/id_ed25519.pub");

    #[test]
    fn weak_entries_are_reported_with_their_line() {
        let text = format!("# team keys\n{ED25519}no-pty,from=\"10.0.0.0/8\" {RSA_2048}");
        let mut inv = inventory(vec![]);
        inv.authorized_keys.push(AuthorizedFile {
            path: "/h/.ssh/authorized_keys".to_owned(),
            entries: AuthorizedKeys::from_bytes(text.as_bytes()),
        });
        assert!(evaluate(&inv, &Policy::builtin().unwrap(), &env()).is_empty());
        let strict = Policy::with_override("org", "[keys]\nrsa_min_bits = 3072\n").unwrap();
        let f = evaluate(&inv, &strict, &env());
        assert_eq!(ids(&f), ["authorized-key-weak"]);
        assert_eq!(f[0].path, "/h/.ssh/authorized_keys:3");
        assert!(f[0].message.contains("2048-bit RSA"), "{}", f[0].message);
        // From the date the recommendation becomes the minimum, 2048 is too short too.
        let mut later = env();
        later.today = time::macros::date!(2027 - 07 - 01);
        let f = evaluate(&inv, &Policy::builtin().unwrap(), &later);
        assert_eq!(ids(&f), ["authorized-key-weak"]);
        assert!(f[0].fingerprint.as_deref().unwrap().starts_with("SHA256:"));
    }
}
