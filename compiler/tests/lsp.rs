//! `vigil lsp` as a process, spoken to in JSON-RPC over its stdin/stdout.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::lsp_client::{Client, temp_dir, uri};

/// Copies the two-file fixture (a VRID collision between `a.toml` and
/// `b.toml`, whose line has non-ASCII text before the VRID) to a fresh
/// workspace folder.
fn collision_workspace(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = temp_dir(name);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lsp");
    for file in ["a.toml", "b.toml"] {
        std::fs::copy(fixtures.join(file), dir.join(file)).expect("copy fixture");
    }
    // Not a topology: must not be checked (or it would fail to load).
    std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    (dir.clone(), dir.join("a.toml"), dir.join("b.toml"))
}

/// The UTF-16 column of byte `offset` in its line.
fn utf16_column(text: &str, offset: usize) -> u64 {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..offset].encode_utf16().count() as u64
}

fn range(line: u64, start: u64, end: u64) -> Value {
    json!({ "start": { "line": line, "character": start }, "end": { "line": line, "character": end } })
}

#[test]
fn collision_across_files_is_published_and_cleared_by_an_edit() {
    let (dir, a, b) = collision_workspace("vigil-lsp-collision");
    let mut client = Client::start(&dir, json!({ "debounceMs": 0 }));
    client.open(&a);
    client.open(&b);

    let b_text = std::fs::read_to_string(&b).unwrap();
    let at = b_text.find("vrid = 51").unwrap() + "vrid = ".len();
    // 😀 before the VRID is 2 UTF-16 units, 4 bytes, 1 character.
    let column = utf16_column(&b_text, at);
    assert_eq!(column, 77);

    let diagnostics = client.diagnostics_for(&uri(&b));
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let d = &diagnostics[0];
    assert_eq!(d["range"], range(1, 77, 79), "{d:#}");
    assert_eq!(d["severity"], 1);
    assert_eq!(d["code"], "V0101");
    assert_eq!(d["source"], "vigil");
    let message = d["message"].as_str().unwrap();
    assert!(
        message.starts_with("routers `www` and `api` both use VRID 51 on segment `front`"),
        "{message}"
    );
    assert!(message.contains("help: give `api` a VRID"), "{message}");
    // The other router's VRID, in the other file.
    let related = d["relatedInformation"].as_array().expect("related information");
    assert_eq!(related.len(), 1);
    assert_eq!(related[0]["location"]["uri"], uri(&a));
    assert_eq!(related[0]["location"]["range"], range(14, 7, 9));
    assert_eq!(related[0]["message"], "VRID 51 already used by `www`");
    // a.toml is part of the check and clean.
    assert_eq!(client.diagnostics_for(&uri(&a)), Vec::<Value>::new());
    // Cargo.toml is not a topology file: nothing is published for it.
    assert!(
        !client
            .backlog
            .iter()
            .any(|m| m["params"]["uri"] == uri(&dir.join("Cargo.toml")))
    );

    // An incremental edit (UTF-16 range) that gives `api` its own VRID.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri(&b), "version": 2 },
            "contentChanges": [{ "range": range(1, 77, 79), "text": "52" }],
        }),
    );
    assert_eq!(client.diagnostics_for(&uri(&b)), Vec::<Value>::new());

    // And back: the diagnostic returns, from the unsaved text alone.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri(&b), "version": 3 },
            "contentChanges": [{ "range": range(1, 77, 79), "text": "51" }],
        }),
    );
    let again = client.diagnostics_for(&uri(&b));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["range"], range(1, 77, 79));
    client.shutdown();
}

#[test]
fn a_file_that_is_not_open_takes_part_and_syntax_errors_point_at_their_byte() {
    let (dir, a, b) = collision_workspace("vigil-lsp-closed");
    let mut client = Client::start(&dir, json!({ "debounceMs": 0 }));
    // Only b.toml is open: the collision with a.toml (on disk) is found.
    client.open(&b);
    let d = client.diagnostics_for(&uri(&b));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["code"], "V0101");
    // Diagnostics for a file that is not open go to its file URI.
    assert_eq!(client.diagnostics_for(&uri(&a)), Vec::<Value>::new());

    // Break the TOML: the load error replaces the lints (as in `vigil check`).
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri(&b), "version": 2 },
            "contentChanges": [{ "text": "router.api = { vrid = }\n" }],
        }),
    );
    let d = client.diagnostics_for(&uri(&b));
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0]["code"], "V0002");
    assert_eq!(d[0]["range"]["start"]["line"], 0);

    // Close it: the disk's text (with the collision) is checked again.
    client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": uri(&b) } }),
    );
    let d = client.diagnostics_for(&uri(&b));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["code"], "V0101");
    client.shutdown();
}

#[test]
fn bad_input_gets_errors_not_a_crash() {
    let (dir, _a, b) = collision_workspace("vigil-lsp-bad-input");
    let mut client = Client::start(&dir, json!({ "debounceMs": 0 }));
    // Unknown method: MethodNotFound.
    let r = client.request_raw("vigil/unknown", json!({}));
    assert_eq!(r["error"]["code"], -32601, "{r}");
    // A change to a document that was never opened, a URI that is not a
    // file, positions far past the end: all ignored or clamped.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": "untitled:1", "version": 2 },
                "contentChanges": [{ "text": "x" }] }),
    );
    client.open(&b);
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri(&b), "version": 2 },
            "contentChanges": [{ "range": range(99, 99, 5), "text": "\n# end\n" }],
        }),
    );
    // Garbage parameters for a notification.
    client.notify("textDocument/didOpen", json!({ "textDocument": 5 }));
    let d = client.diagnostics_for(&uri(&b));
    assert_eq!(d.len(), 1, "{d:#?}");
    client.shutdown();
}
