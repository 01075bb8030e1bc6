//! `keepalived.conf`: the same host's routers and virtual servers for stock
//! keepalived 2.2+, for hosts that keep keepalived while the topology is
//! linted centrally.
//!
//! What keepalived cannot express is approximated and said so in a comment:
//! reference-IP arbitration becomes a ping tracker on the first reference IP
//! that puts the instance in FAULT (keepalived has no arbiter); health-check
//! `rise` has no equivalent; HTTP body digests are SHA-256 here and MD5 there.

use std::collections::BTreeMap;

use serde::Serialize;
use vigil_schema::plan::{
    Plan, PlanCheck, PlanMethod, PlanOnFail, PlanProtocol, PlanRealServerOnFail, PlanTrackerKind,
};

use super::{RenderError, Templates, command_text, seconds_text};

#[derive(Serialize)]
struct Script {
    name: String,
    script: String,
    interval_s: String,
    timeout_s: String,
    rise: u32,
    fall: u32,
    weight: i32,
    comment: Option<String>,
}

#[derive(Serialize)]
struct Vip {
    address: String,
    prefix_len: u8,
    label: Option<String>,
}

#[derive(Serialize)]
struct TrackInterface {
    interface: String,
    weight: Option<i32>,
}

#[derive(Serialize)]
struct NotifyLine {
    key: &'static str,
    command: String,
}

#[derive(Serialize)]
struct Router {
    name: String,
    state: &'static str,
    interface: String,
    vrid: u8,
    version: u8,
    priority: u8,
    advert_int: String,
    preempt: bool,
    preempt_delay_s: Option<String>,
    accept: bool,
    source_address: String,
    unicast_peers: Vec<String>,
    password: Option<String>,
    garp_repeat: u32,
    garp_refresh_s: Option<String>,
    vips: Vec<Vip>,
    track_interfaces: Vec<TrackInterface>,
    track_scripts: Vec<String>,
    notify: Vec<NotifyLine>,
}

#[derive(Serialize)]
struct Check {
    kind: &'static str,
    port: Option<u16>,
    path: String,
    status: String,
    command: String,
    timeout_s: String,
    fall: u32,
    note: Option<String>,
}

#[derive(Serialize)]
struct Server {
    address: String,
    port: u16,
    weight: u32,
    upper_threshold: u32,
    lower_threshold: u32,
}

#[derive(Serialize)]
struct VirtualServer {
    identity: String,
    delay_loop_s: String,
    scheduler: String,
    scheduler_flags: Vec<String>,
    method: &'static str,
    protocol: Option<&'static str>,
    persistence_timeout_s: u32,
    persistence_granularity: String,
    quorum: u32,
    hysteresis: u32,
    sorry_server: Option<Server>,
    inhibit: bool,
    check: Check,
    real_servers: Vec<Server>,
}

/// Render `keepalived.conf`. `passwords` maps router names to their
/// simple-auth password (keepalived cannot read it from a file).
pub fn render(
    templates: &Templates,
    plan: &Plan,
    passwords: &BTreeMap<String, String>,
) -> Result<String, RenderError> {
    let mut scripts = Vec::new();
    let mut routers = Vec::new();
    for r in &plan.routers {
        let mut track_interfaces = Vec::new();
        let mut track_scripts = Vec::new();
        for t in &r.trackers {
            let weight = match t.on_fail {
                PlanOnFail::Fault => None,
                PlanOnFail::Demote { weight } => Some(-i32::from(weight)),
            };
            match &t.kind {
                // keepalived always tracks the instance's own interface
                // (FAULT when it goes down) and rejects it in track_interface.
                PlanTrackerKind::Interface { interface } if *interface == r.interface => {}
                PlanTrackerKind::Interface { interface } => track_interfaces.push(TrackInterface {
                    interface: interface.clone(),
                    weight,
                }),
                PlanTrackerKind::Command {
                    command,
                    interval_ms,
                    timeout_ms,
                    rise,
                    fall,
                } => {
                    let name = format!("{}_{}", r.name, t.name);
                    scripts.push(Script {
                        name: name.clone(),
                        script: command_text(command),
                        interval_s: seconds_text((*interval_ms).max(1000)),
                        timeout_s: seconds_text((*timeout_ms).max(1000)),
                        rise: *rise,
                        fall: *fall,
                        weight: weight.unwrap_or(0),
                        comment: None,
                    });
                    track_scripts.push(name);
                }
            }
        }
        if let Some(arb) = &r.arbitration
            && let Some(first) = arb.reference_ips.first()
        {
            let name = format!("{}_arbitration", r.name);
            let ping = if first.is_ipv4() {
                "/usr/bin/ping -4"
            } else {
                "/usr/bin/ping -6"
            };
            let wait_s = arb.timeout_ms.div_ceil(1000).max(1);
            scripts.push(Script {
                name: name.clone(),
                script: format!("{ping} -c 1 -W {wait_s} {first}"),
                interval_s: seconds_text(arb.interval_ms.max(1000)),
                timeout_s: seconds_text((wait_s + 1) * 1000),
                rise: 1,
                fall: arb.attempts.max(1),
                weight: 0,
                comment: Some(
                    "arbitration approximated: FAULT when the first reference IP stops answering"
                        .into(),
                ),
            });
            track_scripts.push(name);
        }
        let notify = [
            ("notify_master", &r.notify.master),
            ("notify_backup", &r.notify.backup),
            ("notify_fault", &r.notify.fault),
            ("notify_stop", &r.notify.stop),
            ("notify", &r.notify.any),
        ]
        .into_iter()
        .filter_map(|(key, cmd)| {
            cmd.as_ref().map(|c| NotifyLine {
                key,
                command: command_text(c),
            })
        })
        .collect();
        let password = match &r.auth {
            Some(_) => Some(passwords.get(&r.name).cloned().ok_or_else(|| {
                RenderError(format!(
                    "router {}: authentication without a password",
                    r.name
                ))
            })?),
            None => None,
        };
        routers.push(Router {
            name: r.name.clone(),
            state: if r.owner { "MASTER" } else { "BACKUP" },
            interface: r.interface.clone(),
            vrid: r.vrid,
            version: r.version.number(),
            priority: r.priority,
            advert_int: seconds_text(u64::from(r.advert_interval_cs) * 10),
            preempt: r.preempt,
            preempt_delay_s: (r.preempt_delay_ms > 0)
                .then(|| r.preempt_delay_ms.div_ceil(1000).to_string()),
            accept: r.accept,
            source_address: r.source_address.to_string(),
            unicast_peers: r.unicast_peers.iter().map(ToString::to_string).collect(),
            password,
            garp_repeat: r.garp.repeat.max(1),
            garp_refresh_s: (r.garp.refresh_ms > 0)
                .then(|| r.garp.refresh_ms.div_ceil(1000).to_string()),
            vips: r
                .vips
                .iter()
                .map(|v| Vip {
                    address: v.address.to_string(),
                    prefix_len: v.prefix_len,
                    label: v.label.clone(),
                })
                .collect(),
            track_interfaces,
            track_scripts,
            notify,
        });
    }

    let virtual_servers = plan
        .virtual_servers
        .iter()
        .map(virtual_server)
        .collect::<Vec<_>>();
    let context = serde_json::json!({
        "plan": plan,
        "kad": {
            "startup_delay_s": seconds_text(plan.startup_delay_ms),
            "scripts": scripts,
            "routers": routers,
            "virtual_servers": virtual_servers,
        }
    });
    templates.render("keepalived.conf.j2", &context)
}

fn server(rs: &vigil_schema::plan::PlanRealServer) -> Server {
    Server {
        address: rs.address.to_string(),
        port: rs.port,
        weight: rs.weight,
        upper_threshold: rs.upper_threshold,
        lower_threshold: rs.lower_threshold,
    }
}

fn virtual_server(vs: &vigil_schema::plan::PlanVirtualServer) -> VirtualServer {
    let identity = match (vs.fwmark, vs.address, vs.port) {
        (Some(mark), _, _) => format!("fwmark {mark}"),
        (None, Some(addr), port) => format!("{addr} {}", port.unwrap_or(0)),
        (None, None, _) => String::from("fwmark 0"),
    };
    let (interval_ms, timeout_ms, fall) = vs
        .health
        .as_ref()
        .map(|h| (h.interval_ms, h.timeout_ms, h.fall))
        .unwrap_or((5000, 3000, 3));
    let mut check = Check {
        kind: "none",
        port: None,
        path: String::new(),
        status: String::new(),
        command: String::new(),
        timeout_s: seconds_text(timeout_ms.max(1000)),
        fall,
        note: None,
    };
    match vs.health.as_ref().map(|h| &h.check) {
        Some(PlanCheck::Tcp { port }) => {
            check.kind = "tcp";
            check.port = *port;
        }
        Some(PlanCheck::Http {
            port,
            path,
            status_min,
            status_max,
            body_sha256,
            ..
        }) => {
            check.kind = "http";
            check.port = *port;
            check.path = path.clone();
            check.status = if status_min == status_max {
                status_min.to_string()
            } else {
                format!("{status_min}-{status_max}")
            };
            if body_sha256.is_some() {
                check.note = Some("the body digest (SHA-256) is not checked by keepalived".into());
            }
        }
        Some(PlanCheck::Command { command }) => {
            check.kind = "command";
            check.command = command_text(command);
        }
        None => {}
    }
    let granularity = match vs.family {
        vigil_schema::plan::Family::Ipv4 => {
            let bits = u32::MAX
                .checked_shl(32 - u32::from(vs.persistence_prefix_len.min(32)))
                .unwrap_or(0);
            std::net::Ipv4Addr::from(bits).to_string()
        }
        vigil_schema::plan::Family::Ipv6 => vs.persistence_prefix_len.to_string(),
    };
    VirtualServer {
        identity,
        delay_loop_s: seconds_text(interval_ms.max(1000)),
        scheduler: vs.scheduler.name().to_string(),
        scheduler_flags: vs
            .scheduler_flags
            .iter()
            .map(|f| f.name().to_string())
            .collect(),
        method: match vs.method {
            PlanMethod::Dr => "DR",
            PlanMethod::Nat => "NAT",
            PlanMethod::Tun => "TUN",
        },
        protocol: vs.protocol.map(|p| match p {
            PlanProtocol::Tcp => "TCP",
            PlanProtocol::Udp => "UDP",
            PlanProtocol::Sctp => "SCTP",
        }),
        persistence_timeout_s: vs.persistence_timeout_s,
        persistence_granularity: granularity,
        quorum: vs.quorum,
        hysteresis: vs.hysteresis,
        sorry_server: vs.sorry_server.as_ref().map(server),
        inhibit: vs.on_fail == PlanRealServerOnFail::Inhibit,
        check,
        real_servers: vs.real_servers.iter().map(server).collect(),
    }
}
