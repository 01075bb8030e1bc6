//! Gratuitous ARP (RFC 5227 §3 "ARP announcement"; RFC 5798 §6.4.2 asks a new
//! master to broadcast one per IPv4 virtual address) in an Ethernet frame.
//!
//! ```text
//! Ethernet: dst(6) src(6) ethertype 0x0806
//! ARP:      htype 1 | ptype 0x0800 | hlen 6 | plen 4 | oper
//!           sender MAC | sender IP | target MAC | target IP
//! ```
//! A gratuitous request has sender IP = target IP = the VIP and the broadcast
//! address as target MAC (what keepalived and `arping -U` send; RFC 5227 says
//! the field is ignored); a gratuitous reply carries the sender MAC as target
//! MAC.

use std::net::Ipv4Addr;

use super::{DecodeError, EmitError, MacAddr};

pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERNET_HEADER_LEN: usize = 14;
pub const ARP_LEN: usize = 28;
/// An Ethernet + ARP frame without the padding the NIC adds.
pub const FRAME_LEN: usize = ETHERNET_HEADER_LEN + ARP_LEN;

mod field {
    use core::ops::Range;
    // Offsets inside the Ethernet frame.
    pub const ETH_DST: Range<usize> = 0..6;
    pub const ETH_SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const HTYPE: Range<usize> = 14..16;
    pub const PTYPE: Range<usize> = 16..18;
    pub const HLEN: usize = 18;
    pub const PLEN: usize = 19;
    pub const OPER: Range<usize> = 20..22;
    pub const SHA: Range<usize> = 22..28;
    pub const SPA: Range<usize> = 28..32;
    pub const THA: Range<usize> = 32..38;
    pub const TPA: Range<usize> = 38..42;
}

/// ARP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Request,
    Reply,
}

/// A view of an Ethernet frame carrying ARP for IPv4 over Ethernet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < FRAME_LEN {
            return Err(DecodeError::Truncated);
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        u16::from_be_bytes([self.b()[r.start], self.b()[r.start + 1]])
    }

    fn mac_at(&self, r: core::ops::Range<usize>) -> MacAddr {
        let mut m = [0; 6];
        m.copy_from_slice(&self.b()[r]);
        MacAddr(m)
    }

    fn ip_at(&self, r: core::ops::Range<usize>) -> Ipv4Addr {
        let s = &self.b()[r];
        Ipv4Addr::new(s[0], s[1], s[2], s[3])
    }

    pub fn eth_dst(&self) -> MacAddr {
        self.mac_at(field::ETH_DST)
    }
    pub fn eth_src(&self) -> MacAddr {
        self.mac_at(field::ETH_SRC)
    }
    pub fn ethertype(&self) -> u16 {
        self.u16_at(field::ETHERTYPE)
    }
    pub fn htype(&self) -> u16 {
        self.u16_at(field::HTYPE)
    }
    pub fn ptype(&self) -> u16 {
        self.u16_at(field::PTYPE)
    }
    pub fn hlen(&self) -> u8 {
        self.b()[field::HLEN]
    }
    pub fn plen(&self) -> u8 {
        self.b()[field::PLEN]
    }
    pub fn oper(&self) -> u16 {
        self.u16_at(field::OPER)
    }
    pub fn sender_mac(&self) -> MacAddr {
        self.mac_at(field::SHA)
    }
    pub fn sender_ip(&self) -> Ipv4Addr {
        self.ip_at(field::SPA)
    }
    pub fn target_mac(&self) -> MacAddr {
        self.mac_at(field::THA)
    }
    pub fn target_ip(&self) -> Ipv4Addr {
        self.ip_at(field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, r: core::ops::Range<usize>, v: &[u8]) {
        self.buffer.as_mut()[r].copy_from_slice(v);
    }
}

/// A gratuitous ARP announcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub operation: Operation,
    /// The interface MAC (or the VRRP virtual MAC).
    pub mac: MacAddr,
    /// The virtual address being announced.
    pub address: Ipv4Addr,
}

impl Repr {
    /// Parses a frame, accepting only a gratuitous ARP for IPv4 over Ethernet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr, DecodeError> {
        if p.b().len() < FRAME_LEN {
            return Err(DecodeError::Truncated);
        }
        if p.ethertype() != ETHERTYPE_ARP
            || p.htype() != 1
            || p.ptype() != 0x0800
            || p.hlen() != 6
            || p.plen() != 4
        {
            return Err(DecodeError::Malformed);
        }
        let operation = match p.oper() {
            1 => Operation::Request,
            2 => Operation::Reply,
            _ => return Err(DecodeError::BadType),
        };
        if p.sender_ip() != p.target_ip() || p.eth_src() != p.sender_mac() {
            return Err(DecodeError::Malformed);
        }
        Ok(Repr {
            operation,
            mac: p.sender_mac(),
            address: p.sender_ip(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        FRAME_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) -> Result<(), EmitError> {
        if p.b().len() < FRAME_LEN {
            return Err(EmitError::BufferTooSmall);
        }
        let (oper, tha) = match self.operation {
            Operation::Request => (1u16, MacAddr::BROADCAST),
            Operation::Reply => (2u16, self.mac),
        };
        p.put(field::ETH_DST, &MacAddr::BROADCAST.0);
        p.put(field::ETH_SRC, &self.mac.0);
        p.put(field::ETHERTYPE, &ETHERTYPE_ARP.to_be_bytes());
        p.put(field::HTYPE, &1u16.to_be_bytes());
        p.put(field::PTYPE, &0x0800u16.to_be_bytes());
        p.put(field::HLEN..field::HLEN + 1, &[6]);
        p.put(field::PLEN..field::PLEN + 1, &[4]);
        p.put(field::OPER, &oper.to_be_bytes());
        p.put(field::SHA, &self.mac.0);
        p.put(field::SPA, &self.address.octets());
        p.put(field::THA, &tha.0);
        p.put(field::TPA, &self.address.octets());
        Ok(())
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![0; FRAME_LEN];
        // Cannot fail: the buffer has exactly FRAME_LEN bytes.
        let _ = self.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from keepalived 2.2.7 becoming master of 192.168.77.100 on
    /// an interface with MAC 7a:f0:b9:76:00:f3.
    static GARP_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // broadcast
        0x7a, 0xf0, 0xb9, 0x76, 0x00, 0xf3, // src MAC
        0x08, 0x06, // ARP
        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // Ethernet/IPv4, request
        0x7a, 0xf0, 0xb9, 0x76, 0x00, 0xf3, 192, 168, 77, 100, // sender
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 192, 168, 77, 100, // target
    ];

    fn repr(op: Operation) -> Repr {
        Repr {
            operation: op,
            mac: MacAddr([0x7a, 0xf0, 0xb9, 0x76, 0x00, 0xf3]),
            address: Ipv4Addr::new(192, 168, 77, 100),
        }
    }

    #[test]
    fn request_golden_both_ways() {
        assert_eq!(repr(Operation::Request).to_bytes(), GARP_REQUEST);
        let p = Packet::new_checked(&GARP_REQUEST[..]).unwrap();
        assert_eq!(Repr::parse(&p), Ok(repr(Operation::Request)));
    }

    #[test]
    fn reply_round_trips_with_target_mac() {
        let bytes = repr(Operation::Reply).to_bytes();
        assert_eq!(&bytes[20..22], &[0, 2]);
        assert_eq!(&bytes[32..38], &[0x7a, 0xf0, 0xb9, 0x76, 0x00, 0xf3]);
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bytes[..])),
            Ok(repr(Operation::Reply))
        );
    }

    #[test]
    fn malformed_frames_are_rejected() {
        assert_eq!(
            Packet::new_checked(&GARP_REQUEST[..41]).err(),
            Some(DecodeError::Truncated)
        );
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&GARP_REQUEST[..10])),
            Err(DecodeError::Truncated)
        );
        let mut not_arp = GARP_REQUEST;
        not_arp[13] = 0x00;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&not_arp[..])),
            Err(DecodeError::Malformed)
        );
        let mut bad_op = GARP_REQUEST;
        bad_op[21] = 3;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bad_op[..])),
            Err(DecodeError::BadType)
        );
        let mut not_gratuitous = GARP_REQUEST;
        not_gratuitous[41] = 1;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&not_gratuitous[..])),
            Err(DecodeError::Malformed)
        );
        let mut small = [0u8; 10];
        assert_eq!(
            repr(Operation::Request).emit(&mut Packet::new_unchecked(&mut small[..])),
            Err(EmitError::BufferTooSmall)
        );
    }
}
