//! Source files and spans.
//!
//! Every value of the resolved model points back to where it was written as
//! a [`Span`]: a file of the [`SourceMap`] and a byte range in it. Nothing
//! here knows about TOML, so any front end (the TOML topology today, an
//! imported keepalived.conf tomorrow) can produce the same spans.

use std::ops::Range;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub range: Range<usize>,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Self {
        Span { file, range }
    }
}

/// One loaded file: the name shown to users and its text.
///
/// Text that was not valid UTF-8 is stored lossily converted, so offsets
/// before the first invalid byte are still exact.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// A 1-based line and column (column counted in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl SourceFile {
    /// Line and column of a byte offset (clamped to the text).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        LineCol { line, column }
    }

    /// The text of a range, or `""` when the range does not fit the file.
    pub fn slice(&self, range: &Range<usize>) -> &str {
        self.text.get(range.clone()).unwrap_or("")
    }
}

/// All files of one compilation.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> Self {
        SourceMap::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile {
            name: name.into(),
            text: text.into(),
        });
        id
    }

    /// The file of an id handed out by [`SourceMap::add`].
    ///
    /// Ids come from this map only, so a missing file is a programming error;
    /// it still yields an empty file rather than a panic.
    pub fn file(&self, id: FileId) -> &SourceFile {
        static EMPTY: SourceFile = SourceFile {
            name: String::new(),
            text: String::new(),
        };
        self.files.get(id.0 as usize).unwrap_or(&EMPTY)
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// The source text a span covers.
    pub fn text(&self, span: &Span) -> &str {
        self.file(span.file).slice(&span.range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let mut map = SourceMap::new();
        let id = map.add("a.toml", "a = 1\nné = \"x\"\n");
        let file = map.file(id);
        assert_eq!(file.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(file.line_col(6), LineCol { line: 2, column: 1 });
        // "é" is two bytes but one column.
        assert_eq!(file.line_col(9), LineCol { line: 2, column: 3 });
        assert_eq!(file.line_col(10_000).line, 3);
    }
}
