//! Vigil's diagnostic: one finding about the sources, with a stable code,
//! a severity, the exact spans involved and a suggested fix.
//!
//! A [`Diagnostic`] holds spans into a [`SourceMap`] and no source text, so
//! lints can create them cheaply; the renderers (`render/`) attach the text.
//! [`MietteReport`] adapts one to `miette::Diagnostic` for the human output.

use std::fmt;

use crate::source::{SourceFile, SourceMap, Span, printable};

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
/// primary one become related reports, each with its own file. The source
/// is borrowed, never copied, and read through [`IndexedSource`]. Text from
/// the input (messages quote names and values) goes through [`printable`],
/// and source lines through [`SourceFile::display_text`], so no input can
/// write control sequences to the terminal. Source lines longer than
/// [`MAX_SHOWN_LINE`] are not shown: the location is written out instead.
pub struct MietteReport<'a> {
    title: String,
    code: Option<String>,
    severity: miette::Severity,
    help: Option<String>,
    /// `None` when a line to show is too long.
    source: Option<IndexedSource<'a>>,
    labels: Vec<miette::LabeledSpan>,
    related: Vec<MietteReport<'a>>,
}

/// Longest source line (in bytes) the human output shows around a label.
pub const MAX_SHOWN_LINE: usize = 512;

/// The longest line miette would show around `span` (one line of context
/// either side), in bytes.
fn longest_shown_line(file: &SourceFile, span: &Span) -> usize {
    let first = file.line_index(span.range.start).saturating_sub(1);
    let last = file.line_index(span.range.end) + 1;
    (first..=last.min(file.line_count().saturating_sub(1)))
        .map(|line| file.line_start(line + 1) - file.line_start(line))
        .max()
        .unwrap_or(0)
}

/// `file:line:col` of the start of a span, printable.
fn location(sources: &SourceMap, span: &Span) -> String {
    let file = sources.file(span.file);
    let at = file.line_col(span.range.start);
    format!("{}:{}:{}", printable(&file.name), at.line, at.column)
}

fn printable_opt(text: &Option<String>) -> Option<String> {
    text.as_deref().map(|t| printable(t).into_owned())
}

impl<'a> MietteReport<'a> {
    pub fn new(diagnostic: &Diagnostic, sources: &'a SourceMap) -> Self {
        let file = diagnostic.primary.span.file;
        let mut title = printable(&diagnostic.message).into_owned();
        let mut labels = vec![miette::LabeledSpan::new_primary_with_span(
            printable_opt(&diagnostic.primary.message),
            source_span(sources, &diagnostic.primary.span),
        )];
        let mut same_file = vec![&diagnostic.primary];
        let mut related = Vec::new();
        for label in &diagnostic.secondary {
            let span = source_span(sources, &label.span);
            if label.span.file == file {
                labels.push(miette::LabeledSpan::new_with_span(
                    printable_opt(&label.message),
                    span,
                ));
                same_file.push(label);
            } else {
                let other = sources.file(label.span.file);
                let mut title = printable_opt(&label.message).unwrap_or_default();
                let shown = longest_shown_line(other, &label.span) <= MAX_SHOWN_LINE;
                if !shown {
                    title.push_str(&format!(
                        "\n  at {} (line too long to show)",
                        location(sources, &label.span)
                    ));
                }
                related.push(MietteReport {
                    title,
                    code: None,
                    severity: miette::Severity::Advice,
                    help: None,
                    source: shown.then_some(IndexedSource(other)),
                    labels: vec![miette::LabeledSpan::new_primary_with_span(None, span)],
                    related: Vec::new(),
                });
            }
        }
        let primary = sources.file(file);
        let shown = same_file
            .iter()
            .all(|l| longest_shown_line(primary, &l.span) <= MAX_SHOWN_LINE);
        if !shown {
            for label in &same_file {
                title.push_str(&format!(
                    "\n  at {}{}",
                    location(sources, &label.span),
                    label
                        .message
                        .as_deref()
                        .map_or(String::new(), |m| format!(": {}", printable(m)))
                ));
            }
            title.push_str(" (line too long to show)");
        }
        MietteReport {
            title,
            code: Some(format!("{}({})", diagnostic.code, diagnostic.name)),
            severity: match diagnostic.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
                Severity::Info => miette::Severity::Advice,
            },
            help: printable_opt(&diagnostic.help),
            source: shown.then_some(IndexedSource(primary)),
            labels,
            related,
        }
    }
}

/// A source file as miette reads it, through the file's line index.
///
/// miette's own `SourceCode` for strings scans the text from its start for
/// every span it reads, so rendering n diagnostics of a large file cost
/// O(n × file size). This one hands miette only the lines around the span
/// (found by binary search) and lets miette's algorithm run on that window,
/// so the result is the same, apart from the column of the `[file:line:col]`
/// header, which counts characters here (like the JSON and GitHub outputs)
/// where miette counts bytes.
pub struct IndexedSource<'a>(pub &'a SourceFile);

impl miette::SourceCode for IndexedSource<'_> {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        let file = self.0;
        let text = file.display_text().as_bytes();
        let start = span.offset();
        let end = start.saturating_add(span.len());
        if end > text.len() {
            // miette's own reader may panic here; spans are clamped to the
            // file before they get here, so this is never reached.
            return Err(miette::MietteError::OutOfBounds);
        }
        // One line more on each side than miette needs: the window starts
        // at a line start before every context line, and ends after the
        // line at which miette stops reading (or at the end of the text).
        let first_line = file
            .line_index(start)
            .saturating_sub(context_lines_before.saturating_add(1));
        let last_line = file
            .line_index(end)
            .saturating_add(context_lines_after)
            .saturating_add(2);
        let lo = file.line_start(first_line);
        let hi = file.line_start(last_line.saturating_add(1));
        let window: &'b [u8] = &text[lo..hi];
        let local = miette::SourceSpan::new(start.saturating_sub(lo).into(), span.len());
        let contents = <[u8] as miette::SourceCode>::read_span(
            window,
            &local,
            context_lines_before,
            context_lines_after,
        )?;
        // miette's column is the number of bytes between the last line
        // break and the span (or 0); count those bytes as characters.
        let bytes = contents.column();
        let column = file
            .text
            .get(start.saturating_sub(bytes)..start)
            .map_or(bytes, |before| before.chars().count());
        Ok(Box::new(miette::MietteSpanContents::new_named(
            printable(&file.name).into_owned(),
            contents.data(),
            miette::SourceSpan::new(
                (contents.span().offset() + lo).into(),
                contents.span().len(),
            ),
            contents.line() + first_line,
            column,
            contents.line_count() + first_line,
        )))
    }
}

/// A span clamped to its file, so a bad range can never make miette fail.
fn source_span(sources: &SourceMap, span: &Span) -> miette::SourceSpan {
    let len = sources.file(span.file).text.len();
    let start = span.range.start.min(len);
    let end = span.range.end.clamp(start, len);
    (start, end - start).into()
}

impl fmt::Debug for MietteReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MietteReport")
            .field("title", &self.title)
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for MietteReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl std::error::Error for MietteReport<'_> {}

impl miette::Diagnostic for MietteReport<'_> {
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
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
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

#[cfg(test)]
mod tests {
    use super::*;
    use miette::SourceCode;

    /// What miette reads for a span, comparable (for ASCII text, where
    /// columns in bytes and in characters agree).
    type Read = Option<(Vec<u8>, usize, usize, usize, usize, usize)>;

    fn read(source: &dyn SourceCode, span: (usize, usize), before: usize, after: usize) -> Read {
        source.read_span(&span.into(), before, after).ok().map(|c| {
            (
                c.data().to_vec(),
                c.span().offset(),
                c.span().len(),
                c.line(),
                c.column(),
                c.line_count(),
            )
        })
    }

    #[test]
    fn indexed_source_reads_what_miette_reads() {
        let texts = [
            String::new(),
            "a".to_string(),
            "\n".to_string(),
            "\n\n\n".to_string(),
            "[router.www]\nsegment = \"front\"\nvrid = 51\n\nvips = []\n".to_string(),
            "k = 1\r\nv = 2\r\n\r\nw = 3".to_string(),
            (0..40).map(|i| format!("line{i} = {i}\n")).collect(),
        ];
        let mut compared = 0;
        for text in &texts {
            let file = SourceFile::new("t.toml", text.clone());
            let indexed = IndexedSource(&file);
            let len = text.len();
            for start in 0..=len + 1 {
                for width in [0, 1, 2, 5, 13, 40, 400] {
                    for (before, after) in [(0, 0), (1, 1), (2, 2), (0, 3), (3, 0), (1, 0)] {
                        let mine = read(&indexed, (start, width), before, after);
                        if start + width > len {
                            assert_eq!(mine, None);
                            continue;
                        }
                        let theirs = read(&text.as_str(), (start, width), before, after);
                        assert_eq!(
                            mine, theirs,
                            "{text:?} span ({start}, {width}) context ({before}, {after})"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 10_000);
    }

    #[test]
    fn header_columns_count_characters() {
        let file = SourceFile::new("t.toml", "name = \"é\" # x\nvrid = 5\n");
        let indexed = IndexedSource(&file);
        // The `#` after a two-byte character: byte 12, 0-based column 11.
        let at = file.text.find('#').unwrap();
        assert_eq!(at, 12);
        let contents = indexed.read_span(&(at, 1).into(), 0, 0).unwrap();
        assert_eq!((contents.line(), contents.column()), (0, 11));
        let miette_column = (&file.text.as_str())
            .read_span(&(at, 1).into(), 0, 0)
            .unwrap()
            .column();
        assert_eq!(miette_column, 12, "miette counts bytes");
    }
}
