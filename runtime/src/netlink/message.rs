//! Byte codec for the few rtnetlink messages the runtime exchanges.
//!
//! A netlink datagram carries one or more messages, each a 16-byte
//! `nlmsghdr` followed by a family header (`ifaddrmsg`, `ifinfomsg`) and a
//! list of 4-byte-aligned `rtattr`s. The runtime needs to dispatch a mixed
//! stream (ACKs, dump parts, `NLMSG_DONE`, notifications) message by message,
//! so it walks the bytes itself instead of asking for one typed payload per
//! datagram. Nothing here panics on malformed input: every bad length is an
//! [`NlParseError`].

use std::fmt;

/// `NLMSG_NOOP`.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`: an error or (errno 0) an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: the end of a multipart dump.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`.
pub const NLMSG_OVERRUN: u16 = 4;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_DUMP: u16 = 0x300;

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Length of `struct rtattr`'s header.
pub const RTA_HDRLEN: usize = 4;

/// Rounds up to the 4-byte netlink alignment.
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// A malformed netlink datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NlParseError {
    /// Fewer bytes than a header needs.
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// A length field smaller than its own header or past the buffer end.
    BadLength { what: &'static str, len: usize },
}

impl fmt::Display for NlParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NlParseError::Truncated { what, need, have } => {
                write!(f, "truncated {what}: need {need} bytes, have {have}")
            }
            NlParseError::BadLength { what, len } => write!(f, "bad {what} length {len}"),
        }
    }
}

impl std::error::Error for NlParseError {}

/// One message of a datagram, borrowed from the receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlMsg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    /// The bytes after the 16-byte header, without trailing padding.
    pub payload: &'a [u8],
}

impl NlMsg<'_> {
    /// For `NLMSG_ERROR`: the (positive) errno, 0 for an acknowledgement.
    pub fn error_code(&self) -> Result<i32, NlParseError> {
        let b = self.payload.get(..4).ok_or(NlParseError::Truncated {
            what: "nlmsgerr",
            need: 4,
            have: self.payload.len(),
        })?;
        Ok(-i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Splits a datagram into its messages.
pub fn parse_messages(buf: &[u8]) -> Result<Vec<NlMsg<'_>>, NlParseError> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < NLMSG_HDRLEN {
            return Err(NlParseError::Truncated {
                what: "nlmsghdr",
                need: NLMSG_HDRLEN,
                have: rest.len(),
            });
        }
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(NlParseError::BadLength {
                what: "nlmsghdr",
                len,
            });
        }
        out.push(NlMsg {
            kind: u16::from_ne_bytes([rest[4], rest[5]]),
            flags: u16::from_ne_bytes([rest[6], rest[7]]),
            seq: u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]),
            pid: u32::from_ne_bytes([rest[12], rest[13], rest[14], rest[15]]),
            payload: &rest[NLMSG_HDRLEN..len],
        });
        rest = &rest[align(len).min(rest.len())..];
    }
    Ok(out)
}

/// Iterates the `rtattr`s of a message body (after its family header).
pub fn parse_attrs(buf: &[u8]) -> Result<Vec<(u16, &[u8])>, NlParseError> {
    let mut out = Vec::new();
    let mut rest = buf;
    while rest.len() >= RTA_HDRLEN {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]);
        if len < RTA_HDRLEN || len > rest.len() {
            return Err(NlParseError::BadLength {
                what: "rtattr",
                len,
            });
        }
        out.push((kind, &rest[RTA_HDRLEN..len]));
        rest = &rest[align(len).min(rest.len())..];
    }
    Ok(out)
}

/// Builds one request message: header, family header, attributes.
#[derive(Debug)]
pub struct MsgBuilder {
    buf: Vec<u8>,
}

impl MsgBuilder {
    /// Starts a message; `family_header` is the fixed struct after `nlmsghdr`.
    pub fn new(kind: u16, flags: u16, seq: u32, family_header: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(family_header);
        buf.resize(align(buf.len()), 0);
        MsgBuilder { buf }
    }

    /// Appends one attribute (padded to 4 bytes).
    pub fn attr(mut self, kind: u16, payload: &[u8]) -> Self {
        let len = (RTA_HDRLEN + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }

    /// Finishes the message, filling in `nlmsg_len`.
    pub fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RTM_NEWADDR for 10.0.0.1/24 on ifindex 2 (little-endian host).
    #[cfg(target_endian = "little")]
    static NEWADDR: [u8; 40] = [
        40, 0, 0, 0, // len
        20, 0, // RTM_NEWADDR
        0x05, 0x06, // REQUEST|ACK|CREATE|EXCL
        7, 0, 0, 0, // seq
        0, 0, 0, 0, // pid
        2, 24, 0, 0, 2, 0, 0, 0, // ifaddrmsg: AF_INET /24 flags scope ifindex 2
        8, 0, 2, 0, 10, 0, 0, 1, // IFA_LOCAL
        8, 0, 1, 0, 10, 0, 0, 1, // IFA_ADDRESS
    ];

    #[test]
    #[cfg(target_endian = "little")]
    fn builds_newaddr_bytes() {
        let hdr = [2u8, 24, 0, 0, 2, 0, 0, 0];
        let msg = MsgBuilder::new(
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            7,
            &hdr,
        )
        .attr(2, &[10, 0, 0, 1])
        .attr(1, &[10, 0, 0, 1])
        .finish();
        assert_eq!(msg, NEWADDR);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_newaddr_bytes() {
        let msgs = parse_messages(&NEWADDR).unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].kind, RTM_NEWADDR);
        assert_eq!(msgs[0].seq, 7);
        let attrs = parse_attrs(&msgs[0].payload[8..]).unwrap();
        assert_eq!(
            attrs,
            vec![(2, &[10u8, 0, 0, 1][..]), (1, &[10u8, 0, 0, 1][..])]
        );
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_error_and_ack() {
        // NLMSG_ERROR with errno -17 (EEXIST), then an ACK (errno 0), two messages in one datagram.
        let mut dgram = Vec::new();
        for errno in [-17i32, 0] {
            dgram.extend_from_slice(&36u32.to_ne_bytes());
            dgram.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
            dgram.extend_from_slice(&0u16.to_ne_bytes());
            dgram.extend_from_slice(&9u32.to_ne_bytes());
            dgram.extend_from_slice(&0u32.to_ne_bytes());
            dgram.extend_from_slice(&errno.to_ne_bytes());
            dgram.extend_from_slice(&[0u8; 16]);
        }
        let msgs = parse_messages(&dgram).unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].error_code().unwrap(), 17);
        assert_eq!(msgs[1].error_code().unwrap(), 0);
    }

    #[test]
    fn rejects_bad_lengths() {
        assert!(matches!(
            parse_messages(&[1, 2, 3]),
            Err(NlParseError::Truncated { .. })
        ));
        let mut bad = [0u8; 16];
        bad[0] = 200;
        assert!(matches!(
            parse_messages(&bad),
            Err(NlParseError::BadLength { .. })
        ));
        bad[0] = 3;
        assert!(matches!(
            parse_messages(&bad),
            Err(NlParseError::BadLength { .. })
        ));
        assert!(matches!(
            parse_attrs(&[2, 0, 1, 0]),
            Err(NlParseError::BadLength { .. })
        ));
        assert!(matches!(
            parse_attrs(&[9, 0, 1, 0, 1]),
            Err(NlParseError::BadLength { .. })
        ));
    }
}
