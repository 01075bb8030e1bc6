//! Output formats for diagnostics: human (miette), JSON lines, GitHub
//! workflow commands.

pub mod github;
pub mod human;
pub mod json;

use crate::diagnostic::Diagnostic;
use crate::source::SourceMap;

/// The `--format` of `vigil check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Github,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "human" => Some(Format::Human),
            "json" => Some(Format::Json),
            "github" => Some(Format::Github),
            _ => None,
        }
    }
}

/// Renders every diagnostic in one format.
pub fn render_all(
    format: Format,
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    style: &human::Style,
) -> String {
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
        }
    }
    out
}
