//! Networking: TCP, UDP and Unix-domain sockets on the loop's reactor.
//!
//! Every socket is non-blocking and registered once with the driver of the loop that uses it; an operation tries
//! the system call and waits only when it says `WouldBlock`. The two stream types are one generic type,
//! [`IoStream`], which implements the `futures-io` [`AsyncRead`](crate::io::AsyncRead) and
//! [`AsyncWrite`](crate::io::AsyncWrite) traits and also offers inherent `read`/`write`/`write_all`/`read_exact`
//! that take `&self`, so one task can read while another writes; their split halves offer the same methods, each
//! half its direction's. Every socket type implements `AsFd`/`AsRawFd` and converts from and to its standard
//! library type (`from_std`, `into_std`).
//!
//! Cancellation: dropping a `read`, `recv` or `accept` future loses nothing (the data or connection stays in the
//! kernel for the next call); dropping a `write` future means nothing, or part of the buffer, was written —
//! `write` returns how much, and `write_all` resumes only if you keep its future.
//!
//! X-ray: a task waiting in a socket operation shows it as its [bookmark](crate::xray::Bookmark) — the operation
//! and descriptor ("TcpStream::read fd 7") and the line that awaited it, whether the stream or a split half was
//! awaited. Through the `AsyncRead`/`AsyncWrite` traits (`weft::io::copy`, hyper, the `AsyncReadExt` and
//! `AsyncWriteExt` methods the inherent ones do not cover) the caller's line is unknown: the bookmark shows weft's
//! own line and the label still names the operation.
//!
//! Host names given to `bind` and `connect` are resolved with the system resolver, which blocks the loop; pass IP
//! addresses, or resolve on the blocking pool first (`weft::spawn_blocking(|| addr.to_socket_addrs())`).

#![forbid(unsafe_code)]

mod backoff;
mod datagram;
pub(crate) mod source;
pub(crate) mod split;
mod stream;
mod tcp;
mod udp;
mod unix;

pub use datagram::IoDatagram;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReadSide, WriteHalf, WriteSide};
pub use std::net::{Shutdown, SocketAddr};
pub use stream::IoStream;
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

use std::io;
use std::net::ToSocketAddrs;

/// Resolves `addr` and calls `op` on each address until one succeeds; returns the last error otherwise.
async fn each_addr<A, T, F, Fut>(addr: A, mut op: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last_error = None;
    for address in addr.to_socket_addrs()? {
        match op(address).await {
            Ok(value) => return Ok(value),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}
