//! [`Semaphore`]: a count of permits that tasks acquire and give back, first come, first served.

#![forbid(unsafe_code)]

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use super::permits::{Permits, TryAcquire, MAX_PERMITS};
use crate::cell::Op;

/// A fair, async counting semaphore: limits how many tasks do something at once (connections, requests to a
/// backend, memory in flight).
///
/// Waiters are served in the order they asked, and a request for many permits is not overtaken by later small
/// ones. Permits are given back when the [`SemaphorePermit`] is dropped. Works across tasks, loops and threads.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Semaphore;
///
/// weft::run(async {
///     let limit = Arc::new(Semaphore::new(2)); // at most two at once
///     let tasks: Vec<_> = (0..6)
///         .map(|i| {
///             let limit = limit.clone();
///             weft::spawn(async move {
///                 let _permit = limit.acquire().await.unwrap();
///                 i // ... work while holding the permit ...
///             })
///         })
///         .collect();
///     let done = weft::join_all(tasks).await;
///     assert_eq!(done.len(), 6);
///     assert_eq!(limit.available_permits(), 2);
/// });
/// ```
pub struct Semaphore {
    /// The pool.
    permits: Permits,
}

impl Semaphore {
    /// The most permits a semaphore can hold.
    pub const MAX_PERMITS: usize = MAX_PERMITS;

    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let semaphore = weft::sync::Semaphore::new(3);
    /// assert_eq!(semaphore.available_permits(), 3);
    /// ```
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: Permits::new(permits),
        }
    }

    /// Permits free right now.
    ///
    /// ```
    /// let semaphore = weft::sync::Semaphore::new(3);
    /// let _permit = semaphore.try_acquire().unwrap();
    /// assert_eq!(semaphore.available_permits(), 2);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.permits.available()
    }

    /// Adds `n` permits, waking waiters they satisfy.
    ///
    /// # Panics
    /// If the total would exceed [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let semaphore = weft::sync::Semaphore::new(0);
    /// semaphore.add_permits(2);
    /// assert_eq!(semaphore.available_permits(), 2);
    /// ```
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        self.permits.release(n);
    }

    /// Removes up to `n` free permits for good; returns how many were removed.
    ///
    /// ```
    /// let semaphore = weft::sync::Semaphore::new(3);
    /// assert_eq!(semaphore.forget_permits(5), 3);
    /// assert_eq!(semaphore.available_permits(), 0);
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        self.permits.forget(n)
    }

    /// Waits for one permit; fails once the semaphore is [closed](Semaphore::close).
    ///
    /// # Cancellation safety
    /// Dropping the future never leaks a permit nor blocks the queue: it leaves the queue, and a permit granted
    /// to it meanwhile goes to the next waiter. It loses its place in line.
    ///
    /// ```
    /// weft::run(async {
    ///     let semaphore = weft::sync::Semaphore::new(1);
    ///     let permit = semaphore.acquire().await.unwrap();
    ///     assert_eq!(semaphore.available_permits(), 0);
    ///     drop(permit);
    ///     assert_eq!(semaphore.available_permits(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once; fails once the semaphore is closed.
    ///
    /// # Cancellation safety
    /// As for [`acquire`](Semaphore::acquire).
    ///
    /// ```
    /// weft::run(async {
    ///     let semaphore = weft::sync::Semaphore::new(5);
    ///     let permits = semaphore.acquire_many(3).await.unwrap();
    ///     assert_eq!(permits.num_permits(), 3);
    ///     assert_eq!(semaphore.available_permits(), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn acquire_many(
        &self,
        n: u32,
    ) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        let location = Location::caller();
        async move {
            match self
                .permits
                .acquire_at(n as usize, location, Op::SemaphoreAcquire)
                .await
            {
                Ok(()) => Ok(SemaphorePermit {
                    semaphore: self,
                    permits: n,
                }),
                Err(()) => Err(AcquireError(())),
            }
        }
    }

    /// Takes one permit if one is free and nobody waits before us.
    ///
    /// ```
    /// use weft::sync::{Semaphore, TryAcquireError};
    ///
    /// let semaphore = Semaphore::new(1);
    /// let permit = semaphore.try_acquire().unwrap();
    /// assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// drop(permit);
    /// assert!(semaphore.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody waits before us.
    ///
    /// ```
    /// let semaphore = weft::sync::Semaphore::new(2);
    /// assert!(semaphore.try_acquire_many(3).is_err());
    /// assert_eq!(semaphore.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.permits
            .try_acquire(n as usize)
            .map_err(TryAcquireError::from)?;
        Ok(SemaphorePermit {
            semaphore: self,
            permits: n,
        })
    }

    /// Like [`acquire`](Semaphore::acquire), with a permit that holds the semaphore and so can move into a
    /// spawned task.
    ///
    /// # Cancellation safety
    /// As for [`acquire`](Semaphore::acquire).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// weft::run(async {
    ///     let semaphore = Arc::new(weft::sync::Semaphore::new(1));
    ///     let permit = semaphore.clone().acquire_owned().await.unwrap();
    ///     let task = weft::spawn(async move {
    ///         let _held_until_the_task_ends = permit;
    ///     });
    ///     task.await.unwrap();
    ///     assert_eq!(semaphore.available_permits(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn acquire_owned(
        self: Arc<Self>,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        self.acquire_many_owned(1)
    }

    /// Like [`acquire_many`](Semaphore::acquire_many), with an owned permit.
    ///
    /// # Cancellation safety
    /// As for [`acquire`](Semaphore::acquire).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// weft::run(async {
    ///     let semaphore = Arc::new(weft::sync::Semaphore::new(4));
    ///     let permits = semaphore.clone().acquire_many_owned(4).await.unwrap();
    ///     assert_eq!(permits.num_permits(), 4);
    /// });
    /// ```
    #[track_caller]
    pub fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        let location = Location::caller();
        async move {
            let result = self
                .permits
                .acquire_at(n as usize, location, Op::SemaphoreAcquire)
                .await;
            match result {
                Ok(()) => Ok(OwnedSemaphorePermit {
                    semaphore: self,
                    permits: n,
                }),
                Err(()) => Err(AcquireError(())),
            }
        }
    }

    /// Like [`try_acquire`](Semaphore::try_acquire), with an owned permit.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let semaphore = Arc::new(weft::sync::Semaphore::new(1));
    /// let permit = semaphore.clone().try_acquire_owned().unwrap();
    /// assert!(semaphore.clone().try_acquire_owned().is_err());
    /// drop(permit);
    /// ```
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Like [`try_acquire_many`](Semaphore::try_acquire_many), with an owned permit.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let semaphore = Arc::new(weft::sync::Semaphore::new(3));
    /// assert_eq!(semaphore.clone().try_acquire_many_owned(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.permits
            .try_acquire(n as usize)
            .map_err(TryAcquireError::from)?;
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits: n,
        })
    }

    /// Closes the semaphore: waiting and later acquires fail with [`AcquireError`]. Permits already held stay
    /// valid and are given back as usual.
    ///
    /// ```
    /// use weft::sync::{Semaphore, TryAcquireError};
    ///
    /// weft::run(async {
    ///     let semaphore = Semaphore::new(1);
    ///     semaphore.close();
    ///     assert!(semaphore.acquire().await.is_err());
    ///     assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError::Closed);
    /// });
    /// ```
    pub fn close(&self) {
        self.permits.close();
    }

    /// [`close`](Semaphore::close) was called.
    ///
    /// ```
    /// let semaphore = weft::sync::Semaphore::new(1);
    /// assert!(!semaphore.is_closed());
    /// semaphore.close();
    /// assert!(semaphore.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.permits.is_closed()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits borrowed from a [`Semaphore`]; given back when dropped.
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    /// Where the permits go back.
    semaphore: &'a Semaphore,
    /// How many.
    permits: u32,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good.
    ///
    /// ```
    /// let semaphore = weft::sync::Semaphore::new(2);
    /// semaphore.try_acquire().unwrap().forget();
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this holds.
    ///
    /// ```
    /// let semaphore = weft::sync::Semaphore::new(2);
    /// assert_eq!(semaphore.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits as usize
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.permits.release(self.permits as usize);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits that hold their [`Semaphore`] by `Arc`; given back when dropped.
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct OwnedSemaphorePermit {
    /// Where the permits go back.
    semaphore: Arc<Semaphore>,
    /// How many.
    permits: u32,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let semaphore = Arc::new(weft::sync::Semaphore::new(1));
    /// semaphore.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(semaphore.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this holds.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let semaphore = Arc::new(weft::sync::Semaphore::new(1));
    /// assert_eq!(semaphore.try_acquire_owned().unwrap().num_permits(), 1);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits as usize
    }

    /// The semaphore the permits came from.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let semaphore = Arc::new(weft::sync::Semaphore::new(1));
    /// let permit = semaphore.clone().try_acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(permit.semaphore(), &semaphore));
    /// ```
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.semaphore
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.permits.release(self.permits as usize);
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// The semaphore was closed.
///
/// ```
/// weft::run(async {
///     let semaphore = weft::sync::Semaphore::new(0);
///     semaphore.close();
///     let error = semaphore.acquire().await.unwrap_err();
///     assert_eq!(error.to_string(), "semaphore closed");
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl Error for AcquireError {}

/// Why a `try_acquire` failed.
///
/// ```
/// use weft::sync::{Semaphore, TryAcquireError};
///
/// let semaphore = Semaphore::new(0);
/// assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits are free, or other tasks wait first.
    NoPermits,
}

impl From<TryAcquire> for TryAcquireError {
    fn from(error: TryAcquire) -> TryAcquireError {
        match error {
            TryAcquire::Closed => TryAcquireError::Closed,
            TryAcquire::NoPermits => TryAcquireError::NoPermits,
        }
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl Error for TryAcquireError {}
