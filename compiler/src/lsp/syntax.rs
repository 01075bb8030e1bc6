//! A forgiving scan of a topology file's TOML for editor features: every
//! key with its full path (`router.www.member.web1`) and every string value
//! with the path of its key, each with its byte span; and, at the end of
//! the scanned text, what the cursor is in (a key, a value).
//!
//! It works on text that does not parse (the file being typed): it never
//! fails, it only stops making sense of a line until the next one. The
//! real parse, with its diagnostics, is `crate::load`'s.

use std::ops::Range;

/// What an [`Item`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// One part of a key (a header's or a dotted key's); `path` ends with it.
    Key,
    /// A string value (alone or in an array) of the key at `path`.
    Str(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub path: Vec<String>,
    pub span: Range<usize>,
    pub kind: ItemKind,
}

/// Where the scanned text ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum End {
    /// At a key (or the place for one): the path of its table, the key
    /// parts before the one being typed, and what is typed of it.
    Key {
        parent: Vec<String>,
        partial: String,
        header: bool,
    },
    /// At a value of the key at `path`; `quoted` when inside a string, and
    /// what is typed of it.
    Value {
        path: Vec<String>,
        quoted: bool,
        partial: String,
    },
    /// In a comment, or after a value on its line.
    #[default]
    Other,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub items: Vec<Item>,
    pub end: End,
}

#[derive(Clone, Debug)]
enum Frame {
    /// An inline table: keys are relative to the path.
    Table(Vec<String>),
    /// An array: values belong to the path.
    Array(Vec<String>),
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    i: usize,
    table: Vec<String>,
    stack: Vec<Frame>,
    items: Vec<Item>,
}

fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Scans a whole file.
pub fn scan(text: &str) -> Scan {
    let mut s = Scanner {
        text,
        bytes: text.as_bytes(),
        i: 0,
        table: Vec::new(),
        stack: Vec::new(),
        items: Vec::new(),
    };
    let end = s.run();
    Scan {
        items: s.items,
        end,
    }
}

/// Scans up to byte `offset` (moved back to a character boundary) and says
/// what the text ends in there.
pub fn context_at(text: &str, offset: usize) -> End {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    scan(&text[..offset]).end
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Skips to the end of the line (not past the newline).
    fn skip_line(&mut self) {
        while let Some(b) = self.peek() {
            if b == b'\n' {
                return;
            }
            self.i += 1;
        }
    }

    /// The base path for keys here: the table, or the innermost inline table.
    fn base(&self) -> Vec<String> {
        match self.stack.last() {
            Some(Frame::Table(p)) | Some(Frame::Array(p)) => p.clone(),
            None => self.table.clone(),
        }
    }

    fn run(&mut self) -> End {
        loop {
            // Start of a line (or of a key in an inline table).
            self.skip_blanks();
            let Some(b) = self.peek() else {
                return self.end_at_key(Vec::new(), String::new(), false);
            };
            match b {
                b'\n' | b'\r' => {
                    self.i += 1;
                }
                b'#' => {
                    self.skip_line();
                    if self.peek().is_none() {
                        return End::Other;
                    }
                }
                b'[' if self.stack.is_empty() => {
                    if let Some(end) = self.header() {
                        return end;
                    }
                }
                _ => {
                    if let Some(end) = self.key_value() {
                        return end;
                    }
                }
            }
        }
    }

    fn end_at_key(&self, parts: Vec<String>, partial: String, header: bool) -> End {
        let mut parent = if header { Vec::new() } else { self.base() };
        parent.extend(parts);
        End::Key {
            parent,
            partial,
            header,
        }
    }

    /// A `[table]` or `[[array]]` header; `Some` when the text ends in it.
    fn header(&mut self) -> Option<End> {
        self.i += 1;
        if self.peek() == Some(b'[') {
            self.i += 1;
        }
        let (parts, ended) = self.dotted_key(Vec::new(), true);
        if let Some(end) = ended {
            return Some(end);
        }
        self.table = parts;
        self.skip_line();
        if self.peek().is_none() {
            return Some(End::Other);
        }
        None
    }

    /// Reads a dotted key, emitting an item per part (paths below `base`).
    /// Returns the parts, or where the text ended inside the key.
    fn dotted_key(&mut self, base: Vec<String>, header: bool) -> (Vec<String>, Option<End>) {
        let mut parts: Vec<String> = Vec::new();
        loop {
            self.skip_blanks();
            let start = self.i;
            let part = match self.peek() {
                None => {
                    let end = End::Key {
                        parent: [base.clone(), parts.clone()].concat(),
                        partial: String::new(),
                        header,
                    };
                    return (parts, Some(end));
                }
                Some(q @ (b'"' | b'\'')) => {
                    self.i += 1;
                    let (value, closed) = self.string_body(q, false);
                    if !closed {
                        let end = End::Key {
                            parent: [base.clone(), parts.clone()].concat(),
                            partial: value,
                            header,
                        };
                        return (parts, Some(end));
                    }
                    value
                }
                Some(b) if is_bare(b) => {
                    while self.peek().is_some_and(is_bare) {
                        self.i += 1;
                    }
                    let value = self.text.get(start..self.i).unwrap_or("").to_string();
                    if self.peek().is_none() {
                        let end = End::Key {
                            parent: [base.clone(), parts.clone()].concat(),
                            partial: value,
                            header,
                        };
                        return (parts, Some(end));
                    }
                    value
                }
                // Not a key: give up on the line.
                Some(_) => return (parts, None),
            };
            parts.push(part);
            self.items.push(Item {
                path: [base.clone(), parts.clone()].concat(),
                span: start..self.i,
                kind: ItemKind::Key,
            });
            self.skip_blanks();
            if self.peek() == Some(b'.') {
                self.i += 1;
                continue;
            }
            return (parts, None);
        }
    }

    /// The body of a string after its opening quote: its value and whether
    /// it was closed. Basic strings keep escapes undone only for `\"` and
    /// `\\` (names need no more).
    fn string_body(&mut self, quote: u8, multiline: bool) -> (String, bool) {
        let start = self.i;
        let mut value = String::new();
        let mut chunk = start;
        loop {
            let Some(b) = self.peek() else {
                value.push_str(self.text.get(chunk..self.i).unwrap_or(""));
                return (value, false);
            };
            if b == b'\n' && !multiline {
                value.push_str(self.text.get(chunk..self.i).unwrap_or(""));
                return (value, false);
            }
            if b == b'\\' && quote == b'"' {
                value.push_str(self.text.get(chunk..self.i).unwrap_or(""));
                if let Some(next @ (b'"' | b'\\')) = self.bytes.get(self.i + 1).copied() {
                    value.push(next as char);
                    self.i += 2;
                } else {
                    self.i += 1;
                }
                chunk = self.i;
                continue;
            }
            if b == quote {
                let closing = if multiline {
                    self.bytes.get(self.i..self.i + 3) == Some(&[quote, quote, quote][..])
                } else {
                    true
                };
                if closing {
                    value.push_str(self.text.get(chunk..self.i).unwrap_or(""));
                    self.i += if multiline { 3 } else { 1 };
                    return (value, true);
                }
            }
            self.i += 1;
        }
    }

    /// `key = value` (or a key inside an inline table); `Some` when the
    /// text ends in it.
    fn key_value(&mut self) -> Option<End> {
        let base = self.base();
        let (parts, ended) = self.dotted_key(base.clone(), false);
        if ended.is_some() {
            return ended;
        }
        self.skip_blanks();
        if parts.is_empty() || self.peek() != Some(b'=') {
            // Not a key-value: skip the rest of the line, or of the inline table.
            self.recover();
            return if self.peek().is_none() {
                Some(End::Other)
            } else {
                None
            };
        }
        self.i += 1;
        let path = [base, parts].concat();
        self.value(path)
    }

    /// Skips to the next line (top level) or the next `,`/`}` (inline table).
    fn recover(&mut self) {
        if self.stack.is_empty() {
            self.skip_line();
            return;
        }
        while let Some(b) = self.peek() {
            match b {
                b',' => {
                    self.i += 1;
                    return;
                }
                b'}' | b']' | b'\n' => return self.close_frames(),
                _ => self.i += 1,
            }
        }
    }

    /// After a value in an inline table or array: `,`, closing brackets,
    /// newlines and comments. Leaves `i` where the next key (or, in an
    /// array, value) starts; `Some` when the text ends first.
    fn after_value(&mut self) -> Option<End> {
        loop {
            self.skip_blanks();
            match (self.peek(), self.stack.last().cloned()) {
                (None, Some(Frame::Array(path))) => {
                    return Some(End::Value {
                        path,
                        quoted: false,
                        partial: String::new(),
                    });
                }
                (None, _) => return Some(End::Other),
                (Some(b'#'), _) => self.skip_line(),
                (Some(b'\n' | b'\r'), None) => return None,
                (Some(b'\n' | b'\r'), Some(_)) => self.i += 1,
                (Some(b','), Some(Frame::Table(_))) => {
                    self.i += 1;
                    return None;
                }
                (Some(b','), Some(Frame::Array(path))) => {
                    self.i += 1;
                    return self.value_in_array(path);
                }
                (Some(b'}'), Some(Frame::Table(_))) | (Some(b']'), Some(Frame::Array(_))) => {
                    self.i += 1;
                    self.stack.pop();
                }
                (Some(_), None) => {
                    // Anything after a top-level value: the rest of the line.
                    self.skip_line();
                }
                (Some(_), Some(_)) => {
                    self.recover();
                    return None;
                }
            }
        }
    }

    /// The next value of an array, after `[` or `,` (or a closing `]`).
    fn value_in_array(&mut self, path: Vec<String>) -> Option<End> {
        loop {
            self.skip_blanks();
            match self.peek() {
                None => {
                    return Some(End::Value {
                        path,
                        quoted: false,
                        partial: String::new(),
                    });
                }
                Some(b'\n' | b'\r') => self.i += 1,
                Some(b'#') => self.skip_line(),
                Some(b']') => {
                    self.i += 1;
                    self.stack.pop();
                    return self.after_value();
                }
                Some(_) => return self.value(path),
            }
        }
    }

    /// A value of the key at `path`, then what follows it.
    fn value(&mut self, path: Vec<String>) -> Option<End> {
        self.skip_blanks();
        let start = self.i;
        match self.peek() {
            None => {
                return Some(End::Value {
                    path,
                    quoted: false,
                    partial: String::new(),
                });
            }
            Some(q @ (b'"' | b'\'')) => {
                let multiline = self.bytes.get(self.i..self.i + 3) == Some(&[q, q, q][..]);
                self.i += if multiline { 3 } else { 1 };
                let (value, closed) = self.string_body(q, multiline);
                if !closed && self.peek().is_none() {
                    return Some(End::Value {
                        path,
                        quoted: true,
                        partial: value,
                    });
                }
                self.items.push(Item {
                    path,
                    span: start..self.i,
                    kind: ItemKind::Str(value),
                });
            }
            Some(b'{') => {
                self.i += 1;
                self.stack.push(Frame::Table(path));
                return None;
            }
            Some(b'[') => {
                self.i += 1;
                self.stack.push(Frame::Array(path.clone()));
                return self.value_in_array(path);
            }
            Some(_) => {
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b']' | b'}' | b'\n' | b'#') {
                        break;
                    }
                    self.i += 1;
                }
                if self.peek().is_none() {
                    let partial = self
                        .text
                        .get(start..self.i)
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    return Some(End::Value {
                        path,
                        quoted: false,
                        partial,
                    });
                }
            }
        }
        self.after_value()
    }

    /// Closes the frames at a newline that ends a broken inline table.
    fn close_frames(&mut self) {
        if self.peek() == Some(b'\n') {
            self.stack.clear();
        } else {
            self.i += 1;
            self.stack.pop();
        }
    }
}

/// The item whose span holds `offset` (ends included: a cursor just after
/// a name is on it).
pub fn item_at(items: &[Item], offset: usize) -> Option<&Item> {
    items
        .iter()
        .find(|i| i.span.start <= offset && offset <= i.span.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        scan(text)
            .items
            .iter()
            .map(|i| match &i.kind {
                ItemKind::Key => format!("{}@{}", i.path.join("."), &text[i.span.clone()]),
                ItemKind::Str(v) => format!("{}={v}", i.path.join(".")),
            })
            .collect()
    }

    #[test]
    fn headers_dotted_keys_inline_tables_and_arrays() {
        let text = "[router.www]\nsegment = \"front\" # c\nmember.web1 = { priority = 1, interface = \"eth0\" }\n\
                    heartbeat_paths = [\n  \"back\", # x\n  'hb',\n]\n[[virtual_server.v.real_server]]\naddress = \"10.0.0.1\"\n\
                    [segment.\"quoted name\"]\nreserved_vrids = [{ vrid = 1, owner = \"sw\" }]\n";
        assert_eq!(
            keys(text),
            [
                "router@router",
                "router.www@www",
                "router.www.segment@segment",
                "router.www.segment=front",
                "router.www.member@member",
                "router.www.member.web1@web1",
                "router.www.member.web1.priority@priority",
                "router.www.member.web1.interface@interface",
                "router.www.member.web1.interface=eth0",
                "router.www.heartbeat_paths@heartbeat_paths",
                "router.www.heartbeat_paths=back",
                "router.www.heartbeat_paths=hb",
                "virtual_server@virtual_server",
                "virtual_server.v@v",
                "virtual_server.v.real_server@real_server",
                "virtual_server.v.real_server.address@address",
                "virtual_server.v.real_server.address=10.0.0.1",
                "segment@segment",
                "segment.quoted name@\"quoted name\"",
                "segment.quoted name.reserved_vrids@reserved_vrids",
                "segment.quoted name.reserved_vrids.vrid@vrid",
                "segment.quoted name.reserved_vrids.owner@owner",
                "segment.quoted name.reserved_vrids.owner=sw",
            ]
        );
    }

    #[test]
    fn the_end_of_the_text_says_where_the_cursor_is() {
        let key = |parent: &[&str], partial: &str, header| End::Key {
            parent: parent.iter().map(|s| s.to_string()).collect(),
            partial: partial.into(),
            header,
        };
        let value = |path: &[&str], quoted, partial: &str| End::Value {
            path: path.iter().map(|s| s.to_string()).collect(),
            quoted,
            partial: partial.into(),
        };
        assert_eq!(
            context_at("[router.www]\nvr", 15),
            key(&["router", "www"], "vr", false)
        );
        assert_eq!(
            context_at("[router.www]\n", 13),
            key(&["router", "www"], "", false)
        );
        assert_eq!(context_at("[router.", 8), key(&["router"], "", true));
        assert_eq!(
            context_at("[router.www]\nmember.web1 = { pri", 32),
            key(&["router", "www", "member", "web1"], "pri", false)
        );
        assert_eq!(
            context_at("[router.www]\nsegment = \"fr", 26),
            value(&["router", "www", "segment"], true, "fr")
        );
        assert_eq!(
            context_at("[sync_group.g]\nrouters = [\"a\", \"", 32),
            value(&["sync_group", "g", "routers"], true, "")
        );
        assert_eq!(
            context_at("[router.www]\npreempt = ", 23),
            value(&["router", "www", "preempt"], false, "")
        );
        assert_eq!(context_at("[router.www] # com", 18), End::Other);
        // After a complete line, the next key.
        assert_eq!(
            context_at("[router.www]\nvrid = 1\n", 22),
            key(&["router", "www"], "", false)
        );
    }

    #[test]
    fn broken_text_never_panics() {
        let texts = [
            "[",
            "[[",
            "]",
            "=",
            "a =",
            "a = \"",
            "a = '''x",
            "a = {",
            "a = [",
            "a = [{",
            "a = }",
            "a = ]",
            "[a.\"b",
            "a.b.\"c\" = \"d\\",
            "é = \"ü\"",
            "a = { b = [1, { c = \"x\" }], }\n[x]",
            "\"\"\"",
            "a = \"\"\"\nb\n\"\"\"\nc = 1",
            "\r\n\r[a]\r\nb = 1\r\n",
        ];
        for text in texts {
            for offset in 0..=text.len() + 1 {
                let _ = context_at(text, offset);
            }
            let _ = scan(text);
        }
    }
}
