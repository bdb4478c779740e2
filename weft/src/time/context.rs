//! [`Timers`]: one loop's timer wheel and clock, and the thread-local that lets sleeps find them.
//!
//! The loop owns its `Timers` and makes them current on its thread while it runs ([`enter`]); a sleep reaches
//! them through [`with_current`] without knowing anything else of the loop. That keeps the layers one way: the
//! runtime uses `time`, `time` does not name the runtime.
//!
//! # Invariants
//!
//! 1. The thread-local points at a `Timers` only while the [`Entered`] guard that set it lives, and the loop
//!    keeps that guard no longer than it keeps its `Timers`; so a pointer read from it is valid for the duration
//!    of the access.
//! 2. A wheel entry is removed by its own loop only. A sleep dropped on another thread leaves its key in the
//!    loop's [`Orphans`], found by loop id in a process-wide table; the loop removes such keys every turn.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::{Clock, Wheel};

/// One loop's timers.
#[derive(Debug)]
pub(crate) struct Timers {
    /// The id of the loop that owns them.
    loop_id: u64,
    /// The timer wheel.
    wheel: RefCell<Wheel>,
    /// Real or virtual time.
    clock: Clock,
    /// Keys of entries whose sleeps were dropped on other threads (invariant 2).
    orphans: Arc<Orphans>,
}

/// Wheel keys waiting for their loop to remove them.
#[derive(Debug, Default)]
struct Orphans {
    /// Set when `keys` may be non-empty: the loop looks at the lock only then.
    pending: AtomicBool,
    /// The keys.
    keys: Mutex<Vec<u32>>,
}

/// Every loop's orphans by loop id (invariant 2).
static ORPHANS: Mutex<Option<HashMap<u64, Weak<Orphans>>>> = Mutex::new(None);

use crate::loom::lock_std as lock;

impl Timers {
    /// The timers of loop `loop_id`, on `clock`.
    pub(crate) fn new(loop_id: u64, clock: Clock) -> Timers {
        let orphans = Arc::new(Orphans::default());
        lock(&ORPHANS)
            .get_or_insert_with(HashMap::new)
            .insert(loop_id, Arc::downgrade(&orphans));
        Timers {
            loop_id,
            wheel: RefCell::new(Wheel::new()),
            clock,
            orphans,
        }
    }

    /// The id of the loop that owns them.
    pub(crate) fn loop_id(&self) -> u64 {
        self.loop_id
    }

    /// The wheel.
    pub(crate) fn wheel(&self) -> &RefCell<Wheel> {
        &self.wheel
    }

    /// The clock.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Removes the entries of sleeps dropped on other threads (the loop, every turn: invariant 2).
    pub(crate) fn remove_orphans(&self) {
        if !self.orphans.pending.load(Ordering::Acquire) {
            return;
        }
        self.orphans.pending.store(false, Ordering::Relaxed);
        let keys = std::mem::take(&mut *lock(&self.orphans.keys));
        let mut wheel = self.wheel.borrow_mut();
        for key in keys {
            wheel.remove(key);
        }
    }

    /// Drops every entry (at shutdown), with the wakers they hold.
    pub(crate) fn clear(&self) {
        let wheel = std::mem::take(&mut *self.wheel.borrow_mut());
        drop(wheel);
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        let mut table = lock(&ORPHANS);
        if let Some(table) = table.as_mut() {
            table.remove(&self.loop_id);
        }
    }
}

/// Tells loop `loop_id` to remove wheel entry `key` (a sleep dropped off that loop's thread: invariant 2). A loop
/// that is gone has no wheel left to clean.
pub(crate) fn orphan(loop_id: u64, key: u32) {
    let orphans = lock(&ORPHANS)
        .as_ref()
        .and_then(|table| table.get(&loop_id))
        .and_then(Weak::upgrade);
    if let Some(orphans) = orphans {
        lock(&orphans.keys).push(key);
        orphans.pending.store(true, Ordering::Release);
    }
}

thread_local! {
    /// The timers of the loop running on this thread, or null (invariant 1).
    static CURRENT: Cell<*const Timers> = const { Cell::new(ptr::null()) };
}

/// Calls `f` with the timers of the loop running on this thread, if any.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Timers>) -> R) -> R {
    let current = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    // SAFETY: invariant 1: a non-null pointer is the `Timers` of a loop whose `Entered` guard is alive on this
    // thread, so they outlive this call.
    f(unsafe { current.as_ref() })
}

/// Makes `timers` current on this thread until the guard is dropped (the loop, when it starts running here).
pub(crate) fn enter(timers: &Timers) -> Entered {
    Entered {
        previous: CURRENT.with(|current| current.replace(timers)),
    }
}

/// Restores the previous timers when dropped.
#[derive(Debug)]
pub(crate) struct Entered {
    /// The timers to restore.
    previous: *const Timers,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
    }
}
