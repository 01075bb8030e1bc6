//! Time for the state machine: a monotonic [`Instant`] the I/O shell supplies
//! (so replays are deterministic), and the RFC 5798 §6.1 timer formulas.
//!
//! All arithmetic is done in microseconds, so the skew keeps its sub-
//! centisecond precision instead of being truncated (keepalived likewise
//! computes it in microseconds). VRRPv2 uses the same formulas with its
//! interval in whole seconds (RFC 3768 §6.1 skew is `(256 - priority) / 256`
//! seconds, which is this formula with a 1 s interval).

use std::ops::Add;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::wire::vrrp::Centis;

/// Microseconds since an arbitrary origin (the shell's start), monotonic.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Instant(pub u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub fn from_micros(us: u64) -> Instant {
        Instant(us)
    }

    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Time since `earlier`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        )
    }
}

/// Which timer. The shell keeps at most one deadline per (router, kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TimerKind {
    /// Master: time to send the next advertisement.
    Advert,
    /// Backup: the master is presumed dead when this fires.
    MasterDown,
    /// Backup: a lower-priority master has been seen for `preempt_delay`.
    PreemptDelay,
    /// Master: the next of the `garp.repeat` announcements after a transition.
    GarpRepeat,
    /// Master: periodic re-announcement (`garp.refresh_ms`).
    GarpRefresh,
}

impl TimerKind {
    pub const ALL: [TimerKind; 5] = [
        TimerKind::Advert,
        TimerKind::MasterDown,
        TimerKind::PreemptDelay,
        TimerKind::GarpRepeat,
        TimerKind::GarpRefresh,
    ];
}

/// An interval as a `Duration`.
pub fn centis(c: Centis) -> Duration {
    c.as_duration()
}

/// Skew_Time and Master_Down_Interval (RFC 5798 §6.1), the formulas the
/// compiler also uses for its lints and `vigil check`'s overview.
pub use vigil_schema::vrrp::{master_down_interval, skew_time};

/// The deadlines a router has armed, one per kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    armed: [Option<Instant>; 5],
}

impl Deadlines {
    fn slot(kind: TimerKind) -> usize {
        kind as usize
    }

    pub fn get(&self, kind: TimerKind) -> Option<Instant> {
        self.armed[Self::slot(kind)]
    }

    pub fn set(&mut self, kind: TimerKind, at: Instant) {
        self.armed[Self::slot(kind)] = Some(at);
    }

    /// Disarms; returns whether it was armed.
    pub fn clear(&mut self, kind: TimerKind) -> bool {
        self.armed[Self::slot(kind)].take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_formulas() {
        // Priority 100, 1 s: skew = 156/256 s = 609375 us.
        assert_eq!(skew_time(100, Centis(100)), Duration::from_micros(609_375));
        assert_eq!(
            master_down_interval(100, Centis(100)),
            Duration::from_micros(3_609_375)
        );
        // Priority 255 (owner): skew = 1/256 of the interval.
        assert_eq!(skew_time(255, Centis(100)), Duration::from_micros(3_906));
        // Priority 1 with the v3 maximum of 40.95 s.
        assert_eq!(
            skew_time(1, Centis::V3_MAX),
            Duration::from_micros(255 * 40_950_000 / 256)
        );
        // Higher priority always has the shorter master-down interval.
        assert!(master_down_interval(200, Centis(100)) < master_down_interval(199, Centis(100)));
    }

    #[test]
    fn instant_arithmetic_saturates() {
        assert_eq!(Instant(5) + Duration::from_micros(7), Instant(12));
        assert_eq!(
            Instant(u64::MAX) + Duration::from_secs(1),
            Instant(u64::MAX)
        );
        assert_eq!(Instant(3).saturating_since(Instant(10)), Duration::ZERO);
    }

    #[test]
    fn deadlines_track_one_per_kind() {
        let mut d = Deadlines::default();
        d.set(TimerKind::MasterDown, Instant(10));
        d.set(TimerKind::MasterDown, Instant(20));
        assert_eq!(d.get(TimerKind::MasterDown), Some(Instant(20)));
        assert_eq!(d.get(TimerKind::Advert), None);
        assert!(d.clear(TimerKind::MasterDown));
        assert!(!d.clear(TimerKind::MasterDown));
    }
}
