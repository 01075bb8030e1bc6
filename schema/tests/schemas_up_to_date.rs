//! The committed JSON Schemas (`schema/topology.schema.json`,
//! `schema/plan.schema.json`) are what editors and other tools read, so they
//! must always match the Rust types. This test regenerates them in memory and
//! fails on any difference.
//!
//! To rewrite the committed files after changing the types:
//!
//! ```sh
//! VIGIL_UPDATE_SCHEMAS=1 cargo test -p vigil-schema
//! ```

use std::path::PathBuf;

use vigil_schema::plan::Plan;
use vigil_schema::schema_json;
use vigil_schema::topology::Topology;

const UPDATE_VAR: &str = "VIGIL_UPDATE_SCHEMAS";

fn schema_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file)
}

/// Compare `generated` with the committed file, or rewrite the file when
/// `VIGIL_UPDATE_SCHEMAS` is set.
fn check_committed(file: &str, generated: &str) {
    let path = schema_path(file);
    if std::env::var_os(UPDATE_VAR).is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::write(&path, generated)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\n\ngenerate it with:\n    {UPDATE_VAR}=1 cargo test -p vigil-schema\n",
            path.display()
        )
    });
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} is out of date with the Rust types (first difference at line {}).\n\n\
             Regenerate the committed schemas with:\n    {UPDATE_VAR}=1 cargo test -p vigil-schema\n\
             and commit the result.\n",
            path.display(),
            first_difference + 1
        );
    }
}

#[test]
fn topology_schema_is_up_to_date() {
    check_committed("topology.schema.json", &schema_json::<Topology>());
}

#[test]
fn plan_schema_is_up_to_date() {
    check_committed("plan.schema.json", &schema_json::<Plan>());
}

/// The generated schemas are valid JSON Schema documents that the validator
/// accepts, and they keep the properties editors rely on.
#[test]
fn schemas_are_usable_by_a_validator() {
    for generated in [schema_json::<Topology>(), schema_json::<Plan>()] {
        let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "editors expect draft 2020-12"
        );
        jsonschema::validator_for(&schema).expect("the schema compiles");
    }
    let topology: serde_json::Value = serde_json::from_str(&schema_json::<Topology>()).unwrap();
    // deny_unknown_fields must reach the schema, or typos pass editors silently.
    assert_eq!(topology["additionalProperties"], false);
    assert_eq!(topology["$defs"]["Router"]["additionalProperties"], false);
    assert_eq!(
        topology["$defs"]["Router"]["properties"]["vrid"]["maximum"],
        255
    );
}
