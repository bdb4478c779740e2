//! X-ray: see what the loop is doing.
//!
//! - [`Metrics`] ([`Handle::metrics`](crate::Handle::metrics)): stable counters of one loop — tasks, polls, busy
//!   and parked time, wakes, timers, I/O events, the blocking pool — readable from any thread. The loop counts in
//!   plain cells and publishes once per turn, so counting costs a few stores per turn, not per operation.
//! - **Slow polls** ([`SlowPoll`], [`Builder::slow_poll_threshold`](crate::Builder::slow_poll_threshold)): a poll
//!   that blocks the loop longer than the threshold is reported with the task's id, name and spawn location —
//!   after it returns, and, by a watchdog thread, **while it is still running**, so a loop stuck in CPU work is
//!   named while it is stuck. asyncio's debug mode only reports a slow callback once it has finished.
//!
//! - **Trace** ([`Builder::trace_path`](crate::Builder::trace_path), `WEFT_TRACE`): a timeline of the loop in
//!   Chrome trace-event JSON for Perfetto — one slice per poll named after its task, slices for parking, timers and
//!   I/O, and flow arrows from each wake to the poll it causes; see [`flush_trace`].
//!
//! - **Bookmarks** ([`Bookmark`]): every weft leaf future — sleep, timeout, interval, socket operations, channel
//!   and lock operations, `JoinHandle`, `yield_now` — captures the line that created it (`#[track_caller]`) and,
//!   when it returns `Pending`, leaves that line and a short label ("sleep 2.0s", "TcpStream::read fd 7") for its
//!   task's header: one store on the `Pending` path, nothing on the `Ready` path.
//! - **Dump** ([`dump`], [`Handle::dump`](crate::Handle::dump)): every live task with its state, bookmark,
//!   polls, busy time and time since it last ran — a walk over the loop's task list, no backtraces, no
//!   re-polling. From another thread the loop answers between polls; a loop stuck in one poll for a second is
//!   reported as such, naming the task that blocks it.

#![forbid(unsafe_code)]

mod bookmark;
mod dump;
mod metrics;
mod probe;
mod slow_poll;
mod trace;

pub use bookmark::Bookmark;

pub use dump::{Dump, TaskInfo, TaskState};

pub use metrics::{LoopMetrics, Metrics};
pub(crate) use probe::XraySettings;
pub use slow_poll::SlowPoll;
pub use trace::flush_trace;

/// Every live task of the runtime running on this thread, with its bookmark: where it is parked.
///
/// ```
/// use std::time::Duration;
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let sleeper = weft::spawn(async { weft::time::sleep(Duration::from_secs(2)).await });
///     weft::task::yield_now().await;
///     let dump = weft::xray::dump();
///     println!("{dump}"); // an aligned table, longest-parked first
///     assert_eq!(dump.tasks().len(), 1);
///     assert_eq!(dump.tasks()[0].id, sleeper.id());
///     assert_eq!(dump.tasks()[0].polls, 1);
/// });
/// ```
///
/// # Panics
/// Outside a runtime; from another thread use [`Handle::dump`](crate::Handle::dump).
pub fn dump() -> Dump {
    let core = crate::runtime::context::with_core(|core| core.map(|core| core.shared().clone()));
    let shared = core.expect(
        "weft::xray::dump called outside a runtime: call it inside a task, or use Handle::dump",
    );
    // This loop is dumped right here; other loops of the runtime, if any, are asked.
    crate::Handle::new(shared).dump()
}
