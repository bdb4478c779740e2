//! [`IoStream`]: a connected stream socket — [`TcpStream`](super::TcpStream) and
//! [`UnixStream`](super::UnixStream) are its two kinds, and everything they share is written here once: the
//! `read`/`write` family, the `futures-io` traits (also through `&`), halves, `from_std`/`into_std`, `shutdown`.
//!
//! # Invariants
//! 1. Every method that can wait is `#[track_caller]` and makes its bookmark ([`Wait`]) when its future is made,
//!    so a task parked in it shows the line of the user's call, through a split half too.
//! 2. The socket is non-blocking from construction to [`into_std`](IoStream::into_std), which leaves it so.
//!
//! References: async-io's `Async<T>` (one generic wrapper, its `read_with`/`write_with` helpers).

use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::source::{Source, Wait};
use super::split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, Stream, WriteHalf};
use crate::cell::Op;
use crate::driver::Direction;
use crate::sys::socket;

/// A standard library stream socket that an [`IoStream`] drives: `std::net::TcpStream` or
/// `std::os::unix::net::UnixStream`. Sealed: the `Op`s name the stream's reads and writes in a bookmark.
#[allow(
    private_interfaces,
    reason = "sealed: outside the crate nobody can name or implement the trait, so nobody meets `Op`"
)]
pub trait StreamSocket: AsFd + From<OwnedFd> + fmt::Debug + Send + Sync + 'static {
    /// What a task waiting to read shows ("TcpStream::read").
    #[doc(hidden)]
    const READ: Op;
    /// What a task waiting to write shows ("TcpStream::write").
    #[doc(hidden)]
    const WRITE: Op;

    /// `set_nonblocking` of the standard type.
    fn set_nonblocking_socket(&self, nonblocking: bool) -> io::Result<()>;

    /// `shutdown` of the standard type.
    fn shutdown_socket(&self, how: Shutdown) -> io::Result<()>;
}

/// A connected stream socket on the loop's reactor; [`TcpStream`](super::TcpStream) is
/// `IoStream<std::net::TcpStream>` and [`UnixStream`](super::UnixStream) is
/// `IoStream<std::os::unix::net::UnixStream>`. Implements [`AsyncRead`](crate::io::AsyncRead) and
/// [`AsyncWrite`](crate::io::AsyncWrite), also through `&IoStream`, and has inherent `read`, `read_exact`, `peek`,
/// `write`, `write_vectored` and `write_all` taking `&self`, so one task can read while another writes.
///
/// ```
/// use weft::net::{IoStream, UnixStream};
///
/// weft::run(async {
///     let (a, b): (UnixStream, IoStream<std::os::unix::net::UnixStream>) = UnixStream::pair().unwrap();
///     a.write_all(b"one type").await.unwrap();
///     let mut buf = [0; 8];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"one type");
/// });
/// ```
pub struct IoStream<T: StreamSocket> {
    /// The connected socket.
    pub(crate) source: Source<T>,
}

impl<T: StreamSocket> IoStream<T> {
    /// Wraps a connected non-blocking socket.
    pub(crate) fn from_nonblocking(socket: T) -> IoStream<T> {
        IoStream {
            source: Source::new(socket),
        }
    }

    /// Wraps a standard stream (made non-blocking here). It registers with the loop that first uses it.
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream, UnixStream};
    ///
    /// let (std_a, std_b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// weft::run(async {
    ///     let a = UnixStream::from_std(std_a).unwrap();
    ///     let b = UnixStream::from_std(std_b).unwrap();
    ///     b.write_all(b"adopted").await.unwrap();
    ///     let mut buf = [0; 7];
    ///     a.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"adopted");
    ///
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     // A blocking connect to a local listener returns at once.
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     let client = TcpStream::from_std(std_stream).unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     client.write_all(b"adopted").await.unwrap();
    ///     server.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"adopted");
    /// });
    /// ```
    pub fn from_std(stream: T) -> io::Result<IoStream<T>> {
        stream.set_nonblocking_socket(true)?;
        Ok(IoStream::from_nonblocking(stream))
    }

    /// Gives the standard stream back, **still non-blocking** (as tokio's `into_std`): call
    /// `set_nonblocking(false)` before blocking reads on it. The stream leaves its loop's reactor; data the kernel
    /// holds stays there, and [`from_std`](Self::from_std) adopts the socket again on any loop.
    ///
    /// The socket keeps its descriptor number; round trips may repeat, on the same loop or another.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     a.write_all(b"async").await.unwrap();
    ///     let mut buf = [0; 5];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     let mut b = b.into_std().unwrap();
    ///     b.set_nonblocking(false).unwrap(); // it comes back non-blocking
    ///     b.write_all(b"blocking").unwrap();
    ///     let mut buf = [0; 8];
    ///     a.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"blocking");
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<T> {
        // With completion I/O, a read that was dropped midway may have taken bytes from the kernel: they cannot
        // go back, so the stream refuses to leave rather than lose them.
        let (unread, unsent) = self
            .source
            .with_completion_key(|driver, key, shared| driver.settle_stream(key, &shared.eventfd))
            .unwrap_or((0, false));
        if unread > 0 {
            return Err(io::Error::other(format!(
                "weft: into_std: {unread} bytes already received are unread; read them first"
            )));
        }
        if unsent {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "weft: into_std: the peer took none of the bytes written for a second; flush first",
            ));
        }
        self.source.into_inner()
    }

    /// Shuts down the read side, the write side (the peer reads end of stream), or both. On a connection the peer
    /// has already reset or closed this succeeds: there is nothing left to shut down (`NotConnected` is not an
    /// error here).
    ///
    /// ```
    /// use weft::net::{Shutdown, UnixStream};
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     a.write_all(b"last words").await.unwrap();
    ///     a.shutdown(Shutdown::Write).unwrap();
    ///     let mut buf = [0; 10];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(b.read(&mut buf).await.unwrap(), 0); // end of stream
    ///     b.write_all(b"reply").await.unwrap(); // the other direction still works
    ///     a.read_exact(&mut buf[..5]).await.unwrap();
    ///     assert_eq!(&buf[..5], b"reply");
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        // With completion I/O, bytes written may not have left yet: the write side shuts after them.
        let after_sends = how != Shutdown::Read
            && self
                .source
                .with_completion_key(|driver, key, _| driver.stream_shutdown_after_sends(key))
                .unwrap_or(false);
        let how = match (after_sends, how) {
            (false, how) => how,
            (true, Shutdown::Write) => return Ok(()),
            (true, _) => Shutdown::Read,
        };
        match self.source.get_ref().shutdown_socket(how) {
            Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(()),
            result => result,
        }
    }

    /// Borrowed halves: read in one task and write in another without moving the stream. This is what
    /// `stream.split()` means, also with [`weft::io::AsyncReadExt`](crate::io::AsyncReadExt) in scope (weft's
    /// extension trait has no by-value `split`).
    ///
    /// ```
    /// use weft::io::{AsyncReadExt, AsyncWriteExt};
    /// use weft::net::{ReadHalf, TcpListener, TcpStream, WriteHalf};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let server = weft::spawn(async move {
    ///         let (mut stream, _) = listener.accept().await.unwrap();
    ///         let (mut reader, mut writer) = stream.split();
    ///         weft::io::copy(&mut reader, &mut writer).await.unwrap() // echo until end of stream
    ///     });
    ///     let (mut reader, mut writer): (ReadHalf<'_>, WriteHalf<'_>) = client.split();
    ///     writer.write_all(b"echo me").await.unwrap();
    ///     writer.close().await.unwrap(); // shuts down the write side
    ///     let mut echoed = Vec::new();
    ///     reader.read_to_end(&mut echoed).await.unwrap();
    ///     assert_eq!(echoed, b"echo me");
    ///     assert_eq!(server.await.unwrap(), 7);
    /// });
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_, IoStream<T>>, WriteHalf<'_, IoStream<T>>) {
        (ReadHalf::new(self), WriteHalf::new(self))
    }

    /// Owned halves: `'static` and `Send`, for tasks or threads of their own. Dropping the write half shuts down
    /// the write side; [`OwnedReadHalf::reunite`] puts them back together.
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let (reader, writer) = client.into_split();
    ///     let sender = weft::spawn(async move {
    ///         writer.write_all(b"from a task of its own").await.unwrap();
    ///         // `writer` is dropped here: the server reads end of stream.
    ///     });
    ///     let mut text = String::new();
    ///     let mut server_side = &server;
    ///     server_side.read_to_string(&mut text).await.unwrap();
    ///     assert_eq!(text, "from a task of its own");
    ///     sender.await.unwrap();
    ///     server.write_all(b"bye").await.unwrap();
    ///     let mut reply = [0; 3];
    ///     reader.read_exact(&mut reply).await.unwrap();
    ///     assert_eq!(&reply, b"bye");
    /// });
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf<IoStream<T>>, OwnedWriteHalf<IoStream<T>>) {
        let stream = Arc::new(self);
        (
            OwnedReadHalf::new(stream.clone()),
            OwnedWriteHalf::new(stream),
        )
    }

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
    pub fn read<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        let wait = Wait::here(T::READ);
        poll_fn(move |cx| self.poll_read_with(cx, buf, wait))
    }

    /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the peer closes first. Not cancel-safe: bytes read
    /// before the future is dropped are lost.
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
    ) -> impl Future<Output = io::Result<()>> + 'a {
        let wait = Wait::here(T::READ);
        async move {
            let mut filled = 0;
            while filled < buf.len() {
                let read = poll_fn(|cx| self.poll_read_with(cx, &mut buf[filled..], wait)).await?;
                match read {
                    0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                    read => filled += read,
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
    pub fn peek<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        let wait = Wait::here(T::READ);
        poll_fn(move |cx| {
            if self.source.completion_streams() {
                return self.source.poll_completion(cx, wait, |driver, key, cx| {
                    driver.poll_stream_read(key, cx, buf, false)
                });
            }
            self.source.poll_io(cx, Direction::Read, wait, |stream| {
                socket::peek(stream.as_fd(), buf)
            })
        })
    }

    /// Writes some of `buf`, waiting until the socket can take data; returns how much was written.
    /// Cancel-safe: if the future is dropped, nothing was written.
    ///
    /// On the io_uring driver the bytes are copied and handed to the kernel with the loop's next turn, together
    /// with every other write of that turn (one `send` per stream): they are sent, in order, even if the stream
    /// is dropped right after; a connection that fails returns its error from the next write, and
    /// [`flush`](crate::io::AsyncWriteExt::flush) waits until they have left. Code that blocks the loop's thread
    /// right after writing (a blocking call inside a task) should flush first.
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
    pub fn write<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        let wait = Wait::here(T::WRITE);
        poll_fn(move |cx| self.poll_write_with(cx, buf, wait))
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
        bufs: &'a [IoSlice<'a>],
    ) -> impl Future<Output = io::Result<usize>> + 'a {
        let wait = Wait::here(T::WRITE);
        poll_fn(move |cx| self.poll_write_vectored_with(cx, bufs, wait))
    }

    /// Writes all of `buf`. A closed peer gives `BrokenPipe` (never `SIGPIPE`) — on io_uring, where writes
    /// leave with the loop's next turn, from the next write or from `flush`. Not cancel-safe: part of the buffer
    /// may have been written when the future is dropped.
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
    ///     use weft::io::AsyncWriteExt;
    ///     let written = async { a.write_all(b"anyone?").await?; (&a).flush().await };
    ///     assert_eq!(written.await.unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
    /// });
    /// ```
    #[track_caller]
    pub fn write_all<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + 'a {
        let wait = Wait::here(T::WRITE);
        async move {
            let mut buf = buf;
            while !buf.is_empty() {
                let written = poll_fn(|cx| self.poll_write_with(cx, buf, wait)).await?;
                match written {
                    0 => return Err(io::ErrorKind::WriteZero.into()),
                    written => buf = &buf[written..],
                }
            }
            Ok(())
        }
    }

    /// Polls a read, bookmarking `wait` while it waits.
    fn poll_read_with(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        wait: Wait,
    ) -> Poll<io::Result<usize>> {
        if self.source.completion_streams() {
            return self.source.poll_completion(cx, wait, |driver, key, cx| {
                driver.poll_stream_read(key, cx, buf, true)
            });
        }
        let want = buf.len();
        self.source
            .poll_transfer(cx, Direction::Read, want, wait, |stream| {
                socket::read(stream.as_fd(), buf)
            })
    }

    /// Polls a write, bookmarking `wait` while it waits.
    fn poll_write_with(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        wait: Wait,
    ) -> Poll<io::Result<usize>> {
        if self.source.completion_streams() {
            return self.source.poll_completion(cx, wait, |driver, key, cx| {
                driver.poll_stream_write(key, cx, &[IoSlice::new(buf)])
            });
        }
        self.source
            .poll_transfer(cx, Direction::Write, buf.len(), wait, |stream| {
                socket::send(stream.as_fd(), buf)
            })
    }

    /// Polls until every byte written has left (completion I/O sends them with the loop's next park; with
    /// readiness a write that returned is already in the kernel).
    fn poll_flush_with(&self, cx: &mut Context<'_>, wait: Wait) -> Poll<io::Result<()>> {
        if self.source.completion_streams() {
            return self.source.poll_completion(cx, wait, |driver, key, cx| {
                driver.poll_stream_flush(key, cx)
            });
        }
        Poll::Ready(Ok(()))
    }

    /// Polls a vectored write, bookmarking `wait` while it waits.
    fn poll_write_vectored_with(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        wait: Wait,
    ) -> Poll<io::Result<usize>> {
        if self.source.completion_streams() {
            return self.source.poll_completion(cx, wait, |driver, key, cx| {
                driver.poll_stream_write(key, cx, bufs)
            });
        }
        let want = bufs.iter().map(|buf| buf.len()).sum();
        self.source
            .poll_transfer(cx, Direction::Write, want, wait, |stream| {
                socket::send_vectored(stream.as_fd(), bufs)
            })
    }
}

impl<T: StreamSocket> Stream for IoStream<T> {
    type Socket = T;

    fn io(&self) -> &IoStream<T> {
        self
    }
}

impl<T: StreamSocket> AsRawFd for IoStream<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_fd().as_raw_fd()
    }
}

impl<T: StreamSocket> AsFd for IoStream<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.get_ref().as_fd()
    }
}

// The traits go through `&IoStream`, so the owned and borrowed impls below are one body each. Through a trait the
// caller's line is unknown: the bookmark shows the line here, and the label still names the operation.

impl<T: StreamSocket> AsyncRead for &IoStream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_with(cx, buf, Wait::here(T::READ))
    }
}

impl<T: StreamSocket> AsyncWrite for &IoStream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, buf, Wait::here(T::WRITE))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_with(cx, bufs, Wait::here(T::WRITE))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush_with(cx, Wait::here(T::WRITE))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_flush_with(cx, Wait::here(T::WRITE)))?;
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

impl<T: StreamSocket> AsyncRead for IoStream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self).poll_read(cx, buf)
    }
}

impl<T: StreamSocket> AsyncWrite for IoStream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self).poll_close(cx)
    }
}
