//! The shell side of IPVS and health checks: it owns the IPVS generic-netlink
//! connection and the running [`Probe`]s with their mio registrations, and
//! carries out the node's `StartProbe`, `AbortProbe`, `IpvsDump` and
//! `IpvsApply` commands. Every decision (what to check, when, what the
//! kernel table must hold, what each operation means for the log) is the
//! node's (`crate::node::director`); this file only does and reports.
//!
//! # Contract with the loop
//! * Build with [`HealthIo::open`] (IPVS is probed at once: a clear error
//!   when the kernel has none) or [`HealthIo::new`] (IPVS opened on the
//!   first IPVS command; until it can be, dumps answer with the reason).
//! * Pass every health or IPVS command to [`HealthIo::execute`]; feed the
//!   events it returns to the node (a dump's answer, a probe that failed to
//!   start) and write the log lines it returns.
//! * Probe sockets take mio tokens in `[first_token, first_token +
//!   PROBE_TOKENS)`; give every event whose token [`HealthIo::owns`] to
//!   [`HealthIo::on_ready`] (a stale event of a finished probe is ignored).
//! * Command checks have no socket: call [`HealthIo::poll`] once `now`
//!   reaches [`HealthIo::next_deadline`] (every [`COMMAND_POLL`] while one runs).
//!
//! Failures of IPVS operations come back as `ipvs_error` log lines, one per
//! failed operation, and are counted; successes are not logged here (the
//! node logs each operation it asks for).

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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HealthIoCounters {
    pub checks_started: u64,
    /// Probes that could not start (bad command, unroutable address, no
    /// token, registration refused): reported to the node as failed checks.
    pub checks_failed_to_start: u64,
    pub checks_aborted: u64,
    pub ipvs_ops: u64,
    pub ipvs_errors: u64,
    pub dumps: u64,
    pub dump_errors: u64,
    /// Attempts to open IPVS that failed.
    pub ipvs_open_errors: u64,
    /// Commands that are not the executor's (a routing mistake of the shell).
    pub foreign_commands: u64,
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
    ipvs: Option<(IpvsClient, Info)>,
    running: BTreeMap<RsId, Running>,
    tokens: BTreeMap<Token, RsId>,
    first_token: usize,
    token_count: usize,
    next_token: usize,
    next_command_poll: Option<Instant>,
    pub counters: HealthIoCounters,
}

impl HealthIo {
    /// Opens IPVS now (a clear error when the kernel has none).
    pub fn open(first_token: usize) -> Result<HealthIo, IpvsError> {
        let ipvs = IpvsClient::probe()?;
        let mut io = HealthIo::new(first_token);
        io.ipvs = Some(ipvs);
        Ok(io)
    }

    /// Without IPVS yet: it is opened by the first IPVS command (probes
    /// work at once).
    pub fn new(first_token: usize) -> HealthIo {
        HealthIo::with_tokens(first_token, PROBE_TOKENS)
    }

    fn with_tokens(first_token: usize, token_count: usize) -> HealthIo {
        HealthIo {
            ipvs: None,
            running: BTreeMap::new(),
            tokens: BTreeMap::new(),
            first_token,
            token_count: token_count.max(1),
            next_token: first_token,
            next_command_poll: None,
            counters: HealthIoCounters::default(),
        }
    }

    /// The kernel's IPVS version, once IPVS is open.
    pub fn info(&self) -> Option<Info> {
        self.ipvs.as_ref().map(|(_, info)| *info)
    }

    /// Whether `token` is in this executor's range (its events go to
    /// [`HealthIo::on_ready`], even late ones of a finished probe).
    pub fn owns(&self, token: Token) -> bool {
        token.0 >= self.first_token && token.0 - self.first_token < self.token_count
    }

    /// Number of running probes.
    pub fn running(&self) -> usize {
        self.running.len()
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
                let started = Probe::start(kind).and_then(|probe| self.track(*rs, probe, registry));
                self.update_command_poll(now);
                match started {
                    Ok(()) => Vec::new(),
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
                let result = self
                    .client()
                    .and_then(|c| c.dump().map_err(|e| e.to_string()));
                if result.is_err() {
                    self.counters.dump_errors += 1;
                }
                vec![Event::IpvsDumped { result }]
            }
            Command::IpvsApply { ops } => {
                self.counters.ipvs_ops += ops.len() as u64;
                match self.client() {
                    Ok(client) => {
                        let results = client.apply_all(ops);
                        for (op, res) in ops.iter().zip(results) {
                            if let Err(e) = res {
                                self.counters.ipvs_errors += 1;
                                logs.push((
                                    "ipvs_error".into(),
                                    json!({"op": op.to_string(), "error": e.to_string()}),
                                ));
                            }
                        }
                    }
                    Err(error) => {
                        self.counters.ipvs_errors += ops.len() as u64;
                        let ops: Vec<String> = ops.iter().map(ToString::to_string).collect();
                        logs.push(("ipvs_error".into(), json!({"ops": ops, "error": error})));
                    }
                }
                Vec::new()
            }
            other => {
                self.counters.foreign_commands += 1;
                let name = serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.get("command").cloned())
                    .unwrap_or(Value::Null);
                logs.push((
                    "error".into(),
                    json!({"what": "health executor", "error": "not a health or IPVS command",
                           "command": name}),
                ));
                Vec::new()
            }
        };
        (events, logs)
    }

    /// A probe socket is ready.
    pub fn on_ready(&mut self, token: Token, registry: &Registry, now: Instant) -> Vec<Event> {
        let Some(rs) = self.tokens.get(&token).copied() else {
            return Vec::new(); // a late event of a finished probe
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

    // --- internals ---------------------------------------------------------

    /// The IPVS connection, opened on first use.
    fn client(&mut self) -> Result<&mut IpvsClient, String> {
        if self.ipvs.is_none() {
            match IpvsClient::probe() {
                Ok(ipvs) => self.ipvs = Some(ipvs),
                Err(e) => {
                    self.counters.ipvs_open_errors += 1;
                    return Err(e.to_string());
                }
            }
        }
        self.ipvs
            .as_mut()
            .map(|(client, _)| client)
            .ok_or_else(|| "IPVS is not open".to_string())
    }

    /// Registers a started probe's socket (if it has one) and keeps it.
    fn track(&mut self, rs: RsId, mut probe: Probe, registry: &Registry) -> Result<(), String> {
        let mut token = None;
        if let Some(src) = probe.source() {
            let Some(t) = self.free_token() else {
                probe.abort();
                return Err(format!(
                    "no free probe token ({} checks running)",
                    self.tokens.len()
                ));
            };
            if let Err(e) = registry.register(src, t, Interest::READABLE | Interest::WRITABLE) {
                probe.abort();
                return Err(format!("register the probe socket: {e}"));
            }
            self.tokens.insert(t, rs);
            token = Some(t);
        }
        self.running.insert(rs, Running { probe, token });
        Ok(())
    }

    /// The next token of the range not in use.
    fn free_token(&mut self) -> Option<Token> {
        for _ in 0..self.token_count {
            let t = Token(self.next_token);
            self.next_token += 1;
            if self.next_token - self.first_token >= self.token_count {
                self.next_token = self.first_token;
            }
            if !self.tokens.contains_key(&t) {
                return Some(t);
            }
        }
        None
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
}

#[cfg(test)]
mod tests {
    use std::net::{SocketAddr, TcpListener};

    use super::*;
    use crate::health::scheduler::CheckKind;

    const FIRST: usize = 1000;

    fn id(rs: usize) -> RsId {
        RsId { vs: 0, rs }
    }

    fn tcp(addr: SocketAddr) -> Command {
        Command::StartProbe {
            rs: id(0),
            kind: CheckKind::Tcp { addr },
        }
    }

    fn sh(rs: usize, script: &str) -> Command {
        Command::StartProbe {
            rs: id(rs),
            kind: CheckKind::Command {
                argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
                env: vec![],
            },
        }
    }

    /// The loop's part: mio events to `on_ready`, timers to `poll`, until
    /// `n` results came (or 5 s passed).
    fn results(io: &mut HealthIo, poll: &mut mio::Poll, n: usize) -> Vec<Event> {
        let start = std::time::Instant::now();
        let mut events = mio::Events::with_capacity(16);
        let mut out = Vec::new();
        while out.len() < n {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{} of {n} results: {out:?}",
                out.len()
            );
            poll.poll(&mut events, Some(Duration::from_millis(10)))
                .unwrap();
            let now = Instant::from_micros(start.elapsed().as_micros() as u64 + 1_000_000);
            for e in events.iter() {
                assert!(io.owns(e.token()), "{:?}", e.token());
                out.extend(io.on_ready(e.token(), poll.registry(), now));
            }
            out.extend(io.poll(poll.registry(), now + COMMAND_POLL));
        }
        out
    }

    #[test]
    fn tcp_probe_reports_through_its_token() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut poll = mio::Poll::new().unwrap();
        let mut io = HealthIo::new(FIRST);
        let (events, logs) = io.execute(&tcp(addr), poll.registry(), Instant::ZERO);
        assert!(events.is_empty() && logs.is_empty());
        assert_eq!(io.running(), 1);
        assert_eq!(io.next_deadline(), None, "sockets are not polled");
        let got = results(&mut io, &mut poll, 1);
        assert_eq!(
            got,
            vec![Event::ProbeDone {
                rs: id(0),
                result: Ok(())
            }]
        );
        assert_eq!(io.running(), 0);
        // A port nobody listens on: refused, now or on the socket's event.
        drop(listener);
        let (mut got, _) = io.execute(&tcp(addr), poll.registry(), Instant::ZERO);
        if got.is_empty() {
            got = results(&mut io, &mut poll, 1);
        }
        assert!(
            matches!(&got[..], [Event::ProbeDone { result: Err(e), .. }] if e.contains("refused")),
            "{got:?}"
        );
    }

    #[test]
    fn command_probes_are_polled_and_aborts_kill_them() {
        let mut poll = mio::Poll::new().unwrap();
        let mut io = HealthIo::new(FIRST);
        let now = Instant::from_micros(1_000_000);
        io.execute(&sh(0, "exit 3"), poll.registry(), now);
        io.execute(&sh(1, "sleep 30"), poll.registry(), now);
        assert_eq!(io.next_deadline(), Some(now + COMMAND_POLL));
        assert!(
            io.poll(poll.registry(), now).is_empty(),
            "not due: nothing polled"
        );
        let got = results(&mut io, &mut poll, 1);
        assert!(
            matches!(&got[..], [Event::ProbeDone { rs, result: Err(e) }]
                if *rs == id(0) && e.contains("exit status: 3")),
            "{got:?}"
        );
        io.execute(&Command::AbortProbe { rs: id(1) }, poll.registry(), now);
        assert_eq!(io.running(), 0);
        assert_eq!(io.next_deadline(), None);
        assert_eq!(io.counters.checks_aborted, 1);
        // A command that cannot start is a failed check at once.
        let (got, _) = io.execute(
            &Command::StartProbe {
                rs: id(2),
                kind: CheckKind::Command {
                    argv: vec!["/nonexistent/check".into()],
                    env: vec![],
                },
            },
            poll.registry(),
            now,
        );
        assert!(
            matches!(&got[..], [Event::ProbeDone { result: Err(e), .. }] if e.contains("cannot run")),
            "{got:?}"
        );
        assert_eq!(io.counters.checks_failed_to_start, 1);
    }

    #[test]
    fn tokens_stay_in_range_and_are_reused_only_when_free() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let poll = mio::Poll::new().unwrap();
        let mut io = HealthIo::with_tokens(FIRST, 2);
        assert!(io.owns(Token(FIRST)) && io.owns(Token(FIRST + 1)));
        assert!(!io.owns(Token(FIRST - 1)) && !io.owns(Token(FIRST + 2)));
        let start = |io: &mut HealthIo, rs| {
            let cmd = Command::StartProbe {
                rs: id(rs),
                kind: CheckKind::Tcp { addr },
            };
            io.execute(&cmd, poll.registry(), Instant::ZERO).0
        };
        assert!(start(&mut io, 0).is_empty());
        assert!(start(&mut io, 1).is_empty());
        let third = start(&mut io, 2);
        assert!(
            matches!(&third[..], [Event::ProbeDone { result: Err(e), .. }] if e.contains("no free probe token")),
            "{third:?}"
        );
        io.execute(
            &Command::AbortProbe { rs: id(0) },
            poll.registry(),
            Instant::ZERO,
        );
        assert!(start(&mut io, 2).is_empty(), "the freed token is reused");
        let mut used: Vec<usize> = io.tokens.keys().map(|t| t.0).collect();
        used.sort();
        assert_eq!(used, vec![FIRST, FIRST + 1]);
        // Restarting a running check replaces it (one probe per real server).
        assert!(start(&mut io, 1).is_empty());
        assert_eq!(io.running(), 2);
        // A late event for a token no probe holds is ignored.
        io.execute(
            &Command::AbortProbe { rs: id(1) },
            poll.registry(),
            Instant::ZERO,
        );
        let free = (FIRST..FIRST + 2)
            .map(Token)
            .find(|t| !io.tokens.contains_key(t))
            .unwrap();
        assert!(io.on_ready(free, poll.registry(), Instant::ZERO).is_empty());
    }

    #[test]
    fn other_commands_are_counted_not_executed() {
        let poll = mio::Poll::new().unwrap();
        let mut io = HealthIo::new(FIRST);
        let (events, logs) = io.execute(&Command::Ready, poll.registry(), Instant::ZERO);
        assert!(events.is_empty());
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].1["command"], "ready");
        assert_eq!(io.counters.foreign_commands, 1);
    }

    /// Where the kernel has no IPVS (this test does nothing elsewhere: it
    /// must not program a real kernel).
    #[test]
    fn without_ipvs_dumps_fail_with_the_reason_and_ops_are_counted() {
        if IpvsClient::probe().is_ok() {
            return;
        }
        let poll = mio::Poll::new().unwrap();
        let mut io = HealthIo::new(FIRST);
        let (events, _) = io.execute(&Command::IpvsDump, poll.registry(), Instant::ZERO);
        let [Event::IpvsDumped { result: Err(e) }] = &events[..] else {
            panic!("{events:?}")
        };
        assert!(e.contains("IPVS"), "{e}");
        let ops = vec![crate::ipvs::reconcile::Op::DelService(
            crate::ipvs::messages::ServiceKey::Fwmark {
                family: vigil_schema::plan::Family::Ipv4,
                mark: 1,
            },
        )];
        let (events, logs) =
            io.execute(&Command::IpvsApply { ops }, poll.registry(), Instant::ZERO);
        assert!(events.is_empty());
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].0, "ipvs_error");
        assert_eq!(logs[0].1["ops"][0], "DEL_SERVICE FWM 1");
        let c = &io.counters;
        assert_eq!(
            (
                c.dumps,
                c.dump_errors,
                c.ipvs_ops,
                c.ipvs_errors,
                c.ipvs_open_errors
            ),
            (1, 1, 1, 1, 2)
        );
        assert_eq!(io.info(), None);
    }
}
