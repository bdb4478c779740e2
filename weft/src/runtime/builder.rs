//! [`Builder`]: how a runtime is configured.

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::time::Duration;

use super::ProbeSettings;
use super::Runtime;
use crate::driver::Driver;

/// What a runtime does when a task whose [`JoinHandle`](crate::JoinHandle) was dropped panics — the panic
/// nobody will ever see otherwise (asyncio's "Task exception was never retrieved").
///
/// ```
/// use weft::UnhandledPanic;
///
/// let runtime = weft::Builder::new()
///     .unhandled_panic(UnhandledPanic::Ignore)
///     .build()
///     .unwrap();
/// let answer = runtime.block_on(async {
///     drop(weft::spawn(async { panic!("nobody awaits this task") })); // detached
///     weft::task::yield_now().await; // the detached task runs and panics
///     weft::spawn(async { 42 }).await.unwrap() // the loop keeps going
/// });
/// assert_eq!(answer, 42);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UnhandledPanic {
    /// Print the task's id, name, spawn location and panic message on stderr; keep running. The default.
    ///
    /// ```
    /// use weft::UnhandledPanic;
    ///
    /// assert_eq!(UnhandledPanic::default(), UnhandledPanic::Report);
    /// let answer = weft::run(async {
    ///     drop(weft::spawn(async { panic!("reported on stderr") }));
    ///     weft::task::yield_now().await;
    ///     "still running"
    /// });
    /// assert_eq!(answer, "still running");
    /// ```
    #[default]
    Report,
    /// Say nothing; keep running.
    ///
    /// See the example on [`UnhandledPanic`].
    Ignore,
    /// Stop: the current [`Runtime::block_on`] panics, and the runtime shuts down when dropped.
    ///
    /// ```
    /// use std::panic::{catch_unwind, AssertUnwindSafe};
    /// use weft::UnhandledPanic;
    ///
    /// let runtime = weft::Builder::new()
    ///     .unhandled_panic(UnhandledPanic::ShutdownRuntime)
    ///     .build()
    ///     .unwrap();
    /// let outcome = catch_unwind(AssertUnwindSafe(|| {
    ///     runtime.block_on(async {
    ///         drop(weft::spawn(async { panic!("nobody awaits this task") }));
    ///         loop {
    ///             weft::task::yield_now().await; // keeps the loop turning until it gives up
    ///         }
    ///     })
    /// }));
    /// assert!(outcome.is_err()); // block_on panicked instead of running on
    /// ```
    ShutdownRuntime,
}

/// Configures and builds a [`Runtime`].
///
/// ```
/// use std::time::Duration;
///
/// let runtime = weft::Builder::new()
///     .start_paused(true)
///     .max_blocking_threads(8)
///     .build()
///     .unwrap();
/// runtime.block_on(async {
///     let start = weft::time::Instant::now();
///     weft::time::sleep(Duration::from_secs(60)).await; // virtual: returns at once
///     assert!(start.elapsed() >= Duration::from_secs(60));
/// });
/// ```
#[derive(Clone)]
pub struct Builder {
    /// Start with the virtual clock.
    pub(crate) start_paused: bool,
    /// What to do on an unhandled task panic.
    pub(crate) unhandled_panic: UnhandledPanic,
    /// The blocking pool's thread limit.
    pub(crate) max_blocking_threads: usize,
    /// How long an idle blocking thread waits for work before it exits.
    pub(crate) blocking_keep_alive: Duration,
    /// What observes the loops (the x-ray: slow-poll detection, the trace), set through its own methods.
    pub(crate) probe: Box<dyn ProbeSettings>,
    /// How many loops (0: one per CPU of the affinity mask).
    pub(crate) loops: usize,
    /// Whether to pin loop i to the i-th allowed CPU (`None`: when there is more than one loop).
    pub(crate) pin_loops: Option<bool>,
    /// Whether `Handle::spawn`'s tasks may be taken, before their first poll, by an idle loop.
    pub(crate) steal: bool,
    /// The I/O driver asked for.
    pub(crate) driver: Driver,
}

impl Clone for Box<dyn ProbeSettings> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

impl Builder {
    /// The default configuration: real clock, report unhandled panics, up to 512 blocking threads that exit
    /// after 10 s idle.
    ///
    /// ```
    /// let builder = weft::Builder::new();
    /// let settings = format!("{builder:?}");
    /// assert!(settings.contains("start_paused: false"));
    /// assert!(settings.contains("max_blocking_threads: 512"));
    /// assert_eq!(builder.build().unwrap().block_on(async { 2 + 2 }), 4);
    /// ```
    pub fn new() -> Builder {
        Builder {
            start_paused: false,
            unhandled_panic: UnhandledPanic::Report,
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            probe: crate::default_probe_settings(),
            loops: 1,
            pin_loops: None,
            steal: false,
            driver: Driver::Auto,
        }
    }

    /// With `true`, the runtime starts with a **virtual clock**: time stands still while any task is ready,
    /// and jumps straight to the next timer deadline whenever every task is waiting — but never while
    /// [`spawn_blocking`](crate::spawn_blocking) work is in flight. Tests of timeouts run in microseconds and
    /// give the same answer every time. With [several loops](Builder::loops) they all read one clock, which
    /// jumps only when every loop is idle.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{sleep, Instant};
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let start = Instant::now();
    ///     weft::task::yield_now().await;
    ///     assert_eq!(Instant::now(), start); // no timer is due: the clock stands still
    ///     sleep(Duration::from_secs(3600)).await; // every task waits: the clock jumps an hour
    ///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
    /// });
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Builder {
        self.start_paused = paused;
        self
    }

    /// What happens when a detached task panics; see [`UnhandledPanic`].
    ///
    /// ```
    /// use weft::UnhandledPanic;
    ///
    /// let runtime = weft::Builder::new()
    ///     .unhandled_panic(UnhandledPanic::Ignore)
    ///     .build()
    ///     .unwrap();
    /// runtime.block_on(async {
    ///     drop(weft::spawn(async { panic!("ignored") }));
    ///     weft::task::yield_now().await;
    ///     // A panic whose JoinHandle is kept is never "unhandled": the handle reports it.
    ///     let error = weft::spawn(async { panic!("seen") }).await.unwrap_err();
    ///     assert!(error.is_panic());
    /// });
    /// ```
    pub fn unhandled_panic(&mut self, policy: UnhandledPanic) -> &mut Builder {
        self.unhandled_panic = policy;
        self
    }

    /// The most threads the blocking pool starts (default 512). Work beyond it waits in a queue.
    ///
    /// ```
    /// let runtime = weft::Builder::new().max_blocking_threads(1).build().unwrap();
    /// runtime.block_on(async {
    ///     let first = weft::spawn_blocking(|| std::thread::current().id());
    ///     let second = weft::spawn_blocking(|| std::thread::current().id()); // queued behind the first
    ///     assert_eq!(first.await.unwrap(), second.await.unwrap()); // one thread ran both
    /// });
    /// ```
    ///
    /// # Panics
    /// If `threads` is zero.
    pub fn max_blocking_threads(&mut self, threads: usize) -> &mut Builder {
        assert!(threads > 0, "max_blocking_threads must be at least 1");
        self.max_blocking_threads = threads;
        self
    }

    /// How long an idle blocking thread waits for work before it exits (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = weft::Builder::new()
    ///     .max_blocking_threads(1)
    ///     .thread_keep_alive(Duration::from_secs(60))
    ///     .build()
    ///     .unwrap();
    /// runtime.block_on(async {
    ///     let first = weft::spawn_blocking(|| std::thread::current().id()).await.unwrap();
    ///     weft::time::sleep(Duration::from_millis(10)).await; // the pool thread idles, well within a minute
    ///     let second = weft::spawn_blocking(|| std::thread::current().id()).await.unwrap();
    ///     assert_eq!(first, second); // the idle thread was kept and reused
    /// });
    /// ```
    pub fn thread_keep_alive(&mut self, keep_alive: Duration) -> &mut Builder {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// How many event loops the runtime runs (default 1; 0: one per CPU this process may run on). Loop 0 runs
    /// [`block_on`](Runtime::block_on) on the calling thread; each other loop is a complete loop (run queue,
    /// timers, reactor, task memory) on a thread of its own. [`spawn`](crate::spawn) stays on the current loop and
    /// needs no `Send`; [`Handle::spawn`](crate::Handle::spawn) places a `Send` task on the least busy loop, and
    /// [`Handle::spawn_on`](crate::Handle::spawn_on) / [`spawn_on_each`](crate::Handle::spawn_on_each) choose.
    ///
    /// ```
    /// let runtime = weft::Builder::new().loops(2).pin_loops(false).build().unwrap();
    /// let handle = runtime.handle();
    /// let loops = handle.loops();
    /// let on_each = runtime.block_on(async move {
    ///     let tasks = handle.spawn_on_each(|id| async move { (id, weft::current_loop()) });
    ///     weft::join_all(tasks).await
    /// });
    /// for (id, ran_on) in on_each.into_iter().map(Result::unwrap) {
    ///     assert_eq!(id, ran_on);
    /// }
    /// assert_eq!(loops.len(), 2);
    /// ```
    pub fn loops(&mut self, loops: usize) -> &mut Builder {
        self.loops = loops;
        self
    }

    /// Whether loop i is pinned to the i-th CPU of the process's affinity mask (default: `true` when there is
    /// more than one loop). Loop 0 is the thread that builds the runtime: it is pinned while the runtime lives and
    /// may run anywhere again once it is dropped. Blocking-pool threads are never pinned.
    ///
    /// Pinning pays when the loops have their cores to themselves: each keeps its caches and never migrates.
    /// Where other busy processes share those cores (a sidecar, a load generator, a noisy neighbour), a pinned
    /// loop waits for its core while another stands idle, and its connections wait with it; say
    /// `pin_loops(false)` there and let the kernel's scheduler move the loops. (weft-bench, 2 CPUs, the load
    /// generator on one of them: unpinned loops served echo with 500 connections at 1.16× tokio multi_thread's
    /// rate, pinned ones at 0.82×; `weft-bench/RESULTS.md`, 2026-12-04 15:50.)
    ///
    /// ```
    /// let runtime = weft::Builder::new().loops(2).pin_loops(false).build().unwrap();
    /// assert_eq!(runtime.handle().loops().len(), 2);
    /// ```
    pub fn pin_loops(&mut self, pin: bool) -> &mut Builder {
        self.pin_loops = Some(pin);
        self
    }

    /// Whether an idle loop may take tasks that wait to start on a busy one (default `false`: a task runs where
    /// it was placed). With several loops and `steal(true)`, a task spawned with
    /// [`Handle::spawn`](crate::Handle::spawn) waits in a queue of the loop it was spawned on (from outside the
    /// runtime: of the least busy loop) until it is first polled; a loop with nothing to do, before it parks,
    /// takes half of another loop's waiting tasks (up to 32), and a busy loop wakes a parked one when it has
    /// tasks waiting. A task moves only before its first poll: after that it has wakers, timers and sockets on
    /// its loop and stays there. Tasks of [`weft::spawn`](crate::spawn) (which need not be `Send`) and of
    /// [`Handle::spawn_on`](crate::Handle::spawn_on) never move. The x-ray shows a task on the loop that runs
    /// it. With one loop, or with `steal(false)`, nothing changes: the same-loop path gains no lock and no atomic.
    ///
    /// ```
    /// let runtime = weft::Builder::new().loops(2).pin_loops(false).steal(true).build().unwrap();
    /// let handle = runtime.handle();
    /// let ran_on = runtime.block_on(async move {
    ///     // Tasks that all arrive on loop 0 and keep it busy: the idle loop 1 takes some.
    ///     let tasks: Vec<_> = (0..64)
    ///         .map(|_| {
    ///             handle.spawn(async {
    ///                 std::thread::sleep(std::time::Duration::from_millis(1));
    ///                 weft::current_loop()
    ///             })
    ///         })
    ///         .collect();
    ///     weft::join_all(tasks).await
    /// });
    /// assert_eq!(ran_on.len(), 64);
    /// ```
    pub fn steal(&mut self, steal: bool) -> &mut Builder {
        self.steal = steal;
        self
    }

    /// The number of loops to build.
    pub(crate) fn loop_count(&self) -> io::Result<usize> {
        match self.loops {
            0 => Ok(crate::sys::cpu::allowed_cpus()?.len()),
            n => Ok(n),
        }
    }

    /// The I/O driver the loop parks in (default [`Driver::Auto`]: io_uring where the kernel allows it, else
    /// epoll; `WEFT_DRIVER=epoll|io_uring|auto` in the environment overrides `Auto`).
    /// [`Runtime::driver`](super::Runtime::driver) says which one runs.
    ///
    /// ```
    /// use weft::runtime::Driver;
    ///
    /// let runtime = weft::Builder::new().driver(Driver::Epoll).build().unwrap();
    /// assert_eq!(runtime.driver(), Driver::Epoll);
    ///
    /// // Explicit io_uring either runs or fails to build, with the reason: it never falls back.
    /// match weft::Builder::new().driver(Driver::IoUring).build() {
    ///     Ok(runtime) => assert_eq!(runtime.driver(), Driver::IoUring),
    ///     Err(error) => assert!(error.to_string().contains("io_uring")),
    /// }
    /// ```
    pub fn driver(&mut self, driver: Driver) -> &mut Builder {
        self.driver = driver;
        self
    }

    /// Builds the runtime. A builder can build any number of runtimes, each with its own loop.
    ///
    /// ```
    /// let builder = weft::Builder::new();
    /// let first = builder.build().unwrap();
    /// let second = builder.build().unwrap();
    /// assert_eq!(first.block_on(async { "one" }), "one");
    /// assert_eq!(second.block_on(async { "two" }), "two");
    /// ```
    ///
    /// # Errors
    /// If the OS refuses the driver's instance or the eventfd (for example at the descriptor limit); if
    /// [`Driver::IoUring`] was asked for explicitly and io_uring is unavailable; or if `WEFT_DRIVER` names no
    /// driver.
    pub fn build(&self) -> io::Result<Runtime> {
        Runtime::from_builder(self)
    }

    /// The probe settings, for the observer's own builder methods.
    pub(crate) fn probe_settings(&mut self) -> &mut Box<dyn ProbeSettings> {
        &mut self.probe
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("start_paused", &self.start_paused)
            .field("unhandled_panic", &self.unhandled_panic)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("thread_keep_alive", &self.blocking_keep_alive)
            .field("probe", &self.probe)
            .field("loops", &self.loops)
            .field("pin_loops", &self.pin_loops)
            .field("steal", &self.steal)
            .field("driver", &self.driver)
            .finish()
    }
}
