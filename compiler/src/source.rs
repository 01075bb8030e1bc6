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

/// One loaded file: the name shown to users, its text and the offsets at
/// which its lines start.
///
/// Text that was not valid UTF-8 is stored lossily converted, so offsets
/// before the first invalid byte are still exact.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    /// Byte offset of the start of every line: 0, then one past each `\n`.
    line_starts: Vec<usize>,
}

/// A 1-based line and column (column counted in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The 0-based line that holds byte `offset` (clamped to the text), by
    /// binary search over the line starts: O(log lines).
    pub fn line_index(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1)
    }

    /// Byte offset where 0-based `line` starts (the text's length past the end).
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len())
    }

    /// Number of lines (a final line without `\n` counts; an empty text has one).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// `offset` clamped to the text and moved back to a character boundary.
    fn boundary(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// Line and column of a byte offset (clamped to the text). Costs a
    /// binary search plus the length of the part of the line before it.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = self.boundary(offset);
        let line = self.line_index(offset);
        let before = &self.text[self.line_start(line)..offset];
        let column = if before.is_ascii() {
            before.len()
        } else {
            before.chars().count()
        };
        LineCol {
            line: line + 1,
            column: column + 1,
        }
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
        self.files.push(SourceFile::new(name, text));
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
            line_starts: Vec::new(),
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
        // Inside a multi-byte character: its start.
        assert_eq!(file.line_col(8), LineCol { line: 2, column: 2 });
    }

    #[test]
    fn line_index_agrees_with_counting_newlines() {
        let text = "\nab\n\ncdé\r\nlast";
        let file = SourceFile::new("t", text);
        for offset in 0..=text.len() + 2 {
            let clamped = offset.min(text.len());
            let expected = text.as_bytes()[..clamped]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            assert_eq!(file.line_index(offset), expected, "{offset}");
            let last_newline = text.as_bytes()[..clamped].iter().rposition(|b| *b == b'\n');
            assert_eq!(file.line_start(expected), last_newline.map_or(0, |i| i + 1));
        }
        assert_eq!(file.line_count(), 5);
        assert_eq!(SourceFile::new("e", "").line_count(), 1);
        assert_eq!(
            SourceFile::new("e", "").line_col(3),
            LineCol { line: 1, column: 1 }
        );
    }
}
