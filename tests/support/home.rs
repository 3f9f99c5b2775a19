//! A temp HOME with an empty `~/.ssh`, keys from the real `ssh-keygen` in it, and
//! keycheck run against it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::set_mode;

/// A temp HOME with an empty `~/.ssh` (mode 0700).
pub struct Home {
    /// The temp directory that is HOME.
    pub dir: tempfile::TempDir,
}

impl Home {
    /// A fresh one.
    pub fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let ssh = dir.path().join(".ssh");
        fs::create_dir(&ssh).unwrap();
        set_mode(&ssh, 0o700);
        Home { dir }
    }

    /// `~/.ssh`.
    pub fn ssh(&self) -> PathBuf {
        self.dir.path().join(".ssh")
    }

    /// `ssh-keygen -N PASSPHRASE -f ~/.ssh/NAME` plus extra args (`-t TYPE`, `-b BITS`).
    pub fn keygen(&self, name: &str, args: &[&str], passphrase: &str) -> PathBuf {
        let path = self.ssh().join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-C", "test@keycheck", "-N", passphrase, "-f"])
            .arg(&path)
            .args(args)
            .output()
            .expect("ssh-keygen must be installed: apt-get install openssh-client");
        assert!(
            out.status.success(),
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    /// keycheck with HOME, the config dir and the organisation policy inside the temp HOME.
    pub fn keycheck(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_keycheck"))
            .args(args)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join(".config"))
            .env(
                "KEYCHECK_ORG_POLICY",
                self.dir.path().join("org-policy.toml"),
            )
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// keycheck in a real terminal (a private tmux server), with the environment of
    /// [`Home::keycheck`].
    pub fn keycheck_in_terminal(&self, args: &[&str]) -> super::tmux::Tmux {
        self.keycheck_in_terminal_with(args, &[])
    }

    /// [`Home::keycheck_in_terminal`] with more variables in the environment.
    pub fn keycheck_in_terminal_with(
        &self,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> super::tmux::Tmux {
        let home = self.dir.path();
        let config = home.join(".config");
        let org = home.join("org-policy.toml");
        let mut env: Vec<(&str, &std::path::Path)> = vec![
            ("HOME", home),
            ("XDG_CONFIG_HOME", &config),
            ("KEYCHECK_ORG_POLICY", &org),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, std::path::Path::new(*v))));
        super::tmux::Tmux::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_keycheck")),
            args,
            &env,
        )
    }

    /// `keycheck check --format json ARGS`: the exit code and the document.
    pub fn json(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["check", "--format", "json"];
        all.extend_from_slice(args);
        let out = self.keycheck(&all);
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code().unwrap(), doc)
    }

    /// Every file and directory under HOME: its mode and, for files, its bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, (u32, Option<Vec<u8>>)> {
        let mut all = BTreeMap::new();
        let mut todo = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = todo.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = fs::symlink_metadata(&path).unwrap();
                let mode = meta.permissions().mode();
                if meta.is_dir() {
                    todo.push(path.clone());
                    all.insert(path, (mode, None));
                } else {
                    all.insert(path.clone(), (mode, Some(fs::read(&path).unwrap())));
                }
            }
        }
        all
    }
}
