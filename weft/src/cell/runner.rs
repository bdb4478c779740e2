//! [`Runner`]: the proof, held by the one thread allowed to do it, that a task may be polled or its future dropped
//! here (task rule 1).
//!
//! A [`TaskRef`](super::TaskRef) travels between threads (wakers push it through remote queues), so it cannot carry
//! that right itself. The right is this value instead: it is neither `Send` nor `Sync`, so it never leaves the thread
//! that made it, and making one is `unsafe` — the one place where "this thread owns these tasks" is promised.
//! `TaskRef::run` and `TaskRef::shutdown` take it by reference, so no safe code can poll a task anywhere else.

use std::marker::PhantomData;

/// The right to poll, cancel and drop the futures of the tasks owned by this thread (task rule 1).
///
/// Made once per owner: by a loop when it is built on its thread, by a blocking-pool thread for the job it took.
/// `!Send` and `!Sync`.
#[derive(Debug)]
pub(crate) struct Runner {
    /// A raw pointer is neither `Send` nor `Sync`; neither is the runner.
    _not_send: PhantomData<*const ()>,
}

impl Runner {
    /// The runner of the calling thread.
    ///
    /// # Safety
    /// Every task the caller runs or shuts down with this runner is owned by the calling thread (task rule 1): it
    /// is the owner loop's thread, the pool thread that popped the blocking job, or the future is `Send` and no
    /// other thread can reach the task's stage any more (a task refused by a closed loop, a job never started).
    pub(crate) unsafe fn new() -> Runner {
        Runner {
            _not_send: PhantomData,
        }
    }
}
