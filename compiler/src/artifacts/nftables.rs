//! `nftables.conf`: admit VRRP only from the members of this host's routers.
//!
//! A firewall that drops IP protocol 112 is the most common cause of two
//! masters; one that admits it from anywhere lets a stray advert (another
//! team's cluster, a CARP user) disturb elections. The rules admit adverts
//! per interface from the peers the plan names, and drop the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;
use vigil_schema::plan::{Family, Plan};

use super::{RenderError, Templates};

#[derive(Serialize)]
struct Rule {
    interface: String,
    family: &'static str,
    sources: Vec<String>,
    comment: String,
}

/// An admitted source: one peer, or every on-link IPv6 sender.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Peer(IpAddr),
    Ipv6LinkLocal,
}

impl Source {
    fn text(&self) -> String {
        match self {
            Source::Peer(a) => a.to_string(),
            Source::Ipv6LinkLocal => "fe80::/10".to_string(),
        }
    }
}

type Groups = BTreeMap<(String, &'static str), (BTreeSet<Source>, BTreeSet<String>)>;

fn admit(groups: &mut Groups, interface: &str, family: &'static str, source: Source, router: &str) {
    let entry = groups.entry((interface.to_string(), family)).or_default();
    entry.0.insert(source);
    entry.1.insert(router.to_string());
}

fn family_word(address: IpAddr) -> &'static str {
    if address.is_ipv4() { "ip" } else { "ip6" }
}

/// Render `nftables.conf` for one host.
pub fn render(templates: &Templates, plan: &Plan) -> Result<String, RenderError> {
    let mut groups = Groups::new();
    for r in &plan.routers {
        for peer in &r.peers {
            admit(
                &mut groups,
                &r.interface,
                family_word(peer.address),
                Source::Peer(peer.address),
                &r.name,
            );
        }
        // IPv6 multicast adverts leave from the sender's link-local address
        // (RFC 5798 section 5.1.2.1), which the sender's kernel picks.
        if r.family == Family::Ipv6 && r.unicast_peers.is_empty() && !r.peers.is_empty() {
            admit(
                &mut groups,
                &r.interface,
                "ip6",
                Source::Ipv6LinkLocal,
                &r.name,
            );
        }
        for path in &r.heartbeat_paths {
            for peer in &path.peers {
                admit(
                    &mut groups,
                    &path.interface,
                    family_word(*peer),
                    Source::Peer(*peer),
                    &r.name,
                );
            }
        }
    }
    let rules: Vec<Rule> = groups
        .into_iter()
        .map(|((interface, family), (sources, routers))| Rule {
            interface,
            family,
            sources: sources.iter().map(Source::text).collect(),
            comment: format!(
                "peers of {}",
                routers.into_iter().collect::<Vec<_>>().join(", ")
            ),
        })
        .collect();
    let context = serde_json::json!({ "plan": plan, "rules": rules });
    templates.render("nftables.conf.j2", &context)
}
