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
    /// The text as it may be shown on a terminal, when that differs from
    /// `text`: see [`SourceFile::display_text`].
    display: Option<String>,
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
        let lone_cr = |i: usize| text.as_bytes().get(i + 1) != Some(&b'\n');
        let display = text
            .char_indices()
            .any(|(i, c)| needs_masking(c) || (c == '\r' && lone_cr(i)))
            .then(|| {
                text.char_indices()
                    .map(|(i, c)| {
                        if needs_masking(c) || (c == '\r' && lone_cr(i)) {
                            "?".repeat(c.len_utf8())
                        } else {
                            c.to_string()
                        }
                    })
                    .collect()
            });
        SourceFile {
            name: name.into(),
            text,
            line_starts,
            display,
        }
    }

    /// The text to show on a terminal: `text` with every control character
    /// other than tab and line breaks (CR only before LF), and every
    /// bidirectional formatting character, replaced by as many `?` as it has bytes, so that byte
    /// offsets (and so every span) stay valid and no input can send escape
    /// sequences to the terminal or reorder what it shows.
    pub fn display_text(&self) -> &str {
        self.display.as_deref().unwrap_or(&self.text)
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

/// Whether a character must not reach a terminal as it is: control
/// characters (C0 but tab, CR and LF; DEL; C1) and the bidirectional
/// formatting characters that reorder text on screen.
pub fn needs_masking(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Text for a terminal or a log: every character [`needs_masking`], and
/// CR, is written as a Rust escape (`\u{1b}`). For messages, names and
/// labels, which have no offsets to keep.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let escape = |c: char| needs_masking(c) || c == '\r';
    if !text.chars().any(escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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
            display: None,
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
    }

    #[test]
    fn terminal_text_masks_control_and_bidi_characters_in_place() {
        let text = "a = \"\u{1b}[2J\"\t# \u{202e}x\u{85}\r\nb = 1\rhidden\n";
        let file = SourceFile::new("t", text);
        let shown = file.display_text();
        assert_eq!(shown.len(), text.len(), "offsets must not move");
        assert_eq!(shown, "a = \"?[2J\"\t# ???x??\r\nb = 1?hidden\n");
        assert_eq!(printable("x\u{1b}y\u{202e}\n"), "x\\u{1b}y\\u{202e}\n");
        assert!(matches!(printable("plain"), std::borrow::Cow::Borrowed(_)));
        let clean = SourceFile::new("t", "a = 1\n");
        assert!(std::ptr::eq(clean.display_text(), clean.text.as_str()));
        assert_eq!(
            SourceFile::new("e", "").line_col(3),
            LineCol { line: 1, column: 1 }
        );
    }
}
