//! The policy reader (`policy::Policy::from_sources`: TOML with spans, validation, the
//! tighten-only merge) and `policy show`. The input is one or two policy files split at
//! the first NUL byte: the organisation's, then the user's.
//!
//! Invariants: every diagnostic names its file; what `show` prints parses again to the
//! same policy; and a user layer never makes the policy looser than the organisation's.
#![no_main]

use keycheck::policy::{strictness, LayerKind, Policy, Source, BUILTIN};
use keycheck::rules::Rule;
use libfuzzer_sys::fuzz_target;

fn sources<'a>(org: &'a str, user: Option<&'a str>) -> Vec<Source<'a>> {
    let mut sources = vec![
        Source {
            kind: LayerKind::Builtin,
            name: "built-in policy",
            text: BUILTIN,
        },
        Source {
            kind: LayerKind::Organisation,
            name: "org.toml",
            text: org,
        },
    ];
    if let Some(user) = user {
        sources.push(Source {
            kind: LayerKind::User,
            name: "user.toml",
            text: user,
        });
    }
    sources
}

fn same(a: &Policy, b: &Policy) {
    assert_eq!(a.profile, b.profile);
    assert_eq!(a.keys, b.keys);
    assert_eq!(a.files, b.files);
    assert_eq!(a.cache, b.cache);
    assert_eq!(a.notify, b.notify);
    assert_eq!(a.report, b.report);
    for rule in Rule::ALL {
        assert_eq!(a.severity(rule), b.severity(rule), "{}", rule.id());
    }
    assert_eq!(a.exceptions.users_may_add, b.exceptions.users_may_add);
    assert_eq!(a.exceptions.waive.len(), b.exceptions.waive.len());
    for (x, y) in a.exceptions.waive.iter().zip(&b.exceptions.waive) {
        assert_eq!(
            (&x.path, &x.fingerprint, &x.rules, &x.reason, x.expires),
            (&y.path, &y.fingerprint, &y.rules, &y.reason, y.expires)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (org, user) = match text.split_once('\0') {
        Some((org, user)) => (org, Some(user)),
        None => (&*text, None),
    };
    let org_only = Policy::from_sources(&sources(org, None));
    match &org_only {
        Ok(policy) => {
            let shown = policy.show();
            let again = Policy::with_override("shown.toml", &shown)
                .unwrap_or_else(|e| panic!("`policy show` output does not parse: {e}\n{shown}"));
            same(policy, &again);
            let _ = policy.cache_window();
        }
        Err(e) => {
            assert!(!e.diagnostics().is_empty());
            for d in e.diagnostics() {
                assert!(d.at.starts_with("org.toml"), "{d}");
                assert!(!d.to_string().is_empty());
            }
        }
    }
    if let Some(user) = user {
        let layered = Policy::from_sources(&sources(org, Some(user)));
        if let (Ok(base), Ok(merged)) = (&org_only, &layered) {
            let looser = strictness::looser_than(merged, base);
            assert!(looser.is_empty(), "the user's layer loosened {looser:?}");
            let _ = merged.show();
        }
    }
});
