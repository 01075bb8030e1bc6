//! The I/O side of health checks, driven by the event loop without threads.
//!
//! A [`Probe`] is started for an [`Action::StartCheck`](super::scheduler::Action)
//! and polled until it is ready:
//! * TCP and HTTP probes own a non-blocking `mio::net::TcpStream`; the loop
//!   registers it (`READABLE | WRITABLE`) and calls [`Probe::poll`] on every
//!   event for its token. mio is edge-triggered, so `poll` always works until
//!   the socket would block.
//! * Command probes own a child process (its own process group, stdin and
//!   output to /dev/null); the loop calls [`Probe::poll`] on a short timer
//!   (`waitpid(WNOHANG)` via `Child::try_wait`) and [`Probe::abort`] when the
//!   scheduler gives up, which kills the whole process group.
//!
//! Timeouts belong to the scheduler; probes never wait.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::task::Poll;

use mio::net::TcpStream;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::scheduler::{CheckKind, HttpSpec};
use super::sha256;

/// The most an HTTP check reads (headers + body) before failing.
pub const HTTP_MAX_RESPONSE: usize = 1 << 20;

/// The outcome of a finished probe: `Err` holds a reason for the log.
pub type ProbeResult = Result<(), String>;

/// A running check.
#[derive(Debug)]
pub enum Probe {
    Tcp(TcpProbe),
    Http(HttpProbe),
    Command(CommandProbe),
}

impl Probe {
    /// Starts the check. An immediate failure (bad path, no such command,
    /// unroutable address) is returned as `Err` with its reason: report it
    /// to the scheduler as the check's result.
    pub fn start(kind: &CheckKind) -> Result<Probe, String> {
        match kind {
            CheckKind::Tcp { addr } => TcpProbe::connect(*addr).map(Probe::Tcp),
            CheckKind::Http(spec) => HttpProbe::connect(spec.clone()).map(Probe::Http),
            CheckKind::Command { argv, env } => CommandProbe::spawn(argv, env).map(Probe::Command),
        }
    }

    /// The socket to register with mio (none for commands).
    pub fn source(&mut self) -> Option<&mut TcpStream> {
        match self {
            Probe::Tcp(p) => Some(&mut p.stream),
            Probe::Http(p) => Some(&mut p.stream),
            Probe::Command(_) => None,
        }
    }

    /// Advances the probe; `Ready` once it has a result.
    pub fn poll(&mut self) -> Poll<ProbeResult> {
        match self {
            Probe::Tcp(p) => p.poll(),
            Probe::Http(p) => p.poll(),
            Probe::Command(p) => p.poll(),
        }
    }

    /// Stops the probe (closes the socket, kills the process group).
    pub fn abort(self) {
        match self {
            Probe::Tcp(_) | Probe::Http(_) => {} // dropping closes the socket
            Probe::Command(mut p) => p.kill(),
        }
    }
}

fn connect_error(addr: SocketAddr, e: &io::Error) -> String {
    format!("connect to {addr}: {e}")
}

/// Whether a non-blocking connect finished: `Ready(Ok)` connected,
/// `Ready(Err)` failed, `Pending` still in progress.
fn connect_state(stream: &TcpStream, addr: SocketAddr) -> Poll<ProbeResult> {
    match stream.take_error() {
        Ok(Some(e)) | Err(e) => return Poll::Ready(Err(connect_error(addr, &e))),
        Ok(None) => {}
    }
    match stream.peer_addr() {
        Ok(_) => Poll::Ready(Ok(())),
        Err(e)
            if e.kind() == io::ErrorKind::NotConnected
                || e.raw_os_error() == Some(libc_enotconn()) =>
        {
            Poll::Pending
        }
        Err(e) => Poll::Ready(Err(connect_error(addr, &e))),
    }
}

const fn libc_enotconn() -> i32 {
    nix::libc::ENOTCONN
}

/// A TCP connect check: success once the handshake completes.
#[derive(Debug)]
pub struct TcpProbe {
    stream: TcpStream,
    addr: SocketAddr,
}

impl TcpProbe {
    pub fn connect(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).map_err(|e| connect_error(addr, &e))?;
        Ok(TcpProbe { stream, addr })
    }

    pub fn poll(&mut self) -> Poll<ProbeResult> {
        let state = connect_state(&self.stream, self.addr);
        if let Poll::Ready(Ok(())) = state {
            let _ = self.stream.shutdown(Shutdown::Both);
        }
        state
    }
}

#[derive(Debug)]
enum HttpState {
    Connecting,
    Sending { written: usize },
    Receiving,
    Done,
}

/// An HTTP/1.0 GET: the status must fall in the range and, if set, the
/// body's SHA-256 must match. HTTP/1.0 with `Connection: close` means the
/// body ends when the server closes; no chunked encoding.
#[derive(Debug)]
pub struct HttpProbe {
    stream: TcpStream,
    spec: HttpSpec,
    request: Vec<u8>,
    response: Vec<u8>,
    state: HttpState,
}

/// Builds the request bytes; refuses paths and hosts that would break the
/// request line or headers.
pub fn http_request(spec: &HttpSpec) -> Result<Vec<u8>, String> {
    let bad = |s: &str| s.bytes().any(|b| b.is_ascii_control() || b == b' ');
    if !spec.path.starts_with('/') || bad(&spec.path) {
        return Err(format!(
            "HTTP path {:?} must start with / and contain no spaces or control characters",
            spec.path
        ));
    }
    if spec.host.is_empty() || bad(&spec.host) {
        return Err(format!(
            "HTTP host {:?} is not a valid Host header",
            spec.host
        ));
    }
    Ok(format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: vigild\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        spec.path, spec.host
    )
    .into_bytes())
}

/// Judges a complete HTTP response against the spec.
pub fn judge_http_response(spec: &HttpSpec, response: &[u8]) -> ProbeResult {
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            format!(
                "malformed HTTP response ({} bytes, no end of headers)",
                response.len()
            )
        })?;
    let status_line_end = response
        .iter()
        .position(|&b| b == b'\r')
        .unwrap_or(head_end);
    let status_line = String::from_utf8_lossy(&response[..status_line_end]);
    let mut words = status_line.split(' ');
    let version = words.next().unwrap_or("");
    let code = words.next().and_then(|c| c.parse::<u16>().ok());
    let code = match (version.starts_with("HTTP/1."), code) {
        (true, Some(c)) if (100..=599).contains(&c) => c,
        _ => return Err(format!("malformed HTTP status line {status_line:?}")),
    };
    if code < spec.status_min || code > spec.status_max {
        return Err(format!(
            "HTTP status {code}, expected {}..={}",
            spec.status_min, spec.status_max
        ));
    }
    if let Some(want) = spec.body_sha256 {
        let got = sha256::sha256(&response[head_end + 4..]);
        if got != want {
            return Err(format!(
                "HTTP body SHA-256 {} differs from the expected {}",
                sha256::to_hex(&got),
                sha256::to_hex(&want)
            ));
        }
    }
    Ok(())
}

impl HttpProbe {
    pub fn connect(spec: HttpSpec) -> Result<Self, String> {
        let request = http_request(&spec)?;
        let stream = TcpStream::connect(spec.addr).map_err(|e| connect_error(spec.addr, &e))?;
        Ok(HttpProbe {
            stream,
            spec,
            request,
            response: Vec::new(),
            state: HttpState::Connecting,
        })
    }

    pub fn poll(&mut self) -> Poll<ProbeResult> {
        loop {
            match self.state {
                HttpState::Connecting => match connect_state(&self.stream, self.spec.addr) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return self.finish(Err(e)),
                    Poll::Ready(Ok(())) => self.state = HttpState::Sending { written: 0 },
                },
                HttpState::Sending { written } => match self.stream.write(&self.request[written..])
                {
                    Ok(n) if written + n == self.request.len() => self.state = HttpState::Receiving,
                    Ok(0) => {
                        return self
                            .finish(Err("connection closed while sending the request".into()));
                    }
                    Ok(n) => {
                        self.state = HttpState::Sending {
                            written: written + n,
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return self.finish(Err(format!("sending the HTTP request: {e}"))),
                },
                HttpState::Receiving => {
                    let mut buf = [0u8; 16 * 1024];
                    match self.stream.read(&mut buf) {
                        Ok(0) => {
                            let result = judge_http_response(&self.spec, &self.response);
                            return self.finish(result);
                        }
                        Ok(n) => {
                            if self.response.len() + n > HTTP_MAX_RESPONSE {
                                return self.finish(Err(format!(
                                    "HTTP response larger than {HTTP_MAX_RESPONSE} bytes"
                                )));
                            }
                            self.response.extend_from_slice(&buf[..n]);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            return self.finish(Err(format!("reading the HTTP response: {e}")));
                        }
                    }
                }
                HttpState::Done => return Poll::Pending,
            }
        }
    }

    fn finish(&mut self, result: ProbeResult) -> Poll<ProbeResult> {
        self.state = HttpState::Done;
        let _ = self.stream.shutdown(Shutdown::Both);
        Poll::Ready(result)
    }
}

/// An external command: exit status 0 is success.
#[derive(Debug)]
pub struct CommandProbe {
    child: Option<Child>,
    program: String,
}

impl CommandProbe {
    pub fn spawn(argv: &[String], env: &[(String, String)]) -> Result<Self, String> {
        let (program, args) = argv.split_first().ok_or("empty check command")?;
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        Ok(CommandProbe {
            child: Some(child),
            program: program.clone(),
        })
    }

    /// The process id (for logs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn poll(&mut self) -> Poll<ProbeResult> {
        let Some(child) = self.child.as_mut() else {
            return Poll::Pending;
        };
        match child.try_wait() {
            Ok(None) => Poll::Pending,
            Ok(Some(status)) => {
                self.child = None;
                Poll::Ready(if status.success() {
                    Ok(())
                } else {
                    Err(format!("{} failed: {status}", self.program))
                })
            }
            Err(e) => {
                self.kill();
                Poll::Ready(Err(format!("waiting for {}: {e}", self.program)))
            }
        }
    }

    /// Kills the process group and reaps the child.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.kill();
            // SIGKILL cannot be caught: the wait returns at once.
            let _ = child.wait();
        }
    }
}

impl Drop for CommandProbe {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sha: Option<[u8; 32]>) -> HttpSpec {
        HttpSpec {
            addr: "127.0.0.1:80".parse().unwrap(),
            host: "10.0.1.1".into(),
            path: "/health".into(),
            status_min: 200,
            status_max: 299,
            body_sha256: sha,
        }
    }

    #[test]
    fn request_bytes() {
        assert_eq!(
            http_request(&spec(None)).unwrap(),
            b"GET /health HTTP/1.0\r\nHost: 10.0.1.1\r\nUser-Agent: vigild\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let mut s = spec(None);
        s.path = "/a b".into();
        assert!(http_request(&s).is_err());
        s.path = "health".into();
        assert!(http_request(&s).is_err());
        let mut s = spec(None);
        s.host = "x\r\nEvil: 1".into();
        assert!(http_request(&s).is_err());
    }

    #[test]
    fn judging_responses() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(judge_http_response(&spec(None), ok), Ok(()));
        assert_eq!(
            judge_http_response(&spec(Some(sha256::sha256(b"ok"))), ok),
            Ok(())
        );
        let e = judge_http_response(&spec(Some(sha256::sha256(b"no"))), ok).unwrap_err();
        assert!(e.contains("differs"), "{e}");
        let e = judge_http_response(&spec(None), b"HTTP/1.1 503 Busy\r\n\r\n").unwrap_err();
        assert_eq!(e, "HTTP status 503, expected 200..=299");
        assert!(judge_http_response(&spec(None), b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(judge_http_response(&spec(None), b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(judge_http_response(&spec(None), b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(judge_http_response(&spec(None), b"").is_err());
    }
}
