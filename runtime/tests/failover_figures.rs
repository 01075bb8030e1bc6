//! Failover figures with repetitions, in the namespace lab (ignored by
//! default: it runs for about two minutes). Run with
//! `cargo test -p vigild --test failover_figures -- --ignored --nocapture`.
//!
//! Method as in the keepalived baseline: hosts 1 (priority 150) and 2
//! (priority 100) run vigild, host 3 timestamps gratuitous ARPs; before each
//! event a pseudo-random phase within one advert interval is waited out.
//! Printed: median (min-max) in ms of event -> first GARP from the new master.

mod lab;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lab::Lab;
use nix::sys::signal::Signal;
use vigild::net::arp_socket::ArpSocket;
use vigild::netlink::{NlConn, link};
use vigild::wire::arp;

const VIP: &str = "10.77.0.100/24";
const REPS: usize = 5;

type Seen = (Instant, [u8; 6], Ipv4Addr);

fn plan(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/plans")
        .join(name)
}

fn phase(max: Duration) -> Duration {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    Duration::from_micros(n % (max.as_micros() as u64).max(1))
}

fn watch(lab: &Lab) -> (Arc<Mutex<Vec<Seen>>>, Arc<AtomicBool>) {
    let sock = lab.in_ns(3, || {
        let idx = link::get_by_name(&mut NlConn::open().unwrap(), "eth0")
            .unwrap()
            .ifindex;
        ArpSocket::listener(idx).unwrap()
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, st2) = (seen.clone(), stop.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while !st2.load(Ordering::Relaxed) {
            match sock.recv(&mut buf) {
                Ok(Some((n, _))) => {
                    if let Ok(r) = arp::Repr::parse(&arp::Packet::new_unchecked(&buf[..n])) {
                        s2.lock()
                            .unwrap()
                            .push((Instant::now(), r.mac.0, r.address));
                    }
                }
                _ => std::thread::sleep(Duration::from_micros(200)),
            }
        }
    });
    (seen, stop)
}

fn first_after(
    seen: &Mutex<Vec<Seen>>,
    mac: [u8; 6],
    after: Instant,
    timeout: Duration,
) -> Option<Duration> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(t) = seen
            .lock()
            .unwrap()
            .iter()
            .find(|(t, m, _)| *t >= after && *m == mac)
            .map(|e| e.0)
        {
            return Some(t - after);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn summary(name: &str, v: &mut [f64]) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "FIGURE {name}: n={} median {:.1} ms ({:.1}-{:.1})",
        v.len(),
        v[v.len() / 2],
        v[0],
        v[v.len() - 1]
    );
}

fn run(interval: &str, adv: Duration) {
    let mut lab = Lab::new(&format!("g{interval}"), 3);
    let (seen, stop) = watch(&lab);
    let (p1, p2) = (
        plan(&format!("{interval}_ha1.json")),
        plan(&format!("{interval}_ha2.json")),
    );
    let _c2 = lab.start_vigild(2, &p2, "ha2");
    let mut c1 = lab.start_vigild(1, &p1, "ha1");
    let to = adv * 8;
    assert!(lab.wait_for(to, || lab.holders(VIP) == vec![1]).is_some());
    let (mut cut, mut heal, mut term, mut restart) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for _ in 0..REPS {
        std::thread::sleep(adv + phase(adv));
        let t = Instant::now();
        lab.cut(1);
        cut.push(ms(
            first_after(&seen, lab.mac(2), t, to).expect("takeover after cut")
        ));
        std::thread::sleep(phase(adv));
        let t = Instant::now();
        lab.heal(1);
        heal.push(ms(
            first_after(&seen, lab.mac(1), t, to).expect("preempt after heal")
        ));
        assert!(lab.wait_for(to, || lab.holders(VIP) == vec![1]).is_some());

        std::thread::sleep(adv + phase(adv));
        let t = Instant::now();
        lab.signal(c1, Signal::SIGTERM);
        term.push(ms(
            first_after(&seen, lab.mac(2), t, to).expect("takeover after SIGTERM")
        ));
        lab.wait_exit(c1, Duration::from_secs(3))
            .expect("exit after SIGTERM");
        let t = Instant::now();
        c1 = lab.start_vigild(1, &p1, "ha1");
        restart.push(ms(
            first_after(&seen, lab.mac(1), t, to).expect("preempt after restart")
        ));
        assert!(lab.wait_for(to, || lab.holders(VIP) == vec![1]).is_some());
    }
    summary(&format!("{interval} link cut -> backup GARP"), &mut cut);
    summary(
        &format!("{interval} heal -> master GARP (preempt)"),
        &mut heal,
    );
    summary(&format!("{interval} SIGTERM -> backup GARP"), &mut term);
    summary(
        &format!("{interval} restart -> master GARP (preempt)"),
        &mut restart,
    );
    let spurious = lab.log("ha2").matches(r#""to":"master""#).count();
    println!(
        "FIGURE {interval}: ha2 MASTER entries {spurious} (expected {})",
        2 * REPS
    );
    stop.store(true, Ordering::Relaxed);
}

#[test]
#[ignore = "takes about two minutes; run for figures"]
fn failover_figures() {
    if !lab::available() {
        return;
    }
    run("v3_100ms", Duration::from_millis(100));
    run("v2_1s", Duration::from_secs(1));
}
