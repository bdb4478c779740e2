//! The driver: where the loop parks, and the reactor that turns readiness events into wake-ups.
//!
//! Every socket is registered **once**, edge-triggered, for both directions. Its [`IoState`] caches which
//! directions are ready; an operation tries the system call first and only waits (storing its waker) after the
//! call says `WouldBlock`, which clears the cached bit. Events are dispatched only between polls, on the loop's
//! own thread, so an event can never slip in between a task's "try" and its "wait": no readiness is lost and no
//! `epoll_ctl` is needed per operation. A reader and a writer of the same socket wait independently.
//!
//! # Invariants
//!
//! 1. A token is `generation << 32 | key`. An entry's generation changes whenever its key is reused, so an event
//!    carrying a stale token (a socket that moved to another loop and was forgotten here) is ignored.
//! 2. Only the owner of a registration (the I/O object) frees it, on the loop's thread or through the loop's
//!    remote queue; so a key held by a live I/O object always names that object's entry.
//!
//! References: epoll(7) on edge-triggered mode; mio's and tokio's readiness caching.

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::sys::{Epoll, EventFd, Events, Interest};

/// The token of the loop's own eventfd.
const WAKE_TOKEN: u64 = u64::MAX;

/// How many events one `epoll_wait` returns at most.
const EVENTS_PER_WAIT: usize = 1024;

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

    /// From epoll's event bits.
    fn from_epoll(bits: u32) -> Ready {
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

    /// The bits a `WouldBlock` clears: all of this direction's interest. The call would have reported EOF, a
    /// pending error or a broken pipe instead of `WouldBlock` if any of those still held.
    fn cleared_by_would_block(self) -> Ready {
        self.interest()
    }
}

/// One registered socket.
#[derive(Debug, Default)]
pub(crate) struct IoState {
    /// Bumped when the key is reused (invariant 1).
    generation: u32,
    /// Whether the entry is in use.
    occupied: bool,
    /// Cached readiness.
    ready: Ready,
    /// The task waiting to read.
    reader: Option<Waker>,
    /// The task waiting to write.
    writer: Option<Waker>,
}

/// The loop's epoll instance, its event buffer and its registrations.
#[derive(Debug)]
pub(crate) struct Driver {
    /// The readiness queue.
    epoll: Epoll,
    /// Reused between waits.
    events: RefCell<Events>,
    /// Registrations by key.
    sources: RefCell<Vec<IoState>>,
    /// Vacant keys.
    vacant: RefCell<Vec<u32>>,
    /// Registrations alive.
    registered: Cell<usize>,
}

impl Driver {
    /// A driver listening to `wake`.
    pub(crate) fn new(wake: &EventFd) -> io::Result<Driver> {
        let epoll = Epoll::new()?;
        epoll.add(wake.as_raw_fd(), Interest::READABLE, WAKE_TOKEN)?;
        Ok(Driver {
            epoll,
            events: RefCell::new(Events::with_capacity(EVENTS_PER_WAIT)),
            sources: RefCell::new(Vec::new()),
            vacant: RefCell::new(Vec::new()),
            registered: Cell::new(0),
        })
    }

    /// Whether any socket is registered (if not, the zero-timeout poll between turns can be skipped: the
    /// eventfd is only written while the loop is parked, and the loop checks its remote queue itself).
    pub(crate) fn has_io_sources(&self) -> bool {
        self.registered.get() > 0
    }

    /// Registers `fd` for both directions, edge-triggered, and returns its key. The socket starts out assumed
    /// ready both ways: the first operation just tries.
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<u32> {
        let mut sources = self.sources.borrow_mut();
        let key = match self.vacant.borrow_mut().pop() {
            Some(key) => key,
            None => {
                let key = u32::try_from(sources.len()).map_err(|_| {
                    io::Error::other("weft: too many sockets registered on one loop")
                })?;
                sources.push(IoState::default());
                key
            }
        };
        let entry = &mut sources[key as usize];
        entry.generation = entry.generation.wrapping_add(1);
        let token = (u64::from(entry.generation) << 32) | u64::from(key);
        if let Err(error) = self
            .epoll
            .add(fd, Interest::READABLE.add(Interest::WRITABLE), token)
        {
            self.vacant.borrow_mut().push(key);
            return Err(error);
        }
        entry.occupied = true;
        entry.ready = Ready::READABLE.union(Ready::WRITABLE);
        self.registered.set(self.registered.get() + 1);
        Ok(key)
    }

    /// Frees a registration (invariant 2). Closing the descriptor removes it from epoll.
    pub(crate) fn deregister(&self, key: u32) {
        let mut sources = self.sources.borrow_mut();
        let Some(entry) = sources.get_mut(key as usize) else {
            return;
        };
        if !entry.occupied {
            return;
        }
        entry.occupied = false;
        entry.reader = None;
        entry.writer = None;
        entry.ready = Ready::default();
        self.vacant.borrow_mut().push(key);
        self.registered.set(self.registered.get() - 1);
    }

    /// Ready in `direction`? If not, stores the waker and returns `Pending`.
    pub(crate) fn poll_ready(
        &self,
        key: u32,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<Ready> {
        let mut sources = self.sources.borrow_mut();
        let entry = &mut sources[key as usize];
        if entry.ready.intersects(direction.interest()) {
            return Poll::Ready(entry.ready);
        }
        let slot = match direction {
            Direction::Read => &mut entry.reader,
            Direction::Write => &mut entry.writer,
        };
        match slot {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The system call said `WouldBlock`: forget all cached readiness for `direction` (it is neither ready,
    /// closed nor in error, or the call would have said so).
    pub(crate) fn clear_ready(&self, key: u32, direction: Direction) {
        self.clear(key, direction.cleared_by_would_block());
    }

    /// A stream transfer came up short: the queue was drained (or filled), so forget only that the direction
    /// is ready. A hang-up or error seen earlier stays: it has no further edge to come.
    pub(crate) fn clear_ready_after_short_transfer(&self, key: u32, direction: Direction) {
        self.clear(key, direction.ready_bit());
    }

    /// Clears `bits` of a registration's cached readiness.
    fn clear(&self, key: u32, bits: Ready) {
        let mut sources = self.sources.borrow_mut();
        let entry = &mut sources[key as usize];
        entry.ready = Ready(entry.ready.0 & !bits.0);
    }

    /// Waits for events for at most `timeout` (`None`: until one arrives) and dispatches them; returns how many
    /// I/O events (the loop's own wake-ups not counted) it received.
    pub(crate) fn park(&self, timeout: Option<Duration>, wake: &EventFd) -> u64 {
        let mut events = self.events.borrow_mut();
        if let Err(error) = self.epoll.wait(&mut events, timeout) {
            // epoll_wait fails only on programming errors (EBADF, EFAULT, EINVAL); never spin on one.
            panic!("weft: epoll_wait failed: {error}");
        }
        let mut sources = self.sources.borrow_mut();
        let mut io_events = 0;
        for event in events.iter() {
            let token = event.token();
            if token == WAKE_TOKEN {
                wake.drain();
                continue;
            }
            io_events += 1;
            let (key, generation) = (token as u32, (token >> 32) as u32);
            let Some(entry) = sources.get_mut(key as usize) else {
                continue;
            };
            if !entry.occupied || entry.generation != generation {
                continue; // invariant 1: a stale event
            }
            let ready = Ready::from_epoll(event.bits());
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
        io_events
    }
}
