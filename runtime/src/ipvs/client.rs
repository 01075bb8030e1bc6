//! The IPVS netlink socket: family resolution, the GET_INFO probe, dumps of
//! services and destinations, and NEW/SET/DEL requests.
//!
//! The socket is a plain `AF_NETLINK`/`NETLINK_GENERIC` socket opened with
//! nix, non-blocking and close-on-exec; its fd is exposed so the event loop
//! may register it. Generic netlink requests are handled by the kernel
//! inside `sendmsg`, so the answer is queued by the time the send returns;
//! [`IpvsClient`] therefore reads replies right after sending, matching them
//! by sequence number, and only waits (bounded by [`REQUEST_TIMEOUT`]) while a
//! long dump is still being produced. No call blocks on the network.
//!
//! Requests can be pipelined ([`IpvsClient::apply_all`]): up to [`WINDOW`]
//! requests are in flight before their ACKs are read, which keeps bulk
//! programming (thousands of destinations) fast without overflowing the
//! socket's receive buffer.

use std::collections::VecDeque;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, send,
    socket,
};

use super::genl::{self, DecodeError, NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN, NlMessages};
use super::messages::{self, Dest, DestKey, Info, Service, ServiceKey, cmd, cmd_attr};
use super::reconcile::{KernelService, Op};

/// How long one request may wait for the kernel's answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Requests in flight before ACKs are read in [`IpvsClient::apply_all`].
pub const WINDOW: usize = 64;
const RECV_BUF: usize = 64 * 1024;

/// An IPVS failure, worded for an operator.
#[derive(Debug)]
pub enum IpvsError {
    /// The generic netlink family "IPVS" does not exist.
    NoIpvs,
    /// A socket call failed.
    Os { call: &'static str, errno: Errno },
    /// The kernel refused a request.
    Kernel { request: String, errno: Errno },
    /// The kernel's answer could not be decoded.
    Decode { request: String, error: DecodeError },
    /// No answer within [`REQUEST_TIMEOUT`].
    Timeout { request: String },
}

impl IpvsError {
    /// The errno of a refused request, if that is what this is.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            IpvsError::Kernel { errno, .. } | IpvsError::Os { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// What an errno means for an IPVS request (from `ip_vs_ctl.c`).
fn explain(request: &str, errno: Errno) -> &'static str {
    let service_request = request.contains("SERVICE");
    match errno {
        Errno::EEXIST => "the entry already exists",
        Errno::ESRCH => "no such virtual service",
        Errno::ENOENT
            if request.starts_with("NEW_SERVICE") || request.starts_with("SET_SERVICE") =>
        {
            "the scheduler (or persistence engine) is not available in this kernel"
        }
        Errno::ENOENT => "no such destination",
        Errno::EINVAL if !service_request => {
            "invalid destination (is the address unicast, is `lo` up in this network namespace?)"
        }
        Errno::EINVAL => "invalid service parameters",
        Errno::EPERM => "permission denied (CAP_NET_ADMIN is needed)",
        Errno::EAFNOSUPPORT => "address family not supported (IPv6 IPVS disabled?)",
        Errno::ENOMEM => "the kernel is out of memory",
        _ => "the kernel refused the request",
    }
}

impl fmt::Display for IpvsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpvsError::NoIpvs => write!(f, "the kernel has no IPVS (ip_vs module not loaded?)"),
            IpvsError::Os { call, errno } => {
                write!(f, "IPVS netlink socket: {call}: {}", errno.desc())
            }
            IpvsError::Kernel { request, errno } => {
                write!(
                    f,
                    "IPVS {request}: {} ({})",
                    explain(request, *errno),
                    errno.desc()
                )
            }
            IpvsError::Decode { request, error } => {
                write!(f, "IPVS {request}: malformed reply: {error}")
            }
            IpvsError::Timeout { request } => {
                write!(f, "IPVS {request}: no answer from the kernel")
            }
        }
    }
}

impl std::error::Error for IpvsError {}

/// An open IPVS generic netlink connection.
#[derive(Debug)]
pub struct IpvsClient {
    fd: OwnedFd,
    family: u16,
    seq: u32,
    buf: Vec<u8>,
}

impl AsRawFd for IpvsClient {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for IpvsClient {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// One reply message: its genl payload, owned.
type Reply = Vec<u8>;

impl IpvsClient {
    /// Opens the socket and resolves the "IPVS" family. Asking the controller
    /// for the family makes the kernel try to autoload `ip_vs`; if the family
    /// still does not exist the error is [`IpvsError::NoIpvs`].
    pub fn open() -> Result<Self, IpvsError> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            SockProtocol::NetlinkGeneric,
        )
        .map_err(|errno| IpvsError::Os {
            call: "socket",
            errno,
        })?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(|errno| IpvsError::Os {
            call: "bind",
            errno,
        })?;
        let mut client = IpvsClient {
            fd,
            family: 0,
            seq: 0,
            buf: vec![0; RECV_BUF],
        };
        let seq = client.next_seq();
        let replies = match client.transact(
            "CTRL_CMD_GETFAMILY IPVS",
            genl::get_family_request(seq, messages::IPVS_GENL_NAME),
            seq,
            false,
        ) {
            Ok(r) => r,
            Err(IpvsError::Kernel {
                errno: Errno::ENOENT,
                ..
            }) => return Err(IpvsError::NoIpvs),
            Err(e) => return Err(e),
        };
        let request = "CTRL_CMD_GETFAMILY IPVS";
        let first = replies.first().ok_or(IpvsError::Decode {
            request: request.into(),
            error: DecodeError::Missing {
                attr: "CTRL_CMD_NEWFAMILY reply",
            },
        })?;
        client.family = parse_genl_family_id(first).map_err(|error| IpvsError::Decode {
            request: request.into(),
            error,
        })?;
        Ok(client)
    }

    /// The resolved generic netlink family id.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// Opens a connection and asks the kernel for its IPVS version: the
    /// startup probe.
    pub fn probe() -> Result<(IpvsClient, Info), IpvsError> {
        let mut client = IpvsClient::open()?;
        let info = client.info()?;
        Ok((client, info))
    }

    /// IPVS_CMD_GET_INFO.
    pub fn info(&mut self) -> Result<Info, IpvsError> {
        let seq = self.next_seq();
        let request = "GET_INFO";
        let replies = self.transact(request, messages::get_info(self.family, seq), seq, false)?;
        let reply = replies.first().ok_or(IpvsError::Decode {
            request: request.into(),
            error: DecodeError::Missing {
                attr: "GET_INFO reply",
            },
        })?;
        genl_attrs(reply)
            .and_then(messages::decode_info)
            .map_err(|error| IpvsError::Decode {
                request: request.into(),
                error,
            })
    }

    /// Every service of the network namespace.
    pub fn services(&mut self) -> Result<Vec<Service>, IpvsError> {
        let seq = self.next_seq();
        let request = "GET_SERVICE (dump)";
        let replies = self.transact(
            request,
            messages::dump_services(self.family, seq),
            seq,
            true,
        )?;
        replies
            .iter()
            .map(|r| {
                genl_attrs(r)
                    .and_then(|a| messages::find_attr(a, cmd_attr::SERVICE))
                    .and_then(|n| {
                        n.ok_or(DecodeError::Missing {
                            attr: "IPVS_CMD_ATTR_SERVICE",
                        })
                    })
                    .and_then(messages::decode_service)
                    .map_err(|error| IpvsError::Decode {
                        request: request.into(),
                        error,
                    })
            })
            .collect()
    }

    /// The destinations of one service.
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<Dest>, IpvsError> {
        let seq = self.next_seq();
        let request = format!("GET_DEST {key} (dump)");
        let replies = self.transact(
            &request,
            messages::dump_dests(self.family, seq, key),
            seq,
            true,
        )?;
        replies
            .iter()
            .map(|r| {
                genl_attrs(r)
                    .and_then(|a| messages::find_attr(a, cmd_attr::DEST))
                    .and_then(|n| {
                        n.ok_or(DecodeError::Missing {
                            attr: "IPVS_CMD_ATTR_DEST",
                        })
                    })
                    .and_then(|n| messages::decode_dest(n, key.family()))
                    .map_err(|error| IpvsError::Decode {
                        request: request.clone(),
                        error,
                    })
            })
            .collect()
    }

    /// Services with their destinations: the input of reconciliation.
    pub fn dump(&mut self) -> Result<Vec<KernelService>, IpvsError> {
        let services = self.services()?;
        let mut out = Vec::with_capacity(services.len());
        for service in services {
            let dests = self.dests(&service.key)?;
            out.push(KernelService { service, dests });
        }
        Ok(out)
    }

    pub fn new_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        self.apply(&Op::NewService(svc.clone()))
    }

    pub fn set_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        self.apply(&Op::SetService(svc.clone()))
    }

    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        self.apply(&Op::DelService(*key))
    }

    pub fn new_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<(), IpvsError> {
        self.apply(&Op::NewDest(*key, dest.clone()))
    }

    pub fn set_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<(), IpvsError> {
        self.apply(&Op::SetDest(*key, dest.clone()))
    }

    pub fn del_dest(&mut self, key: &ServiceKey, dest: &DestKey) -> Result<(), IpvsError> {
        self.apply(&Op::DelDest(*key, *dest))
    }

    /// Executes one operation and waits for its ACK.
    pub fn apply(&mut self, op: &Op) -> Result<(), IpvsError> {
        let seq = self.next_seq();
        let bytes = self.encode(op, seq);
        self.transact(&op.to_string(), bytes, seq, false)
            .map(|_| ())
    }

    /// Executes operations in order, pipelined [`WINDOW`] at a time; returns
    /// one result per operation. A failed operation does not stop the
    /// others (each is independent once ordered by reconciliation).
    pub fn apply_all(&mut self, ops: &[Op]) -> Vec<Result<(), IpvsError>> {
        let mut results: Vec<Option<Result<(), IpvsError>>> =
            (0..ops.len()).map(|_| None).collect();
        let mut pending: VecDeque<(u32, usize)> = VecDeque::new();
        let mut next = 0;
        while next < ops.len() || !pending.is_empty() {
            while next < ops.len() && pending.len() < WINDOW {
                let seq = self.next_seq();
                let bytes = self.encode(&ops[next], seq);
                match send(self.fd.as_raw_fd(), &bytes, MsgFlags::empty()) {
                    Ok(_) => pending.push_back((seq, next)),
                    Err(errno) => {
                        results[next] = Some(Err(IpvsError::Os {
                            call: "send",
                            errno,
                        }))
                    }
                }
                next += 1;
            }
            if pending.is_empty() {
                continue;
            }
            match self.read_acks(&mut pending, ops, &mut results) {
                Ok(()) => {}
                Err(e) => {
                    // The socket is unusable: report the error for everything still pending.
                    let text = e.to_string();
                    for (_, idx) in pending.drain(..) {
                        results[idx] = Some(Err(IpvsError::Timeout {
                            request: format!("{} ({text})", ops[idx]),
                        }));
                    }
                }
            }
        }
        results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
    }

    fn read_acks(
        &mut self,
        pending: &mut VecDeque<(u32, usize)>,
        ops: &[Op],
        results: &mut [Option<Result<(), IpvsError>>],
    ) -> Result<(), IpvsError> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let n = self.recv_some(deadline, "ACK")?;
        for msg in NlMessages::new(&self.buf[..n]) {
            let msg = msg.map_err(|error| IpvsError::Decode {
                request: "ACK".into(),
                error,
            })?;
            if msg.msg_type != NLMSG_ERROR {
                continue;
            }
            let Some(pos) = pending.iter().position(|(s, _)| *s == msg.seq) else {
                continue;
            };
            let (_, idx) = pending.remove(pos).unwrap_or((0, 0));
            let code = msg.error_code().map_err(|error| IpvsError::Decode {
                request: ops[idx].to_string(),
                error,
            })?;
            results[idx] = Some(if code == 0 {
                Ok(())
            } else {
                Err(IpvsError::Kernel {
                    request: ops[idx].to_string(),
                    errno: Errno::from_raw(code),
                })
            });
        }
        Ok(())
    }

    fn encode(&self, op: &Op, seq: u32) -> Vec<u8> {
        let f = self.family;
        match op {
            Op::NewService(s) => messages::service_full(f, seq, cmd::NEW_SERVICE, s),
            Op::SetService(s) => messages::service_full(f, seq, cmd::SET_SERVICE, s),
            Op::DelService(k) => messages::del_service(f, seq, k),
            Op::NewDest(k, d) => messages::dest_full(f, seq, cmd::NEW_DEST, k, d),
            Op::SetDest(k, d) => messages::dest_full(f, seq, cmd::SET_DEST, k, d),
            Op::DelDest(k, d) => messages::del_dest(f, seq, k, d),
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Receives one datagram, waiting (bounded) if none is queued yet.
    fn recv_some(&mut self, deadline: Instant, request: &str) -> Result<usize, IpvsError> {
        loop {
            match recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::MSG_TRUNC) {
                Ok(n) if n > self.buf.len() => {
                    return Err(IpvsError::Decode {
                        request: request.into(),
                        error: DecodeError::Truncated {
                            what: "datagram",
                            need: n,
                            have: self.buf.len(),
                        },
                    });
                }
                Ok(n) => return Ok(n),
                Err(Errno::EAGAIN) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(IpvsError::Timeout {
                            request: request.into(),
                        });
                    }
                    let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
                    let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
                    match poll(&mut fds, PollTimeout::from(ms)) {
                        Ok(_) | Err(Errno::EINTR) => {}
                        Err(errno) => {
                            return Err(IpvsError::Os {
                                call: "poll",
                                errno,
                            });
                        }
                    }
                }
                Err(Errno::EINTR) => {}
                Err(errno) => {
                    return Err(IpvsError::Os {
                        call: "recv",
                        errno,
                    });
                }
            }
        }
    }

    /// Sends a request and gathers its replies: for a dump, every part up
    /// to `NLMSG_DONE`; otherwise the replies up to the ACK.
    fn transact(
        &mut self,
        request: &str,
        bytes: Vec<u8>,
        seq: u32,
        dump: bool,
    ) -> Result<Vec<Reply>, IpvsError> {
        send(self.fd.as_raw_fd(), &bytes, MsgFlags::empty()).map_err(|errno| IpvsError::Os {
            call: "send",
            errno,
        })?;
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let mut replies = Vec::new();
        loop {
            let n = self.recv_some(deadline, request)?;
            for msg in NlMessages::new(&self.buf[..n]) {
                let msg = msg.map_err(|error| IpvsError::Decode {
                    request: request.into(),
                    error,
                })?;
                if msg.seq != seq {
                    // A late answer to an earlier request; not ours.
                    continue;
                }
                match msg.msg_type {
                    NLMSG_ERROR => {
                        let code = msg.error_code().map_err(|error| IpvsError::Decode {
                            request: request.into(),
                            error,
                        })?;
                        if code != 0 {
                            return Err(IpvsError::Kernel {
                                request: request.into(),
                                errno: Errno::from_raw(code),
                            });
                        }
                        if !dump {
                            return Ok(replies);
                        }
                    }
                    NLMSG_DONE => {
                        // A dump may end with an error code in DONE's payload.
                        if let Ok(code) = msg.error_code()
                            && code > 0
                        {
                            return Err(IpvsError::Kernel {
                                request: request.into(),
                                errno: Errno::from_raw(code),
                            });
                        }
                        return Ok(replies);
                    }
                    NLMSG_OVERRUN => {
                        return Err(IpvsError::Os {
                            call: "recv (overrun)",
                            errno: Errno::ENOBUFS,
                        });
                    }
                    t if t < 0x10 => {}
                    _ => replies.push(msg.payload.to_vec()),
                }
            }
        }
    }
}

fn genl_attrs(payload: &[u8]) -> Result<genl::Attrs<'_>, DecodeError> {
    if payload.len() < genl::GENL_HDR_LEN {
        return Err(DecodeError::Truncated {
            what: "genl header",
            need: genl::GENL_HDR_LEN,
            have: payload.len(),
        });
    }
    Ok(genl::Attrs::new(&payload[genl::GENL_HDR_LEN..]))
}

fn parse_genl_family_id(payload: &[u8]) -> Result<u16, DecodeError> {
    for attr in genl_attrs(payload)? {
        let (kind, p) = attr?;
        if kind == genl::CTRL_ATTR_FAMILY_ID {
            return genl::get_u16(p, "CTRL_ATTR_FAMILY_ID");
        }
    }
    Err(DecodeError::Missing {
        attr: "CTRL_ATTR_FAMILY_ID",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_name_the_cause() {
        assert_eq!(
            IpvsError::NoIpvs.to_string(),
            "the kernel has no IPVS (ip_vs module not loaded?)"
        );
        let e = IpvsError::Kernel {
            request: "NEW_SERVICE TCP 10.0.0.1:80 (scheduler nope)".into(),
            errno: Errno::ENOENT,
        };
        assert!(e.to_string().contains("scheduler"), "{e}");
        let e = IpvsError::Kernel {
            request: "NEW_DEST TCP 10.0.0.1:80 -> 10.0.1.1:80".into(),
            errno: Errno::EINVAL,
        };
        assert!(e.to_string().contains("lo"), "{e}");
    }
}
