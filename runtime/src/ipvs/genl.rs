//! Generic netlink framing: the netlink message header, the genl header and
//! netlink attributes (TLVs), encoded and decoded by hand.
//!
//! IPVS is the only generic netlink family the runtime speaks, and it needs
//! only a handful of primitives (u16/u32 attributes, raw addresses, one level
//! of nesting, multipart dumps and ACKs). Owning the encoding keeps every
//! byte testable with literal arrays and avoids a library's threads or
//! blocking receive loops.
//!
//! All integers are in host byte order unless an attribute is documented as
//! network byte order (IPVS ports, IPv4 netmasks), which the caller encodes.

use std::fmt;

/// `struct nlmsghdr` length.
pub const NLMSG_HDR_LEN: usize = 16;
/// `struct genlmsghdr` length.
pub const GENL_HDR_LEN: usize = 4;
/// `struct nlattr` header length.
pub const NLA_HDR_LEN: usize = 4;

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;

pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// The generic netlink controller family (fixed id).
pub const GENL_ID_CTRL: u16 = 0x10;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// Rounds a length up to the 4-byte netlink alignment.
pub const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// A malformed netlink datagram or attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ends inside a header or a declared length.
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// A length field smaller than its own header.
    BadLength { what: &'static str, len: usize },
    /// An attribute has the wrong payload size for its type.
    AttrSize {
        attr: &'static str,
        expected: &'static str,
        got: usize,
    },
    /// A required attribute is missing from a reply.
    Missing { attr: &'static str },
    /// An attribute value the decoder cannot represent.
    BadValue { attr: &'static str, value: u64 },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { what, need, have } => {
                write!(f, "truncated {what}: need {need} bytes, have {have}")
            }
            DecodeError::BadLength { what, len } => write!(f, "bad {what} length {len}"),
            DecodeError::AttrSize {
                attr,
                expected,
                got,
            } => {
                write!(f, "attribute {attr}: expected {expected} bytes, got {got}")
            }
            DecodeError::Missing { attr } => write!(f, "missing attribute {attr}"),
            DecodeError::BadValue { attr, value } => {
                write!(f, "attribute {attr}: unsupported value {value}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Builds one generic netlink request: header, genl header, attributes.
///
/// The total length is patched in by [`GenlRequest::finish`]; nested
/// attributes are patched by [`GenlRequest::end_nest`].
#[derive(Debug)]
pub struct GenlRequest {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl GenlRequest {
    /// Starts a request for `family` with genl `cmd` and `version`.
    pub fn new(family: u16, flags: u16, seq: u32, cmd: u8, version: u8) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched later
        buf.extend_from_slice(&family.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        buf.push(cmd);
        buf.push(version);
        buf.extend_from_slice(&0u16.to_ne_bytes());
        GenlRequest {
            buf,
            nests: Vec::new(),
        }
    }

    /// Appends an attribute with a raw payload (padded to 4 bytes).
    pub fn attr_bytes(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = NLA_HDR_LEN + payload.len();
        // Attribute payloads here are at most a few dozen bytes.
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
        self
    }

    pub fn attr_u16(&mut self, kind: u16, value: u16) -> &mut Self {
        self.attr_bytes(kind, &value.to_ne_bytes())
    }

    pub fn attr_u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.attr_bytes(kind, &value.to_ne_bytes())
    }

    /// A NUL-terminated string attribute.
    pub fn attr_str(&mut self, kind: u16, value: &str) -> &mut Self {
        let mut payload = Vec::with_capacity(value.len() + 1);
        payload.extend_from_slice(value.as_bytes());
        payload.push(0);
        self.attr_bytes(kind, &payload)
    }

    /// Opens a nested attribute; close it with [`GenlRequest::end_nest`].
    pub fn begin_nest(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    pub fn end_nest(&mut self) -> &mut Self {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// Closes any open nest and returns the datagram.
    pub fn finish(mut self) -> Vec<u8> {
        while !self.nests.is_empty() {
            self.end_nest();
        }
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }
}

/// One netlink message inside a received datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlMessage<'a> {
    pub msg_type: u16,
    pub flags: u16,
    pub seq: u32,
    pub port_id: u32,
    /// Everything after the netlink header.
    pub payload: &'a [u8],
}

impl<'a> NlMessage<'a> {
    /// For `NLMSG_ERROR`: the errno (0 = ACK, positive = failure).
    pub fn error_code(&self) -> Result<i32, DecodeError> {
        let raw = read_array::<4>(self.payload, "nlmsgerr")?;
        // The kernel sends -errno.
        Ok(-i32::from_ne_bytes(raw))
    }

    /// For a genl message: `(cmd, attributes)`.
    pub fn genl(&self) -> Result<(u8, Attrs<'a>), DecodeError> {
        if self.payload.len() < GENL_HDR_LEN {
            return Err(DecodeError::Truncated {
                what: "genl header",
                need: GENL_HDR_LEN,
                have: self.payload.len(),
            });
        }
        Ok((self.payload[0], Attrs::new(&self.payload[GENL_HDR_LEN..])))
    }
}

/// Iterates over the netlink messages of one datagram.
#[derive(Clone, Debug)]
pub struct NlMessages<'a> {
    rest: &'a [u8],
}

impl<'a> NlMessages<'a> {
    pub fn new(datagram: &'a [u8]) -> Self {
        NlMessages { rest: datagram }
    }
}

impl<'a> Iterator for NlMessages<'a> {
    type Item = Result<NlMessage<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let buf = self.rest;
        if buf.len() < NLMSG_HDR_LEN {
            self.rest = &[];
            return Some(Err(DecodeError::Truncated {
                what: "netlink header",
                need: NLMSG_HDR_LEN,
                have: buf.len(),
            }));
        }
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < NLMSG_HDR_LEN {
            self.rest = &[];
            return Some(Err(DecodeError::BadLength {
                what: "netlink message",
                len,
            }));
        }
        if len > buf.len() {
            self.rest = &[];
            return Some(Err(DecodeError::Truncated {
                what: "netlink message",
                need: len,
                have: buf.len(),
            }));
        }
        let msg = NlMessage {
            msg_type: u16::from_ne_bytes([buf[4], buf[5]]),
            flags: u16::from_ne_bytes([buf[6], buf[7]]),
            seq: u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]),
            port_id: u32::from_ne_bytes([buf[12], buf[13], buf[14], buf[15]]),
            payload: &buf[NLMSG_HDR_LEN..len],
        };
        self.rest = &buf[align4(len).min(buf.len())..];
        Some(Ok(msg))
    }
}

/// Iterates over `(type, payload)` of a run of attributes; the type has the
/// nested/byte-order flags masked off.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Attrs { rest: buf }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let buf = self.rest;
        if buf.len() < NLA_HDR_LEN {
            self.rest = &[];
            return Some(Err(DecodeError::Truncated {
                what: "attribute header",
                need: NLA_HDR_LEN,
                have: buf.len(),
            }));
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDR_LEN {
            self.rest = &[];
            return Some(Err(DecodeError::BadLength {
                what: "attribute",
                len,
            }));
        }
        if len > buf.len() {
            self.rest = &[];
            return Some(Err(DecodeError::Truncated {
                what: "attribute",
                need: len,
                have: buf.len(),
            }));
        }
        self.rest = &buf[align4(len).min(buf.len())..];
        Some(Ok((kind, &buf[NLA_HDR_LEN..len])))
    }
}

fn read_array<const N: usize>(payload: &[u8], attr: &'static str) -> Result<[u8; N], DecodeError> {
    payload
        .get(..N)
        .and_then(|s| s.try_into().ok())
        .ok_or(DecodeError::Truncated {
            what: attr,
            need: N,
            have: payload.len(),
        })
}

/// Reads an exact-size u16 attribute.
pub fn get_u16(payload: &[u8], attr: &'static str) -> Result<u16, DecodeError> {
    match payload.len() {
        2 => Ok(u16::from_ne_bytes([payload[0], payload[1]])),
        got => Err(DecodeError::AttrSize {
            attr,
            expected: "2",
            got,
        }),
    }
}

/// Reads an exact-size u32 attribute.
pub fn get_u32(payload: &[u8], attr: &'static str) -> Result<u32, DecodeError> {
    match payload.len() {
        4 => Ok(u32::from_ne_bytes([
            payload[0], payload[1], payload[2], payload[3],
        ])),
        got => Err(DecodeError::AttrSize {
            attr,
            expected: "4",
            got,
        }),
    }
}

/// Reads a NUL-terminated (or unterminated) string attribute.
pub fn get_str(payload: &[u8]) -> String {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    String::from_utf8_lossy(&payload[..end]).into_owned()
}

/// Builds the `CTRL_CMD_GETFAMILY` request resolving a family's id by name.
pub fn get_family_request(seq: u32, name: &str) -> Vec<u8> {
    let mut req = GenlRequest::new(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        CTRL_CMD_GETFAMILY,
        1,
    );
    req.attr_str(CTRL_ATTR_FAMILY_NAME, name);
    req.finish()
}

/// Extracts the family id from a `CTRL_CMD_NEWFAMILY` reply.
pub fn parse_family_id(msg: &NlMessage<'_>) -> Result<u16, DecodeError> {
    let (_cmd, attrs) = msg.genl()?;
    for attr in attrs {
        let (kind, payload) = attr?;
        if kind == CTRL_ATTR_FAMILY_ID {
            return get_u16(payload, "CTRL_ATTR_FAMILY_ID");
        }
    }
    Err(DecodeError::Missing {
        attr: "CTRL_ATTR_FAMILY_ID",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CTRL_CMD_GETFAMILY` for "IPVS", seq 7, as the kernel expects it
    /// (little-endian host).
    #[rustfmt::skip]
    static GETFAMILY_IPVS: [u8; 28] = [
        32, 0, 0, 0,      // len (28 + NUL + padding)
        0x10, 0,          // GENL_ID_CTRL
        0x05, 0,          // REQUEST | ACK
        7, 0, 0, 0,       // seq
        0, 0, 0, 0,       // port id
        3, 1, 0, 0,       // CTRL_CMD_GETFAMILY, version 1
        9, 0, 2, 0,       // nla len 9, CTRL_ATTR_FAMILY_NAME
        b'I', b'P', b'V', b'S',
    ];

    #[test]
    #[cfg(target_endian = "little")]
    fn emits_getfamily_with_padding() {
        let bytes = get_family_request(7, "IPVS");
        assert_eq!(bytes.len(), 32, "NUL plus 3 bytes of padding");
        assert_eq!(&bytes[..28], &GETFAMILY_IPVS[..]);
        assert_eq!(&bytes[28..], &[0, 0, 0, 0]);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_a_newfamily_reply_and_its_id() {
        #[rustfmt::skip]
        let reply: [u8; 40] = [
            40, 0, 0, 0, 0x10, 0, 0, 0, 7, 0, 0, 0, 0x39, 0x30, 0, 0,
            1, 2, 0, 0,                // CTRL_CMD_NEWFAMILY
            9, 0, 2, 0, b'I', b'P', b'V', b'S', 0, 0, 0, 0,
            6, 0, 1, 0, 0x1f, 0, 0, 0, // FAMILY_ID = 0x1f
        ];
        let mut msgs = NlMessages::new(&reply);
        let msg = msgs.next().unwrap().unwrap();
        assert!(msgs.next().is_none());
        assert_eq!(msg.seq, 7);
        assert_eq!(msg.port_id, 12345);
        assert_eq!(parse_family_id(&msg), Ok(0x1f));
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn nests_are_patched_and_flagged() {
        let mut req = GenlRequest::new(0x20, NLM_F_REQUEST, 1, 5, 1);
        req.begin_nest(1).attr_u16(1, 2).end_nest();
        let bytes = req.finish();
        assert_eq!(bytes.len(), 20 + 4 + 8);
        assert_eq!(&bytes[20..24], &[12, 0, 1, 0x80]);
        assert_eq!(&bytes[24..32], &[6, 0, 1, 0, 2, 0, 0, 0]);
        let msg = NlMessages::new(&bytes).next().unwrap().unwrap();
        let (cmd, attrs) = msg.genl().unwrap();
        assert_eq!(cmd, 5);
        let attrs: Vec<_> = attrs.map(Result::unwrap).collect();
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].0, 1, "nested flag masked off");
        let inner: Vec<_> = Attrs::new(attrs[0].1).map(Result::unwrap).collect();
        assert_eq!(inner, vec![(1u16, &[2u8, 0][..])]);
    }

    #[test]
    fn error_ack_and_failure_codes() {
        let mut ack = vec![0u8; 36];
        ack[0..4].copy_from_slice(&36u32.to_ne_bytes());
        ack[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        let msg = NlMessages::new(&ack).next().unwrap().unwrap();
        assert_eq!(msg.error_code(), Ok(0));
        ack[16..20].copy_from_slice(&(-17i32).to_ne_bytes());
        let msg = NlMessages::new(&ack).next().unwrap().unwrap();
        assert_eq!(msg.error_code(), Ok(17));
    }

    #[test]
    fn rejects_truncated_and_short_lengths() {
        let mut m = NlMessages::new(&[1, 2, 3]);
        assert!(matches!(m.next(), Some(Err(DecodeError::Truncated { .. }))));
        assert!(m.next().is_none());
        let mut bad = [0u8; 16];
        bad[0] = 8;
        assert!(matches!(
            NlMessages::new(&bad).next(),
            Some(Err(DecodeError::BadLength { .. }))
        ));
        let mut long = [0u8; 16];
        long[0] = 40;
        assert!(matches!(
            NlMessages::new(&long).next(),
            Some(Err(DecodeError::Truncated { .. }))
        ));
        assert!(matches!(
            Attrs::new(&[2, 0, 1, 0]).next(),
            Some(Err(DecodeError::BadLength { .. }))
        ));
        assert!(matches!(
            Attrs::new(&[8, 0, 1, 0, 0]).next(),
            Some(Err(DecodeError::Truncated { .. }))
        ));
        assert!(get_u32(&[1, 2], "X").is_err());
        assert!(get_u16(&[1, 2, 3], "X").is_err());
    }
}

#[cfg(test)]
mod robustness {
    use super::*;
    use crate::ipvs::messages::{decode_dest, decode_info, decode_service};
    use vigil_schema::plan::Family;

    /// xorshift: deterministic pseudo-random bytes without a crate.
    fn bytes(seed: &mut u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                (*seed >> 24) as u8
            })
            .collect()
    }

    /// Arbitrary bytes, and valid messages with bytes flipped, never panic
    /// any decoder: every outcome is a value or an error.
    #[test]
    fn decoders_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let valid = crate::ipvs::messages::dump_dests(
            0x20,
            1,
            &crate::ipvs::messages::ServiceKey::Fwmark {
                family: Family::Ipv6,
                mark: 1,
            },
        );
        for round in 0..20_000 {
            let mut buf = if round % 2 == 0 {
                let len = (round % 97) as usize;
                bytes(&mut seed, len)
            } else {
                valid.clone()
            };
            if !buf.is_empty() {
                let i = bytes(&mut seed, 1)[0] as usize % buf.len();
                buf[i] ^= bytes(&mut seed, 1)[0] | 1;
            }
            for msg in NlMessages::new(&buf).flatten() {
                let _ = msg.error_code();
                if let Ok((_, attrs)) = msg.genl() {
                    let _ = decode_info(attrs.clone());
                    for (_, payload) in attrs.flatten() {
                        let _ = decode_service(payload);
                        let _ = decode_dest(payload, Family::Ipv4);
                        let _ = decode_dest(payload, Family::Ipv6);
                    }
                }
            }
            let _ = decode_service(&buf);
            let _ = decode_dest(&buf, Family::Ipv6);
        }
    }
}
