//! One virtual router as one member runs it.

use std::net::IpAddr;

use vigil_schema::plan::{
    ExpectedRole, Family, PlanArbitration, PlanAuth, PlanFence, PlanGarp, PlanHeartbeatPath,
    PlanLease, PlanNotify, PlanOnFail, PlanPeer, PlanRouter, PlanTracker, PlanTrackerKind, PlanVip,
    PlanVmac,
};
use vigil_schema::topology::Preempt;
use vigil_schema::vrrp;

use super::{EmitError, narrow, password_path};
use crate::model::{Cluster, Interface, Router, TrackAction, family_of, lease_endpoint};

/// Longest interface label the kernel accepts (IFNAMSIZ - 1).
const MAX_LABEL: usize = 15;

/// The master-down interval of a router for its own priority, in whole
/// milliseconds (RFC 5798, [`vigil_schema::vrrp::master_down_interval`]).
pub fn master_down_ms(r: &PlanRouter) -> u64 {
    let down = vrrp::master_down_interval(r.priority, vrrp::Centis(r.advert_interval_cs));
    u64::try_from(down.as_millis()).unwrap_or(u64::MAX)
}

/// The address a member speaks from on an interface: for IPv6 its
/// link-local address when the topology lists one (RFC 5798 sends IPv6
/// adverts from the link-local address), else its first address of the family.
fn source_address(iface: &Interface, family: Family) -> Option<IpAddr> {
    let of_family = || {
        iface
            .addresses
            .iter()
            .map(|a| a.addr)
            .filter(move |a| family_of(*a) == family)
    };
    if family == Family::Ipv6
        && let Some(ll) =
            of_family().find(|a| matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
    {
        return Some(ll);
    }
    of_family().next()
}

/// The other members' unicast-usable addresses on the router's segment.
fn global_address(iface: &Interface, family: Family) -> Option<IpAddr> {
    let mut of_family = iface
        .addresses
        .iter()
        .map(|a| a.addr)
        .filter(|a| family_of(*a) == family);
    let all: Vec<IpAddr> = of_family.by_ref().collect();
    all.iter()
        .copied()
        .find(|a| !matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
        .or_else(|| all.first().copied())
}

fn interface_of<'a>(
    cluster: &'a Cluster,
    r: &'a Router,
    host: &str,
) -> Result<&'a Interface, EmitError> {
    let member = r
        .members
        .get(host)
        .ok_or_else(|| EmitError(format!("`{host}` is not a member of router `{}`", r.name)))?;
    cluster.member_interface(r, member).ok_or_else(|| {
        EmitError(format!(
            "member `{host}` of router `{}` has no usable interface on segment `{}`",
            r.name, r.segment.value
        ))
    })
}

/// Emit the plan entry of router `r` for member `host`.
pub fn emit(cluster: &Cluster, r: &Router, host: &str) -> Result<PlanRouter, EmitError> {
    let name = &r.name;
    let family = r
        .family()
        .ok_or_else(|| EmitError(format!("router `{name}` has no VIPs")))?;
    let member = &r.members[host];
    let iface = interface_of(cluster, r, host)?;
    let unicast = r.unicast.value;
    let pick = |i: &Interface| {
        if unicast {
            global_address(i, family)
        } else {
            source_address(i, family)
        }
    };
    let source = pick(iface).ok_or_else(|| {
        EmitError(format!(
            "member `{host}` of router `{name}` has no address of the router's family on `{}`",
            iface.name
        ))
    })?;

    let version = vrrp::VrrpVersion::from_number(r.version.value).ok_or_else(|| {
        EmitError(format!(
            "router `{name}`: VRRP version {} (only 2 and 3 exist)",
            r.version.value
        ))
    })?;
    let advert_cs = vrrp::advert_interval(r.version.value, r.advert_interval.value.as_millis())
        .map_err(|e| {
            EmitError(format!(
                "router `{name}`: advert_interval {}: {e}",
                r.advert_interval.value
            ))
        })?
        .0;
    let (min_cs, max_cs) = if version == vrrp::VrrpVersion::V2 {
        (advert_cs, advert_cs)
    } else {
        // A v3 backup adopts the master's interval, but a forged advert must
        // not stretch the master-down interval without bound.
        (
            (advert_cs / 2).max(1),
            advert_cs.saturating_mul(2).min(4095),
        )
    };

    let mut peers = Vec::new();
    let mut unicast_peers = Vec::new();
    for (other, m) in &r.members {
        if other == host {
            continue;
        }
        let other_iface = interface_of(cluster, r, other)?;
        let address = pick(other_iface).ok_or_else(|| {
            EmitError(format!(
                "member `{other}` of router `{name}` has no address of the router's family"
            ))
        })?;
        peers.push(PlanPeer {
            host: other.clone(),
            address,
            priority: narrow(m.priority.value, "priority")?,
        });
        if unicast {
            unicast_peers.push(address);
        }
    }
    unicast_peers.sort();

    let mut vips: Vec<PlanVip> = r
        .vips
        .iter()
        .map(|v| {
            let label = format!("{}:{}", iface.name, r.vrid.value);
            PlanVip {
                address: v.addr,
                prefix_len: v.prefix,
                // On a virtual MAC interface the VIPs are told apart by it.
                label: (v.is_ipv4() && label.len() <= MAX_LABEL && !r.vmac.value).then_some(label),
            }
        })
        .collect();
    // RFC 5798 5.2.9: an IPv6 router's first address is its link-local one.
    vips.sort_by_key(|v| (!is_link_local(&v.address), v.address, v.prefix_len));

    let arbitration = match &r.arbitration {
        // Lease only: nothing to probe.
        Some(arb) if arb.lease.is_some() && cluster.reference_ips(r).is_empty() => None,
        Some(arb) => {
            let mut reference_ips: Vec<IpAddr> =
                cluster.reference_ips(r).iter().map(|a| a.value).collect();
            reference_ips.sort();
            reference_ips.dedup();
            Some(PlanArbitration {
                reference_ips,
                interval_ms: arb.interval.value.as_millis(),
                timeout_ms: arb.timeout.value.as_millis(),
                attempts: narrow(arb.attempts.value, "arbitration.attempts")?,
                release_after_ms: arb.release_after.value.as_millis(),
                fence: arb.fence.as_ref().map(|f| PlanFence {
                    command: f.command.value.clone(),
                    required: f.required.value,
                    timeout_ms: f.timeout.value.as_millis(),
                }),
                self_fence: arb.self_fence.as_ref().map(|c| c.value.clone()),
            })
        }
        None => None,
    };

    let lease = match r.arbitration.as_ref().and_then(|a| a.lease.as_ref()) {
        Some(l) => Some(plan_lease(cluster, r, name, host, l.ttl.value.as_millis())?),
        None => None,
    };

    let mut heartbeat_paths = Vec::new();
    for segment in &r.heartbeat_paths {
        let local = cluster.hosts[host]
            .interfaces_on(&segment.value)
            .next()
            .ok_or_else(|| {
                EmitError(format!(
                    "host `{host}` has no interface on heartbeat segment `{}`",
                    segment.value
                ))
            })?;
        let source_address = global_address(local, family).ok_or_else(|| {
            EmitError(format!(
                "host `{host}` has no address of the router's family on `{}`",
                local.name
            ))
        })?;
        let mut path_peers = Vec::new();
        for other in r.members.keys().filter(|o| *o != host) {
            let remote = cluster
                .hosts
                .get(other)
                .and_then(|h| h.interfaces_on(&segment.value).next())
                .and_then(|i| global_address(i, family));
            path_peers.extend(remote);
        }
        path_peers.sort();
        heartbeat_paths.push(PlanHeartbeatPath {
            interface: local.name.clone(),
            source_address,
            peers: path_peers,
        });
    }

    let trackers = r
        .trackers_of(host)
        .map(|t| {
            let kind = match (&t.interface, &t.command) {
                (Some(i), None) => PlanTrackerKind::Interface {
                    interface: i.value.clone(),
                },
                (None, Some(c)) => PlanTrackerKind::Command {
                    command: c.value.clone(),
                    interval_ms: t.interval.value.as_millis(),
                    timeout_ms: t.timeout.value.as_millis(),
                    rise: narrow(t.rise.value, "rise")?,
                    fall: narrow(t.fall.value, "fall")?,
                },
                _ => {
                    return Err(EmitError(format!(
                        "tracker `{}` of router `{name}` needs exactly one of interface/command",
                        t.name
                    )));
                }
            };
            let on_fail = match &t.on_fail {
                TrackAction::Fault(_) => PlanOnFail::Fault,
                TrackAction::Demote(w) => PlanOnFail::Demote {
                    weight: narrow(w.value, "demote")?,
                },
            };
            Ok(PlanTracker {
                name: t.name.clone(),
                kind,
                on_fail,
            })
        })
        .collect::<Result<Vec<_>, EmitError>>()?;

    let notify = PlanNotify {
        master: r.notify.master.as_ref().map(|c| c.value.clone()),
        backup: r.notify.backup.as_ref().map(|c| c.value.clone()),
        fault: r.notify.fault.as_ref().map(|c| c.value.clone()),
        stop: r.notify.stop.as_ref().map(|c| c.value.clone()),
        any: r.notify.any.as_ref().map(|c| c.value.clone()),
        timeout_ms: r.notify.timeout.value.as_millis(),
    };
    let garp = PlanGarp {
        repeat: narrow(r.garp.repeat.value, "garp.repeat")?,
        interval_ms: r.garp.interval.value.as_millis(),
        refresh_ms: r.garp.refresh.as_ref().map_or(0, |d| d.value.as_millis()),
    };
    let top = r.top_member().map(|m| m.host.as_str());
    let sync_group = cluster
        .sync_groups
        .values()
        .find(|g| g.routers.iter().any(|n| n.value == *name))
        .map(|g| g.name.clone());
    let priority: u8 = narrow(member.priority.value, "priority")?;
    let vrid: u8 = narrow(r.vrid.value, "vrid")?;

    Ok(PlanRouter {
        name: name.clone(),
        interface: iface.name.clone(),
        family,
        version,
        vrid,
        priority,
        advert_interval_cs: advert_cs,
        advert_interval_min_cs: min_cs,
        advert_interval_max_cs: max_cs,
        preempt: r.preempt.value == Preempt::Always,
        preempt_delay_ms: r.preempt_delay.as_ref().map_or(0, |d| d.value.as_millis()),
        accept: r.accept.value,
        vmac: r.vmac.value.then(|| vmac(family, vrid)),
        owner: priority == 255,
        source_address: source,
        unicast_peers,
        peers,
        vips,
        auth: r.auth.as_ref().map(|_| PlanAuth {
            password_file: password_path(name),
        }),
        arbitration,
        lease,
        heartbeat_paths,
        trackers,
        notify,
        garp,
        expected_role: if top == Some(host) {
            ExpectedRole::Master
        } else {
            ExpectedRole::Backup
        },
        sync_group,
    })
}

/// The lease part of a member's plan. Timing, all derived from the TTL:
/// a keep-alive every sixth of it (so five can fail before the lease is
/// in danger), each request given as long, and the holder gives up a
/// sixth of the TTL before the store can expire it. Members try to
/// acquire in priority order, one advert interval apart.
fn plan_lease(
    cluster: &Cluster,
    r: &Router,
    name: &str,
    host: &str,
    ttl_ms: u64,
) -> Result<PlanLease, EmitError> {
    let store = cluster.lease_store.as_ref().ok_or_else(|| {
        EmitError(format!(
            "router `{name}` uses a lease but there is no [lease] store"
        ))
    })?;
    let endpoints = store
        .endpoints
        .iter()
        .map(|e| {
            lease_endpoint(&e.value)
                .map_err(|why| EmitError(format!("lease endpoint `{}`: {why}", e.value)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if endpoints.is_empty() {
        return Err(EmitError("the [lease] store has no endpoints".into()));
    }
    let cluster_name = cluster.name.as_ref().map_or("vigil", |n| n.value.as_str());
    let prefix = store.key_prefix.value.trim_end_matches('/');
    let sixth = (ttl_ms / 6).max(100);
    let ours = r.members.get(host).map_or(0, |m| m.priority.value);
    let rank = r
        .members
        .values()
        .filter(|m| m.priority.value > ours || (m.priority.value == ours && m.host.as_str() < host))
        .count() as u64;
    Ok(PlanLease {
        endpoints,
        key: format!("{prefix}/{cluster_name}/{name}"),
        holder: host.to_string(),
        ttl_ms,
        keepalive_interval_ms: sixth,
        request_timeout_ms: sixth,
        release_margin_ms: sixth,
        acquire_delay_ms: rank.saturating_mul(r.advert_interval.value.as_millis()),
    })
}

fn is_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
        IpAddr::V4(_) => false,
    }
}

/// RFC 5798 §7.3: the virtual MAC interface of a router (named as
/// keepalived names its own: `vrrp.VRID`, `vrrp6.VRID`).
pub fn vmac(family: Family, vrid: u8) -> PlanVmac {
    let (name, kind) = match family {
        Family::Ipv4 => ("vrrp", 1),
        Family::Ipv6 => ("vrrp6", 2),
    };
    PlanVmac {
        interface: format!("{name}.{vrid}"),
        mac: format!("00:00:5e:00:{kind:02x}:{vrid:02x}"),
    }
}
