//! [`Owner`]: what a task needs of the loop that owns it — the one seam between tasks and the runtime.
//!
//! The task layer does not know what a loop is. The runtime implements this trait for its shared half, and every
//! cell is instantiated for that type, so scheduling a woken task is a direct call, not a call through a pointer
//! (async-task's `Schedule` and tokio's `Schedule` trait keep tasks ignorant of the executor the same way).

#![forbid(unsafe_code)]

use std::any::Any;
use std::panic::Location;

use super::arena::Arena;
use super::{Id, TaskRef};

/// The loop that owns a task: it polls it, queues it when woken, and lends it arena memory (task rules 1, 4, 7).
pub(crate) trait Owner: Send + Sync + Sized + 'static {
    /// Queues `task` (which holds its queue reference, rule 4) to be polled, from any thread.
    fn schedule(&self, task: TaskRef);

    /// The arena small cells of this loop come from.
    fn arena(&self) -> &Arena;

    /// Whether this thread runs this loop right now (so its arena's thread-local parts may be touched).
    fn is_current(&self) -> bool;

    /// A panic nobody can catch (in the destructor of a task's output, dropped by its `JoinHandle` or with its
    /// last reference): report it under the policy of the loop on this thread, if any, and go on.
    fn report_lost_panic(
        id: Id,
        spawned_at: &'static Location<'static>,
        payload: Box<dyn Any + Send>,
    );
}
