//! The part of a loop that other threads can reach: the remote queue, the eventfd that wakes the loop, the
//! blocking pool, and the orphaned-timer list.

use std::collections::HashMap;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::context;
use super::doorbell::Doorbell;
use super::idle::IdleFlag;
use super::loops::{Group, LoopId};
use super::steal::Waiting;
use super::PublishedMetrics;
use crate::blocking::Pool;
use crate::cell::arena::Arena;
use crate::cell::raw::{self, TaskRef};
use crate::cell::{Id, JoinHandle, Owner, Runner};
use crate::driver::Driver;
use crate::sys::EventFd;
use crossbeam_deque::Stealer;

/// Work handed to the loop to run on its thread with access to it.
pub(crate) type Visit = Box<dyn FnOnce(&super::event_loop::Core) + Send>;

/// What other threads hand to the loop.
#[derive(Default)]
pub(crate) struct Remote {
    /// Woken tasks, each holding its queue reference (task rule 4).
    pub(crate) woken: Vec<TaskRef>,
    /// Tasks spawned from other threads: (registry reference, queue reference).
    pub(crate) spawned: Vec<(TaskRef, TaskRef)>,
    /// Tasks spawned from other threads that other loops may take before their first poll (`Builder::steal`).
    pub(crate) waiting: Vec<Waiting>,
    /// Registration keys of sockets dropped (or moved to another loop) on another thread.
    pub(crate) orphan_sources: Vec<(u32, Option<crate::driver::HandoffSender>)>,
    /// Work other threads want done on the loop's thread between polls (the x-ray's `Handle::dump`); dropped
    /// unrun if the loop shuts down first.
    pub(crate) visits: Vec<Visit>,
    /// Set at shutdown: nothing is accepted any more.
    pub(crate) closed: bool,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("woken", &self.woken.len())
            .field("spawned", &self.spawned.len())
            .field("waiting", &self.waiting.len())
            .field("orphan_sources", &self.orphan_sources.len())
            .field("visits", &self.visits.len())
            .field("closed", &self.closed)
            .finish()
    }
}

/// The thread-safe half of a loop, behind an `Arc`.
#[derive(Debug)]
pub(crate) struct Shared {
    /// This loop's id, unique in the process.
    id: u64,
    /// Which loop of its runtime this is.
    loop_id: LoopId,
    /// Every loop of the runtime, if it has more than one (set once, right after they are all built).
    group: OnceLock<Arc<Group>>,
    /// Tasks handed to the loop from other threads that it has not taken in yet (for placement by load).
    incoming: AtomicU64,
    /// With `Builder::steal` and several loops: how other loops take tasks waiting for their first poll here.
    stealer: Option<Stealer<Waiting>>,
    /// Whether the loop runs on a virtual clock (shared with its group's other loops, if any).
    paused: bool,
    /// Set while the loop is counted idle on the group's shared virtual clock (`runtime::loops`, rule 1).
    virtual_idle: IdleFlag,
    /// The loop's next timer deadline as it went idle on the shared virtual clock (`u64::MAX`: none).
    virtual_deadline: AtomicU64,
    /// Work handed in by other threads.
    remote: Mutex<Remote>,
    /// Whether `remote` may hold something and whether the loop is awake (runtime invariant 2).
    doorbell: Doorbell,
    /// Written to wake the parked loop.
    pub(crate) eventfd: EventFd,
    /// The I/O driver the loop runs (`Epoll` or `IoUring`).
    pub(crate) driver: Driver,
    /// The blocking pool.
    pub(crate) blocking: Pool,
    /// The loop's counters as of its latest turn.
    pub(crate) metrics: PublishedMetrics,
    /// Where the cells of tasks spawned on the loop's thread live.
    pub(crate) arena: Arena,
    /// The poll the loop is in, for a dump the loop cannot answer.
    pub(crate) polling: PollingNow,
    /// What other threads may read of the loop's probe while the loop is busy (the x-ray: the poll in
    /// progress), if a probe is on.
    pub(crate) probe_shared: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// True while some thread runs the loop (is inside its `block_on`).
    pub(crate) running: AtomicBool,
    /// Names given with `task::Builder::name`, by task id (kept out of the task cell: most tasks have none;
    /// here rather than in the loop so a dump that the loop cannot answer can still name the blocking task).
    pub(crate) names: Mutex<HashMap<Id, Arc<str>>>,
}

/// The poll a loop is in, published so that [`Handle::dump`](super::Handle::dump) can name the task blocking
/// a loop that does not answer: two relaxed stores per poll, cleared after each batch of polls.
#[derive(Debug)]
pub(crate) struct PollingNow {
    /// The id of the task being polled, or 0.
    id: AtomicU64,
    /// Its spawn location (always stored from a `&'static Location`), or null.
    spawned_at: AtomicPtr<Location<'static>>,
}

impl PollingNow {
    /// Not polling.
    fn new() -> PollingNow {
        PollingNow {
            id: AtomicU64::new(0),
            spawned_at: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The loop polls task `id`.
    #[inline]
    pub(crate) fn set(&self, id: Id, spawned_at: &'static Location<'static>) {
        self.spawned_at
            .store(std::ptr::from_ref(spawned_at).cast_mut(), Relaxed);
        self.id.store(id.as_u64(), Relaxed);
    }

    /// The loop is between polls.
    #[inline]
    pub(crate) fn clear(&self) {
        self.id.store(0, Relaxed);
    }

    /// The id of the task being polled, or 0 between polls.
    pub(crate) fn id(&self) -> u64 {
        self.id.load(Relaxed)
    }

    /// The task being polled and its spawn location, if any; `None` also if the loop moved on while this
    /// was read (the id is read on both sides of the location).
    pub(crate) fn get(&self) -> Option<(u64, &'static Location<'static>)> {
        let id = self.id.load(Relaxed);
        let spawned_at = self.spawned_at.load(Relaxed);
        if id == 0 || id != self.id.load(Relaxed) {
            return None;
        }
        // SAFETY: `set` is the only writer and stores only `&'static Location`s, so a non-null pointer here
        // is one, valid for the life of the program.
        unsafe { spawned_at.as_ref() }.map(|location| (id, location))
    }
}

/// The next loop id.
static NEXT_LOOP_ID: AtomicU64 = AtomicU64::new(1);

/// Every live loop by id, for the rare cross-thread paths that only know an id (a sleep dropped on another
/// thread than the one whose wheel holds it).
static LOOPS: Mutex<Option<HashMap<u64, Weak<Shared>>>> = Mutex::new(None);

/// Locks a mutex, ignoring poisoning: the runtime's own critical sections never panic midway.
pub(crate) use crate::loom::lock_std as lock;

impl Shared {
    /// A new shared half, registered in the process-wide table of loops.
    pub(crate) fn new(
        loop_id: LoopId,
        eventfd: EventFd,
        driver: Driver,
        blocking: Pool,
        paused_clock: bool,
        probe_shared: Option<Arc<dyn std::any::Any + Send + Sync>>,
        stealer: Option<Stealer<Waiting>>,
    ) -> Arc<Shared> {
        let shared = Arc::new(Shared {
            id: NEXT_LOOP_ID.fetch_add(1, Relaxed),
            loop_id,
            group: OnceLock::new(),
            incoming: AtomicU64::new(0),
            stealer,
            paused: paused_clock,
            virtual_idle: IdleFlag::default(),
            virtual_deadline: AtomicU64::new(u64::MAX),
            remote: Mutex::new(Remote::default()),
            doorbell: Doorbell::new(),
            eventfd,
            driver,
            blocking,
            metrics: PublishedMetrics::new(),
            arena: Arena::new(),
            polling: PollingNow::new(),
            probe_shared,
            running: AtomicBool::new(false),
            names: Mutex::new(HashMap::new()),
        });
        lock(&LOOPS)
            .get_or_insert_with(HashMap::new)
            .insert(shared.id, Arc::downgrade(&shared));
        if paused_clock {
            // A virtual clock waits while blocking work runs; the pool says when the last job ends.
            let waiting = Arc::downgrade(&shared);
            shared.blocking.on_idle(move || {
                if let Some(shared) = waiting.upgrade() {
                    shared.unpark();
                }
            });
        }
        shared
    }

    /// The loop's id.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Which loop of its runtime this is.
    pub(crate) fn loop_id(&self) -> LoopId {
        self.loop_id
    }

    /// Every loop of the runtime, if it has more than one.
    pub(crate) fn group(&self) -> Option<&Arc<Group>> {
        self.group.get()
    }

    /// Joins the loop to its runtime's group (once, when every loop is built).
    pub(crate) fn set_group(&self, group: Arc<Group>) {
        let _ = self.group.set(group);
    }

    /// How busy the loop is: live tasks at its latest turn plus tasks handed in and not yet taken.
    pub(crate) fn load(&self) -> u64 {
        // Acquire pairs with `took_incoming`: seeing tasks leave `incoming` means seeing them counted as live.
        let incoming = self.incoming.load(Acquire);
        let waiting = self.stealer.as_ref().map_or(0, Stealer::len) as u64;
        self.metrics.tasks_alive() + incoming + waiting
    }

    /// How other loops take tasks waiting here, if this loop lets them (`Builder::steal`).
    pub(crate) fn stealer(&self) -> Option<&Stealer<Waiting>> {
        self.stealer.as_ref()
    }

    /// The loop took in `count` tasks spawned from other threads.
    pub(crate) fn took_incoming(&self, count: usize) {
        self.incoming.fetch_sub(count as u64, Release);
    }

    /// The loop goes idle on its group's shared virtual clock, its next deadline `next` (rules 1 and 2).
    pub(crate) fn enter_virtual_idle(&self, group: &Group, next: Option<u64>) {
        self.virtual_deadline
            .store(next.unwrap_or(u64::MAX), SeqCst);
        self.virtual_idle.enter(group.idle_count());
    }

    /// The loop is not idle any more, if it was counted (by itself, or by a thread handing it work: rule 1).
    pub(crate) fn leave_virtual_idle(&self) {
        if let Some(group) = self.group() {
            self.virtual_idle.leave(group.idle_count());
        }
    }

    /// The deadline published by [`enter_virtual_idle`](Self::enter_virtual_idle).
    pub(crate) fn virtual_deadline(&self) -> u64 {
        self.virtual_deadline.load(SeqCst)
    }

    /// Finds a live loop by id.
    pub(crate) fn find(id: u64) -> Option<Arc<Shared>> {
        lock(&LOOPS).as_ref()?.get(&id)?.upgrade()
    }

    /// Runs `push` on the remote queue and wakes the loop; if the loop has shut down, `push` is not run and its
    /// captures are dropped here.
    pub(crate) fn push_remote(&self, push: impl FnOnce(&mut Remote)) -> bool {
        let mut remote = lock(&self.remote);
        if remote.closed {
            drop(remote);
            return false;
        }
        push(&mut remote);
        // Still under the lock: what was pushed may be all that keeps `self` alive (see `schedule`).
        if self.doorbell.pushed() {
            self.eventfd.notify();
        }
        if self.paused {
            // Rule 2 of the shared virtual clock: the push, then the flag.
            self.leave_virtual_idle();
        }
        drop(remote);
        true
    }

    /// Whether the loop has shut down (its remote queue is closed).
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.remote).closed
    }

    /// Wakes the loop if it is parked (runtime invariant 2).
    pub(crate) fn unpark(&self) {
        if self.doorbell.wake() {
            self.eventfd.notify();
        }
    }

    /// The loop announces it is about to park (runtime invariant 2); it must re-check its queues afterwards.
    pub(crate) fn announce_park(&self) {
        self.doorbell.announce_park();
    }

    /// The loop is awake again.
    pub(crate) fn announce_awake(&self) {
        self.doorbell.announce_awake();
    }

    /// Takes everything other threads handed in, if anything.
    pub(crate) fn take_remote(&self, into: &mut Remote, parking: bool) {
        if !self.doorbell.take_pending(parking) {
            return;
        }
        let mut remote = lock(&self.remote);
        std::mem::swap(&mut remote.woken, &mut into.woken);
        std::mem::swap(&mut remote.spawned, &mut into.spawned);
        std::mem::swap(&mut remote.waiting, &mut into.waiting);
        std::mem::swap(&mut remote.orphan_sources, &mut into.orphan_sources);
        std::mem::swap(&mut remote.visits, &mut into.visits);
    }

    /// Closes the remote queue at shutdown and returns what was in it; from now on nothing is accepted.
    pub(crate) fn close(&self) -> Remote {
        let mut remote = lock(&self.remote);
        let taken = Remote {
            woken: std::mem::take(&mut remote.woken),
            spawned: std::mem::take(&mut remote.spawned),
            waiting: std::mem::take(&mut remote.waiting),
            orphan_sources: std::mem::take(&mut remote.orphan_sources),
            visits: std::mem::take(&mut remote.visits),
            closed: true,
        };
        remote.closed = true;
        taken
    }

    /// Spawns a `Send` task from any thread; `stealable`: it waits in the loop's queue that other loops take
    /// from (`Builder::steal`).
    pub(crate) fn spawn_remote<F>(
        self: &Arc<Self>,
        future: F,
        location: &'static Location<'static>,
        stealable: bool,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (registry_ref, queue_ref, handle) =
            raw::new_task(future, Some(self.clone()), false, Id::next(), location);
        let mut refused = Some((registry_ref, queue_ref));
        self.push_remote(|remote| {
            let task = refused.take();
            if stealable && self.stealer.is_some() {
                remote
                    .waiting
                    .extend(task.map(|(registry, queue)| Waiting { registry, queue }));
            } else {
                remote.spawned.extend(task);
            }
            self.incoming.fetch_add(1, Relaxed);
        });
        if let Some((registry_ref, queue_ref)) = refused {
            // The loop is gone: the task is cancelled without running, its future dropped here.
            // SAFETY: the future is Send and the task was never queued, so no other thread can reach its stage.
            let runner = unsafe { Runner::new() };
            let _ = registry_ref.shutdown(&runner);
            drop((registry_ref, queue_ref));
        }
        handle
    }

    /// Runs `function` on the blocking pool.
    pub(crate) fn spawn_blocking<F, T>(
        self: &Arc<Self>,
        function: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.blocking.spawn::<Shared, _, _>(function, location)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(loops) = lock(&LOOPS).as_mut() {
            loops.remove(&self.id);
        }
    }
}

/// The runtime's side of the seam with the task layer.
impl Owner for Shared {
    /// Pushes a woken task (holding its queue reference) to this loop: on the loop's own thread straight onto
    /// the run queue, with no lock; from elsewhere through the remote queue.
    ///
    /// Once the task is handed over, `self` is touched only under the remote lock: the task may be the last
    /// thing keeping this `Shared` alive (task rule 7), and the loop cannot drop it before the lock is released.
    #[inline]
    fn schedule(&self, task: TaskRef) {
        let task = context::with_core_of(self, |core| match core {
            Some(core) => {
                core.push_local(task);
                None
            }
            None => Some(task),
        });
        if let Some(task) = task {
            self.push_remote(|remote| remote.woken.push(task));
        }
    }

    #[inline]
    fn arena(&self) -> &Arena {
        &self.arena
    }

    #[inline]
    fn is_current(&self) -> bool {
        context::with_core_of(self, |core| core.is_some())
    }

    /// The panic goes under the policy of the loop on this thread (on stderr off a loop) and no further, so a
    /// handle dropped while its thread unwinds cannot abort the process.
    fn report_lost_panic(
        id: Id,
        spawned_at: &'static Location<'static>,
        payload: Box<dyn std::any::Any + Send>,
    ) {
        let task = crate::cell::TaskTitle(id, None);
        let what = format_args!(
            "the output of {task} (spawned at {spawned_at}) panicked in its destructor"
        );
        context::with_core(|core| match core {
            Some(core) => core.on_lost_panic(payload.as_ref(), what),
            None => super::report_lost_panic(payload.as_ref(), what),
        });
        crate::cell::drop_quietly(payload);
    }
}
