//! `vigil plan show HOST TOPOLOGY...`: one host's plan as a short summary.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use vigil_schema::plan::{ExpectedRole, Plan, PlanCheck, PlanOnFail, PlanTrackerKind};

use crate::plan::emit_plan;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanShowArgs {
    pub host: String,
    pub paths: Vec<PathBuf>,
}

/// Exit status: 0 shown, 1 topology errors or unknown host, 2 unreadable input.
pub fn run(args: &PlanShowArgs) -> u8 {
    let analysis = match super::error_free(&args.paths, false, "no plan") {
        Ok(analysis) => analysis,
        Err(status) => return status,
    };
    let Some(cluster) = &analysis.cluster else {
        return 1;
    };
    let mut stderr = std::io::stderr().lock();
    if !cluster.hosts.contains_key(&args.host) {
        let known: Vec<&str> = cluster.hosts.keys().map(String::as_str).collect();
        let _ = writeln!(
            stderr,
            "error: no host `{}` in the topology (hosts: {})",
            args.host,
            known.join(", ")
        );
        return 1;
    }
    match emit_plan(cluster, &args.host) {
        Ok(plan) => {
            print!("{}", summary(&plan));
            0
        }
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}");
            1
        }
    }
}

fn ms(v: u64) -> String {
    vigil_schema::units::Duration::from_millis(v).to_string()
}

/// The human summary of a plan.
pub fn summary(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "host {} (cluster {}), topology {}, startup delay {}",
        plan.host,
        plan.cluster,
        &plan.topology_hash[..plan.topology_hash.len().min(12)],
        ms(plan.startup_delay_ms)
    );
    if plan.routers.is_empty() {
        let _ = writeln!(s, "  no virtual routers on this host");
    }
    for r in &plan.routers {
        let role = match r.expected_role {
            ExpectedRole::Master => "MASTER",
            ExpectedRole::Backup => "BACKUP",
        };
        let _ = writeln!(
            s,
            "\nrouter {}: VRID {} VRRPv{} on {} from {}, priority {}{} -> expected {role}",
            r.name,
            r.vrid,
            r.version,
            r.interface,
            r.source_address,
            r.priority,
            if r.owner { " (address owner)" } else { "" }
        );
        let preempt = match (r.preempt, r.preempt_delay_ms) {
            (false, _) => "never".to_string(),
            (true, 0) => "always".to_string(),
            (true, d) => format!("always after {}", ms(d)),
        };
        let _ = writeln!(
            s,
            "  advert {}, preempt {preempt}, accept {}, {}",
            ms(u64::from(r.advert_interval_cs) * 10),
            if r.accept { "on" } else { "off" },
            if r.unicast_peers.is_empty() {
                "multicast".to_string()
            } else {
                "unicast".to_string()
            }
        );
        let vips: Vec<String> = r
            .vips
            .iter()
            .map(|v| format!("{}/{}", v.address, v.prefix_len))
            .collect();
        let _ = writeln!(s, "  VIPs: {}", vips.join(", "));
        let peers: Vec<String> = r
            .peers
            .iter()
            .map(|p| format!("{} {} (priority {})", p.host, p.address, p.priority))
            .collect();
        let _ = writeln!(
            s,
            "  peers: {}",
            if peers.is_empty() {
                "none".into()
            } else {
                peers.join(", ")
            }
        );
        for path in &r.heartbeat_paths {
            let peers: Vec<String> = path.peers.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                s,
                "  heartbeat path: {} from {} to {}",
                path.interface,
                path.source_address,
                peers.join(", ")
            );
        }
        match &r.arbitration {
            Some(a) => {
                let refs: Vec<String> = a.reference_ips.iter().map(ToString::to_string).collect();
                let _ = writeln!(
                    s,
                    "  arbitration: {} every {}, timeout {}, {} attempts, release after {}{}",
                    refs.join(", "),
                    ms(a.interval_ms),
                    ms(a.timeout_ms),
                    a.attempts,
                    ms(a.release_after_ms),
                    match &a.fence {
                        Some(f) if f.required => ", fence required",
                        Some(_) => ", fence optional",
                        None => "",
                    }
                );
            }
            None => {
                let _ = writeln!(s, "  arbitration: waived (split brain accepted)");
            }
        }
        for t in &r.trackers {
            let kind = match &t.kind {
                PlanTrackerKind::Interface { interface } => format!("interface {interface}"),
                PlanTrackerKind::Command { command, .. } => {
                    format!("command {}", command.join(" "))
                }
            };
            let on_fail = match t.on_fail {
                PlanOnFail::Fault => "fault".to_string(),
                PlanOnFail::Demote { weight } => format!("demote by {weight}"),
            };
            let _ = writeln!(s, "  tracker {}: {kind}, on failure {on_fail}", t.name);
        }
    }
    for vs in &plan.virtual_servers {
        let service = match (vs.fwmark, vs.address, vs.port) {
            (Some(mark), _, _) => format!("fwmark {mark}"),
            (None, Some(a), Some(p)) => format!("{a}:{p}"),
            _ => "?".into(),
        };
        let check = match vs.health.as_ref().map(|h| &h.check) {
            Some(PlanCheck::Http { path, .. }) => format!("http {path}"),
            Some(PlanCheck::Tcp { .. }) => "tcp".into(),
            Some(PlanCheck::Command { .. }) => "command".into(),
            None => "none".into(),
        };
        let _ = writeln!(
            s,
            "\nvirtual server {}: {service} {} {:?}, {} real server(s), health {check}",
            vs.name,
            vs.scheduler.name(),
            vs.method,
            vs.real_servers.len()
        );
    }
    s
}
