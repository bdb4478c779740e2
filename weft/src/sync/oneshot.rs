//! A channel for exactly one value: [`channel`] gives a [`Sender`] whose [`send`](Sender::send) consumes it,
//! and a [`Receiver`] that is itself the future of the value.
//!
//! The usual use is a reply: send a request (through an [`mpsc`](super::mpsc) channel, say) with a oneshot
//! sender in it, and await the receiver. A sender dropped without sending is an error for the receiver, so a
//! reply never waits forever for a handler that failed.
//!
//! # Invariants
//!
//! 1. **One lock guards the state**; every waker is taken out under it and woken after it is released.
//! 2. **`sender_gone` and `receiver_gone` are set once and never cleared.** The value is stored only while
//!    `receiver_gone` is unset, in the same critical section that sets `sender_gone`; so the receiver, seeing
//!    `sender_gone`, knows whether a value is coming at all.
//!
//! ```
//! use weft::sync::oneshot;
//!
//! weft::run(async {
//!     let (reply, answer) = oneshot::channel();
//!     weft::spawn(async move {
//!         reply.send(6 * 7).unwrap();
//!     });
//!     assert_eq!(answer.await, Ok(42));
//! });
//! ```

#![forbid(unsafe_code)]

use std::error::Error;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::{lock, Arc, Mutex};

/// A channel for one value.
///
/// ```
/// use weft::sync::oneshot;
///
/// weft::run(async {
///     let (tx, rx) = oneshot::channel::<u32>();
///     drop(tx); // the sender gave up
///     assert!(rx.await.is_err());
/// });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State {
            value: None,
            sender_gone: false,
            receiver_gone: false,
            receiver_waker: None,
            sender_waker: None,
        }),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner },
    )
}

/// The shared half.
struct Inner<T> {
    /// Everything, behind one lock (rule 1).
    state: Mutex<State<T>>,
}

/// The state of a oneshot channel.
struct State<T> {
    /// The value, once sent and until received.
    value: Option<T>,
    /// The sender sent or was dropped (rule 2).
    sender_gone: bool,
    /// The receiver was dropped or closed (rule 2).
    receiver_gone: bool,
    /// The receiver's waker while it waits.
    receiver_waker: Option<Waker>,
    /// The sender's waker while it waits in [`Sender::closed`].
    sender_waker: Option<Waker>,
}

/// Stores `waker` in `slot` unless the stored one wakes the same task.
fn store_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(stored) if stored.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// The sending half: sends one value, consuming itself.
pub struct Sender<T> {
    /// The channel; `None` once sent.
    inner: Option<Arc<Inner<T>>>,
}

impl<T> Sender<T> {
    /// Sends the value; gives it back if the receiver is gone (dropped or closed). Never waits.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send("nobody listens"), Err("nobody listens"));
    /// ```
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self
            .inner
            .take()
            .expect("a oneshot Sender holds its channel until it sends");
        let mut state = lock(&inner.state);
        state.sender_gone = true;
        if state.receiver_gone {
            return Err(value);
        }
        state.value = Some(value);
        let waker = state.receiver_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// The receiver is gone or closed: a value sent now would be given back.
    ///
    /// ```
    /// let (tx, mut rx) = weft::sync::oneshot::channel::<()>();
    /// assert!(!tx.is_closed());
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|inner| lock(&inner.state).receiver_gone)
    }

    /// Completes once the receiver is gone or closed: a way to stop computing a reply nobody wants.
    ///
    /// # Cancellation safety
    /// Safe to drop at any time.
    ///
    /// ```
    /// use weft::sync::oneshot;
    ///
    /// weft::run(async {
    ///     let (mut tx, rx) = oneshot::channel::<u64>();
    ///     weft::spawn(async move { drop(rx) });
    ///     tx.closed().await; // the requester gave up
    /// });
    /// ```
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for the receiver being gone; only the waker of the most recent call is woken.
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// weft::run(async {
    ///     let (mut tx, rx) = weft::sync::oneshot::channel::<()>();
    ///     drop(rx);
    ///     poll_fn(|cx| tx.poll_closed(cx)).await;
    /// });
    /// ```
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = &self.inner else {
            return Poll::Ready(());
        };
        let mut state = lock(&inner.state);
        if state.receiver_gone {
            return Poll::Ready(());
        }
        store_waker(&mut state.sender_waker, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let mut state = lock(&inner.state);
        state.sender_gone = true;
        let waker = state.receiver_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("sent", &self.inner.is_none())
            .finish_non_exhaustive()
    }
}

/// The receiving half, and the future of the value: `Ok(value)`, or [`RecvError`] if the sender was dropped
/// without sending. Polling it again after it completed gives `Err(RecvError)`.
///
/// # Cancellation safety
/// Dropping the receiver drops a value already sent; polling it and then dropping the poll (it is its own
/// future) never takes the value out early.
pub struct Receiver<T> {
    /// The channel.
    inner: Arc<Inner<T>>,
}

impl<T> Receiver<T> {
    /// Refuses the value: the sender's [`send`](Sender::send) now fails and its
    /// [`closed`](Sender::closed) completes. A value sent before the call can still be received.
    ///
    /// ```
    /// let (tx, mut rx) = weft::sync::oneshot::channel();
    /// rx.close();
    /// assert_eq!(tx.send(1), Err(1));
    /// assert!(rx.try_recv().is_err());
    /// ```
    pub fn close(&mut self) {
        let mut state = lock(&self.inner.state);
        state.receiver_gone = true;
        let waker = state.sender_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Takes the value if it has been sent, without waiting.
    ///
    /// ```
    /// use weft::sync::oneshot::{self, TryRecvError};
    ///
    /// let (tx, mut rx) = oneshot::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = lock(&self.inner.state);
        match state.value.take() {
            Some(value) => Ok(value),
            None if state.sender_gone || state.receiver_gone => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let mut state = lock(&self.inner.state);
        if let Some(value) = state.value.take() {
            return Poll::Ready(Ok(value));
        }
        if state.sender_gone || state.receiver_gone {
            return Poll::Ready(Err(RecvError(())));
        }
        store_waker(&mut state.receiver_waker, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.inner.state);
        state.receiver_gone = true;
        state.receiver_waker = None;
        let value = state.value.take();
        let waker = state.sender_waker.take();
        drop(state);
        drop(value);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// The sender was dropped without sending (or the value was already received).
///
/// ```
/// weft::run(async {
///     let (tx, rx) = weft::sync::oneshot::channel::<()>();
///     drop(tx);
///     let error = rx.await.unwrap_err();
///     assert_eq!(error.to_string(), "oneshot sender dropped without sending");
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot sender dropped without sending")
    }
}

impl Error for RecvError {}

/// Why [`Receiver::try_recv`] has no value.
///
/// ```
/// use weft::sync::oneshot::{self, TryRecvError};
///
/// let (tx, mut rx) = oneshot::channel::<()>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Not sent yet.
    Empty,
    /// It never will be: the sender is gone (or the value was already taken, or the receiver closed).
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("oneshot value not sent yet"),
            TryRecvError::Closed => f.write_str("oneshot channel closed"),
        }
    }
}

impl Error for TryRecvError {}
