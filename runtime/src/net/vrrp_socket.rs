//! Raw VRRP sockets (IP protocol 112), one per interface and family.
//!
//! All routers on one interface and family share a socket; the event loop
//! hands each received packet to the router with the packet's VRID.
//!
//! * IPv4: the kernel builds the IP header on send (TTL 255, TOS CS6; the
//!   source address and output interface come from an `IP_PKTINFO` control
//!   message) and delivers the whole IP datagram on receive, so TTL, source
//!   and destination are read from the received header.
//! * IPv6: the kernel computes the VRRPv3 checksum over the pseudo-header
//!   (`IPV6_CHECKSUM` at offset 6) and drops packets whose checksum is
//!   wrong; hop limit and destination arrive as `IPV6_HOPLIMIT` /
//!   `IPV6_PKTINFO` control messages.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use nix::libc;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, SockaddrIn6, recvmsg, sendmsg,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};

use super::{IPPROTO_VRRP, TOS_CS6, setsockopt_int};
use vigil_schema::plan::Family;

/// VRRP's IPv4 multicast group.
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// VRRP's IPv6 multicast group.
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// What the kernel tells us about one received VRRP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit (VRRP requires 255).
    pub ttl: u8,
    /// Where the VRRP message starts in the receive buffer.
    pub offset: usize,
    /// Length of the VRRP message.
    pub len: usize,
}

/// Why a received datagram could not even be handed to the VRRP codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// Shorter than an IPv4 header, or a header length beyond the datagram.
    BadIpHeader,
    /// IPv6 packet without the hop-limit / packet-info control messages.
    MissingAncillary,
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecvError::BadIpHeader => f.write_str("malformed IPv4 header"),
            RecvError::MissingAncillary => {
                f.write_str("IPv6 packet without hop limit / destination")
            }
        }
    }
}

/// A raw VRRP socket bound to one interface.
#[derive(Debug)]
pub struct VrrpSocket {
    sock: Socket,
    family: Family,
    ifindex: u32,
    joined: bool,
}

impl AsRawFd for VrrpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl VrrpSocket {
    /// Opens the socket for `ifname` (index `ifindex`); joins the VRRP group
    /// when `multicast` (a router with unicast peers only needs unicast).
    pub fn open(family: Family, ifname: &str, ifindex: u32, multicast: bool) -> io::Result<Self> {
        let domain = match family {
            Family::Ipv4 => Domain::IPV4,
            Family::Ipv6 => Domain::IPV6,
        };
        let sock = Socket::new(
            domain,
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::from(IPPROTO_VRRP)),
        )?;
        sock.bind_device(Some(ifname.as_bytes()))?;
        match family {
            Family::Ipv4 => {
                sock.set_ttl_v4(255)?;
                sock.set_multicast_ttl_v4(255)?;
                sock.set_multicast_loop_v4(false)?;
                sock.set_tos_v4(TOS_CS6)?;
                if multicast {
                    sock.join_multicast_v4_n(
                        &VRRP_GROUP_V4,
                        &InterfaceIndexOrAddress::Index(ifindex),
                    )?;
                }
            }
            Family::Ipv6 => {
                sock.set_unicast_hops_v6(255)?;
                sock.set_multicast_hops_v6(255)?;
                sock.set_multicast_loop_v6(false)?;
                sock.set_tclass_v6(TOS_CS6)?;
                sock.set_multicast_if_v6(ifindex)?;
                setsockopt_int(&sock, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM, 6)?;
                setsockopt_int(&sock, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
                setsockopt_int(&sock, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
                if multicast {
                    sock.join_multicast_v6(&VRRP_GROUP_V6, ifindex)?;
                }
            }
        }
        Ok(VrrpSocket {
            sock,
            family,
            ifindex,
            joined: multicast,
        })
    }

    /// Joins the VRRP group if the socket was opened for unicast only.
    pub fn ensure_joined(&mut self) -> io::Result<()> {
        if !self.joined {
            match self.family {
                Family::Ipv4 => self.sock.join_multicast_v4_n(
                    &VRRP_GROUP_V4,
                    &InterfaceIndexOrAddress::Index(self.ifindex),
                )?,
                Family::Ipv6 => self.sock.join_multicast_v6(&VRRP_GROUP_V6, self.ifindex)?,
            }
            self.joined = true;
        }
        Ok(())
    }

    /// The interface index the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// Sends one VRRP message from `src` to `dst` (the group or a unicast peer).
    pub fn send(&self, payload: &[u8], src: IpAddr, dst: IpAddr) -> io::Result<()> {
        let iov = [IoSlice::new(payload)];
        let fd = self.sock.as_raw_fd();
        let sent = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: self.ifindex as i32,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from_ne_bytes(s.octets()),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                let to = SockaddrIn::from(SocketAddrV4::new(d, 0));
                sendmsg(
                    fd,
                    &iov,
                    &[ControlMessage::Ipv4PacketInfo(&info)],
                    MsgFlags::empty(),
                    Some(&to),
                )
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: s.octets(),
                    },
                    ipi6_ifindex: self.ifindex,
                };
                let scope = if is_link_scope(&d) { self.ifindex } else { 0 };
                let to = SockaddrIn6::from(SocketAddrV6::new(d, 0, 0, scope));
                sendmsg(
                    fd,
                    &iov,
                    &[ControlMessage::Ipv6PacketInfo(&info)],
                    MsgFlags::empty(),
                    Some(&to),
                )
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "source and destination families differ",
                ));
            }
        };
        match sent {
            Ok(n) if n == payload.len() => Ok(()),
            Ok(n) => Err(io::Error::other(format!(
                "short send: {n} of {} bytes",
                payload.len()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Receives one datagram into `buf`. `Ok(None)` when nothing is pending;
    /// `Ok(Some(Err(..)))` for a datagram that is not a usable IP packet.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Result<RecvMeta, RecvError>>> {
        let fd = self.sock.as_raw_fd();
        match self.family {
            Family::Ipv4 => {
                let n = match nix::sys::socket::recv(fd, buf, MsgFlags::empty()) {
                    Ok(n) => n,
                    Err(nix::errno::Errno::EAGAIN) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                Ok(Some(parse_ipv4_header(&buf[..n])))
            }
            Family::Ipv6 => {
                let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
                let mut iov = [IoSliceMut::new(buf)];
                let msg = match recvmsg::<SockaddrIn6>(
                    fd,
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::empty(),
                ) {
                    Ok(m) => m,
                    Err(nix::errno::Errno::EAGAIN) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                let len = msg.bytes;
                let src = msg.address.map(|a| IpAddr::V6(a.ip()));
                let mut hop = None;
                let mut dst = None;
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        match c {
                            ControlMessageOwned::Ipv6HopLimit(h) => hop = u8::try_from(h).ok(),
                            ControlMessageOwned::Ipv6PacketInfo(p) => {
                                dst = Some(IpAddr::V6(Ipv6Addr::from(p.ipi6_addr.s6_addr)))
                            }
                            _ => {}
                        }
                    }
                }
                Ok(Some(match (src, dst, hop) {
                    (Some(src), Some(dst), Some(ttl)) => Ok(RecvMeta {
                        src,
                        dst,
                        ttl,
                        offset: 0,
                        len,
                    }),
                    _ => Err(RecvError::MissingAncillary),
                }))
            }
        }
    }
}

fn is_link_scope(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80 || a.segments()[0] == 0xff02
}

/// Reads source, destination and TTL from the IPv4 header a raw socket
/// delivers, and locates the payload.
pub fn parse_ipv4_header(pkt: &[u8]) -> Result<RecvMeta, RecvError> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return Err(RecvError::BadIpHeader);
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    if ihl < 20 || ihl > pkt.len() || total < ihl {
        return Err(RecvError::BadIpHeader);
    }
    // The kernel may have trimmed nothing; trust the shorter of both lengths.
    let end = total.min(pkt.len());
    Ok(RecvMeta {
        src: IpAddr::V4(Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15])),
        dst: IpAddr::V4(Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19])),
        ttl: pkt[8],
        offset: ihl,
        len: end - ihl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ipv4_header_fields() {
        let mut pkt = vec![
            0x45, 0xc0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18,
        ];
        pkt.extend_from_slice(&[0x21, 7, 100, 0, 0, 1, 0, 0]);
        let m = parse_ipv4_header(&pkt).unwrap();
        assert_eq!(m.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(m.dst, IpAddr::V4(VRRP_GROUP_V4));
        assert_eq!(m.ttl, 255);
        assert_eq!((m.offset, m.len), (20, 8));
        assert_eq!(parse_ipv4_header(&pkt[..19]), Err(RecvError::BadIpHeader));
        pkt[0] = 0x4f; // IHL 60 > datagram
        assert_eq!(parse_ipv4_header(&pkt), Err(RecvError::BadIpHeader));
    }
}
