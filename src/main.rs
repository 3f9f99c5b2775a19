//! The `keycheck` command: parse arguments, run the subcommand, return its exit code.

#[allow(clippy::disallowed_macros)] // the command line is the one place that prints
mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
