//! VRRP (RFC 5798 v3, RFC 3768 v2) as a pure state machine: no sockets, no
//! clock, no netlink. The I/O shell turns the world into [`Input`]s and
//! executes the [`Action`]s that come back.
//!
//! # Files
//! * [`config`]: [`RouterConfig`], checked from the plan's `PlanRouter`.
//! * [`event`]: the [`Input`] / [`Action`] vocabulary (serde, for JSONL record/replay).
//! * [`rx`]: received bytes -> [`Input`] ([`rx::decode`], then [`Router::classify`]).
//! * [`fsm`]: [`Router`], the RFC 5798 §6.4 state machine.
//! * [`timers`]: the shell-supplied [`Instant`], [`TimerKind`], skew and master-down formulas.
//! * [`stats`]: RFC 6527 / RFC 2787 counters.
//!
//! # How the I/O shell drives a router
//!
//! Build: `RouterConfig::from_plan(&plan_router, plan.startup_delay_ms)?`, read
//! the password file if `plan_router.auth` is set, then
//! `Router::new(config, password)`. Keep one [`Router`] per (interface,
//! family, VRID).
//!
//! Time: the shell owns one monotonic clock and passes `now` as an
//! [`Instant`] (microseconds since its start) with every input; the router
//! never reads a clock. Timers are deadlines: [`Action::ArmTimer`]`{ kind, at }`
//! replaces the router's previous deadline of that kind, and
//! [`Action::CancelTimer`] removes it. When `now >= at` the shell feeds
//! [`Input::Timer`]`{ kind }` once. Late or stale expiries are harmless (the
//! router checks its own deadline and ignores a cancelled one; an early one
//! is answered by re-arming). The loop's poll timeout is the earliest
//! armed deadline over all routers.
//!
//! Inputs the shell must feed:
//! * [`Input::Startup`] once the interface is up and has its source address
//!   (and again after [`Input::Shutdown`] to restart);
//! * every received VRRP packet for the interface and family:
//!   ```text
//!   match rx::decode(&ip_meta, payload) {
//!       Received::Advert(repr) => match router_for(iface, family, repr.vrid) {
//!           Some(r) => { let input = r.classify(&ip_meta, &repr); r.handle(input, now) }
//!           None => unattributed.record(RxError::UnknownVrid),
//!       },
//!       Received::Error { vrid, reason } => match vrid.and_then(router_for) {
//!           Some(r) => r.handle(Input::RxError { reason }, now),
//!           None => unattributed.record(reason),
//!       },
//!   }
//!   ```
//!   `ip_meta` comes from the IPv4 header, or for IPv6 from
//!   `IPV6_RECVHOPLIMIT`/`IPV6_RECVPKTINFO`; the TTL must be the received one.
//! * [`Input::Timer`] as above; [`Input::Shutdown`] on SIGTERM (then send the
//!   resulting priority-0 advert before exiting);
//! * [`Input::Fault`] / [`Input::PriorityChange`] from trackers,
//!   [`Input::ArbitrationVerdict`] from arbitration, [`Input::PlanReload`] on
//!   SIGHUP when [`RouterConfig::same_identity`] holds (otherwise rebuild).
//!
//! Actions the shell must execute, in order:
//! * [`Action::SendAdvert`]: `router.advert_repr(priority, advert_interval)`,
//!   emitted with `wire::vrrp::Repr::to_bytes(src, dst)` from the config's
//!   `source_address` to 224.0.0.18 / ff02::12 or each unicast peer, TTL/hop
//!   limit 255 (the v3 checksum covers the pseudo-header, so `dst` matters);
//! * [`Action::AddVips`] / [`Action::RemoveVips`]: rtnetlink address changes
//!   with the plan's prefix and label; `accept` selects accept mode;
//! * [`Action::SendGarp`]: `wire::arp` for IPv4, `wire::ndisc` for IPv6;
//! * [`Action::ArmTimer`] / [`Action::CancelTimer`]: as above;
//! * [`Action::StateChanged`]: log it, run notify hooks;
//! * [`Action::Alarm`]: log at warning level and expose to monitoring.
//!
//! Recording `(now, input)` pairs as JSONL is enough to replay a run: the
//! router is deterministic.

pub mod config;
pub mod event;
pub mod fsm;
pub mod rx;
pub mod stats;
pub mod timers;

pub use config::{ConfigError, RouterConfig};
pub use event::{Action, Alarm, Input, Reason, State};
pub use fsm::Router;
pub use rx::{Received, RxError};
pub use stats::Stats;
pub use timers::{Instant, TimerKind};
