//! [`RwLock`]: an async reader-writer lock, granted in FIFO order.
//!
//! The lock is a [`Permits`] pool of [`MAX_READERS`] permits beside the data: a reader takes one, a writer
//! takes them all. Because the pool is first come, first served, a waiting writer holds back readers that come
//! after it, so writers are not starved by a stream of readers.
//!
//! # Invariants
//!
//! 1. **A read guard exists only while its holder owns one permit, a write guard only while its holder owns all
//!    [`MAX_READERS`]**; each gives its permits back when dropped, and only then. So while a write guard lives
//!    no other guard does, and read guards only ever coexist with other read guards.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

use super::permits::Permits;
use super::TryLockError;
use crate::cell::Op;

/// How many read guards may exist at once.
const MAX_READERS: usize = (u32::MAX >> 3) as usize;

/// An async reader-writer lock: many readers or one writer, whose guards may be held across `.await`.
///
/// Fair: requests are served in the order they were made, so a writer waits only for the readers before it,
/// and readers that come after a waiting writer wait for it. `Send + Sync` when `T: Send + Sync`.
///
/// ```
/// weft::run(async {
///     let config = weft::sync::RwLock::new(String::from("v1"));
///     {
///         let a = config.read().await;
///         let b = config.read().await; // readers share
///         assert_eq!((a.as_str(), b.as_str()), ("v1", "v1"));
///     }
///     config.write().await.push_str("+patch");
///     assert_eq!(*config.read().await, "v1+patch");
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    /// `MAX_READERS` permits (rule 1).
    permits: Permits,
    /// The data.
    data: UnsafeCell<T>,
}

// SAFETY: rule 1: readers on several threads share `&T` (needs `T: Sync`), and a writer on any thread gets
// `&mut T`, which moves access to `T` between threads (needs `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}
// SAFETY: the lock owns its `T`; sending it sends the `T`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}

impl<T> RwLock<T> {
    /// A lock holding `value`, unlocked.
    ///
    /// ```
    /// let lock = weft::sync::RwLock::new(1);
    /// assert_eq!(lock.into_inner(), 1);
    /// ```
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            permits: Permits::new(MAX_READERS),
            data: UnsafeCell::new(value),
        }
    }

    /// The data, taking the lock apart.
    ///
    /// ```
    /// let lock = weft::sync::RwLock::new(vec![1]);
    /// assert_eq!(lock.into_inner(), [1]);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared access: returns once no writer holds the lock or waited before us.
    ///
    /// # Cancellation safety
    /// Dropping the future never leaks access nor blocks the queue; it loses its place in line.
    ///
    /// ```
    /// weft::run(async {
    ///     let lock = weft::sync::RwLock::new(3);
    ///     assert_eq!(*lock.read().await, 3);
    /// });
    /// ```
    #[track_caller]
    pub fn read(&self) -> impl Future<Output = RwLockReadGuard<'_, T>> + '_ {
        let location = Location::caller();
        async move {
            // The pool is never closed, so the acquire cannot fail.
            let _ = self.permits.acquire_at(1, location, Op::RwLockRead).await;
            RwLockReadGuard {
                lock: self,
                _shares: PhantomData,
            }
        }
    }

    /// Waits for exclusive access: returns once every guard before us is gone.
    ///
    /// # Cancellation safety
    /// Dropping the future never leaks access nor blocks the queue: access handed to it meanwhile passes on to
    /// the next in line. It loses its place in line.
    ///
    /// ```
    /// weft::run(async {
    ///     let lock = weft::sync::RwLock::new(3);
    ///     *lock.write().await += 1;
    ///     assert_eq!(*lock.read().await, 4);
    /// });
    /// ```
    #[track_caller]
    pub fn write(&self) -> impl Future<Output = RwLockWriteGuard<'_, T>> + '_ {
        let location = Location::caller();
        async move {
            let _ = self
                .permits
                .acquire_at(MAX_READERS, location, Op::RwLockWrite)
                .await;
            RwLockWriteGuard {
                lock: self,
                _unique: PhantomData,
            }
        }
    }

    /// Takes shared access if that needs no waiting.
    ///
    /// ```
    /// let lock = weft::sync::RwLock::new(0);
    /// let writer = lock.try_write().unwrap();
    /// assert!(lock.try_read().is_err());
    /// drop(writer);
    /// assert!(lock.try_read().is_ok());
    /// ```
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        self.permits
            .try_acquire(1)
            .map_err(|_| TryLockError::new())?;
        Ok(RwLockReadGuard {
            lock: self,
            _shares: PhantomData,
        })
    }

    /// Takes exclusive access if that needs no waiting.
    ///
    /// ```
    /// let lock = weft::sync::RwLock::new(0);
    /// let reader = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_err());
    /// drop(reader);
    /// assert!(lock.try_write().is_ok());
    /// ```
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        self.permits
            .try_acquire(MAX_READERS)
            .map_err(|_| TryLockError::new())?;
        Ok(RwLockWriteGuard {
            lock: self,
            _unique: PhantomData,
        })
    }

    /// The data, through a unique borrow of the lock.
    ///
    /// ```
    /// let mut lock = weft::sync::RwLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => debug.field("data", &&*guard),
            Err(_) => debug.field("data", &format_args!("<locked>")),
        };
        debug.finish()
    }
}

/// Shared access to an [`RwLock`]'s data, until dropped.
#[must_use = "the access ends as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    /// The lock (rule 1).
    lock: &'a RwLock<T>,
    /// The guard hands out `&T`: `Send` and `Sync` only when `T: Sync`.
    _shares: PhantomData<&'a T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: rule 1: while a read guard lives no write guard does, so nobody mutates the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.permits.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwLock`]'s data, until dropped.
#[must_use = "the access ends as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    /// The lock (rule 1).
    lock: &'a RwLock<T>,
    /// The guard hands out `&mut T`.
    _unique: PhantomData<&'a mut T>,
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: rule 1: while the write guard lives it is the only guard.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: rule 1: while the write guard lives it is the only guard, and it is borrowed uniquely.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.permits.release(MAX_READERS);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
