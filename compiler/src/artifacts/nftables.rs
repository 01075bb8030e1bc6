//! `nftables.conf`: admit VRRP only from the members of this host's routers.
//!
//! A firewall that drops IP protocol 112 is the most common cause of two
//! masters; one that admits it from anywhere lets a stray advert (another
//! team's cluster, a CARP user) disturb elections. The rules admit adverts
//! per interface from the peers the plan names, and drop the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;
use vigil_schema::plan::Plan;

use super::{RenderError, Templates};

#[derive(Serialize)]
struct Rule {
    interface: String,
    family: &'static str,
    sources: Vec<String>,
    comment: String,
}

/// Render `nftables.conf` for one host.
pub fn render(templates: &Templates, plan: &Plan) -> Result<String, RenderError> {
    // (interface, family) -> (peer addresses, router names)
    let mut groups: BTreeMap<(String, &'static str), (BTreeSet<IpAddr>, BTreeSet<String>)> =
        BTreeMap::new();
    for r in &plan.routers {
        let mut add = |interface: &str, address: IpAddr| {
            let family = if address.is_ipv4() { "ip" } else { "ip6" };
            let entry = groups.entry((interface.to_string(), family)).or_default();
            entry.0.insert(address);
            entry.1.insert(r.name.clone());
        };
        for peer in &r.peers {
            add(&r.interface, peer.address);
        }
        for path in &r.heartbeat_paths {
            for peer in &path.peers {
                add(&path.interface, *peer);
            }
        }
    }
    let rules: Vec<Rule> = groups
        .into_iter()
        .map(|((interface, family), (sources, routers))| Rule {
            interface,
            family,
            sources: sources.iter().map(ToString::to_string).collect(),
            comment: format!(
                "peers of {}",
                routers.into_iter().collect::<Vec<_>>().join(", ")
            ),
        })
        .collect();
    let context = serde_json::json!({ "plan": plan, "rules": rules });
    templates.render("nftables.conf.j2", &context)
}
