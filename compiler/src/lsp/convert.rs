//! Vigil's diagnostics as LSP diagnostics.

use std::collections::HashMap;

use lsp_types as lt;

use super::text::{self, Encoding};
use super::uri_for;
use super::workspace::{Project, Workspace};
use crate::diagnostic::{Diagnostic, Severity};

/// Every file's diagnostics, by URI; every file of every project has an
/// entry (empty when clean).
pub fn diagnostics(
    workspace: &Workspace,
    encoding: Encoding,
) -> HashMap<String, Vec<lt::Diagnostic>> {
    let mut out: HashMap<String, Vec<lt::Diagnostic>> = HashMap::new();
    for project in &workspace.projects {
        for path in &project.paths {
            out.entry(uri_for(workspace, path)).or_default();
        }
        for d in &project.diagnostics {
            let Some(path) = project.path_of(d.primary.span.file) else {
                continue;
            };
            out.entry(uri_for(workspace, path))
                .or_default()
                .push(diagnostic(workspace, project, d, encoding));
        }
    }
    out
}

/// The LSP severity of a Vigil severity.
pub fn severity(s: Severity) -> lt::DiagnosticSeverity {
    match s {
        Severity::Error => lt::DiagnosticSeverity::ERROR,
        Severity::Warning => lt::DiagnosticSeverity::WARNING,
        Severity::Info => lt::DiagnosticSeverity::INFORMATION,
    }
}

/// One diagnostic: the message with the primary label and the help, the
/// code (its explanation is `vigil explain CODE` and the hover), and the
/// secondary labels as related information, in whatever file they are.
pub fn diagnostic(
    workspace: &Workspace,
    project: &Project,
    d: &Diagnostic,
    encoding: Encoding,
) -> lt::Diagnostic {
    let file = project.sources.file(d.primary.span.file);
    let mut message = d.message.clone();
    if let Some(label) = &d.primary.message {
        message.push_str(&format!("\n{label}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<lt::DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|label| {
            let path = project.path_of(label.span.file)?;
            let uri = uri_for(workspace, path).parse::<lt::Uri>().ok()?;
            let other = project.sources.file(label.span.file);
            Some(lt::DiagnosticRelatedInformation {
                location: lt::Location::new(uri, text::range(other, &label.span.range, encoding)),
                message: label.message.clone().unwrap_or_default(),
            })
        })
        .collect();
    lt::Diagnostic {
        range: text::range(file, &d.primary.span.range, encoding),
        severity: Some(severity(d.severity)),
        code: Some(lt::NumberOrString::String(d.code.to_string())),
        code_description: None,
        source: Some("vigil".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: Some(serde_json::json!({
            "name": d.name,
            "explain": format!("vigil explain {}", d.code),
        })),
    }
}
