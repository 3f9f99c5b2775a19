//! PURE: compares two policies setting by setting. Written apart from the merge on
//! purpose: the property test checks the merge against this plain reading of "tighter",
//! and the fleet view can use it to flag hosts whose policy is looser than the
//! organisation's.

use super::Policy;
use crate::rules::Rule;

/// The settings in which `policy` is looser than `base`, as `key: why` lines; empty
/// when `policy` is at least as strict everywhere.
#[must_use]
pub fn looser_than(policy: &Policy, base: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |ok: bool, key: &str| {
        if !ok {
            out.push(key.to_owned());
        }
    };
    let (k, b) = (&policy.keys, &base.keys);
    check(
        k.allowed_algorithms
            .iter()
            .all(|a| b.allowed_algorithms.contains(a)),
        "keys.allowed_algorithms",
    );
    check(k.rsa_min_bits >= b.rsa_min_bits, "keys.rsa_min_bits");
    check(
        k.rsa_recommended_bits >= b.rsa_recommended_bits,
        "keys.rsa_recommended_bits",
    );
    check(
        match (
            k.rsa_recommended_becomes_minimum,
            b.rsa_recommended_becomes_minimum,
        ) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(p), Some(q)) => p <= q,
        },
        "keys.rsa_recommended_becomes_minimum",
    );
    check(
        k.passphrase_required || !b.passphrase_required,
        "keys.passphrase_required",
    );
    check(
        !k.hardware_keys_exempt || b.hardware_keys_exempt,
        "keys.hardware_keys_exempt",
    );
    check(
        k.bcrypt_min_rounds >= b.bcrypt_min_rounds,
        "keys.bcrypt_min_rounds",
    );
    check(
        k.pbkdf2_min_iterations >= b.pbkdf2_min_iterations,
        "keys.pbkdf2_min_iterations",
    );
    check(
        k.argon2_min_memory_kib >= b.argon2_min_memory_kib,
        "keys.argon2_min_memory_kib",
    );
    check(
        match (k.max_age, b.max_age) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(p), Some(q)) => p <= q,
        },
        "keys.max_age",
    );

    check(
        k.certificate_expiry_warning >= b.certificate_expiry_warning,
        "keys.certificate_expiry_warning",
    );

    let (f, g) = (&policy.files, &base.files);
    check(f.key_mode & !g.key_mode == 0, "files.key_mode");
    check(f.ssh_dir_mode & !g.ssh_dir_mode == 0, "files.ssh_dir_mode");
    check(f.max_copies <= g.max_copies, "files.max_copies");
    check(
        g.search.iter().all(|p| f.search.contains(p)),
        "files.search",
    );
    check(
        f.exclude.iter().all(|p| g.exclude.contains(p)),
        "files.exclude",
    );

    let (c, d) = (&policy.cache, &base.cache);
    check(c.laptop <= d.laptop, "cache.laptop");
    check(c.desktop <= d.desktop, "cache.desktop");
    check(c.mobile <= d.mobile, "cache.mobile");
    check(c.server <= d.server, "cache.server");
    check(
        policy.cache_window() <= base.cache_window(),
        "profile (cache window)",
    );
    check(
        base.profile != super::Profile::Server || policy.profile == super::Profile::Server,
        "profile",
    );
    check(
        c.clear_at_logout || !d.clear_at_logout,
        "cache.clear_at_logout",
    );
    check(c.clear_at_lock || !d.clear_at_lock, "cache.clear_at_lock");

    check(
        policy.notify.min_severity <= base.notify.min_severity,
        "notify.min_severity",
    );
    check(
        policy.notify.repeat_after <= base.notify.repeat_after,
        "notify.repeat_after",
    );

    for rule in Rule::ALL {
        let level = |p: &Policy| p.severity(rule).map_or(0, |s| s as u8 + 1);
        check(level(policy) >= level(base), rule.id());
    }

    check(
        policy.exceptions.users_may_add <= base.exceptions.users_may_add,
        "exceptions.users_may_add",
    );
    check(
        base.exceptions.users_may_add
            || policy
                .exceptions
                .waive
                .iter()
                .all(|e| base.exceptions.waive.contains(e)),
        "exceptions.waive",
    );
    out
}
