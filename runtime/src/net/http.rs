//! A small HTTP/1.1 client for the mio loop: one POST per connection
//! (`Connection: close`), non-blocking connect, bounded buffers, a
//! deadline per request. It decides nothing: every request ends in one
//! [`Event::HttpResponse`], a complete response or the reason there is
//! none. The response parser ([`parse_response`]) is pure and tested here.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::node::{Event, HttpReply};
use crate::vrrp::Instant;

/// The largest response kept; a longer one is an error.
pub const MAX_RESPONSE: usize = 64 * 1024;
/// Connections open at once; more requests fail at once.
pub const MAX_CONNECTIONS: usize = 64;

struct Conn {
    req: u64,
    stream: TcpStream,
    out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    deadline: Instant,
}

/// One POST to start.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub req: u64,
    pub endpoint: SocketAddr,
    pub path: &'a str,
    pub body: &'a str,
    pub timeout_ms: u64,
}

/// The client: connections by token, in `[first, first + span)`.
pub struct HttpClient {
    conns: HashMap<Token, Conn>,
    first: usize,
    span: usize,
    next: usize,
}

/// What a response parse found.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes needed.
    Incomplete,
    Done(HttpReply),
}

impl HttpClient {
    pub fn new(first: usize, span: usize) -> HttpClient {
        HttpClient {
            conns: HashMap::new(),
            first,
            span,
            next: 0,
        }
    }

    pub fn owns(&self, t: Token) -> bool {
        t.0 >= self.first && t.0 < self.first + self.span
    }

    pub fn pending(&self) -> usize {
        self.conns.len()
    }

    /// Starts a POST; an immediate failure is answered at once.
    pub fn start(&mut self, registry: &Registry, now: Instant, r: Request<'_>) -> Option<Event> {
        let Request {
            req,
            endpoint,
            path,
            body,
            timeout_ms,
        } = r;
        let fail = |e: String| {
            Some(Event::HttpResponse {
                req,
                result: Err(e),
            })
        };
        if self.conns.len() >= MAX_CONNECTIONS {
            return fail("too many HTTP requests in flight".into());
        }
        let mut stream = match TcpStream::connect(endpoint) {
            Ok(s) => s,
            Err(e) => return fail(format!("connect {endpoint}: {e}")),
        };
        let token = loop {
            let t = Token(self.first + self.next % self.span);
            self.next = (self.next + 1) % self.span;
            if !self.conns.contains_key(&t) {
                break t;
            }
        };
        if let Err(e) =
            registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
        {
            return fail(format!("register: {e}"));
        }
        let out = format!(
            "POST {path} HTTP/1.1\r\nHost: {endpoint}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        self.conns.insert(
            token,
            Conn {
                req,
                stream,
                out,
                written: 0,
                input: Vec::new(),
                deadline: now + Duration::from_millis(timeout_ms.max(1)),
            },
        );
        None
    }

    /// The connection of `token` is ready: write, read, maybe finish.
    pub fn on_ready(&mut self, registry: &Registry, token: Token) -> Option<Event> {
        let conn = self.conns.get_mut(&token)?;
        let result = step(conn);
        match result {
            Ok(None) => None,
            Ok(Some(reply)) => self.finish(registry, token, Ok(reply)),
            Err(e) => self.finish(registry, token, Err(e)),
        }
    }

    /// Requests past their deadline fail.
    pub fn poll(&mut self, registry: &Registry, now: Instant) -> Vec<Event> {
        let late: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| now >= c.deadline)
            .map(|(t, _)| *t)
            .collect();
        late.into_iter()
            .filter_map(|t| self.finish(registry, t, Err("timed out".into())))
            .collect()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.conns.values().map(|c| c.deadline).min()
    }

    fn finish(
        &mut self,
        registry: &Registry,
        token: Token,
        result: Result<HttpReply, String>,
    ) -> Option<Event> {
        let mut conn = self.conns.remove(&token)?;
        let _ = registry.deregister(&mut conn.stream);
        Some(Event::HttpResponse {
            req: conn.req,
            result,
        })
    }
}

/// Writes what is left, reads what is there; a complete response ends it.
fn step(conn: &mut Conn) -> Result<Option<HttpReply>, String> {
    if let Ok(Some(e)) | Err(e) = conn.stream.take_error() {
        return Err(format!("connect: {e}"));
    }
    while conn.written < conn.out.len() {
        match conn.stream.write(&conn.out[conn.written..]) {
            Ok(0) => return Err("connection closed while sending".into()),
            Ok(n) => conn.written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("send: {e}")),
        }
    }
    let mut buf = [0u8; 8192];
    loop {
        match conn.stream.read(&mut buf) {
            Ok(0) => {
                return match parse_response(&conn.input, true)? {
                    Parsed::Done(r) => Ok(Some(r)),
                    Parsed::Incomplete => {
                        Err("connection closed before the response was complete".into())
                    }
                };
            }
            Ok(n) => {
                if conn.input.len() + n > MAX_RESPONSE {
                    return Err(format!("response larger than {MAX_RESPONSE} bytes"));
                }
                conn.input.extend_from_slice(&buf[..n]);
                if let Parsed::Done(r) = parse_response(&conn.input, false)? {
                    return Ok(Some(r));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("receive: {e}")),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses an HTTP/1.1 response; `eof`: the peer closed (a body without a
/// length ends there).
pub fn parse_response(input: &[u8], eof: bool) -> Result<Parsed, String> {
    let Some(head_end) = find(input, b"\r\n\r\n") else {
        if input.len() > 16 * 1024 {
            return Err("response header too long".into());
        }
        return Ok(Parsed::Incomplete);
    };
    let head = std::str::from_utf8(&input[..head_end])
        .map_err(|_| "response header is not UTF-8".to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!(
            "not an HTTP/1.x response: {:?}",
            truncate(status_line)
        ));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| format!("bad status line {:?}", truncate(status_line)))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("bad header line {:?}", truncate(line)));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
            if !chunked {
                return Err(format!("unsupported Transfer-Encoding {value:?}"));
            }
        }
    }
    let rest = &input[head_end + 4..];
    let body = if chunked {
        match dechunk(rest)? {
            Some(b) => b,
            None if eof => return Err("connection closed inside a chunked body".into()),
            None => return Ok(Parsed::Incomplete),
        }
    } else if let Some(n) = length {
        if rest.len() < n {
            if eof {
                return Err("connection closed before Content-Length bytes".into());
            }
            return Ok(Parsed::Incomplete);
        }
        rest[..n].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return Ok(Parsed::Incomplete);
    };
    let body = String::from_utf8(body).map_err(|_| "response body is not UTF-8".to_string())?;
    Ok(Parsed::Done(HttpReply { status, body }))
}

/// A chunked body, or `None` while incomplete.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| "bad chunk size".to_string())?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {:?}", truncate(line)))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if size > MAX_RESPONSE || rest.len() < size + 2 {
            if size > MAX_RESPONSE {
                return Err("chunk too large".into());
            }
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        if &rest[size..size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF".into());
        }
        rest = &rest[size + 2..];
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(input: &[u8], eof: bool) -> HttpReply {
        match parse_response(input, eof) {
            Ok(Parsed::Done(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn content_length_and_chunked() {
        let r = done(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", false);
        assert_eq!((r.status, r.body.as_str()), (200, "{}"));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n";
        assert_eq!(done(chunked, false).body, "{\"a\":1}");
        for cut in 0..chunked.len() - 5 {
            assert_eq!(
                parse_response(&chunked[..cut], false),
                Ok(Parsed::Incomplete),
                "{cut}"
            );
        }
        assert_eq!(done(b"HTTP/1.0 404 Not Found\r\n\r\nno", true).body, "no");
    }

    #[test]
    fn garbage_is_an_error() {
        for input in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 abc\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n",
        ] {
            assert!(parse_response(input, false).is_err(), "{input:?}");
        }
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", true).is_err());
    }
}
