//! Gratuitous ARP over a packet socket.
//!
//! An `AF_PACKET`/`SOCK_RAW` socket carries whole Ethernet frames, which is
//! what `wire::arp` emits (the frame's source MAC is the announcing MAC).
//! The sending socket is opened with protocol 0 so it receives nothing; a
//! listening socket (used by the lab tests and for diagnostics) is opened
//! for `ETH_P_ARP` on one interface.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, RawFd};

use nix::libc;
use nix::sys::socket::{LinkAddr, MsgFlags, SockaddrLike, recvfrom, sendto};
use socket2::{Domain, Protocol, Socket, Type};

/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;

/// A packet socket for ARP on one interface.
#[derive(Debug)]
pub struct ArpSocket {
    sock: Socket,
    ifindex: u32,
}

impl AsRawFd for ArpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

fn link_addr(ifindex: u32, mac: [u8; 6]) -> LinkAddr {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ETH_P_ARP.to_be();
    sll.sll_ifindex = ifindex as i32;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&mac);
    let len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the pointer and length describe the initialised sockaddr_ll above.
    unsafe { LinkAddr::from_raw((&sll as *const libc::sockaddr_ll).cast(), Some(len)) }
        .expect("a filled sockaddr_ll converts to LinkAddr")
}

impl ArpSocket {
    /// A send-only socket for `ifindex`.
    pub fn sender(ifindex: u32) -> io::Result<Self> {
        let sock = Socket::new(
            Domain::PACKET,
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::from(0)),
        )?;
        Ok(ArpSocket { sock, ifindex })
    }

    /// A socket receiving every ARP message seen on `ifindex`.
    pub fn listener(ifindex: u32) -> io::Result<Self> {
        let proto = Protocol::from(i32::from(ETH_P_ARP.to_be()));
        let sock = Socket::new(
            Domain::PACKET,
            Type::RAW.nonblocking().cloexec(),
            Some(proto),
        )?;
        let addr = link_addr(ifindex, [0; 6]);
        nix::sys::socket::bind(sock.as_raw_fd(), &addr)?;
        Ok(ArpSocket { sock, ifindex })
    }

    /// Sends one Ethernet frame (ARP: 42 bytes) to the broadcast address.
    pub fn send_broadcast(&self, arp: &[u8]) -> io::Result<()> {
        let to = link_addr(self.ifindex, [0xff; 6]);
        let n = sendto(self.sock.as_raw_fd(), arp, &to, MsgFlags::empty())?;
        if n == arp.len() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "short ARP send: {n} of {} bytes",
                arp.len()
            )))
        }
    }

    /// Receives one ARP frame (Ethernet header included) and the sender's MAC; `None` if nothing is pending.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, [u8; 6])>> {
        match recvfrom::<LinkAddr>(self.sock.as_raw_fd(), buf) {
            Ok((n, from)) => {
                let mut mac = [0u8; 6];
                if let Some(a) = from.and_then(|a| a.addr()) {
                    mac = a;
                }
                Ok(Some((n, mac)))
            }
            Err(nix::errno::Errno::EAGAIN) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
