//! IPVS generic netlink messages: commands, attributes, and the encoding of
//! virtual services and destinations (real servers).
//!
//! The kernel's contract (`include/uapi/linux/ip_vs.h`, `ip_vs_ctl.c`):
//! * a service is identified by address family plus either
//!   (protocol, address, port) or a firewall mark;
//! * NEW/SET_SERVICE carry the *full* entry (scheduler, flags + mask,
//!   persistence timeout, netmask); DEL_SERVICE only the identity;
//! * destination requests carry the service identity and a nested DEST with
//!   address and port, plus (for NEW/SET_DEST) forwarding method, weight and
//!   both thresholds;
//! * ports are in network byte order; an IPv4 persistence netmask is a mask in
//!   network byte order, an IPv6 one a prefix length in host order; addresses
//!   are raw 4 or 16 bytes (the kernel answers with 16 for both).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vigil_schema::plan::Family;

use super::genl::{self, Attrs, DecodeError, GenlRequest, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};

/// The generic netlink family name.
pub const IPVS_GENL_NAME: &str = "IPVS";
/// The generic netlink family version.
pub const IPVS_GENL_VERSION: u8 = 1;

/// `IPVS_CMD_*`.
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const GET_INFO: u8 = 15;
}

/// `IPVS_CMD_ATTR_*` (top level).
pub mod cmd_attr {
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
}

/// `IPVS_SVC_ATTR_*` (nested in `cmd_attr::SERVICE`).
pub mod svc_attr {
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
}

/// `IPVS_DEST_ATTR_*` (nested in `cmd_attr::DEST`).
pub mod dest_attr {
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ADDR_FAMILY: u16 = 11;
}

/// `IPVS_INFO_ATTR_*` (top level of a GET_INFO reply).
pub mod info_attr {
    pub const VERSION: u16 = 1;
    pub const CONN_TAB_SIZE: u16 = 2;
}

/// `IP_VS_SVC_F_*` service flags.
pub mod svc_flags {
    pub const PERSISTENT: u32 = 0x1;
    /// Set by the kernel on every hashed service; never ours to compare.
    pub const HASHED: u32 = 0x2;
    pub const ONEPACKET: u32 = 0x4;
    pub const SCHED1: u32 = 0x8;
    pub const SCHED2: u32 = 0x10;
    pub const SCHED3: u32 = 0x20;
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// The maximum scheduler name length the kernel accepts (`IP_VS_SCHEDNAME_MAXLEN` - 1).
pub const SCHED_NAME_MAX: usize = 15;

pub fn family_to_af(family: Family) -> u16 {
    match family {
        Family::Ipv4 => AF_INET,
        Family::Ipv6 => AF_INET6,
    }
}

pub fn af_to_family(af: u16) -> Result<Family, DecodeError> {
    match af {
        AF_INET => Ok(Family::Ipv4),
        AF_INET6 => Ok(Family::Ipv6),
        other => Err(DecodeError::BadValue {
            attr: "address family",
            value: other.into(),
        }),
    }
}

pub fn family_of(addr: &IpAddr) -> Family {
    match addr {
        IpAddr::V4(_) => Family::Ipv4,
        IpAddr::V6(_) => Family::Ipv6,
    }
}

/// Transport protocol of an address/port service.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    pub fn from_number(n: u16) -> Result<Self, DecodeError> {
        match n {
            6 => Ok(Protocol::Tcp),
            17 => Ok(Protocol::Udp),
            132 => Ok(Protocol::Sctp),
            other => Err(DecodeError::BadValue {
                attr: "IPVS_SVC_ATTR_PROTOCOL",
                value: other.into(),
            }),
        }
    }
}

/// What identifies a virtual service in the kernel.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum ServiceKey {
    /// (protocol, virtual address, port); the family is the address's.
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// Firewall-mark service.
    Fwmark { family: Family, mark: u32 },
}

impl ServiceKey {
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => family_of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

impl std::fmt::Display for ServiceKey {
    /// The notation of `ipvsadm -Ln`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                let p = match protocol {
                    Protocol::Tcp => "TCP",
                    Protocol::Udp => "UDP",
                    Protocol::Sctp => "SCTP",
                };
                match addr {
                    IpAddr::V4(a) => write!(f, "{p} {a}:{port}"),
                    IpAddr::V6(a) => write!(f, "{p} [{a}]:{port}"),
                }
            }
            ServiceKey::Fwmark {
                family: Family::Ipv4,
                mark,
            } => write!(f, "FWM {mark}"),
            ServiceKey::Fwmark {
                family: Family::Ipv6,
                mark,
            } => write!(f, "FWM {mark} IPv6"),
        }
    }
}

/// A virtual service with every field the kernel stores and we manage.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Service {
    pub key: ServiceKey,
    pub scheduler: String,
    /// `IP_VS_SVC_F_*` without [`svc_flags::HASHED`].
    pub flags: u32,
    /// Persistence timeout in seconds (0 unless `PERSISTENT`).
    pub timeout_s: u32,
    /// IPv4: the mask as a host-order integer (`0xffff_ff00` = /24);
    /// IPv6: the prefix length.
    pub netmask: u32,
}

/// What identifies a destination within a service.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

impl std::fmt::Display for DestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// `IP_VS_CONN_F_*` forwarding methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum FwdMethod {
    Masq,
    LocalNode,
    Tunnel,
    Route,
    Bypass,
}

impl FwdMethod {
    pub fn number(self) -> u32 {
        match self {
            FwdMethod::Masq => 0,
            FwdMethod::LocalNode => 1,
            FwdMethod::Tunnel => 2,
            FwdMethod::Route => 3,
            FwdMethod::Bypass => 4,
        }
    }

    pub fn from_number(n: u32) -> Result<Self, DecodeError> {
        match n & 0x7 {
            0 => Ok(FwdMethod::Masq),
            1 => Ok(FwdMethod::LocalNode),
            2 => Ok(FwdMethod::Tunnel),
            3 => Ok(FwdMethod::Route),
            4 => Ok(FwdMethod::Bypass),
            other => Err(DecodeError::BadValue {
                attr: "IPVS_DEST_ATTR_FWD_METHOD",
                value: other.into(),
            }),
        }
    }
}

/// A destination (real server) of a service.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dest {
    pub key: DestKey,
    pub fwd: FwdMethod,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
}

/// The GET_INFO reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// `(major << 16) | (minor << 8) | patch`, e.g. 0x010201 = 1.2.1.
    pub version: u32,
    pub conn_tab_size: u32,
}

fn addr_bytes(addr: &IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn decode_addr(payload: &[u8], family: Family, attr: &'static str) -> Result<IpAddr, DecodeError> {
    match family {
        Family::Ipv4 => {
            let b: [u8; 4] =
                payload
                    .get(..4)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(DecodeError::AttrSize {
                        attr,
                        expected: "4 or 16",
                        got: payload.len(),
                    })?;
            Ok(IpAddr::V4(Ipv4Addr::from(b)))
        }
        Family::Ipv6 => {
            let b: [u8; 16] = payload.try_into().map_err(|_| DecodeError::AttrSize {
                attr,
                expected: "16",
                got: payload.len(),
            })?;
            Ok(IpAddr::V6(Ipv6Addr::from(b)))
        }
    }
}

fn put_service_key(req: &mut GenlRequest, key: &ServiceKey) {
    req.attr_u16(svc_attr::AF, family_to_af(key.family()));
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            req.attr_u16(svc_attr::PROTOCOL, protocol.number());
            req.attr_bytes(svc_attr::ADDR, &addr_bytes(addr));
            req.attr_bytes(svc_attr::PORT, &port.to_be_bytes());
        }
        ServiceKey::Fwmark { mark, .. } => {
            req.attr_u32(svc_attr::FWMARK, *mark);
        }
    }
}

fn put_service_full(req: &mut GenlRequest, svc: &Service) {
    put_service_key(req, &svc.key);
    req.attr_str(svc_attr::SCHED_NAME, &svc.scheduler);
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&svc.flags.to_ne_bytes());
    flags[4..].copy_from_slice(&(!svc_flags::HASHED).to_ne_bytes());
    req.attr_bytes(svc_attr::FLAGS, &flags);
    req.attr_u32(svc_attr::TIMEOUT, svc.timeout_s);
    match svc.key.family() {
        Family::Ipv4 => req.attr_bytes(svc_attr::NETMASK, &svc.netmask.to_be_bytes()),
        Family::Ipv6 => req.attr_u32(svc_attr::NETMASK, svc.netmask),
    };
}

fn put_dest(req: &mut GenlRequest, dest: &Dest, full: bool) {
    req.attr_bytes(dest_attr::ADDR, &addr_bytes(&dest.key.addr));
    req.attr_bytes(dest_attr::PORT, &dest.key.port.to_be_bytes());
    req.attr_u16(
        dest_attr::ADDR_FAMILY,
        family_to_af(family_of(&dest.key.addr)),
    );
    if full {
        req.attr_u32(dest_attr::FWD_METHOD, dest.fwd.number());
        req.attr_u32(dest_attr::WEIGHT, dest.weight);
        req.attr_u32(dest_attr::U_THRESH, dest.upper_threshold);
        req.attr_u32(dest_attr::L_THRESH, dest.lower_threshold);
    }
}

const ACKED: u16 = NLM_F_REQUEST | NLM_F_ACK;

/// `IPVS_CMD_GET_INFO`.
pub fn get_info(family_id: u16, seq: u32) -> Vec<u8> {
    GenlRequest::new(family_id, ACKED, seq, cmd::GET_INFO, IPVS_GENL_VERSION).finish()
}

/// Dump of every service of the network namespace.
pub fn dump_services(family_id: u16, seq: u32) -> Vec<u8> {
    GenlRequest::new(
        family_id,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        cmd::GET_SERVICE,
        IPVS_GENL_VERSION,
    )
    .finish()
}

/// Dump of one service's destinations.
pub fn dump_dests(family_id: u16, seq: u32, key: &ServiceKey) -> Vec<u8> {
    let mut req = GenlRequest::new(
        family_id,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        cmd::GET_DEST,
        IPVS_GENL_VERSION,
    );
    req.begin_nest(cmd_attr::SERVICE);
    put_service_key(&mut req, key);
    req.end_nest();
    req.finish()
}

/// NEW_SERVICE or SET_SERVICE (`command` is one of the two).
pub fn service_full(family_id: u16, seq: u32, command: u8, svc: &Service) -> Vec<u8> {
    let mut req = GenlRequest::new(family_id, ACKED, seq, command, IPVS_GENL_VERSION);
    req.begin_nest(cmd_attr::SERVICE);
    put_service_full(&mut req, svc);
    req.end_nest();
    req.finish()
}

/// DEL_SERVICE.
pub fn del_service(family_id: u16, seq: u32, key: &ServiceKey) -> Vec<u8> {
    let mut req = GenlRequest::new(family_id, ACKED, seq, cmd::DEL_SERVICE, IPVS_GENL_VERSION);
    req.begin_nest(cmd_attr::SERVICE);
    put_service_key(&mut req, key);
    req.end_nest();
    req.finish()
}

/// NEW_DEST or SET_DEST (`command` is one of the two).
pub fn dest_full(family_id: u16, seq: u32, command: u8, key: &ServiceKey, dest: &Dest) -> Vec<u8> {
    let mut req = GenlRequest::new(family_id, ACKED, seq, command, IPVS_GENL_VERSION);
    req.begin_nest(cmd_attr::SERVICE);
    put_service_key(&mut req, key);
    req.end_nest();
    req.begin_nest(cmd_attr::DEST);
    put_dest(&mut req, dest, true);
    req.end_nest();
    req.finish()
}

/// DEL_DEST.
pub fn del_dest(family_id: u16, seq: u32, key: &ServiceKey, dest: &DestKey) -> Vec<u8> {
    let mut req = GenlRequest::new(family_id, ACKED, seq, cmd::DEL_DEST, IPVS_GENL_VERSION);
    req.begin_nest(cmd_attr::SERVICE);
    put_service_key(&mut req, key);
    req.end_nest();
    req.begin_nest(cmd_attr::DEST);
    let d = Dest {
        key: *dest,
        fwd: FwdMethod::Masq,
        weight: 0,
        upper_threshold: 0,
        lower_threshold: 0,
    };
    put_dest(&mut req, &d, false);
    req.end_nest();
    req.finish()
}

/// Finds the payload of top-level attribute `kind` in a genl message's attributes.
pub fn find_attr<'a>(attrs: Attrs<'a>, kind: u16) -> Result<Option<&'a [u8]>, DecodeError> {
    for attr in attrs {
        let (k, payload) = attr?;
        if k == kind {
            return Ok(Some(payload));
        }
    }
    Ok(None)
}

/// Decodes the attributes nested in `IPVS_CMD_ATTR_SERVICE`.
pub fn decode_service(nested: &[u8]) -> Result<Service, DecodeError> {
    let (mut af, mut protocol, mut addr, mut port, mut fwmark) = (None, None, None, None, None);
    let (mut sched, mut flags, mut timeout, mut netmask) = (None, None, None, None);
    for attr in Attrs::new(nested) {
        let (kind, p) = attr?;
        match kind {
            svc_attr::AF => af = Some(genl::get_u16(p, "IPVS_SVC_ATTR_AF")?),
            svc_attr::PROTOCOL => protocol = Some(genl::get_u16(p, "IPVS_SVC_ATTR_PROTOCOL")?),
            svc_attr::ADDR => addr = Some(p),
            svc_attr::PORT => {
                let b: [u8; 2] = p.try_into().map_err(|_| DecodeError::AttrSize {
                    attr: "IPVS_SVC_ATTR_PORT",
                    expected: "2",
                    got: p.len(),
                })?;
                port = Some(u16::from_be_bytes(b));
            }
            svc_attr::FWMARK => fwmark = Some(genl::get_u32(p, "IPVS_SVC_ATTR_FWMARK")?),
            svc_attr::SCHED_NAME => sched = Some(genl::get_str(p)),
            svc_attr::FLAGS => {
                if p.len() != 8 {
                    return Err(DecodeError::AttrSize {
                        attr: "IPVS_SVC_ATTR_FLAGS",
                        expected: "8",
                        got: p.len(),
                    });
                }
                flags = Some(u32::from_ne_bytes([p[0], p[1], p[2], p[3]]));
            }
            svc_attr::TIMEOUT => timeout = Some(genl::get_u32(p, "IPVS_SVC_ATTR_TIMEOUT")?),
            svc_attr::NETMASK => {
                genl::get_u32(p, "IPVS_SVC_ATTR_NETMASK")?;
                netmask = Some([p[0], p[1], p[2], p[3]]);
            }
            _ => {}
        }
    }
    let family = af_to_family(af.ok_or(DecodeError::Missing {
        attr: "IPVS_SVC_ATTR_AF",
    })?)?;
    let key = match fwmark {
        Some(mark) if mark != 0 => ServiceKey::Fwmark { family, mark },
        _ => ServiceKey::Addr {
            protocol: Protocol::from_number(protocol.ok_or(DecodeError::Missing {
                attr: "IPVS_SVC_ATTR_PROTOCOL",
            })?)?,
            addr: decode_addr(
                addr.ok_or(DecodeError::Missing {
                    attr: "IPVS_SVC_ATTR_ADDR",
                })?,
                family,
                "IPVS_SVC_ATTR_ADDR",
            )?,
            port: port.ok_or(DecodeError::Missing {
                attr: "IPVS_SVC_ATTR_PORT",
            })?,
        },
    };
    let netmask = netmask.ok_or(DecodeError::Missing {
        attr: "IPVS_SVC_ATTR_NETMASK",
    })?;
    Ok(Service {
        key,
        scheduler: sched.ok_or(DecodeError::Missing {
            attr: "IPVS_SVC_ATTR_SCHED_NAME",
        })?,
        flags: flags.ok_or(DecodeError::Missing {
            attr: "IPVS_SVC_ATTR_FLAGS",
        })? & !svc_flags::HASHED,
        timeout_s: timeout.ok_or(DecodeError::Missing {
            attr: "IPVS_SVC_ATTR_TIMEOUT",
        })?,
        netmask: match family {
            Family::Ipv4 => u32::from_be_bytes(netmask),
            Family::Ipv6 => u32::from_ne_bytes(netmask),
        },
    })
}

/// Decodes the attributes nested in `IPVS_CMD_ATTR_DEST`; `svc_family` is
/// used when the kernel omits the destination's own family.
pub fn decode_dest(nested: &[u8], svc_family: Family) -> Result<Dest, DecodeError> {
    let (mut addr, mut port, mut fwd, mut weight, mut uth, mut lth, mut af) =
        (None, None, None, None, None, None, None);
    for attr in Attrs::new(nested) {
        let (kind, p) = attr?;
        match kind {
            dest_attr::ADDR => addr = Some(p),
            dest_attr::PORT => {
                let b: [u8; 2] = p.try_into().map_err(|_| DecodeError::AttrSize {
                    attr: "IPVS_DEST_ATTR_PORT",
                    expected: "2",
                    got: p.len(),
                })?;
                port = Some(u16::from_be_bytes(b));
            }
            dest_attr::FWD_METHOD => fwd = Some(genl::get_u32(p, "IPVS_DEST_ATTR_FWD_METHOD")?),
            dest_attr::WEIGHT => weight = Some(genl::get_u32(p, "IPVS_DEST_ATTR_WEIGHT")?),
            dest_attr::U_THRESH => uth = Some(genl::get_u32(p, "IPVS_DEST_ATTR_U_THRESH")?),
            dest_attr::L_THRESH => lth = Some(genl::get_u32(p, "IPVS_DEST_ATTR_L_THRESH")?),
            dest_attr::ADDR_FAMILY => af = Some(genl::get_u16(p, "IPVS_DEST_ATTR_ADDR_FAMILY")?),
            _ => {}
        }
    }
    let family = match af {
        Some(af) => af_to_family(af)?,
        None => svc_family,
    };
    Ok(Dest {
        key: DestKey {
            addr: decode_addr(
                addr.ok_or(DecodeError::Missing {
                    attr: "IPVS_DEST_ATTR_ADDR",
                })?,
                family,
                "IPVS_DEST_ATTR_ADDR",
            )?,
            port: port.ok_or(DecodeError::Missing {
                attr: "IPVS_DEST_ATTR_PORT",
            })?,
        },
        fwd: FwdMethod::from_number(fwd.ok_or(DecodeError::Missing {
            attr: "IPVS_DEST_ATTR_FWD_METHOD",
        })?)?,
        weight: weight.ok_or(DecodeError::Missing {
            attr: "IPVS_DEST_ATTR_WEIGHT",
        })?,
        upper_threshold: uth.unwrap_or(0),
        lower_threshold: lth.unwrap_or(0),
    })
}

/// Decodes a GET_INFO reply's attributes.
pub fn decode_info(attrs: Attrs<'_>) -> Result<Info, DecodeError> {
    let (mut version, mut size) = (None, None);
    for attr in attrs {
        let (kind, p) = attr?;
        match kind {
            info_attr::VERSION => version = Some(genl::get_u32(p, "IPVS_INFO_ATTR_VERSION")?),
            info_attr::CONN_TAB_SIZE => {
                size = Some(genl::get_u32(p, "IPVS_INFO_ATTR_CONN_TAB_SIZE")?)
            }
            _ => {}
        }
    }
    Ok(Info {
        version: version.ok_or(DecodeError::Missing {
            attr: "IPVS_INFO_ATTR_VERSION",
        })?,
        conn_tab_size: size.ok_or(DecodeError::Missing {
            attr: "IPVS_INFO_ATTR_CONN_TAB_SIZE",
        })?,
    })
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;
    use crate::ipvs::genl::NlMessages;

    fn tcp_svc() -> Service {
        Service {
            key: ServiceKey::Addr {
                protocol: Protocol::Tcp,
                addr: "10.0.0.1".parse().unwrap(),
                port: 80,
            },
            scheduler: "wlc".into(),
            flags: svc_flags::PERSISTENT,
            timeout_s: 300,
            netmask: 0xffff_ff00,
        }
    }

    /// NEW_SERVICE for TCP 10.0.0.1:80 wlc persistent 300 mask /24, family 0x20, seq 1.
    #[rustfmt::skip]
    static NEW_SERVICE_BYTES: [u8; 92] = [
        92, 0, 0, 0, 0x20, 0, 0x05, 0, 1, 0, 0, 0, 0, 0, 0, 0,
        1, 1, 0, 0,                         // NEW_SERVICE v1
        72, 0, 1, 0x80,                     // nested SERVICE, len 72
        6, 0, 1, 0, 2, 0, 0, 0,             // AF_INET
        6, 0, 2, 0, 6, 0, 0, 0,             // TCP
        8, 0, 3, 0, 10, 0, 0, 1,            // 10.0.0.1
        6, 0, 4, 0, 0, 80, 0, 0,            // port 80, network order
        8, 0, 6, 0, b'w', b'l', b'c', 0,    // scheduler
        12, 0, 7, 0, 1, 0, 0, 0, 0xfd, 0xff, 0xff, 0xff, // flags PERSISTENT, mask !HASHED
        8, 0, 8, 0, 0x2c, 1, 0, 0,          // timeout 300
        8, 0, 9, 0, 255, 255, 255, 0,       // netmask 255.255.255.0
    ];

    #[test]
    fn emits_new_service() {
        assert_eq!(
            service_full(0x20, 1, cmd::NEW_SERVICE, &tcp_svc()),
            NEW_SERVICE_BYTES.to_vec()
        );
    }

    #[test]
    fn parses_new_service_back() {
        let msg = NlMessages::new(&NEW_SERVICE_BYTES).next().unwrap().unwrap();
        let (command, attrs) = msg.genl().unwrap();
        assert_eq!(command, cmd::NEW_SERVICE);
        let nested = find_attr(attrs, cmd_attr::SERVICE).unwrap().unwrap();
        assert_eq!(decode_service(nested).unwrap(), tcp_svc());
    }

    #[test]
    fn kernel_style_16_byte_v4_address_and_hashed_flag() {
        let mut req = GenlRequest::new(0x20, 0, 1, cmd::NEW_SERVICE, 1);
        req.begin_nest(cmd_attr::SERVICE);
        req.attr_u16(svc_attr::AF, 2)
            .attr_u16(svc_attr::PROTOCOL, 17);
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[192, 0, 2, 5]);
        req.attr_bytes(svc_attr::ADDR, &a)
            .attr_bytes(svc_attr::PORT, &53u16.to_be_bytes());
        req.attr_str(svc_attr::SCHED_NAME, "rr");
        let mut fl = [0u8; 8];
        fl[..4].copy_from_slice(&(svc_flags::HASHED | svc_flags::SCHED2).to_ne_bytes());
        req.attr_bytes(svc_attr::FLAGS, &fl)
            .attr_u32(svc_attr::TIMEOUT, 0);
        req.attr_bytes(svc_attr::NETMASK, &[255, 255, 255, 255]);
        let bytes = req.finish();
        let msg = NlMessages::new(&bytes).next().unwrap().unwrap();
        let nested = find_attr(msg.genl().unwrap().1, cmd_attr::SERVICE)
            .unwrap()
            .unwrap();
        let svc = decode_service(nested).unwrap();
        assert_eq!(
            svc.key,
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: "192.0.2.5".parse().unwrap(),
                port: 53
            }
        );
        assert_eq!(svc.flags, svc_flags::SCHED2, "HASHED is masked off");
        assert_eq!(svc.netmask, 0xffff_ffff);
    }

    #[test]
    fn fwmark_v6_service_round_trip() {
        let svc = Service {
            key: ServiceKey::Fwmark {
                family: Family::Ipv6,
                mark: 7,
            },
            scheduler: "sh".into(),
            flags: svc_flags::SCHED1 | svc_flags::SCHED2,
            timeout_s: 0,
            netmask: 128,
        };
        let bytes = service_full(0x1f, 9, cmd::SET_SERVICE, &svc);
        // the FWMARK attribute, right after AF
        assert_eq!(&bytes[32..40], &[8, 0, 5, 0, 7, 0, 0, 0]);
        let msg = NlMessages::new(&bytes).next().unwrap().unwrap();
        let (c, attrs) = msg.genl().unwrap();
        assert_eq!(c, cmd::SET_SERVICE);
        assert_eq!(
            decode_service(find_attr(attrs, cmd_attr::SERVICE).unwrap().unwrap()).unwrap(),
            svc
        );
    }

    /// NEW_DEST 10.0.1.2:8080 route weight 5 thresholds 100/10 into FWM 3.
    #[rustfmt::skip]
    static NEW_DEST_BYTES: [u8; 100] = [
        100, 0, 0, 0, 0x20, 0, 0x05, 0, 2, 0, 0, 0, 0, 0, 0, 0,
        5, 1, 0, 0,
        20, 0, 1, 0x80,
        6, 0, 1, 0, 2, 0, 0, 0,             // AF_INET
        8, 0, 5, 0, 3, 0, 0, 0,             // fwmark 3
        60, 0, 2, 0x80,
        8, 0, 1, 0, 10, 0, 1, 2,            // addr
        6, 0, 2, 0, 0x1f, 0x90, 0, 0,       // port 8080
        6, 0, 11, 0, 2, 0, 0, 0,            // ADDR_FAMILY
        8, 0, 3, 0, 3, 0, 0, 0,             // DROUTE
        8, 0, 4, 0, 5, 0, 0, 0,             // weight
        8, 0, 5, 0, 100, 0, 0, 0,           // upper
        8, 0, 6, 0, 10, 0, 0, 0,            // lower
    ];

    fn route_dest() -> Dest {
        Dest {
            key: DestKey {
                addr: "10.0.1.2".parse().unwrap(),
                port: 8080,
            },
            fwd: FwdMethod::Route,
            weight: 5,
            upper_threshold: 100,
            lower_threshold: 10,
        }
    }

    #[test]
    fn emits_and_parses_new_dest() {
        let key = ServiceKey::Fwmark {
            family: Family::Ipv4,
            mark: 3,
        };
        assert_eq!(
            dest_full(0x20, 2, cmd::NEW_DEST, &key, &route_dest()),
            NEW_DEST_BYTES.to_vec()
        );
        let msg = NlMessages::new(&NEW_DEST_BYTES).next().unwrap().unwrap();
        let (_, attrs) = msg.genl().unwrap();
        let svc = find_attr(attrs.clone(), cmd_attr::SERVICE)
            .unwrap()
            .unwrap();
        let dest = find_attr(attrs, cmd_attr::DEST).unwrap().unwrap();
        assert!(
            decode_service(svc).is_err(),
            "an identity alone is not a full service"
        );
        assert_eq!(decode_dest(dest, Family::Ipv4).unwrap(), route_dest());
    }

    #[test]
    fn del_dest_carries_identity_only() {
        let key = ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr: "2001:db8::1".parse().unwrap(),
            port: 9,
        };
        let dk = DestKey {
            addr: "2001:db8::2".parse().unwrap(),
            port: 9,
        };
        let bytes = del_dest(0x20, 3, &key, &dk);
        let msg = NlMessages::new(&bytes).next().unwrap().unwrap();
        let (c, attrs) = msg.genl().unwrap();
        assert_eq!(c, cmd::DEL_DEST);
        let dest = find_attr(attrs, cmd_attr::DEST).unwrap().unwrap();
        let kinds: Vec<u16> = Attrs::new(dest).map(|a| a.unwrap().0).collect();
        assert_eq!(
            kinds,
            vec![dest_attr::ADDR, dest_attr::PORT, dest_attr::ADDR_FAMILY]
        );
        assert!(matches!(
            decode_dest(dest, Family::Ipv6),
            Err(DecodeError::Missing { .. })
        ));
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        assert!(Protocol::from_number(1).is_err());
        assert!(af_to_family(7).is_err());
        assert!(decode_addr(&[1, 2, 3], Family::Ipv4, "A").is_err());
        assert!(decode_addr(&[0; 4], Family::Ipv6, "A").is_err());
        assert!(decode_service(&[]).is_err());
        assert!(decode_service(&[6, 0, 1, 0, 2]).is_err());
    }

    #[test]
    fn service_key_display_matches_ipvsadm() {
        assert_eq!(tcp_svc().key.to_string(), "TCP 10.0.0.1:80");
        let k = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: "2001:db8::1".parse().unwrap(),
            port: 53,
        };
        assert_eq!(k.to_string(), "UDP [2001:db8::1]:53");
    }
}
