//! ICMP / ICMPv6 echo for reference-IP arbitration, without blocking.
//!
//! One raw socket per router and family (`SOCK_RAW`, `IPPROTO_ICMP` or
//! `IPPROTO_ICMPV6`), bound to the router's interface with
//! `SO_BINDTODEVICE` so a probe can only succeed over the link the router
//! serves (a reply arriving over another path proves nothing about this
//! one). The "ping socket" (`SOCK_DGRAM`) would need `ping_group_range`;
//! `vigild` runs as root and raw sockets work everywhere.
//!
//! Raw ICMP sockets see every ICMP message the host receives, so requests
//! carry an identifier unique to the router and the sequence number the
//! arbiter chose; replies with another identifier are skipped.
//!
//! * IPv4: we compute the ICMP checksum; received datagrams start with the
//!   IP header, whose length we read from IHL.
//! * IPv6: the kernel computes and verifies the checksum (RFC 3542 §3.1);
//!   received messages start at the ICMPv6 header; an `ICMP6_FILTER` lets
//!   only echo replies through.
//!
//! The echo codec ([`echo`]) follows the wire-module style: a checked
//! [`echo::Packet`] view and an [`echo::Repr`] with parse/emit.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

use nix::libc;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// The ICMP echo message (RFC 792, RFC 4443 §4.1/4.2).
pub mod echo {
    use crate::wire::checksum;

    /// ICMP (IPv4) echo request / reply types.
    pub const V4_REQUEST: u8 = 8;
    pub const V4_REPLY: u8 = 0;
    /// ICMPv6 echo request / reply types.
    pub const V6_REQUEST: u8 = 128;
    pub const V6_REPLY: u8 = 129;
    /// Type, code, checksum, identifier, sequence.
    pub const HEADER_LEN: usize = 8;

    /// Why bytes are not an echo message.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Error {
        Truncated,
        NotEcho(u8),
        BadChecksum,
    }

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Error::Truncated => f.write_str("ICMP message shorter than an echo header"),
                Error::NotEcho(t) => write!(f, "ICMP type {t} is not an echo"),
                Error::BadChecksum => f.write_str("ICMP checksum mismatch"),
            }
        }
    }

    /// A checked view of an echo message.
    #[derive(Debug)]
    pub struct Packet<T: AsRef<[u8]>> {
        buf: T,
    }

    impl<T: AsRef<[u8]>> Packet<T> {
        pub fn new_unchecked(buf: T) -> Self {
            Packet { buf }
        }

        /// Checks the length (nothing else: the type is checked in `Repr::parse`).
        pub fn new_checked(buf: T) -> Result<Self, Error> {
            if buf.as_ref().len() < HEADER_LEN {
                return Err(Error::Truncated);
            }
            Ok(Packet { buf })
        }

        pub fn msg_type(&self) -> u8 {
            self.buf.as_ref()[0]
        }
        pub fn code(&self) -> u8 {
            self.buf.as_ref()[1]
        }
        pub fn checksum(&self) -> u16 {
            let b = self.buf.as_ref();
            u16::from_be_bytes([b[2], b[3]])
        }
        pub fn ident(&self) -> u16 {
            let b = self.buf.as_ref();
            u16::from_be_bytes([b[4], b[5]])
        }
        pub fn seq(&self) -> u16 {
            let b = self.buf.as_ref();
            u16::from_be_bytes([b[6], b[7]])
        }
        pub fn payload(&self) -> &[u8] {
            &self.buf.as_ref()[HEADER_LEN..]
        }
        /// The RFC 1071 checksum over the whole message verifies (IPv4 only:
        /// ICMPv6 also covers a pseudo-header, which the kernel checks).
        pub fn verify_checksum(&self) -> bool {
            checksum::finish(checksum::sum(0, self.buf.as_ref())) == 0
        }
    }

    impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
        pub fn set_msg_type(&mut self, v: u8) {
            self.buf.as_mut()[0] = v;
        }
        pub fn set_code(&mut self, v: u8) {
            self.buf.as_mut()[1] = v;
        }
        pub fn set_checksum(&mut self, v: u16) {
            self.buf.as_mut()[2..4].copy_from_slice(&v.to_be_bytes());
        }
        pub fn set_ident(&mut self, v: u16) {
            self.buf.as_mut()[4..6].copy_from_slice(&v.to_be_bytes());
        }
        pub fn set_seq(&mut self, v: u16) {
            self.buf.as_mut()[6..8].copy_from_slice(&v.to_be_bytes());
        }
        /// Computes the IPv4 ICMP checksum over the message.
        pub fn fill_checksum(&mut self) {
            self.set_checksum(0);
            let c = checksum::finish(checksum::sum(0, self.buf.as_ref()));
            self.set_checksum(c);
        }
    }

    /// A parsed echo message.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Repr {
        pub msg_type: u8,
        pub ident: u16,
        pub seq: u16,
        pub payload: Vec<u8>,
    }

    impl Repr {
        /// Parses an echo request or reply of either family. `check_sum`:
        /// verify the IPv4 checksum (pass `false` for ICMPv6).
        pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>, check_sum: bool) -> Result<Repr, Error> {
            let t = p.msg_type();
            if ![V4_REQUEST, V4_REPLY, V6_REQUEST, V6_REPLY].contains(&t) || p.code() != 0 {
                return Err(Error::NotEcho(t));
            }
            if check_sum && !p.verify_checksum() {
                return Err(Error::BadChecksum);
            }
            Ok(Repr {
                msg_type: t,
                ident: p.ident(),
                seq: p.seq(),
                payload: p.payload().to_vec(),
            })
        }

        pub fn buffer_len(&self) -> usize {
            HEADER_LEN + self.payload.len()
        }

        /// Writes the message; the checksum is filled for IPv4 types and
        /// left zero for ICMPv6 (the kernel computes it).
        pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
            p.set_msg_type(self.msg_type);
            p.set_code(0);
            p.set_ident(self.ident);
            p.set_seq(self.seq);
            p.buf.as_mut()[HEADER_LEN..HEADER_LEN + self.payload.len()]
                .copy_from_slice(&self.payload);
            if self.msg_type == V4_REQUEST || self.msg_type == V4_REPLY {
                p.fill_checksum();
            } else {
                p.set_checksum(0);
            }
        }

        pub fn to_bytes(&self) -> Vec<u8> {
            let mut b = vec![0u8; self.buffer_len()];
            self.emit(&mut Packet::new_unchecked(&mut b[..]));
            b
        }
    }
}

/// Payload carried by our requests (identifies Vigil in a capture).
const PAYLOAD: &[u8] = b"vigil-arbitration";
const ICMP6_FILTER: i32 = 1;

/// One received echo reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoReply {
    pub from: IpAddr,
    pub seq: u16,
}

/// A raw ICMP or ICMPv6 socket bound to one interface.
#[derive(Debug)]
pub struct IcmpSocket {
    sock: Socket,
    v6: bool,
    ident: u16,
}

impl AsRawFd for IcmpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl IcmpSocket {
    /// Opens the socket on `ifname`, sending from `source` (the router's
    /// address there); `ident` tells our replies from everyone else's.
    pub fn open(ifname: &str, source: IpAddr, ident: u16) -> io::Result<IcmpSocket> {
        let v6 = source.is_ipv6();
        let (domain, proto) = if v6 {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        let sock = Socket::new(domain, Type::RAW.nonblocking().cloexec(), Some(proto))?;
        sock.bind_device(Some(ifname.as_bytes()))?;
        // The source may be absent while the interface is being configured:
        // then the kernel chooses (the bound device still decides the path).
        let _ = sock.bind(&SockAddr::from(SocketAddr::new(source, 0)));
        if v6 {
            // Pass only echo replies (a set bit blocks a type).
            let mut filter = [u32::MAX; 8];
            let t = u32::from(echo::V6_REPLY);
            filter[(t >> 5) as usize] &= !(1u32 << (t & 31));
            // SAFETY: the array outlives the call and its size is passed.
            let rc = unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::IPPROTO_ICMPV6,
                    ICMP6_FILTER,
                    filter.as_ptr().cast(),
                    std::mem::size_of_val(&filter) as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(IcmpSocket { sock, v6, ident })
    }

    pub fn ident(&self) -> u16 {
        self.ident
    }

    /// Sends one echo request to `target`.
    pub fn send_echo(&self, target: IpAddr, seq: u16) -> io::Result<()> {
        let repr = echo::Repr {
            msg_type: if self.v6 {
                echo::V6_REQUEST
            } else {
                echo::V4_REQUEST
            },
            ident: self.ident,
            seq,
            payload: PAYLOAD.to_vec(),
        };
        let bytes = repr.to_bytes();
        let n = self
            .sock
            .send_to(&bytes, &SockAddr::from(SocketAddr::new(target, 0)))?;
        if n != bytes.len() {
            return Err(io::Error::other("short ICMP send"));
        }
        Ok(())
    }

    /// Reads one datagram. `Ok(None)`: nothing pending. `Ok(Some(None))`:
    /// a datagram that is not one of our replies (skipped).
    pub fn recv(&self) -> io::Result<Option<Option<EchoReply>>> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
        let (n, from) = match self.sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        // SAFETY: recv_from initialised the first `n` bytes.
        let data: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
        let Some(from) = from.as_socket().map(|s| s.ip()) else {
            return Ok(Some(None));
        };
        Ok(Some(
            parse_reply(data, self.v6, self.ident).map(|seq| EchoReply { from, seq }),
        ))
    }
}

/// The sequence number of our echo reply in a received datagram (IPv4:
/// with its IP header), or `None` for anything else.
pub fn parse_reply(data: &[u8], v6: bool, ident: u16) -> Option<u16> {
    let icmp = if v6 {
        data
    } else {
        let ihl = usize::from(*data.first()? & 0x0f) * 4;
        if ihl < 20 {
            return None;
        }
        data.get(ihl..)?
    };
    let p = echo::Packet::new_checked(icmp).ok()?;
    let r = echo::Repr::parse(&p, !v6).ok()?;
    let reply = if v6 { echo::V6_REPLY } else { echo::V4_REPLY };
    (r.msg_type == reply && r.ident == ident).then_some(r.seq)
}

#[cfg(test)]
mod tests {
    use super::echo::*;
    use super::*;

    /// `ping -c1 -p 00 -s 4` style request: id 0x1234, seq 1, payload "abcd".
    const REQUEST: [u8; 12] = [
        0x08, 0x00, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd',
    ];

    #[test]
    fn emit_v4_request_matches_bytes() {
        let r = Repr {
            msg_type: V4_REQUEST,
            ident: 0x1234,
            seq: 1,
            payload: b"abcd".to_vec(),
        };
        assert_eq!(r.to_bytes(), REQUEST);
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(Repr::parse(&p, true).unwrap(), r);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(
            Packet::new_checked(&REQUEST[..7]).unwrap_err(),
            Error::Truncated
        );
        let mut b = REQUEST;
        b[2] ^= 1;
        assert_eq!(
            Repr::parse(&Packet::new_checked(&b[..]).unwrap(), true).unwrap_err(),
            Error::BadChecksum
        );
        let mut b = REQUEST;
        b[0] = 3; // destination unreachable
        assert_eq!(
            Repr::parse(&Packet::new_checked(&b[..]).unwrap(), true).unwrap_err(),
            Error::NotEcho(3)
        );
    }

    #[test]
    fn parse_reply_with_ipv4_header_and_ident() {
        let reply = Repr {
            msg_type: V4_REPLY,
            ident: 0x4242,
            seq: 77,
            payload: PAYLOAD.to_vec(),
        }
        .to_bytes();
        let mut dgram = vec![0x45u8; 1];
        dgram.extend_from_slice(&[0u8; 19]);
        dgram.extend_from_slice(&reply);
        assert_eq!(parse_reply(&dgram, false, 0x4242), Some(77));
        assert_eq!(parse_reply(&dgram, false, 0x4243), None);
        assert_eq!(parse_reply(&dgram[..24], false, 0x4242), None);
        assert_eq!(parse_reply(&[0x41], false, 0x4242), None);
        // Our own request echoed back by a capture is not a reply.
        let req = Repr {
            msg_type: V4_REQUEST,
            ident: 0x4242,
            seq: 77,
            payload: vec![],
        }
        .to_bytes();
        let mut d2 = dgram[..20].to_vec();
        d2.extend_from_slice(&req);
        assert_eq!(parse_reply(&d2, false, 0x4242), None);
        // IPv6: no IP header, the kernel checked the checksum.
        let r6 = Repr {
            msg_type: V6_REPLY,
            ident: 9,
            seq: 3,
            payload: vec![],
        }
        .to_bytes();
        assert_eq!(parse_reply(&r6, true, 9), Some(3));
    }

    /// A real echo over loopback, IPv4 and IPv6 (needs root for the raw
    /// socket; skipped otherwise: the lab tests cover IPv4 end to end).
    #[test]
    fn echo_over_loopback() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        echo_on_lo("127.0.0.1", 0x7a11);
        echo_on_lo("::1", 0x7a12);
    }

    fn echo_on_lo(addr: &str, ident: u16) {
        let a: IpAddr = addr.parse().unwrap();
        let s = IcmpSocket::open("lo", a, ident).unwrap();
        s.send_echo(a, 5).unwrap();
        let start = std::time::Instant::now();
        loop {
            match s.recv().unwrap() {
                Some(Some(r)) => {
                    assert_eq!(r.seq, 5);
                    assert_eq!(r.from, a);
                    break;
                }
                Some(None) => continue,
                None => {
                    assert!(
                        start.elapsed().as_secs() < 2,
                        "no echo reply from {addr} on lo"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
    }
}
