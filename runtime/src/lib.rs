//! vigild: executes a compiled plan in one thread and one mio event loop.

pub mod event_loop;
pub mod health;
pub mod ipvs;
pub mod log;
pub mod net;
pub mod netlink;
pub mod plan_load;
pub mod signals;
pub mod timers;
pub mod vrrp;
pub mod wire;
