//! The task's state word: flag bits in the low 9 bits, the reference count in the next 27, and the task's index
//! in its loop's registry in the top 28 (kept here rather than in a field of its own: it saves 8 bytes a task).
//!
//! | bit | set when | cleared when |
//! |---|---|---|
//! | `SCHEDULED` | a wake or abort puts the task on a queue (rule 4) | the loop pops it to poll it |
//! | `COMPLETE` | the future returned `Ready`, panicked, or was dropped | never |
//! | `CANCELLED` | `abort()` was called | never |
//! | `JOIN_INTEREST` | the task is created (its `JoinHandle` exists) | the `JoinHandle` is dropped |
//! | `JOIN_WAKER` | the join side stored a waker (rule 3) | the join side replaces its waker |
//! | `OUTPUT` | with `COMPLETE`, if the slot holds the output | never |
//! | `PANICKED` | with `COMPLETE`, if the payload waits in the panic table | never |
//! | `CONSUMED` | the output (or panic payload) was taken or dropped | never |
//! | `ARENA` | the cell was allocated from its owner loop's arena | never |
//!
//! After `COMPLETE`, the outcome is: `OUTPUT` — a value; `PANICKED` — a panic; neither — cancelled.

#![forbid(unsafe_code)]

// Through the loom facade, so the models below check this very code under `--cfg loom`.
use crate::loom::sync::atomic::AtomicUsize;
use crate::loom::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

/// On a queue; the queue holds a reference (rule 4).
const SCHEDULED: usize = 1 << 0;
/// The future is gone; the stage holds the output or nothing.
const COMPLETE: usize = 1 << 1;
/// `abort()` was called.
const CANCELLED: usize = 1 << 2;
/// A `JoinHandle` exists.
const JOIN_INTEREST: usize = 1 << 3;
/// The join waker slot holds a waker the task side may use (rule 3).
const JOIN_WAKER: usize = 1 << 4;
/// With `COMPLETE`: the slot holds the output.
const OUTPUT: usize = 1 << 5;
/// With `COMPLETE`: the task panicked; the payload is in the panic table.
const PANICKED: usize = 1 << 6;
/// The outcome was taken (or dropped) by whoever owned it (rule 2).
const CONSUMED: usize = 1 << 7;
/// The cell lives in its owner loop's arena (set at creation, never changed).
const ARENA: usize = 1 << 8;
/// Bits below the reference count.
const FLAG_BITS: u32 = 9;
/// One reference.
const REF_ONE: usize = 1 << FLAG_BITS;
/// Bits of the reference count.
const REF_BITS: u32 = 27;
/// The reference count's bits.
const REF_MASK: usize = ((1 << REF_BITS) - 1) << FLAG_BITS;
/// Where the registry index starts.
const SLOT_SHIFT: u32 = FLAG_BITS + REF_BITS;
/// The most tasks one loop's registry can index (2^28, about 268 million).
pub(crate) const MAX_SLOTS: usize = 1 << (usize::BITS - SLOT_SHIFT);

/// The atomic state word of a task.
#[derive(Debug)]
pub(crate) struct State(AtomicUsize);

/// The state word as read at one moment: its flags, asked by name (the bits stay private to this file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    /// On a queue (rule 4).
    pub(crate) fn is_scheduled(self) -> bool {
        self.0 & SCHEDULED != 0
    }

    /// The future is gone: the task returned, panicked or was cancelled.
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }

    /// A `JoinHandle` exists (rule 2).
    pub(crate) fn has_join_interest(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }

    /// The join waker slot holds a waker the task side may use (rule 3).
    pub(crate) fn has_join_waker(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }

    /// Complete with an output in the slot.
    pub(crate) fn has_output(self) -> bool {
        self.0 & OUTPUT != 0
    }

    /// Complete by a panic, whose payload waits in the panic table.
    pub(crate) fn is_panicked(self) -> bool {
        self.0 & PANICKED != 0
    }

    /// The outcome was taken or dropped (rule 2).
    pub(crate) fn is_consumed(self) -> bool {
        self.0 & CONSUMED != 0
    }

    /// The cell came from its owner loop's arena.
    pub(crate) fn in_arena(self) -> bool {
        self.0 & ARENA != 0
    }
}

/// How a task completed, for [`State::transition_to_complete`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The future returned; the slot holds its output.
    Output,
    /// The future (or its destructor) panicked; the payload waits in the panic table.
    Panicked,
    /// The future was dropped before it finished.
    Cancelled,
}

/// What [`State::transition_to_scheduled`] found.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ScheduleTransition {
    /// The bit was set and a reference added: the caller must push the task on a queue.
    Push,
    /// Already scheduled or complete: nothing to do.
    Nothing,
}

/// What [`State::transition_from_queue`] found when the loop popped a task.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PopTransition {
    /// Poll it.
    Poll,
    /// Abort was requested: drop the future instead of polling.
    Cancel,
    /// Complete already (woken during its last poll); the queue's reference was released.
    Stale,
    /// Complete and that was the last reference: the caller must free the cell.
    StaleDealloc,
}

impl State {
    /// A new task's state with `flags` set, holding `refs` references.
    /// A new task's word: scheduled (the queue's reference is among `refs`), with a `JoinHandle`, and marked
    /// as an arena cell if `in_arena`.
    pub(crate) fn new_scheduled_joinable(in_arena: bool, refs: usize) -> State {
        let flags = SCHEDULED | JOIN_INTEREST | if in_arena { ARENA } else { 0 };
        State(AtomicUsize::new(flags | (refs * REF_ONE)))
    }

    /// The task's registry index (meaningful on the owner loop's thread once registered).
    pub(crate) fn registry_slot(&self) -> u32 {
        (self.0.load(Relaxed) >> SLOT_SHIFT) as u32
    }

    /// Records the registry index; called once, by the owner loop, before the task is registered (the slot bits
    /// are zero until then, so adding sets them).
    pub(crate) fn set_registry_slot(&self, slot: u32) {
        debug_assert!((slot as usize) < MAX_SLOTS);
        debug_assert_eq!(
            self.0.load(Relaxed) >> SLOT_SHIFT,
            0,
            "registry slot set twice"
        );
        self.0.fetch_add((slot as usize) << SLOT_SHIFT, Relaxed);
    }

    /// The current word.
    #[inline]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }

    /// Adds a reference (a waker clone).
    #[inline]
    pub(crate) fn ref_inc(&self) {
        let previous = self.0.fetch_add(REF_ONE, Relaxed);
        // A reference count this high means references are leaking; stop before the field overflows.
        if previous & REF_MASK > REF_MASK / 2 {
            std::process::abort();
        }
    }

    /// Drops a reference. Returns true if it was the last: the caller must free the cell (rule 6).
    #[must_use]
    #[inline]
    pub(crate) fn ref_dec(&self) -> bool {
        let previous = self.0.fetch_sub(REF_ONE, AcqRel);
        debug_assert!(
            previous & REF_MASK >= REF_ONE,
            "task reference count underflow"
        );
        previous & REF_MASK == REF_ONE
    }

    /// A wake (`add_ref`: a reference is added for the queue; otherwise the caller's reference moves to the
    /// queue, and on `Nothing` the caller must drop it).
    #[inline]
    pub(crate) fn transition_to_scheduled(&self, add_ref: bool) -> ScheduleTransition {
        let mut current = self.0.load(Acquire);
        loop {
            if current & (SCHEDULED | COMPLETE) != 0 {
                return ScheduleTransition::Nothing;
            }
            let next = current | SCHEDULED;
            let next = if add_ref { next + REF_ONE } else { next };
            match self.0.compare_exchange_weak(current, next, AcqRel, Acquire) {
                Ok(_) => return ScheduleTransition::Push,
                Err(actual) => current = actual,
            }
        }
    }

    /// The loop popped the task from a queue: clear `SCHEDULED` and release the queue's reference (rule 4).
    #[inline]
    pub(crate) fn transition_from_queue(&self) -> PopTransition {
        let previous = self.0.fetch_sub(SCHEDULED + REF_ONE, AcqRel);
        debug_assert!(
            previous & SCHEDULED != 0,
            "popped a task that was not scheduled"
        );
        if previous & COMPLETE != 0 {
            if previous & REF_MASK == REF_ONE {
                PopTransition::StaleDealloc
            } else {
                PopTransition::Stale
            }
        } else if previous & CANCELLED != 0 {
            PopTransition::Cancel
        } else {
            PopTransition::Poll
        }
    }

    /// Sets `CANCELLED`. Returns whether the task must be pushed on a queue (the caller adds no reference:
    /// this transition added it, rule 4).
    pub(crate) fn transition_to_cancelled(&self) -> ScheduleTransition {
        let mut current = self.0.load(Acquire);
        loop {
            if current & (COMPLETE | CANCELLED) != 0 {
                return ScheduleTransition::Nothing;
            }
            let (next, push) = if current & SCHEDULED == 0 {
                (current | CANCELLED | SCHEDULED, true)
            } else {
                (current | CANCELLED, false)
            };
            let next = if push { next + REF_ONE } else { next };
            match self.0.compare_exchange_weak(current, next, AcqRel, Acquire) {
                Ok(_) if push => return ScheduleTransition::Push,
                Ok(_) => return ScheduleTransition::Nothing,
                Err(actual) => current = actual,
            }
        }
    }

    /// Sets `COMPLETE` with the outcome bits (`OUTPUT` or `PANICKED` or neither) and returns the previous word
    /// (rule 2 decides from its `JOIN_INTEREST` who owns the output; rule 3 from its `JOIN_WAKER` whether to
    /// wake the join side).
    pub(crate) fn transition_to_complete(&self, outcome: Outcome) -> Snapshot {
        let bits = match outcome {
            Outcome::Output => OUTPUT,
            Outcome::Panicked => PANICKED,
            Outcome::Cancelled => 0,
        };
        Snapshot(self.0.fetch_or(COMPLETE | bits, AcqRel))
    }

    /// Marks the outcome as taken; returns the word before.
    pub(crate) fn set_consumed(&self) -> Snapshot {
        Snapshot(self.0.fetch_or(CONSUMED, AcqRel))
    }

    /// The join side drops its interest. Returns `Err(())` if the task is already complete, in which case the
    /// join side owns the output and must drop it (rule 2). On success, if the previous word had `JOIN_WAKER`,
    /// the slot is the join side's again (rule 3) and `Ok(true)` is returned.
    pub(crate) fn unset_join_interest(&self) -> Result<bool, ()> {
        let mut current = self.0.load(Acquire);
        loop {
            if current & COMPLETE != 0 {
                return Err(());
            }
            let next = current & !(JOIN_INTEREST | JOIN_WAKER);
            match self.0.compare_exchange_weak(current, next, AcqRel, Acquire) {
                Ok(_) => return Ok(current & JOIN_WAKER != 0),
                Err(actual) => current = actual,
            }
        }
    }

    /// The join side publishes the waker it wrote (rule 3). `Err(())` if the task completed meanwhile.
    pub(crate) fn set_join_waker(&self) -> Result<(), ()> {
        self.update_join_waker(true)
    }

    /// The join side takes the slot back to replace its waker (rule 3). `Err(())` if the task completed.
    pub(crate) fn unset_join_waker(&self) -> Result<(), ()> {
        self.update_join_waker(false)
    }

    /// Sets or clears `JOIN_WAKER` unless `COMPLETE` is set.
    fn update_join_waker(&self, set: bool) -> Result<(), ()> {
        let mut current = self.0.load(Acquire);
        loop {
            if current & COMPLETE != 0 {
                return Err(());
            }
            let next = if set {
                current | JOIN_WAKER
            } else {
                current & !JOIN_WAKER
            };
            match self.0.compare_exchange_weak(current, next, AcqRel, Acquire) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl State {
        /// A word with exactly `flags` and `refs` references.
        fn new(flags: usize, refs: usize) -> State {
            State(AtomicUsize::new(flags | (refs * REF_ONE)))
        }
    }

    #[test]
    fn a_scheduled_task_is_not_scheduled_twice() {
        let state = State::new(JOIN_INTEREST, 1);
        assert_eq!(
            state.transition_to_scheduled(true),
            ScheduleTransition::Push
        );
        assert_eq!(
            state.transition_to_scheduled(true),
            ScheduleTransition::Nothing
        );
        assert_eq!(state.load().0 & REF_MASK, 2 * REF_ONE);
        assert_eq!(state.transition_from_queue(), PopTransition::Poll);
        assert_eq!(state.load().0 & REF_MASK, REF_ONE);
    }

    #[test]
    fn a_complete_task_is_never_scheduled() {
        let state = State::new(0, 1);
        let _ = state.transition_to_complete(Outcome::Cancelled);
        assert_eq!(
            state.transition_to_scheduled(true),
            ScheduleTransition::Nothing
        );
        assert_eq!(state.transition_to_cancelled(), ScheduleTransition::Nothing);
    }

    #[test]
    fn abort_schedules_an_idle_task_once() {
        let state = State::new(JOIN_INTEREST, 1);
        assert_eq!(state.transition_to_cancelled(), ScheduleTransition::Push);
        assert_eq!(state.transition_to_cancelled(), ScheduleTransition::Nothing);
        assert_eq!(state.transition_from_queue(), PopTransition::Cancel);
    }

    #[test]
    fn popping_a_complete_task_releases_the_last_reference() {
        let state = State::new(SCHEDULED, 1);
        let _ = state.transition_to_complete(Outcome::Cancelled);
        assert_eq!(state.transition_from_queue(), PopTransition::StaleDealloc);
    }

    #[test]
    fn the_registry_slot_shares_the_word_with_the_count() {
        let state = State::new(SCHEDULED, 3);
        state.set_registry_slot((MAX_SLOTS - 1) as u32);
        assert_eq!(state.registry_slot(), (MAX_SLOTS - 1) as u32);
        assert!(!state.ref_dec());
        assert!(!state.ref_dec());
        assert_eq!(state.transition_from_queue(), PopTransition::Poll);
        assert_eq!(state.registry_slot(), (MAX_SLOTS - 1) as u32);
        assert_eq!(state.load().0 & REF_MASK, 0);
    }

    #[test]
    fn join_interest_cannot_be_dropped_after_completion() {
        let state = State::new(JOIN_INTEREST, 1);
        assert_eq!(state.set_join_waker(), Ok(()));
        assert_eq!(state.unset_join_interest(), Ok(true));
        let state = State::new(JOIN_INTEREST, 1);
        let _ = state.transition_to_complete(Outcome::Cancelled);
        assert_eq!(state.unset_join_interest(), Err(()));
        assert_eq!(state.set_join_waker(), Err(()));
    }
}

/// loom models of the state machine's races (`RUSTFLAGS="--cfg loom" cargo test -p weft --lib --release
/// loom_models`): every interleaving of the two sides, checked against the rules they must keep.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// A word with `flags` and `refs` references.
    fn word(flags: usize, refs: usize) -> Arc<State> {
        Arc::new(State(AtomicUsize::new(flags | (refs * REF_ONE))))
    }

    /// References in the word.
    fn refs(state: &State) -> usize {
        (state.load().0 & REF_MASK) / REF_ONE
    }

    #[test]
    fn loom_models_wake_vs_complete() {
        // A waker on another thread wakes the task while its loop completes it: the wake queues the task only if
        // it came first, and then holds exactly one more reference for the queue (rule 4).
        loom::model(|| {
            let state = word(JOIN_INTEREST, 2);
            let waker = {
                let state = state.clone();
                thread::spawn(move || state.transition_to_scheduled(true))
            };
            let previous = state.transition_to_complete(Outcome::Output);
            let pushed = waker.join().unwrap() == ScheduleTransition::Push;
            let now = state.load();
            assert!(now.is_complete());
            assert_eq!(now.is_scheduled(), pushed);
            assert_eq!(refs(&state), 2 + usize::from(pushed));
            // A wake never queues a complete task: it queued it only if it came before the completion.
            assert_eq!(pushed, previous.is_scheduled());
            if pushed {
                // The queue pops it later and finds it stale: it releases the queue's reference.
                assert_eq!(state.transition_from_queue(), PopTransition::Stale);
                assert_eq!(refs(&state), 2);
            }
        });
    }

    #[test]
    fn loom_models_abort_vs_poll() {
        // An abort from another thread races the loop popping the task to poll it: the task ends up either
        // polled-then-cancelled-on-its-next-pop, or cancelled right away — never lost, never queued twice.
        loom::model(|| {
            let state = word(JOIN_INTEREST | SCHEDULED, 3);
            let aborter = {
                let state = state.clone();
                thread::spawn(move || state.transition_to_cancelled())
            };
            let popped = state.transition_from_queue();
            let abort_pushed = aborter.join().unwrap() == ScheduleTransition::Push;
            match popped {
                // Popped first: the abort found it unscheduled and queued it again, with a reference.
                PopTransition::Poll => {
                    assert!(abort_pushed || state.load().0 & CANCELLED != 0);
                    if abort_pushed {
                        assert!(state.load().is_scheduled());
                        assert_eq!(state.transition_from_queue(), PopTransition::Cancel);
                    }
                }
                // Aborted while queued: the pop cancels it, and the abort added no second queue entry.
                PopTransition::Cancel => assert!(!abort_pushed),
                other => panic!("a live task popped as {other:?}"),
            }
            let _ = state.transition_to_complete(Outcome::Cancelled);
            assert!(!state.load().is_scheduled());
            assert_eq!(refs(&state), 2);
        });
    }

    #[test]
    fn loom_models_join_handle_drop_vs_complete() {
        // The JoinHandle is dropped on one thread while the task completes on its loop: exactly one side owns the
        // output and drops it (rule 2) — the loop if the handle was gone, the handle if the task was complete.
        loom::model(|| {
            let state = word(JOIN_INTEREST | JOIN_WAKER, 2);
            let handle = {
                let state = state.clone();
                thread::spawn(move || state.unset_join_interest())
            };
            let previous = state.transition_to_complete(Outcome::Output);
            let loop_owns_output = !previous.has_join_interest();
            let dropped = handle.join().unwrap();
            let handle_owns_output = dropped.is_err();
            assert!(
                loop_owns_output ^ handle_owns_output,
                "exactly one side owns the output"
            );
            // The loop wakes the join side only if a waker was still registered when it completed (rule 3).
            if previous.has_join_waker() {
                assert!(handle_owns_output);
            }
            if let Ok(had_waker) = dropped {
                assert!(had_waker, "the handle took its waker slot back");
            }
        });
    }
}
