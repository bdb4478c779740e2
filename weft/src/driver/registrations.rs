//! The registrations of one loop's driver: a table of sockets, the readiness each one is known to have, and the
//! tasks waiting on it. Both backends share it: epoll and io_uring only differ in how readiness reaches it.
//!
//! Every socket is registered **once**, for both directions. Its [`IoState`] caches which directions are ready;
//! an operation tries the system call first and only waits (storing its waker) after the call says `WouldBlock`,
//! which clears the cached bit. Events are dispatched only between polls, on the loop's own thread, so an event
//! can never slip in between a task's "try" and its "wait": no readiness is lost and no system call is needed per
//! operation to re-arm interest. A reader and a writer of the same socket wait independently.
//!
//! # Invariants
//!
//! 1. A token is `generation << 32 | key`, the generation counting modulo 2^30 (a token's two top bits stay
//!    clear for the backends' own `user_data`). An entry's generation changes whenever its key is reused, so an event
//!    carrying a stale token (a socket that was closed, or moved to another loop and was forgotten here) is
//!    ignored.
//! 2. Only the owner of a registration (the I/O object) frees it, on the loop's thread or through the loop's
//!    remote queue, and it frees it **before** it closes the descriptor; so a key held by a live I/O object
//!    always names that object's entry, and the descriptor of a live entry is open.
//!
//! References: epoll(7) on edge-triggered mode; mio's and tokio's readiness caching.

#![forbid(unsafe_code)]

use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};

use super::store_waker;

/// Readiness bits cached per registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ready(u8);

impl Ready {
    /// Data (or a connection, or EOF) can be read.
    pub(crate) const READABLE: Ready = Ready(1);
    /// Data can be written.
    pub(crate) const WRITABLE: Ready = Ready(2);
    /// The peer closed its side (EOF is readable).
    pub(crate) const READ_CLOSED: Ready = Ready(4);
    /// Our side can no longer write.
    pub(crate) const WRITE_CLOSED: Ready = Ready(8);
    /// An error is pending on the socket.
    pub(crate) const ERROR: Ready = Ready(16);
    /// Everything a reader wakes for.
    const READ_INTEREST: Ready = Ready(1 | 4 | 16);
    /// Everything a writer wakes for.
    const WRITE_INTEREST: Ready = Ready(2 | 8 | 16);

    /// Bits of both.
    pub(crate) const fn union(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }

    /// Whether any bit of `other` is set.
    pub(crate) const fn intersects(self, other: Ready) -> bool {
        self.0 & other.0 != 0
    }

    /// From poll(2) / epoll(7) event bits (`POLLIN == EPOLLIN`, and so on: the two share their values).
    pub(crate) fn from_poll_bits(bits: u32) -> Ready {
        let mut ready = Ready(0);
        if bits & libc::EPOLLIN as u32 != 0 {
            ready = ready.union(Ready::READABLE);
        }
        if bits & libc::EPOLLOUT as u32 != 0 {
            ready = ready.union(Ready::WRITABLE);
        }
        if bits & libc::EPOLLRDHUP as u32 != 0 {
            ready = ready.union(Ready::READABLE).union(Ready::READ_CLOSED);
        }
        if bits & libc::EPOLLHUP as u32 != 0 {
            ready = ready
                .union(Ready::READABLE)
                .union(Ready::READ_CLOSED)
                .union(Ready::WRITE_CLOSED);
        }
        if bits & libc::EPOLLERR as u32 != 0 {
            ready = ready
                .union(Ready::ERROR)
                .union(Ready::READABLE)
                .union(Ready::WRITABLE);
        }
        ready
    }
}

/// Which way an operation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reads, accepts, receives.
    Read,
    /// Writes, connects, sends.
    Write,
}

impl Direction {
    /// The readiness this direction waits for.
    fn interest(self) -> Ready {
        match self {
            Direction::Read => Ready::READ_INTEREST,
            Direction::Write => Ready::WRITE_INTEREST,
        }
    }

    /// The plain "ready" bit of this direction.
    fn ready_bit(self) -> Ready {
        match self {
            Direction::Read => Ready::READABLE,
            Direction::Write => Ready::WRITABLE,
        }
    }
}

/// One registered socket.
#[derive(Debug)]
struct IoState {
    /// Bumped when the key is reused (invariant 1).
    generation: u32,
    /// Whether the entry is in use.
    occupied: bool,
    /// The descriptor (open while the entry is occupied: invariant 2).
    fd: RawFd,
    /// Cached readiness.
    ready: Ready,
    /// The backend watches the descriptor for readiness (io_uring streams doing completion I/O need not).
    watched: bool,
    /// The task waiting to read.
    reader: Option<Waker>,
    /// The task waiting to write.
    writer: Option<Waker>,
}

/// The table of a loop's registrations.
#[derive(Debug, Default)]
pub(crate) struct Registrations {
    /// Registrations by key.
    entries: Vec<IoState>,
    /// Vacant keys.
    vacant: Vec<u32>,
    /// Registrations alive.
    len: usize,
}

impl Registrations {
    /// How many registrations are alive.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Takes a key for `fd` and returns it with its token (invariant 1). The socket starts out assumed ready
    /// both ways: the first operation just tries. If the backend then fails to watch it, [`remove`](Self::remove)
    /// gives the key back.
    pub(crate) fn insert(&mut self, fd: RawFd) -> io::Result<(u32, u64)> {
        let key = match self.vacant.pop() {
            Some(key) => key,
            None => {
                let key = u32::try_from(self.entries.len())
                    .ok()
                    .filter(|&key| key < RESERVED_KEYS)
                    .ok_or_else(|| {
                        io::Error::other("weft: too many sockets registered on one loop")
                    })?;
                self.entries.push(IoState {
                    generation: 0,
                    occupied: false,
                    fd: -1,
                    ready: Ready::default(),
                    watched: false,
                    reader: None,
                    writer: None,
                });
                key
            }
        };
        let entry = &mut self.entries[key as usize];
        entry.generation = entry.generation.wrapping_add(1) & GENERATION_MASK;
        entry.watched = false;
        entry.occupied = true;
        entry.fd = fd;
        entry.ready = Ready::READABLE.union(Ready::WRITABLE);
        self.len += 1;
        Ok((key, token(entry.generation, key)))
    }

    /// Frees a registration (invariant 2) and returns the token its events carried and whether the backend
    /// watched it, or `None` if it was not registered.
    pub(crate) fn remove(&mut self, key: u32) -> Option<(u64, bool)> {
        let entry = self.entries.get_mut(key as usize)?;
        if !entry.occupied {
            return None;
        }
        let watched = std::mem::replace(&mut entry.watched, false);
        entry.occupied = false;
        entry.fd = -1;
        entry.reader = None;
        entry.writer = None;
        entry.ready = Ready::default();
        self.vacant.push(key);
        self.len -= 1;
        Some((token(entry.generation, key), watched))
    }

    /// Records whether the backend watches the registration `key`; returns what it was.
    pub(crate) fn set_watched(&mut self, key: u32, watched: bool) -> bool {
        std::mem::replace(&mut self.entries[key as usize].watched, watched)
    }

    /// The generation and descriptor of the live registration `key`.
    pub(crate) fn identity(&self, key: u32) -> (u32, RawFd) {
        let entry = &self.entries[key as usize];
        (entry.generation, entry.fd)
    }

    /// The descriptor of the live registration `token` names, or `None` for a stale token (invariant 1).
    pub(crate) fn live_fd(&self, token: u64) -> Option<RawFd> {
        let (key, generation) = (token as u32, (token >> 32) as u32);
        let entry = self.entries.get(key as usize)?;
        (entry.occupied && entry.generation == generation).then_some(entry.fd)
    }

    /// The descriptor of the live registration `token` names if the backend still watches it (a poll that ends
    /// is re-armed only then).
    pub(crate) fn watched_fd(&self, token: u64) -> Option<RawFd> {
        let (key, generation) = (token as u32, (token >> 32) as u32);
        let entry = self.entries.get(key as usize)?;
        (entry.occupied && entry.watched && entry.generation == generation).then_some(entry.fd)
    }

    /// Records that the registration `token` names became `ready` and wakes whoever waits for it. A stale
    /// token is ignored (invariant 1).
    pub(crate) fn dispatch(&mut self, token: u64, ready: Ready) {
        let (key, generation) = (token as u32, (token >> 32) as u32);
        let Some(entry) = self.entries.get_mut(key as usize) else {
            return;
        };
        if !entry.occupied || entry.generation != generation {
            return;
        }
        entry.ready = entry.ready.union(ready);
        if ready.intersects(Ready::READ_INTEREST) {
            if let Some(waker) = &entry.reader {
                waker.wake_by_ref();
            }
        }
        if ready.intersects(Ready::WRITE_INTEREST) {
            if let Some(waker) = &entry.writer {
                waker.wake_by_ref();
            }
        }
    }

    /// Ready in `direction`? If not, stores the waker and returns `Pending`.
    pub(crate) fn poll_ready(
        &mut self,
        key: u32,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<Ready> {
        let entry = &mut self.entries[key as usize];
        if entry.ready.intersects(direction.interest()) {
            return Poll::Ready(entry.ready);
        }
        let slot = match direction {
            Direction::Read => &mut entry.reader,
            Direction::Write => &mut entry.writer,
        };
        store_waker(slot, cx);
        Poll::Pending
    }

    /// The system call said `WouldBlock`: forget all cached readiness for `direction` (it is neither ready,
    /// closed nor in error, or the call would have said so).
    pub(crate) fn clear_ready(&mut self, key: u32, direction: Direction) {
        self.clear(key, direction.interest());
    }

    /// A stream transfer came up short: the queue was drained (or filled), so forget only that the direction
    /// is ready. A hang-up or error seen earlier stays: it has no further edge to come.
    pub(crate) fn clear_ready_after_short_transfer(&mut self, key: u32, direction: Direction) {
        self.clear(key, direction.ready_bit());
    }

    /// Clears `bits` of a registration's cached readiness.
    fn clear(&mut self, key: u32, bits: Ready) {
        let entry = &mut self.entries[key as usize];
        entry.ready = Ready(entry.ready.0 & !bits.0);
    }
}

/// Generations count modulo 2^30 (invariant 1).
const GENERATION_MASK: u32 = (1 << 30) - 1;

/// The token of `key` at `generation` (invariant 1).
pub(crate) fn token(generation: u32, key: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(key)
}

/// Keys from here up are never handed out, so the backends' reserved tokens (`u64::MAX`, `u64::MAX - 1`) can
/// never name a registration.
const RESERVED_KEYS: u32 = u32::MAX - 1;
