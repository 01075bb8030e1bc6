//! rtnetlink for the runtime: VIP addresses and interface facts.
//!
//! The socket is neli's plain [`NlSocket`] (the socket under
//! `NlSocketHandle`), made non-blocking and driven by our own code; neli's
//! router would start a thread per socket, which a one-thread daemon cannot
//! have. Messages are encoded and walked by [`message`] because one datagram
//! mixes ACKs, dump parts and notifications that must be dispatched one by
//! one.
//!
//! Two kinds of connection exist:
//! * a request connection ([`NlConn`]): the kernel handles rtnetlink
//!   requests inside `sendmsg`, so the reply is queued by the time the send
//!   returns; [`NlConn::request`] matches replies by sequence number, gathers
//!   multipart dumps up to `NLMSG_DONE`, and waits (bounded) only when a long
//!   dump is still being produced;
//! * a monitor connection ([`link::LinkMonitor`]) subscribed to a multicast
//!   group and registered with mio.

pub mod addr;
pub mod link;
pub mod message;

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use message::{NLM_F_ACK, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN, NlMsg};

/// How long a request may wait for the kernel's answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Receive buffer: large enough for any single rtnetlink datagram.
const RECV_BUF: usize = 64 * 1024;

/// A netlink failure.
#[derive(Debug)]
pub enum NlError {
    /// A socket call failed.
    Io(io::Error),
    /// The kernel refused the request with this errno.
    Kernel { errno: i32, request: &'static str },
    /// The kernel sent bytes we could not parse.
    Parse(message::NlParseError),
    /// No answer within [`REQUEST_TIMEOUT`].
    Timeout { request: &'static str },
    /// The kernel dropped messages (`NLMSG_OVERRUN` or `ENOBUFS`).
    Overrun,
}

impl std::fmt::Display for NlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NlError::Io(e) => write!(f, "netlink socket: {e}"),
            NlError::Kernel { errno, request } => write!(
                f,
                "{request}: kernel answered {}",
                io::Error::from_raw_os_error(*errno)
            ),
            NlError::Parse(e) => write!(f, "netlink reply: {e}"),
            NlError::Timeout { request } => write!(f, "{request}: no netlink answer"),
            NlError::Overrun => write!(f, "netlink messages were lost (overrun)"),
        }
    }
}

impl std::error::Error for NlError {}

impl From<io::Error> for NlError {
    fn from(e: io::Error) -> Self {
        NlError::Io(e)
    }
}

impl From<message::NlParseError> for NlError {
    fn from(e: message::NlParseError) -> Self {
        NlError::Parse(e)
    }
}

/// Opens a non-blocking `NETLINK_ROUTE` socket subscribed to `groups` (a bitmask).
fn open_route_socket(groups: u32) -> Result<NlSocket, NlError> {
    let sock = NlSocket::connect(NlFamily::Route, None, Groups::new_bitmask(groups))?;
    set_nonblocking(sock.as_raw_fd())?;
    Ok(sock)
}

/// Sets `O_NONBLOCK` on a descriptor the caller keeps open.
fn set_nonblocking(fd: RawFd) -> Result<(), NlError> {
    // SAFETY: the caller owns `fd` and keeps it open for this call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    Ok(())
}

/// Waits until `fd` is readable or `deadline` passes; `false` on timeout.
fn wait_readable(fd: RawFd, deadline: Instant) -> Result<bool, NlError> {
    let left = deadline.saturating_duration_since(Instant::now());
    // SAFETY: `fd` belongs to a socket the caller holds.
    let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
    let mut fds = [PollFd::new(bfd, PollFlags::POLLIN)];
    let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(n) => Ok(n > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(NlError::Io(e.into())),
    }
}

/// An owned copy of one received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedMsg {
    pub kind: u16,
    pub flags: u16,
    pub payload: Vec<u8>,
}

/// A request connection to rtnetlink.
pub struct NlConn {
    sock: NlSocket,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for NlConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NlConn")
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}

impl NlConn {
    /// Opens a request connection (no multicast groups).
    pub fn open() -> Result<Self, NlError> {
        Ok(NlConn {
            sock: open_route_socket(0)?,
            seq: 1,
            buf: vec![0; RECV_BUF],
        })
    }

    /// The next sequence number (never 0, which notifications use).
    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Sends one request built by `build(seq)` and returns the payload
    /// messages of its answer: for a dump every part up to `NLMSG_DONE`, for
    /// other requests whatever precedes the ACK. A non-zero errno is
    /// [`NlError::Kernel`]. Messages for other sequence numbers (late answers
    /// to an earlier timed-out request) are skipped.
    pub fn request(
        &mut self,
        what: &'static str,
        build: impl FnOnce(u32) -> Vec<u8>,
    ) -> Result<Vec<OwnedMsg>, NlError> {
        let seq = self.next_seq();
        let bytes = build(seq);
        debug_assert!(
            bytes.len() >= 16 && u16::from_ne_bytes([bytes[6], bytes[7]]) & NLM_F_REQUEST != 0
        );
        let wants_ack = u16::from_ne_bytes([bytes[6], bytes[7]]) & NLM_F_ACK != 0;
        self.sock.send(&bytes, Msg::empty())?;
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let mut out = Vec::new();
        loop {
            let n = match self.sock.recv(&mut self.buf[..], Msg::empty()) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !wait_readable(self.sock.as_raw_fd(), deadline)?
                        && Instant::now() >= deadline
                    {
                        return Err(NlError::Timeout { request: what });
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => {
                    return Err(NlError::Overrun);
                }
                Err(e) => return Err(e.into()),
            };
            let msgs = message::parse_messages(&self.buf[..n])?;
            for m in msgs {
                if m.seq != seq {
                    continue;
                }
                match finish_kind(&m)? {
                    Step::Error(errno) => {
                        return Err(NlError::Kernel {
                            errno,
                            request: what,
                        });
                    }
                    Step::Done => return Ok(out),
                    Step::Data => {
                        out.push(OwnedMsg {
                            kind: m.kind,
                            flags: m.flags,
                            payload: m.payload.to_vec(),
                        });
                        if !wants_ack && m.flags & message::NLM_F_MULTI == 0 {
                            return Ok(out);
                        }
                    }
                    Step::Skip => {}
                }
            }
        }
    }
}

enum Step {
    Error(i32),
    Done,
    Data,
    Skip,
}

fn finish_kind(m: &NlMsg<'_>) -> Result<Step, NlError> {
    Ok(match m.kind {
        NLMSG_ERROR => match m.error_code()? {
            0 => Step::Done,
            errno => Step::Error(errno),
        },
        NLMSG_DONE => Step::Done,
        NLMSG_OVERRUN => return Err(NlError::Overrun),
        message::NLMSG_NOOP => Step::Skip,
        _ => Step::Data,
    })
}
