//! The built `vigil` binary: exit codes and output formats.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("NO_COLOR", "1")
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

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/web-pair.toml")
        .display()
        .to_string()
}

fn status(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

/// A scratch file unique to this test.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn clean_topology_exits_0() {
    let out = vigil(&["check", &example()]);
    assert_eq!(status(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn errors_exit_1() {
    let out = vigil(&["check", &fixture("V0302/bad.toml")]);
    assert_eq!(status(&out), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("V0302(priority-tie)"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour without a terminal: {stderr}"
    );
}

#[test]
fn warnings_exit_0_unless_denied() {
    let bad = fixture("V0602/bad.toml");
    assert_eq!(status(&vigil(&["check", &bad])), 0);
    assert_eq!(status(&vigil(&["check", &bad, "--deny", "warnings"])), 1);
    assert_eq!(status(&vigil(&["check", "--deny=warnings", &bad])), 1);
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(status(&vigil(&[])), 2);
    assert_eq!(status(&vigil(&["check"])), 2);
    assert_eq!(status(&vigil(&["frobnicate"])), 2);
    assert_eq!(status(&vigil(&["check", "--format", "xml", &example()])), 2);
    let missing = vigil(&["check", "/nonexistent/topology.toml"]);
    assert_eq!(status(&missing), 2);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/topology.toml")
    );
    assert_eq!(status(&vigil(&["explain", "V9999"])), 2);
}

#[test]
fn a_directory_checks_its_files_together() {
    assert_eq!(status(&vigil(&["check", &fixture("V0101/bad")])), 1);
    assert_eq!(status(&vigil(&["check", &fixture("V0101/good")])), 0);
}

#[test]
fn json_format_prints_one_object_per_diagnostic() {
    let out = vigil(&["check", "--format", "json", &fixture("V0101/bad")]);
    assert_eq!(status(&out), 1);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines.iter().all(|l| l["code"] == "V0101"));
}

#[test]
fn github_format_annotates_the_line() {
    let out = vigil(&["check", "--format", "github", &fixture("V0105/bad.toml")]);
    assert_eq!(status(&out), 1);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout.lines().next().unwrap();
    assert!(line.starts_with("::error file="), "{line}");
    assert!(
        line.contains(",line=19,col=8,endLine=19,endColumn=11,title=V0105 vrid-out-of-range::"),
        "{line}"
    );
    assert!(line.contains("%0Ahelp: "), "{line}");
}

#[test]
fn a_clean_check_says_what_the_topology_will_do() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = root.join("examples/web-pair.toml").display().to_string();
    let out = vigil(&["check", &example]);
    assert_eq!(status(&out), 0);
    let stderr = String::from_utf8(out.stderr).unwrap();
    // The README's first command prints exactly this.
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&stderr),
        "README shows another output:\n{stderr}"
    );
    assert!(
        stderr.contains(
            "web1 (150) holds it; if web1 dies, web2 (100) takes over after 3.609s of silence"
        ),
        "{stderr}"
    );
    // With errors there is no overview: the diagnostics are what matters.
    let out = vigil(&["check", &fixture("V0105/bad.toml")]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("holds it"), "{stderr}");
}

#[test]
fn concise_format_is_one_line_per_diagnostic() {
    let out = vigil(&["check", "--format", "concise", &fixture("V0105/bad.toml")]);
    assert_eq!(status(&out), 1);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let expected = format!(
        "{}:19:8: error V0105 vrid-out-of-range: ",
        fixture("V0105/bad.toml")
    );
    assert!(lines[0].starts_with(&expected), "{}", lines[0]);
    // Cross-file conflicts: one line each, in their own files.
    let out = vigil(&["check", "--format", "concise", &fixture("V0101/bad")]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|l| l.contains(": error V0101 vrid-collision: ")),
        "{stdout}"
    );
}

#[test]
fn lints_explain_schema_help_version() {
    let lints = vigil(&["lints"]);
    assert_eq!(status(&lints), 0);
    let table = String::from_utf8(lints.stdout).unwrap();
    assert!(table.starts_with("CODE"));
    assert_eq!(table.lines().count(), vigil::lints::ALL.len() + 1);

    for key in ["V0101", "vrid-collision", "v0101"] {
        let out = vigil(&["explain", key]);
        assert_eq!(status(&out), 0);
        assert!(
            String::from_utf8(out.stdout)
                .unwrap()
                .contains("## Why is this bad")
        );
    }

    let load_code = vigil(&["explain", "V0003"]);
    assert_eq!(status(&load_code), 0);
    assert!(
        String::from_utf8(load_code.stdout)
            .unwrap()
            .contains("unknown-key")
    );

    let schema = vigil(&["schema"]);
    assert_eq!(status(&schema), 0);
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert!(schema["properties"]["router"].is_object());

    assert_eq!(status(&vigil(&["--help"])), 0);
    let version = vigil(&["--version"]);
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        format!("vigil {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn non_utf8_input_is_a_diagnostic_not_a_crash() {
    let path = scratch("latin1.toml", b"[cluster]\nname = \"caf\xe9\"\n");
    let out = vigil(&["check", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(status(&out), 1);
    let d: serde_json::Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(d["code"], "V0001");
    assert_eq!(
        (d["start"]["line"].as_u64(), d["start"]["column"].as_u64()),
        (Some(2), Some(12))
    );
}

#[test]
fn unreadable_directory_entries_are_errors_with_their_path() {
    let dir = std::env::temp_dir().join(format!("vigil-cli-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(example(), dir.join("a.toml")).unwrap();
    let a = dir.display().to_string();
    assert_eq!(status(&vigil(&["check", &a])), 0);

    type Make<'a> = &'a dyn Fn(&Path);
    let cases: [(&str, Make, &str); 4] = [
        (
            "broken.toml",
            &|p| std::os::unix::fs::symlink("missing-target.toml", p).unwrap(),
            "broken symbolic link -> missing-target.toml",
        ),
        (
            "loop.toml",
            &|p| std::os::unix::fs::symlink("loop.toml", p).unwrap(),
            "symbolic link -> loop.toml cannot be followed",
        ),
        (
            "sub.toml",
            &|p| std::fs::create_dir(p).unwrap(),
            "is a directory",
        ),
        (
            "team.toml",
            &|p| {
                std::fs::write(p, "[host.x]\n").unwrap();
                std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o000))
                    .unwrap();
            },
            "Permission denied",
        ),
    ];
    for (name, make, message) in cases {
        let path = dir.join(name);
        make(&path);
        // root reads files whatever their mode.
        let unreadable = std::fs::read(&path).is_err() || path.is_dir() || !path.exists();
        if unreadable {
            for format in ["human", "json", "github", "sarif", "concise"] {
                let out = vigil(&["check", "--format", format, &a]);
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(status(&out), 2, "{name} ({format}): {stderr}");
                let expected = format!("cannot read {}: ", path.display());
                assert!(stderr.contains(&expected), "{name}: {stderr}");
                assert!(stderr.contains(message), "{name}: {stderr}");
                assert!(!stderr.contains("file(s) checked"), "{name}: {stderr}");
            }
            let out_dir = dir.join("out").display().to_string();
            let build = vigil(&["build", &a, "--out", &out_dir]);
            assert_eq!(status(&build), 2, "{name}");
            assert!(!dir.join("out").exists(), "{name}: build wrote output");
        }
        if path.is_dir() {
            std::fs::remove_dir(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_file_among_others_is_a_warning_and_an_empty_topology_an_error() {
    let dir = std::env::temp_dir().join(format!("vigil-cli-empty-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(example(), dir.join("a.toml")).unwrap();
    std::fs::write(dir.join("b.toml"), "# team b\n").unwrap();
    let a = dir.display().to_string();
    let out = vigil(&["check", &a]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status(&out), 0, "{stderr}");
    assert!(stderr.contains("V0107(empty-file)"), "{stderr}");
    assert!(stderr.contains("b.toml"), "{stderr}");
    assert_eq!(status(&vigil(&["check", "--deny", "warnings", &a])), 1);

    std::fs::remove_file(dir.join("a.toml")).unwrap();
    let out = vigil(&["check", &a]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status(&out), 1, "{stderr}");
    assert!(stderr.contains("V0108(empty-topology)"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn github_format_annotates_both_files_of_a_cross_file_conflict() {
    let out = vigil(&["check", "--format", "github", &fixture("V0101/bad")]);
    assert_eq!(status(&out), 1);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    let error = lines.next().unwrap();
    assert!(error.starts_with("::error file="), "{error}");
    assert!(error.contains("V0101/bad/b.toml,line=5,col=8,"), "{error}");
    assert!(
        error.contains("%0Asee ")
            && error.contains("V0101/bad/a.toml:20:8: VRID 51 already used by `www`"),
        "{error}"
    );
    let notice = lines.next().unwrap();
    assert!(notice.starts_with("::notice file="), "{notice}");
    assert!(
        notice.contains("V0101/bad/a.toml,line=20,col=8,endLine=20,endColumn=10,title=V0101 vrid-collision (related)::"),
        "{notice}"
    );
}
