//! Requests answered from the latest check: hover, go to definition, find
//! references, completion and code actions.
//!
//! Keys and names come from [`super::syntax`]'s scan of the files' text;
//! key documentation from the topology's JSON Schema (the same one
//! `vigil schema` prints); diagnostics and the model behind code actions
//! from the project's last check.

use std::path::PathBuf;
use std::sync::OnceLock;

use lsp_server::Request;
use lsp_types as lt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::syntax::{self, End, Item, ItemKind};
use super::text::{self, Encoding};
use super::uri_for;
use super::workspace::{Project, Workspace};
use crate::source::{FileId, SourceFile};

/// Why a request got no answer.
pub enum Failure {
    /// A method the server does not handle.
    Unknown,
    /// Parameters that do not fit the method.
    BadParams(String),
}

fn params<P: DeserializeOwned>(request: &Request) -> Result<P, Failure> {
    serde_json::from_value(request.params.clone()).map_err(|e| Failure::BadParams(e.to_string()))
}

fn to_value(v: impl serde::Serialize) -> Result<Value, Failure> {
    serde_json::to_value(v).map_err(|e| Failure::BadParams(e.to_string()))
}

/// A request's file: its path, project, file id and text.
struct At<'a> {
    project: &'a Project,
    file: FileId,
    source: &'a SourceFile,
    offset: usize,
}

fn locate<'a>(
    workspace: &'a Workspace,
    uri: &lt::Uri,
    position: lt::Position,
    encoding: Encoding,
) -> Option<At<'a>> {
    let path = text::uri_to_path(uri.as_str())?;
    let (project, file) = workspace.project_of(&path)?;
    let source = project.sources.file(file);
    let offset = text::offset(&source.text, position, encoding);
    Some(At {
        project,
        file,
        source,
        offset,
    })
}

pub fn handle(
    workspace: &Workspace,
    encoding: Encoding,
    request: &Request,
) -> Result<Value, Failure> {
    match request.method.as_str() {
        "textDocument/hover" => {
            let p: lt::HoverParams = params(request)?;
            let tdp = p.text_document_position_params;
            let at = locate(workspace, &tdp.text_document.uri, tdp.position, encoding);
            to_value(at.and_then(|at| hover(&at, encoding)))
        }
        "textDocument/definition" => {
            let p: lt::GotoDefinitionParams = params(request)?;
            let tdp = p.text_document_position_params;
            let at = locate(workspace, &tdp.text_document.uri, tdp.position, encoding);
            let found = at.map_or_else(Vec::new, |at| names(workspace, &at, encoding, true, false));
            to_value(lt::GotoDefinitionResponse::Array(found))
        }
        "textDocument/references" => {
            let p: lt::ReferenceParams = params(request)?;
            let tdp = p.text_document_position;
            let at = locate(workspace, &tdp.text_document.uri, tdp.position, encoding);
            let found = at.map_or_else(Vec::new, |at| {
                names(
                    workspace,
                    &at,
                    encoding,
                    p.context.include_declaration,
                    true,
                )
            });
            to_value(found)
        }
        "textDocument/completion" => {
            let p: lt::CompletionParams = params(request)?;
            let tdp = p.text_document_position;
            let at = locate(workspace, &tdp.text_document.uri, tdp.position, encoding);
            to_value(at.map_or_else(Vec::new, |at| completion(&at)))
        }
        "textDocument/codeAction" => {
            let p: lt::CodeActionParams = params(request)?;
            let actions = code_actions(workspace, &p, encoding);
            to_value(actions)
        }
        _ => Err(Failure::Unknown),
    }
}

// ---------------------------------------------------------------- schema

/// The topology's JSON Schema.
fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        serde_json::to_value(schemars::schema_for!(vigil_schema::topology::Topology))
            .unwrap_or(Value::Null)
    })
}

/// A node with its `$ref` (or the `$ref` of an `anyOf` with `null`, as for
/// optional tables) followed, and `items` for arrays of tables.
fn resolved(node: &Value) -> &Value {
    let mut node = node;
    for _ in 0..8 {
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or("");
            match schema().get("$defs").and_then(|d| d.get(name)) {
                Some(def) => node = def,
                None => return node,
            }
        } else if let Some(any) = node.get("anyOf").and_then(Value::as_array) {
            let non_null: Vec<&Value> = any
                .iter()
                .filter(|v| v.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            match non_null.as_slice() {
                [one] if one.get("$ref").is_some() => node = one,
                _ => return node,
            }
        } else if let Some(items) = node.get("items").filter(|i| i.is_object()) {
            node = items;
        } else {
            return node;
        }
    }
    node
}

/// The schema node of a key path (the property node, which carries its
/// description), or `None` for a key the schema does not have.
fn schema_node(path: &[String]) -> Option<&'static Value> {
    let mut node = schema();
    for key in path {
        let table = resolved(node);
        node = match table.get("properties").and_then(|p| p.get(key.as_str())) {
            Some(child) => child,
            None => table
                .get("additionalProperties")
                .filter(|a| a.is_object())?,
        };
    }
    Some(node)
}

/// Whether a node is a map from names to objects (`router`, `member`).
fn is_name_map(node: &Value) -> bool {
    let node = resolved(node);
    node.get("properties").is_none()
        && node
            .get("additionalProperties")
            .is_some_and(|a| a.is_object())
}

fn description(node: &Value) -> Option<&str> {
    node.get("description")
        .or_else(|| resolved(node).get("description"))
        .and_then(Value::as_str)
}

/// Enum values a key takes (strings), from `enum` or `oneOf` constants.
fn enum_values(node: &Value) -> Vec<(String, Option<String>)> {
    let node = resolved(node);
    let mut out = Vec::new();
    if let Some(values) = node.get("enum").and_then(Value::as_array) {
        out.extend(
            values
                .iter()
                .filter_map(Value::as_str)
                .map(|v| (v.to_string(), None)),
        );
    }
    for variant in node
        .get("oneOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let doc = variant
            .get("description")
            .and_then(Value::as_str)
            .map(String::from);
        if let Some(c) = variant.get("const").and_then(Value::as_str) {
            out.push((c.to_string(), doc));
        } else if let Some(values) = variant.get("enum").and_then(Value::as_array) {
            out.extend(
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|v| (v.to_string(), doc.clone())),
            );
        }
    }
    out
}

/// A short type description: `integer, 1..=255`, `one of "a", "b"`.
fn type_summary(node: &Value) -> String {
    let values = enum_values(node);
    if !values.is_empty() {
        return format!(
            "one of {}",
            values
                .iter()
                .map(|(v, _)| format!("`\"{v}\"`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let r = resolved(node);
    let ty = match r.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ if r.get("properties").is_some() => "table".to_string(),
        _ => String::new(),
    };
    let ty = match ty.as_str() {
        "object" if is_name_map(node) => "table of named tables".to_string(),
        "object" => "table".to_string(),
        _ => ty,
    };
    match (r.get("minimum"), r.get("maximum")) {
        (Some(min), Some(max)) => format!("{ty}, {min}..={max}"),
        (Some(min), None) => format!("{ty}, at least {min}"),
        _ => ty,
    }
}

// ---------------------------------------------------------------- hover

/// The hover text: the key's documentation (or the name's), and the
/// explanation of every diagnostic at the cursor.
fn hover(at: &At<'_>, encoding: Encoding) -> Option<lt::Hover> {
    let item = syntax::item_at(file_items(at), at.offset);
    let mut parts = Vec::new();
    let mut range = None;
    if let Some(item) = item {
        range = Some(text::range(at.source, &item.span, encoding));
        match reference_of(item) {
            Some((kind, name, _)) => {
                let defined = definitions(at.project, kind, &name).len();
                let mut text = format!("**{} `{name}`**", kind.noun());
                if defined == 0 {
                    text.push_str(&format!(" (not defined: no `[{}.{name}]`)", kind.table()));
                }
                if let Some(doc) =
                    schema_node(&[kind.table().to_string(), name.clone()]).and_then(description)
                {
                    text.push_str(&format!("\n\n{doc}"));
                }
                if item.kind != ItemKind::Key
                    || item.path.len() != 2
                    || item.path[0] != kind.table()
                {
                    // A reference: also say what the key is.
                    if let Some(doc) = schema_node(&item.path).and_then(description) {
                        text.push_str(&format!(
                            "\n\n`{}`: {doc}",
                            item.path.last().map_or("", String::as_str)
                        ));
                    }
                }
                parts.push(text);
            }
            None => {
                if let Some(node) = schema_node(&item.path) {
                    let shown: Vec<String> = item
                        .path
                        .iter()
                        .enumerate()
                        .map(|(i, k)| {
                            // Names (keys of a name map) are shown as `<name>`.
                            if i > 0 && schema_node(&item.path[..i]).is_some_and(is_name_map) {
                                "<name>".to_string()
                            } else {
                                k.clone()
                            }
                        })
                        .collect();
                    let mut text = format!("**`{}`**", shown.join("."));
                    let summary = type_summary(node);
                    if !summary.is_empty() {
                        text.push_str(&format!(" — {summary}"));
                    }
                    if let Some(doc) = description(node) {
                        text.push_str(&format!("\n\n{doc}"));
                    }
                    if let Some(default) = resolved(node).get("default") {
                        text.push_str(&format!("\n\nDefault: `{default}`"));
                    }
                    parts.push(text);
                }
            }
        }
    }
    for d in &at.project.diagnostics {
        let span = &d.primary.span;
        if span.file == at.file && span.range.start <= at.offset && at.offset <= span.range.end {
            if range.is_none() {
                range = Some(text::range(at.source, &span.range, encoding));
            }
            if let Some(explanation) = crate::commands::explain::text(d.code) {
                parts.push(explanation);
            }
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(lt::Hover {
        contents: lt::HoverContents::Markup(lt::MarkupContent {
            kind: lt::MarkupKind::Markdown,
            value: parts.join("\n\n---\n\n"),
        }),
        range,
    })
}

// ---------------------------------------------------------------- names

/// The kinds of object a name can refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    Segment,
    Host,
    Router,
    SyncGroup,
    VirtualServer,
}

impl NameKind {
    fn table(self) -> &'static str {
        match self {
            NameKind::Segment => "segment",
            NameKind::Host => "host",
            NameKind::Router => "router",
            NameKind::SyncGroup => "sync_group",
            NameKind::VirtualServer => "virtual_server",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            NameKind::Segment => "segment",
            NameKind::Host => "host",
            NameKind::Router => "router",
            NameKind::SyncGroup => "sync group",
            NameKind::VirtualServer => "virtual server",
        }
    }
    fn of_table(table: &str) -> Option<NameKind> {
        Some(match table {
            "segment" => NameKind::Segment,
            "host" => NameKind::Host,
            "router" => NameKind::Router,
            "sync_group" => NameKind::SyncGroup,
            "virtual_server" => NameKind::VirtualServer,
            _ => return None,
        })
    }
}

/// What kind of name a string value at `path` is, if it is one.
fn name_expected(path: &[String]) -> Option<NameKind> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["host", _, "interface", _, "segment"]
        | ["router", _, "segment"]
        | ["router", _, "heartbeat_paths"] => Some(NameKind::Segment),
        ["router", _, "track", _, "hosts"] => Some(NameKind::Host),
        ["virtual_server", _, "router"] | ["sync_group", _, "routers"] => Some(NameKind::Router),
        _ => None,
    }
}

/// The name an item defines or refers to: kind, name, whether it is a
/// definition (`[router.www]`) rather than a reference (`router = "www"`,
/// `member.web1`).
fn reference_of(item: &Item) -> Option<(NameKind, String, bool)> {
    match &item.kind {
        ItemKind::Key => match item.path.as_slice() {
            [table, name] => NameKind::of_table(table).map(|k| (k, name.clone(), true)),
            [router, _, member, host] if router == "router" && member == "member" => {
                Some((NameKind::Host, host.clone(), false))
            }
            _ => None,
        },
        ItemKind::Str(value) => name_expected(&item.path).map(|k| (k, value.clone(), false)),
    }
}

/// Every item of a project's files, by file (scanned once per check, at
/// the first request that needs them).
fn project_items(project: &Project) -> &[(FileId, Vec<Item>)] {
    project.items.get_or_init(|| {
        project
            .sources
            .files()
            .map(|(id, f)| (id, syntax::scan(&f.text).items))
            .collect()
    })
}

/// The items of the request's file.
fn file_items<'a>(at: &At<'a>) -> &'a [Item] {
    project_items(at.project)
        .iter()
        .find(|(file, _)| *file == at.file)
        .map_or(&[], |(_, items)| items.as_slice())
}

/// The definitions of a name: the first key that defines it in each file.
fn definitions(project: &Project, kind: NameKind, name: &str) -> Vec<(FileId, Item)> {
    let mut out = Vec::new();
    for (file, items) in project_items(project) {
        if let Some(item) = items
            .iter()
            .find(|i| reference_of(i).is_some_and(|(k, n, def)| def && k == kind && n == name))
        {
            out.push((*file, item.clone()));
        }
    }
    out
}

/// The names defined in a project, of one kind, sorted and unique.
fn defined_names(project: &Project, kind: NameKind) -> Vec<String> {
    let mut names: Vec<String> = project_items(project)
        .iter()
        .flat_map(|(_, items)| items)
        .filter_map(|i| reference_of(i).filter(|(k, _, def)| *def && *k == kind))
        .map(|(_, n, _)| n)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The range of an item for navigation: a string without its quotes.
fn name_range(source: &SourceFile, item: &Item, encoding: Encoding) -> lt::Range {
    let mut span = item.span.clone();
    let raw = source.slice(&span);
    if matches!(item.kind, ItemKind::Str(_)) || raw.starts_with('"') || raw.starts_with('\'') {
        let quoted = |c: char| raw.starts_with(c) && raw.ends_with(c) && raw.len() >= 2;
        if (quoted('"') || quoted('\'')) && !raw.starts_with("\"\"\"") && !raw.starts_with("'''") {
            span = span.start + 1..span.end - 1;
        }
    }
    text::range(source, &span, encoding)
}

fn location(
    workspace: &Workspace,
    project: &Project,
    file: FileId,
    item: &Item,
    encoding: Encoding,
) -> Option<lt::Location> {
    let path: PathBuf = project.path_of(file)?.to_path_buf();
    let uri = uri_for(workspace, &path).parse::<lt::Uri>().ok()?;
    Some(lt::Location::new(
        uri,
        name_range(project.sources.file(file), item, encoding),
    ))
}

/// Definitions (`references == false`) or references of the name at the
/// cursor.
fn names(
    workspace: &Workspace,
    at: &At<'_>,
    encoding: Encoding,
    include_definitions: bool,
    references: bool,
) -> Vec<lt::Location> {
    let Some((kind, name, _)) = syntax::item_at(file_items(at), at.offset).and_then(reference_of)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if include_definitions {
        for (file, item) in definitions(at.project, kind, &name) {
            out.extend(location(workspace, at.project, file, &item, encoding));
        }
    }
    if references {
        for (file, items) in project_items(at.project) {
            for item in items {
                if reference_of(item).is_some_and(|(k, n, def)| !def && k == kind && n == name) {
                    out.extend(location(workspace, at.project, *file, item, encoding));
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------- completion

fn completion(at: &At<'_>) -> Vec<lt::CompletionItem> {
    match syntax::context_at(&at.source.text, at.offset) {
        End::Key { parent, .. } => {
            let Some(node) = schema_node(&parent) else {
                return Vec::new();
            };
            if is_name_map(node) {
                // A name: the defined ones of that kind.
                let kind = match parent.as_slice() {
                    [table] => NameKind::of_table(table),
                    [router, _, member] if router == "router" && member == "member" => {
                        Some(NameKind::Host)
                    }
                    _ => None,
                };
                return kind.map_or_else(Vec::new, |kind| {
                    defined_names(at.project, kind)
                        .into_iter()
                        .map(|n| name_item(n, kind, false))
                        .collect()
                });
            }
            let table = resolved(node);
            let Some(props) = table.get("properties").and_then(Value::as_object) else {
                return Vec::new();
            };
            props
                .iter()
                .map(|(key, child)| lt::CompletionItem {
                    label: key.clone(),
                    kind: Some(lt::CompletionItemKind::FIELD),
                    detail: Some(type_summary(child)).filter(|s| !s.is_empty()),
                    documentation: description(child).map(|d| {
                        lt::Documentation::MarkupContent(lt::MarkupContent {
                            kind: lt::MarkupKind::Markdown,
                            value: d.to_string(),
                        })
                    }),
                    ..Default::default()
                })
                .collect()
        }
        End::Value { path, quoted, .. } => {
            if let Some(kind) = name_expected(&path) {
                return defined_names(at.project, kind)
                    .into_iter()
                    .map(|n| name_item(n, kind, !quoted))
                    .collect();
            }
            let Some(node) = schema_node(&path) else {
                return Vec::new();
            };
            let mut items: Vec<lt::CompletionItem> = enum_values(node)
                .into_iter()
                .map(|(v, doc)| lt::CompletionItem {
                    label: v.clone(),
                    kind: Some(lt::CompletionItemKind::ENUM_MEMBER),
                    insert_text: (!quoted).then(|| format!("\"{v}\"")),
                    documentation: doc.map(lt::Documentation::String),
                    ..Default::default()
                })
                .collect();
            if !quoted && resolved(node).get("type") == Some(&Value::from("boolean")) {
                items.extend(["true", "false"].map(|b| lt::CompletionItem {
                    label: b.into(),
                    kind: Some(lt::CompletionItemKind::VALUE),
                    ..Default::default()
                }));
            }
            items
        }
        End::Other => Vec::new(),
    }
}

fn name_item(name: String, kind: NameKind, add_quotes: bool) -> lt::CompletionItem {
    lt::CompletionItem {
        insert_text: add_quotes.then(|| format!("\"{name}\"")),
        label: name,
        kind: Some(lt::CompletionItemKind::REFERENCE),
        detail: Some(kind.noun().to_string()),
        ..Default::default()
    }
}

// ---------------------------------------------------------------- code actions

/// Quick fixes for the diagnostics in the requested range that have a
/// mechanical fix.
fn code_actions(
    workspace: &Workspace,
    p: &lt::CodeActionParams,
    encoding: Encoding,
) -> Vec<lt::CodeActionOrCommand> {
    let Some(path) = text::uri_to_path(p.text_document.uri.as_str()) else {
        return Vec::new();
    };
    let Some((project, file)) = workspace.project_of(&path) else {
        return Vec::new();
    };
    let Some(cluster) = &project.cluster else {
        return Vec::new();
    };
    let source = project.sources.file(file);
    let start = text::offset(&source.text, p.range.start, encoding);
    let end = text::offset(&source.text, p.range.end, encoding);
    let mut out = Vec::new();
    for d in &project.diagnostics {
        let span = &d.primary.span;
        if span.file != file || span.range.end < start || span.range.start > end {
            continue;
        }
        let lsp_diagnostic = super::convert::diagnostic(workspace, project, d, encoding);
        let fixes = match d.code {
            "V0101" => vrid_fix(cluster, span),
            "V0302" => priority_fix(cluster, span),
            "V0501" => arbitration_fixes(cluster, source, span),
            _ => Vec::new(),
        };
        for (title, range, new_text) in fixes {
            out.push(quick_fix(
                &p.text_document.uri,
                title,
                text::range(source, &range, encoding),
                new_text,
                lsp_diagnostic.clone(),
            ));
        }
    }
    out
}

type Fix = (String, std::ops::Range<usize>, String);

/// A VRID unused (and not reserved) on the router's segment.
fn vrid_fix(cluster: &crate::model::Cluster, span: &crate::source::Span) -> Vec<Fix> {
    let Some(router) = cluster.routers.values().find(|r| r.vrid.span == *span) else {
        return Vec::new();
    };
    let segment = &router.segment.value;
    let mut used: Vec<i64> = cluster
        .routers
        .values()
        .filter(|r| r.segment.value == *segment)
        .map(|r| r.vrid.value)
        .collect();
    if let Some(seg) = cluster.segments.get(segment) {
        used.extend(seg.reserved_vrids.iter().map(|r| r.vrid.value));
    }
    (1..=255)
        .find(|v| !used.contains(v))
        .map(|free| {
            vec![(
                format!("Use VRID {free}, free on segment `{segment}`"),
                span.range.clone(),
                free.to_string(),
            )]
        })
        .unwrap_or_default()
}

/// The nearest priority below the tied one that no other member has.
fn priority_fix(cluster: &crate::model::Cluster, span: &crate::source::Span) -> Vec<Fix> {
    for router in cluster.routers.values() {
        let Some(member) = router.members.values().find(|m| m.priority.span == *span) else {
            continue;
        };
        let used: Vec<i64> = router.members.values().map(|m| m.priority.value).collect();
        let tied = member.priority.value;
        let free = (1..tied)
            .rev()
            .chain(tied + 1..255)
            .find(|p| !used.contains(p));
        return free
            .map(|p| {
                vec![(
                    format!("Give `{}` priority {p}", member.host),
                    span.range.clone(),
                    p.to_string(),
                )]
            })
            .unwrap_or_default();
    }
    Vec::new()
}

/// For a router without arbitration whose table header starts at `span`:
/// `accept_split_brain = "..."`, and `arbitration = {}` when the segment
/// has reference IPs to probe.
fn arbitration_fixes(
    cluster: &crate::model::Cluster,
    source: &SourceFile,
    span: &crate::source::Span,
) -> Vec<Fix> {
    let Some(router) = cluster.routers.values().find(|r| r.span == *span) else {
        return Vec::new();
    };
    if router.arbitration.is_some() {
        return Vec::new();
    }
    let line = source.line_index(span.range.start);
    let line_start = source.line_start(line);
    if !source.text[line_start..].trim_start().starts_with('[') {
        // Defined by dotted keys or an inline table: no line to add to.
        return Vec::new();
    }
    let insert_at = source.line_start(line + 1);
    let newline = if insert_at == source.text.len() && !source.text.ends_with('\n') {
        "\n"
    } else {
        ""
    };
    let mut fixes = vec![(
        format!("Accept split brain for `{}` (state why)", router.name),
        insert_at..insert_at,
        format!(
            "{newline}accept_split_brain = \"<why two masters of `{}` are acceptable>\"\n",
            router.name
        ),
    )];
    let has_reference_ips = cluster
        .segments
        .get(&router.segment.value)
        .is_some_and(|s| !s.reference_ips.is_empty());
    if has_reference_ips {
        fixes.push((
            format!(
                "Arbitrate `{}` with segment `{}`'s reference IPs",
                router.name, router.segment.value
            ),
            insert_at..insert_at,
            format!("{newline}arbitration = {{}}\n"),
        ));
    }
    fixes
}

// `WorkspaceEdit::changes` is lsp-types' map keyed by `Uri`, whose parsed
// form caches a value in a `Cell`; the key is never mutated here.
#[allow(clippy::mutable_key_type)]
fn quick_fix(
    uri: &lt::Uri,
    title: String,
    range: lt::Range,
    new_text: String,
    diagnostic: lt::Diagnostic,
) -> lt::CodeActionOrCommand {
    let mut changes = std::collections::HashMap::new();
    changes.insert(uri.clone(), vec![lt::TextEdit::new(range, new_text)]);
    lt::CodeActionOrCommand::CodeAction(lt::CodeAction {
        title,
        kind: Some(lt::CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic]),
        edit: Some(lt::WorkspaceEdit {
            changes: Some(changes),
            ..Default::default()
        }),
        is_preferred: Some(true),
        ..Default::default()
    })
}
