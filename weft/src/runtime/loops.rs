//! Many loops in one runtime (thread-per-core): their ids, the group every loop can reach, and the worker threads
//! that run loops 1.. (loop 0 runs in the thread that calls `block_on`).
//!
//! Each loop is complete on its own — run queue, registry, timer wheel, driver, arena — so spawning, waking and
//! polling on a loop's own thread touch no lock and no atomic another loop writes. Loops meet only where a task
//! crosses: `Handle::spawn_on`, a wake from another loop's thread, and both go through the target's remote queue.
//!
//! "Busy", for [`Handle::spawn`](super::Handle::spawn) with several loops, is a loop's live tasks as it published
//! them at the end of its latest turn, plus the tasks handed to it from other threads that it has not taken in
//! yet. It is read with relaxed loads and may be a turn stale: placement only needs to be roughly fair.
//!
//! # The shared virtual clock
//!
//! With `start_paused`, every loop reads one virtual time. It moves only when every loop is idle (nothing ready,
//! no blocking work in flight); then it jumps to the earliest timer deadline of all loops, and the loops whose
//! deadline that is are woken. Each loop counts itself idle in [`Group`]'s count before it parks and uncounts
//! itself when it wakes; these rules keep "every loop is idle" from being seen while some loop has work:
//!
//! 1. A loop that goes idle first publishes its next deadline, then adds itself to the count, then sets its
//!    `virtual_idle` flag; only the flag's owner or one pusher that swaps it from `true` to `false` removes it from
//!    the count again (so it is removed exactly once).
//! 2. After setting its flag, the loop looks at its remote queue once more; a thread that hands it work pushes
//!    first and then swaps the flag. All four steps are sequentially consistent read-modify-writes, so either the
//!    loop sees the work, or the pusher sees the flag and uncounts it: handed-in work is never left behind a
//!    counted loop (`runtime::idle`, checked by loom).
//! 3. A loop hands work to another before it goes idle itself (program order on its thread), so by rule 2 the
//!    receiver is uncounted before the sender is counted: a count that reaches the number of loops means that
//!    every loop really had nothing to do.

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Poll, Waker};
use std::thread;
use std::time::Instant;

use super::event_loop::Core;
use super::idle::IdleCount;
use super::shared::lock;
use super::steal::{HungryFlags, WaitQueue, Waiting};
use super::{Builder, Shared};
use crate::blocking::Pool;
use crate::sys::cpu;
use crate::time::VirtualTime;
use crossbeam_deque::Stealer;

/// Which loop of a runtime: `0` runs `block_on`, the others run on threads of their own.
///
/// ```
/// let runtime = weft::Builder::new().loops(2).build().unwrap();
/// let loops = runtime.handle().loops();
/// assert_eq!(loops.len(), 2);
/// assert_eq!(loops[1].index(), 1);
/// assert_eq!(loops[1].to_string(), "loop 1");
/// assert_eq!(runtime.block_on(async { weft::current_loop() }), loops[0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoopId(u32);

impl LoopId {
    /// The loop with this index.
    pub(crate) fn new(index: usize) -> LoopId {
        LoopId(u32::try_from(index).expect("fewer than 2^32 loops"))
    }

    /// The loop's index in its runtime, from 0 (the loop that runs `block_on`) to `loops() - 1`.
    ///
    /// ```
    /// weft::run(async { assert_eq!(weft::current_loop().index(), 0) });
    /// ```
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for LoopId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loop {}", self.0)
    }
}

/// Every loop of a runtime with more than one, reachable from each loop's shared half. Holds them weakly, so
/// that the group is no cycle: a loop whose runtime is gone is simply not found.
#[derive(Debug)]
pub(crate) struct Group {
    /// The loops by index.
    loops: Box<[Weak<Shared>]>,
    /// Set when a worker loop stopped under `UnhandledPanic::ShutdownRuntime`: the runtime's `block_on` panics.
    shutdown_requested: AtomicBool,
    /// Loops idle on the shared virtual clock (see the module docs).
    virtual_idle: IdleCount,
    /// Whether loops take each other's waiting tasks (`Builder::steal`).
    steal: bool,
    /// Each loop's queue of waiting tasks, by index, as other loops take from it (empty without steal).
    stealers: Box<[Stealer<Waiting>]>,
    /// Loops parked hungry for other loops' waiting tasks (`runtime::steal`, invariant 3).
    hungry: HungryFlags,
}

impl Group {
    /// A group of `loops`, in index order; `steal`: they take each other's waiting tasks.
    pub(crate) fn new(loops: &[Arc<Shared>], steal: bool) -> Group {
        Group {
            loops: loops.iter().map(Arc::downgrade).collect(),
            shutdown_requested: AtomicBool::new(false),
            virtual_idle: IdleCount::default(),
            steal,
            stealers: loops
                .iter()
                .filter_map(|shared| shared.stealer().cloned())
                .collect(),
            hungry: HungryFlags::new(loops.len()),
        }
    }

    /// Whether loops take each other's waiting tasks (`Builder::steal`).
    pub(crate) fn steals(&self) -> bool {
        self.steal
    }

    /// Which loops are parked hungry for other loops' waiting tasks.
    pub(crate) fn hungry(&self) -> &HungryFlags {
        &self.hungry
    }

    /// Takes half of the waiting tasks of the first other loop that has some, looking from the loop after
    /// `thief` round the group, into `queue`; returns one of them to run now.
    pub(crate) fn steal_for(&self, thief: LoopId, queue: &WaitQueue) -> Option<Waiting> {
        let count = self.stealers.len();
        (1..count)
            .map(|offset| (thief.index() + offset) % count)
            .find_map(|index| queue.steal_from(&self.stealers[index]))
    }

    /// Loop `from` has tasks waiting for their first poll: wakes one loop parked hungry, if there is one. (One
    /// load of the count when none is; the caller fences first where a missed wake would cost a turn,
    /// `runtime::steal` invariant 3.)
    pub(crate) fn wake_hungry(&self, from: LoopId) {
        let hungry = self.hungry.take_one(from.index());
        if let Some(shared) = hungry.and_then(|index| self.loops[index].upgrade()) {
            shared.unpark();
        }
    }

    /// The count of loops idle on the shared virtual clock (rule 1).
    pub(crate) fn idle_count(&self) -> &IdleCount {
        &self.virtual_idle
    }

    /// Whether every loop is idle on the shared virtual clock.
    pub(crate) fn all_idle(&self) -> bool {
        self.virtual_idle.all(self.loops.len())
    }

    /// The earliest timer deadline any loop published when it went idle, if any loop has a timer.
    pub(crate) fn earliest_virtual_deadline(&self) -> Option<u64> {
        self.live()
            .iter()
            .map(|shared| shared.virtual_deadline())
            .min()
            .filter(|&earliest| earliest != u64::MAX)
    }

    /// Wakes every loop whose deadline is `now` or earlier, after the clock jumped to `now`.
    pub(crate) fn wake_due(&self, now: u64) {
        for shared in self.live() {
            if shared.virtual_deadline() <= now {
                shared.unpark();
            }
        }
    }

    /// A worker loop stopped under `UnhandledPanic::ShutdownRuntime`: wake loop 0, whose `block_on` then panics.
    fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Relaxed);
        if let Some(first) = self.loops.first().and_then(Weak::upgrade) {
            first.unpark();
        }
    }

    /// Whether a worker loop asked the runtime to stop.
    pub(crate) fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Relaxed)
    }

    /// Every loop's id.
    pub(crate) fn ids(&self) -> Vec<LoopId> {
        (0..self.loops.len()).map(LoopId::new).collect()
    }

    /// The loop `id`, if it is alive.
    ///
    /// # Panics
    /// If the runtime has no such loop.
    #[track_caller]
    pub(crate) fn get(&self, id: LoopId) -> Option<Arc<Shared>> {
        let Some(found) = self.loops.get(id.index()) else {
            panic!("weft: no {id} in a runtime of {} loops", self.loops.len());
        };
        found.upgrade()
    }

    /// Every live loop, in index order.
    pub(crate) fn live(&self) -> Vec<Arc<Shared>> {
        self.loops.iter().filter_map(Weak::upgrade).collect()
    }

    /// The live loop with the least work (see the module docs), the lowest index on a tie.
    pub(crate) fn least_busy(&self) -> Option<Arc<Shared>> {
        self.loops
            .iter()
            .filter_map(Weak::upgrade)
            .min_by_key(|shared| shared.load())
    }
}

/// Tells the worker loops to stop, and when the deadline for their shutdown is.
#[derive(Debug, Default)]
struct Stop {
    /// `Some(deadline)` once a stop was asked for; the wakers of the workers' waits until then.
    state: Mutex<(Option<Option<Instant>>, Vec<Waker>)>,
}

impl Stop {
    /// Asks every worker to stop, shutting down by `deadline` (none: wait for every blocking job).
    fn request(&self, deadline: Option<Instant>) {
        let wakers = {
            let mut state = lock(&self.state);
            state.0.get_or_insert(deadline);
            std::mem::take(&mut state.1)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Waits until a stop is asked for; returns the shutdown's deadline.
    async fn wait(&self) -> Option<Instant> {
        std::future::poll_fn(|cx| {
            let mut state = lock(&self.state);
            match state.0 {
                Some(deadline) => Poll::Ready(deadline),
                None => {
                    state.1.push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

/// The threads running loops 1.. of a runtime.
#[derive(Debug)]
pub(crate) struct Workers {
    /// Their threads, joined at shutdown.
    threads: Vec<thread::JoinHandle<()>>,
    /// How they are told to stop.
    stop: Arc<Stop>,
}

impl Workers {
    /// Starts loops `1..count`, pinning loop `i` to `cpus[i]` if `cpus` is given, sharing `pool`; returns them
    /// with their shared halves, once every loop is built (or the first error, after stopping those started).
    pub(crate) fn start(
        builder: &Builder,
        count: usize,
        cpus: Option<&[usize]>,
        pool: &Pool,
        virtual_time: Option<&VirtualTime>,
    ) -> io::Result<(Workers, Vec<Arc<Shared>>)> {
        let mut workers = Workers {
            threads: Vec::with_capacity(count.saturating_sub(1)),
            stop: Arc::new(Stop::default()),
        };
        let mut shared = Vec::with_capacity(count.saturating_sub(1));
        for index in 1..count {
            let (ready, built) = mpsc::channel();
            let builder = builder.clone();
            let pool = pool.clone();
            let virtual_time = virtual_time.cloned();
            let stop = workers.stop.clone();
            let cpu = cpus.map(|cpus| cpus[index % cpus.len()]);
            let spawned = thread::Builder::new()
                .name(format!("weft-loop-{index}"))
                .spawn(move || {
                    let id = LoopId::new(index);
                    run_worker(&builder, id, cpu, (pool, virtual_time), &ready, &stop);
                });
            let started = spawned.and_then(|thread| {
                workers.threads.push(thread);
                built
                    .recv()
                    .unwrap_or_else(|_| Err(io::Error::other("a loop thread died while starting")))
            });
            match started {
                Ok(loop_shared) => shared.push(loop_shared),
                Err(error) => {
                    workers.stop(None);
                    return Err(error);
                }
            }
        }
        Ok((workers, shared))
    }

    /// Tells every worker to shut its loop down by `deadline`.
    pub(crate) fn request_stop(&self, deadline: Option<Instant>) {
        self.stop.request(deadline);
    }

    /// Waits for every worker to finish (after [`request_stop`](Self::request_stop)).
    pub(crate) fn join(&mut self) {
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    /// Tells every worker to shut its loop down by `deadline`, and waits for them.
    fn stop(&mut self, deadline: Option<Instant>) {
        self.request_stop(deadline);
        self.join();
    }
}

/// A worker thread: builds its loop, reports it, runs it until told to stop, then shuts it down here, on the
/// thread its tasks belong to.
fn run_worker(
    builder: &Builder,
    id: LoopId,
    cpu: Option<usize>,
    (pool, virtual_time): (Pool, Option<VirtualTime>),
    ready: &mpsc::Sender<io::Result<Arc<Shared>>>,
    stop: &Stop,
) {
    if let Some(cpu) = cpu {
        if let Err(error) = cpu::pin_current_thread(cpu) {
            let _ = ready.send(Err(io::Error::new(
                error.kind(),
                format!("weft: could not pin {id} to CPU {cpu}: {error}"),
            )));
            return;
        }
    }
    let core = match Core::new(builder, id, pool, virtual_time) {
        Ok(core) => core,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    let _ = ready.send(Ok(core.shared().clone()));
    // `block_on` panics only under `UnhandledPanic::ShutdownRuntime` (said on stderr by then): the whole runtime
    // stops, so this loop shuts down now and the loop running the runtime's `block_on` is told to panic too.
    let deadline = match panic::catch_unwind(AssertUnwindSafe(|| core.block_on(stop.wait()))) {
        Ok(deadline) => deadline,
        Err(_) => {
            if let Some(group) = core.shared().group() {
                group.request_shutdown();
            }
            None
        }
    };
    core.shutdown(deadline);
}

/// The task [`Handle::spawn_on_each`](super::Handle::spawn_on_each) places on each loop: once there, it builds the
/// user's future with `make` (so that future need not be `Send`), spawns it on that loop, and hands its output
/// (or panic) through. Dropping or aborting it aborts the inner task.
pub(crate) struct OnLoop<M, T> {
    /// The loop it runs on.
    id: LoopId,
    /// Builds the future; taken on the first poll.
    make: Option<Arc<M>>,
    /// The inner task once spawned.
    inner: Option<crate::cell::JoinHandle<T>>,
    /// The line that called `spawn_on_each`, for the inner task's spawn location.
    location: &'static std::panic::Location<'static>,
}

impl<M, T> OnLoop<M, T> {
    /// A task that will build its future with `make(id)` on loop `id`.
    pub(crate) fn new(
        id: LoopId,
        make: Arc<M>,
        location: &'static std::panic::Location<'static>,
    ) -> OnLoop<M, T> {
        OnLoop {
            id,
            make: Some(make),
            inner: None,
            location,
        }
    }
}

// Nothing is pinned structurally: `make` is an Arc and `inner` a handle.
impl<M, T> Unpin for OnLoop<M, T> {}

impl<M, Fut> std::future::Future for OnLoop<M, Fut::Output>
where
    M: Fn(LoopId) -> Fut,
    Fut: std::future::Future + 'static,
    Fut::Output: 'static,
{
    type Output = Fut::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Fut::Output> {
        let this = &mut *self;
        if let Some(make) = this.make.take() {
            let future = make(this.id);
            let location = this.location;
            let inner = super::context::with_core(|core| {
                core.expect("OnLoop runs on its loop")
                    .spawn_local(future, None, location)
            });
            this.inner = Some(inner);
        }
        let inner = this.inner.as_mut().expect("spawned on the first poll");
        match std::pin::Pin::new(inner).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(output)) => {
                this.inner = None;
                Poll::Ready(output)
            }
            Poll::Ready(Err(error)) => {
                this.inner = None;
                match error.try_into_panic() {
                    Ok(payload) => panic::resume_unwind(payload),
                    // Only a runtime shutting down cancels the inner task (nobody else holds its handle), and it
                    // cancels this task as well: wait for that.
                    Err(_) => Poll::Pending,
                }
            }
        }
    }
}

impl<M, T> Drop for OnLoop<M, T> {
    fn drop(&mut self) {
        if let Some(inner) = &self.inner {
            inner.abort();
        }
    }
}
