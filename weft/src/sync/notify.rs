//! [`Notify`]: wake one waiting task, or all of them, with no data attached.
//!
//! # Invariants
//!
//! 1. **A `notify_one` is never lost.** It goes to the oldest queued waiter; with none queued it is stored as
//!    the one pending permit, taken by the next [`Notified`] to poll. A waiter that was handed a notification and
//!    is dropped before seeing it hands it on with `notify_one`.
//! 2. **`notify_waiters` reaches every [`Notified`] created before it**, polled or not: each call bumps
//!    `generation` under the lock, and a `Notified` completes when the generation it saw at creation has moved.
//!    It never stores a permit.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::parked;
use super::wait_list::{WaitKey, WaitList, WakeBatch};
use crate::cell::coop;
use crate::cell::Op;
use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::loom::sync::{lock, Mutex};

/// Wakes tasks without passing data: a building block for your own synchronization ("something changed, look
/// again").
///
/// [`notify_one`](Notify::notify_one) wakes the oldest waiter, or, if none waits, lets the next
/// [`notified`](Notify::notified) complete at once (at most one such permit is stored).
/// [`notify_waiters`](Notify::notify_waiters) wakes every waiter that exists now and stores nothing.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Notify;
///
/// weft::run(async {
///     let ready = Arc::new(Notify::new());
///     let waiter = weft::spawn({
///         let ready = ready.clone();
///         async move {
///             ready.notified().await;
///             "woken"
///         }
///     });
///     ready.notify_one(); // before or after the waiter parks: either way it is not lost
///     assert_eq!(waiter.await.unwrap(), "woken");
/// });
/// ```
pub struct Notify {
    /// Queue and permit.
    state: Mutex<State>,
    /// Bumped by each `notify_waiters`, under the lock (rule 2).
    generation: AtomicU64,
}

/// The queue and the stored permit.
struct State {
    /// A `notify_one` with nobody waiting (rule 1).
    permit: bool,
    /// Waiters, oldest first.
    waiters: WaitList<Notification>,
}

/// What a waiter was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notification {
    /// Nothing yet.
    Waiting,
    /// A `notify_one` chose it (rule 1).
    One,
    /// A `notify_waiters` woke it.
    All,
}

impl Notify {
    /// A `Notify` with no stored permit.
    ///
    /// ```
    /// let notify = weft::sync::Notify::new();
    /// notify.notify_one(); // stored for the next notified()
    /// ```
    pub fn new() -> Notify {
        Notify {
            state: Mutex::new(State {
                permit: false,
                waiters: WaitList::new(),
            }),
            generation: AtomicU64::new(0),
        }
    }

    /// A future that completes when this `Notify` is notified. It counts as waiting for
    /// [`notify_waiters`](Notify::notify_waiters) from the moment it is created, and for
    /// [`notify_one`](Notify::notify_one) from its first poll.
    ///
    /// # Cancellation safety
    /// Dropping it never loses a `notify_one`: one it was handed but had not yet seen goes to the next waiter.
    ///
    /// ```
    /// weft::run(async {
    ///     let notify = weft::sync::Notify::new();
    ///     let notified = notify.notified();
    ///     notify.notify_waiters(); // reaches `notified`, created before, though never polled yet
    ///     notified.await;
    /// });
    /// ```
    #[track_caller]
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.generation.load(Ordering::Acquire),
            waiter: None,
            done: false,
            location: Location::caller(),
        }
    }

    /// Wakes the oldest waiting task; if none waits, the next [`notified`](Notify::notified) completes at once.
    ///
    /// ```
    /// weft::run(async {
    ///     let notify = weft::sync::Notify::new();
    ///     notify.notify_one();
    ///     notify.notify_one(); // permits do not add up: one is stored
    ///     notify.notified().await;
    /// });
    /// ```
    pub fn notify_one(&self) {
        let mut state = lock(&self.state);
        match state
            .waiters
            .pop_front(|notification| *notification = Notification::One)
        {
            Some(waker) => {
                drop(state);
                waker.wake();
            }
            None => state.permit = true,
        }
    }

    /// Wakes every task waiting now (every [`Notified`] that exists); stores nothing for later ones.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// weft::run(async {
    ///     let go = Arc::new(weft::sync::Notify::new());
    ///     let runners: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             let go = go.clone();
    ///             weft::spawn(async move { go.notified().await })
    ///         })
    ///         .collect();
    ///     weft::task::yield_now().await; // let them start waiting
    ///     go.notify_waiters();
    ///     weft::join_all(runners).await;
    /// });
    /// ```
    pub fn notify_waiters(&self) {
        let mut state = lock(&self.state);
        self.generation.fetch_add(1, Ordering::Release);
        let mut wakers = WakeBatch::new();
        state.waiters.drain(
            |notification| *notification = Notification::All,
            &mut wakers,
        );
        drop(state);
        wakers.wake_all();
    }
}

impl Default for Notify {
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Notify")
            .field("permit", &state.permit)
            .field("waiting", &state.waiters.len())
            .finish()
    }
}

/// The future returned by [`Notify::notified`].
#[must_use = "futures do nothing unless you .await them"]
pub struct Notified<'a> {
    /// The `Notify`.
    notify: &'a Notify,
    /// `notify_waiters` generation at creation (rule 2).
    generation: u64,
    /// Our slot in the queue.
    waiter: Option<WaitKey>,
    /// Completed.
    done: bool,
    /// Where [`Notify::notified`] was called: the task's bookmark while this waits.
    location: &'static Location<'static>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        coop::budgeted(cx, |cx| this.poll_now(cx))
    }
}

impl Notified<'_> {
    /// [`Future::poll`] once the task's budget allows it.
    #[inline(always)]
    fn poll_now(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let this = self;
        if this.done {
            return Poll::Ready(());
        }
        let mut state = lock(&this.notify.state);
        let ready = match this.waiter {
            Some(key) if state.waiters.is_queued(key) => {
                state.waiters.register(key, cx.waker());
                false
            }
            Some(key) => {
                state.waiters.remove(key);
                this.waiter = None;
                true
            }
            None if this.notify.generation.load(Ordering::Acquire) != this.generation => true,
            None if state.permit => {
                state.permit = false;
                true
            }
            None => {
                this.waiter = Some(state.waiters.push_back(Notification::Waiting, cx.waker()));
                false
            }
        };
        if ready {
            this.done = true;
            Poll::Ready(())
        } else {
            drop(state);
            parked(Poll::Pending, this.location, Op::Notified)
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(key) = self.waiter.take() else {
            return;
        };
        let mut state = lock(&self.notify.state);
        if state.waiters.remove(key) == Notification::One {
            drop(state);
            // Handed a notification we will never see: pass it on (rule 1).
            self.notify.notify_one();
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("waiting", &self.waiter.is_some())
            .field("done", &self.done)
            .finish()
    }
}
