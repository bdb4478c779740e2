//! [`Permits`]: a fair pool of permits, the core of [`Semaphore`](super::Semaphore),
//! [`Mutex`](super::Mutex) (one permit) and [`RwLock`](super::RwLock) (a reader takes one, a writer all).
//!
//! # Invariants
//!
//! 1. **First come, first served.** A request is granted only when no older request waits: a newcomer queues
//!    behind waiters even if enough permits are free, and [`Permits::try_acquire`] fails while anyone waits.
//!    So a task that releases and at once re-acquires cannot starve a waiter.
//! 2. **Released permits go to waiters directly**, oldest first, inside the critical section that releases
//!    them: a waiter's request is deducted from `available` and it is unlinked marked `Granted` before anyone
//!    else can take the lock.
//! 3. **A granted permit is never lost.** An [`Acquire`] dropped after its grant gives the permits back through
//!    [`Permits::release`], which passes them on (rule 2); one dropped while queued leaves the queue, and if it
//!    was at the front the next request may now fit, so the grant loop runs again.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::poll_fn;
use std::panic::Location;
use std::task::{Context, Poll};

use super::parked;
use super::wait_list::{WaitKey, WaitList, WakeBatch};
use crate::cell::coop;
use crate::cell::Op;
use crate::loom::sync::{lock, Mutex};

/// The most permits a pool can hold: room is left so a sum of two counts never overflows.
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;

/// A fair permit pool.
pub(crate) struct Permits {
    /// The count and the queue, behind one lock.
    state: Mutex<State>,
}

/// The pool's state.
struct State {
    /// Permits nobody holds.
    available: usize,
    /// No new request is granted.
    closed: bool,
    /// Requests waiting, oldest first.
    waiters: WaitList<Request>,
}

/// One waiting request.
#[derive(Debug, Clone, Copy)]
struct Request {
    /// Permits asked for.
    needed: usize,
    /// What was decided for it (wait-list rule 2).
    outcome: Outcome,
}

/// The fate of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Queued.
    Waiting,
    /// Its permits are deducted from the pool and belong to it (rule 2).
    Granted,
    /// The pool was closed while it waited.
    Closed,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryAcquire {
    /// The pool is closed.
    Closed,
    /// Not enough permits free, or others wait first (rule 1).
    NoPermits,
}

impl Permits {
    /// A pool of `permits`.
    #[track_caller]
    pub(crate) fn new(permits: usize) -> Permits {
        assert!(
            permits <= MAX_PERMITS,
            "a semaphore holds at most {MAX_PERMITS} permits"
        );
        Permits {
            state: Mutex::new(State {
                available: permits,
                closed: false,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Takes `needed` permits now, or fails without waiting (rule 1).
    pub(crate) fn try_acquire(&self, needed: usize) -> Result<(), TryAcquire> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(TryAcquire::Closed);
        }
        if state.available >= needed && state.waiters.is_empty() {
            state.available -= needed;
            Ok(())
        } else {
            Err(TryAcquire::NoPermits)
        }
    }

    /// Gives back `count` permits, handing them to waiters first (rule 2).
    #[track_caller]
    pub(crate) fn release(&self, count: usize) {
        let mut state = lock(&self.state);
        state.available = match state.available.checked_add(count) {
            Some(available) if available <= MAX_PERMITS => available,
            _ => {
                drop(state); // not poisoned by the panic
                panic!("a semaphore holds at most {MAX_PERMITS} permits")
            }
        };
        let mut wakers = WakeBatch::new();
        grant_waiters(&mut state, &mut wakers);
        drop(state);
        wakers.wake_all();
    }

    /// Closes the pool: waiting and future requests fail; permits already held stay valid.
    pub(crate) fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        let mut wakers = WakeBatch::new();
        state
            .waiters
            .drain(|request| request.outcome = Outcome::Closed, &mut wakers);
        drop(state);
        wakers.wake_all();
    }

    /// The pool is closed.
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Permits free right now.
    pub(crate) fn available(&self) -> usize {
        lock(&self.state).available
    }

    /// Removes up to `count` free permits for good; returns how many.
    pub(crate) fn forget(&self, count: usize) -> usize {
        let mut state = lock(&self.state);
        let taken = count.min(state.available);
        state.available -= taken;
        taken
    }

    /// Waits for `needed` permits (`Err` if the pool is closed first), bookmarked as `op` at `location` (the
    /// user's line) while it waits. Dropping the future cancels the request (rule 3).
    pub(crate) async fn acquire_at(
        &self,
        needed: usize,
        location: &'static Location<'static>,
        op: Op,
    ) -> Result<(), ()> {
        // A request queued on its first poll.
        let mut acquire = Acquire {
            permits: self,
            needed,
            waiter: None,
        };
        poll_fn(|cx| parked(acquire.poll_acquire(cx), location, op)).await
    }
}

/// Grants requests from the front while they fit (rule 2).
fn grant_waiters(state: &mut State, wakers: &mut WakeBatch) {
    while let Some(request) = state.waiters.front() {
        let needed = request.needed;
        if needed > state.available {
            break;
        }
        state.available -= needed;
        wakers.push(
            state
                .waiters
                .pop_front(|request| request.outcome = Outcome::Granted),
        );
    }
}

impl fmt::Debug for Permits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Permits")
            .field("available", &state.available)
            .field("waiting", &state.waiters.len())
            .field("closed", &state.closed)
            .finish()
    }
}

/// A request for permits, polled by [`Permits::acquire_at`] and cancelled by dropping it (rule 3).
struct Acquire<'a> {
    /// The pool.
    permits: &'a Permits,
    /// Permits asked for.
    needed: usize,
    /// Our slot in the queue, while queued or granted-but-not-yet-seen.
    waiter: Option<WaitKey>,
}

impl Acquire<'_> {
    /// `Ready(Ok)` once the permits are ours; `Ready(Err)` if the pool is closed first.
    /// Permits free at once spend from the task's budget (ones waited for do not: the task stepped aside
    /// meanwhile).
    fn poll_acquire(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let mut state = lock(&self.permits.state);
        match self.waiter {
            None => {
                if state.closed {
                    return Poll::Ready(Err(()));
                }
                if state.available >= self.needed && state.waiters.is_empty() {
                    if !coop::try_spend(cx) {
                        return Poll::Pending; // woken already; nothing taken (coop rule 2)
                    }
                    state.available -= self.needed;
                    return Poll::Ready(Ok(()));
                }
                let request = Request {
                    needed: self.needed,
                    outcome: Outcome::Waiting,
                };
                self.waiter = Some(state.waiters.push_back(request, cx.waker()));
                Poll::Pending
            }
            Some(key) if state.waiters.is_queued(key) => {
                state.waiters.register(key, cx.waker());
                Poll::Pending
            }
            Some(key) => {
                self.waiter = None;
                match state.waiters.remove(key).outcome {
                    Outcome::Granted => Poll::Ready(Ok(())),
                    Outcome::Closed | Outcome::Waiting => Poll::Ready(Err(())),
                }
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(key) = self.waiter.take() else {
            return;
        };
        let mut state = lock(&self.permits.state);
        let request = state.waiters.remove(key);
        if request.outcome == Outcome::Granted {
            state.available += request.needed;
        }
        // Either way the front may now be a request that fits (rule 3).
        let mut wakers = WakeBatch::new();
        grant_waiters(&mut state, &mut wakers);
        drop(state);
        wakers.wake_all();
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("needed", &self.needed)
            .field("queued", &self.waiter.is_some())
            .finish()
    }
}
