//! The result of `vigil simulate`: per router, who held its VIPs when,
//! the state changes with their reasons, the RFC timings that bound them
//! and the defences that acted; then a verdict.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use vigil_schema::plan::PlanRouter;
use vigild::sim::{DefenceKind, Sim};
use vigild::vrrp::Instant;
use vigild::vrrp::timers::{master_down_interval, skew_time};
use vigild::wire::vrrp::Centis;

use crate::model::Cluster;

/// Overlaps shorter than this are the handover itself (the old master
/// steps down when the new master's first advert arrives).
pub const HANDOVER: Duration = Duration::from_millis(5);

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub cluster: String,
    pub seed: u64,
    pub duration_s: f64,
    pub max_outage_s: Option<f64>,
    pub faults: Vec<FaultLine>,
    pub routers: Vec<RouterReport>,
    /// Invariants of the simulation that broke (a vigild bug: please report).
    pub violations: Vec<ViolationLine>,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, Serialize)]
pub struct FaultLine {
    pub at_s: f64,
    pub what: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct MemberTiming {
    pub host: String,
    pub priority: u8,
    pub skew_s: f64,
    pub master_down_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Span {
    pub from_s: f64,
    pub to_s: f64,
    pub holders: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StateLine {
    pub at_s: f64,
    pub host: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct DefenceLine {
    pub at_s: f64,
    pub host: String,
    pub kind: DefenceKind,
    pub what: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct RouterReport {
    pub name: String,
    pub segment: String,
    pub vrid: u8,
    pub version: u8,
    pub advert_interval_s: f64,
    pub members: Vec<MemberTiming>,
    pub vips: Vec<String>,
    /// Holders of the first VIP (the others move with it).
    pub holders: Vec<Span>,
    pub states: Vec<StateLine>,
    pub defences: Vec<DefenceLine>,
    /// When a member first held the VIPs.
    pub first_holder_s: Option<f64>,
    /// The longest time without a holder after that (or the whole run).
    pub longest_outage: Option<Span>,
    /// Times two or more hosts held a VIP, longer than a handover.
    pub double_holders: Vec<Span>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ViolationLine {
    pub invariant: &'static str,
    pub at_s: f64,
    pub router: Option<String>,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub ok: bool,
    pub problems: Vec<String>,
}

/// Seconds, to the microsecond.
fn secs(t: Instant) -> f64 {
    t.as_micros() as f64 / 1e6
}

fn dur_s(d: Duration) -> f64 {
    d.as_micros() as f64 / 1e6
}

/// Builds the report of a finished run.
pub fn build(
    sim: &Sim,
    cluster: &Cluster,
    description: Option<String>,
    max_outage: Option<Duration>,
    only: &[String],
) -> Report {
    let end = sim.now();
    let record = sim.record();
    let topo = sim.topology();
    // Router name -> (host, plan router), over all hosts.
    let mut members: BTreeMap<&str, Vec<(&str, &PlanRouter)>> = BTreeMap::new();
    for h in &topo.hosts {
        for r in &h.plan.routers {
            members.entry(&r.name).or_default().push((&h.name, r));
        }
    }
    let mut routers = Vec::new();
    let mut problems = Vec::new();
    for (name, list) in &members {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let Some((_, first)) = list.first() else {
            continue;
        };
        let adv = Centis(first.advert_interval_cs);
        let timings = list
            .iter()
            .map(|(host, r)| MemberTiming {
                host: host.to_string(),
                priority: r.priority,
                skew_s: dur_s(skew_time(r.priority, adv)),
                master_down_s: dur_s(master_down_interval(r.priority, adv)),
            })
            .collect();
        let vips: Vec<_> = first.vips.iter().map(|v| v.address).collect();
        let spans = vips
            .first()
            .map(|v| record.holder_spans(*v, end))
            .unwrap_or_default();
        let first_holder = spans.iter().find(|s| !s.holders.is_empty()).map(|s| s.from);
        let longest_outage = match first_holder {
            Some(t) => vips
                .iter()
                .filter_map(|v| record.longest_outage(*v, t, end))
                .max_by_key(|s| s.to.as_micros() - s.from.as_micros()),
            None => Some(vigild::sim::HolderSpan {
                from: Instant::ZERO,
                to: end,
                holders: Vec::new(),
            }),
        };
        let mut doubles: Vec<vigild::sim::HolderSpan> = vips
            .iter()
            .flat_map(|v| record.double_holders(*v, end))
            .filter(|s| s.to.saturating_since(s.from) > HANDOVER)
            .collect();
        doubles.sort_by_key(|s| s.from);
        doubles.dedup_by_key(|s| (s.from, s.to));
        let vip_texts: Vec<String> = first
            .vips
            .iter()
            .map(|v| format!("{}/{}", v.address, v.prefix_len))
            .collect();
        let defences = record
            .defences
            .iter()
            .filter(|d| {
                d.router.as_deref() == Some(name)
                    || (d.kind == DefenceKind::StaleAddressRemoved
                        && vips.iter().any(|v| v.to_string() == d.detail))
            })
            .map(|d| DefenceLine {
                at_s: secs(d.at),
                host: d.host.clone(),
                kind: d.kind,
                what: d.kind.describe(),
                detail: d.detail.clone(),
            })
            .collect();
        if let (Some(o), Some(bound)) = (&longest_outage, max_outage) {
            let len = o.to.saturating_since(o.from);
            if len > bound {
                problems.push(format!(
                    "{name}: no host held {} for {:.3}s (from {:.3}s), above the bound of {:.3}s",
                    vip_texts.join(", "),
                    dur_s(len),
                    secs(o.from),
                    dur_s(bound)
                ));
            }
        }
        for d in &doubles {
            problems.push(format!(
                "{name}: {} held {} at once for {:.3}s (from {:.3}s)",
                d.holders.join(" and "),
                vip_texts.join(", "),
                dur_s(d.to.saturating_since(d.from)),
                secs(d.from)
            ));
        }
        let span = |s: &vigild::sim::HolderSpan| Span {
            from_s: secs(s.from),
            to_s: secs(s.to),
            holders: s.holders.clone(),
        };
        routers.push(RouterReport {
            name: name.to_string(),
            segment: cluster
                .routers
                .get(*name)
                .map(|r| r.segment.value.clone())
                .unwrap_or_default(),
            vrid: first.vrid,
            version: first.version.number(),
            advert_interval_s: dur_s(Duration::from_micros(adv.as_micros())),
            members: timings,
            vips: vip_texts,
            holders: spans.iter().map(span).collect(),
            states: record
                .transitions_of(name)
                .map(|t| StateLine {
                    at_s: secs(t.at),
                    host: t.host.clone(),
                    from: t.from.clone(),
                    to: t.to.clone(),
                    reason: t.reason.clone(),
                })
                .collect(),
            defences,
            first_holder_s: first_holder.map(secs),
            longest_outage: longest_outage.as_ref().map(span),
            double_holders: doubles.iter().map(span).collect(),
        });
    }
    let violations: Vec<ViolationLine> = record
        .violations
        .iter()
        .map(|v| ViolationLine {
            invariant: v.invariant.name(),
            at_s: secs(v.at),
            router: v.router.clone(),
            detail: v.detail.clone(),
        })
        .collect();
    for v in &violations {
        problems.push(format!(
            "vigild broke the simulation's invariant `{}` at {:.3}s: {} (please report this)",
            v.invariant, v.at_s, v.detail
        ));
    }
    Report {
        scenario: sim_name(sim),
        description,
        cluster: cluster
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_default(),
        seed: sim.seed(),
        duration_s: secs(end),
        max_outage_s: max_outage.map(dur_s),
        faults: record
            .faults
            .iter()
            .map(|f| FaultLine {
                at_s: secs(f.at),
                what: f.description.clone(),
            })
            .collect(),
        routers,
        violations,
        verdict: Verdict {
            ok: problems.is_empty(),
            problems,
        },
    }
}

fn sim_name(sim: &Sim) -> String {
    sim.scenario().name.clone()
}

fn t(s: f64) -> String {
    format!("{s:>9.3}s")
}

/// The report for people.
pub fn human(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Scenario: {} (cluster {}, {:.3}s simulated, seed {})",
        r.scenario, r.cluster, r.duration_s, r.seed
    );
    if let Some(d) = &r.description {
        for line in d.trim().lines() {
            let _ = writeln!(o, "  {}", line.trim());
        }
    }
    let _ = writeln!(o, "\nFaults:");
    if r.faults.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for f in &r.faults {
        let _ = writeln!(o, "  {}  {}", t(f.at_s), f.what);
    }
    for router in &r.routers {
        let _ = writeln!(
            o,
            "\nRouter {}: VRID {} on {}, VRRPv{}, advert interval {}s, VIPs {}",
            router.name,
            router.vrid,
            router.segment,
            router.version,
            router.advert_interval_s,
            router.vips.join(" ")
        );
        let timings: Vec<String> = router
            .members
            .iter()
            .map(|m| {
                format!(
                    "{} (priority {}): skew {:.3}s, master-down {:.3}s",
                    m.host, m.priority, m.skew_s, m.master_down_s
                )
            })
            .collect();
        let _ = writeln!(o, "  RFC 5798 timings: {}", timings.join("; "));
        let _ = writeln!(
            o,
            "  Holders of {}:",
            router.vips.first().map_or("-", String::as_str)
        );
        for s in &router.holders {
            let who = if s.holders.is_empty() {
                if router.first_holder_s.is_none_or(|f| s.from_s < f) {
                    "nobody (not elected yet)".to_string()
                } else {
                    format!("nobody  <- outage {:.3}s", s.to_s - s.from_s)
                }
            } else if s.holders.len() > 1 {
                let len = s.to_s - s.from_s;
                if len * 1000.0 > HANDOVER.as_millis() as f64 {
                    format!("{}  <- DOUBLE HOLDER {len:.3}s", s.holders.join(" + "))
                } else {
                    format!(
                        "{}  (handover, {:.1}ms)",
                        s.holders.join(" + "),
                        len * 1000.0
                    )
                }
            } else {
                s.holders.join(" + ")
            };
            let _ = writeln!(o, "    {} - {}  {who}", t(s.from_s), t(s.to_s));
        }
        let _ = writeln!(o, "  State changes:");
        for s in &router.states {
            let _ = writeln!(
                o,
                "    {}  {:<10} {} -> {}  ({})",
                t(s.at_s),
                s.host,
                s.from,
                s.to,
                s.reason
            );
        }
        if !router.defences.is_empty() {
            let _ = writeln!(o, "  Defences:");
            for d in &router.defences {
                let detail = if d.detail.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", d.detail)
                };
                let _ = writeln!(o, "    {}  {:<10} {}{detail}", t(d.at_s), d.host, d.what);
            }
        }
    }
    if !r.violations.is_empty() {
        let _ = writeln!(
            o,
            "\nSimulation invariants broken (a vigild bug; please report):"
        );
        for v in &r.violations {
            let _ = writeln!(o, "  {}  {}: {}", t(v.at_s), v.invariant, v.detail);
        }
    }
    let _ = writeln!(o, "\nVerdict: {}", if r.verdict.ok { "OK" } else { "FAIL" });
    for router in &r.routers {
        let outage = match &router.longest_outage {
            Some(_) if router.first_holder_s.is_none() => "never held".to_string(),
            Some(s) => format!(
                "longest outage {:.3}s (from {:.3}s)",
                s.to_s - s.from_s,
                s.from_s
            ),
            None => "no outage".to_string(),
        };
        let doubles = if router.double_holders.is_empty() {
            "no double holder".to_string()
        } else {
            format!("{} double holder(s)", router.double_holders.len())
        };
        let mut kinds: Vec<&str> = router.defences.iter().map(|d| d.what).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let defences = if kinds.is_empty() {
            String::new()
        } else {
            format!("; defences: {}", kinds.join(", "))
        };
        let _ = writeln!(o, "  {}: {outage}, {doubles}{defences}", router.name);
    }
    if let Some(b) = r.max_outage_s {
        let _ = writeln!(o, "  (outage bound: {b:.3}s)");
    }
    for p in &r.verdict.problems {
        let _ = writeln!(o, "  - {p}");
    }
    o
}
