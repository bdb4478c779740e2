//! A bounded multi-producer, multi-consumer channel where **every** receiver sees every message:
//! [`channel`].
//!
//! The channel keeps the last `capacity` messages. A sender never waits: when the buffer is full the oldest
//! message is overwritten, and a receiver that had not read it yet is told how many it missed
//! ([`RecvError::Lagged`]) and continues from the oldest message still kept.
//!
//! # Invariants
//!
//! 1. **Positions are absolute.** Message number `p` (counting from 0 since the channel was made) is at
//!    `buffer[p - head]` while `head <= p < head + buffer.len()`. A receiver's `next` is the position it reads
//!    next; it only moves forward, and only in a poll that returns something.
//! 2. **Every waiter is woken on every send and when the last sender goes**; a woken receiver re-checks and
//!    queues again, so no message goes unnoticed.

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::task::{Context, Poll};

use super::parked;
use super::wait_list::{WaitKey, WaitList, WakeBatch};
use crate::cell::coop;
use crate::cell::Op;
use crate::loom::sync::{lock, Arc, Mutex};

/// A broadcast channel keeping the last `capacity` messages; `T: Clone` because each receiver gets its own copy.
///
/// # Panics
/// If `capacity` is 0.
///
/// ```
/// use weft::sync::broadcast;
///
/// weft::run(async {
///     let (tx, mut first) = broadcast::channel(16);
///     let mut second = tx.subscribe();
///     tx.send("hello").unwrap();
///     assert_eq!(first.recv().await, Ok("hello"));
///     assert_eq!(second.recv().await, Ok("hello"));
/// });
/// ```
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "broadcast::channel capacity must be at least 1"
    );
    let shared = Arc::new(Shared {
        capacity,
        state: Mutex::new(State {
            buffer: VecDeque::with_capacity(capacity.min(1024)),
            head: 0,
            senders: 1,
            receivers: 1,
            waiters: WaitList::new(),
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

/// The channel's shared part.
struct Shared<T> {
    /// Messages kept.
    capacity: usize,
    /// Everything else.
    state: Mutex<State<T>>,
}

/// The channel's state.
struct State<T> {
    /// The last `capacity` messages (rule 1).
    buffer: VecDeque<T>,
    /// Position of `buffer[0]`.
    head: u64,
    /// Live senders.
    senders: usize,
    /// Live receivers.
    receivers: usize,
    /// Receivers waiting for a message (rule 2).
    waiters: WaitList<()>,
}

impl<T> State<T> {
    /// Position of the next message to be sent.
    fn tail(&self) -> u64 {
        self.head + self.buffer.len() as u64
    }
}

/// A sending half; clone it for more producers.
pub struct Sender<T> {
    /// The channel.
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `message` to every receiver alive now, and returns how many there are; never waits. Fails, giving
    /// the message back, if there are none. If the buffer is full, the oldest message is dropped.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::broadcast::channel(4);
    /// assert_eq!(tx.send(1).unwrap(), 1);
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().0, 2);
    /// ```
    pub fn send(&self, message: T) -> Result<usize, SendError<T>> {
        let mut state = lock(&self.shared.state);
        if state.receivers == 0 {
            return Err(SendError(message));
        }
        let overwritten = if state.buffer.len() == self.shared.capacity {
            state.head += 1;
            state.buffer.pop_front()
        } else {
            None
        };
        state.buffer.push_back(message);
        let receivers = state.receivers;
        let mut wakers = WakeBatch::new();
        state.waiters.drain(|_| {}, &mut wakers);
        drop(state);
        drop(overwritten);
        wakers.wake_all();
        Ok(receivers)
    }

    /// A new receiver, which sees messages sent from now on.
    ///
    /// ```
    /// let (tx, _rx) = weft::sync::broadcast::channel(4);
    /// tx.send("before").unwrap();
    /// let mut late = tx.subscribe();
    /// tx.send("after").unwrap();
    /// assert_eq!(late.try_recv(), Ok("after"));
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        let mut state = lock(&self.shared.state);
        state.receivers += 1;
        let next = state.tail();
        drop(state);
        Receiver {
            shared: self.shared.clone(),
            next,
        }
    }

    /// How many receivers are alive.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::broadcast::channel::<()>(4);
    /// let _other = tx.subscribe();
    /// assert_eq!(tx.receiver_count(), 2);
    /// ```
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.state).receivers
    }

    /// Both senders feed the same channel.
    ///
    /// ```
    /// let (tx, _rx) = weft::sync::broadcast::channel::<()>(4);
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        lock(&self.shared.state).senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        state.senders -= 1;
        let mut wakers = WakeBatch::new();
        if state.senders == 0 {
            state.waiters.drain(|_| {}, &mut wakers);
        }
        drop(state);
        wakers.wake_all();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

/// A receiving half: gets a copy of every message sent while it is alive (unless it falls behind by more than
/// the capacity).
pub struct Receiver<T> {
    /// The channel.
    shared: Arc<Shared<T>>,
    /// Position of the next message to read (rule 1).
    next: u64,
}

impl<T: Clone> Receiver<T> {
    /// Receives the next message, waiting for one. `Err(Lagged(n))` if `n` messages were overwritten before this
    /// receiver read them (the next call continues with the oldest kept); `Err(Closed)` once every sender is gone
    /// and every message kept has been read.
    ///
    /// # Cancellation safety
    /// Dropping the future never loses a message: the receiver moves past a message only in the poll that
    /// returns it.
    ///
    /// ```
    /// use weft::sync::broadcast::{self, error::RecvError};
    ///
    /// weft::run(async {
    ///     let (tx, mut rx) = broadcast::channel(2);
    ///     for i in 0..5 {
    ///         tx.send(i).unwrap();
    ///     }
    ///     assert_eq!(rx.recv().await, Err(RecvError::Lagged(3))); // 0, 1 and 2 were overwritten
    ///     assert_eq!(rx.recv().await, Ok(3));
    ///     assert_eq!(rx.recv().await, Ok(4));
    ///     drop(tx);
    ///     assert_eq!(rx.recv().await, Err(RecvError::Closed));
    /// });
    /// ```
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Result<T, RecvError>> + '_ {
        let location = Location::caller();
        let mut waiter = RecvWaiter {
            shared: &self.shared,
            key: None,
        };
        let next = &mut self.next;
        poll_fn(move |cx| parked(waiter.poll_recv(next, cx), location, Op::BroadcastRecv))
    }

    /// Takes the next message if there is one, without waiting.
    ///
    /// ```
    /// use weft::sync::broadcast::{self, error::TryRecvError};
    ///
    /// let (tx, mut rx) = broadcast::channel(2);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let state = lock(&self.shared.state);
        match take(&state, &mut self.next) {
            Some(result) => result.map_err(|error| match error {
                RecvError::Lagged(missed) => TryRecvError::Lagged(missed),
                RecvError::Closed => TryRecvError::Closed,
            }),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl<T> Receiver<T> {
    /// A new receiver of the same channel, which sees messages sent from now on.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// let mut fresh = rx.resubscribe();
    /// assert!(fresh.try_recv().is_err()); // 1 was sent before it existed
    /// ```
    pub fn resubscribe(&self) -> Receiver<T> {
        let mut state = lock(&self.shared.state);
        state.receivers += 1;
        let next = state.tail();
        drop(state);
        Receiver {
            shared: self.shared.clone(),
            next,
        }
    }

    /// Messages kept that this receiver has not read yet.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::broadcast::channel(4);
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        let state = lock(&self.shared.state);
        (state.tail() - self.next.max(state.head)) as usize
    }

    /// No unread message is kept.
    ///
    /// ```
    /// let (_tx, rx) = weft::sync::broadcast::channel::<()>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The next message for a receiver at `next`, if any: a copy, a lag report, or the end (rule 1).
fn take<T: Clone>(state: &State<T>, next: &mut u64) -> Option<Result<T, RecvError>> {
    if *next < state.head {
        let missed = state.head - *next;
        *next = state.head;
        return Some(Err(RecvError::Lagged(missed)));
    }
    if *next < state.tail() {
        let message = state.buffer[(*next - state.head) as usize].clone();
        *next += 1;
        return Some(Ok(message));
    }
    (state.senders == 0).then_some(Err(RecvError::Closed))
}

/// A receiver's slot in the wait list, freed when its `recv` future is dropped.
struct RecvWaiter<'a, T> {
    /// The channel.
    shared: &'a Shared<T>,
    /// Our slot.
    key: Option<WaitKey>,
}

impl<T: Clone> RecvWaiter<'_, T> {
    /// Polls for the next message of a receiver at `next` (rule 2).
    fn poll_recv(&mut self, next: &mut u64, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        coop::budgeted(cx, |cx| self.poll_recv_now(next, cx))
    }

    /// [`poll_recv`](Self::poll_recv) once the task's budget allows it.
    #[inline(always)]
    fn poll_recv_now(
        &mut self,
        next: &mut u64,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, RecvError>> {
        let mut state = lock(&self.shared.state);
        if let Some(key) = self.key {
            if state.waiters.is_queued(key) {
                state.waiters.register(key, cx.waker());
                return Poll::Pending;
            }
            state.waiters.remove(key);
            self.key = None;
        }
        if let Some(result) = take(&state, next) {
            return Poll::Ready(result);
        }
        self.key = Some(state.waiters.push_back((), cx.waker()));
        Poll::Pending
    }
}

impl<T> Drop for RecvWaiter<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.shared.state).waiters.remove(key);
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        lock(&self.shared.state).receivers -= 1;
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

pub use error::{RecvError, SendError, TryRecvError};

/// The errors of broadcast operations.
pub mod error {
    use super::*;

    /// No receiver is alive; the message is given back.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::broadcast::channel(1);
    /// drop(rx);
    /// assert_eq!(tx.send(9).unwrap_err().0, 9);
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct SendError<T>(pub T);

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SendError").finish_non_exhaustive()
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("broadcast channel has no receivers")
        }
    }

    impl<T> Error for SendError<T> {}

    /// Why [`Receiver::recv`] returned no message.
    ///
    /// ```
    /// use weft::sync::broadcast::error::RecvError;
    ///
    /// assert_eq!(RecvError::Lagged(3).to_string(), "receiver lagged behind by 3 messages");
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum RecvError {
        /// Every sender is gone and every message kept was read.
        Closed,
        /// This many messages were overwritten before this receiver read them; it continues from the oldest
        /// message kept.
        Lagged(u64),
    }

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RecvError::Closed => f.write_str("broadcast channel closed"),
                RecvError::Lagged(missed) => {
                    write!(f, "receiver lagged behind by {missed} messages")
                }
            }
        }
    }

    impl Error for RecvError {}

    /// Why [`Receiver::try_recv`] returned no message.
    ///
    /// ```
    /// use weft::sync::broadcast::{self, error::TryRecvError};
    ///
    /// let (_tx, mut rx) = broadcast::channel::<()>(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TryRecvError {
        /// None right now.
        Empty,
        /// Every sender is gone and every message kept was read.
        Closed,
        /// This many messages were overwritten before this receiver read them.
        Lagged(u64),
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("broadcast channel empty"),
                TryRecvError::Closed => f.write_str("broadcast channel closed"),
                TryRecvError::Lagged(missed) => {
                    write!(f, "receiver lagged behind by {missed} messages")
                }
            }
        }
    }

    impl Error for TryRecvError {}
}
