//! Typed values shared by the topology and the plan.
//!
//! * [`Duration`]: written `"1s"`, `"50ms"`, `"2m"` in the topology, kept in
//!   milliseconds. The plan stores plain integers whose unit is in the field
//!   name (`advert_interval_cs`, `timeout_ms`), never a bare number whose
//!   unit depends on context.
//! * [`Cidr`]: an address with its prefix length, `"10.0.0.100/24"`.

#[cfg(feature = "json-schema")]
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

#[cfg(feature = "json-schema")]
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration with a unit: `"10ms"`, `"1s"`, `"5m"`, `"1h"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    millis: u64,
}

impl Duration {
    pub const fn from_millis(millis: u64) -> Self {
        Duration { millis }
    }
    pub const fn from_secs(secs: u64) -> Self {
        Duration {
            millis: secs * 1000,
        }
    }
    pub const fn as_millis(self) -> u64 {
        self.millis
    }
    /// Whole centiseconds (VRRP's unit), rounding down.
    pub const fn as_centis(self) -> u64 {
        self.millis / 10
    }
    pub const fn as_secs_f64(self) -> f64 {
        self.millis as f64 / 1000.0
    }
}

/// Why a duration string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DurationError {}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        if number.is_empty() {
            return Err(DurationError(format!(
                "`{text}` is not a duration: write a whole number followed by a unit, e.g. \"1s\" or \"50ms\""
            )));
        }
        let scale = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "" => {
                return Err(DurationError(format!(
                    "`{text}` has no unit: write \"{text}s\" for seconds or \"{text}ms\" for milliseconds"
                )));
            }
            other => {
                return Err(DurationError(format!(
                    "unknown unit `{other}` in `{text}`: use ms, s, m or h"
                )));
            }
        };
        let value: u64 = number
            .parse()
            .map_err(|_| DurationError(format!("`{text}` is too large")))?;
        let millis = value
            .checked_mul(scale)
            .filter(|m| *m <= u64::from(u32::MAX))
            .ok_or_else(|| DurationError(format!("`{text}` is too large (at most 49 days)")))?;
        Ok(Duration { millis })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.millis;
        if m != 0 && m % 3_600_000 == 0 {
            write!(f, "{}h", m / 3_600_000)
        } else if m != 0 && m % 60_000 == 0 {
            write!(f, "{}m", m / 60_000)
        } else if m % 1000 == 0 {
            write!(f, "{}s", m / 1000)
        } else {
            write!(f, "{m}ms")
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "json-schema")]
impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(ms|s|m|min|h)$",
            "description": "A whole number with a unit: ms, s, m or h (\"1s\", \"50ms\").",
            "examples": ["1s", "100ms", "30s"]
        })
    }
}

/// An IP address with a prefix length: `"10.0.0.100/24"`, `"2001:db8::10/64"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        (prefix <= max_prefix(addr)).then_some(Cidr { addr, prefix })
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        mask(self.addr, self.prefix)
    }

    /// Whether `addr` lies inside this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        addr.is_ipv4() == self.addr.is_ipv4() && mask(addr, self.prefix) == self.network()
    }

    /// Whether the two networks share any address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let prefix = self.prefix.min(other.prefix);
        self.addr.is_ipv4() == other.addr.is_ipv4()
            && mask(self.addr, prefix) == mask(other.addr, prefix)
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = text.split_once('/').ok_or_else(|| {
            format!(
                "`{text}` has no prefix length: write it as address/prefix, e.g. \"10.0.0.100/24\""
            )
        })?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IPv4 or IPv6 address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("`{prefix}` is not a prefix length"))?;
        Cidr::new(addr, prefix).ok_or_else(|| {
            format!(
                "prefix length /{prefix} is too long for {} (at most /{})",
                addr,
                max_prefix(addr)
            )
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "json-schema")]
impl JsonSchema for Cidr {
    fn schema_name() -> Cow<'static, str> {
        "Cidr".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9A-Fa-f:.]+/[0-9]{1,3}$",
            "description": "An IPv4 or IPv6 address with its prefix length, e.g. \"10.0.0.100/24\".",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!("1s".parse::<Duration>().unwrap().as_millis(), 1000);
        assert_eq!("50ms".parse::<Duration>().unwrap().as_centis(), 5);
        assert_eq!("2m".parse::<Duration>().unwrap().as_millis(), 120_000);
        assert!("1".parse::<Duration>().unwrap_err().0.contains("no unit"));
        assert!("1.5s".parse::<Duration>().is_err());
        assert!("ms".parse::<Duration>().is_err());
        assert!("99999999999999999999s".parse::<Duration>().is_err());
        assert!("9999999999h".parse::<Duration>().is_err());
        assert_eq!(Duration::from_millis(1500).to_string(), "1500ms");
        assert_eq!(Duration::from_secs(120).to_string(), "2m");
    }

    #[test]
    fn cidr_contains_and_overlaps() {
        let net: Cidr = "10.0.0.0/24".parse().unwrap();
        assert!(net.contains("10.0.0.77".parse().unwrap()));
        assert!(!net.contains("10.0.1.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!(net.overlaps(&"10.0.0.128/25".parse().unwrap()));
        let v6: Cidr = "2001:db8::/64".parse().unwrap();
        assert!(v6.contains("2001:db8::10".parse().unwrap()));
        assert!("10.0.0.1/33".parse::<Cidr>().is_err());
        assert!("10.0.0.1".parse::<Cidr>().is_err());
        assert_eq!("0.0.0.0/0".parse::<Cidr>().unwrap().prefix, 0);
    }
}
