//! A tiny cluster description for tests: segments, hosts, routers with
//! members; it yields each host's `Plan` (the way the compiler fills one
//! in: peers, unicast peers, heartbeat paths, reference IPs) and the
//! matching `SimTopology`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vigil_schema::plan::{
    ExpectedRole, Family, Plan, PlanArbitration, PlanCheck, PlanFence, PlanGarp, PlanHealth,
    PlanHeartbeatPath, PlanLease, PlanMethod, PlanNotify, PlanOnFail, PlanPeer, PlanProtocol,
    PlanRealServer, PlanRealServerOnFail, PlanRouter, PlanSyncGroup, PlanTracker, PlanTrackerKind,
    PlanVip, PlanVirtualServer,
};
use vigild::sim::SimTopology;

/// A segment `10.<n>.0.0/24`; host `k` of the cluster is `10.<n>.0.<10 + k>`,
/// its reference IP `10.<n>.0.1`.
#[derive(Clone, Debug)]
pub struct Segment {
    pub name: String,
    pub net: u8,
    pub reference: bool,
}

#[derive(Clone, Debug)]
pub struct Arb {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub attempts: u32,
    pub release_after_ms: u64,
    pub fence: Option<PlanFence>,
}

impl Arb {
    pub fn fast() -> Arb {
        Arb {
            interval_ms: 100,
            timeout_ms: 50,
            attempts: 2,
            release_after_ms: 200,
            fence: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Router {
    pub name: String,
    pub segment: String,
    pub vrid: u8,
    pub advert_interval_cs: u16,
    /// Host byte of each VIP on the segment.
    pub vips: Vec<u8>,
    /// (host, priority)
    pub members: Vec<(String, u8)>,
    pub arbitration: Option<Arb>,
    pub unicast: bool,
    pub heartbeat: Vec<String>,
    pub trackers: Vec<PlanTracker>,
    pub preempt: bool,
    pub preempt_delay_ms: u64,
    pub sync_group: Option<String>,
    pub notify: PlanNotify,
    /// Lease arbitration with this TTL (timing as the compiler derives it).
    pub lease_ttl_ms: Option<u64>,
}

impl Router {
    pub fn new(name: &str, segment: &str, vrid: u8, members: &[(&str, u8)]) -> Router {
        Router {
            name: name.into(),
            segment: segment.into(),
            vrid,
            advert_interval_cs: 10,
            vips: vec![100 + vrid % 100],
            members: members.iter().map(|(h, p)| (h.to_string(), *p)).collect(),
            arbitration: Some(Arb::fast()),
            unicast: false,
            heartbeat: Vec::new(),
            trackers: Vec::new(),
            preempt: true,
            preempt_delay_ms: 0,
            sync_group: None,
            notify: PlanNotify {
                master: Some(vec!["/bin/true".into(), "master".into()]),
                backup: None,
                fault: None,
                stop: None,
                any: None,
                timeout_ms: 1000,
            },
            lease_ttl_ms: None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Cluster {
    pub segments: Vec<Segment>,
    /// host -> its segments, in interface order (eth0, eth1, ...)
    pub hosts: Vec<(String, Vec<String>)>,
    pub routers: Vec<Router>,
    pub startup_delay_ms: u64,
    /// Routers whose members direct a virtual service on the first VIP,
    /// port 80, present only on the master, with two real servers
    /// (`.201`, `.202` on the router's segment) checked over TCP.
    pub virtual_servers: Vec<String>,
}

pub fn cmd_tracker(name: &str, on_fail: PlanOnFail) -> PlanTracker {
    PlanTracker {
        name: name.into(),
        kind: PlanTrackerKind::Command {
            command: vec!["/usr/local/bin/check".into(), name.into()],
            interval_ms: 100,
            timeout_ms: 50,
            rise: 2,
            fall: 2,
        },
        on_fail,
    }
}

pub fn fence(required: bool) -> PlanFence {
    PlanFence {
        command: vec!["/usr/local/sbin/fence-peer".into()],
        required,
        timeout_ms: 2000,
    }
}

impl Cluster {
    pub fn segment(mut self, name: &str, net: u8, reference: bool) -> Self {
        self.segments.push(Segment {
            name: name.into(),
            net,
            reference,
        });
        self
    }

    pub fn host(mut self, name: &str, segments: &[&str]) -> Self {
        self.hosts.push((
            name.into(),
            segments.iter().map(|s| s.to_string()).collect(),
        ));
        self
    }

    pub fn router(mut self, r: Router) -> Self {
        self.routers.push(r);
        self
    }

    fn seg(&self, name: &str) -> &Segment {
        self.segments
            .iter()
            .find(|s| s.name == name)
            .expect("test cluster names a known segment")
    }

    fn host_pos(&self, host: &str) -> usize {
        self.hosts
            .iter()
            .position(|(h, _)| h == host)
            .expect("test cluster names a known host")
    }

    /// `(interface, address)` of `host` on `segment`.
    pub fn iface(&self, host: &str, segment: &str) -> Option<(String, IpAddr)> {
        let k = self.host_pos(host);
        let i = self.hosts[k].1.iter().position(|s| s == segment)?;
        Some((format!("eth{i}"), self.addr(segment, 11 + k as u8)))
    }

    pub fn addr(&self, segment: &str, host_byte: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, self.seg(segment).net, 0, host_byte))
    }

    pub fn reference(&self, segment: &str) -> IpAddr {
        self.addr(segment, 1)
    }

    pub fn vip(&self, router: &str) -> IpAddr {
        let r = self.routers.iter().find(|r| r.name == router).unwrap();
        let (host, _) = &r.members[0];
        self.plan_router(r, host, r.members[0].1).unwrap().vips[0].address
    }

    fn plan_router(&self, r: &Router, host: &str, priority: u8) -> Option<PlanRouter> {
        let (interface, source) = self.iface(host, &r.segment)?;
        let others: Vec<&(String, u8)> = r.members.iter().filter(|(h, _)| h != host).collect();
        let peers: Vec<PlanPeer> = others
            .iter()
            .filter_map(|(h, p)| {
                Some(PlanPeer {
                    host: h.clone(),
                    address: self.iface(h, &r.segment)?.1,
                    priority: *p,
                })
            })
            .collect();
        let heartbeat_paths = r
            .heartbeat
            .iter()
            .filter_map(|seg| {
                let (interface, source_address) = self.iface(host, seg)?;
                Some(PlanHeartbeatPath {
                    interface,
                    source_address,
                    peers: others
                        .iter()
                        .filter_map(|(h, _)| Some(self.iface(h, seg)?.1))
                        .collect(),
                })
            })
            .collect();
        let seg = self.seg(&r.segment);
        let owner = priority == 255;
        // An owner's VIP is its own address, for every member.
        let owner_address = r
            .members
            .iter()
            .find(|(_, p)| *p == 255)
            .and_then(|(h, _)| self.iface(h, &r.segment))
            .map(|(_, a)| a);
        Some(PlanRouter {
            name: r.name.clone(),
            interface,
            family: Family::Ipv4,
            version: vigil_schema::plan::VrrpVersion::V3,
            vrid: r.vrid,
            priority,
            advert_interval_cs: r.advert_interval_cs,
            advert_interval_min_cs: 1,
            advert_interval_max_cs: 4095,
            preempt: r.preempt,
            preempt_delay_ms: r.preempt_delay_ms,
            accept: true,
            vmac: None,
            owner,
            source_address: source,
            unicast_peers: if r.unicast {
                peers.iter().map(|p| p.address).collect()
            } else {
                Vec::new()
            },
            peers,
            vips: r
                .vips
                .iter()
                .map(|b| PlanVip {
                    address: owner_address.unwrap_or_else(|| self.addr(&r.segment, *b)),
                    prefix_len: 24,
                    label: None,
                })
                .collect(),
            auth: None,
            arbitration: r.arbitration.as_ref().map(|a| PlanArbitration {
                reference_ips: if seg.reference {
                    vec![self.reference(&r.segment)]
                } else {
                    Vec::new()
                },
                interval_ms: a.interval_ms,
                timeout_ms: a.timeout_ms,
                attempts: a.attempts,
                release_after_ms: a.release_after_ms,
                fence: a.fence.clone(),
                self_fence: None,
            }),
            lease: r.lease_ttl_ms.map(|ttl| {
                let rank = r
                    .members
                    .iter()
                    .filter(|(h, p)| *p > priority || (*p == priority && h.as_str() < host))
                    .count() as u64;
                let sixth = (ttl / 6).max(100);
                PlanLease {
                    endpoints: vec![
                        "10.0.9.1:2379".parse().unwrap(),
                        "10.0.9.2:2379".parse().unwrap(),
                    ],
                    key: format!("/vigil/sim/{}", r.name),
                    holder: host.to_string(),
                    ttl_ms: ttl,
                    keepalive_interval_ms: sixth,
                    request_timeout_ms: sixth,
                    release_margin_ms: sixth,
                    acquire_delay_ms: rank * u64::from(r.advert_interval_cs) * 10,
                }
            }),
            heartbeat_paths,
            trackers: r.trackers.clone(),
            notify: r.notify.clone(),
            garp: PlanGarp {
                repeat: 2,
                interval_ms: 10,
                refresh_ms: 0,
            },
            expected_role: if r.members.iter().all(|(_, p)| *p <= priority) {
                ExpectedRole::Master
            } else {
                ExpectedRole::Backup
            },
            sync_group: r.sync_group.clone(),
        })
    }

    pub fn plan(&self, host: &str) -> Plan {
        let routers: Vec<PlanRouter> = self
            .routers
            .iter()
            .filter_map(|r| {
                let p = r.members.iter().find(|(h, _)| h == host)?.1;
                self.plan_router(r, host, p)
            })
            .collect();
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in &routers {
            if let Some(g) = &r.sync_group {
                groups.entry(g.clone()).or_default().push(r.name.clone());
            }
        }
        let virtual_servers = routers
            .iter()
            .filter(|r| self.virtual_servers.contains(&r.name))
            .filter_map(|r| {
                let seg = &self.routers.iter().find(|x| x.name == r.name)?.segment;
                Some(PlanVirtualServer {
                    name: format!("{}-http", r.name),
                    family: Family::Ipv4,
                    protocol: Some(PlanProtocol::Tcp),
                    address: Some(r.vips.first()?.address),
                    port: Some(80),
                    fwmark: None,
                    scheduler: vigil_schema::ipvs::Scheduler::Wlc,
                    scheduler_flags: Vec::new(),
                    method: PlanMethod::Dr,
                    persistence_timeout_s: 0,
                    persistence_prefix_len: 32,
                    quorum: 1,
                    hysteresis: 0,
                    sorry_server: None,
                    on_fail: PlanRealServerOnFail::Inhibit,
                    only_on_master_of: Some(r.name.clone()),
                    keep_on_stop: false,
                    health: Some(PlanHealth {
                        interval_ms: 100,
                        timeout_ms: 50,
                        rise: 2,
                        fall: 2,
                        warmup_ms: 0,
                        check: PlanCheck::Tcp { port: None },
                    }),
                    real_servers: [201, 202]
                        .iter()
                        .map(|b| PlanRealServer {
                            address: self.addr(seg, *b),
                            port: 80,
                            weight: 1,
                            upper_threshold: 0,
                            lower_threshold: 0,
                        })
                        .collect(),
                })
            })
            .collect();
        Plan {
            format_version: 1,
            compiler_version: "test".into(),
            topology_hash: format!("test-{host}"),
            host: host.into(),
            cluster: "sim".into(),
            startup_delay_ms: self.startup_delay_ms,
            routers,
            sync_groups: groups
                .into_iter()
                .map(|(name, routers)| PlanSyncGroup { name, routers })
                .collect(),
            virtual_servers,
            metrics: None,
        }
    }

    pub fn topology(&self) -> SimTopology {
        let mut t = SimTopology::default();
        for s in self.segments.iter().filter(|s| s.reference) {
            t.reference_ip(&s.name, self.reference(&s.name));
        }
        for (host, segments) in &self.hosts {
            let mut b = t.host(host, self.plan(host));
            for s in segments {
                let (iface, addr) = self.iface(host, s).unwrap();
                b = b.interface(&iface, s, &[(addr, 24)]);
            }
        }
        t
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
