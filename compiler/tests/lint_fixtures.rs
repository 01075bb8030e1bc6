//! Every registered lint has `fixtures/lints/<CODE>/bad` (triggers exactly
//! that lint) and `good` (a near twin that is completely clean); each is a
//! `.toml` file or a directory of them, checked together.

use std::path::{Path, PathBuf};

use vigil::lints::ALL;
use vigil::pipeline::analyse_paths;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lints")
}

/// `bad.toml` or `bad/`.
fn fixture(code: &str, kind: &str) -> Option<PathBuf> {
    let dir = fixture_dir().join(code);
    let file = dir.join(format!("{kind}.toml"));
    let sub = dir.join(kind);
    if file.is_file() {
        Some(file)
    } else if sub.is_dir() {
        Some(sub)
    } else {
        None
    }
}

fn codes(path: &Path) -> Vec<String> {
    let analysis = analyse_paths(&[path.to_path_buf()]);
    assert!(
        analysis.io_failures.is_empty(),
        "{path:?}: {:?}",
        analysis.io_failures
    );
    analysis
        .diagnostics
        .iter()
        .map(|d| format!("{} {}: {}", d.code, d.name, d.message))
        .collect()
}

#[test]
fn every_lint_has_fixtures_that_behave() {
    let mut failures = Vec::new();
    for lint in ALL {
        let (Some(bad), Some(good)) = (fixture(lint.code, "bad"), fixture(lint.code, "good"))
        else {
            failures.push(format!(
                "{} {}: missing bad or good fixture",
                lint.code, lint.name
            ));
            continue;
        };
        let found = codes(&bad);
        if found.is_empty() {
            failures.push(format!(
                "{} {}: bad fixture triggers nothing",
                lint.code, lint.name
            ));
        }
        for other in found.iter().filter(|c| !c.starts_with(lint.code)) {
            failures.push(format!(
                "{} {}: bad fixture also triggers {other}",
                lint.code, lint.name
            ));
        }
        for found in codes(&good) {
            failures.push(format!(
                "{} {}: good fixture triggers {found}",
                lint.code, lint.name
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_fixture_directory_belongs_to_a_lint() {
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            ALL.iter().any(|l| l.code == name),
            "fixtures/lints/{name} has no registered lint"
        );
    }
}

#[test]
fn shipped_examples_are_clean() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/web-pair.toml");
    assert_eq!(codes(&example), Vec::<String>::new());
}
