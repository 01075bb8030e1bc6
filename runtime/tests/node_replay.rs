//! Whole-daemon replay: each directory under `tests/node_replay/` is one
//! scenario for one [`Node`] (every router, guard, sync group and the
//! reload diff together), in the style of `tests/replay` (one router).
//!
//! * `plan.json`: the host's plan, as `vigil build` writes it; other
//!   `*.json` files of the directory are plans a `reload` step names;
//! * `input.jsonl`: one step per line, `{"at_us": N, ...}` with one of
//!   - `"event": <Event>` fed as is (the first step is usually `Start`),
//!   - `"advert": {"interface", "src", "priority", "vrid", "interval_cs", "addresses"}`:
//!     a valid VRRPv3 IPv4 advert from `src`, emitted to bytes and fed as
//!     `Event::Vrrp` (through `rx::decode` and `classify`, as in vigild),
//!   - `"reload": "file.json"`: `Event::Reload` with that plan,
//!   - `"tick": true`: `Event::Tick` (also fed automatically, before a
//!     step, for every deadline that passed);
//!
//!   and optionally `"expect": {"router": "State", ...}`, the states that
//!   must hold after the step (checked even when goldens are rewritten),
//!   and `"ipvs": [<KernelService>]`, the IPVS table the kernel holds from
//!   this step on (what a crashed run left, before a `Start`).
//! * The harness answers what a kernel would: `AddAddress`/`RemoveAddress`
//!   from an address table (so the node's ledger is exercised), `SendEcho`
//!   for the reference IPs a `"reachable": [..]` step made reachable,
//!   `IpvsDump`/`IpvsApply` from an IPVS table; processes are answered by
//!   explicit `ProcessExited` steps.
//! * `expected.jsonl`: per step the event, the commands and the states.
//!
//! `VIGIL_UPDATE_GOLDENS=1 cargo test -p vigild --test node_replay`
//! rewrites the expected files; review the diff before committing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};
use vigil_schema::plan::{Family, Plan};
use vigild::ipvs::reconcile::KernelService;
use vigild::node::{Command, Event, Node};
use vigild::sim::kernel::Kernel as SimKernel;
use vigild::vrrp::Instant;
use vigild::wire::IpMeta;
use vigild::wire::vrrp::{Auth, Centis, MULTICAST_V4, Repr, Version};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    at_us: u64,
    #[serde(default)]
    event: Option<Event>,
    #[serde(default)]
    advert: Option<Advert>,
    #[serde(default)]
    reload: Option<String>,
    #[serde(default)]
    tick: bool,
    /// From this step on, these reference IPs answer echo requests.
    #[serde(default)]
    reachable: Option<Vec<IpAddr>>,
    /// The IPVS table the kernel holds from this step on (e.g. what a
    /// crashed run left before a `Start`).
    #[serde(default)]
    ipvs: Option<Vec<KernelService>>,
    #[serde(default)]
    expect: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advert {
    interface: String,
    src: Ipv4Addr,
    vrid: u8,
    priority: u8,
    #[serde(default = "default_interval")]
    interval_cs: u16,
    /// The VIPs the advert lists (a member's adverts list the router's).
    #[serde(default)]
    addresses: Vec<IpAddr>,
}

fn default_interval() -> u16 {
    100
}

/// The kernel a replay runs against: the simulation's kernel model (links,
/// addresses with their prefixes, the IPVS table), plus the reference IPs
/// that answer echoes.
#[derive(Default)]
struct Kernel {
    model: SimKernel,
    reachable: BTreeSet<IpAddr>,
    /// IPVS operations the kernel refused (a replay fails on any).
    refused: Vec<String>,
}

impl Kernel {
    /// Links and addresses follow what the events say the host has.
    fn observe(&mut self, event: &Event) {
        match event {
            Event::Start {
                links, addresses, ..
            } => {
                for l in links {
                    self.model.links.insert(l.name.clone(), l.clone());
                }
                self.model.addresses.extend(addresses.iter().cloned());
            }
            Event::Link(l) => {
                if !l.exists {
                    self.model.addresses.retain(|a| a.interface != l.name);
                }
                self.model.links.insert(l.name.clone(), l.clone());
            }
            _ => {}
        }
    }

    fn answer(&mut self, cmd: &Command) -> Option<Event> {
        match cmd {
            Command::AddAddress(a) => Some(Event::AddressResult {
                address: a.clone(),
                added: true,
                outcome: self.model.add_address(a),
            }),
            Command::RemoveAddress(a) => Some(Event::AddressResult {
                address: a.clone(),
                added: false,
                outcome: self.model.remove_address(a),
            }),
            Command::SendEcho {
                router,
                target,
                seq,
            } => self.reachable.contains(target).then(|| Event::EchoReply {
                router: router.clone(),
                from: *target,
                seq: *seq,
            }),
            Command::IpvsDump => Some(Event::IpvsDumped {
                result: Ok(self.model.ipvs.clone()),
            }),
            Command::IpvsApply { ops } => {
                let refused = self.model.apply_ipvs(ops);
                self.refused.extend(refused);
                None
            }
            _ => None,
        }
    }
}

fn load_plan(path: &Path) -> Plan {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn advert_event(a: &Advert) -> Event {
    let repr = Repr {
        version: Version::V3,
        vrid: a.vrid,
        priority: a.priority,
        advert_interval: Centis(a.interval_cs),
        auth: Auth::None,
        addresses: a.addresses.clone(),
    };
    let src = IpAddr::V4(a.src);
    let dst = IpAddr::V4(MULTICAST_V4);
    let payload = repr.to_bytes(src, dst).expect("emit advert");
    Event::Vrrp {
        interface: a.interface.clone(),
        family: Family::Ipv4,
        ip: IpMeta { src, dst, ttl: 255 },
        payload,
    }
}

/// Feeds one event, answering kernel requests; returns every (event,
/// commands) pair of the turn.
fn turn(node: &mut Node, kernel: &mut Kernel, event: Event, now: Instant) -> Vec<Value> {
    let mut out = Vec::new();
    let mut pending = vec![event];
    while let Some(e) = pending.pop() {
        kernel.observe(&e);
        let cmds = node.handle(e.clone(), now);
        let mut answers: Vec<Event> = cmds.iter().filter_map(|c| kernel.answer(c)).collect();
        answers.reverse();
        out.push(json!({"event": e, "commands": cmds}));
        pending.extend(answers);
    }
    out
}

fn run_case(dir: &Path) -> Result<(), String> {
    run_case_keeping(dir, &mut None)
}

/// Replays a case; `keep` gets the node at the end (for the metrics test).
fn run_case_keeping(dir: &Path, keep: &mut Option<Node>) -> Result<(), String> {
    let plan = load_plan(&dir.join("plan.json"));
    let host = plan.host.clone();
    let mut node = Node::new(&host, plan, BTreeMap::new());
    let mut kernel = Kernel::default();
    let input = fs::read_to_string(dir.join("input.jsonl")).map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    for (n, line) in input.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with("//") {
            continue;
        }
        let step: Step =
            serde_json::from_str(line).map_err(|e| format!("input line {}: {e}", n + 1))?;
        let at = Instant(step.at_us);
        if let Some(r) = &step.reachable {
            kernel.reachable = r.iter().copied().collect();
        }
        if let Some(t) = step.ipvs.clone() {
            kernel.model.ipvs = t;
        }
        // Deadlines that passed before this step, in order.
        while let Some(d) = node.next_deadline().filter(|d| *d < at) {
            for t in turn(&mut node, &mut kernel, Event::Tick, d) {
                lines.push(json!({"at_us": d, "auto": true, "turn": t}));
            }
        }
        let event = if let Some(e) = step.event {
            e
        } else if let Some(a) = &step.advert {
            advert_event(a)
        } else if let Some(file) = &step.reload {
            Event::Reload {
                plan: Box::new(load_plan(&dir.join(file))),
                passwords: BTreeMap::new(),
            }
        } else if step.tick || step.reachable.is_some() {
            Event::Tick
        } else {
            return Err(format!("input line {}: no event", n + 1));
        };
        let turns = turn(&mut node, &mut kernel, event, at);
        let states: BTreeMap<String, String> = node
            .states()
            .into_iter()
            .map(|(r, s)| (r, format!("{s:?}")))
            .collect();
        for t in turns {
            lines.push(json!({"at_us": step.at_us, "turn": t}));
        }
        lines.push(json!({"at_us": step.at_us, "states": states}));
        for (router, want) in &step.expect {
            let got = states
                .get(router)
                .cloned()
                .unwrap_or_else(|| "absent".into());
            if &got != want {
                failures.push(format!(
                    "input line {}: router {router} is {got}, expected {want}",
                    n + 1
                ));
            }
        }
    }
    let addresses: BTreeSet<(&str, IpAddr)> = kernel
        .model
        .addresses
        .iter()
        .map(|a| (a.interface.as_str(), a.address))
        .collect();
    lines.push(json!({"final": {"addresses": addresses, "ipvs": kernel.model.ipvs, "ledger": node.ledger()}}));
    if !kernel.refused.is_empty() {
        failures.push(format!(
            "the kernel refused IPVS operations: {:?}",
            kernel.refused
        ));
    }
    let got: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let expected_path = dir.join("expected.jsonl");
    if std::env::var_os("VIGIL_UPDATE_GOLDENS").is_some() {
        fs::write(&expected_path, &got).map_err(|e| e.to_string())?;
    } else {
        let want = fs::read_to_string(&expected_path).map_err(|e| {
            format!(
                "{}: {e} (VIGIL_UPDATE_GOLDENS=1 creates it)",
                expected_path.display()
            )
        })?;
        if want != got {
            let (i, (w, g)) = want
                .lines()
                .zip(got.lines())
                .enumerate()
                .find(|(_, (w, g))| w != g)
                .unwrap_or((
                    want.lines().count().min(got.lines().count()),
                    ("<end>", "<end>"),
                ));
            failures.push(format!(
                "expected.jsonl differs at line {}:\n  want {w}\n  got  {g}",
                i + 1
            ));
        }
    }
    *keep = Some(node);
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

#[test]
fn node_replay_cases() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node_replay");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .expect("tests/node_replay")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no cases");
    let mut failed = Vec::new();
    for d in &dirs {
        if let Err(e) = run_case(d) {
            failed.push(format!(
                "{}:\n{e}",
                d.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// The value of the one sample `series` (name and labels exactly as
/// rendered) in an exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The exposition of replayed nodes: well-formed (every sample under a
/// `# TYPE` of its family, families not split, no duplicate series,
/// `promtool check metrics` clean where promtool is installed), and it
/// shows what the replay did.
#[test]
fn metrics_of_replayed_nodes() {
    use vigild::event_loop::ShellCounters;
    use vigild::health::executor::HealthIoCounters;
    use vigild::metrics::{Inputs, http::HttpCounters, render};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node_replay");
    let promtool = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok();
    if !promtool {
        eprintln!("SKIP promtool check: promtool not installed (Debian package prometheus)");
    }
    let mut texts = BTreeMap::new();
    for case in [
        "01_sync_group_link_loss_moves_all",
        "09_arbitration_veto_and_isolation",
        "10_required_fence_failure_then_success",
        "11_ipvs_presence_follows_mastership",
    ] {
        let mut node = None;
        run_case_keeping(&root.join(case), &mut node).unwrap_or_else(|e| panic!("{case}: {e}"));
        let node = node.unwrap();
        let (shell, health, http) = (
            ShellCounters::default(),
            HealthIoCounters::default(),
            HttpCounters::default(),
        );
        let inputs = Inputs {
            node: &node,
            shell: &shell,
            health: Some(&health),
            http: &http,
            start_time_s: 1_700_000_000.5,
            version: "test",
        };
        let mut text = String::new();
        render(&mut text, &inputs);
        // A second scrape reuses the buffer.
        let cap = text.capacity();
        render(&mut text, &inputs);
        assert_eq!(
            text.capacity(),
            cap,
            "{case}: the buffer grew on a second render"
        );

        let mut typed = BTreeSet::new();
        let mut closed = BTreeSet::new();
        let mut current = String::new();
        let mut series = BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap().to_string();
                assert!(typed.insert(name.clone()), "{case}: {name} typed twice");
                closed.insert(std::mem::replace(&mut current, name));
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(name, current, "{case}: sample outside its family: {line}");
            let key = line.rsplit_once(' ').unwrap().0;
            assert!(
                series.insert(key.to_string()),
                "{case}: duplicate series {key}"
            );
        }
        if promtool {
            use std::io::Write;
            let mut child = std::process::Command::new("promtool")
                .args(["check", "metrics"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{case}: promtool check metrics:\n{}{}\n{text}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        texts.insert(case, text);
    }
    let t = &texts["01_sync_group_link_loss_moves_all"];
    assert!(t.contains("vigil_plan_info{host="), "{t}");
    assert_eq!(sample(t, "vigil_start_time_seconds"), Some(1_700_000_000.5));
    assert!(
        t.lines()
            .any(|l| l.starts_with("vigil_router_transitions_total{")
                && l.contains("reason=\"fault\"")),
        "a link loss moves the group to FAULT:\n{t}"
    );
    let t = &texts["09_arbitration_veto_and_isolation"];
    assert!(
        t.lines()
            .any(|l| l.starts_with("vigil_router_master_vetoed_total{") && !l.ends_with(" 0")),
        "{t}"
    );
    assert!(
        t.lines()
            .any(|l| l.starts_with("vigil_arbitration_probes_total{")
                && l.contains("result=\"lost\"")
                && !l.ends_with(" 0")),
        "{t}"
    );
    let t = &texts["10_required_fence_failure_then_success"];
    assert!(
        t.lines().any(|l| l.starts_with("vigil_fence_runs_total{")
            && l.contains("result=\"failed\"")
            && l.ends_with(" 1")),
        "{t}"
    );
    let t = &texts["11_ipvs_presence_follows_mastership"];
    assert!(t.contains("vigil_real_server_up{virtual_server="), "{t}");
    assert!(
        t.contains("vigil_virtual_server_quorum{virtual_server="),
        "{t}"
    );
}
