//! [`WaitList`]: the FIFO queue of parked tasks behind every waiting primitive of [`crate::sync`].
//!
//! Waiters live in a slab (a `Vec` of slots with a free list), linked into a doubly linked FIFO by index, so
//! joining the back, leaving the front and leaving from the middle (a dropped future) are all O(1) and, once the
//! slab has grown to the peak number of waiters, allocation-free. The list lives inside its primitive's lock.
//!
//! # Invariants
//!
//! 1. **A slot belongs to the future that pushed it.** Only that future frees it, with [`WaitList::remove`];
//!    the side that wakes a waiter only *unlinks* it ([`WaitList::pop_front`]), leaving its slot and data in
//!    place for the future to read on its next poll. So a [`WaitKey`] never dangles and is never reused while
//!    its future holds it.
//! 2. **Unlinked means decided.** Whoever unlinks a waiter first writes into its data what was decided for it (a
//!    permit granted, a channel closed, a notification) and takes its waker to wake once the lock is released.

#![forbid(unsafe_code)]

use std::fmt;
use std::task::Waker;

/// No slot: the end of a chain.
const NIL: u32 = u32::MAX;

/// Names one waiter's slot in a [`WaitList`] (rule 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitKey(u32);

/// A FIFO of waiters, each with a waker and data of type `T`.
pub(crate) struct WaitList<T> {
    /// The slab.
    slots: Vec<Slot<T>>,
    /// First vacant slot, or `NIL`.
    free: u32,
    /// Oldest queued waiter, or `NIL`.
    head: u32,
    /// Newest queued waiter, or `NIL`.
    tail: u32,
    /// How many waiters are queued (linked).
    queued: usize,
}

/// One slot of the slab.
enum Slot<T> {
    /// Free; links to the next free slot.
    Vacant {
        /// Next free slot, or `NIL`.
        next_free: u32,
    },
    /// Held by a future (rule 1), queued or already decided.
    Occupied(Waiter<T>),
}

/// A waiter.
struct Waiter<T> {
    /// Previous (older) queued waiter, or `NIL`; meaningless once unlinked.
    prev: u32,
    /// Next (newer) queued waiter, or `NIL`; meaningless once unlinked.
    next: u32,
    /// Linked into the FIFO.
    queued: bool,
    /// Whom to wake; taken when the waiter is unlinked.
    waker: Option<Waker>,
    /// What the primitive records for this waiter.
    data: T,
}

impl<T> WaitList<T> {
    /// An empty list; allocates nothing.
    pub(crate) const fn new() -> WaitList<T> {
        WaitList {
            slots: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
            queued: 0,
        }
    }

    /// No waiter is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// How many waiters are queued.
    pub(crate) fn len(&self) -> usize {
        self.queued
    }

    /// Queues a new waiter at the back.
    pub(crate) fn push_back(&mut self, data: T, waker: &Waker) -> WaitKey {
        let waiter = Waiter {
            prev: self.tail,
            next: NIL,
            queued: true,
            waker: Some(waker.clone()),
            data,
        };
        let index = if self.free != NIL {
            let index = self.free;
            self.free = match self.slots[index as usize] {
                Slot::Vacant { next_free } => next_free,
                Slot::Occupied(_) => {
                    unreachable!("wait list free chain points at an occupied slot")
                }
            };
            self.slots[index as usize] = Slot::Occupied(waiter);
            index
        } else {
            let index = u32::try_from(self.slots.len())
                .ok()
                .filter(|&index| index != NIL)
                .expect("more than 4 billion tasks waiting on one primitive");
            self.slots.push(Slot::Occupied(waiter));
            index
        };
        if self.tail == NIL {
            self.head = index;
        } else {
            self.waiter_mut(self.tail).next = index;
        }
        self.tail = index;
        self.queued += 1;
        WaitKey(index)
    }

    /// The waiter is still queued (nothing was decided for it yet).
    pub(crate) fn is_queued(&self, key: WaitKey) -> bool {
        self.waiter(key.0).queued
    }

    /// The waiter's data.
    #[cfg(test)]
    pub(crate) fn data(&self, key: WaitKey) -> &T {
        &self.waiter(key.0).data
    }

    /// Stores `waker` as the waiter's, unless the stored one would wake the same task; no-op once unlinked.
    pub(crate) fn register(&mut self, key: WaitKey, waker: &Waker) {
        let waiter = self.waiter_mut(key.0);
        match &waiter.waker {
            Some(stored) if stored.will_wake(waker) => {}
            _ if !waiter.queued => {}
            _ => waiter.waker = Some(waker.clone()),
        }
    }

    /// The oldest queued waiter's data.
    pub(crate) fn front(&self) -> Option<&T> {
        (self.head != NIL).then(|| &self.waiter(self.head).data)
    }

    /// Unlinks the oldest queued waiter after `decide` has written its fate into its data (rule 2), and returns
    /// its waker for the caller to wake after unlocking.
    pub(crate) fn pop_front(&mut self, decide: impl FnOnce(&mut T)) -> Option<Waker> {
        if self.head == NIL {
            return None;
        }
        let index = self.head;
        let waiter = self.waiter_mut(index);
        decide(&mut waiter.data);
        let waker = waiter.waker.take();
        self.unlink(index);
        waker
    }

    /// Unlinks every queued waiter, oldest first, deciding each with `decide` and adding its waker to `wakers`.
    pub(crate) fn drain(&mut self, mut decide: impl FnMut(&mut T), wakers: &mut WakeBatch) {
        while self.head != NIL {
            wakers.push(self.pop_front(&mut decide));
        }
    }

    /// Frees the waiter's slot (rule 1), unlinking it first if still queued; returns its data.
    pub(crate) fn remove(&mut self, key: WaitKey) -> T {
        if self.waiter(key.0).queued {
            self.unlink(key.0);
        }
        let slot = std::mem::replace(
            &mut self.slots[key.0 as usize],
            Slot::Vacant {
                next_free: self.free,
            },
        );
        self.free = key.0;
        match slot {
            Slot::Occupied(waiter) => waiter.data,
            Slot::Vacant { .. } => unreachable!("wait key names a vacant slot"),
        }
    }

    /// Takes a queued waiter out of the FIFO; its slot stays occupied.
    fn unlink(&mut self, index: u32) {
        let waiter = self.waiter_mut(index);
        debug_assert!(waiter.queued, "unlinking a waiter that is not queued");
        waiter.queued = false;
        let (prev, next) = (waiter.prev, waiter.next);
        if prev == NIL {
            self.head = next;
        } else {
            self.waiter_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.waiter_mut(next).prev = prev;
        }
        self.queued -= 1;
    }

    /// The waiter in an occupied slot.
    fn waiter(&self, index: u32) -> &Waiter<T> {
        match &self.slots[index as usize] {
            Slot::Occupied(waiter) => waiter,
            Slot::Vacant { .. } => unreachable!("wait key names a vacant slot"),
        }
    }

    /// The waiter in an occupied slot, mutably.
    fn waiter_mut(&mut self, index: u32) -> &mut Waiter<T> {
        match &mut self.slots[index as usize] {
            Slot::Occupied(waiter) => waiter,
            Slot::Vacant { .. } => unreachable!("wait key names a vacant slot"),
        }
    }
}

impl<T> fmt::Debug for WaitList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitList")
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

/// Wakers collected under a lock, to wake once it is released (a waker may run arbitrary code, and waking a
/// task on another loop costs a syscall: neither belongs inside a lock). Holds one waker without allocating.
#[derive(Debug, Default)]
pub(crate) struct WakeBatch {
    /// The first waker.
    first: Option<Waker>,
    /// Any further wakers.
    rest: Vec<Waker>,
}

impl WakeBatch {
    /// An empty batch.
    pub(crate) const fn new() -> WakeBatch {
        WakeBatch {
            first: None,
            rest: Vec::new(),
        }
    }

    /// Adds a waker, if any.
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        let Some(waker) = waker else { return };
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    /// Wakes them all, oldest first.
    pub(crate) fn wake_all(self) {
        if let Some(first) = self.first {
            first.wake();
        }
        for waker in self.rest {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    fn order(list: &mut WaitList<u32>) -> Vec<u32> {
        let mut seen = Vec::new();
        while list.front().is_some() {
            list.pop_front(|data| seen.push(*data));
        }
        seen
    }

    #[test]
    fn fifo_with_removal_from_the_middle_and_slot_reuse() {
        let waker = &Waker::from(Arc::new(Noop));
        let mut list = WaitList::new();
        let keys: Vec<WaitKey> = (0..5).map(|i| list.push_back(i, waker)).collect();
        assert_eq!(list.remove(keys[2]), 2);
        assert_eq!(list.remove(keys[0]), 0);
        assert_eq!(list.remove(keys[4]), 4);
        let again = list.push_back(9, waker);
        assert_eq!(
            again, keys[4],
            "the most recently freed slot is reused first"
        );
        assert_eq!(list.len(), 3);
        assert_eq!(order(&mut list), [1, 3, 9]);
        assert!(list.is_empty());
        // Popped waiters keep their slots until their futures remove them (rule 1).
        assert!(!list.is_queued(keys[1]));
        assert_eq!(*list.data(keys[1]), 1);
        list.remove(keys[1]);
        list.remove(keys[3]);
        list.remove(again);
        assert_eq!(list.push_back(7, waker), again);
    }
}
