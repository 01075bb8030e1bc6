//! From received bytes to a state-machine [`Input`](super::Input).
//!
//! Two steps, because the shell has to pick the router in between:
//! 1. [`decode`] parses the IP payload with the IP header facts; it yields
//!    the advert, or an error together with the VRID when that byte was
//!    readable (so the shell can count it against the right router).
//! 2. [`Router::classify`](super::Router::classify) checks the advert against
//!    the router's configuration (version, interval, authentication, address
//!    list, our own address) and returns either
//!    [`Input::AdvertReceived`](super::Input::AdvertReceived) or
//!    [`Input::RxError`](super::Input::RxError).
//!
//! Every refusal has its own [`RxError`] variant and counter; nothing panics.

use serde::{Deserialize, Serialize};

use crate::wire::vrrp::{Packet, Repr};
use crate::wire::{DecodeError, IpMeta};

/// Why a received packet was discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RxError {
    /// The codec refused the bytes.
    Decode(DecodeError),
    /// No router on this interface and family has this VRID.
    UnknownVrid,
    /// The advert's VRRP version is not the router's.
    VersionMismatch,
    /// VRRPv2: the interval differs from ours (RFC 3768 §7.1 discards it).
    IntervalMismatch,
    /// VRRPv3: the interval is outside the plan's adoption bounds.
    IntervalOutOfBounds,
    /// The virtual address list differs from ours (RFC 5798 §7.1 MAY discard).
    AddressListMismatch,
    /// VRRPv2: the password differs.
    AuthFailure,
    /// VRRPv2: one side authenticates and the other does not.
    AuthTypeMismatch,
    /// The source is our own address: a looped-back packet or an address conflict.
    OwnAddress,
}

impl From<DecodeError> for RxError {
    fn from(e: DecodeError) -> Self {
        RxError::Decode(e)
    }
}

/// The outcome of [`decode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Advert(Repr),
    Error {
        /// The VRID byte, when the packet was long enough to hold one.
        vrid: Option<u8>,
        reason: RxError,
    },
}

/// Parses a received VRRP payload.
pub fn decode(ip: &IpMeta, bytes: &[u8]) -> Received {
    match Repr::parse(ip, &Packet::new_unchecked(bytes)) {
        Ok(repr) => Received::Advert(repr),
        Err(e) => Received::Error {
            vrid: Packet::new_checked(bytes).ok().map(|p| p.vrid()),
            reason: e.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_the_vrid_when_readable() {
        let ip = IpMeta {
            src: "10.0.0.2".parse().unwrap(),
            dst: "224.0.0.18".parse().unwrap(),
            ttl: 64,
        };
        let bytes = [0x31, 9, 100, 0, 0, 100, 0, 0];
        assert_eq!(
            decode(&ip, &bytes),
            Received::Error {
                vrid: Some(9),
                reason: RxError::Decode(DecodeError::BadTtl)
            }
        );
        assert_eq!(
            decode(&ip, &bytes[..3]),
            Received::Error {
                vrid: None,
                reason: RxError::Decode(DecodeError::Truncated)
            }
        );
    }
}
