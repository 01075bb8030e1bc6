//! The shell side of IPVS and health checks: it owns the IPVS generic-netlink
//! connection and the running [`Probe`]s with their mio registrations, and
//! carries out the node's `StartProbe`, `AbortProbe`, `IpvsDump` and
//! `IpvsApply` commands. Every decision (what to check, when, what the
//! kernel table must hold) is the node's (`crate::node::director`).
//!
//! Probe sockets take tokens from `first_token` up, inside a range the loop
//! gives this component; command checks have no socket and are polled every
//! [`COMMAND_POLL`].

use std::collections::BTreeMap;
use std::time::Duration;

use mio::{Interest, Registry, Token};
use serde::Serialize;
use serde_json::{Value, json};

use super::probe::Probe;
use super::scheduler::RsId;
use crate::ipvs::client::{IpvsClient, IpvsError};
use crate::ipvs::messages::Info;
use crate::node::{Command, Event};
use crate::vrrp::Instant;

/// How often running command checks are polled (`waitpid(WNOHANG)`).
pub const COMMAND_POLL: Duration = Duration::from_millis(50);
/// Probe tokens cycle through this many values after the first.
pub const PROBE_TOKENS: usize = 1 << 20;

/// Counters of the IPVS and probe I/O.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HealthIoCounters {
    pub checks_started: u64,
    pub checks_failed_to_start: u64,
    pub checks_aborted: u64,
    pub ipvs_ops: u64,
    pub ipvs_errors: u64,
    pub dumps: u64,
    pub dump_errors: u64,
}

#[derive(Debug)]
struct Running {
    probe: Probe,
    token: Option<Token>,
}

/// Log lines the shell writes: (event, fields).
pub type LogLines = Vec<(String, Value)>;

/// IPVS connection and running probes.
#[derive(Debug)]
pub struct HealthIo {
    client: IpvsClient,
    info: Info,
    running: BTreeMap<RsId, Running>,
    tokens: BTreeMap<Token, RsId>,
    first_token: usize,
    next_token: usize,
    next_command_poll: Option<Instant>,
    pub counters: HealthIoCounters,
}

impl HealthIo {
    /// Opens IPVS (a clear error when the kernel has none).
    pub fn open(first_token: usize) -> Result<HealthIo, IpvsError> {
        let (client, info) = IpvsClient::probe()?;
        Ok(HealthIo {
            client,
            info,
            running: BTreeMap::new(),
            tokens: BTreeMap::new(),
            first_token,
            next_token: first_token,
            next_command_poll: None,
            counters: HealthIoCounters::default(),
        })
    }

    /// The kernel's IPVS version.
    pub fn info(&self) -> Info {
        self.info
    }

    pub fn owns(&self, token: Token) -> bool {
        self.tokens.contains_key(&token)
    }

    /// Carries out one IPVS or probe command; returns the answers for the
    /// node and log lines.
    pub fn execute(
        &mut self,
        cmd: &Command,
        registry: &Registry,
        now: Instant,
    ) -> (Vec<Event>, LogLines) {
        let mut logs = Vec::new();
        let events = match cmd {
            Command::StartProbe { rs, kind } => {
                self.counters.checks_started += 1;
                if let Some(old) = self.finish(registry, *rs) {
                    old.abort();
                }
                match Probe::start(kind) {
                    Ok(mut probe) => {
                        let mut token = None;
                        if let Some(src) = probe.source() {
                            let t = Token(self.next_token);
                            self.next_token += 1;
                            if self.next_token >= self.first_token + PROBE_TOKENS {
                                self.next_token = self.first_token;
                            }
                            match registry.register(src, t, Interest::READABLE | Interest::WRITABLE)
                            {
                                Ok(()) => token = Some(t),
                                Err(e) => {
                                    probe.abort();
                                    return (
                                        vec![Event::ProbeDone {
                                            rs: *rs,
                                            result: Err(format!("register: {e}")),
                                        }],
                                        logs,
                                    );
                                }
                            }
                        }
                        if let Some(t) = token {
                            self.tokens.insert(t, *rs);
                        }
                        self.running.insert(*rs, Running { probe, token });
                        self.update_command_poll(now);
                        Vec::new()
                    }
                    Err(reason) => {
                        self.counters.checks_failed_to_start += 1;
                        vec![Event::ProbeDone {
                            rs: *rs,
                            result: Err(reason),
                        }]
                    }
                }
            }
            Command::AbortProbe { rs } => {
                if let Some(p) = self.finish(registry, *rs) {
                    self.counters.checks_aborted += 1;
                    p.abort();
                }
                self.update_command_poll(now);
                Vec::new()
            }
            Command::IpvsDump => {
                self.counters.dumps += 1;
                let result = self.client.dump().map_err(|e| {
                    self.counters.dump_errors += 1;
                    e.to_string()
                });
                vec![Event::IpvsDumped { result }]
            }
            Command::IpvsApply { ops } => {
                let results = self.client.apply_all(ops);
                for (op, res) in ops.iter().zip(results) {
                    self.counters.ipvs_ops += 1;
                    match res {
                        Ok(()) => logs.push(("ipvs_op".into(), json!({"op": op.to_string()}))),
                        Err(e) => {
                            self.counters.ipvs_errors += 1;
                            logs.push((
                                "ipvs_error".into(),
                                json!({"op": op.to_string(), "error": e.to_string()}),
                            ));
                        }
                    }
                }
                Vec::new()
            }
            _ => Vec::new(),
        };
        (events, logs)
    }

    fn finish(&mut self, registry: &Registry, rs: RsId) -> Option<Probe> {
        let mut running = self.running.remove(&rs)?;
        if let Some(token) = running.token.take() {
            self.tokens.remove(&token);
            if let Some(src) = running.probe.source() {
                let _ = registry.deregister(src);
            }
        }
        Some(running.probe)
    }

    fn update_command_poll(&mut self, now: Instant) {
        let any_command = self.running.values().any(|r| r.token.is_none());
        self.next_command_poll = any_command.then(|| now + COMMAND_POLL);
    }

    fn poll_probe(&mut self, rs: RsId) -> Option<Event> {
        let running = self.running.get_mut(&rs)?;
        let std::task::Poll::Ready(result) = running.probe.poll() else {
            return None;
        };
        Some(Event::ProbeDone { rs, result })
    }

    /// A probe socket is ready.
    pub fn on_ready(&mut self, token: Token, registry: &Registry, now: Instant) -> Vec<Event> {
        let Some(rs) = self.tokens.get(&token).copied() else {
            return Vec::new();
        };
        let done = self.poll_probe(rs);
        if done.is_some() {
            self.finish(registry, rs);
        }
        self.update_command_poll(now);
        done.into_iter().collect()
    }

    /// When running command checks must be polled.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_command_poll
    }

    /// Polls running command checks when due.
    pub fn poll(&mut self, registry: &Registry, now: Instant) -> Vec<Event> {
        if self.next_command_poll.is_none_or(|at| at > now) {
            return Vec::new();
        }
        let commands: Vec<RsId> = self
            .running
            .iter()
            .filter(|(_, r)| r.token.is_none())
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for rs in commands {
            if let Some(e) = self.poll_probe(rs) {
                self.finish(registry, rs);
                out.push(e);
            }
        }
        self.update_command_poll(now);
        out
    }
}
