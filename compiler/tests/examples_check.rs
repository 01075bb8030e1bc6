//! The repository's examples, as `vigil check` sees them:
//!
//! * every `examples/*.toml` is clean (no diagnostic at all, not even info);
//! * every `examples/broken/*.toml` is reported by the lint its header
//!   describes, and by nothing else (each file shows one mistake).
//!
//! When a lint changes and this fails, fix the example or the lint; the
//! examples are what newcomers copy.

use std::path::{Path, PathBuf};

use vigil::pipeline::analyse_paths;

/// Each broken example and the one diagnostic (by name) it must produce.
const BROKEN: &[(&str, &str)] = &[
    ("missing-arbitration.toml", "missing-arbitration"),
    ("nopreempt-initial-master.toml", "preempt-never-misuse"),
    ("pass-password-too-long.toml", "password-too-long"),
    ("priority-tie.toml", "priority-tie"),
    ("tracker-weight-too-small.toml", "tracker-cannot-fail-over"),
    ("unknown-key.toml", "unknown-key"),
    ("vip-outside-segment.toml", "vip-outside-segment"),
    ("vrid-collision.toml", "vrid-collision"),
    ("vs-address-not-vip.toml", "virtual-server-address-not-vip"),
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// `code(name): message` of every diagnostic for one file.
fn diagnostics(path: &Path) -> Vec<(String, String)> {
    let analysis = analyse_paths(&[path.to_path_buf()]);
    assert!(
        analysis.io_failures.is_empty(),
        "{}: {:?}",
        path.display(),
        analysis.io_failures
    );
    analysis
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.name.to_string(),
                format!("{}({}): {}", d.code, d.name, d.message),
            )
        })
        .collect()
}

#[test]
fn good_examples_are_clean() {
    let files = toml_files(&examples_dir());
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let found = diagnostics(&path);
        assert!(
            found.is_empty(),
            "{} should check clean, got:\n{:#?}",
            path.display(),
            found.iter().map(|(_, text)| text).collect::<Vec<_>>()
        );
    }
}

#[test]
fn broken_examples_show_exactly_their_mistake() {
    let files = toml_files(&examples_dir().join("broken"));
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let listed: Vec<&str> = BROKEN.iter().map(|(file, _)| *file).collect();
    assert_eq!(names, listed, "examples/broken/ and BROKEN differ");
    for (path, (_, lint)) in files.iter().zip(BROKEN) {
        let found = diagnostics(path);
        let texts: Vec<&String> = found.iter().map(|(_, text)| text).collect();
        assert!(
            !found.is_empty() && found.iter().all(|(name, _)| name == lint),
            "{} should be reported by `{lint}` only, got:\n{texts:#?}",
            path.display()
        );
    }
}
