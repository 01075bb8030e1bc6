//! Vigil's shared data model.
//!
//! * [`topology`]: the cluster-wide TOML topology that operators write, with a
//!   source span on every value so that the compiler's diagnostics can point
//!   into the file (feature `topology`, which links `toml`).
//! * [`plan`]: the per-host plan, the contract between the compiler (`vigil`)
//!   and the runtime (`vigild`). Plain serde, no `toml`; its JSON Schema
//!   derivation (schemars) only with the feature `json-schema`.
//! * [`ipvs`]: IPVS schedulers and their flags, for all three.
//! * [`units`]: typed values shared by both (durations, CIDR addresses).
//! * [`vrrp`]: VRRP's timing rules (centiseconds, the intervals each version
//!   carries, the master-down interval), for both.

pub mod ipvs;
pub mod plan;
#[cfg(feature = "topology")]
pub mod span;
#[cfg(feature = "topology")]
pub mod topology;
pub mod units;
pub mod vrrp;

#[cfg(feature = "json-schema")]
/// Pretty JSON Schema of a type, with a trailing newline, as committed in
/// `schema/*.schema.json`.
pub fn schema_json<T: schemars::JsonSchema>() -> String {
    let schema = schemars::schema_for!(T);
    let mut text = serde_json::to_string_pretty(&schema).expect("a JSON Schema always serialises");
    text.push('\n');
    text
}
