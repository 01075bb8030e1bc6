//! Output formats for diagnostics: human (miette), JSON lines, GitHub
//! workflow commands, SARIF.

pub mod concise;
pub mod github;
pub mod human;
pub mod json;
pub mod sarif;

use crate::diagnostic::Diagnostic;
use crate::source::SourceMap;

/// The `--format` of `vigil check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Github,
    /// One line per diagnostic ([`concise::render`]).
    Concise,
    /// One SARIF 2.1.0 log for the whole run ([`sarif::render`]).
    Sarif,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "human" => Some(Format::Human),
            "json" => Some(Format::Json),
            "github" => Some(Format::Github),
            "concise" => Some(Format::Concise),
            "sarif" => Some(Format::Sarif),
            _ => None,
        }
    }
}

/// Renders every diagnostic in one format (SARIF: a log without read
/// failures; use [`sarif::render`] to include them).
pub fn render_all(
    format: Format,
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    style: &human::Style,
) -> String {
    if format == Format::Sarif {
        return sarif::render(diagnostics, sources, &[]);
    }
    let mut out = String::new();
    for d in diagnostics {
        match format {
            Format::Human => out.push_str(&human::render(d, sources, style)),
            Format::Json => {
                out.push_str(&json::render(d, sources));
                out.push('\n');
            }
            Format::Github => {
                out.push_str(&github::render(d, sources));
                out.push('\n');
            }
            Format::Concise => {
                out.push_str(&concise::render(d, sources));
                out.push('\n');
            }
            Format::Sarif => {}
        }
    }
    out
}
