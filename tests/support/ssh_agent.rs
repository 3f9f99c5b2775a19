//! A real OpenSSH `ssh-agent -D -a SOCKET` for the tests, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A foreground `ssh-agent` listening on `socket`.
pub struct SshAgent {
    child: Child,
    /// The agent's socket.
    pub socket: PathBuf,
}

impl SshAgent {
    /// Starts `ssh-agent [EXTRA] -D -a DIR/agent.sock` (a stale socket from an earlier
    /// agent is removed first) and waits until it listens.
    pub fn start(dir: &Path, extra: &[&str]) -> SshAgent {
        let socket = dir.join("agent.sock");
        let _ = std::fs::remove_file(&socket);
        let child = Command::new("ssh-agent")
            .args(extra)
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent must be installed: apt-get install openssh-client");
        super::wait_for_listener(&socket);
        SshAgent { child, socket }
    }

    /// The agent's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `ssh-add KEY` (no lifetime).
    pub fn add(&self, key: &Path) {
        super::run_ok(
            Command::new("ssh-add")
                .arg(key)
                .env("SSH_AUTH_SOCK", &self.socket)
                .stdin(Stdio::null()),
        );
    }

    /// What `ssh-add -l -E sha256` prints (its stdout, bounded in time).
    pub fn listed(&self) -> String {
        self.list().stdout
    }

    /// `ssh-add -l -E sha256`, bounded in time.
    pub fn list(&self) -> super::RunResult {
        super::run_with_deadline(
            Command::new("ssh-add")
                .args(["-l", "-E", "sha256"])
                .env("SSH_AUTH_SOCK", &self.socket),
            std::time::Duration::from_secs(10),
        )
    }
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
