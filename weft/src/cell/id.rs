//! Task ids: unique for the life of the process.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// A task's id, unique among all tasks of the process (ids are never reused).
///
/// ```
/// weft::run(async {
///     let a = weft::spawn(async {});
///     let b = weft::spawn(async {});
///     assert_ne!(a.id(), b.id());
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Id(NonZeroU64);

/// The next block of ids to hand out.
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);

/// Each thread takes ids in blocks, so spawning needs no shared atomic.
const BLOCK: u64 = 1024;

thread_local! {
    /// This thread's next id and the end of its block.
    static LOCAL: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

impl Id {
    /// The id with this number, if it is one (not zero).
    pub(crate) fn from_u64(id: u64) -> Option<Id> {
        NonZeroU64::new(id).map(Id)
    }

    /// A fresh id.
    pub(crate) fn next() -> Id {
        let id = LOCAL
            .try_with(|local| {
                let (next, end) = match local.get() {
                    (next, end) if next < end => (next, end),
                    _ => {
                        let start = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
                        (start, start + BLOCK)
                    }
                };
                local.set((next + 1, end));
                next
            })
            .unwrap_or_else(|_| NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed));
        Id(NonZeroU64::new(id).expect("task id counter wrapped"))
    }

    /// The id as a number (never zero); it is what `Display` prints.
    ///
    /// ```
    /// weft::run(async {
    ///     let id = weft::spawn(async {}).id();
    ///     assert!(id.as_u64() > 0);
    ///     assert_eq!(id.to_string(), id.as_u64().to_string());
    /// });
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
