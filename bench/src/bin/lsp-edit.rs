//! `lsp-edit VIGIL TOPOLOGY [EDITS]`: how long `vigil lsp` takes, after an
//! edit, to publish the diagnostics of a large topology.
//!
//! Starts `VIGIL lsp` on a fresh workspace folder holding a copy of
//! TOPOLOGY (a clean topology from `gen-topology`), opens the file, then
//! alternately turns the second router's `vrid = 2` into `vrid = 1` (a VRID
//! collision with the first router of the same segment: one error) and
//! back (clean), as incremental `didChange`s. Every edit changes the
//! diagnostics, so every edit is answered by a `publishDiagnostics`; the
//! time from writing the edit to reading that notification is measured
//! (it includes the server's debounce delay, 15 ms unless `DEBOUNCE_MS`
//! is set). Prints a Markdown table; exits 1 when an edit's diagnostics
//! are not what they should be.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const USAGE: &str = "usage: lsp-edit VIGIL TOPOLOGY [EDITS]";

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
}

impl Server {
    fn send(&mut self, message: Value) -> Result<(), String> {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("cannot write to vigil lsp: {e}"))
    }

    fn read(&mut self) -> Result<Value, String> {
        let mut length = None;
        loop {
            let mut line = String::new();
            let n = self
                .stdout
                .read_line(&mut line)
                .map_err(|e| format!("cannot read from vigil lsp: {e}"))?;
            if n == 0 {
                return Err("vigil lsp closed its output".into());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length:") {
                length = v.trim().parse::<usize>().ok();
            }
        }
        let length = length.ok_or("a message without Content-Length")?;
        let mut body = vec![0; length];
        self.stdout
            .read_exact(&mut body)
            .map_err(|e| format!("cannot read from vigil lsp: {e}"))?;
        serde_json::from_slice(&body).map_err(|e| format!("not JSON from vigil lsp: {e}"))
    }

    fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))?;
        loop {
            let m = self.read()?;
            if m.get("id") == Some(&json!(id)) && m.get("method").is_none() {
                return Ok(m);
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) -> Result<(), String> {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }))
    }

    /// The diagnostics of the next `publishDiagnostics` for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Result<Vec<Value>, String> {
        loop {
            let m = self.read()?;
            if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri {
                return Ok(m["params"]["diagnostics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default());
            }
        }
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let vigil = PathBuf::from(args.next().ok_or(USAGE)?);
    let topology = PathBuf::from(args.next().ok_or(USAGE)?);
    let edits: usize = match args.next() {
        Some(n) => n
            .parse()
            .map_err(|_| format!("EDITS must be a number\n{USAGE}"))?,
        None => 40,
    };
    let text = std::fs::read_to_string(&topology)
        .map_err(|e| format!("cannot read {}: {e}", topology.display()))?;
    let line = text
        .lines()
        .position(|l| l == "vrid = 2")
        .ok_or("the topology has no `vrid = 2` line (make it with gen-topology)")?;

    let dir = std::env::temp_dir().join(format!("vigil-lsp-edit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = dir.join("topology.toml");
    std::fs::write(&file, &text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;

    let mut child = Command::new(&vigil)
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {} lsp: {e}", vigil.display()))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err("no pipes to vigil lsp".into());
    };
    let mut server = Server {
        child,
        stdin,
        stdout: BufReader::new(stdout),
        next_id: 1,
    };
    let mut options = json!({});
    if let Ok(ms) = std::env::var("DEBOUNCE_MS") {
        let ms: u64 = ms.parse().map_err(|_| "DEBOUNCE_MS must be a number")?;
        options = json!({ "debounceMs": ms });
    }
    let started = Instant::now();
    server.request(
        "initialize",
        json!({ "processId": null, "rootUri": uri(&dir), "capabilities": {},
                "initializationOptions": options }),
    )?;
    server.notify("initialized", json!({}))?;
    let file_uri = uri(&file);
    server.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": file_uri, "languageId": "toml", "version": 1, "text": text } }),
    )?;
    let first = server.diagnostics(&file_uri)?;
    let initial = started.elapsed();
    if !first.is_empty() {
        return Err(format!("the topology is not clean: {first:?}"));
    }

    let mut times = Vec::with_capacity(edits);
    for i in 0..edits {
        let broken = i % 2 == 0;
        let new = if broken { "1" } else { "2" };
        let change = json!({
            "textDocument": { "uri": file_uri, "version": i + 2 },
            "contentChanges": [{
                "range": { "start": { "line": line, "character": 7 },
                           "end": { "line": line, "character": 8 } },
                "text": new,
            }],
        });
        let sent = Instant::now();
        server.notify("textDocument/didChange", change)?;
        let diagnostics = server.diagnostics(&file_uri)?;
        times.push(sent.elapsed());
        let codes: Vec<&str> = diagnostics
            .iter()
            .filter_map(|d| d["code"].as_str())
            .collect();
        let expected: &[&str] = if broken { &["V0101"] } else { &[] };
        if codes != expected {
            return Err(format!("edit {i}: expected {expected:?}, got {codes:?}"));
        }
    }
    server.request("shutdown", Value::Null)?;
    server.notify("exit", Value::Null)?;
    let _ = server.child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    let mut sorted = times.clone();
    sorted.sort();
    let at = |q: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
    println!("| vigil lsp, edit → diagnostics | ms |");
    println!("|---|--:|");
    println!("| topology | {} lines |", text.lines().count());
    println!(
        "| start, open, first diagnostics | {:.1} |",
        millis(initial)
    );
    println!("| edits | {} |", times.len());
    println!("| min | {:.1} |", millis(at(0.0)));
    println!("| median | {:.1} |", millis(at(0.5)));
    println!("| mean | {:.1} |", millis(mean));
    println!("| p90 | {:.1} |", millis(at(0.9)));
    println!("| max | {:.1} |", millis(at(1.0)));
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lsp-edit: {message}");
            ExitCode::FAILURE
        }
    }
}
