//! A facade over the primitives that cross-thread code shares: std's normally, [loom]'s when the crate is built
//! with `RUSTFLAGS="--cfg loom"`, so the loom models in `tests/sync_loom.rs` check the real code of
//! [`crate::sync`] under every interleaving of its threads.
//!
//! Code that must be model-checked takes its `Arc`, `Mutex`, `RwLock` and atomics from here, never from std
//! directly. Loom's types work only inside `loom::model`; a build with `--cfg loom` is for the models alone.
//!
//! [loom]: https://docs.rs/loom

#![allow(unused_imports, dead_code)]

/// `Arc`, locks and atomics.
pub(crate) mod sync {
    #[cfg(loom)]
    pub(crate) use ::loom::sync::{
        Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    };
    #[cfg(not(loom))]
    pub(crate) use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

    /// Atomic integers and fences.
    pub(crate) mod atomic {
        #[cfg(loom)]
        pub(crate) use ::loom::sync::atomic::*;
        #[cfg(not(loom))]
        pub(crate) use std::sync::atomic::*;
    }

    /// Locks `mutex`, ignoring poison: the little user code that runs under one of sync/'s locks (a `Clone`
    /// in broadcast, a waker's `drop`) runs where the state is consistent, so a panic there leaves the lock
    /// usable.
    pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `UnsafeCell` with loom's closure-based access, so loom can track each access.
pub(crate) mod cell {
    #[cfg(loom)]
    pub(crate) use ::loom::cell::UnsafeCell;

    /// std's `UnsafeCell` behind loom's interface.
    #[cfg(not(loom))]
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    #[cfg(not(loom))]
    impl<T: ?Sized> UnsafeCell<T> {
        /// Calls `f` with a shared pointer to the value.
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a unique pointer to the value.
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Locks a std mutex, ignoring poison: for the runtime's own std locks, which are never model-checked and whose
/// critical sections run no user code (a panic there leaves the state consistent).
pub(crate) fn lock_std<T: ?Sized>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
