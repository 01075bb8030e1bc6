//! Scenarios for `vigil simulate`: a TOML file, `--fail`/`--cut` flags, or
//! both, turned into the simulation's timed faults.
//!
//! ```toml
//! name = "what if lb1 dies"
//! topology = "../datacenter.toml"   # relative to this file
//! duration = "60s"
//! max_outage = "5s"                 # the verdict fails above this
//!
//! [[event]]
//! at = "20s"
//! fail = "host:lb1"                 # see FAIL below
//! for = "20s"                       # optional: undone after this long
//!
//! [[event]]
//! at = "30s"
//! cut = "db:db1/db2"                # see CUT below
//! ```
//!
//! FAIL: `host:H` (H loses power), `vigild:H` (the daemon is killed,
//! kernel state stays), `stop:H` (SIGTERM), `link:H:IF` (carrier lost),
//! `delete:H:IF` (interface deleted; `for` re-creates it), `gateway:IP`
//! (a reference IP stops answering), `fence:H` (H's fence commands fail),
//! `tracker:H:NAME` (the command tracker's check fails on H),
//! `server:IP` (a real server's health checks fail).
//!
//! CUT: `SEG` (the segment carries nothing), `SEG:A,B` (A and B cut off
//! from the rest of SEG), `SEG:A,B/C,D` (A and B from C and D), where each
//! name is a host or a reference IP.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use vigil_schema::units::Duration as Written;
use vigild::sim::{
    Cut, Endpoint, Fault, FenceEffect, NetProfile, Scenario, SimTopology, settle_time,
};

use crate::model::Cluster;

/// A scenario file as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Topology files, relative to the scenario file (used when the
    /// command line names none).
    #[serde(default)]
    pub topology: Vec<String>,
    pub duration: Option<Written>,
    /// The longest a router's VIPs may have no holder (after the first
    /// election) for the verdict to pass.
    pub max_outage: Option<Written>,
    pub seed: Option<u64>,
    /// Hosts whose daemon starts later than the others.
    #[serde(default)]
    pub boot: BTreeMap<String, Written>,
    pub network: Option<NetworkSpec>,
    pub timing: Option<TimingSpec>,
    /// What a successful fence powers off: `holders` (the peers holding
    /// the VIPs or claiming mastership; the default), `peers` (every peer),
    /// `nothing`.
    pub fence: Option<String>,
    #[serde(default, rename = "event")]
    pub events: Vec<EventSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub loss: Option<f64>,
    pub delay: Option<Written>,
    pub jitter: Option<Written>,
    pub reorder: Option<f64>,
}

/// How long external programs take in the simulation.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingSpec {
    pub fence: Option<Written>,
    pub hooks: Option<Written>,
    pub trackers: Option<Written>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    pub at: Option<Written>,
    #[serde(rename = "for")]
    pub for_: Option<Written>,
    pub fail: Option<String>,
    pub cut: Option<String>,
    pub network: Option<NetworkSpec>,
}

/// A fault from the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliFault {
    pub kind: CliFaultKind,
    pub at: Option<Written>,
    pub for_: Option<Written>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliFaultKind {
    Fail(String),
    Cut(String),
}

/// A scenario ready to run.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub scenario: Scenario,
    pub description: Option<String>,
    pub max_outage: Option<Duration>,
    pub seed: u64,
    /// When faults without `at` happen: once every router has settled.
    pub settled_at: Duration,
}

impl ScenarioFile {
    /// Reads and parses a scenario file.
    pub fn read(path: &Path) -> Result<ScenarioFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The topology files it names, relative to `path`.
    pub fn topology_paths(&self, path: &Path) -> Vec<PathBuf> {
        let dir = path.parent().unwrap_or(Path::new("."));
        self.topology.iter().map(|t| dir.join(t)).collect()
    }
}

fn ms(d: Written) -> Duration {
    Duration::from_millis(d.as_millis())
}

fn profile(spec: &NetworkSpec, base: &NetProfile) -> Result<NetProfile, String> {
    let p = NetProfile {
        loss: spec.loss.unwrap_or(base.loss),
        delay: spec.delay.map_or(base.delay, ms),
        jitter: spec.jitter.map_or(base.jitter, ms),
        reorder: spec.reorder.unwrap_or(base.reorder),
    };
    for (what, v) in [("loss", p.loss), ("reorder", p.reorder)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("network {what} must be between 0 and 1, not {v}"));
        }
    }
    Ok(p)
}

/// Builds the scenario from a file (if any) and command-line faults.
pub fn prepare(
    file: Option<&ScenarioFile>,
    cli: &[CliFault],
    cluster: &Cluster,
    topo: &SimTopology,
    seed: Option<u64>,
    duration: Option<Written>,
    max_outage: Option<Written>,
) -> Result<Prepared, String> {
    let default_file = ScenarioFile::default();
    let file = file.unwrap_or(&default_file);
    let name = file.name.clone().unwrap_or_else(|| {
        if cli.is_empty() {
            "steady state".to_string()
        } else {
            "command line".to_string()
        }
    });
    let mut s = Scenario::new(&name, Duration::ZERO);
    if let Some(n) = &file.network {
        s.network = profile(n, &s.network)?;
    }
    if let Some(t) = &file.timing {
        if let Some(d) = t.fence {
            s.timing.fence_runtime = ms(d);
        }
        if let Some(d) = t.hooks {
            s.timing.hook_runtime = ms(d);
        }
        if let Some(d) = t.trackers {
            s.timing.tracker_runtime = ms(d);
        }
    }
    s.fence = match file.fence.as_deref() {
        None | Some("holders") => FenceEffect::Holders,
        Some("peers") => FenceEffect::AllPeers,
        Some("nothing") => FenceEffect::Nothing,
        Some(other) => {
            return Err(format!(
                "fence = \"{other}\": write \"holders\", \"peers\" or \"nothing\""
            ));
        }
    };
    for (host, at) in &file.boot {
        if !cluster.hosts.contains_key(host) {
            return Err(format!("boot: {}", unknown_host(host, cluster)));
        }
        s.boot.insert(host.clone(), ms(*at));
    }
    let boot_end = s.boot.values().copied().max().unwrap_or_default();
    let settle = settle_time(topo, &s);
    let settled_at = boot_end + settle;
    let mut end = settled_at;
    let mut cuts = 0;
    let add = |s: &mut Scenario,
               at: Duration,
               for_: Option<Duration>,
               start: Fault,
               undo: Option<Fault>,
               end: &mut Duration| {
        s.events.push(vigild::sim::Timed { at, fault: start });
        let mut last = at;
        if let (Some(d), Some(undo)) = (for_, undo) {
            last = at + d;
            s.events.push(vigild::sim::Timed {
                at: last,
                fault: undo,
            });
        }
        *end = (*end).max(last);
    };
    for (i, e) in file.events.iter().enumerate() {
        let at = e.at.map_or(settled_at, ms);
        let for_ = e.for_.map(ms);
        let kinds = [e.fail.is_some(), e.cut.is_some(), e.network.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(format!(
                "event {}: give exactly one of `fail`, `cut` or `network`",
                i + 1
            ));
        }
        let (start, undo) = if let Some(f) = &e.fail {
            fail(f, cluster, topo).map_err(|m| format!("event {}: {m}", i + 1))?
        } else if let Some(c) = &e.cut {
            cuts += 1;
            cut(c, &format!("cut{cuts}"), cluster, topo)
                .map_err(|m| format!("event {}: {m}", i + 1))?
        } else {
            let base = s.network.clone();
            let p = profile(e.network.as_ref().expect("counted above"), &base)?;
            (Fault::Network(p), Some(Fault::Network(base)))
        };
        add(&mut s, at, for_, start, undo, &mut end);
    }
    for f in cli {
        let at = f.at.map_or(settled_at, ms);
        let (start, undo) = match &f.kind {
            CliFaultKind::Fail(spec) => fail(spec, cluster, topo)?,
            CliFaultKind::Cut(spec) => {
                cuts += 1;
                cut(spec, &format!("cut{cuts}"), cluster, topo)?
            }
        };
        add(&mut s, at, f.for_.map(ms), start, undo, &mut end);
    }
    s.duration = match duration.or(file.duration) {
        Some(d) => ms(d),
        None => end + settle * 2,
    };
    if s.duration.is_zero() {
        return Err("the duration must be longer than zero".into());
    }
    Ok(Prepared {
        scenario: s,
        description: file.description.clone(),
        max_outage: max_outage.or(file.max_outage).map(ms),
        seed: seed.or(file.seed).unwrap_or(1),
        settled_at,
    })
}

fn unknown_host(host: &str, cluster: &Cluster) -> String {
    let known: Vec<&str> = cluster.hosts.keys().map(String::as_str).collect();
    format!(
        "no host `{host}` in the topology (hosts: {})",
        known.join(", ")
    )
}

fn host_of(name: &str, cluster: &Cluster) -> Result<String, String> {
    if cluster.hosts.contains_key(name) {
        Ok(name.to_string())
    } else {
        Err(unknown_host(name, cluster))
    }
}

fn host_iface(spec: &str, cluster: &Cluster) -> Result<(String, String), String> {
    let (h, i) = spec
        .split_once(':')
        .ok_or_else(|| format!("`{spec}`: write HOST:INTERFACE"))?;
    let host = host_of(h, cluster)?;
    let known = &cluster.hosts[&host].interfaces;
    if !known.contains_key(i) {
        let names: Vec<&str> = known.keys().map(String::as_str).collect();
        return Err(format!(
            "host `{host}` has no interface `{i}` (interfaces: {})",
            names.join(", ")
        ));
    }
    Ok((host, i.to_string()))
}

/// A `fail` spec: the fault and what undoes it.
pub fn fail(
    spec: &str,
    cluster: &Cluster,
    topo: &SimTopology,
) -> Result<(Fault, Option<Fault>), String> {
    let (kind, rest) = spec
        .split_once(':')
        .ok_or_else(|| format!("`{spec}`: write KIND:WHAT, e.g. host:lb1 or link:lb1:eth0"))?;
    Ok(match kind {
        "host" => {
            let host = host_of(rest, cluster)?;
            (
                Fault::PowerOff { host: host.clone() },
                Some(Fault::Restart { host }),
            )
        }
        "vigild" => {
            let host = host_of(rest, cluster)?;
            (
                Fault::Crash { host: host.clone() },
                Some(Fault::Restart { host }),
            )
        }
        "stop" => {
            let host = host_of(rest, cluster)?;
            (
                Fault::Shutdown { host: host.clone() },
                Some(Fault::Restart { host }),
            )
        }
        "link" => {
            let (host, interface) = host_iface(rest, cluster)?;
            (
                Fault::LinkDown {
                    host: host.clone(),
                    interface: interface.clone(),
                },
                Some(Fault::LinkUp { host, interface }),
            )
        }
        "delete" => {
            let (host, interface) = host_iface(rest, cluster)?;
            (
                Fault::LinkDelete {
                    host: host.clone(),
                    interface: interface.clone(),
                },
                Some(Fault::LinkCreate { host, interface }),
            )
        }
        "gateway" | "ref" => {
            let ip: IpAddr = rest
                .parse()
                .map_err(|_| format!("`{rest}` is not an IP address"))?;
            if topo.reference_segment(ip).is_none() {
                return Err(format!(
                    "{ip} is not a reference IP of any segment or router"
                ));
            }
            (
                Fault::ReferenceDark { ip },
                Some(Fault::ReferenceLight { ip }),
            )
        }
        "fence" => {
            let host = host_of(rest, cluster)?;
            (
                Fault::FenceFails {
                    host: host.clone(),
                    fails: true,
                },
                Some(Fault::FenceFails { host, fails: false }),
            )
        }
        "tracker" => {
            let (h, tracker) = rest
                .split_once(':')
                .ok_or_else(|| format!("`{rest}`: write tracker:HOST:NAME"))?;
            let host = host_of(h, cluster)?;
            let known = cluster
                .routers
                .values()
                .filter(|r| r.members.contains_key(&host))
                .any(|r| r.trackers.contains_key(tracker));
            if !known {
                return Err(format!("host `{host}` runs no tracker `{tracker}`"));
            }
            (
                Fault::TrackerFails {
                    host: host.clone(),
                    tracker: tracker.to_string(),
                    fails: true,
                },
                Some(Fault::TrackerFails {
                    host,
                    tracker: tracker.to_string(),
                    fails: false,
                }),
            )
        }
        "server" => {
            let address: IpAddr = rest
                .parse()
                .map_err(|_| format!("`{rest}` is not an IP address"))?;
            (
                Fault::RealServerDown {
                    address,
                    down: true,
                },
                Some(Fault::RealServerDown {
                    address,
                    down: false,
                }),
            )
        }
        other => {
            return Err(format!(
                "unknown failure kind `{other}` (host, vigild, stop, link, delete, gateway, fence, tracker, server)"
            ));
        }
    })
}

fn endpoints(
    list: &str,
    segment: &str,
    cluster: &Cluster,
    topo: &SimTopology,
) -> Result<Vec<Endpoint>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            if let Ok(ip) = n.parse::<IpAddr>() {
                if topo.reference_segment(ip) != Some(segment) {
                    return Err(format!("{ip} is not a reference IP on segment `{segment}`"));
                }
                return Ok(Endpoint::Reference(ip));
            }
            let host = host_of(n, cluster)?;
            if cluster.hosts[&host].interfaces_on(segment).next().is_none() {
                return Err(format!(
                    "host `{host}` has no interface on segment `{segment}`"
                ));
            }
            Ok(Endpoint::Host(host))
        })
        .collect()
}

/// A `cut` spec: the partition and its healing.
pub fn cut(
    spec: &str,
    id: &str,
    cluster: &Cluster,
    topo: &SimTopology,
) -> Result<(Fault, Option<Fault>), String> {
    let (segment, sides) = match spec.split_once(':') {
        Some((s, rest)) => (s, Some(rest)),
        None => (spec, None),
    };
    if !cluster.segments.contains_key(segment) {
        let known: Vec<&str> = cluster.segments.keys().map(String::as_str).collect();
        return Err(format!(
            "no segment `{segment}` in the topology (segments: {})",
            known.join(", ")
        ));
    }
    let c = match sides {
        None => Cut::segment(segment),
        Some(sides) => {
            let (a, b) = match sides.split_once('/') {
                Some((a, b)) => (a, b),
                None => (sides, ""),
            };
            let a = endpoints(a, segment, cluster, topo)?;
            let b = endpoints(b, segment, cluster, topo)?;
            if a.is_empty() {
                return Err(format!(
                    "`{spec}`: name what is cut off, e.g. {segment}:HOST"
                ));
            }
            Cut::between(Some(segment), a, b)
        }
    };
    Ok((
        Fault::Cut {
            id: id.to_string(),
            cut: c,
        },
        Some(Fault::Heal { id: id.to_string() }),
    ))
}
