//! eventfd: how another thread wakes a loop parked in its driver (`epoll_wait` or `io_uring_enter`).
//!
//! The counter is non-blocking and close-on-exec. Writers add one; the loop reads (resetting the counter) when
//! the descriptor reports readable.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::syscall;

/// A non-blocking eventfd counter.
#[derive(Debug)]
pub(crate) struct EventFd {
    /// The eventfd descriptor, closed on drop.
    fd: OwnedFd,
}

impl EventFd {
    /// Creates a non-blocking, close-on-exec eventfd with a zero counter.
    pub(crate) fn new() -> io::Result<EventFd> {
        let fd = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
        // SAFETY: eventfd returned a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(EventFd { fd })
    }

    /// Adds one to the counter, waking a waiter. A full counter (`EAGAIN`) already means "readable", so it
    /// is not an error.
    pub(crate) fn notify(&self) {
        let one: u64 = 1;
        let result = syscall!(write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8));
        debug_assert!(
            result.is_ok() || io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock,
            "eventfd write failed: {result:?}"
        );
    }

    /// Resets the counter to zero. Returns whether it was non-zero.
    pub(crate) fn drain(&self) -> bool {
        let mut value: u64 = 0;
        syscall!(read(
            self.fd.as_raw_fd(),
            (&mut value as *mut u64).cast(),
            8
        ))
        .is_ok()
    }

    /// The raw descriptor, for the driver to watch.
    pub(crate) fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
