//! The event loop's alarm clock: a timerfd armed at the next deadline.
//!
//! epoll's own timeout has millisecond resolution and, for a normally
//! scheduled task, the kernel adds 0.1 % slack to it: 3.6 ms late on a 3.6 s
//! master-down interval, and every 10 ms advert stretched towards 11 ms
//! (measured; see docs/benchmarks.md). A timerfd takes nanoseconds and only
//! the small per-task timer slack, so the loop arms it and polls without a
//! timeout.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

/// A one-shot monotonic alarm whose fd becomes readable when it fires.
#[derive(Debug)]
pub struct Wakeup {
    fd: TimerFd,
}

impl Wakeup {
    pub fn open() -> io::Result<Self> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(Wakeup { fd })
    }

    /// Fires `after` from now; `None` disarms. A zero wait fires at once
    /// (a zero timerfd value would disarm it instead).
    pub fn arm(&self, after: Option<Duration>) -> io::Result<()> {
        match after {
            None => self.fd.unset()?,
            Some(d) => {
                let d = d.max(Duration::from_nanos(1));
                self.fd.set(
                    Expiration::OneShot(TimeSpec::from_duration(d)),
                    TimerSetTimeFlags::empty(),
                )?;
            }
        }
        Ok(())
    }

    /// Acknowledges a fired alarm so the fd stops being readable.
    pub fn clear(&self) {
        let mut expirations = [0u8; 8];
        let _ = nix::unistd::read(self.fd.as_fd(), &mut expirations);
    }
}

impl AsRawFd for Wakeup {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn readable(w: &Wakeup, within: Duration) -> bool {
        let mut pfd = [nix::poll::PollFd::new(
            w.fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(within.as_millis()).unwrap_or(u16::MAX);
        nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(ms)).unwrap_or(0) > 0
    }

    #[test]
    fn fires_after_the_wait_with_sub_millisecond_precision() {
        let w = Wakeup::open().unwrap();
        let start = Instant::now();
        w.arm(Some(Duration::from_micros(2_500))).unwrap();
        assert!(readable(&w, Duration::from_secs(1)));
        let took = start.elapsed();
        assert!(took >= Duration::from_micros(2_500), "{took:?}");
        w.clear();
        assert!(
            !readable(&w, Duration::ZERO),
            "cleared alarm still readable"
        );
    }

    #[test]
    fn zero_fires_at_once_and_none_disarms() {
        let w = Wakeup::open().unwrap();
        w.arm(Some(Duration::ZERO)).unwrap();
        assert!(readable(&w, Duration::from_millis(100)));
        w.clear();
        w.arm(Some(Duration::from_millis(5))).unwrap();
        w.arm(None).unwrap();
        assert!(!readable(&w, Duration::from_millis(20)));
    }
}
