//! Plain descriptors: pipes and the non-blocking flag.
//!
//! References: pipe(2), fcntl(2).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::syscall;

/// A close-on-exec pipe: (read end, write end), both blocking.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC))?;
    // SAFETY: pipe2 returned two fresh descriptors that nothing else owns.
    let ends = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok(ends)
}

/// Turns `O_NONBLOCK` on or off (for the open file description: every descriptor that shares it).
pub(crate) fn set_nonblocking(fd: RawFd, nonblocking: bool) -> io::Result<()> {
    let flags = syscall!(fcntl(fd, libc::F_GETFL))?;
    let wanted = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if wanted != flags {
        syscall!(fcntl(fd, libc::F_SETFL, wanted))?;
    }
    Ok(())
}

/// A close-on-exec duplicate of `fd` (which must be open), for keeping a socket's file alive after its owner
/// closed its own descriptor.
pub(crate) fn duplicate(fd: RawFd) -> io::Result<OwnedFd> {
    let duplicate = syscall!(fcntl(fd, libc::F_DUPFD_CLOEXEC, 0))?;
    // SAFETY: fcntl returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(duplicate) })
}
