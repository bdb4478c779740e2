//! The loop's own accounting: counters kept in plain cells on the loop's thread, published once per turn for
//! readers on any thread. The x-ray presents them (`xray::Metrics`); the loop only counts.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The loop's own counters: plain cells, touched only on its thread.
#[derive(Debug, Default)]
pub(crate) struct LoopCounters {
    /// See `xray::Metrics::tasks_spawned`.
    pub(crate) tasks_spawned: Cell<u64>,
    /// See `xray::Metrics::polls`.
    pub(crate) polls: Cell<u64>,
    /// See `xray::Metrics::parked`, in nanoseconds.
    pub(crate) parked_ns: Cell<u64>,
    /// See `xray::Metrics::parks`.
    pub(crate) parks: Cell<u64>,
    /// See `xray::Metrics::local_wakes`.
    pub(crate) local_wakes: Cell<u64>,
    /// See `xray::Metrics::remote_wakes`.
    pub(crate) remote_wakes: Cell<u64>,
    /// See `xray::Metrics::timers_fired`.
    pub(crate) timers_fired: Cell<u64>,
    /// See `xray::Metrics::io_events`.
    pub(crate) io_events: Cell<u64>,
    /// See `xray::Metrics::slow_polls`.
    pub(crate) slow_polls: Cell<u64>,
}

impl LoopCounters {
    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &Cell<u64>, n: u64) {
        counter.set(counter.get().wrapping_add(n));
    }
}

/// The counters as other threads see them: written by the loop at the end of each turn. Time is computed by the
/// reader (from `created` and the parking record), so publishing reads no clock.
#[derive(Debug)]
pub(crate) struct PublishedMetrics {
    /// When the loop was created.
    created: Instant,
    /// When the current park began, in ns since `created` plus one; 0 while not parked.
    parked_since: AtomicU64,
    /// See `xray::Metrics::tasks_spawned`.
    tasks_spawned: AtomicU64,
    /// See `xray::Metrics::tasks_alive`.
    tasks_alive: AtomicU64,
    /// See `xray::Metrics::polls`.
    polls: AtomicU64,
    /// See `xray::Metrics::parked`, in nanoseconds.
    parked_ns: AtomicU64,
    /// See `xray::Metrics::parks`.
    parks: AtomicU64,
    /// See `xray::Metrics::local_wakes`.
    local_wakes: AtomicU64,
    /// See `xray::Metrics::remote_wakes`.
    remote_wakes: AtomicU64,
    /// See `xray::Metrics::timers_fired`.
    timers_fired: AtomicU64,
    /// See `xray::Metrics::io_events`.
    io_events: AtomicU64,
    /// See `xray::Metrics::slow_polls`.
    slow_polls: AtomicU64,
}

impl PublishedMetrics {
    /// Counters of a loop created now.
    pub(crate) fn new() -> PublishedMetrics {
        PublishedMetrics {
            created: Instant::now(),
            parked_since: AtomicU64::new(0),
            tasks_spawned: AtomicU64::new(0),
            tasks_alive: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            parked_ns: AtomicU64::new(0),
            parks: AtomicU64::new(0),
            local_wakes: AtomicU64::new(0),
            remote_wakes: AtomicU64::new(0),
            timers_fired: AtomicU64::new(0),
            io_events: AtomicU64::new(0),
            slow_polls: AtomicU64::new(0),
        }
    }

    /// The loop starts parking at `now`.
    pub(crate) fn parking(&self, now: Instant) {
        let since = now.saturating_duration_since(self.created).as_nanos();
        self.parked_since
            .store(u64::try_from(since).unwrap_or(u64::MAX - 1) + 1, Relaxed);
    }

    /// The loop is awake again.
    pub(crate) fn awake(&self) {
        self.parked_since.store(0, Relaxed);
    }

    /// Live tasks at the loop's latest turn.
    pub(crate) fn tasks_alive(&self) -> u64 {
        self.tasks_alive.load(Relaxed)
    }

    /// Publishes the number of live tasks alone (the loop took in tasks from other threads).
    pub(crate) fn set_tasks_alive(&self, alive: usize) {
        self.tasks_alive.store(alive as u64, Relaxed);
    }

    /// Publishes the loop's counters (`alive`: live tasks).
    pub(crate) fn publish(&self, counters: &LoopCounters, alive: usize) {
        self.tasks_spawned
            .store(counters.tasks_spawned.get(), Relaxed);
        self.tasks_alive.store(alive as u64, Relaxed);
        self.polls.store(counters.polls.get(), Relaxed);
        self.parked_ns.store(counters.parked_ns.get(), Relaxed);
        self.parks.store(counters.parks.get(), Relaxed);
        self.local_wakes.store(counters.local_wakes.get(), Relaxed);
        self.remote_wakes
            .store(counters.remote_wakes.get(), Relaxed);
        self.timers_fired
            .store(counters.timers_fired.get(), Relaxed);
        self.io_events.store(counters.io_events.get(), Relaxed);
        self.slow_polls.store(counters.slow_polls.get(), Relaxed);
    }

    /// A snapshot, with the blocking pool's figures filled in by the caller.
    pub(crate) fn read(&self) -> Counts {
        let elapsed = u64::try_from(self.created.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let parking_now = match self.parked_since.load(Relaxed) {
            0 => 0,
            since => elapsed.saturating_sub(since - 1),
        };
        let parked = self
            .parked_ns
            .load(Relaxed)
            .saturating_add(parking_now)
            .min(elapsed);
        Counts {
            tasks_spawned: self.tasks_spawned.load(Relaxed),
            tasks_alive: self.tasks_alive.load(Relaxed),
            polls: self.polls.load(Relaxed),
            busy: Duration::from_nanos(elapsed - parked),
            parked: Duration::from_nanos(parked),
            parks: self.parks.load(Relaxed),
            local_wakes: self.local_wakes.load(Relaxed),
            remote_wakes: self.remote_wakes.load(Relaxed),
            timers_fired: self.timers_fired.load(Relaxed),
            io_events: self.io_events.load(Relaxed),
            slow_polls: self.slow_polls.load(Relaxed),
        }
    }
}

/// The published counters as read at one moment (see [`PublishedMetrics::read`]); the x-ray turns them into its
/// public `Metrics`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts {
    /// Tasks spawned so far.
    pub(crate) tasks_spawned: u64,
    /// Tasks alive at the end of the latest turn.
    pub(crate) tasks_alive: u64,
    /// Polls of tasks.
    pub(crate) polls: u64,
    /// Time not parked since the loop was created.
    pub(crate) busy: Duration,
    /// Time parked in the OS, including a park in progress.
    pub(crate) parked: Duration,
    /// Times the loop parked.
    pub(crate) parks: u64,
    /// Wakes from the loop's own thread.
    pub(crate) local_wakes: u64,
    /// Wakes from other threads.
    pub(crate) remote_wakes: u64,
    /// Timers fired.
    pub(crate) timers_fired: u64,
    /// I/O events taken from the OS.
    pub(crate) io_events: u64,
    /// Slow polls reported.
    pub(crate) slow_polls: u64,
}
