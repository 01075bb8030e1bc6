//! VRRP's timing rules, defined once for the compiler and the runtime:
//! the unit of advert intervals ([`Centis`]), which intervals each
//! protocol version can carry ([`advert_interval`]), and the RFC 5798
//! master-down interval ([`master_down_interval`]). Plain Rust, no feature
//! needed, so vigild can use it as it is.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A duration in centiseconds, VRRP's unit for advert intervals (RFC 5798
/// carries 12 bits of them; RFC 3768 whole seconds).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Centis(pub u16);

impl Centis {
    /// Largest value of VRRPv3's 12-bit interval field (40.95 s).
    pub const V3_MAX: Centis = Centis(0x0fff);

    /// Whole seconds, as VRRPv2 carries them.
    pub const fn from_secs(secs: u8) -> Centis {
        Centis(secs as u16 * 100)
    }

    /// Whole seconds, if this is an exact number of them that fits VRRPv2's
    /// 8-bit field.
    pub fn as_whole_secs(self) -> Option<u8> {
        if self.0 % 100 == 0 {
            u8::try_from(self.0 / 100).ok()
        } else {
            None
        }
    }

    pub const fn as_millis(self) -> u64 {
        self.0 as u64 * 10
    }
    pub const fn as_micros(self) -> u64 {
        self.0 as u64 * 10_000
    }
    pub const fn as_duration(self) -> Duration {
        Duration::from_micros(self.as_micros())
    }
}

/// A VRRP protocol version vigild speaks: 2 (RFC 3768, IPv4 only) or 3
/// (RFC 5798). In plans it is the number `2` or `3`; any other number is
/// refused when the plan is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VrrpVersion {
    V2,
    V3,
}

impl VrrpVersion {
    pub const fn number(self) -> u8 {
        match self {
            VrrpVersion::V2 => 2,
            VrrpVersion::V3 => 3,
        }
    }

    pub const fn from_number(n: i64) -> Option<VrrpVersion> {
        match n {
            2 => Some(VrrpVersion::V2),
            3 => Some(VrrpVersion::V3),
            _ => None,
        }
    }
}

impl fmt::Display for VrrpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl Serialize for VrrpVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.number())
    }
}

impl<'de> Deserialize<'de> for VrrpVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(deserializer)?;
        VrrpVersion::from_number(n).ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Signed(n),
                &"VRRP version 2 or 3",
            )
        })
    }
}

#[cfg(feature = "json-schema")]
impl schemars::JsonSchema for VrrpVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VrrpVersion".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "enum": [2, 3],
            "description": "VRRP version: 2 (RFC 3768, IPv4 only) or 3 (RFC 5798)."
        })
    }
}

/// Why a version cannot carry an advert interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntervalError {
    /// Neither 2 nor 3.
    UnsupportedVersion,
    /// VRRPv2: not a whole number of seconds from 1 to 255.
    V2WholeSeconds,
    /// VRRPv3: not a multiple of 10 ms from 10 ms to 40950 ms.
    V3Centiseconds,
}

impl fmt::Display for IntervalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntervalError::UnsupportedVersion => "only VRRP versions 2 and 3 exist",
            IntervalError::V2WholeSeconds => "VRRPv2 carries whole seconds from 1s to 255s",
            IntervalError::V3Centiseconds => "VRRPv3 carries centiseconds from 10ms to 40950ms",
        })
    }
}

impl std::error::Error for IntervalError {}

/// The advert interval of `millis` milliseconds as VRRP `version` carries
/// it, or why it cannot: v2 takes whole seconds 1..=255, v3 multiples of
/// 10 ms from 10 ms to 40950 ms (4095 centiseconds).
pub fn advert_interval(version: i64, millis: u64) -> Result<Centis, IntervalError> {
    let centis = (millis % 10 == 0)
        .then(|| u16::try_from(millis / 10).ok())
        .flatten();
    match centis {
        Some(c) => carries(version, Centis(c)).map(|()| Centis(c)),
        // Not whole centiseconds, or beyond any field: the version's own reason.
        None => carries(version, Centis(0)).map(|()| Centis(0)),
    }
}

/// Whether VRRP `version` can carry the advert interval `interval`: the one
/// rule behind [`advert_interval`] (topology durations) and vigild's reading
/// of a plan's centiseconds.
pub fn carries(version: i64, interval: Centis) -> Result<(), IntervalError> {
    match version {
        2 if interval.as_whole_secs().is_some_and(|s| s > 0) => Ok(()),
        2 => Err(IntervalError::V2WholeSeconds),
        3 if interval.0 > 0 && interval <= Centis::V3_MAX => Ok(()),
        3 => Err(IntervalError::V3Centiseconds),
        _ => Err(IntervalError::UnsupportedVersion),
    }
}

/// RFC 5798 §6.1 Skew_Time: `(256 − priority) × Master_Adver_Interval / 256`,
/// to the microsecond.
pub fn skew_time(priority: u8, advert: Centis) -> Duration {
    Duration::from_micros((256 - u64::from(priority)) * advert.as_micros() / 256)
}

/// RFC 5798 §6.1 Master_Down_Interval: `3 × Master_Adver_Interval +
/// Skew_Time`: how long a backup of `priority` waits without adverts
/// before it takes over.
pub fn master_down_interval(priority: u8, advert: Centis) -> Duration {
    advert.as_duration() * 3 + skew_time(priority, advert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_each_version_carries() {
        assert_eq!(advert_interval(2, 1_000), Ok(Centis(100)));
        assert_eq!(advert_interval(2, 255_000), Ok(Centis(25_500)));
        assert_eq!(
            advert_interval(2, 1_500),
            Err(IntervalError::V2WholeSeconds)
        );
        assert_eq!(
            advert_interval(2, 256_000),
            Err(IntervalError::V2WholeSeconds)
        );
        assert_eq!(advert_interval(2, 0), Err(IntervalError::V2WholeSeconds));
        assert_eq!(advert_interval(3, 10), Ok(Centis(1)));
        assert_eq!(advert_interval(3, 40_950), Ok(Centis(4_095)));
        assert_eq!(advert_interval(3, 5), Err(IntervalError::V3Centiseconds));
        assert_eq!(
            advert_interval(3, 40_960),
            Err(IntervalError::V3Centiseconds)
        );
        assert_eq!(advert_interval(3, 15), Err(IntervalError::V3Centiseconds));
        assert_eq!(
            advert_interval(4, 1_000),
            Err(IntervalError::UnsupportedVersion)
        );
        assert_eq!(
            advert_interval(4, 15),
            Err(IntervalError::UnsupportedVersion)
        );
        assert_eq!(
            advert_interval(3, u64::MAX),
            Err(IntervalError::V3Centiseconds)
        );
        assert_eq!(
            advert_interval(2, 655_360),
            Err(IntervalError::V2WholeSeconds)
        );
    }

    #[test]
    fn versions_are_numbers_in_plans() {
        assert_eq!(serde_json::to_string(&VrrpVersion::V3).unwrap(), "3");
        assert_eq!(
            serde_json::from_str::<VrrpVersion>("2").unwrap(),
            VrrpVersion::V2
        );
        let e = serde_json::from_str::<VrrpVersion>("4").unwrap_err();
        assert!(e.to_string().contains("VRRP version 2 or 3"), "{e}");
        assert!(serde_json::from_str::<VrrpVersion>("\"3\"").is_err());
    }

    #[test]
    fn plan_centiseconds_follow_the_same_rule() {
        assert_eq!(carries(2, Centis(100)), Ok(()));
        assert_eq!(carries(2, Centis(25_500)), Ok(()));
        assert_eq!(
            carries(2, Centis(25_600)),
            Err(IntervalError::V2WholeSeconds)
        );
        assert_eq!(carries(2, Centis(150)), Err(IntervalError::V2WholeSeconds));
        assert_eq!(carries(2, Centis(0)), Err(IntervalError::V2WholeSeconds));
        assert_eq!(carries(3, Centis(1)), Ok(()));
        assert_eq!(carries(3, Centis::V3_MAX), Ok(()));
        assert_eq!(
            carries(3, Centis(4_096)),
            Err(IntervalError::V3Centiseconds)
        );
        assert_eq!(carries(3, Centis(0)), Err(IntervalError::V3Centiseconds));
        assert_eq!(
            carries(1, Centis(100)),
            Err(IntervalError::UnsupportedVersion)
        );
        // Every interval the topology rule accepts, the plan rule accepts.
        for version in [2, 3] {
            for millis in (0..=300_000).step_by(10) {
                if let Ok(c) = advert_interval(version, millis) {
                    assert_eq!(carries(version, c), Ok(()), "v{version} {millis}ms");
                    assert_eq!(c.as_millis(), millis);
                }
            }
        }
    }

    #[test]
    fn master_down_follows_rfc_5798() {
        // 1 s adverts, priority 100: 3 s + 156/256 s.
        assert_eq!(
            master_down_interval(100, Centis(100)),
            Duration::from_micros(3_609_375)
        );
        // An owner (255) waits 3 s + 1/256 s.
        assert_eq!(
            master_down_interval(255, Centis(100)),
            Duration::from_micros(3_003_906)
        );
        assert_eq!(skew_time(0, Centis(1)), Duration::from_micros(10_000));
    }
}
