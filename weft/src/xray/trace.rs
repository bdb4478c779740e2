//! The trace: a timeline of the loop in Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
//! chrome://tracing open.
//!
//! When a trace path is set ([`Builder::trace_path`](crate::Builder::trace_path) or `WEFT_TRACE=path`), the loop
//! records one complete (`"ph":"X"`) slice per task poll, named after the task, plus slices for parking in the OS,
//! for firing timers and for dispatching I/O events, and a flow arrow from each wake to the poll it causes. Events go
//! to a ring of bounded size (the newest are kept); the file is written when the runtime is dropped and on
//! [`flush_trace`]. With no trace path, recording costs one branch per poll.
//!
//! References: "Trace Event Format" (the Chrome tracing JSON format: complete events, flow events `s`/`f`).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::runtime::context;
use crate::task::Id;

/// Events kept by default (about 40 bytes each).
pub(crate) const DEFAULT_CAPACITY: usize = 1 << 18;

/// One recorded event; times in ns since the trace began.
#[derive(Debug, Clone)]
enum Event {
    /// A task poll.
    Poll {
        /// The task.
        task: Id,
        /// Its name, if any.
        name: Option<Arc<str>>,
        /// Where it was spawned.
        spawned_at: &'static Location<'static>,
        /// Start.
        start: u64,
        /// Duration.
        duration: u64,
        /// The flow that led to this poll (a wake), if recorded.
        flow: Option<u64>,
    },
    /// Loop work that is not a task: parking, timers, I/O dispatch.
    Loop {
        /// "park", "timers", "io".
        what: &'static str,
        /// Start.
        start: u64,
        /// Duration.
        duration: u64,
        /// Timers fired or events dispatched.
        count: u64,
    },
    /// A wake: the start of a flow arrow to the woken task's next poll.
    Wake {
        /// The flow's id.
        flow: u64,
        /// When.
        at: u64,
        /// The woken task.
        task: Id,
    },
}

/// The trace of one loop (touched only on its thread).
#[derive(Debug)]
pub(crate) struct Trace {
    /// Where to write it.
    path: PathBuf,
    /// Time zero.
    epoch: Instant,
    /// The newest events.
    events: RefCell<VecDeque<Event>>,
    /// Ring size.
    capacity: usize,
    /// The next flow id.
    next_flow: Cell<u64>,
    /// Flows waiting for their task's next poll.
    pending_flows: RefCell<HashMap<Id, u64>>,
}

impl Trace {
    /// A trace to be written to `path`, keeping at most `capacity` events.
    pub(crate) fn new(path: PathBuf, capacity: usize) -> Trace {
        Trace {
            path,
            epoch: Instant::now(),
            events: RefCell::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity: capacity.max(1),
            next_flow: Cell::new(1),
            pending_flows: RefCell::new(HashMap::new()),
        }
    }

    /// Nanoseconds since the trace began.
    pub(crate) fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Appends an event, dropping the oldest if the ring is full.
    fn push(&self, event: Event) {
        let mut events = self.events.borrow_mut();
        if events.len() == self.capacity {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// A task was polled from `start` to now.
    pub(crate) fn poll(
        &self,
        task: Id,
        name: Option<Arc<str>>,
        spawned_at: &'static Location<'static>,
        start: u64,
    ) {
        let duration = self.now().saturating_sub(start);
        let flow = self.pending_flows.borrow_mut().remove(&task);
        self.push(Event::Poll {
            task,
            name,
            spawned_at,
            start,
            duration,
            flow,
        });
    }

    /// Loop work (`what`: "park", "timers", "io") from `start` to now, with a count.
    pub(crate) fn loop_work(&self, what: &'static str, start: u64, count: u64) {
        let duration = self.now().saturating_sub(start);
        self.push(Event::Loop {
            what,
            start,
            duration,
            count,
        });
    }

    /// `task` was woken now (the first wake before its next poll starts the arrow).
    pub(crate) fn wake(&self, task: Id) {
        let mut pending = self.pending_flows.borrow_mut();
        if pending.contains_key(&task) {
            return;
        }
        let flow = self.next_flow.get();
        self.next_flow.set(flow + 1);
        pending.insert(task, flow);
        drop(pending);
        self.push(Event::Wake {
            flow,
            at: self.now(),
            task,
        });
    }

    /// Writes the trace file (the events so far; the trace keeps recording).
    pub(crate) fn write(&self) -> io::Result<()> {
        write_file(&self.path, &self.events.borrow())
    }
}

/// Microseconds with nanosecond precision, as the format wants.
fn micros(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes `events` as a Chrome trace JSON document.
fn write_file(path: &Path, events: &VecDeque<Event>) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    let pid = std::process::id();
    writeln!(out, "{{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")?;
    writeln!(
        out,
        "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":1,\"args\":{{\"name\":\"weft loop\"}}}}"
    )?;
    for event in events {
        match event {
            Event::Poll { task, name, spawned_at, start, duration, flow } => {
                let label = match name {
                    Some(name) => format!("{name} (task {task})"),
                    None => format!("task {task}"),
                };
                if let Some(flow) = flow {
                    writeln!(
                        out,
                        ",{{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"f\",\"bp\":\"e\",\"id\":{flow},\"ts\":{},\"pid\":{pid},\"tid\":1}}",
                        micros(*start)
                    )?;
                }
                writeln!(
                    out,
                    ",{{\"name\":{},\"cat\":\"poll\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{pid},\"tid\":1,\"args\":{{\"task\":{task},\"spawned_at\":{}}}}}",
                    json_string(&label),
                    micros(*start),
                    micros(*duration),
                    json_string(&spawned_at.to_string())
                )?;
            }
            Event::Loop { what, start, duration, count } => writeln!(
                out,
                ",{{\"name\":\"{what}\",\"cat\":\"loop\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{pid},\"tid\":1,\"args\":{{\"count\":{count}}}}}",
                micros(*start),
                micros(*duration)
            )?,
            Event::Wake { flow, at, task } => writeln!(
                out,
                ",{{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"s\",\"id\":{flow},\"ts\":{},\"pid\":{pid},\"tid\":1,\"args\":{{\"task\":{task}}}}}",
                micros(*at)
            )?,
        }
    }
    writeln!(out, "]}}")?;
    out.flush()
}

/// Writes the current runtime's trace file now (it is also written when the runtime is dropped). Does nothing
/// outside a runtime or when tracing is off.
///
/// ```
/// let path = std::env::temp_dir().join(format!("weft-flush-{}.json", std::process::id()));
/// let runtime = weft::Builder::new().trace_path(&path).build().unwrap();
/// runtime.block_on(async {
///     weft::spawn(async {}).await.unwrap();
///     weft::xray::flush_trace().unwrap();
/// });
/// let text = std::fs::read_to_string(&path).unwrap();
/// assert!(text.contains("\"cat\":\"poll\""));
/// # drop(runtime);
/// # std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
/// If the file cannot be written.
pub fn flush_trace() -> io::Result<()> {
    context::with_core(|core| match core.and_then(|core| core.trace()) {
        Some(trace) => trace.write(),
        None => Ok(()),
    })
}
