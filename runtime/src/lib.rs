//! vigild: executes a compiled plan in one thread and one mio event loop.

pub mod netlink;
pub mod wire;
