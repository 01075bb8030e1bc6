//! `vigil build TOPOLOGY... --out DIR [--templates DIR] [--check]`

use std::io::Write;
use std::path::PathBuf;

use crate::artifacts::Templates;
use crate::build::{outputs, stale_files, write_tree};

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
    let analysis = match super::error_free(&args.paths, true, "nothing was built") {
        Ok(analysis) => analysis,
        Err(status) => return status,
    };
    let Some(cluster) = &analysis.cluster else {
        return 1;
    };
    let mut stderr = std::io::stderr().lock();
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
