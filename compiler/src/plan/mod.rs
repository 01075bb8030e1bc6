//! Plan emission: the resolved cluster model → one [`Plan`] per host.
//!
//! Runs only on a model whose lints found no errors, so every reference
//! resolves and every number is in range. It still never panics: anything
//! the lints should have caught becomes an [`EmitError`] naming the object.
//!
//! Everything the runtime needs is decided here (defaults, derived peers,
//! labels, bounds, startup delay); `vigild` interprets nothing.

mod hash;
mod router;
mod virtual_server;

use std::collections::BTreeMap;

use vigil_schema::plan::{PLAN_FORMAT_VERSION, Plan, PlanSyncGroup};

use crate::model::Cluster;

pub use hash::{plan_hash, topology_hash};
pub use virtual_server::status_range;

/// The compiler version written into every plan.
pub const COMPILER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where `vigil build` puts a router's password on the host (the plan
/// references it; the file is shipped with mode 0600).
pub fn password_path(router: &str) -> String {
    format!("/etc/vigil/secrets/{router}.pass")
}

/// A model inconsistency that the lints should have reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitError(pub String);

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot emit plan: {}", self.0)
    }
}

impl std::error::Error for EmitError {}

/// Plans for every host of the cluster, by host name.
pub fn emit_plans(cluster: &Cluster) -> Result<BTreeMap<String, Plan>, EmitError> {
    cluster
        .hosts
        .keys()
        .map(|host| Ok((host.clone(), emit_plan(cluster, host)?)))
        .collect()
}

/// The plan of one host. Its `topology_hash` is the SHA-256 of the plan's
/// own content, so it changes exactly when what this host runs changes: a
/// change to one router touches only the plans of that router's members.
pub fn emit_plan(cluster: &Cluster, host: &str) -> Result<Plan, EmitError> {
    if !cluster.hosts.contains_key(host) {
        return Err(EmitError(format!("host `{host}` is not in the topology")));
    }
    safe_name("host", host)?;
    let mut routers = Vec::new();
    for r in cluster.routers.values() {
        if r.members.contains_key(host) {
            // The name becomes a path on the host (`password_path`).
            safe_name("router", &r.name)?;
            routers.push(router::emit(cluster, r, host)?);
        }
    }
    let names: Vec<&str> = routers.iter().map(|r| r.name.as_str()).collect();
    let sync_groups = cluster
        .sync_groups
        .values()
        .filter(|g| g.routers.iter().any(|r| names.contains(&r.value.as_str())))
        .map(|g| {
            let mut routers: Vec<String> = g.routers.iter().map(|r| r.value.clone()).collect();
            routers.sort();
            routers.dedup();
            PlanSyncGroup {
                name: g.name.clone(),
                routers,
            }
        })
        .collect();
    let mut virtual_servers = Vec::new();
    for vs in cluster.virtual_servers.values() {
        let directs = cluster
            .routers
            .get(&vs.router.value)
            .is_some_and(|r| r.members.contains_key(host));
        if directs {
            virtual_servers.push(virtual_server::emit(cluster, vs)?);
        }
    }
    let startup_delay_ms = match &cluster.startup_delay {
        Some(d) => d.value.as_millis(),
        None => routers
            .iter()
            .map(router::master_down_ms)
            .max()
            .unwrap_or(0),
    };
    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        compiler_version: COMPILER_VERSION.to_string(),
        topology_hash: String::new(),
        host: host.to_string(),
        cluster: cluster
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_else(|| "vigil".to_string()),
        startup_delay_ms,
        routers,
        sync_groups,
        virtual_servers,
    };
    // The lints refuse what would break these; this is the last line of
    // defence, and the rule vigild applies when it reads the plan.
    if let Some(problem) = plan.problems().into_iter().next() {
        return Err(EmitError(format!("host `{host}`: {problem}")));
    }
    plan.topology_hash = plan_hash(&plan)?;
    Ok(plan)
}

/// Refuses a name that the `unsafe-name` lint reports (it becomes a path
/// or a configuration token).
fn safe_name(kind: &str, name: &str) -> Result<(), EmitError> {
    crate::names::check_name(name).map_err(|problem| {
        EmitError(format!(
            "{kind} name `{}` is not a safe name: {problem}",
            name.escape_debug()
        ))
    })
}

/// Convert a linted integer, naming the field when it is out of range.
pub(crate) fn narrow<T: TryFrom<i64>>(value: i64, what: &str) -> Result<T, EmitError> {
    T::try_from(value).map_err(|_| EmitError(format!("{what} = {value} is out of range")))
}
