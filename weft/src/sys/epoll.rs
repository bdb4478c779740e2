//! epoll: the readiness queue the loop parks in.
//!
//! The epoll instance is created close-on-exec. Registrations carry a `u64` token chosen by the caller (the
//! driver's `generation << 32 | key`, or its reserved token for the loop's eventfd).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::syscall;

/// An epoll instance.
#[derive(Debug)]
pub(crate) struct Epoll {
    /// The epoll file descriptor, closed on drop.
    fd: OwnedFd,
}

/// Which readiness to be told about. Registrations are edge-triggered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interest(u32);

impl Interest {
    /// Readable (including peer hang-up).
    pub(crate) const READABLE: Interest = Interest(libc::EPOLLIN as u32 | libc::EPOLLRDHUP as u32);
    /// Writable.
    pub(crate) const WRITABLE: Interest = Interest(libc::EPOLLOUT as u32);

    /// Both interests.
    pub(crate) const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }
}

/// One readiness event as reported by `epoll_wait`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct Event(libc::epoll_event);

impl Event {
    /// The token given at registration.
    pub(crate) fn token(&self) -> u64 {
        self.0.u64
    }

    /// The readiness bits (`EPOLLIN`, `EPOLLOUT`, ...).
    pub(crate) fn bits(&self) -> u32 {
        self.0.events
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (token, bits) = (self.0.u64, self.0.events);
        f.debug_struct("Event")
            .field("token", &token)
            .field("bits", &bits)
            .finish()
    }
}

/// A reusable buffer of events filled by [`Epoll::wait`].
pub(crate) struct Events {
    /// Storage; `len` entries are valid after a wait.
    buffer: Vec<libc::epoll_event>,
    /// How many entries the last wait filled.
    len: usize,
}

impl Events {
    /// A buffer for up to `capacity` events per wait.
    pub(crate) fn with_capacity(capacity: usize) -> Events {
        Events {
            buffer: vec![libc::epoll_event { events: 0, u64: 0 }; capacity],
            len: 0,
        }
    }

    /// The events of the last wait.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.buffer[..self.len].iter().map(|event| Event(*event))
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("len", &self.len).finish()
    }
}

impl Epoll {
    /// Creates a close-on-exec epoll instance.
    pub(crate) fn new() -> io::Result<Epoll> {
        let fd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
        // SAFETY: epoll_create1 returned a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    /// Registers `fd`, edge-triggered, for `interest`; events carry `token`.
    ///
    /// A socket stays in the set until its last descriptor is closed (weft never removes one: that would cost a
    /// system call per close). So a socket registered here before — handed to another loop and back, or taken out
    /// with `into_std` and wrapped again — is already in the set under its number: then its entry is updated to
    /// the new token instead (`EEXIST` → `EPOLL_CTL_MOD`), and events with the old token are ignored as stale.
    pub(crate) fn add(&self, fd: RawFd, interest: Interest, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: interest.0 | libc::EPOLLET as u32,
            u64: token,
        };
        match syscall!(epoll_ctl(
            self.fd.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd,
            &mut event
        )) {
            Err(error) if error.raw_os_error() == Some(libc::EEXIST) => {
                syscall!(epoll_ctl(
                    self.fd.as_raw_fd(),
                    libc::EPOLL_CTL_MOD,
                    fd,
                    &mut event
                ))?;
                Ok(())
            }
            result => result.map(drop),
        }
    }

    /// Waits for events, at most `timeout` (`None`: forever). A timeout is rounded up to whole milliseconds
    /// so the loop never wakes before a timer is due. An interrupted wait (`EINTR`) reports no events.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let timeout_ms = match timeout {
            None => -1,
            Some(timeout) => {
                let ms = timeout.as_nanos().div_ceil(1_000_000);
                ms.min(i32::MAX as u128) as i32
            }
        };
        let capacity = events.buffer.len().min(i32::MAX as usize) as i32;
        events.len = 0;
        match syscall!(epoll_wait(
            self.fd.as_raw_fd(),
            events.buffer.as_mut_ptr(),
            capacity,
            timeout_ms
        )) {
            Ok(count) => {
                events.len = count as usize;
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(error) => Err(error),
        }
    }
}
