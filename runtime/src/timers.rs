//! The loop's timer heap: every armed deadline of every router, earliest
//! first. Its head decides the poll timeout.
//!
//! Re-arming or cancelling does not search the heap: the current deadline of
//! each (router, kind) lives in a map, and a popped entry that no longer
//! matches it is stale and skipped.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::vrrp::{Instant, TimerKind};

/// A router's id in the loop (stable while the router runs).
pub type RouterId = u64;

/// Deadlines of all routers.
#[derive(Debug, Default)]
pub struct TimerHeap {
    heap: BinaryHeap<Reverse<(Instant, RouterId, TimerKind)>>,
    current: HashMap<(RouterId, TimerKind), Instant>,
}

impl TimerHeap {
    /// Sets the deadline of `(id, kind)`, replacing an earlier one.
    pub fn arm(&mut self, id: RouterId, kind: TimerKind, at: Instant) {
        self.current.insert((id, kind), at);
        self.heap.push(Reverse((at, id, kind)));
    }

    pub fn cancel(&mut self, id: RouterId, kind: TimerKind) {
        self.current.remove(&(id, kind));
    }

    /// Forgets every deadline of a removed router.
    pub fn cancel_all(&mut self, id: RouterId) {
        self.current.retain(|(r, _), _| *r != id);
    }

    fn drop_stale_head(&mut self) {
        while let Some(Reverse((at, id, kind))) = self.heap.peek() {
            if self.current.get(&(*id, *kind)) == Some(at) {
                return;
            }
            self.heap.pop();
        }
    }

    /// The earliest live deadline.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.drop_stale_head();
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns one deadline that is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(RouterId, TimerKind)> {
        self.drop_stale_head();
        match self.heap.peek() {
            Some(Reverse((at, id, kind))) if *at <= now => {
                let (id, kind) = (*id, *kind);
                self.heap.pop();
                self.current.remove(&(id, kind));
                Some((id, kind))
            }
            _ => None,
        }
    }

    /// Number of live deadlines.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_with_rearm_and_cancel() {
        let mut t = TimerHeap::default();
        t.arm(1, TimerKind::Advert, Instant(300));
        t.arm(2, TimerKind::MasterDown, Instant(100));
        t.arm(1, TimerKind::Advert, Instant(50)); // re-arm earlier
        t.arm(3, TimerKind::GarpRepeat, Instant(200));
        t.cancel(3, TimerKind::GarpRepeat);
        assert_eq!(t.next_deadline(), Some(Instant(50)));
        assert_eq!(t.pop_due(Instant(40)), None);
        assert_eq!(t.pop_due(Instant(150)), Some((1, TimerKind::Advert)));
        assert_eq!(t.pop_due(Instant(150)), Some((2, TimerKind::MasterDown)));
        // The stale 300 entry of router 1 and the cancelled one never fire.
        assert_eq!(t.pop_due(Instant(1000)), None);
        assert!(t.is_empty());
        t.arm(4, TimerKind::Advert, Instant(10));
        t.arm(4, TimerKind::MasterDown, Instant(20));
        t.cancel_all(4);
        assert_eq!(t.next_deadline(), None);
    }
}
