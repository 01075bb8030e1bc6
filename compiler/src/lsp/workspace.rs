//! The files the language server checks together, and the check itself.
//!
//! The workspace is one topology: the `*.toml` topology files under the
//! workspace folders (or the paths named in the settings), read from disk,
//! with the editor's text for the open ones. An open topology file outside
//! that set is checked on its own, as `vigil check FILE` would.
//!
//! Every check goes through [`crate::pipeline::check_loaded`], the same
//! load → resolve → lint path as `vigil check`; only parsing is cached here,
//! per file and text, so an edit re-parses the edited file alone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::load::{Loaded, ParsedFile};
use crate::model::Cluster;
use crate::source::{FileId, SourceMap};

/// The top-level tables of a topology file.
pub const TOP_LEVEL: [&str; 6] = [
    "cluster",
    "segment",
    "host",
    "router",
    "sync_group",
    "virtual_server",
];

/// Directories never searched for topology files.
const SKIPPED_DIRS: [&str; 3] = ["target", "node_modules", "result"];
/// How deep under a workspace folder files are searched.
const MAX_DEPTH: usize = 8;

/// Whether a `*.toml` text is a topology file: it names the topology
/// schema in a `#:schema` line, or one of its top-level keys or table
/// headers is a topology table (`[router.www]`, `host.web1.…`). `Cargo.toml`
/// and other TOML files of a repository are not.
pub fn looks_like_topology(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        if line.starts_with("#:schema") {
            return line.contains("topology.schema.json");
        }
        let rest = line.trim_start_matches('[').trim_start();
        TOP_LEVEL.iter().any(|name| {
            rest.strip_prefix(name).is_some_and(|after| {
                let after = after.trim_start();
                after.starts_with('.') || after.starts_with(']') || after.starts_with('=')
            })
        })
    })
}

/// One open document.
#[derive(Clone, Debug)]
pub struct Document {
    /// The URI as the client wrote it (diagnostics are published to it).
    pub uri: String,
    pub text: String,
}

/// One set of files checked together and what the check found.
#[derive(Debug, Default)]
pub struct Project {
    /// The files, in load order; `FileId(i)` is `paths[i]`.
    pub paths: Vec<PathBuf>,
    pub sources: SourceMap,
    pub cluster: Option<Cluster>,
    pub diagnostics: Vec<Diagnostic>,
    /// The files' keys and string values, for editor features.
    pub items: std::sync::OnceLock<Vec<(FileId, Vec<super::syntax::Item>)>>,
}

impl Project {
    pub fn file_of(&self, path: &Path) -> Option<FileId> {
        self.paths
            .iter()
            .position(|p| p == path)
            .map(|i| FileId(i as u32))
    }
    pub fn path_of(&self, file: FileId) -> Option<&Path> {
        self.paths.get(file.0 as usize).map(PathBuf::as_path)
    }
}

/// A parse kept for as long as the file's text does not change.
struct Cached {
    parsed: ParsedFile,
}

#[derive(Default)]
pub struct Workspace {
    /// Workspace folders (absolute).
    pub roots: Vec<PathBuf>,
    /// Paths from the settings (files, or directories standing for their
    /// `*.toml`); `None`: search the roots.
    pub configured: Option<Vec<PathBuf>>,
    /// Topology files found on disk, with their bytes.
    disk: BTreeMap<PathBuf, Vec<u8>>,
    /// Files named in the settings that could not be read, with why.
    pub unreadable: Vec<(PathBuf, String)>,
    pub open: BTreeMap<PathBuf, Document>,
    cache: HashMap<PathBuf, Cached>,
    pub projects: Vec<Project>,
}

impl Workspace {
    /// Re-reads the topology files from disk (at start, and when files are
    /// saved, created or deleted).
    pub fn rescan(&mut self) {
        self.disk.clear();
        self.unreadable.clear();
        match self.configured.clone() {
            Some(paths) => {
                for path in paths {
                    self.add_configured(&path);
                }
            }
            None => {
                for root in self.roots.clone() {
                    self.walk(&root, 0);
                }
            }
        }
    }

    fn add_configured(&mut self, path: &Path) {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(entries) => entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                    .collect(),
                Err(e) => {
                    self.unreadable.push((path.to_path_buf(), e.to_string()));
                    return;
                }
            };
            entries.sort();
            for entry in entries {
                self.read_into_disk(&entry, true);
            }
        } else {
            self.read_into_disk(path, true);
        }
    }

    fn read_into_disk(&mut self, path: &Path, named: bool) {
        match std::fs::read(path) {
            Ok(bytes) => {
                if named || looks_like_topology(&String::from_utf8_lossy(&bytes)) {
                    self.disk.insert(path.to_path_buf(), bytes);
                }
            }
            Err(e) if named && !self.open.contains_key(path) => {
                self.unreadable.push((path.to_path_buf(), e.to_string()));
            }
            Err(_) => {}
        }
    }

    fn walk(&mut self, dir: &Path, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_ref()) {
                    self.walk(&path, depth + 1);
                }
            } else if name.ends_with(".toml") {
                self.read_into_disk(&path, false);
            }
        }
    }

    /// Whether `path` belongs to the workspace's topology.
    fn in_workspace(&self, path: &Path, text: &str) -> bool {
        if self.disk.contains_key(path) {
            return true;
        }
        match &self.configured {
            Some(paths) => paths.iter().any(|p| {
                p == path || (p.is_dir() && path.parent() == Some(p.as_path()) && is_toml(path))
            }),
            None => {
                self.roots.iter().any(|r| path.starts_with(r))
                    && is_toml(path)
                    && looks_like_topology(text)
            }
        }
    }

    /// Checks every project again, from the open texts and the disk.
    pub fn check(&mut self) {
        let mut main: BTreeSet<PathBuf> = self.disk.keys().cloned().collect();
        let mut alone = Vec::new();
        for (path, doc) in &self.open {
            if self.in_workspace(path, &doc.text) {
                main.insert(path.clone());
            } else if looks_like_topology(&doc.text) {
                alone.push(vec![path.clone()]);
            }
        }
        let mut sets = Vec::new();
        if !main.is_empty() {
            sets.push(main.into_iter().collect::<Vec<_>>());
        }
        sets.extend(alone);
        let mut used = BTreeSet::new();
        // The previous check's model is thousands of allocations: free them
        // on another thread, off the path to the next publication.
        let previous = std::mem::take(&mut self.projects);
        let _ = std::thread::Builder::new()
            .name("vigil-lsp-drop".into())
            .spawn(move || drop(previous));
        self.projects = sets
            .into_iter()
            .map(|paths| {
                used.extend(paths.iter().cloned());
                self.check_set(paths)
            })
            .collect();
        // Forget parses of files that left the workspace.
        self.cache.retain(|path, _| used.contains(path));
    }

    fn check_set(&mut self, paths: Vec<PathBuf>) -> Project {
        let mut loaded = Loaded::default();
        for path in &paths {
            let name = display_name(path, &self.roots);
            let parsed = match self.take_cached(path, &name) {
                Some(parsed) => parsed,
                None => match self.open.get(path) {
                    Some(doc) => ParsedFile::parse_text(&name, doc.text.clone()),
                    None => ParsedFile::parse_bytes(
                        &name,
                        self.disk.get(path).cloned().unwrap_or_default(),
                    ),
                },
            };
            // Failed parses are not kept: they are redone on the next check.
            loaded.push(parsed);
        }
        let (cluster, diagnostics) = crate::pipeline::check_loaded(&mut loaded);
        // Give the parsed topologies back to the cache.
        for loaded_file in std::mem::take(&mut loaded.files) {
            let Some(path) = paths.get(loaded_file.file.0 as usize) else {
                continue;
            };
            let source = loaded.sources.file(loaded_file.file);
            self.cache.insert(
                path.clone(),
                Cached {
                    parsed: ParsedFile {
                        name: source.name.clone(),
                        text: source.text.clone(),
                        outcome: Ok(loaded_file.topology),
                    },
                },
            );
        }
        Project {
            paths,
            sources: loaded.sources,
            cluster,
            diagnostics,
            items: std::sync::OnceLock::new(),
        }
    }

    /// The cached parse of `path` if its text is still the same.
    fn take_cached(&mut self, path: &Path, name: &str) -> Option<ParsedFile> {
        let cached = self.cache.get(path)?;
        let same = match self.open.get(path) {
            Some(doc) => doc.text == cached.parsed.text,
            None => self
                .disk
                .get(path)
                .is_some_and(|bytes| bytes.as_slice() == cached.parsed.text.as_bytes()),
        };
        if !same || cached.parsed.name != name {
            return None;
        }
        self.cache.remove(path).map(|c| c.parsed)
    }

    /// The text of a file of the workspace: the editor's, or the disk's.
    pub fn text(&self, path: &Path) -> Option<String> {
        if let Some(doc) = self.open.get(path) {
            return Some(doc.text.clone());
        }
        self.disk
            .get(path)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The project that holds `path`.
    pub fn project_of(&self, path: &Path) -> Option<(&Project, FileId)> {
        self.projects
            .iter()
            .find_map(|p| p.file_of(path).map(|f| (p, f)))
    }
}

fn is_toml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "toml")
}

/// The name shown for a file: relative to its workspace folder.
fn display_name(path: &Path, roots: &[PathBuf]) -> String {
    roots
        .iter()
        .find_map(|r| path.strip_prefix(r).ok())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_files_are_told_from_other_toml() {
        assert!(looks_like_topology("[router.www]\nvrid = 1\n"));
        assert!(looks_like_topology(
            "# c\n  [[ virtual_server.x.real_server]]\n"
        ));
        assert!(looks_like_topology(
            "host.web1.interface.eth0.segment = \"a\"\n"
        ));
        assert!(looks_like_topology("#:schema ../topology.schema.json\n"));
        assert!(looks_like_topology("cluster = { name = \"x\" }\n"));
        assert!(!looks_like_topology("[package]\nname = \"vigil\"\n"));
        assert!(!looks_like_topology(
            "[workspace]\nmembers = [\"router\"]\n"
        ));
        assert!(!looks_like_topology("routers = 1\nhostname = \"x\"\n"));
        assert!(!looks_like_topology(""));
    }
}
