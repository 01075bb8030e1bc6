//! Requests answered from the latest check.

use lsp_server::Request;
use serde_json::Value;

use super::text::Encoding;
use super::workspace::Workspace;

/// Why a request got no answer.
pub enum Failure {
    /// A method the server does not handle.
    Unknown,
    /// Parameters that do not fit the method.
    BadParams(String),
}

pub fn handle(_workspace: &Workspace, _encoding: Encoding, request: &Request) -> Result<Value, Failure> {
    match request.method.as_str() {
        _ => Err(Failure::Unknown),
    }
}
