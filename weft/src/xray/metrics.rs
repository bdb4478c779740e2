//! [`Metrics`]: a runtime's stable counters, summed over its loops and [per loop](LoopMetrics).

use std::time::Duration;

use crate::runtime::{Counts, Handle, LoopId};

/// Counters of a runtime since it was created: each loop's as published at the end of its latest turn, summed
/// over the loops (one, unless built with [`Builder::loops`](crate::Builder::loops); the per-loop figures are in
/// [`loops`](Metrics::loops)), and its blocking pool's.
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
    /// The same counters for each loop, in loop order.
    pub loops: Vec<LoopMetrics>,
}

/// The counters of one loop of a runtime (see [`Metrics`], which sums them).
///
/// ```
/// let runtime = weft::Builder::new().loops(2).pin_loops(false).build().unwrap();
/// let handle = runtime.handle();
/// let second = handle.loops()[1];
/// runtime.block_on(async {
///     handle.spawn_on(second, async {}).await.unwrap();
///     weft::task::yield_now().await;
/// });
/// let metrics = handle.metrics();
/// assert_eq!(metrics.loops.len(), 2);
/// assert_eq!(metrics.loops[1].loop_id, second);
/// assert_eq!(metrics.loops[1].tasks_spawned, 1);
/// assert_eq!(metrics.tasks_spawned, metrics.loops.iter().map(|l| l.tasks_spawned).sum::<u64>());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoopMetrics {
    /// Which loop.
    pub loop_id: LoopId,
    /// Tasks spawned on this loop (locally or from other threads).
    pub tasks_spawned: u64,
    /// Tasks alive on it now.
    pub tasks_alive: u64,
    /// Polls of its tasks.
    pub polls: u64,
    /// Wall time it spent not parked.
    pub busy: Duration,
    /// Wall time it spent parked in the OS.
    pub parked: Duration,
    /// Times it parked.
    pub parks: u64,
    /// Wakes from its own thread.
    pub local_wakes: u64,
    /// Wakes from other threads.
    pub remote_wakes: u64,
    /// Its timers that fired.
    pub timers_fired: u64,
    /// I/O events it received.
    pub io_events: u64,
    /// Its polls longer than the slow-poll threshold.
    pub slow_polls: u64,
}

impl LoopMetrics {
    /// Loop `loop_id`'s figures from its published counts.
    fn new(loop_id: LoopId, counts: Counts) -> LoopMetrics {
        LoopMetrics {
            loop_id,
            tasks_spawned: counts.tasks_spawned,
            tasks_alive: counts.tasks_alive,
            polls: counts.polls,
            busy: counts.busy,
            parked: counts.parked,
            parks: counts.parks,
            local_wakes: counts.local_wakes,
            remote_wakes: counts.remote_wakes,
            timers_fired: counts.timers_fired,
            io_events: counts.io_events,
            slow_polls: counts.slow_polls,
        }
    }
}

impl Metrics {
    /// The sums of `loops` and the blocking pool's `(threads, idle, queued, abandoned)`.
    fn new(loops: Vec<LoopMetrics>, blocking: (u64, u64, u64, u64)) -> Metrics {
        let sum = |field: fn(&LoopMetrics) -> u64| loops.iter().map(field).sum::<u64>();
        let total = |field: fn(&LoopMetrics) -> Duration| loops.iter().map(field).sum::<Duration>();
        Metrics {
            tasks_spawned: sum(|l| l.tasks_spawned),
            tasks_alive: sum(|l| l.tasks_alive),
            polls: sum(|l| l.polls),
            busy: total(|l| l.busy),
            parked: total(|l| l.parked),
            parks: sum(|l| l.parks),
            local_wakes: sum(|l| l.local_wakes),
            remote_wakes: sum(|l| l.remote_wakes),
            timers_fired: sum(|l| l.timers_fired),
            io_events: sum(|l| l.io_events),
            blocking_threads: blocking.0,
            blocking_threads_idle: blocking.1,
            blocking_queue_depth: blocking.2,
            blocking_threads_abandoned: blocking.3,
            slow_polls: sum(|l| l.slow_polls),
            loops,
        }
    }
}

/// Metrics are the x-ray's; the handle gives them.
impl Handle {
    /// The runtime's counters (tasks, polls, busy and parked time, wakes, timers, I/O events, the blocking pool,
    /// slow polls), as of the end of each loop's latest turn: summed over the loops, and per loop in
    /// [`Metrics::loops`]. Works from any thread.
    ///
    /// ```
    /// let runtime = weft::Runtime::new().unwrap();
    /// runtime.block_on(async {
    ///     weft::spawn(async {}).await.unwrap();
    /// });
    /// let metrics = std::thread::scope(|scope| {
    ///     let handle = runtime.handle();
    ///     scope.spawn(move || handle.metrics()).join().unwrap()
    /// });
    /// assert_eq!(metrics.tasks_spawned, 1);
    /// assert_eq!(metrics.tasks_alive, 0);
    /// ```
    pub fn metrics(&self) -> Metrics {
        let loops = self
            .every_loop()
            .iter()
            .map(|shared| LoopMetrics::new(shared.loop_id(), shared.metrics.read()))
            .collect();
        Metrics::new(loops, self.shared().blocking.stats())
    }
}
