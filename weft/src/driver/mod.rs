//! The driver: where the loop parks. It owns the epoll instance and turns readiness events into wake-ups.
//!
//! Today it knows one source, the loop's eventfd (other threads write it to wake a parked loop); sockets register
//! here as they arrive (see the networking issue).

use std::cell::RefCell;
use std::io;
use std::time::Duration;

use crate::sys::{Epoll, EventFd, Events, Interest};

/// The token of the loop's own eventfd.
const WAKE_TOKEN: u64 = u64::MAX;

/// How many events one `epoll_wait` returns at most.
const EVENTS_PER_WAIT: usize = 1024;

/// The loop's epoll instance and its event buffer.
#[derive(Debug)]
pub(crate) struct Driver {
    /// The readiness queue.
    epoll: Epoll,
    /// Reused between waits.
    events: RefCell<Events>,
}

impl Driver {
    /// A driver listening to `wake`.
    pub(crate) fn new(wake: &EventFd) -> io::Result<Driver> {
        let epoll = Epoll::new()?;
        epoll.add(wake.as_raw_fd(), Interest::READABLE, WAKE_TOKEN)?;
        Ok(Driver {
            epoll,
            events: RefCell::new(Events::with_capacity(EVENTS_PER_WAIT)),
        })
    }

    /// Whether anything besides the eventfd is registered (if not, a zero-timeout poll can be skipped: the
    /// eventfd is only written while the loop is parked, and the loop checks its remote queue itself).
    pub(crate) fn has_io_sources(&self) -> bool {
        false
    }

    /// Waits for events for at most `timeout` (`None`: until one arrives) and dispatches them.
    pub(crate) fn park(&self, timeout: Option<Duration>, wake: &EventFd) {
        let mut events = self.events.borrow_mut();
        if let Err(error) = self.epoll.wait(&mut events, timeout) {
            // epoll_wait fails only on programming errors (EBADF, EFAULT, EINVAL); never spin on one.
            panic!("weft: epoll_wait failed: {error}");
        }
        for event in events.iter() {
            if event.token() == WAKE_TOKEN {
                wake.drain();
            }
        }
    }
}
