//! `inventory.yml`: an Ansible inventory of every host with its artifacts,
//! grouped by the VRRP daemon the host runs.

use serde::Serialize;

use super::{RenderError, Templates};

/// One host of the inventory.
#[derive(Clone, Debug, Serialize)]
pub struct InventoryHost {
    pub name: String,
    /// `vigild` or `keepalived`.
    pub runtime: String,
}

/// Render `inventory.yml`. Hosts must be in canonical (name) order.
pub fn render(
    templates: &Templates,
    compiler_version: &str,
    topology_hash: &str,
    hosts: &[InventoryHost],
) -> Result<String, RenderError> {
    let context = serde_json::json!({
        "compiler_version": compiler_version,
        "topology_hash": topology_hash,
        "hosts": hosts,
    });
    templates.render("inventory.yml.j2", &context)
}
