//! The rendered human output (miette, unicode without colour, width 100)
//! of a few lints, as reviewed snapshots under `tests/snapshots/`.

use std::path::Path;

use vigil::pipeline::{Analysis, analyse_texts};
use vigil::render::{Format, human::Style, render_all};

/// Loads a fixture (file or directory) under names relative to the
/// fixture root, so the snapshot does not depend on the checkout path.
fn analyse_fixture(relative: &str) -> Analysis {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lints");
    let path = root.join(relative);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let name = format!("{relative}/{}", p.file_name().unwrap().to_string_lossy());
            files.push((name, std::fs::read(&p).unwrap()));
        }
    } else {
        files.push((relative.to_string(), std::fs::read(&path).unwrap()));
    }
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    analyse_texts(&borrowed)
}

fn human(relative: &str) -> String {
    let analysis = analyse_fixture(relative);
    assert!(!analysis.diagnostics.is_empty(), "{relative} is clean");
    render_all(
        Format::Human,
        &analysis.diagnostics,
        &analysis.sources,
        &Style::plain(100),
    )
}

#[test]
fn vrid_collision_across_files() {
    insta::assert_snapshot!(human("V0101/bad"));
}

#[test]
fn router_definition_conflict() {
    insta::assert_snapshot!(human("V0102/bad"));
}

#[test]
fn priority_tie() {
    insta::assert_snapshot!(human("V0302/bad.toml"));
}

#[test]
fn tracker_cannot_fail_over() {
    insta::assert_snapshot!(human("V0304/bad.toml"));
}

#[test]
fn preempt_never_misuse() {
    insta::assert_snapshot!(human("V0401/bad.toml"));
}

#[test]
fn missing_arbitration() {
    insta::assert_snapshot!(human("V0501/bad.toml"));
}

#[test]
fn unicast_member_without_address() {
    insta::assert_snapshot!(human("V0701/bad.toml"));
}

#[test]
fn unknown_key_with_suggestion() {
    let analysis = analyse_texts(&[(
        "typo.toml",
        b"[router.www]\nsegment = \"front\"\nvrid = 51\nprioirty = 3\n",
    )]);
    let text = render_all(
        Format::Human,
        &analysis.diagnostics,
        &analysis.sources,
        &Style::plain(100),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn unsafe_name() {
    insta::assert_snapshot!(human("V0106/bad.toml"));
}

#[test]
fn empty_file() {
    insta::assert_snapshot!(human("V0107/bad"));
}

#[test]
fn empty_topology() {
    insta::assert_snapshot!(human("V0108/bad.toml"));
}

/// The lints added for the CI-gate work, one reviewed snapshot each.
#[test]
fn newer_lints() {
    for fixture in [
        "V0109/bad.toml",
        "V0110/bad.toml",
        "V0111/bad.toml",
        "V0207/bad.toml",
        "V0309/bad.toml",
        "V0310/bad.toml",
        "V0607/bad.toml",
        "V0810/bad.toml",
        "V0910/bad.toml",
        "V0911/bad.toml",
        "V0912/bad.toml",
        "V0913/bad.toml",
        "V0914/bad.toml",
        "V0608/bad.toml",
        "V0609/bad.toml",
        "V1001/bad.toml",
        "V1002/bad.toml",
    ] {
        let code = &fixture[..5];
        insta::assert_snapshot!(format!("lint_{code}"), human(fixture));
    }
}
