//! Rules on what a private key is: `algorithm-denied`, `rsa-below-minimum`,
//! `rsa-below-recommended`.

use super::{replacement_command, shell_quote, Ctx, Rule, Subject};
use crate::finding::Severity;
use crate::key::Kind;

pub(super) const EXPLAIN_DENIED: &str = "\
The policy lists the key algorithms it allows ([keys] allowed_algorithms) and refuses \
everything else: default deny. DSA (ssh-dss) is limited to 1024 bits and removed from \
OpenSSH; SSH-1 keys (rsa1) belong to a protocol broken since 2001; an algorithm keycheck \
does not know cannot be shown to be sound. An encrypted PKCS#8 key hides its algorithm: \
put its public key beside it (KEY.pub) so keycheck can see what it is.";

pub(super) const EXPLAIN_MINIMUM: &str = "\
RSA keys below the policy's minimum ([keys] rsa_min_bits, 2048 by default) can be \
factored with resources within reach of a determined attacker. \"Keys using lower strengths \
must be replaced.\" Generate a new key, register its public half where the old one was \
used, then retire the old key.";

pub(super) const EXPLAIN_RECOMMENDED: &str = "\
4096-bit RSA keys are recommended for new keys and \"will soon become required\". Until \
[keys] rsa_recommended_becomes_minimum this is a warning that names the date; from that \
date it fails. An Ed25519 key is shorter, faster and at least as strong.";

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let policy = ctx.policy;
    for key in &ctx.inventory.keys {
        if key.facts.kind != Kind::Private {
            continue;
        }
        let subject = Subject::key(key);
        let path = shell_quote(&key.path, key.file.path_escaped);
        let replace = replacement_command(&key.path, key.file.path_escaped, ctx);
        let allowed = key
            .facts
            .algorithm
            .as_deref()
            .is_some_and(|a| policy.keys.allowed_algorithms.iter().any(|x| x == a));
        if !allowed {
            let (message, fix) = match key.facts.algorithm.as_deref() {
                Some(algorithm) => (
                    format!("{algorithm} keys are not allowed by the policy"),
                    replace.clone(),
                ),
                None => (
                    "the file hides the key's algorithm and no matching .pub was found, so it cannot be shown to be allowed".to_owned(),
                    format!("ssh-keygen -y -f {path} > {path}.pub"),
                ),
            };
            ctx.push(Rule::AlgorithmDenied, subject, message, Some(fix));
        }
        let is_rsa = matches!(key.facts.algorithm.as_deref(), Some("ssh-rsa" | "rsa1"));
        let Some(bits) = key.facts.bits.filter(|_| is_rsa) else {
            continue;
        };
        let keys = &policy.keys;
        if bits < keys.rsa_min_bits {
            ctx.push(
                Rule::RsaBelowMinimum,
                subject,
                format!(
                    "RSA key is {bits} bits; the policy requires at least {}",
                    keys.rsa_min_bits
                ),
                Some(replace),
            );
        } else if bits < keys.rsa_recommended_bits {
            match keys.rsa_recommended_becomes_minimum {
                Some(date) if ctx.env.today >= date => ctx.push_at_least(
                    Rule::RsaBelowRecommended,
                    Some(Severity::Fail),
                    subject,
                    format!(
                        "RSA key is {bits} bits; {} bits is the minimum since {date}",
                        keys.rsa_recommended_bits
                    ),
                    Some(replace),
                ),
                Some(date) => ctx.push(
                    Rule::RsaBelowRecommended,
                    subject,
                    format!(
                        "RSA key is {bits} bits; {} is recommended and becomes the minimum on {date}",
                        keys.rsa_recommended_bits
                    ),
                    Some(replace),
                ),
                None => ctx.push(
                    Rule::RsaBelowRecommended,
                    subject,
                    format!("RSA key is {bits} bits; {} is recommended", keys.rsa_recommended_bits),
                    Some(replace),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testkit::{encrypted, env, ids, inventory, private};
    use super::super::{evaluate, Env};
    use crate::finding::Severity;
    use crate::policy::Policy;

    fn run(keys: Vec<crate::inventory::KeyRecord>, env: &Env) -> Vec<crate::finding::Finding> {
        evaluate(&inventory(keys), &Policy::builtin().unwrap(), env)
    }

    #[test]
    fn allowed_algorithms_pass() {
        for (alg, bits) in [
            ("ssh-ed25519", 256),
            ("ecdsa-sha2-nistp521", 521),
            ("ssh-rsa", 4096),
        ] {
            let f = run(vec![encrypted(private("/k", alg, bits), 16)], &env());
            assert!(f.is_empty(), "{alg}: {f:?}");
        }
    }

    #[test]
    fn dsa_rsa1_unknown_and_hidden_are_denied() {
        for alg in ["ssh-dss", "rsa1", "ssh-mldsa44-ed25519@openssh.com"] {
            let f = run(vec![encrypted(private("/k", alg, 2048), 16)], &env());
            assert_eq!(ids(&f)[0], "algorithm-denied", "{alg}");
            assert!(f[0].message.contains(alg));
            assert!(f[0]
                .fix
                .as_deref()
                .unwrap()
                .starts_with("ssh-keygen -t ed25519 -a 100 -f /id_ed25519"));
        }
        let mut hidden = encrypted(private("/h/.ssh/k", "x", 0), 16);
        hidden.facts.algorithm = None;
        hidden.facts.bits = None;
        let f = run(vec![hidden], &env());
        assert_eq!(ids(&f), ["algorithm-denied"]);
        assert_eq!(
            f[0].fix.as_deref(),
            Some("ssh-keygen -y -f /h/.ssh/k > /h/.ssh/k.pub")
        );
    }

    #[test]
    fn replacement_never_names_an_existing_file() {
        let old = private("/h/.ssh/id_rsa", "ssh-dss", 1024);
        let taken = encrypted(private("/h/.ssh/id_ed25519", "ssh-ed25519", 256), 16);
        let mut inv = inventory(vec![encrypted(old, 16), taken]);
        inv.skipped.push(crate::inventory::Skipped {
            path: "/h/.ssh/id_ed25519_2.pub".to_owned(),
            reason: "x".to_owned(),
        });
        let f = evaluate(&inv, &Policy::builtin().unwrap(), &env());
        assert_eq!(
            f[0].fix.as_deref(),
            Some("ssh-keygen -t ed25519 -a 100 -f /h/.ssh/id_ed25519_3")
        );
    }

    #[test]
    fn rsa_sizes() {
        let f = run(vec![encrypted(private("/k", "ssh-rsa", 1024), 16)], &env());
        assert_eq!(ids(&f), ["rsa-below-minimum"]);
        assert_eq!(f[0].severity, Severity::Fail);
        assert!(f[0].message.contains("1024 bits"));

        let f = run(vec![encrypted(private("/k", "ssh-rsa", 2047), 16)], &env());
        assert_eq!(ids(&f), ["rsa-below-minimum"]);

        let f = run(vec![encrypted(private("/k", "ssh-rsa", 3072), 16)], &env());
        assert_eq!(ids(&f), ["rsa-below-recommended"]);
        assert_eq!(f[0].severity, Severity::Warn);
        assert!(
            f[0].message.contains("becomes the minimum on 2027-07-01"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn recommendation_becomes_minimum_on_its_date() {
        let later = Env {
            today: time::macros::date!(2027 - 07 - 01),
            ..env()
        };
        let f = run(vec![encrypted(private("/k", "ssh-rsa", 3072), 16)], &later);
        assert_eq!(ids(&f), ["rsa-below-recommended"]);
        assert_eq!(f[0].severity, Severity::Fail);
        assert!(f[0].message.contains("minimum since 2027-07-01"));
    }

    #[test]
    fn public_keys_are_not_judged() {
        let mut public = private("/k.pub", "ssh-dss", 1024);
        public.facts.kind = crate::key::Kind::Public;
        assert!(run(vec![public], &env()).is_empty());
    }
}
