//! The runtime: one event loop on one thread.
//!
//! A [`Runtime`] owns a loop — a run queue of ready tasks, a registry of every live task, a timer wheel, and a
//! [`Driver`] to park in (io_uring where the kernel allows it, else epoll). [`Runtime::block_on`] runs the loop on
//! the calling thread until the given future finishes. Each turn the loop polls up to `EVENT_INTERVAL` (64) ready
//! tasks, then checks timers, the remote queue and the OS; when nothing is ready it parks in the driver
//! (`io_uring_enter` or `epoll_wait`) until the next timer deadline, an I/O event, or a
//! wake from another thread (written to an eventfd). An idle loop makes no wake-ups at all.
//!
//! The role nouns: [`Runtime`] owns the loop (`!Send`: its tasks need not be `Send`); [`Handle`] is the shared,
//! `Clone + Send + Sync` way in from other threads; the *context* is the thread-local pointer to the loop that
//! is running on this thread, which `weft::spawn`, timers and sockets use.
//!
//! # Outside a runtime
//!
//! One rule, as in tokio: **what needs a loop panics when used on a thread that runs none**, because that is a
//! mistake in the program, not a condition to handle at run time. The panic says what to do instead and names
//! the caller's line — the call for a function, the `.await` (or `poll`) for a future:
//!
//! - spawning: [`spawn`], [`spawn_blocking`], `task::Builder::spawn`, `TaskGroup::spawn`, `spawn_named` and
//!   `spawn_blocking` — at the call;
//! - [`Handle::current`], [`current_loop`] and `xray::dump` — at the call ([`Handle::try_current`] asks instead);
//! - waiting on a timer (`time::sleep`, `sleep_until`, `timeout`, `interval`'s `tick`) — at the `.await`.
//!   Creating one is fine anywhere: `runtime.block_on(weft::time::sleep(d))` works;
//! - waiting on a socket (a read, write, accept or connect polled on a thread with no loop) — the panic names
//!   the line that made the operation;
//! - [`Runtime::block_on`] and [`run`] inside a runtime (a task must `.await`, not block) — at the call.
//!
//! ```
//! let outside = std::panic::catch_unwind(|| weft::spawn(async {}));
//! assert!(outside.is_err()); // "weft::spawn called outside a runtime: wrap your code in weft::run ..."
//! let slept = weft::run(weft::time::sleep(std::time::Duration::from_millis(1))); // created outside, awaited inside
//! assert_eq!(slept, ());
//! ```
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
mod idle;
mod loops;
mod panic_hint;
mod probe;
mod registry;
pub(crate) mod shared;
mod steal;

pub use crate::driver::Driver;
pub use builder::{Builder, UnhandledPanic};
pub(crate) use counters::{Counts, LoopCounters, PublishedMetrics};
pub use handle::Handle;
pub use loops::LoopId;
pub(crate) use probe::{LoopWork, PollInfo, Probe, ProbeSettings};
pub(crate) use shared::Shared;

use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::blocking::Pool;
use crate::cell::JoinHandle;
use crate::time::VirtualTime;
pub(crate) use event_loop::Core;
use loops::{Group, Workers};
pub(crate) use shared::Visit;
use std::sync::Arc;

/// How many tasks the loop polls before it checks timers, the remote queue and the OS again.
pub(crate) const EVENT_INTERVAL: usize = 64;

/// Says on stderr that `what` happened, with `payload`'s message and, for a message weft knows how to fix, one
/// line of hint; never panics (stderr may be closed).
pub(crate) fn report_lost_panic(payload: &(dyn std::any::Any + Send), what: fmt::Arguments<'_>) {
    use std::io::Write;
    let message = crate::cell::error::panic_message(payload).unwrap_or("Box<dyn Any>");
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "weft: {what}: {message}");
    if let Some(hint) = panic_hint::hint_for_panic(message) {
        let _ = writeln!(stderr, "weft: {hint}");
    }
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
    /// Loop 0's state; boxed so the thread-local context can point at it.
    core: Box<Core>,
    /// The threads running loops 1.., with more than one loop.
    workers: Option<Workers>,
    /// The CPUs the building thread could run on before loop 0 pinned it, given back when the runtime drops.
    unpin_to: Option<Vec<usize>>,
    /// What the observer serves from outside the loop (the inspection socket), dropped with the runtime.
    attached: Option<Box<dyn std::any::Any>>,
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
        let mut builder = builder.clone();
        builder.probe = builder.probe.for_runtime();
        let builder = &builder;
        let count = builder.loop_count()?;
        let cpus = if builder.pin_loops.unwrap_or(count > 1) {
            Some(crate::sys::cpu::allowed_cpus()?)
        } else {
            None
        };
        // Blocking threads run on any CPU the process may use, not on the loop that started them.
        let pool = Pool::new(
            builder.max_blocking_threads,
            builder.blocking_keep_alive,
            cpus.clone(),
        );
        // One virtual clock for every loop.
        let virtual_time = builder.start_paused.then(VirtualTime::new);
        let core = Box::new(Core::new(
            builder,
            LoopId::new(0),
            pool.clone(),
            virtual_time.clone(),
        )?);
        let mut runtime = Runtime {
            core,
            workers: None,
            unpin_to: None,
            attached: None,
            _not_send: PhantomData,
        };
        if let Some(cpus) = &cpus {
            crate::sys::cpu::pin_current_thread(cpus[0]).map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("weft: could not pin loop 0 to CPU {}: {error}", cpus[0]),
                )
            })?;
            runtime.unpin_to = Some(cpus.clone());
        }
        if count > 1 {
            let (workers, others) = Workers::start(
                builder,
                count,
                cpus.as_deref(),
                &pool,
                virtual_time.as_ref(),
            )?;
            runtime.workers = Some(workers);
            let mut all = vec![runtime.core.shared().clone()];
            all.extend(others);
            let group = Arc::new(Group::new(&all, builder.steal));
            for shared in &all {
                shared.set_group(group.clone());
                // A worker that parked before it had a group parks again with it (to count itself hungry).
                shared.unpark();
            }
        }
        // With every loop in place, so what is served from outside sees them all.
        runtime.attached = builder.probe.attach(&runtime.handle())?;
        Ok(runtime)
    }

    /// Shuts every loop down (each on its own thread, at the same time), by `deadline` if any.
    fn shutdown_all(&mut self, deadline: Option<Instant>) {
        if let Some(workers) = &self.workers {
            workers.request_stop(deadline);
        }
        self.core.shutdown(deadline);
        if let Some(mut workers) = self.workers.take() {
            workers.join();
        }
        if let Some(cpus) = self.unpin_to.take() {
            // The thread is the caller's again: as it was. (It could only fail if the CPUs went away.)
            let _ = crate::sys::cpu::set_allowed_cpus(&cpus);
        }
    }

    /// What the observer serves from outside the loop (the x-ray's inspection socket), if anything.
    pub(crate) fn attached(&self) -> Option<&dyn std::any::Any> {
        self.attached.as_deref()
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
    #[track_caller]
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
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        let deadline = Instant::now().checked_add(timeout);
        // No representable deadline: as good as none, which is what dropping does.
        self.shutdown_all(deadline);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown_all(None);
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
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    let runtime = match Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => panic!("weft::run could not create a runtime: {error}"),
    };
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
    // The panic stays out of the closure, so that it names the caller's line.
    let spawned =
        context::with_core(|core| core.map(|core| core.spawn_local(future, None, location)));
    match spawned {
        Some(handle) => handle,
        None => panic!(
            "weft::spawn called outside a runtime: wrap your code in weft::run or #[weft::main], \
             or use a weft::Handle to spawn from another thread"
        ),
    }
}

/// The loop this code runs on: which of the runtime's [`loops`](Builder::loops) polls the current task.
///
/// ```
/// let runtime = weft::Builder::new().loops(2).pin_loops(false).build().unwrap();
/// let handle = runtime.handle();
/// let second = handle.loops()[1];
/// assert_eq!(runtime.block_on(async { weft::current_loop() }).index(), 0);
/// let there = runtime.block_on(handle.spawn_on(second, async { weft::current_loop() }));
/// assert_eq!(there.unwrap(), second);
/// ```
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn current_loop() -> LoopId {
    match context::with_core(|core| core.map(|core| core.shared().loop_id())) {
        Some(id) => id,
        None => panic!(
            "weft::current_loop called outside a runtime: call it inside weft::run or #[weft::main]"
        ),
    }
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
        let name = self.into_name();
        let spawned =
            context::with_core(|core| core.map(|core| core.spawn_local(future, name, location)));
        match spawned {
            Some(handle) => handle,
            None => panic!(
                "weft::task::Builder::spawn called outside a runtime: wrap your code in weft::run or #[weft::main]"
            ),
        }
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
    let spawned = context::with_core(|core| {
        core.map(|core| core.shared().spawn_blocking(function, location))
    });
    match spawned {
        Some(handle) => handle,
        None => panic!(
            "weft::spawn_blocking called outside a runtime: wrap your code in weft::run or #[weft::main], \
             or use weft::Handle::spawn_blocking"
        ),
    }
}
