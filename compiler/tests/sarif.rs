//! `--format sarif`: a SARIF 2.1.0 log that validates against the official
//! schema and carries every location of a diagnostic.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .output()
        .expect("run vigil")
}

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lints")
        .join(rel)
        .display()
        .to_string()
}

/// The SARIF 2.1.0 schema, compiled. The published schema's pattern for
/// `language` (of a run and of a tool component) has a stray `]` that is
/// not a valid regular expression outside JavaScript, so the meta-schema
/// check refuses the whole schema; it is replaced by the pattern it means
/// (two letters, optionally a dash and two more). Vigil writes no `language`.
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: std::sync::LazyLock<jsonschema::Validator> =
        std::sync::LazyLock::new(compile);
    &VALIDATOR
}

fn compile() -> jsonschema::Validator {
    const BROKEN: &str = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    let text = include_str!("sarif/sarif-2.1.0-rtm.5.json");
    assert_eq!(text.matches(BROKEN).count(), 2);
    let text = text.replace(BROKEN, r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#);
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// Runs `vigil check --format sarif`, validates the log, returns it and
/// the exit status.
fn sarif(paths: &[&str]) -> (Value, i32) {
    let mut args = vec!["check", "--format", "sarif"];
    args.extend(paths);
    let out = vigil(&args);
    let log: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    });
    let validator = validator();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{paths:?}: invalid SARIF:\n{}",
        errors.join("\n")
    );
    (log, out.status.code().unwrap())
}

#[test]
fn the_schema_rejects_what_it_should() {
    // The validation is not vacuous: a broken log fails it.
    let validator = validator();
    let (mut log, _) = sarif(&[&fixture("V0302/bad.toml")]);
    assert!(validator.is_valid(&log));
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    assert!(!validator.is_valid(&log));
    log["version"] = Value::from("2.0.0");
    assert!(!validator.is_valid(&log));
}

#[test]
fn a_cross_file_conflict_carries_both_locations() {
    let (log, status) = sarif(&[&fixture("V0101/bad")]);
    assert_eq!(status, 1);
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    let collision = results
        .iter()
        .find(|r| {
            r["message"]["text"]
                .as_str()
                .unwrap()
                .contains("`www` and `api`")
        })
        .expect("the www/api collision");
    assert_eq!(collision["ruleId"], "V0101");
    assert_eq!(collision["level"], "error");
    let index = collision["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "V0101");
    assert_eq!(rules[index]["name"], "vrid-collision");
    assert!(
        rules[index]["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("## Why is this bad")
    );

    let primary = &collision["locations"][0]["physicalLocation"];
    assert!(
        primary["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("V0101/bad/b.toml")
    );
    assert_eq!(primary["region"]["startLine"], 5);
    assert_eq!(primary["region"]["startColumn"], 8);
    assert_eq!(primary["region"]["snippet"]["text"], "51");

    let related = &collision["relatedLocations"][0];
    let other = &related["physicalLocation"];
    assert!(
        other["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("V0101/bad/a.toml")
    );
    assert_eq!(other["region"]["startLine"], 20);
    assert_eq!(other["region"]["snippet"]["text"], "51");
    assert_eq!(related["message"]["text"], "VRID 51 already used by `www`");
    // The message links the related location by its id.
    let id = related["id"].as_u64().unwrap();
    assert!(
        collision["message"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("]({id})")),
        "{collision}"
    );
    // Artifacts list both files, by the index the locations use.
    let artifacts = run["artifacts"].as_array().unwrap();
    let a_index = other["artifactLocation"]["index"].as_u64().unwrap() as usize;
    assert_eq!(
        artifacts[a_index]["location"]["uri"],
        other["artifactLocation"]["uri"]
    );
}

#[test]
fn clean_warning_load_error_and_unreadable_runs() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/web-pair.toml")
        .display()
        .to_string();
    let (log, status) = sarif(&[&example]);
    assert_eq!(status, 0);
    assert_eq!(log["runs"][0]["results"], Value::Array(Vec::new()));
    assert_eq!(
        log["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );

    let (log, status) = sarif(&[&fixture("V0602/bad.toml")]);
    assert_eq!(status, 0, "warnings do not fail without --deny");
    assert_eq!(log["runs"][0]["results"][0]["level"], "warning");

    let dir = std::env::temp_dir().join(format!("vigil-sarif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let syntax = dir.join("broken.toml");
    std::fs::write(&syntax, "[router.www\nvrid = 1\n").unwrap();
    let (log, status) = sarif(&[syntax.to_str().unwrap()]);
    assert_eq!(status, 1);
    assert_eq!(log["runs"][0]["results"][0]["ruleId"], "V0002");
    // An absolute path becomes a file:// URI.
    let uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(uri.starts_with("file:///"), "{uri}");

    let (log, status) = sarif(&["/nonexistent/topology.toml"]);
    assert_eq!(status, 2);
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let note = &invocation["toolExecutionNotifications"][0];
    assert_eq!(note["level"], "error");
    assert!(
        note["message"]["text"]
            .as_str()
            .unwrap()
            .contains("cannot read /nonexistent/topology.toml")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_fixture_gives_a_valid_log() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lints");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        for kind in ["bad.toml", "bad", "good.toml", "good"] {
            let path = dir.join(kind);
            if path.exists() {
                sarif(&[path.to_str().unwrap()]);
                checked += 1;
            }
        }
    }
    assert!(checked > 100);
}
