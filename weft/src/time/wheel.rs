//! A hierarchical timer wheel: 11 levels of 64 slots at 1 ms resolution, enough for any `u64` deadline.
//!
//! Level `L` slot `s` holds timers whose deadline lies in the `s`-th span of `64^L` ms within the current
//! `64^(L+1)` ms block. A timer goes to the level of the highest 6-bit digit in which its deadline differs from
//! the wheel's current time, so nearer timers sit in finer levels. When time reaches a slot of a coarse level,
//! its timers cascade into finer ones; a level-0 slot holds timers of exactly one millisecond, and fires.
//! Insertion, removal and firing are O(1); finding the next deadline is O(levels) with a bitmap per level.
//!
//! Entries live in a slab inside the wheel; a [`Sleep`](super::Sleep) holds its entry's key. No allocation per
//! timer beyond the slab's amortised growth.
//!
//! # Invariants
//!
//! 1. Every linked entry has `deadline > elapsed` and sits at `level_for(elapsed, deadline)` as computed when
//!    it was last linked; its slot lies strictly after `elapsed`'s slot at that level, within `elapsed`'s
//!    block of the next level up. Hence lower levels always hold earlier deadlines than higher ones.
//! 2. An entry is *linked* (in a slot list), *fired* (deadline reached, waker taken, waiting for its owner to
//!    notice), or *vacant* (on the free list). Only the owner removes a linked or fired entry.
//!
//! References: Varghese & Lauck, "Hashed and Hierarchical Timing Wheels" (SOSP 1987); the Linux kernel's
//! timer wheel.

#![forbid(unsafe_code)]

use std::task::Waker;

/// Bits of a slot index.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Levels: 11 × 6 bits covers every `u64` millisecond.
const LEVELS: usize = 11;
/// No entry.
const NIL: u32 = u32::MAX;

/// Where an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In the list of this level's slot for its deadline.
    Linked(u8),
    /// Deadline reached; waiting for its owner to remove it.
    Fired,
    /// On the free list.
    Vacant,
}

/// One timer.
#[derive(Debug)]
struct Entry {
    /// Milliseconds since the clock's start.
    deadline: u64,
    /// Whom to wake.
    waker: Option<Waker>,
    /// Previous entry in the slot list.
    prev: u32,
    /// Next entry in the slot list, or the next vacant entry.
    next: u32,
    /// Linked, fired or vacant.
    place: Place,
}

/// One level: a bitmap of non-empty slots and each slot's list head.
#[derive(Debug)]
struct Level {
    /// Bit `s` is set iff slot `s` is non-empty.
    occupied: u64,
    /// Head of each slot's list.
    heads: [u32; SLOTS],
}

/// The next slot to process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expiration {
    /// Its level.
    level: usize,
    /// Its index.
    slot: usize,
    /// When it starts, in ms.
    time: u64,
}

/// The timer wheel of one loop.
#[derive(Debug)]
pub(crate) struct Wheel {
    /// Every timer with a deadline at or before this has fired.
    elapsed: u64,
    /// The levels, finest first.
    levels: Box<[Level; LEVELS]>,
    /// The slab of entries.
    entries: Vec<Entry>,
    /// Head of the free list.
    free: u32,
    /// Linked entries.
    linked: usize,
    /// Entries that are not vacant (linked or fired).
    live: usize,
}

impl Default for Wheel {
    fn default() -> Wheel {
        Wheel::new()
    }
}

/// The level at which a timer due at `deadline` goes when the wheel's time is `elapsed` (`deadline > elapsed`).
fn level_for(elapsed: u64, deadline: u64) -> usize {
    let masked = (elapsed ^ deadline) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros();
    (significant / SLOT_BITS) as usize
}

/// The slot of `deadline` at `level`.
fn slot_for(deadline: u64, level: usize) -> usize {
    ((deadline >> (level as u32 * SLOT_BITS)) & (SLOTS as u64 - 1)) as usize
}

impl Wheel {
    /// An empty wheel at time 0.
    pub(crate) fn new() -> Wheel {
        let levels = Box::new(std::array::from_fn(|_| Level {
            occupied: 0,
            heads: [NIL; SLOTS],
        }));
        Wheel {
            elapsed: 0,
            levels,
            entries: Vec::new(),
            free: NIL,
            linked: 0,
            live: 0,
        }
    }

    /// No timer is waiting to fire.
    pub(crate) fn is_empty(&self) -> bool {
        self.linked == 0
    }

    /// Timers waiting to fire.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.linked
    }

    /// Adds a timer. If `deadline` has already passed on the wheel, the entry is created fired.
    pub(crate) fn insert(&mut self, deadline: u64, waker: Waker) -> u32 {
        let entry = Entry {
            deadline,
            waker: Some(waker),
            prev: NIL,
            next: NIL,
            place: Place::Fired,
        };
        let key = if self.free == NIL {
            let key =
                u32::try_from(self.entries.len()).expect("more than 4 billion timers on one loop");
            self.entries.push(entry);
            key
        } else {
            let key = self.free;
            self.free = self.entries[key as usize].next;
            self.entries[key as usize] = entry;
            key
        };
        self.live += 1;
        if deadline > self.elapsed {
            self.link(key);
        } else {
            self.entries[key as usize].waker = None;
        }
        key
    }

    /// Removes a timer, whether it fired or not (invariant 2: only its owner does this).
    pub(crate) fn remove(&mut self, key: u32) {
        let Some(entry) = self.entries.get(key as usize) else {
            return;
        };
        match entry.place {
            Place::Vacant => return,
            Place::Linked(_) => self.unlink(key),
            Place::Fired => {}
        }
        let entry = &mut self.entries[key as usize];
        entry.place = Place::Vacant;
        entry.waker = None;
        entry.next = self.free;
        self.free = key;
        self.live -= 1;
        if self.live == 0 && self.entries.len() > 1024 {
            // Give memory back after a burst of timers.
            self.entries = Vec::new();
            self.free = NIL;
        }
    }

    /// Whether the timer has fired.
    pub(crate) fn is_fired(&self, key: u32) -> bool {
        self.entries
            .get(key as usize)
            .is_some_and(|entry| entry.place == Place::Fired)
    }

    /// Replaces the timer's waker unless it would wake the same task.
    pub(crate) fn set_waker(&mut self, key: u32, waker: &Waker) {
        if let Some(entry) = self.entries.get_mut(key as usize) {
            match &entry.waker {
                Some(current) if current.will_wake(waker) => {}
                _ => entry.waker = Some(waker.clone()),
            }
        }
    }

    /// The earliest time at which something in the wheel needs attention (a deadline, or the start of a slot
    /// that must cascade), in ms.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.next_expiration().map(|expiration| expiration.time)
    }

    /// Advances the wheel to `now` (ms), pushing the wakers of every timer due by then onto `fired`.
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Waker>) {
        while let Some(expiration) = self.next_expiration() {
            if expiration.time > now {
                break;
            }
            self.elapsed = expiration.time;
            let level = &mut self.levels[expiration.level];
            let mut key = std::mem::replace(&mut level.heads[expiration.slot], NIL);
            level.occupied &= !(1 << expiration.slot);
            while key != NIL {
                let entry = &mut self.entries[key as usize];
                let next = entry.next;
                self.linked -= 1;
                entry.prev = NIL;
                entry.next = NIL;
                if entry.deadline <= self.elapsed {
                    entry.place = Place::Fired;
                    fired.extend(entry.waker.take());
                } else {
                    self.link(key);
                }
                key = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// The first non-empty slot (invariant 1: the lowest level with one holds the earliest deadline).
    fn next_expiration(&self) -> Option<Expiration> {
        if self.linked == 0 {
            return None;
        }
        for (index, level) in self.levels.iter().enumerate() {
            if level.occupied == 0 {
                continue;
            }
            let shift = index as u32 * SLOT_BITS;
            let current_slot = slot_for(self.elapsed, index);
            let ahead = level.occupied & (u64::MAX << current_slot);
            debug_assert_eq!(
                ahead, level.occupied,
                "timer slot behind the wheel's time (invariant 1)"
            );
            let slot = ahead.trailing_zeros() as usize;
            let block_bits = shift + SLOT_BITS;
            let block_start = if block_bits >= 64 {
                0
            } else {
                self.elapsed & !((1u64 << block_bits) - 1)
            };
            let time = block_start.saturating_add((slot as u64) << shift);
            return Some(Expiration {
                level: index,
                slot,
                time,
            });
        }
        None
    }

    /// Puts a timer in the slot list its deadline calls for (invariant 1).
    fn link(&mut self, key: u32) {
        let deadline = self.entries[key as usize].deadline;
        let level = level_for(self.elapsed, deadline);
        let slot = slot_for(deadline, level);
        let head = self.levels[level].heads[slot];
        if head != NIL {
            self.entries[head as usize].prev = key;
        }
        let entry = &mut self.entries[key as usize];
        entry.prev = NIL;
        entry.next = head;
        entry.place = Place::Linked(level as u8);
        self.levels[level].heads[slot] = key;
        self.levels[level].occupied |= 1 << slot;
        self.linked += 1;
    }

    /// Takes a timer out of its slot list.
    fn unlink(&mut self, key: u32) {
        let entry = &self.entries[key as usize];
        let Place::Linked(level) = entry.place else {
            return;
        };
        let (prev, next, level) = (entry.prev, entry.next, level as usize);
        let slot = slot_for(entry.deadline, level);
        if prev == NIL {
            self.levels[level].heads[slot] = next;
            if next == NIL {
                self.levels[level].occupied &= !(1 << slot);
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        let entry = &mut self.entries[key as usize];
        entry.prev = NIL;
        entry.next = NIL;
        entry.place = Place::Fired;
        self.linked -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    /// Counts its wakes.
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> Waker {
        Waker::from(Arc::new(Counter(AtomicUsize::new(0))))
    }

    /// Advances one millisecond at a time, returning the times at which each key fired.
    fn fire_times(wheel: &mut Wheel, keys: &[u32], until: u64) -> Vec<Option<u64>> {
        let mut times = vec![None; keys.len()];
        let mut fired = Vec::new();
        for now in wheel.elapsed..=until {
            wheel.advance(now, &mut fired);
            for (index, key) in keys.iter().enumerate() {
                if times[index].is_none() && wheel.is_fired(*key) {
                    times[index] = Some(now);
                }
            }
        }
        times
    }

    #[test]
    fn levels_follow_the_highest_differing_digit() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, u64::MAX), 10);
        assert_eq!(level_for(63, 64), 1);
    }

    #[test]
    fn timers_fire_exactly_at_their_deadline() {
        let mut wheel = Wheel::new();
        let deadlines = [1u64, 5, 63, 64, 65, 100, 4095, 4096, 4097, 70_000];
        let keys: Vec<u32> = deadlines
            .iter()
            .map(|&d| wheel.insert(d, waker()))
            .collect();
        let times = fire_times(&mut wheel, &keys, 70_001);
        for (deadline, time) in deadlines.iter().zip(times) {
            assert_eq!(time, Some(*deadline), "deadline {deadline}");
        }
        assert!(wheel.is_empty());
    }

    #[test]
    fn a_jump_fires_everything_due_and_nothing_later() {
        let mut wheel = Wheel::new();
        let early: Vec<u32> = (1..1000).map(|d| wheel.insert(d * 7, waker())).collect();
        let late = wheel.insert(1_000_000, waker());
        let mut fired = Vec::new();
        wheel.advance(7000, &mut fired);
        assert_eq!(fired.len(), early.len());
        assert!(early.iter().all(|&key| wheel.is_fired(key)));
        assert!(!wheel.is_fired(late));
        assert_eq!(wheel.next_deadline().map(|t| t <= 1_000_000), Some(true));
        wheel.advance(999_999, &mut fired);
        assert!(!wheel.is_fired(late));
        wheel.advance(1_000_000, &mut fired);
        assert!(wheel.is_fired(late));
    }

    #[test]
    fn removed_timers_never_fire_and_leave_the_wheel() {
        let mut wheel = Wheel::new();
        let keys: Vec<u32> = (0..10_000)
            .map(|i| wheel.insert(10 + i % 300, waker()))
            .collect();
        assert_eq!(wheel.len(), 10_000);
        for key in &keys {
            wheel.remove(*key);
        }
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_deadline(), None);
        let mut fired = Vec::new();
        wheel.advance(1000, &mut fired);
        assert!(fired.is_empty());
    }

    #[test]
    fn deadlines_years_away_fire() {
        let mut wheel = Wheel::new();
        let years = 5 * 365 * 24 * 3600 * 1000u64;
        let key = wheel.insert(years, waker());
        let far = wheel.insert(u64::MAX - 1, waker());
        let mut fired = Vec::new();
        let mut steps = 0;
        while !wheel.is_fired(key) {
            let next = wheel.next_deadline().expect("a pending timer");
            wheel.advance(next, &mut fired);
            steps += 1;
            assert!(steps < 100, "cascading takes a handful of steps");
        }
        assert_eq!(wheel.elapsed, years);
        assert!(!wheel.is_fired(far));
    }

    #[test]
    fn many_timers_on_one_deadline_fire_together() {
        let mut wheel = Wheel::new();
        let keys: Vec<u32> = (0..10_000).map(|_| wheel.insert(250, waker())).collect();
        let mut fired = Vec::new();
        wheel.advance(249, &mut fired);
        assert!(fired.is_empty());
        wheel.advance(250, &mut fired);
        assert_eq!(fired.len(), keys.len());
    }

    #[test]
    fn a_timer_in_the_past_is_created_fired() {
        let mut wheel = Wheel::new();
        let mut fired = Vec::new();
        wheel.advance(100, &mut fired);
        let key = wheel.insert(50, waker());
        assert!(wheel.is_fired(key));
        assert!(wheel.is_empty());
    }
}
