//! `vigil build`: every host's plan and artifacts as one output tree,
//! written atomically.
//!
//! The tree is computed in memory first ([`outputs`]); [`write_tree`]
//! writes it to a temporary sibling directory and renames it into place, so
//! a failure (a bad template, a full disk) leaves any previous build intact.
//! [`stale_files`] compares a tree on disk with a fresh build (`--check`).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::artifacts::{Templates, inventory, keepalived, nftables, systemd};
use crate::model::Cluster;
use crate::plan::{emit_plans, topology_hash};
use crate::source::SourceMap;
use vigil_schema::topology::RuntimeKind;

/// One output file: its bytes and whether it holds a secret (mode 0600).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    pub bytes: Vec<u8>,
    pub secret: bool,
}

/// The whole output tree, by path relative to the output directory.
pub type Tree = BTreeMap<PathBuf, OutputFile>;

fn public(text: String) -> OutputFile {
    OutputFile {
        bytes: text.into_bytes(),
        secret: false,
    }
}

/// Compute every output file of a checked cluster.
pub fn outputs(
    cluster: &Cluster,
    sources: &SourceMap,
    templates: &Templates,
) -> Result<Tree, String> {
    let plans = emit_plans(cluster).map_err(|e| e.to_string())?;
    let passwords: BTreeMap<String, String> = cluster
        .routers
        .values()
        .filter_map(|r| {
            r.auth
                .as_ref()
                .map(|a| (r.name.clone(), a.password.value.clone()))
        })
        .collect();
    let mut tree = Tree::new();
    let mut hosts = Vec::new();
    for (host, plan) in &plans {
        let dir = PathBuf::from(host);
        let mut json =
            serde_json::to_string_pretty(plan).map_err(|e| format!("plan of {host}: {e}"))?;
        json.push('\n');
        tree.insert(dir.join("plan.json"), public(json));
        tree.insert(
            dir.join("vigild.service"),
            public(systemd::render(templates, plan).map_err(|e| e.to_string())?),
        );
        tree.insert(
            dir.join("keepalived.conf"),
            public(keepalived::render(templates, plan, &passwords).map_err(|e| e.to_string())?),
        );
        tree.insert(
            dir.join("nftables.conf"),
            public(nftables::render(templates, plan).map_err(|e| e.to_string())?),
        );
        for r in plan.routers.iter().filter(|r| r.auth.is_some()) {
            let password = passwords
                .get(&r.name)
                .ok_or_else(|| format!("router {}: no password", r.name))?;
            tree.insert(
                dir.join("secrets").join(format!("{}.pass", r.name)),
                OutputFile {
                    bytes: format!("{password}\n").into_bytes(),
                    secret: true,
                },
            );
        }
        let runtime = match cluster.hosts.get(host).map(|h| h.runtime.value) {
            Some(RuntimeKind::Keepalived) => "keepalived",
            _ => "vigild",
        };
        hosts.push(inventory::InventoryHost {
            name: host.clone(),
            runtime: runtime.to_string(),
        });
    }
    let hash = topology_hash(sources);
    tree.insert(
        PathBuf::from("inventory.yml"),
        public(
            inventory::render(templates, crate::plan::COMPILER_VERSION, &hash, &hosts)
                .map_err(|e| e.to_string())?,
        ),
    );
    check_paths(&tree)?;
    Ok(tree)
}

/// Refuses a tree with a path that could resolve outside the output
/// directory: every path must be relative and made only of safe file names
/// (no `..`, no root, no leading `.`, nothing but letters, digits, `-`, `_`,
/// `.`). The `unsafe-name` lint reports the names this would catch with
/// their place in the topology; this check holds even if it did not run.
pub fn check_paths(tree: &Tree) -> Result<(), String> {
    for path in tree.keys() {
        let safe = path.components().count() > 0
            && path.components().all(|c| match c {
                std::path::Component::Normal(part) => {
                    part.to_str().is_some_and(crate::names::is_safe_file_name)
                }
                _ => false,
            });
        if !safe {
            return Err(format!(
                "refusing to write {:?}: output paths must stay inside the output directory \
                 and consist of safe names (see `vigil explain unsafe-name`)",
                path.display().to_string()
            ));
        }
    }
    Ok(())
}

/// Files that differ between `dir` and `tree` (missing, changed or extra).
pub fn stale_files(dir: &Path, tree: &Tree) -> Result<Vec<PathBuf>, String> {
    let on_disk = list_files(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut stale: Vec<PathBuf> = on_disk
        .iter()
        .filter(|p| !tree.contains_key(*p))
        .cloned()
        .collect();
    for (path, file) in tree {
        match std::fs::read(dir.join(path)) {
            Ok(bytes) if bytes == file.bytes => {}
            _ => stale.push(path.clone()),
        }
    }
    stale.sort();
    Ok(stale)
}

fn list_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(dir.join(&rel))? {
            let entry = entry?;
            let path = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    Ok(out)
}

/// Write `tree` to `out`, replacing a previous build only once the new one
/// is complete. Refuses to replace a non-empty directory that is not a
/// previous build (no `inventory.yml`), so a mistyped `--out` cannot wipe
/// unrelated files.
pub fn write_tree(out: &Path, tree: &Tree) -> Result<(), String> {
    let name = out
        .file_name()
        .ok_or_else(|| format!("{}: not a usable output directory", out.display()))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if out.exists() {
        let is_dir = out.is_dir();
        let empty = is_dir
            && std::fs::read_dir(out)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !is_dir || !(empty || out.join("inventory.yml").is_file()) {
            return Err(format!(
                "{} exists and is not a previous vigil build (no inventory.yml); refusing to replace it",
                out.display()
            ));
        }
    }
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.tmp-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = write_all(&tmp, tree).and_then(|()| {
        if out.exists() {
            std::fs::rename(out, &old)?;
        }
        std::fs::rename(&tmp, out).inspect_err(|_| {
            let _ = std::fs::rename(&old, out);
        })
    });
    match result {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&old);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(format!("cannot write {}: {e}", out.display()))
        }
    }
}

fn write_all(root: &Path, tree: &Tree) -> std::io::Result<()> {
    check_paths(tree).map_err(std::io::Error::other)?;
    std::fs::create_dir_all(root)?;
    for (rel, file) in tree {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mode = if file.secret { 0o600 } else { 0o644 };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)?;
        f.write_all(&file.bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}
