//! The seam between `fs` and the thing that does the work.
//!
//! Every file-system operation is a value of its own type that owns everything it needs (paths, the shared
//! descriptor, the buffer) and implements [`Op`]. [`submit`] runs it on the current loop's io_uring when the
//! loop runs that driver and the operation has an io_uring form ([`Op::ring_form`]: reads, writes, `fsync`,
//! `openat`, `statx`), else on the blocking pool, as on epoll or outside a loop. Operations without an io_uring
//! counterpart (directory listing, seeks, `set_len`, `copy`, `canonicalize`, recursive create and remove)
//! stay on the pool.
//!
//! # Invariants
//!
//! 1. An operation runs exactly once, unless the pool drops it unrun (the runtime shut down first); then
//!    [`Op::cancelled`] runs instead, on the thread that dropped it. Writes use that to keep bytes the caller
//!    was told are written. On the ring, an operation is submitted when [`submit`] returns and the driver sees
//!    it through even if its future is dropped (a write is never cancelled: `uring.rs` invariant 7).
//! 2. [`Op::ring_done`] is called only after [`Op::ring_form`] returned `Some`, with that operation's outcome.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::ring::{RingDone, RingOp};
use crate::cell::{JoinError, JoinHandle};
use crate::driver::FileOp;

/// One file-system operation, owning its inputs, with a blocking implementation and maybe an io_uring one.
/// `Sync` because an operation on the ring waits inside its [`Pending`], which a [`File`](super::File) holds:
/// the file stays `Sync`, as it was when only a `JoinHandle` was held.
pub(crate) trait Op: Send + Sync + Sized + 'static {
    /// What the operation produces (usually an `io::Result`).
    type Output: Send + 'static;

    /// Performs the operation with blocking system calls.
    fn run_blocking(self) -> Self::Output;

    /// Called instead of [`run_blocking`](Op::run_blocking) when the pool drops the operation without running
    /// it (rule 1). Most operations have nothing to do: their caller is gone too.
    fn cancelled(self) {}

    /// The operation as an io_uring file operation, taking from `self` the memory and descriptor it lends the
    /// kernel; `None` (the default) if it has no such form, or not with these inputs (then it runs on the pool).
    fn ring_form(&mut self) -> Option<FileOp> {
        None
    }

    /// Turns the ring's outcome into the output (rule 2).
    fn ring_done(self, _done: RingDone) -> Self::Output {
        unreachable!("rule 2: only an operation with a ring form finishes on the ring")
    }
}

/// An operation in flight: on the blocking pool, or on the loop's ring with what finishes it.
pub(crate) enum Pending<T> {
    /// On the pool.
    Pool(JoinHandle<T>),
    /// On the ring.
    Ring {
        /// The operation in the driver.
        ring: RingOp,
        /// Turns its outcome into the output (the operation itself, boxed); taken once.
        finish: Option<Box<dyn FnOnce(RingDone) -> T + Send + Sync>>,
    },
}

impl<T> Future for Pending<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Pending::Pool(handle) => Pin::new(handle).poll(cx),
            Pending::Ring { ring, finish } => {
                let done = ready!(Pin::new(ring).poll(cx));
                let finish = finish.take().expect("an operation finishes once");
                Poll::Ready(Ok(finish(done)))
            }
        }
    }
}

/// Starts `op`, on the loop's ring if it can go there (rule 1), and returns its pending output.
pub(crate) fn submit<O: Op>(mut op: O) -> Pending<O::Output> {
    if RingOp::available() {
        if let Some(file_op) = op.ring_form() {
            let Ok(ring) = RingOp::start(file_op) else {
                unreachable!("the loop on this thread runs io_uring");
            };
            return Pending::Ring {
                ring,
                finish: Some(Box::new(move |done| op.ring_done(done))),
            };
        }
    }
    let mut job = Job(Some(op));
    Pending::Pool(crate::spawn_blocking(move || {
        job.0.take().expect("an operation runs once").run_blocking()
    }))
}

/// Runs `op` to completion; a panic in it or its cancellation becomes an `io::Error`.
pub(crate) async fn run<O, T>(op: O) -> io::Result<T>
where
    O: Op<Output = io::Result<T>>,
{
    submit(op).await?
}

/// An operation on its way through the pool; calls [`Op::cancelled`] if dropped before it ran (rule 1).
struct Job<O: Op>(Option<O>);

impl<O: Op> Drop for Job<O> {
    fn drop(&mut self) {
        if let Some(op) = self.0.take() {
            op.cancelled();
        }
    }
}
