//! The loop's clock: real, or virtual (paused) for deterministic tests.
//!
//! Timer deadlines are kept as whole milliseconds since the clock's start. A deadline is rounded **up** to the
//! next millisecond and the current time **down**, so a timer never fires before its deadline.
//!
//! A virtual clock can be shared: the loops of one runtime read one [`VirtualTime`], so a task's `Instant::now()`
//! means the same moment on every loop. Its time moves only forward, by whichever loop finds every loop idle.

#![forbid(unsafe_code)]

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

/// Virtual time, shareable between the loops of a runtime.
#[derive(Debug, Clone)]
pub(crate) struct VirtualTime {
    /// Time zero.
    start: StdInstant,
    /// Virtual time elapsed since `start`, in whole milliseconds (the clock's only unit of movement).
    elapsed_ms: Arc<AtomicU64>,
}

impl VirtualTime {
    /// Virtual time starting now, standing still.
    pub(crate) fn new() -> VirtualTime {
        VirtualTime {
            start: StdInstant::now(),
            elapsed_ms: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// Real or virtual time for one loop.
#[derive(Debug)]
pub(crate) struct Clock {
    /// Time zero of the timer wheel.
    start: StdInstant,
    /// Virtual time, when paused (time moves only when a loop jumps it).
    virtual_time: Option<VirtualTime>,
}

impl Clock {
    /// A clock starting now: real, or virtual and standing still if `paused`.
    pub(crate) fn new(paused: bool) -> Clock {
        match paused {
            true => Clock::virtual_from(VirtualTime::new()),
            false => Clock {
                start: StdInstant::now(),
                virtual_time: None,
            },
        }
    }

    /// A virtual clock reading `time` (shared with the other loops that read it).
    pub(crate) fn virtual_from(time: VirtualTime) -> Clock {
        Clock {
            start: time.start,
            virtual_time: Some(time),
        }
    }

    /// Whether time is virtual.
    pub(crate) fn is_paused(&self) -> bool {
        self.virtual_time.is_some()
    }

    /// The current time.
    pub(crate) fn now(&self) -> StdInstant {
        match &self.virtual_time {
            Some(time) => self.start + Duration::from_millis(time.elapsed_ms.load(Acquire)),
            None => StdInstant::now(),
        }
    }

    /// The current time in whole milliseconds since the start (rounded down).
    pub(crate) fn now_ms(&self) -> u64 {
        if let Some(time) = &self.virtual_time {
            return time.elapsed_ms.load(Acquire);
        }
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
        if let Some(time) = &self.virtual_time {
            time.elapsed_ms.fetch_max(ms, AcqRel);
        }
    }
}
