//! [`Barrier`]: `n` tasks wait until all `n` have arrived, then all go on together.
//!
//! # Invariants
//!
//! 1. **`arrived` counts the waiters queued in the current round.** It rises when a [`Barrier::wait`] first
//!    polls and falls when a queued waiter is dropped, so a cancelled wait does not count toward the round.
//!    The arrival that makes it `n` is the leader: it unlinks every queued waiter, marks it released, and
//!    starts the next round at 0.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::task::{Context, Poll};

use super::parked;
use super::wait_list::{WaitKey, WaitList, WakeBatch};
use crate::cell::Op;
use crate::loom::sync::{lock, Mutex};

/// Makes `n` tasks meet: each calls [`wait`](Barrier::wait), and all return once the `n`-th arrives. The
/// barrier can be reused for the next round straight away.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Barrier;
///
/// weft::run(async {
///     let barrier = Arc::new(Barrier::new(3));
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let barrier = barrier.clone();
///             weft::spawn(async move { barrier.wait().await.is_leader() })
///         })
///         .collect();
///     let leaders = weft::join_all(tasks).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
///     assert_eq!(leaders, 1); // exactly one of the three is told it is the leader
/// });
/// ```
pub struct Barrier {
    /// How many make a round.
    parties: usize,
    /// The current round.
    state: Mutex<State>,
}

/// The current round.
struct State {
    /// Waiters queued in this round (rule 1).
    arrived: usize,
    /// The queued waiters; a waiter's data says whether its round is over.
    waiters: WaitList<bool>,
}

impl Barrier {
    /// A barrier for `parties` tasks (0 is treated as 1: every `wait` returns at once).
    ///
    /// ```
    /// let barrier = weft::sync::Barrier::new(2);
    /// # drop(barrier);
    /// ```
    pub fn new(parties: usize) -> Barrier {
        Barrier {
            parties: parties.max(1),
            state: Mutex::new(State {
                arrived: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Waits until `n` tasks are waiting; the one whose arrival completed the round is the
    /// [leader](BarrierWaitResult::is_leader).
    ///
    /// # Cancellation safety
    /// Dropping the future before the round completes takes its arrival back: the round then needs one more.
    ///
    /// ```
    /// weft::run(async {
    ///     let barrier = weft::sync::Barrier::new(1);
    ///     assert!(barrier.wait().await.is_leader());
    /// });
    /// ```
    #[track_caller]
    pub fn wait(&self) -> impl Future<Output = BarrierWaitResult> + '_ {
        let location = Location::caller();
        let mut wait = Wait {
            barrier: self,
            waiter: None,
        };
        poll_fn(move |cx| parked(wait.poll_wait(cx), location, Op::BarrierWait))
    }
}

/// One task's arrival; leaves the round when dropped early (rule 1).
struct Wait<'a> {
    /// The barrier.
    barrier: &'a Barrier,
    /// Our slot, once arrived.
    waiter: Option<WaitKey>,
}

impl Wait<'_> {
    /// Arrives on first poll; ready when the round completes.
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let mut state = lock(&self.barrier.state);
        match self.waiter {
            Some(key) if state.waiters.is_queued(key) => {
                state.waiters.register(key, cx.waker());
                Poll::Pending
            }
            Some(key) => {
                state.waiters.remove(key);
                self.waiter = None;
                Poll::Ready(BarrierWaitResult(false))
            }
            None if state.arrived + 1 == self.barrier.parties => {
                state.arrived = 0;
                let mut wakers = WakeBatch::new();
                state
                    .waiters
                    .drain(|released| *released = true, &mut wakers);
                drop(state);
                wakers.wake_all();
                Poll::Ready(BarrierWaitResult(true))
            }
            None => {
                state.arrived += 1;
                self.waiter = Some(state.waiters.push_back(false, cx.waker()));
                Poll::Pending
            }
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let Some(key) = self.waiter.take() else {
            return;
        };
        let mut state = lock(&self.barrier.state);
        if state.waiters.is_queued(key) {
            state.arrived -= 1;
        }
        state.waiters.remove(key);
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("arrived", &lock(&self.state).arrived)
            .finish()
    }
}

/// What [`Barrier::wait`] returns.
///
/// ```
/// weft::run(async {
///     let result = weft::sync::Barrier::new(1).wait().await;
///     assert!(result.is_leader());
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// This task's arrival completed the round (exactly one per round is the leader).
    ///
    /// ```
    /// weft::run(async {
    ///     assert!(weft::sync::Barrier::new(1).wait().await.is_leader());
    /// });
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}
