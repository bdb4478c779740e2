//! A minimal safe wrapper over Linux epoll, used by the two programs that must not depend on any runtime under
//! test: the `raw` echo server (the ceiling) and the load generator.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Readable.
pub const IN: u32 = libc::EPOLLIN as u32;
/// Writable.
pub const OUT: u32 = libc::EPOLLOUT as u32;
/// The peer closed its side.
pub const RDHUP: u32 = libc::EPOLLRDHUP as u32;
/// Hang-up.
pub const HUP: u32 = libc::EPOLLHUP as u32;
/// Error condition.
pub const ERR: u32 = libc::EPOLLERR as u32;
/// Edge-triggered.
pub const ET: u32 = libc::EPOLLET as u32;

/// An epoll instance; closed on drop.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

/// A reusable buffer of ready events.
pub struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("capacity", &self.buf.len())
            .field("len", &self.len)
            .finish()
    }
}

impl Events {
    /// Room for up to `capacity` events per wait.
    pub fn with_capacity(capacity: usize) -> Events {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)],
            len: 0,
        }
    }

    /// The events of the last wait as `(token, flags)`.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.buf[..self.len].iter().map(|e| {
            // Copy the fields out: epoll_event is packed on x86-64, so no references into it.
            let ev = *e;
            (ev.u64, ev.events)
        })
    }
}

impl Epoll {
    /// A new epoll instance (close-on-exec).
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes only flags and returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by epoll_create1, is open, and nothing else owns it.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(&self, op: i32, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `self.fd` is a live epoll descriptor and `ev` is a valid epoll_event that outlives the call; an
        // invalid `fd` makes the kernel return an error, not undefined behaviour.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Registers `fd` for `events`, reported with `token`.
    pub fn add(&self, fd: &impl AsRawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), events, token)
    }

    /// Removes `fd` (closing a descriptor removes it too).
    pub fn delete(&self, fd: &impl AsRawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0)
    }

    /// Waits up to `timeout_ms` (-1: no limit) for events; an interrupted wait returns no events.
    pub fn wait(&self, events: &mut Events, timeout_ms: i32) -> io::Result<usize> {
        let cap = events.buf.len().min(i32::MAX as usize) as i32;
        // SAFETY: the buffer holds `cap` writable epoll_events and the kernel writes at most `cap` of them.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.buf.as_mut_ptr(),
                cap,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            events.len = 0;
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            };
        }
        events.len = n as usize;
        Ok(events.len)
    }
}
