//! From health state to IPVS: the two ways the event loop turns the
//! scheduler's view into kernel operations.
//!
//! * [`action_ops`]: one scheduler action → the IPVS operations it implies
//!   (incremental, no dump needed: the normal path while running);
//! * [`desired_with_health`]: the whole desired state, health included, for
//!   [`reconcile`](crate::ipvs::reconcile::reconcile) at start, after a plan
//!   reload, on mastership changes, or to repair drift.

use vigil_schema::plan::PlanVirtualServer;

use super::scheduler::{Action, Scheduler};
use crate::ipvs::messages::Dest;
use crate::ipvs::reconcile::{
    DesiredService, Op, PlanEntryError, Presence, desired_from_plan_all, dest_from_plan,
    dest_key_from_plan, service_key,
};

/// The IPVS operations one scheduler action implies (none for checks and logs).
/// `vss` is the plan the scheduler was built from.
pub fn action_ops(action: &Action, vss: &[PlanVirtualServer]) -> Vec<Op> {
    let rs_of = |vs: usize, rs: usize| {
        let v = vss.get(vs)?;
        let r = v.real_servers.get(rs)?;
        Some((service_key(v).ok()?, v, r))
    };
    match action {
        Action::SetWeight { rs, weight } => rs_of(rs.vs, rs.rs)
            .map(|(key, v, r)| {
                vec![Op::SetDest(
                    key,
                    Dest {
                        weight: *weight,
                        ..dest_from_plan(v, r)
                    },
                )]
            })
            .unwrap_or_default(),
        Action::AddDest { rs } => rs_of(rs.vs, rs.rs)
            .map(|(key, v, r)| vec![Op::NewDest(key, dest_from_plan(v, r))])
            .unwrap_or_default(),
        Action::RemoveDest { rs } => rs_of(rs.vs, rs.rs)
            .map(|(key, v, r)| vec![Op::DelDest(key, dest_key_from_plan(v, r))])
            .unwrap_or_default(),
        Action::UseSorryServer { vs, active } => {
            let Some(v) = vss.get(*vs) else {
                return Vec::new();
            };
            let (Ok(key), Some(sorry)) = (service_key(v), v.sorry_server.as_ref()) else {
                return Vec::new();
            };
            if *active {
                vec![Op::NewDest(key, dest_from_plan(v, sorry))]
            } else {
                vec![Op::DelDest(key, dest_key_from_plan(v, sorry))]
            }
        }
        Action::StartCheck { .. } | Action::AbortCheck { .. } | Action::Log(_) => Vec::new(),
    }
}

/// The desired IPVS state of a plan with the scheduler's health view
/// applied. `presence(vs)` says whether a virtual server is to be
/// programmed now (e.g. `Inactive` for `only_on_master_of` while backup).
pub fn desired_with_health(
    vss: &[PlanVirtualServer],
    sched: &Scheduler,
    presence: impl Fn(&PlanVirtualServer) -> Presence,
) -> (Vec<DesiredService>, Vec<PlanEntryError>) {
    let (mut desired, errors) = desired_from_plan_all(vss);
    let mut i = 0;
    for (vs_index, vs) in vss.iter().enumerate() {
        let Ok(key) = service_key(vs) else { continue };
        // `desired` holds one entry per plan service whose key is known, in plan order.
        let Some(d) = desired.get_mut(i).filter(|d| d.service.key == key) else {
            continue;
        };
        i += 1;
        if d.presence == Presence::Hold {
            continue;
        }
        d.presence = presence(vs);
        let mut dests: Vec<Dest> = sched
            .effective_dests(vs_index)
            .into_iter()
            .filter_map(|e| {
                vs.real_servers.get(e.rs).map(|r| Dest {
                    weight: e.weight,
                    ..dest_from_plan(vs, r)
                })
            })
            .collect();
        if sched.sorry_active(vs_index)
            && let Some(sorry) = &vs.sorry_server
        {
            dests.push(dest_from_plan(vs, sorry));
        }
        d.dests = dests;
    }
    (desired, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::scheduler::{Input, RsId};
    use crate::ipvs::messages::{FwdMethod, ServiceKey};
    use crate::ipvs::reconcile::{Ownership, reconcile};
    use crate::vrrp::Instant;
    use std::time::Duration;
    use vigil_schema::plan::{
        Family, PlanCheck, PlanHealth, PlanMethod, PlanProtocol, PlanRealServer,
        PlanRealServerOnFail,
    };

    fn rs(last: u8) -> PlanRealServer {
        PlanRealServer {
            address: [10, 0, 1, last].into(),
            port: 80,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }

    fn plan(on_fail: PlanRealServerOnFail) -> Vec<PlanVirtualServer> {
        vec![PlanVirtualServer {
            name: "web".into(),
            family: Family::Ipv4,
            protocol: Some(PlanProtocol::Tcp),
            address: Some([10, 0, 0, 1].into()),
            port: Some(80),
            fwmark: None,
            scheduler: vigil_schema::ipvs::Scheduler::Rr,
            scheduler_flags: vec![],
            method: PlanMethod::Nat,
            persistence_timeout_s: 0,
            persistence_prefix_len: 32,
            quorum: 2,
            hysteresis: 0,
            sorry_server: Some(rs(99)),
            on_fail,
            only_on_master_of: None,
            keep_on_stop: false,
            health: Some(PlanHealth {
                interval_ms: 1000,
                timeout_ms: 100,
                rise: 1,
                fall: 1,
                warmup_ms: 0,
                check: PlanCheck::Tcp { port: None },
            }),
            real_servers: vec![rs(1), rs(2)],
        }]
    }

    fn key() -> ServiceKey {
        ServiceKey::Addr {
            protocol: crate::ipvs::messages::Protocol::Tcp,
            addr: [10, 0, 0, 1].into(),
            port: 80,
        }
    }

    /// Applying the incremental operations to a kernel model yields the same
    /// state as reconciling the whole desired state: the two paths agree.
    #[test]
    fn incremental_ops_agree_with_full_reconciliation() {
        for on_fail in [PlanRealServerOnFail::Inhibit, PlanRealServerOnFail::Remove] {
            let vss = plan(on_fail);
            let t0 = Instant::ZERO;
            let (mut sched, _) = Scheduler::new(&vss, t0);
            let (desired, _) = desired_with_health(&vss, &sched, |_| Presence::Active);
            let first = reconcile(&desired, &[], &Ownership::default());
            let mut kernel = apply_model(Vec::new(), &first.ops);
            sched.step(Input::Tick, t0);
            let mut ops = Vec::new();
            let fail = Input::CheckDone {
                rs: RsId { vs: 0, rs: 0 },
                result: Err("refused".into()),
            };
            for a in sched.step(fail, t0 + Duration::from_millis(10)) {
                ops.extend(action_ops(&a, &vss));
            }
            assert!(sched.sorry_active(0));
            kernel = apply_model(kernel, &ops);
            let (desired, _) = desired_with_health(&vss, &sched, |_| Presence::Active);
            let r = reconcile(&desired, &kernel, &first.owned);
            assert!(
                r.ops.is_empty(),
                "{on_fail:?}: incremental ops left a diff: {:?}",
                r.ops
            );
            let sorry = kernel[0]
                .dests
                .iter()
                .find(|d| d.key.addr == std::net::IpAddr::from([10, 0, 1, 99]));
            assert_eq!(sorry.map(|d| (d.fwd, d.weight)), Some((FwdMethod::Masq, 1)));
        }
    }

    /// A minimal in-memory kernel for the agreement test.
    fn apply_model(
        mut k: Vec<crate::ipvs::reconcile::KernelService>,
        ops: &[Op],
    ) -> Vec<crate::ipvs::reconcile::KernelService> {
        use crate::ipvs::reconcile::KernelService;
        for op in ops {
            match op {
                Op::NewService(s) | Op::SetService(s) => {
                    k.retain(|x| x.service.key != s.key);
                    k.push(KernelService {
                        service: s.clone(),
                        dests: Vec::new(),
                    });
                }
                Op::DelService(key) => k.retain(|x| x.service.key != *key),
                Op::NewDest(key, d) | Op::SetDest(key, d) => {
                    let svc = k
                        .iter_mut()
                        .find(|x| x.service.key == *key)
                        .expect("service exists");
                    match svc.dests.iter_mut().find(|x| x.key == d.key) {
                        Some(x) => *x = d.clone(),
                        None => svc.dests.push(d.clone()),
                    }
                }
                Op::DelDest(key, dk) => {
                    let svc = k
                        .iter_mut()
                        .find(|x| x.service.key == *key)
                        .expect("service exists");
                    svc.dests.retain(|x| x.key != *dk);
                }
            }
        }
        k
    }

    #[test]
    fn ops_for_each_action() {
        let vss = plan(PlanRealServerOnFail::Inhibit);
        let id = RsId { vs: 0, rs: 1 };
        let ops = action_ops(&Action::SetWeight { rs: id, weight: 0 }, &vss);
        assert!(
            matches!(&ops[..], [Op::SetDest(k, d)] if *k == key() && d.weight == 0 && d.fwd == FwdMethod::Masq)
        );
        let ops = action_ops(&Action::RemoveDest { rs: id }, &vss);
        assert!(
            matches!(&ops[..], [Op::DelDest(_, d)] if d.addr == std::net::IpAddr::from([10, 0, 1, 2]))
        );
        assert_eq!(action_ops(&Action::AddDest { rs: id }, &vss).len(), 1);
        assert_eq!(
            action_ops(
                &Action::UseSorryServer {
                    vs: 0,
                    active: false
                },
                &vss
            )
            .len(),
            1
        );
        assert!(action_ops(&Action::AbortCheck { rs: id }, &vss).is_empty());
        assert!(
            action_ops(
                &Action::AddDest {
                    rs: RsId { vs: 4, rs: 0 }
                },
                &vss
            )
            .is_empty()
        );
    }

    #[test]
    fn presence_is_applied_and_held_entries_kept() {
        let mut vss = plan(PlanRealServerOnFail::Inhibit);
        let (sched, _) = Scheduler::new(&vss, Instant::ZERO);
        let (d, _) = desired_with_health(&vss, &sched, |_| Presence::Inactive);
        assert_eq!(d[0].presence, Presence::Inactive);
        // A plan entry vigild cannot program (a flag of another scheduler).
        vss[0].scheduler_flags = vec![vigil_schema::ipvs::SchedulerFlag::ShPort];
        let (d, errors) = desired_with_health(&vss, &sched, |_| Presence::Active);
        assert_eq!(errors.len(), 1);
        assert_eq!(d[0].presence, Presence::Hold);
    }
}
