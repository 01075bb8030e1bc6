//! Unsolicited neighbour advertisement (RFC 4861 §7.2.6; RFC 5798 §6.4.2 asks
//! a new master to send one per IPv6 virtual address), as an ICMPv6 message.
//!
//! ```text
//! type 136 | code 0 | checksum
//! R S O reserved(29 bits)
//! target address (16)
//! option: type 2 (target link-layer address) | length 1 | MAC (6)
//! ```
//! Sent to ff02::1 with hop limit 255. The checksum covers the IPv6
//! pseudo-header (next header 58); a raw ICMPv6 socket recomputes it anyway,
//! but a packet socket does not, so `emit` always fills it.

use std::net::{IpAddr, Ipv6Addr};

use super::{DecodeError, EmitError, MacAddr, checksum};

pub const ICMPV6_PROTOCOL: u8 = 58;
pub const TYPE_NEIGHBOR_ADVERTISEMENT: u8 = 136;
pub const OPTION_TARGET_LL_ADDR: u8 = 2;
/// All-nodes multicast, the destination of unsolicited advertisements.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Message length with the one target link-layer address option.
pub const MESSAGE_LEN: usize = 32;

const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const FLAGS: usize = 4;
    pub const RESERVED: Range<usize> = 5..8;
    pub const TARGET: Range<usize> = 8..24;
    pub const OPT_TYPE: usize = 24;
    pub const OPT_LEN: usize = 25;
    pub const OPT_MAC: Range<usize> = 26..32;
}

/// A view of a neighbour advertisement carrying one option.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < MESSAGE_LEN {
            return Err(DecodeError::Truncated);
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn msg_type(&self) -> u8 {
        self.b()[field::TYPE]
    }
    pub fn code(&self) -> u8 {
        self.b()[field::CODE]
    }
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }
    pub fn flags(&self) -> u8 {
        self.b()[field::FLAGS]
    }
    pub fn target(&self) -> Ipv6Addr {
        let mut a = [0; 16];
        a.copy_from_slice(&self.b()[field::TARGET]);
        Ipv6Addr::from(a)
    }
    pub fn option_type(&self) -> u8 {
        self.b()[field::OPT_TYPE]
    }
    /// Option length in units of 8 bytes.
    pub fn option_len(&self) -> u8 {
        self.b()[field::OPT_LEN]
    }
    pub fn option_mac(&self) -> MacAddr {
        let mut m = [0; 6];
        m.copy_from_slice(&self.b()[field::OPT_MAC]);
        MacAddr(m)
    }

    /// Whether the checksum verifies for a packet from `src` to `dst`.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let d = self.b();
        let acc = checksum::pseudo_header(
            IpAddr::V6(src),
            IpAddr::V6(dst),
            ICMPV6_PROTOCOL,
            d.len() as u32,
        );
        checksum::finish(checksum::sum(acc, d)) == 0
    }
}

/// An unsolicited neighbour advertisement for one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// R flag: the sender is a router.
    pub router: bool,
    /// S flag: always false for unsolicited advertisements.
    pub solicited: bool,
    /// O flag: override cached entries (true, so neighbours switch to us at once).
    pub override_flag: bool,
    pub target: Ipv6Addr,
    pub mac: MacAddr,
}

impl Repr {
    /// An unsolicited advertisement announcing `target` at `mac`.
    pub fn unsolicited(target: Ipv6Addr, mac: MacAddr, router: bool) -> Repr {
        Repr {
            router,
            solicited: false,
            override_flag: true,
            target,
            mac,
        }
    }

    /// Parses a received message from `src` to `dst` (hop limit `hop_limit`).
    pub fn parse<T: AsRef<[u8]>>(
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        p: &Packet<T>,
    ) -> Result<Repr, DecodeError> {
        if p.b().len() < MESSAGE_LEN {
            return Err(DecodeError::Truncated);
        }
        if p.b().len() != MESSAGE_LEN {
            return Err(DecodeError::LengthMismatch);
        }
        if p.msg_type() != TYPE_NEIGHBOR_ADVERTISEMENT || p.code() != 0 {
            return Err(DecodeError::BadType);
        }
        if hop_limit != 255 {
            return Err(DecodeError::BadTtl);
        }
        if p.option_type() != OPTION_TARGET_LL_ADDR || p.option_len() != 1 {
            return Err(DecodeError::Malformed);
        }
        if !p.verify_checksum(src, dst) {
            return Err(DecodeError::BadChecksum);
        }
        let f = p.flags();
        Ok(Repr {
            router: f & FLAG_ROUTER != 0,
            solicited: f & FLAG_SOLICITED != 0,
            override_flag: f & FLAG_OVERRIDE != 0,
            target: p.target(),
            mac: p.option_mac(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        MESSAGE_LEN
    }

    /// Writes the message, checksum included, for a packet from `src` to `dst`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        p: &mut Packet<T>,
    ) -> Result<(), EmitError> {
        let b = p.buffer.as_mut();
        if b.len() != MESSAGE_LEN {
            return Err(EmitError::BufferTooSmall);
        }
        b[field::TYPE] = TYPE_NEIGHBOR_ADVERTISEMENT;
        b[field::CODE] = 0;
        b[field::CHECKSUM].copy_from_slice(&[0, 0]);
        b[field::FLAGS] = (if self.router { FLAG_ROUTER } else { 0 })
            | (if self.solicited { FLAG_SOLICITED } else { 0 })
            | (if self.override_flag { FLAG_OVERRIDE } else { 0 });
        b[field::RESERVED].copy_from_slice(&[0, 0, 0]);
        b[field::TARGET].copy_from_slice(&self.target.octets());
        b[field::OPT_TYPE] = OPTION_TARGET_LL_ADDR;
        b[field::OPT_LEN] = 1;
        b[field::OPT_MAC].copy_from_slice(&self.mac.0);
        let acc = checksum::pseudo_header(
            IpAddr::V6(src),
            IpAddr::V6(dst),
            ICMPV6_PROTOCOL,
            MESSAGE_LEN as u32,
        );
        let c = checksum::finish(checksum::sum(acc, b));
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }

    pub fn to_bytes(&self, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let mut buf = vec![0; MESSAGE_LEN];
        // Cannot fail: the buffer has exactly MESSAGE_LEN bytes.
        let _ = self.emit(src, dst, &mut Packet::new_unchecked(&mut buf[..]));
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    const TARGET: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
    const MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

    /// From fe80::1 to ff02::1, override set, target 2001:db8::100,
    /// MAC 52:54:00:12:34:56. The checksum was computed independently
    /// (pseudo-header + message words, RFC 1071) and written in by hand.
    static NA: [u8; 32] = [
        136, 0, 0xa2, 0xa8, // type, code, checksum
        0x20, 0, 0, 0, // O flag
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, // target
        2, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // target link-layer address option
    ];

    #[test]
    fn golden_both_ways() {
        let r = Repr::unsolicited(TARGET, MAC, false);
        assert_eq!(r.to_bytes(SRC, ALL_NODES), NA);
        let p = Packet::new_checked(&NA[..]).unwrap();
        assert_eq!(Repr::parse(SRC, ALL_NODES, 255, &p), Ok(r));
    }

    /// Captured from keepalived 2.2.7 announcing 2001:db8::53 (MAC
    /// 7a:f0:b9:76:00:f3): it sends from the VIP itself, O flag only.
    #[test]
    fn keepalived_2_2_7_capture() {
        let vip: Ipv6Addr = "2001:db8::53".parse().unwrap();
        let captured: [u8; 32] = [
            0x88, 0x00, 0xc5, 0x2d, 0x20, 0, 0, 0, //
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, //
            0x02, 0x01, 0x7a, 0xf0, 0xb9, 0x76, 0x00, 0xf3,
        ];
        let r = Repr::unsolicited(vip, MacAddr([0x7a, 0xf0, 0xb9, 0x76, 0x00, 0xf3]), false);
        let p = Packet::new_checked(&captured[..]).unwrap();
        assert_eq!(Repr::parse(vip, ALL_NODES, 255, &p), Ok(r));
        assert_eq!(r.to_bytes(vip, ALL_NODES), captured);
    }

    #[test]
    fn router_flag_round_trips() {
        let r = Repr::unsolicited(TARGET, MAC, true);
        let b = r.to_bytes(SRC, ALL_NODES);
        assert_eq!(b[4], 0xa0);
        assert_eq!(
            Repr::parse(SRC, ALL_NODES, 255, &Packet::new_unchecked(&b[..])),
            Ok(r)
        );
    }

    #[test]
    fn malformed_messages_are_rejected() {
        let parse = |b: &[u8], hl| Repr::parse(SRC, ALL_NODES, hl, &Packet::new_unchecked(b));
        assert_eq!(parse(&NA[..31], 255), Err(DecodeError::Truncated));
        let mut long = NA.to_vec();
        long.push(0);
        assert_eq!(parse(&long, 255), Err(DecodeError::LengthMismatch));
        let mut ty = NA;
        ty[0] = 135;
        assert_eq!(parse(&ty, 255), Err(DecodeError::BadType));
        assert_eq!(parse(&NA, 64), Err(DecodeError::BadTtl));
        let mut opt = NA;
        opt[24] = 1;
        assert_eq!(parse(&opt, 255), Err(DecodeError::Malformed));
        let mut sum = NA;
        sum[3] ^= 0xff;
        assert_eq!(parse(&sum, 255), Err(DecodeError::BadChecksum));
    }
}
