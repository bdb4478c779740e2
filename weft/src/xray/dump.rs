//! The task dump: every live task of a runtime's loops with its bookmark and statistics.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::probe::XrayProbe;
use super::slow_poll::PollWatch;
use super::Bookmark;
use crate::cell::{Id, Label, Op};
use crate::runtime::{context, Core, Handle, LoopId, Probe, Shared, Visit};

/// What a task is doing at the moment of the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// Woken and waiting in the run queue for its next poll.
    Ready,
    /// Being polled right now: the task that asked for the dump.
    Running,
    /// Waiting for its bookmark's event (a timer, a socket, a channel, another task...).
    Parked,
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            TaskState::Ready => "ready",
            TaskState::Running => "running",
            TaskState::Parked => "parked",
        })
    }
}

/// One live task in a [`Dump`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id.
    pub id: Id,
    /// The loop it lives on (see [`Builder::loops`](crate::Builder::loops)).
    pub loop_id: LoopId,
    /// Its name, if it was given one with [`task::Builder::name`](crate::cell::Builder::name).
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
    /// Ready, running or parked.
    pub state: TaskState,
    /// Where it is parked now: the weft leaf future its latest poll returned `Pending` from. `None` if it has
    /// not run yet, or parked in a future weft does not know (a future of another library that did not reach
    /// a weft operation).
    pub bookmark: Option<Bookmark>,
    /// Times it was polled.
    pub polls: u64,
    /// Time spent in its polls. Measured while the loop times its polls — while slow-poll detection is on (the
    /// default in debug builds; `WEFT_SLOW_POLL` turns it on in release); zero otherwise, and
    /// [`Dump::busy_measured`] says which.
    pub busy: Duration,
    /// Time since its latest poll started (zero if it has not run yet), to the millisecond — at the resolution
    /// of a loop turn unless the loop times its polls.
    pub idle_for: Duration,
    /// The task whose `.await` parks on this one: it is parked on this task's
    /// [`JoinHandle`](crate::JoinHandle), or, for a child of a `TaskGroup`, in
    /// the group's `join_next`/`join_all`. `None` for a task nobody awaits (a root of [`Dump::tree`]).
    ///
    /// Read from the waiter's bookmark, so it costs nothing to keep, and it is as fresh as the waiter's latest
    /// poll: the edge is gone once the waiter completes, or parks elsewhere after dropping the handle. A task
    /// parked on several handles at once (`join!`, `select!`) records the one it polled last.
    ///
    /// ```
    /// weft::run(async {
    ///     let inner = weft::spawn(std::future::pending::<()>());
    ///     let inner_id = inner.id();
    ///     let outer = weft::spawn(async move { inner.await });
    ///     weft::task::yield_now().await;
    ///     let dump = weft::xray::dump();
    ///     let row = dump.tasks().iter().find(|task| task.id == inner_id).unwrap();
    ///     assert_eq!(row.awaited_by, Some(outer.id()));
    ///     outer.abort();
    /// });
    /// ```
    pub awaited_by: Option<Id>,
}

/// Every live task of one runtime, longest-parked first; prints as an aligned table.
///
/// Get one with [`xray::dump`](crate::xray::dump) on the loop's thread or
/// [`Handle::dump`](crate::Handle::dump) from any thread. Tasks that finished or were aborted are not listed.
///
/// ```
/// use std::time::Duration;
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let (tx, mut rx) = weft::sync::mpsc::channel::<u32>(1);
///     weft::task::Builder::new().name("consumer").spawn(async move { rx.recv().await });
///     weft::spawn(async { weft::time::sleep(Duration::from_secs(5)).await });
///     weft::time::sleep(Duration::from_millis(10)).await; // both tasks reach their bookmarks
///
///     let dump = weft::xray::dump();
///     assert_eq!(dump.tasks().len(), 2);
///     let consumer = dump.tasks().iter().find(|t| t.name.as_deref() == Some("consumer")).unwrap();
///     assert_eq!(consumer.state, weft::xray::TaskState::Parked);
///     assert_eq!(consumer.bookmark.as_ref().unwrap().label, "mpsc::recv");
///     let table = dump.to_string();
///     assert!(table.contains("consumer") && table.contains("sleep 5.0s"));
///     drop(tx);
/// });
/// ```
#[derive(Debug, Clone)]
pub struct Dump {
    /// The tasks, longest-parked first.
    tasks: Vec<TaskInfo>,
    /// Whether busy times were measured.
    busy_measured: bool,
    /// How many loops were asked.
    loops: usize,
    /// The loops that did not answer, and why.
    unanswered: Vec<(LoopId, Unanswered)>,
    /// Tasks parked on another task's `JoinHandle`: (awaited task, waiter), for linking across loops on merge.
    joins: Vec<(u64, Id)>,
}

/// Why a dump has no tasks: the loop did not answer.
#[derive(Debug, Clone)]
pub(crate) enum Unanswered {
    /// The runtime has shut down.
    ShutDown,
    /// No thread is running the loop (nobody is in its `block_on`).
    NotRunning,
    /// The loop was stuck for the whole wait.
    Stuck {
        /// How long the dump waited.
        waited: Duration,
        /// The task whose poll is blocking the loop, if the loop is in a poll.
        blocking: Option<Blocking>,
    },
}

/// The task blocking a loop that did not answer a dump.
#[derive(Debug, Clone)]
pub(crate) struct Blocking {
    /// The task.
    pub(crate) id: Id,
    /// Its name.
    pub(crate) name: Option<String>,
    /// Where it was spawned.
    pub(crate) spawned_at: &'static Location<'static>,
    /// How long its poll has run, when the loop times its polls.
    pub(crate) running_for: Option<Duration>,
    /// The bookmark the poll resumed from, when known.
    pub(crate) resumed_from: Option<Bookmark>,
}

impl fmt::Display for Blocking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let task = crate::cell::TaskTitle(self.id, self.name.as_deref());
        write!(f, "{task} (spawned at {})", self.spawned_at)?;
        if let Some(running_for) = self.running_for {
            write!(f, ", running for {}", short(running_for))?;
        }
        if let Some(bookmark) = &self.resumed_from {
            write!(f, ", resumed from {bookmark}")?;
        }
        Ok(())
    }
}

impl Dump {
    /// A dump of one loop's `tasks`, sorted here.
    pub(crate) fn new(mut tasks: Vec<TaskInfo>, busy_measured: bool) -> Dump {
        tasks.sort_by(|a, b| b.idle_for.cmp(&a.idle_for).then(a.id.cmp(&b.id)));
        Dump {
            tasks,
            busy_measured,
            loops: 1,
            unanswered: Vec::new(),
            joins: Vec::new(),
        }
    }

    /// A dump loop `loop_id` did not answer.
    pub(crate) fn unanswered(loop_id: LoopId, why: Unanswered) -> Dump {
        Dump {
            tasks: Vec::new(),
            busy_measured: false,
            loops: 1,
            unanswered: vec![(loop_id, why)],
            joins: Vec::new(),
        }
    }

    /// The dumps of several loops as one.
    fn merge(parts: Vec<Dump>) -> Dump {
        let loops = parts.len();
        let mut answering = parts
            .iter()
            .filter(|part| part.unanswered.is_empty())
            .peekable();
        let busy_measured = answering.peek().is_some() && answering.all(|part| part.busy_measured);
        let mut merged = Dump::new(Vec::new(), busy_measured);
        merged.loops = loops;
        for part in parts {
            merged.tasks.extend(part.tasks);
            merged.unanswered.extend(part.unanswered);
            merged.joins.extend(part.joins);
        }
        // A task awaiting a task of another loop: each loop linked only its own tasks.
        let joins: HashMap<u64, Id> = merged.joins.iter().copied().collect();
        for task in merged
            .tasks
            .iter_mut()
            .filter(|task| task.awaited_by.is_none())
        {
            task.awaited_by = joins.get(&task.id.as_u64()).copied();
        }
        merged
            .tasks
            .sort_by(|a, b| b.idle_for.cmp(&a.idle_for).then(a.id.cmp(&b.id)));
        merged.unanswered.sort_by_key(|(loop_id, _)| *loop_id);
        merged
    }

    /// The loops that did not answer, and why.
    pub(crate) fn unanswered_loops(&self) -> &[(LoopId, Unanswered)] {
        &self.unanswered
    }

    /// The live tasks, longest-parked first.
    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }

    /// Whether the loop timed its polls, so that [`TaskInfo::busy`] holds real figures.
    ///
    /// ```
    /// let runtime = weft::Builder::new()
    ///     .slow_poll_threshold(Some(std::time::Duration::from_millis(100)))
    ///     .build()
    ///     .unwrap();
    /// runtime.block_on(async { assert!(weft::xray::dump().busy_measured()) });
    /// ```
    pub fn busy_measured(&self) -> bool {
        self.busy_measured
    }

    /// False if the loop did not answer (it was stuck in one poll for the whole wait, or has shut down); the
    /// dump then has no tasks and its text says why — naming the task that blocks the loop.
    ///
    /// ```
    /// let runtime = weft::Runtime::new().unwrap();
    /// let handle = runtime.handle();
    /// let idle = std::thread::spawn({
    ///     let handle = handle.clone();
    ///     move || handle.dump()
    /// });
    /// assert!(!idle.join().unwrap().answered()); // nobody is running the loop: it cannot answer
    /// runtime.block_on(async {
    ///     // The loop parks in the join below and answers the asking thread.
    ///     let asker = std::thread::spawn(move || handle.dump());
    ///     let dump = weft::spawn_blocking(move || asker.join().unwrap()).await.unwrap();
    ///     assert!(dump.answered());
    /// });
    /// ```
    pub fn answered(&self) -> bool {
        self.unanswered.is_empty()
    }

    /// The tasks as the tree of who awaits whom ([`TaskInfo::awaited_by`]): each task under the one that awaits
    /// it, roots (tasks nobody awaits) first in the dump's order. Prints one task a line, indented by
    /// `├─`/`└─` branches: id, name, state, bookmark.
    ///
    /// ```
    /// weft::run(async {
    ///     let leaf = weft::task::Builder::new().name("leaf").spawn(std::future::pending::<()>());
    ///     let root = weft::task::Builder::new().name("root").spawn(async move { leaf.await });
    ///     weft::task::yield_now().await;
    ///     let tree = weft::xray::dump().tree().to_string();
    ///     let root_line = tree.lines().position(|line| line.contains("'root'")).unwrap();
    ///     let leaf_line = tree.lines().position(|line| line.contains("'leaf'")).unwrap();
    ///     assert_eq!(leaf_line, root_line + 1);
    ///     assert!(tree.lines().nth(leaf_line).unwrap().starts_with("└─ "));
    ///     root.abort();
    /// });
    /// ```
    pub fn tree(&self) -> Tree<'_> {
        Tree(self)
    }

    /// The id of the task whose poll blocked the loop when it did not answer.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = weft::Runtime::new().unwrap();
    /// let handle = runtime.handle();
    /// let (stuck_tx, stuck_rx) = std::sync::mpsc::channel();
    /// let (asked_tx, asked_rx) = std::sync::mpsc::channel();
    /// let asker = std::thread::spawn(move || {
    ///     stuck_rx.recv().unwrap(); // the loop is stuck by then
    ///     asked_tx.send(()).unwrap();
    ///     handle.dump()
    /// });
    /// runtime.block_on(async move {
    ///     let hog = weft::spawn(async move {
    ///         stuck_tx.send(()).unwrap();
    ///         asked_rx.recv().unwrap();
    ///         std::thread::sleep(Duration::from_millis(1500)); // blocks the loop longer than a dump waits
    ///     });
    ///     let id = hog.id();
    ///     hog.await.unwrap();
    ///     let dump = asker.join().unwrap();
    ///     assert!(!dump.answered());
    ///     assert_eq!(dump.blocking_task(), Some(id));
    /// });
    /// ```
    pub fn blocking_task(&self) -> Option<Id> {
        self.unanswered.iter().find_map(|(_, why)| match why {
            Unanswered::Stuck {
                blocking: Some(blocking),
                ..
            } => Some(blocking.id),
            _ => None,
        })
    }
}

/// A duration the way the table shows it.
fn short(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.1}s")
    } else if secs >= 1e-3 {
        format!("{:.1}ms", secs * 1e3)
    } else {
        format!("{}µs", duration.as_micros())
    }
}

impl fmt::Display for Unanswered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unanswered::ShutDown => write!(f, "the runtime has shut down; no tasks"),
            Unanswered::NotRunning => write!(
                f,
                "no thread is running the runtime (nobody is in its block_on), so its loop cannot answer"
            ),
            Unanswered::Stuck { waited, blocking } => {
                write!(f, "the loop did not answer within {}", short(*waited))?;
                match blocking {
                    None => write!(
                        f,
                        "; it is busy outside any task's poll (its own work, a waker or a destructor)"
                    ),
                    Some(blocking) => write!(f, "; it is blocked in a poll of {blocking}"),
                }
            }
        }
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.loops == 1 {
            if let Some((_, why)) = self.unanswered.first() {
                return write!(f, "weft dump: {why}");
            }
        }
        let tasks = self.tasks.len();
        let on_loops = match self.loops {
            1 => String::new(),
            loops => format!(" on {loops} loops"),
        };
        writeln!(
            f,
            "weft dump: {tasks} live task{}{on_loops}, longest-parked first",
            if tasks == 1 { "" } else { "s" }
        )?;
        for (loop_id, why) in &self.unanswered {
            writeln!(f, "{loop_id}: {why}")?;
        }
        let several = self.loops > 1;
        let rows: Vec<[String; 9]> = self
            .tasks
            .iter()
            .map(|task| {
                [
                    if several {
                        task.loop_id.index().to_string()
                    } else {
                        String::new()
                    },
                    task.id.to_string(),
                    task.name.clone().unwrap_or_else(|| "-".into()),
                    task.state.to_string(),
                    short(task.idle_for),
                    task.polls.to_string(),
                    if self.busy_measured {
                        short(task.busy)
                    } else {
                        "-".into()
                    },
                    task.bookmark
                        .as_ref()
                        .map_or_else(|| "-".into(), ToString::to_string),
                    task.spawned_at.to_string(),
                ]
            })
            .collect();
        let header = [
            if several { "loop" } else { "" },
            "id",
            "name",
            "state",
            "idle",
            "polls",
            "busy",
            "bookmark",
            "spawned at",
        ];
        // Every column but the last is padded to its widest cell; the loop column is left out with one loop.
        let mut widths = header.map(|title| title.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let first = usize::from(!several);
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 9]| {
            for (cell, width) in cells[first..8].iter().zip(&widths[first..8]) {
                write!(f, "{cell:<width$}  ")?;
            }
            writeln!(f, "{}", cells[8])
        };
        line(f, header)?;
        for row in &rows {
            line(f, row.each_ref().map(String::as_str))?;
        }
        if !self.busy_measured {
            writeln!(
                f,
                "(busy: not measured; the loop times its polls while slow-poll detection is on: WEFT_SLOW_POLL=100ms)"
            )?;
        }
        Ok(())
    }
}

/// A dump request from another thread, answered by the loop between polls.
#[derive(Debug)]
pub(crate) struct DumpRequest {
    /// The answer.
    answer: Mutex<Option<Dump>>,
    /// Signalled when answered.
    answered: Condvar,
}

impl DumpRequest {
    /// An unanswered request.
    pub(crate) fn new() -> DumpRequest {
        DumpRequest {
            answer: Mutex::new(None),
            answered: Condvar::new(),
        }
    }

    /// The loop answers.
    pub(crate) fn answer(&self, dump: Dump) {
        *self
            .answer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(dump);
        self.answered.notify_all();
    }

    /// Waits until `deadline` for the answer.
    pub(crate) fn wait(&self, deadline: Instant) -> Option<Dump> {
        let mut answer = self
            .answer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            if let Some(dump) = answer.take() {
                return Some(dump);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            answer = self
                .answered
                .wait_timeout(answer, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

/// Answers a [`DumpRequest`] with the loop's dump, or, if the loop drops the visit unrun (it shut down first),
/// with "shut down".
struct Answer(Option<Arc<DumpRequest>>, LoopId);

impl Answer {
    /// The loop answers.
    fn give(mut self, dump: Dump) {
        if let Some(request) = self.0.take() {
            request.answer(dump);
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(request) = self.0.take() {
            request.answer(Dump::unanswered(self.1, Unanswered::ShutDown));
        }
    }
}

/// How long [`Handle::dump`] waits for the loop.
const DUMP_WAIT: Duration = Duration::from_secs(1);

/// The task dump is the x-ray's; the runtime's handle asks for it.
impl Handle {
    /// Every live task of this runtime with its bookmark and statistics, from any thread (see
    /// [`xray::dump`](crate::xray::dump)).
    ///
    /// From another thread the request is answered by the loop between two polls, so it sees every task at a
    /// bookmark. If the loop does not answer within a second — one poll is blocking it — the dump has no tasks
    /// ([`Dump::answered`] is false) and says so, naming the task whose poll blocks the loop (with how long it has
    /// run and the bookmark it resumed from, while slow-poll detection is on). It also returns at once, saying
    /// so, when no thread is running the runtime or it has shut down. On the loop's own thread it is
    /// [`xray::dump`](crate::xray::dump).
    ///
    /// With [several loops](crate::Builder::loops) every loop is asked at once and the dump lists the tasks of all
    /// of them ([`TaskInfo::loop_id`] says whose; the table gets a `loop` column). A loop that does not answer is
    /// named with its reason, and the others' tasks are still listed. Called from a task, the call waits (up to
    /// that second) for the other loops while its own loop is dumped.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = weft::Runtime::new().unwrap();
    /// let handle = runtime.handle();
    /// runtime.block_on(async {
    ///     let sleeper = weft::task::Builder::new()
    ///         .name("sleeper")
    ///         .spawn(async { weft::time::sleep(Duration::from_secs(60)).await });
    ///     weft::task::yield_now().await;
    ///     // Another thread asks; the loop answers while this task waits on the join.
    ///     let asker = std::thread::spawn(move || handle.dump());
    ///     let dump = weft::spawn_blocking(move || asker.join().unwrap()).await.unwrap();
    ///     assert!(dump.answered());
    ///     let task = &dump.tasks().iter().find(|task| task.id == sleeper.id()).unwrap();
    ///     assert_eq!(task.name.as_deref(), Some("sleeper"));
    ///     assert_eq!(task.bookmark.as_ref().unwrap().label, "sleep 60.0s");
    ///     sleeper.abort();
    /// });
    /// ```
    pub fn dump(&self) -> Dump {
        let loops = self.every_loop();
        let asked = Instant::now();
        // Ask the other loops first, so they answer while this thread dumps its own loop, if it runs one.
        let mut parts = Vec::with_capacity(loops.len());
        let mut waiting = Vec::new();
        for shared in &loops {
            match ask(shared) {
                Asked::Here => {}
                Asked::Waiting(request) => waiting.push((shared, request)),
                Asked::Unanswered(why) => parts.push(Dump::unanswered(shared.loop_id(), why)),
            }
        }
        for shared in &loops {
            if let Some(dump) = context::with_core_of(Arc::as_ptr(shared), |core| core.map(dump_of))
            {
                parts.push(dump);
            }
        }
        for (shared, request) in waiting {
            parts.push(request.wait(asked + DUMP_WAIT).unwrap_or_else(|| {
                let why = Unanswered::Stuck {
                    waited: asked.elapsed(),
                    blocking: blocking_task(shared),
                };
                Dump::unanswered(shared.loop_id(), why)
            }));
        }
        match parts.len() {
            1 => parts.pop().expect("one part"),
            _ => Dump::merge(parts),
        }
    }
}

/// What asking one loop for its dump gave.
enum Asked {
    /// The loop runs on this thread: dump it directly.
    Here,
    /// The loop will answer this request between two polls.
    Waiting(Arc<DumpRequest>),
    /// It cannot answer.
    Unanswered(Unanswered),
}

/// Asks the loop `shared` for its dump.
fn ask(shared: &Arc<Shared>) -> Asked {
    if context::with_core_of(Arc::as_ptr(shared), |core| core.is_some()) {
        return Asked::Here;
    }
    if !shared.running.load(std::sync::atomic::Ordering::SeqCst) {
        return Asked::Unanswered(if shared.is_closed() {
            Unanswered::ShutDown
        } else {
            Unanswered::NotRunning
        });
    }
    let request = Arc::new(DumpRequest::new());
    let answer = Answer(Some(request.clone()), shared.loop_id());
    let visit: Visit = Box::new(move |core| answer.give(dump_of(core)));
    if !shared.push_remote(|remote| remote.visits.push(visit)) {
        return Asked::Unanswered(Unanswered::ShutDown);
    }
    Asked::Waiting(request)
}

/// The task whose poll the loop `shared` is in, as published by the loop.
fn blocking_task(shared: &Shared) -> Option<Blocking> {
    let (id, spawned_at) = shared.polling.get()?;
    let id = Id::from_u64(id)?;
    let name = shared
        .names
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&id)
        .map(|name| name.to_string());
    let watched = shared
        .probe_shared
        .as_ref()
        .and_then(|part| part.downcast_ref::<PollWatch>())
        .and_then(PollWatch::current)
        .filter(|(watched, ..)| *watched == id);
    let (running_for, resumed_from) = match watched {
        Some((_, _, running_for, resumed_from)) => (Some(running_for), resumed_from),
        None => (None, None),
    };
    Some(Blocking {
        id,
        name,
        spawned_at,
        running_for,
        resumed_from,
    })
}

/// Every live task of `core` with its bookmark and statistics (on the loop's thread, between polls or from inside
/// a task's poll).
pub(crate) fn dump_of(core: &Core) -> Dump {
    let now_ms = core.now_ms();
    // The task whose poll asked, if a task asked (between polls none is running).
    let running_id = core.shared().polling.id();
    let probe = core
        .probe()
        .and_then(|probe| probe.as_any().downcast_ref::<XrayProbe>());
    let busy_measured = probe.is_some_and(|probe| probe.times_polls());
    let mut tasks = Vec::new();
    let mut waits = Vec::new();
    core.with_names(|names| {
        core.for_each_task(|task| {
            let header = task.header();
            let flags = header.state.load();
            if flags.is_complete() {
                return;
            }
            let stats = &header.stats;
            let state = if header.id.as_u64() == running_id {
                TaskState::Running
            } else if flags.is_scheduled() {
                TaskState::Ready
            } else {
                TaskState::Parked
            };
            let running = state == TaskState::Running;
            if let (Some((_, label)), false) = (stats.bookmark(), running) {
                if matches!(label.op(), Op::Join | Op::JoinBlocking | Op::GroupJoin) {
                    waits.push((header.id, label));
                }
            }
            let idle_for = match stats.last_ran_ms() {
                Some(ms) if !running => Duration::from_millis(u64::from(now_ms.saturating_sub(ms))),
                _ => Duration::ZERO,
            };
            tasks.push(TaskInfo {
                id: header.id,
                loop_id: core.shared().loop_id(),
                name: names
                    .and_then(|names| names.get(&header.id))
                    .map(|name| name.to_string()),
                spawned_at: header.spawned_at,
                state,
                // A running task's bookmark is the one its poll resumed from, no longer where it waits.
                bookmark: stats
                    .bookmark()
                    .filter(|_| !running)
                    .map(|(location, label)| Bookmark::new(location, label)),
                // The task statistics count a poll when it ends; a running task's is under way.
                polls: stats.polls() + u64::from(running),
                busy: probe.map_or(Duration::ZERO, |probe| probe.busy_of(header.id)),
                idle_for,
                awaited_by: None,
            });
        });
    });
    link_waiters(core, &mut tasks, &waits);
    let mut dump = Dump::new(tasks, busy_measured);
    dump.joins = waits
        .iter()
        .filter_map(|&(waiter, label)| match (label.op(), label.argument()) {
            (Op::Join | Op::JoinBlocking, Some(awaited)) => Some((u64::from(awaited), waiter)),
            _ => None,
        })
        .collect();
    dump
}

/// Fills in [`TaskInfo::awaited_by`] from the waiters' bookmarks: a task parked on a `JoinHandle` names the task
/// in its label; one parked in a group's `join_next` names the group, whose children the loop knows.
/// `waits` holds each parked task's id and its bookmark's label.
fn link_waiters(core: &Core, tasks: &mut [TaskInfo], waits: &[(Id, Label)]) {
    let mut on_task = HashMap::new();
    let mut on_group = HashMap::new();
    for &(waiter, label) in waits {
        match (label.op(), label.argument()) {
            (Op::Join | Op::JoinBlocking, Some(awaited)) => {
                on_task.insert(u64::from(awaited), waiter);
            }
            (Op::GroupJoin, Some(key)) => {
                on_group.insert(key, waiter);
            }
            _ => {}
        }
    }
    if on_task.is_empty() && on_group.is_empty() {
        return;
    }
    for task in tasks.iter_mut() {
        task.awaited_by = on_task.get(&task.id.as_u64()).copied().or_else(|| {
            core.group_of(task.id)
                .and_then(|key| on_group.get(&key).copied())
        });
    }
}

/// A [`Dump`] as the tree of who awaits whom; see [`Dump::tree`].
#[derive(Debug, Clone, Copy)]
pub struct Tree<'a>(&'a Dump);

impl fmt::Display for Tree<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dump = self.0;
        if !dump.answered() {
            return writeln!(f, "{dump}");
        }
        let known: HashSet<Id> = dump.tasks.iter().map(|task| task.id).collect();
        let mut children: HashMap<Id, Vec<&TaskInfo>> = HashMap::new();
        let mut roots = Vec::new();
        for task in &dump.tasks {
            match task.awaited_by.filter(|waiter| known.contains(waiter)) {
                Some(waiter) => children.entry(waiter).or_default().push(task),
                None => roots.push(task),
            }
        }
        let mut printed = HashSet::new();
        for root in roots {
            write_branch(f, root, "", None, &children, &mut printed)?;
        }
        // Tasks in a cycle of awaits (a deadlock) have no root: print them too, once each.
        for task in &dump.tasks {
            if !printed.contains(&task.id) {
                write_branch(f, task, "", None, &children, &mut printed)?;
            }
        }
        Ok(())
    }
}

/// Writes `task` (with `prefix` before its branch, `last`: whether it is its parent's last child, `None` for a
/// root) and, below it, the tasks that it awaits.
fn write_branch(
    f: &mut fmt::Formatter<'_>,
    task: &TaskInfo,
    prefix: &str,
    last: Option<bool>,
    children: &HashMap<Id, Vec<&TaskInfo>>,
    printed: &mut HashSet<Id>,
) -> fmt::Result {
    let branch = match last {
        None => "",
        Some(true) => "└─ ",
        Some(false) => "├─ ",
    };
    let title = crate::cell::TaskTitle(task.id, task.name.as_deref());
    write!(f, "{prefix}{branch}{title}  {}", task.state)?;
    match &task.bookmark {
        Some(bookmark) => writeln!(f, "  {bookmark}")?,
        None => writeln!(f)?,
    }
    if !printed.insert(task.id) {
        return Ok(()); // a cycle: already shown above
    }
    let below = children.get(&task.id).map_or(&[][..], Vec::as_slice);
    let prefix = match last {
        None => String::new(),
        Some(true) => format!("{prefix}   "),
        Some(false) => format!("{prefix}│  "),
    };
    for (index, child) in below.iter().enumerate() {
        write_branch(
            f,
            child,
            &prefix,
            Some(index + 1 == below.len()),
            children,
            printed,
        )?;
    }
    Ok(())
}
