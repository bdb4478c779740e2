//! [`Mutex`]: an async lock whose guard may be held across `.await`, granted in FIFO order.
//!
//! A mutex is a [`Permits`] pool of one permit beside the data. The guard is proof that its holder owns that
//! permit.
//!
//! # Invariants
//!
//! 1. **A guard exists only while its holder owns the mutex's one permit**; it gives the permit back when
//!    dropped, and only then. So at most one guard exists at a time, and the data is reached only through it
//!    (or through `&mut Mutex`, which no guard can coexist with).

use std::cell::UnsafeCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::Arc;

use super::permits::Permits;
use crate::cell::Op;

/// An async mutual-exclusion lock for data shared between tasks, which may be held across `.await`.
///
/// Fair: tasks get the lock in the order they asked for it, and the lock passes directly from the task that
/// unlocks to the one that waited longest, so a task that unlocks and locks again at once queues behind the
/// waiters instead of starving them. Works across tasks on different loops and threads (`Send + Sync` when `T`
/// is `Send`).
///
/// If the guard is never held across an `.await`, a `std::sync::Mutex` is cheaper.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Mutex;
///
/// weft::run(async {
///     let log = Arc::new(Mutex::new(Vec::new()));
///     let tasks: Vec<_> = (0..3)
///         .map(|i| {
///             let log = log.clone();
///             weft::spawn(async move {
///                 let mut log = log.lock().await;
///                 weft::task::yield_now().await; // the guard is held across this .await
///                 log.push(i);
///             })
///         })
///         .collect();
///     weft::join_all(tasks).await;
///     assert_eq!(*log.lock().await, [0, 1, 2]); // FIFO: in the order they asked
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    /// The one permit (rule 1).
    permit: Permits,
    /// The data.
    data: UnsafeCell<T>,
}

// SAFETY: rule 1: the data is reached by one guard at a time, so sharing the mutex only ever moves access to
// `T` between threads, which `T: Send` allows.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: the mutex owns its `T`; sending it sends the `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    /// A mutex holding `value`, unlocked.
    ///
    /// ```
    /// let mutex = weft::sync::Mutex::new(5);
    /// assert_eq!(mutex.into_inner(), 5);
    /// ```
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            permit: Permits::new(1),
            data: UnsafeCell::new(value),
        }
    }

    /// The data, taking the mutex apart.
    ///
    /// ```
    /// let mutex = weft::sync::Mutex::new(String::from("mine"));
    /// assert_eq!(mutex.into_inner(), "mine");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock and returns its guard; the lock is released when the guard is dropped.
    ///
    /// # Cancellation safety
    /// Dropping the future never leaks the lock nor blocks the queue: it leaves the queue, and if the lock was
    /// handed to it meanwhile it passes the lock on to the next waiter. It loses its place in line.
    ///
    /// ```
    /// weft::run(async {
    ///     let counter = weft::sync::Mutex::new(0);
    ///     *counter.lock().await += 1;
    ///     assert_eq!(*counter.lock().await, 1);
    /// });
    /// ```
    #[track_caller]
    pub fn lock(&self) -> impl Future<Output = MutexGuard<'_, T>> + '_ {
        let location = Location::caller();
        async move {
            // A mutex is never closed, so the acquire cannot fail.
            let _ = self.permit.acquire_at(1, location, Op::MutexLock).await;
            MutexGuard {
                mutex: self,
                _not_shared_unless_sync: PhantomData,
            }
        }
    }

    /// Takes the lock if it is free and nobody waits for it.
    ///
    /// ```
    /// let mutex = weft::sync::Mutex::new(1);
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(mutex.try_lock().is_err());
    /// drop(guard);
    /// assert!(mutex.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        self.permit
            .try_acquire(1)
            .map_err(|_| TryLockError::new())?;
        Ok(MutexGuard {
            mutex: self,
            _not_shared_unless_sync: PhantomData,
        })
    }

    /// Like [`lock`](Mutex::lock), with a guard that holds the mutex by `Arc`, so it can move into a spawned
    /// task (it has no lifetime).
    ///
    /// # Cancellation safety
    /// As for [`lock`](Mutex::lock).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// weft::run(async {
    ///     let mutex = Arc::new(weft::sync::Mutex::new(0));
    ///     let mut guard = mutex.clone().lock_owned().await;
    ///     weft::spawn(async move { *guard = 7 }).await.unwrap();
    ///     assert_eq!(*mutex.lock().await, 7);
    /// });
    /// ```
    #[track_caller]
    pub fn lock_owned(self: Arc<Self>) -> impl Future<Output = OwnedMutexGuard<T>> {
        let location = Location::caller();
        async move {
            let _ = self.permit.acquire_at(1, location, Op::MutexLock).await;
            OwnedMutexGuard {
                mutex: self,
                _not_shared_unless_sync: PhantomData,
            }
        }
    }

    /// Like [`try_lock`](Mutex::try_lock), with an owned guard.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(weft::sync::Mutex::new(0));
    /// let guard = mutex.clone().try_lock_owned().unwrap();
    /// assert!(mutex.clone().try_lock_owned().is_err());
    /// drop(guard);
    /// ```
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        self.permit
            .try_acquire(1)
            .map_err(|_| TryLockError::new())?;
        Ok(OwnedMutexGuard {
            mutex: self,
            _not_shared_unless_sync: PhantomData,
        })
    }

    /// The data, through a unique borrow of the mutex: no locking needed.
    ///
    /// ```
    /// let mut mutex = weft::sync::Mutex::new(1);
    /// *mutex.get_mut() = 2;
    /// assert_eq!(mutex.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => debug.field("data", &&*guard),
            Err(_) => debug.field("data", &format_args!("<locked>")),
        };
        debug.finish()
    }
}

/// The lock of a [`Mutex`], held until dropped; dereferences to the data.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    /// The locked mutex (rule 1).
    mutex: &'a Mutex<T>,
    /// Sharing the guard shares `&T`: `Sync` only when `T: Sync`.
    _not_shared_unless_sync: PhantomData<&'a mut T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: rule 1: this guard is the only way to the data while it lives.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: rule 1: this guard is the only way to the data while it lives, and it is borrowed uniquely.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.permit.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The lock of a [`Mutex`] held through an `Arc`, from [`Mutex::lock_owned`]; released when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedMutexGuard<T: ?Sized> {
    /// The locked mutex (rule 1).
    mutex: Arc<Mutex<T>>,
    /// Sharing the guard shares `&T`: `Sync` only when `T: Sync`.
    _not_shared_unless_sync: PhantomData<T>,
}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(weft::sync::Mutex::new(()));
    /// let guard = mutex.clone().try_lock_owned().unwrap();
    /// assert!(Arc::ptr_eq(guard.mutex(), &mutex));
    /// ```
    pub fn mutex(&self) -> &Arc<Mutex<T>> {
        &self.mutex
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: rule 1: this guard is the only way to the data while it lives.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: rule 1: this guard is the only way to the data while it lives, and it is borrowed uniquely.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.permit.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A `try_lock`, `try_read` or `try_write` would have to wait: the lock is held, or others wait for it.
///
/// ```
/// let mutex = weft::sync::Mutex::new(());
/// let _guard = mutex.try_lock().unwrap();
/// assert_eq!(mutex.try_lock().unwrap_err().to_string(), "lock is busy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl TryLockError {
    /// The error.
    pub(crate) fn new() -> TryLockError {
        TryLockError(())
    }
}

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("lock is busy")
    }
}

impl Error for TryLockError {}
