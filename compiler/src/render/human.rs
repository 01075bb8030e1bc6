//! Human output through miette's graphical handler.

use miette::{GraphicalReportHandler, GraphicalTheme};

use crate::diagnostic::{Diagnostic, MietteReport};
use crate::source::SourceMap;

/// Colour and width of the human output.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

impl Style {
    /// Deterministic output (tests, pipes): no colour, fixed width.
    pub fn plain(width: usize) -> Self {
        Style {
            color: false,
            width,
        }
    }

    /// For stderr: colour only on a terminal (and without `NO_COLOR`).
    pub fn for_stderr() -> Self {
        use std::io::IsTerminal;
        let tty = std::io::stderr().is_terminal();
        let color = tty && std::env::var_os("NO_COLOR").is_none();
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100);
        Style { color, width }
    }
}

/// One diagnostic as miette draws it (ends with a newline).
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, style: &Style) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false);
    let report = MietteReport::new(diagnostic, sources);
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        // Rendering into a String only fails on a formatter bug; keep the
        // message rather than lose it.
        out = format!("{}: {}\n", diagnostic.code, diagnostic.message);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}
