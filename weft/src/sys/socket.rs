//! Socket I/O on non-blocking descriptors: read, write, vectored write, peek, datagrams.
//!
//! Writes use `send(MSG_NOSIGNAL)`, so writing to a closed peer is `BrokenPipe`, never `SIGPIPE`, whatever the
//! process's signal disposition. Every call reports `WouldBlock` when the descriptor is not ready; the caller
//! then waits for readiness from the driver.
//!
//! References: read(2), send(2), writev(2), recv(2), recvfrom(2), sendto(2), shutdown(2).

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd};

use super::syscall;

/// Reads into `buf`; `Ok(0)` is end of stream.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let read = syscall!(read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()))?;
    Ok(read as usize)
}

/// Receives into `buf` (a datagram socket: one datagram, truncated to `buf`; unlike `read`, a zero-length
/// datagram is consumed too).
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let read = syscall!(recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0))?;
    Ok(read as usize)
}

/// Reads into `buf` without consuming the data.
pub(crate) fn peek(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let read = syscall!(recv(
        fd.as_raw_fd(),
        buf.as_mut_ptr().cast(),
        buf.len(),
        libc::MSG_PEEK
    ))?;
    Ok(read as usize)
}

/// Writes from `buf` without raising `SIGPIPE` (stream sockets).
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    let written = syscall!(send(
        fd.as_raw_fd(),
        buf.as_ptr().cast(),
        buf.len(),
        libc::MSG_NOSIGNAL
    ))?;
    Ok(written as usize)
}

/// Writes several buffers in one call without raising `SIGPIPE` (stream sockets).
pub(crate) fn send_vectored(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    send_vectored_to(fd.as_raw_fd(), bufs)
}

/// [`send_vectored`] on the descriptor number of an open stream socket (the driver's table holds numbers; a
/// wrong number is an error from the kernel, never memory unsafety).
pub(crate) fn send_vectored_to(fd: std::os::fd::RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(libc::UIO_MAXIOV as usize);
    // SAFETY: `IoSlice` is guaranteed ABI-compatible with `iovec` on Unix; the message header points at
    // `count` of them, alive for the duration of the call, and at no address or control data.
    let header = libc::msghdr {
        msg_name: std::ptr::null_mut(),
        msg_namelen: 0,
        msg_iov: bufs.as_ptr() as *mut libc::iovec,
        msg_iovlen: count as _,
        msg_control: std::ptr::null_mut(),
        msg_controllen: 0,
        msg_flags: 0,
    };
    let written = syscall!(sendmsg(fd, &header, libc::MSG_NOSIGNAL))?;
    Ok(written as usize)
}

/// Writes with `write(2)`, for descriptors that are not sockets (pipes).
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    let written = syscall!(write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()))?;
    Ok(written as usize)
}

/// Accepts a connection as a non-blocking, close-on-exec descriptor.
pub(crate) fn accept(fd: BorrowedFd<'_>) -> io::Result<(socket2::Socket, socket2::SockAddr)> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    let mut accepted = -1;
    let accept = |storage: *mut socket2::SockAddrStorage, length: *mut libc::socklen_t| {
        accepted = syscall!(accept4(fd.as_raw_fd(), storage.cast(), length, flags))?;
        Ok(())
    };
    // SAFETY: `try_init` passes a zeroed sockaddr_storage and its length, which accept4 fills in (and `accept`
    // initializes nothing else).
    let ((), address) = unsafe { socket2::SockAddr::try_init(accept) }?;
    // SAFETY: accept4 returned a fresh descriptor that nothing else owns.
    let socket = unsafe { <socket2::Socket as std::os::fd::FromRawFd>::from_raw_fd(accepted) };
    Ok((socket, address))
}

/// Shuts down the write side of the open socket `fd` (the peer reads end of stream).
pub(crate) fn shutdown_write(fd: std::os::fd::RawFd) -> io::Result<()> {
    syscall!(shutdown(fd, libc::SHUT_WR))?;
    Ok(())
}
