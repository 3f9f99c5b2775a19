//! One pass of keycheck's agent check: connect to an ssh-agent (with the trust checks of
//! `keycheck::sys::ssh_agent::connect`) and list the identities it holds, printed the way
//! `ssh-add -l -E sha256` prints them so the two can be compared line for line. Used by
//! `bench/agent-pass.sh`.
//!
//! ```text
//! cargo run --release --example agent_pass -- [SOCKET] [--quiet]
//! ```
//!
//! SOCKET defaults to `$SSH_AUTH_SOCK`. Exit status as ssh-add's: 0 when the agent holds
//! keys, 1 when it holds none, 2 on an error.

#![allow(clippy::disallowed_macros)]

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use keycheck::sys::ssh_agent::{connect, ConnectOptions};

fn main() -> ExitCode {
    let mut socket = None;
    let mut quiet = false;
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--quiet") => quiet = true,
            Some(flag) if flag.starts_with("--") => {
                eprintln!("agent_pass: unknown option {flag}");
                return ExitCode::from(2);
            }
            _ => socket = Some(PathBuf::from(arg)),
        }
    }
    let Some(socket) = socket.or_else(|| std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from))
    else {
        eprintln!("usage: agent_pass [SOCKET] [--quiet] (or set SSH_AUTH_SOCK)");
        return ExitCode::from(2);
    };
    let identities = match connect(&socket, &ConnectOptions::default())
        .and_then(|mut conn| conn.list_identities())
    {
        Ok(identities) => identities,
        Err(e) => {
            eprintln!("agent_pass: {e}");
            return ExitCode::from(2);
        }
    };
    if identities.is_empty() {
        if !quiet {
            println!("The agent has no identities.");
        }
        return ExitCode::from(1);
    }
    if !quiet {
        // One write for the whole list (stdout is line-buffered), so the syscall count
        // measures the agent pass, not the printing.
        let mut out = BufWriter::new(std::io::stdout().lock());
        for id in &identities {
            let _ = writeln!(
                out,
                "{} {} {} ({})",
                id.bits.map_or_else(|| "?".to_owned(), |b| b.to_string()),
                id.fingerprint.as_deref().unwrap_or("?"),
                id.comment,
                id.ssh_add_type(),
            );
        }
        let _ = out.flush();
    }
    ExitCode::SUCCESS
}
