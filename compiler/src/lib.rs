//! Vigil's compiler: reads a cluster topology, resolves it into one model,
//! lints it, and (later) emits per-host plans.
//!
//! Pipeline: [`load`] (files → `Topology` or load diagnostics) →
//! [`resolve`] (→ [`model::Cluster`], spans kept) → [`lints`] (→
//! [`diagnostic::Diagnostic`]s) → [`render`] (human / JSON / GitHub).
//! [`simulate`] runs the emitted plans in `vigild`'s cluster simulation.

pub mod artifacts;
pub mod build;
pub mod cli;
pub mod commands;
pub mod diagnostic;
pub mod keepalived;
pub mod lints;
pub mod load;
pub mod model;
pub mod names;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod resolve;
pub mod simulate;
pub mod source;
