//! [`Metrics`]: a loop's stable counters.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Counters of one loop since it was created, as published at the end of its latest turn.
///
/// ```
/// weft::run(async {
///     for _ in 0..10 {
///         weft::spawn(async {}).await.unwrap();
///     }
///     weft::task::yield_now().await; // let the loop finish a turn and publish
///     let metrics = weft::Handle::current().metrics();
///     assert!(metrics.tasks_spawned >= 10);
///     assert!(metrics.polls >= 10);
///     assert_eq!(metrics.tasks_alive, 0);
/// });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Tasks spawned on this loop (locally or from other threads).
    pub tasks_spawned: u64,
    /// Tasks alive now (spawned and not yet complete).
    pub tasks_alive: u64,
    /// Polls of tasks (the `block_on` future not included).
    pub polls: u64,
    /// Wall time the loop spent not parked: running tasks and its own work.
    pub busy: Duration,
    /// Wall time the loop spent parked in the OS, waiting for I/O, timers or other threads.
    pub parked: Duration,
    /// Times the loop parked in the OS. An idle loop parks once per wait and makes no periodic wake-ups, so
    /// this grows with events, not with time.
    pub parks: u64,
    /// Wakes of tasks from this loop's own thread (no lock, no syscall).
    pub local_wakes: u64,
    /// Wakes of tasks from other threads (through the remote queue).
    pub remote_wakes: u64,
    /// Timers that fired.
    pub timers_fired: u64,
    /// I/O readiness events received from the OS.
    pub io_events: u64,
    /// Threads of the blocking pool alive now.
    pub blocking_threads: u64,
    /// Of those, threads not running a job.
    pub blocking_threads_idle: u64,
    /// Jobs waiting for a blocking thread.
    pub blocking_queue_depth: u64,
    /// Blocking threads that [`Runtime::shutdown_timeout`](crate::Runtime::shutdown_timeout) left running
    /// their job when its deadline passed: they finish alone, after the runtime is gone (read it through a
    /// [`Handle`](crate::Handle) kept from before the shutdown).
    pub blocking_threads_abandoned: u64,
    /// Polls longer than the slow-poll threshold (counted when they end).
    pub slow_polls: u64,
}

/// The loop's own counters: plain cells, touched only on its thread.
#[derive(Debug, Default)]
pub(crate) struct LoopCounters {
    /// See [`Metrics::tasks_spawned`].
    pub(crate) tasks_spawned: Cell<u64>,
    /// See [`Metrics::polls`].
    pub(crate) polls: Cell<u64>,
    /// See [`Metrics::parked`], in nanoseconds.
    pub(crate) parked_ns: Cell<u64>,
    /// See [`Metrics::parks`].
    pub(crate) parks: Cell<u64>,
    /// See [`Metrics::local_wakes`].
    pub(crate) local_wakes: Cell<u64>,
    /// See [`Metrics::remote_wakes`].
    pub(crate) remote_wakes: Cell<u64>,
    /// See [`Metrics::timers_fired`].
    pub(crate) timers_fired: Cell<u64>,
    /// See [`Metrics::io_events`].
    pub(crate) io_events: Cell<u64>,
    /// See [`Metrics::slow_polls`].
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
    /// See [`Metrics::tasks_spawned`].
    tasks_spawned: AtomicU64,
    /// See [`Metrics::tasks_alive`].
    tasks_alive: AtomicU64,
    /// See [`Metrics::polls`].
    polls: AtomicU64,
    /// See [`Metrics::parked`], in nanoseconds.
    parked_ns: AtomicU64,
    /// See [`Metrics::parks`].
    parks: AtomicU64,
    /// See [`Metrics::local_wakes`].
    local_wakes: AtomicU64,
    /// See [`Metrics::remote_wakes`].
    remote_wakes: AtomicU64,
    /// See [`Metrics::timers_fired`].
    timers_fired: AtomicU64,
    /// See [`Metrics::io_events`].
    io_events: AtomicU64,
    /// See [`Metrics::slow_polls`].
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
    pub(crate) fn snapshot(&self, blocking: (u64, u64, u64, u64)) -> Metrics {
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
        Metrics {
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
            blocking_threads: blocking.0,
            blocking_threads_idle: blocking.1,
            blocking_queue_depth: blocking.2,
            blocking_threads_abandoned: blocking.3,
            slow_polls: self.slow_polls.load(Relaxed),
        }
    }
}
