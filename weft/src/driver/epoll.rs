//! The epoll backend: readiness from an edge-triggered epoll instance.
//!
//! A socket is added once, for both directions, with its registration's token; closing the descriptor takes it
//! out of the epoll set, so deregistering needs no system call. The loop's eventfd is added once with a reserved
//! token. One `epoll_wait` per park.
//!
//! References: epoll(7), epoll_ctl(2), epoll_wait(2).

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use super::registrations::{Ready, Registrations};
use crate::sys::{Epoll, EventFd, Events, Interest};

/// The token of the loop's own eventfd (never a registration's: see `registrations::RESERVED_KEYS`).
const WAKE_TOKEN: u64 = u64::MAX;

/// How many events one `epoll_wait` returns at most.
const EVENTS_PER_WAIT: usize = 1024;

/// The loop's epoll instance and its event buffer.
#[derive(Debug)]
pub(crate) struct EpollBackend {
    /// The readiness queue.
    epoll: Epoll,
    /// Reused between waits.
    events: RefCell<Events>,
}

impl EpollBackend {
    /// An epoll instance listening to `wake`.
    pub(crate) fn new(wake: &EventFd) -> io::Result<EpollBackend> {
        let epoll = Epoll::new()?;
        epoll.add(wake.as_raw_fd(), Interest::READABLE, WAKE_TOKEN)?;
        Ok(EpollBackend {
            epoll,
            events: RefCell::new(Events::with_capacity(EVENTS_PER_WAIT)),
        })
    }

    /// Watches `fd` for both directions, edge-triggered; its events carry `token`.
    pub(crate) fn watch(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.epoll
            .add(fd, Interest::READABLE.add(Interest::WRITABLE), token)
    }

    /// Waits for events for at most `timeout` (`None`: until one arrives) and hands them to `registrations`;
    /// returns how many I/O events (the loop's own wake-ups not counted) it received.
    pub(crate) fn park(
        &self,
        timeout: Option<Duration>,
        wake: &EventFd,
        registrations: &RefCell<Registrations>,
    ) -> u64 {
        let mut events = self.events.borrow_mut();
        if let Err(error) = self.epoll.wait(&mut events, timeout) {
            // epoll_wait fails only on programming errors (EBADF, EFAULT, EINVAL); never spin on one.
            panic!("weft: epoll_wait failed: {error}");
        }
        let mut registrations = registrations.borrow_mut();
        let mut io_events = 0;
        for event in events.iter() {
            let token = event.token();
            if token == WAKE_TOKEN {
                wake.drain();
                continue;
            }
            io_events += 1;
            registrations.dispatch(token, Ready::from_poll_bits(event.bits()));
        }
        io_events
    }
}
