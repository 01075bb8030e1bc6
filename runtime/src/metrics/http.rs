//! The metrics listener: a minimal, non-blocking HTTP/1.1 server on the
//! daemon's mio loop. One request per connection (`Connection: close`):
//! `GET /metrics` gets the exposition, any other path 404, any other method
//! 405, anything unreadable 400.
//!
//! Bounds, so that no client and no scrape rate can make the daemon grow or
//! stall:
//! * at most [`MAX_CONNECTIONS`] connections; more are accepted and closed
//!   at once (counted as `refused`);
//! * a request head of at most [`MAX_REQUEST`] bytes (431 beyond);
//! * a connection not done within [`CONNECTION_TIMEOUT`] is dropped;
//! * each connection slot keeps its buffers: after the first scrapes nothing
//!   is allocated per request; the document is rendered once per request.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use crate::vrrp::Instant;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 8;
/// The largest request head read (request line and headers).
pub const MAX_REQUEST: usize = 4096;
/// A connection must be answered and written within this time.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests by how they were answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpCounters {
    pub ok: u64,
    pub not_found: u64,
    pub bad_method: u64,
    pub bad_request: u64,
    pub too_large: u64,
    pub timed_out: u64,
    pub refused: u64,
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Metrics,
    NotFound,
    BadMethod,
    BadRequest,
    TooLarge,
}

/// Reads a request head: `None` while incomplete (and not too large).
pub fn parse_request(head: &[u8]) -> Option<Request> {
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| {
        // Tolerate bare LF line ends.
        head.windows(2).position(|w| w == b"\n\n")
    });
    let Some(end) = end else {
        return (head.len() >= MAX_REQUEST).then_some(Request::TooLarge);
    };
    let head = &head[..end];
    let line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    let line = head[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&head[..line_end]);
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Some(Request::BadRequest);
    };
    if !version.starts_with(b"HTTP/1.") || target.is_empty() {
        return Some(Request::BadRequest);
    }
    if method != b"GET" {
        return Some(Request::BadMethod);
    }
    let path = target.split(|b| *b == b'?').next().unwrap_or(target);
    Some(if path == b"/metrics" {
        Request::Metrics
    } else {
        Request::NotFound
    })
}

#[derive(Debug)]
struct Slot {
    conn: Option<Conn>,
    /// Kept across connections (capacity reused).
    input: Vec<u8>,
    output: Vec<u8>,
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    deadline: Instant,
    /// Bytes of `output` written; `None` while reading the request.
    written: Option<usize>,
}

/// The listening socket and its connection slots.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    addr: SocketAddr,
    token: Token,
    first_client_token: usize,
    slots: Vec<Slot>,
    body: String,
    pub counters: HttpCounters,
}

impl MetricsServer {
    /// Binds `addr` and registers it as `token`; connection `i` gets token
    /// `first_client_token + i` (a range of [`MAX_CONNECTIONS`] the caller
    /// keeps free).
    pub fn bind(
        addr: SocketAddr,
        registry: &Registry,
        token: Token,
        first_client_token: usize,
    ) -> io::Result<MetricsServer> {
        let mut listener = TcpListener::bind(addr)?;
        registry.register(&mut listener, token, Interest::READABLE)?;
        let addr = listener.local_addr()?;
        Ok(MetricsServer {
            listener,
            addr,
            token,
            first_client_token,
            slots: (0..MAX_CONNECTIONS)
                .map(|_| Slot {
                    conn: None,
                    input: Vec::with_capacity(MAX_REQUEST),
                    output: Vec::new(),
                })
                .collect(),
            body: String::new(),
            counters: HttpCounters::default(),
        })
    }

    /// The bound address (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether `token` is the listener or one of its connections.
    pub fn owns(&self, token: Token) -> bool {
        token == self.token
            || (token.0 >= self.first_client_token
                && token.0 < self.first_client_token + MAX_CONNECTIONS)
    }

    /// Handles a readiness event of the listener or a connection;
    /// `render` writes the exposition when a request asks for it.
    pub fn on_ready(
        &mut self,
        token: Token,
        registry: &Registry,
        now: Instant,
        render: &mut dyn FnMut(&mut String, &HttpCounters),
    ) {
        if token == self.token {
            self.accept(registry, now);
            return;
        }
        let i = token.0 - self.first_client_token;
        self.progress(i, registry, render);
    }

    fn accept(&mut self, registry: &Registry, now: Instant) {
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ECONNABORTED, EMFILE...: try again on the next event.
                Err(_) => {
                    self.counters.refused += 1;
                    return;
                }
            };
            let Some(i) = self.slots.iter().position(|s| s.conn.is_none()) else {
                // Every slot busy: close at once rather than queue.
                self.counters.refused += 1;
                drop(stream);
                continue;
            };
            let token = Token(self.first_client_token + i);
            if registry
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                .is_err()
            {
                self.counters.refused += 1;
                continue;
            }
            let slot = &mut self.slots[i];
            slot.input.clear();
            slot.output.clear();
            slot.conn = Some(Conn {
                stream,
                deadline: now + CONNECTION_TIMEOUT,
                written: None,
            });
        }
    }

    /// Reads the request, answers it, writes what the socket takes.
    fn progress(
        &mut self,
        i: usize,
        registry: &Registry,
        render: &mut dyn FnMut(&mut String, &HttpCounters),
    ) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        if conn.written.is_none() {
            let mut buf = [0u8; 1024];
            let request = loop {
                let room = MAX_REQUEST.saturating_sub(slot.input.len());
                if room == 0 {
                    break parse_request(&slot.input);
                }
                let want = room.min(buf.len());
                match conn.stream.read(&mut buf[..want]) {
                    Ok(0) => {
                        // The peer closed before a whole request.
                        self.counters.bad_request += 1;
                        close(slot, registry);
                        return;
                    }
                    Ok(n) => {
                        slot.input.extend_from_slice(&buf[..n]);
                        if let Some(r) = parse_request(&slot.input) {
                            break Some(r);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break None,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        self.counters.bad_request += 1;
                        close(slot, registry);
                        return;
                    }
                }
            };
            let Some(request) = request else {
                return; // more to come
            };
            let (status, body): (&str, &[u8]) = match request {
                Request::Metrics => {
                    self.counters.ok += 1;
                    render(&mut self.body, &self.counters);
                    ("200 OK", self.body.as_bytes())
                }
                Request::NotFound => {
                    self.counters.not_found += 1;
                    ("404 Not Found", b"not found: vigild serves /metrics\n")
                }
                Request::BadMethod => {
                    self.counters.bad_method += 1;
                    ("405 Method Not Allowed", b"only GET\n")
                }
                Request::BadRequest => {
                    self.counters.bad_request += 1;
                    ("400 Bad Request", b"bad request\n")
                }
                Request::TooLarge => {
                    self.counters.too_large += 1;
                    (
                        "431 Request Header Fields Too Large",
                        b"request head too large\n",
                    )
                }
            };
            let content_type = if request == Request::Metrics {
                super::CONTENT_TYPE
            } else {
                "text/plain; charset=utf-8"
            };
            slot.output.clear();
            let _ = write!(
                slot.output,
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            if request == Request::BadMethod {
                slot.output.extend_from_slice(b"Allow: GET\r\n");
            }
            slot.output.extend_from_slice(b"\r\n");
            slot.output.extend_from_slice(body);
            conn.written = Some(0);
        }
        let Some(mut written) = conn.written else {
            return;
        };
        let done = loop {
            if written == slot.output.len() {
                break true;
            }
            match conn.stream.write(&slot.output[written..]) {
                Ok(0) => break true,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break true,
            }
        };
        conn.written = Some(written);
        if done {
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            close(slot, registry);
        }
    }

    /// The earliest connection deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| s.conn.as_ref().map(|c| c.deadline))
            .min()
    }

    /// Drops connections past their deadline.
    pub fn poll(&mut self, registry: &Registry, now: Instant) {
        for slot in &mut self.slots {
            if slot.conn.as_ref().is_some_and(|c| now >= c.deadline) {
                self.counters.timed_out += 1;
                close(slot, registry);
            }
        }
    }

    /// Stops listening and drops every connection.
    pub fn close(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.listener);
        for slot in &mut self.slots {
            close(slot, registry);
        }
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.slots.iter().filter(|s| s.conn.is_some()).count()
    }
}

fn close(slot: &mut Slot, registry: &Registry) {
    if let Some(mut c) = slot.conn.take() {
        let _ = registry.deregister(&mut c.stream);
    }
    slot.input.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_without_panicking() {
        assert_eq!(parse_request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(
            parse_request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Request::Metrics)
        );
        assert_eq!(
            parse_request(b"GET /metrics?x=1 HTTP/1.0\n\n"),
            Some(Request::Metrics)
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\n\r\n"),
            Some(Request::NotFound)
        );
        assert_eq!(
            parse_request(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Some(Request::BadMethod)
        );
        assert_eq!(
            parse_request(b"GET /metrics\r\n\r\n"),
            Some(Request::BadRequest)
        );
        assert_eq!(
            parse_request(b"\x00\xff garbage \r\n\r\n"),
            Some(Request::BadRequest)
        );
        assert_eq!(parse_request(b""), None);
        assert_eq!(
            parse_request(&vec![b'a'; MAX_REQUEST]),
            Some(Request::TooLarge)
        );
        // Every prefix of every byte string is fine.
        let sample = b"GET /metrics HTTP/1.1\r\nA: b\r\n\r\n";
        for n in 0..sample.len() {
            let _ = parse_request(&sample[..n]);
        }
    }

    fn get(addr: SocketAddr, request: &[u8]) -> std::thread::JoinHandle<String> {
        let request = request.to_vec();
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let _ = s.write_all(&request);
            let mut got = String::new();
            let _ = s.read_to_string(&mut got);
            got
        })
    }

    /// Runs the server until every client thread is done.
    fn serve(
        server: &mut MetricsServer,
        poll: &mut mio::Poll,
        clients: Vec<std::thread::JoinHandle<String>>,
    ) -> Vec<String> {
        let mut events = mio::Events::with_capacity(16);
        let body_calls = std::cell::Cell::new(0);
        let mut render = |out: &mut String, _: &HttpCounters| {
            body_calls.set(body_calls.get() + 1);
            out.clear();
            out.push_str("# TYPE x gauge\nx 1\n");
        };
        let start = std::time::Instant::now();
        while clients.iter().any(|c| !c.is_finished()) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "clients never finished"
            );
            match poll.poll(&mut events, Some(Duration::from_millis(20))) {
                Ok(()) => {}
                // Other tests of this binary start processes (SIGCHLD).
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("poll: {e}"),
            }
            for e in events.iter() {
                server.on_ready(e.token(), poll.registry(), Instant(0), &mut render);
            }
        }
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    }

    #[test]
    fn serves_metrics_404_405_and_bounds_connections() {
        let mut poll = mio::Poll::new().unwrap();
        let mut server = MetricsServer::bind(
            "127.0.0.1:0".parse().unwrap(),
            poll.registry(),
            Token(3),
            100,
        )
        .unwrap();
        let addr = server.local_addr();
        assert!(
            server.owns(Token(3))
                && server.owns(Token(100))
                && !server.owns(Token(100 + MAX_CONNECTIONS))
        );
        let got = serve(
            &mut server,
            &mut poll,
            vec![
                get(addr, b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"),
                get(addr, b"GET /other HTTP/1.1\r\n\r\n"),
                get(addr, b"DELETE /metrics HTTP/1.1\r\n\r\n"),
            ],
        );
        let ok = got.iter().find(|g| g.starts_with("HTTP/1.1 200")).unwrap();
        assert!(
            ok.contains("Content-Type: text/plain; version=0.0.4"),
            "{ok}"
        );
        assert!(ok.ends_with("\r\n\r\n# TYPE x gauge\nx 1\n"), "{ok}");
        assert!(ok.contains("Content-Length: 19\r\n"), "{ok}");
        assert!(got.iter().any(|g| g.starts_with("HTTP/1.1 404")));
        assert!(got.iter().any(|g| g.starts_with("HTTP/1.1 405")));
        assert_eq!(
            (
                server.counters.ok,
                server.counters.not_found,
                server.counters.bad_method
            ),
            (1, 1, 1)
        );
        assert_eq!(server.connections(), 0);

        // A request head that never ends is refused with 431.
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_REQUEST + 100, b'a');
        let got = serve(&mut server, &mut poll, vec![get(addr, &big)]);
        assert!(got[0].starts_with("HTTP/1.1 431"), "{}", got[0]);

        // Idle connections fill the slots; the next is closed at once; the
        // idle ones go at their deadline.
        let idle: Vec<std::net::TcpStream> = (0..MAX_CONNECTIONS)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let extra = get(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        let got = serve(&mut server, &mut poll, vec![extra]);
        assert_eq!(
            got[0], "",
            "a connection beyond the bound is closed unanswered"
        );
        assert_eq!(server.connections(), MAX_CONNECTIONS);
        assert!(server.counters.refused >= 1);
        assert_eq!(
            server.next_deadline(),
            Some(Instant(0) + CONNECTION_TIMEOUT)
        );
        server.poll(poll.registry(), Instant(0) + CONNECTION_TIMEOUT);
        assert_eq!(server.connections(), 0);
        assert_eq!(server.counters.timed_out, MAX_CONNECTIONS as u64);
        drop(idle);
    }
}
