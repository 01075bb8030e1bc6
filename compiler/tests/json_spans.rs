//! `--format json` points at the offending value: byte span, 1-based
//! line/column, secondary labels in other files.

use serde_json::Value;
use vigil::pipeline::analyse_texts;
use vigil::render::json;

fn json_lines(files: &[(&str, &[u8])]) -> Vec<Value> {
    let analysis = analyse_texts(files);
    analysis
        .diagnostics
        .iter()
        .map(|d| serde_json::from_str(&json::render(d, &analysis.sources)).unwrap())
        .collect()
}

const TOPOLOGY: &str = r#"[segment.front]
subnets = ["10.20.0.0/24"]

[router.www]
segment = "front"
vrid = 300
vips = ["10.20.0.100/24"]

[host.h.interface.eth0]
segment = "front"
"#;

#[test]
fn out_of_range_vrid_points_at_the_number() {
    let lines = json_lines(&[("t.toml", TOPOLOGY.as_bytes())]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let d = &lines[0];
    assert_eq!(d["code"], "V0105");
    assert_eq!(d["name"], "vrid-out-of-range");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "t.toml");
    let (start, end) = (
        d["span"]["start"].as_u64().unwrap() as usize,
        d["span"]["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&TOPOLOGY[start..end], "300");
    assert_eq!(d["start"]["line"], 6);
    assert_eq!(d["start"]["column"], 8);
    assert_eq!(d["end"]["line"], 6);
    assert_eq!(d["end"]["column"], 11);
    assert!(d["help"].as_str().unwrap().contains("1 and 255"));
}

#[test]
fn secondary_label_points_into_the_other_file() {
    let a = "[segment.front]\nsubnets = [\"10.20.0.0/24\"]\n\n[router.www]\nsegment = \"front\"\nvrid = 51\nvips = [\"10.20.0.100/24\"]\n\n[host.h.interface.eth0]\nsegment = \"front\"\n";
    let b = "[router.api]\nsegment = \"front\"\nvrid = 51\nvips = [\"10.20.0.101/24\"]\n";
    let lines = json_lines(&[("a.toml", a.as_bytes()), ("b.toml", b.as_bytes())]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let d = &lines[0];
    assert_eq!(d["code"], "V0101");
    assert_eq!(d["file"], "b.toml");
    assert_eq!(
        (d["start"]["line"].as_u64(), d["start"]["column"].as_u64()),
        (Some(3), Some(8))
    );
    let other = &d["labels"][0];
    assert_eq!(other["file"], "a.toml");
    assert_eq!(
        (
            other["start"]["line"].as_u64(),
            other["start"]["column"].as_u64()
        ),
        (Some(6), Some(8))
    );
    assert!(other["message"].as_str().unwrap().contains("www"));
}

#[test]
fn type_error_points_at_the_value() {
    let text = "[router.www]\nsegment = \"front\"\nvrid = \"fifty\"\n";
    let lines = json_lines(&[("t.toml", text.as_bytes())]);
    let d = &lines[0];
    assert_eq!(d["code"], "V0004");
    assert_eq!(
        (d["start"]["line"].as_u64(), d["start"]["column"].as_u64()),
        (Some(3), Some(8))
    );
}

#[test]
fn unknown_key_points_at_the_key_and_suggests() {
    let text = "[router.www]\nsegment = \"front\"\nvrid = 51\nadvert_intreval = \"1s\"\n";
    let lines = json_lines(&[("t.toml", text.as_bytes())]);
    let d = &lines[0];
    assert_eq!(d["code"], "V0003");
    assert_eq!(
        (d["start"]["line"].as_u64(), d["start"]["column"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(
        (d["end"]["line"].as_u64(), d["end"]["column"].as_u64()),
        (Some(4), Some(16))
    );
    assert_eq!(d["help"], "did you mean `advert_interval`?");
}
