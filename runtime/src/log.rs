//! Structured log lines on stderr: one JSON object per line, each with a
//! wall-clock timestamp, an event name and the plan's topology hash, so
//! lines from several hosts can be merged and plan skew spotted.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Seconds since the Unix epoch, with microseconds.
pub fn timestamp() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_micros() as f64) / 1e6
}

/// Writes `{"ts":..,"event":event, ..fields, "plan":plan_hash}` to stderr.
pub fn event(event: &str, plan_hash: &str, fields: Value) {
    let mut obj = Map::new();
    obj.insert("ts".into(), json!(timestamp()));
    obj.insert("event".into(), json!(event));
    if let Value::Object(f) = fields {
        obj.extend(f);
    }
    obj.insert("plan".into(), json!(plan_hash));
    let mut line = Value::Object(obj).to_string();
    line.push('\n');
    // A full or closed stderr must not stop the daemon.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
