//! `vigild.service`: the hardened unit, from the shared `templates/unit.json`.

use serde::Serialize;
use serde_json::{Map, Value};
use vigil_schema::plan::Plan;

use super::{RenderError, Templates, UNIT_SETTINGS_JSON};

/// Where Ansible installs the runtime and the plan on a host.
pub const VIGILD_PATH: &str = "/usr/local/sbin/vigild";
pub const PLAN_PATH: &str = "/etc/vigil/plan.json";

#[derive(Serialize)]
struct Entry {
    key: String,
    value: String,
}

#[derive(Serialize)]
struct Section {
    name: String,
    entries: Vec<Entry>,
}

/// A unit section: its name and its `key=value` entries.
pub type UnitSection = (String, Vec<(String, String)>);

/// The unit's sections in systemd's usual order, placeholders filled in.
pub fn unit_sections(vigild: &str, plan_path: &str) -> Result<Vec<UnitSection>, RenderError> {
    let settings: Map<String, Value> = serde_json::from_str(UNIT_SETTINGS_JSON)
        .map_err(|e| RenderError(format!("templates/unit.json: {e}")))?;
    let mut sections = Vec::new();
    for name in ["Unit", "Service", "Install"] {
        let Some(Value::Object(entries)) = settings.get(name) else {
            return Err(RenderError(format!(
                "templates/unit.json: section {name} is missing"
            )));
        };
        let entries = entries
            .iter()
            .map(|(key, value)| {
                let text = value.as_str().ok_or_else(|| {
                    RenderError(format!(
                        "templates/unit.json: {name}.{key} must be a string"
                    ))
                })?;
                Ok((
                    key.clone(),
                    text.replace("@VIGILD@", vigild)
                        .replace("@PLAN@", plan_path),
                ))
            })
            .collect::<Result<Vec<_>, RenderError>>()?;
        sections.push((name.to_string(), entries));
    }
    Ok(sections)
}

/// Render `vigild.service` for one host.
pub fn render(templates: &Templates, plan: &Plan) -> Result<String, RenderError> {
    let sections: Vec<Section> = unit_sections(VIGILD_PATH, PLAN_PATH)?
        .into_iter()
        .map(|(name, entries)| Section {
            name,
            entries: entries
                .into_iter()
                .map(|(key, value)| Entry { key, value })
                .collect(),
        })
        .collect();
    let context = serde_json::json!({ "plan": plan, "unit": { "sections": sections } });
    templates.render("vigild.service.j2", &context)
}
