//! Property: whatever a user's policy file or `--policy FILE` says, the merged policy
//! is never looser than the organisation's, setting by setting. The check is
//! `policy::strictness::looser_than`, written apart from the merge.

#![allow(clippy::unwrap_used)]

use keycheck::policy::{self, strictness::looser_than, LayerKind, Policy, Source};
use proptest::prelude::*;

const ALGORITHMS: [&str; 6] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ssh-dss",
    "rsa1",
    "sk-ssh-ed25519@openssh.com",
];
const RULES: [&str; 6] = [
    "passphrase-missing",
    "rsa-below-minimum",
    "kdf-weak",
    "duplicate-key",
    "stray-private-key",
    "cache-unbounded",
];
const LEVELS: [&str; 4] = ["off", "info", "warn", "fail"];
const DURATIONS: [&str; 6] = ["5m", "15m", "1h", "2h", "8h", "30days"];
const PROFILES: [&str; 4] = ["laptop", "desktop", "mobile", "server"];

/// One random policy layer as TOML text; every setting may or may not be present.
fn layer() -> impl Strategy<Value = String> {
    let keys = (
        proptest::option::of(1024u32..8192),
        proptest::option::of(2048u32..16384),
        proptest::option::of(proptest::sample::subsequence(ALGORITHMS.to_vec(), 0..=6)),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(1u32..300),
        proptest::option::of(proptest::sample::select(DURATIONS.to_vec())),
        proptest::option::of((2020i32..2030, 1u8..13, 1u8..29)),
    );
    let files = (
        proptest::option::of(0u32..0o1000),
        proptest::option::of(0u32..0o1000),
        proptest::option::of(1u32..5),
        proptest::option::of(proptest::sample::subsequence(
            vec![".cache", "node_modules", "Downloads", ".rustup"],
            0..=4,
        )),
    );
    let cache = (
        proptest::option::of(proptest::sample::select(PROFILES.to_vec())),
        proptest::collection::vec(
            proptest::option::of(proptest::sample::select(DURATIONS.to_vec())),
            4,
        ),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(proptest::sample::select(vec!["info", "warn", "fail"])),
    );
    let rules = (
        proptest::collection::btree_map(
            proptest::sample::select(RULES.to_vec()),
            proptest::sample::select(LEVELS.to_vec()),
            0..4,
        ),
        proptest::option::of(any::<bool>()),
        proptest::collection::vec(
            (
                proptest::sample::select(RULES.to_vec()),
                proptest::sample::select(vec!["~/.ssh/*", "/tmp/**", "~/**"]),
            ),
            0..3,
        ),
    );
    (keys, files, cache, rules).prop_map(|(k, f, c, r)| {
        let mut t = String::from("version = 1\n");
        if let Some(p) = c.0 {
            t += &format!("profile = \"{p}\"\n");
        }
        t += "[keys]\n";
        if let Some(v) = k.0 {
            t += &format!("rsa_min_bits = {v}\n");
        }
        if let Some(v) = k.1 {
            t += &format!("rsa_recommended_bits = {v}\n");
        }
        if let Some(v) = k.2 {
            t += &format!("allowed_algorithms = {v:?}\n");
        }
        if let Some(v) = k.3 {
            t += &format!("passphrase_required = {v}\n");
        }
        if let Some(v) = k.4 {
            t += &format!("hardware_keys_exempt = {v}\n");
        }
        if let Some(v) = k.5 {
            t += &format!("bcrypt_min_rounds = {v}\n");
        }
        if let Some(v) = k.6 {
            t += &format!("max_age = \"{v}\"\n");
        }
        if let Some((y, m, d)) = k.7 {
            t += &format!("rsa_recommended_becomes_minimum = {y:04}-{m:02}-{d:02}\n");
        }
        t += "[files]\n";
        if let Some(v) = f.0 {
            t += &format!("key_mode = \"{v:04o}\"\n");
        }
        if let Some(v) = f.1 {
            t += &format!("ssh_dir_mode = \"{v:04o}\"\n");
        }
        if let Some(v) = f.2 {
            t += &format!("max_copies = {v}\n");
        }
        if let Some(v) = f.3 {
            t += &format!("exclude = {v:?}\n");
        }
        t += "[cache]\n";
        for (name, w) in ["laptop", "desktop", "mobile", "server"].iter().zip(&c.1) {
            if let Some(w) = w {
                t += &format!("{name} = \"{w}\"\n");
            }
        }
        if let Some(v) = c.2 {
            t += &format!("clear_at_logout = {v}\n");
        }
        if let Some(v) = c.3 {
            t += &format!("clear_at_lock = {v}\n");
        }
        if let Some(v) = c.4 {
            t += &format!("[notify]\nmin_severity = \"{v}\"\n");
        }
        t += "[rules]\n";
        for (rule, level) in &r.0 {
            t += &format!("\"{rule}\" = \"{level}\"\n");
        }
        if let Some(v) = r.1 {
            t += &format!("[exceptions]\nusers_may_add = {v}\n");
        }
        for (rule, path) in &r.2 {
            t += &format!(
                "[[exceptions.waive]]\npath = \"{path}\"\nrules = [\"{rule}\"]\nreason = \"r\"\nexpires = 2030-01-01\n"
            );
        }
        t
    })
}

fn merge(layers: &[(LayerKind, &str)]) -> Result<Policy, policy::Error> {
    let mut sources = vec![Source {
        kind: LayerKind::Builtin,
        name: "built-in policy",
        text: policy::BUILTIN,
    }];
    for (kind, text) in layers {
        sources.push(Source {
            kind: *kind,
            name: "layer.toml",
            text,
        });
    }
    Policy::from_sources(&sources)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    /// A user layer (and a `--policy` layer after it) never loosens what the built-in
    /// and organisation layers set.
    #[test]
    fn user_layers_never_loosen(org in proptest::option::of(layer()), user in layer(), cli in proptest::option::of(layer())) {
        let mut base_layers = Vec::new();
        if let Some(org) = &org {
            base_layers.push((LayerKind::Organisation, org.as_str()));
        }
        let base = merge(&base_layers);
        prop_assume!(base.is_ok());
        let base = base.unwrap();

        let mut all = base_layers.clone();
        all.push((LayerKind::User, user.as_str()));
        if let Some(cli) = &cli {
            all.push((LayerKind::CommandLine, cli.as_str()));
        }
        // A layer with its own mistakes is refused as a whole (keycheck exits 2); the
        // property is about layers that are valid.
        let merged = merge(&all);
        prop_assume!(merged.is_ok());
        let merged = merged.unwrap();
        let looser = looser_than(&merged, &base);
        prop_assert!(looser.is_empty(), "looser in {looser:?}\norg:\n{org:?}\nuser:\n{user}\ncli:\n{cli:?}");
    }

    /// The organisation's layer may set anything; the comparison itself is not trivially
    /// empty (so the property above can fail).
    #[test]
    fn an_organisation_may_loosen(org in layer()) {
        let merged = merge(&[(LayerKind::Organisation, org.as_str())]);
        prop_assume!(merged.is_ok());
        let merged = merged.unwrap();
        let base = merge(&[]).unwrap();
        let as_user = merge(&[(LayerKind::User, org.as_str())]).unwrap();
        prop_assert!(looser_than(&as_user, &base).is_empty());
        // Whatever the org loosened, the same text as a user layer was refused.
        for key in looser_than(&merged, &base) {
            prop_assert!(
                !as_user.ignored.is_empty() || key.starts_with("profile"),
                "{key} loosened by org but nothing ignored as user"
            );
        }
    }
}

#[test]
fn the_comparison_sees_each_kind_of_loosening() {
    let base = merge(&[]).unwrap();
    for text in [
        "[keys]\nrsa_min_bits = 1024\n",
        "[keys]\nallowed_algorithms = [\"ssh-dss\", \"ssh-ed25519\"]\n",
        "[cache]\nlaptop = \"8h\"\n",
        "[rules]\npassphrase-missing = \"off\"\n",
        "[files]\nkey_mode = \"0644\"\n",
        "[exceptions]\nusers_may_add = true\n",
        "profile = \"desktop\"\n[cache]\ndesktop = \"3h\"\n",
    ] {
        let org = merge(&[(LayerKind::Organisation, text)]).unwrap();
        assert!(!looser_than(&org, &base).is_empty(), "not seen: {text}");
        let user = merge(&[(LayerKind::User, text)]).unwrap();
        assert!(
            looser_than(&user, &base).is_empty(),
            "user loosened: {text}"
        );
        assert!(!user.ignored.is_empty(), "not reported: {text}");
    }
}
