//! The runtime: one event loop on one thread.
//!
//! A [`Runtime`] owns a loop — a run queue of ready tasks, a registry of every live task, a timer wheel, and an
//! epoll instance to park in. [`Runtime::block_on`] runs the loop on the calling thread until the given future
//! finishes. Each turn the loop polls up to `EVENT_INTERVAL` (64) ready tasks, then checks timers, the remote queue
//! and the OS; when nothing is ready it parks in `epoll_wait` until the next timer deadline, an I/O event, or a
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
mod idle;
mod loops;
mod probe;
mod registry;
pub(crate) mod shared;

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
    /// Loop 0's state; boxed so the thread-local context can point at it.
    core: Box<Core>,
    /// The threads running loops 1.., with more than one loop.
    workers: Option<Workers>,
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
        if let Some(cpus) = &cpus {
            crate::sys::cpu::pin_current_thread(cpus[0]).map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("weft: could not pin loop 0 to CPU {}: {error}", cpus[0]),
                )
            })?;
        }
        let pool = Pool::new(builder.max_blocking_threads, builder.blocking_keep_alive);
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
            _not_send: PhantomData,
        };
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
            let group = Arc::new(Group::new(&all));
            for shared in &all {
                shared.set_group(group.clone());
            }
        }
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
/// If the runtime cannot be created (the OS refused an epoll or eventfd descriptor), or if called inside a
/// runtime.
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
