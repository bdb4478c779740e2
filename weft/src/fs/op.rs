//! The seam between `fs` and the thing that does the work.
//!
//! Every file-system operation is a value of its own type that owns everything it needs (paths, the shared
//! descriptor, the buffer) and implements [`Op`]. Today [`submit`] runs it on the blocking pool; an io_uring
//! backend can later take over one operation at a time by giving that type a submission-queue entry, while the
//! rest keep running here. Operations without an io_uring counterpart (directory listing, `copy`,
//! `canonicalize`, recursive create and remove) stay on the pool for good.
//!
//! # Invariants
//!
//! 1. An operation runs exactly once, unless the pool drops it unrun (the runtime shut down first); then
//!    [`Op::cancelled`] runs instead, on the thread that dropped it. Writes use that to keep bytes the caller
//!    was told are written.

use std::io;

use crate::cell::JoinHandle;

/// One file-system operation, owning its inputs, with a blocking implementation.
pub(crate) trait Op: Send + Sized + 'static {
    /// What the operation produces (usually an `io::Result`).
    type Output: Send + 'static;

    /// Performs the operation with blocking system calls.
    fn run_blocking(self) -> Self::Output;

    /// Called instead of [`run_blocking`](Op::run_blocking) when the pool drops the operation without running
    /// it (rule 1). Most operations have nothing to do: their caller is gone too.
    fn cancelled(self) {}
}

/// Starts `op` and returns a handle to its output.
pub(crate) fn submit<O: Op>(op: O) -> JoinHandle<O::Output> {
    let mut job = Job(Some(op));
    crate::spawn_blocking(move || job.0.take().expect("an operation runs once").run_blocking())
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
