//! Multi-producer, single-consumer channels: [`channel`] (bounded, with back-pressure) and
//! [`unbounded_channel`].
//!
//! One lock guards a channel's whole state: its buffer, its counters, the receiver's waker and a FIFO of
//! senders waiting for room. Each operation takes it once; wakers are woken after it is released. A bounded
//! channel of capacity `n` has `n` *permits*: sending takes one (see [`Sender::reserve`]), receiving gives one
//! back, and a permit given back goes straight to the oldest waiting sender, so senders get room in the order
//! they asked for it and a newcomer never overtakes a waiting sender.
//!
//! Everything here works between tasks on different loops and threads: wakes go through [`Waker`](std::task::Waker), and a
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

use std::error::Error;
use std::fmt;

use crate::loom::sync::Arc;

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
#[track_caller]
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

mod chan;
pub mod error;
mod receiver;
mod sender;
mod unbounded;

use chan::*;
pub use receiver::Receiver;
pub use sender::{OwnedPermit, Permit, Sender};
pub use unbounded::{UnboundedReceiver, UnboundedSender};
