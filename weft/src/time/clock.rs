//! The loop's clock: real, or virtual (paused) for deterministic tests.
//!
//! Timer deadlines are kept as whole milliseconds since the clock's start. A deadline is rounded **up** to the
//! next millisecond and the current time **down**, so a timer never fires before its deadline.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::time::{Duration, Instant as StdInstant};

/// Real or virtual time for one loop.
#[derive(Debug)]
pub(crate) struct Clock {
    /// Time zero of the timer wheel.
    start: StdInstant,
    /// Virtual: time moves only when the loop jumps it.
    paused: bool,
    /// Virtual time elapsed since `start` (only used when paused).
    offset: Cell<Duration>,
}

impl Clock {
    /// A clock starting now.
    pub(crate) fn new(paused: bool) -> Clock {
        Clock {
            start: StdInstant::now(),
            paused,
            offset: Cell::new(Duration::ZERO),
        }
    }

    /// Whether time is virtual.
    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    /// The current time.
    pub(crate) fn now(&self) -> StdInstant {
        if self.paused {
            self.start + self.offset.get()
        } else {
            StdInstant::now()
        }
    }

    /// The current time in whole milliseconds since the start (rounded down).
    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = self.now().saturating_duration_since(self.start);
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    }

    /// A deadline in whole milliseconds since the start (rounded up).
    pub(crate) fn deadline_ms(&self, deadline: StdInstant) -> u64 {
        let since = deadline.saturating_duration_since(self.start);
        u64::try_from(since.as_nanos().div_ceil(1_000_000))
            .unwrap_or(u64::MAX - 1)
            .min(u64::MAX - 1)
    }

    /// Virtual clock: moves time forward to `ms` since the start (never backward).
    pub(crate) fn advance_to_ms(&self, ms: u64) {
        let target = Duration::from_millis(ms);
        if target > self.offset.get() {
            self.offset.set(target);
        }
    }
}
