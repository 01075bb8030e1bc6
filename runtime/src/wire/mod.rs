//! Packet codecs, in two levels per protocol (the smoltcp layout):
//!
//! * a `Packet<T: AsRef<[u8]>>` — a view over bytes with one getter per field
//!   (and one setter per field when `T: AsMut<[u8]>`); `new_checked` only
//!   proves the fixed part fits, so getters never index out of bounds;
//! * a `Repr` — the meaningful values only, with `parse` (every check, never a
//!   panic, one [`DecodeError`] per reason so each can be counted), `emit` and
//!   `buffer_len`.
//!
//! Nothing here touches a socket: the I/O shell hands received bytes plus the
//! IP header facts ([`IpMeta`]) in, and gets bytes to send out.

pub mod arp;
pub mod checksum;
pub mod ndisc;
pub mod vrrp;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What the IP layer told us about a received packet (from the IPv4 header
/// or, for IPv6, from `IPV6_RECVHOPLIMIT` / `IPV6_RECVPKTINFO` ancillary data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
}

/// Why a received packet was refused. Every variant is counted separately
/// (see `vrrp::stats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DecodeError {
    /// Shorter than the fixed header.
    Truncated,
    /// VRRP version other than 2 or 3, or VRRPv2 over IPv6.
    BadVersion,
    /// VRRP type other than 1 (ADVERTISEMENT).
    BadType,
    /// The checksum does not verify.
    BadChecksum,
    /// TTL / hop limit is not 255: the packet crossed a router.
    BadTtl,
    /// The payload is not the fixed header plus whole addresses (plus v2 auth data).
    LengthMismatch,
    /// The address count field disagrees with the payload length.
    AddressCountMismatch,
    /// An advertisement interval of zero.
    BadInterval,
    /// VRRPv2 authentication type other than 0 (none) or 1 (simple password).
    BadAuthType,
    /// The source/destination families differ, or a field does not fit the family.
    BadAddressFamily,
    /// Ethernet/ARP/ICMPv6 framing that is not what the codec expects.
    Malformed,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            DecodeError::Truncated => "packet shorter than its fixed header",
            DecodeError::BadVersion => "unsupported VRRP version",
            DecodeError::BadType => "VRRP type is not ADVERTISEMENT",
            DecodeError::BadChecksum => "checksum does not verify",
            DecodeError::BadTtl => "TTL/hop limit is not 255",
            DecodeError::LengthMismatch => "payload length does not fit the header",
            DecodeError::AddressCountMismatch => "address count disagrees with payload length",
            DecodeError::BadInterval => "advertisement interval is zero",
            DecodeError::BadAuthType => "unsupported VRRPv2 authentication type",
            DecodeError::BadAddressFamily => "address family mismatch",
            DecodeError::Malformed => "malformed frame",
        };
        f.write_str(s)
    }
}

impl std::error::Error for DecodeError {}

/// Why a `Repr` could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmitError {
    /// The output buffer is shorter than `buffer_len()`.
    BufferTooSmall,
    /// The interval cannot be expressed in this version's field
    /// (v2: whole seconds 1..=255; v3: 1..=4095 centiseconds).
    IntervalNotRepresentable,
    /// More than 255 addresses.
    TooManyAddresses,
    /// An address (or the source/destination) of the wrong family, or VRRPv2 over IPv6.
    AddressFamilyMismatch,
    /// Authentication data on a VRRPv3 packet.
    AuthNotInV3,
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for EmitError {}

/// A 6-byte Ethernet address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
}
