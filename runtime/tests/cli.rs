//! `vigild --check-plan` and argument errors (no root needed).

use std::process::Command;

fn vigild(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vigild"))
        .args(args)
        .output()
        .unwrap()
}

fn plan(name: &str) -> String {
    format!("{}/tests/plans/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_plan_prints_a_summary() {
    let out = vigild(&["--check-plan", &plan("v3_unicast_ha1.json")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("for host ha1"), "{text}");
    assert!(
        text.contains(
            "router vi77: eth0 Ipv4 VRRPv3 vrid 77 priority 150 interval 10 cs, unicast to 1"
        ),
        "{text}"
    );
}

#[test]
fn check_plan_refuses_unknown_format_and_bad_routers() {
    let dir = std::env::temp_dir().join(format!("vigild-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plan("v2_1s_ha1.json")).unwrap()).unwrap();
    v["format_version"] = 99.into();
    let p = dir.join("future.json");
    std::fs::write(&p, v.to_string()).unwrap();
    let out = vigild(&["--check-plan", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("format_version 99"));

    v["format_version"] = 1.into();
    v["routers"][0]["advert_interval_cs"] = 150.into(); // not whole seconds for VRRPv2
    let p = dir.join("bad.json");
    std::fs::write(&p, v.to_string()).unwrap();
    let out = vigild(&["--check-plan", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("INVALID"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_refuses_a_plan_for_another_host() {
    let out = vigild(&["--plan", &plan("v2_1s_ha1.json"), "--host", "elsewhere"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is for host `ha1` but this host is `elsewhere`"),
        "{err}"
    );
    let out = vigild(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
}
