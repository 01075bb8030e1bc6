//! Sockets the runtime speaks VRRP, ARP and neighbour discovery on.
//!
//! Every socket is non-blocking, bound to its interface, and exposes its
//! descriptor so the event loop can register it with mio. The packet bytes
//! themselves come from the `wire` codecs; this module only moves them and
//! reports what the kernel knows about a received packet (source,
//! destination, TTL / hop limit) because VRRP's validity rules need it.

pub mod arp_socket;
pub mod http;
pub mod icmp_socket;
pub mod na_socket;
pub mod vrrp_socket;

use std::io;
use std::os::fd::AsRawFd;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;
/// DSCP CS6 (network control), as keepalived and most routers send VRRP.
pub const TOS_CS6: u32 = 0xc0;

/// Sets an integer socket option the socket2 API does not cover.
pub(crate) fn setsockopt_int(
    sock: &impl AsRawFd,
    level: i32,
    name: i32,
    value: i32,
) -> io::Result<()> {
    // SAFETY: `value` lives across the call and its size is passed alongside.
    let rc = unsafe {
        nix::libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as nix::libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
