//! One router as the node runs it: the RFC core ([`Router`]) and the
//! guards that feed it (arbitration, fence gate, trackers, fault sources).
//!
//! The guards never talk to the core directly: [`Member::sync`] compares
//! what they say now with what the core was last told, and returns the
//! inputs that bring the core in line (`Fault`, `ArbitrationVerdict`,
//! `PriorityChange`). A sync group adds two inputs to that comparison: the
//! group's fault and the group's demotion, which the node computes over all
//! members of the group.

use std::net::IpAddr;

use serde_json::{Value, json};
use vigil_schema::plan::{PlanRouter, PlanTrackerKind};

use crate::arbitration::fence::FenceGate;
use crate::arbitration::{Arbiter, Verdict};
use crate::hooks::state_name;
use crate::lease::LeaseCore;
use crate::track::{FaultSources, Trackers};
use crate::vrrp::{Input, Instant, Reason, Router, RouterConfig, State};

/// What the node counts for one router beyond the core's [`crate::vrrp::Stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberCounters {
    /// State changes by (new state, reason): `[State::index][Reason::index]`,
    /// states in the order Initialize, Backup, Master, Fault.
    pub transitions: [[u64; Reason::ALL.len()]; 4],
    /// Master-down timers that ran out while in Backup (a takeover or a veto).
    pub master_down_expiries: u64,
}

/// The index of a state in [`MemberCounters::transitions`].
pub fn state_index(s: State) -> usize {
    match s {
        State::Initialize => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
    }
}

/// The states in [`state_index`] order.
pub const STATES: [State; 4] = [
    State::Initialize,
    State::Backup,
    State::Master,
    State::Fault,
];

/// A router and its guards.
#[derive(Debug)]
pub struct Member {
    pub plan: PlanRouter,
    pub router: Router,
    pub arbiter: Option<Arbiter>,
    pub fence: Option<FenceGate>,
    /// Lease arbitration: master only while holding the router's key.
    pub lease: Option<LeaseCore>,
    pub trackers: Trackers,
    pub faults: FaultSources,
    fed_fault: bool,
    fed_allow: bool,
    fed_priority: u8,
    /// The last valid advert heard: sender, priority, when.
    pub last_advert: Option<(IpAddr, u8, Instant)>,
    /// In Backup since it started (Initialize -> Backup) and has not yet
    /// heard a master it defers to: it has not decided, and may still
    /// become master without anyone else having been. See
    /// [`Member::director_state`].
    pub undecided: bool,
    pub counters: MemberCounters,
}

/// The core's config and password from a plan router.
pub fn build_router(
    plan: &PlanRouter,
    startup_delay_ms: u64,
    password: Option<&Vec<u8>>,
) -> Result<Router, String> {
    let config = RouterConfig::from_plan(plan, startup_delay_ms)
        .map_err(|e| format!("router `{}`: {e}", plan.name))?;
    let password = password.map(|p| {
        let mut pw = [0u8; 8];
        let n = p.len().min(8);
        pw[..n].copy_from_slice(&p[..n]);
        pw
    });
    Ok(Router::new(config, password))
}

impl Member {
    /// A member whose guards start from the current link states
    /// (`link_up(name)`; a missing interface is down).
    pub fn new(
        plan: PlanRouter,
        router: Router,
        now: Instant,
        link_up: impl Fn(&str) -> bool,
    ) -> Member {
        let arbiter = plan.arbitration.as_ref().map(|a| Arbiter::new(a, now));
        let fence = plan
            .arbitration
            .as_ref()
            .and_then(|a| a.fence.as_ref())
            .map(|f| FenceGate::new(f.required));
        let trackers = Trackers::new(&plan.trackers, plan.priority, now, &link_up);
        let lease = plan.lease.as_ref().map(|l| LeaseCore::new(l, now));
        let faults = FaultSources {
            link: !link_up(&plan.interface)
                || plan.vmac.as_ref().is_some_and(|v| !link_up(&v.interface)),
            ..FaultSources::default()
        };
        Member {
            fed_priority: plan.priority,
            plan,
            router,
            arbiter,
            fence,
            lease,
            trackers,
            faults,
            fed_fault: false,
            fed_allow: true,
            last_advert: None,
            undecided: false,
            counters: MemberCounters::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.plan.name
    }

    pub fn state(&self) -> State {
        self.router.state()
    }

    /// The state the director core is told: Initialize ("not decided yet",
    /// the services that follow the router are held as they are) while the
    /// router is [`undecided`](Member::undecided). A restarted master
    /// starts in Backup and takes over after the master-down interval; it
    /// must not delete its `only_on_master_of` services in between.
    pub fn director_state(&self) -> State {
        if self.undecided {
            State::Initialize
        } else {
            self.router.state()
        }
    }

    /// Arbitration and the fence gate allow mastership.
    pub fn allow(&self) -> bool {
        self.arbiter
            .as_ref()
            .is_none_or(|a| a.verdict() == Verdict::Reachable)
            && self.fence.as_ref().is_none_or(FenceGate::allows)
            && self.lease.as_ref().is_none_or(LeaseCore::holding)
    }

    /// The inputs that bring the core in line with the guards;
    /// `group_fault` / `group_demotion`: what the sync group adds.
    /// A master whose lease is gone also gets [`Input::Resign`]; the
    /// lease may be held only while the router is not in FAULT.
    pub fn sync(&mut self, group_fault: bool, group_demotion: u32, now: Instant) -> Vec<Input> {
        let mut out = Vec::new();
        self.faults.tracker = self.trackers.fault();
        self.faults.sync_group = group_fault;
        let fault = self.faults.any();
        if let Some(l) = self.lease.as_mut() {
            l.set_eligible(!fault, now);
        }
        if fault != self.fed_fault {
            self.fed_fault = fault;
            out.push(Input::Fault { on: fault });
        }
        let allow = self.allow();
        if allow != self.fed_allow {
            self.fed_allow = allow;
            out.push(Input::ArbitrationVerdict {
                allow_master: allow,
            });
        }
        if self.lease.as_ref().is_some_and(|l| !l.holding()) && self.state() == State::Master {
            out.push(Input::Resign);
        }
        let p = self.trackers.priority_with(group_demotion);
        if p != self.fed_priority {
            self.fed_priority = p;
            out.push(Input::PriorityChange { priority: p });
        }
        out
    }

    /// A reload applied [`Input::PlanReload`]: the core now advertises the
    /// new configured priority.
    pub fn reloaded(&mut self, plan: PlanRouter, now: Instant, link_up: impl Fn(&str) -> bool) {
        let old = std::mem::replace(&mut self.plan, plan);
        if old.arbitration != self.plan.arbitration {
            self.arbiter = self.plan.arbitration.as_ref().map(|a| Arbiter::new(a, now));
            self.fence = self
                .plan
                .arbitration
                .as_ref()
                .and_then(|a| a.fence.as_ref())
                .map(|f| FenceGate::new(f.required));
        }
        if old.lease != self.plan.lease {
            // A new lease configuration starts over; the old lease expires
            // in the store (it is not revoked: its key may be what keeps
            // the others from taking over while this one is master).
            self.lease = self.plan.lease.as_ref().map(|l| LeaseCore::new(l, now));
        }
        if old.trackers != self.plan.trackers || old.priority != self.plan.priority {
            self.trackers = Trackers::new(&self.plan.trackers, self.plan.priority, now, &link_up);
        }
        self.fed_priority = self.plan.priority;
    }

    /// Interfaces this member's trackers watch.
    pub fn tracked_interfaces(&self) -> impl Iterator<Item = &str> {
        self.plan.trackers.iter().filter_map(|t| match &t.kind {
            PlanTrackerKind::Interface { interface } => Some(interface.as_str()),
            PlanTrackerKind::Command { .. } => None,
        })
    }

    /// The earliest deadline of the guards.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.arbiter.as_ref().map(Arbiter::next_deadline),
            self.trackers.next_deadline(),
            self.fence.as_ref().and_then(FenceGate::next_deadline),
            self.lease.as_ref().map(LeaseCore::next_deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The master this member knows of: itself, or the sender of a fresh
    /// advert (three intervals plus a second).
    pub fn master(&self, now: Instant) -> Option<IpAddr> {
        let fresh = std::time::Duration::from_millis(u64::from(self.plan.advert_interval_cs) * 30)
            + std::time::Duration::from_secs(1);
        match self.state() {
            State::Master => Some(self.plan.source_address),
            State::Backup => self
                .last_advert
                .filter(|(_, p, at)| *p > 0 && now.saturating_since(*at) <= fresh)
                .map(|(a, _, _)| a),
            State::Initialize | State::Fault => None,
        }
    }

    /// The defences' part of the status.
    pub fn defences(&self, hooks_pending: usize, now: Instant) -> Value {
        json!({
            "effective_priority": self.fed_priority,
            "arbitration": self.arbiter.as_ref().map(|a| json!({
                "verdict": a.verdict(),
                "isolated": a.isolated(),
                "reference_ips": a.targets(),
            })),
            "lease": self.lease.as_ref().map(|l| l.status(now)),
            "allow_master": self.allow(),
            "fence": self.fence,
            "faults": self.faults,
            "trackers": self.trackers.list(),
            "hooks_pending": hooks_pending,
        })
    }

    /// One row of the status document.
    pub fn status_row(&self, now: Instant, hooks_pending: usize) -> Value {
        json!({
            "router": self.plan.name,
            "interface": self.plan.interface,
            "vrid": self.plan.vrid,
            "state": state_name(self.state()),
            "sync_group": self.plan.sync_group,
            "priority": {
                "configured": self.plan.priority,
                "effective": self.fed_priority,
                "advertised": self.router.priority(),
            },
            "master": self.master(now).map(|a| a.to_string()),
            "arbitration": self.arbiter.as_ref().map(Arbiter::verdict),
            "lease": self.lease.as_ref().map(|l| l.state(now)),
            "trackers": self.trackers.list(),
            "defences": self.defences(hooks_pending, now),
            "counters": self.router.stats(),
            "stats": self.router.stats(),
        })
    }
}
