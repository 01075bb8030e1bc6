//! vigild's Prometheus metrics on a real kernel, scraped by a real
//! Prometheus. Hosts 1 and 2 run vigild with a metrics listener on their own
//! address; host 3 runs Prometheus (scrape interval 1 s, the example alert
//! rules loaded). The test checks the listener's answers and the exposition
//! (`promtool check metrics`), that memory does not grow with the scrape
//! rate, then cuts the master's link and asserts through Prometheus's HTTP
//! API that the failover shows in the scraped series.
//!
//! Needs the Debian package `prometheus` (prometheus, promtool); skipped
//! with a message where it is missing.

mod lab;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lab::Lab;
use serde_json::Value;

const VIP: &str = "10.77.0.100/24";
const HA1: &str = "10.77.0.11:9650";
const HA2: &str = "10.77.0.12:9650";
const PROMETHEUS: &str = "127.0.0.1:9090";

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// A lab plan with a metrics listener on `listen`.
fn plan_with_metrics(lab: &Lab, name: &str, listen: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/plans")
        .join(name);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["metrics"] = serde_json::json!({ "listen": listen });
    lab.write(name, &serde_json::to_string_pretty(&v).unwrap())
}

fn installed(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One HTTP/1.1 exchange from host `i`: (status code, body).
fn http(lab: &Lab, i: usize, addr: &str, request: String) -> Result<(u16, String), String> {
    let addr: SocketAddr = addr.parse().unwrap();
    lab.in_ns(i, move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request.as_bytes())
            .map_err(|e| format!("write: {e}"))?;
        let mut got = Vec::new();
        s.read_to_end(&mut got).map_err(|e| format!("read: {e}"))?;
        let text = String::from_utf8_lossy(&got).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no header end in {text:?}"))?;
        let code = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("no status in {head:?}"))?;
        let chunked = head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
        Ok((
            code,
            if chunked {
                dechunk(body)?
            } else {
                body.to_string()
            },
        ))
    })
}

/// The body of a chunked HTTP/1.1 response.
fn dechunk(mut rest: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").ok_or("bad chunk")?;
        let size = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(after.get(..size).ok_or("short chunk")?);
        rest = after.get(size + 2..).ok_or("short chunk")?;
    }
}

fn get(lab: &Lab, i: usize, addr: &str, path: &str) -> Result<(u16, String), String> {
    http(
        lab,
        i,
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query through Prometheus's HTTP API: (labels, value) per series.
fn query(lab: &Lab, expr: &str) -> Vec<(Value, f64)> {
    let Ok((200, body)) = get(
        lab,
        3,
        PROMETHEUS,
        &format!("/api/v1/query?query={}", urlencode(expr)),
    ) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    v["data"]["result"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    let value = r["value"][1]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(f64::NAN);
                    (r["metric"].clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn prometheus_scrapes_vigild_and_sees_a_failover() {
    if !lab::available() {
        return;
    }
    if !installed("prometheus") || !installed("promtool") {
        eprintln!(
            "SKIPPED: prometheus/promtool not installed (Debian package `prometheus`; ./run-tests installs it)"
        );
        return;
    }
    let mut lab = Lab::new("mx", 3);
    let p2 = plan_with_metrics(&lab, "v3_100ms_ha2.json", HA2);
    let p1 = plan_with_metrics(&lab, "v3_100ms_ha1.json", HA1);
    let _c2 = lab.start_vigild(2, &p2, "ha2");
    let c1 = lab.start_vigild(1, &p1, "ha1");
    assert!(
        lab.wait_for(Duration::from_secs(5), || lab.holders(VIP) == vec![1])
            .is_some(),
        "{}",
        lab.log("ha1")
    );

    // The listener's answers, seen from host 3.
    let (code, body) = get(&lab, 3, HA1, "/metrics").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains(
            "vigil_router_state{router=\"vi77\",vrid=\"77\",interface=\"eth0\",state=\"master\"} 1"
        ),
        "{body}"
    );
    assert!(body.contains("plan_hash=\"test-v3_100ms\""), "{body}");
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics on vigild's output:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get(&lab, 3, HA1, "/").unwrap().0, 404);
    assert_eq!(
        http(
            &lab,
            3,
            HA1,
            "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n".into()
        )
        .unwrap()
        .0,
        405
    );
    assert_eq!(http(&lab, 3, HA1, "garbage\r\n\r\n".into()).unwrap().0, 400);

    // Memory does not grow with the scrape rate.
    let pid = lab.pid(c1);
    for _ in 0..50 {
        get(&lab, 3, HA1, "/metrics").unwrap();
    }
    let before = rss_kib(pid);
    let t = Instant::now();
    let n = 1000;
    for _ in 0..n {
        assert_eq!(get(&lab, 3, HA1, "/metrics").unwrap().0, 200);
    }
    let after = rss_kib(pid);
    println!(
        "FIGURE {n} scrapes in {:.0} ms; vigild RSS {before} KiB -> {after} KiB",
        t.elapsed().as_secs_f64() * 1000.0
    );
    assert!(
        after <= before + 256,
        "vigild grew from {before} KiB to {after} KiB over {n} scrapes"
    );
    let (_, body) = get(&lab, 3, HA1, "/metrics").unwrap();
    assert!(
        body.lines().any(
            |l| l.starts_with("vigil_metrics_requests_total{answer=\"ok\"}")
                && l.split(' ').nth(1).and_then(|v| v.parse::<u64>().ok()) >= Some(n)
        ),
        "the scrapes are counted"
    );

    // Prometheus in host 3, with the example alert rules.
    let rules = repo("examples/prometheus/vigil-alerts.yml");
    let config = lab.write(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: vigil\n    static_configs:\n      - targets: ['{HA1}', '{HA2}']\n",
            rules.display()
        ),
    );
    let tsdb = lab.dir.join("tsdb");
    lab.start_process(
        3,
        "prometheus",
        &[
            &format!("--config.file={}", config.display()),
            &format!("--storage.tsdb.path={}", tsdb.display()),
            &format!("--web.listen-address={PROMETHEUS}"),
        ],
        "prometheus",
    );
    let log =
        |lab: &Lab| std::fs::read_to_string(lab.dir.join("prometheus.log")).unwrap_or_default();
    assert!(
        lab.wait_for(Duration::from_secs(30), || {
            query(&lab, "up{job=\"vigil\"} == 1").len() == 2
        })
        .is_some(),
        "Prometheus never scraped both daemons:\n{}",
        log(&lab)
    );
    let master = |lab: &Lab| -> Vec<String> {
        query(
            lab,
            "vigil_router_state{router=\"vi77\",state=\"master\"} == 1",
        )
        .into_iter()
        .filter_map(|(m, _)| m["instance"].as_str().map(str::to_string))
        .collect()
    };
    assert!(
        lab.wait_for(Duration::from_secs(10), || master(&lab)
            == vec![HA1.to_string()])
            .is_some(),
        "Prometheus does not see ha1 as the only master: {:?}",
        master(&lab)
    );
    let plan_info = query(&lab, "vigil_plan_info{plan_hash=\"test-v3_100ms\"}");
    assert_eq!(plan_info.len(), 2, "{plan_info:?}");
    let started = query(&lab, "time() - vigil_start_time_seconds");
    assert!(
        started.len() == 2 && started.iter().all(|(_, age)| (0.0..300.0).contains(age)),
        "{started:?}"
    );
    let takeover = "vigil_router_transitions_total{instance=\"10.77.0.12:9650\",router=\"vi77\",to=\"master\",reason=\"master_down\"}";
    // ha2 may have been master for a moment at the start (it starts first):
    // the failover is the increase from here.
    let before = query(&lab, takeover).first().map_or(0.0, |(_, v)| *v);
    let expiries_q =
        "vigil_router_master_down_expiries_total{instance=\"10.77.0.12:9650\",router=\"vi77\"}";
    let expiries_before = query(&lab, expiries_q).first().map_or(0.0, |(_, v)| *v);

    // The failover: ha1 loses its link; ha2 takes over on master-down.
    let t_cut = Instant::now();
    lab.cut(1);
    let seen = lab.wait_for(Duration::from_secs(20), || {
        query(&lab, &format!("{takeover} > {before}")).len() == 1
            && master(&lab) == vec![HA2.to_string()]
    });
    assert!(
        seen.is_some(),
        "the failover never showed in Prometheus: masters {:?}, transitions {:?}",
        master(&lab),
        query(&lab, "vigil_router_transitions_total")
    );
    println!(
        "FIGURE link cut -> failover visible through the Prometheus API: {:.0} ms",
        t_cut.elapsed().as_secs_f64() * 1000.0
    );
    assert!(lab.holds(2, VIP));
    let expiries = query(&lab, expiries_q);
    assert!(
        expiries.len() == 1 && expiries[0].1 > expiries_before,
        "{expiries:?} (before the cut: {expiries_before})"
    );
    let received = query(
        &lab,
        "vigil_router_adverts_received_total{instance=\"10.77.0.12:9650\"}",
    );
    assert!(received.len() == 1 && received[0].1 > 0.0, "{received:?}");
    // ha1 (cut off) stops answering scrapes.
    assert!(
        lab.wait_for(Duration::from_secs(10), || {
            query(&lab, "up{instance=\"10.77.0.11:9650\"} == 0").len() == 1
        })
        .is_some()
    );

    // The example rules are loaded and evaluate cleanly.
    let (code, body) = get(&lab, 3, PROMETHEUS, "/api/v1/rules").unwrap();
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let groups = v["data"]["groups"].as_array().cloned().unwrap_or_default();
    let rules: Vec<&Value> = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(rules.len(), 7, "{body}");
    assert!(
        rules.iter().all(|r| r["health"] != "err"),
        "a rule failed to evaluate: {body}"
    );
}

/// `vigil_...` names in a text.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("vigil_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        let before = rest[..i].chars().last();
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

/// The example rules pass `promtool check rules` and their unit tests; the
/// rules and the dashboard use only metrics vigild serves, and
/// docs/metrics.md documents every one of those.
#[test]
fn example_rules_and_dashboard() {
    let dir = repo("examples/prometheus");
    let served = metric_names(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/metrics/mod.rs"),
        )
        .unwrap(),
    );
    assert!(served.len() > 30, "{served:?}");
    let docs = std::fs::read_to_string(repo("docs/metrics.md")).unwrap();
    for name in &served {
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/metrics.md does not document {name}"
        );
    }
    let rules = std::fs::read_to_string(dir.join("vigil-alerts.yml")).unwrap();
    let dashboard = std::fs::read_to_string(dir.join("vigil-dashboard.json")).unwrap();
    let d: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(d["panels"].as_array().is_some_and(|p| !p.is_empty()));
    for (file, text) in [
        ("vigil-alerts.yml", &rules),
        ("vigil-dashboard.json", &dashboard),
    ] {
        let used = metric_names(text);
        assert!(!used.is_empty(), "{file}");
        let unknown: Vec<&String> = used.difference(&served).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics vigild does not serve: {unknown:?}"
        );
    }
    for alert in [
        "VigilNoMaster",
        "VigilTwoMasters",
        "VigilArbitrationUnreachable",
        "VigilFenceFailed",
        "VigilRealServersBelowQuorum",
    ] {
        assert!(rules.contains(&format!("alert: {alert}")), "{alert}");
    }
    if !installed("promtool") {
        eprintln!("SKIPPED promtool checks: promtool not installed (Debian package `prometheus`)");
        return;
    }
    for args in [
        ["check", "rules", "vigil-alerts.yml"],
        ["test", "rules", "vigil-alerts.test.yml"],
    ] {
        let out = std::process::Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
