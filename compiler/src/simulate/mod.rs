//! `vigil simulate`: the cluster's own plans, run by `vigild`'s nodes in
//! its deterministic simulation (`vigild::sim`), under a scenario of faults.
//!
//! * this file: the simulated cluster from the resolved model (hosts'
//!   interfaces on their segments with their addresses, reference IPs per
//!   segment, each host's compiled plan, router passwords);
//! * [`scenario`]: scenario files (TOML) and `--fail` / `--cut` specs;
//! * [`report`]: the timeline per router and the verdict, human or JSON.

pub mod report;
pub mod scenario;

use std::collections::BTreeMap;

use vigil_schema::plan::Plan;
use vigild::sim::SimTopology;

use crate::model::Cluster;

/// The simulated cluster: every host of the topology with its plan.
pub fn sim_topology(cluster: &Cluster, plans: &BTreeMap<String, Plan>) -> SimTopology {
    let mut topo = SimTopology::default();
    for (name, segment) in &cluster.segments {
        for ip in &segment.reference_ips {
            topo.reference_ip(name, ip.value);
        }
    }
    // A router's own reference IPs are on its segment.
    for router in cluster.routers.values() {
        for ip in cluster.reference_ips(router) {
            topo.reference_ip(&router.segment.value, ip.value);
        }
    }
    let passwords: BTreeMap<String, Vec<u8>> = cluster
        .routers
        .values()
        .filter_map(|r| {
            r.auth
                .as_ref()
                .map(|a| (r.name.clone(), a.password.value.as_bytes().to_vec()))
        })
        .collect();
    for (host_name, host) in &cluster.hosts {
        let Some(plan) = plans.get(host_name) else {
            continue;
        };
        let mut builder = topo.host(host_name, plan.clone());
        for router in &plan.routers {
            if let Some(p) = passwords.get(&router.name) {
                builder = builder.password(&router.name, p);
            }
        }
        for iface in host.interfaces.values() {
            let addresses: Vec<_> = iface
                .addresses
                .iter()
                .map(|c| (c.value.addr, c.value.prefix))
                .collect();
            builder = builder.interface(&iface.name, &iface.segment.value, &addresses);
        }
    }
    topo
}
