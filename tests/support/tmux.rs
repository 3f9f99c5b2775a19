//! A real terminal for interactive commands: a private tmux server (its own socket) runs
//! the command in a pane; tests type into it with `send-keys` and read the screen with
//! `capture-pane`.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long to wait for text to appear (ssh-keygen's bcrypt takes a while on a busy
/// machine).
const WAIT: Duration = Duration::from_secs(60);

/// The marker printed after the command, with its exit status.
const EXIT: &str = "KEYCHECK-TEST-EXIT=";

/// A tmux server running one command in a 250×100 pane.
pub struct Tmux {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    /// Occurrences of each expected text already consumed.
    seen: HashMap<String, usize>,
}

/// Quotes `s` for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Tmux {
    /// Starts `program args` with exactly the environment `env` (plus PATH and LANG) in
    /// a new terminal.
    pub fn start(program: &Path, args: &[&str], env: &[(&str, &Path)]) -> Tmux {
        super::require_tool("tmux", "tmux");
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("tmux.sock");
        let mut line = String::from("env -i");
        for (name, value) in env {
            line.push_str(&format!(" {name}={}", quote(value.to_str().unwrap())));
        }
        let path = std::env::var("PATH").unwrap_or_default();
        line.push_str(&format!(
            " PATH={} LANG=C.UTF-8 NO_COLOR=1 TERM=xterm",
            quote(&path)
        ));
        line.push(' ');
        line.push_str(&quote(program.to_str().unwrap()));
        for arg in args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        line.push_str(&format!("; echo {EXIT}$?; sleep 3600"));
        let status = Command::new("tmux")
            .env("TERM", "xterm")
            .arg("-S")
            .arg(&socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "250",
                "-y",
                "100",
            ])
            .arg(&line)
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        Tmux {
            _dir: dir,
            socket,
            seen: HashMap::new(),
        }
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.env("TERM", "xterm").arg("-S").arg(&self.socket);
        cmd
    }

    /// The whole screen and its history, wrapped lines joined.
    pub fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-J", "-S", "-2000"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until `text` appears once more than it did when last expected; returns the
    /// screen. Fails the test with the screen when it does not come.
    pub fn expect(&mut self, text: &str) -> String {
        let want = self.seen.get(text).copied().unwrap_or(0) + 1;
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= want {
                self.seen.insert(text.to_owned(), want);
                return screen;
            }
            assert!(
                started.elapsed() < WAIT,
                "{text:?} did not appear within {WAIT:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `text` and Enter.
    pub fn type_line(&self, text: &str) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", "0", "-l", text])
            .status()
            .unwrap();
        assert!(status.success());
        self.key("Enter");
    }

    /// Presses a key by its tmux name (`Enter`, `C-c`).
    pub fn key(&self, name: &str) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", "0", name])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the command to end; its exit status and the screen.
    pub fn exit(&mut self) -> (i32, String) {
        let screen = self.expect(EXIT);
        let code = screen
            .lines()
            .find_map(|l| l.trim().strip_prefix(EXIT))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or_else(|| panic!("no exit status on the screen:\n{screen}"));
        (code, screen)
    }

    /// The pid of the command running in the pane (a child of the pane's shell).
    pub fn command_pid(&self) -> u32 {
        let out = self
            .tmux()
            .args(["display-message", "-p", "-t", "0", "#{pane_pid}"])
            .output()
            .unwrap();
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let children = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
        let text = String::from_utf8_lossy(&children.stdout).into_owned();
        let pids: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        assert_eq!(
            pids.len(),
            1,
            "one command under the pane's shell: {text:?}"
        );
        pids[0]
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}
