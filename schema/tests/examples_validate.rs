//! The examples in `examples/` and the committed JSON Schema must agree with
//! each other and with the Rust types.
//!
//! * Every good example (`examples/*.toml`) validates against
//!   `schema/topology.schema.json` and deserialises into [`Topology`].
//! * Every broken example (`examples/broken/*.toml`) is listed below with
//!   whether the schema alone catches its mistake. Most mistakes are
//!   semantic (a VRID collision is two valid routers) and must pass the schema,
//!   so that only the compiler's lints can report them; a misspelt key must
//!   already fail in the editor.
//!
//! Every example also carries the `#:schema` directive on its first line so
//! that taplo-based editors pick the schema up.

use std::path::{Path, PathBuf};

use vigil_schema::topology::Topology;

/// Broken examples and whether the JSON Schema (and hence the TOML
/// deserialiser) rejects them on their own.
const BROKEN: &[(&str, Catch)] = &[
    ("missing-arbitration.toml", Catch::Lint),
    ("nopreempt-initial-master.toml", Catch::Lint),
    ("pass-password-too-long.toml", Catch::Lint),
    ("priority-tie.toml", Catch::Lint),
    ("tracker-weight-too-small.toml", Catch::Lint),
    ("unknown-key.toml", Catch::Schema),
    ("vip-outside-segment.toml", Catch::Lint),
    ("vrid-collision.toml", Catch::Lint),
    ("vs-address-not-vip.toml", Catch::Lint),
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Catch {
    /// Schema-valid; only the compiler can tell.
    Lint,
    /// Rejected by the schema and by deserialisation.
    Schema,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

fn validator() -> jsonschema::Validator {
    let path = repo_root().join("schema/topology.schema.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("the committed schema compiles")
}

/// The TOML document as JSON, the way an editor's schema check sees it.
fn as_json(source: &str, path: &Path) -> serde_json::Value {
    let value: toml::Value = toml::from_str(source)
        .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", path.display()));
    serde_json::to_value(value).unwrap()
}

fn schema_errors(validator: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

fn assert_schema_directive(path: &Path, source: &str, expected: &str) {
    let first = source.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("#:schema {expected}"),
        "{}: the first line must point editors at the schema",
        path.display()
    );
}

#[test]
fn good_examples_validate_and_deserialise() {
    let validator = validator();
    let files = toml_files(&repo_root().join("examples"));
    assert!(
        files.len() >= 4,
        "expected at least four examples, found {files:?}"
    );
    for path in &files {
        let source = std::fs::read_to_string(path).unwrap();
        assert_schema_directive(path, &source, "../schema/topology.schema.json");
        let errors = schema_errors(&validator, &as_json(&source, path));
        assert!(
            errors.is_empty(),
            "{} fails the schema:\n{}",
            path.display(),
            errors.join("\n")
        );
        let topology: Topology = toml::from_str(&source)
            .unwrap_or_else(|e| panic!("{} does not deserialise:\n{e}", path.display()));
        assert!(
            !topology.router.is_empty(),
            "{} has no router",
            path.display()
        );
        for (router_name, router) in &topology.router {
            assert!(
                router.member.len() >= 2,
                "{}: router {router_name} should have at least two members",
                path.display()
            );
        }
    }
}

#[test]
fn broken_examples_fail_where_expected() {
    let validator = validator();
    let files = toml_files(&repo_root().join("examples/broken"));
    let found: Vec<&str> = files.iter().map(|p| name(p)).collect();
    let listed: Vec<&str> = BROKEN.iter().map(|(file, _)| *file).collect();
    assert_eq!(
        found, listed,
        "examples/broken/ and the BROKEN list in this test differ"
    );

    for (path, (_, catch)) in files.iter().zip(BROKEN) {
        let source = std::fs::read_to_string(path).unwrap();
        assert_schema_directive(path, &source, "../../schema/topology.schema.json");
        assert!(
            source
                .lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("# BROKEN: ")),
            "{}: the second line must say what the example shows (`# BROKEN: ...`)",
            path.display()
        );
        let errors = schema_errors(&validator, &as_json(&source, path));
        let parsed = toml::from_str::<Topology>(&source);
        match catch {
            Catch::Lint => {
                assert!(
                    errors.is_empty(),
                    "{} should be schema-valid (its mistake is for the compiler):\n{}",
                    path.display(),
                    errors.join("\n")
                );
                if let Err(e) = parsed {
                    panic!("{} should deserialise:\n{e}", path.display());
                }
            }
            Catch::Schema => {
                assert!(
                    !errors.is_empty(),
                    "{} should fail the schema",
                    path.display()
                );
                assert!(
                    parsed.is_err(),
                    "{} should fail to deserialise",
                    path.display()
                );
            }
        }
    }
}

/// The typo is reported at the misspelt key, by the schema and by the parser.
#[test]
fn misspelt_key_is_reported_by_name() {
    let path = repo_root().join("examples/broken/unknown-key.toml");
    let source = std::fs::read_to_string(&path).unwrap();
    let errors = schema_errors(&validator(), &as_json(&source, &path));
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("/router/www/member/web1") && e.contains("prioirty")),
        "schema errors do not name the misspelt key: {errors:#?}"
    );
    let error = toml::from_str::<Topology>(&source).unwrap_err();
    let span = error.span().expect("the parser reports where the key is");
    assert_eq!(&source[span], "prioirty");
}
