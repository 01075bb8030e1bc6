//! Lease arbitration on real kernel networking with a real etcd cluster:
//! two vigild hosts (ha1 priority 150, ha2 priority 100), three etcd
//! members (e1..e3) and a gateway (host 6, the reference IP, which both
//! vigild hosts reach throughout) in network namespaces on one bridge. The plan comes
//! from `vigil build` on `tests/topologies/lease.toml` (TTL 3s, adverts
//! every 200ms). Partitions are nftables drop rules inside the
//! namespaces. A thread samples who holds the VIP every 10 ms through the
//! whole run; no sample may show two holders.
//!
//! Steps, each checked on the samples of its own window:
//! 1. ha1 (and e1) cut off from the etcd majority, ha1 still hearing ha2
//!    and reaching the gateway (reference-IP arbitration sees nothing wrong):
//!    ha1 releases within TTL + one advert interval, ha2 takes over;
//!    healing the cut moves nothing.
//! 2. the link between ha1 and ha2 cut, both reaching etcd: no second master.
//! 3. the etcd leader killed: no VIP move.
//! 4. the whole store down: the holder releases within TTL + one advert
//!    interval and nobody holds the VIP (documented: no master without the store).
//! 5. the store back: exactly one transition, to one holder.
//! 6. SIGTERM on the holder: it revokes its lease on the way out, and the
//!    other takes over in less than the TTL.
//!
//! Needs root and etcd (Debian `etcd-server`); skipped with a message
//! where `etcd` is not installed; fails unless `VIGIL_SKIP_NETNS=1` when
//! it cannot create namespaces.

mod lab;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lab::Lab;

const VIP: &str = "10.77.0.100/24";
const TTL: Duration = Duration::from_secs(3);
const ADVERT: Duration = Duration::from_millis(200);
/// Hosts 3, 4, 5 run etcd.
const ETCD: [usize; 3] = [3, 4, 5];

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn vigil_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VIGIL_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/vigil")
}

fn vigil_build(topology: &Path, out: &Path) {
    let bin = vigil_bin();
    assert!(
        bin.exists(),
        "{} is missing: build the compiler first (`cargo build -p vigil`) or set VIGIL_BIN",
        bin.display()
    );
    let o = Command::new(bin)
        .arg("build")
        .arg(topology)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run vigil build");
    assert!(
        o.status.success(),
        "vigil build failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The etcd members, killed on drop (before the lab deletes the namespaces).
struct Etcd {
    dir: PathBuf,
    ns: Vec<String>,
    addrs: Vec<String>,
    children: Vec<Option<Child>>,
}

impl Etcd {
    fn new(lab: &Lab) -> Etcd {
        Etcd {
            dir: lab.dir.join("etcd"),
            ns: ETCD.iter().map(|&i| lab.ns(i)).collect(),
            addrs: ETCD.iter().map(|&i| lab.addr(i).to_string()).collect(),
            children: vec![None, None, None],
        }
    }

    fn start(&mut self, k: usize) {
        let cluster: Vec<String> = self
            .addrs
            .iter()
            .enumerate()
            .map(|(j, a)| format!("e{}=http://{a}:2380", j + 1))
            .collect();
        let a = &self.addrs[k];
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("e{}.log", k + 1)))
            .expect("etcd log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns[k], "etcd"])
            .args(["--name", &format!("e{}", k + 1)])
            .arg("--data-dir")
            .arg(self.dir.join(format!("e{}", k + 1)))
            .args(["--listen-client-urls", &format!("http://{a}:2379")])
            .args(["--advertise-client-urls", &format!("http://{a}:2379")])
            .args(["--listen-peer-urls", &format!("http://{a}:2380")])
            .args(["--initial-advertise-peer-urls", &format!("http://{a}:2380")])
            .args(["--initial-cluster", &cluster.join(",")])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", "vigil-lease-lab"])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            // Without pre-vote (off by default in 3.4) a member rejoining
            // from a partition forces an election with its higher term,
            // which can stall the cluster for longer than a short TTL.
            .arg("--pre-vote")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn etcd");
        self.children[k] = Some(child);
    }

    fn kill(&mut self, k: usize) {
        if let Some(mut c) = self.children[k].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// POST to member `k`'s gateway from inside its namespace.
    fn post(&self, k: usize, path: &str, body: &str) -> Option<String> {
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns[k],
                "curl",
                "-s",
                "-m",
                "1",
                "-X",
                "POST",
            ])
            .arg(format!("http://{}:2379{path}", self.addrs[k]))
            .args(["-d", body])
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// (member id, leader id) as member `k` reports them.
    fn status(&self, k: usize) -> Option<(String, String)> {
        let text = self.post(k, "/v3/maintenance/status", "{}")?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let member = v["header"]["member_id"].as_str()?.to_string();
        let leader = v["leader"].as_str()?.to_string();
        (leader != "0").then_some((member, leader))
    }

    /// The index of the current leader, once all running members agree on one.
    fn leader(&self) -> Option<usize> {
        let st: Vec<Option<(String, String)>> = (0..3)
            .map(|k| {
                if self.children[k].is_some() {
                    self.status(k)
                } else {
                    None
                }
            })
            .collect();
        let running: Vec<&(String, String)> = st.iter().flatten().collect();
        let leader = &running.first()?.1;
        if running.len() != self.children.iter().filter(|c| c.is_some()).count()
            || running.iter().any(|(_, l)| l != leader)
        {
            return None;
        }
        st.iter()
            .position(|s| s.as_ref().is_some_and(|(m, _)| m == leader))
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for k in 0..3 {
            self.kill(k);
        }
    }
}

/// nftables drop rules in host `i`: every packet from or to `peers`.
fn block(lab: &Lab, i: usize, peers: &[usize]) {
    let set: Vec<String> = peers.iter().map(|&p| lab.addr(p).to_string()).collect();
    let set = set.join(", ");
    let rules = format!(
        "table inet leaselab {{\n\
         chain input {{ type filter hook input priority 0; ip saddr {{ {set} }} drop; }}\n\
         chain output {{ type filter hook output priority 0; ip daddr {{ {set} }} drop; }}\n\
         }}\n"
    );
    let file = lab.write(&format!("nft-{i}.conf"), &rules);
    let st = Command::new("ip")
        .args(["netns", "exec", &lab.ns(i), "nft", "-f"])
        .arg(&file)
        .status()
        .expect("run nft");
    assert!(st.success(), "nft in host {i}");
}

fn unblock(lab: &Lab, i: usize) {
    let _ = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns(i),
            "nft",
            "delete",
            "table",
            "inet",
            "leaselab",
        ])
        .stderr(Stdio::null())
        .status();
}

/// When, and which hosts held the VIP.
type Sample = (Instant, Vec<usize>);

/// VIP holders sampled every 10 ms.
struct Watch {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    /// Samples over rtnetlink sockets opened inside the two hosts'
    /// namespaces (a dump takes microseconds, so the period is 10 ms).
    fn start(lab: &Lab) -> Watch {
        let vip: std::net::IpAddr = VIP.split('/').next().unwrap().parse().unwrap();
        let mut conns = Vec::new();
        for i in 1..=2 {
            let conn = lab.in_ns(i, || {
                vigild::netlink::NlConn::open().expect("rtnetlink socket")
            });
            conns.push((conn, lab.ifindex(i, "eth0")));
        }
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (samples.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut next = Instant::now();
            while !st.load(Ordering::Relaxed) {
                let mut holders = Vec::new();
                for (k, (conn, ifindex)) in conns.iter_mut().enumerate() {
                    // A failed dump counts as holding: it can only add
                    // dual samples, never hide one.
                    let held = vigild::netlink::addr::dump(conn, *ifindex)
                        .map(|addrs| addrs.iter().any(|a| a.address == vip))
                        .unwrap_or(true);
                    if held {
                        holders.push(k + 1);
                    }
                }
                s.lock().unwrap().push((Instant::now(), holders));
                next += Duration::from_millis(10);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        Watch {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    fn since(&self, t: Instant) -> Vec<(Instant, Vec<usize>)> {
        self.samples
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, _)| *at >= t)
            .cloned()
            .collect()
    }

    fn now_holders(&self) -> Vec<usize> {
        self.samples
            .lock()
            .unwrap()
            .last()
            .map(|(_, h)| h.clone())
            .unwrap_or_default()
    }

    fn wait(&self, timeout: Duration, want: &[usize]) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.now_holders() == want {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The changes of the holder set in a window: (time since `from`, new holders).
fn transitions(samples: &[(Instant, Vec<usize>)], from: Instant) -> Vec<(Duration, Vec<usize>)> {
    let mut out: Vec<(Duration, Vec<usize>)> = Vec::new();
    let mut last: Option<&Vec<usize>> = None;
    for (at, h) in samples {
        if last.is_some_and(|l| l != h) {
            out.push((at.saturating_duration_since(from), h.clone()));
        }
        last = Some(h);
    }
    out
}

/// The lease state and arbitration verdict of router `web` as
/// `vigild status --json` shows them.
fn lease_state(socket: &Path) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vigild"))
        .args(["status", "--json", "--socket"])
        .arg(socket)
        .output()
        .expect("vigild status");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let r = &v["routers"][0];
    let word = |k: &str| r[k].as_str().unwrap_or("?").to_string();
    (word("lease"), word("arbitration"))
}

fn dual(samples: &[(Instant, Vec<usize>)]) -> usize {
    samples.iter().filter(|(_, h)| h.len() > 1).count()
}

#[test]
fn lease_arbitration_with_a_real_etcd_cluster() {
    if !have("etcd") {
        eprintln!("SKIPPED: `etcd` is not installed (Debian package etcd-server)");
        return;
    }
    if !lab::available() {
        return;
    }
    assert!(
        have("nft"),
        "the lease lab needs nft (nftables) for its partitions"
    );
    assert!(
        have("curl"),
        "the lease lab needs curl to find the etcd leader"
    );
    let mut lab = Lab::new("lease", 6);
    let mut etcd = Etcd::new(&lab);
    std::fs::create_dir_all(&etcd.dir).unwrap();
    let topo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/topologies/lease.toml");
    let out = lab.dir.join("plans");
    vigil_build(&topo, &out);

    for k in 0..3 {
        etcd.start(k);
    }
    assert!(
        lab.wait_for(Duration::from_secs(20), || etcd.leader().is_some())
            .is_some(),
        "etcd never elected a leader"
    );
    let watch = Watch::start(&lab);
    let run_start = Instant::now();
    let logs = |lab: &Lab| format!("--- ha1\n{}\n--- ha2\n{}", lab.log("ha1"), lab.log("ha2"));

    let sock = |h: &str| lab.dir.join(format!("{h}.sock"));
    let (sock1, sock2) = (sock("ha1"), sock("ha2"));
    let c1 = lab.start_vigild_args(
        1,
        &out.join("ha1/plan.json"),
        "ha1",
        &[],
        &["--control-socket", sock1.to_str().unwrap()],
    );
    assert!(
        watch.wait(Duration::from_secs(10), &[1]).is_some(),
        "ha1 never became master\n{}",
        logs(&lab)
    );
    let c2 = lab.start_vigild_args(
        2,
        &out.join("ha2/plan.json"),
        "ha2",
        &[],
        &["--control-socket", sock2.to_str().unwrap()],
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        watch.now_holders(),
        vec![1],
        "ha1 stays master once ha2 runs\n{}",
        logs(&lab)
    );

    // 1. ha1 and e1 cut off from e2 and e3 (the majority); ha1 still hears ha2.
    eprintln!(
        "step 1: the etcd leader before the cut is e{:?}",
        etcd.leader().map(|k| k + 1)
    );
    let t1 = Instant::now();
    block(&lab, 1, &[4, 5]);
    block(&lab, 3, &[4, 5]);
    let released = watch.wait(TTL + ADVERT + Duration::from_secs(2), &[]);
    let took = watch.wait(TTL * 2, &[2]);
    let w1 = watch.since(t1);
    let released_at = transitions(&w1, t1).first().map(|(d, _)| *d);
    let took_at = transitions(&w1, t1)
        .iter()
        .find(|(_, h)| *h == vec![2])
        .map(|(d, _)| *d);
    eprintln!("step 1: ha1 released {released_at:?} after the cut, ha2 took over {took_at:?}");
    assert!(
        released.is_some() && took.is_some(),
        "no takeover\n{}",
        logs(&lab)
    );
    assert!(
        released_at.is_some_and(|d| d <= TTL + ADVERT),
        "ha1 released {released_at:?} after the cut (limit TTL + advert = {:?})\n{}",
        TTL + ADVERT,
        logs(&lab)
    );
    let ((s1, a1), (s2, _)) = (lease_state(&sock1), lease_state(&sock2));
    eprintln!("step 1: vigild status: ha1 lease {s1} arbitration {a1}, ha2 lease {s2}");
    assert_eq!(s2, "holding");
    assert!(
        s1 == "store_unreachable" || s1 == "held_by_other",
        "ha1 lease {s1}"
    );
    assert_eq!(a1, "reachable", "ha1 still reaches the gateway");
    unblock(&lab, 1);
    unblock(&lab, 3);
    let t1h = Instant::now();
    std::thread::sleep(TTL + Duration::from_secs(1));
    let w1h = watch.since(t1h);
    eprintln!("step 1 heal: transitions {:?}", transitions(&w1h, t1h));
    assert!(
        transitions(&w1h, t1h).is_empty(),
        "healing the cut moved the VIP\n{}",
        logs(&lab)
    );
    assert_eq!(watch.now_holders(), vec![2]);

    // 2. The link between ha1 and ha2 cut; both reach etcd.
    let t2 = Instant::now();
    block(&lab, 1, &[2]);
    block(&lab, 2, &[1]);
    std::thread::sleep(TTL * 2);
    let w2 = watch.since(t2);
    eprintln!("step 2: transitions {:?}", transitions(&w2, t2));
    assert!(
        transitions(&w2, t2).is_empty(),
        "the VIP moved with both hosts reaching etcd\n{}",
        logs(&lab)
    );
    assert!(
        lab.log("ha1").contains("master_vetoed"),
        "ha1 saw no master and was not vetoed?\n{}",
        logs(&lab)
    );
    unblock(&lab, 1);
    unblock(&lab, 2);
    std::thread::sleep(Duration::from_secs(1));

    // 3. The etcd leader killed.
    let leader = etcd.leader().expect("an etcd leader");
    let t3 = Instant::now();
    etcd.kill(leader);
    std::thread::sleep(TTL * 2);
    let w3 = watch.since(t3);
    eprintln!(
        "step 3: killed e{}, transitions {:?}",
        leader + 1,
        transitions(&w3, t3)
    );
    assert!(
        transitions(&w3, t3).is_empty(),
        "killing the etcd leader moved the VIP\n{}",
        logs(&lab)
    );
    etcd.start(leader);
    assert!(
        lab.wait_for(Duration::from_secs(20), || etcd.leader().is_some())
            .is_some(),
        "etcd did not recover"
    );

    // 4. The whole store down.
    let holder = watch.now_holders();
    assert_eq!(holder.len(), 1);
    let t4 = Instant::now();
    for k in 0..3 {
        etcd.kill(k);
    }
    let released = watch.wait(TTL + ADVERT + Duration::from_secs(2), &[]);
    std::thread::sleep(TTL);
    let w4 = watch.since(t4);
    let tr4 = transitions(&w4, t4);
    eprintln!("step 4: store down, transitions {tr4:?}");
    assert!(
        released.is_some(),
        "the master kept the VIP without the store\n{}",
        logs(&lab)
    );
    assert_eq!(tr4.len(), 1, "one release, nothing else: {tr4:?}");
    assert!(
        tr4[0].0 <= TTL + ADVERT,
        "released {:?} after the store went down",
        tr4[0].0
    );
    assert!(watch.now_holders().is_empty());

    // 5. The store back.
    let t5 = Instant::now();
    for k in 0..3 {
        etcd.start(k);
    }
    let back = watch.wait(Duration::from_secs(20), &holder);
    let back =
        back.or_else(|| watch.wait(Duration::from_secs(1), &[if holder == [1] { 2 } else { 1 }]));
    std::thread::sleep(TTL * 2);
    let w5 = watch.since(t5);
    let tr5 = transitions(&w5, t5);
    eprintln!("step 5: store back, transitions {tr5:?}");
    assert!(
        back.is_some(),
        "no master after the store came back\n{}",
        logs(&lab)
    );
    assert_eq!(
        tr5.len(),
        1,
        "exactly one transition: {tr5:?}\n{}",
        logs(&lab)
    );

    // 6. SIGTERM on the holder: it resigns, then revokes its lease, so the
    // other takes over without waiting for the TTL.
    let holder = watch.now_holders();
    let (child, other) = if holder == [1] { (c1, 2) } else { (c2, 1) };
    let t6 = Instant::now();
    lab.signal(child, nix::sys::signal::Signal::SIGTERM);
    let took = watch.wait(TTL, &[other]);
    let w6 = watch.since(t6);
    eprintln!(
        "step 6: SIGTERM on ha{}, transitions {:?}",
        holder[0],
        transitions(&w6, t6)
    );
    assert!(
        took.is_some_and(|d| d < TTL),
        "ha{other} did not take over within the TTL after a clean shutdown (revoke)\n{}",
        logs(&lab)
    );
    assert!(
        lab.wait_exit(child, Duration::from_secs(5)).is_some(),
        "vigild did not exit"
    );
    assert!(
        lab.log(&format!("ha{}", holder[0]))
            .lines()
            .any(|l| l.contains("\"lease_revoked\"") && l.contains("\"ok\":true")),
        "no revoke answered\n{}",
        logs(&lab)
    );

    let all = watch.since(run_start);
    let d = dual(&all);
    eprintln!(
        "{} samples over {:?}, {d} with two holders",
        all.len(),
        run_start.elapsed()
    );
    assert_eq!(d, 0, "two holders in {d} samples\n{}", logs(&lab));
    let status = lab.log("ha2");
    assert!(
        status.contains("\"lease\""),
        "ha2 logged no lease event\n{status}"
    );
    drop(watch);
    drop(etcd);
}
