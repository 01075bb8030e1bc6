//! Child processes as the simulated hosts run them: notify hooks,
//! self-fence and command trackers, and fence commands whose success powers
//! off the peers they fence.

use std::time::Duration;

use crate::hooks::process::Outcome;
use crate::node::ProcId;
use crate::vrrp::State;

use super::record::FaultRecord;
use super::scenario::{Fault, FenceEffect};
use super::world::{Item, Sim};

impl Sim {
    pub(super) fn spawn(
        &mut self,
        h: usize,
        proc: ProcId,
        argv: &[String],
        env: &[(String, String)],
        timeout_ms: u64,
    ) {
        let var = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let router = var("VIGIL_ROUTER");
        let plan_router = router
            .as_deref()
            .and_then(|r| self.hosts[h].plan.routers.iter().find(|p| p.name == r));
        let timing = &self.scenario.timing;
        let (runtime, ok, fence_of) = if let Some(tracker) = var("VIGIL_TRACKER") {
            let fails = self.hosts[h].tracker_fails.contains(&tracker);
            (timing.tracker_runtime, !fails, None)
        } else if var("VIGIL_STATE").is_none()
            && plan_router
                .and_then(|p| p.arbitration.as_ref())
                .and_then(|a| a.fence.as_ref())
                .is_some_and(|f| f.command == argv)
        {
            let ok = !self.hosts[h].fence_fails;
            (timing.fence_runtime, ok, router.filter(|_| ok))
        } else {
            (timing.hook_runtime, true, None)
        };
        let timeout = Duration::from_millis(timeout_ms);
        let (elapsed, outcome, fence_of) = if runtime > timeout {
            (timeout, Outcome::TimedOut, None)
        } else {
            let code = if ok { 0 } else { 1 };
            (runtime, Outcome::Exited { code }, fence_of)
        };
        let life = self.hosts[h].life;
        self.hosts[h].procs.insert(proc, 0);
        let at = self.now + elapsed;
        self.push(
            at,
            Item::ProcDone {
                host: h,
                life,
                proc,
                outcome,
                elapsed,
                fence_of,
            },
        );
    }

    /// A fence of `router` run by host `h` succeeded: the peers it fences
    /// lose power (see [`FenceEffect`]).
    pub(super) fn fence_succeeded(&mut self, h: usize, router: &str) {
        let effect = self.scenario.fence;
        if effect == FenceEffect::Nothing {
            return;
        }
        let Some(pr) = self.hosts[h]
            .plan
            .routers
            .iter()
            .find(|r| r.name == router)
            .cloned()
        else {
            return;
        };
        let victims: Vec<String> = pr
            .peers
            .iter()
            .filter_map(|p| self.host_index(&p.host))
            .filter(|&g| g != h)
            .filter(|&g| {
                let host = &self.hosts[g];
                let master = host
                    .node
                    .as_ref()
                    .is_some_and(|n| n.state_of(router) == Some(State::Master));
                let holds = pr
                    .vips
                    .iter()
                    .any(|v| host.kernel.addresses.iter().any(|a| a.address == v.address));
                host.powered && (effect == FenceEffect::AllPeers || master || holds)
            })
            .map(|g| self.hosts[g].spec.name.clone())
            .collect();
        for v in victims {
            let name = self.hosts[h].spec.name.clone();
            self.note(Some(h), format!("fence of {router} powers off {v}"));
            self.record.faults.push(FaultRecord {
                at: self.now,
                description: format!("{name}'s fence for {router} powers off {v}"),
            });
            self.apply_fault(Fault::PowerOff { host: v });
        }
    }
}
