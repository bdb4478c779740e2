//! The OS boundary: every system call weft makes goes through this module.
//!
//! Each call is wrapped so that it returns `io::Result`, with `-1` turned into `io::Error::last_os_error()`.
//! File descriptors are held in [`OwnedFd`](std::os::fd::OwnedFd), so closing is never forgotten and never done
//! twice. Nothing outside `sys/` calls `libc` directly.
//!
//! References: epoll(7), epoll_ctl(2), epoll_wait(2), eventfd(2), sigaction(2), pidfd_open(2), waitpid(2).

pub(crate) mod cpu;
mod epoll;
mod eventfd;
pub(crate) mod fd;
pub(crate) mod process;
pub(crate) mod signal;
pub(crate) mod socket;
pub(crate) mod tsc;

pub(crate) use epoll::{Epoll, Events, Interest};
pub(crate) use eventfd::EventFd;

/// Turns the `-1`-on-error convention of a libc call into an `io::Result`.
macro_rules! syscall {
    ($name:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: each caller passes arguments that satisfy the man page of the call it names.
        let result = unsafe { libc::$name($($arg),*) };
        if result == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(result)
        }
    }};
}
pub(crate) use syscall;
