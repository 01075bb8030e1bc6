//! Interface addresses: add and remove VIPs, list what an interface holds.
//!
//! Adding an address that is already there (`EEXIST`) and removing one that
//! is not (`EADDRNOTAVAIL`) both count as done: after a crash or a manual
//! change the runtime converges instead of failing.

use std::net::IpAddr;

use super::message::{
    MsgBuilder, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, RTM_DELADDR,
    RTM_GETADDR, RTM_NEWADDR, parse_attrs,
};
use super::{NlConn, NlError};

const AF_INET: u8 = nix::libc::AF_INET as u8;
const AF_INET6: u8 = nix::libc::AF_INET6 as u8;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
/// Skip duplicate address detection: a VIP must work the moment we take it.
const IFA_F_NODAD: u8 = 0x02;
/// Length of `struct ifaddrmsg`.
const IFADDRMSG_LEN: usize = 8;

/// An address on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub address: IpAddr,
    pub prefix_len: u8,
    pub ifindex: u32,
    /// The IPv4 label (`eth0:vip`), if the kernel reported one.
    pub label: Option<String>,
}

/// What an idempotent change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The kernel changed something.
    Done,
    /// Nothing to do: the address was already present (add) or absent (remove).
    AlreadyDone,
}

fn ifaddrmsg(addr: &IpAddr, prefix_len: u8, ifindex: u32) -> [u8; IFADDRMSG_LEN] {
    let (family, flags) = match addr {
        IpAddr::V4(_) => (AF_INET, 0),
        IpAddr::V6(_) => (AF_INET6, IFA_F_NODAD),
    };
    let idx = ifindex.to_ne_bytes();
    [family, prefix_len, flags, 0, idx[0], idx[1], idx[2], idx[3]]
}

fn addr_bytes(addr: &IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Builds an RTM_NEWADDR / RTM_DELADDR request.
fn addr_request(kind: u16, flags: u16, seq: u32, a: &IfAddr) -> Vec<u8> {
    let bytes = addr_bytes(&a.address);
    let mut b = MsgBuilder::new(
        kind,
        flags,
        seq,
        &ifaddrmsg(&a.address, a.prefix_len, a.ifindex),
    )
    .attr(IFA_LOCAL, &bytes)
    .attr(IFA_ADDRESS, &bytes);
    if let (IpAddr::V4(_), Some(label)) = (a.address, &a.label) {
        let mut l = label.as_bytes().to_vec();
        l.push(0);
        b = b.attr(IFA_LABEL, &l);
    }
    b.finish()
}

/// Adds `a` to its interface; an existing identical address is [`Change::AlreadyDone`].
pub fn add(conn: &mut NlConn, a: &IfAddr) -> Result<Change, NlError> {
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    match conn.request("add address", |seq| {
        addr_request(RTM_NEWADDR, flags, seq, a)
    }) {
        Ok(_) => Ok(Change::Done),
        Err(NlError::Kernel { errno, .. }) if errno == nix::libc::EEXIST => Ok(Change::AlreadyDone),
        Err(e) => Err(e),
    }
}

/// Removes `a` from its interface; a missing address is [`Change::AlreadyDone`].
pub fn remove(conn: &mut NlConn, a: &IfAddr) -> Result<Change, NlError> {
    let flags = NLM_F_REQUEST | NLM_F_ACK;
    match conn.request("remove address", |seq| {
        addr_request(RTM_DELADDR, flags, seq, a)
    }) {
        Ok(_) => Ok(Change::Done),
        Err(NlError::Kernel { errno, .. }) if errno == nix::libc::EADDRNOTAVAIL => {
            Ok(Change::AlreadyDone)
        }
        Err(e) => Err(e),
    }
}

/// Lists the addresses of interface `ifindex` (both families).
pub fn dump(conn: &mut NlConn, ifindex: u32) -> Result<Vec<IfAddr>, NlError> {
    let msgs = conn.request("dump addresses", |seq| {
        MsgBuilder::new(
            RTM_GETADDR,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
            &[0u8; IFADDRMSG_LEN],
        )
        .finish()
    })?;
    let mut out = Vec::new();
    for m in msgs.iter().filter(|m| m.kind == RTM_NEWADDR) {
        if let Some(a) = parse_ifaddr(&m.payload)? {
            if a.ifindex == ifindex {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// Parses an `ifaddrmsg` body; `None` for families other than IPv4/IPv6.
pub fn parse_ifaddr(p: &[u8]) -> Result<Option<IfAddr>, NlError> {
    if p.len() < IFADDRMSG_LEN {
        return Err(NlError::Parse(super::message::NlParseError::Truncated {
            what: "ifaddrmsg",
            need: IFADDRMSG_LEN,
            have: p.len(),
        }));
    }
    let family = p[0];
    let prefix_len = p[1];
    let ifindex = u32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
    let mut local = None;
    let mut address = None;
    let mut label = None;
    for (kind, data) in parse_attrs(&p[IFADDRMSG_LEN..])? {
        let ip = match (family, data.len()) {
            (AF_INET, 4) => Some(IpAddr::from(<[u8; 4]>::try_from(data).unwrap_or_default())),
            (AF_INET6, 16) => Some(IpAddr::from(<[u8; 16]>::try_from(data).unwrap_or_default())),
            _ => None,
        };
        match kind {
            IFA_LOCAL => local = ip,
            IFA_ADDRESS => address = ip,
            IFA_LABEL => {
                let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
                label = Some(String::from_utf8_lossy(&data[..end]).into_owned());
            }
            _ => {}
        }
    }
    // IPv4 reports the interface's own address as IFA_LOCAL (IFA_ADDRESS is
    // the peer on point-to-point links); IPv6 sends only IFA_ADDRESS.
    Ok(local.or(address).map(|address| IfAddr {
        address,
        prefix_len,
        ifindex,
        label,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_label_for_ipv4_only() {
        let v4 = IfAddr {
            address: "10.0.0.100".parse().unwrap(),
            prefix_len: 24,
            ifindex: 3,
            label: Some("eth0:vip".into()),
        };
        let bytes = addr_request(RTM_NEWADDR, NLM_F_REQUEST, 1, &v4);
        let msgs = super::super::message::parse_messages(&bytes).unwrap();
        let parsed = parse_ifaddr(msgs[0].payload).unwrap().unwrap();
        assert_eq!(parsed, v4);

        let v6 = IfAddr {
            address: "fd00::100".parse().unwrap(),
            prefix_len: 64,
            ifindex: 3,
            label: Some("ignored".into()),
        };
        let bytes = addr_request(RTM_NEWADDR, NLM_F_REQUEST, 1, &v6);
        let msgs = super::super::message::parse_messages(&bytes).unwrap();
        assert_eq!(msgs[0].payload[2], IFA_F_NODAD);
        let parsed = parse_ifaddr(msgs[0].payload).unwrap().unwrap();
        assert_eq!(parsed, IfAddr { label: None, ..v6 });
    }

    #[test]
    fn short_ifaddrmsg_is_an_error() {
        assert!(parse_ifaddr(&[2, 24, 0]).is_err());
    }
}
