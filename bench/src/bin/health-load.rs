//! Health-check load: how much CPU and memory vigild's health checking
//! costs with thousands of real servers.
//!
//! `health-load serve N PORT` answers HTTP on 127.0.0.1:PORT..PORT+N (one
//! listener per real server) in its own process, so its cost is not
//! counted. `health-load check N PORT SECONDS` runs vigild's health-check
//! scheduler and probes (`vigild::health`) in a mio loop of the same shape
//! as the daemon's director, checks every server by HTTP GET at a 1 s
//! interval, and prints CPU (% of one core), RSS and check counts for the
//! measured window. IPVS is left out: at steady state (no server changes
//! health) the director sends nothing to the kernel.
//!
//! Run it with `bench/health/run.sh` (raises the file limit, starts both).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use vigil_schema::plan::{
    Family, PlanCheck, PlanHealth, PlanMethod, PlanProtocol, PlanRealServer, PlanRealServerOnFail,
    PlanVirtualServer,
};
use vigild::health::probe::Probe;
use vigild::health::scheduler::{Action, Input, RsId, Scheduler};

fn usage() -> ! {
    eprintln!("usage: health-load serve N PORT | health-load check N PORT SECONDS");
    std::process::exit(2)
}

fn number(arg: Option<&String>) -> u64 {
    arg.and_then(|a| a.parse().ok()).unwrap_or_else(|| usage())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(number(args.get(1)) as u16, number(args.get(2)) as u16),
        Some("check") => check(
            number(args.get(1)) as u16,
            number(args.get(2)) as u16,
            number(args.get(3)),
        ),
        _ => usage(),
    }
}

const RESPONSE: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
const LISTENER_BIT: usize = 1 << 40;

/// Answers every request with 200 after reading its headers.
fn serve(n: u16, port: u16) {
    let mut poll = Poll::new().expect("poll");
    let mut listeners = Vec::new();
    for i in 0..n {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port + i);
        let mut l = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        poll.registry()
            .register(
                &mut l,
                Token(LISTENER_BIT + usize::from(i)),
                Interest::READABLE,
            )
            .expect("register");
        listeners.push(l);
    }
    eprintln!("serving {n} listeners from port {port}");
    let mut conns: HashMap<Token, (TcpStream, Vec<u8>)> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::with_capacity(1024);
    loop {
        poll.poll(&mut events, None).expect("poll");
        for ev in &events {
            let t = ev.token();
            if t.0 >= LISTENER_BIT {
                while let Ok((mut s, _)) = listeners[t.0 - LISTENER_BIT].accept() {
                    next = (next + 1) % LISTENER_BIT;
                    let token = Token(next);
                    if poll
                        .registry()
                        .register(&mut s, token, Interest::READABLE)
                        .is_ok()
                    {
                        conns.insert(token, (s, Vec::new()));
                    }
                }
                continue;
            }
            let done = match conns.get_mut(&t) {
                Some((s, buf)) => {
                    let mut chunk = [0u8; 1024];
                    let mut closed = false;
                    loop {
                        match s.read(&mut chunk) {
                            Ok(0) => {
                                closed = true;
                                break;
                            }
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                            Err(_) => break,
                        }
                    }
                    closed || buf.windows(4).any(|w| w == b"\r\n\r\n")
                }
                None => false,
            };
            if done && let Some((mut s, _)) = conns.remove(&t) {
                let _ = s.write_all(RESPONSE);
                let _ = poll.registry().deregister(&mut s);
            }
        }
    }
}

fn plan(n: u16, port: u16) -> Vec<PlanVirtualServer> {
    let per_vs = 100u16;
    (0..n.div_ceil(per_vs))
        .map(|v| PlanVirtualServer {
            name: format!("vs{v}"),
            family: Family::Ipv4,
            protocol: Some(PlanProtocol::Tcp),
            address: Some(IpAddr::V4(Ipv4Addr::new(
                10,
                0,
                (v / 250) as u8,
                (v % 250) as u8 + 1,
            ))),
            port: Some(80),
            fwmark: None,
            scheduler: vigil_schema::ipvs::Scheduler::Wlc,
            scheduler_flags: vec![],
            method: PlanMethod::Nat,
            persistence_timeout_s: 0,
            persistence_prefix_len: 32,
            quorum: 0,
            hysteresis: 0,
            sorry_server: None,
            on_fail: PlanRealServerOnFail::Inhibit,
            only_on_master_of: None,
            keep_on_stop: false,
            health: Some(PlanHealth {
                interval_ms: 1000,
                timeout_ms: 500,
                rise: 2,
                fall: 3,
                warmup_ms: 1000,
                check: PlanCheck::Http {
                    port: None,
                    path: "/".into(),
                    host: None,
                    status_min: 200,
                    status_max: 299,
                    body_sha256: None,
                },
            }),
            real_servers: (v * per_vs..((v + 1) * per_vs).min(n))
                .map(|i| PlanRealServer {
                    address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    port: port + i,
                    weight: 1,
                    upper_threshold: 0,
                    lower_threshold: 0,
                })
                .collect(),
        })
        .collect()
}

/// CPU time of this process (user + system), from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // fields after the command: state(skipped, not numeric) ppid pgrp ... utime is the 14th overall
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Running {
    probe: Probe,
    token: Option<Token>,
}

fn check(n: u16, port: u16, seconds: u64) {
    let vss = plan(n, port);
    // The scheduler runs on the runtime's clock (microseconds since start).
    let clock = Instant::now();
    let tick = || vigild::vrrp::Instant::from_micros(clock.elapsed().as_micros() as u64);
    let start = Instant::now();
    let (mut sched, errors) = Scheduler::new(&vss, tick());
    assert!(errors.is_empty(), "{errors:?}");
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(1024);
    let mut running: HashMap<RsId, Running> = HashMap::new();
    let mut tokens: HashMap<Token, RsId> = HashMap::new();
    let mut next_token = 1usize;
    let (mut done, mut failed, mut down_events) = (0u64, 0u64, 0u64);
    let warm = Duration::from_secs(3);
    let mut window: Option<(Instant, Duration, u64, u64)> = None;
    let end = start + warm + Duration::from_secs(seconds);

    let mut queue: Vec<Action> = Vec::new();
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if window.is_none() && now >= start + warm {
            window = Some((now, cpu_time(), done, failed));
        }
        let until_end = end.saturating_duration_since(now);
        let wait = sched
            .next_deadline()
            .map_or(until_end, |d| d.saturating_since(tick()).min(until_end));
        poll.poll(&mut events, Some(wait)).expect("poll");
        let now = tick();
        for ev in &events {
            let Some(id) = tokens.get(&ev.token()).copied() else {
                continue;
            };
            let Some(r) = running.get_mut(&id) else {
                continue;
            };
            if let std::task::Poll::Ready(result) = r.probe.poll() {
                let mut r = running.remove(&id).expect("present");
                if let Some(t) = r.token.take() {
                    tokens.remove(&t);
                    if let Some(src) = r.probe.source() {
                        let _ = poll.registry().deregister(src);
                    }
                }
                done += 1;
                failed += u64::from(result.is_err());
                queue.extend(sched.step(Input::CheckDone { rs: id, result }, now));
            }
        }
        queue.extend(sched.step(Input::Tick, now));
        while let Some(action) = queue.pop() {
            match action {
                Action::StartCheck { rs, kind, .. } => match Probe::start(&kind) {
                    Ok(mut probe) => {
                        let mut token = None;
                        if let Some(src) = probe.source() {
                            let t = Token(next_token);
                            next_token += 1;
                            poll.registry()
                                .register(src, t, Interest::READABLE | Interest::WRITABLE)
                                .expect("register");
                            tokens.insert(t, rs);
                            token = Some(t);
                        }
                        running.insert(rs, Running { probe, token });
                    }
                    Err(reason) => {
                        done += 1;
                        failed += 1;
                        queue.extend(sched.step(
                            Input::CheckDone {
                                rs,
                                result: Err(reason),
                            },
                            now,
                        ));
                    }
                },
                Action::AbortCheck { rs } => {
                    if let Some(mut r) = running.remove(&rs) {
                        if let Some(t) = r.token.take() {
                            tokens.remove(&t);
                            if let Some(src) = r.probe.source() {
                                let _ = poll.registry().deregister(src);
                            }
                        }
                        r.probe.abort();
                    }
                }
                Action::Log(_) => down_events += 1,
                Action::SetWeight { .. }
                | Action::AddDest { .. }
                | Action::RemoveDest { .. }
                | Action::UseSorryServer { .. } => {}
            }
        }
    }
    let (w_start, w_cpu, w_done, w_failed) = window.expect("the run outlasts the warm-up");
    let wall = w_start.elapsed();
    let cpu = cpu_time().saturating_sub(w_cpu);
    let checks = done - w_done;
    println!(
        "| real servers | interval | window | checks/s | failed checks | health events | CPU (% of a core) | RSS | peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {n} | 1 s | {:.0} s | {:.0} | {} | {} | {:.1} % | {:.1} MiB | {:.1} MiB |",
        wall.as_secs_f64(),
        checks as f64 / wall.as_secs_f64(),
        failed - w_failed,
        down_events,
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        status_kib("VmRSS:") as f64 / 1024.0,
        status_kib("VmHWM:") as f64 / 1024.0,
    );
}
