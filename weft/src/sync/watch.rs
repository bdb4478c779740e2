//! A single-value channel that keeps only the latest value: [`channel`] gives one [`Sender`] and any number of
//! [`Receiver`]s, each of which can look at the current value and wait for it to [change](Receiver::changed).
//!
//! Typical uses: configuration that can be reloaded, a shutdown flag, a progress report.
//!
//! # Invariants
//!
//! 1. **`version` changes only under the value's write lock**, so a reader holding the read lock sees the value
//!    and its version together.
//! 2. **No change is missed.** A sender bumps `version`, releases the value lock, then takes the state lock to
//!    wake every waiter; a receiver compares `version` with the one it saw and, if equal, queues itself, all
//!    under the state lock. So either it sees the new version, or it is queued before the sender looks.

#![forbid(unsafe_code)]

use std::error::Error;
use std::fmt;
use std::future::{poll_fn, Future};
use std::ops::Deref;
use std::panic::Location;
use std::task::Poll;

use super::parked;
use super::wait_list::{WaitKey, WaitList, WakeBatch};
use crate::cell::coop;
use crate::cell::Op;
use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::loom::sync::{lock, Arc, Mutex, RwLock, RwLockReadGuard};

/// A watch channel holding `initial`. Receivers see `initial` as already seen: [`Receiver::changed`] waits
/// for the first [`send`](Sender::send).
///
/// ```
/// use weft::sync::watch;
///
/// weft::run(async {
///     let (tx, mut rx) = watch::channel("starting");
///     let watcher = weft::spawn(async move {
///         rx.changed().await.unwrap();
///         *rx.borrow_and_update()
///     });
///     tx.send("running").unwrap();
///     assert_eq!(watcher.await.unwrap(), "running");
/// });
/// ```
pub fn channel<T>(initial: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: RwLock::new(initial),
        version: AtomicU64::new(0),
        state: Mutex::new(State {
            sender_gone: false,
            receivers: 1,
            waiters: WaitList::new(),
            closed_waiters: WaitList::new(),
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

/// The channel's shared part.
struct Shared<T> {
    /// The latest value.
    value: RwLock<T>,
    /// Bumped by every change (rule 1).
    version: AtomicU64,
    /// Counts and waiters.
    state: Mutex<State>,
}

/// Counts and waiters.
struct State {
    /// The sender was dropped.
    sender_gone: bool,
    /// Live receivers.
    receivers: usize,
    /// Receivers waiting in `changed`.
    waiters: WaitList<()>,
    /// Tasks waiting in [`Sender::closed`].
    closed_waiters: WaitList<()>,
}

impl<T> Shared<T> {
    /// Reads the value.
    fn read(&self) -> RwLockReadGuard<'_, T> {
        self.value
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the value with `modify` if it says so, bumping the version and waking receivers (rules 1, 2).
    fn modify(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        {
            let mut value = self
                .value
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !modify(&mut value) {
                return false;
            }
            self.version.fetch_add(1, Ordering::Release);
        }
        let mut state = lock(&self.state);
        let mut wakers = WakeBatch::new();
        state.waiters.drain(|_| {}, &mut wakers);
        drop(state);
        wakers.wake_all();
        true
    }
}

/// The sending half: replaces the value.
pub struct Sender<T> {
    /// The channel.
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Replaces the value and notifies every receiver; fails, giving the value back, if there are no receivers.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow(), 2);
    /// drop(rx);
    /// assert_eq!(tx.send(3).unwrap_err().0, 3);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if lock(&self.shared.state).receivers == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Replaces the value even if there are no receivers, and returns the old one.
    ///
    /// ```
    /// let (tx, _rx) = weft::sync::watch::channel(1);
    /// assert_eq!(tx.send_replace(2), 1);
    /// ```
    pub fn send_replace(&self, value: T) -> T {
        let mut old = Some(value);
        self.shared.modify(|current| {
            old = Some(std::mem::replace(current, old.take().expect("set above")));
            true
        });
        old.expect("swapped in modify")
    }

    /// Changes the value in place and notifies every receiver.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::watch::channel(vec![1]);
    /// tx.send_modify(|list| list.push(2));
    /// assert_eq!(*rx.borrow(), [1, 2]);
    /// ```
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.shared.modify(|value| {
            modify(value);
            true
        });
    }

    /// Changes the value in place; receivers are notified only if `modify` returns true.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::watch::channel(5);
    /// assert!(!tx.send_if_modified(|value| false));
    /// assert!(!rx.has_changed().unwrap());
    /// assert!(tx.send_if_modified(|value| { *value += 1; true }));
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        self.shared.modify(modify)
    }

    /// The current value; holds a read lock until dropped, so keep it short and never across an `.await`.
    ///
    /// ```
    /// let (tx, _rx) = weft::sync::watch::channel("value");
    /// assert_eq!(*tx.borrow(), "value");
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            value: self.shared.read(),
            changed: false,
        }
    }

    /// A new receiver, which sees the current value as already seen.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::watch::channel(0);
    /// drop(rx);
    /// let rx = tx.subscribe();
    /// tx.send(1).unwrap();
    /// assert_eq!(*rx.borrow(), 1);
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        let value = self.shared.read();
        let seen = self.shared.version.load(Ordering::Acquire);
        lock(&self.shared.state).receivers += 1;
        drop(value);
        Receiver {
            shared: self.shared.clone(),
            seen,
        }
    }

    /// How many receivers are alive.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::watch::channel(());
    /// let rx2 = rx.clone();
    /// assert_eq!(tx.receiver_count(), 2);
    /// ```
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.state).receivers
    }

    /// Every receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::watch::channel(());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Completes once every receiver is gone.
    ///
    /// # Cancellation safety
    /// Safe to drop at any time.
    ///
    /// ```
    /// weft::run(async {
    ///     let (tx, rx) = weft::sync::watch::channel(());
    ///     weft::spawn(async move { drop(rx) });
    ///     tx.closed().await;
    /// });
    /// ```
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        let location = Location::caller();
        self.closed_at(location)
    }

    /// [`closed`](Self::closed), bookmarked at `location`.
    async fn closed_at(&self, location: &'static Location<'static>) {
        let mut waiter = Waiter {
            state: &self.shared.state,
            key: None,
            closed_list: true,
        };
        poll_fn(|cx| {
            let mut state = lock(&self.shared.state);
            if state.receivers == 0 {
                return Poll::Ready(());
            }
            match waiter.key {
                Some(key) if state.closed_waiters.is_queued(key) => {
                    state.closed_waiters.register(key, cx.waker())
                }
                Some(key) => {
                    // Woken spuriously (receivers came back): queue again.
                    state.closed_waiters.remove(key);
                    waiter.key = Some(state.closed_waiters.push_back((), cx.waker()));
                }
                None => waiter.key = Some(state.closed_waiters.push_back((), cx.waker())),
            }
            parked(Poll::Pending, location, Op::WatchClosed)
        })
        .await
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        state.sender_gone = true;
        let mut wakers = WakeBatch::new();
        state.waiters.drain(|_| {}, &mut wakers);
        drop(state);
        wakers.wake_all();
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("value", &*self.borrow())
            .finish()
    }
}

/// A receiving half: sees the latest value, and waits for changes. Clone it for more watchers.
pub struct Receiver<T> {
    /// The channel.
    shared: Arc<Shared<T>>,
    /// The version this receiver has seen.
    seen: u64,
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen; holds a read lock until dropped.
    ///
    /// ```
    /// let (tx, rx) = weft::sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow(), 2);
    /// assert!(rx.has_changed().unwrap()); // still unseen
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        let value = self.shared.read();
        let changed = self.shared.version.load(Ordering::Acquire) != self.seen;
        Ref { value, changed }
    }

    /// The current value, marking it seen; holds a read lock until dropped.
    ///
    /// ```
    /// let (tx, mut rx) = weft::sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow_and_update(), 2);
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let value = self.shared.read();
        let version = self.shared.version.load(Ordering::Acquire);
        let changed = version != self.seen;
        self.seen = version;
        Ref { value, changed }
    }

    /// Whether the value changed since this receiver last marked it seen; `Err` if it has not and the sender
    /// is gone (it never will).
    ///
    /// ```
    /// let (tx, rx) = weft::sync::watch::channel(());
    /// assert!(!rx.has_changed().unwrap());
    /// drop(tx);
    /// assert!(rx.has_changed().is_err());
    /// ```
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let state = lock(&self.shared.state);
        if self.shared.version.load(Ordering::Acquire) != self.seen {
            Ok(true)
        } else if state.sender_gone {
            Err(RecvError(()))
        } else {
            Ok(false)
        }
    }

    /// Marks the current value seen.
    ///
    /// ```
    /// let (tx, mut rx) = weft::sync::watch::channel(0);
    /// tx.send(1).unwrap();
    /// rx.mark_unchanged();
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn mark_unchanged(&mut self) {
        self.seen = self.shared.version.load(Ordering::Acquire);
    }

    /// Waits until the value changes from the one this receiver last saw, and marks it seen; `Err` once the
    /// sender is gone without a further change. Read the new value with [`borrow`](Receiver::borrow).
    ///
    /// # Cancellation safety
    /// Dropping the future loses nothing: a change it did not report is still reported by the next call.
    ///
    /// ```
    /// weft::run(async {
    ///     let (tx, mut rx) = weft::sync::watch::channel(0);
    ///     tx.send(1).unwrap();
    ///     rx.changed().await.unwrap(); // already changed: completes at once
    ///     assert_eq!(*rx.borrow(), 1);
    ///     drop(tx);
    ///     assert!(rx.changed().await.is_err());
    /// });
    /// ```
    #[track_caller]
    pub fn changed(&mut self) -> impl Future<Output = Result<(), RecvError>> + '_ {
        let location = Location::caller();
        async move {
            let mut waiter = Waiter {
                state: &self.shared.state,
                key: None,
                closed_list: false,
            };
            let shared = &self.shared;
            let seen = &mut self.seen;
            poll_fn(|cx| {
                coop::budgeted(cx, |cx| {
                    let mut state = lock(&shared.state);
                    let version = shared.version.load(Ordering::Acquire);
                    if version != *seen {
                        *seen = version;
                        return Poll::Ready(Ok(()));
                    }
                    if state.sender_gone {
                        return Poll::Ready(Err(RecvError(())));
                    }
                    match waiter.key {
                        Some(key) if state.waiters.is_queued(key) => {
                            state.waiters.register(key, cx.waker())
                        }
                        Some(key) => {
                            state.waiters.remove(key);
                            waiter.key = Some(state.waiters.push_back((), cx.waker()));
                        }
                        None => waiter.key = Some(state.waiters.push_back((), cx.waker())),
                    }
                    drop(state);
                    parked(Poll::Pending, location, Op::WatchChanged)
                })
            })
            .await
        }
    }

    /// Both receivers watch the same channel.
    ///
    /// ```
    /// let (_tx, rx) = weft::sync::watch::channel(());
    /// assert!(rx.same_channel(&rx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// A slot in a wait list of a watch channel, freed when the waiting future is dropped.
struct Waiter<'a> {
    /// The state holding the lists.
    state: &'a Mutex<State>,
    /// Our slot.
    key: Option<WaitKey>,
    /// The slot is in `closed_waiters`, not `waiters`.
    closed_list: bool,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut state = lock(self.state);
            if self.closed_list {
                state.closed_waiters.remove(key);
            } else {
                state.waiters.remove(key);
            }
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        lock(&self.shared.state).receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        state.receivers -= 1;
        let mut wakers = WakeBatch::new();
        if state.receivers == 0 {
            state.closed_waiters.drain(|_| {}, &mut wakers);
        }
        drop(state);
        wakers.wake_all();
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("value", &*self.borrow())
            .finish()
    }
}

/// A borrowed value of a watch channel: holds its read lock until dropped.
pub struct Ref<'a, T> {
    /// The read lock.
    value: RwLockReadGuard<'a, T>,
    /// The value had not been seen by the receiver that borrowed it.
    changed: bool,
}

impl<T> Ref<'_, T> {
    /// The value had not been seen by the receiver that borrowed it (always false through the sender).
    ///
    /// ```
    /// let (tx, mut rx) = weft::sync::watch::channel(0);
    /// tx.send(1).unwrap();
    /// assert!(rx.borrow_and_update().has_changed());
    /// assert!(!rx.borrow_and_update().has_changed());
    /// ```
    pub fn has_changed(&self) -> bool {
        self.changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// No receiver is left; the value is given back.
///
/// ```
/// let (tx, rx) = weft::sync::watch::channel(0);
/// drop(rx);
/// assert_eq!(tx.send(5).unwrap_err().to_string(), "watch channel has no receivers");
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
        f.write_str("watch channel has no receivers")
    }
}

impl<T> Error for SendError<T> {}

/// The sender is gone, and the value will not change again.
///
/// ```
/// weft::run(async {
///     let (tx, mut rx) = weft::sync::watch::channel(());
///     drop(tx);
///     assert_eq!(rx.changed().await.unwrap_err().to_string(), "watch sender dropped");
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("watch sender dropped")
    }
}

impl Error for RecvError {}
