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
    let related = d["relatedInformation"]
        .as_array()
        .expect("related information");
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

#[test]
fn exit_without_shutdown_and_garbage_on_the_wire_end_with_status_1() {
    let (dir, _a, _b) = collision_workspace("vigil-lsp-exit");
    let mut client = Client::start(&dir, json!({}));
    client.notify("exit", Value::Null);
    assert_eq!(client.finish().code(), Some(1));

    let mut client = Client::start(&dir, json!({}));
    client.send_raw(b"Content-Length: nope\r\n\r\n{}");
    assert_eq!(client.finish().code(), Some(1));

    let mut client = Client::start(&dir, json!({}));
    client.send_raw(b"Content-Length: 5\r\n\r\n\xff\xfe{}}");
    assert_eq!(client.finish().code(), Some(1));
}

/// The LSP position (UTF-16) of the `nth` occurrence of `needle`, plus `shift` bytes.
fn pos_of(text: &str, needle: &str, nth: usize, shift: usize) -> Value {
    let at = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` #{nth} not in the text"))
        .0
        + shift;
    let line = text[..at].matches('\n').count();
    json!({ "line": line, "character": utf16_column(text, at) })
}

fn text_position(path: &Path, position: Value) -> Value {
    json!({ "textDocument": { "uri": uri(path) }, "position": position })
}

/// A started client with both fixture files open and their first diagnostics read.
fn open_collision(name: &str) -> (Client, PathBuf, PathBuf, String, String) {
    let (dir, a, b) = collision_workspace(name);
    let mut client = Client::start(&dir, json!({ "debounceMs": 0 }));
    client.open(&a);
    client.open(&b);
    assert_eq!(client.diagnostics_for(&uri(&b)).len(), 1);
    assert_eq!(client.diagnostics_for(&uri(&a)).len(), 0);
    let a_text = std::fs::read_to_string(&a).unwrap();
    let b_text = std::fs::read_to_string(&b).unwrap();
    (client, a, b, a_text, b_text)
}

#[test]
fn hover_documents_keys_names_and_diagnostics() {
    let (mut client, a, b, a_text, b_text) = open_collision("vigil-lsp-hover");
    // A key: its schema documentation, with `<name>` for the router's name.
    let h = client.request(
        "textDocument/hover",
        text_position(&a, pos_of(&a_text, "vrid", 0, 1)),
    );
    let value = h["contents"]["value"].as_str().unwrap();
    assert!(
        value.starts_with("**`router.<name>.vrid`** — integer, 1..=255"),
        "{value}"
    );
    assert!(value.contains("Virtual router id"), "{value}");
    assert_eq!(h["range"], range(14, 0, 4));
    // A key inside an inline table.
    let h = client.request(
        "textDocument/hover",
        text_position(&a, pos_of(&a_text, "priority", 0, 2)),
    );
    let value = h["contents"]["value"].as_str().unwrap();
    assert!(
        value.starts_with("**`router.<name>.member.<name>.priority`**"),
        "{value}"
    );
    // A name: what it refers to.
    let h = client.request(
        "textDocument/hover",
        text_position(&b, pos_of(&b_text, "\"front\"", 0, 2)),
    );
    let value = h["contents"]["value"].as_str().unwrap();
    assert!(value.starts_with("**segment `front`**"), "{value}");
    // The VRID with the diagnostic: the key's documentation and `vigil explain V0101`.
    let h = client.request(
        "textDocument/hover",
        text_position(&b, pos_of(&b_text, "51", 0, 1)),
    );
    let value = h["contents"]["value"].as_str().unwrap();
    assert!(value.contains("# V0101 vrid-collision (error)"), "{value}");
    assert!(value.contains("## Fix"), "{value}");
    // Nothing at a comment.
    let h = client.request(
        "textDocument/hover",
        text_position(&b, json!({"line": 0, "character": 3})),
    );
    assert_eq!(h, Value::Null);
    client.shutdown();
}

#[test]
fn definition_and_references_of_names_across_files() {
    let (mut client, a, b, a_text, b_text) = open_collision("vigil-lsp-names");
    // `segment = "front"` in b.toml → `[segment.front]` in a.toml, quotes excluded.
    let d = client.request(
        "textDocument/definition",
        text_position(&b, pos_of(&b_text, "\"front\"", 0, 3)),
    );
    assert_eq!(d, json!([{ "uri": uri(&a), "range": range(0, 9, 14) }]));
    // `member.web1` (a host) → `[host.web1.interface.eth0]`.
    let d = client.request(
        "textDocument/definition",
        text_position(&a, pos_of(&a_text, "member.web1", 0, 8)),
    );
    assert_eq!(d, json!([{ "uri": uri(&a), "range": range(4, 6, 10) }]));
    // References of segment `front`: two interfaces and a router in a.toml,
    // a router in b.toml; with the declaration.
    let r = client.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": uri(&a) }, "position": pos_of(&a_text, "front", 0, 0),
                "context": { "includeDeclaration": true } }),
    );
    let found: Vec<(String, u64)> = r
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let file = l["uri"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            (file, l["range"]["start"]["line"].as_u64().unwrap())
        })
        .collect();
    let expected: Vec<(String, u64)> = [
        ("a.toml", 0),
        ("a.toml", 5),
        ("a.toml", 9),
        ("a.toml", 13),
        ("b.toml", 1),
    ]
    .iter()
    .map(|(f, l)| (f.to_string(), *l))
    .collect();
    assert_eq!(found, expected);
    // References of host web2: its members in both routers.
    let r = client.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": uri(&a) }, "position": pos_of(&a_text, "web2", 0, 1),
                "context": { "includeDeclaration": false } }),
    );
    assert_eq!(r.as_array().unwrap().len(), 2, "{r:#}");
    // Not on a name: nothing.
    let d = client.request(
        "textDocument/definition",
        text_position(&a, pos_of(&a_text, "vrid", 0, 0)),
    );
    assert_eq!(d, json!([]));
    client.shutdown();
}

fn labels(items: &Value) -> Vec<String> {
    let mut l: Vec<String> = items
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect();
    l.sort();
    l
}

#[test]
fn completion_offers_keys_and_defined_names() {
    let (mut client, _a, b, _a_text, b_text) = open_collision("vigil-lsp-complete");
    let lines = b_text.lines().count();
    let append = |client: &mut Client, version: i64, text: &str, line: usize| {
        client.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri(&b), "version": version },
                "contentChanges": [{ "range": range(line as u64, 0, 0), "text": text }],
            }),
        );
    };
    // A router name where a virtual server names its router.
    append(&mut client, 2, "[virtual_server.web]\nrouter = \"", lines);
    let items = client.request(
        "textDocument/completion",
        text_position(&b, json!({ "line": lines + 1, "character": 10 })),
    );
    assert_eq!(labels(&items), ["api", "www"]);
    // Without the opening quote, the names are inserted quoted.
    let items = client.request(
        "textDocument/completion",
        text_position(&b, json!({ "line": lines + 1, "character": 9 })),
    );
    assert_eq!(items[0]["insertText"], "\"api\"");
    // Keys of a table header's table.
    append(
        &mut client,
        3,
        "\"api\"\n[router.api.arbitration]\nint",
        lines + 1,
    );
    let items = client.request(
        "textDocument/completion",
        text_position(&b, json!({ "line": lines + 3, "character": 3 })),
    );
    let keys = labels(&items);
    for key in ["attempts", "interval", "reference_ips", "timeout"] {
        assert!(keys.contains(&key.to_string()), "{keys:?}");
    }
    assert!(!keys.contains(&"vrid".to_string()), "{keys:?}");
    // Hosts where a member's name goes.
    append(&mut client, 4, "\n[router.api.member.", lines + 3);
    let items = client.request(
        "textDocument/completion",
        text_position(&b, json!({ "line": lines + 4, "character": 19 })),
    );
    assert_eq!(labels(&items), ["web1", "web2"]);
    client.shutdown();
}

/// The code actions for a range and the one edit of each.
fn actions(client: &mut Client, path: &Path, line: u64) -> Vec<(String, Value, String)> {
    let r = client.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": uri(path) }, "range": range(line, 0, 200),
                "context": { "diagnostics": [] } }),
    );
    r.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let edits = &a["edit"]["changes"][uri(path)];
            assert_eq!(edits.as_array().unwrap().len(), 1, "{a:#}");
            (
                a["title"].as_str().unwrap().to_string(),
                edits[0]["range"].clone(),
                edits[0]["newText"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn code_actions_fix_collisions_ties_and_missing_arbitration() {
    let (mut client, a, b, a_text, _b_text) = open_collision("vigil-lsp-actions");
    // The collision: the lowest VRID free on the segment.
    assert_eq!(
        actions(&mut client, &b, 1),
        [(
            "Use VRID 1, free on segment `front`".to_string(),
            range(1, 77, 79),
            "1".to_string()
        )]
    );
    // Make a priority tie and drop the arbitration of `www` in a.toml.
    let edited = a_text
        .replace("arbitration = {}\n", "")
        .replace("web2 = { priority = 100 }", "web2 = { priority = 150 }");
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri(&a), "version": 2 },
                "contentChanges": [{ "text": edited }] }),
    );
    let d = client.diagnostics_for(&uri(&a));
    let codes: Vec<&str> = d.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["V0501", "V0302"], "{d:#?}");
    let tie_line = d[1]["range"]["start"]["line"].as_u64().unwrap();
    assert_eq!(
        actions(&mut client, &a, tie_line),
        [(
            "Give `web2` priority 149".to_string(),
            d[1]["range"].clone(),
            "149".to_string()
        )]
    );
    let fixes = actions(&mut client, &a, 12);
    let insert = range(13, 0, 0);
    assert_eq!(
        fixes,
        [
            (
                "Accept split brain for `www` (state why)".to_string(),
                insert.clone(),
                "accept_split_brain = \"<why two masters of `www` are acceptable>\"\n".to_string()
            ),
            (
                "Arbitrate `www` with segment `front`'s reference IPs".to_string(),
                insert,
                "arbitration = {}\n".to_string()
            ),
        ]
    );
    // Applying the arbitration fix clears the diagnostic.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri(&a), "version": 3 },
                "contentChanges": [{ "range": range(13, 0, 0), "text": "arbitration = {}\n" }] }),
    );
    let d = client.diagnostics_for(&uri(&a));
    let codes: Vec<&str> = d.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["V0302"]);
    client.shutdown();
}

#[test]
fn sync_groups_virtual_servers_and_heartbeat_paths_are_names_too() {
    let (dir, a, b) = collision_workspace("vigil-lsp-more-names");
    let c = dir.join("c.toml");
    let c_text = "[segment.back]\nsubnets = [\"10.30.0.0/24\"]\n\n\
                  [router.www]\nheartbeat_paths = [\"back\"]\n\n\
                  [sync_group.pair]\nrouters = [\"www\", \"api\"]\n\n\
                  [virtual_server.web]\nrouter = \"www\"\n";
    std::fs::write(&c, c_text).unwrap();
    let mut client = Client::start(&dir, json!({ "debounceMs": 0 }));
    client.open(&c);
    // A sync group's entry → the router's definition in b.toml (a dotted key).
    let d = client.request(
        "textDocument/definition",
        text_position(&c, pos_of(c_text, "\"api\"", 0, 2)),
    );
    assert_eq!(d, json!([{ "uri": uri(&b), "range": range(1, 7, 10) }]));
    // A heartbeat path → the segment, in the same file.
    let d = client.request(
        "textDocument/definition",
        text_position(&c, pos_of(c_text, "\"back\"", 0, 1)),
    );
    assert_eq!(d, json!([{ "uri": uri(&c), "range": range(0, 9, 13) }]));
    // Router `www`: defined in a.toml and c.toml; referenced by the sync
    // group and the virtual server.
    let d = client.request(
        "textDocument/definition",
        text_position(&c, pos_of(c_text, "router = \"www\"", 0, 11)),
    );
    assert_eq!(
        d,
        json!([{ "uri": uri(&a), "range": range(12, 8, 11) },
               { "uri": uri(&c), "range": range(3, 8, 11) }])
    );
    let r = client.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": uri(&c) }, "position": pos_of(c_text, "www", 0, 0),
                "context": { "includeDeclaration": false } }),
    );
    assert_eq!(
        r,
        json!([{ "uri": uri(&c), "range": range(7, 12, 15) },
               { "uri": uri(&c), "range": range(10, 10, 13) }])
    );
    client.shutdown();
}

/// Every example, broken ones included, opened at once (each on its own:
/// they are not one topology) and asked for hover, definition, references,
/// completion and code actions at positions all over every line: the
/// server answers every request and never stops.
#[test]
fn requests_anywhere_in_every_example_get_answers() {
    let dir = temp_dir("vigil-lsp-everywhere");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files = Vec::new();
    for sub in ["", "broken"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(examples.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        entries.sort();
        files.extend(entries);
    }
    assert!(files.len() >= 10, "{files:?}");
    // Only one file is the workspace's topology; the others are opened
    // from outside it and checked alone.
    let mut client = Client::start(&dir, json!({ "debounceMs": 0, "paths": [] }));
    let mut requests = 0;
    for file in &files {
        client.open(file);
        let text = std::fs::read_to_string(file).unwrap();
        for (line, content) in text.lines().enumerate() {
            let width = content.encode_utf16().count() as u64;
            for character in [1, width / 2, width.saturating_sub(2), width + 5] {
                let position = json!({ "line": line, "character": character });
                let at = json!({ "textDocument": { "uri": uri(file) }, "position": position });
                for method in [
                    "textDocument/hover",
                    "textDocument/definition",
                    "textDocument/completion",
                ] {
                    let r = client.request_raw(method, at.clone());
                    assert!(
                        r.get("error").is_none(),
                        "{method} {file:?} {position}: {r}"
                    );
                    requests += 1;
                }
                let r = client.request_raw(
                    "textDocument/references",
                    json!({ "textDocument": { "uri": uri(file) }, "position": position,
                            "context": { "includeDeclaration": true } }),
                );
                assert!(r.get("error").is_none(), "{r}");
            }
            let r = client.request_raw(
                "textDocument/codeAction",
                json!({ "textDocument": { "uri": uri(file) }, "range": range(line as u64, 0, 999),
                        "context": { "diagnostics": [] } }),
            );
            assert!(r.get("error").is_none(), "{r}");
        }
    }
    assert!(requests > 1000, "{requests}");
    // Every broken example has its diagnostic published.
    for file in files
        .iter()
        .filter(|f| f.to_string_lossy().contains("/broken/"))
    {
        let d = client.diagnostics_for(&uri(file));
        assert!(!d.is_empty(), "no diagnostics for {file:?}");
    }
    client.shutdown();
}

#[test]
fn the_paths_setting_names_the_topology_and_unreadable_ones_are_logged() {
    let (dir, a, b) = collision_workspace("vigil-lsp-paths");
    let mut client = Client::start(
        &dir,
        json!({ "debounceMs": 0, "paths": ["a.toml", "missing.toml"] }),
    );
    client.open(&b);
    // b.toml is not part of the topology: it is checked alone, so no
    // collision with a.toml, but its own unknown hosts and segment.
    let d = client.diagnostics_for(&uri(&b));
    let codes: Vec<&str> = d.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert!(!codes.contains(&"V0101"), "{codes:?}");
    assert!(!codes.is_empty());
    assert_eq!(client.diagnostics_for(&uri(&a)), Vec::<Value>::new());
    // A log message says which configured file is missing.
    let logged = client.backlog.iter().any(|m| {
        m["method"] == "window/logMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|t| t.contains("missing.toml"))
    });
    assert!(logged, "{:#?}", client.backlog);
    client.shutdown();
}
