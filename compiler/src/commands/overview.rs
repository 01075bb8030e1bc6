//! What a clean topology will do, in a few lines: printed by `vigil check`
//! (human format) after a run without errors, so a check says more than
//! "0 errors". Failover figures use the RFC 5798 formulas of
//! `vigil_schema::vrrp`, the ones vigild runs.

use std::fmt::Write as _;

use vigil_schema::vrrp::{advert_interval, master_down_interval};

use crate::model::{Cluster, Router, TrackAction};

/// Routers and virtual servers listed one by one up to this many; a larger
/// topology gets counts only (its diagnostics, if any, matter more).
const LISTED: usize = 8;

pub fn render(cluster: &Cluster) -> String {
    let mut s = String::new();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(
        s,
        "{}{}, {}, {}, {}",
        cluster
            .name
            .as_ref()
            .map(|n| format!("cluster {}: ", n.value))
            .unwrap_or_default(),
        plural(cluster.hosts.len(), "host", "hosts"),
        plural(cluster.segments.len(), "segment", "segments"),
        plural(cluster.routers.len(), "virtual router", "virtual routers"),
        plural(
            cluster.virtual_servers.len(),
            "virtual server",
            "virtual servers"
        ),
    );
    if cluster.routers.len() > LISTED {
        return s;
    }
    for router in cluster.routers.values() {
        router_lines(&mut s, cluster, router);
    }
    if cluster.virtual_servers.len() <= LISTED {
        for vs in cluster.virtual_servers.values() {
            let address = match (&vs.address, &vs.port, &vs.fwmark) {
                (Some(a), Some(p), _) => format!("{}:{}", a.value, p.value),
                (Some(a), None, _) => a.value.to_string(),
                (None, _, Some(m)) => format!("fwmark {}", m.value),
                _ => "?".to_string(),
            };
            let _ = writeln!(
                s,
                "  virtual server {} {address} on router {}: {}{}",
                vs.name,
                vs.router.value,
                plural(vs.real_servers.len(), "real server", "real servers"),
                if vs.health.is_some() {
                    ", health-checked"
                } else {
                    ""
                }
            );
        }
    }
    s
}

fn router_lines(s: &mut String, cluster: &Cluster, router: &Router) {
    let vips: Vec<String> = router.vips.iter().map(|v| v.value.to_string()).collect();
    let _ = writeln!(
        s,
        "  router {}: VRID {} on segment {}, VRRPv{} every {}, {} {}",
        router.name,
        router.vrid.value,
        router.segment.value,
        router.version.value,
        router.advert_interval.value,
        if vips.len() == 1 { "VIP" } else { "VIPs" },
        vips.join(", ")
    );
    // Members by priority, highest first (ties by name, as the model orders).
    let mut members: Vec<(&str, i64)> = router
        .members
        .values()
        .map(|m| (m.host.as_str(), m.priority.value))
        .collect();
    members.sort_by_key(|m| std::cmp::Reverse(m.1));
    let advert = advert_interval(
        router.version.value,
        router.advert_interval.value.as_millis(),
    );
    match (members.first(), members.get(1), advert) {
        (Some(&(master, p1)), Some(&(backup, p2)), Ok(advert)) => {
            let mut down = master_down_interval(p2.clamp(1, 255) as u8, advert);
            // With a lease the backup also waits for the dead master's
            // lease to expire in the store.
            if let Some(l) = router.arbitration.as_ref().and_then(|a| a.lease.as_ref()) {
                down = down.max(std::time::Duration::from_millis(l.ttl.value.as_millis()));
            }
            let _ = writeln!(
                s,
                "    {master} ({p1}) holds it; if {master} dies, {backup} ({p2}) takes over after {:.3}s of silence",
                down.as_secs_f64()
            );
        }
        (Some(&(master, p1)), None, _) => {
            let _ = writeln!(s, "    {master} ({p1}) holds it, with no backup");
        }
        _ => {}
    }
    let defence = if let Some(arb) = &router.arbitration {
        let ips: Vec<String> = cluster
            .reference_ips(router)
            .iter()
            .map(|ip| ip.value.to_string())
            .collect();
        let mut parts = Vec::new();
        if !ips.is_empty() || arb.lease.is_none() {
            parts.push(format!("reference IPs {}", ips.join(", ")));
        }
        if let Some(l) = &arb.lease {
            parts.push(format!("lease (ttl {})", l.ttl.value));
        }
        let mut d = parts.join(" + ");
        if arb.fence.is_some() {
            d.push_str(" + fence");
        }
        d
    } else if !router.heartbeat_paths.is_empty() {
        let paths: Vec<&str> = router
            .heartbeat_paths
            .iter()
            .map(|p| p.value.as_str())
            .collect();
        format!("heartbeats also over {}", paths.join(", "))
    } else if router.accept_split_brain.is_some() {
        "accepted as a risk".to_string()
    } else {
        "none".to_string()
    };
    let trackers: Vec<String> = router
        .trackers
        .values()
        .map(|t| match &t.on_fail {
            TrackAction::Fault(_) => format!("{} (fault)", t.name),
            TrackAction::Demote(w) => format!("{} (demote {})", t.name, w.value),
        })
        .collect();
    let _ = writeln!(
        s,
        "    split brain: {defence}; trackers: {}",
        if trackers.is_empty() {
            "none".to_string()
        } else {
            trackers.join(", ")
        }
    );
}
