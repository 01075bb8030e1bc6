//! Artifacts rendered from a per-host plan with minijinja templates.
//!
//! The templates are embedded in the binary (`compiler/templates/`) and can be
//! overridden one by one with `vigil build --templates DIR`: a file in DIR
//! with the same name replaces the embedded one. Rendering is strict: a
//! template that names an unknown variable is an error, never an empty string.
//!
//! Each artifact has its own module that turns the plan into the template's
//! context (the values a template needs, precomputed in Rust so templates stay
//! free of arithmetic): [`systemd`], [`keepalived`], [`nftables`], [`inventory`].

pub mod inventory;
pub mod keepalived;
pub mod nftables;
pub mod systemd;

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};

/// The embedded templates, by file name.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "vigild.service.j2",
        include_str!("../../templates/vigild.service.j2"),
    ),
    (
        "keepalived.conf.j2",
        include_str!("../../templates/keepalived.conf.j2"),
    ),
    (
        "nftables.conf.j2",
        include_str!("../../templates/nftables.conf.j2"),
    ),
    (
        "inventory.yml.j2",
        include_str!("../../templates/inventory.yml.j2"),
    ),
];

/// The single source of truth for the systemd unit's settings, shared with
/// the NixOS module.
pub const UNIT_SETTINGS_JSON: &str = include_str!("../../templates/unit.json");

/// A failure to load or render a template.
#[derive(Debug)]
pub struct RenderError(pub String);

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RenderError {}

/// The template set used for one build.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The embedded templates.
    pub fn embedded() -> Self {
        Self::with_overrides(None).expect("embedded templates always compile")
    }

    /// The embedded templates, each replaced by `DIR/<name>` when that file exists.
    pub fn with_overrides(dir: Option<&Path>) -> Result<Self, RenderError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        for (name, source) in EMBEDDED {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(path) => read_override(&path)?,
                None => (*source).to_string(),
            };
            env.add_template_owned(*name, source)
                .map_err(|e| RenderError(format!("template {name}: {e}")))?;
        }
        Ok(Templates { env })
    }

    /// Render a template with a serialisable context.
    pub fn render<C: serde::Serialize>(
        &self,
        name: &str,
        context: &C,
    ) -> Result<String, RenderError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| RenderError(format!("template {name}: {e}")))?;
        template
            .render(minijinja::Value::from(minijinja::value::Serde(context)))
            .map_err(|e| RenderError(format!("rendering {name}: {e:#}")))
    }
}

fn read_override(path: &PathBuf) -> Result<String, RenderError> {
    std::fs::read_to_string(path).map_err(|e| {
        RenderError(format!(
            "cannot read template override {}: {e}",
            path.display()
        ))
    })
}

/// Seconds as keepalived writes them: whole when exact, else with decimals.
pub(crate) fn seconds_text(millis: u64) -> String {
    if millis % 1000 == 0 {
        (millis / 1000).to_string()
    } else {
        let text = format!("{:.3}", millis as f64 / 1000.0);
        text.trim_end_matches('0').to_string()
    }
}

/// A command line for a configuration file: words joined by spaces, words
/// with spaces or quotes single-quoted.
pub(crate) fn command_text(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-=:,@+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_like_keepalived() {
        assert_eq!(seconds_text(1000), "1");
        assert_eq!(seconds_text(50), "0.05");
        assert_eq!(seconds_text(1500), "1.5");
    }

    #[test]
    fn commands_quote_only_when_needed() {
        let words = [
            "/bin/check".to_string(),
            "a b".to_string(),
            "it's".to_string(),
        ];
        assert_eq!(command_text(&words), r"/bin/check 'a b' 'it'\''s'");
    }
}
