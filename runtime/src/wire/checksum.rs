//! Internet checksum (RFC 1071) and the pseudo-headers VRRP, ICMPv6 and
//! friends fold into it.
//!
//! Which bytes a VRRP checksum covers depends on the version:
//! * VRRPv2 (RFC 3768 §5.3.8): the VRRP message only.
//! * VRRPv3 (RFC 5798 §5.2.8): the VRRP message plus a pseudo-header — the
//!   IPv6 one of RFC 8200 §8.1, and for IPv4 the usual IPv4 pseudo-header
//!   (source, destination, zero, protocol 112, VRRP length). keepalived 2.x
//!   does the same by default (its `v3_checksum_as_v2` knob exists only for
//!   interoperating with old peers that left the pseudo-header out).
//!
//! The pseudo-header destination is the packet's real destination: the
//! multicast group, or the peer for unicast adverts.

use std::net::IpAddr;

/// Adds `data` as big-endian 16-bit words to a running one's-complement sum
/// (an odd trailing byte is padded with zero).
pub fn sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(*last) << 8);
    }
    // Fold now and then so very long inputs cannot overflow.
    fold(acc)
}

/// Folds the carries of a running sum into 16 bits.
pub fn fold(mut acc: u32) -> u32 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// The one's complement of the folded sum: the value to write in a checksum field.
pub fn finish(acc: u32) -> u16 {
    !(fold(acc) as u16)
}

/// Checksum of `data` alone.
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(0, data))
}

/// Sum of the pseudo-header for an upper-layer packet of `len` bytes with IP
/// protocol (IPv6: next header) `proto`. Mixed families never happen on the
/// wire; if they are passed anyway the source family decides the layout.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: u32) -> u32 {
    let mut acc = 0;
    match (src, dst) {
        (IpAddr::V4(s), d) => {
            acc = sum(acc, &s.octets());
            acc = sum(acc, &v4_octets(d));
            acc = sum(acc, &[0, proto]);
            // IPv4 carries a 16-bit length in its pseudo-header.
            acc = sum(acc, &(len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), d) => {
            acc = sum(acc, &s.octets());
            acc = sum(acc, &v6_octets(d));
            acc = sum(acc, &len.to_be_bytes());
            acc = sum(acc, &[0, 0, 0, proto]);
        }
    }
    acc
}

fn v4_octets(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or([0; 4], |a| a.octets()),
    }
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 1071 §3: the sum of these words is 0xddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_is_zero_padded() {
        assert_eq!(checksum(&[0xab]), checksum(&[0xab, 0x00]));
    }

    #[test]
    fn buffer_including_its_checksum_sums_to_zero() {
        let mut data = vec![0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0, 0, 0x01, 0x02];
        let c = checksum(&data);
        data[6..8].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&data), 0);
    }

    /// A hand-computed IPv4 pseudo-header: 10.0.0.1 -> 224.0.0.18, proto 112, 20 bytes.
    #[test]
    fn ipv4_pseudo_header_sum() {
        let acc = pseudo_header(
            "10.0.0.1".parse().unwrap(),
            "224.0.0.18".parse().unwrap(),
            112,
            20,
        );
        // 0x0a00 + 0x0001 + 0xe000 + 0x0012 + 0x0070 + 0x0014 = 0xea97
        assert_eq!(fold(acc), 0xea97);
    }

    /// A hand-computed IPv6 pseudo-header: fe80::1 -> ff02::12, next header 112, 20 bytes.
    #[test]
    fn ipv6_pseudo_header_sum() {
        let acc = pseudo_header(
            "fe80::1".parse().unwrap(),
            "ff02::12".parse().unwrap(),
            112,
            20,
        );
        // 0xfe80 + 0x0001 + 0xff02 + 0x0012 + 0x0014 + 0x0070 = 0x1fe19 -> 0xfe1a
        assert_eq!(fold(acc), 0xfe1a);
    }
}
