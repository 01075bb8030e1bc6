//! `vigil import HOST=FILE...|DIR [--segment NAME=CIDR]... [--cluster NAME] [--out FILE]`

use std::io::Write;
use std::path::PathBuf;

use crate::render::{Format, human::Style, render_all};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportArgs {
    pub hosts: Vec<String>,
    pub out: Option<PathBuf>,
    pub options: crate::keepalived::Options,
}

/// Exit status: 0 written, 1 the fleet has errors (nothing written), 2
/// unreadable input or output.
pub fn run(args: &ImportArgs) -> u8 {
    let (hosts, failures) = crate::keepalived::fleet::expand_args(&args.hosts);
    let analysis = crate::pipeline::analyse_keepalived(&hosts, &args.options, failures);
    let mut stderr = std::io::stderr().lock();
    for failure in &analysis.io_failures {
        let _ = writeln!(
            stderr,
            "error: cannot read {}: {}",
            failure.path, failure.message
        );
    }
    if !analysis.io_failures.is_empty() {
        return 2;
    }
    let text = render_all(
        Format::Human,
        &analysis.diagnostics,
        &analysis.sources,
        &Style::for_stderr(),
    );
    let _ = stderr.write_all(text.as_bytes());
    let Some(cluster) = &analysis.cluster else {
        let _ = writeln!(
            stderr,
            "error: the keepalived.conf files could not be read; nothing imported"
        );
        return 1;
    };
    let toml =
        crate::keepalived::emit::topology_toml(cluster, &analysis.diagnostics, &analysis.sources);
    match &args.out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, toml) {
                let _ = writeln!(stderr, "error: cannot write {}: {e}", path.display());
                return 2;
            }
            let _ = writeln!(stderr, "wrote {}", path.display());
        }
        None => {
            let _ = std::io::stdout().lock().write_all(toml.as_bytes());
        }
    }
    0
}
