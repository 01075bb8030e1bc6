//! vigild: executes a compiled plan in one thread and one mio event loop.

pub mod ipvs;
pub mod net;
pub mod netlink;
pub mod plan_load;
pub mod vrrp;
pub mod wire;
