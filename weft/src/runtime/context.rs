//! The thread-local context: which loop, if any, is running on this thread (runtime invariant 1).

use std::cell::Cell;
use std::ptr;

use std::sync::Arc;

use super::event_loop::Core;
use super::Shared;

thread_local! {
    /// The loop running on this thread, or null.
    static CURRENT: Cell<*const Core> = const { Cell::new(ptr::null()) };
}

/// Calls `f` with the loop running on this thread, if any.
pub(crate) fn with_core<R>(f: impl FnOnce(Option<&Core>) -> R) -> R {
    let current = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    // SAFETY: runtime invariant 1: a non-null pointer is a loop whose block_on or shutdown is on this
    // thread's stack, so it outlives this call.
    f(unsafe { current.as_ref() })
}

/// Calls `f` with the loop running on this thread if it is the loop whose shared half is `shared`, else `None`.
pub(crate) fn with_core_of<R>(shared: *const Shared, f: impl FnOnce(Option<&Core>) -> R) -> R {
    with_core(|core| f(core.filter(|core| std::ptr::eq(Arc::as_ptr(core.shared()), shared))))
}

/// Restores the previous context when dropped.
pub(crate) struct Enter {
    /// The context to restore.
    previous: *const Core,
    /// The loop's timers stay current as long as the loop does.
    _timers: crate::time::context::Entered,
}

/// Makes `core` the current loop until the guard is dropped. `nested_ok` allows replacing another loop (used
/// by shutdown, which may run inside another runtime's task); `block_on` refuses, at its caller's line.
#[track_caller]
pub(crate) fn enter(core: &Core, nested_ok: bool) -> Enter {
    let previous = CURRENT.with(|current| current.replace(core));
    if !previous.is_null() && !nested_ok {
        CURRENT.with(|current| current.set(previous));
        panic!(
            "Runtime::block_on called from inside a runtime: a task must not block its loop; \
             .await the future instead, or run it on another thread"
        );
    }
    Enter {
        previous,
        _timers: crate::time::context::enter(core.timers()),
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
    }
}
