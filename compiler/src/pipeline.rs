//! Load → resolve → lint, shared by every command that reads a topology
//! (`check` today, `build` and `plan show` on top of it).

use std::path::PathBuf;

use crate::diagnostic::{Diagnostic, Severity};
use crate::load::{IoFailure, Loaded, load_paths};
use crate::model::Cluster;
use crate::source::SourceMap;

/// Everything known after checking a set of files.
#[derive(Debug)]
pub struct Analysis {
    pub sources: SourceMap,
    /// `None` when a file could not be loaded (lints did not run).
    pub cluster: Option<Cluster>,
    /// Load diagnostics, or else lint diagnostics, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    pub io_failures: Vec<IoFailure>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
    pub fn has_warnings(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning)
    }
}

/// Reads and checks files (a directory stands for its `*.toml`).
pub fn analyse_paths(paths: &[PathBuf]) -> Analysis {
    analyse(load_paths(paths))
}

/// Checks files already read (tests, other front ends).
pub fn analyse(mut loaded: Loaded) -> Analysis {
    let (cluster, diagnostics) = check_loaded(&mut loaded);
    Analysis {
        sources: loaded.sources,
        cluster,
        diagnostics,
        io_failures: loaded.io_failures,
    }
}

/// Resolves and lints loaded files, leaving them in `loaded` (the language
/// server keeps them for the next check). When a file failed to load, the
/// load diagnostics (taken out of `loaded`), sorted, and no cluster: lints
/// do not run on a partial topology.
pub fn check_loaded(loaded: &mut Loaded) -> (Option<Cluster>, Vec<Diagnostic>) {
    if loaded.failed() {
        let mut diagnostics = std::mem::take(&mut loaded.diagnostics);
        crate::diagnostic::normalize(&mut diagnostics);
        return (None, diagnostics);
    }
    let cluster = crate::resolve::resolve(&loaded.files);
    let diagnostics = crate::lints::run(&cluster);
    (Some(cluster), diagnostics)
}

/// Checks in-memory files `(name, text)`.
pub fn analyse_texts(files: &[(&str, &[u8])]) -> Analysis {
    let mut loaded = Loaded::default();
    for (name, bytes) in files {
        loaded.add_bytes(name, bytes.to_vec());
    }
    analyse(loaded)
}
