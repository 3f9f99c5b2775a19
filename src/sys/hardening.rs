//! EDGE: keeping key material in memory out of reach: no core dumps, and (Linux) not
//! dumpable, which also refuses ptrace attach by other processes of the same user.
//!
//! Every command that reads private key bytes or the device's signing key calls
//! [`harden`] before it does.

/// Disables core dumps (soft and hard limit 0, inherited by children such as
/// `ssh-keygen`) and, on Linux, marks the process not dumpable. Returns what could not
/// be done, one phrase each (the process runs on either way).
#[must_use]
pub fn harden() -> Vec<String> {
    let mut problems = Vec::new();
    let zero = rustix::process::Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Core, zero) {
        problems.push(format!("could not disable core dumps: {e}"));
    }
    #[cfg(target_os = "linux")]
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        problems.push(format!("could not mark the process not dumpable: {e}"));
    }
    problems
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn a_hardened_process_has_no_core_limit_and_is_not_dumpable() {
        // In a child process: the test runner itself must stay as it is.
        let exe = std::env::current_exe().unwrap_or_default();
        if std::env::var_os("KEYCHECK_HARDEN_CHILD").is_some() {
            assert!(super::harden().is_empty());
            let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
            let core = limits
                .lines()
                .find(|l| l.starts_with("Max core file size"))
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>();
            assert_eq!(core.get(4..6), Some(&["0", "0"][..]), "{limits}");
            assert_eq!(
                rustix::process::dumpable_behavior().ok(),
                Some(rustix::process::DumpableBehavior::NotDumpable)
            );
            return;
        }
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "sys::hardening::tests::a_hardened_process_has_no_core_limit_and_is_not_dumpable",
                "--test-threads=1",
            ])
            .env("KEYCHECK_HARDEN_CHILD", "1")
            .output()
            .expect("run the test binary");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "the child ran the test: {text}");
    }
}
