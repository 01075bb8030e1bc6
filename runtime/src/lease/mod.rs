//! Lease arbitration: a member may be master only while it holds the
//! router's key in a consensus store (etcd), on a lease it keeps alive.
//!
//! [`LeaseCore`] is pure: the node feeds it time ([`LeaseCore::poll`]),
//! eligibility ([`LeaseCore::set_eligible`]: the router is not in FAULT and
//! not stopping) and the store's answers ([`LeaseCore::on_reply`]); it
//! returns [`LeaseAction`]s (requests for the shell's HTTP client, and
//! changes of [`LeaseCore::holding`]). The rules:
//!
//! * **Rounds.** Every `keepalive_interval_ms` a round: grant a lease if
//!   there is none, keep it alive, then put-if-absent the key on it (which
//!   also checks a held key is still ours). One request at a time; a
//!   failed one (transport, timeout, HTTP, malformed JSON) is retried at
//!   once on the next endpoint, until every endpoint failed once in this
//!   round.
//! * **Holding** starts when the put-if-absent finds the key ours, and ends
//!   when the local view of the lease runs out: `sent + TTL − margin`,
//!   where `sent` is when the last successful grant or keep-alive was
//!   *sent*. The store restarts the TTL when it *processes* that request,
//!   later, so the holder always gives up before the store can free the
//!   key for someone else (clock rates aside, and etcd only ever extends
//!   leases on a leader change).
//! * A lease the store reports gone ends holding at once; a new one is
//!   granted in the same round.
//! * **Priority**: the first put-if-absent waits `acquire_delay_ms` after
//!   start (the compiler gives lower priorities longer delays).
//! * **Giving up**: an ineligible member (FAULT, shutdown) stops holding
//!   and revokes its lease, so another member can acquire without waiting
//!   for the TTL.

pub mod etcd;

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use vigil_schema::plan::PlanLease;

use crate::vrrp::Instant;
use etcd::{Acquire, EtcdError};

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Grant,
    KeepAlive,
    Acquire,
    Revoke,
}

/// What the core asks of the node.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaseAction {
    /// POST `body` to `path` on `endpoint`; answer with [`LeaseCore::on_reply`].
    Request {
        req: u64,
        endpoint: SocketAddr,
        path: &'static str,
        body: String,
        timeout_ms: u64,
    },
    /// [`LeaseCore::holding`] changed.
    Holding { on: bool, why: String },
    /// Something worth a log line.
    Log { what: &'static str, fields: Value },
}

/// Counters for the status document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LeaseCounters {
    pub requests: u64,
    pub failures: u64,
    pub timeouts: u64,
    pub malformed: u64,
    pub grants: u64,
    pub acquired: u64,
    pub lost: u64,
    pub revokes: u64,
    pub stale_replies: u64,
}

#[derive(Clone, Debug)]
struct Pending {
    req: u64,
    op: Op,
    sent: Instant,
}

/// One router's lease.
#[derive(Clone, Debug)]
pub struct LeaseCore {
    cfg: PlanLease,
    started: Instant,
    eligible: bool,
    lease: Option<i64>,
    /// Local end of the lease (already minus the margin).
    valid_until: Option<Instant>,
    holding: bool,
    holder: Option<String>,
    pending: Option<Pending>,
    /// Revoke requests sent and not yet answered (fire and forget).
    revoking: Vec<u64>,
    endpoint: usize,
    failures_in_round: usize,
    /// Start of the next round.
    next_round: Instant,
    /// The next step of the current round (`None`: the round is over).
    step: Option<Op>,
    last_error: Option<String>,
    pub counters: LeaseCounters,
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

impl LeaseCore {
    pub fn new(cfg: &PlanLease, now: Instant) -> LeaseCore {
        LeaseCore {
            cfg: cfg.clone(),
            started: now,
            eligible: true,
            lease: None,
            valid_until: None,
            holding: false,
            holder: None,
            pending: None,
            revoking: Vec::new(),
            endpoint: 0,
            failures_in_round: 0,
            next_round: now,
            step: None,
            last_error: None,
            counters: LeaseCounters::default(),
        }
    }

    pub fn holding(&self) -> bool {
        self.holding
    }

    /// A word for the status and the log: `holding`, `held_by_other`,
    /// `store_unreachable`, `acquiring`, `waiting` (priority delay), `released`.
    pub fn state(&self, now: Instant) -> &'static str {
        if self.holding {
            "holding"
        } else if !self.eligible {
            "released"
        } else if self.last_error.is_some() && self.valid_until.is_none() {
            "store_unreachable"
        } else if self.holder.as_deref().is_some_and(|h| h != self.cfg.holder) {
            "held_by_other"
        } else if now < self.started + ms(self.cfg.acquire_delay_ms) {
            "waiting"
        } else {
            "acquiring"
        }
    }

    /// The lease's part of the status document.
    pub fn status(&self, now: Instant) -> Value {
        json!({
            "state": self.state(now),
            "holding": self.holding,
            "key": self.cfg.key,
            "holder": self.holder,
            "lease": self.lease.map(|l| l.to_string()),
            "valid_for_ms": self.valid_until.map(|v| u64::try_from(v.saturating_since(now).as_millis()).unwrap_or(u64::MAX)),
            "endpoint": self.endpoint().to_string(),
            "last_error": self.last_error,
            "counters": self.counters,
        })
    }

    /// The endpoint in use (`Plan::problems` refuses a lease without one).
    fn endpoint(&self) -> SocketAddr {
        let n = self.cfg.endpoints.len().max(1);
        self.cfg
            .endpoints
            .get(self.endpoint % n)
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 2379)))
    }

    pub fn config(&self) -> &PlanLease {
        &self.cfg
    }

    /// Whether `req` is one of this core's requests.
    pub fn owns(&self, req: u64) -> bool {
        self.pending.as_ref().is_some_and(|p| p.req == req) || self.revoking.contains(&req)
    }

    /// The router may hold the lease (not in FAULT, not stopping).
    /// Becoming ineligible drops and revokes the lease at the next poll.
    pub fn set_eligible(&mut self, eligible: bool, now: Instant) {
        if eligible != self.eligible {
            self.eligible = eligible;
            self.next_round = now;
        }
    }

    pub fn next_deadline(&self) -> Instant {
        let mut at = self.next_round;
        if let Some(p) = &self.pending {
            at = p.sent + ms(self.cfg.request_timeout_ms);
        }
        if let Some(v) = self.valid_until
            && (self.holding || self.lease.is_some())
        {
            at = at.min(v);
        }
        at
    }

    /// Time passed: expire, time out, start rounds.
    pub fn poll(&mut self, now: Instant, ids: &mut u64) -> Vec<LeaseAction> {
        let mut out = Vec::new();
        if let Some(p) = &self.pending
            && now >= p.sent + ms(self.cfg.request_timeout_ms)
        {
            let op = p.op;
            self.pending = None;
            self.counters.timeouts += 1;
            self.failed(op, format!("{op:?} timed out"), &mut out);
        }
        self.expire(now, &mut out);
        if self.pending.is_none() && now >= self.next_round {
            self.start_round(now, ids, &mut out);
        } else {
            self.continue_round(now, ids, &mut out);
        }
        out
    }

    /// Shutdown: stop holding, revoke the lease (best effort).
    pub fn shutdown(&mut self, now: Instant, ids: &mut u64) -> Vec<LeaseAction> {
        self.eligible = false;
        self.pending = None;
        let mut out = Vec::new();
        self.give_up(now, ids, "shutdown", &mut out);
        out
    }

    fn expire(&mut self, now: Instant, out: &mut Vec<LeaseAction>) {
        if self.valid_until.is_some_and(|v| now >= v) {
            self.valid_until = None;
            // The lease may still live in the store: keep its id and try
            // to keep it alive; only the local right to be master ends.
            self.lose(
                "no successful keep-alive within the TTL (store unreachable?)",
                out,
            );
        }
    }

    fn lose(&mut self, why: &str, out: &mut Vec<LeaseAction>) {
        if self.holding {
            self.holding = false;
            self.counters.lost += 1;
            out.push(LeaseAction::Holding {
                on: false,
                why: why.to_string(),
            });
        }
    }

    fn give_up(&mut self, now: Instant, ids: &mut u64, why: &str, out: &mut Vec<LeaseAction>) {
        self.lose(why, out);
        self.valid_until = None;
        if let Some(id) = self.lease.take() {
            let req = next_id(ids);
            self.revoking.push(req);
            self.counters.revokes += 1;
            self.counters.requests += 1;
            out.push(LeaseAction::Request {
                req,
                endpoint: self.endpoint(),
                path: etcd::REVOKE,
                body: etcd::id_body(id),
                timeout_ms: self.cfg.request_timeout_ms,
            });
        }
        self.next_round = now + ms(self.cfg.keepalive_interval_ms);
    }

    fn start_round(&mut self, now: Instant, ids: &mut u64, out: &mut Vec<LeaseAction>) {
        if !self.eligible {
            self.give_up(now, ids, "not eligible (fault or stopping)", out);
            return;
        }
        self.failures_in_round = 0;
        self.next_round = now + ms(self.cfg.keepalive_interval_ms);
        self.step = Some(if self.lease.is_some() {
            Op::KeepAlive
        } else {
            Op::Grant
        });
        self.continue_round(now, ids, out);
    }

    fn continue_round(&mut self, now: Instant, ids: &mut u64, out: &mut Vec<LeaseAction>) {
        if self.pending.is_some() || !self.eligible {
            return;
        }
        match self.step {
            Some(Op::Acquire) if now < self.started + ms(self.cfg.acquire_delay_ms) => {
                // Higher priorities try first.
                self.step = None;
                self.next_round = self
                    .next_round
                    .min(self.started + ms(self.cfg.acquire_delay_ms));
            }
            Some(op) => self.send(op, now, ids, out),
            None => {}
        }
    }

    /// A grant or keep-alive sent at `sent` succeeded with `ttl_s` left.
    fn renewed(&mut self, sent: Instant, ttl_s: i64) {
        let ttl = (u64::try_from(ttl_s).unwrap_or(0).saturating_mul(1000)).min(self.cfg.ttl_ms);
        let keep = ttl.saturating_sub(self.cfg.release_margin_ms);
        self.valid_until = Some(sent + ms(keep));
    }

    fn send(&mut self, op: Op, now: Instant, ids: &mut u64, out: &mut Vec<LeaseAction>) {
        let (path, body) = match (op, self.lease) {
            (Op::Grant, _) => (
                etcd::GRANT,
                etcd::grant_body(self.cfg.ttl_ms.div_ceil(1000)),
            ),
            (Op::KeepAlive, Some(id)) => (etcd::KEEPALIVE, etcd::id_body(id)),
            (Op::Acquire, Some(id)) => (
                etcd::TXN,
                etcd::txn_body(&self.cfg.key, &self.cfg.holder, id),
            ),
            (Op::Revoke, Some(id)) => (etcd::REVOKE, etcd::id_body(id)),
            _ => {
                self.step = None;
                return;
            }
        };
        let req = next_id(ids);
        self.pending = Some(Pending { req, op, sent: now });
        self.counters.requests += 1;
        out.push(LeaseAction::Request {
            req,
            endpoint: self.endpoint(),
            path,
            body,
            timeout_ms: self.cfg.request_timeout_ms,
        });
    }

    /// A request failed: next endpoint, at once unless every endpoint
    /// already failed in this round.
    fn failed(&mut self, op: Op, why: String, out: &mut Vec<LeaseAction>) {
        self.counters.failures += 1;
        let endpoint = self.endpoint();
        if self.last_error.as_deref() != Some(why.as_str()) {
            out.push(LeaseAction::Log {
                what: "lease_request_failed",
                fields: json!({"op": op, "endpoint": endpoint.to_string(), "error": why}),
            });
        }
        self.last_error = Some(why);
        self.endpoint = (self.endpoint + 1) % self.cfg.endpoints.len().max(1);
        self.failures_in_round += 1;
        // Retry this round's step on the next endpoint at once, until
        // every endpoint failed once; then wait for the next round.
        self.step = (self.failures_in_round < self.cfg.endpoints.len()).then_some(op);
    }

    /// The answer to request `req`: `Ok((status, body))` or a transport error.
    pub fn on_reply(
        &mut self,
        req: u64,
        reply: Result<(u16, &str), &str>,
        now: Instant,
        ids: &mut u64,
    ) -> Vec<LeaseAction> {
        let mut out = Vec::new();
        if let Some(i) = self.revoking.iter().position(|r| *r == req) {
            self.revoking.remove(i);
            out.push(LeaseAction::Log {
                what: "lease_revoked",
                fields: json!({"ok": matches!(reply, Ok((200, _)))}),
            });
            return out;
        }
        let Some(p) = self.pending.take_if(|p| p.req == req) else {
            self.counters.stale_replies += 1;
            return out;
        };
        let (status, body) = match reply {
            Ok(r) => r,
            Err(e) => {
                self.failed(p.op, e.to_string(), &mut out);
                self.continue_round(now, ids, &mut out);
                return out;
            }
        };
        let result = match p.op {
            Op::Grant => etcd::parse_grant(status, body).map(|(id, ttl)| {
                self.step = Some(Op::Acquire);
                self.counters.grants += 1;
                self.lease = Some(id);
                self.renewed(p.sent, ttl);
                out.push(LeaseAction::Log {
                    what: "lease_granted",
                    fields: json!({"lease": id.to_string(), "ttl_s": ttl}),
                });
            }),
            Op::KeepAlive => etcd::parse_keepalive(status, body).map(|ttl| {
                self.step = Some(Op::Acquire);
                self.renewed(p.sent, ttl);
            }),
            Op::Acquire => etcd::parse_txn(status, body, self.lease.unwrap_or(0)).map(|a| {
                self.step = None;
                match a {
                    Acquire::Acquired | Acquire::AlreadyOurs => {
                        self.holder = Some(self.cfg.holder.clone());
                        if !self.holding && self.valid_until.is_some_and(|v| now < v) {
                            self.holding = true;
                            self.counters.acquired += 1;
                            out.push(LeaseAction::Holding {
                                on: true,
                                why: "acquired the key".into(),
                            });
                        }
                    }
                    Acquire::HeldBy(other) => {
                        // Someone else's key: we cannot be holding it.
                        self.lose("the key is held by another member", &mut out);
                        self.holder = Some(other);
                    }
                }
            }),
            Op::Revoke => {
                self.step = None;
                Ok(())
            }
        };
        match result {
            Ok(()) => {
                if self.last_error.take().is_some() {
                    out.push(LeaseAction::Log {
                        what: "lease_store_reachable",
                        fields: json!({"endpoint": self.endpoint().to_string()}),
                    });
                }
            }
            Err(EtcdError::LeaseNotFound) => {
                self.lease = None;
                self.valid_until = None;
                self.lose("the store no longer has the lease", &mut out);
                // A new lease in this round (once: a second "not found"
                // counts as a failure of the round).
                self.failures_in_round += 1;
                self.step =
                    (self.failures_in_round <= self.cfg.endpoints.len()).then_some(Op::Grant);
            }
            Err(e) => {
                if matches!(e, EtcdError::Malformed(_)) {
                    self.counters.malformed += 1;
                }
                self.failed(p.op, e.to_string(), &mut out);
            }
        }
        self.continue_round(now, ids, &mut out);
        out
    }
}

fn next_id(ids: &mut u64) -> u64 {
    *ids += 1;
    *ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::store::Store;

    fn cfg(holder: &str, delay: u64) -> PlanLease {
        PlanLease {
            endpoints: vec![
                "10.0.9.1:2379".parse().unwrap(),
                "10.0.9.2:2379".parse().unwrap(),
            ],
            key: "/vigil/c/www".into(),
            holder: holder.into(),
            ttl_ms: 3000,
            keepalive_interval_ms: 500,
            request_timeout_ms: 500,
            release_margin_ms: 500,
            acquire_delay_ms: delay,
        }
    }

    /// Drives cores against a store in 10ms steps; requests are answered
    /// 1ms later when `up(i, now)`, else time out.
    struct Run {
        cores: Vec<LeaseCore>,
        store: Store,
        ids: u64,
        inflight: Vec<(usize, u64, Instant, &'static str, String)>,
    }

    impl Run {
        /// Members `a` (tries at once) and `b` (waits 1 s) on an empty store.
        fn pair(t0: Instant) -> Run {
            Run {
                cores: vec![
                    LeaseCore::new(&cfg("a", 0), t0),
                    LeaseCore::new(&cfg("b", 1000), t0),
                ],
                store: Store::default(),
                ids: 0,
                inflight: Vec::new(),
            }
        }

        fn step(&mut self, now: Instant, up: &dyn Fn(usize, Instant) -> bool) {
            let due: Vec<_> = self
                .inflight
                .iter()
                .filter(|r| r.2 <= now)
                .cloned()
                .collect();
            self.inflight.retain(|r| r.2 > now);
            for (i, req, _, path, body) in due {
                let acts = if up(i, now) {
                    let (status, text) = self.store.handle(now, path, &body);
                    self.cores[i].on_reply(req, Ok((status, &text)), now, &mut self.ids)
                } else {
                    Vec::new() // lost: the core times out
                };
                self.take(i, now, acts);
            }
            for i in 0..self.cores.len() {
                if self.cores[i].next_deadline() <= now {
                    let acts = self.cores[i].poll(now, &mut self.ids);
                    self.take(i, now, acts);
                }
            }
        }

        fn take(&mut self, i: usize, now: Instant, acts: Vec<LeaseAction>) {
            for a in acts {
                if let LeaseAction::Request {
                    req, path, body, ..
                } = a
                {
                    self.inflight.push((i, req, now + ms(1), path, body));
                }
            }
        }
    }

    #[test]
    fn one_holder_the_higher_priority_first_and_a_cut_holder_gives_up_before_the_store_frees_the_key()
     {
        let t0 = Instant::ZERO;
        let mut run = Run::pair(t0);
        let cut_at = Instant::ZERO + Duration::from_secs(5);
        let a_up = |i: usize, now: Instant| i == 1 || now < cut_at;
        let mut a_lost = None;
        let mut b_got = None;
        for step in 0..1500u64 {
            let now = t0 + ms(step * 10);
            run.step(now, &a_up);
            let (a, b) = (run.cores[0].holding(), run.cores[1].holding());
            assert!(!(a && b), "two holders at {now:?}");
            if now < cut_at && now > t0 + ms(200) {
                assert!(a, "a (first in priority) holds before the cut, at {now:?}");
            }
            if now >= cut_at && !a && a_lost.is_none() {
                a_lost = Some(now);
            }
            if b && b_got.is_none() {
                b_got = Some(now);
            }
            if let Some(got) = b_got {
                assert!(b || now < got, "b keeps the key");
            }
        }
        let lost = a_lost.expect("a gave up").saturating_since(cut_at);
        let got = b_got.expect("b took over").saturating_since(cut_at);
        assert!(lost <= ms(3000 - 500), "a gave up {lost:?} after the cut");
        // The store frees the key a TTL after a's last keep-alive (sent at
        // most one interval before the cut); a gave up before that.
        assert!(
            got >= ms(3000 - 500) && got <= ms(3000 + 600),
            "b acquired {got:?} after the cut"
        );
        assert!(lost < got, "a gave up {lost:?}, b acquired {got:?}");
        assert!(run.cores[0].counters.timeouts > 0);
    }

    #[test]
    fn a_store_down_for_longer_than_the_ttl_leaves_no_holder_and_the_old_one_comes_back_alone() {
        let t0 = Instant::ZERO;
        let mut run = Run::pair(t0);
        let (down, up_again) = (t0 + ms(4000), t0 + ms(9000));
        let store_up = |_: usize, now: Instant| now < down || now >= up_again;
        let mut holders_seen = Vec::new();
        for step in 0..1500u64 {
            let now = t0 + ms(step * 10);
            // A store that is down keeps its leases (etcd extends them on restart).
            run.step(now, &store_up);
            if now >= down && now < up_again {
                if let Some((_, exp)) = run.store.leases.values_mut().next() {
                    *exp = (*exp).max(now + ms(3000));
                }
            }
            let h: Vec<bool> = run.cores.iter().map(LeaseCore::holding).collect();
            assert!(!(h[0] && h[1]));
            if holders_seen.last() != Some(&h) {
                holders_seen.push(h);
            }
        }
        assert_eq!(
            holders_seen,
            vec![
                vec![false, false],
                vec![true, false],
                vec![false, false],
                vec![true, false]
            ],
            "a holds, nobody during the outage, a again"
        );
        assert_eq!(run.cores[0].state(t0 + ms(15000)), "holding");
        assert_eq!(run.cores[1].state(t0 + ms(15000)), "held_by_other");
    }

    #[test]
    fn an_ineligible_holder_revokes_and_the_other_takes_over_without_waiting_for_the_ttl() {
        let t0 = Instant::ZERO;
        let mut run = Run::pair(t0);
        let all_up = |_: usize, _: Instant| true;
        let mut b_at = None;
        for step in 0..600u64 {
            let now = t0 + ms(step * 10);
            if step == 300 {
                run.cores[0].set_eligible(false, now);
            }
            run.step(now, &all_up);
            assert!(!(run.cores[0].holding() && run.cores[1].holding()));
            if run.cores[1].holding() && b_at.is_none() {
                b_at = Some(now);
            }
        }
        let took = b_at.expect("b took over").saturating_since(t0 + ms(3000));
        assert!(took <= ms(600), "b took over {took:?} after a gave up");
        assert_eq!(run.cores[0].counters.revokes, 1);
    }

    /// Any sequence of answers, garbage included, in any order: no panic,
    /// and holding only while the local lease is valid.
    #[test]
    fn random_answers_never_panic_and_never_hold_an_expired_lease() {
        let bodies = [
            "{\"ID\":\"7\",\"TTL\":\"3\"}",
            "{\"result\":{\"ID\":\"7\",\"TTL\":\"3\"}}",
            "{\"result\":{\"ID\":\"7\"}}",
            "{\"succeeded\":true}",
            "{\"responses\":[{\"response_range\":{\"kvs\":[{\"value\":\"Yg==\",\"lease\":\"9\"}]}}]}",
            "{\"responses\":[{\"response_range\":{\"kvs\":[{\"value\":\"YQ==\",\"lease\":\"7\"}]}}]}",
            "{\"error\":\"etcdserver: requested lease not found\",\"code\":5}",
            "{\"error\":\"etcdserver: leader changed\",\"code\":14}",
            "",
            "{",
            "null",
            "[1,2]",
            "{\"ID\":{}}",
            "\u{0}\u{ff}",
        ];
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut core = LeaseCore::new(&cfg("a", 0), Instant::ZERO);
        let mut ids = 0;
        let mut now = Instant::ZERO;
        let mut outstanding: Vec<u64> = Vec::new();
        for _ in 0..20_000 {
            now = now + ms(next(300));
            let acts = match next(6) {
                0 if !outstanding.is_empty() => {
                    let req = outstanding.swap_remove(next(outstanding.len() as u64) as usize);
                    let body = bodies[next(bodies.len() as u64) as usize];
                    let status = [200u16, 200, 200, 404, 500][next(5) as usize];
                    core.on_reply(req, Ok((status, body)), now, &mut ids)
                }
                1 if !outstanding.is_empty() => {
                    let req = outstanding[0];
                    core.on_reply(req, Err("connection refused"), now, &mut ids)
                }
                2 => {
                    core.set_eligible(next(4) != 0, now);
                    Vec::new()
                }
                3 => core.on_reply(next(ids + 2), Ok((200, "{}")), now, &mut ids),
                _ => core.poll(now, &mut ids),
            };
            for a in acts {
                if let LeaseAction::Request { req, .. } = a {
                    outstanding.push(req);
                }
            }
            if core.holding() {
                assert!(core.valid_until.is_some_and(|v| now < v) || core.next_deadline() <= now);
            }
            let _ = core.status(now);
        }
        assert!(core.counters.requests > 100);
    }
}
