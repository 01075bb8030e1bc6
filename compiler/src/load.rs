//! Reading topology files: bytes → UTF-8 → TOML → [`Topology`].
//!
//! Every failure becomes a [`Diagnostic`] at the exact span toml reports
//! (the byte of a syntax error, the value of a type error, the key of an
//! unknown field), except failing to read a file at all, which is an
//! [`IoFailure`] (the command line named something that is not there).
//! Nothing in here panics on any input: the parser is total and we only
//! slice text through checked accessors.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use vigil_schema::topology::Topology;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{FileId, SourceMap, Span};

/// The diagnostics found while loading (not lints: they stop the check
/// before any lint runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    InvalidUtf8,
    TomlSyntax,
    UnknownKey,
    InvalidValue,
    DuplicateKey,
}

impl LoadError {
    pub fn code(self) -> &'static str {
        match self {
            LoadError::InvalidUtf8 => "V0001",
            LoadError::TomlSyntax => "V0002",
            LoadError::UnknownKey => "V0003",
            LoadError::InvalidValue => "V0004",
            LoadError::DuplicateKey => "V0005",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LoadError::InvalidUtf8 => "invalid-utf8",
            LoadError::TomlSyntax => "toml-syntax",
            LoadError::UnknownKey => "unknown-key",
            LoadError::InvalidValue => "invalid-value",
            LoadError::DuplicateKey => "duplicate-key",
        }
    }

    pub const ALL: [LoadError; 5] = [
        LoadError::InvalidUtf8,
        LoadError::TomlSyntax,
        LoadError::UnknownKey,
        LoadError::InvalidValue,
        LoadError::DuplicateKey,
    ];

    /// The text `vigil explain` prints.
    pub fn explanation(self) -> &'static str {
        match self {
            LoadError::InvalidUtf8 => {
                "The file is not UTF-8. TOML requires UTF-8; the diagnostic points at the first bad \
                 byte. Re-encode the file (e.g. `iconv -f latin1 -t utf-8`)."
            }
            LoadError::TomlSyntax => {
                "The file is not valid TOML (unclosed string or table header, a value cut short, a \
                 number that is not one). Nothing is checked until it parses; the diagnostic points at \
                 the byte where parsing stopped."
            }
            LoadError::UnknownKey => {
                "A key that the topology does not have at this place. Unknown keys are errors, not \
                 warnings, because a misspelt key (`prioirty`) would otherwise be ignored and its default \
                 used in production. The help suggests the closest allowed key."
            }
            LoadError::InvalidValue => {
                "A value of the wrong type or form (a string where a number belongs, an address without \
                 its prefix length, an unknown enum value, a number beyond 64 bits) or a required key \
                 that is missing."
            }
            LoadError::DuplicateKey => {
                "A key or table defined twice in one file. TOML forbids it; merge the two definitions. \
                 (Defining a router or segment in two different files is allowed and merged.)"
            }
        }
    }

    fn at(self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.code(), self.name(), Severity::Error, span, message)
    }
}

/// A file that parsed into a topology.
#[derive(Clone, Debug)]
pub struct LoadedFile {
    pub file: FileId,
    pub topology: Topology,
    /// How the topology's spans map to files, when it was built from several
    /// (an imported keepalived.conf and its includes): `(base, file)` pairs in
    /// increasing `base`, a span `a..b` meaning `a-base..b-base` in the last
    /// file whose base is at most `a`. Empty: every span is in `file`.
    pub layout: Vec<(usize, FileId)>,
}

impl LoadedFile {
    /// The span in its source file of a range of the topology.
    pub fn span(&self, range: &std::ops::Range<usize>) -> Span {
        let at = self
            .layout
            .partition_point(|(base, _)| *base <= range.start);
        match at.checked_sub(1).and_then(|i| self.layout.get(i)) {
            Some((base, file)) => {
                Span::new(*file, range.start - base..range.end.saturating_sub(*base))
            }
            None => Span::new(self.file, range.clone()),
        }
    }
}

/// A path that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoFailure {
    pub path: String,
    pub message: String,
}

/// The outcome of loading a set of paths.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: SourceMap,
    pub files: Vec<LoadedFile>,
    pub diagnostics: Vec<Diagnostic>,
    pub io_failures: Vec<IoFailure>,
}

/// Loads files; a directory stands for the `*.toml` files directly in it,
/// in name order.
///
/// Nothing in a directory is skipped silently: a `*.toml` entry that cannot
/// be read (a broken or looping symbolic link, a directory or device named
/// `*.toml`, an unreadable file) is an [`IoFailure`] with its path, so a
/// team's file cannot drop out of the cross-file checks unnoticed.
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    for path in paths {
        let (files, failures) = expand(path);
        loaded.io_failures.extend(failures);
        for file in files {
            match read_file(&file) {
                Ok(bytes) => loaded.add_bytes(&file.display().to_string(), bytes),
                Err(message) => loaded.io_failures.push(IoFailure {
                    path: file.display().to_string(),
                    message,
                }),
            }
        }
    }
    loaded
}

/// Reads a regular file (following symbolic links), naming what else it is.
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let describe_link = |e: std::io::Error| {
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            return e.to_string();
        }
        let target = std::fs::read_link(path)
            .map(|t| format!(" -> {}", t.display()))
            .unwrap_or_default();
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("broken symbolic link{target}: its target does not exist")
        } else {
            format!("symbolic link{target} cannot be followed: {e}")
        }
    };
    let metadata = std::fs::metadata(path).map_err(describe_link)?;
    if metadata.is_dir() {
        return Err("is a directory, not a topology file".into());
    }
    if !metadata.is_file() {
        return Err("is not a regular file".into());
    }
    std::fs::read(path).map_err(describe_link)
}

/// The files a command-line path stands for, and the failures to list them.
fn expand(path: &Path) -> (Vec<PathBuf>, Vec<IoFailure>) {
    let failure = |p: &Path, message: String| IoFailure {
        path: p.display().to_string(),
        message,
    };
    if !path.is_dir() {
        // Let the read report a missing file with its own message.
        return (vec![path.to_path_buf()], Vec::new());
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => return (Vec::new(), vec![failure(path, e.to_string())]),
    };
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => {
                let p = entry.path();
                if p.extension().is_some_and(|e| e == "toml") {
                    files.push(p);
                }
            }
            Err(e) => failures.push(failure(path, format!("cannot list an entry: {e}"))),
        }
    }
    files.sort();
    if files.is_empty() && failures.is_empty() {
        failures.push(failure(path, "the directory holds no .toml file".into()));
    }
    (files, failures)
}

impl Loaded {
    /// Adds one file from memory (tests, stdin, other front ends).
    pub fn add_bytes(&mut self, name: &str, bytes: Vec<u8>) {
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let file = self.sources.add(name, text);
                // The lossy text keeps offsets exact up to the first bad
                // byte, which becomes one U+FFFD (3 bytes) there.
                self.diagnostics.push(
                    LoadError::InvalidUtf8
                        .at(
                            Span::new(file, at..at + '\u{FFFD}'.len_utf8()),
                            format!("{name} is not valid UTF-8 (first bad byte at offset {at})"),
                        )
                    .label("this byte is not UTF-8")
                    .help("TOML files must be UTF-8; re-encode the file, e.g. `iconv -f latin1 -t utf-8`"),
                );
                return;
            }
        };
        let file = self.sources.add(name, text);
        let text = &self.sources.file(file).text;
        match parse(file, text) {
            Ok(topology) => self.files.push(LoadedFile {
                file,
                topology,
                layout: Vec::new(),
            }),
            Err(diagnostic) => self.diagnostics.push(*diagnostic),
        }
    }

    /// Whether loading found anything that stops the check.
    pub fn failed(&self) -> bool {
        !self.io_failures.is_empty() || !self.diagnostics.is_empty()
    }
}

/// Parses one file's text.
pub fn parse(file: FileId, text: &str) -> Result<Topology, Box<Diagnostic>> {
    let deserializer = toml::de::Deserializer::parse(text).map_err(|e| {
        let kind = if e.message().contains("duplicate key") {
            LoadError::DuplicateKey
        } else {
            LoadError::TomlSyntax
        };
        Box::new(from_toml_error(file, text, &e, kind))
    })?;
    Topology::deserialize(deserializer).map_err(|e| {
        let kind = if e.message().starts_with("unknown field") {
            LoadError::UnknownKey
        } else {
            LoadError::InvalidValue
        };
        Box::new(from_toml_error(file, text, &e, kind))
    })
}

fn from_toml_error(
    file: FileId,
    text: &str,
    error: &toml::de::Error,
    kind: LoadError,
) -> Diagnostic {
    let span = error.span().unwrap_or(0..0);
    let span = span.start.min(text.len())..span.end.min(text.len());
    let message = error.message().trim().to_string();
    let first_line = message.lines().next().unwrap_or("invalid TOML").to_string();
    let quoted = first_line.split('`').nth(1);
    let (headline, label) = match kind {
        LoadError::TomlSyntax | LoadError::InvalidUtf8 => {
            (format!("TOML syntax error: {first_line}"), "here")
        }
        LoadError::DuplicateKey => (
            "a key is defined twice: TOML does not allow redefining a key".to_string(),
            "defined again here",
        ),
        LoadError::UnknownKey => (
            quoted.map_or(first_line.clone(), |key| {
                format!("unknown key `{key}` in this table")
            }),
            "not a field here",
        ),
        LoadError::InvalidValue if first_line.contains(" as i128, expected i64") => (
            format!(
                "number {} does not fit in a 64-bit integer",
                quoted.unwrap_or("")
            ),
            "too large",
        ),
        LoadError::InvalidValue => (first_line.clone(), "this value"),
    };
    let diagnostic = kind.at(Span::new(file, span), headline).label(label);
    let help = match kind {
        LoadError::UnknownKey => did_you_mean(&message),
        LoadError::DuplicateKey => {
            Some("remove one of the two definitions (or merge them)".to_string())
        }
        _ if message.lines().count() > 1 => {
            Some(message.lines().skip(1).collect::<Vec<_>>().join(" "))
        }
        _ => None,
    };
    match help {
        Some(help) => diagnostic.help(help),
        None => diagnostic,
    }
}

/// From serde's "unknown field `vrdi`, expected one of `segment`, `vrid`"
/// (or "expected `a` or `b`"), the closest expected name, if close enough.
pub fn did_you_mean(message: &str) -> Option<String> {
    let mut quoted = message.split('`').skip(1).step_by(2);
    let unknown = quoted.next()?;
    let (_, expected_part) = message.split_once("expected")?;
    let expected: Vec<&str> = expected_part.split('`').skip(1).step_by(2).collect();
    let best = expected
        .iter()
        .map(|name| (edit_distance(unknown, name), *name))
        .min()?;
    let limit = (unknown.chars().count().max(best.1.chars().count()) / 3).max(1);
    if best.0 <= limit {
        Some(format!("did you mean `{}`?", best.1))
    } else {
        Some(format!(
            "the fields allowed here are: {}",
            expected
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// Edit distance over characters where insertions, deletions,
/// substitutions and swaps of two neighbours each count 1 (`vrdi` is one
/// edit from `vrid`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("vrid", "vrid"), 0);
        assert_eq!(edit_distance("vrdi", "vrid"), 1);
        assert_eq!(edit_distance("prority", "priority"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn suggestion_comes_from_the_expected_list() {
        let msg =
            "unknown field `prority`, expected one of `priority`, `interface`, `initial_state`";
        assert_eq!(did_you_mean(msg).unwrap(), "did you mean `priority`?");
        let msg = "unknown field `zzzzzz`, expected `priority` or `interface`";
        assert!(
            did_you_mean(msg)
                .unwrap()
                .starts_with("the fields allowed here are")
        );
    }
}
