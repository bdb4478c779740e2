//! The cooperative budget: a task that is always ready still gives the loop back.
//!
//! A future that never returns `Pending` never lets its loop check timers, the OS or its other tasks: a task
//! draining a socket that a fast peer keeps full, or an unbounded channel fed by another thread, would hold the
//! loop for as long as the data flows. So every weft leaf future (socket operations and accept, channel receive
//! and send, lock and semaphore acquisition, a sleep that is already due, a `JoinHandle`) spends one unit of a
//! per-poll budget when it completes, and once the budget is spent it returns `Pending` after waking its task:
//! the task goes to the back of the run queue and the loop takes its turn. The loop refills the budget before
//! every poll of a task (and of the `block_on` future).
//!
//! Only a completed operation spends (a leaf that returns `Pending` leaves the budget as it was), so a poll that
//! looks at many futures that are not ready, as `select!` or `join_all` do, is never forced to yield by them.
//!
//! Outside a weft loop (a blocking-pool thread, another executor) the budget is unconstrained and nothing
//! yields; [`unconstrained`] gives a section of a task the same freedom.
//!
//! # Invariants
//!
//! 1. The budget is constrained only while the loop polls a task or the `block_on` future on this thread: the
//!    loop sets it before each such poll and puts back "unconstrained" when `block_on` returns, so a leaf future
//!    polled by anyone else never yields for the budget (it could spin forever: nobody would refill it).
//! 2. A leaf checks the budget before it does anything, so yielding for the budget never consumes a message, a
//!    permit or bytes: the next poll finds them where they were.
//!
//! The size ([`TASK_BUDGET`]) is tokio's (`tokio/src/runtime/coop.rs`, 128 per poll), confirmed by measurement:
//! see the constant.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Operations a task may complete in one poll before its leaf futures make it yield.
///
/// Measured beside a 10 ms ticker (tests/rt_fairness.rs; figures in issue 13's note): at 128 a task draining a
/// TCP stream in 4 KiB reads holds the loop for about 0.2 ms per poll and loses no measurable throughput to the
/// extra turns (each turn costs a zero-timeout `epoll_wait` every `EVENT_INTERVAL` polls); larger budgets only
/// lengthen the worst delay of everyone else, smaller ones add turns without making the delay noticeably shorter.
pub(crate) const TASK_BUDGET: u32 = 128;

/// The budget while nothing constrains it (invariant 1).
const UNCONSTRAINED: u32 = u32::MAX;

thread_local! {
    /// What the poll in progress on this thread may still complete, or [`UNCONSTRAINED`].
    static BUDGET: Cell<u32> = const { Cell::new(UNCONSTRAINED) };
}

/// Gives the poll about to start a full budget (the loop, before polling a task or the `block_on` future).
#[inline]
pub(crate) fn refill() {
    BUDGET.with(|budget| budget.set(TASK_BUDGET));
}

/// Lifts the budget (the loop, when `block_on` returns: invariant 1).
#[inline]
pub(crate) fn lift() {
    BUDGET.with(|budget| budget.set(UNCONSTRAINED));
}

/// Runs a leaf operation `op` under the budget: if the budget is spent, wakes the task and returns `Pending`
/// without calling `op` (invariant 2); otherwise calls it and, if it completed, spends one unit.
#[inline]
pub(crate) fn budgeted<T>(
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    if BUDGET.with(Cell::get) == 0 {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    let poll = op(cx);
    if poll.is_ready() {
        spend();
    }
    poll
}

/// Spends one unit, if the budget is constrained. Read again after the operation, which may itself have spent
/// (a leaf that polls another leaf), and never below zero.
#[inline]
fn spend() {
    BUDGET.with(|budget| {
        let left = budget.get();
        if left != UNCONSTRAINED && left != 0 {
            budget.set(left - 1);
        }
    });
}

/// Runs `future` with no budget: weft's leaf futures inside it never yield for the budget.
///
/// For a section that must run to its end in one poll, or a future that yields on its own schedule. Use with
/// care: while it keeps completing operations, timers and every other task on the loop wait.
///
/// ```
/// use weft::sync::mpsc;
///
/// weft::run(async {
///     let (tx, mut rx) = mpsc::unbounded_channel();
///     for i in 0..1000 {
///         tx.send(i).unwrap();
///     }
///     // Without `unconstrained`, this loop would step aside every 128 messages.
///     let sum = weft::task::unconstrained(async move {
///         let mut sum = 0;
///         for _ in 0..1000 {
///             sum += rx.recv().await.unwrap();
///         }
///         sum
///     })
///     .await;
///     assert_eq!(sum, 499_500);
/// });
/// ```
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

pin_project_lite::pin_project! {
    /// The future returned by [`unconstrained`]: polls its future with no budget, then puts the budget back as
    /// it was.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless you .await them"]
    pub struct Unconstrained<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        /// Puts the budget back when the inner poll ends, also by a panic.
        struct Restore(u32);
        impl Drop for Restore {
            fn drop(&mut self) {
                BUDGET.with(|budget| budget.set(self.0));
            }
        }
        let _restore = Restore(BUDGET.with(|budget| budget.replace(UNCONSTRAINED)));
        self.project().future.poll(cx)
    }
}
