//! Real-server health checking.
//!
//! * [`scheduler`] — the sans-IO core: per-real-server rise/fall state
//!   machines, timeouts, quorum with hysteresis and the sorry server;
//! * [`probe`] — the I/O side the event loop drives without threads:
//!   non-blocking TCP connect, HTTP/1.0 GET, external commands;
//! * [`sha256`] — body digests for HTTP checks;
//! * [`to_ipvs`] — scheduler actions and health state as IPVS operations;
//! * [`executor`] — the shell side: the IPVS connection and running probes.
//!
//! The decisions (what to check and when, what the kernel table must hold)
//! are the node's director core, `crate::node::director`.

pub mod executor;
pub mod probe;
pub mod scheduler;
pub mod sha256;
pub mod to_ipvs;
