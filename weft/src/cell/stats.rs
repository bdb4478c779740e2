//! The x-ray part of a task header: the task's bookmark and poll statistics, in 16 bytes (task rule 8).
//!
//! A bookmark's location is a `&'static Location`, 8 bytes as a pointer; here it is packed into 32 bits as an
//! id: one plus its index in a process-wide, append-only table of the locations bookmarks have named so far.
//! Unpacking reads the reference back from the table, so it keeps the provenance of the `Location` it names.
//! (Packing its distance from an anchor static would save the lookup, but unpacking would need an
//! integer-to-pointer cast: offset from the anchor, a pointer may only reach the anchor's own allocation under
//! strict provenance, which Miri's `-Zmiri-strict-provenance` checks.) Packing must stay cheap, since every leaf future
//! that returns `Pending` does it: a thread looks the location up in its own small cache, direct-mapped by
//! address ([`IDS`]), and takes the table's lock only the first time it meets a location (or when another one
//! pushed it out of its cache slot). A dump reads the table without a lock.
//!
//! A leaf future that returns `Pending` does not look for its task: it leaves its bookmark in a thread-local
//! ([`bookmark`]: one store), which the loop moves into the polled task's header when the poll returns `Pending`
//! ([`TaskStats::end_poll`]) and clears after any other poll. So every poll starts with none, a poll that parks
//! in a future weft does not know leaves no bookmark rather than a stale one, and the leaf's `Pending` path costs
//! a cache lookup and one store.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::{Mutex, OnceLock};

use crate::cell::Label;

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
        unpack_bookmark(self.bookmark.get())
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

/// The bookmark the poll in progress on this thread left so far, as one word (0: none; read it with
/// [`unpack_bookmark`]): the trace reads it right after a poll, to show where the task parked.
#[inline]
pub(crate) fn left_packed() -> u64 {
    LEFT.with(Cell::get)
}

/// A bookmark from its word ([`left_packed`], the header's copy); `None` for none.
pub(crate) fn unpack_bookmark(bits: u64) -> Option<(&'static Location<'static>, Label)> {
    unpack((bits >> 32) as u32).map(|location| (location, Label::from_bits(bits as u32)))
}

/// Forgets the bookmark left on this thread, so that the next poll starts with none.
#[inline]
pub(crate) fn forget_left() {
    LEFT.with(|left| left.set(0));
}

/// Slots in each thread's cache of packed locations ([`IDS`]); a power of two.
const CACHE_SLOTS: usize = 64;

thread_local! {
    /// This thread's recently packed locations, direct-mapped by address: (address, id). An address of 0 is no
    /// location, so the empty slots never match.
    static IDS: [Cell<(usize, u32)>; CACHE_SLOTS] = const { [const { Cell::new((0, 0)) }; CACHE_SLOTS] };
}

/// The id of every location packed so far, by address (the cold path of [`pack`]; the write side of [`TABLE`]).
static ID_OF: Mutex<Option<HashMap<usize, u32>>> = Mutex::new(None);

/// Entries in the table's first segment; segment `k` holds `FIRST_SEGMENT << k`.
const FIRST_SEGMENT: usize = 64;
/// Segments in the table: enough for every id a `u32` can name.
const SEGMENTS: usize = 27;

/// Every location packed so far, by id minus one: segments allocated as they are needed and never freed or
/// moved, so that [`unpack`] reads an entry without a lock. Entries are set only under [`ID_OF`]'s lock.
static TABLE: [OnceLock<Box<[OnceLock<&'static Location<'static>>]>>; SEGMENTS] =
    [const { OnceLock::new() }; SEGMENTS];

/// The segment and offset in [`TABLE`] of the entry at `index`.
fn position(index: usize) -> (usize, usize) {
    let shifted = index + FIRST_SEGMENT;
    let top = shifted.ilog2() as usize;
    (top - FIRST_SEGMENT.ilog2() as usize, shifted - (1 << top))
}

/// Packs a location into 32 bits: its id (0: none). One lookup in the thread's cache, unless the location is
/// new to this thread or was pushed out of its cache slot.
#[inline]
fn pack(location: &'static Location<'static>) -> u32 {
    let address = std::ptr::from_ref(location).addr();
    // `Location`s are 8-aligned, 24 bytes apart when neighbours: the slot skips the always-zero bits.
    let slot = (address >> 3) % CACHE_SLOTS;
    let (cached, id) = IDS.with(|ids| ids[slot].get());
    if cached == address {
        id
    } else {
        pack_slow(location, slot)
    }
}

/// The slow path of [`pack`]: finds or makes the location's id in the process-wide table, and caches it in
/// `slot` of this thread's cache.
#[cold]
fn pack_slow(location: &'static Location<'static>, slot: usize) -> u32 {
    let address = std::ptr::from_ref(location).addr();
    let mut id_of = ID_OF
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let id_of = id_of.get_or_insert_with(HashMap::new);
    let next = id_of.len();
    let id = match id_of.get(&address) {
        Some(&id) => id,
        // Past the table's last entry (over four billion call sites: never, in practice) the bookmark is lost.
        None if next >= u32::MAX as usize => return 0,
        None => {
            let (segment, offset) = position(next);
            let entries = TABLE[segment].get_or_init(|| {
                (0..FIRST_SEGMENT << segment)
                    .map(|_| OnceLock::new())
                    .collect()
            });
            let _ = entries[offset].set(location);
            let id = next as u32 + 1;
            id_of.insert(address, id);
            id
        }
    };
    IDS.with(|ids| ids[slot].set((address, id)));
    id
}

/// Unpacks what [`pack`] made; `None` for 0.
fn unpack(packed: u32) -> Option<&'static Location<'static>> {
    let index = (packed as usize).checked_sub(1)?;
    let (segment, offset) = position(index);
    TABLE[segment].get()?.get(offset)?.get().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Op;

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
    fn locations_round_trip_through_the_table_and_the_cache() {
        // More than a thread's cache and the table's first segment hold, from the heap (far from the
        // program's own locations); each packed twice: first new, then from the cache or after eviction.
        let leaked: Vec<&'static Location<'static>> = (0..3 * CACHE_SLOTS)
            .map(|_| &*Box::leak(Box::new(*Location::caller())))
            .collect();
        for _ in 0..2 {
            let ids: Vec<u32> = leaked.iter().map(|&location| pack(location)).collect();
            for (&location, &id) in leaked.iter().zip(&ids) {
                assert_ne!(id, 0);
                assert!(std::ptr::eq(unpack(id).unwrap(), location));
                assert_eq!(pack(location), id, "one id per location");
            }
        }
        assert_eq!(unpack(0), None);
        assert_eq!(unpack(u32::MAX), None, "an id never handed out");
    }

    #[test]
    fn table_positions_fill_each_segment_in_turn() {
        assert_eq!(position(0), (0, 0));
        assert_eq!(position(FIRST_SEGMENT - 1), (0, FIRST_SEGMENT - 1));
        assert_eq!(position(FIRST_SEGMENT), (1, 0));
        assert_eq!(position(3 * FIRST_SEGMENT), (2, 0));
        assert_eq!(position(u32::MAX as usize - 1).0, SEGMENTS - 1);
    }
}
