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
    if loaded.failed() {
        crate::diagnostic::normalize(&mut loaded.diagnostics);
        return Analysis {
            sources: loaded.sources,
            cluster: None,
            diagnostics: loaded.diagnostics,
            io_failures: loaded.io_failures,
        };
    }
    let cluster = crate::resolve::resolve(&loaded.files);
    let diagnostics = crate::lints::run(&cluster);
    Analysis {
        sources: loaded.sources,
        cluster: Some(cluster),
        diagnostics,
        io_failures: loaded.io_failures,
    }
}

/// Checks in-memory files `(name, text)`.
pub fn analyse_texts(files: &[(&str, &[u8])]) -> Analysis {
    let mut loaded = Loaded::default();
    for (name, bytes) in files {
        loaded.add_bytes(name, bytes.to_vec());
    }
    analyse(loaded)
}

/// Reads and checks a fleet of keepalived.conf files (`check --keepalived`):
/// the same lints, with spans into the keepalived.conf files, plus the
/// reader's own findings.
pub fn analyse_keepalived(
    hosts: &[crate::keepalived::HostSource],
    options: &crate::keepalived::Options,
    mut io_failures: Vec<IoFailure>,
) -> Analysis {
    let fleet = crate::keepalived::read_fleet(hosts, options);
    io_failures.extend(fleet.io_failures.iter().cloned());
    let failed = fleet.failed() || !io_failures.is_empty();
    let mut diagnostics = fleet.diagnostics.clone();
    let cluster = (!failed).then(|| {
        let mut cluster = crate::resolve::resolve(&fleet.files);
        cluster.conflicts.extend(fleet.conflicts.iter().cloned());
        cluster
    });
    if let Some(cluster) = &cluster {
        diagnostics.extend(
            crate::lints::run(cluster)
                .into_iter()
                .filter(|d| !fleet.muted.contains(&d.name))
                .map(|mut d| {
                    if let Some(help) = crate::keepalived::fleet::keepalived_help(d.code) {
                        d.help = Some(match d.help.take() {
                            Some(topology) => format!("{help} (in a Vigil topology: {topology})"),
                            None => help.to_string(),
                        });
                    }
                    d
                }),
        );
    }
    crate::diagnostic::normalize(&mut diagnostics);
    Analysis {
        sources: fleet.sources,
        cluster,
        diagnostics,
        io_failures,
    }
}
