//! A channel for exactly one value: [`channel`] gives a [`Sender`] whose [`send`](Sender::send) consumes it,
//! and a [`Receiver`] that is itself the future of the value.
//!
//! The usual use is a reply: send a request (through an [`mpsc`](super::mpsc) channel, say) with a oneshot
//! sender in it, and await the receiver. A sender dropped without sending is an error for the receiver, so a
//! reply never waits forever for a handler that failed.
//!
//! # Invariants
//!
//! The channel is one state word of flags beside three slots (the value and the two wakers); each slot is
//! reached by one side at a time, as the flags say. These rules are cited by number below.
//!
//! 1. **`COMPLETE` and `CLOSED` are set once and never cleared.** `COMPLETE`: the sender is done (it sent, or was
//!    dropped). `CLOSED`: the receiver closed or was dropped. `VALUE` is set only together with `COMPLETE`, by a
//!    compare-and-swap that fails if `CLOSED` is set, so a value is either delivered or handed back, never both.
//! 2. **The value slot belongs to the sender until it sets `COMPLETE`**; after that it belongs to the receiver
//!    if `VALUE` is set (read after an acquire load that saw `VALUE`), and to nobody otherwise (it is dropped
//!    with the allocation).
//! 3. **The receiver's waker slot**: while `RX_WAKER` is unset, only the receiver writes it. While `RX_WAKER` is
//!    set it is read-only for both sides: the receiver compares it with `will_wake`, and the sender, if the
//!    swap that set `COMPLETE` saw `RX_WAKER`, wakes it by reference. The receiver unsets `RX_WAKER` (to store
//!    another waker) only by a compare-and-swap that fails once `COMPLETE` is set, so the sender never reads a
//!    slot being written.
//! 4. **The sender's waker slot** follows rule 3 with the roles swapped: `TX_WAKER` and `CLOSED`.
//!
//! Wakers are woken by reference and stay in their slots until the allocation is freed, so no side ever takes
//! one out from under the other.
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

use std::error::Error;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::parked;
use crate::cell::coop;
use crate::cell::Op;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{
    AtomicUsize,
    Ordering::{AcqRel, Acquire},
};
use crate::loom::sync::Arc;

/// The sender is done: it sent or was dropped (rule 1).
const COMPLETE: usize = 0b0_0001;
/// A value is in the slot for the receiver (rules 1 and 2).
const VALUE: usize = 0b0_0010;
/// The receiver closed or was dropped (rule 1).
const CLOSED: usize = 0b0_0100;
/// The receiver's waker slot is published (rule 3).
const RX_WAKER: usize = 0b0_1000;
/// The sender's waker slot is published (rule 4).
const TX_WAKER: usize = 0b1_0000;

/// A channel for one value.
///
/// The receiver, being its own future, is created here: a task parked awaiting it has its x-ray
/// [`Bookmark`](crate::xray::Bookmark) at the line that called `channel`.
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
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(0),
        value: UnsafeCell::new(None),
        receiver_waker: UnsafeCell::new(None),
        sender_waker: UnsafeCell::new(None),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver {
            inner,
            location: Location::caller(),
        },
    )
}

/// The shared allocation.
struct Inner<T> {
    /// `COMPLETE`, `VALUE`, `CLOSED`, `RX_WAKER`, `TX_WAKER`.
    state: AtomicUsize,
    /// The value (rule 2).
    value: UnsafeCell<Option<T>>,
    /// Whom to wake when the sender is done (rule 3).
    receiver_waker: UnsafeCell<Option<Waker>>,
    /// Whom to wake when the receiver is gone (rule 4).
    sender_waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the slots are reached only as rules 2 to 4 allow, one side at a time (or both read-only), with the
// state word's acquire/release ordering between them; the value moves from the sender's thread to the
// receiver's, which `T: Send` allows. Wakers are `Send + Sync`.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above; through a shared reference only the state word is touched (`Sender::is_closed`).
unsafe impl<T: Send> Sync for Inner<T> {}

/// Which side's waker slot a registration is for.
#[derive(Clone, Copy)]
enum Side {
    /// The receiver waits for `COMPLETE` (rule 3).
    Receiver,
    /// The sender waits for `CLOSED` (rule 4).
    Sender,
}

impl<T> Inner<T> {
    /// Registers `waker` in `side`'s slot unless `done` (`COMPLETE` or `CLOSED`) is already set; returns the
    /// state once `done` is seen, or `None` after registering (rules 3 and 4).
    fn register(&self, side: Side, waker: &Waker) -> Option<usize> {
        let (slot, published, done) = match side {
            Side::Receiver => (&self.receiver_waker, RX_WAKER, COMPLETE | CLOSED),
            Side::Sender => (&self.sender_waker, TX_WAKER, CLOSED),
        };
        let mut state = self.state.load(Acquire);
        loop {
            if state & done != 0 {
                return Some(state);
            }
            if state & published != 0 {
                let same = slot.with(|stored| {
                    // SAFETY: rules 3 and 4: while published, the slot is read-only for both sides.
                    let stored = unsafe { &*stored };
                    stored
                        .as_ref()
                        .is_some_and(|stored| stored.will_wake(waker))
                });
                if same {
                    return None;
                }
                // Unpublish, unless the other side finished meanwhile (then it may be reading the slot).
                match self
                    .state
                    .compare_exchange(state, state & !published, AcqRel, Acquire)
                {
                    Ok(_) => {}
                    Err(actual) => {
                        state = actual;
                        continue;
                    }
                }
            }
            // SAFETY: rules 3 and 4: unpublished, the slot is ours alone; the other side reads it only after
            // seeing it published.
            slot.with_mut(|stored| unsafe { *stored = Some(waker.clone()) });
            let previous = self.state.fetch_or(published, AcqRel);
            return (previous & done != 0).then_some(previous);
        }
    }

    /// Wakes `side`'s waker; the caller saw `side`'s flag published in the swap that finished the other side.
    fn wake(&self, side: Side) {
        let slot = match side {
            Side::Receiver => &self.receiver_waker,
            Side::Sender => &self.sender_waker,
        };
        slot.with(|stored| {
            // SAFETY: rules 3 and 4: published and finished, the slot is read-only from now on.
            if let Some(waker) = unsafe { &*stored } {
                waker.wake_by_ref();
            }
        });
    }

    /// The receiver's result once `COMPLETE` is set, from the state it saw (rule 2).
    fn take_value(&self, state: usize) -> Result<T, RecvError> {
        if state & VALUE == 0 {
            return Err(RecvError(()));
        }
        // SAFETY: rule 2: COMPLETE | VALUE was seen with acquire ordering: the slot is the receiver's, and only
        // the receiver (holding `&mut Receiver`) calls this.
        self.value
            .with_mut(|value| unsafe { (*value).take() })
            .ok_or(RecvError(()))
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
        // SAFETY: rule 2: COMPLETE is not set yet (only this sender sets it), so the slot is ours.
        inner.value.with_mut(|slot| unsafe { *slot = Some(value) });
        let mut state = inner.state.load(Acquire);
        loop {
            if state & CLOSED != 0 {
                // SAFETY: rule 2: still ours: VALUE was not set.
                let value = inner.value.with_mut(|slot| unsafe { (*slot).take() });
                inner.state.fetch_or(COMPLETE, AcqRel);
                return Err(value.expect("the value stored above"));
            }
            match inner.state.compare_exchange_weak(
                state,
                state | COMPLETE | VALUE,
                AcqRel,
                Acquire,
            ) {
                Ok(previous) => {
                    if previous & RX_WAKER != 0 {
                        inner.wake(Side::Receiver);
                    }
                    return Ok(());
                }
                Err(actual) => state = actual,
            }
        }
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
            .is_some_and(|inner| inner.state.load(Acquire) & CLOSED != 0)
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
    #[track_caller]
    pub fn closed(&mut self) -> impl Future<Output = ()> + '_ {
        let location = Location::caller();
        poll_fn(move |cx| parked(self.poll_closed_inner(cx), location, Op::OneshotClosed))
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
    #[track_caller]
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        parked(
            self.poll_closed_inner(cx),
            Location::caller(),
            Op::OneshotClosed,
        )
    }

    /// [`poll_closed`](Sender::poll_closed) without the bookmark.
    fn poll_closed_inner(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = &self.inner else {
            return Poll::Ready(());
        };
        match inner.register(Side::Sender, cx.waker()) {
            Some(_) => Poll::Ready(()),
            None => Poll::Pending,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let previous = inner.state.fetch_or(COMPLETE, AcqRel);
        if previous & RX_WAKER != 0 {
            inner.wake(Side::Receiver);
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
    /// Where [`channel`] was called: the bookmark of a task parked awaiting this receiver.
    location: &'static Location<'static>,
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
        let previous = self.inner.state.fetch_or(CLOSED, AcqRel);
        if previous & (TX_WAKER | COMPLETE) == TX_WAKER {
            self.inner.wake(Side::Sender);
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
        let state = self.inner.state.load(Acquire);
        if state & COMPLETE != 0 {
            self.inner
                .take_value(state)
                .map_err(|_| TryRecvError::Closed)
        } else if state & CLOSED != 0 {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        coop::budgeted(cx, |cx| {
            match self.inner.register(Side::Receiver, cx.waker()) {
                None => parked(Poll::Pending, self.location, Op::OneshotRecv),
                Some(state) if state & COMPLETE != 0 => Poll::Ready(self.inner.take_value(state)),
                // Closed by this receiver, and nothing was sent before.
                Some(_) => Poll::Ready(Err(RecvError(()))),
            }
        })
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Once the sender is done nobody waits for CLOSED; a value left over goes with the allocation.
        if self.inner.state.load(Acquire) & COMPLETE != 0 {
            return;
        }
        let previous = self.inner.state.fetch_or(CLOSED, AcqRel);
        if previous & (TX_WAKER | COMPLETE) == TX_WAKER {
            self.inner.wake(Side::Sender);
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
