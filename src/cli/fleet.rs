//! `keycheck fleet`: merge many devices' reports into the fleet's compliance.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use super::args::{FleetArgs, FleetFormat};
use keycheck::fleet::{render, Fleet};
use keycheck::report::sshsig::{self, AllowedSigners};
use keycheck::sys::fleet_input::{self, ReadOptions, SigCheck};
use keycheck::sys::state;

pub(super) fn run(args: &FleetArgs) -> Result<ExitCode> {
    let allowed = match &args.allowed_signers {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                AllowedSigners::parse(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            )
        }
        None if args.accept_unsigned => None,
        None => bail!(
            "reports are merged only with a valid signature: give --allowed-signers FILE, or --accept-unsigned to merge them unverified"
        ),
    };
    let accept_unsigned = args.accept_unsigned;
    let verify = |data: &[u8], signature: Option<&str>, host_id: &str| {
        match (&allowed, signature) {
            (Some(allowed), Some(sig)) => match sshsig::verify(data, sig, allowed, host_id) {
                Ok(_) => SigCheck::Verified,
                Err(e) => SigCheck::Refused(format!("signature refused: {e}")),
            },
            // Without an allowed_signers file nothing can be verified (--accept-unsigned).
            (None, _) => SigCheck::Accepted,
            (Some(_), None) if accept_unsigned => SigCheck::Accepted,
            (Some(_), None) => SigCheck::Refused(
                "unsigned (no .sig beside it); --accept-unsigned merges such reports".to_owned(),
            ),
        }
    };
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("merging reports {pos} read, {per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let tick = |n| bar.inc(n);
    let mut fleet = Fleet::default();
    let counts = fleet_input::read_into(
        &args.paths,
        ReadOptions {
            signatures: allowed.is_some(),
            ..ReadOptions::default()
        },
        &verify,
        &mut fleet,
        &tick,
    )?;
    bar.finish_and_clear();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let max_age = i64::try_from(args.max_age.as_secs()).unwrap_or(i64::MAX);
    let summary = fleet.summary(now, max_age);

    let mut out = Vec::new();
    match args.format {
        FleetFormat::Text => {
            render::text(&mut out, &summary)?;
            writeln!(
                out,
                "\nsignatures: {} verified, {} merged unverified",
                counts.verified, counts.unverified
            )?;
        }
        FleetFormat::Csv => render::csv(&mut out, &summary)?,
        FleetFormat::Json => render::json(&mut out, &summary)?,
        FleetFormat::Html => render::html(&mut out, &summary, "keycheck fleet compliance")?,
    }
    match &args.output {
        Some(path) => state::replace_file(path, &out)
            .with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&out)?,
    }
    Ok(if summary.reports_rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
