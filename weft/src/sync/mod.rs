//! Channels and locks for tasks: [`mpsc`], [`oneshot`], [`watch`] and [`broadcast`] channels; [`Mutex`],
//! [`RwLock`], [`Semaphore`], [`Notify`] and [`Barrier`]; and [`CancellationToken`], which carries "stop"
//! across tasks and threads.
//!
//! They work between tasks on the same loop and between tasks on different loops and threads (two runtimes
//! talking through a channel is an everyday pattern): each is `Send + Sync` where its contents are `Send`, and
//! wakes a task through its [`Waker`](std::task::Waker), which takes the cheap path on the task's own loop and
//! the loop's remote queue from another thread.
//!
//! Each primitive keeps its state behind one std mutex (a buffer, counters, and a FIFO wait list of
//! parked tasks in a slab), held for a few instructions and never across a wake: wakers are collected under the
//! lock and woken after it ([`watch`] also keeps its value behind a read-write lock). Waiters are served
//! first come, first served. [`oneshot`] needs no lock: one atomic state word says which side may touch its
//! value and waker slots. The mutexes, `Arc`s, atomics and cells come from the crate's `loom` facade, so the
//! loom models in `tests/sync_loom.rs` check this code.
//!
//! Why not async-channel or event-listener: measured as the bounded ping-pong of the issue on one weft loop,
//! async-channel took about 1.5x tokio's time per hop, while this [`mpsc`] takes about 0.4-0.5x.
//!
//! # Cancellation
//!
//! Every async method says what dropping its future does. In short: dropping a `send` never half-sends (the
//! message is either delivered or dropped with the future; `reserve` then `Permit::send` keeps it); dropping a
//! `recv` never loses a message; dropping a `lock` or `acquire` never leaks a permit nor blocks the queue (a
//! permit handed to a waiter that is then dropped goes to the next one).
//!
//! # Bookmarks
//!
//! Every waiting operation leaves an x-ray [`Bookmark`](crate::xray::Bookmark) in its task when it returns
//! `Pending` ("mpsc::recv", "Mutex::lock", ...), at the line that created its future: the line of `rx.recv()`,
//! `mutex.lock()`, `notify.notified()`; for a [`oneshot::Receiver`], which is its own future, the line of
//! [`oneshot::channel`]. The `poll_*` methods bookmark the line that called them.

mod barrier;
pub mod broadcast;
mod cancel;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod permits;
mod rwlock;
mod semaphore;
mod wait_list;
pub mod watch;

use std::panic::Location;
use std::task::Poll;

use crate::cell::{Label, Op};

pub use barrier::{Barrier, BarrierWaitResult};
pub use cancel::{CancellationToken, DropGuard, WaitForCancellation, WaitForCancellationOwned};
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

/// Passes `poll` through; if it is `Pending`, first leaves the bookmark `op` at `location` (the user's line that
/// created the waiting future) in the task being polled. Nothing happens on the `Ready` path.
#[inline]
fn parked<T>(poll: Poll<T>, location: &'static Location<'static>, op: Op) -> Poll<T> {
    if poll.is_pending() {
        crate::cell::bookmark(location, Label::plain(op));
    }
    poll
}
