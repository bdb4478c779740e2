//! [`Builder`]: how a runtime is configured.

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Runtime;
use crate::xray::{SlowPoll, SlowPollConfig, DEFAULT_TRACE_CAPACITY};

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
    /// Slow-poll detection.
    pub(crate) slow_polls: SlowPollConfig,
    /// Where to write the trace, if anywhere.
    pub(crate) trace_path: Option<PathBuf>,
    /// How many trace events to keep.
    pub(crate) trace_capacity: usize,
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
            slow_polls: SlowPollConfig::from_env(),
            trace_path: std::env::var_os("WEFT_TRACE")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from),
            trace_capacity: DEFAULT_TRACE_CAPACITY,
        }
    }

    /// With `true`, the runtime starts with a **virtual clock**: time stands still while any task is ready,
    /// and jumps straight to the next timer deadline whenever every task is waiting — but never while
    /// [`spawn_blocking`](crate::spawn_blocking) work is in flight. Tests of timeouts run in microseconds and
    /// give the same answer every time.
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

    /// Reports every poll that blocks the loop for longer than `threshold` — when it returns, and, from a
    /// watchdog thread, while it is still running (so a loop stuck in CPU work is named while it is stuck).
    /// `None` turns detection off. The default is 100 ms in debug builds and off in release builds, unless the
    /// environment sets `WEFT_SLOW_POLL` (`100ms`, `1s`, `250us`, `off`). While on, each poll costs two clock
    /// reads and two uncontended locks, and the runtime has one more thread.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = weft::Builder::new()
    ///     .slow_poll_threshold(Some(Duration::from_millis(50)))
    ///     .build()
    ///     .unwrap();
    /// runtime.block_on(async {
    ///     // Reported on stderr: "weft: slow poll: task 1 (spawned at ...) blocked the loop for 80.1 ms".
    ///     weft::spawn(async { std::thread::sleep(Duration::from_millis(80)) }).await.unwrap();
    /// });
    /// assert_eq!(runtime.handle().metrics().slow_polls, 1);
    /// ```
    pub fn slow_poll_threshold(&mut self, threshold: Option<Duration>) -> &mut Builder {
        self.slow_polls.threshold = threshold;
        self
    }

    /// Where slow polls go (default: one line on stderr). Called on the loop's thread after a slow poll
    /// returns, and on the watchdog's thread while one is still running.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let reports = Arc::new(AtomicUsize::new(0));
    /// let counted = reports.clone();
    /// let runtime = weft::Builder::new()
    ///     .slow_poll_threshold(Some(Duration::from_millis(30)))
    ///     .on_slow_poll(move |slow| {
    ///         if !slow.still_running {
    ///             counted.fetch_add(1, Ordering::SeqCst);
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// runtime.block_on(async {
    ///     weft::spawn(async { std::thread::sleep(Duration::from_millis(50)) }).await.unwrap();
    /// });
    /// assert_eq!(reports.load(Ordering::SeqCst), 1);
    /// ```
    pub fn on_slow_poll(
        &mut self,
        handler: impl Fn(&SlowPoll) + Send + Sync + 'static,
    ) -> &mut Builder {
        self.slow_polls.handler = Arc::new(handler);
        self
    }

    /// Records a timeline of the loop and writes it to `path` as Chrome trace-event JSON (open it in Perfetto,
    /// ui.perfetto.dev, or chrome://tracing) when the runtime is dropped and on
    /// [`xray::flush_trace`](crate::xray::flush_trace): one slice per task poll named after the task, slices for
    /// parking, timers and I/O, and flow arrows from each wake to the poll it causes. Also set by
    /// `WEFT_TRACE=path`. Memory is bounded: the newest [`trace_capacity`](Builder::trace_capacity) events are
    /// kept.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("weft-trace-doc-{}.json", std::process::id()));
    /// let runtime = weft::Builder::new().trace_path(&path).build().unwrap();
    /// runtime.block_on(async {
    ///     weft::task::Builder::new().name("traced").spawn(async {}).await.unwrap();
    /// });
    /// drop(runtime); // writes the file
    /// let trace = std::fs::read_to_string(&path).unwrap();
    /// assert!(trace.contains("traced (task"));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn trace_path(&mut self, path: impl Into<PathBuf>) -> &mut Builder {
        self.trace_path = Some(path.into());
        self
    }

    /// How many trace events to keep (the newest; default 262,144, about 10 MiB).
    ///
    /// ```
    /// let runtime = weft::Builder::new().trace_capacity(10_000).build().unwrap();
    /// # drop(runtime);
    /// ```
    pub fn trace_capacity(&mut self, events: usize) -> &mut Builder {
        self.trace_capacity = events.max(1);
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
    /// If the OS refuses the epoll instance or the eventfd (for example at the descriptor limit).
    pub fn build(&self) -> io::Result<Runtime> {
        Runtime::from_builder(self)
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
            .field("slow_poll_threshold", &self.slow_polls.threshold)
            .field("trace_path", &self.trace_path)
            .finish()
    }
}
