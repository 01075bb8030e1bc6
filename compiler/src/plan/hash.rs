//! Hashes that identify what runs where.
//!
//! * [`topology_hash`]: the whole topology, SHA-256 over the sorted SHA-256
//!   digests of the source files, so it depends on the files' contents only
//!   (not on their names or the order they were given in). Written into the
//!   Ansible inventory.
//! * [`plan_hash`]: one host's slice of it, SHA-256 of the plan's JSON with
//!   an empty hash field. Logged by `vigild` with every event, so two hosts
//!   running different versions of a router are visible.

use sha2::{Digest, Sha256};
use vigil_schema::plan::Plan;

use super::EmitError;
use crate::source::SourceMap;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a plan's content, ignoring its `topology_hash` field.
pub fn plan_hash(plan: &Plan) -> Result<String, EmitError> {
    let mut unhashed = plan.clone();
    unhashed.topology_hash = String::new();
    let bytes = serde_json::to_vec(&unhashed)
        .map_err(|e| EmitError(format!("plan of {}: {e}", plan.host)))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

/// Lowercase hex SHA-256 identifying a topology.
pub fn topology_hash(sources: &SourceMap) -> String {
    let mut digests: Vec<[u8; 32]> = sources
        .files()
        .map(|(_, f)| Sha256::digest(f.text.as_bytes()).into())
        .collect();
    digests.sort_unstable();
    let mut all = Sha256::new();
    for d in &digests {
        all.update(d);
    }
    hex(&all.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_file_names_and_order() {
        let mut a = SourceMap::new();
        a.add("one.toml", "x = 1\n");
        a.add("two.toml", "y = 2\n");
        let mut b = SourceMap::new();
        b.add("B.toml", "y = 2\n");
        b.add("A.toml", "x = 1\n");
        assert_eq!(topology_hash(&a), topology_hash(&b));
        let mut c = SourceMap::new();
        c.add("one.toml", "x = 2\n");
        c.add("two.toml", "y = 2\n");
        assert_ne!(topology_hash(&a), topology_hash(&c));
        assert_eq!(topology_hash(&a).len(), 64);
    }
}
