//! The loop's provided-buffer ring: [`BUFFERS`] buffers of [`BUFFER_SIZE`] bytes that the kernel picks from for
//! each completion of a multishot `recv`. The loop copies a completion's bytes out at once and gives the buffer
//! back in the same turn, so the ring never runs dry for long and an idle connection holds no buffer at all.
//!
//! # Invariants
//!
//! 1. The ring's entries and buffers are allocated once and freed only when the ring is dropped, which happens
//!    after the io_uring instance is closed (the backend declares its ring first), so the kernel never writes
//!    into freed memory.
//! 2. A buffer is read only between the completion that names it and [`BufRing::give_back`]; the kernel owns it
//!    the rest of the time. Rust never holds a reference to a buffer the kernel may write.
//! 3. Entries are written before the tail that publishes them, with a `Release` store the kernel pairs with.
//!
//! References: io_uring_register_buf_ring(3), io_uring_setup_buf_ring(3), io_uring_prep_recv_multishot(3).

#![allow(unsafe_code)] // memory shared with the kernel: each block says which invariant makes it sound

use std::alloc::{self, Layout};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

/// Buffers in the ring (a power of two).
pub(crate) const BUFFERS: u16 = 512;

/// Bytes per buffer.
pub(crate) const BUFFER_SIZE: usize = 4096;

/// The buffer group id of the ring.
pub(crate) const GROUP: u16 = 0;

/// The ring: entries shared with the kernel and the buffers they name.
pub(crate) struct BufRing {
    /// The entries (page-aligned, [`BUFFERS`] of them; invariant 1).
    entries: *mut BufRingEntry,
    /// The buffers, id `i` at `i * BUFFER_SIZE` (invariant 1).
    buffers: *mut u8,
    /// The tail as published to the kernel.
    tail: u16,
}

impl std::fmt::Debug for BufRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufRing")
            .field("tail", &self.tail)
            .finish_non_exhaustive()
    }
}

/// The layout of the entries.
fn entries_layout() -> Layout {
    Layout::from_size_align(
        usize::from(BUFFERS) * std::mem::size_of::<BufRingEntry>(),
        4096,
    )
    .expect("a valid layout")
}

/// The layout of the buffers.
fn buffers_layout() -> Layout {
    Layout::from_size_align(usize::from(BUFFERS) * BUFFER_SIZE, 64).expect("a valid layout")
}

impl BufRing {
    /// Allocates the ring, hands every buffer to the kernel and registers it with `ring` as group [`GROUP`].
    pub(crate) fn new(ring: &IoUring) -> io::Result<BufRing> {
        // SAFETY: the layout has a non-zero size.
        let entries = unsafe { alloc::alloc_zeroed(entries_layout()) }.cast::<BufRingEntry>();
        // SAFETY: the layout has a non-zero size; the bytes are only read after the kernel wrote them
        // (invariant 2).
        let buffers = unsafe { alloc::alloc(buffers_layout()) };
        if entries.is_null() || buffers.is_null() {
            alloc::handle_alloc_error(entries_layout());
        }
        let mut buf_ring = BufRing {
            entries,
            buffers,
            tail: 0,
        };
        for bid in 0..BUFFERS {
            buf_ring.stage(bid);
        }
        buf_ring.publish();
        // SAFETY: invariant 1: the entries are page-aligned, BUFFERS long, and live (with every buffer they
        // name) until this value drops, after the ring closes.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries as u64, BUFFERS, GROUP, 0)?
        };
        Ok(buf_ring)
    }

    /// The first `len` bytes of buffer `bid`, just named by a completion; give it back when done with them
    /// (the borrow ends before [`give_back`](Self::give_back) can be called).
    pub(crate) fn bytes(&self, bid: u16, len: usize) -> &[u8] {
        let len = len.min(BUFFER_SIZE);
        let bid = bid & (BUFFERS - 1);
        // SAFETY: invariant 2: the completion handed buffer `bid` to us; the kernel does not touch it until it
        // is given back, which needs `&mut self`, so this borrow has ended by then. It lies inside the
        // allocation (bid < BUFFERS, len <= BUFFER_SIZE).
        unsafe { std::slice::from_raw_parts(self.buffers.add(usize::from(bid) * BUFFER_SIZE), len) }
    }

    /// Gives buffer `bid` back to the kernel (a completion named it and its bytes are no longer needed).
    pub(crate) fn give_back(&mut self, bid: u16) {
        self.stage(bid & (BUFFERS - 1));
        self.publish();
    }

    /// Writes the entry for buffer `bid` at the tail (not yet visible to the kernel).
    fn stage(&mut self, bid: u16) {
        let index = usize::from(self.tail & (BUFFERS - 1));
        // SAFETY: index < BUFFERS: inside the entries' allocation. The kernel reads entries only up to the
        // published tail, which this one is not yet (invariant 3), so writing it races with nothing.
        let entry = unsafe { &mut *self.entries.add(index) };
        // SAFETY: `bid < BUFFERS`: inside the buffers' allocation.
        let address = unsafe { self.buffers.add(usize::from(bid) * BUFFER_SIZE) };
        entry.set_addr(address as u64);
        entry.set_len(BUFFER_SIZE as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the staged entries (invariant 3).
    fn publish(&self) {
        // SAFETY: the tail is the u16 in the first entry's reserved field; the kernel reads it atomically, and
        // the entries were written before this Release store.
        let tail = unsafe { &*BufRingEntry::tail(self.entries).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: invariant 1: the io_uring instance closed before this drop, so the kernel no longer uses
        // either allocation; both were made with these layouts.
        unsafe {
            alloc::dealloc(self.entries.cast(), entries_layout());
            alloc::dealloc(self.buffers, buffers_layout());
        }
    }
}
