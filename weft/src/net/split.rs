//! Halves of a stream: borrowed ([`ReadHalf`], [`WriteHalf`]) and owned ([`OwnedReadHalf`], [`OwnedWriteHalf`]).
//!
//! A stream's reader and writer wait on the driver independently, so the halves can live in different tasks.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::stream::{IoStream, StreamSocket};
use super::TcpStream;

/// A stream whose halves can be split off: an [`IoStream`] ([`TcpStream`], [`UnixStream`](super::UnixStream)).
/// Sealed; the halves reach the stream's methods through it, so theirs are written once for every kind of stream.
///
/// ```
/// use weft::io::AsyncWriteExt;
/// use weft::net::UnixStream;
///
/// weft::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let (_reader, mut writer) = a.into_split();
///     writer.close().await.unwrap(); // shuts down the write side
///     assert_eq!(b.read(&mut [0; 1]).await.unwrap(), 0); // the peer reads end of stream
/// });
/// ```
pub trait Stream {
    /// The standard socket under the stream.
    type Socket: StreamSocket;

    /// The stream itself.
    fn io(&self) -> &IoStream<Self::Socket>;

    /// Shuts down the write side (the peer reads end of stream).
    fn shutdown_write(&self) -> io::Result<()> {
        self.io().shutdown(Shutdown::Write)
    }
}

/// The reading half of a borrowed stream, from [`IoStream::split`]. Implements [`AsyncRead`], and has the
/// stream's `read`, `read_exact` and `peek` as inherent methods taking `&self`: a task parked in one shows the
/// line that awaits it, as with the stream's own.
///
/// ```
/// use weft::net::{ReadHalf, UnixStream};
///
/// weft::run(async {
///     let (mut a, b) = UnixStream::pair().unwrap();
///     let (mut reader, _writer): (ReadHalf<'_, UnixStream>, _) = a.split();
///     b.write_all(b"read me").await.unwrap();
///     drop(b);
///     let mut received = Vec::new();
///     weft::io::copy(&mut reader, &mut received).await.unwrap(); // until end of stream
///     assert_eq!(received, b"read me");
/// });
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a, S = TcpStream>(&'a S);

/// The writing half of a borrowed stream, from [`IoStream::split`]. Closing it shuts down the write side.
/// Implements [`AsyncWrite`], and has the stream's `write`, `write_vectored` and `write_all` as inherent methods
/// taking `&self`: a task parked in one shows the line that awaits it, as with the stream's own.
///
/// ```
/// use weft::io::AsyncWriteExt;
/// use weft::net::{UnixStream, WriteHalf};
///
/// weft::run(async {
///     let (mut a, b) = UnixStream::pair().unwrap();
///     let (_reader, mut writer): (_, WriteHalf<'_, UnixStream>) = a.split();
///     writer.write_all(b"written").await.unwrap();
///     writer.close().await.unwrap();
///     let mut buf = [0; 7];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"written");
///     assert_eq!(b.read(&mut buf).await.unwrap(), 0); // closed: end of stream
/// });
/// ```
#[derive(Debug)]
pub struct WriteHalf<'a, S = TcpStream>(&'a S);

/// The reading half of an owned stream, from [`IoStream::into_split`]: `'static` and `Send`. Has the same
/// methods as a [`ReadHalf`].
///
/// ```
/// use weft::io::AsyncReadExt;
/// use weft::net::{OwnedReadHalf, UnixStream};
///
/// weft::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let (mut reader, _writer) = a.into_split();
///     let task = weft::spawn(async move {
///         let mut text = String::new();
///         reader.read_to_string(&mut text).await.unwrap();
///         (text, reader) // a half can be handed back, too
///     });
///     b.write_all(b"in a task").await.unwrap();
///     drop(b);
///     let (text, _reader): (String, OwnedReadHalf<UnixStream>) = task.await.unwrap();
///     assert_eq!(text, "in a task");
/// });
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf<S: Stream = TcpStream>(Arc<S>);

/// The writing half of an owned stream, from [`IoStream::into_split`]: `'static` and `Send`. Dropping it shuts
/// down the write side, so the peer reads EOF. Has the same methods as a [`WriteHalf`].
///
/// ```
/// use weft::net::{OwnedWriteHalf, UnixStream};
///
/// weft::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let (_reader, writer): (_, OwnedWriteHalf<UnixStream>) = a.into_split();
///     std::thread::spawn(move || {
///         // Send: the half can go to another thread, and its own runtime.
///         weft::run(async move {
///             writer.write_all(b"from a thread").await.unwrap();
///         }); // dropped here: the write side shuts down
///     })
///     .join()
///     .unwrap();
///     let mut buf = [0; 13];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"from a thread");
///     assert_eq!(b.read(&mut buf).await.unwrap(), 0);
/// });
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf<S: Stream = TcpStream> {
    /// The shared stream.
    stream: Arc<S>,
    /// Whether the write side was shut down already.
    shut_down: bool,
}

impl<'a, S> ReadHalf<'a, S> {
    /// Wraps a borrowed stream.
    pub(crate) fn new(stream: &'a S) -> ReadHalf<'a, S> {
        ReadHalf(stream)
    }
}

impl<'a, S> WriteHalf<'a, S> {
    /// Wraps a borrowed stream.
    pub(crate) fn new(stream: &'a S) -> WriteHalf<'a, S> {
        WriteHalf(stream)
    }
}

impl<S: Stream> OwnedReadHalf<S> {
    /// Wraps a shared stream.
    pub(crate) fn new(stream: Arc<S>) -> OwnedReadHalf<S> {
        OwnedReadHalf(stream)
    }

    /// Puts the halves back together; `Err` gives them back if they came from different streams.
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let (a_reader, a_writer) = a.into_split();
    ///     let (b_reader, b_writer) = b.into_split();
    ///     // Halves of different streams do not reunite.
    ///     let (a_reader, b_writer) = a_reader.reunite(b_writer).unwrap_err();
    ///     let a = a_reader.reunite(a_writer).unwrap();
    ///     let b = b_reader.reunite(b_writer).unwrap();
    ///     a.write_all(b"whole again").await.unwrap(); // reuniting shut nothing down
    ///     let mut buf = [0; 11];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"whole again");
    /// });
    /// ```
    pub fn reunite(
        self,
        write: OwnedWriteHalf<S>,
    ) -> Result<S, (OwnedReadHalf<S>, OwnedWriteHalf<S>)> {
        if !Arc::ptr_eq(&self.0, &write.stream) {
            return Err((self, write));
        }
        let mut write = write;
        write.shut_down = true; // reuniting must not shut anything down
        let stream = write.stream.clone();
        drop(write);
        drop(self);
        Ok(Arc::into_inner(stream).expect("both halves were given up"))
    }
}

impl<S: Stream> OwnedWriteHalf<S> {
    /// Wraps a shared stream.
    pub(crate) fn new(stream: Arc<S>) -> OwnedWriteHalf<S> {
        OwnedWriteHalf {
            stream,
            shut_down: false,
        }
    }
}

impl<S: Stream> AsRef<S> for OwnedReadHalf<S> {
    fn as_ref(&self) -> &S {
        &self.0
    }
}

impl<S: Stream> AsRef<S> for OwnedWriteHalf<S> {
    fn as_ref(&self) -> &S {
        &self.stream
    }
}

impl<S: Stream> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        if !self.shut_down {
            let _ = self.stream.shutdown_write();
        }
    }
}

/// Forwards `AsyncRead` to `&S`.
fn poll_read_through<S>(stream: &S, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>
where
    for<'b> &'b S: AsyncRead,
{
    let mut stream = stream;
    Pin::new(&mut stream).poll_read(cx, buf)
}

/// Forwards `AsyncWrite::poll_write` to `&S`.
fn poll_write_through<S>(stream: &S, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>
where
    for<'b> &'b S: AsyncWrite,
{
    let mut stream = stream;
    Pin::new(&mut stream).poll_write(cx, buf)
}

/// Forwards `AsyncWrite::poll_write_vectored` to `&S`.
fn poll_write_vectored_through<S>(
    stream: &S,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>>
where
    for<'b> &'b S: AsyncWrite,
{
    let mut stream = stream;
    Pin::new(&mut stream).poll_write_vectored(cx, bufs)
}

impl<S> AsyncRead for ReadHalf<'_, S>
where
    for<'b> &'b S: AsyncRead,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read_through(self.0, cx, buf)
    }
}

impl<S: Stream> AsyncRead for OwnedReadHalf<S>
where
    for<'b> &'b S: AsyncRead,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read_through(&*self.0, cx, buf)
    }
}

impl<S: Stream> AsyncWrite for WriteHalf<'_, S>
where
    for<'b> &'b S: AsyncWrite,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write_through(self.0, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        poll_write_vectored_through(self.0, cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.shutdown_write())
    }
}

impl<S: Stream> AsyncWrite for OwnedWriteHalf<S>
where
    for<'b> &'b S: AsyncWrite,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write_through(&*self.stream, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        poll_write_vectored_through(&*self.stream, cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shut_down = true;
        Poll::Ready(self.stream.shutdown_write())
    }
}

impl<S: Stream> AsRef<S> for ReadHalf<'_, S> {
    fn as_ref(&self) -> &S {
        self.0
    }
}

impl<S: Stream> AsRef<S> for WriteHalf<'_, S> {
    fn as_ref(&self) -> &S {
        self.0
    }
}

// The halves' own methods: each is `#[track_caller]` and calls the stream's (also `#[track_caller]`), so the
// caller's line reaches the stream's bookmark — the line that awaits the half, with the stream's operation.

impl<'a, S: Stream> ReadHalf<'a, S> {
    /// [`IoStream::read`] on the stream this half reads from: waits until some data is available; `Ok(0)` means
    /// the peer closed its side. Cancel-safe.
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (mut a, b) = UnixStream::pair().unwrap();
    ///     let (reader, _writer) = a.split();
    ///     b.write_all(b"hello").await.unwrap();
    ///     drop(b); // the peer closes
    ///     let mut buf = [0; 16];
    ///     let read = reader.read(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..read], b"hello");
    ///     assert_eq!(reader.read(&mut buf).await.unwrap(), 0); // end of stream
    /// });
    /// ```
    #[track_caller]
    pub fn read<'b>(&'b self, buf: &'b mut [u8]) -> impl Future<Output = io::Result<usize>> + 'b {
        self.0.io().read(buf)
    }

    /// [`IoStream::read_exact`] on the stream this half reads from: exactly `buf.len()` bytes, or
    /// `UnexpectedEof`. Not cancel-safe.
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (mut a, b) = UnixStream::pair().unwrap();
    ///     let (reader, _writer) = a.split();
    ///     b.write_all(b"12345").await.unwrap();
    ///     drop(b);
    ///     let mut four = [0; 4];
    ///     reader.read_exact(&mut four).await.unwrap();
    ///     assert_eq!(&four, b"1234");
    ///     let error = reader.read_exact(&mut four).await.unwrap_err(); // one byte, then the end
    ///     assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    /// });
    /// ```
    #[track_caller]
    pub fn read_exact<'b>(
        &'b self,
        buf: &'b mut [u8],
    ) -> impl Future<Output = io::Result<()>> + 'b {
        self.0.io().read_exact(buf)
    }

    /// [`IoStream::peek`] on the stream this half reads from: reads without removing the data.
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (mut a, b) = UnixStream::pair().unwrap();
    ///     let (reader, _writer) = a.split();
    ///     b.write_all(b"GET /").await.unwrap();
    ///     let mut head = [0; 3];
    ///     let peeked = reader.peek(&mut head).await.unwrap();
    ///     assert_eq!(&head[..peeked], &b"GET"[..peeked]);
    ///     let mut all = [0; 5];
    ///     reader.read_exact(&mut all).await.unwrap(); // the peeked bytes are still there
    ///     assert_eq!(&all, b"GET /");
    /// });
    /// ```
    #[track_caller]
    pub fn peek<'b>(&'b self, buf: &'b mut [u8]) -> impl Future<Output = io::Result<usize>> + 'b {
        self.0.io().peek(buf)
    }
}

impl<S: Stream> OwnedReadHalf<S> {
    /// [`IoStream::read`] on the stream this half reads from, as [`ReadHalf::read`].
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let (reader, _writer) = a.into_split();
    ///     b.write_all(b"hello").await.unwrap();
    ///     let mut buf = [0; 16];
    ///     let read = reader.read(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..read], b"hello");
    /// });
    /// ```
    #[track_caller]
    pub fn read<'b>(&'b self, buf: &'b mut [u8]) -> impl Future<Output = io::Result<usize>> + 'b {
        self.0.io().read(buf)
    }

    /// [`IoStream::read_exact`] on the stream this half reads from, as [`ReadHalf::read_exact`].
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let (reader, _writer) = a.into_split();
    ///     b.write_all(b"1234").await.unwrap();
    ///     let mut four = [0; 4];
    ///     reader.read_exact(&mut four).await.unwrap();
    ///     assert_eq!(&four, b"1234");
    /// });
    /// ```
    #[track_caller]
    pub fn read_exact<'b>(
        &'b self,
        buf: &'b mut [u8],
    ) -> impl Future<Output = io::Result<()>> + 'b {
        self.0.io().read_exact(buf)
    }

    /// [`IoStream::peek`] on the stream this half reads from, as [`ReadHalf::peek`].
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let (reader, _writer) = a.into_split();
    ///     b.write_all(b"GET").await.unwrap();
    ///     let mut head = [0; 3];
    ///     let peeked = reader.peek(&mut head).await.unwrap();
    ///     assert_eq!(&head[..peeked], &b"GET"[..peeked]);
    /// });
    /// ```
    #[track_caller]
    pub fn peek<'b>(&'b self, buf: &'b mut [u8]) -> impl Future<Output = io::Result<usize>> + 'b {
        self.0.io().peek(buf)
    }
}

impl<'a, S: Stream> WriteHalf<'a, S> {
    /// [`IoStream::write`] on the stream this half writes to: writes some of `buf`, returns how much.
    /// Cancel-safe.
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (mut a, b) = UnixStream::pair().unwrap();
    ///     let (_reader, writer) = a.split();
    ///     let written = writer.write(b"some bytes").await.unwrap();
    ///     assert!(written > 0); // possibly fewer than asked: loop, or use write_all
    ///     let mut buf = [0; 16];
    ///     b.read_exact(&mut buf[..written]).await.unwrap();
    ///     assert_eq!(&buf[..written], &b"some bytes"[..written]);
    /// });
    /// ```
    #[track_caller]
    pub fn write<'b>(&'b self, buf: &'b [u8]) -> impl Future<Output = io::Result<usize>> + 'b {
        self.0.io().write(buf)
    }

    /// [`IoStream::write_vectored`] on the stream this half writes to.
    ///
    /// ```
    /// use std::io::IoSlice;
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (mut a, b) = UnixStream::pair().unwrap();
    ///     let (_reader, writer) = a.split();
    ///     let parts = [IoSlice::new(b"head"), IoSlice::new(b"er|"), IoSlice::new(b"body")];
    ///     let written = writer.write_vectored(&parts).await.unwrap();
    ///     assert_eq!(written, 11); // a short write is possible in general; not into an empty socket
    ///     let mut buf = [0; 11];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"header|body");
    /// });
    /// ```
    #[track_caller]
    pub fn write_vectored<'b>(
        &'b self,
        bufs: &'b [IoSlice<'b>],
    ) -> impl Future<Output = io::Result<usize>> + 'b {
        self.0.io().write_vectored(bufs)
    }

    /// [`IoStream::write_all`] on the stream this half writes to. Not cancel-safe.
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (mut a, b) = UnixStream::pair().unwrap();
    ///     let (_reader, writer) = a.split();
    ///     let peer = weft::spawn(async move {
    ///         let mut all = vec![0; 1 << 20];
    ///         b.read_exact(&mut all).await.unwrap();
    ///         all
    ///     });
    ///     let message = vec![7u8; 1 << 20]; // more than the socket buffer holds at once
    ///     writer.write_all(&message).await.unwrap();
    ///     assert_eq!(peer.await.unwrap(), message);
    ///
    ///     // `b` is gone now: writing gives BrokenPipe, and the process gets no SIGPIPE.
    ///     let error = writer.write_all(b"anyone?").await.unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
    /// });
    /// ```
    #[track_caller]
    pub fn write_all<'b>(&'b self, buf: &'b [u8]) -> impl Future<Output = io::Result<()>> + 'b {
        self.0.io().write_all(buf)
    }
}

impl<S: Stream> OwnedWriteHalf<S> {
    /// [`IoStream::write`] on the stream this half writes to, as [`WriteHalf::write`].
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let (_reader, writer) = a.into_split();
    ///     let written = writer.write(b"some bytes").await.unwrap();
    ///     let mut buf = [0; 16];
    ///     b.read_exact(&mut buf[..written]).await.unwrap();
    ///     assert_eq!(&buf[..written], &b"some bytes"[..written]);
    /// });
    /// ```
    #[track_caller]
    pub fn write<'b>(&'b self, buf: &'b [u8]) -> impl Future<Output = io::Result<usize>> + 'b {
        self.stream.io().write(buf)
    }

    /// [`IoStream::write_vectored`] on the stream this half writes to, as [`WriteHalf::write_vectored`].
    ///
    /// ```
    /// use std::io::IoSlice;
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let (_reader, writer) = a.into_split();
    ///     let written = writer.write_vectored(&[IoSlice::new(b"a"), IoSlice::new(b"b")]).await.unwrap();
    ///     assert_eq!(written, 2);
    ///     let mut buf = [0; 2];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"ab");
    /// });
    /// ```
    #[track_caller]
    pub fn write_vectored<'b>(
        &'b self,
        bufs: &'b [IoSlice<'b>],
    ) -> impl Future<Output = io::Result<usize>> + 'b {
        self.stream.io().write_vectored(bufs)
    }

    /// [`IoStream::write_all`] on the stream this half writes to, as [`WriteHalf::write_all`].
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let (_reader, writer) = a.into_split();
    ///     writer.write_all(b"all of it").await.unwrap();
    ///     drop(writer); // shuts down the write side
    ///     let mut buf = Vec::new();
    ///     let mut b = &b;
    ///     weft::io::copy(&mut b, &mut buf).await.unwrap();
    ///     assert_eq!(buf, b"all of it");
    /// });
    /// ```
    #[track_caller]
    pub fn write_all<'b>(&'b self, buf: &'b [u8]) -> impl Future<Output = io::Result<()>> + 'b {
        self.stream.io().write_all(buf)
    }
}
