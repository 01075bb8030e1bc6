//! Hostile input never panics: every case yields a diagnostic and exit
//! status 1 (2 for unreadable files), both through the library and the binary.

use std::process::Command;

use vigil::pipeline::analyse_texts;

const VALID: &str = include_str!("../../examples/web-pair.toml");

fn cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut cases: Vec<(&'static str, Vec<u8>, &'static str)> = vec![
        ("huge-integer", b"[router.www]\nsegment = \"front\"\nvrid = 99999999999999999999\n".to_vec(), "V0004"),
        ("huge-duration", b"[router.www]\nsegment = \"front\"\nvrid = 1\nadvert_interval = \"99999999999999999999s\"\n".to_vec(), "V0004"),
        ("negative", b"[router.www]\nsegment = \"front\"\nvrid = -5\nvips = [\"10.0.0.1/24\"]\n".to_vec(), "V0105"),
        ("wrong-type", b"[router.www]\nsegment = 5\nvrid = 1\n".to_vec(), "V0004"),
        ("wrong-table-type", b"router = 5\n".to_vec(), "V0004"),
        ("missing-field", b"[router.www]\nvrid = 1\n".to_vec(), "V0004"),
        ("duplicate-key", b"[router.www]\nsegment = \"a\"\nsegment = \"b\"\nvrid = 1\n".to_vec(), "V0005"),
        ("duplicate-table", b"[router.www]\nsegment = \"a\"\nvrid = 1\n[router.www]\nsegment = \"a\"\n".to_vec(), "V0005"),
        ("non-utf8", b"[cluster]\nname = \"\xff\xfe\"\n".to_vec(), "V0001"),
        ("bad-cidr", b"[segment.s]\nsubnets = [\"10.0.0.0/99\"]\n".to_vec(), "V0004"),
        ("unknown-enum", b"[router.www]\nsegment = \"s\"\nvrid = 1\npreempt = \"sometimes\"\n".to_vec(), "V0004"),
        ("nul-byte", b"[cluster]\nname = \"a\0b\"\n".to_vec(), "V0002"),
    ];
    // Every prefix of a valid file that cuts it inside a value or a header.
    for cut in [10, 60, 120, 200, 333, 402, VALID.len() - 3] {
        let cut = (0..=cut)
            .rev()
            .find(|c| VALID.is_char_boundary(*c))
            .unwrap();
        let text = &VALID[..cut];
        if let Some(code) = expect_truncated(text) {
            cases.push(("truncated", text.as_bytes().to_vec(), code));
        }
    }
    cases
}

/// Truncated text either no longer parses (syntax / value errors) or
/// parses into an incomplete topology that lints flag; only the first
/// kind is asserted here.
fn expect_truncated(text: &str) -> Option<&'static str> {
    let analysis = analyse_texts(&[("t.toml", text.as_bytes())]);
    analysis.cluster.is_none().then_some("")
}

#[test]
fn every_case_is_a_diagnostic_through_the_library() {
    for (name, bytes, code) in cases() {
        let analysis = analyse_texts(&[("case.toml", &bytes)]);
        assert!(analysis.has_errors(), "{name}: no error");
        if !code.is_empty() {
            assert!(
                analysis.diagnostics.iter().any(|d| d.code == code),
                "{name}: expected {code}, got {:?}",
                analysis
                    .diagnostics
                    .iter()
                    .map(|d| (d.code, &d.message))
                    .collect::<Vec<_>>()
            );
        }
        // Every span must lie inside its file so every renderer can use it.
        for d in &analysis.diagnostics {
            let len = analysis.sources.file(d.primary.span.file).text.len();
            assert!(d.primary.span.range.end <= len, "{name}: span past the end");
            let _ = vigil::render::render_all(
                vigil::render::Format::Human,
                std::slice::from_ref(d),
                &analysis.sources,
                &vigil::render::human::Style::plain(80),
            );
        }
    }
}

#[test]
fn every_case_exits_1_through_the_binary() {
    let dir = std::env::temp_dir().join(format!("vigil-robust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (name, bytes, _)) in cases().into_iter().enumerate() {
        let path = dir.join(format!("{i}-{name}.toml"));
        std::fs::write(&path, &bytes).unwrap();
        for format in ["human", "json", "github", "sarif"] {
            let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
                .args(["check", "--format", format])
                .arg(&path)
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(1),
                "{name} ({format}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !String::from_utf8_lossy(&out.stderr).contains("panicked"),
                "{name}"
            );
        }
    }
}

#[test]
fn empty_input_is_reported_not_passed() {
    for text in [&b""[..], b"# only a comment\n\n", b"\n   \n"] {
        let analysis = analyse_texts(&[("empty.toml", text)]);
        let codes: Vec<_> = analysis.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["V0108"], "{text:?}");
        assert!(analysis.has_errors());
    }
    // Segments and routers but no host: still nothing to build.
    let analysis = analyse_texts(&[("t.toml", b"[segment.s]\nsubnets = [\"10.0.0.0/24\"]\n")]);
    let d = &analysis.diagnostics[0];
    assert_eq!(d.code, "V0108");
    assert!(
        d.message.contains("defines no host (1 segment(s)"),
        "{}",
        d.message
    );
}

/// Every integer field at the extremes of i64: lints must not overflow.
#[test]
fn extreme_integers_reach_the_lints_without_overflow() {
    for n in [i64::MIN, -1, 0, i64::MAX] {
        let text = format!(
            r#"[segment.front]
subnets = ["10.20.0.0/24"]
reference_ips = ["10.20.0.1"]
reserved_vrids = [{{ vrid = {n}, owner = "x" }}]

[host.web1.interface.eth0]
segment = "front"
addresses = ["10.20.0.11/24"]

[host.web2.interface.eth0]
segment = "front"
addresses = ["10.20.0.12/24"]

[router.www]
segment = "front"
vrid = {n}
version = {n}
vips = ["10.20.0.100/24"]

[router.www.arbitration]
attempts = {n}

[router.www.garp]
repeat = {n}

[router.www.member.web1]
priority = {n}

[router.www.member.web2]
priority = {n}

[router.www.track.t]
command = ["/bin/true"]
rise = {n}
fall = {n}
on_fail = {{ demote = 60 }}

[virtual_server.v]
router = "www"
address = "10.20.0.100"
port = {n}
fwmark = {n}
persistence_prefix = {n}
quorum = {n}
hysteresis = {n}

[[virtual_server.v.real_server]]
address = "10.20.1.1"
port = {n}
weight = {n}
upper_threshold = {n}
lower_threshold = {n}

[[virtual_server.v.real_server]]
address = "10.20.1.2"
weight = {n}

[virtual_server.v.health]
rise = {n}
fall = {n}
tcp = {{ port = {n} }}
"#
        );
        let analysis = analyse_texts(&[("extreme.toml", text.as_bytes())]);
        assert!(
            analysis.cluster.is_some(),
            "{n}: {:?}",
            analysis.diagnostics
        );
        assert!(analysis.has_errors(), "{n}");
    }
}

/// Input cannot write control sequences to a terminal or a CI log, and a
/// huge line is not echoed.
#[test]
fn human_and_github_output_is_terminal_safe_and_bounded() {
    use vigil::render::{Format, human::Style, render_all};
    let render = |text: &[u8], format: Format| {
        let analysis = analyse_texts(&[("t.toml", text)]);
        assert!(!analysis.diagnostics.is_empty());
        render_all(
            format,
            &analysis.diagnostics,
            &analysis.sources,
            &Style::plain(100),
        )
    };
    // A name with an escape sequence and a bidi override (TOML escapes),
    // a raw ESC in a comment (a syntax error), a lone CR.
    let inputs: [&[u8]; 3] = [
        b"[router.\"\\u001b[2Jx\\u202e\"]\nsegment = \"s\"\nvrid = 300\n",
        b"# \x1b]0;owned\x07 title\n[router.www]\nsegment = \"s\"\n",
        b"[router.www]\nsegment = \"s\"\rvrid = 1\n",
    ];
    for input in inputs {
        for format in [Format::Human, Format::Github] {
            let out = render(input, format);
            for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\r'] {
                assert!(!out.contains(bad), "{bad:?} in {format:?} output:\n{out}");
            }
        }
    }
    let out = render(inputs[0], Format::Human);
    assert!(out.contains("\\u{1b}[2Jx\\u{202e}"), "{out}");

    // An error next to a 600 KB line: the location is named, the line not shown.
    let long = format!(
        "[segment.s]\nsubnets = [\"10.0.0.0/24\"]\ndescription = \"{}\"\n[router.www]\nsegment = \"s\"\nvrid = 300\nvips = [\"10.0.0.100/24\"]\n[host.h.interface.eth0]\nsegment = \"s\"\n",
        "x".repeat(600_000)
    );
    let short = long.replace(&"x".repeat(600_000), "x");
    let near = short.replace(
        "[router.www]\nsegment = \"s\"\n",
        &format!("[router.www]\nsegment = \"s\"\n# {}\n", "y".repeat(600_000)),
    );
    assert!(render(short.as_bytes(), Format::Human).contains("vrid = 300"));
    let out = render(near.as_bytes(), Format::Human);
    assert!(out.len() < 2_000, "{} bytes", out.len());
    assert!(out.contains("at t.toml:7:8"), "{out}");
    assert!(out.contains("line too long to show"), "{out}");
    // A long line elsewhere in the file does not hide the snippet.
    let out = render(long.as_bytes(), Format::Human);
    assert!(out.contains("vrid = 300") && out.len() < 2_000, "{out}");
}
