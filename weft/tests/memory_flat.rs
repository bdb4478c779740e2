//! Memory that must stay flat, counted by a global allocator (this file holds one test, so no other test allocates
//! meanwhile): a `TaskGroup` holds O(1) memory per finished-and-joined child (the bytes alive after 100,000
//! children were spawned and joined are the bytes alive after the first 8,000), and a long-lived
//! `CancellationToken` keeps nothing of the children that were made from it and dropped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use weft::sync::CancellationToken;
use weft::task::TaskGroup;

/// The system allocator, counting the bytes alive.
struct Counting;

/// Bytes allocated and not yet freed.
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout contract passes through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn groups_and_tokens_keep_no_memory_for_children_that_are_gone() {
    dropped_child_tokens_leave_their_parent_as_it_was();
    let runtime = weft::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut group = TaskGroup::new();
        let round = |group: &mut TaskGroup<Vec<u8>>, children: usize| {
            for _ in 0..children {
                group.spawn(async { vec![0u8; 64] });
            }
        };
        // Warm up: the loop's arena, queues and the group's slots reach their size.
        for _ in 0..1_000 {
            round(&mut group, 8);
            while let Some(result) = group.join_next().await {
                assert_eq!(result.unwrap().len(), 64);
            }
        }
        let warm = LIVE.load(Ordering::Relaxed);
        for _ in 0..100_000 / 8 {
            round(&mut group, 8);
            while let Some(result) = group.join_next().await {
                assert_eq!(result.unwrap().len(), 64);
            }
        }
        let after = LIVE.load(Ordering::Relaxed);
        assert!(
            after - warm < 4096,
            "{} bytes more alive after 100,000 children than after warm-up",
            after - warm
        );
        assert_eq!(group.capacity(), 8);
    });
}

/// 100,000 child tokens (and grandchildren) made and dropped leave the parent's memory as it was.
fn dropped_child_tokens_leave_their_parent_as_it_was() {
    let root = CancellationToken::new();
    let kept = root.child_token();
    for _ in 0..1_000 {
        drop(root.child_token().child_token());
    }
    let warm = LIVE.load(Ordering::Relaxed);
    for _ in 0..100_000 {
        let child = root.child_token();
        let grandchild = child.child_token();
        drop(child); // the grandchild moves up to the root...
        drop(grandchild); // ...and leaves it
    }
    let after = LIVE.load(Ordering::Relaxed);
    assert!(
        after - warm < 1024,
        "{} bytes more alive after 100,000 child tokens",
        after - warm
    );
    root.cancel();
    assert!(kept.is_cancelled());
}
