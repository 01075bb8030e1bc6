//! Positions, edits and URIs: the parts of the protocol that touch text.
//!
//! LSP positions are a 0-based line and a column counted in UTF-16 code
//! units unless the client and server agree on another encoding (we accept
//! UTF-8 as well). Every conversion here clamps: a position past the end of
//! a line or of the text lands on the end, never on a panic.

use std::path::{Path, PathBuf};

use lsp_types::{Position, Range};

use crate::source::SourceFile;

/// How columns are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf16,
    Utf8,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf16 => "utf-16",
            Encoding::Utf8 => "utf-8",
        }
    }
}

/// The line `line` of `text` without its line break, and its start offset.
fn line_bounds(text: &str, line_start: usize, next_start: usize) -> (usize, usize) {
    let mut end = next_start.min(text.len());
    let bytes = text.as_bytes();
    if end > line_start && bytes.get(end - 1) == Some(&b'\n') {
        end -= 1;
        if end > line_start && bytes.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
    }
    (line_start, end.max(line_start))
}

/// The LSP position of byte `offset` of a file.
pub fn position(file: &SourceFile, offset: usize, encoding: Encoding) -> Position {
    let mut offset = offset.min(file.text.len());
    while !file.text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line = file.line_index(offset);
    let start = file.line_start(line);
    let before = file.text.get(start..offset).unwrap_or("");
    let character = match encoding {
        Encoding::Utf8 => before.len(),
        Encoding::Utf16 => before.chars().map(char::len_utf16).sum(),
    };
    Position::new(
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(character).unwrap_or(u32::MAX),
    )
}

/// The LSP range of a byte range of a file.
pub fn range(file: &SourceFile, bytes: &std::ops::Range<usize>, encoding: Encoding) -> Range {
    Range::new(
        position(file, bytes.start, encoding),
        position(file, bytes.end.max(bytes.start), encoding),
    )
}

/// The byte offset of an LSP position in `text` (clamped to the end of its
/// line, and to the end of the text).
pub fn offset(text: &str, at: Position, encoding: Encoding) -> usize {
    let mut line_start = 0;
    for _ in 0..at.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let next = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i + 1);
    let (start, end) = line_bounds(text, line_start, next);
    let line = &text[start..end];
    let wanted = at.character as usize;
    let mut units = 0;
    for (i, c) in line.char_indices() {
        if units >= wanted {
            return start + i;
        }
        units += match encoding {
            Encoding::Utf8 => c.len_utf8(),
            Encoding::Utf16 => c.len_utf16(),
        };
    }
    end
}

/// Applies one `textDocument/didChange` content change.
pub fn apply_change(text: &mut String, range: Option<Range>, new_text: &str, encoding: Encoding) {
    match range {
        None => *text = new_text.to_string(),
        Some(r) => {
            let start = offset(text, r.start, encoding);
            let end = offset(text, r.end, encoding).max(start);
            text.replace_range(start..end, new_text);
        }
    }
}

/// The path of a `file:` URI, percent-decoded; `None` for other schemes or
/// a URI that does not decode to UTF-8.
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    // `file://host/path`: only an empty host or `localhost` is local.
    let path = if rest.starts_with('/') {
        rest
    } else {
        rest.strip_prefix("localhost")?
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}

/// The `file:` URI of an absolute path, percent-encoding what RFC 3986 does
/// not allow in a path.
pub fn path_to_uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_count_code_units() {
        // "é" is 2 bytes, 1 UTF-16 unit; "😀" is 4 bytes, 2 units.
        let file = SourceFile::new("t", "a = 1\nné😀 = \"x\"\r\nlast");
        let x = file.text.find('x').unwrap();
        assert_eq!(position(&file, x, Encoding::Utf16), Position::new(1, 8));
        assert_eq!(position(&file, x, Encoding::Utf8), Position::new(1, 11));
        for enc in [Encoding::Utf16, Encoding::Utf8] {
            let p = position(&file, x, enc);
            assert_eq!(offset(&file.text, p, enc), x);
        }
        // Past the end of a line: the end of that line, before its CR LF.
        let end_of_line = file.text.find('\r').unwrap();
        assert_eq!(
            offset(&file.text, Position::new(1, 99), Encoding::Utf16),
            end_of_line
        );
        assert_eq!(
            offset(&file.text, Position::new(9, 0), Encoding::Utf16),
            file.text.len()
        );
        // Inside a surrogate pair: the character's start, not a panic.
        let smiley = file.text.find('😀').unwrap();
        assert_eq!(
            offset(&file.text, Position::new(1, 3), Encoding::Utf16),
            smiley + 4
        );
        assert_eq!(position(&file, smiley + 1, Encoding::Utf16).character, 2);
    }

    #[test]
    fn incremental_changes_apply_at_utf16_positions() {
        let mut text = String::from("vrid = 51 # é\nx = 1\n");
        let r = Range::new(Position::new(0, 7), Position::new(0, 9));
        apply_change(&mut text, Some(r), "52", Encoding::Utf16);
        assert_eq!(text, "vrid = 52 # é\nx = 1\n");
        // A reversed range inserts instead of panicking.
        let r = Range::new(Position::new(1, 5), Position::new(1, 0));
        apply_change(&mut text, Some(r), "2", Encoding::Utf16);
        assert_eq!(text, "vrid = 52 # é\nx = 12\n");
        apply_change(&mut text, None, "new", Encoding::Utf16);
        assert_eq!(text, "new");
    }

    #[test]
    fn file_uris_round_trip() {
        let path = Path::new("/tmp/a dir/é#1.toml");
        let uri = path_to_uri(path);
        assert_eq!(uri, "file:///tmp/a%20dir/%C3%A9%231.toml");
        assert_eq!(uri_to_path(&uri).unwrap(), path);
        assert_eq!(
            uri_to_path("file://localhost/x.toml").unwrap(),
            Path::new("/x.toml")
        );
        assert_eq!(uri_to_path("untitled:1"), None);
        assert_eq!(uri_to_path("file:///%zz"), None);
        assert_eq!(uri_to_path("file:///%C3"), None);
    }
}
