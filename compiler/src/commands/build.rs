//! `vigil build TOPOLOGY... --out DIR [--templates DIR] [--check]`

use std::io::Write;
use std::path::PathBuf;

use crate::artifacts::Templates;
use crate::build::{outputs, stale_files, write_tree};
use crate::pipeline::analyse_paths;
use crate::render::{Format, human::Style, render_all};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildArgs {
    pub paths: Vec<PathBuf>,
    pub out: PathBuf,
    pub templates: Option<PathBuf>,
    /// Compare `out` with a fresh build instead of writing it.
    pub check: bool,
}

/// Exit status: 0 built (or up to date), 1 topology errors (or stale with
/// `--check`), 2 unreadable input or unwritable output.
pub fn run(args: &BuildArgs) -> u8 {
    let analysis = analyse_paths(&args.paths);
    let mut stderr = std::io::stderr().lock();
    for failure in &analysis.io_failures {
        let _ = writeln!(
            stderr,
            "error: cannot read {}: {}",
            failure.path, failure.message
        );
    }
    let text = render_all(
        Format::Human,
        &analysis.diagnostics,
        &analysis.sources,
        &Style::for_stderr(),
    );
    let _ = stderr.write_all(text.as_bytes());
    if !analysis.io_failures.is_empty() {
        return 2;
    }
    let cluster = match (&analysis.cluster, analysis.has_errors()) {
        (Some(cluster), false) => cluster,
        _ => {
            let _ = writeln!(stderr, "error: the topology has errors; nothing was built");
            return 1;
        }
    };
    let templates = match Templates::with_overrides(args.templates.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}");
            return 2;
        }
    };
    let tree = match outputs(cluster, &analysis.sources, &templates) {
        Ok(tree) => tree,
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}");
            return 2;
        }
    };
    if args.check {
        return match stale_files(&args.out, &tree) {
            Ok(stale) if stale.is_empty() => {
                let _ = writeln!(stderr, "{} is up to date", args.out.display());
                0
            }
            Ok(stale) => {
                let _ = writeln!(
                    stderr,
                    "{} is stale; run `vigil build` again. Differing files:",
                    args.out.display()
                );
                for path in stale {
                    let _ = writeln!(stderr, "  {}", path.display());
                }
                1
            }
            Err(e) => {
                let _ = writeln!(stderr, "error: {e}");
                1
            }
        };
    }
    match write_tree(&args.out, &tree) {
        Ok(()) => {
            let hosts = cluster.hosts.len();
            let _ = writeln!(
                stderr,
                "built {} files for {hosts} host(s) in {}",
                tree.len(),
                args.out.display()
            );
            0
        }
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}; any previous build was left as it was");
            2
        }
    }
}
