//! vigild: executes a compiled plan in one thread and one mio event loop.

pub mod arbitration;
pub mod control;
pub mod event_loop;
pub mod health;
pub mod hooks;
pub mod ipvs;
pub mod lease;
pub mod log;
pub mod metrics;
pub mod net;
pub mod netlink;
pub mod node;
pub mod plan_load;
pub mod signals;
pub mod sim;
pub mod timers;
pub mod track;
pub mod vrrp;
pub mod wire;
