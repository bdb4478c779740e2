//! Child processes: a pidfd to wait on, reaping with `waitpid`, and `kill`; and this process's user id.
//!
//! A pidfd (Linux ≥ 5.3) becomes readable when its process exits, so the loop waits for an exit in `epoll_wait`
//! like for any socket. Reaping stays with `waitpid(pid, WNOHANG)`: until weft reaps a child its pid cannot be
//! reused, so the pid names that child and no other.
//!
//! References: pidfd_open(2), waitpid(2), kill(2), geteuid(2).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use super::syscall;

/// A pidfd for `pid` (close-on-exec, as pidfd_open always makes it). `ENOSYS` on kernels before 5.3.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: pidfd_open takes a pid and flags (0) by value and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd == -1 {
        return Err(io::Error::last_os_error());
    }
    let fd =
        i32::try_from(fd).map_err(|_| io::Error::other("pidfd_open returned no descriptor"))?;
    // SAFETY: pidfd_open returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reaps `pid` if it has exited: `Ok(None)` while it runs. Interrupted calls are retried.
pub(crate) fn try_reap(pid: u32) -> io::Result<Option<ExitStatus>> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut status = 0;
    loop {
        match syscall!(waitpid(pid, &mut status, libc::WNOHANG)) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(ExitStatus::from_raw(status))),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Waits for `pid` to exit and reaps it, blocking the thread: only for a child just killed with `SIGKILL`,
/// which exits at once.
pub(crate) fn reap_blocking(pid: u32) -> io::Result<ExitStatus> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut status = 0;
    loop {
        match syscall!(waitpid(pid, &mut status, 0)) {
            Ok(_) => return Ok(ExitStatus::from_raw(status)),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Sends `SIGKILL` to `pid`.
pub(crate) fn kill(pid: u32) -> io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    syscall!(kill(pid, libc::SIGKILL))?;
    Ok(())
}

/// The effective user id of this process (who may open the x-ray's inspection socket). geteuid(2) cannot fail.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory and always succeeds.
    unsafe { libc::geteuid() }
}
