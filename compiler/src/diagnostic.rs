//! Vigil's diagnostic: one finding about the sources, with a stable code,
//! a severity, the exact spans involved and a suggested fix.
//!
//! A [`Diagnostic`] holds spans into a [`SourceMap`] and no source text, so
//! lints can create them cheaply; the renderers (`render/`) attach the text.
//! [`MietteReport`] adapts one to `miette::Diagnostic` for the human output.

use std::fmt;

use crate::source::{SourceMap, Span};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; never fails a check.
    Info,
    /// Probably wrong; fails a check only with `--deny warnings`.
    Warning,
    /// Wrong: no plan is emitted.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A span with an optional message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: Option<String>,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, e.g. `V0101`.
    pub code: &'static str,
    /// Kebab-case name, e.g. `vrid-collision`.
    pub name: &'static str,
    pub severity: Severity,
    /// What is wrong and what it does in production.
    pub message: String,
    /// The offending value.
    pub primary: Label,
    /// Related places (the other definition, the conflicting value).
    pub secondary: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(
        code: &'static str,
        name: &'static str,
        severity: Severity,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            name,
            severity,
            message: message.into(),
            primary: Label {
                span,
                message: None,
            },
            secondary: Vec::new(),
            help: None,
        }
    }

    /// Sets the message of the primary label.
    pub fn label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = Some(message.into());
        self
    }

    /// Adds a secondary label.
    pub fn with(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: Some(message.into()),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// A stable sort key: file, position, code.
    pub fn sort_key(&self) -> (u32, usize, usize, &'static str) {
        (
            self.primary.span.file.0,
            self.primary.span.range.start,
            self.primary.span.range.end,
            self.code,
        )
    }
}

/// Sorts diagnostics by position and removes exact duplicates (two lints
/// passes over the same pair may find the same problem from both sides).
pub fn normalize(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then_with(|| a.message.cmp(&b.message))
    });
    diagnostics.dedup();
}

/// A [`Diagnostic`] with its source text, as a `miette::Diagnostic`.
///
/// miette draws labels against one source; labels in another file than the
/// primary one become related reports, each with its own file.
pub struct MietteReport {
    title: String,
    code: Option<String>,
    severity: miette::Severity,
    help: Option<String>,
    source: miette::NamedSource<String>,
    labels: Vec<miette::LabeledSpan>,
    related: Vec<MietteReport>,
}

impl MietteReport {
    pub fn new(diagnostic: &Diagnostic, sources: &SourceMap) -> Self {
        let file = diagnostic.primary.span.file;
        let mut labels = vec![miette::LabeledSpan::new_primary_with_span(
            diagnostic.primary.message.clone(),
            source_span(sources, &diagnostic.primary.span),
        )];
        let mut related = Vec::new();
        for label in &diagnostic.secondary {
            let span = source_span(sources, &label.span);
            if label.span.file == file {
                labels.push(miette::LabeledSpan::new_with_span(
                    label.message.clone(),
                    span,
                ));
            } else {
                let other = sources.file(label.span.file);
                related.push(MietteReport {
                    title: label.message.clone().unwrap_or_default(),
                    code: None,
                    severity: miette::Severity::Advice,
                    help: None,
                    source: miette::NamedSource::new(other.name.clone(), other.text.clone()),
                    labels: vec![miette::LabeledSpan::new_primary_with_span(None, span)],
                    related: Vec::new(),
                });
            }
        }
        let primary = sources.file(file);
        MietteReport {
            title: diagnostic.message.clone(),
            code: Some(format!("{}({})", diagnostic.code, diagnostic.name)),
            severity: match diagnostic.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
                Severity::Info => miette::Severity::Advice,
            },
            help: diagnostic.help.clone(),
            source: miette::NamedSource::new(primary.name.clone(), primary.text.clone()),
            labels,
            related,
        }
    }
}

/// A span clamped to its file, so a bad range can never make miette fail.
fn source_span(sources: &SourceMap, span: &Span) -> miette::SourceSpan {
    let len = sources.file(span.file).text.len();
    let start = span.range.start.min(len);
    let end = span.range.end.clamp(start, len);
    (start, end - start).into()
}

impl fmt::Debug for MietteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MietteReport")
            .field("title", &self.title)
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for MietteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl std::error::Error for MietteReport {}

impl miette::Diagnostic for MietteReport {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}
