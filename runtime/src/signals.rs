//! Signals as events: SIGTERM/SIGINT/SIGHUP/SIGUSR1 are blocked and read
//! from a non-blocking signalfd registered with mio, so a signal is handled
//! between two events like any packet, never inside a handler.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// What a signal asks the daemon to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// SIGTERM / SIGINT: resign and exit.
    Shutdown,
    /// SIGHUP: reload the plan.
    Reload,
    /// SIGUSR1: dump state and counters.
    Dump,
}

/// The daemon's signalfd.
#[derive(Debug)]
pub struct Signals {
    fd: SignalFd,
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_fd().as_raw_fd()
    }
}

impl Signals {
    /// Blocks the handled signals for this (only) thread and opens the signalfd.
    pub fn open() -> io::Result<Self> {
        let mut set = SigSet::empty();
        for s in [
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGUSR1,
        ] {
            set.add(s);
        }
        set.thread_block()?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Signals { fd })
    }

    /// Reads every pending signal.
    pub fn drain(&mut self) -> io::Result<Vec<Request>> {
        let mut out = Vec::new();
        while let Some(info) = self.fd.read_signal()? {
            let req = match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGTERM | Signal::SIGINT) => Request::Shutdown,
                Ok(Signal::SIGHUP) => Request::Reload,
                Ok(Signal::SIGUSR1) => Request::Dump,
                _ => continue,
            };
            out.push(req);
        }
        Ok(out)
    }
}
