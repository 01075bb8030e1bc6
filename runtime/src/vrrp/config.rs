//! What one router needs from the plan, checked once.
//!
//! Nothing is defaulted here: every value comes from the plan, which the
//! compiler has already decided. The conversion only refuses plans the
//! state machine could not run faithfully (a v2 interval that is not whole
//! seconds, VRRPv2 over IPv6, ...), so such a plan fails at load time rather
//! than misbehaving on the wire.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_schema::plan::{Family, PlanRouter, VrrpVersion};

use crate::wire::vrrp::{Centis, Version};

/// The state machine's view of a [`PlanRouter`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterConfig {
    pub name: String,
    pub interface: String,
    pub family: Family,
    pub version: Version,
    pub vrid: u8,
    /// Configured priority; 255 only for the address owner.
    pub priority: u8,
    /// Our advertisement interval (also the v2 interval every peer must use).
    pub advert_interval: Centis,
    /// v3: a master's interval is adopted only within these bounds.
    pub advert_interval_min: Centis,
    pub advert_interval_max: Centis,
    pub preempt: bool,
    pub preempt_delay_ms: u64,
    /// Accept mode, handed to the shell with [`AddVips`](super::Action::AddVips).
    pub accept: bool,
    /// Our primary address on the segment; the equal-priority tie-break compares it.
    pub source_address: IpAddr,
    /// Unicast destinations (empty: multicast). Used by the shell only.
    pub unicast_peers: Vec<IpAddr>,
    /// Virtual addresses, in plan order: the advert's address list.
    pub vips: Vec<IpAddr>,
    /// VRRPv2 simple-password authentication is configured (the password
    /// itself is given to [`Router::new`](super::Router::new), never serialised).
    pub auth: bool,
    /// Announcements on becoming master, their spacing, and the refresh period (0 = none).
    pub garp_repeat: u32,
    pub garp_interval_ms: u64,
    pub garp_refresh_ms: u64,
    /// Plan-wide: no router may become master this long after startup.
    pub startup_delay_ms: u64,
}

/// Why a plan router cannot be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    V2OverIpv6,
    ZeroVrid,
    ZeroPriority,
    /// `owner` and `priority == 255` disagree.
    OwnerPriority,
    /// The interval does not fit the version's field (v2 whole seconds, v3 1..=4095 cs).
    IntervalNotRepresentable(Centis),
    /// v3 bounds that exclude our own interval.
    IntervalBounds,
    /// An address of the wrong family.
    FamilyMismatch(IpAddr),
    AuthNotInV3,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::V2OverIpv6 => f.write_str("VRRPv2 cannot run over IPv6"),
            ConfigError::ZeroVrid => f.write_str("VRID 0 is invalid"),
            ConfigError::ZeroPriority => f.write_str("priority 0 is reserved for resigning"),
            ConfigError::OwnerPriority => {
                f.write_str("owner must have priority 255 and only the owner may")
            }
            ConfigError::IntervalNotRepresentable(c) => {
                write!(
                    f,
                    "advert interval {} cs does not fit this VRRP version",
                    c.0
                )
            }
            ConfigError::IntervalBounds => {
                f.write_str("advert interval bounds exclude the router's own interval")
            }
            ConfigError::FamilyMismatch(a) => {
                write!(f, "address {a} is not of the router's family")
            }
            ConfigError::AuthNotInV3 => f.write_str("authentication exists only in VRRPv2"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl RouterConfig {
    /// Builds the config of `router` from a plan whose `startup_delay_ms` is given.
    pub fn from_plan(
        router: &PlanRouter,
        startup_delay_ms: u64,
    ) -> Result<RouterConfig, ConfigError> {
        let version = match router.version {
            VrrpVersion::V2 => Version::V2,
            VrrpVersion::V3 => Version::V3,
        };
        if version == Version::V2 && router.family == Family::Ipv6 {
            return Err(ConfigError::V2OverIpv6);
        }
        if router.vrid == 0 {
            return Err(ConfigError::ZeroVrid);
        }
        if router.priority == 0 {
            return Err(ConfigError::ZeroPriority);
        }
        if router.owner != (router.priority == 255) {
            return Err(ConfigError::OwnerPriority);
        }
        let advert_interval = Centis(router.advert_interval_cs);
        let min = Centis(router.advert_interval_min_cs);
        let max = Centis(router.advert_interval_max_cs);
        if vigil_schema::vrrp::carries(i64::from(router.version.number()), advert_interval).is_err()
        {
            return Err(ConfigError::IntervalNotRepresentable(advert_interval));
        }
        if version == Version::V3 && !(min <= advert_interval && advert_interval <= max) {
            return Err(ConfigError::IntervalBounds);
        }
        let v6 = router.family == Family::Ipv6;
        let vips: Vec<IpAddr> = router.vips.iter().map(|v| v.address).collect();
        for a in vips
            .iter()
            .chain([&router.source_address])
            .chain(&router.unicast_peers)
        {
            if a.is_ipv6() != v6 {
                return Err(ConfigError::FamilyMismatch(*a));
            }
        }
        if router.auth.is_some() && version == Version::V3 {
            return Err(ConfigError::AuthNotInV3);
        }
        Ok(RouterConfig {
            name: router.name.clone(),
            interface: router.interface.clone(),
            family: router.family,
            version,
            vrid: router.vrid,
            priority: router.priority,
            advert_interval,
            advert_interval_min: min,
            advert_interval_max: max,
            preempt: router.preempt,
            preempt_delay_ms: router.preempt_delay_ms,
            accept: router.accept,
            source_address: router.source_address,
            unicast_peers: router.unicast_peers.clone(),
            vips,
            auth: router.auth.is_some(),
            garp_repeat: router.garp.repeat,
            garp_interval_ms: router.garp.interval_ms,
            garp_refresh_ms: router.garp.refresh_ms,
            startup_delay_ms,
        })
    }

    /// Whether a reload with `other` keeps the identity of the router
    /// (otherwise the shell must tear it down and build a new one).
    pub fn same_identity(&self, other: &RouterConfig) -> bool {
        self.interface == other.interface
            && self.family == other.family
            && self.version == other.version
            && self.vrid == other.vrid
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use vigil_schema::plan::{ExpectedRole, PlanAuth, PlanGarp, PlanNotify, PlanVip};

    pub(crate) fn plan_router() -> PlanRouter {
        PlanRouter {
            name: "web".into(),
            interface: "eth0".into(),
            family: Family::Ipv4,
            version: VrrpVersion::V3,
            vrid: 51,
            priority: 100,
            advert_interval_cs: 100,
            advert_interval_min_cs: 50,
            advert_interval_max_cs: 200,
            preempt: true,
            preempt_delay_ms: 0,
            accept: false,
            vmac: None,
            owner: false,
            source_address: "10.0.0.1".parse().unwrap(),
            unicast_peers: vec![],
            peers: vec![],
            vips: vec![PlanVip {
                address: "10.0.0.100".parse().unwrap(),
                prefix_len: 24,
                label: None,
            }],
            auth: None,
            arbitration: None,
            lease: None,
            heartbeat_paths: vec![],
            trackers: vec![],
            notify: PlanNotify::default(),
            garp: PlanGarp {
                repeat: 3,
                interval_ms: 100,
                refresh_ms: 0,
            },
            expected_role: ExpectedRole::Backup,
            sync_group: None,
        }
    }

    #[test]
    fn converts_every_field_from_the_plan() {
        let c = RouterConfig::from_plan(&plan_router(), 2_000).unwrap();
        assert_eq!(c.version, Version::V3);
        assert_eq!(c.advert_interval, Centis(100));
        assert_eq!(
            (c.advert_interval_min, c.advert_interval_max),
            (Centis(50), Centis(200))
        );
        assert_eq!(c.vips, vec!["10.0.0.100".parse::<IpAddr>().unwrap()]);
        assert_eq!(
            (c.garp_repeat, c.garp_interval_ms, c.garp_refresh_ms),
            (3, 100, 0)
        );
        assert_eq!(c.startup_delay_ms, 2_000);
        assert!(!c.auth);
    }

    #[test]
    fn refuses_what_cannot_run() {
        let mut r = plan_router();
        r.version = VrrpVersion::V2;
        r.advert_interval_cs = 150;
        assert_eq!(
            RouterConfig::from_plan(&r, 0),
            Err(ConfigError::IntervalNotRepresentable(Centis(150)))
        );
        let mut r = plan_router();
        r.advert_interval_cs = 4096;
        r.advert_interval_max_cs = 5000;
        assert_eq!(
            RouterConfig::from_plan(&r, 0),
            Err(ConfigError::IntervalNotRepresentable(Centis(4096)))
        );
        let mut r = plan_router();
        r.advert_interval_min_cs = 150;
        assert_eq!(
            RouterConfig::from_plan(&r, 0),
            Err(ConfigError::IntervalBounds)
        );
        let mut r = plan_router();
        r.priority = 255;
        assert_eq!(
            RouterConfig::from_plan(&r, 0),
            Err(ConfigError::OwnerPriority)
        );
        let mut r = plan_router();
        r.family = Family::Ipv6;
        assert!(matches!(
            RouterConfig::from_plan(&r, 0),
            Err(ConfigError::FamilyMismatch(_))
        ));
        let mut r = plan_router();
        r.auth = Some(PlanAuth {
            password_file: "/etc/vigil/pw".into(),
        });
        assert_eq!(
            RouterConfig::from_plan(&r, 0),
            Err(ConfigError::AuthNotInV3)
        );
        let mut r = plan_router();
        r.version = VrrpVersion::V2;
        r.family = Family::Ipv6;
        assert_eq!(RouterConfig::from_plan(&r, 0), Err(ConfigError::V2OverIpv6));
    }
}
