//! The loop itself: run what is ready, then ask the OS to wait for timers and events.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::pin;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::loops::{Group, LoopId};
use super::probe::{LoopWork, PollInfo, Probe};
use super::registry::Registry;
use super::shared::{Remote, Shared};
use super::steal::{WaitQueue, Waiting};
use super::LoopCounters;
use super::{context, Builder, UnhandledPanic, EVENT_INTERVAL};
use crate::blocking::Pool;
use crate::cell::raw::{self, RunOutcome};
use crate::cell::{coop, stats};
use crate::cell::{Id, JoinHandle, Runner, TaskRef};
use crate::driver::Reactor;
use crate::sys::EventFd;
use crate::time::{Clock, Timers, VirtualTime};

/// A run queue longer than this is shrunk when it empties, so a burst does not pin memory.
const RUN_QUEUE_KEEP: usize = 4096;

/// The loop's thread-local state. Lives in a `Box` inside [`Runtime`](super::Runtime); reached through the
/// context (runtime invariant 1).
pub(crate) struct Core {
    /// The half other threads can reach.
    shared: Arc<Shared>,
    /// Tasks ready to be polled, each holding its queue reference (task rule 4).
    run_queue: RefCell<VecDeque<TaskRef>>,
    /// With `Builder::steal` and several loops: `Send` tasks waiting for their first poll, which other loops may
    /// take (`runtime::steal`).
    waiting: Option<WaitQueue>,
    /// Every live task (task rule 5).
    registry: RefCell<Registry>,
    /// Live tasks with a name (in `Shared::names`); while zero, that map's lock is never taken.
    named: Cell<usize>,
    /// Live children of task groups: the group's key (the argument of its owner's `join_next` bookmark), for
    /// the x-ray's "awaited by". While empty, a retiring task does not look here.
    groups: RefCell<HashMap<Id, u32>>,
    /// Whether `groups` has entries, read by every retiring task (cheaper than borrowing the map).
    grouped: Cell<bool>,
    /// When the loop started: task statistics count milliseconds from here.
    epoch: Instant,
    /// Milliseconds since `epoch` at the start of the current turn (or poll, while polls are timed), plus one, as
    /// a task's statistics keep it ([`stats::stamp`]): what a poll stores as the task's last run.
    now_stamp: Cell<u64>,
    /// Tasks popped from the run queue in this batch that were not polled (woken after they completed).
    stale_pops: Cell<usize>,
    /// The timer wheel and the clock, real or virtual.
    timers: Timers,
    /// Where the loop parks.
    driver: Reactor,
    /// A batch taken from the remote queue (kept to reuse its buffers).
    remote_batch: RefCell<Remote>,
    /// Wakers of fired timers, woken after the wheel is released (buffer reused).
    fired: RefCell<Vec<Waker>>,
    /// Set while the runtime shuts down: new tasks are cancelled at once.
    closing: Cell<bool>,
    /// Set when the shutdown has started (it runs once).
    shut_down: Cell<bool>,
    /// What to do with a panic nobody will see.
    unhandled_panic: UnhandledPanic,
    /// Set when a detached task panicked under [`UnhandledPanic::ShutdownRuntime`].
    shutdown_requested: Cell<bool>,
    /// What the loop counts.
    counters: LoopCounters,
    /// The observer (the x-ray's slow-poll detection and trace), when one is on.
    probe: Option<Box<dyn Probe>>,
    /// The right to poll this loop's tasks, which only this thread has (task rule 1); it also keeps `Core` off
    /// other threads.
    runner: Runner,
}

/// The waker of the future passed to `block_on`: sets a flag the loop checks every turn.
struct MainWaker {
    /// True when the main future should be polled.
    woken: AtomicBool,
    /// To unpark the loop when woken from another thread.
    shared: Arc<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, SeqCst);
        self.shared.unpark();
    }
}

/// Marks the loop as running (some thread is in its `block_on`) until dropped.
struct Running<'a>(&'a Shared);

impl<'a> Running<'a> {
    /// The loop starts running.
    fn new(shared: &'a Shared) -> Running<'a> {
        shared.running.store(true, SeqCst);
        Running(shared)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.store(false, SeqCst);
    }
}

/// Uncounts a loop from the hungry ones when dropped (see `Core::go_hungry`).
struct Hungry<'a> {
    /// The loop.
    shared: &'a Shared,
    /// Its group, which counts it.
    group: &'a Group,
}

impl Drop for Hungry<'_> {
    fn drop(&mut self) {
        self.group.hungry().leave(self.shared.loop_id().index());
    }
}

/// Lifts the cooperative budget when `block_on` returns, also by a panic (coop invariant 1).
struct LiftBudget;

impl Drop for LiftBudget {
    fn drop(&mut self) {
        coop::lift();
    }
}

impl Core {
    /// A new loop configured by `builder`.
    pub(crate) fn new(
        builder: &Builder,
        loop_id: LoopId,
        pool: Pool,
        virtual_time: Option<VirtualTime>,
    ) -> io::Result<Core> {
        let eventfd = EventFd::new()?;
        let driver = Reactor::new(builder.driver, &eventfd)?;
        let (probe, probe_shared) = match builder.probe.start(loop_id) {
            Some((probe, shared)) => (Some(probe), Some(shared)),
            None => (None, None),
        };
        let (waiting, stealer) = if builder.steal && builder.loop_count()? > 1 {
            let (waiting, stealer) = WaitQueue::new();
            (Some(waiting), Some(stealer))
        } else {
            (None, None)
        };
        let shared = Shared::new(
            loop_id,
            eventfd,
            driver.kind(),
            pool,
            builder.start_paused,
            probe_shared,
            stealer,
        );
        let clock = match virtual_time {
            Some(time) => Clock::virtual_from(time),
            None => Clock::new(builder.start_paused),
        };
        let timers = Timers::new(shared.id(), clock);
        Ok(Core {
            shared,
            run_queue: RefCell::new(VecDeque::new()),
            waiting,
            registry: RefCell::new(Registry::default()),
            named: Cell::new(0),
            groups: RefCell::new(HashMap::new()),
            grouped: Cell::new(false),
            epoch: Instant::now(),
            now_stamp: Cell::new(stats::stamp(1)),
            stale_pops: Cell::new(0),
            timers,
            driver,
            remote_batch: RefCell::new(Remote::default()),
            fired: RefCell::new(Vec::new()),
            closing: Cell::new(false),
            shut_down: Cell::new(false),
            unhandled_panic: builder.unhandled_panic,
            shutdown_requested: Cell::new(false),
            counters: LoopCounters::default(),
            probe,
            // SAFETY: the loop runs on the thread that builds it (`Core` is neither Send nor Sync, through this
            // very field), and only it polls the tasks it owns: every task's owner is this loop's `Shared`.
            runner: unsafe { Runner::new() },
        })
    }

    /// The half other threads can reach.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The loop's observer, when one is on.
    pub(crate) fn probe(&self) -> Option<&dyn Probe> {
        self.probe.as_deref()
    }

    /// The loop's reactor.
    pub(crate) fn driver(&self) -> &Reactor {
        &self.driver
    }

    /// The loop's timers.
    pub(crate) fn timers(&self) -> &Timers {
        &self.timers
    }

    /// Pushes a woken task on the run queue (we are on the loop's thread).
    pub(crate) fn push_local(&self, task: TaskRef) {
        LoopCounters::add(&self.counters.local_wakes, 1);
        if let Some(probe) = &self.probe {
            probe.woke(task.header().id);
        }
        self.run_queue.borrow_mut().push_back(task);
    }

    /// Spawns a task on this loop (we are on its thread).
    pub(crate) fn spawn_local<F>(
        &self,
        future: F,
        name: Option<Arc<str>>,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let id = Id::next();
        let (registry_ref, queue_ref, handle) =
            raw::new_task(future, Some(self.shared.clone()), true, id, location);
        if self.closing.get() {
            // Spawned by a destructor during shutdown: cancelled without running.
            let _ = registry_ref.shutdown(&self.runner);
            return handle;
        }
        if let Some(name) = name {
            super::shared::lock(&self.shared.names).insert(id, name);
            self.named.set(self.named.get() + 1);
        }
        LoopCounters::add(&self.counters.tasks_spawned, 1);
        if let Some(probe) = &self.probe {
            probe.woke(id);
        }
        self.registry.borrow_mut().insert(registry_ref);
        self.run_queue.borrow_mut().push_back(queue_ref);
        handle
    }

    /// Spawns a `Send` task that waits on this loop for its first poll and that an idle loop may take
    /// (`Builder::steal`; we are on this loop's thread). `None` gives the future back if this loop does not steal.
    pub(crate) fn spawn_waiting<F>(
        &self,
        future: F,
        location: &'static Location<'static>,
    ) -> Result<JoinHandle<F::Output>, F>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let Some(waiting) = &self.waiting else {
            return Err(future);
        };
        // Never from the arena: the cell may move to another loop (task rule 9).
        let (registry, queue, handle) = raw::new_task(
            future,
            Some(self.shared.clone()),
            false,
            Id::next(),
            location,
        );
        if self.closing.get() {
            let _ = registry.shutdown(&self.runner);
            return Ok(handle);
        }
        waiting.push(Waiting { registry, queue });
        self.wake_hungry();
        Ok(handle)
    }

    /// Starts a task taken from a queue of waiting tasks, this loop's or another's: this loop becomes its owner,
    /// registers it, and returns its queue reference to be polled.
    fn start_waiting(&self, task: Waiting) -> TaskRef {
        // SAFETY: task rule 9 and steal invariant 1: a waiting task was spawned by `spawn_waiting` or
        // `spawn_remote` outside any arena for a `Shared` owner, never polled and in no registry; we hold its
        // queue reference, popped from the one queue that held it.
        unsafe { raw::adopt(&task.queue, &self.shared) };
        LoopCounters::add(&self.counters.tasks_spawned, 1);
        if let Some(probe) = &self.probe {
            probe.woke(task.queue.header().id);
        }
        self.registry.borrow_mut().insert(task.registry);
        task.queue
    }

    /// The next task to poll: a woken one, else one that waits for its first poll (waking a hungry loop to take
    /// the others, if more wait).
    fn next_task(&self) -> Option<TaskRef> {
        let woken = self.run_queue.borrow_mut().pop_front();
        woken.or_else(|| {
            let waiting = self.waiting.as_ref()?;
            let task = self.start_waiting(waiting.pop()?);
            if !waiting.is_empty() {
                self.wake_hungry();
            }
            Some(task)
        })
    }

    /// Tasks wait here for their first poll: wakes a loop parked hungry, if any, to take some.
    fn wake_hungry(&self) {
        if let Some(group) = self.shared.group() {
            group.wake_hungry(self.shared.loop_id());
        }
    }

    /// Before polling a batch: one waiting task joins the run queue (so waiting tasks start even while woken ones
    /// keep the loop busy), and a loop parked hungry is woken to take the others.
    fn offer_waiting(&self) {
        let Some(waiting) = &self.waiting else { return };
        if waiting.is_empty() {
            return;
        }
        if let Some(task) = waiting.pop() {
            let task = self.start_waiting(task);
            self.run_queue.borrow_mut().push_back(task);
        }
        if !waiting.is_empty() {
            // Pairs with the fence of a loop going hungry (steal invariant 3): one of the two sees the other.
            std::sync::atomic::fence(SeqCst);
            self.wake_hungry();
        }
    }

    /// Nothing to do here: takes a batch of another loop's waiting tasks. Returns whether it found any.
    fn steal(&self) -> bool {
        let (Some(waiting), Some(group)) = (&self.waiting, self.shared.group()) else {
            return false;
        };
        match group.steal_for(self.shared.loop_id(), waiting) {
            Some(task) => {
                let task = self.start_waiting(task);
                self.run_queue.borrow_mut().push_back(task);
                true
            }
            None => false,
        }
    }

    /// Task `id`, just spawned, is a child of the task group with `key` (see `groups`).
    pub(crate) fn join_group(&self, id: Id, key: u32) {
        self.groups.borrow_mut().insert(id, key);
        self.grouped.set(true);
    }

    /// Task `id` ended: it is no longer a group's child. Out of line, so that `retire`, which every task
    /// passes through, stays small enough to keep its own callees inlined.
    #[inline(never)]
    fn leave_group(&self, id: Id) {
        let mut groups = self.groups.borrow_mut();
        groups.remove(&id);
        self.grouped.set(!groups.is_empty());
    }

    /// The key of the task group that task `id` is a live child of, if any.
    pub(crate) fn group_of(&self, id: Id) -> Option<u32> {
        if !self.grouped.get() {
            return None;
        }
        self.groups.borrow().get(&id).copied()
    }

    /// The name of a live task, if it has one.
    pub(crate) fn task_name(&self, id: Id) -> Option<Arc<str>> {
        if self.named.get() == 0 {
            return None;
        }
        super::shared::lock(&self.shared.names).get(&id).cloned()
    }

    /// Runs the loop until `future` completes.
    #[track_caller]
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter(self, false);
        let _running = Running::new(&self.shared);
        let main = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        coop::constrain();
        let _budget = LiftBudget;
        loop {
            if main.woken.load(Relaxed) && main.woken.swap(false, SeqCst) {
                coop::refill();
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            if self.shutdown_requested.get()
                || self
                    .shared
                    .group()
                    .is_some_and(|group| group.shutdown_requested())
            {
                panic!(
                    "weft: a detached task panicked and the runtime is configured with \
                     UnhandledPanic::ShutdownRuntime; the runtime is shutting down"
                );
            }
            self.turn(&main.woken);
        }
    }

    /// One turn: take in what other threads handed over, poll up to `EVENT_INTERVAL` ready tasks, then fire
    /// timers and poll the OS; park if nothing is left to run (parking takes in remote work again first).
    fn turn(&self, main_woken: &AtomicBool) {
        if let Some(probe) = &self.probe {
            probe.turn();
        }
        self.take_remote();
        if !cfg!(weft_no_xray) {
            self.stamp_polls_at(Instant::now());
            stats::forget_left(); // what the main future's poll left
        }
        self.offer_waiting();
        let mut popped = 0;
        while popped < EVENT_INTERVAL {
            let Some(task) = self.next_task() else {
                break;
            };
            popped += 1;
            self.run_task(task);
        }
        // Polls are counted per batch: the tasks popped, less those that turned out stale.
        if self.counts_polls() {
            let polls = popped - self.stale_pops.replace(0);
            LoopCounters::add(&self.counters.polls, polls as u64);
        }
        self.shared.polling.clear();
        if self.has_work(main_woken) {
            self.fire_timers();
            if self.driver.has_io_sources() {
                self.poll_driver(Some(Duration::ZERO));
            }
        } else {
            self.park(main_woken);
        }
        self.publish_metrics();
    }

    /// Publishes the loop's counters for [`Handle::metrics`](super::Handle::metrics).
    fn publish_metrics(&self) {
        let alive = self.registry.borrow().len();
        self.shared.metrics.publish(&self.counters, alive);
    }

    /// Waits in the driver (for at most `timeout`), counting I/O events and time parked.
    fn poll_driver(&self, timeout: Option<Duration>) {
        if timeout == Some(Duration::ZERO) {
            let start = self.probe.as_ref().map(|probe| probe.work_start(false));
            let events = self.driver.park(timeout, &self.shared.eventfd);
            LoopCounters::add(&self.counters.io_events, events);
            if let (Some(probe), Some(start), true) = (&self.probe, start, events > 0) {
                probe.work_done(LoopWork::Io, start, events);
            }
            return;
        }
        let work_start = self.probe.as_ref().map(|probe| probe.work_start(true));
        self.publish_metrics(); // readers see fresh counters while the loop sleeps
        let parked_at = Instant::now();
        self.shared.metrics.parking(parked_at);
        let events = self.driver.park(timeout, &self.shared.eventfd);
        let parked = u64::try_from(parked_at.elapsed().as_nanos()).unwrap_or(u64::MAX);
        LoopCounters::add(&self.counters.parked_ns, parked);
        LoopCounters::add(&self.counters.parks, 1);
        LoopCounters::add(&self.counters.io_events, events);
        // Published again at the end of the turn this park belongs to.
        self.shared.metrics.awake();
        if let (Some(probe), Some(start)) = (&self.probe, work_start) {
            probe.work_done(LoopWork::Park, start, events);
        }
    }

    /// True if a task or the main future is ready, or `block_on` must return to report a shutdown request.
    fn has_work(&self, main_woken: &AtomicBool) -> bool {
        !self.run_queue.borrow().is_empty()
            || self
                .waiting
                .as_ref()
                .is_some_and(|waiting| !waiting.is_empty())
            || main_woken.load(SeqCst)
            || self.shutdown_requested.get()
    }

    /// Milliseconds from the loop's start to `instant`.
    fn ms_since_epoch(&self, instant: Instant) -> u32 {
        u32::try_from(instant.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u32::MAX)
    }

    /// Polls from now on started at `instant`, as far as task statistics tell.
    fn stamp_polls_at(&self, instant: Instant) {
        let ms = self.ms_since_epoch(instant);
        self.now_stamp.set(stats::stamp(ms.saturating_add(1)));
    }

    /// Whether polls are observed: timed for slow-poll detection, or traced.
    fn observed(&self) -> bool {
        self.probe.is_some()
    }

    /// Whether the loop keeps poll statistics (per task and its own count). Always, except under
    /// `weft_no_xray` with nothing observing the polls: that build measures what the statistics and bookmarks
    /// cost.
    fn counts_polls(&self) -> bool {
        !cfg!(weft_no_xray) || self.observed()
    }

    /// Polls one task and retires it if it completed.
    ///
    /// Bookmarks and poll statistics are always on; building with `RUSTFLAGS="--cfg weft_no_xray"` turns them
    /// off, only to measure what they cost (weft-bench, see the x-ray issue's note).
    fn run_task(&self, task: TaskRef) {
        coop::refill();
        let counted = self.counts_polls();
        let header = task.as_ptr();
        let outcome = if !counted {
            task.run(&self.runner)
        } else {
            let header = task.header();
            self.shared.polling.set(header.id, header.spawned_at);
            match self.probe.as_deref() {
                Some(probe) => self.run_task_observed(probe, task),
                None => task.run(&self.runner),
            }
        };
        match outcome {
            RunOutcome::Stale => self.stale_pops.set(self.stale_pops.get() + 1),
            RunOutcome::Pending => {
                if counted {
                    // SAFETY: a task whose poll returned `Pending` is not complete, so the registry's reference
                    // keeps it alive (task rule 5); this is its owner loop's thread (rule 8).
                    unsafe { header.as_ref() }
                        .stats
                        .end_poll(self.now_stamp.get());
                }
            }
            RunOutcome::Completed {
                id,
                registry_slot,
                spawned_at,
                unhandled_panic,
            } => {
                if counted {
                    stats::forget_left(); // what the last poll left (`Pending` moves it to the header)
                }
                self.retire(id, registry_slot, spawned_at, unhandled_panic);
            }
        }
    }

    /// Polls one task under the probe's observation (which may time the poll: then the task's statistics stamp
    /// the moment it started).
    fn run_task_observed(&self, probe: &dyn Probe, task: TaskRef) -> RunOutcome {
        let header = task.header();
        let info = PollInfo {
            id: header.id,
            name: self.task_name(header.id),
            spawned_at: header.spawned_at,
            resumed_from: header.stats.bookmark(),
        };
        let mut task = Some(task);
        let mut outcome = None;
        let slow = probe.observe_poll(&info, &|started| self.stamp_polls_at(started), &mut || {
            let ran = task
                .take()
                .map_or(RunOutcome::Stale, |task| task.run(&self.runner));
            let stale = matches!(ran, RunOutcome::Stale);
            outcome = Some(ran);
            stale
        });
        if slow {
            LoopCounters::add(&self.counters.slow_polls, 1);
        }
        // A probe that did not run the poll leaves the task unpolled and still scheduled: run it here.
        match (outcome, task) {
            (Some(outcome), _) => outcome,
            (None, Some(task)) => task.run(&self.runner),
            (None, None) => RunOutcome::Stale,
        }
    }

    /// A task completed: drop the registry's reference (task rule 5) and deal with a panic nobody will see.
    fn retire(
        &self,
        id: Id,
        registry_slot: u32,
        spawned_at: &'static Location<'static>,
        unhandled_panic: Option<Box<dyn Any + Send>>,
    ) {
        let name = if self.named.get() == 0 {
            None
        } else {
            let name = super::shared::lock(&self.shared.names).remove(&id);
            if name.is_some() {
                self.named.set(self.named.get() - 1);
            }
            name
        };
        if self.grouped.get() {
            self.leave_group(id);
        }
        if let Some(payload) = unhandled_panic {
            self.on_unhandled_panic(id, name.as_deref(), spawned_at, payload.as_ref());
            crate::cell::drop_quietly(payload);
        }
        if let Some(probe) = &self.probe {
            probe.retired(id);
        }
        let task = self.registry.borrow_mut().remove_at(registry_slot);
        drop(task);
    }

    /// Applies the unhandled-panic policy.
    fn on_unhandled_panic(
        &self,
        id: Id,
        name: Option<&str>,
        spawned_at: &'static Location<'static>,
        payload: &(dyn Any + Send),
    ) {
        self.on_lost_panic(
            payload,
            format_args!(
                "{} (spawned at {spawned_at}) panicked and nobody will see it, because its JoinHandle was \
                 dropped",
                crate::cell::TaskTitle(id, name)
            ),
        );
    }

    /// Applies the unhandled-panic policy to a panic nobody can catch: `what` happened, with `payload`.
    pub(crate) fn on_lost_panic(&self, payload: &(dyn Any + Send), what: std::fmt::Arguments<'_>) {
        if self.unhandled_panic == UnhandledPanic::Ignore {
            return;
        }
        super::report_lost_panic(payload, what);
        if self.unhandled_panic == UnhandledPanic::ShutdownRuntime {
            self.shutdown_requested.set(true);
        }
    }

    /// Takes in what other threads handed over: woken tasks, spawned tasks, and dropped timers.
    fn take_remote(&self) {
        self.take_remote_with(false);
    }

    /// [`take_remote`](Self::take_remote); `parking`: the look right after announcing a park (runtime
    /// invariant 2), which must not miss a push.
    fn take_remote_with(&self, parking: bool) {
        self.timers.remove_orphans();
        let mut batch = self.remote_batch.borrow_mut();
        self.shared.take_remote(&mut batch, parking);
        if batch.woken.is_empty()
            && batch.spawned.is_empty()
            && batch.waiting.is_empty()
            && batch.orphan_sources.is_empty()
            && batch.visits.is_empty()
        {
            return;
        }
        for visit in batch.visits.drain(..) {
            visit(self);
        }
        for (key, handoff) in batch.orphan_sources.drain(..) {
            self.driver
                .deregister_orphan(key, handoff, &self.shared.eventfd);
        }
        let mut run_queue = self.run_queue.borrow_mut();
        LoopCounters::add(&self.counters.remote_wakes, batch.woken.len() as u64);
        if let Some(probe) = &self.probe {
            for task in &batch.woken {
                probe.woke(task.header().id);
            }
        }
        run_queue.extend(batch.woken.drain(..));
        if !batch.spawned.is_empty() {
            let mut registry = self.registry.borrow_mut();
            LoopCounters::add(&self.counters.tasks_spawned, batch.spawned.len() as u64);
            let taken = batch.spawned.len();
            for (registry_ref, queue_ref) in batch.spawned.drain(..) {
                registry.insert(registry_ref);
                run_queue.push_back(queue_ref);
            }
            // They count as live before they stop counting as handed in, so the loop never looks idler than it is.
            self.shared.metrics.set_tasks_alive(registry.len());
            self.shared.took_incoming(taken);
        }
        if !batch.waiting.is_empty() {
            let taken = batch.waiting.len();
            match &self.waiting {
                Some(waiting) => batch.waiting.drain(..).for_each(|task| waiting.push(task)),
                None => {
                    for task in batch.waiting.drain(..) {
                        let task = self.start_waiting(task);
                        run_queue.push_back(task);
                    }
                }
            }
            self.shared.took_incoming(taken);
        }
    }

    /// Fires every timer that is due and wakes its task.
    fn fire_timers(&self) {
        if self.timers.wheel().borrow().is_empty() {
            return;
        }
        let now = self.timers.clock().now_ms();
        let work_start = self.probe.as_ref().map(|probe| probe.work_start(false));
        let mut fired = std::mem::take(&mut *self.fired.borrow_mut());
        self.timers.wheel().borrow_mut().advance(now, &mut fired);
        LoopCounters::add(&self.counters.timers_fired, fired.len() as u64);
        if let (Some(probe), Some(start), false) = (&self.probe, work_start, fired.is_empty()) {
            probe.work_done(LoopWork::Timers, start, fired.len() as u64);
        }
        for waker in fired.drain(..) {
            waker.wake();
        }
        *self.fired.borrow_mut() = fired;
    }

    /// Nothing is ready: sleep in the OS until the next timer, an I/O event, or a wake from another thread.
    /// With a virtual clock, jump to the next deadline instead (unless blocking work is in flight).
    fn park(&self, main_woken: &AtomicBool) {
        self.shared.announce_park();
        self.take_remote_with(true);
        self.fire_timers();
        if self.has_work(main_woken) || self.steal() {
            self.shared.announce_awake();
            return;
        }
        let _hungry = self.go_hungry();
        if self.steal() {
            self.shared.announce_awake();
            return;
        }
        {
            let mut run_queue = self.run_queue.borrow_mut();
            if run_queue.capacity() > RUN_QUEUE_KEEP {
                run_queue.shrink_to(RUN_QUEUE_KEEP / 16);
            }
        }
        let next_deadline = self.timers.wheel().borrow().next_deadline();
        if let Some(group) = self
            .shared
            .group()
            .filter(|_| self.timers.clock().is_paused())
        {
            self.park_on_shared_virtual_clock(group, next_deadline, main_woken);
            self.shared.announce_awake();
            return;
        }
        let timeout = match next_deadline {
            None => None,
            Some(deadline) if self.timers.clock().is_paused() => {
                if self.shared.blocking.in_flight() == 0 && self.driver.file_ops_awaited() == 0 {
                    self.advance_virtual_clock(deadline, main_woken);
                    self.shared.announce_awake();
                    return;
                }
                // Blocking work or a file operation on the ring may still schedule something earlier; the pool
                // unparks us when it ends, the ring's completion ends the park.
                None
            }
            Some(deadline) => Some(Duration::from_millis(
                deadline.saturating_sub(self.timers.clock().now_ms()),
            )),
        };
        self.poll_driver(timeout);
        self.shared.announce_awake();
        self.take_remote();
        self.fire_timers();
    }

    /// The loop is about to park with nothing to do: counts itself hungry, so a loop with waiting tasks wakes it
    /// (steal invariant 3); uncounted when the returned guard drops. The caller looks at the other loops once
    /// more before it parks.
    fn go_hungry(&self) -> Option<Hungry<'_>> {
        self.waiting.as_ref()?;
        let group = self.shared.group()?;
        group.hungry().enter(self.shared.loop_id().index());
        // Pairs with the fence in `Group::wake_hungry`: either that loop sees us hungry, or we see its tasks.
        std::sync::atomic::fence(SeqCst);
        Some(Hungry {
            shared: &self.shared,
            group,
        })
    }

    /// Virtual clock shared by several loops, nothing ready here: this loop counts itself idle (with its next
    /// deadline); the loop that finds every loop idle and no blocking work in flight jumps the clock to the
    /// earliest deadline of them all and wakes the loops it is due on. Time never jumps while any loop has a
    /// task ready (shared-clock invariants in `runtime::loops`).
    fn park_on_shared_virtual_clock(
        &self,
        group: &Group,
        next_deadline: Option<u64>,
        main_woken: &AtomicBool,
    ) {
        // Ready I/O first: time only jumps over nothing.
        if self.driver.has_io_sources() {
            self.poll_driver(Some(Duration::ZERO));
            if self.has_work(main_woken) {
                return;
            }
        }
        if self.driver.file_ops_awaited() > 0 {
            // A file operation on the ring is as much work in flight as a blocking job: this loop is not idle
            // (so time does not jump) until its completion ends the park.
            self.poll_driver(None);
            self.take_remote();
            self.fire_timers();
            return;
        }
        self.shared.enter_virtual_idle(group, next_deadline);
        // Work handed in before the flag was set was not counted against it: look once more (invariant 2).
        self.take_remote_with(true);
        if self.has_work(main_woken) {
            self.shared.leave_virtual_idle();
            return;
        }
        if self.shared.blocking.in_flight() == 0 && group.all_idle() {
            if let Some(earliest) = group.earliest_virtual_deadline() {
                self.timers.clock().advance_to_ms(earliest);
                group.wake_due(earliest);
                self.shared.leave_virtual_idle();
                self.fire_timers();
                return;
            }
        }
        // Wait for work, an advance that reaches our deadline, or the end of blocking work (the pool wakes loop 0).
        self.poll_driver(None);
        self.shared.leave_virtual_idle();
        self.take_remote();
        self.fire_timers();
    }

    /// Virtual clock, nothing ready: let I/O and other threads have their say, then jump to `deadline`.
    fn advance_virtual_clock(&self, deadline: u64, main_woken: &AtomicBool) {
        if self.driver.has_io_sources() {
            self.poll_driver(Some(Duration::ZERO));
        }
        self.take_remote();
        if !self.has_work(main_woken) {
            self.timers.clock().advance_to_ms(deadline);
        }
        self.fire_timers();
    }

    /// Calls `f` with every live task, on the loop's thread (between polls or from inside a task's poll).
    pub(crate) fn for_each_task(&self, mut f: impl FnMut(&TaskRef)) {
        for task in self.registry.borrow().iter() {
            f(task);
        }
    }

    /// Milliseconds from the loop's start to now, as task statistics count them (`stats::last_ran_ms`).
    pub(crate) fn now_ms(&self) -> u32 {
        self.ms_since_epoch(Instant::now())
    }

    /// Calls `f` with the names of live tasks, if any task has one.
    pub(crate) fn with_names<R>(&self, f: impl FnOnce(Option<&HashMap<Id, Arc<str>>>) -> R) -> R {
        if self.named.get() == 0 {
            return f(None);
        }
        f(Some(&super::shared::lock(&self.shared.names)))
    }

    /// Drops every task that is still alive (their destructors run on this thread), refuses further work, and
    /// stops the blocking pool: waits for its running jobs, or, with a `deadline`, until then at most. Runs
    /// once; later calls (the runtime's drop after `shutdown_timeout`) do nothing.
    pub(crate) fn shutdown(&self, deadline: Option<Instant>) {
        if self.shut_down.replace(true) {
            return;
        }
        let _enter = context::enter(self, true);
        self.closing.set(true);
        let remote = self.shared.close();
        drop(remote.woken);
        for (registry_ref, queue_ref) in remote.spawned {
            let _ = registry_ref.shutdown(&self.runner);
            drop((registry_ref, queue_ref));
        }
        let waiting = self.waiting.as_ref();
        for task in remote
            .waiting
            .into_iter()
            .chain(std::iter::from_fn(|| waiting?.pop()))
        {
            // Adopted first (task rule 9): this thread then owns it, and cancels it without running.
            let task = self.start_waiting(task);
            drop(task);
        }
        loop {
            let task = self.registry.borrow_mut().pop_any();
            let Some(task) = task else { break };
            if let RunOutcome::Completed {
                id,
                spawned_at,
                unhandled_panic: Some(payload),
                ..
            } = task.shutdown(&self.runner)
            {
                let name = self.task_name(id);
                self.on_unhandled_panic(id, name.as_deref(), spawned_at, payload.as_ref());
                crate::cell::drop_quietly(payload);
            }
            drop(task);
            // Wakes caused by those destructors: the tasks are being dropped anyway.
            let woken = std::mem::take(&mut *self.run_queue.borrow_mut());
            drop(woken);
        }
        let woken = std::mem::take(&mut *self.run_queue.borrow_mut());
        drop(woken);
        super::shared::lock(&self.shared.names).clear();
        self.named.set(0);
        self.groups.borrow_mut().clear();
        self.grouped.set(false);
        // Visits not made are dropped: whoever asked learns from that that the loop is gone.
        drop(remote.visits);
        self.shared.blocking.shutdown(deadline);
        self.timers.clear();
        if let Some(probe) = &self.probe {
            probe.shutdown();
        }
    }
}
