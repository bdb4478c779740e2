//! Networking: TCP, UDP and Unix-domain sockets on the loop's reactor.
//!
//! Every socket is non-blocking and registered once with the driver of the loop that uses it; an operation tries
//! the system call and waits only when it says `WouldBlock`. Streams implement the `futures-io`
//! [`AsyncRead`](crate::io::AsyncRead) and [`AsyncWrite`](crate::io::AsyncWrite) traits and also offer inherent
//! `read`/`write`/`write_all`/`read_exact` that take `&self`, so one task can read while another writes; their
//! split halves offer the same methods, each half its direction's.
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
pub(crate) mod source;
pub(crate) mod split;
mod tcp;
mod udp;
mod unix;

pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
pub use std::net::{Shutdown, SocketAddr};
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

use std::io;
use std::net::ToSocketAddrs;

/// The result of `shutdown(2)` on a stream: `NotConnected` — a connection the peer already reset, nothing left to
/// shut down — is success, as closing a dead connection should be (tokio does the same; hyper would otherwise log
/// an error for nearly every connection a client closes).
fn shut_down(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(()),
        result => result,
    }
}

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

/// Implements `futures-io`'s `AsyncRead` and `AsyncWrite` for a stream type and for `&` it, by forwarding to its
/// `poll_read_ref`, `poll_write_ref`, `poll_write_vectored_ref` and `shutdown` methods.
macro_rules! impl_stream_traits {
    ($stream:ty) => {
        $crate::net::impl_stream_traits!(@for $stream);
        $crate::net::impl_stream_traits!(@for &$stream);
    };
    (@for $type:ty) => {
        impl $crate::io::AsyncRead for $type {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.poll_read_ref(cx, buf)
            }
        }

        impl $crate::io::AsyncWrite for $type {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.poll_write_ref(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.poll_write_vectored_ref(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.shutdown(std::net::Shutdown::Write))
            }
        }
    };
}
pub(crate) use impl_stream_traits;

/// The inherent async methods every stream type offers, written once: `impl_stream_methods!(Type, ReadOp,
/// WriteOp)`, with the [`Op`](crate::cell::Op)s that name a read and a write in a bookmark. Its split halves get
/// theirs from [`impl_half_methods`](split::impl_half_methods), which forwards to these.
///
/// Each method is `#[track_caller]` and captures its caller's line when the future is made: the line that awaits
/// it, which a task parked in it shows as its bookmark.
macro_rules! impl_stream_methods {
    ($stream:ty, $read_op:ident, $write_op:ident) => {
        $crate::net::split::impl_half_methods!($stream);

        impl $stream {
            /// Reads into `buf`, waiting until some data is available; `Ok(0)` means the peer closed its side.
            /// Cancel-safe: if the future is dropped, no data was taken.
            ///
            /// ```
            /// // Every weft stream has this method; a Unix pair keeps the example short.
            /// use weft::net::UnixStream;
            ///
            /// weft::run(async {
            ///     let (a, b) = UnixStream::pair().unwrap();
            ///     a.write_all(b"hello").await.unwrap();
            ///     drop(a); // the peer closes
            ///     let mut buf = [0; 16];
            ///     let read = b.read(&mut buf).await.unwrap();
            ///     assert_eq!(&buf[..read], b"hello");
            ///     assert_eq!(b.read(&mut buf).await.unwrap(), 0); // end of stream
            /// });
            /// ```
            #[track_caller]
            pub fn read<'a>(
                &'a self,
                buf: &'a mut [u8],
            ) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
                let wait = $crate::net::source::Wait::here($crate::cell::Op::$read_op);
                std::future::poll_fn(move |cx| self.poll_read_with(cx, buf, wait))
            }

            /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the peer closes first. Not cancel-safe: bytes
            /// read before the future is dropped are lost.
            ///
            /// ```
            /// // Every weft stream has this method; a Unix pair keeps the example short.
            /// use weft::net::UnixStream;
            ///
            /// weft::run(async {
            ///     let (a, b) = UnixStream::pair().unwrap();
            ///     a.write_all(b"12345").await.unwrap();
            ///     drop(a);
            ///     let mut four = [0; 4];
            ///     b.read_exact(&mut four).await.unwrap();
            ///     assert_eq!(&four, b"1234");
            ///     let error = b.read_exact(&mut four).await.unwrap_err(); // one byte left, then end of stream
            ///     assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
            /// });
            /// ```
            #[track_caller]
            pub fn read_exact<'a>(
                &'a self,
                buf: &'a mut [u8],
            ) -> impl std::future::Future<Output = std::io::Result<()>> + 'a {
                let wait = $crate::net::source::Wait::here($crate::cell::Op::$read_op);
                async move {
                    let mut filled = 0;
                    while filled < buf.len() {
                        let read = std::future::poll_fn(|cx| {
                            self.poll_read_with(cx, &mut buf[filled..], wait)
                        })
                        .await?;
                        match read {
                            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                            read => filled += read,
                        }
                    }
                    Ok(())
                }
            }

            /// Writes some of `buf`, waiting until the socket can take data; returns how much was written.
            /// Cancel-safe: if the future is dropped, nothing was written.
            ///
            /// ```
            /// // Every weft stream has this method; a Unix pair keeps the example short.
            /// use weft::net::UnixStream;
            ///
            /// weft::run(async {
            ///     let (a, b) = UnixStream::pair().unwrap();
            ///     let written = a.write(b"some bytes").await.unwrap();
            ///     assert!(written > 0); // possibly fewer than asked: loop, or use write_all
            ///     let mut buf = [0; 16];
            ///     b.read_exact(&mut buf[..written]).await.unwrap();
            ///     assert_eq!(&buf[..written], &b"some bytes"[..written]);
            /// });
            /// ```
            #[track_caller]
            pub fn write<'a>(
                &'a self,
                buf: &'a [u8],
            ) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
                let wait = $crate::net::source::Wait::here($crate::cell::Op::$write_op);
                std::future::poll_fn(move |cx| self.poll_write_with(cx, buf, wait))
            }

            /// Writes several buffers in one system call where possible; returns how much was written.
            ///
            /// ```
            /// // Every weft stream has this method; a Unix pair keeps the example short.
            /// use std::io::IoSlice;
            /// use weft::net::UnixStream;
            ///
            /// weft::run(async {
            ///     let (a, b) = UnixStream::pair().unwrap();
            ///     let parts = [IoSlice::new(b"head"), IoSlice::new(b"er|"), IoSlice::new(b"body")];
            ///     let written = a.write_vectored(&parts).await.unwrap();
            ///     assert_eq!(written, 11); // a short write is possible in general; not into an empty socket
            ///     let mut buf = [0; 11];
            ///     b.read_exact(&mut buf).await.unwrap();
            ///     assert_eq!(&buf, b"header|body");
            /// });
            /// ```
            #[track_caller]
            pub fn write_vectored<'a>(
                &'a self,
                bufs: &'a [std::io::IoSlice<'a>],
            ) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
                let wait = $crate::net::source::Wait::here($crate::cell::Op::$write_op);
                std::future::poll_fn(move |cx| self.poll_write_vectored_with(cx, bufs, wait))
            }

            /// Writes all of `buf`. A closed peer gives `BrokenPipe` (never `SIGPIPE`). Not cancel-safe: part of
            /// the buffer may have been written when the future is dropped.
            ///
            /// ```
            /// // Every weft stream has this method; a Unix pair keeps the example short.
            /// use weft::net::UnixStream;
            ///
            /// weft::run(async {
            ///     let (a, b) = UnixStream::pair().unwrap();
            ///     let reader = weft::spawn(async move {
            ///         let mut all = vec![0; 1 << 20];
            ///         b.read_exact(&mut all).await.unwrap();
            ///         all
            ///     });
            ///     let message = vec![7u8; 1 << 20]; // more than the socket buffer holds at once
            ///     a.write_all(&message).await.unwrap();
            ///     assert_eq!(reader.await.unwrap(), message);
            ///
            ///     // `b` is gone now: writing gives BrokenPipe, and the process gets no SIGPIPE.
            ///     let error = a.write_all(b"anyone?").await.unwrap_err();
            ///     assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
            /// });
            /// ```
            #[track_caller]
            pub fn write_all<'a>(
                &'a self,
                buf: &'a [u8],
            ) -> impl std::future::Future<Output = std::io::Result<()>> + 'a {
                let wait = $crate::net::source::Wait::here($crate::cell::Op::$write_op);
                async move {
                    let mut buf = buf;
                    while !buf.is_empty() {
                        let written =
                            std::future::poll_fn(|cx| self.poll_write_with(cx, buf, wait)).await?;
                        match written {
                            0 => return Err(std::io::ErrorKind::WriteZero.into()),
                            written => buf = &buf[written..],
                        }
                    }
                    Ok(())
                }
            }

            /// Reads into `buf` without removing the data from the socket.
            ///
            /// ```
            /// // Every weft stream has this method; a Unix pair keeps the example short.
            /// use weft::net::UnixStream;
            ///
            /// weft::run(async {
            ///     let (a, b) = UnixStream::pair().unwrap();
            ///     a.write_all(b"GET /").await.unwrap();
            ///     let mut head = [0; 3];
            ///     let peeked = b.peek(&mut head).await.unwrap();
            ///     assert_eq!(&head[..peeked], &b"GET"[..peeked]);
            ///     let mut all = [0; 5];
            ///     b.read_exact(&mut all).await.unwrap(); // the peeked bytes are still there
            ///     assert_eq!(&all, b"GET /");
            /// });
            /// ```
            #[track_caller]
            pub fn peek<'a>(
                &'a self,
                buf: &'a mut [u8],
            ) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
                let wait = $crate::net::source::Wait::here($crate::cell::Op::$read_op);
                std::future::poll_fn(move |cx| {
                    self.source
                        .poll_io(cx, $crate::driver::Direction::Read, wait, |socket| {
                            $crate::sys::socket::peek(std::os::fd::AsFd::as_fd(socket), buf)
                        })
                })
            }

            /// Polls a read through a shared reference (what the `AsyncRead` impls call). The caller's line is
            /// not known on this path: the bookmark shows this line, and the label names the read.
            fn poll_read_ref(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let wait = $crate::net::source::Wait::here($crate::cell::Op::$read_op);
                self.poll_read_with(cx, buf, wait)
            }

            /// Polls a write through a shared reference (what the `AsyncWrite` impls call); bookmarks as
            /// [`poll_read_ref`](Self::poll_read_ref) does.
            fn poll_write_ref(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let wait = $crate::net::source::Wait::here($crate::cell::Op::$write_op);
                self.poll_write_with(cx, buf, wait)
            }

            /// Polls a vectored write through a shared reference (what the `AsyncWrite` impls call).
            fn poll_write_vectored_ref(
                &self,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let wait = $crate::net::source::Wait::here($crate::cell::Op::$write_op);
                self.poll_write_vectored_with(cx, bufs, wait)
            }

            /// Polls a read, bookmarking `wait` while it waits.
            fn poll_read_with(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
                wait: $crate::net::source::Wait,
            ) -> std::task::Poll<std::io::Result<usize>> {
                let want = buf.len();
                self.source.poll_transfer(
                    cx,
                    $crate::driver::Direction::Read,
                    want,
                    wait,
                    |socket| $crate::sys::socket::read(std::os::fd::AsFd::as_fd(socket), buf),
                )
            }

            /// Polls a write, bookmarking `wait` while it waits.
            fn poll_write_with(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
                wait: $crate::net::source::Wait,
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.source.poll_transfer(
                    cx,
                    $crate::driver::Direction::Write,
                    buf.len(),
                    wait,
                    |socket| $crate::sys::socket::send(std::os::fd::AsFd::as_fd(socket), buf),
                )
            }

            /// Polls a vectored write, bookmarking `wait` while it waits.
            fn poll_write_vectored_with(
                &self,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
                wait: $crate::net::source::Wait,
            ) -> std::task::Poll<std::io::Result<usize>> {
                let want = bufs.iter().map(|buf| buf.len()).sum();
                self.source.poll_transfer(
                    cx,
                    $crate::driver::Direction::Write,
                    want,
                    wait,
                    |socket| {
                        $crate::sys::socket::send_vectored(std::os::fd::AsFd::as_fd(socket), bufs)
                    },
                )
            }
        }
    };
}
use impl_stream_methods;
