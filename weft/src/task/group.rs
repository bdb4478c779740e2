//! [`TaskGroup`]: a set of child tasks owned by one scope — asyncio's `TaskGroup`, a trio nursery, tokio's
//! `JoinSet`, in one type.
//!
//! Each child's future is wrapped in a [`Child`] whose last field, a [`Notifier`], runs when the task drops its
//! future — on completion, on a panic, on abort or at shutdown, whichever comes first — and appends the child's
//! slot to the group's *done queue*, then wakes the owner. [`TaskGroup::join_next`] pops the queue's front: O(1)
//! per completion, in completion order, with no scan over the children. Slots are reused once joined, so a
//! group holds memory for at most as many children as were ever alive at once.
//!
//! # Invariants
//!
//! 1. **A slot is queued at most once, and only by its child's `Notifier`**, when the child's future is
//!    dropped; the task is then about to complete on the same thread (before its loop polls anything else).
//! 2. **A slot is freed only by `join_next`**, after it took the slot's queued entry and its output — or by
//!    the group's drop. So a queued slot never names a newer child. (The one exception to a queued slot holding
//!    a handle: a spawn that panicked before storing it; `spawn` checks for a runtime first, so that does not
//!    happen in practice.)
//! 3. **A failing child of a fail-fast group aborts every other child once** (`failed` is set under the lock
//!    with the aborts); a child spawned after that is aborted at once.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use super::{AbortHandle, JoinError, JoinHandle};
use crate::cell::{Label, Op};

/// Whether a task's output counts as a failure, for [`TaskGroup::fail_fast`].
///
/// `Result` fails when it is `Err`; `()`, `bool`, the integers, `String`, `Option` and `Vec` never fail.
/// Implement it for your own output types:
///
/// ```
/// use weft::task::{Outcome, TaskGroup};
///
/// enum Probe { Up, Down }
///
/// impl Outcome for Probe {
///     fn is_failure(&self) -> bool {
///         matches!(self, Probe::Down)
///     }
/// }
///
/// weft::run(async {
///     let mut group = TaskGroup::new().fail_fast();
///     group.spawn(async { Probe::Down });
///     group.spawn(std::future::pending::<Probe>()); // aborted when the first probe fails
///     let results = group.join_all().await;
///     assert!(matches!(results[0], Ok(Probe::Down)));
///     assert!(results[1].as_ref().err().unwrap().is_cancelled());
/// });
/// ```
pub trait Outcome {
    /// True if this output should abort the child's siblings in a fail-fast group.
    fn is_failure(&self) -> bool;
}

impl<T, E> Outcome for Result<T, E> {
    fn is_failure(&self) -> bool {
        self.is_err()
    }
}

/// Implements a never-failing [`Outcome`] for each type.
macro_rules! never_fails {
    ($($ty:ty),* $(,)?) => {
        $(
            impl Outcome for $ty {
                fn is_failure(&self) -> bool {
                    false
                }
            }
        )*
    };
}

never_fails!(
    (),
    bool,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    String
);

impl<T> Outcome for Option<T> {
    fn is_failure(&self) -> bool {
        false
    }
}

impl<T> Outcome for Vec<T> {
    fn is_failure(&self) -> bool {
        false
    }
}

/// A set of child tasks that live no longer than their group.
///
/// [`spawn`](TaskGroup::spawn) starts a child on the current loop (it need not be `Send`);
/// [`join_next`](TaskGroup::join_next) yields each child's result in the order they finish. A child that
/// panics never takes the owner down: its panic is in its [`JoinError`]. **Dropping the group aborts every
/// child still running**: each stops at its bookmark, and by the loop's next turn its destructors have run.
///
/// ```
/// use std::time::Duration;
/// use weft::task::TaskGroup;
/// use weft::time::sleep;
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let mut group = TaskGroup::new();
///     for seconds in [3, 1, 2] {
///         group.spawn(async move {
///             sleep(Duration::from_secs(seconds)).await;
///             seconds
///         });
///     }
///     let mut order = Vec::new();
///     while let Some(result) = group.join_next().await {
///         order.push(result.unwrap());
///     }
///     assert_eq!(order, [1, 2, 3]); // completion order
/// });
/// ```
///
/// Memory: a group keeps one slot per child that has not been joined; joined slots are reused, so spawning and
/// joining children one after another forever uses constant memory.
pub struct TaskGroup<T> {
    /// Shared with every child's `Notifier`.
    shared: Arc<Shared<T>>,
    /// Vacant slots, reused last-in first-out. Only `spawn` and `join_next` (both `&mut self`) touch them, so
    /// they need no lock.
    vacant: Vec<u32>,
    /// How many slots exist (the next new slot's index).
    slots_made: u32,
    /// The group's key for the x-ray: its owner's `join_next` bookmark carries it, and the loop keeps it for
    /// each child, so a dump can say that the children are awaited by the owner (`TaskInfo::awaited_by`).
    key: u32,
}

/// The next group's key; keys wrap within a bookmark label's 24-bit argument, skipping its "too large" value.
static NEXT_KEY: AtomicU32 = AtomicU32::new(1);

/// A key for a new group (see [`TaskGroup::key`]).
fn next_key() -> u32 {
    NEXT_KEY.fetch_add(1, Relaxed) % ((1 << 24) - 1)
}

/// The group's state, shared with its children.
struct Shared<T> {
    /// Children and the done queue.
    state: Mutex<State<T>>,
    /// Set by [`TaskGroup::fail_fast`]: how to tell a failed output.
    is_failure: OnceLock<fn(&T) -> bool>,
}

/// What the lock protects.
struct State<T> {
    /// The children by slot.
    slots: Vec<Slot<T>>,
    /// Children spawned and not yet joined.
    len: usize,
    /// Slots whose child has finished, in completion order (rule 1).
    done: VecDeque<u32>,
    /// The owner, waiting in `join_next`.
    waker: Option<Waker>,
    /// A child of a fail-fast group failed: its siblings were aborted (rule 3).
    failed: bool,
}

/// One slot of the group.
enum Slot<T> {
    /// Free, or taken by a child being spawned (its handle not stored yet).
    Vacant,
    /// A child's handle.
    Child(JoinHandle<T>),
}

pin_project_lite::pin_project! {
    /// A child's future, with the notifier that tells the group when it is dropped.
    struct Child<F: Future> {
        #[pin]
        future: F,
        // Declared after the future: dropped after it, also when the future's destructor panics.
        notifier: Notifier<F::Output>,
    }
}

/// Queues its child's slot when dropped (rule 1).
struct Notifier<T> {
    /// The group.
    shared: Arc<Shared<T>>,
    /// The child's slot.
    slot: u32,
    /// True while the future is being polled: still true at drop time if the poll panicked.
    in_poll: bool,
    /// The future's output counted as a failure.
    failed: bool,
}

/// Locks the group state; a panic under the lock (none is expected: no user code runs there) leaves it usable.
fn lock<T>(shared: &Shared<T>) -> MutexGuard<'_, State<T>> {
    shared
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<F: Future> Future for Child<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.notifier.in_poll = true;
        let poll = this.future.poll(cx);
        this.notifier.in_poll = false;
        if let Poll::Ready(output) = &poll {
            if let Some(is_failure) = this.notifier.shared.is_failure.get() {
                this.notifier.failed = is_failure(output);
            }
        }
        poll
    }
}

impl<T> Drop for Notifier<T> {
    fn drop(&mut self) {
        // A panic in the poll leaves `in_poll` set; a panic in the future's destructor unwinds through here.
        let failed = self.failed || self.in_poll || std::thread::panicking();
        let mut state = lock(&self.shared);
        state.done.push_back(self.slot);
        if failed && self.shared.is_failure.get().is_some() && !state.failed {
            state.failed = true;
            for (slot, entry) in state.slots.iter().enumerate() {
                if let Slot::Child(handle) = entry {
                    if slot as u32 != self.slot {
                        handle.abort();
                    }
                }
            }
        }
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> TaskGroup<T> {
    /// An empty group.
    ///
    /// ```
    /// let group = weft::task::TaskGroup::<()>::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn new() -> TaskGroup<T> {
        TaskGroup {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    slots: Vec::new(),
                    len: 0,
                    done: VecDeque::new(),
                    waker: None,
                    failed: false,
                }),
                is_failure: OnceLock::new(),
            }),
            vacant: Vec::new(),
            slots_made: 0,
            key: next_key(),
        }
    }

    /// Makes the group fail fast: the first child that panics, or whose output
    /// [`is_failure`](Outcome::is_failure) (an `Err` for a `Result`), aborts all its siblings at once; they
    /// come out of `join_*` as cancelled. Children already finished keep their results. A child spawned after
    /// the failure is aborted at once.
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new().fail_fast();
    ///     group.spawn(async { Err::<u32, _>("disk full") });
    ///     group.spawn(async { std::future::pending::<()>().await; Ok(1) });
    ///     let first = group.join_next().await.unwrap().unwrap();
    ///     assert_eq!(first, Err("disk full"));
    ///     let second = group.join_next().await.unwrap();
    ///     assert!(second.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn fail_fast(self) -> TaskGroup<T>
    where
        T: Outcome,
    {
        let _ = self.shared.is_failure.set(<T as Outcome>::is_failure);
        self
    }

    /// Spawns `future` as a child of the group, on the current loop; it need not be `Send`. Returns a handle
    /// that can abort it (its result then comes out of `join_next` as cancelled).
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     let local = std::rc::Rc::new(2); // not Send, and that is fine
    ///     group.spawn(async move { *local * 21 });
    ///     let stuck = group.spawn(std::future::pending::<i32>());
    ///     stuck.abort();
    ///     let mut results = group.join_all().await;
    ///     results.sort_by_key(|result| result.is_err());
    ///     assert_eq!(*results[0].as_ref().unwrap(), 42);
    ///     assert!(results[1].as_ref().unwrap_err().is_cancelled());
    /// });
    /// ```
    ///
    /// # Panics
    /// Outside a runtime, like [`weft::spawn`](crate::spawn).
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.spawn_task(future, None, Location::caller())
    }

    /// Spawns `future` as a child named `name`, shown in x-ray dumps and reports (see
    /// [`task::Builder::name`](crate::cell::Builder::name)).
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     let child = group.spawn_named("fetcher", std::future::pending::<()>());
    ///     weft::task::yield_now().await;
    ///     let dump = weft::xray::dump();
    ///     let row = dump.tasks().iter().find(|task| task.id == child.id()).unwrap();
    ///     assert_eq!(row.name.as_deref(), Some("fetcher"));
    /// });
    /// ```
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn_named<F>(&mut self, name: impl Into<String>, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        let name: Arc<str> = Arc::from(name.into());
        self.spawn_task(future, Some(name), Location::caller())
    }

    /// Runs the blocking or CPU-heavy closure `function` on the runtime's blocking pool as a child of the group
    /// (see [`weft::spawn_blocking`](crate::spawn_blocking)). Aborting it only stops it if it has not started:
    /// a running closure cannot be interrupted.
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     for chunk in 0..4u64 {
    ///         group.spawn_blocking(move || (chunk * 1000..(chunk + 1) * 1000).sum::<u64>());
    ///     }
    ///     let total: u64 = group.join_all().await.into_iter().map(Result::unwrap).sum();
    ///     assert_eq!(total, (0..4000).sum::<u64>());
    /// });
    /// ```
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, function: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let location = Location::caller();
        if !on_a_runtime() {
            panic!(
                "TaskGroup::spawn_blocking called outside a runtime: wrap your code in weft::run or #[weft::main]"
            );
        }
        let (slot, mut notifier) = self.reserve();
        let function = move || {
            // As `Child::poll` does: a panic in `function` leaves `in_poll` set for the notifier's drop.
            notifier.in_poll = true;
            let output = function();
            notifier.in_poll = false;
            if let Some(is_failure) = notifier.shared.is_failure.get() {
                notifier.failed = is_failure(&output);
            }
            drop(notifier);
            output
        };
        let handle = crate::runtime::context::with_core(|core| {
            core.expect("checked above")
                .shared()
                .spawn_blocking(function, location)
        });
        self.store(slot, handle)
    }

    /// Spawns a child task; the common part of `spawn` and `spawn_named`.
    #[track_caller]
    fn spawn_task<F>(
        &mut self,
        future: F,
        name: Option<Arc<str>>,
        location: &'static Location<'static>,
    ) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        // Checked here, not in the closure below, so that the panic names the caller's line.
        if !on_a_runtime() {
            panic!(
                "TaskGroup::spawn called outside a runtime: wrap your code in weft::run or #[weft::main]"
            );
        }
        crate::runtime::context::with_core(|core| {
            let core = core.expect("checked above");
            let (slot, notifier) = self.reserve();
            let handle = core.spawn_local(Child { future, notifier }, name, location);
            core.join_group(handle.id(), self.key);
            self.store(slot, handle)
        })
    }

    /// Picks the slot for a new child (no lock: vacant slots are ours, rule 2) and its notifier.
    fn reserve(&mut self) -> (u32, Notifier<T>) {
        let slot = match self.vacant.pop() {
            Some(slot) => slot,
            None => self.slots_made,
        };
        let notifier = Notifier {
            shared: self.shared.clone(),
            slot,
            in_poll: false,
            failed: false,
        };
        (slot, notifier)
    }

    /// Stores a new child's handle in its slot, under the one lock a spawn takes; aborts it at once if the group
    /// already failed (rule 3).
    fn store(&mut self, slot: u32, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let mut state = lock(&self.shared);
        if state.failed {
            handle.abort();
        }
        if slot == self.slots_made {
            state.slots.push(Slot::Child(handle));
            self.slots_made = slot
                .checked_add(1)
                .expect("a TaskGroup of more than 4 billion children");
        } else {
            state.slots[slot as usize] = Slot::Child(handle);
        }
        state.len += 1;
        abort
    }

    /// Waits for the next child to finish and returns its result; `None` once the group is empty. Results come
    /// in completion order; each costs O(1), however many children the group has.
    ///
    /// Cancel safety: dropping the future loses nothing; the result stays in the group for the next call.
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     group.spawn(async { panic!("boom") });
    ///     let error = group.join_next().await.unwrap().unwrap_err();
    ///     assert!(error.is_panic()); // the owner goes on
    ///     assert!(group.join_next().await.is_none());
    /// });
    /// ```
    #[track_caller]
    pub fn join_next(&mut self) -> JoinNext<'_, T> {
        JoinNext {
            group: self,
            location: Location::caller(),
        }
    }

    /// Polls for the next finished child: `Ready(None)` when the group is empty, `Pending` (after registering
    /// `cx`'s waker) while every child is still running. The building block of [`join_next`](Self::join_next).
    ///
    /// ```
    /// use std::task::Poll;
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::<u8>::new();
    ///     let empty = std::future::poll_fn(|cx| group.poll_join_next(cx)).await;
    ///     assert!(empty.is_none());
    /// });
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        let mut state = lock(&self.shared);
        loop {
            let Some(&slot) = state.done.front() else {
                if state.len == 0 {
                    return Poll::Ready(None);
                }
                match &state.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => state.waker = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            };
            let Some(Slot::Child(handle)) = state.slots.get_mut(slot as usize) else {
                // Only a child whose spawn panicked before its handle was stored (rule 2): nothing to join.
                state.done.pop_front();
                continue;
            };
            // Complete already (rule 1), unless the group is polled from another thread than its children's loop
            // and caught the task between dropping its future and completing; then the handle keeps our waker
            // and the slot stays at the front. The handle may also step aside for the budget.
            let Poll::Ready(result) = Pin::new(handle).poll(cx) else {
                return Poll::Pending;
            };
            state.done.pop_front();
            let entry = std::mem::replace(&mut state.slots[slot as usize], Slot::Vacant);
            state.len -= 1;
            drop(state);
            self.vacant.push(slot);
            drop(entry);
            return Poll::Ready(Some(result));
        }
    }

    /// Returns the result of a child that has finished, if any, without waiting.
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     group.spawn(async { 7 });
    ///     assert!(group.try_join_next().is_none()); // not run yet
    ///     weft::task::yield_now().await;
    ///     assert_eq!(group.try_join_next().unwrap().unwrap(), 7);
    /// });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        let waker = noop_waker();
        match self.poll_join_next(&mut Context::from_waker(&waker)) {
            Poll::Ready(result) => result,
            Poll::Pending => None,
        }
    }

    /// Waits for every child and returns their results in completion order; the group is empty afterwards.
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     for i in 0..10 {
    ///         group.spawn(async move { i });
    ///     }
    ///     let mut all: Vec<i32> = group.join_all().await.into_iter().map(Result::unwrap).collect();
    ///     all.sort();
    ///     assert_eq!(all, (0..10).collect::<Vec<_>>());
    ///     assert!(group.is_empty());
    /// });
    /// ```
    pub async fn join_all(&mut self) -> Vec<Result<T, JoinError>> {
        let mut results = Vec::with_capacity(self.len());
        while let Some(result) = self.join_next().await {
            results.push(result);
        }
        results
    }

    /// Aborts every child still running; each stops at its next bookmark and comes out of `join_next` as
    /// cancelled. Children that already finished keep their results. The group stays usable.
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     for _ in 0..3 {
    ///         group.spawn(std::future::pending::<()>());
    ///     }
    ///     group.abort_all();
    ///     let results = group.join_all().await;
    ///     assert!(results.iter().all(|result| result.as_ref().unwrap_err().is_cancelled()));
    /// });
    /// ```
    pub fn abort_all(&self) {
        let state = lock(&self.shared);
        for entry in &state.slots {
            if let Slot::Child(handle) = entry {
                handle.abort();
            }
        }
    }

    /// Aborts every child and waits until all of them have stopped (their destructors have run); their results
    /// are dropped. The group is empty and usable afterwards.
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     group.spawn(std::future::pending::<()>());
    ///     group.spawn(async {});
    ///     group.shutdown().await;
    ///     assert!(group.is_empty());
    /// });
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// How many children were spawned and not yet joined (running or finished).
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     group.spawn(async {});
    ///     group.spawn(async {});
    ///     assert_eq!(group.len(), 2);
    ///     group.join_next().await;
    ///     assert_eq!(group.len(), 1);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.shared).len
    }

    /// True when every child has been joined (or none was spawned).
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     assert!(group.is_empty());
    ///     group.spawn(async {});
    ///     assert!(!group.is_empty());
    ///     group.join_all().await;
    ///     assert!(group.is_empty());
    /// });
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many child slots the group has allocated: the most children it ever held at once, not how many it
    /// ever spawned (joined slots are reused).
    ///
    /// ```
    /// use weft::task::TaskGroup;
    ///
    /// weft::run(async {
    ///     let mut group = TaskGroup::new();
    ///     for i in 0..1000 {
    ///         group.spawn(async move { i });
    ///         group.join_next().await.unwrap().unwrap();
    ///     }
    ///     assert_eq!(group.capacity(), 1);
    /// });
    /// ```
    pub fn capacity(&self) -> usize {
        lock(&self.shared).slots.len()
    }
}

/// The future returned by [`TaskGroup::join_next`]. While it waits, its task's bookmark is the line that called
/// `join_next`, labelled "TaskGroup::join_next".
///
/// ```
/// use weft::task::{JoinNext, TaskGroup};
///
/// weft::run(async {
///     let mut group = TaskGroup::new();
///     group.spawn(async { 'x' });
///     let next: JoinNext<'_, char> = group.join_next();
///     assert_eq!(next.await.unwrap().unwrap(), 'x');
/// });
/// ```
#[must_use = "futures do nothing unless you .await them"]
pub struct JoinNext<'a, T> {
    /// The group.
    group: &'a mut TaskGroup<T>,
    /// Where `join_next` was called.
    location: &'static Location<'static>,
}

impl<T> Future for JoinNext<'_, T> {
    type Output = Option<Result<T, JoinError>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let poll = self.group.poll_join_next(cx);
        if poll.is_pending() {
            crate::cell::bookmark(self.location, Label::number(Op::GroupJoin, self.group.key));
        }
        poll
    }
}

impl<T> fmt::Debug for JoinNext<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinNext")
            .field("group", &self.group)
            .finish()
    }
}

/// A waker that does nothing (`Waker::noop` needs a newer Rust than the crate's minimum).
fn noop_waker() -> Waker {
    /// Does nothing when woken.
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    thread_local! {
        static NOOP: Waker = Waker::from(Arc::new(Noop));
    }
    NOOP.with(Waker::clone)
}

impl<T> Default for TaskGroup<T> {
    fn default() -> TaskGroup<T> {
        TaskGroup::new()
    }
}

impl<T> Drop for TaskGroup<T> {
    fn drop(&mut self) {
        let slots = std::mem::take(&mut lock(&self.shared).slots);
        for entry in &slots {
            if let Slot::Child(handle) = entry {
                handle.abort();
            }
        }
        // Outputs of finished children are dropped here, outside the lock.
        drop(slots);
    }
}

impl<T> fmt::Debug for TaskGroup<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared);
        f.debug_struct("TaskGroup")
            .field("len", &state.len)
            .field("finished", &state.done.len())
            .field("fail_fast", &self.shared.is_failure.get().is_some())
            .field("failed", &state.failed)
            .finish()
    }
}

/// True when a loop runs on this thread (spawning needs one).
fn on_a_runtime() -> bool {
    crate::runtime::context::with_core(|core| core.is_some())
}
