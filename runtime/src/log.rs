//! Structured log lines on stderr: one JSON object per line, each with a
//! wall-clock timestamp, an event name and the plan's topology hash, so
//! lines from several hosts can be merged and plan skew spotted.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Seconds since the Unix epoch, with microseconds.
pub fn timestamp() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_micros() as f64) / 1e6
}

/// Writes `{"ts":..,"event":event, ..fields, "plan":plan_hash}` to stderr.
pub fn event(event: &str, plan_hash: &str, fields: Value) {
    let line = format_line(timestamp(), event, plan_hash, fields);
    // A full or closed stderr must not stop the daemon.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// One log line, `ts` and `event` first so the lines read well in a terminal.
pub fn format_line(ts: f64, event: &str, plan_hash: &str, fields: Value) -> String {
    let mut line = format!("{{\"ts\":{},\"event\":{}", json!(ts), json!(event));
    if let Value::Object(f) = fields {
        for (k, v) in f {
            line.push(',');
            line.push_str(&json!(k).to_string());
            line.push(':');
            line.push_str(&v.to_string());
        }
    }
    line.push_str(&format!(",\"plan\":{}}}\n", json!(plan_hash)));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_one_json_object_with_ts_and_event_first() {
        let line = format_line(
            1.5,
            "state_change",
            "abc\"def",
            json!({"router": "web", "from": "backup", "to": "master"}),
        );
        assert_eq!(
            line,
            "{\"ts\":1.5,\"event\":\"state_change\",\"from\":\"backup\",\"router\":\"web\",\"to\":\"master\",\"plan\":\"abc\\\"def\"}\n"
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["plan"], "abc\"def");
    }
}
