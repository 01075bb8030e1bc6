//! IPVS's schedulers and scheduler flags, named once for the topology, the
//! plan and vigild (which hands the name to the kernel and the flags as
//! bits). Plain serde; the JSON Schema derivation only with `json-schema`.

#[cfg(feature = "json-schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// IPVS schedulers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Lblc,
    Lblcr,
    Dh,
    Sh,
    Sed,
    Nq,
    Fo,
    Ovf,
    Mh,
    Twos,
}

impl Scheduler {
    pub const ALL: [Scheduler; 14] = [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Dh,
        Scheduler::Sh,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Fo,
        Scheduler::Ovf,
        Scheduler::Mh,
        Scheduler::Twos,
    ];

    /// The kernel's name (`net/netfilter/ipvs/ip_vs_<name>.c`), as IPVS's
    /// `SCHED_NAME` attribute and `ipvsadm -s` take it.
    pub const fn name(self) -> &'static str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Dh => "dh",
            Scheduler::Sh => "sh",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Mh => "mh",
            Scheduler::Twos => "twos",
        }
    }
}

/// IPVS scheduler flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerFlag {
    ShFallback,
    ShPort,
    MhFallback,
    MhPort,
}

/// Which of IPVS's generic scheduler-flag bits a flag sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagBit {
    /// `IP_VS_SVC_F_SCHED1` (`sh-fallback`, `mh-fallback`).
    Sched1,
    /// `IP_VS_SVC_F_SCHED2` (`sh-port`, `mh-port`).
    Sched2,
}

impl SchedulerFlag {
    /// The name in topologies and plans, and `ipvsadm -b`'s.
    pub const fn name(self) -> &'static str {
        match self {
            SchedulerFlag::ShFallback => "sh-fallback",
            SchedulerFlag::ShPort => "sh-port",
            SchedulerFlag::MhFallback => "mh-fallback",
            SchedulerFlag::MhPort => "mh-port",
        }
    }

    /// The only scheduler that reads this flag.
    pub const fn scheduler(self) -> Scheduler {
        match self {
            SchedulerFlag::ShFallback | SchedulerFlag::ShPort => Scheduler::Sh,
            SchedulerFlag::MhFallback | SchedulerFlag::MhPort => Scheduler::Mh,
        }
    }

    pub const fn bit(self) -> FlagBit {
        match self {
            SchedulerFlag::ShFallback | SchedulerFlag::MhFallback => FlagBit::Sched1,
            SchedulerFlag::ShPort | SchedulerFlag::MhPort => FlagBit::Sched2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names() {
        for s in Scheduler::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
            assert_eq!(
                serde_json::from_value::<Scheduler>(s.name().into()).unwrap(),
                s
            );
        }
        for f in [
            SchedulerFlag::ShFallback,
            SchedulerFlag::ShPort,
            SchedulerFlag::MhFallback,
            SchedulerFlag::MhPort,
        ] {
            assert_eq!(serde_json::to_value(f).unwrap(), f.name());
            assert!(f.name().starts_with(f.scheduler().name()));
        }
        assert!(serde_json::from_value::<Scheduler>("fastest".into()).is_err());
    }
}
