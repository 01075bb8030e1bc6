//! A deterministic simulation of a whole cluster: the same [`Node`](crate::node::Node)s the
//! daemon runs, on a simulated network, kernel and clock.
//!
//! One event queue ordered by (time, sequence) drives every host; all
//! randomness (delays, jitter, loss, answer times, random schedules) comes
//! from one seeded PRNG ([`rng::Rng`]), so a seed replays a run exactly.
//!
//! # Files
//! * [`topology`]: [`SimTopology`]: hosts with their plans, interfaces on
//!   segments, reference IPs per segment.
//! * [`scenario`]: [`Scenario`]: the network's quality, timed [`Fault`]s
//!   (loss, delay, reordering, partitions, link flaps and deletions,
//!   crashes, power-offs, restarts, dark reference IPs, failing fences and
//!   trackers, reloads) and how long programs take.
//! * [`kernel`]: one host's kernel (links, addresses, IPVS), which outlives
//!   a crashed daemon.
//! * [`world`]: [`Sim`], the engine: the queue, the hosts, the faults;
//!   `network.rs` (adverts, echo, delay, loss, cuts) and `programs.rs`
//!   (hooks, trackers, fences) are its other halves.
//! * [`invariants`]: the named [`Invariant`]s checked after every step.
//! * [`record`]: what a run leaves for people: state changes, VIP holders
//!   over time, defences that acted ([`Record`]), read from the nodes' logs.
//! * [`trace`]: the last N events and commands, printed on failure.
//! * [`schedule`]: seeded random schedules for sweeps.
//!
//! # The simulated world
//! * **Network**: a `SendVrrp` to 224.0.0.18 / ff02::12 reaches every other
//!   host's interface on the sender's segment whose VRRP socket is open
//!   (with the group joined); a unicast one reaches the host carrying the
//!   destination address on that segment. It arrives as [`Event::Vrrp`](crate::node::Event::Vrrp)
//!   with TTL 255 after the profile's delay and jitter, unless lost, cut,
//!   or the receiver's link, socket or daemon is gone by then. Sending needs
//!   the sender's link up and its socket open on the link's current ifindex.
//! * **Echo**: a reference IP answers a router's echo request when it is on
//!   the segment of the router's interface, that interface is up, it is not
//!   dark and no cut separates them; a router without an echo socket, or
//!   whose link is down, gets [`Event::EchoSendFailed`](crate::node::Event::EchoSendFailed).
//! * **Kernel**: address changes apply at once and are answered after the
//!   scenario's answer delay (so answers arrive after later commands, as
//!   the node's contract allows). A crash keeps addresses, links, IPVS and
//!   the last ledger; a power-off loses all of them; a restart feeds
//!   [`Event::Start`](crate::node::Event::Start) with the current links, addresses and ledger.
//! * **Programs**: notify hooks and self-fence succeed after
//!   `hook_runtime`; command trackers succeed unless the scenario makes
//!   them fail; fence commands succeed unless it makes them fail, and a
//!   successful fence powers off the peers that hold the router's VIPs or
//!   claim mastership (or every peer, or nobody: [`FenceEffect`]). A
//!   program outliving its timeout is `TimedOut`.
//!
//! # Running
//! ```no_run
//! # use vigild::sim::{Sim, SimTopology, Scenario, Fault};
//! # use std::time::Duration;
//! # let topo = SimTopology::default();
//! let scenario = Scenario::new("master dies", Duration::from_secs(10))
//!     .at(Duration::from_secs(3), Fault::PowerOff { host: "lb1".into() });
//! let mut sim = Sim::new(topo, scenario, 42).unwrap();
//! if let Err(failure) = sim.run() {
//!     panic!("{failure}"); // the seed, the invariant, the last events
//! }
//! let timeline = sim.record();
//! ```
//! A failure prints the seed; running the same topology and scenario with
//! that seed replays it exactly (`runtime/tests/sim_cluster.rs` reads
//! `VIGIL_SIM_SEED` for that).

pub mod invariants;
pub mod kernel;
mod network;
mod programs;
pub mod record;
pub mod rng;
pub mod scenario;
pub mod schedule;
pub mod store;
pub mod topology;
pub mod trace;
pub mod world;

pub use invariants::{Invariant, Violation};
pub use record::{Defence, DefenceKind, HolderChange, HolderSpan, Record, Transition};
pub use rng::Rng;
pub use scenario::{Cut, Endpoint, Fault, FenceEffect, NetProfile, Scenario, Timed, Timing};
pub use schedule::{ScheduleOptions, random_scenario, settle_time};
pub use topology::{SimHost, SimInterface, SimTopology};
pub use world::{Failure, Sim};
