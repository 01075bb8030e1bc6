//! Interfaces: index and MAC lookup, and link up/down notifications.
//!
//! Notifications come from a separate socket subscribed to `RTNLGRP_LINK`
//! and registered with mio, so a carrier loss reaches the event loop as soon
//! as the kernel reports it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use neli::consts::socket::Msg;
use neli::socket::NlSocket;

use super::message::{
    MsgBuilder, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, RTM_DELLINK, RTM_GETLINK,
    RTM_NEWLINK, parse_attrs, parse_messages,
};
use super::{NlConn, NlError, open_route_socket};

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
/// Length of `struct ifinfomsg`.
const IFINFOMSG_LEN: usize = 16;
const IFF_UP: u32 = 0x1;
const IFF_LOWER_UP: u32 = 0x1_0000;
/// `RTMGRP_LINK`: the bitmask of multicast group `RTNLGRP_LINK` (1).
const RTMGRP_LINK: u32 = 1;

/// What the kernel says about one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub ifindex: u32,
    pub name: String,
    /// Hardware address (6 bytes for Ethernet; empty for links without one).
    pub mac: Vec<u8>,
    /// Administratively up (`IFF_UP`).
    pub admin_up: bool,
    /// Carrier present (`IFF_LOWER_UP`).
    pub lower_up: bool,
    /// `false` when the interface was deleted (`RTM_DELLINK`).
    pub exists: bool,
}

impl LinkInfo {
    /// Usable for VRRP: up and with carrier.
    pub fn is_up(&self) -> bool {
        self.exists && self.admin_up && self.lower_up
    }
}

/// Parses an `ifinfomsg` body of RTM_NEWLINK/RTM_DELLINK.
pub fn parse_ifinfo(kind: u16, p: &[u8]) -> Result<LinkInfo, NlError> {
    if p.len() < IFINFOMSG_LEN {
        return Err(NlError::Parse(super::message::NlParseError::Truncated {
            what: "ifinfomsg",
            need: IFINFOMSG_LEN,
            have: p.len(),
        }));
    }
    let ifindex = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]) as u32;
    let flags = u32::from_ne_bytes([p[8], p[9], p[10], p[11]]);
    let mut name = String::new();
    let mut mac = Vec::new();
    for (k, data) in parse_attrs(&p[IFINFOMSG_LEN..])? {
        match k {
            IFLA_IFNAME => {
                let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
                name = String::from_utf8_lossy(&data[..end]).into_owned();
            }
            IFLA_ADDRESS => mac = data.to_vec(),
            _ => {}
        }
    }
    Ok(LinkInfo {
        ifindex,
        name,
        mac,
        admin_up: flags & IFF_UP != 0,
        lower_up: flags & IFF_LOWER_UP != 0,
        exists: kind != RTM_DELLINK,
    })
}

/// Looks an interface up by name.
pub fn get_by_name(conn: &mut NlConn, name: &str) -> Result<LinkInfo, NlError> {
    let m = get_link_message(conn, name)?;
    parse_ifinfo(m.kind, &m.payload)
}

/// The kernel's RTM_NEWLINK answer for the interface `name` (ENODEV when
/// there is none).
fn get_link_message(conn: &mut NlConn, name: &str) -> Result<super::OwnedMsg, NlError> {
    let mut ifname = name.as_bytes().to_vec();
    ifname.push(0);
    let msgs = conn.request("get link", |seq| {
        MsgBuilder::new(
            RTM_GETLINK,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            &[0u8; IFINFOMSG_LEN],
        )
        .attr(IFLA_IFNAME, &ifname)
        .finish()
    })?;
    msgs.into_iter()
        .find(|m| m.kind == RTM_NEWLINK)
        .ok_or(NlError::Kernel {
            errno: nix::libc::ENODEV,
            request: "get link",
        })
}

const IFLA_LINK: u16 = 5;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_MACVLAN_MODE: u16 = 1;
/// `MACVLAN_MODE_PRIVATE`: no traffic between macvlans of one parent.
const MACVLAN_MODE_PRIVATE: u32 = 1;
const NLA_F_NESTED: u16 = 0x8000;

/// One attribute, padded to 4 bytes (for nesting).
fn rtattr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len() + 3);
    out.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(super::message::align(out.len()), 0);
    out
}

/// `struct ifinfomsg` for `ifindex` with `flags` under `change`.
fn ifinfomsg(ifindex: u32, flags: u32, change: u32) -> [u8; IFINFOMSG_LEN] {
    let mut h = [0u8; IFINFOMSG_LEN];
    h[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// The RTM_NEWLINK request creating a macvlan (private mode, down).
pub fn macvlan_request(seq: u32, name: &str, parent: u32, mac: [u8; 6]) -> Vec<u8> {
    let mut ifname = name.as_bytes().to_vec();
    ifname.push(0);
    let data = rtattr(IFLA_MACVLAN_MODE, &MACVLAN_MODE_PRIVATE.to_ne_bytes());
    let mut info = rtattr(IFLA_INFO_KIND, b"macvlan");
    info.extend(rtattr(IFLA_INFO_DATA | NLA_F_NESTED, &data));
    MsgBuilder::new(
        RTM_NEWLINK,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        seq,
        &ifinfomsg(0, 0, 0),
    )
    .attr(IFLA_IFNAME, &ifname)
    .attr(IFLA_LINK, &parent.to_ne_bytes())
    .attr(IFLA_ADDRESS, &mac)
    .attr(IFLA_LINKINFO | NLA_F_NESTED, &info)
    .finish()
}

/// Creates a macvlan `name` on `parent` with hardware address `mac`,
/// administratively down (set it up with [`set_up`]).
pub fn create_macvlan(
    conn: &mut NlConn,
    name: &str,
    parent: u32,
    mac: [u8; 6],
) -> Result<(), NlError> {
    conn.request("create macvlan", |seq| {
        macvlan_request(seq, name, parent, mac)
    })
    .map(|_| ())
}

/// Sets an interface administratively up.
pub fn set_up(conn: &mut NlConn, ifindex: u32) -> Result<(), NlError> {
    conn.request("set link up", |seq| {
        MsgBuilder::new(
            RTM_NEWLINK,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            &ifinfomsg(ifindex, IFF_UP, IFF_UP),
        )
        .finish()
    })
    .map(|_| ())
}

/// Deletes an interface.
pub fn delete(conn: &mut NlConn, ifindex: u32) -> Result<(), NlError> {
    conn.request("delete link", |seq| {
        MsgBuilder::new(
            RTM_DELLINK,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            &ifinfomsg(ifindex, 0, 0),
        )
        .finish()
    })
    .map(|_| ())
}

/// The kind (`IFLA_INFO_KIND`) and the parent (`IFLA_LINK`) of an interface.
pub fn kind_and_parent(conn: &mut NlConn, name: &str) -> Result<(String, Option<u32>), NlError> {
    let m = get_link_message(conn, name)?;
    let mut kind = String::new();
    let mut parent = None;
    let body = m.payload.get(IFINFOMSG_LEN..).unwrap_or_default();
    for (k, data) in parse_attrs(body)? {
        match k & !NLA_F_NESTED {
            IFLA_LINK if data.len() >= 4 => {
                parent = Some(u32::from_ne_bytes([data[0], data[1], data[2], data[3]]));
            }
            IFLA_LINKINFO => {
                for (ik, idata) in parse_attrs(data)? {
                    if ik & !NLA_F_NESTED == IFLA_INFO_KIND {
                        let end = idata.iter().position(|&c| c == 0).unwrap_or(idata.len());
                        kind = String::from_utf8_lossy(&idata[..end]).into_owned();
                    }
                }
            }
            _ => {}
        }
    }
    Ok((kind, parent))
}

/// A socket receiving link change notifications.
pub struct LinkMonitor {
    sock: NlSocket,
    buf: Vec<u8>,
}

impl std::fmt::Debug for LinkMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkMonitor")
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}

impl AsRawFd for LinkMonitor {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl LinkMonitor {
    /// Subscribes to `RTNLGRP_LINK`.
    pub fn open() -> Result<Self, NlError> {
        Ok(LinkMonitor {
            sock: open_route_socket(RTMGRP_LINK)?,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Reads every pending notification (call when mio reports readable).
    /// [`NlError::Overrun`] means notifications were lost and the caller
    /// should re-read the state of the links it cares about.
    pub fn drain(&mut self) -> Result<Vec<LinkInfo>, NlError> {
        let mut out = Vec::new();
        loop {
            let n = match self.sock.recv(&mut self.buf[..], Msg::empty()) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(out),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => {
                    return Err(NlError::Overrun);
                }
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Ok(out);
            }
            for m in parse_messages(&self.buf[..n])? {
                if m.kind == RTM_NEWLINK || m.kind == RTM_DELLINK {
                    out.push(parse_ifinfo(m.kind, m.payload)?);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_ifinfo_bytes() {
        let body: [u8; 36] = [
            0, 0, 1, 0, // family, pad, type ARPHRD_ETHER
            7, 0, 0, 0, // ifindex 7
            0x43, 0x10, 0x01, 0x00, // UP|RUNNING|MULTICAST|LOWER_UP
            0, 0, 0, 0, // change
            9, 0, 3, 0, b'e', b't', b'h', b'0', 0, 0, 0, 0, // IFLA_IFNAME "eth0"
            10, 0, 1, 0, 2, 0, 0, 0, // IFLA_ADDRESS, truncated to 6: see below
        ];
        // The MAC attribute is length 10 = 4 + 6 bytes; the buffer holds 4 of
        // them, so it must be rejected rather than read past the end.
        assert!(parse_ifinfo(RTM_NEWLINK, &body).is_err());
        let mut ok = body.to_vec();
        ok.extend_from_slice(&[0, 1, 0, 0]);
        let info = parse_ifinfo(RTM_NEWLINK, &ok).unwrap();
        assert_eq!(info.ifindex, 7);
        assert_eq!(info.name, "eth0");
        assert_eq!(info.mac, vec![2, 0, 0, 0, 0, 1]);
        assert!(info.is_up());
        let gone = parse_ifinfo(RTM_DELLINK, &ok).unwrap();
        assert!(!gone.is_up());
    }
}
