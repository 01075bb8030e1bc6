//! `vigil check FILE... [--format human|json|github|sarif|concise] [--deny warnings]`

use std::io::Write;
use std::path::PathBuf;

use crate::pipeline::analyse_paths;
use crate::render::{Format, human::Style, render_all};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckArgs {
    pub paths: Vec<PathBuf>,
    pub format: Format,
    pub deny_warnings: bool,
    /// `--keepalived`: the paths are keepalived.conf files (`HOST=FILE`) or
    /// fleet directories.
    pub keepalived: Option<crate::keepalived::Options>,
}

/// Exit status: 0 clean, 1 errors (or warnings with `--deny warnings`),
/// 2 a file could not be read.
pub fn run(args: &CheckArgs) -> u8 {
    let analysis = match &args.keepalived {
        None => analyse_paths(&args.paths),
        Some(options) => {
            let words: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
            let (hosts, failures) = crate::keepalived::fleet::expand_args(&words);
            crate::pipeline::analyse_keepalived(&hosts, options, failures)
        }
    };
    let text = match args.format {
        Format::Sarif => crate::render::sarif::render(
            &analysis.diagnostics,
            &analysis.sources,
            &analysis.io_failures,
        ),
        format => render_all(
            format,
            &analysis.diagnostics,
            &analysis.sources,
            &Style::for_stderr(),
        ),
    };
    let mut stderr = std::io::stderr().lock();
    for failure in &analysis.io_failures {
        let _ = writeln!(
            stderr,
            "error: cannot read {}: {}",
            failure.path, failure.message
        );
    }
    if args.format == Format::Human {
        let _ = stderr.write_all(text.as_bytes());
        // A clean topology: say what it will do.
        if analysis.io_failures.is_empty()
            && !analysis.has_errors()
            && let Some(cluster) = &analysis.cluster
        {
            let _ = stderr.write_all(super::overview::render(cluster).as_bytes());
        }
        if analysis.io_failures.is_empty() {
            let count = |s| {
                analysis
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == s)
                    .count()
            };
            use crate::diagnostic::Severity::*;
            let _ = writeln!(
                stderr,
                "{} file(s) checked: {} error(s), {} warning(s), {} info",
                analysis.sources.files().count(),
                count(Error),
                count(Warning),
                count(Info)
            );
        }
    } else {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
    if !analysis.io_failures.is_empty() {
        2
    } else if analysis.has_errors() || (args.deny_warnings && analysis.has_warnings()) {
        1
    } else {
        0
    }
}
