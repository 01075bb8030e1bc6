//! One LVS virtual server as its directors program it.

use vigil_schema::plan::{
    PlanCheck, PlanHealth, PlanMethod, PlanProtocol, PlanRealServer, PlanRealServerOnFail,
    PlanVirtualServer,
};
use vigil_schema::topology::{Method, Protocol, RealServerOnFail};

use super::{EmitError, narrow};
use crate::model::{Cluster, VirtualServer, family_of};

/// Parse `"200-299"` or `"200"` into an inclusive range.
pub fn status_range(text: &str) -> Option<(u16, u16)> {
    let (lo, hi) = match text.split_once('-') {
        Some((lo, hi)) => (lo.trim().parse().ok()?, hi.trim().parse().ok()?),
        None => {
            let code = text.trim().parse().ok()?;
            (code, code)
        }
    };
    ((100..=599).contains(&lo) && (lo..=599).contains(&hi)).then_some((lo, hi))
}

fn port(value: i64, what: &str) -> Result<u16, EmitError> {
    narrow(value, what)
}

/// Emit virtual server `vs`.
pub fn emit(cluster: &Cluster, vs: &VirtualServer) -> Result<PlanVirtualServer, EmitError> {
    let name = &vs.name;
    let router_family = cluster
        .routers
        .get(&vs.router.value)
        .and_then(|r| r.family());
    let family = vs
        .address
        .as_ref()
        .map(|a| family_of(a.value))
        .or(router_family)
        .ok_or_else(|| EmitError(format!("virtual server `{name}` has no address family")))?;
    let (protocol, address, vport, fwmark) = match &vs.fwmark {
        Some(mark) => (None, None, None, Some(narrow::<u32>(mark.value, "fwmark")?)),
        None => {
            let address = vs.address.as_ref().ok_or_else(|| {
                EmitError(format!(
                    "virtual server `{name}` needs an address or a fwmark"
                ))
            })?;
            let protocol = match vs.protocol.value {
                Protocol::Tcp => PlanProtocol::Tcp,
                Protocol::Udp => PlanProtocol::Udp,
                Protocol::Sctp => PlanProtocol::Sctp,
            };
            let p = vs.port.as_ref().map_or(Ok(0), |p| port(p.value, "port"))?;
            (Some(protocol), Some(address.value), Some(p), None)
        }
    };
    let mut real_servers = vs
        .real_servers
        .iter()
        .map(|rs| {
            Ok(PlanRealServer {
                address: rs.address.value,
                port: port(rs.port.value, "real_server.port")?,
                weight: narrow(rs.weight.value, "weight")?,
                upper_threshold: rs
                    .upper_threshold
                    .as_ref()
                    .map_or(Ok(0), |t| narrow(t.value, "upper_threshold"))?,
                lower_threshold: rs
                    .lower_threshold
                    .as_ref()
                    .map_or(Ok(0), |t| narrow(t.value, "lower_threshold"))?,
            })
        })
        .collect::<Result<Vec<_>, EmitError>>()?;
    real_servers.sort_by_key(|rs| (rs.address, rs.port));

    let health = match &vs.health {
        None => None,
        Some(h) => {
            let check = match (&h.tcp, &h.http, &h.command) {
                (Some(t), None, None) => PlanCheck::Tcp {
                    port: t
                        .port
                        .as_ref()
                        .map(|p| port(p.value, "tcp.port"))
                        .transpose()?,
                },
                (None, Some(http), None) => {
                    let (status_min, status_max) =
                        status_range(&http.status.value).ok_or_else(|| {
                            EmitError(format!(
                                "virtual server `{name}`: bad status range `{}`",
                                http.status.value
                            ))
                        })?;
                    PlanCheck::Http {
                        port: http
                            .port
                            .as_ref()
                            .map(|p| port(p.value, "http.port"))
                            .transpose()?,
                        path: http.path.value.clone(),
                        host: http.host.as_ref().map(|h| h.value.clone()),
                        status_min,
                        status_max,
                        body_sha256: http
                            .body_sha256
                            .as_ref()
                            .map(|d| d.value.to_ascii_lowercase()),
                    }
                }
                (None, None, Some(c)) => PlanCheck::Command {
                    command: c.value.clone(),
                },
                _ => {
                    return Err(EmitError(format!(
                        "virtual server `{name}`: health needs exactly one of tcp/http/command"
                    )));
                }
            };
            Some(PlanHealth {
                interval_ms: h.interval.value.as_millis(),
                timeout_ms: h.timeout.value.as_millis(),
                rise: narrow(h.rise.value, "rise")?,
                fall: narrow(h.fall.value, "fall")?,
                warmup_ms: h.warmup.value.as_millis(),
                check,
            })
        }
    };

    Ok(PlanVirtualServer {
        name: name.clone(),
        family,
        protocol,
        address,
        port: vport,
        fwmark,
        scheduler: vs.scheduler.value,
        scheduler_flags: vs.scheduler_flags.iter().map(|f| f.value).collect(),
        method: match vs.method.value {
            Method::Dr => PlanMethod::Dr,
            Method::Nat => PlanMethod::Nat,
            Method::Tun => PlanMethod::Tun,
        },
        persistence_timeout_s: vs.persistence.as_ref().map_or(Ok(0), |d| {
            narrow(d.value.as_millis().div_ceil(1000) as i64, "persistence")
        })?,
        persistence_prefix_len: narrow(vs.persistence_prefix.value, "persistence_prefix")?,
        quorum: vs
            .quorum
            .as_ref()
            .map_or(Ok(0), |q| narrow(q.value, "quorum"))?,
        hysteresis: vs
            .hysteresis
            .as_ref()
            .map_or(Ok(0), |h| narrow(h.value, "hysteresis"))?,
        sorry_server: vs.sorry_server.as_ref().map(|s| PlanRealServer {
            address: s.value.ip(),
            port: s.value.port(),
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
        }),
        on_fail: match vs.on_fail.value {
            RealServerOnFail::Inhibit => PlanRealServerOnFail::Inhibit,
            RealServerOnFail::Remove => PlanRealServerOnFail::Remove,
        },
        only_on_master_of: vs
            .only_on_master
            .as_ref()
            .filter(|o| o.value)
            .map(|_| vs.router.value.clone()),
        keep_on_stop: vs.keep_on_stop.as_ref().is_some_and(|k| k.value),
        health,
        real_servers,
    })
}

#[cfg(test)]
mod tests {
    use super::status_range;

    #[test]
    fn status_ranges() {
        assert_eq!(status_range("200-299"), Some((200, 299)));
        assert_eq!(status_range("204"), Some((204, 204)));
        assert_eq!(status_range("299-200"), None);
        assert_eq!(status_range("abc"), None);
        assert_eq!(status_range("200-700"), None);
    }
}
