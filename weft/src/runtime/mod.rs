//! The runtime: one event loop on one thread.
//!
//! A [`Runtime`] owns a loop — a run queue of ready tasks, a registry of every live task, a timer wheel, and a
//! [`Driver`] to park in (io_uring where the kernel allows it, else epoll). [`Runtime::block_on`] runs the loop on the calling thread until the given future
//! finishes. Each turn the loop polls up to `EVENT_INTERVAL` (64) ready tasks, then checks timers, the remote queue
//! and the OS; when nothing is ready it parks in the driver (`io_uring_enter` or `epoll_wait`) until the next timer deadline, an I/O event, or a
//! wake from another thread (written to an eventfd). An idle loop makes no wake-ups at all.
//!
//! The role nouns: [`Runtime`] owns the loop (`!Send`: its tasks need not be `Send`); [`Handle`] is the shared,
//! `Clone + Send + Sync` way in from other threads; the *context* is the thread-local pointer to the loop that
//! is running on this thread, which `weft::spawn`, timers and sockets use.
//!
//! # Invariants
//!
//! 1. The thread-local context points at a loop only while that loop's `block_on` (or its shutdown) is on the
//!    stack of this thread, so a pointer read from the context is valid for the duration of the access.
//! 2. The loop's `awake` flag is `false` only between the moment the loop announces it will park and the moment
//!    it wakes; before parking it re-checks every queue a remote thread can push to. A remote pusher that finds
//!    `awake == false` writes the eventfd. So no wake is lost.

mod builder;
pub(crate) mod context;
mod counters;
mod doorbell;
mod event_loop;
mod handle;
mod probe;
mod registry;
pub(crate) mod shared;

pub use crate::driver::Driver;
pub use builder::{Builder, UnhandledPanic};
pub(crate) use counters::{Counts, LoopCounters, PublishedMetrics};
pub use handle::Handle;
pub(crate) use probe::{LoopWork, PollInfo, Probe, ProbeSettings};
pub(crate) use shared::Shared;

use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::cell::JoinHandle;
pub(crate) use event_loop::Core;
pub(crate) use shared::Visit;

/// How many tasks the loop polls before it checks timers, the remote queue and the OS again.
pub(crate) const EVENT_INTERVAL: usize = 64;

/// Says on stderr that `what` happened, with `payload`'s message; never panics (stderr may be closed).
pub(crate) fn report_lost_panic(payload: &(dyn std::any::Any + Send), what: fmt::Arguments<'_>) {
    use std::io::Write;
    let message = crate::cell::error::panic_message(payload).unwrap_or("Box<dyn Any>");
    let _ = writeln!(std::io::stderr(), "weft: {what}: {message}");
}

/// An event loop: runs tasks, timers and I/O on the thread that calls [`block_on`](Runtime::block_on).
///
/// Dropping the runtime drops every task that is still alive (their destructors run), stops the blocking pool's
/// threads and closes its descriptors.
///
/// ```
/// let runtime = weft::Runtime::new().unwrap();
/// let answer = runtime.block_on(async {
///     let task = weft::spawn(async { 40 + 2 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// A runtime stays on the thread that created it (its tasks need not be `Send`):
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(weft::Runtime::new().unwrap());
/// ```
pub struct Runtime {
    /// The loop's state; boxed so the thread-local context can point at it.
    core: Box<Core>,
    /// A runtime is `!Send` and `!Sync`: its tasks may hold `!Send` values.
    _not_send: PhantomData<Rc<()>>,
}

impl Runtime {
    /// A runtime with the default configuration (see [`Builder`]).
    ///
    /// ```
    /// let runtime = weft::Runtime::new().unwrap();
    /// let inside = runtime.block_on(async { weft::Handle::try_current().is_some() });
    /// assert!(inside);
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Builds the runtime from a builder's configuration.
    pub(crate) fn from_builder(builder: &Builder) -> io::Result<Runtime> {
        Ok(Runtime {
            core: Box::new(Core::new(builder)?),
            _not_send: PhantomData,
        })
    }

    /// Runs `future` to completion on this thread, running the loop (and every task spawned on it) meanwhile.
    /// Tasks still alive when it returns stay parked until the next `block_on` or until the runtime is dropped.
    ///
    /// # Panics
    /// If called from inside a runtime (a task must `.await`, not block), or, with
    /// [`UnhandledPanic::ShutdownRuntime`], when a detached task panics.
    ///
    /// ```
    /// let runtime = weft::Runtime::new().unwrap();
    /// assert_eq!(runtime.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.core.block_on(future)
    }

    /// A handle to this runtime, for spawning from other threads.
    ///
    /// ```
    /// let runtime = weft::Runtime::new().unwrap();
    /// let handle = runtime.handle();
    /// let task = std::thread::spawn(move || handle.spawn(async { "from another thread" }))
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(runtime.block_on(task).unwrap(), "from another thread");
    /// ```
    pub fn handle(&self) -> Handle {
        Handle::new(self.core.shared().clone())
    }

    /// The I/O driver this runtime's loop runs: [`Driver::Epoll`] or [`Driver::IoUring`], never `Auto`.
    ///
    /// ```
    /// use weft::runtime::Driver;
    ///
    /// let runtime = weft::Runtime::new().unwrap(); // Auto: io_uring where the kernel allows it
    /// assert_ne!(runtime.driver(), Driver::Auto);
    /// ```
    pub fn driver(&self) -> Driver {
        self.core.shared().driver
    }
}

impl Runtime {
    /// Shuts the runtime down within `timeout`: aborts every task (their destructors run here, on this thread),
    /// cancels blocking jobs not started yet, waits for running ones until the deadline, and returns — never
    /// later, however long a blocking job takes (a thread still running one is left to finish alone; see
    /// `xray::Metrics::blocking_threads_abandoned`). Dropping a
    /// runtime instead waits for every running blocking job.
    ///
    /// What the deadline cannot bound: destructors of tasks (they run to completion on this thread).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let runtime = weft::Runtime::new().unwrap();
    /// let handle = runtime.handle();
    /// runtime.block_on(async {
    ///     // A job that will not finish any time soon.
    ///     let (started, running) = weft::sync::oneshot::channel();
    ///     drop(weft::spawn_blocking(move || {
    ///         started.send(()).unwrap();
    ///         std::thread::sleep(Duration::from_secs(5));
    ///     }));
    ///     running.await.unwrap();
    /// });
    /// let started = Instant::now();
    /// runtime.shutdown_timeout(Duration::from_millis(50));
    /// assert!(started.elapsed() < Duration::from_secs(5));
    /// assert_eq!(handle.metrics().blocking_threads_abandoned, 1);
    /// ```
    pub fn shutdown_timeout(self, timeout: Duration) {
        let deadline = Instant::now().checked_add(timeout);
        // No representable deadline: as good as none, which is what dropping does.
        self.core.shutdown(deadline);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.core.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("id", &self.core.shared().id())
            .finish_non_exhaustive()
    }
}

/// Runs `future` on a new default runtime and returns its output, then shuts the runtime down — the
/// `asyncio.run` of weft.
///
/// ```
/// let greeting = weft::run(async { "hello" });
/// assert_eq!(greeting, "hello");
/// ```
///
/// # Panics
/// If the runtime cannot be created (the OS refused the driver's or the eventfd's descriptor, or `WEFT_DRIVER`
/// names no driver), or if called inside a runtime.
pub fn run<F: Future>(future: F) -> F::Output {
    let runtime = Runtime::new()
        .unwrap_or_else(|error| panic!("weft::run could not create a runtime: {error}"));
    runtime.block_on(future)
}

/// Spawns a task on the current thread's loop. The future need not be `Send`: it stays on this thread.
///
/// The task starts running at the loop's next turn; the returned [`JoinHandle`] awaits its output. Dropping the
/// handle detaches the task.
///
/// ```
/// weft::run(async {
///     let shared = std::rc::Rc::new(5); // not Send, and that is fine
///     let task = weft::spawn(async move { *shared * 2 });
///     assert_eq!(task.await.unwrap(), 10);
/// });
/// ```
///
/// # Panics
/// Outside a runtime. From another thread, use [`Handle::spawn`].
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = Location::caller();
    context::with_core(|core| match core {
        Some(core) => core.spawn_local(future, None, location),
        None => panic!(
            "weft::spawn called outside a runtime: wrap your code in weft::run or #[weft::main], \
             or use a weft::Handle to spawn from another thread"
        ),
    })
}

/// `task::Builder` lives in the task layer; spawning belongs to the runtime.
impl crate::cell::Builder {
    /// Spawns the task on the current loop, like [`weft::spawn`](crate::spawn).
    ///
    /// ```
    /// weft::run(async {
    ///     let shared = std::rc::Rc::new(21); // the future need not be Send
    ///     let task = weft::task::Builder::new()
    ///         .name("double")
    ///         .spawn(async move { *shared * 2 });
    ///     assert_eq!(task.await.unwrap(), 42);
    /// });
    /// ```
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let location = Location::caller();
        context::with_core(|core| {
            match core {
            Some(core) => core.spawn_local(future, self.into_name(), location),
            None => panic!(
                "weft::task::Builder::spawn called outside a runtime: wrap your code in weft::run or #[weft::main]"
            ),
        }
        })
    }
}

/// Runs a blocking or CPU-heavy closure on the runtime's blocking pool, so it does not stall the loop, and
/// returns a handle to await its result. A panic in the closure becomes a [`JoinError`](crate::JoinError).
///
/// Pool threads are started on demand up to a maximum (512 by default, see
/// [`Builder::max_blocking_threads`]) and exit after 10 s idle.
///
/// ```
/// weft::run(async {
///     let sum = weft::spawn_blocking(|| (1..=1_000u64).sum::<u64>()).await.unwrap();
///     assert_eq!(sum, 500_500);
/// });
/// ```
///
/// # Panics
/// Outside a runtime; use [`Handle::spawn_blocking`] from other threads.
#[track_caller]
pub fn spawn_blocking<F, T>(function: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let location = Location::caller();
    context::with_core(|core| {
        match core {
        Some(core) => core.shared().spawn_blocking(function, location),
        None => panic!(
            "weft::spawn_blocking called outside a runtime: wrap your code in weft::run or #[weft::main], \
             or use weft::Handle::spawn_blocking"
        ),
    }
    })
}
