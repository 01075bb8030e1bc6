//! The properties every simulated run must keep, checked after every step.
//!
//! "Stable" below means: no fault of the scenario (nor a fence's power-off)
//! happened within the router's *settle time*, and the network profile
//! neither loses nor reorders packets. The settle time is the RFC bound,
//! Master_Down_Interval = 3 × Advertisement_Interval + Skew_Time (with the
//! skew of the lowest priority a member can advertise, and the longest
//! interval a member uses), plus what the router's own guards need to act
//! after a change: two network delays, arbitration's detection
//! (`interval × (attempts + 1) + timeout + release_after`), a fence run and
//! its retry, command trackers' `rise`/`fall` runs, the preempt delay and
//! the startup delay. A router with no guards on a quiet network settles in
//! exactly 3 × adv + skew plus the network's delay.
//!
//! "Hear each other" is physical: both hosts powered, both interfaces up,
//! on one segment (the router's, or one of its heartbeat paths), and no cut
//! between them there. "Reaches a reference IP" likewise: the member's
//! router interface is up, the reference IP is on that segment, not dark,
//! and not cut off from the member.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use vigil_schema::plan::{Family, PlanRouter, PlanTrackerKind};

use crate::node::Address;
use crate::vrrp::timers::{master_down_interval, skew_time};
use crate::vrrp::{Instant, State};
use crate::wire::vrrp::Centis;

use super::scenario::{Endpoint, Scenario};
use super::world::Sim;

/// Most adverts one router may send to one destination within one of its
/// advert intervals (the periodic one, one answer to a lower-priority
/// master, one after a priority change, one after a resignation heard).
pub const MAX_ADVERTS_PER_INTERVAL: usize = 5;

/// Most echo requests one router may send to one reference IP within one
/// arbitration interval.
pub const MAX_ECHOES_PER_INTERVAL: usize = 3;

/// The named invariants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Invariant {
    /// **At most one master per router once stable.** Two masters that hear
    /// each other must resolve within one advert interval (plus the
    /// network's delay). Two masters that cannot hear each other are a
    /// split brain, accepted only where the topology accepted it: the
    /// router has no arbitration (`accept_split_brain`), or it has
    /// arbitration without a required fence and every master reaches a
    /// reference IP (the split arbitration cannot see: the documented case
    /// for heartbeat paths). With a required fence, the fence must have
    /// settled it.
    SingleMaster,
    /// **No VIP on a host whose router is not master.** Checked on the
    /// kernel right after a node's commands are carried out (so a VIP in
    /// flight towards a new master counts as held), on every running
    /// daemon, and when a daemon exits (a stopped daemon holds nothing).
    /// The in-flight window: an address whose add the kernel has not
    /// answered yet is not checked until the answer is fed (only then can
    /// the node know whether it added it).

    /// Owners (priority 255) are exempt: their VIP is the host's own
    /// address. A crashed daemon's kernel is exempt until it restarts.
    NoVipWithoutMaster,
    /// **A sync group's members on one host share one state once stable**,
    /// whenever every router of the group has full connectivity between its
    /// running members (a partition of one segment is not a fault of the
    /// group: see `docs/simulate.md`).
    SyncGroupAgreement,
    /// **A master exists whenever a member is eligible, once stable.**
    /// Eligible: its daemon runs, the router's interface is up, no `fault`
    /// tracker fails, it reaches a reference IP (with arbitration), its
    /// required fence does not fail, and the same holds for the other
    /// members of its sync group on that host. Checked a master-down
    /// interval after the last master left.
    MasterExists,
    /// **No command storm**: at most [`MAX_ADVERTS_PER_INTERVAL`] adverts
    /// per router and destination within one advert interval, at most
    /// [`MAX_ECHOES_PER_INTERVAL`] echo requests per reference IP within one
    /// arbitration interval.
    NoCommandStorm,
    /// **A host's own addresses are never removed** (the topology's
    /// interface addresses, which an owner's VIP is one of).
    HostAddressesKept,
    /// **Time advances**: a node fed [`crate::node::Event::Tick`] does not
    /// keep asking for another tick at the same instant.
    TimeAdvances,
    /// **IPVS follows mastership once stable**: on a host whose daemon
    /// runs, a virtual server that follows a router (`only_on_master_of`)
    /// is in the kernel's table while that router is master there and
    /// absent while it is backup or in FAULT, a master-down interval after
    /// the router's last change at the latest.
    IpvsFollowsMaster,
}

impl Invariant {
    pub const ALL: [Invariant; 8] = [
        Invariant::SingleMaster,
        Invariant::NoVipWithoutMaster,
        Invariant::SyncGroupAgreement,
        Invariant::MasterExists,
        Invariant::NoCommandStorm,
        Invariant::HostAddressesKept,
        Invariant::TimeAdvances,
        Invariant::IpvsFollowsMaster,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Invariant::SingleMaster => "single-master",
            Invariant::NoVipWithoutMaster => "no-vip-without-master",
            Invariant::SyncGroupAgreement => "sync-group-agreement",
            Invariant::MasterExists => "master-exists",
            Invariant::NoCommandStorm => "no-command-storm",
            Invariant::HostAddressesKept => "host-addresses-kept",
            Invariant::TimeAdvances => "time-advances",
            Invariant::IpvsFollowsMaster => "ipvs-follows-master",
        }
    }

    /// The rule in one line.
    pub fn rule(self) -> &'static str {
        match self {
            Invariant::SingleMaster => {
                "at most one master per router once the network has been stable for the settle time"
            }
            Invariant::NoVipWithoutMaster => "no VIP on a host whose router is not master",
            Invariant::SyncGroupAgreement => {
                "members of a sync group on one host are in one state once stable"
            }
            Invariant::MasterExists => "a master exists whenever a member is eligible, once stable",
            Invariant::NoCommandStorm => "bounded adverts and echo requests per interval",
            Invariant::HostAddressesKept => "a host's own addresses are never removed",
            Invariant::TimeAdvances => "a tick does not ask for another tick at the same instant",
            Invariant::IpvsFollowsMaster => {
                "a service that follows a router is programmed exactly where that router is master"
            }
        }
    }
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub invariant: Invariant,
    pub at: Instant,
    pub router: Option<String>,
    pub detail: String,
}

/// What the checks need to know about a router, over all its members.
#[derive(Clone, Debug)]
pub struct RouterInfo {
    pub name: String,
    /// Host indexes of its members.
    pub members: Vec<usize>,
    /// The longest advert interval of any member.
    pub adver_interval: Duration,
    /// Master_Down_Interval with the longest interval and the lowest
    /// priority a member can advertise.
    pub master_down: Duration,
    /// See the module documentation.
    pub settle: Duration,
    /// How long two masters that hear each other may last.
    pub dual_grace: Duration,
    /// Every member has arbitration.
    pub arbitration: bool,
    /// Every member has a required fence that really fences.
    pub required_fence: bool,
    /// A member uses lease arbitration: two masters are never accepted,
    /// stable or not.
    pub lease: bool,
    /// How long after the last master left a new one must be there: the
    /// master-down interval, or with a lease the time for the old lease to
    /// expire in the store and the next round to acquire it.
    pub takeover: Duration,
    pub vips: Vec<IpAddr>,
    /// Members that own the VIPs (priority 255).
    pub owners: Vec<usize>,
}

impl RouterInfo {
    pub fn new(
        name: &str,
        members: &[(usize, PlanRouter, u64)],
        max_delay: Duration,
        scenario: &Scenario,
    ) -> RouterInfo {
        let adv_cs = members
            .iter()
            .map(|(_, r, _)| r.advert_interval_cs)
            .max()
            .unwrap_or(100)
            .max(1);
        let adv = Centis(adv_cs);
        let adver_interval = Duration::from_micros(adv.as_micros());
        // A demoted member advertises as little as 1.
        let master_down = master_down_interval(1, adv);
        let net = max_delay * 2 + scenario.timing.answer_delay.1 * 2;
        let mut guards = Duration::ZERO;
        for (_, r, startup_ms) in members {
            let mut g = Duration::from_millis(r.preempt_delay_ms + startup_ms);
            if let Some(a) = &r.arbitration {
                g += Duration::from_millis(
                    a.interval_ms * (u64::from(a.attempts) + 1) + a.timeout_ms + a.release_after_ms,
                );
                if let Some(f) = &a.fence {
                    // The next master-down expiry runs the fence again.
                    g += master_down
                        + Duration::from_millis(f.timeout_ms).min(scenario.timing.fence_runtime);
                }
            }
            let trackers = r
                .trackers
                .iter()
                .map(|t| match &t.kind {
                    PlanTrackerKind::Command {
                        interval_ms,
                        timeout_ms,
                        rise,
                        fall,
                        ..
                    } => Duration::from_millis(
                        interval_ms * (u64::from((*rise).max(*fall)) + 1) + timeout_ms,
                    ),
                    PlanTrackerKind::Interface { .. } => scenario.timing.link_notify_delay,
                })
                .max()
                .unwrap_or_default();
            g += trackers;
            g += lease_wait(r);
            guards = guards.max(g);
        }
        let takeover = members
            .iter()
            .map(|(_, r, _)| lease_wait(r))
            .max()
            .unwrap_or_default()
            .max(master_down);
        let first = members.first().map(|(_, r, _)| r);
        RouterInfo {
            name: name.to_string(),
            members: members.iter().map(|(h, _, _)| *h).collect(),
            adver_interval,
            master_down,
            settle: master_down + net + guards,
            dual_grace: adver_interval + net,
            arbitration: members
                .iter()
                .all(|(_, r, _)| r.arbitration.is_some() || r.lease.is_some()),
            lease: members.iter().any(|(_, r, _)| r.lease.is_some()),
            takeover,
            required_fence: scenario.fence != super::scenario::FenceEffect::Nothing
                && members.iter().all(|(_, r, _)| {
                    r.arbitration
                        .as_ref()
                        .and_then(|a| a.fence.as_ref())
                        .is_some_and(|f| f.required)
                }),
            vips: first
                .map(|r| r.vips.iter().map(|v| v.address).collect())
                .unwrap_or_default(),
            owners: members
                .iter()
                .filter(|(_, r, _)| r.owner)
                .map(|(h, _, _)| *h)
                .collect(),
        }
    }

    /// Skew_Time of a priority at this router's interval.
    pub fn skew(&self, priority: u8) -> Duration {
        let cs = u16::try_from(self.adver_interval.as_millis() / 10).unwrap_or(u16::MAX);
        skew_time(priority, Centis(cs))
    }
}

/// With a lease: the TTL, then a round (keep-alive and put-if-absent, each
/// possibly timing out on every endpoint) to acquire the freed key.
fn lease_wait(r: &PlanRouter) -> Duration {
    r.lease.as_ref().map_or(Duration::ZERO, |l| {
        let n = l.endpoints.len() as u64;
        Duration::from_millis(
            l.ttl_ms + l.keepalive_interval_ms + 2 * n * l.request_timeout_ms + l.acquire_delay_ms,
        )
    })
}

impl Sim {
    fn plan_router(&self, h: usize, router: &str) -> Option<&PlanRouter> {
        self.hosts[h].plan.routers.iter().find(|r| r.name == router)
    }

    fn stable(&self, info: &RouterInfo) -> bool {
        !self.net.profile.lossy() && self.now >= self.last_disturbance + info.settle
    }

    /// Whether members `a` and `b` of `router` hear each other.
    pub(super) fn hear_each_other(&self, router: &str, a: usize, b: usize) -> bool {
        let (Some(ra), Some(rb)) = (self.plan_router(a, router), self.plan_router(b, router))
        else {
            return false;
        };
        if !self.hosts[a].powered || !self.hosts[b].powered {
            return false;
        }
        let ifs = |h: usize, r: &PlanRouter| -> Vec<String> {
            let mut v = vec![r.interface.clone()];
            v.extend(r.heartbeat_paths.iter().map(|p| p.interface.clone()));
            let _ = h;
            v
        };
        let ea = Endpoint::Host(self.hosts[a].spec.name.clone());
        let eb = Endpoint::Host(self.hosts[b].spec.name.clone());
        for ia in ifs(a, ra) {
            let Some(seg) = self.topo.segment_of(a, &ia) else {
                continue;
            };
            if !self.hosts[a].kernel.link_up(&ia) {
                continue;
            }
            for ib in ifs(b, rb) {
                if self.topo.segment_of(b, &ib) == Some(seg)
                    && self.hosts[b].kernel.link_up(&ib)
                    && !self.blocked(seg, &ea, &eb)
                {
                    return true;
                }
            }
        }
        false
    }

    /// Whether member `h` of `r` reaches one of its reference IPs.
    fn reaches_reference(&self, h: usize, r: &PlanRouter) -> bool {
        r.arbitration.as_ref().is_some_and(|a| {
            a.reference_ips
                .iter()
                .any(|ip| self.reference_reachable(h, &r.interface, *ip))
        })
    }

    /// The member's own eligibility, sync group aside.
    fn own_eligible(&self, h: usize, r: &PlanRouter) -> bool {
        let host = &self.hosts[h];
        host.node.is_some()
            && host.kernel.link_up(&r.interface)
            && !self.fault_trackers_failing(h, r)
            && (r.arbitration.is_none() || self.reaches_reference(h, r))
            && (r.lease.is_none() || self.net.store.reachable(&host.spec.name))
            && !(host.fence_fails
                && r.arbitration
                    .as_ref()
                    .and_then(|a| a.fence.as_ref())
                    .is_some_and(|f| f.required))
    }

    fn eligible(&self, h: usize, router: &str) -> bool {
        let Some(r) = self.plan_router(h, router) else {
            return false;
        };
        if !self.own_eligible(h, r) {
            return false;
        }
        match &r.sync_group {
            None => true,
            Some(g) => self.hosts[h]
                .plan
                .routers
                .iter()
                .filter(|o| o.sync_group.as_deref() == Some(g) && o.name != r.name)
                .all(|o| self.own_eligible(h, o)),
        }
    }

    /// Invariants about one host, after its node's commands were carried out.
    pub(super) fn check_host(&mut self, h: usize) {
        let Some(node) = self.hosts[h].node.as_ref() else {
            return;
        };
        let mut bad = Vec::new();
        for r in &self.hosts[h].plan.routers {
            if r.owner {
                continue;
            }
            let state = node.state_of(&r.name);
            if state == Some(State::Master) || state.is_none() {
                continue;
            }
            for v in &r.vips {
                // An add still unanswered: the node cannot know yet whether
                // the address is its own to remove.
                let key = (r.interface.clone(), v.address);
                let in_flight = self.hosts[h].in_flight.contains_key(&key);
                if !in_flight && self.hosts[h].kernel.has_address(&r.interface, v.address) {
                    bad.push((r.name.clone(), v.address, state));
                }
            }
        }
        for (router, vip, state) in bad {
            let detail = format!(
                "{} holds {vip} of {router} while {router} is {}",
                self.hosts[h].spec.name,
                state.map_or("gone", crate::hooks::state_name)
            );
            self.violate(Invariant::NoVipWithoutMaster, Some(&router), detail);
        }
    }

    /// A daemon exited: it must have taken its VIPs with it.
    pub(super) fn check_stopped(&mut self, h: usize) {
        let mut bad = Vec::new();
        for r in self.hosts[h].plan.routers.iter().filter(|r| !r.owner) {
            for v in &r.vips {
                if self.hosts[h].kernel.has_address(&r.interface, v.address) {
                    bad.push((r.name.clone(), v.address));
                }
            }
        }
        for (router, vip) in bad {
            let detail = format!(
                "vigild on {} stopped and left {vip} of {router} on its interface",
                self.hosts[h].spec.name
            );
            self.violate(Invariant::NoVipWithoutMaster, Some(&router), detail);
        }
    }

    /// A RemoveAddress command: never one of the host's own addresses.
    pub(super) fn check_removal(&mut self, h: usize, a: &Address) {
        let own = self.hosts[h].spec.interfaces.iter().any(|i| {
            i.name == a.interface
                && i.addresses
                    .iter()
                    .any(|(ip, p)| *ip == a.address && *p == a.prefix_len)
        });
        if own {
            let detail = format!(
                "{} asked to remove its own address {}/{} from {}",
                self.hosts[h].spec.name, a.address, a.prefix_len, a.interface
            );
            self.violate(Invariant::HostAddressesKept, None, detail);
        }
    }

    pub(super) fn count_send(
        &mut self,
        h: usize,
        interface: &str,
        family: Family,
        dst: IpAddr,
        bytes: &[u8],
    ) {
        let Some(&vrid) = bytes.get(1) else { return };
        let window = self.hosts[h]
            .plan
            .routers
            .iter()
            .find(|r| {
                r.family == family
                    && r.vrid == vrid
                    && (r.interface == interface
                        || r.heartbeat_paths.iter().any(|p| p.interface == interface))
            })
            .map(|r| Duration::from_millis(u64::from(r.advert_interval_cs) * 10));
        let Some(window) = window else { return };
        let now = self.now;
        let q = self
            .sends
            .entry((h, interface.to_string(), vrid, dst))
            .or_default();
        if prune_and_push(q, now, window) > MAX_ADVERTS_PER_INTERVAL {
            let detail = format!(
                "{} sent {} adverts for VRID {vrid} to {dst} on {interface} within {window:?}",
                self.hosts[h].spec.name,
                q.len()
            );
            self.violate(Invariant::NoCommandStorm, None, detail);
        }
    }

    pub(super) fn count_echo(&mut self, h: usize, router: &str, target: IpAddr) {
        let Some(window) = self
            .plan_router(h, router)
            .and_then(|r| r.arbitration.as_ref())
            .map(|a| Duration::from_millis(a.interval_ms.max(1)))
        else {
            return;
        };
        let now = self.now;
        let q = self
            .echoes
            .entry((h, router.to_string(), target))
            .or_default();
        if prune_and_push(q, now, window) > MAX_ECHOES_PER_INTERVAL {
            let detail = format!(
                "{} sent {} echo requests to {target} for {router} within {window:?}",
                self.hosts[h].spec.name,
                q.len()
            );
            self.violate(Invariant::NoCommandStorm, Some(router), detail);
        }
    }

    /// Invariants about the whole cluster, after every step.
    pub(super) fn check_cluster(&mut self) {
        let names: Vec<String> = self.routers.keys().cloned().collect();
        for name in names {
            let Some(info) = self.routers.get(&name).cloned() else {
                continue;
            };
            let masters: Vec<usize> = info
                .members
                .iter()
                .copied()
                .filter(|&h| {
                    self.hosts[h]
                        .node
                        .as_ref()
                        .is_some_and(|n| n.state_of(&name) == Some(State::Master))
                })
                .collect();
            let stable = self.stable(&info);
            if masters.len() >= 2 {
                let since = *self.dual_since.entry(name.clone()).or_insert(self.now);
                if (stable || info.lease) && self.now >= since + info.dual_grace {
                    self.check_dual(&info, &masters, since);
                }
            } else {
                self.dual_since.remove(&name);
            }
            if masters.is_empty() {
                let since = *self.none_since.entry(name.clone()).or_insert(self.now);
                if stable
                    && self.now >= since + info.takeover + info.dual_grace
                    && let Some(&h) = info.members.iter().find(|&&h| self.eligible(h, &name))
                {
                    let detail = format!(
                        "no member of {name} is master since {} although {} is eligible",
                        super::trace::fmt_time(since),
                        self.hosts[h].spec.name
                    );
                    self.violate(Invariant::MasterExists, Some(&name), detail);
                }
            } else {
                self.none_since.remove(&name);
            }
        }
        self.check_sync_groups();
        self.check_ipvs();
    }

    fn check_ipvs(&mut self) {
        let mut bad = Vec::new();
        let mut clear = Vec::new();
        let mut start = Vec::new();
        for (h, host) in self.hosts.iter().enumerate() {
            let Some(node) = host.node.as_ref() else {
                continue;
            };
            for vs in &host.plan.virtual_servers {
                let Some(router) = vs.only_on_master_of.as_deref() else {
                    continue;
                };
                let Ok(key) = crate::ipvs::reconcile::service_key(vs) else {
                    continue;
                };
                let want = match node.state_of(router) {
                    Some(State::Master) => true,
                    Some(State::Backup | State::Fault) => false,
                    Some(State::Initialize) | None => continue,
                };
                let have = host.kernel.ipvs.iter().any(|k| k.service.key == key);
                let id = (h, vs.name.clone());
                if want == have {
                    clear.push(id);
                    continue;
                }
                let since = *self.ipvs_since.get(&id).unwrap_or(&self.now);
                start.push((id, since));
                let Some(info) = self.routers.get(router) else {
                    continue;
                };
                if self.stable(info) && self.now >= since + info.master_down + info.dual_grace {
                    bad.push((
                        router.to_string(),
                        format!(
                            "{} on {}: {} is {} since {} while {router} is {}",
                            vs.name,
                            host.spec.name,
                            vs.name,
                            if have { "programmed" } else { "missing" },
                            super::trace::fmt_time(since),
                            if want { "master" } else { "not master" }
                        ),
                    ));
                }
            }
        }
        for id in clear {
            self.ipvs_since.remove(&id);
        }
        for (id, since) in start {
            self.ipvs_since.entry(id).or_insert(since);
        }
        for (router, detail) in bad {
            self.violate(Invariant::IpvsFollowsMaster, Some(&router), detail);
        }
    }

    fn check_dual(&mut self, info: &RouterInfo, masters: &[usize], since: Instant) {
        let name = &info.name;
        let mut all_hear = true;
        for (i, &a) in masters.iter().enumerate() {
            for &b in &masters[i + 1..] {
                if !self.hear_each_other(name, a, b) {
                    all_hear = false;
                }
            }
        }
        let who: Vec<&str> = masters
            .iter()
            .map(|&h| self.hosts[h].spec.name.as_str())
            .collect();
        let since = super::trace::fmt_time(since);
        let detail = if all_hear {
            Some(format!(
                "{} are all master of {name} since {since} although they hear each other",
                who.join(" and ")
            ))
        } else if info.lease {
            Some(format!(
                "{} are all master of {name} since {since} although only the holder of its lease may be",
                who.join(" and ")
            ))
        } else if !info.arbitration {
            None // the topology accepted split brain
        } else if info.required_fence {
            Some(format!(
                "{} are all master of {name} since {since}: the required fence should have prevented it",
                who.join(" and ")
            ))
        } else {
            let isolated: Vec<&str> = masters
                .iter()
                .filter(|&&h| {
                    self.plan_router(h, name)
                        .is_none_or(|r| !self.reaches_reference(h, r))
                })
                .map(|&h| self.hosts[h].spec.name.as_str())
                .collect();
            (!isolated.is_empty()).then(|| {
                format!(
                    "{} are all master of {name} since {since}; {} reach(es) no reference IP and should have released",
                    who.join(" and "),
                    isolated.join(" and ")
                )
            })
        };
        if let Some(detail) = detail {
            self.violate(Invariant::SingleMaster, Some(name), detail);
        }
    }

    fn check_sync_groups(&mut self) {
        let mut bad = Vec::new();
        let mut clear = Vec::new();
        let mut start = Vec::new();
        for (h, host) in self.hosts.iter().enumerate() {
            let Some(node) = host.node.as_ref() else {
                continue;
            };
            for g in &host.plan.sync_groups {
                let routers: Vec<&PlanRouter> = host
                    .plan
                    .routers
                    .iter()
                    .filter(|r| r.sync_group.as_deref() == Some(g.name.as_str()))
                    .collect();
                if routers.len() < 2 {
                    continue;
                }
                let states: Vec<Option<State>> =
                    routers.iter().map(|r| node.state_of(&r.name)).collect();
                let key = (h, g.name.clone());
                if states.windows(2).all(|w| w[0] == w[1]) {
                    clear.push(key);
                    continue;
                }
                let since = *self.split_since.get(&key).unwrap_or(&self.now);
                start.push((key, since));
                let grace = routers
                    .iter()
                    .filter_map(|r| self.routers.get(&r.name))
                    .map(|i| i.master_down + i.dual_grace)
                    .max()
                    .unwrap_or_default();
                if self.now < since + grace {
                    continue;
                }
                let settled = routers.iter().all(|r| {
                    self.routers.get(&r.name).is_some_and(|info| {
                        self.stable(info)
                            && info.members.iter().enumerate().all(|(i, &a)| {
                                info.members[i + 1..].iter().all(|&b| {
                                    self.hosts[a].node.is_none()
                                        || self.hosts[b].node.is_none()
                                        || self.hear_each_other(&r.name, a, b)
                                })
                            })
                    })
                });
                if settled {
                    let list: Vec<String> = routers
                        .iter()
                        .zip(&states)
                        .map(|(r, s)| {
                            format!("{} {}", r.name, s.map_or("gone", crate::hooks::state_name))
                        })
                        .collect();
                    bad.push((
                        g.name.clone(),
                        format!(
                            "sync group {} on {} is split: {}",
                            g.name,
                            host.spec.name,
                            list.join(", ")
                        ),
                    ));
                }
            }
        }
        for key in clear {
            self.split_since.remove(&key);
        }
        for (key, since) in start {
            self.split_since.entry(key).or_insert(since);
        }
        for (g, detail) in bad {
            self.violate(Invariant::SyncGroupAgreement, Some(&g), detail);
        }
    }
}

/// Drops entries older than `window`, adds `now`; returns the count.
fn prune_and_push(q: &mut VecDeque<Instant>, now: Instant, window: Duration) -> usize {
    while q.front().is_some_and(|t| *t + window <= now) {
        q.pop_front();
    }
    q.push_back(now);
    q.len()
}
