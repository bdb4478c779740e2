//! Channels and locks for tasks: [`mpsc`], [`oneshot`], [`watch`] and [`broadcast`] channels; [`Mutex`],
//! [`RwLock`], [`Semaphore`], [`Notify`] and [`Barrier`].
//!
//! They work between tasks on the same loop and between tasks on different loops and threads (two runtimes
//! talking through a channel is an everyday pattern): each is `Send + Sync` where its contents are `Send`, and
//! wakes a task through its [`Waker`](std::task::Waker), which takes the cheap path on the task's own loop and
//! the loop's remote queue from another thread.
//!
//! Each primitive is one std mutex around its whole state (a buffer, counters, and a FIFO wait list of
//! parked tasks in a slab), held for a few instructions and never across a wake: wakers are collected under the
//! lock and woken after it. Waiters are served first come, first served. The mutexes, `Arc`s and atomics come
//! from the crate's `loom` facade, so the loom models in `tests/sync_loom.rs` check this code.
//!
//! # Cancellation
//!
//! Every async method says what dropping its future does. In short: dropping a `send` never half-sends (the
//! message is either delivered or dropped with the future; `reserve` then `Permit::send` keeps it); dropping a
//! `recv` never loses a message; dropping a `lock` or `acquire` never leaks a permit nor blocks the queue (a
//! permit handed to a waiter that is then dropped goes to the next one).

mod barrier;
pub mod broadcast;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod permits;
mod rwlock;
mod semaphore;
mod wait_list;
pub mod watch;

pub use barrier::{Barrier, BarrierWaitResult};
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
