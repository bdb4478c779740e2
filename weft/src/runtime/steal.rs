//! Work stealing between the loops of one runtime, opt-in with [`Builder::steal`](super::Builder::steal): each
//! loop keeps a queue of `Send` tasks that wait for their first poll; an idle loop takes half of another loop's
//! before it parks, and a loop with waiting tasks wakes a parked, hungry loop.
//!
//! # Invariants
//!
//! 1. **Only never-polled tasks wait here**, each as one [`Waiting`] entry holding its registry and queue
//!    references; a loop that takes one out makes itself the task's owner (task rule 9, `raw::adopt`), registers
//!    it and polls it. After its first poll a task never comes back here.
//! 2. **The owner end is the loop's thread alone** ([`WaitQueue`] lives in the loop's `Core`); other loops only
//!    take batches through its `Stealer` in the loop's shared half. The deque is crossbeam's Chase-Lev deque:
//!    lock-free on both ends, each entry handed to exactly one taker.
//! 3. **Waking a hungry loop is an optimisation, never needed for progress**: the loop that holds waiting tasks
//!    runs them itself if nobody takes them. A loop going to park sets its hungry flag ([`HungryFlags`]; each on
//!    a cache line of its own, written by that loop and by whoever wakes it), fences, then looks at the other
//!    loops' queues once more; a loop with waiting tasks fences and reads the flags once per turn (and without
//!    the fence when it queues or starts one). A wake missed between the two is caught at that loop's next turn;
//!    a swap decides which waker clears a flag, so one loop is woken once.
//!
//! References: Chase and Lev, "Dynamic circular work-stealing deque" (SPAA 2005); tokio's `steal_into` takes half.

#![forbid(unsafe_code)]

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use crossbeam_deque::{Steal, Stealer, Worker};

use crate::cell::TaskRef;

/// A task that waits for its first poll, stealable by another loop (invariant 1).
#[derive(Debug)]
pub(crate) struct Waiting {
    /// The reference the registry of the loop that starts it will hold (task rule 5).
    pub(crate) registry: TaskRef,
    /// The queue's reference (task rule 4): the task is `SCHEDULED` while it waits.
    pub(crate) queue: TaskRef,
}

/// A loop's own end of its queue of waiting tasks (invariant 2): touched on the loop's thread only.
pub(crate) struct WaitQueue {
    /// First in, first out: the oldest waiting task starts first, here or elsewhere.
    worker: Worker<Waiting>,
}

impl std::fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitQueue")
            .field("len", &self.worker.len())
            .finish()
    }
}

impl WaitQueue {
    /// An empty queue and the handle other loops take from it with.
    pub(crate) fn new() -> (WaitQueue, Stealer<Waiting>) {
        let worker = Worker::new_fifo();
        let stealer = worker.stealer();
        (WaitQueue { worker }, stealer)
    }

    /// Adds a task to wait here.
    pub(crate) fn push(&self, task: Waiting) {
        self.worker.push(task);
    }

    /// The oldest waiting task, if any.
    pub(crate) fn pop(&self) -> Option<Waiting> {
        self.worker.pop()
    }

    /// Whether no task waits here.
    pub(crate) fn is_empty(&self) -> bool {
        self.worker.is_empty()
    }

    /// Takes half of `victim`'s waiting tasks (at most 32) into this queue and returns the oldest of them to run
    /// now, if `victim` had any.
    pub(crate) fn steal_from(&self, victim: &Stealer<Waiting>) -> Option<Waiting> {
        loop {
            match victim.steal_batch_and_pop(&self.worker) {
                Steal::Success(task) => return Some(task),
                Steal::Empty => return None,
                // Another thief won a race on the same queue: look again.
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }
}

/// Which loops of a group are parked hungry for other loops' waiting tasks (invariant 3), by loop index.
#[derive(Debug)]
pub(crate) struct HungryFlags {
    /// One flag per loop.
    flags: Box<[Flag]>,
}

/// A flag alone on its cache line (two, for the adjacent-line prefetcher), so one loop's parking does not
/// disturb another's.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Flag(AtomicBool);

impl HungryFlags {
    /// No loop of `loops` hungry.
    pub(crate) fn new(loops: usize) -> HungryFlags {
        HungryFlags {
            flags: (0..loops).map(|_| Flag::default()).collect(),
        }
    }

    /// Loop `index` is about to park with nothing to do. The caller fences and looks at the queues after.
    pub(crate) fn enter(&self, index: usize) {
        self.flags[index].0.store(true, SeqCst);
    }

    /// Loop `index` is awake again.
    pub(crate) fn leave(&self, index: usize) {
        if self.flags[index].0.load(Relaxed) {
            self.flags[index].0.store(false, Relaxed);
        }
    }

    /// Clears the flag of one hungry loop other than `from` and returns its index, if any loop is hungry.
    pub(crate) fn take_one(&self, from: usize) -> Option<usize> {
        self.flags.iter().enumerate().find_map(|(index, flag)| {
            let hungry = index != from && flag.0.load(Relaxed) && flag.0.swap(false, SeqCst);
            hungry.then_some(index)
        })
    }
}
