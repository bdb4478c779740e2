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
//! Still to come (see the x-ray issue): every task's bookmark (where it is parked, captured by weft's leaf
//! futures) and the task dump.

#![forbid(unsafe_code)]

mod metrics;
mod slow_poll;
mod trace;

pub use metrics::Metrics;
pub(crate) use metrics::{LoopCounters, PublishedMetrics};
pub use slow_poll::SlowPoll;
pub(crate) use slow_poll::{PollWatch, SlowPollConfig, SlowPollHandler, Watchdog};
pub use trace::flush_trace;
pub(crate) use trace::{LoopWork, Trace, DEFAULT_CAPACITY as DEFAULT_TRACE_CAPACITY};
