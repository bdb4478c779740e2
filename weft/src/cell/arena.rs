//! A per-loop allocator for task cells.
//!
//! Cells of tasks spawned on a loop's own thread are carved from 64 KiB pages in size classes of 8 bytes, so a
//! cell costs exactly its size (no allocator header, no rounding to 16) and spawning takes a pointer off a free
//! list instead of calling `malloc`. A cell freed on the loop's thread goes back on the class's local free list; one
//! freed on another thread (its last waker dropped there) goes on a mutexed remote list that the loop drains when
//! its local list runs dry. Pages live as long as the loop's `Shared`, which task rule 7 keeps alive until the last
//! cell is freed; they are returned when it drops.
//!
//! Pages are aligned to their size and start with a header naming the owner loop, so a cell finds its loop from
//! its own address ([`Arena::owner_of`]) instead of keeping an 8-byte pointer in every task header.
//!
//! Built with `--cfg weft_no_arena`, weft takes no cell from here: each comes from the global allocator, so that
//! ASAN, valgrind and Miri see a task freed too early as a use after free, not as a slot still inside a page.
//!
//! # Invariants
//!
//! 1. `local` and `pages` are touched only on the owner loop's thread (callers check the thread-local context), or
//!    in `Drop`, which has exclusive access.
//! 2. A pointer on a free list (local or remote) is a slot of this arena's class, not in use by any cell.
//! 3. Every page starts with a [`PageHeader`] written when the page was taken and never changed; every slot lies
//!    in a page, past its header.

use std::alloc::{self, Layout};
use std::cell::UnsafeCell;
use std::ptr::{self, NonNull};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Bytes per page, which is also the pages' alignment.
const PAGE: usize = 64 * 1024;

/// The start of every page (invariant 3).
#[repr(C)]
struct PageHeader {
    /// The loop whose arena this is.
    owner: *const (),
}

/// Bytes taken by the page header (a multiple of `GRAIN`, so slots stay aligned).
const PAGE_HEADER: usize = std::mem::size_of::<PageHeader>();
/// The largest cell the arena serves; larger ones use the global allocator.
const MAX_CELL: usize = 512;
/// Size classes are multiples of this, which is also the most alignment the arena gives.
const GRAIN: usize = 8;
/// Number of classes.
const CLASSES: usize = MAX_CELL / GRAIN;

/// A free slot: its first word links to the next.
struct FreeSlot {
    /// The next free slot, or null.
    next: *mut FreeSlot,
}

/// The loop-thread part of a class.
struct Local {
    /// Free slots (intrusive list).
    free: *mut FreeSlot,
    /// The current page (null before the first), the pointer every slot in it is derived from.
    page: *mut u8,
    /// Offset of the next unused byte in the current page (`PAGE`: full, or no page yet).
    bump: usize,
}

/// One size class.
struct Class {
    /// Loop thread only (invariant 1).
    local: UnsafeCell<Local>,
    /// Slots freed on other threads, kept as pointers so that they keep their page's provenance.
    remote: Mutex<Vec<NonNull<FreeSlot>>>,
    /// Whether `remote` may hold slots.
    remote_pending: AtomicBool,
}

/// The task-cell allocator of one loop.
pub(crate) struct Arena {
    /// The classes, by `size / GRAIN - 1`.
    classes: Box<[Class]>,
    /// Where pages come from (loop thread only, invariant 1).
    pages: UnsafeCell<Pages>,
}

/// Pages are taken from the global allocator in chunks of this many: an aligned allocation costs the allocator
/// some slack (glibc touches a 4 KiB page in front of it), paid once per chunk instead of once per page.
const PAGES_PER_CHUNK: usize = 16;

/// The chunks pages are carved from.
#[derive(Default)]
struct Pages {
    /// Every chunk, for `Drop`.
    chunks: Vec<NonNull<u8>>,
    /// Pages of the newest chunk handed out so far.
    used: usize,
}

/// The chunk layout: `PAGES_PER_CHUNK` pages, aligned to a page.
fn chunk_layout() -> Layout {
    Layout::from_size_align(PAGE * PAGES_PER_CHUNK, PAGE).expect("a valid chunk layout")
}

impl Pages {
    /// A fresh page, aligned to `PAGE`.
    fn take(&mut self) -> NonNull<u8> {
        if self.chunks.is_empty() || self.used == PAGES_PER_CHUNK {
            // SAFETY: the chunk layout has a non-zero size.
            let chunk = unsafe { alloc::alloc(chunk_layout()) };
            let Some(chunk) = NonNull::new(chunk) else {
                alloc::handle_alloc_error(chunk_layout())
            };
            self.chunks.push(chunk);
            self.used = 0;
        }
        let chunk = *self.chunks.last().expect("a chunk was just ensured");
        // SAFETY: `used < PAGES_PER_CHUNK`, so the page lies inside the chunk.
        let page = unsafe { chunk.as_ptr().add(self.used * PAGE) };
        self.used += 1;
        // SAFETY: derived from a non-null chunk pointer, in bounds.
        unsafe { NonNull::new_unchecked(page) }
    }
}

// SAFETY: the thread-unsafe parts (`local`, `pages`) are only touched on the owner loop's thread (invariant 1);
// the rest is a Mutex (whose pointers are free slots of this arena, invariant 2, not shared with anyone) and an
// atomic.
unsafe impl Sync for Arena {}
// SAFETY: the raw pointers name memory owned by the arena itself; moving the arena moves that ownership.
unsafe impl Send for Arena {}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena").finish_non_exhaustive()
    }
}

/// The class index for `layout`, if the arena serves it.
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > GRAIN || layout.size() == 0 || layout.size() > MAX_CELL {
        return None;
    }
    Some(layout.size().div_ceil(GRAIN) - 1)
}

impl Arena {
    /// An empty arena (pages are taken on demand).
    pub(crate) fn new() -> Arena {
        let classes = (0..CLASSES)
            .map(|_| Class {
                local: UnsafeCell::new(Local {
                    free: ptr::null_mut(),
                    page: ptr::null_mut(),
                    bump: PAGE,
                }),
                remote: Mutex::new(Vec::new()),
                remote_pending: AtomicBool::new(false),
            })
            .collect();
        Arena {
            classes,
            pages: UnsafeCell::new(Pages::default()),
        }
    }

    /// Whether the arena serves cells of `layout`.
    pub(crate) fn serves(layout: Layout) -> bool {
        class_of(layout).is_some()
    }

    /// A slot for a cell of `layout` (which [`serves`](Self::serves) accepts). `owner` is the loop this arena
    /// belongs to, recorded in new pages for [`owner_of`](Self::owner_of).
    ///
    /// # Safety
    /// Called on the owner loop's thread (invariant 1).
    pub(crate) unsafe fn allocate(&self, layout: Layout, owner: *const ()) -> NonNull<u8> {
        let index = class_of(layout).expect("checked by Arena::serves");
        let class = &self.classes[index];
        // SAFETY: invariant 1: we are on the owner loop's thread, the only one touching `local`.
        let local = unsafe { &mut *class.local.get() };
        if local.free.is_null() && class.remote_pending.load(Ordering::Acquire) {
            class.remote_pending.store(false, Ordering::Release);
            let remote = std::mem::take(
                &mut *class
                    .remote
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            );
            for slot in remote {
                let slot = slot.as_ptr();
                // SAFETY: invariant 2: a freed slot of this class, ours to link.
                unsafe { slot.write(FreeSlot { next: local.free }) };
                local.free = slot;
            }
        }
        if let Some(slot) = NonNull::new(local.free) {
            // SAFETY: invariant 2: the head of the free list is a free slot whose first word is its link.
            local.free = unsafe { slot.as_ref().next };
            return slot.cast();
        }
        let size = (index + 1) * GRAIN;
        if local.bump + size > PAGE {
            // SAFETY: invariant 1, as above.
            let page = unsafe { (*self.pages.get()).take() };
            // SAFETY: the page is fresh, aligned and large enough for its header (invariant 3).
            unsafe {
                page.as_ptr()
                    .cast::<PageHeader>()
                    .write(PageHeader { owner })
            };
            local.page = page.as_ptr();
            local.bump = PAGE_HEADER;
        }
        // Derived from the page's pointer, the slot keeps the page's provenance, so `owner_of` may step back to
        // the page header.
        // SAFETY: the slot lies inside the current page, past its header, and we just checked it has room.
        let slot = unsafe { local.page.add(local.bump) };
        local.bump += size;
        // SAFETY: derived from a non-null page pointer with an in-bounds offset.
        unsafe { NonNull::new_unchecked(slot) }
    }

    /// The owner recorded in the page of `slot`.
    ///
    /// # Safety
    /// `slot` came from [`allocate`](Self::allocate) of a live arena and is derived from that allocation (its
    /// provenance covers the page).
    pub(crate) unsafe fn owner_of(slot: NonNull<u8>) -> *const () {
        // The page's start, derived from the slot so that it keeps the chunk's provenance.
        let page = slot.as_ptr().map_addr(|address| address & !(PAGE - 1));
        // SAFETY: pages are PAGE-aligned (chunks are, and pages are whole multiples into them) and start with their
        // header (invariant 3); the page's start lies in the same chunk as the slot.
        unsafe { page.cast::<PageHeader>().read().owner }
    }

    /// Returns a slot. `on_owner_thread` says whether the caller is the owner loop's thread.
    ///
    /// # Safety
    /// `slot` came from [`allocate`](Self::allocate) with the same `layout` and is no longer used; if
    /// `on_owner_thread`, the caller is the owner loop's thread.
    pub(crate) unsafe fn free(&self, slot: NonNull<u8>, layout: Layout, on_owner_thread: bool) {
        let index = class_of(layout).expect("allocated by the arena");
        let class = &self.classes[index];
        if on_owner_thread {
            // SAFETY: invariant 1 (the caller is the owner loop's thread).
            let local = unsafe { &mut *class.local.get() };
            let slot = slot.cast::<FreeSlot>().as_ptr();
            // SAFETY: the slot is ours again and at least 8 bytes, 8-aligned (invariant 2 from now on).
            unsafe { slot.write(FreeSlot { next: local.free }) };
            local.free = slot;
        } else {
            class
                .remote
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(slot.cast());
            class.remote_pending.store(true, Ordering::Release);
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        for chunk in self.pages.get_mut().chunks.drain(..) {
            // SAFETY: each chunk was allocated with `chunk_layout` and no cell lives on (the arena's owner is
            // dropped only after the last cell is freed, task rule 7).
            unsafe { alloc::dealloc(chunk.as_ptr(), chunk_layout()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_slots_are_reused_locally_and_from_other_threads() {
        let arena = Arena::new();
        let layout = Layout::from_size_align(72, 8).unwrap();
        assert!(Arena::serves(layout));
        assert!(!Arena::serves(Layout::from_size_align(1024, 8).unwrap()));
        assert!(!Arena::serves(Layout::from_size_align(64, 32).unwrap()));
        // SAFETY: this test's thread plays the owner loop's thread throughout.
        unsafe {
            let a = arena.allocate(layout, ptr::null());
            let b = arena.allocate(layout, ptr::null());
            assert_eq!(
                b.as_ptr().addr() - a.as_ptr().addr(),
                72,
                "exact-size slots, back to back"
            );
            assert!(
                Arena::owner_of(a).is_null(),
                "the owner recorded in the page"
            );
            arena.free(a, layout, true);
            assert_eq!(
                arena.allocate(layout, ptr::null()),
                a,
                "a local free is reused first"
            );
            arena.free(b, layout, false);
            assert_eq!(
                arena.allocate(layout, ptr::null()),
                b,
                "a remote free is reused once the local list is empty"
            );
            // Fill more than one page.
            let many: Vec<_> = (0..2000)
                .map(|_| arena.allocate(layout, ptr::null()))
                .collect();
            let mut sorted: Vec<usize> = many.iter().map(|slot| slot.as_ptr().addr()).collect();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 2000, "no slot handed out twice");
            for slot in many {
                arena.free(slot, layout, true);
            }
            arena.free(a, layout, true);
            arena.free(b, layout, true);
        }
    }
}
