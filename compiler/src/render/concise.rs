//! `--format concise`: one line per diagnostic,
//! `FILE:LINE:COLUMN: SEVERITY CODE name: message`, the form compilers print
//! and editors' quickfix lists read. Meant for places that keep only the last
//! lines of a log (a Nix build failure shows ten); the explanation and the
//! fix are in `--format human` and `vigil explain CODE`.

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{SourceMap, printable};

pub fn render(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let severity = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    let file = sources.file(diagnostic.primary.span.file);
    let at = file.line_col(diagnostic.primary.span.range.start);
    // One line whatever the message holds: control characters and line
    // breaks are made visible by `printable`, and any that remain folded.
    let message = printable(&diagnostic.message).replace(['\n', '\r'], " ");
    format!(
        "{}:{}:{}: {severity} {} {}: {message}",
        printable(&file.name),
        at.line,
        at.column,
        diagnostic.code,
        diagnostic.name
    )
}
