//! Rules on how a private key is protected: `passphrase-missing`, `passphrase-weak`,
//! `kdf-weak`, `legacy-pem-encryption`.

use super::{shell_quote, Ctx, Rule, Subject};
use crate::inventory::KeyRecord;
use crate::key::{Format, Kind};

pub(super) const EXPLAIN_MISSING: &str = "\
\"The private key must be protected with a passphrase.\" An unencrypted key file is the \
key itself: anyone who reads the file once (a backup, a stolen laptop, a malicious \
package) can use it forever. FIDO security keys (sk- algorithms) are exempt by default: \
their file holds only a handle, the secret stays on the token.";

pub(super) const EXPLAIN_WEAK: &str = "\
A passphrase that is on every list of common passwords protects nothing: it is the first \
thing an attacker with the key file tries. `keycheck check --try-common-passphrases` \
(opt-in) tries the empty passphrase and a few hundred of the most common ones against each \
encrypted key it can decrypt, holding whatever it decrypts in memory that is wiped at once. \
The finding never says which passphrase worked.";

pub(super) const EXPLAIN_KDF_WEAK: &str = "\
A passphrase only protects a stolen key file as long as guessing it is slow. OpenSSH \
stretches it with bcrypt ([keys] bcrypt_min_rounds; `ssh-keygen -a 100` is a good \
choice), PKCS#8 with PBKDF2 ([keys] pbkdf2_min_iterations; OpenSSL writes only 2048), \
PuTTY v3 with Argon2 ([keys] argon2_min_memory_kib). PuTTY v2 files use a single SHA-1 \
round. Rewriting the key with `ssh-keygen -p -a 100` keeps the key and strengthens the \
file.";

pub(super) const EXPLAIN_LEGACY: &str = "\
Legacy PEM encryption (Proc-Type: 4,ENCRYPTED), ssh.com and SSH-1 key files derive the \
cipher key from one MD5 hash of the passphrase, so guessing runs at billions of tries a \
second on one GPU. `ssh-keygen -p -a 100 -f KEY` rewrites the key in the OpenSSH format \
with bcrypt; the key itself does not change.";

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let keys = &ctx.policy.keys;
    let rounds = super::bcrypt_rounds(ctx.policy);
    for key in &ctx.inventory.keys {
        if key.facts.kind != Kind::Private {
            continue;
        }
        let subject = Subject::key(key);
        let f = &key.facts;
        if !f.encrypted {
            let exempt = f.hardware_backed && keys.hardware_keys_exempt;
            if keys.passphrase_required && !exempt {
                ctx.push(
                    Rule::PassphraseMissing,
                    subject,
                    "private key is not protected by a passphrase".to_owned(),
                    Some(reencrypt_command(key, rounds)),
                );
            }
            continue;
        }
        if let Some(crate::inventory::Audit::Weak { .. }) =
            ctx.inventory.passphrase_audit.get(&key.path)
        {
            ctx.push(
                Rule::PassphraseWeak,
                subject,
                "the passphrase is one of the most common passphrases; anyone with the file can open it".to_owned(),
                Some(format!(
                    "ssh-keygen -p -a {rounds} -f {} (choose a long passphrase of several random words)",
                    shell_quote(&key.path, key.file.path_escaped)
                )),
            );
        }
        let kdf = f.kdf.as_deref().unwrap_or("");
        if kdf == "md5" {
            let cipher = f.cipher.as_deref().unwrap_or("its cipher");
            ctx.push(
                Rule::LegacyPemEncryption,
                subject,
                format!("encrypted with {cipher} keyed by a single MD5 of the passphrase"),
                Some(reencrypt_command(key, rounds)),
            );
            continue;
        }
        let weak = match (kdf, f.kdf_rounds) {
            ("bcrypt", Some(n)) if n < keys.bcrypt_min_rounds => Some(format!(
                "bcrypt KDF uses {n} rounds; the policy requires at least {}",
                keys.bcrypt_min_rounds
            )),
            (k, Some(n)) if k.starts_with("pbkdf2") && n < keys.pbkdf2_min_iterations => {
                Some(format!(
                    "{k} uses {n} iterations; the policy requires at least {}",
                    keys.pbkdf2_min_iterations
                ))
            }
            (k, Some(n)) if k.starts_with("pbkdf1") => Some(format!(
                "PBES1 ({k}, {n} iterations) is obsolete and fast to guess"
            )),
            ("sha1", _) => Some(
                "PuTTY v2 key derives its cipher key from a single SHA-1 of the passphrase"
                    .to_owned(),
            ),
            (k, _) if k.starts_with("argon2") => f
                .kdf_memory_kib
                .filter(|m| *m < keys.argon2_min_memory_kib)
                .map(|m| {
                    format!(
                        "{k} uses {m} KiB of memory; the policy requires at least {}",
                        keys.argon2_min_memory_kib
                    )
                }),
            _ => None,
        };
        if let Some(message) = weak {
            ctx.push(
                Rule::KdfWeak,
                subject,
                message,
                Some(reencrypt_command(key, rounds)),
            );
        }
    }
}

/// The command that (re)writes the key with a passphrase and a strong KDF.
fn reencrypt_command(key: &KeyRecord, rounds: u32) -> String {
    let path = shell_quote(&key.path, key.file.path_escaped);
    match key.facts.format {
        Format::PuttyV2 | Format::PuttyV3 => {
            format!("puttygen {path} -P -o {path} --ppk-param version=3")
        }
        Format::Sshcom => format!(
            "puttygen {path} -O private-openssh-new -o {new} && ssh-keygen -p -a {rounds} -f {new}",
            new = shell_quote(&format!("{}.openssh", key.path), key.file.path_escaped)
        ),
        Format::Ssh1 => format!("puttygen {path} -P -o {path}"),
        _ => format!("ssh-keygen -p -a {rounds} -f {path}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::evaluate;
    use super::super::testkit::{encrypted, env, ids, inventory, private};
    use crate::finding::Finding;
    use crate::key::Format;
    use crate::policy::Policy;

    fn run(keys: Vec<crate::inventory::KeyRecord>) -> Vec<Finding> {
        evaluate(&inventory(keys), &Policy::builtin().unwrap(), &env())
    }

    #[test]
    fn unencrypted_key_fails_with_fix() {
        let f = run(vec![private("/h/.ssh/id_ed25519", "ssh-ed25519", 256)]);
        assert_eq!(ids(&f), ["passphrase-missing"]);
        assert_eq!(
            f[0].fix.as_deref(),
            Some("ssh-keygen -p -a 100 -f /h/.ssh/id_ed25519")
        );
        assert_eq!(
            f[0].fingerprint.as_deref(),
            Some("SHA256:/h/.ssh/id_ed25519")
        );
    }

    #[test]
    fn hardware_keys_are_exempt() {
        let mut sk = private("/k", "sk-ssh-ed25519@openssh.com", 256);
        sk.facts.hardware_backed = true;
        assert!(run(vec![sk.clone()]).is_empty());
        let strict = Policy::with_override("t", "[keys]\nhardware_keys_exempt = false\n").unwrap();
        let f = evaluate(&inventory(vec![sk]), &strict, &env());
        assert_eq!(ids(&f), ["passphrase-missing"]);
    }

    #[test]
    fn bcrypt_rounds() {
        assert_eq!(
            ids(&run(vec![encrypted(private("/k", "ssh-ed25519", 256), 8)])),
            ["kdf-weak"]
        );
        assert!(run(vec![encrypted(private("/k", "ssh-ed25519", 256), 16)]).is_empty());
    }

    #[test]
    fn legacy_pem_and_pbkdf2_and_putty() {
        let mut pem = private("/k", "ssh-rsa", 4096);
        pem.facts.format = Format::Pkcs1Pem;
        pem.facts.encrypted = true;
        pem.facts.cipher = Some("AES-128-CBC".to_owned());
        pem.facts.kdf = Some("md5".to_owned());
        pem.facts.kdf_rounds = Some(1);
        let f = run(vec![pem]);
        assert_eq!(ids(&f), ["legacy-pem-encryption"]);
        assert!(f[0].message.contains("AES-128-CBC"));

        let mut p8 = private("/k", "ssh-ed25519", 256);
        p8.facts.format = Format::Pkcs8EncryptedPem;
        p8.facts.encrypted = true;
        p8.facts.kdf = Some("pbkdf2-sha256".to_owned());
        p8.facts.kdf_rounds = Some(2048);
        let f = run(vec![p8.clone()]);
        assert_eq!(ids(&f), ["kdf-weak"]);
        assert!(f[0].message.contains("2048 iterations"));
        p8.facts.kdf_rounds = Some(600_000);
        assert!(run(vec![p8]).is_empty());

        let mut v2 = private("/k.ppk", "ssh-ed25519", 256);
        v2.facts.format = Format::PuttyV2;
        v2.facts.encrypted = true;
        v2.facts.kdf = Some("sha1".to_owned());
        let f = run(vec![v2]);
        assert_eq!(ids(&f), ["kdf-weak"]);
        assert!(f[0].fix.as_deref().unwrap().starts_with("puttygen /k.ppk"));

        let mut v3 = private("/k.ppk", "ssh-ed25519", 256);
        v3.facts.format = Format::PuttyV3;
        v3.facts.encrypted = true;
        v3.facts.kdf = Some("argon2id".to_owned());
        v3.facts.kdf_memory_kib = Some(8192);
        assert!(run(vec![v3.clone()]).is_empty());
        v3.facts.kdf_memory_kib = Some(1024);
        assert_eq!(ids(&run(vec![v3])), ["kdf-weak"]);
    }
}
