//! The keepalived.conf language (keepalived 2.x): bytes → a tree of
//! statements, every token with its [`Span`].
//!
//! The language is line based: a statement is a keyword and its arguments
//! up to the end of the line; `{` opens the block of the statement before
//! it (on the same line or, in the other brace style, alone on the next
//! line) and `}` closes it. `#` and `!` at the start of a word begin a
//! comment; `"..."` is one word. `include GLOB` is replaced by the
//! statements of the files it names, at the place where it stands.
//!
//! The reader is total and linear: one pass over the bytes of every file,
//! no backtracking. Every problem becomes a [`Diagnostic`] (file, line,
//! column from the span) and reading goes on where it safely can: a file
//! with binary data or an unclosed block is reported and what was read
//! before the fault is kept.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{FileId, SourceMap, Span};

/// Code of the keepalived.conf reader's diagnostics (see `vigil explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// Braces or quotes that do not pair up, binary data.
    Syntax,
    /// An include that names nothing, loops, or cannot be read.
    Include,
    /// A value of the wrong form (`priority abc`, `virtual_router_id 300`).
    Value,
    /// A construct Vigil has no model for (info).
    Unsupported,
    /// Members whose `unicast_peer` lists do not name each other.
    UnicastPeers,
    /// Hosts whose copies of one virtual server or sync group differ.
    CopiesDiffer,
}

impl ReadError {
    pub const ALL: [ReadError; 6] = [
        ReadError::Syntax,
        ReadError::Include,
        ReadError::Value,
        ReadError::Unsupported,
        ReadError::UnicastPeers,
        ReadError::CopiesDiffer,
    ];
    pub fn code(self) -> &'static str {
        match self {
            ReadError::Syntax => "V0011",
            ReadError::Include => "V0012",
            ReadError::Value => "V0013",
            ReadError::Unsupported => "V0014",
            ReadError::UnicastPeers => "V0015",
            ReadError::CopiesDiffer => "V0016",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ReadError::Syntax => "keepalived-syntax",
            ReadError::Include => "keepalived-include",
            ReadError::Value => "keepalived-value",
            ReadError::Unsupported => "keepalived-unsupported",
            ReadError::UnicastPeers => "keepalived-unicast-peers",
            ReadError::CopiesDiffer => "keepalived-copies-differ",
        }
    }
    pub fn severity(self) -> Severity {
        match self {
            ReadError::Unsupported => Severity::Info,
            ReadError::CopiesDiffer => Severity::Warning,
            _ => Severity::Error,
        }
    }
    pub fn explanation(self) -> &'static str {
        match self {
            ReadError::Syntax => {
                "A keepalived.conf file that cannot be read as keepalived's configuration language: a \
                 `}` without its `{`, a block still open at the end of the file (a truncated file), \
                 a quoted string that is not closed on its line, or binary data. keepalived itself \
                 would either refuse the file or silently read the rest into the wrong block; fix the \
                 file at the position shown."
            }
            ReadError::Include => {
                "An `include` that cannot be read or includes a file that is already being read (a \
                 loop): an error that stops the check. An include that matches no file is a warning: \
                 keepalived skips it with a log line, so the host runs without the configuration the \
                 include was meant to add. An absolute pattern that matches nothing is also tried \
                 relative to the main file's directory (`/etc/keepalived/conf.d/*.conf` as \
                 `conf.d/*.conf` beside the main file), for fleets kept in a repository. Fix the \
                 pattern or break the loop."
            }
            ReadError::Value => {
                "A keepalived.conf value of the wrong form: a number that is not one or out of range \
                 (`virtual_router_id 300`), an address that is not one, a keyword without its \
                 argument. keepalived ignores such a line with a log message and uses its default, \
                 which is rarely what was meant."
            }
            ReadError::Unsupported => {
                "A keepalived construct that Vigil's topology has no equivalent for (SMTP checks, \
                 virtual server groups, static routes, conditional configuration...). It is reported \
                 once, where it is written, so nothing is dropped silently: `vigil import` keeps it as \
                 a comment, and the cross-host checks do not take it into account."
            }
            ReadError::UnicastPeers => {
                "With unicast adverts (`unicast_peer`), every member of a VRRP instance must list every \
                 other member's `unicast_src_ip`. A member missing from a peer's list never receives that \
                 peer's adverts: when the peer is master, the member does not hear it, becomes master \
                 too and both answer for the VIPs. Vigil derives the peer lists from the members, so \
                 this can only happen in hand-written keepalived.conf files; add the missing address."
            }
            ReadError::CopiesDiffer => {
                "Hosts each carry a copy of a `virtual_server` or `vrrp_sync_group` block, and the \
                 copies differ: a virtual server's scheduler, forwarding method, persistence, quorum, \
                 real servers, weights or health check, or the instances a sync group holds. Whichever \
                 director is master programs its own copy of a virtual server, so a failover changes \
                 how traffic is balanced, or where it goes; hosts with different sync groups fail over \
                 different sets of instances together. A Vigil topology has one definition of each; \
                 the first host's copy is imported. Make the copies identical, e.g. by including one \
                 shared file on every host."
            }
        }
    }
    pub fn at(self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.code(), self.name(), self.severity(), span, message)
    }
}

/// One word of the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The word without its quotes.
    pub text: String,
    pub span: Span,
}

/// One statement: `keyword args... [{ children }]`.
#[derive(Clone, Debug)]
pub struct Node {
    pub key: Word,
    pub args: Vec<Word>,
    /// `Some` when the statement has a block.
    pub children: Option<Vec<Node>>,
}

impl Node {
    /// The span from the keyword to the last argument.
    pub fn span(&self) -> Span {
        let end = self
            .args
            .last()
            .filter(|a| a.span.file == self.key.span.file)
            .map_or(self.key.span.range.end, |a| a.span.range.end);
        Span::new(self.key.span.file, self.key.span.range.start..end)
    }
    pub fn children(&self) -> &[Node] {
        self.children.as_deref().unwrap_or(&[])
    }
    pub fn arg(&self, i: usize) -> Option<&Word> {
        self.args.get(i)
    }
}

/// The result of reading one host's configuration.
#[derive(Debug, Default)]
pub struct Parsed {
    pub nodes: Vec<Node>,
    /// Every file read for this host, the main file first.
    pub files: Vec<FileId>,
}

/// Most files one host's configuration may include, to bound the work an
/// include pattern can cause.
const MAX_FILES: usize = 10_000;

/// Reads `path` and everything it includes into `sources`.
pub fn read_path(path: &Path, sources: &mut SourceMap, diags: &mut Vec<Diagnostic>) -> Parsed {
    let mut reader = Reader {
        sources,
        diags,
        stack: Vec::new(),
        parsed: Parsed::default(),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let file = reader.sources.add(path.display().to_string(), "");
            reader.parsed.files.push(file);
            reader.diags.push(ReadError::Include.at(
                Span::new(file, 0..0),
                format!("cannot read {}: {e}", path.display()),
            ));
            return reader.parsed;
        }
    };
    let mut nodes = Vec::new();
    reader.read_bytes(path, &path.display().to_string(), bytes, &mut nodes);
    reader.parsed.nodes = nodes;
    reader.parsed
}

/// Reads one file given in memory (tests, fuzzing); includes are resolved
/// relative to the current directory.
pub fn read_text(
    name: &str,
    bytes: &[u8],
    sources: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Parsed {
    let mut reader = Reader {
        sources,
        diags,
        stack: Vec::new(),
        parsed: Parsed::default(),
    };
    let mut nodes = Vec::new();
    reader.read_bytes(Path::new(name), name, bytes.to_vec(), &mut nodes);
    reader.parsed.nodes = nodes;
    reader.parsed
}

struct Reader<'a> {
    sources: &'a mut SourceMap,
    diags: &'a mut Vec<Diagnostic>,
    /// The files being read, outermost first (for loop detection).
    stack: Vec<PathBuf>,
    parsed: Parsed,
}

/// One lexical token.
#[derive(Debug)]
enum Tok {
    Word(Word),
    Open(Span),
    Close(Span),
    Newline,
}

impl Reader<'_> {
    fn read_bytes(&mut self, path: &Path, name: &str, bytes: Vec<u8>, out: &mut Vec<Node>) {
        let (text, bad_utf8) = match String::from_utf8(bytes) {
            Ok(t) => (t, None),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                (String::from_utf8_lossy(e.as_bytes()).into_owned(), Some(at))
            }
        };
        let file = self.sources.add(name, text);
        self.parsed.files.push(file);
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.stack.push(key);
        let text = self.sources.file(file).text.clone();
        // Up to the first byte that is not UTF-8 or not text: the rest of a
        // binary file is noise and would only repeat the error.
        let mut end = text.len();
        if let Some(at) = bad_utf8 {
            end = at;
            self.diags.push(
                ReadError::Syntax
                    .at(
                        Span::new(file, at..at + 3),
                        format!("{name} is not text: byte {at} is not UTF-8"),
                    )
                    .label("not UTF-8")
                    .help("keepalived.conf files are text; the file may be truncated, binary or in another encoding (re-encode it, e.g. `iconv -f latin1 -t utf-8`)"),
            );
        }
        if let Some(pos) = text[..end]
            .char_indices()
            .find(|&(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            .map(|(i, _)| i)
        {
            let c = text[pos..].chars().next().unwrap_or('\0');
            end = pos;
            self.diags.push(
                ReadError::Syntax
                    .at(
                        Span::new(file, pos..pos + c.len_utf8()),
                        format!(
                            "{name} holds binary data: control character U+{:04X} at byte {pos}",
                            u32::from(c)
                        ),
                    )
                    .label("not text")
                    .help("keepalived stops reading a line at such a byte; the file is probably not a configuration file, or is damaged"),
            );
        }
        let tokens = lex(file, &text[..end], self.diags);
        self.build(path, file, tokens, out);
        self.stack.pop();
    }

    /// Tokens → statements, with includes expanded in place.
    fn build(&mut self, path: &Path, file: FileId, tokens: Vec<Tok>, out: &mut Vec<Node>) {
        // Each level: the open brace's span and the statement that owns it.
        let mut levels: Vec<(Span, Node, Vec<Node>)> = Vec::new();
        let mut cur: Option<Node> = None;
        // Whether the last statement of the current list ended at a line
        // break with no block yet (so a `{` on the next line opens its block).
        let mut may_take_block = false;
        fn list<'v>(
            levels: &'v mut [(Span, Node, Vec<Node>)],
            out: &'v mut Vec<Node>,
        ) -> &'v mut Vec<Node> {
            match levels.last_mut() {
                Some((_, _, l)) => l,
                None => out,
            }
        }
        for tok in tokens {
            match tok {
                Tok::Word(w) => match &mut cur {
                    Some(n) => n.args.push(w),
                    None => {
                        cur = Some(Node {
                            key: w,
                            args: Vec::new(),
                            children: None,
                        })
                    }
                },
                Tok::Newline => {
                    if let Some(n) = cur.take() {
                        may_take_block = n.children.is_none() && n.key.text != "include";
                        self.finish(path, n, list(&mut levels, out));
                    }
                }
                Tok::Open(span) => {
                    let owner = match cur.take() {
                        Some(n) => Some(n),
                        None if may_take_block => list(&mut levels, out).pop(),
                        None => None,
                    };
                    may_take_block = false;
                    match owner {
                        Some(n) => levels.push((span, n, Vec::new())),
                        None => {
                            self.diags.push(
                                ReadError::Syntax
                                    .at(span.clone(), "`{` without a keyword before it")
                                    .label("opens a block that belongs to nothing")
                                    .help("keepalived reads this block's contents as top-level statements; put the block's keyword (e.g. `vrrp_instance NAME`) before the `{`"),
                            );
                            // Read the contents as an anonymous block and drop it.
                            let key = Word {
                                text: String::new(),
                                span: span.clone(),
                            };
                            levels.push((
                                span,
                                Node {
                                    key,
                                    args: Vec::new(),
                                    children: None,
                                },
                                Vec::new(),
                            ));
                        }
                    }
                }
                Tok::Close(span) => {
                    if let Some(n) = cur.take() {
                        self.finish(path, n, list(&mut levels, out));
                    }
                    may_take_block = false;
                    match levels.pop() {
                        Some((_, mut owner, children)) => {
                            if owner.key.text.is_empty() {
                                continue;
                            }
                            owner.children = Some(children);
                            list(&mut levels, out).push(owner);
                        }
                        None => self.diags.push(
                            ReadError::Syntax
                                .at(span, "`}` without a matching `{`")
                                .label("closes nothing")
                                .help("remove this brace, or add the `{` it was meant to close; keepalived would end the enclosing block here and read what follows at the wrong level"),
                        ),
                    }
                }
            }
        }
        if let Some(n) = cur.take() {
            self.finish(path, n, list(&mut levels, out));
        }
        // Blocks still open at the end of the file: report the innermost
        // (where the text most likely stops) and keep what was read.
        if let Some((open, owner, _)) = levels.last() {
            let len = self.sources.file(file).text.len();
            self.diags.push(
                ReadError::Syntax
                    .at(
                        open.clone(),
                        format!(
                            "the file ends before the block of `{}` is closed{}",
                            owner.key.text,
                            if levels.len() > 1 {
                                format!(" ({} blocks are open)", levels.len())
                            } else {
                                String::new()
                            }
                        ),
                    )
                    .label("this `{` is never closed")
                    .with(Span::new(file, len..len), "end of file")
                    .help("the file may be truncated; add the missing `}` (keepalived would read the whole rest of the configuration into this block)"),
            );
        }
        while let Some((_, mut owner, children)) = levels.pop() {
            if owner.key.text.is_empty() {
                continue;
            }
            owner.children = Some(children);
            list(&mut levels, out).push(owner);
        }
    }

    /// Adds a finished statement, expanding `include`.
    fn finish(&mut self, path: &Path, node: Node, list: &mut Vec<Node>) {
        if node.key.text != "include" {
            list.push(node);
            return;
        }
        let Some(pattern) = node.args.first() else {
            self.diags.push(
                ReadError::Include
                    .at(node.key.span.clone(), "`include` without a file name")
                    .help("write `include /etc/keepalived/conf.d/*.conf`"),
            );
            return;
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let full = if Path::new(&pattern.text).is_absolute() {
            PathBuf::from(&pattern.text)
        } else {
            base.join(&pattern.text)
        };
        let mut matches = glob(&full);
        if matches.is_empty() && Path::new(&pattern.text).is_absolute() {
            // A fleet checked out of its hosts (`/etc/keepalived/conf.d/*.conf`
            // in a repository's `lb1/`): the pattern's tail, from the main
            // file's directory, longest first.
            let root = self
                .stack
                .first()
                .and_then(|p| p.parent())
                .map(Path::to_path_buf);
            let parts: Vec<_> = Path::new(&pattern.text).components().skip(1).collect();
            for k in 0..parts.len() {
                let Some(root) = &root else { break };
                let tail: PathBuf = parts[k..].iter().collect();
                matches = glob(&root.join(tail));
                if !matches.is_empty() {
                    break;
                }
            }
        }
        if matches.is_empty() {
            // keepalived logs and goes on: a warning, not a stop.
            let mut d = ReadError::Include
                .at(pattern.span.clone(), format!("`include {}` matches no file", pattern.text))
                .label("no file matches")
                .help(format!(
                    "keepalived skips it and runs without what it was meant to add; relative patterns are read from {}, absolute ones also from the main file's directory (their last components)",
                    base.display()
                ));
            d.severity = Severity::Warning;
            self.diags.push(d);
            return;
        }
        for target in matches {
            let key = std::fs::canonicalize(&target).unwrap_or_else(|_| target.clone());
            if let Some(pos) = self.stack.iter().position(|p| *p == key) {
                let chain: Vec<String> = self.stack[pos..]
                    .iter()
                    .map(|p| p.display().to_string())
                    .chain(std::iter::once(key.display().to_string()))
                    .collect();
                self.diags.push(
                    ReadError::Include
                        .at(pattern.span.clone(), format!("include loop: {}", chain.join(" → ")))
                        .label("includes a file that is already being read")
                        .help("remove this include or the one that leads back here; keepalived would stop at its include depth limit"),
                );
                continue;
            }
            if self.parsed.files.len() >= MAX_FILES {
                self.diags.push(
                    ReadError::Include
                        .at(
                            pattern.span.clone(),
                            format!("more than {MAX_FILES} files included; the rest is not read"),
                        )
                        .help("include fewer files"),
                );
                return;
            }
            match std::fs::read(&target) {
                Ok(bytes) if std::fs::metadata(&target).is_ok_and(|m| m.is_file()) => {
                    let name = target.display().to_string();
                    self.read_bytes(&target, &name, bytes, list);
                }
                Ok(_) => {}
                Err(e) => self.diags.push(
                    ReadError::Include
                        .at(
                            pattern.span.clone(),
                            format!("cannot read {}: {e}", target.display()),
                        )
                        .label("included here"),
                ),
            }
        }
    }
}

/// Splits a file into tokens in one pass.
fn lex(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<Tok> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let span = |r: std::ops::Range<usize>| Span::new(file, r);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                tokens.push(Tok::Newline);
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' | b'!' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => {
                tokens.push(Tok::Open(span(i..i + 1)));
                i += 1;
            }
            b'}' => {
                tokens.push(Tok::Close(span(i..i + 1)));
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'"' {
                    tokens.push(Tok::Word(Word {
                        text: text[start + 1..i].to_string(),
                        span: span(start..i + 1),
                    }));
                    i += 1;
                } else {
                    diags.push(
                        ReadError::Syntax
                            .at(span(start..start + 1), "quoted string not closed on its line")
                            .label("opened here")
                            .help("add the closing `\"`; keepalived strings do not continue on the next line"),
                    );
                    tokens.push(Tok::Word(Word {
                        text: text[start + 1..i].to_string(),
                        span: span(start..i),
                    }));
                }
            }
            _ => {
                let start = i;
                while i < bytes.len()
                    && !matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n' | b'{' | b'}' | b'"')
                {
                    i += 1;
                }
                tokens.push(Tok::Word(Word {
                    text: text[start..i].to_string(),
                    span: span(start..i),
                }));
            }
        }
    }
    tokens
}

/// The files a pattern names, sorted; `*`, `?` and `[...]` in any
/// component. A pattern without wildcards names its file if it exists.
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut current: Vec<PathBuf> = vec![PathBuf::new()];
    let components: Vec<_> = pattern.components().collect();
    for (n, comp) in components.iter().enumerate() {
        let part = comp.as_os_str().to_string_lossy();
        let last = n + 1 == components.len();
        let mut next = Vec::new();
        for base in &current {
            if !part.contains(['*', '?', '[']) {
                let p = base.join(comp.as_os_str());
                // A directory on the way, or the named file itself.
                if (last && p.exists()) || (!last && p.is_dir()) {
                    next.push(p);
                }
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                base.clone()
            };
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (part.starts_with('.') || !name.starts_with('.')) && wildcard(&part, &name)
                })
                .map(|e| base.join(e.file_name()))
                .filter(|p| last || p.is_dir())
                .collect();
            found.sort();
            next.extend(found);
        }
        current = next;
        if current.is_empty() {
            break;
        }
    }
    current
}

/// Shell wildcard matching of one name (`*`, `?`, `[abc]`, `[a-z]`,
/// `[!x]`), iterative with one backtrack point: O(len × len) at worst.
pub fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => class(&p, pi, s[si]),
            Some(c) if *c == s[si] => Some(pi + 1),
            _ => None,
        };
        match step {
            Some(np) => {
                pi = np;
                si += 1;
            }
            None => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the class starting at `p[at] == '['`; the index
/// after the class when it matches.
fn class(p: &[char], at: usize, c: char) -> Option<usize> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (first || p[i] != ']') {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            matched |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            matched |= p[i] == c;
            i += 1;
        }
    }
    if i >= p.len() {
        // No closing bracket: a literal `[`.
        return (c == '[').then_some(at + 1);
    }
    (matched != negate).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Parsed, Vec<Diagnostic>, SourceMap) {
        let mut sources = SourceMap::new();
        let mut diags = Vec::new();
        let p = read_text("k.conf", text.as_bytes(), &mut sources, &mut diags);
        (p, diags, sources)
    }

    #[test]
    fn both_brace_styles_and_comments() {
        let (p, d, _) = read(
            "! comment\nvrrp_instance A {\n  state MASTER # trailing\n}\nvrrp_instance B\n{\n  priority 100\n  virtual_ipaddress { 10.0.0.1/24 }\n}\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.nodes.len(), 2);
        assert_eq!(p.nodes[0].children()[0].key.text, "state");
        assert_eq!(p.nodes[0].children()[0].args.len(), 1);
        assert_eq!(p.nodes[1].args[0].text, "B");
        assert_eq!(p.nodes[1].children().len(), 2);
        assert_eq!(
            p.nodes[1].children()[1].children()[0].key.text,
            "10.0.0.1/24"
        );
    }

    #[test]
    fn quoted_words_keep_spaces_and_spans() {
        let (p, d, s) = read("notify_master \"/bin/x a b\"\n");
        assert!(d.is_empty());
        let w = &p.nodes[0].args[0];
        assert_eq!(w.text, "/bin/x a b");
        assert_eq!(s.text(&w.span), "\"/bin/x a b\"");
    }

    #[test]
    fn unbalanced_braces_are_errors_with_positions() {
        let (_, d, s) = read("a {\n b 1\n");
        assert_eq!(d.len(), 1);
        assert_eq!(
            s.file(d[0].primary.span.file)
                .line_col(d[0].primary.span.range.start)
                .line,
            1
        );
        let (_, d, _) = read("a 1\n}\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("without a matching"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*.conf", "a.conf"));
        assert!(!wildcard("*.conf", "a.confx"));
        assert!(wildcard("h?st[0-9]", "host7"));
        assert!(!wildcard("[!a]x", "ax"));
        assert!(wildcard("a*b*c", "aXbYc"));
    }
}
