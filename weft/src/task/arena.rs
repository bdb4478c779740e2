//! A per-loop allocator for task cells.
//!
//! Cells of tasks spawned on a loop's own thread are carved from 64 KiB pages in size classes of 8 bytes, so a
//! cell costs exactly its size (no allocator header, no rounding to 16) and spawning takes a pointer off a free
//! list instead of calling `malloc`. A cell freed on the loop's thread goes back on the class's local free list; one
//! freed on another thread (its last waker dropped there) goes on a mutexed remote list that the loop drains when
//! its local list runs dry. Pages live as long as the loop's `Shared`, which task rule 7 keeps alive until the last
//! cell is freed; they are returned when it drops.
//!
//! # Invariants
//!
//! 1. `local` and `pages` are touched only on the owner loop's thread (callers check the thread-local context), or
//!    in `Drop`, which has exclusive access.
//! 2. A pointer on a free list (local or remote) is a slot of this arena's class, not in use by any cell.

use std::alloc::{self, Layout};
use std::cell::UnsafeCell;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Bytes per page.
const PAGE: usize = 64 * 1024;
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
    /// Next unused byte of the current page.
    bump: usize,
    /// End of the current page.
    end: usize,
}

/// One size class.
struct Class {
    /// Loop thread only (invariant 1).
    local: UnsafeCell<Local>,
    /// Slots freed on other threads.
    remote: Mutex<Vec<usize>>,
    /// Whether `remote` may hold slots.
    remote_pending: AtomicBool,
}

/// The task-cell allocator of one loop.
pub(crate) struct Arena {
    /// The classes, by `size / GRAIN - 1`.
    classes: Box<[Class]>,
    /// Every page, for `Drop` (loop thread only, invariant 1).
    pages: UnsafeCell<Vec<NonNull<u8>>>,
}

// SAFETY: the thread-unsafe parts (`local`, `pages`) are only touched on the owner loop's thread (invariant 1);
// the rest is a Mutex and an atomic.
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

/// The page layout.
fn page_layout() -> Layout {
    Layout::from_size_align(PAGE, 16).expect("a valid page layout")
}

impl Arena {
    /// An empty arena (pages are taken on demand).
    pub(crate) fn new() -> Arena {
        let classes = (0..CLASSES)
            .map(|_| Class {
                local: UnsafeCell::new(Local {
                    free: ptr::null_mut(),
                    bump: 0,
                    end: 0,
                }),
                remote: Mutex::new(Vec::new()),
                remote_pending: AtomicBool::new(false),
            })
            .collect();
        Arena {
            classes,
            pages: UnsafeCell::new(Vec::new()),
        }
    }

    /// Whether the arena serves cells of `layout`.
    pub(crate) fn serves(layout: Layout) -> bool {
        class_of(layout).is_some()
    }

    /// A slot for a cell of `layout` (which [`serves`](Self::serves) accepts).
    ///
    /// # Safety
    /// Called on the owner loop's thread (invariant 1).
    pub(crate) unsafe fn allocate(&self, layout: Layout) -> NonNull<u8> {
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
                let slot = slot as *mut FreeSlot;
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
        if local.bump + size > local.end {
            // SAFETY: the page layout has a non-zero size.
            let page = unsafe { alloc::alloc(page_layout()) };
            let Some(page) = NonNull::new(page) else {
                alloc::handle_alloc_error(page_layout())
            };
            // SAFETY: invariant 1, as above.
            unsafe { (*self.pages.get()).push(page) };
            local.bump = page.as_ptr() as usize;
            local.end = local.bump + PAGE;
        }
        let slot = local.bump as *mut u8;
        local.bump += size;
        // SAFETY: the slot lies inside a page we just checked has room.
        unsafe { NonNull::new_unchecked(slot) }
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
                .push(slot.as_ptr() as usize);
            class.remote_pending.store(true, Ordering::Release);
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        for page in self.pages.get_mut().drain(..) {
            // SAFETY: each page was allocated with `page_layout` and no cell lives on (the arena's owner is dropped
            // only after the last cell is freed, task rule 7).
            unsafe { alloc::dealloc(page.as_ptr(), page_layout()) };
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
            let a = arena.allocate(layout);
            let b = arena.allocate(layout);
            assert_eq!(
                b.as_ptr() as usize - a.as_ptr() as usize,
                72,
                "exact-size slots, back to back"
            );
            arena.free(a, layout, true);
            assert_eq!(arena.allocate(layout), a, "a local free is reused first");
            arena.free(b, layout, false);
            assert_eq!(
                arena.allocate(layout),
                b,
                "a remote free is reused once the local list is empty"
            );
            // Fill more than one page.
            let many: Vec<_> = (0..2000).map(|_| arena.allocate(layout)).collect();
            let mut sorted: Vec<usize> = many.iter().map(|slot| slot.as_ptr() as usize).collect();
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
