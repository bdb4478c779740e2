//! Task ids: unique for the life of the process.

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

/// The next id to hand out.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Id {
    /// A fresh id.
    pub(crate) fn next() -> Id {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Id(NonZeroU64::new(id).expect("task id counter wrapped"))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
