//! One module per subcommand. Each exposes `run(...) -> u8` (the exit
//! status); `cli.rs` parses arguments and dispatches here.

pub mod build;
pub mod check;
pub mod explain;
pub mod import;
pub mod lints;
pub mod overview;
pub mod plan_show;
pub mod schema;
pub mod simulate;

use std::io::Write;
use std::path::PathBuf;

use crate::pipeline::{Analysis, analyse_paths};
use crate::render::{Format, human::Style, render_all};

/// Loads and lints `paths` for a command that needs an error-free cluster
/// (`build`, `plan show`). Read failures and diagnostics go to stderr
/// (warnings too when `show_all`); on errors `refusal` says what was not
/// done. `Err` carries the exit status: 2 unreadable input, 1 topology errors.
pub(crate) fn error_free(paths: &[PathBuf], show_all: bool, refusal: &str) -> Result<Analysis, u8> {
    let analysis = analyse_paths(paths);
    let mut stderr = std::io::stderr().lock();
    for failure in &analysis.io_failures {
        let _ = writeln!(
            stderr,
            "error: cannot read {}: {}",
            failure.path, failure.message
        );
    }
    if !analysis.io_failures.is_empty() {
        return Err(2);
    }
    let failed = analysis.cluster.is_none() || analysis.has_errors();
    if show_all || failed {
        let text = render_all(
            Format::Human,
            &analysis.diagnostics,
            &analysis.sources,
            &Style::for_stderr(),
        );
        let _ = stderr.write_all(text.as_bytes());
    }
    if failed {
        let _ = writeln!(stderr, "error: the topology has errors; {refusal}");
        return Err(1);
    }
    Ok(analysis)
}
