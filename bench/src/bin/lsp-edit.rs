//! `lsp-edit VIGIL TOPOLOGY [EDITS]`: how long `vigil lsp` takes, after an
//! edit, to publish the diagnostics of a large topology.
//!
//! Measures two layouts of the same topology (a clean one from
//! `gen-topology`): as one file, and split into one file per segment (the
//! segment, its hosts and its routers; the cluster table in a file of its
//! own), as a team would keep it. For each, starts `VIGIL lsp` on a fresh
//! workspace folder holding the file(s), opens the file to edit, then
//! alternately turns the second router's `vrid = 2` into `vrid = 1` (a VRID
//! collision with the first router of the same segment: one error) and
//! back (clean), as incremental `didChange`s. Every edit changes the
//! diagnostics, so every edit is answered by a `publishDiagnostics`; the
//! time from writing the edit to reading that notification is measured
//! (it includes the server's debounce delay, 10 ms unless `DEBOUNCE_MS`
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

/// What one layout measured.
struct Measured {
    files: usize,
    initial: Duration,
    times: Vec<Duration>,
}

/// Splits a `gen-topology` text before every `[segment.` header.
fn split_by_segment(text: &str) -> Vec<String> {
    let mut files = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if line.starts_with("[segment.") {
            files.push(String::new());
        }
        if let Some(last) = files.last_mut() {
            last.push_str(line);
        }
    }
    files
}

fn measure(vigil: &Path, files: &[String], edits: usize, tag: &str) -> Result<Measured, String> {
    let (index, line) = files
        .iter()
        .enumerate()
        .find_map(|(i, f)| f.lines().position(|l| l == "vrid = 2").map(|l| (i, l)))
        .ok_or("the topology has no `vrid = 2` line (make it with gen-topology)")?;

    let dir = std::env::temp_dir().join(format!("vigil-lsp-edit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (i, text) in files.iter().enumerate() {
        let file = dir.join(format!("part{i:03}.toml"));
        std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    let file = dir.join(format!("part{index:03}.toml"));
    let text = &files[index];

    let mut child = Command::new(vigil)
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
    Ok(Measured {
        files: files.len(),
        initial,
        times,
    })
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
    let layouts = [
        ("one file", vec![text.clone()]),
        ("a file per segment", split_by_segment(&text)),
    ];
    let mut rows = Vec::new();
    for (i, (name, files)) in layouts.iter().enumerate() {
        rows.push((name, measure(&vigil, files, edits, &i.to_string())?));
    }
    println!(
        "\n{} lines; time from an edit to its diagnostics, in ms ({} edits each)\n",
        text.lines().count(),
        edits
    );
    println!("| layout | files | start + first check | min | median | mean | p90 | max |");
    println!("|---|--:|--:|--:|--:|--:|--:|--:|");
    for (name, m) in rows {
        let mut sorted = m.times.clone();
        sorted.sort();
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        let mean = m.times.iter().sum::<Duration>() / m.times.len().max(1) as u32;
        println!(
            "| {name} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            m.files,
            millis(m.initial),
            millis(at(0.0)),
            millis(at(0.5)),
            millis(mean),
            millis(at(0.9)),
            millis(at(1.0)),
        );
    }
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
