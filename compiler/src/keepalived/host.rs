//! One host's keepalived.conf, read: its instances, scripts, sync groups
//! and virtual servers, every value with its span (`HostConf`). Values
//! of the wrong form and constructs without an equivalent are reported
//! here; the fleet step ([`super::fleet`]) joins the hosts.

use std::collections::BTreeMap;
use std::net::IpAddr;

use vigil_schema::topology::{self as t, InitialState};
use vigil_schema::units::{Cidr, Duration};

use super::fleet::HostSource;
use super::parse::{Node, ReadError, Word, read_path};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceMap, Span};

#[derive(Clone, Debug)]
pub(super) struct V<T> {
    pub(super) value: T,
    pub(super) span: Span,
}

pub(super) fn v<T>(value: T, span: Span) -> V<T> {
    V { value, span }
}

#[derive(Clone, Debug, Default)]
pub(super) struct Script {
    pub(super) command: Option<V<Vec<String>>>,
    pub(super) interval: Option<V<Duration>>,
    pub(super) timeout: Option<V<Duration>>,
    pub(super) rise: Option<V<i64>>,
    pub(super) fall: Option<V<i64>>,
    pub(super) weight: Option<V<i64>>,
}

#[derive(Clone, Debug)]
pub(super) struct Vip {
    pub(super) cidr: V<Cidr>,
    /// Whether the prefix was written (`/24`), so it says what the subnet is.
    pub(super) has_prefix: bool,
    pub(super) dev: Option<Word>,
    pub(super) label: Option<Word>,
}

#[derive(Clone, Debug)]
pub(super) struct Instance {
    pub(super) host: String,
    pub(super) name: Word,
    pub(super) state: Option<V<InitialState>>,
    pub(super) interface: Option<Word>,
    pub(super) vrid: Option<V<i64>>,
    pub(super) priority: Option<V<i64>>,
    pub(super) advert: Option<V<Duration>>,
    pub(super) version: Option<V<i64>>,
    pub(super) nopreempt: Option<Span>,
    pub(super) preempt_delay: Option<V<Duration>>,
    pub(super) accept: Option<V<bool>>,
    pub(super) auth: Option<(Span, V<String>)>,
    pub(super) vips: Vec<Vip>,
    pub(super) vips_span: Option<Span>,
    pub(super) src: Option<V<IpAddr>>,
    pub(super) peers: Vec<V<IpAddr>>,
    pub(super) peers_span: Option<Span>,
    pub(super) track_if: Vec<(V<String>, Option<i64>)>,
    pub(super) track_scripts: Vec<(V<String>, Option<V<i64>>)>,
    pub(super) notify: [Option<V<Vec<String>>>; 5],
    pub(super) garp_repeat: Option<V<i64>>,
    pub(super) garp_refresh: Option<V<Duration>>,
}

#[derive(Clone, Debug)]
pub(super) struct HostConf {
    pub(super) name: String,
    pub(super) files: Vec<FileId>,
    pub(super) main: FileId,
    pub(super) startup_delay: Option<V<Duration>>,
    pub(super) default_version: Option<V<i64>>,
    pub(super) cluster_marker: Option<String>,
    pub(super) scripts: BTreeMap<String, (Span, Script)>,
    pub(super) instances: Vec<Instance>,
    pub(super) sync_groups: Vec<(Word, Vec<Word>)>,
    pub(super) virtual_servers: Vec<VsConf>,
}

#[derive(Clone, Debug)]
pub(super) struct VsConf {
    pub(super) span: Span,
    pub(super) address: Option<V<IpAddr>>,
    pub(super) port: Option<V<i64>>,
    pub(super) fwmark: Option<V<i64>>,
    pub(super) delay_loop: Option<V<Duration>>,
    pub(super) scheduler: Option<V<t::Scheduler>>,
    pub(super) flags: Vec<V<t::SchedulerFlag>>,
    pub(super) method: Option<V<t::Method>>,
    pub(super) protocol: Option<V<t::Protocol>>,
    pub(super) persistence: Option<V<Duration>>,
    pub(super) granularity: Option<V<i64>>,
    pub(super) quorum: Option<V<i64>>,
    pub(super) hysteresis: Option<V<i64>>,
    pub(super) sorry: Option<V<std::net::SocketAddr>>,
    pub(super) real: Vec<RsConf>,
}

impl VsConf {
    /// Everything but the spans, to tell two directors' copies apart.
    pub(super) fn signature(&self) -> String {
        fn val<T: std::fmt::Debug>(x: &Option<V<T>>) -> String {
            format!("{:?}", x.as_ref().map(|v| &v.value))
        }
        let mut out = [
            val(&self.delay_loop),
            val(&self.scheduler),
            format!(
                "{:?}",
                self.flags.iter().map(|f| f.value).collect::<Vec<_>>()
            ),
            val(&self.method),
            val(&self.protocol),
            val(&self.persistence),
            val(&self.granularity),
            val(&self.quorum),
            val(&self.hysteresis),
            val(&self.sorry),
        ]
        .join(" ");
        for r in &self.real {
            out.push_str(&format!(
                " | {} {} {} {} {} {}",
                r.address.value,
                val(&r.port),
                val(&r.weight),
                r.inhibit.is_some(),
                val(&r.uthreshold),
                val(&r.lthreshold)
            ));
            if let Some(c) = &r.check {
                let kind = match &c.kind {
                    CheckKind::Tcp => "tcp".to_string(),
                    CheckKind::Http { path, status, host } => {
                        format!("http {} {} {}", val(path), val(status), val(host))
                    }
                    CheckKind::Command(cmd) => format!("command {:?}", cmd.value),
                };
                out.push_str(&format!(
                    " {kind} {} {} {}",
                    val(&c.port),
                    val(&c.timeout),
                    val(&c.retry)
                ));
            }
        }
        out
    }
}

#[derive(Clone, Debug)]
pub(super) struct RsConf {
    pub(super) span: Span,
    pub(super) address: V<IpAddr>,
    pub(super) port: Option<V<i64>>,
    pub(super) weight: Option<V<i64>>,
    pub(super) inhibit: Option<Span>,
    pub(super) uthreshold: Option<V<i64>>,
    pub(super) lthreshold: Option<V<i64>>,
    pub(super) check: Option<CheckConf>,
}

#[derive(Clone, Debug)]
pub(super) struct CheckConf {
    pub(super) span: Span,
    pub(super) kind: CheckKind,
    pub(super) port: Option<V<i64>>,
    pub(super) timeout: Option<V<Duration>>,
    pub(super) retry: Option<V<i64>>,
}

#[derive(Clone, Debug)]
pub(super) enum CheckKind {
    Tcp,
    Http {
        path: Option<V<String>>,
        status: Option<V<String>>,
        host: Option<V<String>>,
    },
    Command(V<Vec<String>>),
}

/// Collects diagnostics for one host; unsupported keywords once each.
pub(super) struct Cx<'a> {
    pub(super) diags: &'a mut Vec<Diagnostic>,
    pub(super) unsupported: BTreeMap<String, (Span, usize, String)>,
}

impl Cx<'_> {
    fn bad(&mut self, span: &Span, message: impl Into<String>, help: &str) {
        self.diags.push(
            ReadError::Value
                .at(span.clone(), message)
                .label("this value")
                .help(help.to_string()),
        );
    }

    /// A construct with no equivalent; reported once per keyword and host.
    fn unsupported(&mut self, node: &Node, why: &str) {
        let key = node.key.text.clone();
        self.unsupported
            .entry(key)
            .and_modify(|e| e.1 += 1)
            .or_insert((node.span(), 1, why.to_string()));
    }

    fn flush(&mut self, host: &str) {
        for (key, (span, count, why)) in std::mem::take(&mut self.unsupported) {
            let more = if count > 1 {
                format!(" ({} more in this host's files)", count - 1)
            } else {
                String::new()
            };
            self.diags.push(
                ReadError::Unsupported
                    .at(
                        span,
                        format!("`{key}` on host `{host}` has no equivalent in the topology{more}"),
                    )
                    .label("not modelled")
                    .help(why.to_string()),
            );
        }
    }

    fn int(&mut self, node: &Node, min: i64, max: i64) -> Option<V<i64>> {
        let Some(w) = node.arg(0) else {
            self.bad(
                &node.span(),
                format!("`{}` needs a number", node.key.text),
                "write e.g. `priority 100`",
            );
            return None;
        };
        match w.text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(v(n, w.span.clone())),
            _ => {
                self.bad(
                    &w.span,
                    format!(
                        "`{}` takes a whole number from {min} to {max}, not `{}`",
                        node.key.text, w.text
                    ),
                    "keepalived ignores the line and uses its default",
                );
                None
            }
        }
    }

    /// Seconds as keepalived writes them: `1`, `0.5`, `2.25`.
    fn secs(&mut self, node: &Node) -> Option<V<Duration>> {
        let Some(w) = node.arg(0) else {
            self.bad(
                &node.span(),
                format!("`{}` needs a number of seconds", node.key.text),
                "write e.g. `advert_int 1`",
            );
            return None;
        };
        match seconds(&w.text) {
            Some(d) => Some(v(d, w.span.clone())),
            None => {
                self.bad(
                    &w.span,
                    format!(
                        "`{}` takes seconds (e.g. `1` or `0.5`), not `{}`",
                        node.key.text, w.text
                    ),
                    "keepalived ignores the line and uses its default",
                );
                None
            }
        }
    }

    fn addr(&mut self, w: &Word) -> Option<V<IpAddr>> {
        match w.text.parse::<IpAddr>() {
            Ok(a) => Some(v(a, w.span.clone())),
            Err(_) => {
                self.bad(
                    &w.span,
                    format!("`{}` is not an IP address", w.text),
                    "write an IPv4 or IPv6 address",
                );
                None
            }
        }
    }

    fn command(&mut self, node: &Node) -> Option<V<Vec<String>>> {
        let first = node.arg(0)?;
        let last = node.args.last().unwrap_or(first);
        let text: Vec<&str> = node.args.iter().map(|a| a.text.as_str()).collect();
        let words = shell_words(&text.join(" "));
        if words.is_empty() {
            self.bad(
                &first.span,
                format!("`{}` has an empty command", node.key.text),
                "name a program",
            );
            return None;
        }
        let span = if last.span.file == first.span.file {
            Span::new(first.span.file, first.span.range.start..last.span.range.end)
        } else {
            first.span.clone()
        };
        Some(v(words, span))
    }
}

/// `1`, `0.5`, `2.250` → a duration in milliseconds.
pub fn seconds(text: &str) -> Option<Duration> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if whole.len() > 9 {
        return None;
    }
    let w: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut ms = 0u64;
    for (i, b) in frac.bytes().take(3).enumerate() {
        ms += u64::from(b - b'0') * [100, 10, 1][i];
    }
    Some(Duration::from_millis(w * 1000 + ms))
}

/// Splits a command line like a POSIX shell would for simple cases: words
/// by blanks, `'...'` and `"..."` quoting, `\` escapes.
pub fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

pub(super) const IGNORED_GLOBAL: &[&str] = &["router_id", "enable_script_security", "script_user"];

pub(super) fn read_host(
    src: &HostSource,
    sources: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> HostConf {
    let parsed = read_path(&src.path, sources, diags);
    let main = parsed.files.first().copied().unwrap_or(FileId(0));
    let cluster_marker = sources
        .file(main)
        .text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# Generated by vigil "))
        .and_then(|l| l.split(" of cluster ").nth(1))
        .map(|c| c.trim_end_matches('.').to_string());
    let mut host = HostConf {
        name: src.host.clone(),
        files: parsed.files.clone(),
        main,
        startup_delay: None,
        default_version: None,
        cluster_marker,
        scripts: BTreeMap::new(),
        instances: Vec::new(),
        sync_groups: Vec::new(),
        virtual_servers: Vec::new(),
    };
    let mut cx = Cx {
        diags,
        unsupported: BTreeMap::new(),
    };
    for node in &parsed.nodes {
        match node.key.text.as_str() {
            "global_defs" => {
                for n in node.children() {
                    match n.key.text.as_str() {
                        k if IGNORED_GLOBAL.contains(&k) => {}
                        "vrrp_startup_delay" => host.startup_delay = cx.secs(n),
                        "vrrp_version" => host.default_version = cx.int(n, 2, 3),
                        _ => cx.unsupported(n, "global settings other than vrrp_startup_delay and vrrp_version are not part of the topology; vigild has its own logging and notification"),
                    }
                }
            }
            "vrrp_script" => {
                let Some(name) = node.arg(0) else {
                    cx.bad(&node.span(), "`vrrp_script` without a name", "write `vrrp_script NAME { ... }`");
                    continue;
                };
                let mut s = Script::default();
                for n in node.children() {
                    match n.key.text.as_str() {
                        "script" => s.command = cx.command(n),
                        "interval" => s.interval = cx.secs(n),
                        "timeout" => s.timeout = cx.secs(n),
                        "rise" => s.rise = cx.int(n, 1, 1_000_000),
                        "fall" => s.fall = cx.int(n, 1, 1_000_000),
                        "weight" => s.weight = cx.int(n, -253, 253),
                        _ => cx.unsupported(n, "a tracker has a command, interval, timeout, rise, fall and weight only"),
                    }
                }
                host.scripts.insert(name.text.clone(), (node.key.span.clone(), s));
            }
            "vrrp_instance" => {
                if let Some(i) = instance(&mut cx, &src.host, node) {
                    host.instances.push(i);
                }
            }
            "vrrp_sync_group" => {
                let Some(name) = node.arg(0) else {
                    cx.bad(&node.span(), "`vrrp_sync_group` without a name", "write `vrrp_sync_group NAME { group { ... } }`");
                    continue;
                };
                let mut members = Vec::new();
                for n in node.children() {
                    match n.key.text.as_str() {
                        "group" => members.extend(n.children().iter().map(|c| c.key.clone()).chain(n.children().iter().flat_map(|c| c.args.clone()))),
                        _ => cx.unsupported(n, "sync groups list their routers only; notify scripts and tracking belong to the routers"),
                    }
                }
                host.sync_groups.push((name.clone(), members));
            }
            "virtual_server" => {
                if let Some(vs) = virtual_server(&mut cx, node) {
                    host.virtual_servers.push(vs);
                }
            }
            _ => cx.unsupported(node, "Vigil models VRRP instances, their scripts and sync groups, and LVS virtual servers; this block is left out"),
        }
    }
    cx.flush(&src.host);
    host
}

fn instance(cx: &mut Cx, host: &str, node: &Node) -> Option<Instance> {
    let Some(name) = node.arg(0) else {
        cx.bad(
            &node.span(),
            "`vrrp_instance` without a name",
            "write `vrrp_instance NAME { ... }`",
        );
        return None;
    };
    let mut i = Instance {
        host: host.to_string(),
        name: name.clone(),
        state: None,
        interface: None,
        vrid: None,
        priority: None,
        advert: None,
        version: None,
        nopreempt: None,
        preempt_delay: None,
        accept: None,
        auth: None,
        vips: Vec::new(),
        vips_span: None,
        src: None,
        peers: Vec::new(),
        peers_span: None,
        track_if: Vec::new(),
        track_scripts: Vec::new(),
        notify: Default::default(),
        garp_repeat: None,
        garp_refresh: None,
    };
    for n in node.children() {
        match n.key.text.as_str() {
            "state" => match n.arg(0).map(|w| (w.text.to_ascii_uppercase(), w)) {
                Some((s, w)) if s == "MASTER" => {
                    i.state = Some(v(InitialState::Master, w.span.clone()))
                }
                Some((s, w)) if s == "BACKUP" => {
                    i.state = Some(v(InitialState::Backup, w.span.clone()))
                }
                _ => cx.bad(
                    &n.span(),
                    "`state` takes MASTER or BACKUP",
                    "write `state BACKUP`",
                ),
            },
            "interface" => i.interface = n.arg(0).cloned(),
            "virtual_router_id" => i.vrid = cx.int(n, 1, 255),
            "priority" => i.priority = cx.int(n, 1, 255),
            "advert_int" => i.advert = cx.secs(n),
            "version" => i.version = cx.int(n, 2, 3),
            "nopreempt" => i.nopreempt = Some(n.key.span.clone()),
            "preempt" => {}
            "preempt_delay" => i.preempt_delay = cx.secs(n),
            "accept" => i.accept = Some(v(true, n.key.span.clone())),
            "no_accept" => i.accept = Some(v(false, n.key.span.clone())),
            "authentication" => {
                let mut pass = None;
                for a in n.children() {
                    match (a.key.text.as_str(), a.arg(0)) {
                        ("auth_type", Some(w)) if w.text.eq_ignore_ascii_case("PASS") => {}
                        ("auth_type", _) => cx.unsupported(a, "only simple-password authentication (auth_type PASS) is modelled; AH is deprecated by RFC 3768 and unsupported by VRRPv3"),
                        ("auth_pass", Some(w)) => pass = Some(v(w.text.clone(), w.span.clone())),
                        _ => cx.unsupported(a, "authentication has auth_type and auth_pass only"),
                    }
                }
                if let Some(p) = pass {
                    i.auth = Some((n.key.span.clone(), p));
                }
            }
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                if n.key.text == "virtual_ipaddress_excluded" {
                    cx.unsupported(n, "excluded addresses are not sent in adverts; Vigil treats them as ordinary VIPs");
                }
                i.vips_span.get_or_insert_with(|| n.key.span.clone());
                for a in n.children() {
                    if let Some(vip) = vip(cx, a) {
                        i.vips.push(vip);
                    }
                }
            }
            "unicast_src_ip" | "mcast_src_ip" => i.src = n.arg(0).and_then(|w| cx.addr(w)),
            "unicast_peer" => {
                i.peers_span = Some(n.key.span.clone());
                for a in n.children() {
                    if a.args.iter().any(|w| {
                        w.text != "min_ttl" && w.text != "max_ttl" && w.text.parse::<i64>().is_err()
                    }) {
                        cx.unsupported(a, "per-peer options are not modelled");
                    }
                    if let Some(p) = cx.addr(&a.key) {
                        i.peers.push(p);
                    }
                }
            }
            "track_interface" => {
                for a in n.children() {
                    let weight = match (a.arg(0), a.arg(1)) {
                        (Some(k), Some(w)) if k.text == "weight" => w.text.parse::<i64>().ok(),
                        _ => None,
                    };
                    i.track_if
                        .push((v(a.key.text.clone(), a.key.span.clone()), weight));
                }
            }
            "track_script" => {
                for a in n.children() {
                    let weight = match (a.arg(0), a.arg(1)) {
                        (Some(k), Some(w)) if k.text == "weight" => match w.text.parse::<i64>() {
                            Ok(x) => Some(v(x, w.span.clone())),
                            Err(_) => {
                                cx.bad(
                                    &w.span,
                                    format!("weight `{}` is not a number", w.text),
                                    "write `weight -20`",
                                );
                                None
                            }
                        },
                        _ => None,
                    };
                    i.track_scripts
                        .push((v(a.key.text.clone(), a.key.span.clone()), weight));
                }
            }
            "notify_master" => i.notify[0] = cx.command(n),
            "notify_backup" => i.notify[1] = cx.command(n),
            "notify_fault" => i.notify[2] = cx.command(n),
            "notify_stop" => i.notify[3] = cx.command(n),
            "notify" => i.notify[4] = cx.command(n),
            "garp_master_repeat" => i.garp_repeat = cx.int(n, 0, 1_000_000),
            "garp_master_refresh" => i.garp_refresh = cx.secs(n),
            _ => cx.unsupported(
                n,
                "this vrrp_instance setting has no equivalent in a Vigil router",
            ),
        }
    }
    // Vigil puts every VIP on the router's interface, labelled
    // `IFNAME:VRID` (IPv4): say so where a file asks for something else.
    let ifname = i.interface.as_ref().map(|w| w.text.clone());
    for vip in &i.vips {
        if let (Some(dev), Some(ifname)) = (&vip.dev, &ifname)
            && dev.text != *ifname
        {
            let node = synthetic("virtual_ipaddress … dev", dev);
            cx.unsupported(&node, "every VIP of a Vigil router is on the router's interface; a VIP on another interface needs a router of its own");
        }
        if let (Some(label), Some(ifname), Some(vrid)) = (&vip.label, &ifname, &i.vrid)
            && label.text != format!("{ifname}:{}", vrid.value)
        {
            let node = synthetic("virtual_ipaddress … label", label);
            cx.unsupported(&node, "Vigil labels IPv4 VIPs IFNAME:VRID itself");
        }
    }
    Some(i)
}

/// A statement standing for one word, to report it as a construct.
fn synthetic(key: &str, at: &Word) -> Node {
    Node {
        key: Word {
            text: key.to_string(),
            span: at.span.clone(),
        },
        args: Vec::new(),
        children: None,
    }
}

/// `ADDR[/LEN] [dev IF] [label L] [scope S] [brd B] ...`
fn vip(cx: &mut Cx, a: &Node) -> Option<Vip> {
    let text = &a.key.text;
    let (addr, prefix) = match text.split_once('/') {
        Some((ad, p)) => (ad, Some(p)),
        None => (text.as_str(), None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        cx.bad(
            &a.key.span,
            format!("`{text}` is not an address"),
            "write e.g. `10.0.0.100/24 dev eth0`",
        );
        return None;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match prefix.map(str::parse::<u8>) {
        None => max,
        Some(Ok(l)) if l <= max => l,
        Some(_) => {
            cx.bad(
                &a.key.span,
                format!("`{text}` has an invalid prefix length"),
                "the prefix is 0..=32 for IPv4, 0..=128 for IPv6",
            );
            return None;
        }
    };
    let mut k = 0;
    let mut dev = None;
    let mut label = None;
    while k < a.args.len() {
        let word = a.args[k].text.as_str();
        match word {
            "dev" => dev = a.args.get(k + 1).cloned(),
            "label" => label = a.args.get(k + 1).cloned(),
            _ => {
                let opt = synthetic(&format!("virtual_ipaddress … {word}"), &a.args[k]);
                cx.unsupported(&opt, "VIP options other than dev and label (scope, brd, no_track, ...) are not modelled");
            }
        }
        k += 2;
    }
    Some(Vip {
        cidr: v(Cidr::new(ip, len)?, a.key.span.clone()),
        has_prefix: prefix.is_some(),
        dev,
        label,
    })
}

fn virtual_server(cx: &mut Cx, node: &Node) -> Option<VsConf> {
    let mut vs = VsConf {
        span: node.span(),
        address: None,
        port: None,
        fwmark: None,
        delay_loop: None,
        scheduler: None,
        flags: Vec::new(),
        method: None,
        protocol: None,
        persistence: None,
        granularity: None,
        quorum: None,
        hysteresis: None,
        sorry: None,
        real: Vec::new(),
    };
    match (node.arg(0), node.arg(1)) {
        (Some(k), Some(m)) if k.text == "fwmark" => {
            vs.fwmark = m.text.parse().ok().map(|n| v(n, m.span.clone()));
        }
        (Some(k), _) if k.text == "group" => {
            cx.unsupported(
                node,
                "virtual_server_group has no equivalent; write one virtual server per address",
            );
            return None;
        }
        (Some(a), p) => {
            vs.address = cx.addr(a);
            vs.port = p.and_then(|p| p.text.parse().ok().map(|n| v(n, p.span.clone())));
        }
        _ => {
            cx.bad(
                &node.span(),
                "`virtual_server` without an address",
                "write `virtual_server 10.0.0.100 80 { ... }`",
            );
            return None;
        }
    }
    for n in node.children() {
        let word = n
            .arg(0)
            .map(|w| (w.text.to_ascii_lowercase(), w.span.clone()));
        match n.key.text.as_str() {
            "delay_loop" => vs.delay_loop = cx.secs(n),
            "lb_algo" | "lvs_sched" => match word
                .as_ref()
                .and_then(|(w, s)| scheduler(w).map(|x| v(x, s.clone())))
            {
                Some(s) => vs.scheduler = Some(s),
                None => cx.bad(
                    &n.span(),
                    "unknown scheduler",
                    "use rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh or twos",
                ),
            },
            "lb_kind" | "lvs_method" => match word.as_ref().map(|(w, s)| (w.as_str(), s)) {
                Some(("dr", s)) => vs.method = Some(v(t::Method::Dr, s.clone())),
                Some(("nat", s)) => vs.method = Some(v(t::Method::Nat, s.clone())),
                Some(("tun", s)) => vs.method = Some(v(t::Method::Tun, s.clone())),
                _ => cx.bad(
                    &n.span(),
                    "`lb_kind` takes DR, NAT or TUN",
                    "write `lb_kind DR`",
                ),
            },
            "protocol" => match word.as_ref().map(|(w, s)| (w.as_str(), s)) {
                Some(("tcp", s)) => vs.protocol = Some(v(t::Protocol::Tcp, s.clone())),
                Some(("udp", s)) => vs.protocol = Some(v(t::Protocol::Udp, s.clone())),
                Some(("sctp", s)) => vs.protocol = Some(v(t::Protocol::Sctp, s.clone())),
                _ => cx.bad(
                    &n.span(),
                    "`protocol` takes TCP, UDP or SCTP",
                    "write `protocol TCP`",
                ),
            },
            "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
                let f = match n.key.text.as_str() {
                    "sh-port" => t::SchedulerFlag::ShPort,
                    "sh-fallback" => t::SchedulerFlag::ShFallback,
                    "mh-port" => t::SchedulerFlag::MhPort,
                    _ => t::SchedulerFlag::MhFallback,
                };
                vs.flags.push(v(f, n.key.span.clone()));
            }
            "persistence_timeout" => vs.persistence = cx.secs(n),
            "persistence_granularity" => {
                if let Some(w) = n.arg(0) {
                    match netmask_len(&w.text) {
                        Some(l) => vs.granularity = Some(v(l, w.span.clone())),
                        None => cx.bad(
                            &w.span,
                            format!("`{}` is not a netmask", w.text),
                            "write e.g. `255.255.255.0`",
                        ),
                    }
                }
            }
            "quorum" => vs.quorum = cx.int(n, 0, i64::from(u32::MAX)),
            "hysteresis" => vs.hysteresis = cx.int(n, 0, i64::from(u32::MAX)),
            "sorry_server" => {
                if let (Some(a), Some(p)) = (n.arg(0), n.arg(1))
                    && let (Ok(a), Ok(p)) = (a.text.parse::<IpAddr>(), p.text.parse::<u16>())
                {
                    vs.sorry = Some(v(std::net::SocketAddr::new(a, p), n.span()));
                } else {
                    cx.bad(
                        &n.span(),
                        "`sorry_server` takes an address and a port",
                        "write `sorry_server 10.0.0.50 80`",
                    );
                }
            }
            "real_server" => {
                if let Some(rs) = real_server(cx, n) {
                    vs.real.push(rs);
                }
            }
            _ => cx.unsupported(
                n,
                "this virtual_server setting has no equivalent in a Vigil virtual server",
            ),
        }
    }
    Some(vs)
}

fn scheduler(w: &str) -> Option<t::Scheduler> {
    use t::Scheduler::*;
    Some(match w {
        "rr" => Rr,
        "wrr" => Wrr,
        "lc" => Lc,
        "wlc" => Wlc,
        "lblc" => Lblc,
        "lblcr" => Lblcr,
        "dh" => Dh,
        "sh" => Sh,
        "sed" => Sed,
        "nq" => Nq,
        "fo" => Fo,
        "ovf" => Ovf,
        "mh" => Mh,
        "twos" => Twos,
        _ => return None,
    })
}

/// `255.255.255.0` → 24; a bare prefix length (`24`, `64`) as it is.
fn netmask_len(text: &str) -> Option<i64> {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            let bits = u32::from(a);
            (bits.leading_ones() + bits.trailing_zeros() == 32)
                .then_some(i64::from(bits.leading_ones()))
        }
        Ok(IpAddr::V6(_)) => None,
        Err(_) => text.parse::<i64>().ok().filter(|n| (0..=128).contains(n)),
    }
}

fn real_server(cx: &mut Cx, node: &Node) -> Option<RsConf> {
    let address = cx.addr(node.arg(0)?)?;
    let mut rs = RsConf {
        span: node.span(),
        address,
        port: node
            .arg(1)
            .and_then(|p| p.text.parse().ok().map(|n| v(n, p.span.clone()))),
        weight: None,
        inhibit: None,
        uthreshold: None,
        lthreshold: None,
        check: None,
    };
    for n in node.children() {
        match n.key.text.as_str() {
            "weight" => rs.weight = cx.int(n, 0, i64::from(u32::MAX)),
            "inhibit_on_failure" => rs.inhibit = Some(n.key.span.clone()),
            "uthreshold" => rs.uthreshold = cx.int(n, 0, i64::from(u32::MAX)),
            "lthreshold" => rs.lthreshold = cx.int(n, 0, i64::from(u32::MAX)),
            "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "MISC_CHECK" => {
                if rs.check.is_some() {
                    cx.unsupported(n, "a Vigil virtual server has one health check; only the first check of a real server is kept");
                    continue;
                }
                rs.check = check(cx, n, &rs);
            }
            _ => cx.unsupported(
                n,
                "this real_server setting or check kind has no equivalent in Vigil",
            ),
        }
    }
    Some(rs)
}

fn check(cx: &mut Cx, node: &Node, rs: &RsConf) -> Option<CheckConf> {
    let mut c = CheckConf {
        span: node.key.span.clone(),
        kind: CheckKind::Tcp,
        port: None,
        timeout: None,
        retry: None,
    };
    let mut path = None;
    let mut status = None;
    let mut host = None;
    let mut command = None;
    if node.key.text == "SSL_GET" {
        cx.unsupported(
            node,
            "SSL_GET is checked as HTTP_GET: Vigil's HTTP check does not speak TLS",
        );
    }
    for n in node.children() {
        match n.key.text.as_str() {
            "connect_port" => c.port = cx.int(n, 0, 65535),
            "connect_timeout" | "misc_timeout" => c.timeout = cx.secs(n),
            "retry" | "nb_get_retry" => c.retry = cx.int(n, 0, 1_000_000),
            "delay_before_retry" => {}
            "virtualhost" => host = n.arg(0).map(|w| v(w.text.clone(), w.span.clone())),
            "misc_path" => command = cx.command(n),
            "url" => {
                if path.is_some() {
                    cx.unsupported(
                        n,
                        "Vigil's HTTP check fetches one URL; only the first is kept",
                    );
                    continue;
                }
                for u in n.children() {
                    match u.key.text.as_str() {
                        "path" => path = u.arg(0).map(|w| v(w.text.clone(), w.span.clone())),
                        "status_code" => status = u.arg(0).map(|w| v(w.text.clone(), w.span.clone())),
                        "digest" => cx.unsupported(u, "keepalived's digest is an MD5 of the body; Vigil checks a SHA-256 (`body_sha256`), which must be computed anew"),
                        _ => cx.unsupported(u, "this url setting has no equivalent"),
                    }
                }
            }
            _ => cx.unsupported(
                n,
                "this check setting has no equivalent in a Vigil health check",
            ),
        }
    }
    c.kind = match node.key.text.as_str() {
        "TCP_CHECK" => CheckKind::Tcp,
        "MISC_CHECK" => {
            let mut cmd = command?;
            // `vigil build` appends the real server's address and port.
            let n = cmd.value.len();
            if n >= 3
                && cmd.value[n - 2] == rs.address.value.to_string()
                && rs
                    .port
                    .as_ref()
                    .is_some_and(|p| cmd.value[n - 1] == p.value.to_string())
            {
                cmd.value.truncate(n - 2);
            }
            CheckKind::Command(cmd)
        }
        _ => CheckKind::Http { path, status, host },
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_like_keepalived() {
        assert_eq!(seconds("1"), Some(Duration::from_secs(1)));
        assert_eq!(seconds("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(seconds("2.25"), Some(Duration::from_millis(2250)));
        assert_eq!(seconds(".1"), Some(Duration::from_millis(100)));
        for bad in ["", ".", "-1", "1s", "x", "1e3", "9999999999"] {
            assert_eq!(seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(shell_words("/bin/a b  c"), ["/bin/a", "b", "c"]);
        assert_eq!(
            shell_words("x 'a b' \"c d\" e\\ f"),
            ["x", "a b", "c d", "e f"]
        );
        assert_eq!(shell_words("a ''"), ["a", ""]);
        assert_eq!(shell_words("unclosed 'quote"), ["unclosed", "quote"]);
        assert!(shell_words("  ").is_empty());
    }

    #[test]
    fn netmasks_become_prefix_lengths() {
        assert_eq!(netmask_len("255.255.255.0"), Some(24));
        assert_eq!(netmask_len("255.255.255.255"), Some(32));
        assert_eq!(netmask_len("255.0.255.0"), None);
        assert_eq!(netmask_len("16"), Some(16));
    }
}
