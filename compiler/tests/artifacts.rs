//! Artifacts rendered from a hand-written plan that exercises every feature:
//! snapshots for review in diffs, and the real `keepalived -t` on the
//! keepalived.conf (when keepalived is installed; `run-tests` installs it).

use std::collections::BTreeMap;

use vigil::artifacts::{Templates, inventory, keepalived, nftables, systemd};
use vigil_schema::plan::Plan;

fn plan() -> Plan {
    let text = include_str!("fixtures/plans/full.json");
    serde_json::from_str(text).expect("fixture plan parses")
}

fn passwords() -> BTreeMap<String, String> {
    BTreeMap::from([("legacy".to_string(), "s3cret".to_string())])
}

#[test]
fn systemd_unit_snapshot() {
    let unit = systemd::render(&Templates::embedded(), &plan()).unwrap();
    assert!(unit.contains("CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW"));
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    insta::assert_snapshot!(unit);
}

#[test]
fn keepalived_conf_snapshot() {
    let conf = keepalived::render(&Templates::embedded(), &plan(), &passwords()).unwrap();
    insta::assert_snapshot!(conf);
}

#[test]
fn nftables_snapshot() {
    let rules = nftables::render(&Templates::embedded(), &plan()).unwrap();
    assert!(rules.contains(r#"iifname "eth1" ip saddr { 192.168.99.2 }"#));
    insta::assert_snapshot!(rules);
}

#[test]
fn inventory_snapshot() {
    let hosts = vec![
        inventory::InventoryHost {
            name: "lb1".into(),
            runtime: "vigild".into(),
        },
        inventory::InventoryHost {
            name: "old1".into(),
            runtime: "keepalived".into(),
        },
    ];
    let inv = inventory::render(&Templates::embedded(), "0.1.0", "abc", &hosts).unwrap();
    insta::assert_snapshot!(inv);
}

#[test]
fn missing_password_is_an_error_not_an_empty_string() {
    let err = keepalived::render(&Templates::embedded(), &plan(), &BTreeMap::new()).unwrap_err();
    assert!(err.to_string().contains("legacy"), "{err}");
}

#[test]
fn template_override_replaces_one_template_and_strict_mode_catches_typos() {
    let dir = std::env::temp_dir().join(format!("vigil-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("nftables.conf.j2"), "host={{ plan.host }}\n").unwrap();
    let templates = Templates::with_overrides(Some(&dir)).unwrap();
    assert_eq!(nftables::render(&templates, &plan()).unwrap(), "host=lb1");
    std::fs::write(dir.join("nftables.conf.j2"), "host={{ plan.hots }}\n").unwrap();
    let templates = Templates::with_overrides(Some(&dir)).unwrap();
    let err = nftables::render(&templates, &plan()).unwrap_err();
    assert!(
        err.to_string().contains("hots") || err.to_string().contains("undefined"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
