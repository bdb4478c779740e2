//! The x-ray's probe in the loop: slow-poll detection and the trace, behind the runtime's [`Probe`] seam, and
//! the [`Builder`] methods that turn them on.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::slow_poll::{PollWatch, SlowPollConfig, SlowPollHandler, Watchdog};
use super::trace::{Trace, TraceFile, DEFAULT_CAPACITY};
use super::{Bookmark, SlowPoll};
use crate::cell::Id;
use crate::runtime::{Builder, LoopId, LoopWork, PollInfo, Probe, ProbeSettings};

/// What the x-ray observes in a runtime's loops.
#[derive(Clone)]
pub(crate) struct XraySettings {
    /// Slow-poll detection.
    slow_polls: SlowPollConfig,
    /// Where the trace goes, if traced.
    trace_path: Option<PathBuf>,
    /// Events the trace keeps.
    trace_capacity: usize,
    /// The file every loop of one runtime writes its track to (set by `for_runtime`).
    trace_file: Option<Arc<TraceFile>>,
}

impl XraySettings {
    /// The defaults, as the environment says (`WEFT_SLOW_POLL`, `WEFT_TRACE`).
    pub(crate) fn from_env() -> XraySettings {
        XraySettings {
            slow_polls: SlowPollConfig::from_env(),
            trace_path: std::env::var_os("WEFT_TRACE")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from),
            trace_capacity: DEFAULT_CAPACITY,
            trace_file: None,
        }
    }

    /// The x-ray settings of `builder`, made from the environment if it has none yet.
    fn of(builder: &mut Builder) -> &mut XraySettings {
        let settings = builder.probe_settings();
        if settings
            .as_any_mut()
            .downcast_mut::<XraySettings>()
            .is_none()
        {
            *settings = Box::new(XraySettings::from_env());
        }
        settings
            .as_any_mut()
            .downcast_mut::<XraySettings>()
            .expect("just made")
    }
}

impl std::fmt::Debug for XraySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XraySettings")
            .field("slow_poll_threshold", &self.slow_polls.threshold)
            .field("trace_path", &self.trace_path)
            .finish()
    }
}

impl ProbeSettings for XraySettings {
    fn start(&self, loop_id: LoopId) -> Option<(Box<dyn Probe>, Arc<dyn Any + Send + Sync>)> {
        if self.slow_polls.threshold.is_none() && self.trace_path.is_none() {
            return None;
        }
        let watch = Arc::new(PollWatch::new(loop_id));
        let probe = XrayProbe {
            slow_polls: self.slow_polls.threshold.map(|threshold| SlowPolls {
                threshold,
                _watchdog: Watchdog::start(
                    watch.clone(),
                    threshold,
                    self.slow_polls.handler.clone(),
                ),
                handler: self.slow_polls.handler.clone(),
                watch: watch.clone(),
            }),
            trace: self
                .trace_file
                .clone()
                .or_else(|| self.trace_path.clone().map(TraceFile::new))
                .map(|file| Trace::new(file, loop_id, self.trace_capacity)),
            busy: RefCell::new(HashMap::new()),
        };
        Some((Box::new(probe), watch))
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn clone_box(&self) -> Box<dyn ProbeSettings> {
        Box::new(self.clone())
    }

    fn for_runtime(&self) -> Box<dyn ProbeSettings> {
        let mut settings = self.clone();
        settings.trace_file = self.trace_path.clone().map(TraceFile::new);
        Box::new(settings)
    }
}

/// Slow-poll detection of one loop.
struct SlowPolls {
    /// Report polls longer than this.
    threshold: Duration,
    /// Where reports go.
    handler: SlowPollHandler,
    /// The poll in progress, for the watchdog.
    watch: Arc<PollWatch>,
    /// Reports polls still running past the threshold; stopped and joined when the loop is dropped.
    _watchdog: Watchdog,
}

/// The x-ray's probe in one loop.
pub(crate) struct XrayProbe {
    /// Slow-poll detection, when on.
    slow_polls: Option<SlowPolls>,
    /// The trace, when on.
    trace: Option<Trace>,
    /// Time spent in the polls of each live task, while polls are timed (slow-poll detection on).
    busy: RefCell<HashMap<Id, Duration>>,
}

impl XrayProbe {
    /// The loop's trace, when tracing is on.
    pub(crate) fn trace(&self) -> Option<&Trace> {
        self.trace.as_ref()
    }

    /// Time spent so far in the polls of task `id` (zero unless polls are timed).
    pub(crate) fn busy_of(&self, id: Id) -> Duration {
        self.busy.borrow().get(&id).copied().unwrap_or_default()
    }
}

impl Probe for XrayProbe {
    fn turn(&self) {
        if let Some(trace) = &self.trace {
            trace.now(); // polls are timed from here on (the main future's poll is not a task's)
        }
    }

    fn woke(&self, id: Id) {
        if let Some(trace) = &self.trace {
            trace.wake(id);
        }
    }

    /// Publishes the poll for the slow-poll watchdog and reports it if it ran past the threshold; records it in
    /// the trace. Slow-poll detection times every poll (two clock reads), which also gives the task's busy
    /// time; the trace alone keeps to its one cheap stamp per poll.
    fn observe_poll(
        &self,
        task: &PollInfo,
        started: &dyn Fn(Instant),
        poll: &mut dyn FnMut() -> bool,
    ) -> bool {
        let watched = self.slow_polls.as_ref().map(|slow_polls| {
            let start = Instant::now();
            started(start);
            slow_polls.watch.begin(
                start,
                task.id,
                task.spawned_at,
                task.name.clone(),
                task.resumed_from,
            );
            (slow_polls, start)
        });
        let stale = poll();
        let mut slow = false;
        if let Some((slow_polls, start)) = watched {
            slow_polls.watch.end();
            let duration = start.elapsed();
            if !stale {
                *self.busy.borrow_mut().entry(task.id).or_default() += duration;
            }
            if duration >= slow_polls.threshold && !stale {
                slow = true;
                let report = SlowPoll::new(
                    slow_polls.watch.loop_id(),
                    task.id,
                    task.name.as_deref().map(str::to_owned),
                    task.spawned_at,
                    task.resumed_from
                        .map(|(location, label)| Bookmark::new(location, label)),
                    duration,
                    false,
                );
                (slow_polls.handler)(&report);
            }
        }
        if let (Some(trace), false) = (&self.trace, stale) {
            trace.poll(task.id, task.name.as_ref(), task.spawned_at, slow);
        }
        slow
    }

    fn work_start(&self, fresh: bool) -> u64 {
        match &self.trace {
            Some(trace) if fresh => trace.now(),
            Some(trace) => trace.last(),
            None => 0,
        }
    }

    fn work_done(&self, kind: LoopWork, start: u64, count: u64) {
        if let Some(trace) = &self.trace {
            trace.loop_work(kind, start, count);
        }
    }

    fn retired(&self, id: Id) {
        if self.slow_polls.is_some() {
            self.busy.borrow_mut().remove(&id);
        }
    }

    fn shutdown(&self) {
        if let Some(trace) = &self.trace {
            if let Err(error) = trace.write() {
                eprintln!("weft: could not write the trace: {error}");
            }
        }
    }

    fn times_polls(&self) -> bool {
        self.slow_polls.is_some()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The x-ray's settings on the runtime's builder.
impl Builder {
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
        XraySettings::of(self).slow_polls.threshold = threshold;
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
        XraySettings::of(self).slow_polls.handler = Arc::new(handler);
        self
    }
    /// Records a timeline of the loop and writes it to `path` as Chrome trace-event JSON (draw it as a page with
    /// `weft-xray view path -o page.html`, or open it in Perfetto, ui.perfetto.dev, or chrome://tracing) when the
    /// runtime is dropped and on [`xray::flush_trace`](crate::xray::flush_trace): one slice per task poll named
    /// after the task, with where the task parked, slices for parking, timers and I/O, and flow arrows from each
    /// wake to the poll it causes. Also set by
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
        XraySettings::of(self).trace_path = Some(path.into());
        self
    }
    /// How many trace events to keep (the newest; default 262,144, about 12 MiB).
    ///
    /// ```
    /// let runtime = weft::Builder::new().trace_capacity(10_000).build().unwrap();
    /// # drop(runtime);
    /// ```
    pub fn trace_capacity(&mut self, events: usize) -> &mut Builder {
        XraySettings::of(self).trace_capacity = events.max(1);
        self
    }
}
