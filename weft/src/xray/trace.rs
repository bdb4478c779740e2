//! The trace: a timeline of the loop in Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
//! chrome://tracing open.
//!
//! When a trace path is set ([`Builder::trace_path`](crate::Builder::trace_path) or `WEFT_TRACE=path`), the loop
//! records one complete (`"ph":"X"`) slice per task poll, named after the task, plus slices for parking in the OS,
//! for firing timers and for dispatching I/O events, and a flow arrow from each wake to the poll it causes. A
//! poll's slice says where the task was spawned, where it parked when the poll returned (its bookmark, if it left
//! one) and whether slow-poll detection called it slow; `weft-xray view` draws all of it as a page.
//!
//! Each loop's trace is a thread of its own (`tid`: the loop's number among the loops traced in this process,
//! from 1; named "weft loop N" after its index in its runtime) and its times count from the moment the process's
//! first trace began, so the traces of several loops line up when viewed together. A runtime with
//! [several loops](crate::Builder::loops) writes them all to its one file: each loop records on its own thread
//! and, when it writes, hands its rendered track to the runtime's [`TraceFile`], which writes every loop's latest
//! track. Events go
//! to a ring of bounded size (the newest are kept); the file is written when the runtime is dropped and on
//! [`flush_trace`]. With no trace path, recording costs one branch per poll.
//!
//! References: "Trace Event Format" (the Chrome tracing JSON format: complete events, flow events `s`/`f`).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::panic::Location;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use super::probe::XrayProbe;
use crate::cell::{stats, Id};
use crate::runtime::{context, LoopId, LoopWork};

/// Events kept by default (48 bytes each: 12 MiB).
pub(crate) const DEFAULT_CAPACITY: usize = 1 << 18;

/// Loops traced so far in this process: the next trace's number (its `tid`) is one more.
static LOOPS_TRACED: AtomicU64 = AtomicU64::new(0);

/// When the process's first trace began: time zero of every trace it writes.
static PROCESS_EPOCH: OnceLock<Instant> = OnceLock::new();

/// The slice's name for loop work.
fn work_name(work: LoopWork) -> &'static str {
    match work {
        LoopWork::Park => "park",
        LoopWork::Timers => "timers",
        LoopWork::Io => "io",
    }
}

/// One recorded event; times in ns since the trace began. Kept small: the ring holds many.
#[derive(Debug, Clone, Copy)]
enum Event {
    /// A task poll, which also ends the flow arrow from the wake that scheduled it (flow id = task id).
    Poll {
        /// The task.
        task: Id,
        /// Where it was spawned.
        spawned_at: &'static Location<'static>,
        /// Where it parked when the poll returned: the bookmark it left, packed (0: none).
        parked_at: u64,
        /// Whether slow-poll detection called the poll slow.
        slow: bool,
        /// Start.
        start: u64,
        /// End.
        end: u64,
    },
    /// Loop work that is not a task.
    Loop {
        /// What.
        what: LoopWork,
        /// Timers fired or events dispatched (saturating).
        count: u32,
        /// Start.
        start: u64,
        /// End.
        end: u64,
    },
    /// A wake: starts a flow arrow to the woken task's next poll (flow id = task id).
    Wake {
        /// The woken task.
        task: Id,
        /// When.
        at: u64,
    },
}

/// Where the trace's time stamps come from.
#[derive(Debug, Clone, Copy)]
enum Stamps {
    /// CPU ticks since `tick0`, turned into ns at write time against the monotonic clock.
    Tsc {
        /// The counter at time zero.
        tick0: u64,
    },
    /// Nanoseconds from the monotonic clock.
    Monotonic,
}

/// The file every loop of one runtime writes its track to, and the time axis they share.
#[derive(Debug)]
pub(crate) struct TraceFile {
    /// Where to write it.
    path: PathBuf,
    /// Time zero of the stamps.
    epoch: Instant,
    /// How long after the process's first trace this one began (ns): added to every time written.
    offset: u64,
    /// The clock of the stamps.
    stamps: Stamps,
    /// Each loop's latest rendered track (JSON lines, each starting with a comma), by loop index, with its `tid`.
    tracks: Mutex<BTreeMap<usize, (u64, String)>>,
}

impl TraceFile {
    /// A trace file to be written to `path`; its time zero is now.
    pub(crate) fn new(path: PathBuf) -> Arc<TraceFile> {
        let stamps = if crate::sys::tsc::is_reliable() {
            Stamps::Tsc {
                tick0: crate::sys::tsc::read(),
            }
        } else {
            Stamps::Monotonic
        };
        let epoch = Instant::now();
        let process_epoch = *PROCESS_EPOCH.get_or_init(|| epoch);
        Arc::new(TraceFile {
            path,
            epoch,
            offset: u64::try_from(epoch.duration_since(process_epoch).as_nanos())
                .unwrap_or(u64::MAX),
            stamps,
            tracks: Mutex::new(BTreeMap::new()),
        })
    }

    /// Nanoseconds per stamp unit, measured now against the monotonic clock.
    fn ns_per_stamp(&self) -> f64 {
        match self.stamps {
            Stamps::Monotonic => 1.0,
            Stamps::Tsc { tick0 } => {
                let ticks = crate::sys::tsc::read().wrapping_sub(tick0);
                let nanos = self.epoch.elapsed().as_nanos() as f64;
                if ticks == 0 {
                    1.0
                } else {
                    nanos / ticks as f64
                }
            }
        }
    }

    /// Replaces loop `index`'s track (thread `tid`) and writes the file with every loop's latest track.
    fn write_track(&self, index: usize, tid: u64, track: String) -> io::Result<()> {
        let mut tracks = crate::loom::lock_std(&self.tracks);
        tracks.insert(index, (tid, track));
        let mut out = io::BufWriter::new(std::fs::File::create(&self.path)?);
        let pid = std::process::id();
        writeln!(out, "{{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")?;
        for (position, (index, (tid, _))) in tracks.iter().enumerate() {
            let comma = if position == 0 { "" } else { "," };
            writeln!(
                out,
                "{comma}{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":\"weft loop {index}\"}}}}"
            )?;
        }
        for (_, track) in tracks.values() {
            out.write_all(track.as_bytes())?;
        }
        writeln!(out, "]}}")?;
        out.flush()
    }
}

/// The trace of one loop (touched only on its thread).
///
/// Recording is cheap: one time stamp per poll — a poll starts where the previous recorded event ended, since the
/// loop runs polls back to back — taken from the CPU's time-stamp counter where it is reliable, and a push onto a
/// ring; a wake costs a push and no clock read. A poll also keeps the bookmark it left, one thread-local word.
#[derive(Debug)]
pub(crate) struct Trace {
    /// The runtime's file, its time zero and clock.
    file: Arc<TraceFile>,
    /// The loop's index in its runtime.
    loop_index: usize,
    /// The loop's number among the loops traced in this process (from 1): the events' `tid`.
    loop_number: u64,
    /// The end of the latest recorded event (stamps since the file's epoch).
    last: Cell<u64>,
    /// The newest events.
    events: RefCell<VecDeque<Event>>,
    /// Ring size.
    capacity: usize,
    /// Names of the named tasks seen, for the slices' titles.
    names: RefCell<HashMap<Id, Arc<str>>>,
}

impl Trace {
    /// The trace of loop `loop_id`, a track of `file`, keeping at most `capacity` events.
    pub(crate) fn new(file: Arc<TraceFile>, loop_id: LoopId, capacity: usize) -> Trace {
        Trace {
            file,
            loop_index: loop_id.index(),
            loop_number: LOOPS_TRACED.fetch_add(1, Ordering::Relaxed) + 1,
            last: Cell::new(0),
            events: RefCell::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity: capacity.max(1),
            names: RefCell::new(HashMap::new()),
        }
    }

    /// Takes a time stamp (since the trace began, in the trace's own units), remembered as the latest.
    pub(crate) fn now(&self) -> u64 {
        let now = match self.file.stamps {
            Stamps::Tsc { tick0 } => crate::sys::tsc::read().wrapping_sub(tick0),
            Stamps::Monotonic => {
                u64::try_from(self.file.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
            }
        };
        self.last.set(now);
        now
    }

    /// The latest time read (no clock read).
    pub(crate) fn last(&self) -> u64 {
        self.last.get()
    }

    /// Appends an event, dropping the oldest if the ring is full.
    fn push(&self, event: Event) {
        let mut events = self.events.borrow_mut();
        if events.len() == self.capacity {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// A task was polled from the end of the previous event until now (`slow` if slow-poll detection said so).
    pub(crate) fn poll(
        &self,
        task: Id,
        name: Option<&Arc<str>>,
        spawned_at: &'static Location<'static>,
        slow: bool,
    ) {
        let start = self.last.get();
        let end = self.now();
        if let Some(name) = name {
            self.names
                .borrow_mut()
                .entry(task)
                .or_insert_with(|| name.clone());
        }
        self.push(Event::Poll {
            task,
            spawned_at,
            parked_at: stats::left_packed(),
            slow,
            start,
            end,
        });
    }

    /// Loop work from `start` until now, with a count.
    pub(crate) fn loop_work(&self, what: LoopWork, start: u64, count: u64) {
        let end = self.now();
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        self.push(Event::Loop {
            what,
            count,
            start,
            end,
        });
    }

    /// `task` was woken (at the latest time read: the poll or loop work that woke it).
    pub(crate) fn wake(&self, task: Id) {
        self.push(Event::Wake {
            task,
            at: self.last.get(),
        });
    }

    /// Writes the trace file (the events so far, with the other loops' latest tracks; the trace keeps recording).
    pub(crate) fn write(&self) -> io::Result<()> {
        let track = render_track(
            &self.events.borrow(),
            &self.names.borrow(),
            Clock {
                ns_per_stamp: self.file.ns_per_stamp(),
                offset: self.file.offset,
            },
            self.loop_number,
        );
        self.file
            .write_track(self.loop_index, self.loop_number, track)
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

/// How a trace's stamps become the file's times.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// Nanoseconds per stamp.
    ns_per_stamp: f64,
    /// Nanoseconds added to every time (the trace's start after the process's first trace).
    offset: u64,
}

/// Renders one loop's `events` as Chrome trace-event JSON lines of thread `tid` of this process, each line
/// starting with a comma (the file begins with the tracks' names).
fn render_track(
    events: &VecDeque<Event>,
    names: &HashMap<Id, Arc<str>>,
    clock: Clock,
    tid: u64,
) -> String {
    let time = |stamp: u64| (stamp as f64 * clock.ns_per_stamp) as u64;
    let when = |stamp: u64| micros(clock.offset.saturating_add(time(stamp)));
    let span = |start: u64, end: u64| micros(time(end).saturating_sub(time(start)));
    let mut out = String::with_capacity(events.len() * 160);
    let pid = std::process::id();
    for event in events {
        // Writing to a String cannot fail.
        let _ = match *event {
            Event::Poll {
                task,
                spawned_at,
                parked_at,
                slow,
                start,
                end,
            } => {
                let label = match names.get(&task) {
                    Some(name) => format!("{name} (task {task})"),
                    None => format!("task {task}"),
                };
                let _ = writeln!(
                    out,
                    ",{{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"f\",\"bp\":\"e\",\"id\":{task},\"ts\":{},\"pid\":{pid},\"tid\":{tid}}}",
                    when(start)
                );
                let mut args = format!(
                    "\"task\":{task},\"spawned_at\":{}",
                    json_string(&spawned_at.to_string())
                );
                if let Some((location, waits_on)) = stats::unpack_bookmark(parked_at) {
                    let _ = write!(
                        args,
                        ",\"parked_at\":{},\"parked_on\":{}",
                        json_string(&location.to_string()),
                        json_string(&waits_on.text())
                    );
                }
                if slow {
                    args.push_str(",\"slow\":true");
                }
                writeln!(
                    out,
                    ",{{\"name\":{},\"cat\":\"poll\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{pid},\"tid\":{tid},\"args\":{{{args}}}}}",
                    json_string(&label),
                    when(start),
                    span(start, end),
                )
            }
            Event::Loop { what, count, start, end } => writeln!(
                out,
                ",{{\"name\":\"{}\",\"cat\":\"loop\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{pid},\"tid\":{tid},\"args\":{{\"count\":{count}}}}}",
                work_name(what),
                when(start),
                span(start, end)
            ),
            Event::Wake { task, at } => writeln!(
                out,
                ",{{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"s\",\"id\":{task},\"ts\":{},\"pid\":{pid},\"tid\":{tid},\"args\":{{\"task\":{task}}}}}",
                when(at)
            ),
        };
    }
    out
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
    context::with_core(|core| {
        let probe = core.and_then(|core| core.probe());
        match probe
            .and_then(|probe| probe.as_any().downcast_ref::<XrayProbe>())
            .and_then(XrayProbe::trace)
        {
            Some(trace) => trace.write(),
            None => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::Event;

    #[test]
    fn an_event_takes_48_bytes() {
        // DEFAULT_CAPACITY's memory and the Builder's docs count on it.
        assert_eq!(std::mem::size_of::<Event>(), 48);
    }
}
