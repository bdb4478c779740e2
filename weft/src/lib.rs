//! # weft — an async runtime you can see into
//!
//! weft runs the model that every good explanation of async/await tells, and makes it fast:
//!
//! - **An `async fn` is a pausable state machine.** Calling it runs nothing; it returns a future. Each `.await`
//!   is a **bookmark**: when what it waits for is not ready, the function saves its place and steps aside.
//! - **A task** is such a state machine handed to the runtime with [`spawn`] (asyncio's `create_task`). It runs
//!   on its own; its [`JoinHandle`] awaits the result, or [`abort`](JoinHandle::abort)s it at its next bookmark.
//!   A panic inside a task becomes a [`JoinError`]; it never takes the other tasks down.
//! - **Gathering**: [`join!`] and [`join_all`] run several futures at once and collect every result;
//!   [`try_join!`] stops at the first error, [`select!`] takes the first to finish.
//! - **Structured concurrency**: a [`task::TaskGroup`] owns its child tasks — dropping it cancels them — and a
//!   [`sync::CancellationToken`] carries "stop" across tasks and threads. Cancelling is dropping: a future stops
//!   at its bookmark; see [the cancellation guide](task::cancellation).
//! - **The event loop** is a plain loop on one thread: poll every task that is ready, then ask the OS
//!   (`epoll_wait`) to wait for I/O and the next timer, and resume whichever task's "buzzer" went off. One thread
//!   juggles thousands of waiting tasks, because waiting costs nothing but a few bytes.
//! - **CPU-bound work blocks the loop**: while a task computes, nothing else on its thread runs. Move such work
//!   to the blocking pool with [`spawn_blocking`]; use one runtime per core for more throughput.
//!
//! ```
//! use std::time::Duration;
//! use weft::time::{sleep, Instant};
//!
//! async fn brew(name: &str, seconds: u64) -> String {
//!     sleep(Duration::from_secs(seconds)).await; // a bookmark: the task steps aside here
//!     format!("{name} ready")
//! }
//!
//! // A virtual clock makes this example instant; with weft::run it would take one real second.
//! let runtime = weft::Builder::new().start_paused(true).build().unwrap();
//! runtime.block_on(async {
//!     let start = Instant::now();
//!     let coffee = brew("coffee", 1); // nothing runs yet: a future is a plan, not an action
//!     let tea = weft::spawn(brew("tea", 1)); // a task: starts running on its own
//!     let (coffee, tea) = weft::join!(coffee, tea);
//!     assert_eq!(coffee, "coffee ready");
//!     assert_eq!(tea.unwrap(), "tea ready");
//!     assert_eq!(start.elapsed(), Duration::from_secs(1)); // both waited at once
//! });
//! ```
//!
//! ## Map of the crate
//! - [`run`], [`Runtime`], [`Builder`], [`Handle`]: start a loop, spawn onto it from other threads.
//! - [`spawn`], [`spawn_blocking`], [`task`]: tasks, their handles, names, [`task::yield_now`];
//!   [`task::TaskGroup`], [`select!`], [`try_join!`], task-local values ([`task_local!`]) and
//!   [cancellation](task::cancellation). A task that is always ready still steps aside: weft's futures spend
//!   from a per-poll budget ([`task::unconstrained`] lifts it), so no task starves the loop's timers, I/O or
//!   other tasks.
//! - [`time`]: [`sleep`](time::sleep), [`timeout`](time::timeout), [`interval`](time::interval) and a
//!   virtual clock for tests ([`Builder::start_paused`]).
//! - [`fs`]: files and directories on the blocking pool: [`fs::read`], [`fs::write`], [`fs::File`] with the
//!   `futures-io` traits, [`fs::read_dir`].
//! - [`net`] and [`io`]: TCP, UDP and Unix sockets on the loop's epoll reactor, with the `futures-io` traits.
//! - [`signal`] and [`process`]: Unix signals as futures ([`signal::ctrl_c`], [`signal::unix::signal`]) and
//!   child processes with async pipes ([`process::Command`]); [`Runtime::shutdown_timeout`] stops a runtime
//!   within a deadline.
//! - [`xray`]: see inside — every task's bookmark in a [dump](xray::dump) (also [`Handle::dump`] from any
//!   thread), [`Handle::metrics`], slow polls caught and named while they block the loop, a trace of the loop.
//! - [`compat`]: hyper 1.x on weft (feature `hyper`).
//! - [`sync`]: channels ([`mpsc`](sync::mpsc), [`oneshot`](sync::oneshot), [`watch`](sync::watch),
//!   [`broadcast`](sync::broadcast)) and locks ([`Mutex`](sync::Mutex), [`Semaphore`](sync::Semaphore), ...)
//!   that work between tasks, loops and threads.
//! - [`main`] and [`test`]: `#[weft::main]` and `#[weft::test]`.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    clippy::undocumented_unsafe_blocks
)]

mod blocking;
mod cell;
pub mod compat;
mod driver;
pub mod fs;
pub mod io;
mod loom;
pub mod net;
pub mod process;
pub mod runtime;
pub mod signal;
pub mod sync;
mod sys;
pub mod task;
pub mod time;
pub mod xray;

pub use runtime::{
    current_loop, run, spawn, spawn_blocking, Builder, Handle, Runtime, UnhandledPanic,
};

/// The observer a new [`Builder`] starts with: the x-ray, configured from the environment (`WEFT_SLOW_POLL`,
/// `WEFT_TRACE`). The crate root wires the layers together: the runtime calls this without naming the x-ray.
fn default_probe_settings() -> Box<dyn runtime::ProbeSettings> {
    Box::new(xray::XraySettings::from_env())
}
pub use task::{join_all, JoinError, JoinHandle};

#[cfg(feature = "macros")]
pub use weft_macros::{main, test};
