//! `docs/topology.md` is the operator's reference; these tests keep it in
//! step with the types:
//!
//! * every key of every table in the JSON Schema is documented (appears as
//!   `` `key` `` in the reference);
//! * every TOML snippet in it uses only keys and value types the schema
//!   knows (snippets are fragments, so required keys are not demanded);
//! * the first example of the reference and of `README.md` is a complete
//!   topology that validates and deserialises.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use vigil_schema::topology::Topology;

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn schema() -> Value {
    serde_json::from_str(&repo_file("schema/topology.schema.json")).unwrap()
}

/// Every property name of every object in the schema.
fn property_names(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                names.extend(props.keys().cloned());
            }
            map.values().for_each(|v| property_names(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| property_names(v, names)),
        _ => {}
    }
}

/// The schema without any `required` lists, for validating fragments.
fn without_required(value: &mut Value) {
    match value {
        Value::Object(map) => {
            // Only the keyword (a list of names), not a property called `required`.
            if map.get("required").is_some_and(Value::is_array) {
                map.remove("required");
            }
            map.values_mut().for_each(without_required);
        }
        Value::Array(items) => items.iter_mut().for_each(without_required),
        _ => {}
    }
}

/// The ```toml code blocks of a Markdown text.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        match &mut current {
            None if trimmed.starts_with("```toml") => current = Some(String::new()),
            Some(block) if trimmed.starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                // Blocks inside list items are indented.
                block.push_str(line.strip_prefix("  ").unwrap_or(line));
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn to_json(source: &str) -> Value {
    let value: toml::Value = toml::from_str(source)
        .unwrap_or_else(|e| panic!("invalid TOML in the docs:\n{source}\n{e}"));
    serde_json::to_value(value).unwrap()
}

#[test]
fn every_schema_key_is_documented() {
    let doc = repo_file("docs/topology.md");
    let mut names = BTreeSet::new();
    property_names(&schema(), &mut names);
    assert!(names.len() > 50, "expected the whole schema, got {names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| {
            // `key` in a table row, or `[key...` for a top-level table heading.
            !doc.contains(&format!("`{name}`"))
                && !doc.contains(&format!("`[{name}]`"))
                && !doc.contains(&format!("`[{name}."))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/topology.md does not document: {missing:?}"
    );
}

#[test]
fn snippets_use_only_known_keys() {
    let doc = repo_file("docs/topology.md");
    let mut relaxed = schema();
    without_required(&mut relaxed);
    let validator = jsonschema::validator_for(&relaxed).unwrap();
    let blocks = toml_blocks(&doc);
    assert!(
        blocks.len() > 10,
        "found only {} TOML snippets",
        blocks.len()
    );
    for block in blocks.iter().filter(|b| !b.contains("[[rule]]")) {
        let errors: Vec<String> = validator
            .iter_errors(&to_json(block))
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "snippet does not fit the schema:\n{block}\n{errors:#?}"
        );
    }
}

#[test]
fn first_examples_are_complete_topologies() {
    for file in ["docs/topology.md", "README.md"] {
        first_example_is_a_complete_topology(file);
    }
}

fn first_example_is_a_complete_topology(file: &str) {
    let doc = repo_file(file);
    let first = toml_blocks(&doc).into_iter().next().unwrap();
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&to_json(&first))
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let topology: Topology = toml::from_str(&first).unwrap();
    assert_eq!(topology.router["www"].member.len(), 2);
}
