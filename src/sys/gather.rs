//! EDGE: everything a check looks at, gathered into one [`Inventory`]: the key files
//! under `~/.ssh` (or the given paths), and on the default run the ssh client's
//! configuration (`ssh -G`), `authorized_keys`, the user's ssh-agents, the keys `IdentityFile` names
//! outside `~/.ssh`, the policy's `[files] search` paths and, when asked, the whole home tree.
//! `keycheck check` and the background agent both start here.

use std::path::{Path, PathBuf};

use crate::inventory::{FileError, Found, Inventory};
use crate::policy::Policy;
use crate::report::export::Root;
use crate::sshconfig::ConfigProblem;
use crate::sys::cache_pass;
use crate::sys::scan::{self, InspectCache, RootError, ScanOptions};
use crate::sys::search::{self, SearchError, SearchOptions};
use crate::sys::sshconfig;

/// What to gather.
#[derive(Debug, Clone, Default)]
pub struct GatherOptions {
    /// Files or directories to check; empty means the default run (`~/.ssh` and beyond).
    pub paths: Vec<PathBuf>,
    /// The home directory, when known.
    pub home: Option<PathBuf>,
    /// Directory levels below each root to descend.
    pub max_depth: usize,
    /// Also search the whole home directory for private keys.
    pub search_home: bool,
    /// Show a progress bar on stderr while searching.
    pub progress: bool,
}

/// What was gathered, and what could not be looked at (one line each, for the user).
#[derive(Debug, Default)]
pub struct Gathered {
    /// The facts.
    pub inventory: Inventory,
    /// Parts skipped as a whole, such as an ssh config that `ssh -G` could not read.
    pub notes: Vec<String>,
    /// What was looked at, and why: the roots scanned, the key files the ssh config
    /// names outside them, the search roots.
    pub roots: Vec<Root>,
}

/// Gathering could not start or a root could not be examined.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// No paths were given and the home directory is unknown.
    #[error("cannot find your home directory; give the paths to check")]
    NoHome,
    /// A root given could not be scanned.
    #[error(transparent)]
    Root(#[from] RootError),
    /// The home search could not start.
    #[error(transparent)]
    Search(#[from] SearchError),
}

/// Gathers the facts to judge. `cache` (kept between calls by a long-running caller)
/// spares re-reading key files that did not change.
///
/// # Errors
/// [`GatherError`] when there is nothing to start from or a given root cannot be
/// examined. Unreadable files and a broken ssh config are entries or notes, not errors.
pub fn gather(
    policy: &Policy,
    options: &GatherOptions,
    mut cache: Option<&mut InspectCache>,
) -> Result<Gathered, GatherError> {
    let home = options.home.as_deref();
    let mut notes = Vec::new();
    let default_run = options.paths.is_empty();
    let roots: Vec<PathBuf> = if default_run {
        let dot_ssh = home.ok_or(GatherError::NoHome)?.join(".ssh");
        if dot_ssh.exists() {
            vec![dot_ssh]
        } else {
            notes.push(format!(
                "{} does not exist: no SSH keys to check",
                dot_ssh.display()
            ));
            Vec::new()
        }
    } else {
        options.paths.clone()
    };
    let scan_options = ScanOptions {
        max_depth: options.max_depth,
        ..ScanOptions::default()
    };
    if let Some(c) = cache.as_deref_mut() {
        c.begin_round();
    }
    let mut inventory = scan::scan_cached(&roots, scan_options, cache.as_deref_mut())?;
    let mut looked_at: Vec<Root> = roots.iter().map(|p| root(p, Found::Scan)).collect();
    if let Some(home) = home {
        let dot_ssh = home.join(".ssh");
        inventory.ssh_dir = Some(scan::display_path(&dot_ssh));
        let mut identity_files = Vec::new();
        if default_run {
            let (files, errors) = scan::read_authorized_keys(&dot_ssh);
            inventory.authorized_keys = files;
            inventory.errors.extend(errors);
            match sshconfig::read_ssh_config(Path::new("ssh"), home, None) {
                Ok(config) => {
                    // No ~/.ssh/config at all is normal: ssh uses its defaults.
                    let absent = !Path::new(&config.config).exists();
                    for problem in &config.problems {
                        let about_main = problem.file.as_deref() == Some(config.config.as_str());
                        if !(absent && about_main && problem.hosts.is_empty()) {
                            inventory.errors.push(config_problem(problem));
                        }
                    }
                    identity_files = config.identity_files.iter().map(PathBuf::from).collect();
                    inventory.ssh_config = Some(config);
                }
                Err(e) => notes.push(format!("ssh config not checked: {e}")),
            }
            let uid = rustix::process::geteuid().as_raw();
            inventory.agents = cache_pass::agent_sockets(Some(home), inventory.ssh_config.as_ref())
                .iter()
                .map(|socket| cache_pass::agent_facts(socket, uid))
                .collect();
            let named: Vec<PathBuf> = identity_files
                .iter()
                .filter(|p| p.is_file() && !p.starts_with(&dot_ssh))
                .cloned()
                .collect();
            looked_at.extend(named.iter().map(|p| root(p, Found::IdentityFile)));
            if !named.is_empty() {
                let found = scan::scan_cached(&named, scan_options, cache.as_deref_mut())?;
                inventory.absorb(found, Found::IdentityFile);
            }
        }
        let mut search_roots: Vec<PathBuf> = policy
            .files
            .search
            .iter()
            .map(|p| match p.strip_prefix("~/") {
                Some(rest) => home.join(rest),
                None => PathBuf::from(p),
            })
            .filter(|p| p.exists())
            .collect();
        if options.search_home {
            search_roots.insert(0, home.to_path_buf());
        }
        if (default_run || options.search_home) && !search_roots.is_empty() {
            let search_options = SearchOptions {
                exclude: policy.files.exclude.clone(),
                skip: vec![dot_ssh.clone()],
                identity_files,
                progress: options.progress,
                ..SearchOptions::default()
            };
            looked_at.extend(search_roots.iter().map(|p| root(p, Found::Search)));
            let found = search::search(&search_roots, &search_options)?;
            inventory.absorb(found.inventory, Found::Search);
        }
    }
    if let Some(c) = cache {
        c.end_round();
    }
    Ok(Gathered {
        inventory,
        notes,
        roots: looked_at,
    })
}

fn root(path: &Path, found_by: Found) -> Root {
    Root {
        path: scan::display_path(path),
        found_by,
    }
}

/// A part of the ssh config that could not be read, as an error entry.
fn config_problem(p: &ConfigProblem) -> FileError {
    let path = match (&p.file, p.line) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        (Some(file), None) => file.clone(),
        (None, _) => "ssh config".to_owned(),
    };
    let hosts = if p.hosts.is_empty() {
        String::new()
    } else {
        format!(" (settings of {} not checked)", p.hosts.join(", "))
    };
    FileError {
        path,
        error: format!("{}{hosts}", p.reason),
    }
}
