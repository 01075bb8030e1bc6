//! IPVS against a real kernel: the `guest_*` tests program services from
//! plan virtual servers through [`IpvsClient`] and read them back with the
//! real `ipvsadm -Ln --exact`. The host kernel has no IPVS, so
//! `ipvs_in_a_vm` boots Debian's kernel with `tests/vm/kvm-run.sh` and runs
//! this same binary there with `--ignored guest_` (one boot for all).
//!
//! `VIGIL_SKIP_VM=1` skips the boot; otherwise a missing qemu or kernel
//! image fails the test with the harness's explanation.

use std::collections::BTreeSet;
use std::net::IpAddr;

mod guest;
use guest::{ipvsadm, listing};

use vigil_schema::plan::{
    Family, PlanMethod, PlanProtocol, PlanRealServer, PlanRealServerOnFail, PlanVirtualServer,
};
use vigild::ipvs::client::{IpvsClient, IpvsError};
use vigild::ipvs::messages::{Dest, DestKey, FwdMethod, Protocol, Service, ServiceKey};
use vigild::ipvs::reconcile::{
    Note, Op, Ownership, Reconciliation, desired_from_plan_all, reconcile,
};

// ---------------------------------------------------------------- host side

#[test]
fn ipvs_in_a_vm() {
    guest::run_guest_tests("IPVS kernel tests", &[]);
}

// --------------------------------------------------------------- guest side

fn rs(addr: &str, port: u16, weight: u32) -> PlanRealServer {
    PlanRealServer {
        address: addr.parse().unwrap(),
        port,
        weight,
        upper_threshold: 0,
        lower_threshold: 0,
    }
}

fn vs(name: &str, proto: PlanProtocol, addr: &str, port: u16, sched: &str) -> PlanVirtualServer {
    let address: IpAddr = addr.parse().unwrap();
    PlanVirtualServer {
        name: name.into(),
        family: if address.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        },
        protocol: Some(proto),
        address: Some(address),
        port: Some(port),
        fwmark: None,
        scheduler: serde_json::from_value(sched.into()).expect("a scheduler name"),
        scheduler_flags: vec![],
        method: PlanMethod::Dr,
        persistence_timeout_s: 0,
        persistence_prefix_len: 32,
        quorum: 1,
        hysteresis: 0,
        sorry_server: None,
        on_fail: PlanRealServerOnFail::Inhibit,
        only_on_master_of: None,
        keep_on_stop: false,
        health: None,
        real_servers: vec![],
    }
}

/// Three services covering TCP/v4/DR, fwmark/NAT/persistence and UDP/v6/sh flags.
fn plan() -> Vec<PlanVirtualServer> {
    let mut web = vs("web", PlanProtocol::Tcp, "10.0.0.1", 80, "wlc");
    web.real_servers = vec![rs("10.0.1.1", 80, 1), rs("10.0.1.2", 80, 3)];
    web.real_servers[1].upper_threshold = 100;
    web.real_servers[1].lower_threshold = 10;
    let mut mark = vs("mark", PlanProtocol::Tcp, "10.0.0.2", 0, "rr");
    mark.protocol = None;
    mark.address = None;
    mark.port = None;
    mark.fwmark = Some(5);
    mark.method = PlanMethod::Nat;
    mark.persistence_timeout_s = 300;
    mark.persistence_prefix_len = 24;
    mark.real_servers = vec![rs("10.0.2.1", 8080, 2)];
    let mut dns = vs("dns", PlanProtocol::Udp, "2001:db8::53", 53, "sh");
    dns.scheduler_flags = vec![vigil_schema::ipvs::SchedulerFlag::ShPort];
    dns.real_servers = vec![rs("2001:db8::1:1", 53, 1), rs("2001:db8::1:2", 53, 1)];
    vec![dns, mark, web]
}

fn reset() -> IpvsClient {
    ipvsadm(&["-C"]);
    IpvsClient::open().expect("IPVS is available in the guest")
}

/// Dump, reconcile, apply; every operation must succeed.
fn converge(
    client: &mut IpvsClient,
    vss: &[PlanVirtualServer],
    owned: &Ownership,
) -> Reconciliation {
    let (desired, errors) = desired_from_plan_all(vss);
    assert!(errors.is_empty(), "{errors:?}");
    let current = client.dump().expect("dump");
    let r = reconcile(&desired, &current, owned);
    for (op, res) in r.ops.iter().zip(client.apply_all(&r.ops)) {
        res.unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    r
}

fn expected_initial() -> Vec<String> {
    [
        "TCP 10.0.0.1:80 wlc",
        "-> 10.0.1.1:80 Route 1",
        "-> 10.0.1.2:80 Route 3",
        "UDP [2001:db8::53]:53 sh (sh-port)",
        "-> [2001:db8::1:1]:53 Route 1",
        "-> [2001:db8::1:2]:53 Route 1",
        "FWM 5 rr persistent 300 mask 255.255.255.0",
        "-> 10.0.2.1:8080 Masq 2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
#[ignore = "needs a kernel with IPVS; run by ipvs_in_a_vm"]
fn guest_probe_reports_version() {
    let (_c, info) = IpvsClient::probe().expect("probe");
    assert_eq!(info.version, 0x010201, "IPVS 1.2.1");
    assert_eq!(info.conn_tab_size, 4096);
}

#[test]
#[ignore = "needs a kernel with IPVS; run by ipvs_in_a_vm"]
fn guest_create_from_plan_matches_ipvsadm() {
    let mut c = reset();
    let r = converge(&mut c, &plan(), &Ownership::default());
    assert_eq!(r.ops.len(), 3 + 5);
    let got = listing();
    // ipvsadm orders by its hash table; compare as sets but print both.
    assert_eq!(
        sorted(got.clone()),
        sorted(expected_initial()),
        "ipvsadm shows:\n{}",
        got.join("\n")
    );
    let thresholds = ipvsadm(&["-Ln", "--thresholds", "-t", "10.0.0.1:80"]);
    assert!(
        thresholds
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..]
                == ["->", "10.0.1.2:80", "100", "10", "0", "0"]),
        "{thresholds}"
    );
    // The kernel's view decodes back into exactly the desired state.
    let again = converge(&mut c, &plan(), &r.owned);
    assert!(again.ops.is_empty(), "{:?}", again.ops);
}

#[test]
#[ignore = "needs a kernel with IPVS; run by ipvs_in_a_vm"]
fn guest_weight_update_is_set_only() {
    let mut c = reset();
    let first = converge(&mut c, &plan(), &Ownership::default());
    let mut p = plan();
    p[2].real_servers[0].weight = 9; // web 10.0.1.1
    p[1].scheduler = vigil_schema::ipvs::Scheduler::Wrr; // mark
    let r = converge(&mut c, &p, &first.owned);
    assert_eq!(r.ops.len(), 2, "{:?}", r.ops);
    assert!(matches!(r.ops[0], Op::SetService(_)));
    assert!(matches!(r.ops[1], Op::SetDest(_, Dest { weight: 9, .. })));
    let got = listing();
    assert!(
        got.contains(&"-> 10.0.1.1:80 Route 9".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"FWM 5 wrr persistent 300 mask 255.255.255.0".to_string()),
        "{got:?}"
    );
}

#[test]
#[ignore = "needs a kernel with IPVS; run by ipvs_in_a_vm"]
fn guest_remove_dest_and_service() {
    let mut c = reset();
    let first = converge(&mut c, &plan(), &Ownership::default());
    let mut p = plan();
    p[2].real_servers.remove(0); // web loses 10.0.1.1
    p.remove(1); // mark goes away
    let r = converge(&mut c, &p, &first.owned);
    assert_eq!(r.ops.len(), 2, "{:?}", r.ops);
    let got = sorted(listing());
    let want = sorted(
        expected_initial()
            .into_iter()
            .filter(|l| !l.contains("10.0.1.1:") && !l.contains("FWM 5") && !l.contains("10.0.2.1"))
            .collect(),
    );
    assert_eq!(got, want);
}

#[test]
#[ignore = "needs a kernel with IPVS; run by ipvs_in_a_vm"]
fn guest_restart_readopts_without_recreating() {
    let mut c = reset();
    // What the crashed run's ledger recorded.
    let ledger = converge(&mut c, &plan(), &Ownership::default()).owned;
    // An operator nudges one weight while we are down.
    ipvsadm(&[
        "-e",
        "-t",
        "10.0.0.1:80",
        "-r",
        "10.0.1.2:80",
        "-g",
        "-w",
        "7",
        "-x",
        "100",
        "-y",
        "10",
    ]);
    drop(c);
    let mut fresh = IpvsClient::open().unwrap();
    // Without the ledger nothing is provably ours: every planned key is a
    // conflict, and nothing is touched.
    let r = converge(&mut fresh, &plan(), &Ownership::default());
    assert!(r.ops.is_empty(), "{:?}", r.ops);
    assert_eq!(
        r.notes
            .iter()
            .filter(|n| matches!(n, Note::KeyConflict { .. }))
            .count(),
        3
    );
    // With it, the services are ours again: only the drifted weight is set.
    let r = converge(&mut fresh, &plan(), &ledger);
    assert_eq!(
        r.ops.len(),
        1,
        "only the drifted weight is set: {:?}",
        r.ops
    );
    assert!(matches!(&r.ops[0], Op::SetDest(_, d) if d.weight == 3));
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(r.owned, ledger);
    assert_eq!(sorted(listing()), sorted(expected_initial()));
}

#[test]
#[ignore = "needs a kernel with IPVS; run by ipvs_in_a_vm"]
fn guest_foreign_entries_are_left_alone() {
    let mut c = reset();
    ipvsadm(&["-A", "-t", "10.9.9.9:443", "-s", "rr"]);
    ipvsadm(&[
        "-a",
        "-t",
        "10.9.9.9:443",
        "-r",
        "10.9.9.10:443",
        "-m",
        "-w",
        "4",
    ]);
    let first = converge(&mut c, &plan(), &Ownership::default());
    // A foreign destination inside our own service.
    ipvsadm(&[
        "-a",
        "-t",
        "10.0.0.1:80",
        "-r",
        "10.0.7.7:80",
        "-g",
        "-w",
        "1",
    ]);
    let mut p = plan();
    p.remove(1);
    p[1].real_servers[0].weight = 5;
    let r = converge(&mut c, &p, &first.owned);
    assert!(r.notes.iter().any(|n| matches!(n, Note::ForeignDestKept(_, d) if d.port == 80 && d.addr == "10.0.7.7".parse::<IpAddr>().unwrap())));
    let got = listing();
    for line in [
        "TCP 10.9.9.9:443 rr",
        "-> 10.9.9.10:443 Masq 4",
        "-> 10.0.7.7:80 Route 1",
        "-> 10.0.1.1:80 Route 5",
    ] {
        assert!(
            got.contains(&line.to_string()),
            "missing {line:?} in {got:?}"
        );
    }
    assert!(!got.iter().any(|l| l.starts_with("FWM 5")), "{got:?}");
    // Even an empty plan with full ownership only removes our services.
    let r = converge(&mut c, &[], &r.owned);
    assert_eq!(r.ops.len(), 2, "{:?}", r.ops);
    assert_eq!(
        listing(),
        vec![
            "TCP 10.9.9.9:443 rr".to_string(),
            "-> 10.9.9.10:443 Masq 4".to_string()
        ]
    );
}

#[test]
#[ignore = "needs a kernel with IPVS; run by ipvs_in_a_vm"]
fn guest_bad_entries_are_reported_clearly() {
    let mut c = reset();
    let mut p = plan();
    // A plan entry vigild cannot program: a flag of another scheduler.
    p[2].scheduler_flags = vec![vigil_schema::ipvs::SchedulerFlag::MhPort];
    let (desired, errors) = desired_from_plan_all(&p);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .to_string()
            .contains("virtual server `web`: scheduler flag `mh-port` needs scheduler `mh`")
    );
    let r = reconcile(&desired, &c.dump().unwrap(), &Ownership::default());
    for res in c.apply_all(&r.ops) {
        res.unwrap();
    }
    let got = listing();
    assert!(
        !got.iter().any(|l| l.contains("10.0.0.1:80")),
        "the bad service is not programmed: {got:?}"
    );
    assert!(
        got.iter().any(|l| l.starts_with("FWM 5")),
        "the good ones are: {got:?}"
    );

    // The kernel's own refusals come back with their meaning.
    let svc = Service {
        key: ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "10.0.0.9".parse().unwrap(),
            port: 80,
        },
        scheduler: "nosuch".into(),
        flags: 0,
        timeout_s: 0,
        netmask: u32::MAX,
    };
    let e = c.new_service(&svc).unwrap_err();
    assert!(matches!(e, IpvsError::Kernel { .. }), "{e:?}");
    assert!(e.to_string().contains("scheduler"), "{e}");
    let svc = Service {
        scheduler: "rr".into(),
        ..svc
    };
    c.new_service(&svc).unwrap();
    let e = c.new_service(&svc).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let dest = Dest {
        key: DestKey {
            addr: "10.0.1.1".parse().unwrap(),
            port: 80,
        },
        fwd: FwdMethod::Route,
        weight: 1,
        upper_threshold: 0,
        lower_threshold: 0,
    };
    let missing = ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "10.0.0.10".parse().unwrap(),
        port: 80,
    };
    let e = c.new_dest(&missing, &dest).unwrap_err();
    assert!(e.to_string().contains("no such virtual service"), "{e}");
    let e = c.del_dest(&svc.key, &dest.key).unwrap_err();
    assert!(e.to_string().contains("no such destination"), "{e}");
    let owned: BTreeSet<_> = r.owned.services.iter().collect();
    assert_eq!(owned.len(), 2);
}

/// The event loop's part for the director: the core's IPVS and probe
/// commands go to the executor, its answers back to the core.
struct Shell {
    core: vigild::node::director::DirectorCore,
    io: vigild::health::executor::HealthIo,
    poll: mio::Poll,
    origin: std::time::Instant,
}

impl Shell {
    fn start(vss: Vec<PlanVirtualServer>, ledger: Ownership) -> Shell {
        let origin = std::time::Instant::now();
        let (core, cmds) =
            vigild::node::director::DirectorCore::new(vss, ledger, vigild::vrrp::Instant::ZERO);
        let io = vigild::health::executor::HealthIo::open(1 << 24).expect("IPVS in the guest");
        let mut shell = Shell {
            core,
            io,
            poll: mio::Poll::new().unwrap(),
            origin,
        };
        shell.run(cmds);
        shell
    }

    fn now(&self) -> vigild::vrrp::Instant {
        vigild::vrrp::Instant::from_micros(self.origin.elapsed().as_micros() as u64)
    }

    /// Carries out commands; every IPVS operation must succeed.
    fn run(&mut self, cmds: Vec<vigild::node::Command>) {
        use vigild::node::Command;
        let mut queue: std::collections::VecDeque<Command> = cmds.into();
        while let Some(cmd) = queue.pop_front() {
            if !matches!(
                cmd,
                Command::StartProbe { .. }
                    | Command::AbortProbe { .. }
                    | Command::IpvsDump
                    | Command::IpvsApply { .. }
            ) {
                continue; // logs
            }
            let now = self.now();
            let (events, logs) = self.io.execute(&cmd, self.poll.registry(), now);
            for (event, fields) in logs {
                assert_ne!(event, "ipvs_error", "{fields}");
            }
            for e in events {
                queue.extend(self.feed(e));
            }
        }
    }

    fn feed(&mut self, e: vigild::node::Event) -> Vec<vigild::node::Command> {
        use vigild::node::Event;
        let now = self.now();
        match e {
            Event::ProbeDone { rs, result } => self.core.on_probe_done(rs, result, now),
            Event::IpvsDumped { result } => self.core.on_ipvs_dumped(result, now),
            _ => Vec::new(),
        }
    }

    /// Runs the loop until `done` holds (or 10 s pass).
    fn drive(&mut self, done: impl Fn(&vigild::node::director::DirectorCore) -> bool) {
        let mut events = mio::Events::with_capacity(16);
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done(&self.core) {
            assert!(
                std::time::Instant::now() < end,
                "director did not converge: {:?}",
                self.core.counters()
            );
            self.poll
                .poll(&mut events, Some(std::time::Duration::from_millis(10)))
                .unwrap();
            let now = self.now();
            let tokens: Vec<mio::Token> = events.iter().map(|e| e.token()).collect();
            let mut answers = Vec::new();
            for t in tokens {
                assert!(self.io.owns(t), "foreign token {t:?}");
                answers.extend(self.io.on_ready(t, self.poll.registry(), now));
            }
            answers.extend(self.io.poll(self.poll.registry(), now));
            for e in answers {
                let cmds = self.feed(e);
                self.run(cmds);
            }
            if self.core.next_deadline().is_some_and(|t| t <= now) {
                let cmds = self.core.tick(now);
                self.run(cmds);
            }
        }
    }

    fn role(&mut self, router: &str, state: vigild::vrrp::State) {
        let cmds = self.core.set_master(router, state, self.now());
        self.run(cmds);
    }
}

#[test]
#[ignore = "needs a kernel with IPVS; run by ipvs_in_a_vm"]
fn guest_director_health_quorum_sorry_server_and_mastership() {
    use vigil_schema::plan::{PlanCheck, PlanHealth};
    use vigild::health::scheduler::RsId;
    use vigild::vrrp::State;

    reset();
    // 127.0.0.1:P answers, 127.0.0.2:P refuses: quorum 2 of weights 1+1 is lost.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut web = vs("web", PlanProtocol::Tcp, "10.0.0.1", 80, "rr");
    web.real_servers = vec![rs("127.0.0.1", port, 1), rs("127.0.0.2", port, 1)];
    web.quorum = 2;
    web.sorry_server = Some(rs("127.0.0.3", 80, 1));
    web.health = Some(PlanHealth {
        interval_ms: 50,
        timeout_ms: 500,
        rise: 1,
        fall: 1,
        warmup_ms: 0,
        check: PlanCheck::Tcp { port: None },
    });
    let mut gated = vs("gated", PlanProtocol::Tcp, "10.0.0.2", 80, "rr");
    gated.real_servers = vec![rs("10.0.1.1", 80, 1)];
    gated.only_on_master_of = Some("vr1".into());
    let mut kept = vs("kept", PlanProtocol::Udp, "10.0.0.3", 53, "rr");
    kept.real_servers = vec![rs("10.0.1.1", 53, 1)];
    kept.keep_on_stop = true;

    let mut d = Shell::start(vec![web, gated, kept], Ownership::default());
    let got = listing();
    assert!(
        got.contains(&"-> 127.0.0.2:80 Route 1".to_string()),
        "initially up: {got:?}"
    );
    assert!(
        !got.iter().any(|l| l.contains("10.0.0.2:80")),
        "gated service absent while its router is undecided: {got:?}"
    );

    d.drive(|c| c.scheduler().sorry_active(0));
    assert_eq!(d.core.scheduler().is_up(RsId { vs: 0, rs: 0 }), Some(true));
    assert_eq!(d.core.scheduler().is_up(RsId { vs: 0, rs: 1 }), Some(false));
    let got = listing();
    for line in [
        "-> 127.0.0.1:80 Route 0".to_string(),
        "-> 127.0.0.2:80 Route 0".to_string(),
        "-> 127.0.0.3:80 Route 1".to_string(),
    ] {
        assert!(got.contains(&line), "missing {line:?} in {got:?}");
    }

    d.role("vr1", State::Master);
    assert!(listing().contains(&"TCP 10.0.0.2:80 rr".to_string()));
    d.role("vr1", State::Backup);
    assert!(!listing().iter().any(|l| l.contains("10.0.0.2:80")));

    let cmds = d.core.shutdown(d.now());
    d.run(cmds);
    assert_eq!(
        listing(),
        vec![
            "UDP 10.0.0.3:53 rr".to_string(),
            "-> 10.0.1.1:53 Route 1".to_string()
        ],
        "only the keep_on_stop service remains"
    );
    assert_eq!(d.core.ownership().services.len(), 1, "kept: still ours");
    assert!(
        d.core.counters().checks_started >= 2 && d.io.counters.ipvs_errors == 0,
        "{:?} {:?}",
        d.core.counters(),
        d.io.counters
    );
    drop(listener);
}

#[test]
#[ignore = "needs a kernel with IPVS; run by ipvs_in_a_vm"]
fn guest_director_restart_readopts_from_the_ledger_and_reload_deletes_dropped_services() {
    reset();
    let crashed = Shell::start(plan(), Ownership::default());
    assert_eq!(crashed.core.counters().ipvs_ops, 3 + 5);
    let ledger = crashed.core.ownership().clone();
    // A crash: no shutdown, the kernel keeps everything.
    std::mem::forget(crashed);
    // Without the ledger nothing is provably ours: untouched, reported.
    let lost = Shell::start(plan(), Ownership::default());
    assert_eq!(lost.core.counters().ipvs_ops, 0);
    assert_eq!(lost.core.counters().key_conflicts, 3);
    assert!(lost.core.ownership().services.is_empty());
    drop(lost);
    let mut d = Shell::start(plan(), ledger.clone());
    assert_eq!(
        d.core.counters().ipvs_ops,
        0,
        "a restart re-adopts without re-creating anything"
    );
    assert_eq!(d.core.ownership(), &ledger);
    assert_eq!(sorted(listing()), sorted(expected_initial()));

    let mut smaller = plan();
    smaller.remove(0); // dns
    let cmds = d.core.reload(smaller, d.now());
    d.run(cmds);
    assert_eq!(d.core.counters().ipvs_ops, 1, "{:?}", d.core.counters());
    assert!(
        !listing().iter().any(|l| l.starts_with("UDP")),
        "{:?}",
        listing()
    );
    let cmds = d.core.shutdown(d.now());
    d.run(cmds);
    assert!(listing().is_empty(), "{:?}", listing());
}
