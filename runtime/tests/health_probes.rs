//! Health probes against real servers on 127.0.0.1: a tiny HTTP server
//! started by each test, closed ports, and real child processes. The probes
//! are driven by a mio `Poll`, as the event loop drives them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::task::Poll as TaskPoll;
use std::thread;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use vigil_schema::plan::{
    Family, PlanCheck, PlanHealth, PlanMethod, PlanProtocol, PlanRealServer, PlanRealServerOnFail,
    PlanVirtualServer,
};
use vigild::health::probe::{Probe, ProbeResult};
use vigild::health::scheduler::{Action, CheckKind, HttpSpec, Input, RsId, Scheduler};
use vigild::health::sha256::sha256;

/// Serves `responses.len()` connections, one canned response each, and
/// sends every request it read back to the test.
fn http_server(responses: Vec<Vec<u8>>) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for response in responses {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&req).into_owned());
            let _ = conn.write_all(&response);
        }
    });
    (addr, rx)
}

/// Drives one probe to completion through mio (commands: by polling).
fn run(kind: &CheckKind, limit: Duration) -> ProbeResult {
    let mut probe = Probe::start(kind)?;
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(8);
    if let Some(src) = probe.source() {
        poll.registry()
            .register(src, Token(1), Interest::READABLE | Interest::WRITABLE)
            .unwrap();
    }
    let end = Instant::now() + limit;
    loop {
        if let TaskPoll::Ready(r) = probe.poll() {
            return r;
        }
        assert!(
            Instant::now() < end,
            "probe did not finish within {limit:?}"
        );
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
    }
}

fn http(addr: SocketAddr, sha: Option<[u8; 32]>) -> CheckKind {
    CheckKind::Http(HttpSpec {
        addr,
        host: "www.example.test".into(),
        path: "/health?deep=1".into(),
        status_min: 200,
        status_max: 299,
        body_sha256: sha,
    })
}

const SEC: Duration = Duration::from_secs(5);

#[test]
fn http_ok_with_digest_and_request_shape() {
    let body = b"all good\n".to_vec();
    let mut resp = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    resp.extend_from_slice(&body);
    let (addr, requests) = http_server(vec![resp]);
    assert_eq!(run(&http(addr, Some(sha256(&body))), SEC), Ok(()));
    let req = requests.recv().unwrap();
    assert!(req.starts_with("GET /health?deep=1 HTTP/1.0\r\n"), "{req}");
    assert!(req.contains("\r\nHost: www.example.test\r\n"), "{req}");
}

#[test]
fn http_bad_status_and_bad_digest_fail_with_reasons() {
    let (addr, _r) = http_server(vec![
        b"HTTP/1.1 503 Service Unavailable\r\n\r\nbusy".to_vec(),
        b"HTTP/1.1 200 OK\r\n\r\nchanged".to_vec(),
    ]);
    assert_eq!(
        run(&http(addr, None), SEC),
        Err("HTTP status 503, expected 200..=299".into())
    );
    let e = run(&http(addr, Some(sha256(b"original"))), SEC).unwrap_err();
    assert!(e.starts_with("HTTP body SHA-256 "), "{e}");
}

#[test]
fn http_large_body_spanning_many_reads() {
    let body = vec![b'x'; 300_000];
    let mut resp = b"HTTP/1.0 204 No Content\r\n\r\n".to_vec();
    resp.extend_from_slice(&body);
    let (addr, _r) = http_server(vec![resp]);
    assert_eq!(run(&http(addr, Some(sha256(&body))), SEC), Ok(()));
}

#[test]
fn http_server_that_closes_without_answer_fails() {
    let (addr, _r) = http_server(vec![Vec::new()]);
    let e = run(&http(addr, None), SEC).unwrap_err();
    assert!(e.contains("malformed HTTP response"), "{e}");
}

fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap() // dropped: nothing listens there any more
}

#[test]
fn tcp_connect_succeeds_on_listener_and_fails_on_closed_port() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    assert_eq!(run(&CheckKind::Tcp { addr }, SEC), Ok(()));
    let e = run(
        &CheckKind::Tcp {
            addr: closed_port(),
        },
        SEC,
    )
    .unwrap_err();
    assert!(e.contains("refused"), "{e}");
    let e = run(&http(closed_port(), None), SEC).unwrap_err();
    assert!(e.contains("refused"), "{e}");
}

fn cmd(argv: &[&str]) -> CheckKind {
    CheckKind::Command {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        env: vec![("VIGIL_RS_ADDRESS".into(), "10.0.1.1".into())],
    }
}

#[test]
fn command_exit_status_and_environment() {
    assert_eq!(
        run(
            &cmd(&["/bin/sh", "-c", "test \"$VIGIL_RS_ADDRESS\" = 10.0.1.1"]),
            SEC
        ),
        Ok(())
    );
    let e = run(&cmd(&["/bin/sh", "-c", "exit 3"]), SEC).unwrap_err();
    assert!(e.contains("exit status: 3"), "{e}");
    let e = run(&cmd(&["/nonexistent/check"]), SEC).unwrap_err();
    assert!(e.starts_with("cannot run /nonexistent/check"), "{e}");
}

#[test]
fn command_abort_kills_the_process_group() {
    let dir = std::env::temp_dir().join(format!("vigil-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("grandchild.pid");
    // The shell starts a grandchild that would outlive a plain kill of the shell.
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let mut probe = Probe::start(&cmd(&["/bin/sh", "-c", &script])).unwrap();
    let end = Instant::now() + SEC;
    while !pidfile.exists() || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
        assert!(Instant::now() < end, "the grandchild never started");
        thread::sleep(Duration::from_millis(10));
    }
    let grandchild: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(probe.poll().is_pending());
    let t = Instant::now();
    probe.abort();
    assert!(t.elapsed() < Duration::from_secs(2));
    // The grandchild is killed too (it may linger as a zombie of init briefly).
    let end = Instant::now() + SEC;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("");
        if stat.is_empty() || state == "Z" {
            break;
        }
        assert!(
            Instant::now() < end,
            "grandchild {grandchild} survived: {stat}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The scheduler and the probes together: a real server whose HTTP server
/// goes away is taken out (weight 0) after `fall` failures.
#[test]
fn scheduler_with_real_probes_inhibits_a_dead_server() {
    let (addr, _r) = http_server(vec![b"HTTP/1.0 200 OK\r\n\r\nok".to_vec()]);
    let vs = PlanVirtualServer {
        name: "web".into(),
        family: Family::Ipv4,
        protocol: Some(PlanProtocol::Tcp),
        address: Some("10.0.0.1".parse().unwrap()),
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
        health: Some(PlanHealth {
            interval_ms: 20,
            timeout_ms: 1000,
            rise: 1,
            fall: 2,
            warmup_ms: 0,
            check: PlanCheck::Http {
                port: Some(addr.port()),
                path: "/".into(),
                host: None,
                status_min: 200,
                status_max: 200,
                body_sha256: None,
            },
        }),
        real_servers: vec![PlanRealServer {
            address: addr.ip(),
            port: 80,
            weight: 3,
            upper_threshold: 0,
            lower_threshold: 0,
        }],
    };
    // The scheduler runs on the shell's clock: microseconds since `origin`.
    let origin = Instant::now();
    let clock = || {
        let us = origin.elapsed().as_micros();
        vigild::vrrp::Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    };
    let (mut sched, errors) = Scheduler::new(&[vs], clock());
    assert!(errors.is_empty());
    let mut weights = Vec::new();
    let mut done = 0;
    let end = Instant::now() + Duration::from_secs(10);
    while weights.is_empty() {
        assert!(Instant::now() < end, "no weight change; {done} checks done");
        let wait = sched.next_deadline().unwrap().saturating_since(clock());
        thread::sleep(wait);
        for action in sched.step(Input::Tick, clock()) {
            if let Action::StartCheck { rs, kind, .. } = action {
                // One server answers once, then nothing listens: refused.
                let result = run(&kind, SEC);
                done += 1;
                for a in sched.step(Input::CheckDone { rs, result }, clock()) {
                    if let Action::SetWeight {
                        rs: RsId { vs: 0, rs: 0 },
                        weight,
                    } = a
                    {
                        weights.push(weight);
                    }
                }
            }
        }
    }
    assert_eq!(weights, vec![0]);
    assert_eq!(done, 3, "one success, then fall = 2 failures");
}
