//! A fleet of keepalived.conf files → one topology per host.
//!
//! Reading a host gives its instances, scripts, sync groups and virtual
//! servers with their spans ([`HostConf`]). The fleet step then infers
//! segments, joins instances into routers, and writes every host's share
//! of the cluster as a [`Topology`] whose spans are offsets in the host's
//! files laid end to end (see [`crate::load::LoadedFile::layout`]).
//!
//! keepalived's defaults that differ from Vigil's (VRRP version 2, on-fail
//! `remove` for real servers) are written explicitly, at the span of the
//! statement they belong to, so that two hosts that disagree are told
//! apart from one that relies on a default.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use vigil_schema::span::Sp;
use vigil_schema::topology::{self as t, AuthKind, InitialState, OnFail, Preempt};
use vigil_schema::units::{Cidr, Duration};

use super::parse::{Node, ReadError, Word, read_path};
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::{IoFailure, LoadedFile};
use crate::model::{At, Conflict, ObjectKind};
use crate::source::{FileId, SourceMap, Span};

/// One host's main keepalived.conf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSource {
    pub host: String,
    pub path: PathBuf,
}

/// What the operator tells the importer that keepalived.conf does not say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `--segment NAME=CIDR`: the segment holding this subnet is called NAME.
    pub segments: Vec<(String, Cidr)>,
    /// `--cluster NAME`.
    pub cluster: Option<String>,
}

/// The fleet, read and mapped.
#[derive(Debug, Default)]
pub struct Fleet {
    pub sources: SourceMap,
    /// One per host, for [`crate::resolve::resolve`].
    pub files: Vec<LoadedFile>,
    /// Reader errors, values that could not be read, unsupported constructs.
    pub diagnostics: Vec<Diagnostic>,
    pub io_failures: Vec<IoFailure>,
    /// Disagreements between hosts that the per-host topologies cannot
    /// express, added to the resolved model's conflicts.
    pub conflicts: Vec<Conflict>,
    /// Codes of lints whose findings mean nothing for an imported fleet
    /// (interface addresses are not in keepalived.conf).
    pub muted: Vec<&'static str>,
}

impl Fleet {
    /// Whether a read error stops the check (like a TOML syntax error).
    pub fn failed(&self) -> bool {
        !self.io_failures.is_empty()
            || self.diagnostics.iter().any(|d| {
                d.severity == Severity::Error
                    && (d.code == ReadError::Syntax.code() || d.code == ReadError::Include.code())
            })
    }
}

/// The hosts a command-line argument names: `HOST=FILE`, or a directory
/// with one sub-directory (holding `keepalived.conf`) or one file per host.
pub fn expand_args(args: &[String]) -> (Vec<HostSource>, Vec<IoFailure>) {
    let mut hosts = Vec::new();
    let mut failures = Vec::new();
    for arg in args {
        if let Some((host, file)) = arg.split_once('=') {
            hosts.push(HostSource {
                host: host.to_string(),
                path: PathBuf::from(file),
            });
            continue;
        }
        let path = Path::new(arg);
        if !path.is_dir() {
            failures.push(IoFailure {
                path: arg.clone(),
                message: "not a directory; name a single host's file as HOST=FILE".into(),
            });
            continue;
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(e) => e.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) => {
                failures.push(IoFailure {
                    path: arg.clone(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        entries.sort();
        let before = hosts.len();
        for entry in entries {
            let Some(name) = entry.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if entry.is_dir() {
                let conf = entry.join("keepalived.conf");
                if conf.is_file() {
                    hosts.push(HostSource {
                        host: name,
                        path: conf,
                    });
                }
            } else if entry.is_file()
                && let Some(host) = name.strip_suffix(".conf")
            {
                let host = host.strip_suffix(".keepalived").unwrap_or(host).to_string();
                hosts.push(HostSource { host, path: entry });
            }
        }
        if hosts.len() == before {
            failures.push(IoFailure {
                path: arg.clone(),
                message: "holds no host: expected HOST/keepalived.conf or HOST.conf entries".into(),
            });
        }
    }
    (hosts, failures)
}

// ---------------------------------------------------------------- per host

#[derive(Clone, Debug)]
struct V<T> {
    value: T,
    span: Span,
}

fn v<T>(value: T, span: Span) -> V<T> {
    V { value, span }
}

#[derive(Clone, Debug, Default)]
struct Script {
    command: Option<V<Vec<String>>>,
    interval: Option<V<Duration>>,
    timeout: Option<V<Duration>>,
    rise: Option<V<i64>>,
    fall: Option<V<i64>>,
    weight: Option<V<i64>>,
}

#[derive(Clone, Debug)]
struct Vip {
    cidr: V<Cidr>,
    /// Whether the prefix was written (`/24`), so it says what the subnet is.
    has_prefix: bool,
    dev: Option<Word>,
    label: Option<Word>,
}

#[derive(Clone, Debug)]
struct Instance {
    host: String,
    name: Word,
    state: Option<V<InitialState>>,
    interface: Option<Word>,
    vrid: Option<V<i64>>,
    priority: Option<V<i64>>,
    advert: Option<V<Duration>>,
    version: Option<V<i64>>,
    nopreempt: Option<Span>,
    preempt_delay: Option<V<Duration>>,
    accept: Option<V<bool>>,
    auth: Option<(Span, V<String>)>,
    vips: Vec<Vip>,
    vips_span: Option<Span>,
    src: Option<V<IpAddr>>,
    peers: Vec<V<IpAddr>>,
    peers_span: Option<Span>,
    track_if: Vec<(V<String>, Option<i64>)>,
    track_scripts: Vec<(V<String>, Option<V<i64>>)>,
    notify: [Option<V<Vec<String>>>; 5],
    garp_repeat: Option<V<i64>>,
    garp_refresh: Option<V<Duration>>,
}

#[derive(Clone, Debug)]
struct HostConf {
    name: String,
    files: Vec<FileId>,
    main: FileId,
    startup_delay: Option<V<Duration>>,
    default_version: Option<V<i64>>,
    cluster_marker: Option<String>,
    scripts: BTreeMap<String, (Span, Script)>,
    instances: Vec<Instance>,
    sync_groups: Vec<(Word, Vec<Word>)>,
    virtual_servers: Vec<VsConf>,
}

#[derive(Clone, Debug)]
struct VsConf {
    span: Span,
    address: Option<V<IpAddr>>,
    port: Option<V<i64>>,
    fwmark: Option<V<i64>>,
    delay_loop: Option<V<Duration>>,
    scheduler: Option<V<t::Scheduler>>,
    flags: Vec<V<t::SchedulerFlag>>,
    method: Option<V<t::Method>>,
    protocol: Option<V<t::Protocol>>,
    persistence: Option<V<Duration>>,
    granularity: Option<V<i64>>,
    quorum: Option<V<i64>>,
    hysteresis: Option<V<i64>>,
    sorry: Option<V<std::net::SocketAddr>>,
    real: Vec<RsConf>,
}

#[derive(Clone, Debug)]
struct RsConf {
    span: Span,
    address: V<IpAddr>,
    port: Option<V<i64>>,
    weight: Option<V<i64>>,
    inhibit: Option<Span>,
    uthreshold: Option<V<i64>>,
    lthreshold: Option<V<i64>>,
    check: Option<CheckConf>,
}

#[derive(Clone, Debug)]
struct CheckConf {
    span: Span,
    kind: CheckKind,
    port: Option<V<i64>>,
    timeout: Option<V<Duration>>,
    retry: Option<V<i64>>,
}

#[derive(Clone, Debug)]
enum CheckKind {
    Tcp,
    Http {
        path: Option<V<String>>,
        status: Option<V<String>>,
        host: Option<V<String>>,
    },
    Command(V<Vec<String>>),
}

/// Collects diagnostics for one host; unsupported keywords once each.
struct Cx<'a> {
    diags: &'a mut Vec<Diagnostic>,
    unsupported: BTreeMap<String, (Span, usize, String)>,
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

const IGNORED_GLOBAL: &[&str] = &["router_id", "enable_script_security", "script_user"];

fn read_host(src: &HostSource, sources: &mut SourceMap, diags: &mut Vec<Diagnostic>) -> HostConf {
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

// ---------------------------------------------------------------- fleet

/// Reads every host and maps the fleet.
pub fn read_fleet(hosts: &[HostSource], options: &Options) -> Fleet {
    let mut fleet = Fleet::default();
    let mut confs = Vec::new();
    for h in hosts {
        if !h.path.is_file() {
            fleet.io_failures.push(IoFailure {
                path: h.path.display().to_string(),
                message: if h.path.exists() {
                    "is not a regular file".into()
                } else {
                    "no such file".into()
                },
            });
            continue;
        }
        confs.push(read_host(h, &mut fleet.sources, &mut fleet.diagnostics));
    }
    map(&mut fleet, &confs, options);
    fleet
}

/// Union-find over (host, interface) nodes.
struct Dsu(Vec<usize>);
impl Dsu {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

fn network(c: Cidr) -> Cidr {
    Cidr::new(c.network(), c.prefix).unwrap_or(c)
}

/// A name for a subnet's segment: `10.20.0.0_24`.
fn subnet_name(c: Cidr) -> String {
    format!("{}_{}", c.network(), c.prefix).replace(':', "-")
}

struct Layout {
    bases: HashMap<FileId, usize>,
    layout: Vec<(usize, FileId)>,
}

impl Layout {
    fn new(files: &[FileId], sources: &SourceMap) -> Self {
        let mut bases = HashMap::new();
        let mut layout = Vec::new();
        let mut at = 0usize;
        for f in files {
            bases.insert(*f, at);
            layout.push((at, *f));
            at += sources.file(*f).text.len() + 1;
        }
        Layout { bases, layout }
    }
    fn r(&self, span: &Span) -> Range<usize> {
        let base = self.bases.get(&span.file).copied().unwrap_or(0);
        base + span.range.start..base + span.range.end
    }
    fn sp<T>(&self, value: T, span: &Span) -> Sp<T> {
        Sp {
            value,
            span: self.r(span),
        }
    }
    fn of<T: Clone>(&self, x: &V<T>) -> Sp<T> {
        self.sp(x.value.clone(), &x.span)
    }
}

/// The router a keepalived instance joined.
struct Joined {
    router: String,
    segment: String,
}

fn map(fleet: &mut Fleet, confs: &[HostConf], options: &Options) {
    // Nodes: (host index, interface) → subnets.
    let mut nodes: Vec<(usize, String)> = Vec::new();
    let mut node_of: HashMap<(usize, String), usize> = HashMap::new();
    let mut subnets: Vec<Vec<(Cidr, Span)>> = Vec::new();
    let mut local: Vec<Vec<(Cidr, Span)>> = Vec::new();
    for (hi, h) in confs.iter().enumerate() {
        for i in &h.instances {
            let ifname = i
                .interface
                .as_ref()
                .map_or_else(String::new, |w| w.text.clone());
            let id = *node_of.entry((hi, ifname.clone())).or_insert_with(|| {
                nodes.push((hi, ifname.clone()));
                subnets.push(Vec::new());
                local.push(Vec::new());
                nodes.len() - 1
            });
            // Every VIP written with a prefix names its subnet (link-local
            // IPv6 VIPs name none); `unicast_src_ip` takes the prefix of the
            // first VIP of its family.
            let informative = |v: &&Vip| {
                v.has_prefix
                    && v.cidr.value.prefix < max_len(v.cidr.value.addr)
                    && !is_link_local(v.cidr.value.addr)
            };
            for p in i.vips.iter().filter(informative) {
                let c = network(p.cidr.value);
                if !subnets[id].iter().any(|(x, _)| *x == c) {
                    subnets[id].push((c, p.cidr.span.clone()));
                }
            }
            // A link-local subnet is on every IPv6 link: listed, not joined by.
            for p in i
                .vips
                .iter()
                .filter(|v| v.has_prefix && is_link_local(v.cidr.value.addr))
            {
                let c = network(p.cidr.value);
                if !local[id].iter().any(|(x, _)| *x == c) {
                    local[id].push((c, p.cidr.span.clone()));
                }
            }
            if let Some(src) = &i.src
                && let Some(p) = i
                    .vips
                    .iter()
                    .filter(informative)
                    .find(|v| v.cidr.value.addr.is_ipv4() == src.value.is_ipv4())
                && let Some(c) = Cidr::new(src.value, p.cidr.value.prefix)
                && !subnets[id].iter().any(|(x, _)| *x == network(c))
            {
                subnets[id].push((network(c), src.span.clone()));
            }
            for o in &options.segments {
                let hit = i.vips.iter().any(|v| o.1.contains(v.cidr.value.addr))
                    || i.src.as_ref().is_some_and(|s| o.1.contains(s.value));
                if hit {
                    let span = i
                        .interface
                        .as_ref()
                        .map_or(i.name.span.clone(), |w| w.span.clone());
                    subnets[id].push((network(o.1), span));
                }
            }
        }
    }
    let mut dsu = Dsu((0..nodes.len()).collect());
    let mut by_subnet: HashMap<Cidr, usize> = HashMap::new();
    let mut by_ifname: HashMap<String, usize> = HashMap::new();
    for (id, subs) in subnets.iter().enumerate() {
        if subs.is_empty() {
            let first = *by_ifname.entry(nodes[id].1.clone()).or_insert(id);
            dsu.union(first, id);
        }
        for (c, _) in subs {
            let first = *by_subnet.entry(*c).or_insert(id);
            dsu.union(first, id);
        }
    }
    // Segment names and subnets by root.
    let mut seg_name: BTreeMap<usize, String> = BTreeMap::new();
    let mut seg_subnets: BTreeMap<usize, Vec<(Cidr, usize, Span)>> = BTreeMap::new();
    for id in 0..nodes.len() {
        let root = dsu.find(id);
        for (c, span) in subnets[id].iter().chain(&local[id]) {
            let list = seg_subnets.entry(root).or_default();
            if !list.iter().any(|(x, _, _)| x == c) {
                list.push((*c, nodes[id].0, span.clone()));
            }
        }
    }
    let mut used = BTreeSet::new();
    for id in 0..nodes.len() {
        let root = dsu.find(id);
        if seg_name.contains_key(&root) {
            continue;
        }
        let subs = seg_subnets.get(&root).cloned().unwrap_or_default();
        let named = options
            .segments
            .iter()
            .find(|(_, c)| subs.iter().any(|(s, _, _)| network(*c) == *s))
            .map(|(n, _)| n.clone());
        let mut name = named
            .or_else(|| subs.first().map(|(c, _, _)| subnet_name(*c)))
            .unwrap_or_else(|| {
                format!(
                    "if-{}",
                    if nodes[root].1.is_empty() {
                        "unknown"
                    } else {
                        &nodes[root].1
                    }
                )
            });
        let base = name.clone();
        let mut k = 2;
        while !used.insert(name.clone()) {
            name = format!("{base}-{k}");
            k += 1;
        }
        if subs.is_empty() {
            // Nothing says what the subnet is: the segment's VIPs stand for
            // it (as host routes), and the operator is told how to name it.
            let mut vips: Vec<(Cidr, usize, Span)> = Vec::new();
            for (hi, h) in confs.iter().enumerate() {
                for i in &h.instances {
                    let ifname = i.interface.as_ref().map_or("", |w| w.text.as_str());
                    if dsu.find(node_of[&(hi, ifname.to_string())]) != root {
                        continue;
                    }
                    for v in &i.vips {
                        let c = Cidr::new(v.cidr.value.addr, max_len(v.cidr.value.addr))
                            .unwrap_or(v.cidr.value);
                        if !vips.iter().any(|(x, _, _)| *x == c) {
                            vips.push((c, hi, v.cidr.span.clone()));
                        }
                    }
                }
            }
            let at = confs[nodes[root].0]
                .instances
                .iter()
                .find_map(|i| {
                    i.interface
                        .as_ref()
                        .filter(|w| w.text == nodes[root].1)
                        .map(|w| w.span.clone())
                })
                .unwrap_or_else(|| Span::new(confs[nodes[root].0].main, 0..0));
            fleet.diagnostics.push(
                ReadError::Unsupported
                    .at(
                        at,
                        format!(
                            "no subnet is known for the segment of interface `{}` (VIPs without a prefix length, \
                             no unicast_src_ip): it is called `{name}` and its VIPs stand for its subnet",
                            nodes[root].1
                        ),
                    )
                    .label("segment inferred from the interface name")
                    .help("write the VIPs with their prefix length (10.0.0.100/24), or name the segment: `--segment NAME=CIDR`"),
            );
            seg_subnets.insert(root, vips);
        }
        seg_name.insert(root, name);
    }

    // Join instances into routers: by (segment, vrid); a host with two
    // instances in one group keeps them apart by instance name.
    let mut groups: BTreeMap<(String, i64), Vec<(usize, usize)>> = BTreeMap::new();
    let mut joined: HashMap<(usize, usize), Joined> = HashMap::new();
    for (hi, h) in confs.iter().enumerate() {
        for (ii, i) in h.instances.iter().enumerate() {
            let ifname = i
                .interface
                .as_ref()
                .map_or_else(String::new, |w| w.text.clone());
            let id = node_of[&(hi, ifname)];
            let seg = seg_name[&dsu.find(id)].clone();
            let vrid = i.vrid.as_ref().map_or(0, |v| v.value);
            groups.entry((seg, vrid)).or_default().push((hi, ii));
        }
    }
    let mut names_used: BTreeSet<String> = BTreeSet::new();
    for ((seg, vrid), members) in &groups {
        let mut per_host: HashMap<usize, usize> = HashMap::new();
        for (hi, _) in members {
            *per_host.entry(*hi).or_default() += 1;
        }
        let split = per_host.values().any(|n| *n > 1);
        let mut clusters: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
        if split {
            for (hi, ii) in members {
                clusters
                    .entry(confs[*hi].instances[*ii].name.text.clone())
                    .or_default()
                    .push((*hi, *ii));
            }
        } else {
            // The most common instance name (first in name order on a tie).
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (hi, ii) in members {
                *counts
                    .entry(&confs[*hi].instances[*ii].name.text)
                    .or_default() += 1;
            }
            let best = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(n, _)| n.to_string())
                .unwrap_or_default();
            clusters.insert(best, members.clone());
        }
        for (name, ms) in clusters {
            let mut rname = ident(&name);
            if !names_used.insert(rname.clone()) {
                rname = format!("{rname}-{seg}-{vrid}");
                names_used.insert(rname.clone());
            }
            for m in ms {
                joined.insert(
                    m,
                    Joined {
                        router: rname.clone(),
                        segment: seg.clone(),
                    },
                );
            }
        }
    }

    // Tracker host lists: a tracker on only some members names them.
    let mut tracker_hosts: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut router_hosts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (hi, h) in confs.iter().enumerate() {
        for (ii, i) in h.instances.iter().enumerate() {
            let j = &joined[&(hi, ii)];
            router_hosts
                .entry(j.router.clone())
                .or_default()
                .insert(h.name.clone());
            for tn in tracker_names(h, i) {
                tracker_hosts
                    .entry((j.router.clone(), tn))
                    .or_default()
                    .insert(h.name.clone());
            }
        }
    }

    // Per host topology.
    let mut defined_groups: BTreeSet<String> = BTreeSet::new();
    let mut defined_vs: BTreeSet<String> = BTreeSet::new();
    let mut router_settings_from: BTreeSet<String> = BTreeSet::new();
    let cluster_name = options
        .cluster
        .clone()
        .or_else(|| confs.iter().find_map(|h| h.cluster_marker.clone()))
        .unwrap_or_else(|| "keepalived".into());
    let mut addressless = false;
    for (hi, h) in confs.iter().enumerate() {
        let lay = Layout::new(&h.files, &fleet.sources);
        let main_span = Span::new(h.main, 0..0);
        let mut topo = t::Topology::default();
        if hi == 0 {
            // One startup delay for the cluster when every host states the
            // same; otherwise Vigil's per-host default (the longest
            // master-down interval of the host's routers).
            let delays: BTreeSet<Option<Duration>> = confs
                .iter()
                .map(|c| c.startup_delay.as_ref().map(|d| d.value))
                .collect();
            let startup_delay = match (delays.len(), &h.startup_delay) {
                (1, Some(d)) => Some(lay.of(d)),
                _ => None,
            };
            topo.cluster = Some(lay.sp(
                t::Cluster {
                    name: lay.sp(cluster_name.clone(), &main_span),
                    startup_delay,
                },
                &main_span,
            ));
        }
        // Host and interfaces.
        let mut host = t::Host {
            interface: BTreeMap::new(),
            runtime: None,
            description: None,
        };
        let mut rs_of: BTreeMap<String, Vec<(String, &Instance)>> = BTreeMap::new();
        for (ii, i) in h.instances.iter().enumerate() {
            let j = &joined[&(hi, ii)];
            let ifname = i
                .interface
                .as_ref()
                .map_or_else(String::new, |w| w.text.clone());
            let if_span = i
                .interface
                .as_ref()
                .map_or(i.name.span.clone(), |w| w.span.clone());
            let seg_root = dsu.find(node_of[&(hi, ifname.clone())]);
            let entry = host.interface.entry(ifname.clone()).or_insert_with(|| {
                Box::new(lay.sp(
                    t::Interface {
                        segment: lay.sp(j.segment.clone(), &if_span),
                        addresses: Vec::new(),
                    },
                    &if_span,
                ))
            });
            if let Some(src) = &i.src {
                let prefix = seg_subnets
                    .get(&seg_root)
                    .and_then(|s| s.iter().find(|(c, _, _)| c.contains(src.value)))
                    .map_or(max_len(src.value), |(c, _, _)| c.prefix);
                if let Some(c) = Cidr::new(src.value, prefix)
                    && !entry.value.addresses.iter().any(|a| a.value == c)
                {
                    entry.value.addresses.push(lay.sp(c, &src.span));
                }
            }
            rs_of
                .entry(j.router.clone())
                .or_default()
                .push((j.segment.clone(), i));
        }
        for iface in host.interface.values() {
            if iface.value.addresses.is_empty() {
                addressless = true;
            }
        }
        // Segments this host uses (subnets from anywhere: same list on every host).
        for (root, name) in &seg_name {
            let uses = host
                .interface
                .values()
                .any(|i| i.value.segment.value == *name);
            if !uses {
                continue;
            }
            let subs = seg_subnets.get(root).cloned().unwrap_or_default();
            let span = host
                .interface
                .values()
                .find(|i| i.value.segment.value == *name)
                .map(|i| i.span.clone())
                .unwrap_or(0..0);
            topo.segment.insert(
                name.clone(),
                Sp {
                    value: t::Segment {
                        subnets: subs
                            .iter()
                            .map(|(c, owner, s)| {
                                // A subnet first seen in another host's file:
                                // point at this host's interface instead.
                                if *owner == hi {
                                    lay.sp(*c, s)
                                } else {
                                    Sp {
                                        value: *c,
                                        span: span.clone(),
                                    }
                                }
                            })
                            .collect(),
                        reference_ips: Vec::new(),
                        reserved_vrids: Vec::new(),
                        description: None,
                    },
                    span,
                },
            );
        }
        topo.host.insert(h.name.clone(), lay.sp(host, &main_span));
        // Routers.
        for (ii, i) in h.instances.iter().enumerate() {
            let j = &joined[&(hi, ii)];
            let all_hosts = router_hosts.get(&j.router).cloned().unwrap_or_default();
            let first_def = router_settings_from.insert(j.router.clone());
            let r = router(
                &lay,
                h,
                i,
                j,
                first_def,
                &all_hosts,
                &tracker_hosts,
                &mut fleet.diagnostics,
            );
            if topo.router.contains_key(&j.router) {
                // Two instances of this host joined one router: impossible
                // by construction (they are split by name), kept for safety.
                continue;
            }
            topo.router.insert(j.router.clone(), r);
        }
        // Sync groups: defined by the first host that has them.
        for (name, members) in &h.sync_groups {
            let gname = ident(&name.text);
            if !defined_groups.insert(gname.clone()) {
                continue;
            }
            let routers = members
                .iter()
                .map(|m| {
                    let r = h
                        .instances
                        .iter()
                        .position(|i| i.name.text == m.text)
                        .map_or_else(|| m.text.clone(), |ii| joined[&(hi, ii)].router.clone());
                    lay.sp(r, &m.span)
                })
                .collect();
            topo.sync_group
                .insert(gname, lay.sp(t::SyncGroup { routers }, &name.span));
        }
        // Virtual servers: defined by the first host that has them.
        for vs in &h.virtual_servers {
            let name = vs_name(vs);
            if !defined_vs.insert(name.clone()) {
                continue;
            }
            if h.instances.is_empty() {
                fleet.diagnostics.push(
                    ReadError::Unsupported
                        .at(
                            vs.span.clone(),
                            format!(
                                "virtual server `{name}` runs on host `{}`, which has no vrrp_instance: Vigil \
                                 programs a virtual server on the master of a router, so it is not imported",
                                h.name
                            ),
                        )
                        .label("LVS without VRRP")
                        .help("import it together with the vrrp_instance whose VIP carries it (often in another file or on the directors' peers)"),
                );
                continue;
            }
            let router = vs
                .address
                .as_ref()
                .and_then(|a| {
                    h.instances
                        .iter()
                        .enumerate()
                        .find(|(_, i)| i.vips.iter().any(|v| v.cidr.value.addr == a.value))
                })
                .or_else(|| h.instances.iter().enumerate().next())
                .map_or_else(String::new, |(ii, _)| joined[&(hi, ii)].router.clone());
            topo.virtual_server
                .insert(name, virtual_server_topo(&lay, vs, router));
        }
        fleet.files.push(LoadedFile {
            file: h.main,
            topology: topo,
            layout: lay.layout,
        });
    }
    if addressless {
        fleet.muted.push("member-without-address");
    }
    // keepalived.conf names only the interfaces its instances run on: a
    // tracked interface is not known to be missing.
    fleet.muted.push("tracked-interface-unknown");
    unicast_symmetry(fleet, confs, &joined);
    auth_presence(fleet, confs, &joined);
    notify_differences(fleet, confs, &joined);
}

fn is_link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

fn max_len(a: IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

/// The name a tracker gets: the script name without the `ROUTER_` prefix
/// `vigil build` adds; arbitration pings are not trackers.
fn tracker_names(h: &HostConf, i: &Instance) -> Vec<String> {
    let mut out: Vec<String> = i
        .track_scripts
        .iter()
        .filter(|(n, w)| is_arbitration(h, &n.value, w.as_ref().map(|w| w.value)).is_none())
        .map(|(n, _)| script_tracker_name(&i.name.text, &n.value))
        .collect();
    out.extend(i.track_if.iter().map(|(n, _)| ident(&n.value)));
    out
}

fn script_tracker_name(instance: &str, script: &str) -> String {
    let name = script
        .strip_prefix(&format!("{instance}_"))
        .filter(|s| !s.is_empty())
        .unwrap_or(script);
    ident(name)
}

/// A tracked script that pings one address and puts the instance in FAULT
/// (weight 0): keepalived's way to approximate arbitration. Returns the
/// address, the `-W` wait and the script.
fn is_arbitration<'a>(
    h: &'a HostConf,
    name: &str,
    weight: Option<i64>,
) -> Option<(IpAddr, Option<u64>, &'a (Span, Script))> {
    let s = h.scripts.get(name)?;
    let cmd = s.1.command.as_ref()?;
    let prog = cmd.value.first()?;
    if !(prog == "ping" || prog.ends_with("/ping") || prog == "ping6" || prog.ends_with("/ping6")) {
        return None;
    }
    if weight.or(s.1.weight.as_ref().map(|w| w.value)).unwrap_or(0) != 0 {
        return None;
    }
    let ip = cmd.value.last()?.parse::<IpAddr>().ok()?;
    let wait = cmd
        .value
        .windows(2)
        .find(|w| w[0] == "-W")
        .and_then(|w| w[1].parse::<u64>().ok());
    Some((ip, wait, s))
}

#[allow(clippy::too_many_arguments)]
fn router(
    lay: &Layout,
    h: &HostConf,
    i: &Instance,
    j: &Joined,
    first_def: bool,
    all_hosts: &BTreeSet<String>,
    tracker_hosts: &BTreeMap<(String, String), BTreeSet<String>>,
    diags: &mut Vec<Diagnostic>,
) -> Sp<t::Router> {
    let head = &i.name.span;
    let vrid = i
        .vrid
        .as_ref()
        .map_or_else(|| lay.sp(0, head), |x| lay.of(x));
    if i.vrid.is_none() {
        diags.push(
            ReadError::Value
                .at(head.clone(), format!("vrrp_instance `{}` has no virtual_router_id", i.name.text))
                .label("no virtual_router_id")
                .help("keepalived refuses an instance without one; add `virtual_router_id N` (1..255, unique on the segment)"),
        );
    }
    if i.interface.is_none() {
        diags.push(
            ReadError::Value
                .at(
                    head.clone(),
                    format!("vrrp_instance `{}` has no interface", i.name.text),
                )
                .label("no interface")
                .help("keepalived refuses an instance without one; add `interface IFNAME`"),
        );
    }
    let family_v6 = i.vips.first().is_some_and(|v| v.cidr.value.addr.is_ipv6());
    let version = match (&i.version, &h.default_version) {
        (Some(x), _) => lay.of(x),
        (None, Some(d)) => lay.sp(d.value, head),
        (None, None) => lay.sp(if family_v6 { 3 } else { 2 }, head),
    };
    let mut track = BTreeMap::new();
    let mut arbitration = None;
    for (n, w) in &i.track_scripts {
        if let Some((ip, wait, (sspan, s))) =
            is_arbitration(h, &n.value, w.as_ref().map(|w| w.value))
        {
            arbitration = Some(lay.sp(
                t::Arbitration {
                    reference_ips: vec![lay.sp(
                        ip,
                        &s.command.as_ref().map_or(sspan.clone(), |c| c.span.clone()),
                    )],
                    interval: s.interval.as_ref().map(|x| lay.of(x)),
                    // `ping -W` waits whole seconds: a wait that is not
                    // below the probe interval stands for half of it.
                    timeout: wait.map(|w| {
                        let every = s.interval.as_ref().map_or(1000, |i| i.value.as_millis());
                        let ms = if w * 1000 < every {
                            w * 1000
                        } else {
                            every / 2
                        };
                        lay.sp(
                            Duration::from_millis(ms),
                            &s.command.as_ref().map_or(sspan.clone(), |c| c.span.clone()),
                        )
                    }),
                    attempts: s.fall.as_ref().map(|x| lay.of(x)),
                    release_after: None,
                    fence: None,
                    self_fence: None,
                },
                &n.span,
            ));
            continue;
        }
        let tname = script_tracker_name(&i.name.text, &n.value);
        let Some((sspan, s)) = h.scripts.get(&n.value) else {
            diags.push(
                ReadError::Value
                    .at(n.span.clone(), format!("track_script `{}` names no vrrp_script of host `{}`", n.value, h.name))
                    .label("unknown script")
                    .help("keepalived ignores the tracking; define `vrrp_script NAME { script ... }` or remove the line"),
            );
            continue;
        };
        let weight = w.clone().or(s.weight.clone());
        let on_fail = on_fail(lay, weight.as_ref(), n, diags, &tname);
        let hosts = hosts_list(lay, tracker_hosts, all_hosts, &j.router, &tname, &n.span);
        track.insert(
            tname,
            Box::new(lay.sp(
                t::Tracker {
                    interface: None,
                    command: s.command.as_ref().map(|c| lay.of(c)),
                    interval: s.interval.as_ref().map(|x| lay.of(x)),
                    timeout: s.timeout.as_ref().map(|x| lay.of(x)),
                    rise: s.rise.as_ref().map(|x| lay.of(x)),
                    fall: s.fall.as_ref().map(|x| lay.of(x)),
                    on_fail,
                    hosts,
                },
                sspan,
            )),
        );
    }
    for (n, w) in &i.track_if {
        let tname = ident(&n.value);
        let weight = w.map(|x| v(x, n.span.clone()));
        let on_fail = on_fail(lay, weight.as_ref(), n, diags, &tname);
        let hosts = hosts_list(lay, tracker_hosts, all_hosts, &j.router, &tname, &n.span);
        track.insert(
            tname,
            Box::new(lay.sp(
                t::Tracker {
                    interface: Some(lay.of(n)),
                    command: None,
                    interval: None,
                    timeout: None,
                    rise: None,
                    fall: None,
                    on_fail,
                    hosts,
                },
                &n.span,
            )),
        );
    }
    let mut member = BTreeMap::new();
    member.insert(
        h.name.clone(),
        Box::new(
            lay.sp(
                t::Member {
                    priority: i
                        .priority
                        .as_ref()
                        .map_or_else(|| lay.sp(100, head), |p| lay.of(p)),
                    interface: i
                        .interface
                        .as_ref()
                        .map(|w| lay.sp(w.text.clone(), &w.span)),
                    initial_state: i
                        .state
                        .as_ref()
                        .filter(|s| s.value == InitialState::Master)
                        .map(|s| lay.of(s)),
                },
                head,
            ),
        ),
    );
    let garp = (first_def && (i.garp_repeat.is_some() || i.garp_refresh.is_some())).then(|| {
        lay.sp(
            t::Garp {
                repeat: i.garp_repeat.as_ref().map(|x| lay.of(x)),
                interval: None,
                refresh: i.garp_refresh.as_ref().map(|x| lay.of(x)),
            },
            head,
        )
    });
    let notify = (first_def && i.notify.iter().any(Option::is_some)).then(|| {
        let n = |k: usize| i.notify[k].as_ref().map(|x| lay.of(x));
        lay.sp(
            t::Notify {
                master: n(0),
                backup: n(1),
                fault: n(2),
                stop: n(3),
                any: n(4),
                timeout: None,
            },
            head,
        )
    });
    let vips_span = i.vips_span.clone().unwrap_or_else(|| head.clone());
    lay.sp(
        t::Router {
            segment: lay.sp(
                j.segment.clone(),
                i.interface.as_ref().map_or(head, |w| &w.span),
            ),
            vrid,
            version: Some(version),
            advert_interval: Some(
                i.advert
                    .as_ref()
                    .map_or_else(|| lay.sp(Duration::from_secs(1), head), |x| lay.of(x)),
            ),
            vips: lay.sp(i.vips.iter().map(|x| lay.of(&x.cidr)).collect(), &vips_span),
            preempt: Some(match &i.nopreempt {
                Some(s) => lay.sp(Preempt::Never, s),
                None => lay.sp(Preempt::Always, head),
            }),
            preempt_delay: i
                .preempt_delay
                .as_ref()
                .filter(|d| d.value.as_millis() > 0)
                .map(|x| lay.of(x)),
            accept: Some(
                i.accept
                    .as_ref()
                    .map_or_else(|| lay.sp(true, head), |x| lay.of(x)),
            ),
            unicast: Some(match &i.peers_span {
                Some(s) => lay.sp(true, s),
                None => lay.sp(false, head),
            }),
            auth: i.auth.as_ref().map(|(s, p)| {
                lay.sp(
                    t::Auth {
                        kind: lay.sp(AuthKind::Pass, s),
                        password: lay.of(p),
                    },
                    &p.span,
                )
            }),
            arbitration,
            accept_split_brain: None,
            heartbeat_paths: Vec::new(),
            garp,
            notify,
            member,
            track,
        },
        head,
    )
}

fn on_fail(
    lay: &Layout,
    weight: Option<&V<i64>>,
    at: &V<String>,
    diags: &mut Vec<Diagnostic>,
    name: &str,
) -> Sp<OnFail> {
    match weight {
        None => lay.sp(OnFail::Fault, &at.span),
        Some(w) if w.value == 0 => lay.sp(OnFail::Fault, &w.span),
        Some(w) if w.value < 0 => lay.sp(OnFail::Demote(lay.sp(-w.value, &w.span)), &w.span),
        Some(w) => {
            diags.push(
                ReadError::Unsupported
                    .at(w.span.clone(), format!("tracker `{name}` raises the priority by {} while it succeeds", w.value))
                    .label("positive weight")
                    .help("Vigil trackers lower the priority when they fail; it is imported as `on_fail = { demote = N }`: add N to the member priorities to keep the same elections"),
            );
            lay.sp(OnFail::Demote(lay.sp(w.value, &w.span)), &w.span)
        }
    }
}

fn hosts_list(
    lay: &Layout,
    tracker_hosts: &BTreeMap<(String, String), BTreeSet<String>>,
    all: &BTreeSet<String>,
    router: &str,
    tracker: &str,
    span: &Span,
) -> Vec<Sp<String>> {
    match tracker_hosts.get(&(router.to_string(), tracker.to_string())) {
        Some(hs) if hs != all => hs.iter().map(|h| lay.sp(h.clone(), span)).collect(),
        _ => Vec::new(),
    }
}

fn vs_name(vs: &VsConf) -> String {
    let proto = match vs.protocol.as_ref().map(|p| p.value) {
        Some(t::Protocol::Udp) => "-udp",
        Some(t::Protocol::Sctp) => "-sctp",
        _ => "",
    };
    match (&vs.fwmark, &vs.address) {
        (Some(m), _) => format!("fwmark-{}", m.value),
        (None, Some(a)) => format!(
            "{}-{}{proto}",
            a.value.to_string().replace(':', "-"),
            vs.port.as_ref().map_or(0, |p| p.value)
        ),
        _ => "virtual-server".into(),
    }
}

fn virtual_server_topo(lay: &Layout, vs: &VsConf, router: String) -> Sp<t::VirtualServer> {
    let first_check = vs
        .real
        .iter()
        .find_map(|r| r.check.as_ref().map(|c| (c, r)));
    let health = first_check.map(|(c, rs)| {
        let port = c
            .port
            .as_ref()
            .filter(|p| rs.port.as_ref().is_none_or(|rp| rp.value != p.value))
            .map(|p| lay.of(p));
        lay.sp(
            t::Health {
                interval: vs.delay_loop.as_ref().map(|x| lay.of(x)),
                timeout: c.timeout.as_ref().map(|x| lay.of(x)),
                rise: None,
                fall: c.retry.as_ref().filter(|r| r.value > 0).map(|x| lay.of(x)),
                warmup: None,
                tcp: matches!(c.kind, CheckKind::Tcp)
                    .then(|| lay.sp(t::TcpCheck { port: port.clone() }, &c.span)),
                http: match &c.kind {
                    CheckKind::Http { path, status, host } => Some(lay.sp(
                        t::HttpCheck {
                            path: path.as_ref().map(|x| lay.of(x)),
                            port: port.clone(),
                            host: host.as_ref().map(|x| lay.of(x)),
                            status: status.as_ref().map(|x| lay.of(x)),
                            body_sha256: None,
                        },
                        &c.span,
                    )),
                    _ => None,
                },
                command: match &c.kind {
                    CheckKind::Command(cmd) => Some(lay.of(cmd)),
                    _ => None,
                },
            },
            &c.span,
        )
    });
    let inhibit = vs.real.iter().find_map(|r| r.inhibit.clone());
    let on_fail = match inhibit {
        Some(s) => lay.sp(t::RealServerOnFail::Inhibit, &s),
        None => lay.sp(t::RealServerOnFail::Remove, &vs.span),
    };
    lay.sp(
        t::VirtualServer {
            router: lay.sp(router, &vs.span),
            address: vs.address.as_ref().map(|x| lay.of(x)),
            port: vs.port.as_ref().map(|x| lay.of(x)),
            protocol: vs.protocol.as_ref().map(|x| lay.of(x)),
            fwmark: vs.fwmark.as_ref().map(|x| lay.of(x)),
            scheduler: vs.scheduler.as_ref().map(|x| lay.of(x)),
            scheduler_flags: vs.flags.iter().map(|x| lay.of(x)).collect(),
            method: vs.method.as_ref().map(|x| lay.of(x)),
            persistence: vs
                .persistence
                .as_ref()
                .filter(|p| p.value.as_millis() > 0)
                .map(|x| lay.of(x)),
            persistence_prefix: vs.granularity.as_ref().map(|x| lay.of(x)),
            quorum: vs
                .quorum
                .as_ref()
                .filter(|q| q.value > 0)
                .map(|x| lay.of(x)),
            hysteresis: vs
                .hysteresis
                .as_ref()
                .filter(|_| vs.quorum.as_ref().is_some_and(|q| q.value > 0))
                .map(|x| lay.of(x)),
            sorry_server: vs.sorry.as_ref().map(|x| lay.of(x)),
            on_fail: Some(on_fail),
            only_on_master: None,
            keep_on_stop: None,
            health,
            real_server: vs
                .real
                .iter()
                .map(|r| {
                    lay.sp(
                        t::RealServer {
                            address: lay.of(&r.address),
                            port: r.port.as_ref().map(|x| lay.of(x)),
                            weight: r.weight.as_ref().map(|x| lay.of(x)),
                            upper_threshold: r
                                .uthreshold
                                .as_ref()
                                .filter(|x| x.value > 0)
                                .map(|x| lay.of(x)),
                            lower_threshold: r
                                .lthreshold
                                .as_ref()
                                .filter(|x| x.value > 0)
                                .map(|x| lay.of(x)),
                        },
                        &r.span,
                    )
                })
                .collect(),
        },
        &vs.span,
    )
}

/// Unicast peers must be symmetric: every member lists every other
/// member's `unicast_src_ip`. Vigil derives the lists, so this is checked
/// here, on the keepalived files.
fn unicast_symmetry(
    fleet: &mut Fleet,
    confs: &[HostConf],
    joined: &HashMap<(usize, usize), Joined>,
) {
    let mut by_router: BTreeMap<&str, Vec<&Instance>> = BTreeMap::new();
    for (hi, h) in confs.iter().enumerate() {
        for (ii, i) in h.instances.iter().enumerate() {
            by_router
                .entry(joined[&(hi, ii)].router.as_str())
                .or_default()
                .push(i);
        }
    }
    for (router, insts) in by_router {
        if !insts.iter().any(|i| i.peers_span.is_some()) {
            continue;
        }
        for a in &insts {
            let Some(src) = &a.src else { continue };
            for b in &insts {
                if std::ptr::eq(*a, *b) {
                    continue;
                }
                let Some(list) = &b.peers_span else { continue };
                if b.peers.iter().any(|p| p.value == src.value) {
                    continue;
                }
                fleet.diagnostics.push(
                    ReadError::UnicastPeers.at(
                        list.clone(),
                        format!(
                            "`{}` does not list `{}`'s address {} in unicast_peer of router `{router}`: `{}` never sends \
                             its adverts there, so `{}` does not hear its master and takes the VIPs too (split brain)",
                            b.host, a.host, src.value, b.host, a.host
                        ),
                    )
                    .label(format!("{} is missing here", src.value))
                    .with(src.span.clone(), format!("`{}`'s unicast_src_ip", a.host))
                    .help(format!("add {} to this unicast_peer block; every member must list every other member", src.value)),
                );
            }
        }
    }
}

/// A router whose instances have a password on some hosts and none on
/// others: the merge cannot see an absent table, so the disagreement is
/// added to the model's conflicts, for `router-definition-conflict`.
fn auth_presence(fleet: &mut Fleet, confs: &[HostConf], joined: &HashMap<(usize, usize), Joined>) {
    let mut by_router: BTreeMap<&str, Vec<&Instance>> = BTreeMap::new();
    for (hi, h) in confs.iter().enumerate() {
        for (ii, i) in h.instances.iter().enumerate() {
            by_router
                .entry(joined[&(hi, ii)].router.as_str())
                .or_default()
                .push(i);
        }
    }
    for (router, insts) in by_router {
        let Some((_, with)) = insts.iter().find_map(|i| i.auth.as_ref()) else {
            continue;
        };
        for i in insts.iter().filter(|i| i.auth.is_none()) {
            fleet.conflicts.push(Conflict {
                kind: ObjectKind::Router,
                name: router.to_string(),
                field: Some("auth".into()),
                kept: At::new("(a password)".into(), with.span.clone()),
                other: At::new("(no authentication)".into(), i.name.span.clone()),
            });
        }
    }
}

/// Notify scripts are per router in the topology; hosts that differ keep
/// the first host's and are told so.
fn notify_differences(
    fleet: &mut Fleet,
    confs: &[HostConf],
    joined: &HashMap<(usize, usize), Joined>,
) {
    let mut first: BTreeMap<&str, &Instance> = BTreeMap::new();
    for (hi, h) in confs.iter().enumerate() {
        for (ii, i) in h.instances.iter().enumerate() {
            let r = joined[&(hi, ii)].router.as_str();
            match first.get(r) {
                None => {
                    first.insert(r, i);
                }
                Some(f) => {
                    let words = |x: &Instance| {
                        x.notify
                            .iter()
                            .map(|n| n.as_ref().map(|n| n.value.clone()))
                            .collect::<Vec<_>>()
                    };
                    if words(f) != words(i) {
                        let span = i
                            .notify
                            .iter()
                            .flatten()
                            .next()
                            .map_or(i.name.span.clone(), |n| n.span.clone());
                        fleet.diagnostics.push(
                            ReadError::Unsupported
                                .at(span, format!("notify scripts of router `{r}` on `{}` differ from `{}`'s", i.host, f.host))
                                .label("differs")
                                .help("a Vigil router has one set of notify hooks for all members; the first host's are imported"),
                        );
                    }
                }
            }
        }
    }
}

/// Names are kept as written: one that cannot be a Vigil name is reported
/// by `unsafe-name` at its place in the keepalived.conf file.
fn ident(name: &str) -> String {
    name.to_string()
}

/// How to fix a lint's finding in keepalived.conf terms, for the lints an
/// imported fleet typically meets; the topology's own advice follows it.
pub fn keepalived_help(code: &str) -> Option<&'static str> {
    Some(match code {
        "V0101" => {
            "in keepalived.conf: give one of these vrrp_instances another `virtual_router_id`, unique on the segment"
        }
        "V0102" => {
            "in keepalived.conf: make this setting the same in every host's vrrp_instance of this router"
        }
        "V0302" => "in keepalived.conf: give every peer of the instance a different `priority`",
        "V0401" => {
            "in keepalived.conf: with `nopreempt`, write `state BACKUP` on every peer (keepalived ignores `nopreempt` on a `state MASTER` instance)"
        }
        "V0501" => {
            "in keepalived.conf: track a `vrrp_script` that pings a reference address (e.g. the gateway) with weight 0, so that a node that cannot reach it goes to FAULT and releases the VIPs; `vigil import` turns it into arbitration"
        }
        _ => return None,
    })
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
