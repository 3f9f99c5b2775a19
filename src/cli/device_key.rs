//! `keycheck device-key show|sign` (hidden): a diagnostic for the per-device report
//! signing key. It finds or creates the key as `keycheck report` does and prints, as one
//! JSON document, where it is kept, its public key and fingerprint, and (with
//! `--principal`) its `allowed_signers` line. It never prints the private key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde::Serialize;

use keycheck::report::sshsig::Principal;
use keycheck::sys::device_key::{DeviceKey, Options, Store};

use super::DeviceKeyCommand;

#[derive(Serialize)]
struct Shown<'a> {
    schema: &'static str,
    store: &'a Store,
    #[serde(skip_serializing_if = "Option::is_none")]
    why_file: Option<&'a str>,
    created: bool,
    public_key: String,
    fingerprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    signer_line: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'a Path>,
}

pub(super) fn run(command: &DeviceKeyCommand) -> Result<ExitCode> {
    let (principal, file, output) = match command {
        DeviceKeyCommand::Show { principal } => (principal, None, None),
        DeviceKeyCommand::Sign {
            file,
            principal,
            output,
        } => (principal, Some(file), output.as_ref()),
    };
    let principal = principal
        .as_deref()
        .map(Principal::new)
        .transpose()
        .context("--principal")?;
    let key = DeviceKey::load_or_create(&Options::from_env()?).context("device key")?;
    let mut sig_path = None::<PathBuf>;
    if let Some(file) = file {
        let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let armored = key.sign(&data)?;
        let path = output.cloned().unwrap_or_else(|| {
            let mut name = file.as_os_str().to_owned();
            name.push(".sig");
            PathBuf::from(name)
        });
        std::fs::write(&path, armored).with_context(|| format!("writing {}", path.display()))?;
        sig_path = Some(path);
    }
    let shown = Shown {
        schema: "keycheck.device-key-show/v1",
        store: key.store(),
        why_file: key.why_file(),
        created: key.created(),
        public_key: key.public_key_text(),
        fingerprint: key.fingerprint(),
        signer_line: principal.as_ref().map(|p| key.signer_line(p)),
        signature: sig_path.as_deref(),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &shown)?;
    use std::io::Write as _;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}
