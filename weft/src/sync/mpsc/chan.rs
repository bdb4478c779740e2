//! The channel's shared state and its lock-protected operations (the invariants are in the module docs of
//! [`mpsc`](super)).

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::future::poll_fn;
use std::panic::Location;
use std::task::{Context, Poll, Waker};

use super::super::parked;
use super::super::wait_list::{WaitKey, WaitList, WakeBatch};
use crate::cell::coop;
use crate::cell::Op;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{lock, Mutex, MutexGuard};

use super::error::*;
use super::sender::ClosedWait;

/// The state shared by a channel's senders and its receiver.
pub(super) struct Chan<T> {
    /// Everything, behind one lock.
    pub(super) state: Mutex<State<T>>,
    /// Bumped whenever the receiver's waker is taken; written only under the lock (rule 5).
    pub(super) version: AtomicUsize,
    /// `None` for an unbounded channel.
    pub(super) capacity: Option<usize>,
}

/// A channel's state.
pub(super) struct State<T> {
    /// Messages sent and not yet received.
    pub(super) buffer: VecDeque<T>,
    /// Permits nobody holds (bounded channels; rule 1).
    pub(super) available: usize,
    /// Live senders (and owned permits, which hold a sender).
    pub(super) senders: usize,
    /// No new message is accepted (rule 3): `close` was called or the receiver dropped.
    pub(super) closed: bool,
    /// The receiver is gone: messages sent now are dropped at once.
    pub(super) receiver_dropped: bool,
    /// The receiver's waker, while it waits for a message.
    pub(super) receiver_waker: Option<Waker>,
    /// Senders waiting for a permit, oldest first (rule 2).
    pub(super) send_waiters: WaitList<Grant>,
    /// Tasks waiting in [`Sender::closed`].
    pub(super) closed_waiters: WaitList<()>,
}

/// What was decided for a waiting sender (wait-list rule 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grant {
    /// Nothing yet.
    Waiting,
    /// It holds a permit now (rule 1: it counts in `held`).
    Permit,
    /// The channel closed while it waited.
    Closed,
}

impl<T> Chan<T> {
    /// A channel with `capacity` permits, or unbounded.
    pub(super) fn new(capacity: Option<usize>) -> Chan<T> {
        Chan {
            state: Mutex::new(State {
                buffer: VecDeque::new(),
                available: capacity.unwrap_or(0),
                senders: 1,
                closed: false,
                receiver_dropped: false,
                receiver_waker: None,
                send_waiters: WaitList::new(),
                closed_waiters: WaitList::new(),
            }),
            version: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Takes the receiver's waker to wake it, bumping the version (rule 5).
    pub(super) fn take_receiver_waker(&self, state: &mut State<T>) -> Option<Waker> {
        // Only ever written under the lock, which we hold: a plain load and store suffice.
        self.version.store(
            self.version.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Release,
        );
        state.receiver_waker.take()
    }

    /// Permits held by permits and granted waiters (rule 1); 0 for an unbounded channel.
    pub(super) fn held(&self, state: &State<T>) -> usize {
        self.capacity.map_or(0, |capacity| {
            capacity - state.available - state.buffer.len()
        })
    }

    /// Polls for a message (rule 4), arming the receiver when it registers its waker (rule 5).
    /// A message ready at once spends from the task's budget; once it is spent the message stays queued and the
    /// task steps aside.
    pub(super) fn poll_recv(&self, armed: &mut Armed, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(version) = armed.version {
            let same_task = armed
                .waker
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()));
            if same_task && self.version.load(Ordering::Acquire) == version {
                return Poll::Pending;
            }
        }
        armed.version = None;
        let mut state = lock(&self.state);
        if !state.buffer.is_empty() && !coop::try_spend(cx) {
            return Poll::Pending; // woken already; the message waits for the next poll (coop rule 2)
        }
        let message = state.buffer.pop_front();
        let sender = match message {
            Some(_) if self.capacity.is_some() => release_permit(&mut state),
            _ => None,
        };
        let ended = state.senders == 0 || (state.closed && self.held(&state) == 0);
        if state.buffer.is_empty() && !ended {
            match &state.receiver_waker {
                Some(stored) if stored.will_wake(cx.waker()) => {}
                _ => state.receiver_waker = Some(cx.waker().clone()),
            }
            armed.version = Some(self.version.load(Ordering::Relaxed));
            if !armed
                .waker
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()))
            {
                armed.waker = Some(cx.waker().clone());
            }
        }
        drop(state);
        if let Some(sender) = sender {
            sender.wake();
        }
        match message {
            Some(message) => Poll::Ready(Some(message)),
            None if ended => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// Takes a message without waiting.
    pub(super) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = lock(&self.state);
        if let Some(message) = state.buffer.pop_front() {
            let waker = if self.capacity.is_some() {
                release_permit(&mut state)
            } else {
                None
            };
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
            return Ok(message);
        }
        if state.senders == 0 || (state.closed && self.held(&state) == 0) {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Puts a message in the buffer, the caller holding a permit (or the channel being unbounded and open), and
    /// wakes the receiver. With the receiver gone the message is dropped (outside the lock).
    pub(super) fn push(&self, mut state: MutexGuard<'_, State<T>>, message: T) {
        if state.receiver_dropped {
            drop(state);
            drop(message);
            return;
        }
        state.buffer.push_back(message);
        let waker = self.take_receiver_waker(&mut state);
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Gives back a permit that did not become a message (rule 1) and wakes whoever that concerns.
    pub(super) fn release_unused_permit(&self) {
        let mut state = lock(&self.state);
        let mut wakers = WakeBatch::new();
        wakers.push(release_permit(&mut state));
        if state.closed && self.held(&state) == 0 {
            // The receiver may be waiting for the last permit to go before it reports the end (rule 3).
            wakers.push(self.take_receiver_waker(&mut state));
        }
        drop(state);
        wakers.wake_all();
    }

    /// Closes the channel (rule 3); with `receiver_dropped`, also drops every buffered message.
    pub(super) fn close(&self, receiver_dropped: bool) {
        let mut state = lock(&self.state);
        state.closed = true;
        let mut wakers = WakeBatch::new();
        state
            .send_waiters
            .drain(|grant| *grant = Grant::Closed, &mut wakers);
        state.closed_waiters.drain(|_| {}, &mut wakers);
        let buffer = if receiver_dropped {
            state.receiver_dropped = true;
            drop(self.take_receiver_waker(&mut state));
            std::mem::take(&mut state.buffer)
        } else {
            VecDeque::new()
        };
        drop(state);
        wakers.wake_all();
        drop(buffer);
    }

    /// One sender more.
    pub(super) fn add_sender(&self) {
        let mut state = lock(&self.state);
        state.senders = state.senders.checked_add(1).expect("too many mpsc senders");
    }

    /// One sender less; the last one wakes the receiver to report the end.
    pub(super) fn drop_sender(&self) {
        let mut state = lock(&self.state);
        state.senders -= 1;
        let waker = if state.senders == 0 {
            self.take_receiver_waker(&mut state)
        } else {
            None
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Waits until the receiver is gone or closed the channel, bookmarked at `location` meanwhile.
    pub(super) async fn closed(&self, location: &'static Location<'static>) {
        let mut closed = ClosedWait {
            chan: self,
            waiter: None,
        };
        poll_fn(|cx| {
            parked(
                self.poll_closed(&mut closed.waiter, cx),
                location,
                Op::MpscClosed,
            )
        })
        .await;
    }

    /// Polls [`Sender::closed`].
    pub(super) fn poll_closed(
        &self,
        waiter: &mut Option<WaitKey>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let mut state = lock(&self.state);
        match *waiter {
            Some(key) if state.closed_waiters.is_queued(key) => {
                state.closed_waiters.register(key, cx.waker());
                Poll::Pending
            }
            Some(key) => {
                state.closed_waiters.remove(key);
                *waiter = None;
                Poll::Ready(())
            }
            None if state.closed => Poll::Ready(()),
            None => {
                *waiter = Some(state.closed_waiters.push_back((), cx.waker()));
                Poll::Pending
            }
        }
    }

    /// Forgets a [`Sender::closed`] waiter.
    pub(super) fn cancel_closed(&self, key: WaitKey) {
        lock(&self.state).closed_waiters.remove(key);
    }
}

/// Gives a permit back: to the oldest waiting sender if there is one (rule 1 and 2), whose waker is returned.
pub(super) fn release_permit<T>(state: &mut State<T>) -> Option<Waker> {
    if state.send_waiters.is_empty() {
        state.available += 1;
        return None;
    }
    state.send_waiters.pop_front(|grant| *grant = Grant::Permit)
}

/// The receiver's side of the armed fast path (rule 5).
#[derive(Default)]
pub(super) struct Armed {
    /// The version at which the receiver last registered its waker with an empty buffer; `None` when not armed.
    pub(super) version: Option<usize>,
    /// The task the receiver last registered for, to tell whether the current poll is for the same one.
    pub(super) waker: Option<Waker>,
}

/// Taking one permit of a bounded channel, waiting in line if there is none; a future's part, owning its
/// wait-list slot.
pub(super) struct Acquire<'a, T> {
    /// The channel.
    pub(super) chan: &'a Chan<T>,
    /// Our slot in `send_waiters`, while we wait.
    pub(super) waiter: Option<WaitKey>,
}

impl<'a, T> Acquire<'a, T> {
    /// Not yet in line.
    pub(super) fn new(chan: &'a Chan<T>) -> Acquire<'a, T> {
        Acquire { chan, waiter: None }
    }

    /// Ready with the state still locked and a permit held, so the caller can use it at once (rule 4); or
    /// `Err` once the channel is closed. A permit free at once spends from the task's budget (one that was
    /// waited for does not: the task stepped aside meanwhile).
    pub(super) fn poll_acquire(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<MutexGuard<'a, State<T>>, Closed>> {
        let mut state = lock(&self.chan.state);
        match self.waiter {
            None => {
                if state.closed {
                    return Poll::Ready(Err(Closed));
                }
                if state.available > 0 && state.send_waiters.is_empty() {
                    if !coop::try_spend(cx) {
                        return Poll::Pending; // woken already; nothing taken (coop rule 2)
                    }
                    state.available -= 1;
                    return Poll::Ready(Ok(state));
                }
                self.waiter = Some(state.send_waiters.push_back(Grant::Waiting, cx.waker()));
                Poll::Pending
            }
            Some(key) if state.send_waiters.is_queued(key) => {
                state.send_waiters.register(key, cx.waker());
                Poll::Pending
            }
            Some(key) => {
                self.waiter = None;
                match state.send_waiters.remove(key) {
                    Grant::Permit => Poll::Ready(Ok(state)),
                    Grant::Closed | Grant::Waiting => Poll::Ready(Err(Closed)),
                }
            }
        }
    }
}

impl<T> Drop for Acquire<'_, T> {
    fn drop(&mut self) {
        let Some(key) = self.waiter.take() else {
            return;
        };
        let mut state = lock(&self.chan.state);
        if state.send_waiters.remove(key) == Grant::Permit {
            // Granted while we were not looking: pass the permit on (rule 1).
            drop(state);
            self.chan.release_unused_permit();
        }
    }
}

/// The channel is closed (internal).
#[derive(Debug)]
pub(super) struct Closed;
