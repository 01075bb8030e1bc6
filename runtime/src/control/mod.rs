//! The status socket: `vigild status` asks the running daemon over a unix
//! stream socket and gets one JSON document per connection.
//!
//! The daemon side ([`ControlServer`]) is a non-blocking listener registered
//! with mio. On a connection the loop builds the document (state, priorities,
//! master address, arbitration verdict, trackers, counters), the server
//! writes as much as the socket takes and keeps the rest for the next
//! writable event, then closes. A client that never reads is dropped after
//! [`CLIENT_TIMEOUT`]; nothing here ever blocks the loop.
//!
//! The socket is created mode 0600 (only root may ask); a stale socket file
//! left by a crash is replaced, but a live daemon's socket is left alone and
//! the second daemon runs without one (and says so in its log).

pub mod client;

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use crate::vrrp::Instant;

/// Where `vigild` listens and `vigild status` connects by default.
pub const DEFAULT_SOCKET: &str = "/run/vigild/control.sock";
/// A connection whose document is not fully written by then is dropped.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// At most this many connections are served at once; more wait in the backlog.
pub const MAX_CLIENTS: usize = 16;
/// Connection tokens cycle through this many values after the first.
pub const CLIENT_TOKENS: usize = 1_000_000;

struct Client {
    stream: UnixStream,
    token: Token,
    out: Vec<u8>,
    written: usize,
    deadline: Instant,
}

/// The listening socket and the connections being answered.
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    token: Token,
    clients: Vec<Client>,
    next_token: usize,
    first_client_token: usize,
    pub served: u64,
    pub dropped: u64,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer")
            .field("path", &self.path)
            .field("clients", &self.clients.len())
            .finish()
    }
}

impl ControlServer {
    /// Binds `path` (mode 0600) and registers it as `token`; client
    /// connections get tokens from `first_client_token` up (a range of
    /// [`CLIENT_TOKENS`] the caller keeps free).
    pub fn bind(
        path: &Path,
        registry: &Registry,
        token: Token,
        first_client_token: usize,
    ) -> io::Result<ControlServer> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is served by a running daemon", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let mut listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        registry.register(&mut listener, token, Interest::READABLE)?;
        Ok(ControlServer {
            listener,
            path: path.to_path_buf(),
            token,
            clients: Vec::new(),
            next_token: first_client_token,
            first_client_token,
            served: 0,
            dropped: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `token` is the listener or one of its connections.
    pub fn owns(&self, token: Token) -> bool {
        token == self.token || self.clients.iter().any(|c| c.token == token)
    }

    /// Whether new connections are waiting (the loop then builds the
    /// document once and calls [`ControlServer::accept`]).
    pub fn is_listener(&self, token: Token) -> bool {
        token == self.token
    }

    /// Accepts every pending connection and starts answering each with `doc`.
    pub fn accept(&mut self, registry: &Registry, doc: &[u8], now: Instant) {
        loop {
            if self.clients.len() >= MAX_CLIENTS {
                return; // the rest wait in the backlog; the next event retries
            }
            let (mut stream, _) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.dropped += 1;
                    return;
                }
            };
            let token = Token(self.next_token);
            self.next_token += 1;
            if self.next_token >= self.first_client_token + CLIENT_TOKENS {
                self.next_token = self.first_client_token;
            }
            if registry
                .register(&mut stream, token, Interest::WRITABLE)
                .is_err()
            {
                self.dropped += 1;
                continue;
            }
            let mut out = doc.to_vec();
            out.push(b'\n');
            self.clients.push(Client {
                stream,
                token,
                out,
                written: 0,
                deadline: now + CLIENT_TIMEOUT,
            });
            self.flush(registry, token);
        }
    }

    /// Writes more of a connection's document (on a writable event).
    pub fn flush(&mut self, registry: &Registry, token: Token) {
        let Some(i) = self.clients.iter().position(|c| c.token == token) else {
            return;
        };
        let c = &mut self.clients[i];
        let done = loop {
            if c.written == c.out.len() {
                break true;
            }
            match c.stream.write(&c.out[c.written..]) {
                Ok(0) => break true,
                Ok(n) => c.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break true,
            }
        };
        if done {
            let mut c = self.clients.swap_remove(i);
            if c.written == c.out.len() {
                self.served += 1;
            } else {
                self.dropped += 1;
            }
            let _ = registry.deregister(&mut c.stream);
        }
    }

    /// The earliest client deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clients.iter().map(|c| c.deadline).min()
    }

    /// Drops connections past their deadline.
    pub fn poll(&mut self, registry: &Registry, now: Instant) {
        let mut i = 0;
        while i < self.clients.len() {
            if now >= self.clients[i].deadline {
                let mut c = self.clients.swap_remove(i);
                let _ = registry.deregister(&mut c.stream);
                self.dropped += 1;
            } else {
                i += 1;
            }
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn serves_one_document_per_connection_mode_0600_and_replaces_stale_files() {
        let dir = std::env::temp_dir().join(format!("vigil-control-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub/control.sock");
        let poll = mio::Poll::new().unwrap();
        // A stale file from a crash is replaced.
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        // Other tests of this process spawn children: one forked while the
        // listener above was open keeps it listening until it execs, and
        // for that moment the file is "served". Wait that moment out.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut server = loop {
            match ControlServer::bind(&path, poll.registry(), Token(7), 100) {
                Err(e)
                    if e.kind() == io::ErrorKind::AddrInUse
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => break other.unwrap(),
            }
        };
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A second daemon does not steal a live socket.
        let err = ControlServer::bind(&path, poll.registry(), Token(8), 200).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);

        let big = vec![b'x'; 1 << 20]; // larger than any socket buffer
        let mut client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(server.owns(Token(7)) && server.is_listener(Token(7)));
        server.accept(poll.registry(), &big, Instant(0));
        assert_eq!(server.clients.len(), 1, "the document did not fit at once");
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got
        });
        let token = server.clients[0].token;
        assert!(server.owns(token));
        while !server.clients.is_empty() {
            server.flush(poll.registry(), token);
            std::thread::sleep(Duration::from_millis(1));
        }
        let got = reader.join().unwrap();
        assert_eq!(got.len(), big.len() + 1);
        assert_eq!(server.served, 1);

        // A client that never reads is dropped at its deadline. (The
        // liveness probe of the refused second bind above was already
        // counted: its peer had gone.)
        let dropped = server.dropped;
        let _idle = std::os::unix::net::UnixStream::connect(&path).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        server.accept(poll.registry(), &big, Instant(0));
        assert_eq!(server.next_deadline(), Some(Instant(0) + CLIENT_TIMEOUT));
        server.poll(poll.registry(), Instant(0) + CLIENT_TIMEOUT);
        assert!(server.clients.is_empty());
        assert_eq!(server.dropped, dropped + 1);
        drop(server);
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
