//! Catching signals: a `sigaction` handler that counts each delivery and writes one byte to a self-pipe.
//!
//! The handler is async-signal-safe: it does an atomic add, one `write(2)` to a non-blocking pipe and saves and
//! restores `errno` around it — nothing else (signal-safety(7)). A full pipe drops the byte, which loses nothing:
//! a full pipe is already readable, and the count tells the reader which signal arrived and how often.
//!
//! # Invariants
//!
//! 1. [`WAKE_FD`] is set once, before any handler is installed, and its descriptor is never closed, so the
//!    handler never writes to a descriptor that was closed or reused.
//! 2. A handler, once installed, stays for the life of the process (a late signal must never find the default
//!    action, which for most signals ends the process).
//!
//! References: sigaction(2), signal-safety(7), pipe(2); the self-pipe trick (D. J. Bernstein).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use super::fd::{pipe, set_nonblocking};
use super::syscall;

/// Signal numbers 0..=`MAX_SIGNAL` have a delivery counter (Linux has 64 signals).
pub(crate) const MAX_SIGNAL: usize = 64;

/// Deliveries of each signal since its handler was installed.
static DELIVERED: [AtomicU64; MAX_SIGNAL + 1] = [const { AtomicU64::new(0) }; MAX_SIGNAL + 1];

/// The write end of the self-pipe, or -1 before it exists (invariant 1).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// The handler: counts the delivery and wakes the reader of the self-pipe. Async-signal-safe.
extern "C" fn on_signal(signum: libc::c_int) {
    // SAFETY: __errno_location returns this thread's errno slot, valid for the thread's life; the handler
    // restores it so the interrupted code never sees an errno changed under it.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above, the pointer is valid.
    let saved = unsafe { *errno };
    if let Some(counter) = usize::try_from(signum).ok().and_then(|n| DELIVERED.get(n)) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: `fd` is the self-pipe's write end, never closed (invariant 1); write(2) is async-signal-safe.
        let _ = unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    // SAFETY: as above, the pointer is valid.
    unsafe { *errno = saved };
}

/// Deliveries of `signum` so far (0 for a number out of range).
pub(crate) fn deliveries(signum: i32) -> u64 {
    usize::try_from(signum)
        .ok()
        .and_then(|n| DELIVERED.get(n))
        .map_or(0, |counter| counter.load(Ordering::SeqCst))
}

/// Creates the self-pipe: returns its read end (blocking, close-on-exec) and keeps the write end (non-blocking,
/// close-on-exec) for the handler, forever (invariant 1). Called once.
pub(crate) fn open_self_pipe() -> io::Result<OwnedFd> {
    let (read, write) = pipe()?;
    set_nonblocking(write.as_raw_fd(), true)?;
    // The write end lives as long as the process: the handler may run at any moment from now on.
    let write = std::mem::ManuallyDrop::new(write);
    WAKE_FD.store(write.as_raw_fd(), Ordering::SeqCst);
    Ok(read)
}

/// Installs the counting handler for `signum` (restarting interrupted system calls). Called once per signal,
/// after [`open_self_pipe`].
pub(crate) fn catch(signum: i32) -> io::Result<()> {
    // SAFETY: sigaction is plain data; zeroed is a valid value (an empty mask, no flags) before it is filled in.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action.sa_mask` is a valid sigset_t owned by this frame.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    syscall!(sigaction(signum, &action, std::ptr::null_mut()))?;
    Ok(())
}

/// The highest real-time signal number.
pub(crate) fn max_realtime() -> i32 {
    libc::SIGRTMAX()
}

/// The lowest real-time signal number the C library leaves to applications.
pub(crate) fn min_realtime() -> i32 {
    libc::SIGRTMIN()
}

/// Reads whatever the self-pipe holds into `buf`, waiting until there is something; retries interrupted reads.
pub(crate) fn read_blocking(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match syscall!(read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())) {
            Ok(read) => return Ok(read as usize),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}
