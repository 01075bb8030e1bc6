//! `vigild status [--socket PATH] [--json]`: asks the running daemon and
//! prints every router's state, priorities, master, arbitration verdict and
//! trackers, as a short table or as the daemon's JSON document.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use super::DEFAULT_SOCKET;

pub const USAGE: &str = "usage: vigild status [--socket PATH] [--json]";

/// The status document the daemon serves.
pub fn fetch(path: &std::path::Path) -> Result<Value, String> {
    let mut s = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot connect to {}: {e} (is vigild running?)",
            path.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text)
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("bad status document: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The table `vigild status` prints without `--json`.
pub fn table(doc: &Value) -> String {
    let mut rows = vec![
        [
            "ROUTER",
            "IFACE",
            "VRID",
            "STATE",
            "PRIO CFG/EFF",
            "MASTER",
            "ARBITRATION",
            "LEASE",
            "TRACKERS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in doc["routers"].as_array().into_iter().flatten() {
        let trackers: Vec<String> = r["trackers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| format!("{}={}", text(&t["name"]), text(&t["state"])))
            .collect();
        rows.push(vec![
            text(&r["router"]),
            text(&r["interface"]),
            text(&r["vrid"]),
            text(&r["state"]),
            format!(
                "{}/{}",
                text(&r["priority"]["configured"]),
                text(&r["priority"]["effective"])
            ),
            text(&r["master"]),
            text(&r["arbitration"]),
            text(&r["lease"]),
            if trackers.is_empty() {
                "-".into()
            } else {
                trackers.join(" ")
            },
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "host {}  plan {}  pid {}\n",
        text(&doc["host"]),
        text(&doc["plan"]).chars().take(12).collect::<String>(),
        text(&doc["pid"])
    );
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Runs `vigild status ARGS`.
pub fn main(args: &[String]) -> ExitCode {
    let mut socket = PathBuf::from(DEFAULT_SOCKET);
    let mut json = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--socket" => match it.next() {
                Some(p) => socket = PathBuf::from(p),
                None => {
                    eprintln!("vigild status: --socket needs a value\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--json" => json = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("vigild status: unknown argument `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match fetch(&socket) {
        Ok(doc) if json => {
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(doc) => {
            print!("{}", table(&doc));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vigild status: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_shows_state_priorities_master_verdict_and_trackers() {
        let doc = json!({
            "host": "ha1", "plan": "0123456789abcdef", "pid": 42,
            "routers": [{
                "router": "web", "interface": "eth0", "vrid": 88, "state": "backup",
                "priority": {"configured": 150, "effective": 90},
                "master": "10.88.0.12", "arbitration": "reachable", "lease": "held_by_other",
                "trackers": [{"name": "svc", "state": "down"}, {"name": "uplink", "state": "up"}]
            }, {
                "router": "db", "interface": "eth1", "vrid": 9, "state": "fault",
                "priority": {"configured": 100, "effective": 100},
                "master": null, "arbitration": null, "trackers": []
            }]
        });
        let t = table(&doc);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "host ha1  plan 0123456789ab  pid 42");
        assert!(lines[1].starts_with("ROUTER  IFACE  VRID  STATE   PRIO CFG/EFF  MASTER"));
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            vec![
                "web",
                "eth0",
                "88",
                "backup",
                "150/90",
                "10.88.0.12",
                "reachable",
                "held_by_other",
                "svc=down",
                "uplink=up"
            ]
        );
        assert_eq!(
            lines[3].split_whitespace().collect::<Vec<_>>(),
            vec!["db", "eth1", "9", "fault", "100/100", "-", "-", "-", "-"]
        );
    }
}
