//! Multi-producer, single-consumer channels: [`channel`] (bounded, with back-pressure) and
//! [`unbounded_channel`].
//!
//! One lock guards a channel's whole state: its buffer, its counters, the receiver's waker and a FIFO of
//! senders waiting for room. Each operation takes it once; wakers are woken after it is released. A bounded
//! channel of capacity `n` has `n` *permits*: sending takes one (see [`Sender::reserve`]), receiving gives one
//! back, and a permit given back goes straight to the oldest waiting sender, so senders get room in the order
//! they asked for it and a newcomer never overtakes a waiting sender.
//!
//! Everything here works between tasks on different loops and threads: wakes go through [`Waker`], and a
//! task's waker finds its own loop (cheaply from the same thread, through the loop's remote queue otherwise).
//!
//! # Invariants
//!
//! 1. **Permits are conserved** (bounded): `available + buffer.len() + held == capacity`, where `held` counts
//!    [`Permit`]s alive, plus waiters that were granted a permit but have not yet been polled. A permit leaves
//!    `held` by becoming a message, or by going back through `release_permit`, which hands it to the oldest
//!    waiting sender before it ever raises `available`.
//! 2. **Waiting senders are served in order**: while a sender waits, no other sender takes a permit
//!    (`available` is only used when nobody waits).
//! 3. **Closed is final**: once `closed` is set no new permit is taken and no sender waits; waiters queued at that
//!    moment are told so. Messages already in the buffer, and those sent with permits held at that moment, are
//!    still delivered. The receiver sees the end ([`Receiver::recv`] returns `None`) once the buffer is empty and
//!    either every sender is gone, or the channel is closed and no permit is held.
//! 4. **No message is lost by cancellation**: a message enters the buffer in the same critical section that takes
//!    its permit, and leaves it in the same one that returns it from `poll_recv`; neither spans an `.await`.
//! 5. **The receiver's waker is taken only together with a bump of `version`** (a plain store under the lock),
//!    and every event the receiver must see (a message, the last sender leaving, the last permit of a closed
//!    channel going back) takes it. So a receiver that registered its waker at version `v`, with the buffer
//!    empty and the channel not at its end, and that still reads `v`, knows nothing happened and its waker is
//!    still registered: it may return `Pending` without the lock. This *armed* fast path is what makes the
//!    wait after a message cheap.
//!
//! To stay armed, a receiver that takes the last message registers its waker at once, betting that its next
//! `recv` will wait. The price of a lost bet is one extra poll of the receiving task when a message arrives
//! while it is busy elsewhere.
//!
//! # Example: a worker and its queue
//! ```
//! use weft::sync::mpsc;
//!
//! weft::run(async {
//!     let (tx, mut rx) = mpsc::channel(16);
//!     for id in 0..3 {
//!         let tx = tx.clone();
//!         weft::spawn(async move {
//!             tx.send(id).await.unwrap();
//!         });
//!     }
//!     drop(tx); // recv returns None once every sender is gone
//!     let mut got = Vec::new();
//!     while let Some(id) = rx.recv().await {
//!         got.push(id);
//!     }
//!     got.sort();
//!     assert_eq!(got, [0, 1, 2]);
//! });
//! ```

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::parked;
use super::wait_list::{WaitKey, WaitList, WakeBatch};
use crate::cell::coop;
use crate::cell::Op;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{lock, Arc, Mutex, MutexGuard};

/// A bounded channel of `capacity` messages: [`Sender::send`] waits while the buffer is full.
///
/// # Panics
/// If `capacity` is 0 (a rendezvous channel is not supported: use a [`oneshot`](super::oneshot) per message, or
/// capacity 1).
///
/// ```
/// use weft::sync::mpsc;
///
/// weft::run(async {
///     let (tx, mut rx) = mpsc::channel(1);
///     let producer = weft::spawn(async move {
///         for i in 0..3 {
///             tx.send(i).await.unwrap(); // waits for room after the first
///         }
///     });
///     assert_eq!(rx.recv().await, Some(0));
///     assert_eq!(rx.recv().await, Some(1));
///     assert_eq!(rx.recv().await, Some(2));
///     assert_eq!(rx.recv().await, None);
///     producer.await.unwrap();
/// });
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "mpsc::channel capacity must be at least 1; use mpsc::unbounded_channel for no limit"
    );
    let chan = Arc::new(Chan::new(Some(capacity)));
    (
        Sender { chan: chan.clone() },
        Receiver {
            chan,
            armed: Armed::default(),
        },
    )
}

/// A channel without a limit: [`UnboundedSender::send`] never waits.
///
/// **Memory**: nothing slows a producer that outpaces its consumer, so the buffer can grow until the process
/// runs out of memory. Prefer [`channel`] unless the number of messages is bounded by something else (one per
/// connection, say).
///
/// ```
/// use weft::sync::mpsc;
///
/// weft::run(async {
///     let (tx, mut rx) = mpsc::unbounded_channel();
///     tx.send("no waiting").unwrap();
///     assert_eq!(rx.recv().await, Some("no waiting"));
/// });
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let chan = Arc::new(Chan::new(None));
    (
        UnboundedSender { chan: chan.clone() },
        UnboundedReceiver {
            inner: Receiver {
                chan,
                armed: Armed::default(),
            },
        },
    )
}

/// The state shared by a channel's senders and its receiver.
struct Chan<T> {
    /// Everything, behind one lock.
    state: Mutex<State<T>>,
    /// Bumped whenever the receiver's waker is taken; written only under the lock (rule 5).
    version: AtomicUsize,
    /// `None` for an unbounded channel.
    capacity: Option<usize>,
}

/// A channel's state.
struct State<T> {
    /// Messages sent and not yet received.
    buffer: VecDeque<T>,
    /// Permits nobody holds (bounded channels; rule 1).
    available: usize,
    /// Live senders (and owned permits, which hold a sender).
    senders: usize,
    /// No new message is accepted (rule 3): `close` was called or the receiver dropped.
    closed: bool,
    /// The receiver is gone: messages sent now are dropped at once.
    receiver_dropped: bool,
    /// The receiver's waker, while it waits for a message.
    receiver_waker: Option<Waker>,
    /// Senders waiting for a permit, oldest first (rule 2).
    send_waiters: WaitList<Grant>,
    /// Tasks waiting in [`Sender::closed`].
    closed_waiters: WaitList<()>,
}

/// What was decided for a waiting sender (wait-list rule 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// Nothing yet.
    Waiting,
    /// It holds a permit now (rule 1: it counts in `held`).
    Permit,
    /// The channel closed while it waited.
    Closed,
}

impl<T> Chan<T> {
    /// A channel with `capacity` permits, or unbounded.
    fn new(capacity: Option<usize>) -> Chan<T> {
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
    fn take_receiver_waker(&self, state: &mut State<T>) -> Option<Waker> {
        // Only ever written under the lock, which we hold: a plain load and store suffice.
        self.version.store(
            self.version.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Release,
        );
        state.receiver_waker.take()
    }

    /// Permits held by permits and granted waiters (rule 1); 0 for an unbounded channel.
    fn held(&self, state: &State<T>) -> usize {
        self.capacity.map_or(0, |capacity| {
            capacity - state.available - state.buffer.len()
        })
    }

    /// Polls for a message (rule 4), arming the receiver when it registers its waker (rule 5).
    /// A message ready at once spends from the task's budget; once it is spent the message stays queued and the
    /// task steps aside.
    fn poll_recv(&self, armed: &mut Armed, cx: &mut Context<'_>) -> Poll<Option<T>> {
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
    fn try_recv(&self) -> Result<T, TryRecvError> {
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
    fn push(&self, mut state: MutexGuard<'_, State<T>>, message: T) {
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
    fn release_unused_permit(&self) {
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
    fn close(&self, receiver_dropped: bool) {
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
    fn add_sender(&self) {
        let mut state = lock(&self.state);
        state.senders = state.senders.checked_add(1).expect("too many mpsc senders");
    }

    /// One sender less; the last one wakes the receiver to report the end.
    fn drop_sender(&self) {
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
    async fn closed(&self, location: &'static Location<'static>) {
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
    fn poll_closed(&self, waiter: &mut Option<WaitKey>, cx: &mut Context<'_>) -> Poll<()> {
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
    fn cancel_closed(&self, key: WaitKey) {
        lock(&self.state).closed_waiters.remove(key);
    }
}

/// Gives a permit back: to the oldest waiting sender if there is one (rule 1 and 2), whose waker is returned.
fn release_permit<T>(state: &mut State<T>) -> Option<Waker> {
    if state.send_waiters.is_empty() {
        state.available += 1;
        return None;
    }
    state.send_waiters.pop_front(|grant| *grant = Grant::Permit)
}

/// The receiver's side of the armed fast path (rule 5).
#[derive(Default)]
struct Armed {
    /// The version at which the receiver last registered its waker with an empty buffer; `None` when not armed.
    version: Option<usize>,
    /// The task the receiver last registered for, to tell whether the current poll is for the same one.
    waker: Option<Waker>,
}

/// Taking one permit of a bounded channel, waiting in line if there is none; a future's part, owning its
/// wait-list slot.
struct Acquire<'a, T> {
    /// The channel.
    chan: &'a Chan<T>,
    /// Our slot in `send_waiters`, while we wait.
    waiter: Option<WaitKey>,
}

impl<'a, T> Acquire<'a, T> {
    /// Not yet in line.
    fn new(chan: &'a Chan<T>) -> Acquire<'a, T> {
        Acquire { chan, waiter: None }
    }

    /// Ready with the state still locked and a permit held, so the caller can use it at once (rule 4); or
    /// `Err` once the channel is closed. A permit free at once spends from the task's budget (one that was
    /// waited for does not: the task stepped aside meanwhile).
    fn poll_acquire(
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
struct Closed;

/// The sending half of a bounded [`channel`]; clone it for more producers.
///
/// Messages from one sender arrive in the order they were sent.
pub struct Sender<T> {
    /// The channel.
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `message`, waiting for room in the buffer. Fails, giving the message back, once the receiver is
    /// gone or closed the channel.
    ///
    /// # Cancellation safety
    /// Dropping the future never half-sends: either the message was delivered (the future completed) or it was
    /// not, and the message is dropped with the future. A sender waiting in line loses its place. To keep the
    /// message when a wait may be cancelled, wait with [`reserve`](Sender::reserve) first, then
    /// [`Permit::send`], which never waits.
    ///
    /// ```
    /// use weft::sync::mpsc;
    ///
    /// weft::run(async {
    ///     let (tx, mut rx) = mpsc::channel(8);
    ///     tx.send("hello").await.unwrap();
    ///     assert_eq!(rx.recv().await, Some("hello"));
    ///     drop(rx);
    ///     assert_eq!(tx.send("anyone?").await.unwrap_err().0, "anyone?");
    /// });
    /// ```
    #[track_caller]
    pub fn send(&self, message: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        let location = Location::caller();
        async move {
            let mut acquire = Acquire::new(&self.chan);
            match poll_fn(|cx| parked(acquire.poll_acquire(cx), location, Op::MpscSend)).await {
                // Granted a permit while waiting, but the receiver has gone since: give the message back.
                Ok(state) if state.receiver_dropped => Err(SendError(message)),
                Ok(state) => {
                    self.chan.push(state, message);
                    Ok(())
                }
                Err(Closed) => Err(SendError(message)),
            }
        }
    }

    /// Sends `message` if there is room right now, without waiting.
    ///
    /// ```
    /// use weft::sync::mpsc::{self, error::TrySendError};
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// tx.try_send(1).unwrap();
    /// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_send(&self, message: T) -> Result<(), TrySendError<T>> {
        let mut state = lock(&self.chan.state);
        if state.closed {
            return Err(TrySendError::Closed(message));
        }
        if state.available == 0 || !state.send_waiters.is_empty() {
            return Err(TrySendError::Full(message));
        }
        state.available -= 1;
        self.chan.push(state, message);
        Ok(())
    }

    /// Waits for room for one message and reserves it: the returned [`Permit`] sends without waiting, and
    /// gives the room back if dropped unused.
    ///
    /// # Cancellation safety
    /// Dropping the future never leaks a permit: one granted to it meanwhile goes to the next sender in line.
    /// It loses its own place in line.
    ///
    /// ```
    /// use weft::sync::mpsc;
    ///
    /// weft::run(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     let permit = tx.reserve().await.unwrap(); // the slot is ours
    ///     assert!(tx.try_send(0).is_err());
    ///     permit.send(42); // never waits, never fails
    ///     assert_eq!(rx.recv().await, Some(42));
    /// });
    /// ```
    #[track_caller]
    pub fn reserve(&self) -> impl Future<Output = Result<Permit<'_, T>, SendError<()>>> + '_ {
        let location = Location::caller();
        async move {
            let mut acquire = Acquire::new(&self.chan);
            match poll_fn(|cx| parked(acquire.poll_acquire(cx), location, Op::MpscSend)).await {
                Ok(state) => {
                    drop(state);
                    Ok(Permit { sender: self })
                }
                Err(Closed) => Err(SendError(())),
            }
        }
    }

    /// Reserves room for one message if there is some right now.
    ///
    /// ```
    /// use weft::sync::mpsc;
    ///
    /// let (tx, _rx) = mpsc::channel::<u8>(1);
    /// let permit = tx.try_reserve().unwrap();
    /// assert!(tx.try_reserve().is_err()); // full: the only slot is reserved
    /// drop(permit);
    /// assert!(tx.try_reserve().is_ok());
    /// ```
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        let mut state = lock(&self.chan.state);
        if state.closed {
            return Err(TrySendError::Closed(()));
        }
        if state.available == 0 || !state.send_waiters.is_empty() {
            return Err(TrySendError::Full(()));
        }
        state.available -= 1;
        Ok(Permit { sender: self })
    }

    /// Like [`reserve`](Sender::reserve), but the permit owns the sender, so it can be moved into another task.
    /// On failure the sender is given back.
    ///
    /// # Cancellation safety
    /// As for [`reserve`](Sender::reserve); the sender is dropped with the future.
    ///
    /// ```
    /// use weft::sync::mpsc;
    ///
    /// weft::run(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     let permit = tx.reserve_owned().await.unwrap();
    ///     weft::spawn(async move {
    ///         let _tx = permit.send("from the task"); // gives the sender back
    ///     });
    ///     assert_eq!(rx.recv().await, Some("from the task"));
    /// });
    /// ```
    #[track_caller]
    pub fn reserve_owned(
        self,
    ) -> impl Future<Output = Result<OwnedPermit<T>, SendError<Sender<T>>>> {
        let location = Location::caller();
        async move {
            let result = {
                let mut acquire = Acquire::new(&self.chan);
                poll_fn(|cx| {
                    let poll = acquire.poll_acquire(cx).map(|result| result.map(drop));
                    parked(poll, location, Op::MpscSend)
                })
                .await
            };
            match result {
                Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
                Err(Closed) => Err(SendError(self)),
            }
        }
    }

    /// Completes once the receiver is gone or has called [`Receiver::close`]: no message can be sent any more.
    ///
    /// # Cancellation safety
    /// Safe to drop at any time.
    ///
    /// ```
    /// use weft::sync::mpsc;
    ///
    /// weft::run(async {
    ///     let (tx, rx) = mpsc::channel::<()>(1);
    ///     weft::spawn(async move { drop(rx) });
    ///     tx.closed().await;
    ///     assert!(tx.is_closed());
    /// });
    /// ```
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        self.chan.closed(Location::caller())
    }

    /// The receiver is gone or closed the channel.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::mpsc::channel::<()>(1);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        lock(&self.chan.state).closed
    }

    /// Room right now: how many messages could be sent without waiting.
    ///
    /// ```
    /// let (tx, _rx) = weft::sync::mpsc::channel(4);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(tx.capacity(), 3);
    /// assert_eq!(tx.max_capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        lock(&self.chan.state).available
    }

    /// The capacity the channel was created with.
    ///
    /// ```
    /// let (tx, _rx) = weft::sync::mpsc::channel::<()>(4);
    /// assert_eq!(tx.max_capacity(), 4);
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.chan.capacity.unwrap_or(usize::MAX)
    }

    /// Both senders feed the same channel.
    ///
    /// ```
    /// let (tx, _rx) = weft::sync::mpsc::channel::<()>(1);
    /// let (other, _other_rx) = weft::sync::mpsc::channel::<()>(1);
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

/// The waiter of [`Sender::closed`] and [`UnboundedSender::closed`]; leaves the list when dropped.
struct ClosedWait<'a, T> {
    /// The channel.
    chan: &'a Chan<T>,
    /// Our slot in `closed_waiters`.
    waiter: Option<WaitKey>,
}

impl<T> Drop for ClosedWait<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.waiter.take() {
            self.chan.cancel_closed(key);
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.chan.capacity)
            .finish_non_exhaustive()
    }
}

/// Room for one message in a bounded channel, reserved with [`Sender::reserve`] or [`Sender::try_reserve`].
/// Dropping it unused gives the room back (to the oldest waiting sender, if any).
pub struct Permit<'a, T> {
    /// The sender it was reserved through.
    sender: &'a Sender<T>,
}

impl<T> Permit<'_, T> {
    /// Sends `message` into the reserved room: never waits. If the receiver has gone meanwhile, the message is
    /// dropped.
    ///
    /// ```
    /// use weft::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// tx.try_reserve().unwrap().send("reserved");
    /// assert_eq!(rx.try_recv(), Ok("reserved"));
    /// ```
    pub fn send(self, message: T) {
        let chan = &self.sender.chan;
        std::mem::forget(self);
        chan.push(lock(&chan.state), message);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.sender.chan.release_unused_permit();
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// Like [`Permit`], owning its [`Sender`]; from [`Sender::reserve_owned`].
pub struct OwnedPermit<T> {
    /// The sender; `None` only while being sent or dropped.
    sender: Option<Sender<T>>,
}

impl<T> OwnedPermit<T> {
    /// Sends `message` into the reserved room without waiting, and gives the sender back. If the receiver has
    /// gone meanwhile, the message is dropped.
    ///
    /// ```
    /// use weft::sync::mpsc;
    ///
    /// weft::run(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     let tx = tx.reserve_owned().await.unwrap().send(1);
    ///     assert_eq!(rx.recv().await, Some(1));
    ///     tx.send(2).await.unwrap();
    ///     assert_eq!(rx.recv().await, Some(2));
    /// });
    /// ```
    pub fn send(mut self, message: T) -> Sender<T> {
        let sender = self
            .sender
            .take()
            .expect("an OwnedPermit always holds its sender");
        sender.chan.push(lock(&sender.chan.state), message);
        sender
    }

    /// Gives the room back without sending, and returns the sender.
    ///
    /// ```
    /// use weft::sync::mpsc;
    ///
    /// weft::run(async {
    ///     let (tx, _rx) = mpsc::channel::<()>(1);
    ///     let permit = tx.reserve_owned().await.unwrap();
    ///     let tx = permit.release(); // changed our mind: the room goes back
    ///     assert_eq!(tx.capacity(), 1);
    /// });
    /// ```
    pub fn release(mut self) -> Sender<T> {
        let sender = self
            .sender
            .take()
            .expect("an OwnedPermit always holds its sender");
        sender.chan.release_unused_permit();
        sender
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(sender) = &self.sender {
            sender.chan.release_unused_permit();
        }
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").finish_non_exhaustive()
    }
}

/// The receiving half of a bounded [`channel`]. Also a [`Stream`](futures_core::Stream) of messages.
pub struct Receiver<T> {
    /// The channel.
    chan: Arc<Chan<T>>,
    /// The armed fast path (rule 5).
    armed: Armed,
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting for one; `None` once the channel is empty and every sender is gone
    /// (or, after [`close`](Receiver::close), once the messages already sent or reserved are received).
    ///
    /// # Cancellation safety
    /// Dropping the future never loses a message: a message leaves the channel only in the poll that returns
    /// it. Safe to use as a branch of a `select`.
    ///
    /// ```
    /// use weft::sync::mpsc;
    ///
    /// weft::run(async {
    ///     let (tx, mut rx) = mpsc::channel(4);
    ///     weft::spawn(async move { tx.send(7).await.unwrap() });
    ///     assert_eq!(rx.recv().await, Some(7));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Option<T>> + '_ {
        let location = Location::caller();
        poll_fn(move |cx| {
            parked(
                self.chan.poll_recv(&mut self.armed, cx),
                location,
                Op::MpscRecv,
            )
        })
    }

    /// Takes a message if one is waiting, without waiting.
    ///
    /// ```
    /// use weft::sync::mpsc::{self, error::TryRecvError};
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(5).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// Polls for the next message: the building block of [`recv`](Receiver::recv) for hand-written futures.
    /// Only the waker of the most recent call is woken.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use weft::sync::mpsc;
    ///
    /// weft::run(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     tx.send('x').await.unwrap();
    ///     assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, Some('x'));
    /// });
    /// ```
    #[track_caller]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        parked(
            self.chan.poll_recv(&mut self.armed, cx),
            Location::caller(),
            Op::MpscRecv,
        )
    }

    /// Closes the channel: senders can no longer send (waiting ones fail at once), while messages already sent,
    /// and those sent through permits already reserved, can still be received.
    ///
    /// ```
    /// use weft::sync::mpsc;
    ///
    /// weft::run(async {
    ///     let (tx, mut rx) = mpsc::channel(2);
    ///     tx.send(1).await.unwrap();
    ///     rx.close();
    ///     assert!(tx.send(2).await.is_err());
    ///     assert_eq!(rx.recv().await, Some(1)); // still delivered
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub fn close(&mut self) {
        self.armed.version = None;
        self.chan.close(false);
    }

    /// Messages waiting in the channel.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::mpsc::channel(4);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// assert!(!rx.is_empty());
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.chan.state).buffer.len()
    }

    /// No message is waiting.
    ///
    /// ```
    /// let (_tx, rx) = weft::sync::mpsc::channel::<()>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The channel is closed: [`close`](Receiver::close) was called, or every sender is gone. Messages may
    /// still be waiting.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::mpsc::channel::<()>(1);
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        let state = lock(&self.chan.state);
        state.closed || state.senders == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.close(true);
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_recv(cx)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.chan.capacity)
            .finish_non_exhaustive()
    }
}

/// The sending half of an [`unbounded_channel`]; clone it for more producers.
pub struct UnboundedSender<T> {
    /// The channel.
    chan: Arc<Chan<T>>,
}

impl<T> UnboundedSender<T> {
    /// Sends `message` without waiting; fails, giving it back, once the receiver is gone or closed the channel.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::mpsc::unbounded_channel();
    /// tx.send(1).unwrap();
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().0, 2);
    /// ```
    pub fn send(&self, message: T) -> Result<(), SendError<T>> {
        let state = lock(&self.chan.state);
        if state.closed {
            return Err(SendError(message));
        }
        self.chan.push(state, message);
        Ok(())
    }

    /// Completes once the receiver is gone or has closed the channel.
    ///
    /// # Cancellation safety
    /// Safe to drop at any time.
    ///
    /// ```
    /// weft::run(async {
    ///     let (tx, mut rx) = weft::sync::mpsc::unbounded_channel::<()>();
    ///     rx.close();
    ///     tx.closed().await;
    /// });
    /// ```
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        self.chan.closed(Location::caller())
    }

    /// The receiver is gone or closed the channel.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::mpsc::unbounded_channel::<()>();
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        lock(&self.chan.state).closed
    }

    /// Both senders feed the same channel.
    ///
    /// ```
    /// let (tx, _rx) = weft::sync::mpsc::unbounded_channel::<()>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &UnboundedSender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> UnboundedSender<T> {
        self.chan.add_sender();
        UnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender").finish_non_exhaustive()
    }
}

/// The receiving half of an [`unbounded_channel`]: the same operations as [`Receiver`].
pub struct UnboundedReceiver<T> {
    /// The same machinery as a bounded receiver.
    inner: Receiver<T>,
}

impl<T> UnboundedReceiver<T> {
    /// Receives the next message; `None` once it is empty and every sender is gone (or it was closed).
    ///
    /// # Cancellation safety
    /// Dropping the future never loses a message.
    ///
    /// ```
    /// weft::run(async {
    ///     let (tx, mut rx) = weft::sync::mpsc::unbounded_channel();
    ///     tx.send("a").unwrap();
    ///     drop(tx);
    ///     assert_eq!(rx.recv().await, Some("a"));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Option<T>> + '_ {
        self.inner.recv()
    }

    /// Takes a message if one is waiting.
    ///
    /// ```
    /// let (tx, mut rx) = weft::sync::mpsc::unbounded_channel();
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv()
    }

    /// Polls for the next message.
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// weft::run(async {
    ///     let (tx, mut rx) = weft::sync::mpsc::unbounded_channel();
    ///     tx.send(1).unwrap();
    ///     assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, Some(1));
    /// });
    /// ```
    #[track_caller]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.inner.poll_recv(cx)
    }

    /// Closes the channel; messages already sent can still be received.
    ///
    /// ```
    /// let (tx, mut rx) = weft::sync::mpsc::unbounded_channel();
    /// tx.send(1).unwrap();
    /// rx.close();
    /// assert!(tx.send(2).is_err());
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn close(&mut self) {
        self.inner.close();
    }

    /// Messages waiting.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::mpsc::unbounded_channel();
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// No message is waiting.
    ///
    /// ```
    /// let (_tx, rx) = weft::sync::mpsc::unbounded_channel::<()>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Closed, or every sender is gone.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::mpsc::unbounded_channel::<()>();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl<T> futures_core::Stream for UnboundedReceiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.inner.poll_recv(cx)
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver").finish_non_exhaustive()
    }
}

pub use error::{SendError, TryRecvError, TrySendError};

/// The errors of channel operations.
pub mod error {
    use super::*;

    /// The channel is closed; the message is given back.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::mpsc::unbounded_channel();
    /// drop(rx);
    /// let weft::sync::mpsc::error::SendError(message) = tx.send("back").unwrap_err();
    /// assert_eq!(message, "back");
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
            f.write_str("channel closed")
        }
    }

    impl<T> Error for SendError<T> {}

    /// Why [`Sender::try_send`] failed; the message is given back.
    ///
    /// ```
    /// use weft::sync::mpsc::{self, error::TrySendError};
    ///
    /// let (tx, _rx) = mpsc::channel(1);
    /// tx.try_send(1).unwrap();
    /// let error = tx.try_send(2).unwrap_err();
    /// assert!(matches!(error, TrySendError::Full(_)));
    /// assert_eq!(error.into_inner(), 2);
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum TrySendError<T> {
        /// No room right now.
        Full(T),
        /// The receiver is gone or closed the channel.
        Closed(T),
    }

    impl<T> TrySendError<T> {
        /// The message that was not sent.
        pub fn into_inner(self) -> T {
            match self {
                TrySendError::Full(message) | TrySendError::Closed(message) => message,
            }
        }
    }

    impl<T> fmt::Debug for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.write_str("Full(..)"),
                TrySendError::Closed(_) => f.write_str("Closed(..)"),
            }
        }
    }

    impl<T> fmt::Display for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.write_str("no room in the channel"),
                TrySendError::Closed(_) => f.write_str("channel closed"),
            }
        }
    }

    impl<T> Error for TrySendError<T> {}

    impl<T> From<SendError<T>> for TrySendError<T> {
        fn from(error: SendError<T>) -> TrySendError<T> {
            TrySendError::Closed(error.0)
        }
    }

    /// Why [`Receiver::try_recv`] found no message.
    ///
    /// ```
    /// use weft::sync::mpsc::{self, error::TryRecvError};
    ///
    /// let (tx, mut rx) = mpsc::channel::<()>(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TryRecvError {
        /// None right now; more may come.
        Empty,
        /// None, and none will come: every sender is gone, or the channel was closed and drained.
        Disconnected,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Disconnected => f.write_str("channel closed"),
            }
        }
    }

    impl Error for TryRecvError {}
}
