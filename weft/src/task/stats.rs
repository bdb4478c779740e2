//! The x-ray part of a task header: the task's bookmark and poll statistics, in 16 bytes (task rule 8).
//!
//! A bookmark's location is a `&'static Location`, 8 bytes as a pointer; here it is packed into 32 bits as its
//! distance in bytes from an anchor in this program's static data (every `Location` the compiler emits for the
//! program's own code lies well within 2 GiB of it), or, for a location too far away (code in a shared library
//! loaded elsewhere), as an index into a small table of such locations. The pointer's provenance is exposed by the
//! `as usize` cast when packing and taken up again by the `as *const` cast when unpacking (`as` casts are
//! `expose_provenance` / `with_exposed_provenance`, which this crate's MSRV predates).
//!
//! A leaf future that returns `Pending` does not look for its task: it leaves its bookmark in a thread-local
//! ([`bookmark`]: one store), which the loop moves into the polled task's header when the poll returns `Pending`
//! ([`TaskStats::end_poll`]) and clears after any other poll. So every poll starts with none, a poll that parks
//! in a future weft does not know leaves no bookmark rather than a stale one, and the leaf's `Pending` path costs
//! a subtraction, a range check and one store.

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::Mutex;

use crate::task::Label;

/// Task statistics and bookmark; see the module docs. Read and written only on the owner loop's thread (rule 8).
///
/// Updated once per poll that leaves the task alive ([`end_poll`](Self::end_poll)): a task that completes is
/// gone from every dump, so its last poll need not be counted here (the loop's own poll count has it).
#[derive(Debug, Default)]
pub(crate) struct TaskStats {
    /// Where the task last parked in a weft leaf future and on what, as in [`LEFT`] (no location: no bookmark).
    bookmark: Cell<u64>,
    /// Polls so far (saturating) in the low 32 bits; in the high 32, when the latest one started in milliseconds
    /// since the loop started, plus one (0: never polled) — one word, so a poll updates both in one store.
    runs: Cell<u64>,
}

/// The time a poll started, for [`TaskStats::end_poll`]: `ms_plus_one` (milliseconds since the loop started,
/// plus one — so that 0 can mean "never") where the statistics keep it. Made once per loop turn.
#[inline]
pub(crate) fn stamp(ms_plus_one: u32) -> u64 {
    u64::from(ms_plus_one) << 32
}

impl TaskStats {
    /// A poll on this thread that started at `stamp` ([`stamp`]) returned `Pending`: counts it, and the task
    /// keeps the bookmark the poll left ([`bookmark`]), or none, which the thread forgets for the next poll.
    #[inline]
    pub(crate) fn end_poll(&self, stamp: u64) {
        self.bookmark.set(LEFT.with(|left| left.replace(0)));
        let polls = (self.runs.get() as u32).saturating_add(1);
        self.runs.set(stamp | u64::from(polls));
    }

    /// The bookmark, if the task is parked in a weft leaf future.
    pub(crate) fn bookmark(&self) -> Option<(&'static Location<'static>, Label)> {
        let bits = self.bookmark.get();
        unpack((bits >> 32) as u32).map(|location| (location, Label::from_bits(bits as u32)))
    }

    /// Polls so far (not counting one in progress).
    pub(crate) fn polls(&self) -> u64 {
        u64::from(self.runs.get() as u32)
    }

    /// When the latest finished poll started (milliseconds since the loop started), if one did.
    pub(crate) fn last_ran_ms(&self) -> Option<u32> {
        ((self.runs.get() >> 32) as u32).checked_sub(1)
    }
}

thread_local! {
    /// The bookmark the poll in progress on this thread left so far: its [`Label`] in the low 32 bits, its
    /// [`pack`]ed location in the high 32 (0: none) — one word, written and read whole, so the loop's read right
    /// after a leaf's write is forwarded from the store buffer. The loop moves it into the task's header when a
    /// poll returns `Pending` ([`TaskStats::end_poll`]) and clears it ([`forget_left`]) after any other poll
    /// and before each batch of polls, so every poll of a task starts with none. Leaf futures polled outside a
    /// task (the `block_on` future, a blocking job, another executor) write here too, and nobody reads it.
    static LEFT: Cell<u64> = const { Cell::new(0) };
}

/// Leaves a bookmark for the task being polled on this thread: called by weft's leaf futures when they return
/// `Pending`. Packs the location; one thread-local store. Outside a task's poll (the `block_on` future, a
/// blocking job, another runtime) nobody reads it.
#[inline]
pub(crate) fn bookmark(location: &'static Location<'static>, label: Label) {
    if cfg!(weft_no_xray) {
        return; // only for measuring what bookmarks cost; see `Core::run_task`
    }
    let bits = (u64::from(pack(location)) << 32) | u64::from(label.to_bits());
    LEFT.with(|left| left.set(bits));
}

/// Like [`bookmark`], unless the current poll already left one (a wrapper such as `timeout` defers to the
/// bookmark of the future it wraps).
pub(crate) fn bookmark_if_none(location: &'static Location<'static>, label: Label) {
    if !left_any() {
        bookmark(location, label);
    }
}

/// Whether the poll in progress on this thread left a bookmark so far.
#[inline]
fn left_any() -> bool {
    LEFT.with(Cell::get) >> 32 != 0
}

/// Forgets the bookmark left on this thread, so that the next poll starts with none.
#[inline]
pub(crate) fn forget_left() {
    LEFT.with(|left| left.set(0));
}

/// The anchor locations are measured from: a static of this crate, 8-aligned like `Location`.
static ANCHOR: u64 = 0;

/// Locations too far from the anchor to pack as a distance, and their indices.
static FAR: Mutex<Option<FarLocations>> = Mutex::new(None);

/// The far locations by index, and the index of each by address.
type FarLocations = (Vec<&'static Location<'static>>, HashMap<usize, u32>);

/// The anchor's address.
fn anchor() -> usize {
    std::ptr::from_ref(&ANCHOR) as usize
}

/// Packs a location into 32 bits: even and non-zero — its distance in bytes from the anchor (±2 GiB; even, as
/// both are aligned like `usize`, and never 0, as the anchor is not a `Location`); odd — its index in [`FAR`],
/// shifted left by one, plus one; 0 — none.
#[inline]
fn pack(location: &'static Location<'static>) -> u32 {
    let address = std::ptr::from_ref(location) as usize; // exposes the provenance
    let distance = address.wrapping_sub(anchor()) as isize;
    if distance as i32 as isize == distance {
        distance as u32
    } else {
        pack_far(location)
    }
}

/// The slow path of [`pack`]: an index into the table of far locations.
#[cold]
fn pack_far(location: &'static Location<'static>) -> u32 {
    let mut far = FAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (list, index_of) = far.get_or_insert_with(Default::default);
    let address = std::ptr::from_ref(location) as usize;
    let index = *index_of.entry(address).or_insert_with(|| {
        list.push(location);
        u32::try_from(list.len() - 1).unwrap_or(u32::MAX)
    });
    // Past 2^31 distinct far locations (never, in practice) the bookmark points at the last one.
    (index.min((1 << 31) - 1) << 1) | 1
}

/// Unpacks what [`pack`] made; `None` for 0.
fn unpack(packed: u32) -> Option<&'static Location<'static>> {
    if packed == 0 {
        return None;
    }
    if packed & 1 == 0 {
        let address = anchor().wrapping_add(packed as i32 as isize as usize);
        // Takes up the provenance `pack` exposed.
        let pointer = address as *const Location<'static>;
        // SAFETY: `pack` made `packed` from the address of a `&'static Location` whose provenance it exposed, so
        // `pointer` is that reference again, valid for the life of the program.
        return Some(unsafe { &*pointer });
    }
    let index = packed >> 1;
    let far = FAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    far.as_ref()?.0.get(index as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Op;

    #[test]
    fn stats_count_polls_and_keep_the_bookmark_in_16_bytes() {
        assert_eq!(std::mem::size_of::<TaskStats>(), 16);
        let stats = TaskStats::default();
        assert_eq!((stats.polls(), stats.last_ran_ms()), (0, None));
        forget_left();
        assert!(!left_any());
        let here = Location::caller();
        bookmark(here, Label::plain(Op::YieldNow));
        assert!(left_any());
        assert_eq!(stats.bookmark(), None, "filed only when the poll ends");
        stats.end_poll(stamp(1));
        let (location, label) = stats.bookmark().unwrap();
        assert!(std::ptr::eq(location, here), "the same location comes back");
        assert_eq!(label, Label::plain(Op::YieldNow));
        assert_eq!((stats.polls(), stats.last_ran_ms()), (1, Some(0)));
        forget_left();
        assert_eq!(
            stats.bookmark().map(|(location, _)| location.line()),
            Some(here.line()),
            "a poll resumes from the bookmark"
        );
        stats.end_poll(stamp(6));
        assert_eq!(stats.bookmark(), None, "a poll that leaves none forgets it");
        assert_eq!((stats.polls(), stats.last_ran_ms()), (2, Some(5)));
    }

    #[test]
    fn poll_counts_saturate() {
        let stats = TaskStats::default();
        stats.runs.set(u64::from(u32::MAX - 1));
        stats.end_poll(stamp(3));
        stats.end_poll(stamp(4));
        assert_eq!(
            (stats.polls(), stats.last_ran_ms()),
            (u64::from(u32::MAX), Some(3))
        );
    }

    #[test]
    fn far_locations_are_kept_in_a_table() {
        let leaked: &'static Location<'static> = Box::leak(Box::new(*Location::caller()));
        let packed = pack_far(leaked);
        assert_eq!(packed & 1, 1, "odd: an index");
        assert!(std::ptr::eq(unpack(packed).unwrap(), leaked));
        assert_eq!(pack_far(leaked), packed, "one entry per location");
        assert_eq!(unpack(0), None);
    }
}
