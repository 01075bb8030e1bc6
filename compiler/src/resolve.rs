//! Topology files → the resolved [`Cluster`] model.
//!
//! Objects with the same name in several files are one object:
//! * segments: subnets must agree; reference IPs and reserved VRIDs are united;
//! * routers: members and trackers are united; every other field that more
//!   than one file states must agree (a file may leave an optional field out
//!   and inherit it from another);
//! * hosts, sync groups, virtual servers and `[cluster]` may be defined once.
//!
//! Disagreements become [`Conflict`]s (the first definition wins), reported
//! by the `*-conflict` lints. Defaults documented in the schema are applied
//! here, as [`Setting`]s that remember they were not written.

use std::collections::BTreeSet;
use std::fmt::Display;

use vigil_schema::span::Sp;
use vigil_schema::topology::{self as t, OnFail, Preempt, RealServerOnFail, RuntimeKind};
use vigil_schema::units::Duration;

use crate::load::LoadedFile;
use crate::model::*;
use crate::source::Span;

/// Merges loaded files (in order) into one cluster.
pub fn resolve(files: &[LoadedFile]) -> Cluster {
    let mut cluster = Cluster::default();
    for loaded in files {
        let cx = Cx { loaded };
        cx.merge(&mut cluster, &loaded.topology);
        let t = &loaded.topology;
        cluster.files.push(InputFile {
            span: Span::new(loaded.file, 0..0),
            empty: t.cluster.is_none()
                && t.segment.is_empty()
                && t.host.is_empty()
                && t.router.is_empty()
                && t.sync_group.is_empty()
                && t.virtual_server.is_empty()
                && t.lease.is_none(),
        });
    }
    cluster
}

/// The file being merged.
struct Cx<'a> {
    loaded: &'a LoadedFile,
}

impl Cx<'_> {
    fn span(&self, range: &std::ops::Range<usize>) -> Span {
        self.loaded.span(range)
    }
    fn at<T: Clone>(&self, sp: &Sp<T>) -> At<T> {
        At::new(sp.value.clone(), self.span(&sp.span))
    }
    fn opt<T: Clone>(&self, sp: &Option<Sp<T>>) -> Option<At<T>> {
        sp.as_ref().map(|s| self.at(s))
    }
    fn list<T: Clone>(&self, v: &[Sp<T>]) -> Vec<At<T>> {
        v.iter().map(|s| self.at(s)).collect()
    }
    fn setting<T: Clone>(&self, sp: &Option<Sp<T>>, default: T) -> Setting<T> {
        match sp {
            Some(s) => Setting::explicit(s.value.clone(), self.span(&s.span)),
            None => Setting::default_value(default),
        }
    }

    fn merge(&self, cluster: &mut Cluster, topo: &t::Topology) {
        if let Some(c) = &topo.cluster {
            match &cluster.name {
                Some(existing) => cluster.conflicts.push(Conflict {
                    kind: ObjectKind::Cluster,
                    name: "cluster".into(),
                    field: None,
                    kept: At::new(existing.value.clone(), existing.span.clone()),
                    other: At::new(c.name.value.clone(), self.span(&c.span)),
                }),
                None => {
                    cluster.name = Some(self.at(&c.name));
                    cluster.startup_delay = self.opt(&c.startup_delay);
                }
            }
        }
        if let Some(l) = &topo.lease {
            match &cluster.lease_store {
                Some(existing) => cluster.conflicts.push(Conflict {
                    kind: ObjectKind::Cluster,
                    name: "lease".into(),
                    field: None,
                    kept: At::new("[lease]".to_string(), existing.span.clone()),
                    other: At::new("[lease]".to_string(), self.span(&l.span)),
                }),
                None => {
                    cluster.lease_store = Some(LeaseStore {
                        span: self.span(&l.span),
                        endpoints: self.list(&l.endpoints),
                        key_prefix: self.setting(&l.key_prefix, "/vigil".to_string()),
                        tls: l.tls.as_ref().map(|t| self.span(&t.span)),
                    });
                }
            }
        }
        for (name, seg) in &topo.segment {
            self.merge_segment(cluster, name, seg);
        }
        for (name, host) in &topo.host {
            if let Some(existing) = cluster.hosts.get(name) {
                cluster.conflicts.push(redefined(
                    ObjectKind::Host,
                    name,
                    &existing.span,
                    self.span(&host.span),
                ));
                continue;
            }
            let h = self.host(name, host);
            cluster.hosts.insert(name.clone(), h);
        }
        for (name, router) in &topo.router {
            self.merge_router(cluster, name, router);
        }
        for (name, group) in &topo.sync_group {
            if let Some(existing) = cluster.sync_groups.get(name) {
                cluster.conflicts.push(redefined(
                    ObjectKind::SyncGroup,
                    name,
                    &existing.span,
                    self.span(&group.span),
                ));
                continue;
            }
            let g = SyncGroup {
                name: name.clone(),
                span: self.span(&group.span),
                routers: self.list(&group.routers),
            };
            cluster.sync_groups.insert(name.clone(), g);
        }
        for (name, vs) in &topo.virtual_server {
            if let Some(existing) = cluster.virtual_servers.get(name) {
                cluster.conflicts.push(redefined(
                    ObjectKind::VirtualServer,
                    name,
                    &existing.span,
                    self.span(&vs.span),
                ));
                continue;
            }
            let v = self.virtual_server(name, vs);
            cluster.virtual_servers.insert(name.clone(), v);
        }
    }

    fn merge_segment(&self, cluster: &mut Cluster, name: &str, seg: &Sp<t::Segment>) {
        let reserved: Vec<ReservedVrid> = seg
            .reserved_vrids
            .iter()
            .map(|r| ReservedVrid {
                vrid: self.at(&r.vrid),
                owner: self.at(&r.owner),
            })
            .collect();
        let Some(existing) = cluster.segments.get_mut(name) else {
            cluster.segments.insert(
                name.to_string(),
                Segment {
                    name: name.to_string(),
                    span: self.span(&seg.span),
                    definitions: vec![self.span(&seg.span)],
                    subnets: self.list(&seg.subnets),
                    reference_ips: self.list(&seg.reference_ips),
                    reserved_vrids: reserved,
                    description: self.opt(&seg.description),
                },
            );
            return;
        };
        existing.definitions.push(self.span(&seg.span));
        let kept: BTreeSet<_> = existing.subnets.iter().map(|s| s.value).collect();
        let other: BTreeSet<_> = seg.subnets.iter().map(|s| s.value).collect();
        if kept != other {
            let kept_span = existing
                .subnets
                .first()
                .map_or(existing.span.clone(), |s| s.span.clone());
            let other_span = seg
                .subnets
                .first()
                .map_or(self.span(&seg.span), |s| self.span(&s.span));
            cluster.conflicts.push(Conflict {
                kind: ObjectKind::Segment,
                name: name.to_string(),
                field: Some("subnets".into()),
                kept: At::new(join(&kept), kept_span),
                other: At::new(join(&other), other_span),
            });
        }
        for ip in &seg.reference_ips {
            if !existing.reference_ips.iter().any(|r| r.value == ip.value) {
                existing.reference_ips.push(self.at(ip));
            }
        }
        existing.reserved_vrids.extend(reserved);
        if existing.description.is_none() {
            existing.description = self.opt(&seg.description);
        }
    }

    fn host(&self, name: &str, host: &Sp<t::Host>) -> Host {
        Host {
            name: name.to_string(),
            span: self.span(&host.span),
            interfaces: host
                .interface
                .iter()
                .map(|(ifname, i)| {
                    (
                        ifname.clone(),
                        Box::new(Interface {
                            name: ifname.clone(),
                            span: self.span(&i.span),
                            segment: self.at(&i.segment),
                            addresses: self.list(&i.addresses),
                        }),
                    )
                })
                .collect(),
            runtime: self.setting(&host.runtime, RuntimeKind::Vigild),
            description: self.opt(&host.description),
            metrics_listen: host.metrics.as_ref().map(|m| self.at(&m.value.listen)),
        }
    }

    fn merge_router(&self, cluster: &mut Cluster, name: &str, r: &Sp<t::Router>) {
        let new = self.router(name, r);
        let Some(existing) = cluster.routers.get_mut(name) else {
            cluster.routers.insert(name.to_string(), new);
            return;
        };
        let mut m = Merger {
            name,
            conflicts: &mut cluster.conflicts,
        };
        existing.definitions.push(new.span.clone());
        m.same("segment", &existing.segment, &new.segment);
        m.same("vrid", &existing.vrid, &new.vrid);
        m.setting("version", &mut existing.version, new.version);
        m.setting(
            "advert_interval",
            &mut existing.advert_interval,
            new.advert_interval,
        );
        if existing.vips_span.is_none() {
            existing.vips_span = new.vips_span.clone();
        }
        if existing.vips.is_empty() {
            existing.vips = new.vips;
        } else if !new.vips.is_empty() {
            let kept: BTreeSet<_> = existing.vips.iter().map(|v| v.value).collect();
            let other: BTreeSet<_> = new.vips.iter().map(|v| v.value).collect();
            if kept != other {
                m.push(
                    "vips",
                    At::new(join(&kept), existing.vips[0].span.clone()),
                    At::new(join(&other), new.vips[0].span.clone()),
                );
            }
        }
        m.setting_dbg("preempt", &mut existing.preempt, new.preempt);
        m.option(
            "preempt_delay",
            &mut existing.preempt_delay,
            new.preempt_delay,
        );
        m.setting("accept", &mut existing.accept, new.accept);
        m.setting("vmac", &mut existing.vmac, new.vmac);
        m.setting("unicast", &mut existing.unicast, new.unicast);
        m.option(
            "accept_split_brain",
            &mut existing.accept_split_brain,
            new.accept_split_brain,
        );
        match (&existing.auth, new.auth) {
            (None, auth) => existing.auth = auth,
            (Some(a), Some(b)) if a.password.value != b.password.value => {
                m.push(
                    "auth",
                    At::new("(a password)".into(), a.span.clone()),
                    At::new("(another password)".into(), b.span),
                );
            }
            _ => {}
        }
        match (&existing.arbitration, new.arbitration) {
            (None, arb) => existing.arbitration = arb,
            (Some(a), Some(b)) => {
                let describe = |x: &Arbitration| {
                    format!(
                        "reference_ips [{}], interval {}, timeout {}, attempts {}{}",
                        join(x.reference_ips.iter().map(|r| r.value)),
                        x.interval.value,
                        x.timeout.value,
                        x.attempts.value,
                        x.lease
                            .as_ref()
                            .map(|l| format!(", lease ttl {}", l.ttl.value))
                            .unwrap_or_default()
                    )
                };
                let (ka, kb) = (describe(a), describe(&b));
                if ka != kb {
                    m.push(
                        "arbitration",
                        At::new(ka, a.span.clone()),
                        At::new(kb, b.span),
                    );
                }
            }
            _ => {}
        }
        for path in new.heartbeat_paths {
            if !existing
                .heartbeat_paths
                .iter()
                .any(|p| p.value == path.value)
            {
                existing.heartbeat_paths.push(path);
            }
        }
        if r.garp.is_some() {
            if existing.garp.repeat.is_explicit()
                || existing.garp.interval.is_explicit()
                || existing.garp.refresh.is_some()
            {
                m.push(
                    "garp",
                    At::new("a [garp] table".into(), existing.span.clone()),
                    At::new("another [garp] table".into(), new.span.clone()),
                );
            } else {
                existing.garp = new.garp;
            }
        }
        if r.notify.is_some() {
            let n = &existing.notify;
            if n.master.is_some()
                || n.backup.is_some()
                || n.fault.is_some()
                || n.stop.is_some()
                || n.any.is_some()
                || n.timeout.is_explicit()
            {
                m.push(
                    "notify",
                    At::new("a [notify] table".into(), existing.span.clone()),
                    At::new("another [notify] table".into(), new.span.clone()),
                );
            } else {
                existing.notify = new.notify;
            }
        }
        for (host, member) in new.members {
            match existing.members.get(&host) {
                None => {
                    existing.members.insert(host, member);
                }
                Some(kept) => {
                    let field = format!("member.{host}.priority");
                    m.same(&field, &kept.priority, &member.priority);
                }
            }
        }
        for (tname, tracker) in new.trackers {
            match existing.trackers.get(&tname) {
                None => {
                    existing.trackers.insert(tname, tracker);
                }
                Some(kept) => {
                    let (a, b) = (describe_tracker(kept), describe_tracker(&tracker));
                    if a != b {
                        m.push(
                            &format!("track.{tname}"),
                            At::new(a, kept.span.clone()),
                            At::new(b, tracker.span),
                        );
                    }
                }
            }
        }
    }

    fn router(&self, name: &str, r: &Sp<t::Router>) -> Router {
        Router {
            name: name.to_string(),
            span: self.span(&r.span),
            definitions: vec![self.span(&r.span)],
            segment: self.at(&r.segment),
            vrid: self.at(&r.vrid),
            version: self.setting(&r.version, 3),
            advert_interval: self.setting(&r.advert_interval, Duration::from_secs(1)),
            vips: self.list(&r.vips.value),
            // A detached (defaulted) span means the key was not written.
            vips_span: (r.vips.span != (0..0)).then(|| self.span(&r.vips.span)),
            preempt: self.setting(&r.preempt, Preempt::Always),
            preempt_delay: self.opt(&r.preempt_delay),
            accept: self.setting(&r.accept, true),
            vmac: self.setting(&r.vmac, false),
            unicast: self.setting(&r.unicast, false),
            auth: r.auth.as_ref().map(|a| Auth {
                span: self.span(&a.span),
                kind: self.at(&a.kind),
                password: self.at(&a.password),
            }),
            arbitration: r.arbitration.as_ref().map(|a| self.arbitration(a)),
            accept_split_brain: self.opt(&r.accept_split_brain),
            heartbeat_paths: self.list(&r.heartbeat_paths),
            garp: match &r.garp {
                Some(g) => Garp {
                    repeat: self.setting(&g.repeat, 5),
                    interval: self.setting(&g.interval, Duration::from_millis(100)),
                    refresh: self.opt(&g.refresh),
                },
                None => Garp {
                    repeat: Setting::default_value(5),
                    interval: Setting::default_value(Duration::from_millis(100)),
                    refresh: None,
                },
            },
            notify: match &r.notify {
                Some(n) => Notify {
                    master: self.opt(&n.master),
                    backup: self.opt(&n.backup),
                    fault: self.opt(&n.fault),
                    stop: self.opt(&n.stop),
                    any: self.opt(&n.any),
                    timeout: self.setting(&n.timeout, Duration::from_secs(10)),
                },
                None => Notify {
                    master: None,
                    backup: None,
                    fault: None,
                    stop: None,
                    any: None,
                    timeout: Setting::default_value(Duration::from_secs(10)),
                },
            },
            members: r
                .member
                .iter()
                .map(|(host, m)| {
                    (
                        host.clone(),
                        Box::new(Member {
                            host: host.clone(),
                            span: self.span(&m.span),
                            priority: self.at(&m.priority),
                            interface: self.opt(&m.interface),
                            initial_state: self.opt(&m.initial_state),
                        }),
                    )
                })
                .collect(),
            trackers: r
                .track
                .iter()
                .map(|(tname, tr)| (tname.clone(), Box::new(self.tracker(tname, tr))))
                .collect(),
        }
    }

    fn arbitration(&self, a: &Sp<t::Arbitration>) -> Arbitration {
        let interval = self.setting(&a.interval, Duration::from_secs(1));
        let attempts = self.setting(&a.attempts, 3);
        let default_release = Duration::from_millis(
            interval
                .value
                .as_millis()
                .saturating_mul(u64::try_from(attempts.value).unwrap_or(0)),
        );
        Arbitration {
            span: self.span(&a.span),
            reference_ips: self.list(&a.reference_ips),
            timeout: self.setting(&a.timeout, Duration::from_millis(500)),
            release_after: self.setting(&a.release_after, default_release),
            interval,
            attempts,
            fence: a.fence.as_ref().map(|f| Fence {
                span: self.span(&f.span),
                command: self.at(&f.command),
                required: self.setting(&f.required, true),
                timeout: self.setting(&f.timeout, Duration::from_secs(30)),
            }),
            self_fence: self.opt(&a.self_fence),
            lease: a.lease.as_ref().map(|l| LeaseArbitration {
                span: self.span(&l.span),
                ttl: self.setting(&l.ttl, Duration::from_secs(3)),
            }),
        }
    }

    fn tracker(&self, name: &str, tr: &Sp<t::Tracker>) -> Tracker {
        Tracker {
            name: name.to_string(),
            span: self.span(&tr.span),
            interface: self.opt(&tr.interface),
            command: self.opt(&tr.command),
            interval: self.setting(&tr.interval, Duration::from_secs(2)),
            timeout: self.setting(&tr.timeout, Duration::from_secs(1)),
            rise: self.setting(&tr.rise, 2),
            fall: self.setting(&tr.fall, 3),
            on_fail: match &tr.on_fail.value {
                OnFail::Fault => TrackAction::Fault(self.span(&tr.on_fail.span)),
                OnFail::Demote(w) => TrackAction::Demote(self.at(w)),
            },
            hosts: self.list(&tr.hosts),
        }
    }

    fn virtual_server(&self, name: &str, vs: &Sp<t::VirtualServer>) -> VirtualServer {
        let address = self.opt(&vs.address);
        let default_prefix = match &address {
            Some(a) if a.value.is_ipv6() => 128,
            _ => 32,
        };
        let vs_port = vs.port.as_ref().map_or(0, |p| p.value);
        VirtualServer {
            name: name.to_string(),
            span: self.span(&vs.span),
            router: self.at(&vs.router),
            address,
            port: self.opt(&vs.port),
            protocol: self.setting(&vs.protocol, t::Protocol::Tcp),
            fwmark: self.opt(&vs.fwmark),
            scheduler: self.setting(&vs.scheduler, t::Scheduler::Wlc),
            scheduler_flags: self.list(&vs.scheduler_flags),
            method: self.setting(&vs.method, t::Method::Dr),
            persistence: self.opt(&vs.persistence),
            persistence_prefix: self.setting(&vs.persistence_prefix, default_prefix),
            quorum: self.opt(&vs.quorum),
            hysteresis: self.opt(&vs.hysteresis),
            sorry_server: self.opt(&vs.sorry_server),
            on_fail: self.setting(&vs.on_fail, RealServerOnFail::Inhibit),
            only_on_master: self.opt(&vs.only_on_master),
            keep_on_stop: self.opt(&vs.keep_on_stop),
            health: vs.health.as_ref().map(|h| Health {
                span: self.span(&h.span),
                interval: self.setting(&h.interval, Duration::from_secs(5)),
                timeout: self.setting(&h.timeout, Duration::from_secs(3)),
                rise: self.setting(&h.rise, 2),
                fall: self.setting(&h.fall, 3),
                warmup: self.setting(&h.warmup, Duration::from_secs(0)),
                tcp: h.tcp.as_ref().map(|c| TcpCheck {
                    span: self.span(&c.span),
                    port: self.opt(&c.port),
                }),
                http: h.http.as_ref().map(|c| HttpCheck {
                    span: self.span(&c.span),
                    path: self.setting(&c.path, "/".to_string()),
                    port: self.opt(&c.port),
                    host: self.opt(&c.host),
                    status: self.setting(&c.status, "200-299".to_string()),
                    body_sha256: self.opt(&c.body_sha256),
                }),
                command: self.opt(&h.command),
            }),
            real_servers: vs
                .real_server
                .iter()
                .map(|rs| RealServer {
                    span: self.span(&rs.span),
                    address: self.at(&rs.address),
                    port: self.setting(&rs.port, vs_port),
                    weight: self.setting(&rs.weight, 1),
                    upper_threshold: self.opt(&rs.upper_threshold),
                    lower_threshold: self.opt(&rs.lower_threshold),
                })
                .collect(),
        }
    }
}

fn redefined(kind: ObjectKind, name: &str, first: &Span, again: Span) -> Conflict {
    Conflict {
        kind,
        name: name.to_string(),
        field: None,
        kept: At::new(name.to_string(), first.clone()),
        other: At::new(name.to_string(), again),
    }
}

fn join<T: Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_tracker(t: &Tracker) -> String {
    format!(
        "interface {:?}, command {:?}, on_fail {}, hosts {:?}",
        t.interface.as_ref().map(|i| &i.value),
        t.command.as_ref().map(|c| &c.value),
        match &t.on_fail {
            TrackAction::Fault(_) => "fault".to_string(),
            TrackAction::Demote(w) => format!("demote {}", w.value),
        },
        t.hosts.iter().map(|h| &h.value).collect::<Vec<_>>()
    )
}

/// Records router field conflicts.
struct Merger<'a> {
    name: &'a str,
    conflicts: &'a mut Vec<Conflict>,
}

impl Merger<'_> {
    fn push(&mut self, field: &str, kept: At<String>, other: At<String>) {
        self.conflicts.push(Conflict {
            kind: ObjectKind::Router,
            name: self.name.to_string(),
            field: Some(field.to_string()),
            kept,
            other,
        });
    }

    fn same<T: PartialEq + Display>(&mut self, field: &str, kept: &At<T>, other: &At<T>) {
        if kept.value != other.value {
            self.push(
                field,
                At::new(kept.value.to_string(), kept.span.clone()),
                At::new(other.value.to_string(), other.span.clone()),
            );
        }
    }

    /// Both stated → must agree; only the new one stated → adopt it.
    fn setting<T: PartialEq + Display>(
        &mut self,
        field: &str,
        kept: &mut Setting<T>,
        other: Setting<T>,
    ) {
        self.setting_with(field, kept, other, |v| v.to_string());
    }

    fn setting_dbg<T: PartialEq + std::fmt::Debug>(
        &mut self,
        field: &str,
        kept: &mut Setting<T>,
        other: Setting<T>,
    ) {
        self.setting_with(field, kept, other, |v| format!("{v:?}").to_lowercase());
    }

    fn setting_with<T: PartialEq>(
        &mut self,
        field: &str,
        kept: &mut Setting<T>,
        other: Setting<T>,
        show: impl Fn(&T) -> String,
    ) {
        match (&kept.span, other.span) {
            (None, Some(span)) => *kept = Setting::explicit(other.value, span),
            (Some(kept_span), Some(span)) if kept.value != other.value => {
                let kept_at = At::new(show(&kept.value), kept_span.clone());
                self.push(field, kept_at, At::new(show(&other.value), span));
            }
            _ => {}
        }
    }

    fn option<T: PartialEq + Display>(
        &mut self,
        field: &str,
        kept: &mut Option<At<T>>,
        other: Option<At<T>>,
    ) {
        match (kept.as_ref(), other) {
            (None, other) => *kept = other,
            (Some(k), Some(o)) => self.same(field, k, &o),
            _ => {}
        }
    }
}
