//! The task cell: one allocation holding a [`Header`] and the task's stage (its future, then its output).
//!
//! Everything that touches the cell without knowing the future's type goes through the [`Vtable`], whose
//! functions are instantiated once per future type. A [`TaskRef`] owns one reference to a cell.

use std::alloc::{self, Layout};
use std::any::Any;
use std::cell::UnsafeCell;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::arena::Arena;
use super::error::{self, JoinError};
use super::id::Id;
use super::owner::Owner;
use super::runner::Runner;
use super::state::{Outcome, PopTransition, ScheduleTransition, State};
use super::stats::TaskStats;
use super::JoinHandle;

/// The type-erased part of a task, at the start of every cell.
#[repr(C)]
pub(crate) struct Header {
    /// Flags and reference count; see [`super::state`].
    pub(crate) state: State,
    /// Functions that know the future's type.
    vtable: &'static Vtable,
    /// The task's id, unique in the process.
    pub(crate) id: Id,
    /// Where the task was spawned.
    pub(crate) spawned_at: &'static Location<'static>,
    /// The join side's waker (rule 3).
    join_waker: UnsafeCell<Option<Waker>>,
    /// Bookmark and poll statistics (rule 8).
    pub(crate) stats: TaskStats,
}

/// A whole task owned by a loop of type `S`: header first (so a `*Header` is a `*Cell`), then the slot.
#[repr(C)]
struct Cell<F: Future, S> {
    /// The type-erased part.
    header: Header,
    /// The future while the task runs, then its output (rules 1 and 2). Which one it holds is told by the
    /// state word, not by a tag of its own: not `COMPLETE` — the future; `COMPLETE | OUTPUT` without
    /// `CONSUMED` — the output; otherwise nothing. Keeping the tag out of the slot saves 8 bytes a task.
    slot: UnsafeCell<Slot<F>>,
    /// The owner's type: its pointer is kept outside the cell (rule 7).
    owner: PhantomData<fn() -> S>,
}

/// The future, or its output, in the same bytes.
union Slot<F: Future> {
    /// Before completion.
    future: ManuallyDrop<F>,
    /// After completion with an output.
    output: ManuallyDrop<F::Output>,
}

/// Functions that know the future's type.
pub(crate) struct Vtable {
    /// Polls the future once (rule 1); on completion stores the output and returns what the loop must know.
    poll: unsafe fn(NonNull<Header>) -> RunOutcome,
    /// Drops the future and completes the task as cancelled (rule 1).
    cancel: unsafe fn(NonNull<Header>) -> RunOutcome,
    /// Moves the output into `*mut Poll<Result<T, JoinError>>` (rule 2).
    read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops an output nobody will read (rule 2).
    drop_output: unsafe fn(NonNull<Header>),
    /// Frees the cell (rule 6).
    dealloc: unsafe fn(NonNull<Header>),
    /// Hands the task, scheduled, to its owner loop (for callers that do not know the owner's type: abort).
    schedule: unsafe fn(TaskRef),
}

/// What running a task from a queue did.
#[derive(Debug)]
pub(crate) enum RunOutcome {
    /// The future is waiting.
    Pending,
    /// The task completed. The registry still holds its reference (rule 5): `registry_slot` says where.
    /// `unhandled_panic` holds the payload of a panic that no `JoinHandle` will see.
    Completed {
        id: Id,
        registry_slot: u32,
        spawned_at: &'static Location<'static>,
        unhandled_panic: Option<Box<dyn Any + Send>>,
    },
    /// The task was already complete; nothing ran.
    Stale,
}

/// The outcome of a completion, read from the header while the registry still keeps it alive.
fn completed(header: &Header, unhandled_panic: Option<Box<dyn Any + Send>>) -> RunOutcome {
    RunOutcome::Completed {
        id: header.id,
        registry_slot: header.state.registry_slot(),
        spawned_at: header.spawned_at,
        unhandled_panic,
    }
}

/// Runs `drop`, which drops a task's output or panic payload; a panic in a destructor there is reported like
/// an unhandled panic instead of unwinding into whoever let go of the task (a `JoinHandle` dropped while its
/// thread unwinds would abort the process; a waker may be dropped anywhere).
fn drop_reporting_panic<S: Owner>(header: &Header, drop: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(drop)) {
        S::report_lost_panic(header.id, header.spawned_at, payload);
    }
}

/// An owned reference to a task cell.
pub(crate) struct TaskRef {
    /// The cell's header; we own one of its references.
    ptr: NonNull<Header>,
}

// SAFETY: the header's shared fields are atomics or immutable; the stage is only touched under rules 1 and 2,
// which do not depend on which thread holds a reference.
unsafe impl Send for TaskRef {}
// SAFETY: as for Send: a shared `&TaskRef` only gives access to atomics and immutable fields.
unsafe impl Sync for TaskRef {}

impl std::fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRef")
            .field("id", &self.header().id)
            .finish()
    }
}

impl Header {
    /// Records the task's index in its owner loop's registry.
    pub(crate) fn set_registry_slot(&self, slot: u32) {
        self.state.set_registry_slot(slot);
    }
}

/// Creates a scheduled, joinable task: returns the registry's reference (rule 5; for a blocking task, the
/// reference its pool thread keeps while running it), the queue's reference (rule 4) and the join handle.
///
/// `on_owner_thread`: the caller is the owner loop's thread, so the cell may come from the loop's arena.
pub(crate) fn new_task<F, S>(
    future: F,
    owner: Option<Arc<S>>,
    on_owner_thread: bool,
    id: Id,
    spawned_at: &'static Location<'static>,
) -> (TaskRef, TaskRef, JoinHandle<F::Output>)
where
    F: Future,
    S: Owner,
{
    let ptr = allocate(future, owner, on_owner_thread, id, spawned_at, 3);
    // SAFETY: `allocate` created three references; each value below takes one. The handle gets the join
    // interest and the output type is F::Output.
    unsafe {
        (
            TaskRef::from_raw(ptr),
            TaskRef::from_raw(ptr),
            JoinHandle::from_raw(ptr),
        )
    }
}

/// A task whose future is `Send`, taken and run by whichever thread pops it (a blocking-pool job). It holds the
/// queue's reference (rule 4). Running or cancelling it needs no [`Runner`]: nothing in its stage is tied to a
/// thread, and being one value, consumed by `run`, it is polled by one thread at a time — so rule 1 holds for the
/// thread that has it.
pub(crate) struct SendTask(TaskRef);

impl SendTask {
    /// Polls the task (once: a blocking job completes in its one poll) or drops its future if it was aborted.
    pub(crate) fn run(self) -> RunOutcome {
        // SAFETY: the future is Send (`new_send_task`) and this value, the only handle that may poll it, is here.
        let runner = unsafe { Runner::new() };
        self.0.run(&runner)
    }

    /// Drops the future of a task that never ran (a job refused or dropped from the queue at shutdown).
    pub(crate) fn shutdown(&self) -> RunOutcome {
        // SAFETY: as in `run`.
        let runner = unsafe { Runner::new() };
        self.0.shutdown(&runner)
    }
}

/// Creates a scheduled, joinable task with no owner loop, for a `Send` future: returns the reference that keeps
/// the cell alive while it runs (the stand-in for a registry's, rule 5), the queue's reference as a [`SendTask`]
/// and the join handle.
pub(crate) fn new_send_task<F, S>(
    future: F,
    id: Id,
    spawned_at: &'static Location<'static>,
) -> (TaskRef, SendTask, JoinHandle<F::Output>)
where
    F: Future + Send,
    S: Owner,
{
    let (keep, queued, handle) = new_task::<F, S>(future, None, false, id, spawned_at);
    (keep, SendTask(queued), handle)
}

/// Allocates a scheduled, joinable task cell for `future`, with `refs` references owned by the caller: from the owner
/// loop's arena when the caller is on that loop's thread and the cell fits, otherwise from the global allocator.
fn allocate<F, S>(
    future: F,
    owner: Option<Arc<S>>,
    on_owner_thread: bool,
    id: Id,
    spawned_at: &'static Location<'static>,
    refs: usize,
) -> NonNull<Header>
where
    F: Future,
    S: Owner,
{
    let layout = Layout::new::<Cell<F, S>>();
    // Under `--cfg weft_no_arena` every cell has an allocation of its own, whose lifetime ASAN, valgrind and Miri
    // can check.
    let in_arena =
        !cfg!(weft_no_arena) && on_owner_thread && owner.is_some() && Arena::serves(layout);
    let owner = owner.map_or(std::ptr::null(), Arc::into_raw);
    let cell = Cell {
        header: Header {
            state: State::new_scheduled_joinable(in_arena, refs),
            vtable: &Cell::<F, S>::VTABLE,
            id,
            spawned_at,
            join_waker: UnsafeCell::new(None),
            stats: TaskStats::default(),
        },
        slot: UnsafeCell::new(Slot {
            future: ManuallyDrop::new(future),
        }),
        owner: PhantomData,
    };
    if !in_arena {
        let (layout, offset) = Cell::<F, S>::boxed_layout();
        // SAFETY: the layout has a non-zero size (it holds the owner pointer).
        let base = unsafe { alloc::alloc(layout) };
        let Some(base) = NonNull::new(base) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `offset` is where `extend` put the cell, at least 8 bytes in and aligned for it; the 8 bytes
        // before it lie inside the allocation and are 8-aligned (the cell's alignment is at least 8: its header
        // starts with an atomic word). The owner's strong count moves into the cell (rule 7).
        unsafe {
            let cell_ptr = base.as_ptr().add(offset).cast::<Cell<F, S>>();
            cell_ptr.cast::<*const ()>().sub(1).write(owner.cast());
            cell_ptr.write(cell);
            return NonNull::new_unchecked(cell_ptr).cast();
        }
    }
    // SAFETY: `in_arena` implies a non-null owner, which the cell now holds a strong count of (rule 7; the arena
    // records it in the page's header); the caller is the owner loop's thread (arena invariant 1) and the arena
    // serves this layout.
    let slot = unsafe { (*owner).arena().allocate(layout, owner.cast()) }.cast::<Cell<F, S>>();
    // SAFETY: the slot is fresh, sized and aligned for a Cell<F> (the arena serves alignments up to 8 and this
    // layout passed `serves`).
    unsafe { slot.as_ptr().write(cell) };
    slot.cast()
}

/// The loop that polls the task at `ptr`, whose strong count the cell holds (rule 7); null for a blocking task.
///
/// An arena cell finds it in its page's header; any other cell keeps it in the 8 bytes before its header.
///
/// # Safety
/// `ptr` is a live cell: the caller holds a reference to it or is freeing it.
#[inline]
unsafe fn owner_of<S: Owner>(ptr: NonNull<Header>) -> *const S {
    // SAFETY: the caller's promise.
    unsafe { erased_owner_of(ptr) }.cast()
}

/// [`owner_of`] for a caller that does not know the owner's type.
///
/// # Safety
/// As for [`owner_of`].
#[inline]
unsafe fn erased_owner_of(ptr: NonNull<Header>) -> *const () {
    // SAFETY: `ptr` is a live cell (the caller's promise); ARENA never changes.
    let in_arena = unsafe { ptr.as_ref() }.state.load().in_arena();
    if in_arena {
        // SAFETY: ARENA cells come from `Arena::allocate`, whose pages record the owner.
        unsafe { Arena::owner_of(ptr.cast()) }
    } else {
        // SAFETY: other cells were allocated by `allocate` with the owner in the 8 bytes before the header; the
        // pointer derives from that allocation, so stepping back stays inside it.
        unsafe { boxed_owner_slot(ptr) }.load(Acquire).cast_const()
    }
}

/// The owner pointer of a cell from the global allocator: an atomic word, because [`adopt`] may replace it while
/// another thread asks [`is_blocking`].
///
/// # Safety
/// `ptr` is a live cell that is not in an arena.
#[inline]
unsafe fn boxed_owner_slot<'a>(ptr: NonNull<Header>) -> &'a AtomicPtr<()> {
    // SAFETY: `allocate` wrote the owner pointer in the 8 bytes before the header, 8-aligned, inside the cell's
    // allocation (the caller's promise that the cell is live and not in an arena); every access after that write
    // goes through this atomic view.
    unsafe { AtomicPtr::from_ptr(ptr.as_ptr().cast::<*mut ()>().sub(1)) }
}

/// Makes `to` the owner of a task that another loop took before the task's first poll (work stealing: owner
/// rule 9): from now on `to` polls it, and its wakes and aborts go to `to`. Releases the old owner's strong
/// count and takes one of `to` (rule 7).
///
/// # Safety
/// The cell was allocated for owner type `S` outside any arena, never polled, and is in no registry; the caller
/// holds its queue reference, taken from the one queue that held it (so `SCHEDULED` is set and stays set: no
/// wake or abort reads the owner, since they read it only after a transition that sets `SCHEDULED`, rule 4; and
/// no other thread can adopt it at the same time).
pub(crate) unsafe fn adopt<S: Owner>(task: &TaskRef, to: &Arc<S>) {
    debug_assert!(
        !task.header().state.load().in_arena(),
        "adopting an arena cell"
    );
    // SAFETY: the caller holds a reference to a cell that is not in an arena.
    let slot = unsafe { boxed_owner_slot(task.ptr) };
    if ptr::eq(slot.load(Acquire).cast_const(), Arc::as_ptr(to).cast()) {
        return;
    }
    let new = Arc::into_raw(to.clone()).cast_mut().cast::<()>();
    // Release: whoever later reads the owner (a wake after the new owner's first poll, through the state word)
    // sees the new owner fully.
    let old = slot.swap(new, AcqRel);
    release_owner::<S>(old.cast_const().cast());
}

/// Whether the task at `ptr` is `spawn_blocking` work (it has no owner loop).
///
/// # Safety
/// The caller holds a reference to the cell at `ptr` (rule 6 keeps it alive).
pub(crate) unsafe fn is_blocking(ptr: NonNull<Header>) -> bool {
    // SAFETY: the caller holds a reference.
    unsafe { erased_owner_of(ptr) }.is_null()
}

impl<F: Future, S: Owner> Cell<F, S> {
    /// The layout of a cell from the global allocator — the owner pointer, then the cell — and the cell's offset.
    fn boxed_layout() -> (Layout, usize) {
        let (layout, offset) = Layout::new::<*const ()>()
            .extend(Layout::new::<Cell<F, S>>())
            .expect("a task cell's layout fits in memory");
        (layout.pad_to_align(), offset)
    }

    /// The vtable for this future type.
    const VTABLE: Vtable = Vtable {
        poll: Self::poll,
        cancel: Self::cancel,
        schedule: push_to_owner::<S>,
        read_output: Self::read_output,
        drop_output: Self::drop_output,
        dealloc: Self::dealloc,
    };

    /// The cell behind a header pointer.
    ///
    /// # Safety
    /// `ptr` must point to the header of a live `Cell<F>` (every header comes from [`allocate`] for its `F`).
    unsafe fn from_header<'a>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
        // SAFETY: the caller guarantees a live Cell<F, S>; repr(C) puts the header at offset 0.
        unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
    }

    /// Polls the future once.
    ///
    /// # Safety
    /// Rule 1: called on the owner loop's thread, the task not complete.
    unsafe fn poll(ptr: NonNull<Header>) -> RunOutcome {
        // SAFETY: the vtable is only reachable through headers of Cell<F>.
        let cell = unsafe { Self::from_header(ptr) };
        let waker = ManuallyDrop::new(borrowed_waker::<S>(ptr));
        let mut cx = Context::from_waker(&waker);
        // SAFETY: rule 1: this thread has exclusive access to the slot, which holds the future while the task is
        // not complete.
        let future = unsafe { &mut (*cell.slot.get()).future };
        // SAFETY: the future lives inside a heap cell that never moves and is dropped in place.
        let pinned = unsafe { Pin::new_unchecked(&mut **future) };
        let result = catch_unwind(AssertUnwindSafe(|| pinned.poll(&mut cx)));
        if let Ok(Poll::Pending) = result {
            return RunOutcome::Pending;
        }
        // Finished or panicked: the future goes now, and its destructor may panic too.
        // SAFETY: rule 1; the future is dropped exactly once, here, and the slot is not read as a future again.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(future) }));
        let outcome = match (result, dropped) {
            (Ok(Poll::Ready(output)), Ok(())) => {
                // SAFETY: rule 1: the slot is free (the future was dropped) and still ours.
                unsafe { (*cell.slot.get()).output = ManuallyDrop::new(output) };
                Outcome::Output
            }
            (Ok(Poll::Ready(output)), Err(payload)) => {
                drop_reporting_panic::<S>(&cell.header, move || drop(output));
                error::store_panic(cell.header.id, payload);
                Outcome::Panicked
            }
            (Err(payload), _) => {
                error::store_panic(cell.header.id, payload);
                Outcome::Panicked
            }
            (Ok(Poll::Pending), _) => unreachable!("handled above"),
        };
        // SAFETY: still rule 1: the task is not complete until `complete` sets the bit.
        unsafe { Self::complete(cell, outcome) }
    }

    /// Drops the future and completes the task as cancelled.
    ///
    /// # Safety
    /// Rule 1, as for `poll`.
    unsafe fn cancel(ptr: NonNull<Header>) -> RunOutcome {
        // SAFETY: the vtable is only reachable through headers of Cell<F>.
        let cell = unsafe { Self::from_header(ptr) };
        // SAFETY: rule 1: exclusive access to the slot, which holds the future, dropped exactly once here.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
            ManuallyDrop::drop(&mut (*cell.slot.get()).future)
        }));
        let outcome = match dropped {
            Ok(()) => Outcome::Cancelled,
            Err(payload) => {
                error::store_panic(cell.header.id, payload);
                Outcome::Panicked
            }
        };
        // SAFETY: rule 1, as above.
        unsafe { Self::complete(cell, outcome) }
    }

    /// Publishes `COMPLETE` with the outcome bits; hands the outcome to whoever owns it under rule 2.
    ///
    /// # Safety
    /// Rule 1: the caller has exclusive access to the slot, the future is gone, and the slot holds an output
    /// iff `outcome` has `OUTPUT`.
    unsafe fn complete(cell: &Cell<F, S>, outcome: Outcome) -> RunOutcome {
        let header = &cell.header;
        let previous = header.state.transition_to_complete(outcome);
        if !previous.has_join_interest() {
            // Rule 2: nobody will read the outcome; it is ours to drop, now.
            let unhandled_panic = if outcome == Outcome::Panicked {
                error::take_panic(header.id)
            } else {
                None
            };
            if outcome == Outcome::Output && std::mem::needs_drop::<F::Output>() {
                drop_reporting_panic::<S>(header, || {
                    // SAFETY: rule 2: without join interest at completion the output belongs to this side; it
                    // is marked consumed so that nobody drops it again.
                    unsafe { ManuallyDrop::drop(&mut (*cell.slot.get()).output) }
                });
            }
            header.state.set_consumed();
            return completed(header, unhandled_panic);
        }
        if previous.has_join_waker() {
            // SAFETY: rule 3: JOIN_WAKER was set, so the slot holds the join side's waker and it will not be
            // written again now that COMPLETE is set.
            if let Some(waker) = unsafe { &*header.join_waker.get() } {
                waker.wake_by_ref();
            }
        }
        completed(header, None)
    }

    /// Moves the outcome out.
    ///
    /// # Safety
    /// Rule 2: the caller is the join side and observed `COMPLETE`; `dst` points to a
    /// `Poll<Result<F::Output, JoinError>>`.
    unsafe fn read_output(ptr: NonNull<Header>, dst: *mut ()) {
        // SAFETY: the vtable is only reachable through headers of Cell<F>.
        let cell = unsafe { Self::from_header(ptr) };
        let state = cell.header.state.set_consumed();
        assert!(
            !state.is_consumed(),
            "JoinHandle polled after it returned Ready"
        );
        let id = cell.header.id;
        let result = if state.has_output() {
            // SAFETY: rule 2: COMPLETE with OUTPUT and not consumed: the output is in the slot and ours alone;
            // marking it consumed above means nobody reads or drops it again.
            Ok(unsafe { ManuallyDrop::take(&mut (*cell.slot.get()).output) })
        } else if state.is_panicked() {
            Err(JoinError::panic(id, error::take_panic(id)))
        } else {
            Err(JoinError::cancelled(id))
        };
        // SAFETY: the caller passes a valid pointer of this type.
        unsafe { *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(result) };
    }

    /// Drops an outcome that the join side will never read.
    ///
    /// # Safety
    /// Rule 2, as for `read_output`.
    unsafe fn drop_output(ptr: NonNull<Header>) {
        // SAFETY: the vtable is only reachable through headers of Cell<F>.
        let cell = unsafe { Self::from_header(ptr) };
        let state = cell.header.state.set_consumed();
        if state.is_consumed() {
            return;
        }
        if state.has_output() {
            drop_reporting_panic::<S>(&cell.header, || {
                // SAFETY: rule 2: the output is in the slot, ours, and now marked consumed.
                unsafe { ManuallyDrop::drop(&mut (*cell.slot.get()).output) }
            });
        } else if state.is_panicked() {
            if let Some(payload) = error::take_panic(cell.header.id) {
                error::drop_quietly(payload);
            }
        }
    }

    /// Frees the cell (to its loop's arena or the global allocator) and releases the owner's strong count.
    ///
    /// # Safety
    /// Rule 6: the reference count reached zero; `ptr` came from [`allocate`] for this `F`.
    unsafe fn dealloc(ptr: NonNull<Header>) {
        let cell = ptr.cast::<Cell<F, S>>().as_ptr();
        // SAFETY: rule 6: the last reference; nobody else reads or writes the cell any more.
        let (state, id) = unsafe { ((*cell).header.state.load(), (*cell).header.id) };
        // SAFETY: the cell is being freed by us, still intact.
        let owner = unsafe { owner_of::<S>(ptr) };
        debug_assert!(state.is_complete(), "a task freed before it completed");
        if !state.is_consumed() {
            if state.has_output() {
                // SAFETY: rule 6: the last reference; the header stays valid until freed below.
                let header = unsafe { &(*cell).header };
                drop_reporting_panic::<S>(header, || {
                    // SAFETY: rule 6: an unconsumed output is still in the slot. (The slot's contents are `Send`
                    // or were left by a handle on this thread: rule 6.)
                    unsafe { ManuallyDrop::drop(&mut (*(*cell).slot.get()).output) }
                });
            } else if state.is_panicked() {
                if let Some(payload) = error::take_panic(id) {
                    error::drop_quietly(payload);
                }
            }
        }
        // The header's only field with a destructor: the join waker (rule 3: nobody else touches it now).
        // SAFETY: rule 6, as above; dropped once, here.
        unsafe { ptr::drop_in_place((*cell).header.join_waker.get()) };
        let layout = Layout::new::<Cell<F, S>>();
        if state.in_arena() {
            // SAFETY: ARENA cells have an owner, alive until `release_owner` below (rule 7).
            let owner = unsafe { &*owner };
            // SAFETY: the slot came from the owner's arena with this layout and is no longer used; whether
            // this is the owner loop's thread is asked right here.
            unsafe { owner.arena().free(ptr.cast(), layout, owner.is_current()) };
        } else {
            let (layout, offset) = Self::boxed_layout();
            // SAFETY: the cell was allocated in `allocate` with this layout, `offset` bytes into the allocation;
            // its fields were dropped above or need no drop (the slot union is ManuallyDrop).
            unsafe { alloc::dealloc(ptr.as_ptr().cast::<u8>().sub(offset), layout) };
        }
        release_owner(owner);
    }
}

/// Drops a freed cell's strong count of its owner (rule 7).
fn release_owner<S: Owner>(owner: *const S) {
    if !owner.is_null() {
        // SAFETY: rule 7: the cell held one strong count, created by Arc::into_raw in `allocate`, released once
        // here as the cell is freed.
        unsafe { drop(Arc::from_raw(owner)) };
    }
}

impl TaskRef {
    /// Takes ownership of one reference.
    ///
    /// # Safety
    /// The caller owns a reference to the live cell behind `ptr` and gives it up.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> TaskRef {
        TaskRef { ptr }
    }

    /// Gives up ownership of the reference without dropping it.
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).ptr
    }

    /// The header.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: we own a reference, so the cell is alive (rule 6).
        unsafe { self.ptr.as_ref() }
    }

    /// The raw header pointer (the reference stays with `self`).
    pub(crate) fn as_ptr(&self) -> NonNull<Header> {
        self.ptr
    }

    /// Runs a task popped from a queue: clears `SCHEDULED`, releasing the queue's reference (rule 4, which
    /// is this `TaskRef`), then polls it or drops its future if it was aborted.
    ///
    /// `runner` proves this thread owns the task (rule 1): the owner loop's, or the pool thread that popped it.
    pub(crate) fn run(self, _runner: &Runner) -> RunOutcome {
        let ptr = self.into_raw();
        // SAFETY: we owned the queue's reference; the pop transition releases it.
        let header = unsafe { ptr.as_ref() };
        match header.state.transition_from_queue() {
            PopTransition::StaleDealloc => {
                // SAFETY: rule 6: that was the last reference.
                unsafe { (header.vtable.dealloc)(ptr) };
                RunOutcome::Stale
            }
            PopTransition::Stale => RunOutcome::Stale,
            // SAFETY: rule 5 keeps the incomplete task alive; rule 1 holds: `runner` proves this thread owns it.
            PopTransition::Cancel => unsafe { (header.vtable.cancel)(ptr) },
            // SAFETY: as above.
            PopTransition::Poll => unsafe { (header.vtable.poll)(ptr) },
        }
    }

    /// Drops the future of a task that is not complete, as at shutdown. The task completes as cancelled.
    ///
    /// `runner` proves this thread owns the task (rule 1).
    pub(crate) fn shutdown(&self, _runner: &Runner) -> RunOutcome {
        if self.header().state.load().is_complete() {
            return RunOutcome::Stale;
        }
        // SAFETY: rule 1: `runner` proves this thread owns the task, and it is not complete.
        unsafe { (self.header().vtable.cancel)(self.ptr) }
    }

    /// Requests cancellation; pushes the task on its loop's queue if it was idle.
    ///
    /// # Safety
    /// The caller holds a reference to the cell at `ptr` (a `JoinHandle` or `AbortHandle`).
    pub(crate) unsafe fn abort_raw(ptr: NonNull<Header>) {
        // SAFETY: the caller holds a reference (a JoinHandle or AbortHandle).
        let header = unsafe { ptr.as_ref() };
        if header.state.transition_to_cancelled() == ScheduleTransition::Push {
            // SAFETY: the transition added the queue's reference (rule 4); we take ownership of it.
            let task = unsafe { TaskRef::from_raw(ptr) };
            // SAFETY: the vtable's schedule function is `push_to_owner` for the cell's owner type.
            unsafe { (header.vtable.schedule)(task) };
        }
    }

    /// Adds a reference and returns it as a new `TaskRef`.
    ///
    /// # Safety
    /// The caller holds a reference to the cell at `ptr`.
    pub(crate) unsafe fn clone_raw(ptr: NonNull<Header>) -> TaskRef {
        // SAFETY: the caller holds a reference, so the cell is alive.
        unsafe { ptr.as_ref() }.state.ref_inc();
        TaskRef { ptr }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: a `TaskRef` owns one reference, given up here.
        unsafe { drop_reference(self.ptr) };
    }
}

/// Drops one reference, freeing the cell if it was the last (rule 6).
///
/// # Safety
/// The caller owns a reference to the cell at `ptr` and gives it up.
#[inline]
pub(crate) unsafe fn drop_reference(ptr: NonNull<Header>) {
    // SAFETY: the caller owned a reference, so the cell is alive until we drop it.
    let header = unsafe { ptr.as_ref() };
    if header.state.ref_dec() {
        // SAFETY: rule 6: that was the last reference.
        unsafe { (header.vtable.dealloc)(ptr) }
    }
}

/// Hands a scheduled task (holding the queue's reference) to its owner loop.
///
/// # Safety
/// `S` is the owner type the task's cell was allocated with.
unsafe fn push_to_owner<S: Owner>(task: TaskRef) {
    // SAFETY: `task` holds a reference.
    let owner = unsafe { owner_of::<S>(task.ptr) };
    // SAFETY: rule 7: the cell holds a strong count of its owner while it lives, and `task` keeps the cell alive
    // until `schedule` hands it over; `schedule` touches the owner after that only under the remote queue's
    // lock, which keeps the task (and so the owner) from being dropped meanwhile.
    match unsafe { owner.as_ref() } {
        Some(owner) => owner.schedule(task),
        // A blocking task stays SCHEDULED until its pool thread runs it, so it is never pushed; drop the
        // reference if it ever is.
        None => drop(task),
    }
}

/// Join-side operations used by [`super::JoinHandle`].
pub(crate) mod join {
    use super::*;

    /// Polls for the output: `Ready` once complete, otherwise registers `waker` (rule 3).
    ///
    /// # Safety
    /// The caller is the unique join side of a cell whose output type is `T`.
    #[inline]
    pub(crate) unsafe fn poll<T>(
        ptr: NonNull<Header>,
        waker: &Waker,
    ) -> Poll<Result<T, JoinError>> {
        // SAFETY: the join side holds a reference.
        let header = unsafe { ptr.as_ref() };
        let state = header.state.load();
        if !state.is_complete() {
            let registered = if !state.has_join_waker() {
                // SAFETY: rule 3: JOIN_WAKER is unset, so the slot is ours to write.
                unsafe { set_waker(header, waker) }
            } else {
                // SAFETY: rule 3: while JOIN_WAKER is set the task side only reads the slot; so may we.
                let same = unsafe { &*header.join_waker.get() }
                    .as_ref()
                    .is_some_and(|w| w.will_wake(waker));
                if same {
                    return Poll::Pending;
                }
                match header.state.unset_join_waker() {
                    // SAFETY: rule 3: we just cleared JOIN_WAKER, so the slot is ours again.
                    Ok(()) => unsafe { set_waker(header, waker) },
                    Err(()) => false,
                }
            };
            if registered {
                return Poll::Pending;
            }
        }
        let mut output: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: rule 2: COMPLETE was observed with acquire ordering and we hold join interest; the output
        // type is T by the caller's guarantee.
        unsafe {
            (header.vtable.read_output)(
                ptr,
                (&mut output as *mut Poll<Result<T, JoinError>>).cast(),
            )
        };
        output
    }

    /// Writes the slot and publishes it. Returns false if the task completed meanwhile.
    ///
    /// # Safety
    /// Rule 3: `JOIN_WAKER` is unset and the caller is the join side.
    unsafe fn set_waker(header: &Header, waker: &Waker) -> bool {
        // SAFETY: rule 3, guaranteed by the caller.
        unsafe { *header.join_waker.get() = Some(waker.clone()) };
        header.state.set_join_waker().is_ok()
    }

    /// The join side goes away: drops its interest, and the output if the task already completed (rule 2).
    ///
    /// # Safety
    /// The caller is the unique join side of the cell at `ptr` and gives up its reference.
    pub(crate) unsafe fn drop_handle(ptr: NonNull<Header>) {
        // SAFETY: the join side holds a reference.
        let header = unsafe { ptr.as_ref() };
        match header.state.unset_join_interest() {
            Ok(true) => {
                // SAFETY: rule 3: clearing JOIN_WAKER gave the slot back to us; the task side won't read it.
                drop(unsafe { (*header.join_waker.get()).take() });
            }
            Ok(false) => {}
            // Already read (the usual case after `.await`): nothing left to drop.
            Err(()) if header.state.load().is_consumed() => {}
            Err(()) => {
                // SAFETY: rule 2: complete with join interest: the output is ours to drop.
                unsafe { (header.vtable.drop_output)(ptr) };
            }
        }
        // SAFETY: the join side's reference, given up with the handle.
        unsafe { drop_reference(ptr) };
    }
}

/// Waker functions over a task header pointer, for cells owned by an `S`; each waker owns one reference.
struct TaskWaker<S>(PhantomData<S>);

impl<S: Owner> TaskWaker<S> {
    /// The vtable: one per owner type, so a wake calls the owner's `schedule` directly.
    const VTABLE: RawWakerVTable =
        RawWakerVTable::new(Self::clone, Self::wake, Self::wake_by_ref, Self::drop);

    /// Waker clone: one more reference.
    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: the data of a task waker is a live header pointer (the waker being cloned holds a reference).
        let header = unsafe { &*(data as *const Header) };
        header.state.ref_inc();
        RawWaker::new(data, &Self::VTABLE)
    }

    /// Waker wake: the waker's reference becomes the queue's, or is dropped.
    unsafe fn wake(data: *const ()) {
        // SAFETY: a task waker's data is a non-null header pointer.
        let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
        // SAFETY: the waker owns a reference, so the cell is alive.
        let header = unsafe { ptr.as_ref() };
        match header.state.transition_to_scheduled(false) {
            // SAFETY: rule 4: the waker's reference is now the queue's; this vtable is for the cell's owner type.
            ScheduleTransition::Push => unsafe { push_to_owner::<S>(TaskRef::from_raw(ptr)) },
            // SAFETY: the waker's reference, which nobody took over.
            ScheduleTransition::Nothing => unsafe { drop_reference(ptr) },
        }
    }

    /// Waker wake_by_ref: a new reference for the queue.
    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: a task waker's data is a non-null header pointer.
        let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
        // SAFETY: the waker holds a reference, so the cell is alive.
        let header = unsafe { ptr.as_ref() };
        if header.state.transition_to_scheduled(true) == ScheduleTransition::Push {
            // SAFETY: rule 4: the transition added the queue's reference; this vtable is for the cell's owner
            // type.
            unsafe { push_to_owner::<S>(TaskRef::from_raw(ptr)) };
        }
    }

    /// Waker drop: one reference less.
    unsafe fn drop(data: *const ()) {
        // SAFETY: a task waker's data is a non-null header pointer owning a reference, given up here.
        unsafe { drop_reference(NonNull::new_unchecked(data as *mut Header)) };
    }
}

/// A waker over `ptr` (a cell owned by an `S`) that does not own a reference; the caller keeps it in
/// `ManuallyDrop`.
fn borrowed_waker<S: Owner>(ptr: NonNull<Header>) -> Waker {
    // SAFETY: the vtable's functions uphold the RawWaker contract for task headers; the caller never drops
    // this waker, so it needs no reference of its own.
    unsafe {
        Waker::from_raw(RawWaker::new(
            ptr.as_ptr() as *const (),
            &TaskWaker::<S>::VTABLE,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the cell that would hold `future`.
    fn size_of_cell<F: Future>(_: &F) -> usize {
        std::mem::size_of::<Cell<F, ()>>()
    }

    #[test]
    fn a_small_task_fits_in_80_bytes() {
        // 48 bytes of scheduling state and 16 of x-ray (bookmark and poll statistics). The owner loop is found
        // from the arena page (or the 8 bytes before a cell from the global allocator), not stored in the header.
        assert_eq!(std::mem::size_of::<Header>(), 64);
        let captured = std::sync::Arc::new(());
        let parked = async move {
            drop(captured.clone());
            std::future::pending::<()>().await;
        };
        assert!(size_of_cell(&parked) <= 80, "{}", size_of_cell(&parked));
        let index = 7usize;
        assert!(size_of_cell(&async move { index }) <= 80);
    }
}
