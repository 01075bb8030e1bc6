//! PLACEHOLDER written by the lead so node/mod.rs compiles: the director
//! core's author replaces this whole file. node/mod.rs calls exactly these
//! methods (keep the signatures, or tell the lead what changed):
//!
//! * `DirectorCore::new(vss, owned_from_ledger, now) -> (DirectorCore, Vec<Command>)`
//! * `on_probe_done(&mut self, rs, result, now) -> Vec<Command>`
//! * `on_ipvs_dumped(&mut self, result, now) -> Vec<Command>`
//! * `set_master(&mut self, router: &str, state: State, now) -> Vec<Command>`
//!   (called on every state change of every router; `State::Initialize`
//!   means "not decided yet": hold `only_on_master_of` services the
//!   ledger owns instead of deleting them)
//! * `tick(&mut self, now) -> Vec<Command>`, `next_deadline(&self) -> Option<Instant>`
//! * `reload(&mut self, vss, now) -> Vec<Command>`
//! * `shutdown(&mut self, now) -> Vec<Command>`
//! * `ownership(&self) -> &Ownership`, `status(&self) -> serde_json::Value`

use serde_json::Value;
use vigil_schema::plan::PlanVirtualServer;

use super::Command;
use crate::health::scheduler::RsId;
use crate::ipvs::reconcile::{KernelService, Ownership};
use crate::vrrp::{Instant, State};

#[derive(Debug)]
pub struct DirectorCore {
    owned: Ownership,
}

impl DirectorCore {
    pub fn new(
        _vss: Vec<PlanVirtualServer>,
        owned: Ownership,
        _now: Instant,
    ) -> (DirectorCore, Vec<Command>) {
        (DirectorCore { owned }, Vec::new())
    }
    pub fn on_probe_done(
        &mut self,
        _rs: RsId,
        _result: Result<(), String>,
        _now: Instant,
    ) -> Vec<Command> {
        Vec::new()
    }
    pub fn on_ipvs_dumped(
        &mut self,
        _result: Result<Vec<KernelService>, String>,
        _now: Instant,
    ) -> Vec<Command> {
        Vec::new()
    }
    pub fn set_master(&mut self, _router: &str, _state: State, _now: Instant) -> Vec<Command> {
        Vec::new()
    }
    pub fn tick(&mut self, _now: Instant) -> Vec<Command> {
        Vec::new()
    }
    pub fn next_deadline(&self) -> Option<Instant> {
        None
    }
    pub fn reload(&mut self, _vss: Vec<PlanVirtualServer>, _now: Instant) -> Vec<Command> {
        Vec::new()
    }
    pub fn shutdown(&mut self, _now: Instant) -> Vec<Command> {
        Vec::new()
    }
    pub fn ownership(&self) -> &Ownership {
        &self.owned
    }
    pub fn status(&self) -> Value {
        Value::Null
    }
}
