//! The RFC 5798 §6.4 state machine (and RFC 3768 §6.4 for VRRPv2), sans-IO:
//! `Router::handle(input, now) -> Vec<Action>`.
//!
//! Beyond the RFC, and why:
//! * preempt delay (keepalived's `preempt_delay`): a backup that sees a
//!   lower-priority master keeps deferring to it until the delay has passed,
//!   then takes over — so a rebooted preferred node first settles;
//! * Fault, startup delay and the arbitration veto hold a router back from
//!   mastership without leaving the protocol;
//! * a master hearing a lower-priority master answers at once (rate limited to
//!   one extra advert per interval) so the other side steps down quickly, and
//!   never re-announces GARP per received packet (that floods the segment
//!   during a split brain);
//! * VRRPv3 backups adopt the master's interval only within the plan's
//!   bounds (enforced by [`Router::classify`]), which defends against a forged
//!   40.95 s interval that would silence failover.

use std::net::IpAddr;
use std::time::Duration;

use super::config::RouterConfig;
use super::event::{Action, Alarm, Input, Reason, State};
use super::rx::RxError;
use super::stats::Stats;
use super::timers::{self, Deadlines, Instant, TimerKind};
use crate::wire::IpMeta;
use crate::wire::vrrp::{Auth, Centis, Repr, Version};

/// One virtual router on one interface and family.
#[derive(Clone, Debug)]
pub struct Router {
    config: RouterConfig,
    /// VRRPv2 simple password, zero-padded (never serialised or logged).
    password: Option<[u8; 8]>,
    state: State,
    priority: u8,
    master_adver_interval: Centis,
    deadlines: Deadlines,
    started_at: Option<Instant>,
    fault: bool,
    allow_master: bool,
    /// A takeover the arbitration veto is holding back.
    vetoed_takeover: bool,
    /// When the last advert outside the Adver_Timer rhythm was sent.
    last_extra_advert: Option<Instant>,
    garp_remaining: u32,
    stats: Stats,
}

/// Collects actions and counts what is sent.
struct Out<'a> {
    actions: Vec<Action>,
    stats: &'a mut Stats,
    deadlines: &'a mut Deadlines,
}

impl Out<'_> {
    fn push(&mut self, a: Action) {
        if let Action::SendAdvert { priority, .. } = a {
            self.stats.adverts_sent += 1;
            if priority == 0 {
                self.stats.priority_zero_sent += 1;
            }
        }
        self.actions.push(a);
    }

    fn arm(&mut self, kind: TimerKind, at: Instant) {
        self.deadlines.set(kind, at);
        self.actions.push(Action::ArmTimer { kind, at });
    }

    fn cancel(&mut self, kind: TimerKind) {
        if self.deadlines.clear(kind) {
            self.actions.push(Action::CancelTimer { kind });
        }
    }
}

impl Router {
    /// A router in Initialize. `password` is the VRRPv2 password the shell
    /// read from the plan's `password_file` (at most 8 bytes, zero-padded).
    pub fn new(config: RouterConfig, password: Option<[u8; 8]>) -> Router {
        Router {
            priority: config.priority,
            master_adver_interval: config.advert_interval,
            config,
            password,
            state: State::Initialize,
            deadlines: Deadlines::default(),
            started_at: None,
            fault: false,
            allow_master: true,
            vetoed_takeover: false,
            last_extra_advert: None,
            garp_remaining: 0,
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The priority we advertise (the plan's, or a tracker's demotion).
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// The interval the master-down timer is computed from.
    pub fn master_adver_interval(&self) -> Centis {
        self.master_adver_interval
    }

    /// The deadline of `kind`, if armed.
    pub fn deadline(&self, kind: TimerKind) -> Option<Instant> {
        self.deadlines.get(kind)
    }

    /// The advert to put on the wire for [`Action::SendAdvert`].
    pub fn advert_repr(&self, priority: u8, advert_interval: Centis) -> Repr {
        Repr {
            version: self.config.version,
            vrid: self.config.vrid,
            priority,
            advert_interval,
            addresses: self.config.vips.clone(),
            auth: match (self.config.version, self.password) {
                (Version::V2, Some(p)) => Auth::SimplePassword(p),
                _ => Auth::None,
            },
        }
    }

    /// Checks a decoded advert against this router's configuration.
    pub fn classify(&self, ip: &IpMeta, repr: &Repr) -> Input {
        match self.check(ip, repr) {
            Ok(()) => Input::AdvertReceived {
                src: ip.src,
                priority: repr.priority,
                advert_interval: repr.advert_interval,
            },
            Err(reason) => Input::RxError { reason },
        }
    }

    fn check(&self, ip: &IpMeta, repr: &Repr) -> Result<(), RxError> {
        let c = &self.config;
        if repr.version != c.version {
            return Err(RxError::VersionMismatch);
        }
        if repr.vrid != c.vrid {
            return Err(RxError::UnknownVrid);
        }
        if ip.src == c.source_address {
            return Err(RxError::OwnAddress);
        }
        match c.version {
            Version::V2 if repr.advert_interval != c.advert_interval => {
                return Err(RxError::IntervalMismatch);
            }
            Version::V3
                if !(c.advert_interval_min..=c.advert_interval_max)
                    .contains(&repr.advert_interval) =>
            {
                return Err(RxError::IntervalOutOfBounds);
            }
            _ => {}
        }
        if c.version == Version::V2 {
            match (self.password, repr.auth) {
                (None, Auth::None) => {}
                (Some(ours), Auth::SimplePassword(theirs)) if ours == theirs => {}
                (Some(_), Auth::SimplePassword(_)) => return Err(RxError::AuthFailure),
                _ => return Err(RxError::AuthTypeMismatch),
            }
        }
        let mut theirs = repr.addresses.clone();
        let mut ours = c.vips.clone();
        theirs.sort_unstable();
        ours.sort_unstable();
        if theirs != ours {
            return Err(RxError::AddressListMismatch);
        }
        Ok(())
    }

    /// Feeds one input at time `now` (monotonic, never decreasing).
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Action> {
        let mut core = Core {
            config: &mut self.config,
            state: &mut self.state,
            priority: &mut self.priority,
            master_adver_interval: &mut self.master_adver_interval,
            started_at: &mut self.started_at,
            fault: &mut self.fault,
            allow_master: &mut self.allow_master,
            vetoed_takeover: &mut self.vetoed_takeover,
            last_extra_advert: &mut self.last_extra_advert,
            garp_remaining: &mut self.garp_remaining,
            out: Out {
                actions: Vec::new(),
                stats: &mut self.stats,
                deadlines: &mut self.deadlines,
            },
            now,
        };
        core.input(input);
        core.out.actions
    }
}

/// The router's fields borrowed for one `handle` call.
struct Core<'a> {
    config: &'a mut RouterConfig,
    state: &'a mut State,
    priority: &'a mut u8,
    master_adver_interval: &'a mut Centis,
    started_at: &'a mut Option<Instant>,
    fault: &'a mut bool,
    allow_master: &'a mut bool,
    vetoed_takeover: &'a mut bool,
    last_extra_advert: &'a mut Option<Instant>,
    garp_remaining: &'a mut u32,
    out: Out<'a>,
    now: Instant,
}

impl Core<'_> {
    fn input(&mut self, input: Input) {
        match input {
            Input::Startup => {
                if *self.state == State::Initialize {
                    *self.started_at = Some(self.now);
                    self.start(Reason::Startup);
                }
            }
            Input::Shutdown => self.stop(State::Initialize, Reason::Shutdown),
            Input::AdvertReceived {
                src,
                priority,
                advert_interval,
            } => {
                self.out.stats.adverts_received += 1;
                if priority == 0 {
                    self.out.stats.priority_zero_received += 1;
                }
                match *self.state {
                    State::Backup => self.backup_advert(priority, advert_interval),
                    State::Master => self.master_advert(src, priority, advert_interval),
                    State::Initialize | State::Fault => {}
                }
            }
            Input::RxError { reason } => self.out.stats.record(reason),
            Input::Timer { kind } => self.timer(kind),
            Input::Fault { on } => {
                *self.fault = on;
                match (on, *self.state) {
                    (true, State::Backup | State::Master) => self.stop(State::Fault, Reason::Fault),
                    (false, State::Fault) => self.start(Reason::FaultCleared),
                    _ => {}
                }
            }
            Input::PriorityChange { priority } => {
                if self.config.priority == 255 {
                    return; // The owner's priority is fixed (RFC 5798 §6.1).
                }
                let p = priority.clamp(1, 254);
                if p != *self.priority {
                    *self.priority = p;
                    if *self.state == State::Master {
                        // Tell backups at once so a preempting one need not wait.
                        self.send_advert(p);
                    }
                }
            }
            Input::ArbitrationVerdict { allow_master } => {
                *self.allow_master = allow_master;
                if allow_master
                    && *self.vetoed_takeover
                    && *self.state == State::Backup
                    && self.startup_delay_over()
                {
                    self.become_master(Reason::VetoLifted);
                }
            }
            Input::Resign => {
                if *self.state == State::Master {
                    self.leave_master_timers();
                    self.send_advert(0);
                    self.remove_vips();
                    *self.vetoed_takeover = false;
                    self.change(State::Backup, Reason::Resigned);
                    self.out.arm(
                        TimerKind::MasterDown,
                        self.now + self.master_down_interval(),
                    );
                }
            }
            Input::PlanReload { config } => self.reload(*config),
        }
    }

    fn advert_interval(&self) -> Duration {
        timers::centis(self.config.advert_interval)
    }

    fn master_down_interval(&self) -> Duration {
        timers::master_down_interval(*self.priority, *self.master_adver_interval)
    }

    fn startup_delay_end(&self) -> Instant {
        self.started_at.unwrap_or(self.now) + Duration::from_millis(self.config.startup_delay_ms)
    }

    /// The end of the startup delay plus this router's skew: members whose
    /// master-down ran out during the delay do not all take over at its
    /// end; the highest priority goes first and its advert holds the others
    /// back (as at an RFC start, where the skew orders the members).
    fn startup_delay_after_skew(&self) -> Instant {
        self.startup_delay_end() + timers::skew_time(*self.priority, *self.master_adver_interval)
    }

    fn startup_delay_over(&self) -> bool {
        self.now >= self.startup_delay_end()
    }

    fn change(&mut self, to: State, reason: Reason) {
        let from = *self.state;
        *self.state = to;
        self.out.push(Action::StateChanged { from, to, reason });
    }

    fn send_advert(&mut self, priority: u8) {
        self.out.push(Action::SendAdvert {
            priority,
            advert_interval: self.config.advert_interval,
        });
    }

    /// Initialize (or Fault) -> Backup or Master.
    fn start(&mut self, reason: Reason) {
        if *self.fault {
            self.change(State::Fault, Reason::Fault);
            return;
        }
        *self.master_adver_interval = self.config.advert_interval;
        if *self.priority == 255 && self.startup_delay_over() && *self.allow_master {
            let r = if reason == Reason::Startup {
                Reason::OwnerStartup
            } else {
                reason
            };
            self.become_master(r);
        } else {
            self.change(State::Backup, reason);
            let at = (self.now + self.master_down_interval()).max(self.startup_delay_after_skew());
            self.out.arm(TimerKind::MasterDown, at);
        }
    }

    /// Master or Backup -> Initialize or Fault.
    fn stop(&mut self, to: State, reason: Reason) {
        match *self.state {
            State::Master => {
                self.leave_master_timers();
                // Resign first so a backup starts its Skew_Time takeover at once.
                self.send_advert(0);
                self.remove_vips();
            }
            State::Backup => {
                self.out.cancel(TimerKind::MasterDown);
                self.out.cancel(TimerKind::PreemptDelay);
            }
            // Not running: a Fault before Startup is remembered in `self.fault`.
            State::Initialize => return,
            State::Fault if to == State::Fault => return,
            State::Fault => {}
        }
        *self.vetoed_takeover = false;
        self.change(to, reason);
    }

    fn become_master(&mut self, reason: Reason) {
        self.change(State::Master, reason);
        self.out.cancel(TimerKind::MasterDown);
        self.out.cancel(TimerKind::PreemptDelay);
        *self.vetoed_takeover = false;
        *self.last_extra_advert = None;
        self.out.stats.became_master += 1;
        let vips = self.config.vips.clone();
        self.out.push(Action::AddVips {
            addresses: vips.clone(),
            accept: self.config.accept,
        });
        self.send_advert(*self.priority);
        if !vips.is_empty() && self.config.garp_repeat > 0 {
            self.out.push(Action::SendGarp { addresses: vips });
            *self.garp_remaining = self.config.garp_repeat - 1;
            if *self.garp_remaining > 0 {
                self.out.arm(
                    TimerKind::GarpRepeat,
                    self.now + Duration::from_millis(self.config.garp_interval_ms),
                );
            }
        }
        if self.config.garp_refresh_ms > 0 {
            self.out.arm(
                TimerKind::GarpRefresh,
                self.now + Duration::from_millis(self.config.garp_refresh_ms),
            );
        }
        self.out
            .arm(TimerKind::Advert, self.now + self.advert_interval());
    }

    /// Disarms the master's timers.
    fn leave_master_timers(&mut self) {
        self.out.cancel(TimerKind::Advert);
        self.out.cancel(TimerKind::GarpRepeat);
        self.out.cancel(TimerKind::GarpRefresh);
        *self.garp_remaining = 0;
    }

    fn remove_vips(&mut self) {
        self.out.push(Action::RemoveVips {
            addresses: self.config.vips.clone(),
        });
    }

    /// Master -> Backup on a better advert.
    fn step_down(&mut self, reason: Reason, advert_interval: Centis) {
        self.leave_master_timers();
        self.remove_vips();
        self.change(State::Backup, reason);
        self.adopt_interval(advert_interval);
        self.out.arm(
            TimerKind::MasterDown,
            self.now + self.master_down_interval(),
        );
    }

    /// v3 backups learn the master's interval (bounds were checked in `classify`);
    /// v2 intervals are equal by then.
    fn adopt_interval(&mut self, advert_interval: Centis) {
        if self.config.version == Version::V3 {
            *self.master_adver_interval = advert_interval;
        }
    }

    fn backup_advert(&mut self, priority: u8, advert_interval: Centis) {
        if priority == 0 {
            // The master resigned: take over after Skew_Time only.
            let skew = timers::skew_time(*self.priority, *self.master_adver_interval);
            self.out.arm(TimerKind::MasterDown, self.now + skew);
            return;
        }
        let lower = priority < *self.priority;
        if self.config.preempt && lower {
            if self.config.preempt_delay_ms == 0 {
                // Discard: the master-down timer runs out and we preempt.
                return;
            }
            // Defer to the lower master until the preempt delay has passed.
            if self.out.deadlines.get(TimerKind::PreemptDelay).is_none() {
                self.out.arm(
                    TimerKind::PreemptDelay,
                    self.now + Duration::from_millis(self.config.preempt_delay_ms),
                );
            }
        } else {
            self.out.cancel(TimerKind::PreemptDelay);
        }
        *self.vetoed_takeover = false;
        self.adopt_interval(advert_interval);
        self.out.arm(
            TimerKind::MasterDown,
            self.now + self.master_down_interval(),
        );
    }

    fn master_advert(&mut self, src: IpAddr, priority: u8, advert_interval: Centis) {
        if priority == 0 {
            self.send_advert(*self.priority);
            self.out
                .arm(TimerKind::Advert, self.now + self.advert_interval());
            return;
        }
        let ours = *self.priority;
        if priority == ours {
            self.out.stats.dual_master += 1;
            self.out.push(Action::Alarm(Alarm::DualMaster {
                peer: src,
                priority,
            }));
        }
        if priority > ours {
            self.step_down(Reason::HigherPriority, advert_interval);
        } else if priority == ours && address_key(src) > address_key(self.config.source_address) {
            self.step_down(Reason::EqualPriorityHigherAddress, advert_interval);
        } else {
            // The other master must hear us to step down; at most one extra
            // advert per interval, and no GARP.
            let due = self
                .last_extra_advert
                .is_none_or(|t| self.now >= t + self.advert_interval());
            if due {
                *self.last_extra_advert = Some(self.now);
                self.send_advert(ours);
            }
        }
    }

    fn timer(&mut self, kind: TimerKind) {
        match self.out.deadlines.get(kind) {
            None => return, // cancelled meanwhile: a stale expiry
            Some(at) if self.now < at => {
                // Fired early: keep the deadline armed.
                self.out.arm(kind, at);
                return;
            }
            Some(_) => {
                self.out.deadlines.clear(kind);
            }
        }
        match (*self.state, kind) {
            (State::Master, TimerKind::Advert) => {
                self.send_advert(*self.priority);
                self.out
                    .arm(TimerKind::Advert, self.now + self.advert_interval());
            }
            (State::Master, TimerKind::GarpRepeat) if *self.garp_remaining > 0 => {
                *self.garp_remaining -= 1;
                self.out.push(Action::SendGarp {
                    addresses: self.config.vips.clone(),
                });
                if *self.garp_remaining > 0 {
                    self.out.arm(
                        TimerKind::GarpRepeat,
                        self.now + Duration::from_millis(self.config.garp_interval_ms),
                    );
                }
            }
            (State::Master, TimerKind::GarpRefresh) => {
                self.out.push(Action::SendGarp {
                    addresses: self.config.vips.clone(),
                });
                self.out.arm(
                    TimerKind::GarpRefresh,
                    self.now + Duration::from_millis(self.config.garp_refresh_ms),
                );
            }
            (State::Backup, TimerKind::MasterDown) => self.try_takeover(Reason::MasterDown),
            (State::Backup, TimerKind::PreemptDelay) => {
                self.try_takeover(Reason::PreemptDelayElapsed)
            }
            _ => {}
        }
    }

    fn try_takeover(&mut self, reason: Reason) {
        if !self.startup_delay_over() {
            let kind = if reason == Reason::MasterDown {
                TimerKind::MasterDown
            } else {
                TimerKind::PreemptDelay
            };
            let at = self.startup_delay_after_skew();
            self.out.arm(kind, at);
            return;
        }
        if !*self.allow_master {
            self.out.stats.master_vetoed += 1;
            *self.vetoed_takeover = true;
            self.out.push(Action::Alarm(Alarm::MasterVetoed));
            self.out.arm(
                TimerKind::MasterDown,
                self.now + self.master_down_interval(),
            );
            return;
        }
        self.become_master(reason);
    }

    fn reload(&mut self, new: RouterConfig) {
        if !self.config.same_identity(&new) {
            self.out.push(Action::Alarm(Alarm::ReloadRefused));
            return;
        }
        let old = std::mem::replace(self.config, new);
        *self.priority = self.config.priority;
        match *self.state {
            State::Master => {
                let removed: Vec<IpAddr> = old
                    .vips
                    .iter()
                    .filter(|a| !self.config.vips.contains(a))
                    .copied()
                    .collect();
                let added: Vec<IpAddr> = self
                    .config
                    .vips
                    .iter()
                    .filter(|a| !old.vips.contains(a))
                    .copied()
                    .collect();
                if !removed.is_empty() {
                    self.out.push(Action::RemoveVips { addresses: removed });
                }
                let to_add = if old.accept != self.config.accept {
                    self.config.vips.clone()
                } else {
                    added.clone()
                };
                if !to_add.is_empty() {
                    self.out.push(Action::AddVips {
                        addresses: to_add,
                        accept: self.config.accept,
                    });
                }
                if !added.is_empty() {
                    self.out.push(Action::SendGarp { addresses: added });
                }
                self.send_advert(*self.priority);
                self.out
                    .arm(TimerKind::Advert, self.now + self.advert_interval());
                if old.garp_refresh_ms != self.config.garp_refresh_ms {
                    if self.config.garp_refresh_ms > 0 {
                        self.out.arm(
                            TimerKind::GarpRefresh,
                            self.now + Duration::from_millis(self.config.garp_refresh_ms),
                        );
                    } else {
                        self.out.cancel(TimerKind::GarpRefresh);
                    }
                }
            }
            State::Backup => {
                let c = &self.config;
                let keep = c.version == Version::V3
                    && (c.advert_interval_min..=c.advert_interval_max)
                        .contains(self.master_adver_interval);
                if !keep {
                    *self.master_adver_interval = c.advert_interval;
                }
                if !self.config.preempt || self.config.preempt_delay_ms == 0 {
                    self.out.cancel(TimerKind::PreemptDelay);
                }
            }
            State::Initialize | State::Fault => {}
        }
    }
}

/// The tie-break order: addresses compared as unsigned integers (as keepalived does).
fn address_key(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::config::tests::plan_router;
    use std::collections::BTreeMap;

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_input(rng: &mut XorShift, base: &RouterConfig) -> Input {
        let kinds = TimerKind::ALL;
        match rng.below(20) {
            0 => Input::Startup,
            1 => Input::Shutdown,
            2..=9 => Input::AdvertReceived {
                src: ["10.0.0.0", "10.0.0.2", "10.0.0.3"][rng.below(3) as usize]
                    .parse()
                    .unwrap(),
                priority: [0, 50, 100, 200, 255][rng.below(5) as usize],
                advert_interval: Centis([50, 100, 200][rng.below(3) as usize]),
            },
            10 => Input::RxError {
                reason: RxError::AuthFailure,
            },
            11..=14 => Input::Timer {
                kind: kinds[rng.below(kinds.len() as u64) as usize],
            },
            15 => Input::Fault {
                on: rng.below(2) == 0,
            },
            16 => Input::PriorityChange {
                priority: rng.next() as u8,
            },
            17 => Input::ArbitrationVerdict {
                allow_master: rng.below(3) != 0,
            },
            18 => Input::Resign,
            _ => {
                let mut c = base.clone();
                c.preempt = rng.below(2) == 0;
                c.preempt_delay_ms = [0, 1500][rng.below(2) as usize];
                c.garp_refresh_ms = [0, 5000][rng.below(2) as usize];
                c.priority = [100, 150][rng.below(2) as usize];
                Input::PlanReload {
                    config: Box::new(c),
                }
            }
        }
    }

    /// Random input sequences never panic and keep the invariants the shell
    /// relies on: the armed timers match what the actions said, a master
    /// always has its advert timer and holds the VIPs, a backup always has
    /// its master-down timer, and a stopped router has nothing armed.
    #[test]
    fn random_inputs_keep_invariants() {
        let base = RouterConfig::from_plan(&plan_router(), 0).unwrap();
        for seed in 1..200u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut r = Router::new(base.clone(), None);
            let mut shell_timers: BTreeMap<TimerKind, Instant> = BTreeMap::new();
            let mut holds_vips = false;
            let mut now = Instant::ZERO;
            for _ in 0..400 {
                // Half the time jump to the earliest deadline, as the loop would.
                if rng.below(2) == 0 {
                    if let Some((&kind, &at)) = shell_timers.iter().min_by_key(|(_, at)| **at) {
                        now = now.max(at);
                        shell_timers.remove(&kind);
                        let actions = r.handle(Input::Timer { kind }, now);
                        apply(&actions, now, &mut shell_timers, &mut holds_vips);
                        check(&r, &shell_timers, holds_vips);
                        continue;
                    }
                }
                now = now + Duration::from_micros(rng.below(2_000_000));
                let input = random_input(&mut rng, &base);
                if let Input::Timer { kind } = input {
                    // A shell fires a timer (possibly early or stale) and forgets it.
                    shell_timers.remove(&kind);
                }
                let actions = r.handle(input, now);
                apply(&actions, now, &mut shell_timers, &mut holds_vips);
                check(&r, &shell_timers, holds_vips);
            }
        }
    }

    fn apply(
        actions: &[Action],
        now: Instant,
        timers: &mut BTreeMap<TimerKind, Instant>,
        holds: &mut bool,
    ) {
        for a in actions {
            match a {
                Action::ArmTimer { kind, at } => {
                    assert!(*at >= now, "timer armed in the past");
                    timers.insert(*kind, *at);
                }
                Action::CancelTimer { kind } => {
                    assert!(
                        timers.remove(kind).is_some(),
                        "cancel of a timer that was not armed"
                    );
                }
                Action::AddVips { .. } => *holds = true,
                Action::RemoveVips { .. } => {
                    assert!(*holds, "VIPs removed while not held");
                    *holds = false;
                }
                _ => {}
            }
        }
    }

    fn check(r: &Router, timers: &BTreeMap<TimerKind, Instant>, holds: bool) {
        for k in TimerKind::ALL {
            assert_eq!(
                r.deadline(k),
                timers.get(&k).copied(),
                "{k:?} deadline out of sync"
            );
        }
        match r.state() {
            State::Master => {
                assert!(holds);
                assert!(timers.contains_key(&TimerKind::Advert));
                assert!(!timers.contains_key(&TimerKind::MasterDown));
            }
            State::Backup => {
                assert!(!holds);
                assert!(timers.contains_key(&TimerKind::MasterDown));
                assert!(!timers.contains_key(&TimerKind::Advert));
            }
            State::Initialize | State::Fault => {
                assert!(!holds);
                assert!(
                    timers.is_empty(),
                    "stopped router with armed timers: {timers:?}"
                );
            }
        }
    }
}
