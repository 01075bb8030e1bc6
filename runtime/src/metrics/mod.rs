//! Prometheus metrics: the text exposition format (version 0.0.4) of the
//! node's state and counters, and the HTTP listener that serves it
//! ([`http`]).
//!
//! [`render`] is pure: it reads the [`Node`] (routers, guards, director
//! core) and the shell's counters and writes into a caller's buffer, so a
//! scrape allocates nothing once the buffer has grown to the document's
//! size. Every family is written with its `# HELP` and `# TYPE` lines and
//! all its samples together, as the format requires. The series are listed
//! in `docs/metrics.md`.

pub mod http;

use std::fmt::Write;

use crate::event_loop::ShellCounters;
use crate::health::executor::HealthIoCounters;
use crate::hooks::state_name;
use crate::node::Node;
use crate::node::member::STATES;
use crate::track::TrackState;
use crate::vrrp::{Reason, Stats};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What [`render`] reads besides the node.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    pub node: &'a Node,
    pub shell: &'a ShellCounters,
    pub health: Option<&'a HealthIoCounters>,
    pub http: &'a http::HttpCounters,
    /// Unix time the daemon started, in seconds.
    pub start_time_s: f64,
    pub version: &'a str,
}

/// A label value with `\`, `"` and newlines escaped.
struct Esc<'a>(&'a str);

impl std::fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The reject reasons of [`Stats`], with their label values.
fn rejects(s: &Stats) -> [(&'static str, u64); 13] {
    [
        ("checksum", s.checksum_errors),
        ("version", s.version_errors),
        ("vrid", s.vrid_errors),
        ("invalid_type", s.invalid_type),
        ("interval", s.interval_errors),
        ("ttl", s.ttl_errors),
        ("length", s.length_errors),
        ("address_list", s.address_list_errors),
        ("auth_failure", s.auth_failures),
        ("invalid_auth_type", s.invalid_auth_type),
        ("auth_type_mismatch", s.auth_type_mismatch),
        ("own_address", s.own_address),
        ("other", s.other_errors),
    ]
}

/// Writes the whole exposition into `out` (cleared first).
pub fn render(out: &mut String, i: &Inputs<'_>) {
    out.clear();
    let node = i.node;
    let plan = node.plan();

    family(
        out,
        "vigil_plan_info",
        "gauge",
        "The plan vigild runs: its topology hash, host and cluster (always 1).",
    );
    let _ = writeln!(
        out,
        "vigil_plan_info{{host=\"{}\",cluster=\"{}\",plan_hash=\"{}\",compiler_version=\"{}\",version=\"{}\"}} 1",
        Esc(&plan.host),
        Esc(&plan.cluster),
        Esc(&plan.topology_hash),
        Esc(&plan.compiler_version),
        Esc(i.version)
    );
    family(
        out,
        "vigil_start_time_seconds",
        "gauge",
        "Start time of vigild since the Unix epoch, in seconds.",
    );
    let _ = writeln!(out, "vigil_start_time_seconds {:.3}", i.start_time_s);

    // --- routers -------------------------------------------------------------
    family(
        out,
        "vigil_router_state",
        "gauge",
        "1 for the router's current VRRP state, 0 for the others.",
    );
    for m in node.members() {
        for s in STATES {
            let _ = writeln!(
                out,
                "vigil_router_state{{router=\"{}\",vrid=\"{}\",interface=\"{}\",state=\"{}\"}} {}",
                Esc(m.name()),
                m.plan.vrid,
                Esc(&m.plan.interface),
                state_name(s),
                u8::from(m.state() == s)
            );
        }
    }
    family(
        out,
        "vigil_router_priority_configured",
        "gauge",
        "The priority the plan gives this member.",
    );
    for m in node.members() {
        let _ = writeln!(
            out,
            "vigil_router_priority_configured{{router=\"{}\"}} {}",
            Esc(m.name()),
            m.plan.priority
        );
    }
    family(
        out,
        "vigil_router_priority_effective",
        "gauge",
        "The priority the router advertises (trackers and sync-group demotions applied).",
    );
    for m in node.members() {
        let _ = writeln!(
            out,
            "vigil_router_priority_effective{{router=\"{}\"}} {}",
            Esc(m.name()),
            m.router.priority()
        );
    }
    family(
        out,
        "vigil_router_transitions_total",
        "counter",
        "State changes by new state and reason.",
    );
    for m in node.members() {
        for (si, row) in m.counters.transitions.iter().enumerate() {
            for (ri, n) in row.iter().enumerate() {
                if *n == 0 {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "vigil_router_transitions_total{{router=\"{}\",to=\"{}\",reason=\"{}\"}} {n}",
                    Esc(m.name()),
                    state_name(STATES[si]),
                    Reason::ALL[ri].name()
                );
            }
        }
    }
    family(
        out,
        "vigil_router_became_master_total",
        "counter",
        "Transitions to MASTER (RFC 6527 vrrpv3StatisticsMasterTransitions).",
    );
    for m in node.members() {
        let _ = writeln!(
            out,
            "vigil_router_became_master_total{{router=\"{}\"}} {}",
            Esc(m.name()),
            m.router.stats().became_master
        );
    }
    type Field = fn(&Stats) -> u64;
    let per_router: [(&str, &str, Field); 6] = [
        ("vigil_router_adverts_sent_total", "Adverts sent.", |s| {
            s.adverts_sent
        }),
        (
            "vigil_router_adverts_received_total",
            "Valid adverts received, in any state.",
            |s| s.adverts_received,
        ),
        (
            "vigil_router_priority_zero_sent_total",
            "Priority-0 adverts sent (resignations).",
            |s| s.priority_zero_sent,
        ),
        (
            "vigil_router_priority_zero_received_total",
            "Priority-0 adverts received.",
            |s| s.priority_zero_received,
        ),
        (
            "vigil_router_dual_master_alarms_total",
            "Adverts from another master with our priority while master (split brain).",
            |s| s.dual_master,
        ),
        (
            "vigil_router_master_vetoed_total",
            "Takeovers arbitration or the fence gate refused.",
            |s| s.master_vetoed,
        ),
    ];
    for (name, help, f) in per_router {
        family(out, name, "counter", help);
        for m in node.members() {
            let _ = writeln!(
                out,
                "{name}{{router=\"{}\"}} {}",
                Esc(m.name()),
                f(m.router.stats())
            );
        }
    }
    family(
        out,
        "vigil_router_master_down_expiries_total",
        "counter",
        "Master-down timers that ran out in BACKUP (no advert heard in time).",
    );
    for m in node.members() {
        let _ = writeln!(
            out,
            "vigil_router_master_down_expiries_total{{router=\"{}\"}} {}",
            Esc(m.name()),
            m.counters.master_down_expiries
        );
    }
    family(
        out,
        "vigil_router_rejects_total",
        "counter",
        "Received VRRP packets discarded, by reason.",
    );
    for m in node.members() {
        for (reason, n) in rejects(m.router.stats()) {
            let _ = writeln!(
                out,
                "vigil_router_rejects_total{{router=\"{}\",reason=\"{reason}\"}} {n}",
                Esc(m.name())
            );
        }
    }
    family(
        out,
        "vigil_unattributed_rejects_total",
        "counter",
        "VRRP packets no router of this host could take (unknown VRID, unreadable), by reason.",
    );
    for (reason, n) in rejects(node.unattributed()) {
        let _ = writeln!(
            out,
            "vigil_unattributed_rejects_total{{reason=\"{reason}\"}} {n}"
        );
    }

    // --- defences ------------------------------------------------------------
    family(
        out,
        "vigil_router_allow_master",
        "gauge",
        "1 when arbitration and the fence gate let the router become master.",
    );
    for m in node.members() {
        let _ = writeln!(
            out,
            "vigil_router_allow_master{{router=\"{}\"}} {}",
            Esc(m.name()),
            u8::from(m.allow())
        );
    }
    family(
        out,
        "vigil_arbitration_verdict",
        "gauge",
        "1 for the router's arbitration verdict (unknown, reachable, unreachable), 0 for the others.",
    );
    for m in node.members() {
        let Some(a) = m.arbiter.as_ref() else {
            continue;
        };
        for v in ["unknown", "reachable", "unreachable"] {
            let now = verdict_name(a.verdict());
            let _ = writeln!(
                out,
                "vigil_arbitration_verdict{{router=\"{}\",verdict=\"{v}\"}} {}",
                Esc(m.name()),
                u8::from(now == v)
            );
        }
    }
    family(
        out,
        "vigil_arbitration_isolated",
        "gauge",
        "1 while the router sees itself isolated (every reference IP lost).",
    );
    for m in node.members() {
        if let Some(a) = m.arbiter.as_ref() {
            let _ = writeln!(
                out,
                "vigil_arbitration_isolated{{router=\"{}\"}} {}",
                Esc(m.name()),
                u8::from(a.isolated())
            );
        }
    }
    family(
        out,
        "vigil_arbitration_probes_total",
        "counter",
        "Echo probes to reference IPs, by result (sent, reply, lost).",
    );
    for m in node.members() {
        let Some(a) = m.arbiter.as_ref() else {
            continue;
        };
        for t in a.targets() {
            for (result, n) in [("sent", t.sent), ("reply", t.replies), ("lost", t.lost)] {
                let _ = writeln!(
                    out,
                    "vigil_arbitration_probes_total{{router=\"{}\",target=\"{}\",result=\"{result}\"}} {n}",
                    Esc(m.name()),
                    t.address
                );
            }
        }
    }
    family(
        out,
        "vigil_arbitration_target_reachable",
        "gauge",
        "1 while a reference IP answers, 0 otherwise.",
    );
    for m in node.members() {
        let Some(a) = m.arbiter.as_ref() else {
            continue;
        };
        for t in a.targets() {
            let _ = writeln!(
                out,
                "vigil_arbitration_target_reachable{{router=\"{}\",target=\"{}\"}} {}",
                Esc(m.name()),
                t.address,
                u8::from(verdict_name(t.verdict) == "reachable")
            );
        }
    }
    family(
        out,
        "vigil_lease_holding",
        "gauge",
        "1 while the router holds its lease in the store (lease arbitration).",
    );
    for m in node.members() {
        if let Some(l) = m.lease.as_ref() {
            let _ = writeln!(
                out,
                "vigil_lease_holding{{router=\"{}\"}} {}",
                Esc(m.name()),
                u8::from(l.holding())
            );
        }
    }
    family(
        out,
        "vigil_lease_requests_total",
        "counter",
        "Requests to the lease store, by outcome (ok, failed, timeout, malformed).",
    );
    for m in node.members() {
        if let Some(l) = m.lease.as_ref() {
            let c = &l.counters;
            // `failures` counts every failed request, timeouts and
            // unreadable answers included.
            for (result, n) in [
                ("ok", c.requests.saturating_sub(c.failures)),
                (
                    "failed",
                    c.failures.saturating_sub(c.timeouts + c.malformed),
                ),
                ("timeout", c.timeouts),
                ("malformed", c.malformed),
            ] {
                let _ = writeln!(
                    out,
                    "vigil_lease_requests_total{{router=\"{}\",result=\"{result}\"}} {n}",
                    Esc(m.name())
                );
            }
        }
    }
    family(
        out,
        "vigil_lease_changes_total",
        "counter",
        "Times the router acquired or lost its lease.",
    );
    for m in node.members() {
        if let Some(l) = m.lease.as_ref() {
            for (change, n) in [("acquired", l.counters.acquired), ("lost", l.counters.lost)] {
                let _ = writeln!(
                    out,
                    "vigil_lease_changes_total{{router=\"{}\",change=\"{change}\"}} {n}",
                    Esc(m.name())
                );
            }
        }
    }
    family(
        out,
        "vigil_tracker_up",
        "gauge",
        "1 while a tracker is up, 0 while it is down.",
    );
    for m in node.members() {
        for t in m.trackers.list() {
            let _ = writeln!(
                out,
                "vigil_tracker_up{{router=\"{}\",tracker=\"{}\"}} {}",
                Esc(m.name()),
                Esc(&t.name),
                u8::from(t.state == TrackState::Up)
            );
        }
    }
    family(
        out,
        "vigil_tracker_runs_total",
        "counter",
        "Command tracker runs, by result (ok, failed).",
    );
    for m in node.members() {
        for t in m.trackers.list() {
            let ok = t.runs.saturating_sub(t.failed_runs);
            for (result, n) in [("ok", ok), ("failed", t.failed_runs)] {
                let _ = writeln!(
                    out,
                    "vigil_tracker_runs_total{{router=\"{}\",tracker=\"{}\",result=\"{result}\"}} {n}",
                    Esc(m.name()),
                    Esc(&t.name)
                );
            }
        }
    }
    family(
        out,
        "vigil_fence_runs_total",
        "counter",
        "Fence command runs, by result (ok, failed).",
    );
    for m in node.members() {
        if let Some(f) = m.fence.as_ref() {
            let ok = f.runs.saturating_sub(f.failures);
            for (result, n) in [("ok", ok), ("failed", f.failures)] {
                let _ = writeln!(
                    out,
                    "vigil_fence_runs_total{{router=\"{}\",result=\"{result}\"}} {n}",
                    Esc(m.name())
                );
            }
        }
    }
    family(
        out,
        "vigil_hook_runs_total",
        "counter",
        "Notify hooks run by this daemon, by result (started, failed, timed_out).",
    );
    let c = &node.counters;
    for (result, n) in [
        ("started", c.hooks_run),
        ("failed", c.hooks_failed),
        ("timed_out", c.hooks_timed_out),
    ] {
        let _ = writeln!(out, "vigil_hook_runs_total{{result=\"{result}\"}} {n}");
    }
    family(
        out,
        "vigil_vip_errors_total",
        "counter",
        "VIP additions and removals the kernel refused.",
    );
    let _ = writeln!(
        out,
        "vigil_vip_errors_total{{op=\"add\"}} {}",
        c.vip_add_errors
    );
    let _ = writeln!(
        out,
        "vigil_vip_errors_total{{op=\"remove\"}} {}",
        c.vip_remove_errors
    );
    family(
        out,
        "vigil_reloads_total",
        "counter",
        "Plan reloads (SIGHUP), by result (ok, failed).",
    );
    let _ = writeln!(
        out,
        "vigil_reloads_total{{result=\"ok\"}} {}",
        c.reloads.saturating_sub(c.reload_errors)
    );
    let _ = writeln!(
        out,
        "vigil_reloads_total{{result=\"failed\"}} {}",
        c.reload_errors
    );

    // --- load balancing ------------------------------------------------------
    if let Some(d) = node.director() {
        family(
            out,
            "vigil_real_server_up",
            "gauge",
            "1 while the health checks hold a real server up.",
        );
        for r in d.real_servers() {
            let _ = writeln!(
                out,
                "vigil_real_server_up{{virtual_server=\"{}\",real_server=\"{}\"}} {}",
                Esc(&r.virtual_server.name),
                RealServer(r.address, r.port),
                u8::from(r.up)
            );
        }
        family(
            out,
            "vigil_health_checks_total",
            "counter",
            "Health checks per real server, by result (ok, failed, timeout).",
        );
        for r in d.real_servers() {
            for (result, n) in [
                ("ok", r.checks.ok),
                ("failed", r.checks.failed),
                ("timeout", r.checks.timed_out),
            ] {
                let _ = writeln!(
                    out,
                    "vigil_health_checks_total{{virtual_server=\"{}\",real_server=\"{}\",result=\"{result}\"}} {n}",
                    Esc(&r.virtual_server.name),
                    RealServer(r.address, r.port)
                );
            }
        }
        family(
            out,
            "vigil_virtual_server_real_servers_up",
            "gauge",
            "Real servers up per virtual server.",
        );
        for vs in d.virtual_servers() {
            let up = d
                .real_servers()
                .filter(|r| std::ptr::eq(r.virtual_server, vs) && r.up)
                .count();
            let _ = writeln!(
                out,
                "vigil_virtual_server_real_servers_up{{virtual_server=\"{}\"}} {up}",
                Esc(&vs.name)
            );
        }
        family(
            out,
            "vigil_virtual_server_quorum",
            "gauge",
            "Real servers a virtual server needs up (0: no quorum).",
        );
        for vs in d.virtual_servers() {
            let _ = writeln!(
                out,
                "vigil_virtual_server_quorum{{virtual_server=\"{}\"}} {}",
                Esc(&vs.name),
                vs.quorum
            );
        }
        family(
            out,
            "vigil_virtual_server_sorry_active",
            "gauge",
            "1 while a virtual server serves from its sorry server.",
        );
        for (n, vs) in d.virtual_servers().iter().enumerate() {
            let _ = writeln!(
                out,
                "vigil_virtual_server_sorry_active{{virtual_server=\"{}\"}} {}",
                Esc(&vs.name),
                u8::from(d.sorry_active(n))
            );
        }
        family(
            out,
            "vigil_ipvs_reconciliations_total",
            "counter",
            "Comparisons of the kernel's IPVS table with the plan.",
        );
        let _ = writeln!(
            out,
            "vigil_ipvs_reconciliations_total {}",
            d.counters().reconciliations
        );
    }
    if let Some(h) = i.health {
        family(
            out,
            "vigil_ipvs_operations_total",
            "counter",
            "IPVS operations sent to the kernel.",
        );
        let _ = writeln!(out, "vigil_ipvs_operations_total {}", h.ipvs_ops);
        family(
            out,
            "vigil_ipvs_errors_total",
            "counter",
            "IPVS failures, by kind (operation, dump, open).",
        );
        for (kind, n) in [
            ("operation", h.ipvs_errors),
            ("dump", h.dump_errors),
            ("open", h.ipvs_open_errors),
        ] {
            let _ = writeln!(out, "vigil_ipvs_errors_total{{kind=\"{kind}\"}} {n}");
        }
    }

    // --- the shell -----------------------------------------------------------
    family(
        out,
        "vigil_io_errors_total",
        "counter",
        "Failures of vigild's own I/O, by kind.",
    );
    let s = i.shell;
    for (kind, n) in [
        ("advert_send", s.advert_send_errors),
        ("garp_send", s.garp_send_errors),
        ("socket", s.socket_errors),
        ("receive", s.recv_errors),
        ("malformed_ip", s.malformed_ip),
        ("netlink", s.netlink_errors),
        ("ledger", s.ledger_errors),
        ("echo_receive", s.echo_recv_errors),
        ("echo_send", c.echo_send_errors),
        ("spawn", c.spawn_errors),
    ] {
        let _ = writeln!(out, "vigil_io_errors_total{{kind=\"{kind}\"}} {n}");
    }
    family(
        out,
        "vigil_metrics_requests_total",
        "counter",
        "HTTP requests to the metrics listener, by answer (ok, not_found, bad_method, bad_request, too_large, timeout, refused).",
    );
    let h = i.http;
    for (answer, n) in [
        ("ok", h.ok),
        ("not_found", h.not_found),
        ("bad_method", h.bad_method),
        ("bad_request", h.bad_request),
        ("too_large", h.too_large),
        ("timeout", h.timed_out),
        ("refused", h.refused),
    ] {
        let _ = writeln!(
            out,
            "vigil_metrics_requests_total{{answer=\"{answer}\"}} {n}"
        );
    }
}

fn verdict_name(v: crate::arbitration::Verdict) -> &'static str {
    match v {
        crate::arbitration::Verdict::Unknown => "unknown",
        crate::arbitration::Verdict::Reachable => "reachable",
        crate::arbitration::Verdict::Unreachable => "unreachable",
    }
}

/// `address:port`, IPv6 in brackets.
struct RealServer(std::net::IpAddr, u16);

impl std::fmt::Display for RealServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            std::net::IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            std::net::IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}
