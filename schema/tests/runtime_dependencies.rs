//! The runtime reads plans and interprets nothing: its normal dependency
//! graph must not contain the compiler's crates (the TOML parser, the
//! template engine, the diagnostic renderer, the JSON Schema generator).
//! `vigil-schema` keeps them behind its `topology` and `json-schema`
//! features, which vigild leaves off.

use std::path::Path;
use std::process::Command;

const FORBIDDEN: &[&str] = &["toml", "minijinja", "miette", "schemars"];

fn normal_dependencies(package: &str, features: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut args = vec!["tree", "-p", package, "-e", "normal", "--prefix", "none"];
    args.extend(features);
    let out = Command::new(cargo)
        .args(&args)
        .current_dir(root)
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn forbidden_in(crates: &[String]) -> Vec<&String> {
    crates
        .iter()
        .filter(|c| FORBIDDEN.iter().any(|f| c.starts_with(f)))
        .collect()
}

#[test]
fn vigild_links_no_compiler_crates() {
    let crates = normal_dependencies("vigild", &[]);
    assert!(
        crates.iter().any(|c| c == "vigil-schema"),
        "vigild should depend on vigil-schema: {crates:?}"
    );
    let found = forbidden_in(&crates);
    assert!(found.is_empty(), "vigild links {found:?}");
}

#[test]
fn the_check_sees_them_when_they_are_there() {
    // The same query on the compiler finds all four: the test is not vacuous.
    let crates = normal_dependencies("vigil", &[]);
    for f in FORBIDDEN {
        assert!(
            crates.iter().any(|c| c.starts_with(f)),
            "{f} not found in vigil's graph"
        );
    }
}
