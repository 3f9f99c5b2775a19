//! Rules on how long keys and certificates live, and how FIDO keys are used:
//! `key-too-old`, `certificate-expired`, `certificate-expiring`, `sk-flags`.

use super::{Ctx, Rule, Subject};
use crate::key::Kind;

pub(super) const EXPLAIN_TOO_OLD: &str = "\
A key that has existed for years has been copied, backed up and used in more places than \
anyone remembers; rotating it bounds what a leaked copy can do. The age is taken from \
the key file's modification time; the limit is [keys] max_age (not set by default).";

pub(super) const EXPLAIN_CERT_EXPIRED: &str = "\
An OpenSSH certificate (KEY-cert.pub) past its valid-before time is refused by every \
server; keeping it around only confuses ssh, which offers it first. Ask the certificate \
authority for a new one.";

pub(super) const EXPLAIN_CERT_EXPIRING: &str = "\
An OpenSSH certificate that ends within [keys] certificate_expiry_warning (7 days by \
default) will soon lock you out of the hosts that trust it; renew it before it does.";

pub(super) const EXPLAIN_SK_FLAGS: &str = "\
A FIDO security key proves that a person is present by requiring a touch for each \
signature. A key made with `-O no-touch-required` signs for any process that can reach \
it, which defeats the point of a hardware key: least privilege for the token too.";

/// What `ssh-keygen -s` writes when no validity is given: valid forever.
const FOREVER: u64 = u64::MAX;

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let now = ctx.env.now;
    for key in &ctx.inventory.keys {
        let subject = Subject::key(key);
        let path = super::shell_quote(&key.path, key.file.path_escaped);
        if key.facts.kind == Kind::Private {
            if let (Some(max), Some(modified)) =
                (ctx.policy.keys.max_age, key.file.modified.as_deref())
            {
                if let Some(age) = age_secs(modified, now) {
                    if age > max.as_secs() {
                        ctx.push(
                            Rule::KeyTooOld,
                            subject,
                            format!(
                                "the key file is {} days old; the policy allows {}",
                                age / 86_400,
                                humantime::format_duration(max)
                            ),
                            Some(super::replacement_command(
                                &key.path,
                                key.file.path_escaped,
                                ctx,
                            )),
                        );
                    }
                }
            }
            if let Some(sk) = &key.facts.sk {
                if sk.user_presence_required == Some(false) {
                    ctx.push(
                        Rule::SkFlags,
                        subject,
                        "the FIDO key signs without a touch (made with -O no-touch-required)".to_owned(),
                        Some(format!(
                            "ssh-keygen -t {} -f NEW_KEY (a touch is required unless -O no-touch-required is given), then retire {path}",
                            if key.facts.algorithm.as_deref().is_some_and(|a| a.starts_with("sk-ecdsa")) {
                                "ecdsa-sk"
                            } else {
                                "ed25519-sk"
                            }
                        )),
                    );
                }
            }
        }
        let Some(cert) = &key.facts.certificate else {
            continue;
        };
        if cert.valid_before == FOREVER {
            continue;
        }
        let renew = Some(format!(
            "ask the certificate authority to sign a new certificate, then rm {path}"
        ));
        if now >= cert.valid_before {
            ctx.push(
                Rule::CertificateExpired,
                subject,
                format!("the certificate expired on {}", date(cert.valid_before)),
                renew,
            );
        } else if cert.valid_before - now <= ctx.policy.keys.certificate_expiry_warning.as_secs() {
            ctx.push(
                Rule::CertificateExpiring,
                subject,
                format!(
                    "the certificate expires on {} (in {})",
                    date(cert.valid_before),
                    humantime::format_duration(std::time::Duration::from_secs(
                        (cert.valid_before - now) / 3600 * 3600
                    ))
                ),
                renew,
            );
        }
    }
}

/// Seconds between an RFC 3339 time and `now` (0 for a time in the future).
fn age_secs(modified: &str, now: u64) -> Option<u64> {
    let t = time::OffsetDateTime::parse(modified, &time::format_description::well_known::Rfc3339)
        .ok()?;
    let then = u64::try_from(t.unix_timestamp()).ok()?;
    Some(now.saturating_sub(then))
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`.
fn date(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::evaluate;
    use super::super::testkit::{encrypted, env, ids, inventory, private};
    use crate::key::{CertFacts, Format, KeyFacts, Kind, SkFacts};
    use crate::policy::Policy;

    fn cert(valid_before: u64) -> crate::inventory::KeyRecord {
        let mut r = private(
            "/h/.ssh/id-cert.pub",
            "ssh-ed25519-cert-v01@openssh.com",
            256,
        );
        r.facts = KeyFacts::new(Kind::Certificate, Format::OpensshCertificate);
        r.facts.certificate = Some(CertFacts {
            cert_type: "user".to_owned(),
            key_id: "me".to_owned(),
            serial: 1,
            principals: vec![],
            valid_after: 0,
            valid_before,
            ca_fingerprint: "SHA256:ca".to_owned(),
            ca_algorithm: "ssh-ed25519".to_owned(),
        });
        r
    }

    #[test]
    fn certificates_expire_and_warn_before() {
        let now = env().now;
        let p = Policy::builtin().unwrap();
        let f = evaluate(&inventory(vec![cert(now - 1)]), &p, &env());
        assert_eq!(ids(&f), ["certificate-expired"]);
        assert!(
            f[0].message.contains("2026-11-22 23:59 UTC"),
            "{}",
            f[0].message
        );
        let f = evaluate(&inventory(vec![cert(now + 3 * 86_400)]), &p, &env());
        assert_eq!(ids(&f), ["certificate-expiring"]);
        assert!(f[0].message.contains("in 3days"), "{}", f[0].message);
        assert!(evaluate(&inventory(vec![cert(now + 30 * 86_400)]), &p, &env()).is_empty());
        assert!(evaluate(&inventory(vec![cert(u64::MAX)]), &p, &env()).is_empty());
    }

    #[test]
    fn old_keys_only_when_the_policy_sets_an_age() {
        let mut old = encrypted(private("/h/.ssh/id", "ssh-ed25519", 256), 16);
        old.file.modified = Some("2020-01-01T00:00:00Z".to_owned());
        let inv = inventory(vec![old]);
        assert!(evaluate(&inv, &Policy::builtin().unwrap(), &env()).is_empty());
        let p = Policy::with_override("org", "[keys]\nmax_age = \"2years\"\n").unwrap();
        let f = evaluate(&inv, &p, &env());
        assert_eq!(ids(&f), ["key-too-old"]);
        assert!(f[0].message.contains("2518 days old"), "{}", f[0].message);
    }

    #[test]
    fn fido_keys_without_touch_warn() {
        let mut k = private("/h/.ssh/id_sk", "sk-ssh-ed25519@openssh.com", 256);
        k.facts.sk = Some(SkFacts::new("ssh:".to_owned(), Some(0x00)));
        k.facts.hardware_backed = true;
        let f = evaluate(
            &inventory(vec![k.clone()]),
            &Policy::builtin().unwrap(),
            &env(),
        );
        assert_eq!(ids(&f), ["sk-flags"]);
        k.facts.sk = Some(SkFacts::new("ssh:".to_owned(), Some(0x01)));
        assert!(evaluate(&inventory(vec![k]), &Policy::builtin().unwrap(), &env()).is_empty());
    }
}
