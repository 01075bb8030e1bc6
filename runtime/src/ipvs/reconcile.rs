//! Reconciliation: from the plan's virtual servers, the kernel's current
//! IPVS table and the set of entries Vigil owns, compute the operations that
//! make the kernel match the plan. Pure: no I/O, deterministic order.
//!
//! Ownership rules (IPVS tables are shared with other tools, e.g. kube-proxy
//! or an operator's `ipvsadm`). Ownership is proven, never guessed from a
//! matching key:
//! * A kernel service is ours only when it is in [`Ownership`]: created by
//!   this process ([`Op::NewService`] makes it ours), or recorded in the
//!   ledger the previous run persisted (`node::Ledger::ipvs`). That is how
//!   entries are re-adopted after a restart or a crash: the ledger names
//!   them, they are compared field by field and only SET where something
//!   differs — never deleted and re-created.
//! * A kernel service whose key a plan service uses but that is not ours is
//!   foreign: never modified, never deleted, whatever the plan or the
//!   service's presence says. It is reported as [`Note::KeyConflict`] (one
//!   note per service and pass; callers log the change, not every pass) so
//!   the operator learns that a hand-made service occupies a planned key.
//! * Inside a service we own, a destination is ours when its address/port
//!   is one of that virtual server's real servers or its sorry server, or
//!   when [`Ownership`] records it; any other destination is foreign, kept
//!   and reported as [`Note::ForeignDestKept`].
//! * Services we own that the plan no longer has (a reload, or a plan
//!   changed while the daemon was down) are deleted.
//! * A plan entry that cannot be programmed (unknown scheduler, ...) is
//!   reported as a [`PlanEntryError`]; its kernel entry, if any, is held as
//!   it is ([`Presence::Hold`]), and stays ours if it was.
//! * The returned [`Reconciliation::owned`] is what is ours once the
//!   operations have succeeded; persist it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use vigil_schema::ipvs::FlagBit;
use vigil_schema::plan::{Family, PlanMethod, PlanProtocol, PlanRealServer, PlanVirtualServer};

use super::messages::{
    Dest, DestKey, FwdMethod, Protocol, Service, ServiceKey, family_of, svc_flags,
};

/// A service as dumped from the kernel, with its destinations.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KernelService {
    pub service: Service,
    pub dests: Vec<Dest>,
}

/// One kernel operation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    NewService(Service),
    SetService(Service),
    DelService(ServiceKey),
    NewDest(ServiceKey, Dest),
    SetDest(ServiceKey, Dest),
    DelDest(ServiceKey, DestKey),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::NewService(s) => write!(f, "NEW_SERVICE {} (scheduler {})", s.key, s.scheduler),
            Op::SetService(s) => write!(f, "SET_SERVICE {} (scheduler {})", s.key, s.scheduler),
            Op::DelService(k) => write!(f, "DEL_SERVICE {k}"),
            Op::NewDest(k, d) => write!(f, "NEW_DEST {k} -> {} weight {}", d.key, d.weight),
            Op::SetDest(k, d) => write!(f, "SET_DEST {k} -> {} weight {}", d.key, d.weight),
            Op::DelDest(k, d) => write!(f, "DEL_DEST {k} -> {d}"),
        }
    }
}

/// Whether a plan service is to be programmed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Program it (and its destinations).
    Active,
    /// The plan knows it but it must not be in the kernel now (e.g. only on
    /// the master of a router we are backup of): delete it if present and ours.
    Inactive,
    /// Leave the kernel entry exactly as it is (the plan entry is unusable,
    /// or the router it follows has not decided yet); it stays ours if it was.
    Hold,
}

/// The desired state of one plan service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredService {
    /// The plan's virtual-server name, for logs.
    pub name: String,
    pub service: Service,
    pub presence: Presence,
    /// Destinations to program now (the health checker decides weights,
    /// removals and the sorry server).
    pub dests: Vec<Dest>,
    /// Every destination identity the plan gives this service (real
    /// servers and sorry server): ours whenever found in the kernel.
    pub claimed_dests: BTreeSet<DestKey>,
}

/// The IPVS entries this daemon created (and, through the ledger, the ones
/// a previous run created and never deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ownership {
    pub services: BTreeSet<ServiceKey>,
    pub dests: BTreeSet<(ServiceKey, DestKey)>,
}

/// Facts worth a log line that need no operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A service this daemon does not own (an operator's `ipvsadm`, another
    /// tool, or a run whose ledger was lost) occupies the key of plan
    /// service `name`: it is left exactly as it is, and the plan service is
    /// not programmed while it is there.
    KeyConflict { key: ServiceKey, name: String },
    /// A destination nobody in the plan claims, inside a service we own.
    ForeignDestKept(ServiceKey, DestKey),
    /// Two plan entries share one identity; the second was ignored.
    DuplicateService { key: ServiceKey, name: String },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::KeyConflict { key, name } => write!(
                f,
                "IPVS service {key} exists but was not created by vigild; virtual server \
                 `{name}` is not programmed and the service is left untouched (delete it, \
                 e.g. with ipvsadm, to let vigild program it)"
            ),
            Note::ForeignDestKept(k, d) => {
                write!(
                    f,
                    "IPVS service {k} has destination {d} not in the plan; left untouched"
                )
            }
            Note::DuplicateService { key, name } => {
                write!(
                    f,
                    "virtual server `{name}` repeats IPVS service {key}; ignored"
                )
            }
        }
    }
}

/// The outcome of one reconciliation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Operations, in the order they must be applied.
    pub ops: Vec<Op>,
    /// Ownership once the operations have succeeded.
    pub owned: Ownership,
    pub notes: Vec<Note>,
}

/// A plan virtual server that cannot be programmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanEntryError {
    pub virtual_server: String,
    /// The identity, when it could be derived: its kernel entry is held.
    pub key: Option<ServiceKey>,
    pub problem: String,
}

impl fmt::Display for PlanEntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "virtual server `{}`: {}",
            self.virtual_server, self.problem
        )
    }
}

impl std::error::Error for PlanEntryError {}

fn protocol(p: PlanProtocol) -> Protocol {
    match p {
        PlanProtocol::Tcp => Protocol::Tcp,
        PlanProtocol::Udp => Protocol::Udp,
        PlanProtocol::Sctp => Protocol::Sctp,
    }
}

fn fwd(m: PlanMethod) -> FwdMethod {
    match m {
        PlanMethod::Dr => FwdMethod::Route,
        PlanMethod::Nat => FwdMethod::Masq,
        PlanMethod::Tun => FwdMethod::Tunnel,
    }
}

/// The kernel identity of a plan virtual server.
pub fn service_key(vs: &PlanVirtualServer) -> Result<ServiceKey, String> {
    if let Some(mark) = vs.fwmark {
        if mark == 0 {
            return Err("firewall mark 0 is not a valid IPVS service".into());
        }
        return Ok(ServiceKey::Fwmark {
            family: vs.family,
            mark,
        });
    }
    match (vs.protocol, vs.address, vs.port) {
        (Some(p), Some(addr), Some(port)) => {
            if family_of(&addr) != vs.family {
                return Err(format!(
                    "address {addr} is not of the service's family {:?}",
                    vs.family
                ));
            }
            Ok(ServiceKey::Addr {
                protocol: protocol(p),
                addr,
                port,
            })
        }
        _ => Err("neither a firewall mark nor protocol + address + port".into()),
    }
}

/// The kernel identity of a plan real server (or sorry server) of `vs`.
///
/// Direct routing and tunnelling cannot change the destination port (the
/// packet is forwarded unmodified), so for address/port services the
/// destination's port is the service's port, as `ipvsadm` enforces; the
/// plan's real-server port still applies to health checks.
pub fn dest_key_from_plan(vs: &PlanVirtualServer, rs: &PlanRealServer) -> DestKey {
    let port = match (vs.method, vs.fwmark, vs.port) {
        (PlanMethod::Dr | PlanMethod::Tun, None, Some(port)) => port,
        _ => rs.port,
    };
    DestKey {
        addr: rs.address,
        port,
    }
}

/// A plan real server (or sorry server) as an IPVS destination of `vs`.
pub fn dest_from_plan(vs: &PlanVirtualServer, rs: &PlanRealServer) -> Dest {
    Dest {
        key: dest_key_from_plan(vs, rs),
        fwd: fwd(vs.method),
        weight: rs.weight,
        upper_threshold: rs.upper_threshold,
        lower_threshold: rs.lower_threshold,
    }
}

fn check_dest(vs: &PlanVirtualServer, rs: &PlanRealServer, what: &str) -> Result<(), String> {
    if rs.weight > i32::MAX as u32 {
        return Err(format!(
            "{what} {} weight {} exceeds {}",
            rs.address,
            rs.weight,
            i32::MAX
        ));
    }
    if family_of(&rs.address) != vs.family && vs.method != PlanMethod::Tun {
        return Err(format!(
            "{what} {} is of another address family; IPVS allows mixed families only with the tun method",
            rs.address
        ));
    }
    Ok(())
}

/// Converts one plan virtual server into its desired state with every real
/// server at its plan weight (what a fresh start programs before any health
/// result).
pub fn desired_from_plan(vs: &PlanVirtualServer) -> Result<DesiredService, PlanEntryError> {
    let key_result = service_key(vs);
    let err = |problem: String| PlanEntryError {
        virtual_server: vs.name.clone(),
        key: key_result.as_ref().ok().copied(),
        problem,
    };
    let key = key_result.clone().map_err(&err)?;
    let mut flags = 0;
    for flag in &vs.scheduler_flags {
        if flag.scheduler() != vs.scheduler {
            return Err(err(format!(
                "scheduler flag `{}` needs scheduler `{}`, not `{}`",
                flag.name(),
                flag.scheduler().name(),
                vs.scheduler.name()
            )));
        }
        flags |= match flag.bit() {
            FlagBit::Sched1 => svc_flags::SCHED1,
            FlagBit::Sched2 => svc_flags::SCHED2,
        };
    }
    let persistent = vs.persistence_timeout_s > 0;
    if persistent {
        flags |= svc_flags::PERSISTENT;
    }
    let netmask = match vs.family {
        Family::Ipv4 => {
            let p = if persistent {
                vs.persistence_prefix_len
            } else {
                32
            };
            if p > 32 {
                return Err(err(format!("persistence prefix length {p} exceeds 32")));
            }
            if p == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(p))
            }
        }
        Family::Ipv6 => {
            let p = if persistent {
                vs.persistence_prefix_len
            } else {
                128
            };
            if !(1..=128).contains(&p) {
                return Err(err(format!(
                    "IPv6 persistence prefix length {p} is outside 1..=128"
                )));
            }
            u32::from(p)
        }
    };
    let mut claimed = BTreeSet::new();
    let mut dests = Vec::with_capacity(vs.real_servers.len());
    for rs in &vs.real_servers {
        check_dest(vs, rs, "real server").map_err(&err)?;
        claimed.insert(dest_key_from_plan(vs, rs));
        dests.push(dest_from_plan(vs, rs));
    }
    if let Some(sorry) = &vs.sorry_server {
        check_dest(vs, sorry, "sorry server").map_err(&err)?;
        claimed.insert(dest_key_from_plan(vs, sorry));
    }
    Ok(DesiredService {
        name: vs.name.clone(),
        service: Service {
            key,
            scheduler: vs.scheduler.name().to_string(),
            flags,
            timeout_s: vs.persistence_timeout_s,
            netmask,
        },
        presence: Presence::Active,
        dests,
        claimed_dests: claimed,
    })
}

/// Converts every plan virtual server. Unusable entries come back as
/// errors and, when their identity is known, as [`Presence::Hold`] entries
/// so that reconciliation leaves their kernel state alone.
pub fn desired_from_plan_all(
    vss: &[PlanVirtualServer],
) -> (Vec<DesiredService>, Vec<PlanEntryError>) {
    let mut desired = Vec::with_capacity(vss.len());
    let mut errors = Vec::new();
    for vs in vss {
        match desired_from_plan(vs) {
            Ok(d) => desired.push(d),
            Err(e) => {
                if let Some(key) = e.key {
                    desired.push(DesiredService {
                        name: vs.name.clone(),
                        service: Service {
                            key,
                            scheduler: vs.scheduler.name().to_string(),
                            flags: 0,
                            timeout_s: 0,
                            netmask: 0,
                        },
                        presence: Presence::Hold,
                        dests: Vec::new(),
                        claimed_dests: BTreeSet::new(),
                    });
                }
                errors.push(e);
            }
        }
    }
    (desired, errors)
}

/// Computes the operations turning `current` into `desired`, touching only
/// entries `owned` proves are ours (module rules).
pub fn reconcile(
    desired: &[DesiredService],
    current: &[KernelService],
    owned: &Ownership,
) -> Reconciliation {
    let by_key: BTreeMap<ServiceKey, &KernelService> =
        current.iter().map(|k| (k.service.key, k)).collect();
    let mut out = Reconciliation::default();
    let mut seen = BTreeSet::new();
    let mut deletions = Vec::new();

    for d in desired {
        let key = d.service.key;
        if !seen.insert(key) {
            out.notes.push(Note::DuplicateService {
                key,
                name: d.name.clone(),
            });
            continue;
        }
        let cur = by_key.get(&key);
        let ours = owned.services.contains(&key);
        if cur.is_some() && !ours {
            out.notes.push(Note::KeyConflict {
                key,
                name: d.name.clone(),
            });
            continue;
        }
        match d.presence {
            Presence::Hold => {
                // Held as it is; ours only while it exists (a vanished entry
                // is re-created, and owned again, once the plan can say how).
                if cur.is_some() {
                    out.owned.services.insert(key);
                    out.owned
                        .dests
                        .extend(owned.dests.iter().filter(|(k, _)| *k == key).copied());
                }
            }
            Presence::Inactive => {
                if cur.is_some() {
                    deletions.push(Op::DelService(key));
                }
            }
            Presence::Active => {
                out.owned.services.insert(key);
                let Some(cur) = cur else {
                    out.ops.push(Op::NewService(d.service.clone()));
                    for dest in &d.dests {
                        out.ops.push(Op::NewDest(key, dest.clone()));
                        out.owned.dests.insert((key, dest.key));
                    }
                    continue;
                };
                if cur.service != d.service {
                    out.ops.push(Op::SetService(d.service.clone()));
                }
                let cur_dests: BTreeMap<DestKey, &Dest> =
                    cur.dests.iter().map(|x| (x.key, x)).collect();
                let want: BTreeSet<DestKey> = d.dests.iter().map(|x| x.key).collect();
                for (dk, _) in cur_dests.iter().filter(|(dk, _)| !want.contains(dk)) {
                    if d.claimed_dests.contains(dk) || owned.dests.contains(&(key, *dk)) {
                        out.ops.push(Op::DelDest(key, *dk));
                    } else {
                        out.notes.push(Note::ForeignDestKept(key, *dk));
                    }
                }
                for dest in &d.dests {
                    out.owned.dests.insert((key, dest.key));
                    match cur_dests.get(&dest.key) {
                        None => out.ops.push(Op::NewDest(key, dest.clone())),
                        Some(c) if *c != dest => out.ops.push(Op::SetDest(key, dest.clone())),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    // Services we own that the plan no longer has.
    for key in &owned.services {
        if !seen.contains(key) && by_key.contains_key(key) {
            deletions.push(Op::DelService(*key));
        }
    }
    out.ops.extend(deletions);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_schema::plan::PlanRealServerOnFail;

    fn rs(addr: &str, port: u16, weight: u32) -> PlanRealServer {
        PlanRealServer {
            address: addr.parse().unwrap(),
            port,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }

    fn vs(
        name: &str,
        addr: &str,
        port: u16,
        sched: &str,
        servers: Vec<PlanRealServer>,
    ) -> PlanVirtualServer {
        let address: std::net::IpAddr = addr.parse().unwrap();
        PlanVirtualServer {
            name: name.into(),
            family: family_of(&address),
            protocol: Some(PlanProtocol::Tcp),
            address: Some(address),
            port: Some(port),
            fwmark: None,
            scheduler: serde_json::from_value(sched.into()).expect("a scheduler name"),
            scheduler_flags: vec![],
            method: PlanMethod::Dr,
            persistence_timeout_s: 0,
            persistence_prefix_len: 32,
            quorum: 1,
            hysteresis: 0,
            sorry_server: None,
            on_fail: PlanRealServerOnFail::Inhibit,
            only_on_master_of: None,
            keep_on_stop: false,
            health: None,
            real_servers: servers,
        }
    }

    fn web() -> PlanVirtualServer {
        vs(
            "web",
            "10.0.0.1",
            80,
            "wlc",
            vec![rs("10.0.1.1", 80, 1), rs("10.0.1.2", 80, 2)],
        )
    }

    /// The kernel state that exactly matches a desired service.
    fn kernel_of(d: &DesiredService) -> KernelService {
        KernelService {
            service: d.service.clone(),
            dests: d.dests.clone(),
        }
    }

    fn desired(v: &PlanVirtualServer) -> DesiredService {
        desired_from_plan(v).unwrap()
    }

    /// The ownership a ledger records for services created from `ds`.
    fn ledger(ds: &[&DesiredService]) -> Ownership {
        let mut o = Ownership::default();
        for d in ds {
            o.services.insert(d.service.key);
            o.dests
                .extend(d.dests.iter().map(|x| (d.service.key, x.key)));
        }
        o
    }

    fn conflict(d: &DesiredService) -> Note {
        Note::KeyConflict {
            key: d.service.key,
            name: d.name.clone(),
        }
    }

    fn dk(addr: &str, port: u16) -> DestKey {
        DestKey {
            addr: addr.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn empty_kernel_gets_everything_in_plan_order() {
        let d = desired(&web());
        let r = reconcile(std::slice::from_ref(&d), &[], &Ownership::default());
        assert_eq!(
            r.ops,
            vec![
                Op::NewService(d.service.clone()),
                Op::NewDest(d.service.key, d.dests[0].clone()),
                Op::NewDest(d.service.key, d.dests[1].clone()),
            ]
        );
        assert_eq!(r.owned.services, BTreeSet::from([d.service.key]));
        assert_eq!(r.owned.dests.len(), 2);
        assert!(r.notes.is_empty());
    }

    #[test]
    fn restart_with_ledger_readopts_without_delete_or_recreate() {
        let d = desired(&web());
        let first = reconcile(std::slice::from_ref(&d), &[], &Ownership::default());
        // A crash; the kernel keeps everything; an operator nudged a weight
        // meanwhile. The new process reads `first.owned` from the ledger.
        let mut k = kernel_of(&d);
        k.dests[1].weight = 7;
        let r = reconcile(std::slice::from_ref(&d), &[k], &first.owned);
        assert_eq!(
            r.ops,
            vec![Op::SetDest(d.service.key, d.dests[1].clone())],
            "only the drifted field is set"
        );
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        assert_eq!(r.owned, first.owned);
        // Nothing drifted: nothing to do.
        let again = reconcile(std::slice::from_ref(&d), &[kernel_of(&d)], &r.owned);
        assert!(again.ops.is_empty() && again.notes.is_empty());
        assert_eq!(again.owned, r.owned);
    }

    #[test]
    fn foreign_service_on_a_planned_key_is_untouched_and_reported() {
        let d = desired(&web());
        // Hand-made with `ipvsadm`: same key, another scheduler, a
        // destination the plan claims at another weight and one it does not.
        let mut k = kernel_of(&d);
        k.service.scheduler = "rr".into();
        k.dests[0].weight = 9;
        k.dests.push(Dest {
            key: dk("10.0.7.7", 80),
            fwd: FwdMethod::Route,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
        });
        for presence in [Presence::Active, Presence::Inactive, Presence::Hold] {
            let mut d = d.clone();
            d.presence = presence;
            let r = reconcile(
                std::slice::from_ref(&d),
                std::slice::from_ref(&k),
                &Ownership::default(),
            );
            assert!(r.ops.is_empty(), "{presence:?}: {:?}", r.ops);
            assert_eq!(
                r.notes,
                vec![conflict(&d)],
                "{presence:?}: once per service"
            );
            assert_eq!(r.owned, Ownership::default(), "{presence:?}: never adopted");
        }
        // Once the operator deletes it, the plan service is created (and ours).
        let r = reconcile(std::slice::from_ref(&d), &[], &Ownership::default());
        assert_eq!(r.ops.len(), 3);
        assert!(r.owned.services.contains(&d.service.key));
        assert_eq!(
            conflict(&d).to_string(),
            "IPVS service TCP 10.0.0.1:80 exists but was not created by vigild; virtual server \
             `web` is not programmed and the service is left untouched (delete it, e.g. with \
             ipvsadm, to let vigild program it)"
        );
    }

    #[test]
    fn service_in_the_ledger_but_dropped_from_the_plan_is_deleted() {
        let web = desired(&web());
        let b = desired(&vs("b", "10.0.0.2", 80, "rr", vec![rs("10.0.3.1", 80, 1)]));
        // The plan lost `web` while the daemon was down.
        let r = reconcile(
            std::slice::from_ref(&b),
            &[kernel_of(&web), kernel_of(&b)],
            &ledger(&[&web, &b]),
        );
        assert_eq!(r.ops, vec![Op::DelService(web.service.key)]);
        assert_eq!(r.owned, ledger(&[&b]));
        assert!(r.notes.is_empty());
    }

    #[test]
    fn owned_service_with_other_scheduler_is_set_not_recreated() {
        let d = desired(&web());
        let mut k = kernel_of(&d);
        k.service.scheduler = "rr".into();
        let r = reconcile(std::slice::from_ref(&d), &[k], &ledger(&[&d]));
        assert_eq!(r.ops, vec![Op::SetService(d.service.clone())]);
    }

    #[test]
    fn weight_change_is_one_set_dest() {
        let d = desired(&web());
        let owned = ledger(&[&d]);
        let mut k = kernel_of(&d);
        k.dests[1].weight = 7;
        let r = reconcile(std::slice::from_ref(&d), &[k], &owned);
        assert_eq!(r.ops, vec![Op::SetDest(d.service.key, d.dests[1].clone())]);
        let mut k = kernel_of(&d);
        k.dests[0].upper_threshold = 9;
        let r = reconcile(std::slice::from_ref(&d), &[k], &owned);
        assert_eq!(r.ops, vec![Op::SetDest(d.service.key, d.dests[0].clone())]);
        let mut k = kernel_of(&d);
        k.dests[0].fwd = FwdMethod::Masq;
        let r = reconcile(std::slice::from_ref(&d), &[k], &owned);
        assert_eq!(r.ops, vec![Op::SetDest(d.service.key, d.dests[0].clone())]);
    }

    #[test]
    fn missing_dest_is_added_and_claimed_unwanted_dest_removed() {
        let mut plan = web();
        plan.real_servers.push(rs("10.0.1.3", 80, 1));
        let full = desired(&plan);
        // Health removed 10.0.1.3 (on_fail = remove); it is still in the kernel.
        let mut d = full.clone();
        d.dests.pop();
        let r = reconcile(
            std::slice::from_ref(&d),
            &[kernel_of(&full)],
            &ledger(&[&full]),
        );
        assert_eq!(r.ops, vec![Op::DelDest(d.service.key, dk("10.0.1.3", 80))]);
        assert!(!r.owned.dests.contains(&(d.service.key, dk("10.0.1.3", 80))));
        // And back.
        let r = reconcile(std::slice::from_ref(&full), &[kernel_of(&d)], &r.owned);
        assert_eq!(
            r.ops,
            vec![Op::NewDest(d.service.key, full.dests[2].clone())]
        );
    }

    #[test]
    fn foreign_services_and_dests_are_never_touched() {
        let d = desired(&web());
        let foreign_svc = desired(&vs(
            "other",
            "10.9.9.9",
            443,
            "rr",
            vec![rs("10.9.9.10", 443, 1)],
        ));
        let mut k = kernel_of(&d);
        let stranger = Dest {
            key: dk("10.0.7.7", 80),
            fwd: FwdMethod::Route,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
        };
        k.dests.push(stranger);
        let r = reconcile(
            std::slice::from_ref(&d),
            &[k, kernel_of(&foreign_svc)],
            &ledger(&[&d]),
        );
        assert!(r.ops.is_empty(), "{:?}", r.ops);
        assert!(
            r.notes
                .contains(&Note::ForeignDestKept(d.service.key, dk("10.0.7.7", 80)))
        );
        assert!(!r.owned.services.contains(&foreign_svc.service.key));
        // Even an empty plan leaves the foreign service alone.
        let r = reconcile(&[], &[kernel_of(&foreign_svc)], &Ownership::default());
        assert!(r.ops.is_empty());
    }

    #[test]
    fn dest_we_created_is_removed_when_dropped_from_plan() {
        let mut plan = web();
        plan.real_servers.push(rs("10.0.1.3", 80, 1));
        let before = desired(&plan);
        let first = reconcile(std::slice::from_ref(&before), &[], &Ownership::default());
        let after = desired(&web()); // reload without 10.0.1.3: no longer claimed
        let r = reconcile(
            std::slice::from_ref(&after),
            &[kernel_of(&before)],
            &first.owned,
        );
        assert_eq!(
            r.ops,
            vec![Op::DelDest(after.service.key, dk("10.0.1.3", 80))]
        );
        // A ledger that owns the service but not that destination (e.g. an
        // operator added it by hand): foreign, kept and reported.
        let service_only = Ownership {
            services: BTreeSet::from([after.service.key]),
            dests: BTreeSet::new(),
        };
        let r = reconcile(
            std::slice::from_ref(&after),
            &[kernel_of(&before)],
            &service_only,
        );
        assert!(r.ops.is_empty(), "{:?}", r.ops);
        assert_eq!(
            r.notes,
            vec![Note::ForeignDestKept(after.service.key, dk("10.0.1.3", 80))]
        );
        // Without any ledger (fresh process, lost file) the whole service is foreign.
        let r = reconcile(
            std::slice::from_ref(&after),
            &[kernel_of(&before)],
            &Ownership::default(),
        );
        assert!(r.ops.is_empty());
        assert_eq!(r.notes, vec![conflict(&after)]);
    }

    #[test]
    fn service_we_created_is_deleted_when_dropped_from_plan_but_not_after_restart() {
        let d = desired(&web());
        let first = reconcile(std::slice::from_ref(&d), &[], &Ownership::default());
        let r = reconcile(&[], &[kernel_of(&d)], &first.owned);
        assert_eq!(r.ops, vec![Op::DelService(d.service.key)]);
        assert!(r.owned.services.is_empty());
        let r = reconcile(&[], &[kernel_of(&d)], &Ownership::default());
        assert!(r.ops.is_empty());
        // Owned but already gone from the kernel: nothing to do.
        let r = reconcile(&[], &[], &first.owned);
        assert!(r.ops.is_empty());
    }

    #[test]
    fn inactive_service_is_deleted_when_present_and_ours() {
        let mut d = desired(&web());
        d.presence = Presence::Inactive;
        let r = reconcile(std::slice::from_ref(&d), &[kernel_of(&d)], &ledger(&[&d]));
        assert_eq!(r.ops, vec![Op::DelService(d.service.key)]);
        assert!(r.owned.services.is_empty());
        let r = reconcile(std::slice::from_ref(&d), &[], &ledger(&[&d]));
        assert!(r.ops.is_empty());
        assert!(r.owned.services.is_empty(), "gone: no longer ours");
    }

    #[test]
    fn held_service_stays_ours_while_it_exists() {
        let mut d = desired(&web());
        let owned = ledger(&[&d]);
        d.presence = Presence::Hold;
        let mut k = kernel_of(&d);
        k.dests[0].weight = 9;
        let r = reconcile(std::slice::from_ref(&d), &[k], &owned);
        assert!(r.ops.is_empty(), "held: not even a SET: {:?}", r.ops);
        assert_eq!(r.owned, owned);
        let r = reconcile(std::slice::from_ref(&d), &[], &owned);
        assert!(r.ops.is_empty());
        assert_eq!(
            r.owned,
            Ownership::default(),
            "vanished while held: not ours any more"
        );
    }

    #[test]
    fn unusable_entry_is_reported_and_its_kernel_entry_held() {
        let good = web();
        let first = reconcile(&[desired(&good)], &[], &Ownership::default());
        let mut bad = good.clone();
        bad.scheduler_flags = vec![vigil_schema::ipvs::SchedulerFlag::MhPort];
        let (desired_all, errors) = desired_from_plan_all(&[bad]);
        assert_eq!(errors.len(), 1);
        let text = errors[0].to_string();
        assert!(
            text.starts_with(
                "virtual server `web`: scheduler flag `mh-port` needs scheduler `mh`, not `wlc`"
            ),
            "{text}"
        );
        assert_eq!(desired_all[0].presence, Presence::Hold);
        let kernel = [kernel_of(&desired(&good))];
        let r = reconcile(&desired_all, &kernel, &first.owned);
        assert!(
            r.ops.is_empty(),
            "a held service is neither deleted nor changed: {:?}",
            r.ops
        );
        assert_eq!(r.owned, first.owned, "ownership survives the bad reload");
    }

    #[test]
    fn plan_errors_are_specific() {
        let mut v = web();
        v.scheduler_flags = vec![vigil_schema::ipvs::SchedulerFlag::ShPort];
        assert!(
            desired_from_plan(&v)
                .unwrap_err()
                .problem
                .contains("needs scheduler `sh`")
        );
        let mut v = web();
        v.address = Some("2001:db8::1".parse().unwrap());
        let e = desired_from_plan(&v).unwrap_err();
        assert!(e.key.is_none() && e.problem.contains("family"), "{e}");
        let mut v = web();
        v.real_servers.push(rs("2001:db8::5", 80, 1));
        assert!(desired_from_plan(&v).unwrap_err().problem.contains("tun"));
        v.method = PlanMethod::Tun;
        assert!(desired_from_plan(&v).is_ok());
        let mut v = web();
        v.real_servers[0].weight = u32::MAX;
        assert!(
            desired_from_plan(&v)
                .unwrap_err()
                .problem
                .contains("weight")
        );
        let mut v = web();
        v.protocol = None;
        assert!(desired_from_plan(&v).is_err());
        let mut v = web();
        v.fwmark = Some(0);
        assert!(desired_from_plan(&v).is_err());
    }

    #[test]
    fn persistence_flags_and_netmasks() {
        let mut v = web();
        v.scheduler = vigil_schema::ipvs::Scheduler::Sh;
        v.scheduler_flags = vec![
            vigil_schema::ipvs::SchedulerFlag::ShPort,
            vigil_schema::ipvs::SchedulerFlag::ShFallback,
        ];
        v.persistence_timeout_s = 300;
        v.persistence_prefix_len = 24;
        let d = desired(&v);
        assert_eq!(
            d.service.flags,
            svc_flags::PERSISTENT | svc_flags::SCHED1 | svc_flags::SCHED2
        );
        assert_eq!(d.service.timeout_s, 300);
        assert_eq!(d.service.netmask, 0xffff_ff00);
        v.persistence_prefix_len = 0;
        assert_eq!(desired(&v).service.netmask, 0);
        v.persistence_prefix_len = 33;
        assert!(desired_from_plan(&v).is_err());
        // Without persistence the prefix is irrelevant: full mask.
        v.persistence_timeout_s = 0;
        assert_eq!(desired(&v).service.netmask, u32::MAX);
        let mut v6 = vs(
            "v6",
            "2001:db8::1",
            443,
            "rr",
            vec![rs("2001:db8::10", 443, 1)],
        );
        assert_eq!(desired(&v6).service.netmask, 128);
        v6.persistence_timeout_s = 60;
        v6.persistence_prefix_len = 64;
        assert_eq!(desired(&v6).service.netmask, 64);
        v6.persistence_prefix_len = 0;
        assert!(desired_from_plan(&v6).is_err());
    }

    #[test]
    fn fwmark_service_and_sorry_server_claim() {
        let mut v = web();
        v.fwmark = Some(5);
        v.protocol = None;
        v.address = None;
        v.port = None;
        v.sorry_server = Some(rs("10.0.2.1", 80, 1));
        let d = desired(&v);
        assert_eq!(
            d.service.key,
            ServiceKey::Fwmark {
                family: Family::Ipv4,
                mark: 5
            }
        );
        assert!(d.claimed_dests.contains(&dk("10.0.2.1", 80)));
        assert_eq!(
            d.dests.len(),
            2,
            "the sorry server is not programmed by default"
        );
        // A sorry server left in the kernel from before a restart is ours
        // (the plan claims it inside a service the ledger owns): removed.
        let mut k = kernel_of(&d);
        k.dests
            .push(dest_from_plan(&v, v.sorry_server.as_ref().unwrap()));
        let service_only = Ownership {
            services: BTreeSet::from([d.service.key]),
            dests: BTreeSet::new(),
        };
        let r = reconcile(std::slice::from_ref(&d), &[k], &service_only);
        assert_eq!(r.ops, vec![Op::DelDest(d.service.key, dk("10.0.2.1", 80))]);
    }

    #[test]
    fn direct_routing_destinations_take_the_service_port() {
        let mut v = web();
        v.real_servers[0].port = 8080;
        assert_eq!(
            desired(&v).dests[0].key,
            dk("10.0.1.1", 80),
            "DR cannot remap ports"
        );
        assert!(desired(&v).claimed_dests.contains(&dk("10.0.1.1", 80)));
        v.method = PlanMethod::Nat;
        assert_eq!(desired(&v).dests[0].key, dk("10.0.1.1", 8080));
        v.method = PlanMethod::Tun;
        v.fwmark = Some(3);
        assert_eq!(
            desired(&v).dests[0].key,
            dk("10.0.1.1", 8080),
            "fwmark services keep the port"
        );
    }

    #[test]
    fn duplicate_plan_identity_is_noted_once() {
        let d = desired(&web());
        let mut twin = d.clone();
        twin.name = "web-again".into();
        let r = reconcile(&[d.clone(), twin], &[], &Ownership::default());
        assert_eq!(r.ops.len(), 3);
        assert_eq!(
            r.notes,
            vec![Note::DuplicateService {
                key: d.service.key,
                name: "web-again".into()
            }]
        );
    }

    #[test]
    fn many_services_mixed_changes_in_order() {
        let a = desired(&web());
        let b = desired(&vs("b", "10.0.0.2", 80, "rr", vec![rs("10.0.3.1", 80, 1)]));
        let c = desired(&vs("c", "10.0.0.3", 80, "rr", vec![rs("10.0.4.1", 80, 1)]));
        let first = reconcile(
            &[a.clone(), b.clone(), c.clone()],
            &[],
            &Ownership::default(),
        );
        assert_eq!(first.ops.len(), 3 + 4);
        let mut kb = kernel_of(&b);
        kb.dests[0].weight = 3;
        // Plan drops `a`; `b` drifted; `c` absent from the kernel.
        let r = reconcile(&[b.clone(), c.clone()], &[kernel_of(&a), kb], &first.owned);
        assert_eq!(
            r.ops,
            vec![
                Op::SetDest(b.service.key, b.dests[0].clone()),
                Op::NewService(c.service.clone()),
                Op::NewDest(c.service.key, c.dests[0].clone()),
                Op::DelService(a.service.key),
            ]
        );
    }

    #[test]
    fn op_display_reads_like_ipvsadm() {
        let d = desired(&web());
        assert_eq!(
            Op::NewService(d.service.clone()).to_string(),
            "NEW_SERVICE TCP 10.0.0.1:80 (scheduler wlc)"
        );
        assert_eq!(
            Op::SetDest(d.service.key, d.dests[1].clone()).to_string(),
            "SET_DEST TCP 10.0.0.1:80 -> 10.0.1.2:80 weight 2"
        );
    }
}
