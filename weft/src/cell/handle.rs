//! [`JoinHandle`] and [`AbortHandle`]: the spawner's side of a task.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use super::coop;
use super::raw::{self, Header, TaskRef};
use super::{Id, JoinError};
use crate::cell::{Label, Op};

/// An owned permission to await a task's output, the `create_task` result of asyncio.
///
/// Awaiting it gives `Ok(output)`, or `Err(JoinError)` if the task panicked or was cancelled. Dropping it
/// **detaches** the task: it keeps running, and its output is dropped when it finishes.
///
/// Cancellation safety: awaiting a `JoinHandle` by `&mut` (in a `select!` loop) and dropping that poll loses
/// nothing — the output waits in the task until a poll takes it. Cancelling the *task* is [`abort`](Self::abort).
///
/// ```
/// weft::run(async {
///     let task = weft::spawn(async { 6 * 7 });
///     assert_eq!(task.await.unwrap(), 42);
/// });
/// ```
pub struct JoinHandle<T> {
    /// The task; we own one reference and the join interest.
    ptr: NonNull<Header>,
    /// The output type, and `!Send` unless `T: Send`.
    _output: PhantomData<T>,
}

// SAFETY: the join side only moves `T` out (rule 2), so sending the handle is sending a `T`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads atomics (is_finished, id) or aborts, which is thread-safe.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Wraps the join side's reference.
    ///
    /// # Safety
    /// `ptr` is a task whose output type is `T`, holding `JOIN_INTEREST`, and the caller hands over one
    /// reference.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle {
            ptr,
            _output: PhantomData,
        }
    }

    /// The header.
    fn header(&self) -> &Header {
        // SAFETY: we hold a reference, so the cell is alive (rule 6).
        unsafe { self.ptr.as_ref() }
    }

    /// Cancels the task. It stops at its next bookmark (its next `.await` that is pending): by the loop's next
    /// turn its future has been dropped, its destructors have run, and awaiting this handle gives a
    /// cancelled [`JoinError`]. Aborting a finished task does nothing; its output stays available.
    ///
    /// ```
    /// weft::run(async {
    ///     let task = weft::spawn(std::future::pending::<()>());
    ///     task.abort();
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        // SAFETY: the handle holds a reference to the cell.
        unsafe { TaskRef::abort_raw(self.ptr) };
    }

    /// True once the task has finished: returned, panicked, or been cancelled.
    ///
    /// ```
    /// weft::run(async {
    ///     let task = weft::spawn(async {});
    ///     weft::task::yield_now().await;
    ///     assert!(task.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// The task's id. It stays the same after the task finishes, and no other task ever gets it.
    ///
    /// ```
    /// weft::run(async {
    ///     let first = weft::spawn(async {});
    ///     let second = weft::spawn(async {});
    ///     assert_ne!(first.id(), second.id());
    ///     let id = first.id();
    ///     weft::task::yield_now().await;
    ///     assert!(first.is_finished());
    ///     assert_eq!(first.id(), id);
    /// });
    /// ```
    pub fn id(&self) -> Id {
        self.header().id
    }

    /// A handle that can abort the task but not await it; it may outlive this `JoinHandle`.
    ///
    /// ```
    /// weft::run(async {
    ///     let task = weft::spawn(std::future::pending::<()>());
    ///     let abort = task.abort_handle();
    ///     drop(task); // detached: it keeps running...
    ///     weft::task::yield_now().await;
    ///     assert!(!abort.is_finished());
    ///     abort.abort(); // ...until it is aborted
    ///     weft::task::yield_now().await;
    ///     assert!(abort.is_finished());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            // SAFETY: the handle holds a reference to the cell.
            task: unsafe { TaskRef::clone_raw(self.ptr) },
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A task already complete spends from the budget before its output is taken (coop rule 2).
        if self.header().state.load().is_complete() && !coop::try_spend(cx) {
            return Poll::Pending;
        }
        // SAFETY: we are the unique join side and the output type is T (from_raw's contract).
        let poll = unsafe { raw::join::poll(self.ptr, cx.waker()) };
        if poll.is_pending() {
            // The handle was created where the task was spawned: that line, and the task awaited.
            // SAFETY: the handle holds a reference, so the header is alive; id and spawned_at never change, nor
            // whether it has an owner (a steal only swaps one loop for another, `raw::adopt`).
            let header = unsafe { self.ptr.as_ref() };
            // SAFETY: as above.
            let op = if unsafe { raw::is_blocking(self.ptr) } {
                Op::JoinBlocking
            } else {
                Op::Join
            };
            crate::cell::bookmark(header.spawned_at, Label::task(op, header.id));
        }
        poll
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: the handle is the unique join side and owns a reference, given up here.
        unsafe { raw::join::drop_handle(self.ptr) };
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Cancels a task without awaiting it. Unlike [`JoinHandle`], it can be cloned and sent anywhere.
///
/// ```
/// weft::run(async {
///     let task = weft::spawn(std::future::pending::<()>());
///     let abort = task.abort_handle();
///     abort.abort();
///     assert!(task.await.unwrap_err().is_cancelled());
/// });
/// ```
pub struct AbortHandle {
    /// One reference to the task.
    task: TaskRef,
}

impl AbortHandle {
    /// Cancels the task; see [`JoinHandle::abort`]. Works from any thread.
    ///
    /// ```
    /// weft::run(async {
    ///     let task = weft::spawn(std::future::pending::<()>());
    ///     let abort = task.abort_handle();
    ///     std::thread::spawn(move || abort.abort()).join().unwrap();
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        // SAFETY: `task` holds a reference to the cell.
        unsafe { TaskRef::abort_raw(self.task.as_ptr()) };
    }

    /// True once the task has finished.
    ///
    /// ```
    /// weft::run(async {
    ///     let task = weft::spawn(async { 1 });
    ///     let abort = task.abort_handle();
    ///     assert!(!abort.is_finished()); // spawned, not yet run
    ///     weft::task::yield_now().await;
    ///     assert!(abort.is_finished());
    ///     assert_eq!(task.await.unwrap(), 1);
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.header().state.load().is_complete()
    }

    /// The task's id, the same as its [`JoinHandle::id`].
    ///
    /// ```
    /// weft::run(async {
    ///     let task = weft::spawn(async {});
    ///     assert_eq!(task.abort_handle().id(), task.id());
    /// });
    /// ```
    pub fn id(&self) -> Id {
        self.task.header().id
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> AbortHandle {
        AbortHandle {
            // SAFETY: `task` holds a reference to the cell.
            task: unsafe { TaskRef::clone_raw(self.task.as_ptr()) },
        }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
