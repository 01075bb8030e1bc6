//! The resolved cluster → topology TOML (`vigil import`).
//!
//! Written by hand, in the order and style of the examples: one table per
//! object, values only where they were stated (a default that keepalived
//! and Vigil share is left out). What the importer could not carry over is
//! listed first, as comments naming the keepalived.conf line.

use std::fmt::Write;

use vigil_schema::topology::{
    AuthKind, InitialState, Method, Preempt, Protocol, RealServerOnFail, Scheduler, SchedulerFlag,
};
use vigil_schema::units::Duration;

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::*;
use crate::source::{SourceMap, printable};

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A key: bare when it may be, quoted otherwise.
pub fn key(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        s.to_string()
    } else {
        quote(s)
    }
}

fn list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    let words: Vec<String> = items.into_iter().map(|i| quote(&i.to_string())).collect();
    format!("[{}]", words.join(", "))
}

fn words(w: &[String]) -> String {
    list(w.iter())
}

fn dur(d: Duration) -> String {
    quote(&d.to_string())
}

fn lower<T: std::fmt::Debug>(v: &T) -> String {
    format!("{v:?}").to_lowercase()
}

/// The topology TOML of a cluster read from keepalived.conf files.
pub fn topology_toml(cluster: &Cluster, diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Imported from keepalived.conf by `vigil import`.");
    let files: Vec<String> = sources
        .files()
        .map(|(_, f)| printable(&f.name).into_owned())
        .collect();
    for f in &files {
        let _ = writeln!(o, "#   {f}");
    }
    let not_carried: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Info && d.code.starts_with("V001"))
        .collect();
    if !not_carried.is_empty() {
        let _ = writeln!(o, "#\n# Not carried over (no equivalent in the topology):");
        for d in not_carried {
            let file = sources.file(d.primary.span.file);
            let at = file.line_col(d.primary.span.range.start);
            let _ = writeln!(
                o,
                "#   {}:{}:{}: {}",
                printable(&file.name),
                at.line,
                at.column,
                printable(&d.message).replace('\n', " ")
            );
        }
    }
    let findings: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Info)
        .collect();
    if !findings.is_empty() {
        let _ = writeln!(
            o,
            "#\n# Findings in the keepalived.conf files (where hosts disagree, the first host's\n# value is the one below; `vigil check` on this file reports what remains):"
        );
        for d in findings {
            let file = sources.file(d.primary.span.file);
            let at = file.line_col(d.primary.span.range.start);
            let _ = writeln!(
                o,
                "#   {}:{}:{}: {} {}: {}",
                printable(&file.name),
                at.line,
                at.column,
                d.severity,
                d.code,
                printable(&d.message).replace('\n', " ")
            );
        }
    }
    let _ = writeln!(o);
    if let Some(name) = &cluster.name {
        let _ = writeln!(o, "[cluster]\nname = {}", quote(name));
        if let Some(d) = &cluster.startup_delay {
            let _ = writeln!(o, "startup_delay = {}", dur(d.value));
        }
        let _ = writeln!(o);
    }
    for (name, s) in &cluster.segments {
        let _ = writeln!(o, "[segment.{}]", key(name));
        let _ = writeln!(o, "subnets = {}", list(s.subnets.iter().map(|c| c.value)));
        if !s.reference_ips.is_empty() {
            let _ = writeln!(
                o,
                "reference_ips = {}",
                list(s.reference_ips.iter().map(|c| c.value))
            );
        }
        let _ = writeln!(o);
    }
    for (hname, h) in &cluster.hosts {
        if h.interfaces.is_empty() {
            let _ = writeln!(o, "[host.{}]\n", key(hname));
        }
        for (iname, i) in &h.interfaces {
            let _ = writeln!(o, "[host.{}.interface.{}]", key(hname), key(iname));
            let _ = writeln!(o, "segment = {}", quote(&i.segment));
            if !i.addresses.is_empty() {
                let _ = writeln!(
                    o,
                    "addresses = {}",
                    list(i.addresses.iter().map(|a| a.value))
                );
            }
            let _ = writeln!(o);
        }
    }
    for (rname, r) in &cluster.routers {
        router(&mut o, rname, r);
    }
    for (gname, g) in &cluster.sync_groups {
        let _ = writeln!(o, "[sync_group.{}]", key(gname));
        let _ = writeln!(
            o,
            "routers = {}\n",
            list(g.routers.iter().map(|r| r.value.clone()))
        );
    }
    for (vname, vs) in &cluster.virtual_servers {
        virtual_server(&mut o, vname, vs);
    }
    o
}

fn router(o: &mut String, rname: &str, r: &Router) {
    let t = format!("router.{}", key(rname));
    let _ = writeln!(o, "[{t}]");
    let _ = writeln!(o, "segment = {}", quote(&r.segment));
    let _ = writeln!(o, "vrid = {}", r.vrid.value);
    if r.version.value != 3 {
        let _ = writeln!(o, "version = {}", r.version.value);
    }
    if r.advert_interval.value != Duration::from_secs(1) {
        let _ = writeln!(o, "advert_interval = {}", dur(r.advert_interval.value));
    }
    let _ = writeln!(o, "vips = {}", list(r.vips.iter().map(|v| v.value)));
    if r.preempt.value == Preempt::Never {
        let _ = writeln!(o, "preempt = \"never\"");
    }
    if let Some(d) = &r.preempt_delay {
        let _ = writeln!(o, "preempt_delay = {}", dur(d.value));
    }
    if !r.accept.value {
        let _ = writeln!(o, "accept = false");
    }
    if r.unicast.value {
        let _ = writeln!(o, "unicast = true");
    }
    if let Some(reason) = &r.accept_split_brain {
        let _ = writeln!(o, "accept_split_brain = {}", quote(reason));
    }
    if let Some(a) = &r.auth {
        let kind = match a.kind.value {
            AuthKind::Pass => "pass",
        };
        let _ = writeln!(
            o,
            "auth = {{ type = \"{kind}\", password = {} }}",
            quote(&a.password)
        );
    }
    let _ = writeln!(o);
    if let Some(a) = &r.arbitration {
        let _ = writeln!(o, "[{t}.arbitration]");
        if !a.reference_ips.is_empty() {
            let _ = writeln!(
                o,
                "reference_ips = {}",
                list(a.reference_ips.iter().map(|i| i.value))
            );
        }
        if a.interval.is_explicit() {
            let _ = writeln!(o, "interval = {}", dur(a.interval.value));
        }
        if a.timeout.is_explicit() {
            let _ = writeln!(o, "timeout = {}", dur(a.timeout.value));
        }
        if a.attempts.is_explicit() {
            let _ = writeln!(o, "attempts = {}", a.attempts.value);
        }
        let _ = writeln!(o);
    }
    let g = &r.garp;
    if g.repeat.is_explicit() || g.interval.is_explicit() || g.refresh.is_some() {
        let _ = writeln!(o, "[{t}.garp]");
        if g.repeat.is_explicit() {
            let _ = writeln!(o, "repeat = {}", g.repeat.value);
        }
        if g.interval.is_explicit() {
            let _ = writeln!(o, "interval = {}", dur(g.interval.value));
        }
        if let Some(x) = &g.refresh {
            let _ = writeln!(o, "refresh = {}", dur(x.value));
        }
        let _ = writeln!(o);
    }
    let n = &r.notify;
    let hooks = [
        ("master", &n.master),
        ("backup", &n.backup),
        ("fault", &n.fault),
        ("stop", &n.stop),
        ("any", &n.any),
    ];
    if hooks.iter().any(|(_, h)| h.is_some()) {
        let _ = writeln!(o, "[{t}.notify]");
        for (k, h) in hooks {
            if let Some(h) = h {
                let _ = writeln!(o, "{k} = {}", words(&h.value));
            }
        }
        let _ = writeln!(o);
    }
    for (host, m) in &r.members {
        let _ = writeln!(o, "[{t}.member.{}]", key(host));
        let _ = writeln!(o, "priority = {}", m.priority.value);
        if let Some(i) = &m.interface {
            let _ = writeln!(o, "interface = {}", quote(i));
        }
        if let Some(s) = &m.initial_state {
            let s = match s.value {
                InitialState::Master => "master",
                InitialState::Backup => "backup",
            };
            let _ = writeln!(o, "initial_state = \"{s}\"");
        }
        let _ = writeln!(o);
    }
    for (tname, tr) in &r.trackers {
        let _ = writeln!(o, "[{t}.track.{}]", key(tname));
        if let Some(i) = &tr.interface {
            let _ = writeln!(o, "interface = {}", quote(i));
        }
        if let Some(c) = &tr.command {
            let _ = writeln!(o, "command = {}", words(&c.value));
        }
        if tr.interval.is_explicit() {
            let _ = writeln!(o, "interval = {}", dur(tr.interval.value));
        }
        if tr.timeout.is_explicit() {
            let _ = writeln!(o, "timeout = {}", dur(tr.timeout.value));
        }
        if tr.rise.is_explicit() {
            let _ = writeln!(o, "rise = {}", tr.rise.value);
        }
        if tr.fall.is_explicit() {
            let _ = writeln!(o, "fall = {}", tr.fall.value);
        }
        match &tr.on_fail {
            TrackAction::Fault(_) => {
                let _ = writeln!(o, "on_fail = \"fault\"");
            }
            TrackAction::Demote(w) => {
                let _ = writeln!(o, "on_fail = {{ demote = {} }}", w.value);
            }
        }
        if !tr.hosts.is_empty() {
            let _ = writeln!(
                o,
                "hosts = {}",
                list(tr.hosts.iter().map(|h| h.value.clone()))
            );
        }
        let _ = writeln!(o);
    }
}

fn virtual_server(o: &mut String, vname: &str, vs: &VirtualServer) {
    let t = format!("virtual_server.{}", key(vname));
    let _ = writeln!(o, "[{t}]");
    let _ = writeln!(o, "router = {}", quote(&vs.router));
    if let Some(a) = &vs.address {
        let _ = writeln!(o, "address = {}", quote(&a.value.to_string()));
    }
    if let Some(p) = &vs.port {
        let _ = writeln!(o, "port = {}", p.value);
    }
    if vs.protocol.is_explicit() {
        let p = match vs.protocol.value {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        };
        let _ = writeln!(o, "protocol = \"{p}\"");
    }
    if let Some(m) = &vs.fwmark {
        let _ = writeln!(o, "fwmark = {}", m.value);
    }
    if vs.scheduler.is_explicit() {
        let s: Scheduler = vs.scheduler.value;
        let _ = writeln!(o, "scheduler = {}", quote(&lower(&s)));
    }
    if !vs.scheduler_flags.is_empty() {
        let flags = vs.scheduler_flags.iter().map(|f| match f.value {
            SchedulerFlag::ShFallback => "sh-fallback",
            SchedulerFlag::ShPort => "sh-port",
            SchedulerFlag::MhFallback => "mh-fallback",
            SchedulerFlag::MhPort => "mh-port",
        });
        let _ = writeln!(o, "scheduler_flags = {}", list(flags));
    }
    if vs.method.is_explicit() {
        let m = match vs.method.value {
            Method::Dr => "dr",
            Method::Nat => "nat",
            Method::Tun => "tun",
        };
        let _ = writeln!(o, "method = \"{m}\"");
    }
    if let Some(p) = &vs.persistence {
        let _ = writeln!(o, "persistence = {}", dur(p.value));
    }
    if vs.persistence_prefix.is_explicit() {
        let _ = writeln!(o, "persistence_prefix = {}", vs.persistence_prefix.value);
    }
    if let Some(q) = &vs.quorum {
        let _ = writeln!(o, "quorum = {}", q.value);
    }
    if let Some(h) = &vs.hysteresis {
        let _ = writeln!(o, "hysteresis = {}", h.value);
    }
    if let Some(s) = &vs.sorry_server {
        let _ = writeln!(o, "sorry_server = {}", quote(&s.value.to_string()));
    }
    if vs.on_fail.is_explicit() {
        let f = match vs.on_fail.value {
            RealServerOnFail::Inhibit => "inhibit",
            RealServerOnFail::Remove => "remove",
        };
        let _ = writeln!(o, "on_fail = \"{f}\"");
    }
    let _ = writeln!(o);
    if let Some(h) = &vs.health {
        let _ = writeln!(o, "[{t}.health]");
        if h.interval.is_explicit() {
            let _ = writeln!(o, "interval = {}", dur(h.interval.value));
        }
        if h.timeout.is_explicit() {
            let _ = writeln!(o, "timeout = {}", dur(h.timeout.value));
        }
        if h.fall.is_explicit() {
            let _ = writeln!(o, "fall = {}", h.fall.value);
        }
        if let Some(tcp) = &h.tcp {
            match &tcp.port {
                Some(p) => {
                    let _ = writeln!(o, "tcp = {{ port = {} }}", p.value);
                }
                None => {
                    let _ = writeln!(o, "tcp = {{}}");
                }
            }
        }
        if let Some(http) = &h.http {
            let mut parts = Vec::new();
            if http.path.is_explicit() {
                parts.push(format!("path = {}", quote(&http.path.value)));
            }
            if let Some(p) = &http.port {
                parts.push(format!("port = {}", p.value));
            }
            if let Some(host) = &http.host {
                parts.push(format!("host = {}", quote(host)));
            }
            if http.status.is_explicit() {
                parts.push(format!("status = {}", quote(&http.status.value)));
            }
            let _ = writeln!(o, "http = {{ {} }}", parts.join(", "));
        }
        if let Some(c) = &h.command {
            let _ = writeln!(o, "command = {}", words(&c.value));
        }
        let _ = writeln!(o);
    }
    for rs in &vs.real_servers {
        let _ = writeln!(o, "[[{t}.real_server]]");
        let _ = writeln!(o, "address = {}", quote(&rs.address.value.to_string()));
        if rs.port.is_explicit() {
            let _ = writeln!(o, "port = {}", rs.port.value);
        }
        if rs.weight.is_explicit() {
            let _ = writeln!(o, "weight = {}", rs.weight.value);
        }
        if let Some(u) = &rs.upper_threshold {
            let _ = writeln!(o, "upper_threshold = {}", u.value);
        }
        if let Some(l) = &rs.lower_threshold {
            let _ = writeln!(o, "lower_threshold = {}", l.value);
        }
        let _ = writeln!(o);
    }
}
