//! [`Receiver`]: the receiving side of a bounded channel.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::super::parked;
use crate::cell::Op;
use crate::loom::sync::{lock, Arc};

use super::error::*;
use super::*;

/// The receiving half of a bounded [`channel`]. Also a [`Stream`](futures_core::Stream) of messages.
pub struct Receiver<T> {
    /// The channel.
    pub(super) chan: Arc<Chan<T>>,
    /// The armed fast path (rule 5).
    pub(super) armed: Armed,
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
