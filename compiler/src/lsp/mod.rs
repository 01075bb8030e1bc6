//! `vigil lsp`: the topology's diagnostics, documentation and names in an
//! editor, as a Language Server over stdin/stdout.
//!
//! Synchronous: one thread reads messages from `lsp-server`'s channel,
//! keeps the open texts in a [`Workspace`], and after a change (once the
//! client has been quiet for the debounce delay, 10 ms by default) checks
//! the workspace with the same pipeline as `vigil check` and publishes the
//! diagnostics of every file whose diagnostics changed (an empty list
//! clears them). Requests (hover, definition, references, completion, code
//! actions) are answered from the latest check, made first when an edit is
//! pending.
//!
//! Settings, from `initializationOptions` or `workspace/didChangeConfiguration`
//! (`{"vigil": {...}}` or the object itself):
//! * `paths`: files or directories (relative to the first workspace folder)
//!   that make up the topology, instead of every topology file under the
//!   workspace folders;
//! * `debounceMs`: the quiet time before a check (0 checks at once).

mod convert;
mod features;
pub(crate) mod syntax;
pub mod text;
pub mod workspace;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types as lt;
use serde_json::Value;

use text::Encoding;
use workspace::{Document, Workspace};

/// The default quiet time between an edit and the check.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(10);

/// Runs the server on stdin/stdout; the exit status.
pub fn run() -> u8 {
    let (connection, io_threads) = Connection::stdio();
    let mut status = match serve(&connection) {
        Ok(true) => 0,
        // `exit` without `shutdown`, or the input closed: the protocol's 1.
        Ok(false) => 1,
        Err(e) => {
            eprintln!("vigil lsp: {e}");
            1
        }
    };
    drop(connection);
    if let Err(e) = io_threads.join() {
        eprintln!("vigil lsp: cannot read the client's messages: {e}");
        status = 1;
    }
    status
}

/// Serves one client over a connection until it says `exit`: `Ok(true)`
/// after `shutdown` and `exit`, `Ok(false)` when the client left without
/// `shutdown`.
pub fn serve(connection: &Connection) -> Result<bool, String> {
    let (id, params) = connection.initialize_start().map_err(|e| e.to_string())?;
    let mut server = Server::new(connection);
    let params: lt::InitializeParams = match serde_json::from_value(params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("vigil lsp: initialize parameters not understood ({e}); using defaults");
            lt::InitializeParams::default()
        }
    };
    let result = server.initialize(&params);
    connection
        .initialize_finish(id, result)
        .map_err(|e| e.to_string())?;
    server.main_loop()
}

struct Server<'a> {
    connection: &'a Connection,
    encoding: Encoding,
    workspace: Workspace,
    debounce: Duration,
    /// A check is due at this time.
    due: Option<Instant>,
    /// What was last published, by URI.
    published: HashMap<String, Vec<lt::Diagnostic>>,
}

impl<'a> Server<'a> {
    fn new(connection: &'a Connection) -> Self {
        Server {
            connection,
            encoding: Encoding::Utf16,
            workspace: Workspace::default(),
            debounce: DEFAULT_DEBOUNCE,
            due: None,
            published: HashMap::new(),
        }
    }

    fn initialize(&mut self, params: &lt::InitializeParams) -> Value {
        let offered = params
            .capabilities
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_ref());
        if offered.is_some_and(|list| list.contains(&lt::PositionEncodingKind::UTF8)) {
            self.encoding = Encoding::Utf8;
        }
        #[allow(deprecated)]
        let root_uri = params.root_uri.as_ref().map(|u| u.as_str().to_string());
        let mut roots: Vec<PathBuf> = params
            .workspace_folders
            .iter()
            .flatten()
            .filter_map(|f| text::uri_to_path(f.uri.as_str()))
            .collect();
        if roots.is_empty() {
            roots.extend(root_uri.as_deref().and_then(text::uri_to_path));
        }
        self.workspace.roots = roots;
        if let Some(options) = &params.initialization_options {
            self.apply_settings(options);
        }
        self.rescan();
        self.due = Some(Instant::now());
        let capabilities = lt::ServerCapabilities {
            position_encoding: Some(lt::PositionEncodingKind::new(self.encoding.name())),
            text_document_sync: Some(lt::TextDocumentSyncCapability::Options(
                lt::TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(lt::TextDocumentSyncKind::INCREMENTAL),
                    save: Some(lt::TextDocumentSyncSaveOptions::Supported(true)),
                    ..Default::default()
                },
            )),
            hover_provider: Some(lt::HoverProviderCapability::Simple(true)),
            definition_provider: Some(lt::OneOf::Left(true)),
            references_provider: Some(lt::OneOf::Left(true)),
            completion_provider: Some(lt::CompletionOptions {
                trigger_characters: Some(vec!["\"".into(), ".".into(), "[".into(), "{".into()]),
                ..Default::default()
            }),
            code_action_provider: Some(lt::CodeActionProviderCapability::Options(
                lt::CodeActionOptions {
                    code_action_kinds: Some(vec![lt::CodeActionKind::QUICKFIX]),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        serde_json::json!({
            "capabilities": capabilities,
            "serverInfo": { "name": "vigil", "version": env!("CARGO_PKG_VERSION") },
        })
    }

    /// Reads `paths` and `debounceMs` from a settings object.
    fn apply_settings(&mut self, settings: &Value) {
        let settings = settings.get("vigil").unwrap_or(settings);
        if let Some(ms) = settings.get("debounceMs").and_then(Value::as_u64) {
            self.debounce = Duration::from_millis(ms.min(10_000));
        }
        if let Some(paths) = settings.get("paths").and_then(Value::as_array) {
            let base = self.workspace.roots.first().cloned().unwrap_or_default();
            self.workspace.configured = Some(
                paths
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|p| base.join(p))
                    .collect(),
            );
        }
    }

    fn main_loop(&mut self) -> Result<bool, String> {
        loop {
            let message = match self.due {
                Some(due) => {
                    let wait = due.saturating_duration_since(Instant::now());
                    match self.connection.receiver.recv_timeout(wait) {
                        Ok(m) => Some(m),
                        Err(e) if e.is_timeout() => None,
                        Err(_) => return Ok(false),
                    }
                }
                None => match self.connection.receiver.recv() {
                    Ok(m) => Some(m),
                    Err(_) => return Ok(false),
                },
            };
            let Some(message) = message else {
                self.check_and_publish();
                continue;
            };
            match message {
                Message::Request(request) => {
                    if request.method == "shutdown" {
                        // Answers, then waits for `exit`.
                        return match self.connection.handle_shutdown(&request) {
                            Ok(_) => Ok(true),
                            Err(e) => Err(e.to_string()),
                        };
                    }
                    if self.due.is_some() {
                        self.check_and_publish();
                    }
                    let response = self.handle_request(request);
                    self.reply(response);
                }
                Message::Notification(n) => {
                    if n.method == "exit" {
                        return Ok(false);
                    }
                    self.handle_notification(n);
                }
                Message::Response(_) => {}
            }
        }
    }

    fn reply(&self, response: Response) {
        let _ = self.connection.sender.send(Message::Response(response));
    }

    fn notify(&self, method: &str, params: impl serde::Serialize) {
        let _ = self
            .connection
            .sender
            .send(Message::Notification(Notification::new(
                method.to_string(),
                params,
            )));
    }

    fn log(&self, message: String) {
        self.notify(
            "window/logMessage",
            lt::LogMessageParams {
                typ: lt::MessageType::WARNING,
                message,
            },
        );
    }

    /// Reads the workspace's files from disk again, and says which of the
    /// configured ones cannot be read.
    fn rescan(&mut self) {
        self.workspace.rescan();
        for (path, message) in &self.workspace.unreadable {
            self.log(format!(
                "cannot read {}: {message}; the topology is checked without it",
                path.display()
            ));
        }
    }

    fn touched(&mut self) {
        self.due = Some(Instant::now() + self.debounce);
    }

    fn handle_notification(&mut self, n: Notification) {
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let Ok(p) = n.extract::<lt::DidOpenTextDocumentParams>("textDocument/didOpen")
                else {
                    return self.log("didOpen: parameters not understood".into());
                };
                let uri = p.text_document.uri.as_str().to_string();
                let Some(path) = text::uri_to_path(&uri) else {
                    return;
                };
                self.workspace.open.insert(
                    path,
                    Document {
                        uri,
                        text: p.text_document.text,
                    },
                );
                self.touched();
            }
            "textDocument/didChange" => {
                let Ok(p) = n.extract::<lt::DidChangeTextDocumentParams>("textDocument/didChange")
                else {
                    return self.log("didChange: parameters not understood".into());
                };
                let Some(path) = text::uri_to_path(p.text_document.uri.as_str()) else {
                    return;
                };
                let encoding = self.encoding;
                if let Some(doc) = self.workspace.open.get_mut(&path) {
                    for change in p.content_changes {
                        text::apply_change(&mut doc.text, change.range, &change.text, encoding);
                    }
                    self.touched();
                }
            }
            "textDocument/didClose" => {
                let Ok(p) = n.extract::<lt::DidCloseTextDocumentParams>("textDocument/didClose")
                else {
                    return;
                };
                if let Some(path) = text::uri_to_path(p.text_document.uri.as_str()) {
                    self.workspace.open.remove(&path);
                    self.touched();
                }
            }
            "textDocument/didSave" | "workspace/didChangeWatchedFiles" => {
                self.rescan();
                self.touched();
            }
            "workspace/didChangeConfiguration" => {
                if let Ok(p) = n
                    .extract::<lt::DidChangeConfigurationParams>("workspace/didChangeConfiguration")
                {
                    self.apply_settings(&p.settings);
                    self.rescan();
                    self.touched();
                }
            }
            _ => {}
        }
    }

    /// Checks the workspace and publishes what changed.
    fn check_and_publish(&mut self) {
        self.due = None;
        self.workspace.check();
        let fresh = convert::diagnostics(&self.workspace, self.encoding);
        let mut stale: Vec<String> = self
            .published
            .keys()
            .filter(|uri| !fresh.contains_key(*uri))
            .cloned()
            .collect();
        stale.sort();
        for uri in stale {
            self.publish(&uri, Vec::new());
            self.published.remove(&uri);
        }
        let mut fresh: Vec<_> = fresh.into_iter().collect();
        fresh.sort_by(|a, b| a.0.cmp(&b.0));
        for (uri, list) in fresh {
            if self.published.get(&uri) == Some(&list) {
                continue;
            }
            self.publish(&uri, list.clone());
            self.published.insert(uri, list);
        }
    }

    fn publish(&self, uri: &str, diagnostics: Vec<lt::Diagnostic>) {
        let Ok(uri) = uri.parse::<lt::Uri>() else {
            return;
        };
        self.notify(
            "textDocument/publishDiagnostics",
            lt::PublishDiagnosticsParams {
                uri,
                diagnostics,
                version: None,
            },
        );
    }

    fn handle_request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = features::handle(&self.workspace, self.encoding, &request);
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(features::Failure::Unknown) => Response::new_err(
                id,
                ErrorCode::MethodNotFound as i32,
                format!("vigil lsp does not handle `{}`", request.method),
            ),
            Err(features::Failure::BadParams(e)) => Response::new_err(
                id,
                ErrorCode::InvalidParams as i32,
                format!("parameters of `{}` not understood: {e}", request.method),
            ),
        }
    }
}

/// The URI diagnostics about `path` go to: the open document's, or one
/// made from the path.
pub(crate) fn uri_for(workspace: &Workspace, path: &Path) -> String {
    workspace
        .open
        .get(path)
        .map(|d| d.uri.clone())
        .unwrap_or_else(|| text::path_to_uri(path))
}
