//! The x-ray part of a task header: the task's bookmark and poll statistics, in 16 bytes (task rule 8).
//!
//! A bookmark's location is a `&'static Location`, 8 bytes as a pointer; here it is packed into 32 bits as its
//! distance from an anchor in this program's static data (every `Location` the compiler emits for the program's
//! own code lies within a few GiB of it), or, for a location too far away (code in a shared library loaded
//! elsewhere), as an index into a small table of such locations. The pointer's provenance is exposed by the
//! `as usize` cast when packing and taken up again by the `as *const` cast when unpacking (`as` casts are
//! `expose_provenance` / `with_exposed_provenance`, which this crate's MSRV predates).

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::Mutex;

use crate::xray::Label;

/// Task statistics and bookmark; see the module docs. Read and written only on the owner loop's thread (rule 8).
#[derive(Debug, Default)]
pub(crate) struct TaskStats {
    /// Where the task last parked in a weft leaf future ([`PackedLocation`] bits; 0: no bookmark).
    location: Cell<u32>,
    /// What it waits on there ([`Label`] bits).
    label: Cell<u32>,
    /// Polls so far (saturating).
    polls: Cell<u32>,
    /// When its latest poll started, in milliseconds since the loop started, plus one (0: never polled).
    last_ran: Cell<u32>,
}

impl TaskStats {
    /// Records a bookmark.
    #[inline]
    pub(crate) fn set_bookmark(&self, location: &'static Location<'static>, label: Label) {
        self.location.set(pack(location));
        self.label.set(label.to_bits());
    }

    /// Whether the task has a bookmark.
    #[inline]
    pub(crate) fn has_bookmark(&self) -> bool {
        self.location.get() != 0
    }

    /// The bookmark, if the task is parked in a weft leaf future.
    pub(crate) fn bookmark(&self) -> Option<(&'static Location<'static>, Label)> {
        unpack(self.location.get()).map(|location| (location, Label::from_bits(self.label.get())))
    }

    /// A poll starts at `now_ms_plus_one` (milliseconds since the loop started, plus one — so that 0 can mean
    /// "never"): counts it and forgets the bookmark, which the poll leaves anew if it parks in a weft leaf future.
    #[inline]
    pub(crate) fn start_poll(&self, now_ms_plus_one: u32) {
        self.polls.set(self.polls.get().saturating_add(1));
        self.last_ran.set(now_ms_plus_one);
        self.location.set(0);
    }

    /// [`start_poll`](Self::start_poll), returning the bookmark the poll resumes from (for slow-poll reports).
    pub(crate) fn start_poll_resuming(
        &self,
        now_ms_plus_one: u32,
    ) -> Option<(&'static Location<'static>, Label)> {
        let resumed_from = self.bookmark();
        self.start_poll(now_ms_plus_one);
        resumed_from
    }

    /// Polls so far.
    pub(crate) fn polls(&self) -> u64 {
        u64::from(self.polls.get())
    }

    /// When the latest poll started (milliseconds since the loop started), if it ever ran.
    pub(crate) fn last_ran_ms(&self) -> Option<u32> {
        self.last_ran.get().checked_sub(1)
    }
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

/// Packs a location into 32 bits: odd — its distance from the anchor in 8-byte steps, shifted left by one
/// (31 bits, ±8 GiB); even and non-zero — one more than its index in [`FAR`], shifted left by one; 0 — none.
#[inline]
fn pack(location: &'static Location<'static>) -> u32 {
    let address = std::ptr::from_ref(location) as usize; // exposes the provenance
                                                         // Both addresses are 8-aligned (`Location` and `u64` are), so the distance is a whole number of steps.
    let steps = (address.wrapping_sub(anchor()) as isize) >> 3;
    let packed = ((steps as u32) << 1) | 1;
    if ((packed as i32) >> 1) as isize == steps {
        packed
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
    // Past 2^31 - 2 distinct far locations (never, in practice) the bookmark points at the last one.
    (index.min((1 << 31) - 2) + 1) << 1
}

/// Unpacks what [`pack`] made; `None` for 0.
fn unpack(packed: u32) -> Option<&'static Location<'static>> {
    if packed & 1 == 1 {
        let steps = ((packed as i32) >> 1) as isize;
        let address = anchor().wrapping_add((steps * 8) as usize);
        // Takes up the provenance `pack` exposed.
        let pointer = address as *const Location<'static>;
        // SAFETY: `pack` made `steps` from the address of a `&'static Location` whose provenance it exposed, so
        // `pointer` is that reference again, valid for the life of the program.
        return Some(unsafe { &*pointer });
    }
    let index = (packed >> 1).checked_sub(1)?;
    let far = FAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    far.as_ref()?.0.get(index as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xray::Op;

    #[test]
    fn stats_count_polls_and_keep_the_bookmark_in_16_bytes() {
        assert_eq!(std::mem::size_of::<TaskStats>(), 16);
        let stats = TaskStats::default();
        assert_eq!(stats.last_ran_ms(), None);
        stats.start_poll(1);
        let here = Location::caller();
        stats.set_bookmark(here, Label::plain(Op::YieldNow));
        assert!(stats.has_bookmark());
        let (location, label) = stats.bookmark().unwrap();
        assert!(std::ptr::eq(location, here), "the same location comes back");
        assert_eq!(label, Label::plain(Op::YieldNow));
        assert_eq!(
            stats
                .start_poll_resuming(6)
                .map(|(location, _)| location.line()),
            Some(here.line()),
            "a poll resumes from the bookmark"
        );
        assert_eq!(stats.bookmark(), None, "and forgets it");
        assert_eq!((stats.polls(), stats.last_ran_ms()), (2, Some(5)));
    }

    #[test]
    fn far_locations_are_kept_in_a_table() {
        let leaked: &'static Location<'static> = Box::leak(Box::new(*Location::caller()));
        let packed = pack_far(leaked);
        assert_eq!(packed & 1, 0, "even: an index");
        assert!(std::ptr::eq(unpack(packed).unwrap(), leaked));
        assert_eq!(pack_far(leaked), packed, "one entry per location");
        assert_eq!(unpack(0), None);
    }
}
