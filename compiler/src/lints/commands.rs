//! The commands and free-text values of a cluster, with what they are, for
//! the lints that check them (`unsafe-text`, `empty-command`).

use crate::model::{At, Cluster};

/// Every command of the cluster: `(what it is, the command)`.
pub(crate) fn commands(cluster: &Cluster) -> Vec<(String, &At<Vec<String>>)> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let n = &r.notify;
        for (key, c) in [
            ("master", &n.master),
            ("backup", &n.backup),
            ("fault", &n.fault),
            ("stop", &n.stop),
            ("any", &n.any),
        ] {
            if let Some(c) = c {
                out.push((format!("notify.{key} of router `{}`", r.name), c));
            }
        }
        for t in r.trackers.values() {
            if let Some(c) = &t.command {
                out.push((format!("tracker `{}` of router `{}`", t.name, r.name), c));
            }
        }
        if let Some(arb) = &r.arbitration {
            if let Some(f) = &arb.fence {
                out.push((
                    format!("the fence command of router `{}`", r.name),
                    &f.command,
                ));
            }
            if let Some(c) = &arb.self_fence {
                out.push((format!("the self_fence command of router `{}`", r.name), c));
            }
        }
    }
    for vs in cluster.virtual_servers.values() {
        if let Some(c) = vs.health.as_ref().and_then(|h| h.command.as_ref()) {
            out.push((format!("the health check command of `{}`", vs.name), c));
        }
    }
    out
}
