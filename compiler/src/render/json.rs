//! `--format json`: one object per line per diagnostic.
//!
//! Fields: `code`, `name`, `severity`, `message`, `label`, `file`, `span`
//! (`{start,end}`, bytes, end exclusive), `start`/`end` (`{line,column}`,
//! 1-based, columns in characters, `end` is the position just past the
//! span), `help`, `labels` (secondary labels: `file`, `span`, `start`,
//! `end`, `message`).

use serde_json::{Map, Value, json};

use crate::diagnostic::{Diagnostic, Label};
use crate::source::SourceMap;

pub fn render(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let mut map = Map::new();
    map.insert("code".into(), json!(diagnostic.code));
    map.insert("name".into(), json!(diagnostic.name));
    map.insert("severity".into(), json!(diagnostic.severity.as_str()));
    map.insert("message".into(), json!(diagnostic.message));
    map.insert("label".into(), json!(diagnostic.primary.message));
    location(&mut map, &diagnostic.primary, sources);
    map.insert("help".into(), json!(diagnostic.help));
    let labels = diagnostic
        .secondary
        .iter()
        .map(|l| {
            let mut m = Map::new();
            location(&mut m, l, sources);
            m.insert("message".into(), json!(l.message));
            Value::Object(m)
        })
        .collect();
    map.insert("labels".into(), Value::Array(labels));
    Value::Object(map).to_string()
}

fn location(map: &mut Map<String, Value>, label: &Label, sources: &SourceMap) {
    let file = sources.file(label.span.file);
    let start = file.line_col(label.span.range.start);
    let end = file.line_col(label.span.range.end);
    map.insert("file".into(), json!(file.name));
    map.insert(
        "span".into(),
        json!({"start": label.span.range.start, "end": label.span.range.end}),
    );
    map.insert("start".into(), json!(start));
    map.insert("end".into(), json!(end));
}
