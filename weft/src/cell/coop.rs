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
//! Only a completed operation spends (a leaf that returns `Pending` gives its unit back), so a poll that
//! looks at many futures that are not ready, as `select!` or `join_all` do, is never forced to yield by them.
//!
//! Outside a weft loop (a blocking-pool thread, another executor) the budget is unconstrained and nothing
//! yields; [`unconstrained`] gives a section of a task the same freedom.
//!
//! # Invariants
//!
//! 1. The budget is enforced only while a loop's `block_on` runs on this thread (outside an [`unconstrained`]
//!    section): the loop refills it before each poll of a task or of the `block_on` future and lifts it when
//!    `block_on` returns, so a leaf future polled by anyone else never yields for the budget (it could spin
//!    forever: nobody would refill it).
//! 2. A leaf checks the budget before it does anything, so yielding for the budget never consumes a message, a
//!    permit or bytes: the next poll finds them where they were.
//!
//! The size ([`TASK_BUDGET`]) is tokio's (`tokio/src/runtime/coop.rs`, 128 per poll), confirmed by measurement:
//! see the constant.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Operations a task may complete in one poll before its leaf futures make it yield.
///
/// Measured beside a 10 ms ticker (tests/rt_fairness.rs, 3 runs a size on a quiet 2-core machine): the worst
/// tick delay beside a channel flood was 0.9-1.3 ms at 32, 2.6-5.7 ms at 128, 5-6 ms at 256, 12-22 ms at 512 and
/// 43-57 ms at 2048; beside a TCP flood it stayed under 6 ms up to 256. The floods' throughput did not change
/// measurably between 32 and 2048. 128 (tokio's figure too) keeps a 10 ms timer within a few milliseconds while
/// a task with a burst of ready work still finishes most bursts in one poll (every yield costs a turn, with a
/// zero-timeout `epoll_wait` every `EVENT_INTERVAL` polls).
pub(crate) const TASK_BUDGET: u32 = 128;

/// The budget while nothing constrains it: more than any poll completes. Off a loop it may still run down to
/// zero after 2^31 operations; then [`exhausted`] sees that no loop constrains this thread and starts it again.
const UNCONSTRAINED: u32 = 1 << 31;

thread_local! {
    /// What the poll in progress on this thread may still complete.
    static BUDGET: Cell<u32> = const { Cell::new(UNCONSTRAINED) };
    /// Whether a loop's `block_on` runs on this thread and has not lifted the budget (invariant 1); read only
    /// when the budget runs out.
    static CONSTRAINED: Cell<bool> = const { Cell::new(false) };
}

/// Gives the poll about to start a full budget (the loop, before polling a task or the `block_on` future).
#[inline]
pub(crate) fn refill() {
    BUDGET.with(|budget| budget.set(TASK_BUDGET));
}

/// The loop's `block_on` starts: from now on the budget it refills is enforced (invariant 1).
pub(crate) fn constrain() {
    CONSTRAINED.with(|constrained| constrained.set(true));
}

/// Lifts the budget (the loop, when `block_on` returns: invariant 1).
pub(crate) fn lift() {
    CONSTRAINED.with(|constrained| constrained.set(false));
    BUDGET.with(|budget| budget.set(UNCONSTRAINED));
}

/// Runs a leaf operation `op` under the budget: if the budget is spent, wakes the task and returns `Pending`
/// without calling `op` (invariant 2); otherwise spends one unit and calls it, and gives the unit back if it
/// did not complete. Spending before and refunding after costs the `Ready` path one decrement (a check and a
/// spend after would cost two accesses).
#[inline]
pub(crate) fn budgeted<T>(
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let left = BUDGET.with(Cell::get);
    if left == 0 && exhausted(cx) {
        return Poll::Pending;
    }
    // Wrapping: a nested leaf may spend and refund in between; the sum stays right.
    BUDGET.with(|budget| budget.set(left.wrapping_sub(1)));
    let poll = op(cx);
    if poll.is_pending() {
        BUDGET.with(|budget| budget.set(budget.get().wrapping_add(1)));
    }
    poll
}

/// Spends one unit for an operation about to complete at once, for a leaf that can tell before it takes
/// anything: true if it may go on; false once the budget is spent, after waking the task, and the leaf returns
/// `Pending` with nothing taken (invariant 2). The `Pending` path of such a leaf costs nothing.
#[inline]
pub(crate) fn try_spend(cx: &Context<'_>) -> bool {
    let left = BUDGET.with(Cell::get);
    if left == 0 && exhausted(cx) {
        return false;
    }
    BUDGET.with(|budget| budget.set(left.wrapping_sub(1)));
    true
}

/// The budget ran out: under a loop, wakes the task so it steps aside (true); elsewhere, starts the budget
/// again and lets the operation go on (false).
#[cold]
fn exhausted(cx: &Context<'_>) -> bool {
    if CONSTRAINED.with(Cell::get) {
        cx.waker().wake_by_ref();
        return true;
    }
    BUDGET.with(|budget| budget.set(UNCONSTRAINED));
    false
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
        struct Restore(u32, bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                BUDGET.with(|budget| budget.set(self.0));
                CONSTRAINED.with(|constrained| constrained.set(self.1));
            }
        }
        let _restore = Restore(
            BUDGET.with(|budget| budget.replace(UNCONSTRAINED)),
            CONSTRAINED.with(|constrained| constrained.replace(false)),
        );
        self.project().future.poll(cx)
    }
}
