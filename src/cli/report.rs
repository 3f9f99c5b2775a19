//! EDGE: `keycheck report`: the default check (`~/.ssh`, the ssh config, the agents, the
//! policy's search paths), judged the same way, written as a `keycheck.report/v1`
//! document for a fleet: to stdout, or atomically to a 0600 file.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::{ReportArgs, ReportFormat};
use keycheck::finding::Severity;
use keycheck::report::export::{lines, Context, KeyStore, Report, Signing};
use keycheck::report::sshsig::{Principal, NAMESPACE};
use keycheck::rules::{self, Env};
use keycheck::sys::device_key::{self, DeviceKey, Store};
use keycheck::sys::gather::{self, GatherOptions, Gathered};
use keycheck::sys::{db, host, scan, state};

/// Directory levels below each root, as `keycheck check` descends by default.
const MAX_DEPTH: usize = 8;

pub(super) fn run(args: &ReportArgs) -> Result<ExitCode> {
    let policy = super::policy::load(args.policy.as_deref())?;
    // Before the scan: a host that cannot be identified has no report to write.
    let host = host::host(state::state_dir().as_deref())?;
    let principal = Principal::new(&host.id)
        .map_err(|e| anyhow::anyhow!("the host id cannot be a signer name: {e}"))?;
    if args.signer_line {
        let key = device_key()?;
        println!("{}", key.signer_line(&principal));
        return Ok(ExitCode::SUCCESS);
    }
    // JSON is signed when it goes to a file (FILE.sig beside it) or a signature file is
    // named; the lines formats are for log shippers and are not signed.
    let signature_path = match (&args.format, args.no_sign, &args.signature, &args.output) {
        (ReportFormat::Json, false, Some(sig), _) => Some(sig.clone()),
        (ReportFormat::Json, false, None, Some(out)) => {
            let mut p = out.as_os_str().to_owned();
            p.push(".sig");
            Some(std::path::PathBuf::from(p))
        }
        _ => None,
    };
    let signer = match signature_path {
        Some(_) => Some(device_key()?),
        None => None,
    };
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    let options = GatherOptions {
        paths: Vec::new(),
        home: home.clone(),
        max_depth: MAX_DEPTH,
        search_home: false,
        progress: true,
    };
    let Gathered {
        inventory,
        notes,
        roots,
    } = gather::gather(&policy, &options, None)?;
    for note in notes {
        eprintln!("keycheck: {note}");
    }
    let now = time::OffsetDateTime::now_utc();
    let env = Env {
        uid: rustix::process::geteuid().as_raw(),
        today: now.date(),
        now: u64::try_from(now.unix_timestamp()).unwrap_or(0),
        home: home.as_deref().map(scan::display_path),
    };
    let evaluation = rules::judge(&inventory, &policy, &env);
    let context = Context {
        host,
        user: host::user(),
        // Whole seconds: the report says when, not how long the scan took.
        generated_at: now.replace_nanosecond(0).unwrap_or(now),
        roots,
    };
    let mut report = Report::build(context, &policy, &inventory, &evaluation)?;
    if let Some(key) = &signer {
        report.signing = Some(Signing {
            namespace: NAMESPACE.to_owned(),
            principal: principal.as_str().to_owned(),
            public_key: key.public_key_text(),
            fingerprint: key.fingerprint(),
            key_store: match key.store() {
                Store::SecretService => KeyStore::SecretService,
                Store::Keychain => KeyStore::Keychain,
                Store::File { .. } => KeyStore::File,
            },
        });
    }

    let bytes = match args.format {
        ReportFormat::Json => report.to_json()?,
        ReportFormat::Ndjson => {
            let mut out = Vec::new();
            lines::write_ndjson(&mut out, &report)?;
            out
        }
        ReportFormat::Csv => {
            let mut out = Vec::new();
            lines::write_csv(&mut out, &report)?;
            out
        }
    };
    // The same facts for osquery (keycheck.db in the state dir); a failure there does not
    // stop the report.
    if let Some(dir) = state::state_dir() {
        let ctx = db::DbContext {
            host_id: report.host.id.clone(),
            user: report
                .user
                .name
                .clone()
                .unwrap_or_else(|| report.user.uid.to_string()),
            generated_at: rfc3339(report.generated_at),
            policy_profile: policy.profile.as_str().to_owned(),
        };
        if let Err(e) = db::write(&dir, &ctx, &inventory, &evaluation.findings) {
            eprintln!("keycheck: {e}");
        }
    }
    match &args.output {
        Some(path) => state::replace_file(path, &bytes)
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .context("writing the report")?;
        }
    }
    // Then its signature. Until it is replaced too, the old .sig does not verify the new
    // report: a reader in between sees a refusal, never a forged acceptance.
    if let (Some(key), Some(sig_path)) = (&signer, &signature_path) {
        let sig = key.sign(&bytes)?;
        state::replace_file(sig_path, sig.as_bytes())
            .with_context(|| format!("writing the signature to {}", sig_path.display()))?;
        if key.created() {
            if let Some(why) = key.why_file() {
                eprintln!("keycheck: this device's signing key was created in a file: {why}");
            }
        }
    }
    let failed = report.findings.iter().any(|f| f.severity == Severity::Fail);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// This device's signing key, found or created.
fn device_key() -> Result<DeviceKey> {
    let options = device_key::Options::from_env()?;
    Ok(DeviceKey::load_or_create(&options)?)
}
