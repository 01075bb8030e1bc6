//! IPVS programming speed against the real kernel, run by
//! `bench/ipvs/run.sh` inside the VM (`--ignored bench_`): 100 services x
//! 100 destinations from a plan through the client, the same rules through
//! `ipvsadm -R`, and one reconciliation changing 1% of the weights. Both
//! paths must produce the same `ipvsadm -Sn` table.

use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vigil_schema::plan::{
    Family, PlanMethod, PlanProtocol, PlanRealServer, PlanRealServerOnFail, PlanVirtualServer,
};
use vigild::ipvs::client::IpvsClient;
use vigild::ipvs::reconcile::{Op, Ownership, desired_from_plan_all, reconcile};

const SERVICES: usize = 100;
const DESTS: usize = 100;

fn plan(weight_of: impl Fn(usize, usize) -> u32) -> Vec<PlanVirtualServer> {
    (0..SERVICES)
        .map(|s| PlanVirtualServer {
            name: format!("vs{s:03}"),
            family: Family::Ipv4,
            protocol: Some(PlanProtocol::Tcp),
            address: Some(IpAddr::from([10, 0, (s / 250) as u8, (s % 250 + 1) as u8])),
            port: Some(80),
            fwmark: None,
            scheduler: vigil_schema::ipvs::Scheduler::Wlc,
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
            real_servers: (0..DESTS)
                .map(|d| PlanRealServer {
                    address: IpAddr::from([
                        10,
                        1 + (s / 250) as u8,
                        (s % 250) as u8,
                        (d + 1) as u8,
                    ]),
                    port: 8080,
                    weight: weight_of(s, d),
                    upper_threshold: 0,
                    lower_threshold: 0,
                })
                .collect(),
        })
        .collect()
}

fn ipvsadm(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("ipvsadm")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ipvsadm");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ipvsadm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn saved_table() -> Vec<String> {
    let mut lines: Vec<String> = ipvsadm(&["-Sn"], None).lines().map(String::from).collect();
    lines.sort();
    lines
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[test]
#[ignore = "benchmark; run by bench/ipvs/run.sh inside the VM"]
fn bench_program_10000_destinations() {
    let base = plan(|_, d| 1 + (d % 5) as u32);
    let (desired, errors) = desired_from_plan_all(&base);
    assert!(errors.is_empty());
    let mut client = IpvsClient::open().expect("IPVS");
    ipvsadm(&["-C"], None);

    // 1. Vigil: empty kernel -> plan.
    let t = Instant::now();
    let current = client.dump().unwrap();
    let r = reconcile(&desired, &current, &Ownership::default());
    let t_diff = t.elapsed();
    let results = client.apply_all(&r.ops);
    let t_vigil = t.elapsed();
    assert_eq!(r.ops.len(), SERVICES + SERVICES * DESTS);
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    let vigil_table = saved_table();

    // 2. The dump alone (10,000 destinations).
    let t = Instant::now();
    let dumped = client.dump().unwrap();
    let t_dump = t.elapsed();
    assert_eq!(
        dumped.iter().map(|s| s.dests.len()).sum::<usize>(),
        SERVICES * DESTS
    );

    // 3. ipvsadm -R with the same rules.
    let mut rules = String::new();
    for vs in &base {
        let vip = format!("{}:80", vs.address.unwrap());
        rules.push_str(&format!("-A -t {vip} -s wlc\n"));
        for rs in &vs.real_servers {
            rules.push_str(&format!(
                "-a -t {vip} -r {}:8080 -g -w {}\n",
                rs.address, rs.weight
            ));
        }
    }
    ipvsadm(&["-C"], None);
    let t = Instant::now();
    ipvsadm(&["-R"], Some(&rules));
    let t_restore = t.elapsed();
    assert_eq!(
        saved_table(),
        vigil_table,
        "ipvsadm -R and the client programmed different tables"
    );

    // 4. Reconcile after 1% of the weights changed (100 destinations);
    // three rounds alternating between two plans, the fastest reported
    // (the emulated guest shares the host's cores).
    let changed = plan(|s, d| {
        if d == s % DESTS {
            50
        } else {
            1 + (d % 5) as u32
        }
    });
    let (desired2, _) = desired_from_plan_all(&changed);
    let (mut t_update, mut t_dump2, mut t_diff2) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for round in 0..3 {
        let forward = round % 2 == 0; // to the changed plan, then back
        let target = if forward { &desired2 } else { &desired };
        let t = Instant::now();
        let current = client.dump().unwrap();
        let dumped_at = t.elapsed();
        let r2 = reconcile(target, &current, &r.owned);
        let diffed_at = t.elapsed();
        let results = client.apply_all(&r2.ops);
        t_update = t_update.min(t.elapsed());
        t_dump2 = t_dump2.min(dumped_at);
        t_diff2 = t_diff2.min(diffed_at - dumped_at);
        assert_eq!(r2.ops.len(), SERVICES, "one SET_DEST per service");
        assert!(
            r2.ops
                .iter()
                .all(|o| matches!(o, Op::SetDest(_, d) if (d.weight == 50) == forward)),
            "{:?}",
            r2.ops.first()
        );
        assert!(results.iter().all(Result::is_ok));
    }

    println!();
    println!("| step (TCG guest, 1 vCPU)                                  | ms |");
    println!("|-----------------------------------------------------------|---:|");
    println!(
        "| vigil: program 100 services + 10,000 destinations (total) | {} |",
        ms(t_vigil)
    );
    println!(
        "|   of which dump + reconcile (pure diff)                   | {} |",
        ms(t_diff)
    );
    println!(
        "| ipvsadm -R: the same 10,100 rules                         | {} |",
        ms(t_restore)
    );
    println!(
        "| vigil: dump 100 services / 10,000 destinations            | {} |",
        ms(t_dump)
    );
    println!(
        "| vigil: 1% weights changed, dump + reconcile + 100 SET (best of 3) | {} |",
        ms(t_update)
    );
    println!(
        "|   of which dump (best of 3)                               | {} |",
        ms(t_dump2)
    );
    println!(
        "|   of which reconcile (pure diff, best of 3)               | {} |",
        ms(t_diff2)
    );
    ipvsadm(&["-C"], None);
}
