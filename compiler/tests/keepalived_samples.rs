//! keepalived's own sample configurations (Debian's keepalived package,
//! /usr/share/doc/keepalived/samples): every one reads without a panic,
//! either imports or gets diagnostics at their place, and the imported
//! topology is valid TOML that loads again. The results table in
//! docs/migrating-from-keepalived.md must match what this test sees.
//! Skipped (with a message) when the package is not installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vigil::diagnostic::Severity;
use vigil::keepalived::{HostSource, Options};
use vigil::pipeline::{analyse_keepalived, analyse_texts};

const SAMPLES: &str = "/usr/share/doc/keepalived/samples";

fn samples() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(SAMPLES) else {
        return Vec::new();
    };
    let mut list: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("keepalived.conf."))
        })
        .collect();
    list.sort();
    list
}

/// One row of the docs table for a sample.
fn row(path: &Path) -> String {
    let hosts = [HostSource {
        host: "sample".into(),
        path: path.to_path_buf(),
    }];
    let a = analyse_keepalived(&hosts, &Options::default(), Vec::new());
    assert!(a.io_failures.is_empty(), "{:?}", a.io_failures);
    let count = |s: Severity| a.diagnostics.iter().filter(|d| d.severity == s).count();
    // Every diagnostic points into a file that was read, inside its text.
    for d in &a.diagnostics {
        let file = a.sources.file(d.primary.span.file);
        assert!(!file.name.is_empty());
        assert!(d.primary.span.range.end <= file.text.len(), "{d:?}");
    }
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &a.diagnostics {
        *codes.entry(d.code).or_default() += 1;
    }
    let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
    let (errors, warnings, infos) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    );
    let result = match &a.cluster {
        None => "not read".to_string(),
        Some(cluster) => {
            // The imported topology loads back without a load error.
            let toml = vigil::keepalived::emit::topology_toml(cluster, &a.diagnostics, &a.sources);
            let back = analyse_texts(&[("imported.toml", toml.as_bytes())]);
            assert!(
                back.diagnostics.iter().all(|d| !d.code.starts_with("V000")),
                "{}: imported TOML does not load: {:?}\n{toml}",
                path.display(),
                back.diagnostics
            );
            assert_eq!(
                back.cluster.as_ref().map(|c| c.routers.len()),
                Some(cluster.routers.len())
            );
            if errors == 0 {
                "imports".to_string()
            } else {
                "imports; lint errors".to_string()
            }
        }
    };
    format!(
        "| `{}` | {result} | {errors} | {warnings} | {infos} | {} |",
        path.file_name().unwrap().to_string_lossy(),
        codes.join(", ")
    )
}

#[test]
fn every_debian_sample_imports_or_is_diagnosed_and_the_docs_table_matches() {
    let list = samples();
    if list.is_empty() {
        eprintln!(
            "SKIPPED: keepalived's samples are not installed ({SAMPLES}); apt-get install keepalived"
        );
        return;
    }
    assert!(
        list.len() >= 20,
        "expected Debian's samples, found {}",
        list.len()
    );
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/migrating-from-keepalived.md"),
    )
    .unwrap();
    let rows: Vec<String> = list.iter().map(|p| row(p)).collect();
    let missing: Vec<&String> = rows.iter().filter(|r| !docs.contains(r.as_str())).collect();
    assert!(
        missing.is_empty(),
        "docs/migrating-from-keepalived.md does not have these rows (update the table):\n{}",
        rows.join("\n")
    );
}
