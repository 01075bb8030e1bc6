//! The topology hash: SHA-256 over the sorted SHA-256 digests of the source
//! files, so it depends on the files' contents only (not on their names or
//! the order they were given in).

use sha2::{Digest, Sha256};

use crate::source::SourceMap;

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
    all.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
