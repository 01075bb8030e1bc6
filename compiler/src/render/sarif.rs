//! `--format sarif`: one SARIF 2.1.0 log (OASIS Static Analysis Results
//! Interchange Format) for the whole run, the format GitHub code scanning
//! and other CI tools import to show findings inline.
//!
//! * `tool.driver.rules`: every lint and load error, with its summary and
//!   its `vigil explain` text as help;
//! * one `result` per diagnostic: level, message (with the help), the
//!   primary location and every secondary label as a `relatedLocation`
//!   (other files included), each referenced from the message;
//! * regions give line and column (1-based, columns in Unicode code points:
//!   `columnKind` says so), byte offset and length, and the covered text;
//! * files that could not be read are `toolExecutionNotifications` of the
//!   invocation, which is then not successful.

use serde_json::{Map, Value, json};

use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::lints::ALL;
use crate::load::{IoFailure, LoadError};
use crate::source::{FileId, SourceMap};

/// The SARIF version written.
pub const VERSION: &str = "2.1.0";
/// The schema the log names.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Longest covered text copied into a region's snippet.
const MAX_SNIPPET: usize = 200;

/// `(code, name, severity, summary, help markdown)` of every rule.
fn rules() -> Vec<(&'static str, &'static str, Severity, String, String)> {
    let load = LoadError::ALL.iter().map(|e| {
        let summary = e
            .explanation()
            .split_once(". ")
            .map_or(e.explanation(), |(first, _)| first);
        (
            e.code(),
            e.name(),
            Severity::Error,
            summary.trim_end_matches('.').to_string(),
            e.explanation().to_string(),
        )
    });
    let lints = ALL.iter().map(|l| {
        (
            l.code,
            l.name,
            l.severity,
            l.summary.to_string(),
            l.explanation.trim_end().to_string(),
        )
    });
    let keepalived = crate::keepalived::parse::ReadError::ALL.iter().map(|e| {
        let summary = e
            .explanation()
            .split_once(". ")
            .map_or(e.explanation(), |(first, _)| first);
        (
            e.code(),
            e.name(),
            e.severity(),
            summary.trim_end_matches('.').to_string(),
            e.explanation().to_string(),
        )
    });
    load.chain(keepalived).chain(lints).collect()
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A file name as a URI reference: relative paths stay relative (GitHub
/// resolves them against the repository root), absolute ones become
/// `file://` URIs; everything but unreserved characters and `/` is
/// percent-encoded.
pub fn file_uri(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    if name.starts_with('/') {
        out.push_str("file://");
    }
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn physical_location(sources: &SourceMap, label: &Label) -> Value {
    let file = sources.file(label.span.file);
    let len = file.text.len();
    let start = label.span.range.start.min(len);
    let end = label.span.range.end.clamp(start, len);
    let (from, to) = (file.line_col(start), file.line_col(end));
    let mut region = json!({
        "startLine": from.line,
        "startColumn": from.column,
        "endLine": to.line,
        "endColumn": to.column,
        "byteOffset": start,
        "byteLength": end - start,
    });
    let text = file.slice(&(start..end));
    if !text.is_empty() && text.len() <= MAX_SNIPPET {
        region["snippet"] = json!({ "text": text });
    }
    json!({
        "artifactLocation": {
            "uri": file_uri(&file.name),
            "index": label.span.file.0,
        },
        "region": region,
    })
}

fn result(diagnostic: &Diagnostic, rule_index: usize, sources: &SourceMap) -> Value {
    let mut text = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    let mut related = Vec::new();
    for (i, label) in diagnostic.secondary.iter().enumerate() {
        let id = i + 1;
        let message = label.message.clone().unwrap_or_else(|| "related".into());
        let file = sources.file(label.span.file);
        let at = file.line_col(label.span.range.start);
        // A message may link to related locations by id: `[text](id)`.
        text.push_str(&format!(
            "\n[{}]({id}) ({}:{}:{})",
            escape_link_text(&message),
            file.name,
            at.line,
            at.column
        ));
        related.push(json!({
            "id": id,
            "physicalLocation": physical_location(sources, label),
            "message": { "text": message },
        }));
    }
    let mut location =
        json!({ "physicalLocation": physical_location(sources, &diagnostic.primary) });
    if let Some(label) = &diagnostic.primary.message {
        location["message"] = json!({ "text": label });
    }
    let mut map = Map::new();
    map.insert("ruleId".into(), json!(diagnostic.code));
    map.insert("ruleIndex".into(), json!(rule_index));
    map.insert("level".into(), json!(level(diagnostic.severity)));
    map.insert("message".into(), json!({ "text": text }));
    map.insert("locations".into(), json!([location]));
    if !related.is_empty() {
        map.insert("relatedLocations".into(), Value::Array(related));
    }
    Value::Object(map)
}

/// SARIF message links are `[text](target)`: brackets in the text are escaped.
fn escape_link_text(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('[', "\\[")
        .replace(']', "\\]")
}

/// The results of a run, serialised one at a time (a log of 20,000
/// results is tens of megabytes; it is never held as a JSON tree).
struct Results<'a> {
    diagnostics: &'a [Diagnostic],
    sources: &'a SourceMap,
    rules: &'a [String],
}

impl serde::Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.diagnostics.iter().map(|d| {
            let index = self.rules.iter().position(|r| r == d.code).unwrap_or(0);
            result(d, index, self.sources)
        }))
    }
}

#[derive(serde::Serialize)]
struct Run<'a> {
    tool: Value,
    invocations: Value,
    artifacts: Vec<Value>,
    #[serde(rename = "columnKind")]
    column_kind: &'static str,
    results: Results<'a>,
}

#[derive(serde::Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

/// The whole SARIF log of one run, pretty-printed, ending with a newline.
pub fn render(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    io_failures: &[IoFailure],
) -> String {
    let rules = rules();
    let driver_rules: Vec<Value> = rules
        .iter()
        .map(|(code, name, severity, summary, help)| {
            json!({
                "id": code,
                "name": name,
                "shortDescription": { "text": summary },
                "fullDescription": { "text": summary },
                "help": { "text": help, "markdown": help },
                "defaultConfiguration": { "level": level(*severity) },
            })
        })
        .collect();
    let rule_ids: Vec<String> = rules.iter().map(|r| r.0.to_string()).collect();
    let artifacts: Vec<Value> = sources
        .files()
        .map(|(FileId(_), f)| {
            json!({
                "location": { "uri": file_uri(&f.name) },
                "length": f.text.len(),
                "mimeType": "application/toml",
            })
        })
        .collect();
    let notifications: Vec<Value> = io_failures
        .iter()
        .map(|f| {
            json!({
                "level": "error",
                "message": { "text": format!("cannot read {}: {}", f.path, f.message) },
                "locations": [{
                    "physicalLocation": { "artifactLocation": { "uri": file_uri(&f.path) } }
                }],
            })
        })
        .collect();
    let log = Log {
        schema: SCHEMA,
        version: VERSION,
        runs: [Run {
            tool: json!({
                "driver": {
                    "name": "vigil",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": driver_rules,
                }
            }),
            invocations: json!([{
                "executionSuccessful": io_failures.is_empty(),
                "toolExecutionNotifications": notifications,
            }]),
            artifacts,
            column_kind: "unicodeCodePoints",
            results: Results {
                diagnostics,
                sources,
                rules: &rule_ids,
            },
        }],
    };
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded_references() {
        assert_eq!(file_uri("topology/a.toml"), "topology/a.toml");
        assert_eq!(
            file_uri("/srv/my topo/a.toml"),
            "file:///srv/my%20topo/a.toml"
        );
        assert_eq!(file_uri("é#?.toml"), "%C3%A9%23%3F.toml");
    }

    #[test]
    fn every_code_is_a_rule() {
        let rules = rules();
        for lint in ALL {
            assert!(rules.iter().any(|r| r.0 == lint.code), "{}", lint.code);
        }
        for e in LoadError::ALL {
            assert!(rules.iter().any(|r| r.0 == e.code()), "{}", e.code());
        }
    }
}
