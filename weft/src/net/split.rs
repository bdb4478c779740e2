//! Halves of a stream: borrowed ([`ReadHalf`], [`WriteHalf`]) and owned ([`OwnedReadHalf`], [`OwnedWriteHalf`]).
//!
//! A stream's reader and writer wait on the driver independently, so the halves can live in different tasks.
//! Borrowed and owned halves are one pair of types, [`ReadSide`] and [`WriteSide`], generic over how they hold
//! the stream (`&S`, or a shared `Arc<S>` for owned halves), so every method and trait of a half is written once.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::ops::Deref;
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

/// How a half holds its stream: borrowed (`&S`, the halves of [`IoStream::split`]) or shared (`Arc<S>`, the
/// owned halves of [`IoStream::into_split`]). Sealed: implemented for those two only.
///
/// ```
/// use weft::net::{OwnedWriteHalf, UnixStream, WriteHalf};
///
/// weft::run(async {
///     let (mut a, b) = UnixStream::pair().unwrap();
///     let (_reader, writer): (_, WriteHalf<'_, UnixStream>) = a.split();
///     drop(writer); // a borrowed half leaves the stream as it was
///     a.write_all(b"still open").await.unwrap();
///     let (_reader, writer): (_, OwnedWriteHalf<UnixStream>) = a.into_split();
///     drop(writer); // an owned half shuts down the write side
///     let mut buf = [0; 10];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(b.read(&mut buf).await.unwrap(), 0);
/// });
/// ```
pub trait Hold: Deref<Target: Stream> + Unpin {
    /// Whether the half owns its share of the stream (its `Debug` says `Owned...`).
    const OWNED: bool;

    /// Shuts down the write side (`poll_close`); an owned writing half remembers it, so dropping it does not
    /// shut down again.
    fn close_write(&mut self) -> io::Result<()> {
        self.shutdown_write()
    }
}

impl<S: Stream> Hold for &S {
    const OWNED: bool = false;
}

impl<S: Stream> Hold for Arc<S> {
    const OWNED: bool = true;
}

impl<S: Stream> Hold for OwnedWrite<S> {
    const OWNED: bool = true;

    fn close_write(&mut self) -> io::Result<()> {
        self.shut_down = true;
        self.stream.shutdown_write()
    }
}

/// An owned writing half's hold on its stream: shared with the reading half, and the write side is shut down
/// when it is dropped, so the peer reads end of stream. Only this holder has a `Drop`: a borrowed half has no drop
/// glue, so its borrow of the stream ends where it is last used.
#[derive(Debug)]
pub struct OwnedWrite<S: Stream> {
    /// The shared stream.
    stream: Arc<S>,
    /// Whether the write side was shut down already (by `poll_close`, or for `reunite`, which must not).
    shut_down: bool,
}

impl<S: Stream> Deref for OwnedWrite<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.stream
    }
}

impl<S: Stream> Drop for OwnedWrite<S> {
    fn drop(&mut self) {
        if !self.shut_down {
            let _ = self.stream.shutdown_write();
        }
    }
}

/// The reading half of a stream, holding it through `H` (a borrow or a shared `Arc`): a [`ReadHalf`] or an
/// [`OwnedReadHalf`]. Implements [`AsyncRead`], and has the stream's `read`, `read_exact` and `peek` as
/// inherent methods taking `&self`.
///
/// ```
/// use weft::net::UnixStream;
///
/// weft::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let (reader, _writer) = a.into_split();
///     b.write_all(b"one side").await.unwrap();
///     let mut buf = [0; 8];
///     reader.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"one side");
/// });
/// ```
pub struct ReadSide<H: Hold> {
    /// The stream, borrowed or shared.
    stream: H,
}

/// The writing half of a stream, holding it through `H` (a borrow or a shared `Arc`): a [`WriteHalf`] or an
/// [`OwnedWriteHalf`]. Implements [`AsyncWrite`] (closing it shuts down the write side), and has the
/// stream's `write`, `write_vectored` and `write_all` as inherent methods taking `&self`.
///
/// ```
/// use weft::net::UnixStream;
///
/// weft::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let (_reader, writer) = a.into_split();
///     writer.write_all(b"one side").await.unwrap();
///     let mut buf = [0; 8];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"one side");
/// });
/// ```
pub struct WriteSide<H: Hold> {
    /// The stream, borrowed or shared (then its write side is shut down when the half is dropped).
    stream: H,
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
pub type ReadHalf<'a, S = TcpStream> = ReadSide<&'a S>;

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
pub type WriteHalf<'a, S = TcpStream> = WriteSide<&'a S>;

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
pub type OwnedReadHalf<S = TcpStream> = ReadSide<Arc<S>>;

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
pub type OwnedWriteHalf<S = TcpStream> = WriteSide<OwnedWrite<S>>;

impl<H: Hold> ReadSide<H> {
    /// Wraps a borrowed or shared stream.
    pub(crate) fn new(stream: H) -> ReadSide<H> {
        ReadSide { stream }
    }
}

impl<'a, S: Stream> WriteSide<&'a S> {
    /// Wraps a borrowed stream.
    pub(crate) fn new(stream: &'a S) -> WriteSide<&'a S> {
        WriteSide { stream }
    }
}

impl<S: Stream> WriteSide<OwnedWrite<S>> {
    /// Wraps a shared stream.
    pub(crate) fn new(stream: Arc<S>) -> WriteSide<OwnedWrite<S>> {
        WriteSide {
            stream: OwnedWrite {
                stream,
                shut_down: false,
            },
        }
    }
}

impl<S: Stream> ReadSide<Arc<S>> {
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
        if !Arc::ptr_eq(&self.stream, &write.stream.stream) {
            return Err((self, write));
        }
        let mut write = write;
        write.stream.shut_down = true; // reuniting must not shut anything down
        let stream = write.stream.stream.clone();
        drop(write);
        drop(self);
        Ok(Arc::into_inner(stream).expect("both halves were given up"))
    }
}

impl<H: Hold> AsRef<H::Target> for ReadSide<H> {
    fn as_ref(&self) -> &H::Target {
        &self.stream
    }
}

impl<H: Hold> AsRef<H::Target> for WriteSide<H> {
    fn as_ref(&self) -> &H::Target {
        &self.stream
    }
}

impl<H: Hold + fmt::Debug> fmt::Debug for ReadSide<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_half(f, "ReadHalf", H::OWNED, &self.stream)
    }
}

impl<H: Hold + fmt::Debug> fmt::Debug for WriteSide<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_half(f, "WriteHalf", H::OWNED, &self.stream)
    }
}

/// A half's `Debug`: the name users know it by (`Owned` first for an owned half) and its stream.
fn fmt_half(
    f: &mut fmt::Formatter<'_>,
    half: &str,
    owned: bool,
    stream: &dyn fmt::Debug,
) -> fmt::Result {
    let owned = if owned { "Owned" } else { "" };
    f.debug_tuple(&format!("{owned}{half}"))
        .field(stream)
        .finish()
}

// The traits go through `&S` (`&IoStream`), so both kinds of half share one body each.

impl<H: Hold> AsyncRead for ReadSide<H>
where
    for<'b> &'b H::Target: AsyncRead,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut stream = &*self.stream;
        Pin::new(&mut stream).poll_read(cx, buf)
    }
}

impl<H: Hold> AsyncWrite for WriteSide<H>
where
    for<'b> &'b H::Target: AsyncWrite,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut stream = &*self.stream;
        Pin::new(&mut stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut stream = &*self.stream;
        Pin::new(&mut stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // On io_uring written bytes may still be on their way: flushing waits for them.
        let mut stream = &*self.stream;
        Pin::new(&mut stream).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.as_mut().poll_flush(cx))?;
        Poll::Ready(self.stream.close_write())
    }
}

// The halves' own methods: each is `#[track_caller]` and calls the stream's (also `#[track_caller]`), so the
// caller's line reaches the stream's bookmark — the line that awaits the half, with the stream's operation. Each
// example shows a borrowed half first, then an owned one.

impl<H: Hold> ReadSide<H> {
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
        self.stream.io().read(buf)
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
        self.stream.io().read_exact(buf)
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
        self.stream.io().peek(buf)
    }
}

impl<H: Hold> WriteSide<H> {
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

    /// [`IoStream::write_all`] on the stream this half writes to. Not cancel-safe.
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (mut a, b) = UnixStream::pair().unwrap();
    ///     let (_reader, mut writer) = a.split();
    ///     let peer = weft::spawn(async move {
    ///         let mut all = vec![0; 1 << 20];
    ///         b.read_exact(&mut all).await.unwrap();
    ///         all
    ///     });
    ///     let message = vec![7u8; 1 << 20]; // more than the socket buffer holds at once
    ///     writer.write_all(&message).await.unwrap();
    ///     assert_eq!(peer.await.unwrap(), message);
    ///
    ///     // `b` is gone now: writing (on io_uring: the next write or the flush) gives BrokenPipe, and the
    ///     // process gets no SIGPIPE.
    ///     use weft::io::AsyncWriteExt;
    ///     let written = async {
    ///         writer.write_all(b"anyone?").await?;
    ///         AsyncWriteExt::flush(&mut writer).await
    ///     };
    ///     assert_eq!(written.await.unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
    /// });
    /// ```
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
