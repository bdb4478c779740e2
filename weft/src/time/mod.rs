//! Time: sleeps, timeouts and intervals, driven by the loop's timer wheel.
//!
//! Timers live in a hierarchical wheel owned by the loop (no lock, no allocation per timer beyond the future
//! that holds it); the loop parks in the OS until the next deadline. With
//! [`Builder::start_paused`](crate::Builder::start_paused) the clock is virtual: it jumps to the next deadline
//! whenever every task is waiting, so tests of timeouts are instant and deterministic.

mod clock;
pub(crate) mod context;
mod instant;
mod interval;
mod sleep;
mod timeout;
mod wheel;

pub(crate) use clock::{Clock, VirtualTime};
pub(crate) use context::Timers;
pub use instant::Instant;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
pub(crate) use wheel::Wheel;
