//! [`Sender`], [`Permit`] and [`OwnedPermit`]: the sending side of a bounded channel.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;

use super::super::parked;
use super::super::wait_list::WaitKey;
use crate::cell::Op;
use crate::loom::sync::{lock, Arc};

use super::error::*;
use super::*;

/// The sending half of a bounded [`channel`]; clone it for more producers.
///
/// Messages from one sender arrive in the order they were sent.
pub struct Sender<T> {
    /// The channel.
    pub(super) chan: Arc<Chan<T>>,
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
pub(super) struct ClosedWait<'a, T> {
    /// The channel.
    pub(super) chan: &'a Chan<T>,
    /// Our slot in `closed_waiters`.
    pub(super) waiter: Option<WaitKey>,
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
    pub(super) sender: &'a Sender<T>,
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
    pub(super) sender: Option<Sender<T>>,
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
