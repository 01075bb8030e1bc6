//! Unsolicited neighbour advertisements over a raw ICMPv6 socket.
//!
//! The kernel computes the ICMPv6 checksum for raw ICMPv6 sockets. Neighbour
//! discovery requires hop limit 255; the advertisement goes to all-nodes
//! (ff02::1) from the VIP itself, chosen with an `IPV6_PKTINFO` control
//! message. An `ICMP6_FILTER` blocking every type keeps the socket from
//! queueing the host's ICMPv6 traffic, since it is only used to send.

use std::io::{self, IoSlice};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use nix::libc;
use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn6, sendmsg};
use socket2::{Domain, Protocol, Socket, Type};

/// All-nodes multicast.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ICMP6_FILTER: i32 = 1;

/// A send-only ICMPv6 socket on one interface.
#[derive(Debug)]
pub struct NaSocket {
    sock: Socket,
    ifindex: u32,
}

impl AsRawFd for NaSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl NaSocket {
    pub fn open(ifname: &str, ifindex: u32) -> io::Result<Self> {
        let sock = Socket::new(
            Domain::IPV6,
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::ICMPV6),
        )?;
        sock.bind_device(Some(ifname.as_bytes()))?;
        sock.set_multicast_hops_v6(255)?;
        sock.set_unicast_hops_v6(255)?;
        sock.set_multicast_if_v6(ifindex)?;
        sock.set_multicast_loop_v6(false)?;
        let block_all = [u32::MAX; 8];
        // SAFETY: the filter array outlives the call; its size is passed.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::IPPROTO_ICMPV6,
                ICMP6_FILTER,
                block_all.as_ptr().cast(),
                mem_size(&block_all),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(NaSocket { sock, ifindex })
    }

    /// Sends one ICMPv6 message (checksum left 0 for the kernel) from `src` to all-nodes.
    pub fn send_all_nodes(&self, icmp: &[u8], src: Ipv6Addr) -> io::Result<()> {
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: src.octets(),
            },
            ipi6_ifindex: self.ifindex,
        };
        let to = SockaddrIn6::from(SocketAddrV6::new(ALL_NODES, 0, 0, self.ifindex));
        let n = sendmsg(
            self.sock.as_raw_fd(),
            &[IoSlice::new(icmp)],
            &[ControlMessage::Ipv6PacketInfo(&info)],
            MsgFlags::empty(),
            Some(&to),
        )?;
        if n == icmp.len() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "short NA send: {n} of {} bytes",
                icmp.len()
            )))
        }
    }
}

fn mem_size<T>(v: &T) -> libc::socklen_t {
    std::mem::size_of_val(v) as libc::socklen_t
}
