//! A fleet of keepalived.conf files → one topology per host.
//!
//! Reading a host gives its instances, scripts, sync groups and virtual
//! servers with their spans (`HostConf`). The fleet step then infers
//! segments, joins instances into routers, and writes every host's share
//! of the cluster as a `Topology` whose spans are offsets in the host's
//! files laid end to end (see [`crate::load::LoadedFile::layout`]).
//!
//! keepalived's defaults that differ from Vigil's (VRRP version 2, on-fail
//! `remove` for real servers) are written explicitly, at the span of the
//! statement they belong to, so that two hosts that disagree are told
//! apart from one that relies on a default.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use vigil_schema::span::Sp;
use vigil_schema::topology::{self as t, AuthKind, InitialState, OnFail, Preempt};
use vigil_schema::units::{Cidr, Duration};

use super::host::{CheckKind, HostConf, Instance, Script, V, Vip, VsConf, read_host, v};
use super::parse::ReadError;
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::{IoFailure, LoadedFile};
use crate::model::{At, Conflict, ObjectKind};
use crate::source::{FileId, SourceMap, Span};

/// One host's main keepalived.conf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSource {
    pub host: String,
    pub path: PathBuf,
}

/// What the operator tells the importer that keepalived.conf does not say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `--segment NAME=CIDR`: the segment holding this subnet is called NAME.
    pub segments: Vec<(String, Cidr)>,
    /// `--cluster NAME`.
    pub cluster: Option<String>,
}

/// The fleet, read and mapped.
#[derive(Debug, Default)]
pub struct Fleet {
    pub sources: SourceMap,
    /// One per host, for [`crate::resolve::resolve`].
    pub files: Vec<LoadedFile>,
    /// Reader errors, values that could not be read, unsupported constructs.
    pub diagnostics: Vec<Diagnostic>,
    pub io_failures: Vec<IoFailure>,
    /// Disagreements between hosts that the per-host topologies cannot
    /// express, added to the resolved model's conflicts.
    pub conflicts: Vec<Conflict>,
    /// Codes of lints whose findings mean nothing for an imported fleet
    /// (interface addresses are not in keepalived.conf).
    pub muted: Vec<&'static str>,
}

impl Fleet {
    /// Whether a read error stops the check (like a TOML syntax error).
    pub fn failed(&self) -> bool {
        !self.io_failures.is_empty()
            || self.diagnostics.iter().any(|d| {
                d.severity == Severity::Error
                    && (d.code == ReadError::Syntax.code() || d.code == ReadError::Include.code())
            })
    }
}

/// The hosts a command-line argument names: `HOST=FILE`, or a directory
/// with one sub-directory (holding `keepalived.conf`) or one file per host.
pub fn expand_args(args: &[String]) -> (Vec<HostSource>, Vec<IoFailure>) {
    let mut hosts = Vec::new();
    let mut failures = Vec::new();
    for arg in args {
        if let Some((host, file)) = arg.split_once('=') {
            hosts.push(HostSource {
                host: host.to_string(),
                path: PathBuf::from(file),
            });
            continue;
        }
        let path = Path::new(arg);
        if !path.is_dir() {
            failures.push(IoFailure {
                path: arg.clone(),
                message: "not a directory; name a single host's file as HOST=FILE".into(),
            });
            continue;
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(e) => e.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) => {
                failures.push(IoFailure {
                    path: arg.clone(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        entries.sort();
        let before = hosts.len();
        for entry in entries {
            let Some(name) = entry.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if entry.is_dir() {
                let conf = entry.join("keepalived.conf");
                if conf.is_file() {
                    hosts.push(HostSource {
                        host: name,
                        path: conf,
                    });
                }
            } else if entry.is_file()
                && let Some(host) = name.strip_suffix(".conf")
            {
                let host = host.strip_suffix(".keepalived").unwrap_or(host).to_string();
                hosts.push(HostSource { host, path: entry });
            }
        }
        if hosts.len() == before {
            failures.push(IoFailure {
                path: arg.clone(),
                message: "holds no host: expected HOST/keepalived.conf or HOST.conf entries".into(),
            });
        }
    }
    (hosts, failures)
}

// ---------------------------------------------------------------- fleet

/// Reads every host and maps the fleet.
pub fn read_fleet(hosts: &[HostSource], options: &Options) -> Fleet {
    let mut fleet = Fleet::default();
    let mut confs = Vec::new();
    for h in hosts {
        if !h.path.is_file() {
            fleet.io_failures.push(IoFailure {
                path: h.path.display().to_string(),
                message: if h.path.exists() {
                    "is not a regular file".into()
                } else {
                    "no such file".into()
                },
            });
            continue;
        }
        confs.push(read_host(h, &mut fleet.sources, &mut fleet.diagnostics));
    }
    map(&mut fleet, &confs, options);
    fleet
}

/// Union-find over (host, interface) nodes.
struct Dsu(Vec<usize>);
impl Dsu {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

fn network(c: Cidr) -> Cidr {
    Cidr::new(c.network(), c.prefix).unwrap_or(c)
}

/// A name for a subnet's segment: `10.20.0.0_24`.
fn subnet_name(c: Cidr) -> String {
    format!("{}_{}", c.network(), c.prefix).replace(':', "-")
}

struct Layout {
    bases: HashMap<FileId, usize>,
    layout: Vec<(usize, FileId)>,
}

impl Layout {
    fn new(files: &[FileId], sources: &SourceMap) -> Self {
        let mut bases = HashMap::new();
        let mut layout = Vec::new();
        let mut at = 0usize;
        for f in files {
            bases.insert(*f, at);
            layout.push((at, *f));
            at += sources.file(*f).text.len() + 1;
        }
        Layout { bases, layout }
    }
    fn r(&self, span: &Span) -> Range<usize> {
        let base = self.bases.get(&span.file).copied().unwrap_or(0);
        base + span.range.start..base + span.range.end
    }
    fn sp<T>(&self, value: T, span: &Span) -> Sp<T> {
        Sp {
            value,
            span: self.r(span),
        }
    }
    fn of<T: Clone>(&self, x: &V<T>) -> Sp<T> {
        self.sp(x.value.clone(), &x.span)
    }
}

/// The router a keepalived instance joined.
struct Joined {
    router: String,
    segment: String,
}

fn map(fleet: &mut Fleet, confs: &[HostConf], options: &Options) {
    // Nodes: (host index, interface) → subnets.
    let mut nodes: Vec<(usize, String)> = Vec::new();
    let mut node_of: HashMap<(usize, String), usize> = HashMap::new();
    let mut subnets: Vec<Vec<(Cidr, Span)>> = Vec::new();
    let mut local: Vec<Vec<(Cidr, Span)>> = Vec::new();
    for (hi, h) in confs.iter().enumerate() {
        for i in &h.instances {
            let ifname = i
                .interface
                .as_ref()
                .map_or_else(String::new, |w| w.text.clone());
            let id = *node_of.entry((hi, ifname.clone())).or_insert_with(|| {
                nodes.push((hi, ifname.clone()));
                subnets.push(Vec::new());
                local.push(Vec::new());
                nodes.len() - 1
            });
            // Every VIP written with a prefix names its subnet (link-local
            // IPv6 VIPs name none); `unicast_src_ip` takes the prefix of the
            // first VIP of its family.
            let informative = |v: &&Vip| {
                v.has_prefix
                    && v.cidr.value.prefix < max_len(v.cidr.value.addr)
                    && !is_link_local(v.cidr.value.addr)
            };
            for p in i.vips.iter().filter(informative) {
                let c = network(p.cidr.value);
                if !subnets[id].iter().any(|(x, _)| *x == c) {
                    subnets[id].push((c, p.cidr.span.clone()));
                }
            }
            // A link-local subnet is on every IPv6 link: listed, not joined by.
            for p in i
                .vips
                .iter()
                .filter(|v| v.has_prefix && is_link_local(v.cidr.value.addr))
            {
                let c = network(p.cidr.value);
                if !local[id].iter().any(|(x, _)| *x == c) {
                    local[id].push((c, p.cidr.span.clone()));
                }
            }
            if let Some(src) = &i.src
                && let Some(p) = i
                    .vips
                    .iter()
                    .filter(informative)
                    .find(|v| v.cidr.value.addr.is_ipv4() == src.value.is_ipv4())
                && let Some(c) = Cidr::new(src.value, p.cidr.value.prefix)
                && !subnets[id].iter().any(|(x, _)| *x == network(c))
            {
                subnets[id].push((network(c), src.span.clone()));
            }
            for o in &options.segments {
                let hit = i.vips.iter().any(|v| o.1.contains(v.cidr.value.addr))
                    || i.src.as_ref().is_some_and(|s| o.1.contains(s.value));
                if hit {
                    let span = i
                        .interface
                        .as_ref()
                        .map_or(i.name.span.clone(), |w| w.span.clone());
                    subnets[id].push((network(o.1), span));
                }
            }
        }
    }
    let mut dsu = Dsu((0..nodes.len()).collect());
    let mut by_subnet: HashMap<Cidr, usize> = HashMap::new();
    let mut by_ifname: HashMap<String, usize> = HashMap::new();
    for (id, subs) in subnets.iter().enumerate() {
        if subs.is_empty() {
            let first = *by_ifname.entry(nodes[id].1.clone()).or_insert(id);
            dsu.union(first, id);
        }
        for (c, _) in subs {
            let first = *by_subnet.entry(*c).or_insert(id);
            dsu.union(first, id);
        }
    }
    // Segment names and subnets by root.
    let mut seg_name: BTreeMap<usize, String> = BTreeMap::new();
    let mut seg_subnets: BTreeMap<usize, Vec<(Cidr, usize, Span)>> = BTreeMap::new();
    for id in 0..nodes.len() {
        let root = dsu.find(id);
        for (c, span) in subnets[id].iter().chain(&local[id]) {
            let list = seg_subnets.entry(root).or_default();
            if !list.iter().any(|(x, _, _)| x == c) {
                list.push((*c, nodes[id].0, span.clone()));
            }
        }
    }
    let mut used = BTreeSet::new();
    for id in 0..nodes.len() {
        let root = dsu.find(id);
        if seg_name.contains_key(&root) {
            continue;
        }
        let subs = seg_subnets.get(&root).cloned().unwrap_or_default();
        let named = options
            .segments
            .iter()
            .find(|(_, c)| subs.iter().any(|(s, _, _)| network(*c) == *s))
            .map(|(n, _)| n.clone());
        let mut name = named
            .or_else(|| subs.first().map(|(c, _, _)| subnet_name(*c)))
            .unwrap_or_else(|| {
                format!(
                    "if-{}",
                    if nodes[root].1.is_empty() {
                        "unknown"
                    } else {
                        &nodes[root].1
                    }
                )
            });
        let base = name.clone();
        let mut k = 2;
        while !used.insert(name.clone()) {
            name = format!("{base}-{k}");
            k += 1;
        }
        if subs.is_empty() {
            // Nothing says what the subnet is: the segment's VIPs stand for
            // it (as host routes), and the operator is told how to name it.
            let mut vips: Vec<(Cidr, usize, Span)> = Vec::new();
            for (hi, h) in confs.iter().enumerate() {
                for i in &h.instances {
                    let ifname = i.interface.as_ref().map_or("", |w| w.text.as_str());
                    if dsu.find(node_of[&(hi, ifname.to_string())]) != root {
                        continue;
                    }
                    for v in &i.vips {
                        let c = Cidr::new(v.cidr.value.addr, max_len(v.cidr.value.addr))
                            .unwrap_or(v.cidr.value);
                        if !vips.iter().any(|(x, _, _)| *x == c) {
                            vips.push((c, hi, v.cidr.span.clone()));
                        }
                    }
                }
            }
            let at = confs[nodes[root].0]
                .instances
                .iter()
                .find_map(|i| {
                    i.interface
                        .as_ref()
                        .filter(|w| w.text == nodes[root].1)
                        .map(|w| w.span.clone())
                })
                .unwrap_or_else(|| Span::new(confs[nodes[root].0].main, 0..0));
            fleet.diagnostics.push(
                ReadError::Unsupported
                    .at(
                        at,
                        format!(
                            "no subnet is known for the segment of interface `{}` (VIPs without a prefix length, \
                             no unicast_src_ip): it is called `{name}` and its VIPs stand for its subnet",
                            nodes[root].1
                        ),
                    )
                    .label("segment inferred from the interface name")
                    .help("write the VIPs with their prefix length (10.0.0.100/24), or name the segment: `--segment NAME=CIDR`"),
            );
            seg_subnets.insert(root, vips);
        }
        seg_name.insert(root, name);
    }

    // Join instances into routers: by (segment, vrid); a host with two
    // instances in one group keeps them apart by instance name.
    let mut groups: BTreeMap<(String, i64), Vec<(usize, usize)>> = BTreeMap::new();
    let mut joined: HashMap<(usize, usize), Joined> = HashMap::new();
    for (hi, h) in confs.iter().enumerate() {
        for (ii, i) in h.instances.iter().enumerate() {
            let ifname = i
                .interface
                .as_ref()
                .map_or_else(String::new, |w| w.text.clone());
            let id = node_of[&(hi, ifname)];
            let seg = seg_name[&dsu.find(id)].clone();
            let vrid = i.vrid.as_ref().map_or(0, |v| v.value);
            groups.entry((seg, vrid)).or_default().push((hi, ii));
        }
    }
    let mut names_used: BTreeSet<String> = BTreeSet::new();
    for ((seg, vrid), members) in &groups {
        let mut per_host: HashMap<usize, usize> = HashMap::new();
        for (hi, _) in members {
            *per_host.entry(*hi).or_default() += 1;
        }
        let split = per_host.values().any(|n| *n > 1);
        let mut clusters: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
        if split {
            for (hi, ii) in members {
                clusters
                    .entry(confs[*hi].instances[*ii].name.text.clone())
                    .or_default()
                    .push((*hi, *ii));
            }
        } else {
            // The most common instance name (first in name order on a tie).
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (hi, ii) in members {
                *counts
                    .entry(&confs[*hi].instances[*ii].name.text)
                    .or_default() += 1;
            }
            let best = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(n, _)| n.to_string())
                .unwrap_or_default();
            clusters.insert(best, members.clone());
        }
        for (name, ms) in clusters {
            let mut rname = ident(&name);
            if !names_used.insert(rname.clone()) {
                rname = format!("{rname}-{seg}-{vrid}");
                names_used.insert(rname.clone());
            }
            for m in ms {
                joined.insert(
                    m,
                    Joined {
                        router: rname.clone(),
                        segment: seg.clone(),
                    },
                );
            }
        }
    }

    // Tracker host lists: a tracker on only some members names them.
    let mut tracker_hosts: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut router_hosts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (hi, h) in confs.iter().enumerate() {
        for (ii, i) in h.instances.iter().enumerate() {
            let j = &joined[&(hi, ii)];
            router_hosts
                .entry(j.router.clone())
                .or_default()
                .insert(h.name.clone());
            for tn in tracker_names(h, i) {
                tracker_hosts
                    .entry((j.router.clone(), tn))
                    .or_default()
                    .insert(h.name.clone());
            }
        }
    }

    // Per host topology.
    // Sync groups by name: the defining host and its routers.
    let mut defined_groups: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    // Virtual servers by name: the defining host and its signature.
    let mut defined_vs: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut router_settings_from: BTreeSet<String> = BTreeSet::new();
    let cluster_name = options
        .cluster
        .clone()
        .or_else(|| confs.iter().find_map(|h| h.cluster_marker.clone()))
        .unwrap_or_else(|| "keepalived".into());
    let mut addressless = false;
    for (hi, h) in confs.iter().enumerate() {
        let lay = Layout::new(&h.files, &fleet.sources);
        let main_span = Span::new(h.main, 0..0);
        let mut topo = t::Topology::default();
        if hi == 0 {
            // One startup delay for the cluster when every host states the
            // same; otherwise Vigil's per-host default (the longest
            // master-down interval of the host's routers).
            let delays: BTreeSet<Option<Duration>> = confs
                .iter()
                .map(|c| c.startup_delay.as_ref().map(|d| d.value))
                .collect();
            let startup_delay = match (delays.len(), &h.startup_delay) {
                (1, Some(d)) => Some(lay.of(d)),
                _ => None,
            };
            topo.cluster = Some(lay.sp(
                t::Cluster {
                    name: lay.sp(cluster_name.clone(), &main_span),
                    startup_delay,
                },
                &main_span,
            ));
        }
        // Host and interfaces.
        let mut host = t::Host {
            interface: BTreeMap::new(),
            runtime: None,
            description: None,
            metrics: None,
        };
        let mut rs_of: BTreeMap<String, Vec<(String, &Instance)>> = BTreeMap::new();
        for (ii, i) in h.instances.iter().enumerate() {
            let j = &joined[&(hi, ii)];
            let ifname = i
                .interface
                .as_ref()
                .map_or_else(String::new, |w| w.text.clone());
            let if_span = i
                .interface
                .as_ref()
                .map_or(i.name.span.clone(), |w| w.span.clone());
            let seg_root = dsu.find(node_of[&(hi, ifname.clone())]);
            let entry = host.interface.entry(ifname.clone()).or_insert_with(|| {
                Box::new(lay.sp(
                    t::Interface {
                        segment: lay.sp(j.segment.clone(), &if_span),
                        addresses: Vec::new(),
                    },
                    &if_span,
                ))
            });
            if let Some(src) = &i.src {
                let prefix = seg_subnets
                    .get(&seg_root)
                    .and_then(|s| s.iter().find(|(c, _, _)| c.contains(src.value)))
                    .map_or(max_len(src.value), |(c, _, _)| c.prefix);
                if let Some(c) = Cidr::new(src.value, prefix)
                    && !entry.value.addresses.iter().any(|a| a.value == c)
                {
                    entry.value.addresses.push(lay.sp(c, &src.span));
                }
            }
            rs_of
                .entry(j.router.clone())
                .or_default()
                .push((j.segment.clone(), i));
        }
        for iface in host.interface.values() {
            if iface.value.addresses.is_empty() {
                addressless = true;
            }
        }
        // Segments this host uses (subnets from anywhere: same list on every host).
        for (root, name) in &seg_name {
            let uses = host
                .interface
                .values()
                .any(|i| i.value.segment.value == *name);
            if !uses {
                continue;
            }
            let subs = seg_subnets.get(root).cloned().unwrap_or_default();
            let span = host
                .interface
                .values()
                .find(|i| i.value.segment.value == *name)
                .map(|i| i.span.clone())
                .unwrap_or(0..0);
            topo.segment.insert(
                name.clone(),
                Sp {
                    value: t::Segment {
                        subnets: subs
                            .iter()
                            .map(|(c, owner, s)| {
                                // A subnet first seen in another host's file:
                                // point at this host's interface instead.
                                if *owner == hi {
                                    lay.sp(*c, s)
                                } else {
                                    Sp {
                                        value: *c,
                                        span: span.clone(),
                                    }
                                }
                            })
                            .collect(),
                        reference_ips: Vec::new(),
                        reserved_vrids: Vec::new(),
                        description: None,
                    },
                    span,
                },
            );
        }
        topo.host.insert(h.name.clone(), lay.sp(host, &main_span));
        // Routers.
        for (ii, i) in h.instances.iter().enumerate() {
            let j = &joined[&(hi, ii)];
            let all_hosts = router_hosts.get(&j.router).cloned().unwrap_or_default();
            let first_def = router_settings_from.insert(j.router.clone());
            let r = router(
                &lay,
                h,
                i,
                j,
                first_def,
                &all_hosts,
                &tracker_hosts,
                &mut fleet.diagnostics,
            );
            if topo.router.contains_key(&j.router) {
                // Two instances of this host joined one router: impossible
                // by construction (they are split by name), kept for safety.
                continue;
            }
            topo.router.insert(j.router.clone(), r);
        }
        // Sync groups: defined by the first host that has them.
        for (name, members) in &h.sync_groups {
            let gname = ident(&name.text);
            let routers: Vec<Sp<String>> = members
                .iter()
                .map(|m| {
                    let r = h
                        .instances
                        .iter()
                        .position(|i| i.name.text == m.text)
                        .map_or_else(|| m.text.clone(), |ii| joined[&(hi, ii)].router.clone());
                    lay.sp(r, &m.span)
                })
                .collect();
            let set: BTreeSet<String> = routers.iter().map(|r| r.value.clone()).collect();
            if let Some((first, kept)) = defined_groups.get(&gname) {
                if *kept != set {
                    fleet.diagnostics.push(
                        ReadError::CopiesDiffer
                            .at(
                                name.span.clone(),
                                format!(
                                    "sync group `{gname}` on `{}` groups other routers than on `{first}`: the \
                                     hosts fail over different sets together; `{first}`'s is imported",
                                    h.name
                                ),
                            )
                            .label("differs from the first host's")
                            .help("list the same instances in every host's vrrp_sync_group"),
                    );
                }
                continue;
            }
            defined_groups.insert(gname.clone(), (h.name.clone(), set));
            topo.sync_group
                .insert(gname, lay.sp(t::SyncGroup { routers }, &name.span));
        }
        // Virtual servers: defined by the first host that has them.
        for vs in &h.virtual_servers {
            let name = vs_name(vs);
            let signature = vs.signature();
            if let Some((first, kept)) = defined_vs.get(&name) {
                if *kept != signature {
                    fleet.diagnostics.push(
                        ReadError::CopiesDiffer
                            .at(
                                vs.span.clone(),
                                format!(
                                    "virtual server `{name}` on `{}` differs from the one on `{first}` \
                                     (scheduler, method, persistence, quorum, real servers or check): after a \
                                     failover the other director balances differently; `{first}`'s is imported",
                                    h.name
                                ),
                            )
                            .label("differs from the first director's")
                            .help("make the virtual_server blocks of all directors identical (keep them in one included file)"),
                    );
                }
                continue;
            }
            defined_vs.insert(name.clone(), (h.name.clone(), signature));
            if h.instances.is_empty() {
                fleet.diagnostics.push(
                    ReadError::Unsupported
                        .at(
                            vs.span.clone(),
                            format!(
                                "virtual server `{name}` runs on host `{}`, which has no vrrp_instance: Vigil \
                                 programs a virtual server on the master of a router, so it is not imported",
                                h.name
                            ),
                        )
                        .label("LVS without VRRP")
                        .help("import it together with the vrrp_instance whose VIP carries it (often in another file or on the directors' peers)"),
                );
                continue;
            }
            let router = vs
                .address
                .as_ref()
                .and_then(|a| {
                    h.instances
                        .iter()
                        .enumerate()
                        .find(|(_, i)| i.vips.iter().any(|v| v.cidr.value.addr == a.value))
                })
                .or_else(|| h.instances.iter().enumerate().next())
                .map_or_else(String::new, |(ii, _)| joined[&(hi, ii)].router.clone());
            topo.virtual_server
                .insert(name, virtual_server_topo(&lay, vs, router));
        }
        fleet.files.push(LoadedFile {
            file: h.main,
            topology: topo,
            layout: lay.layout,
        });
    }
    if addressless {
        fleet.muted.push("member-without-address");
    }
    // keepalived.conf names only the interfaces its instances run on: a
    // tracked interface is not known to be missing.
    fleet.muted.push("tracked-interface-unknown");
    unicast_symmetry(fleet, confs, &joined);
    auth_presence(fleet, confs, &joined);
    notify_differences(fleet, confs, &joined);
}

fn is_link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

fn max_len(a: IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

/// The name a tracker gets: the script name without the `ROUTER_` prefix
/// `vigil build` adds; arbitration pings are not trackers.
fn tracker_names(h: &HostConf, i: &Instance) -> Vec<String> {
    let mut out: Vec<String> = i
        .track_scripts
        .iter()
        .filter(|(n, w)| is_arbitration(h, &n.value, w.as_ref().map(|w| w.value)).is_none())
        .map(|(n, _)| script_tracker_name(&i.name.text, &n.value))
        .collect();
    out.extend(i.track_if.iter().map(|(n, _)| ident(&n.value)));
    out
}

fn script_tracker_name(instance: &str, script: &str) -> String {
    let name = script
        .strip_prefix(&format!("{instance}_"))
        .filter(|s| !s.is_empty())
        .unwrap_or(script);
    ident(name)
}

/// A tracked script that pings one address and puts the instance in FAULT
/// (weight 0): keepalived's way to approximate arbitration. Returns the
/// address, the `-W` wait and the script.
fn is_arbitration<'a>(
    h: &'a HostConf,
    name: &str,
    weight: Option<i64>,
) -> Option<(IpAddr, Option<u64>, &'a (Span, Script))> {
    let s = h.scripts.get(name)?;
    let cmd = s.1.command.as_ref()?;
    let prog = cmd.value.first()?;
    if !(prog == "ping" || prog.ends_with("/ping") || prog == "ping6" || prog.ends_with("/ping6")) {
        return None;
    }
    if weight.or(s.1.weight.as_ref().map(|w| w.value)).unwrap_or(0) != 0 {
        return None;
    }
    let ip = cmd.value.last()?.parse::<IpAddr>().ok()?;
    let wait = cmd
        .value
        .windows(2)
        .find(|w| w[0] == "-W")
        .and_then(|w| w[1].parse::<u64>().ok());
    Some((ip, wait, s))
}

#[allow(clippy::too_many_arguments)]
fn router(
    lay: &Layout,
    h: &HostConf,
    i: &Instance,
    j: &Joined,
    first_def: bool,
    all_hosts: &BTreeSet<String>,
    tracker_hosts: &BTreeMap<(String, String), BTreeSet<String>>,
    diags: &mut Vec<Diagnostic>,
) -> Sp<t::Router> {
    let head = &i.name.span;
    let vrid = i
        .vrid
        .as_ref()
        .map_or_else(|| lay.sp(0, head), |x| lay.of(x));
    if i.vrid.is_none() {
        diags.push(
            ReadError::Value
                .at(head.clone(), format!("vrrp_instance `{}` has no virtual_router_id", i.name.text))
                .label("no virtual_router_id")
                .help("keepalived refuses an instance without one; add `virtual_router_id N` (1..255, unique on the segment)"),
        );
    }
    if i.interface.is_none() {
        diags.push(
            ReadError::Value
                .at(
                    head.clone(),
                    format!("vrrp_instance `{}` has no interface", i.name.text),
                )
                .label("no interface")
                .help("keepalived refuses an instance without one; add `interface IFNAME`"),
        );
    }
    let family_v6 = i.vips.first().is_some_and(|v| v.cidr.value.addr.is_ipv6());
    let version = match (&i.version, &h.default_version) {
        (Some(x), _) => lay.of(x),
        (None, Some(d)) => lay.sp(d.value, head),
        (None, None) => lay.sp(if family_v6 { 3 } else { 2 }, head),
    };
    let mut track = BTreeMap::new();
    let mut raised = 0i64;
    let mut arbitration = None;
    for (n, w) in &i.track_scripts {
        if let Some((ip, wait, (sspan, s))) =
            is_arbitration(h, &n.value, w.as_ref().map(|w| w.value))
        {
            arbitration = Some(lay.sp(
                t::Arbitration {
                    reference_ips: vec![lay.sp(
                        ip,
                        &s.command.as_ref().map_or(sspan.clone(), |c| c.span.clone()),
                    )],
                    interval: s.interval.as_ref().map(|x| lay.of(x)),
                    // `ping -W` waits whole seconds: a wait that is not
                    // below the probe interval stands for half of it.
                    timeout: wait.map(|w| {
                        let every = s.interval.as_ref().map_or(1000, |i| i.value.as_millis());
                        let ms = if w * 1000 < every {
                            w * 1000
                        } else {
                            every / 2
                        };
                        lay.sp(
                            Duration::from_millis(ms),
                            &s.command.as_ref().map_or(sspan.clone(), |c| c.span.clone()),
                        )
                    }),
                    attempts: s.fall.as_ref().map(|x| lay.of(x)),
                    release_after: None,
                    fence: None,
                    self_fence: None,
                    lease: None,
                },
                &n.span,
            ));
            continue;
        }
        let tname = script_tracker_name(&i.name.text, &n.value);
        let Some((sspan, s)) = h.scripts.get(&n.value) else {
            diags.push(
                ReadError::Value
                    .at(n.span.clone(), format!("track_script `{}` names no vrrp_script of host `{}`", n.value, h.name))
                    .label("unknown script")
                    .help("keepalived ignores the tracking; define `vrrp_script NAME { script ... }` or remove the line"),
            );
            continue;
        };
        let weight = w.clone().or(s.weight.clone());
        raised += weight.as_ref().map_or(0, |w| w.value.max(0));
        let on_fail = on_fail(lay, weight.as_ref(), n, diags, &tname);
        let hosts = hosts_list(lay, tracker_hosts, all_hosts, &j.router, &tname, &n.span);
        track.insert(
            tname,
            Box::new(lay.sp(
                t::Tracker {
                    interface: None,
                    command: s.command.as_ref().map(|c| lay.of(c)),
                    interval: s.interval.as_ref().map(|x| lay.of(x)),
                    timeout: s.timeout.as_ref().map(|x| lay.of(x)),
                    rise: s.rise.as_ref().map(|x| lay.of(x)),
                    fall: s.fall.as_ref().map(|x| lay.of(x)),
                    on_fail,
                    hosts,
                },
                sspan,
            )),
        );
    }
    for (n, w) in &i.track_if {
        let tname = ident(&n.value);
        let weight = w.map(|x| v(x, n.span.clone()));
        raised += weight.as_ref().map_or(0, |w| w.value.max(0));
        let on_fail = on_fail(lay, weight.as_ref(), n, diags, &tname);
        let hosts = hosts_list(lay, tracker_hosts, all_hosts, &j.router, &tname, &n.span);
        track.insert(
            tname,
            Box::new(lay.sp(
                t::Tracker {
                    interface: Some(lay.of(n)),
                    command: None,
                    interval: None,
                    timeout: None,
                    rise: None,
                    fall: None,
                    on_fail,
                    hosts,
                },
                &n.span,
            )),
        );
    }
    let mut member = BTreeMap::new();
    member.insert(
        h.name.clone(),
        Box::new(
            lay.sp(
                t::Member {
                    // Positive weights raise the priority while their
                    // tracker succeeds: the base priority includes them.
                    priority: {
                        let mut p = i
                            .priority
                            .as_ref()
                            .map_or_else(|| lay.sp(100, head), |p| lay.of(p));
                        p.value += raised;
                        p
                    },
                    interface: i
                        .interface
                        .as_ref()
                        .map(|w| lay.sp(w.text.clone(), &w.span)),
                    initial_state: i
                        .state
                        .as_ref()
                        .filter(|s| s.value == InitialState::Master)
                        .map(|s| lay.of(s)),
                },
                head,
            ),
        ),
    );
    let garp = (first_def && (i.garp_repeat.is_some() || i.garp_refresh.is_some())).then(|| {
        lay.sp(
            t::Garp {
                repeat: i.garp_repeat.as_ref().map(|x| lay.of(x)),
                interval: None,
                refresh: i.garp_refresh.as_ref().map(|x| lay.of(x)),
            },
            head,
        )
    });
    let notify = (first_def && i.notify.iter().any(Option::is_some)).then(|| {
        let n = |k: usize| i.notify[k].as_ref().map(|x| lay.of(x));
        lay.sp(
            t::Notify {
                master: n(0),
                backup: n(1),
                fault: n(2),
                stop: n(3),
                any: n(4),
                timeout: None,
            },
            head,
        )
    });
    let vips_span = i.vips_span.clone().unwrap_or_else(|| head.clone());
    lay.sp(
        t::Router {
            segment: lay.sp(
                j.segment.clone(),
                i.interface.as_ref().map_or(head, |w| &w.span),
            ),
            vrid,
            version: Some(version),
            advert_interval: Some(
                i.advert
                    .as_ref()
                    .map_or_else(|| lay.sp(Duration::from_secs(1), head), |x| lay.of(x)),
            ),
            vips: lay.sp(i.vips.iter().map(|x| lay.of(&x.cidr)).collect(), &vips_span),
            preempt: Some(match &i.nopreempt {
                Some(s) => lay.sp(Preempt::Never, s),
                None => lay.sp(Preempt::Always, head),
            }),
            preempt_delay: i
                .preempt_delay
                .as_ref()
                .filter(|d| d.value.as_millis() > 0)
                .map(|x| lay.of(x)),
            accept: Some(
                i.accept
                    .as_ref()
                    .map_or_else(|| lay.sp(true, head), |x| lay.of(x)),
            ),
            unicast: Some(match &i.peers_span {
                Some(s) => lay.sp(true, s),
                None => lay.sp(false, head),
            }),
            auth: i.auth.as_ref().map(|(s, p)| {
                lay.sp(
                    t::Auth {
                        kind: lay.sp(AuthKind::Pass, s),
                        password: lay.of(p),
                    },
                    &p.span,
                )
            }),
            arbitration,
            accept_split_brain: None,
            heartbeat_paths: Vec::new(),
            garp,
            notify,
            member,
            track,
            vmac: i.use_vmac.as_ref().map(|s| lay.sp(true, s)),
        },
        head,
    )
}

fn on_fail(
    lay: &Layout,
    weight: Option<&V<i64>>,
    at: &V<String>,
    diags: &mut Vec<Diagnostic>,
    name: &str,
) -> Sp<OnFail> {
    match weight {
        None => lay.sp(OnFail::Fault, &at.span),
        Some(w) if w.value == 0 => lay.sp(OnFail::Fault, &w.span),
        Some(w) if w.value < 0 => lay.sp(OnFail::Demote(lay.sp(-w.value, &w.span)), &w.span),
        Some(w) => {
            diags.push(
                ReadError::Unsupported
                    .at(w.span.clone(), format!("tracker `{name}` raises the priority by {} while it succeeds", w.value))
                    .label("positive weight")
                    .help("Vigil trackers lower the priority when they fail: it is imported as the member's priority plus N with `on_fail = { demote = N }`, which gives the same elections while it succeeds and when it fails"),
            );
            lay.sp(OnFail::Demote(lay.sp(w.value, &w.span)), &w.span)
        }
    }
}

fn hosts_list(
    lay: &Layout,
    tracker_hosts: &BTreeMap<(String, String), BTreeSet<String>>,
    all: &BTreeSet<String>,
    router: &str,
    tracker: &str,
    span: &Span,
) -> Vec<Sp<String>> {
    match tracker_hosts.get(&(router.to_string(), tracker.to_string())) {
        Some(hs) if hs != all => hs.iter().map(|h| lay.sp(h.clone(), span)).collect(),
        _ => Vec::new(),
    }
}

fn vs_name(vs: &VsConf) -> String {
    let proto = match vs.protocol.as_ref().map(|p| p.value) {
        Some(t::Protocol::Udp) => "-udp",
        Some(t::Protocol::Sctp) => "-sctp",
        _ => "",
    };
    match (&vs.fwmark, &vs.address) {
        (Some(m), _) => format!("fwmark-{}", m.value),
        (None, Some(a)) => format!(
            "{}-{}{proto}",
            a.value.to_string().replace(':', "-"),
            vs.port.as_ref().map_or(0, |p| p.value)
        ),
        _ => "virtual-server".into(),
    }
}

fn virtual_server_topo(lay: &Layout, vs: &VsConf, router: String) -> Sp<t::VirtualServer> {
    let first_check = vs
        .real
        .iter()
        .find_map(|r| r.check.as_ref().map(|c| (c, r)));
    let health = first_check.map(|(c, rs)| {
        let port = c
            .port
            .as_ref()
            .filter(|p| rs.port.as_ref().is_none_or(|rp| rp.value != p.value))
            .map(|p| lay.of(p));
        lay.sp(
            t::Health {
                interval: vs.delay_loop.as_ref().map(|x| lay.of(x)),
                timeout: c.timeout.as_ref().map(|x| lay.of(x)),
                rise: None,
                fall: c.retry.as_ref().filter(|r| r.value > 0).map(|x| lay.of(x)),
                warmup: None,
                tcp: matches!(c.kind, CheckKind::Tcp)
                    .then(|| lay.sp(t::TcpCheck { port: port.clone() }, &c.span)),
                http: match &c.kind {
                    CheckKind::Http { path, status, host } => Some(lay.sp(
                        t::HttpCheck {
                            path: path.as_ref().map(|x| lay.of(x)),
                            port: port.clone(),
                            host: host.as_ref().map(|x| lay.of(x)),
                            status: status.as_ref().map(|x| lay.of(x)),
                            body_sha256: None,
                        },
                        &c.span,
                    )),
                    _ => None,
                },
                command: match &c.kind {
                    CheckKind::Command(cmd) => Some(lay.of(cmd)),
                    _ => None,
                },
            },
            &c.span,
        )
    });
    let inhibit = vs.real.iter().find_map(|r| r.inhibit.clone());
    let on_fail = match inhibit {
        Some(s) => lay.sp(t::RealServerOnFail::Inhibit, &s),
        None => lay.sp(t::RealServerOnFail::Remove, &vs.span),
    };
    lay.sp(
        t::VirtualServer {
            router: lay.sp(router, &vs.span),
            address: vs.address.as_ref().map(|x| lay.of(x)),
            port: vs.port.as_ref().map(|x| lay.of(x)),
            protocol: vs.protocol.as_ref().map(|x| lay.of(x)),
            fwmark: vs.fwmark.as_ref().map(|x| lay.of(x)),
            scheduler: vs.scheduler.as_ref().map(|x| lay.of(x)),
            scheduler_flags: vs.flags.iter().map(|x| lay.of(x)).collect(),
            method: vs.method.as_ref().map(|x| lay.of(x)),
            persistence: vs
                .persistence
                .as_ref()
                .filter(|p| p.value.as_millis() > 0)
                .map(|x| lay.of(x)),
            persistence_prefix: vs.granularity.as_ref().map(|x| lay.of(x)),
            quorum: vs
                .quorum
                .as_ref()
                .filter(|q| q.value > 0)
                .map(|x| lay.of(x)),
            hysteresis: vs
                .hysteresis
                .as_ref()
                .filter(|_| vs.quorum.as_ref().is_some_and(|q| q.value > 0))
                .map(|x| lay.of(x)),
            sorry_server: vs.sorry.as_ref().map(|x| lay.of(x)),
            on_fail: Some(on_fail),
            only_on_master: None,
            keep_on_stop: None,
            health,
            real_server: vs
                .real
                .iter()
                .map(|r| {
                    lay.sp(
                        t::RealServer {
                            address: lay.of(&r.address),
                            port: r.port.as_ref().map(|x| lay.of(x)),
                            weight: r.weight.as_ref().map(|x| lay.of(x)),
                            upper_threshold: r
                                .uthreshold
                                .as_ref()
                                .filter(|x| x.value > 0)
                                .map(|x| lay.of(x)),
                            lower_threshold: r
                                .lthreshold
                                .as_ref()
                                .filter(|x| x.value > 0)
                                .map(|x| lay.of(x)),
                        },
                        &r.span,
                    )
                })
                .collect(),
        },
        &vs.span,
    )
}

/// Unicast peers must be symmetric: every member lists every other
/// member's `unicast_src_ip`. Vigil derives the lists, so this is checked
/// here, on the keepalived files.
fn unicast_symmetry(
    fleet: &mut Fleet,
    confs: &[HostConf],
    joined: &HashMap<(usize, usize), Joined>,
) {
    let mut by_router: BTreeMap<&str, Vec<&Instance>> = BTreeMap::new();
    for (hi, h) in confs.iter().enumerate() {
        for (ii, i) in h.instances.iter().enumerate() {
            by_router
                .entry(joined[&(hi, ii)].router.as_str())
                .or_default()
                .push(i);
        }
    }
    for (router, insts) in by_router {
        if !insts.iter().any(|i| i.peers_span.is_some()) {
            continue;
        }
        for a in &insts {
            let Some(src) = &a.src else { continue };
            for b in &insts {
                if std::ptr::eq(*a, *b) {
                    continue;
                }
                let Some(list) = &b.peers_span else { continue };
                if b.peers.iter().any(|p| p.value == src.value) {
                    continue;
                }
                fleet.diagnostics.push(
                    ReadError::UnicastPeers.at(
                        list.clone(),
                        format!(
                            "`{}` does not list `{}`'s address {} in unicast_peer of router `{router}`: `{}` never sends \
                             its adverts there, so `{}` does not hear its master and takes the VIPs too (split brain)",
                            b.host, a.host, src.value, b.host, a.host
                        ),
                    )
                    .label(format!("{} is missing here", src.value))
                    .with(src.span.clone(), format!("`{}`'s unicast_src_ip", a.host))
                    .help(format!("add {} to this unicast_peer block; every member must list every other member", src.value)),
                );
            }
        }
    }
}

/// A router whose instances have a password on some hosts and none on
/// others: the merge cannot see an absent table, so the disagreement is
/// added to the model's conflicts, for `router-definition-conflict`.
fn auth_presence(fleet: &mut Fleet, confs: &[HostConf], joined: &HashMap<(usize, usize), Joined>) {
    let mut by_router: BTreeMap<&str, Vec<&Instance>> = BTreeMap::new();
    for (hi, h) in confs.iter().enumerate() {
        for (ii, i) in h.instances.iter().enumerate() {
            by_router
                .entry(joined[&(hi, ii)].router.as_str())
                .or_default()
                .push(i);
        }
    }
    for (router, insts) in by_router {
        let Some((_, with)) = insts.iter().find_map(|i| i.auth.as_ref()) else {
            continue;
        };
        for i in insts.iter().filter(|i| i.auth.is_none()) {
            fleet.conflicts.push(Conflict {
                kind: ObjectKind::Router,
                name: router.to_string(),
                field: Some("auth".into()),
                kept: At::new("(a password)".into(), with.span.clone()),
                other: At::new("(no authentication)".into(), i.name.span.clone()),
            });
        }
    }
}

/// Notify scripts are per router in the topology; hosts that differ keep
/// the first host's and are told so.
fn notify_differences(
    fleet: &mut Fleet,
    confs: &[HostConf],
    joined: &HashMap<(usize, usize), Joined>,
) {
    let mut first: BTreeMap<&str, &Instance> = BTreeMap::new();
    for (hi, h) in confs.iter().enumerate() {
        for (ii, i) in h.instances.iter().enumerate() {
            let r = joined[&(hi, ii)].router.as_str();
            match first.get(r) {
                None => {
                    first.insert(r, i);
                }
                Some(f) => {
                    let words = |x: &Instance| {
                        x.notify
                            .iter()
                            .map(|n| n.as_ref().map(|n| n.value.clone()))
                            .collect::<Vec<_>>()
                    };
                    if words(f) != words(i) {
                        let span = i
                            .notify
                            .iter()
                            .flatten()
                            .next()
                            .map_or(i.name.span.clone(), |n| n.span.clone());
                        fleet.diagnostics.push(
                            ReadError::Unsupported
                                .at(span, format!("notify scripts of router `{r}` on `{}` differ from `{}`'s", i.host, f.host))
                                .label("differs")
                                .help("a Vigil router has one set of notify hooks for all members; the first host's are imported"),
                        );
                    }
                }
            }
        }
    }
}

/// Names are kept as written: one that cannot be a Vigil name is reported
/// by `unsafe-name` at its place in the keepalived.conf file.
fn ident(name: &str) -> String {
    name.to_string()
}

/// How to fix a lint's finding in keepalived.conf terms, for the lints an
/// imported fleet typically meets; the topology's own advice follows it.
pub fn keepalived_help(code: &str) -> Option<&'static str> {
    Some(match code {
        "V0101" => {
            "in keepalived.conf: give one of these vrrp_instances another `virtual_router_id`, unique on the segment"
        }
        "V0102" => {
            "in keepalived.conf: make this setting the same in every host's vrrp_instance of this router"
        }
        "V0302" => "in keepalived.conf: give every peer of the instance a different `priority`",
        "V0401" => {
            "in keepalived.conf: with `nopreempt`, write `state BACKUP` on every peer (keepalived ignores `nopreempt` on a `state MASTER` instance)"
        }
        "V0501" => {
            "in keepalived.conf: track a `vrrp_script` that pings a reference address (e.g. the gateway) with weight 0, so that a node that cannot reach it goes to FAULT and releases the VIPs; `vigil import` turns it into arbitration"
        }
        _ => return None,
    })
}
