//! [`AsyncReadExt`]: weft's extension methods for every [`AsyncRead`], futures-util's without `split`.
//!
//! futures-util's `AsyncReadExt::split(self)` takes its receiver by value, so method resolution finds it on
//! `TcpStream` before it looks at `TcpStream::split(&mut self)`: with that trait in scope, `stream.split()` would
//! give futures-util's lock-based halves instead of weft's. This trait offers the same methods, each returning
//! futures-util's future, and leaves `split` out, so `stream.split()` is always the stream's own. The by-value split
//! of any reader and writer is still there as `futures_util::io::AsyncReadExt::split`.

use futures_io::AsyncRead;
use futures_util::io::AsyncReadExt as FuturesReadExt;
use futures_util::io::{Chain, Read, ReadExact, ReadToEnd, ReadToString, ReadVectored, Take};
use std::io::IoSliceMut;

/// Extension methods for every [`AsyncRead`]: `read`, `read_exact`, `read_to_end`, `read_to_string`,
/// `read_vectored`, `chain` and `take`, as futures-util's `AsyncReadExt` has them. It has no `split`: on a weft
/// stream `stream.split()` means the stream's borrowed halves.
///
/// ```
/// use weft::io::AsyncReadExt;
/// use weft::net::{ReadHalf, UnixStream, WriteHalf};
///
/// weft::run(async {
///     let (mut a, b) = UnixStream::pair().unwrap();
///     let (mut reader, _writer): (ReadHalf<'_, UnixStream>, WriteHalf<'_, UnixStream>) = a.split();
///     b.write_all(b"split, not shadowed").await.unwrap();
///     drop(b);
///     let mut text = String::new();
///     reader.read_to_string(&mut text).await.unwrap();
///     assert_eq!(text, "split, not shadowed");
/// });
/// ```
pub trait AsyncReadExt: AsyncRead {
    /// Reads into `buf`; resolves to how many bytes were read (`0` at end of stream).
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    ///
    /// weft::run(async {
    ///     let mut reader: &[u8] = b"abc";
    ///     let mut buf = [0; 2];
    ///     assert_eq!(reader.read(&mut buf).await.unwrap(), 2);
    ///     assert_eq!(&buf, b"ab");
    /// });
    /// ```
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> Read<'a, Self>
    where
        Self: Unpin,
    {
        FuturesReadExt::read(self, buf)
    }

    /// Reads into several buffers, filling them in order.
    ///
    /// ```
    /// use std::io::IoSliceMut;
    /// use weft::io::AsyncReadExt;
    ///
    /// weft::run(async {
    ///     let mut reader: &[u8] = b"abcd";
    ///     let (mut head, mut tail) = ([0; 1], [0; 3]);
    ///     let mut bufs = [IoSliceMut::new(&mut head), IoSliceMut::new(&mut tail)];
    ///     assert_eq!(reader.read_vectored(&mut bufs).await.unwrap(), 4);
    ///     assert_eq!((&head, &tail), (b"a", b"bcd"));
    /// });
    /// ```
    fn read_vectored<'a>(&'a mut self, bufs: &'a mut [IoSliceMut<'a>]) -> ReadVectored<'a, Self>
    where
        Self: Unpin,
    {
        FuturesReadExt::read_vectored(self, bufs)
    }

    /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the stream ends first.
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    ///
    /// weft::run(async {
    ///     let mut reader: &[u8] = b"abc";
    ///     let mut buf = [0; 2];
    ///     reader.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"ab");
    ///     let error = reader.read_exact(&mut buf).await.unwrap_err(); // one byte left
    ///     assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    /// });
    /// ```
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> ReadExact<'a, Self>
    where
        Self: Unpin,
    {
        FuturesReadExt::read_exact(self, buf)
    }

    /// Reads to the end of the stream, appending to `buf`; resolves to how many bytes were read.
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    ///
    /// weft::run(async {
    ///     let mut reader: &[u8] = b"all of it";
    ///     let mut buf = b"> ".to_vec();
    ///     assert_eq!(reader.read_to_end(&mut buf).await.unwrap(), 9);
    ///     assert_eq!(buf, b"> all of it");
    /// });
    /// ```
    fn read_to_end<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> ReadToEnd<'a, Self>
    where
        Self: Unpin,
    {
        FuturesReadExt::read_to_end(self, buf)
    }

    /// Reads to the end of the stream, appending UTF-8 text to `buf`; `InvalidData` if it is not UTF-8.
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    ///
    /// weft::run(async {
    ///     let mut reader: &[u8] = "grüße".as_bytes();
    ///     let mut text = String::new();
    ///     reader.read_to_string(&mut text).await.unwrap();
    ///     assert_eq!(text, "grüße");
    /// });
    /// ```
    fn read_to_string<'a>(&'a mut self, buf: &'a mut String) -> ReadToString<'a, Self>
    where
        Self: Unpin,
    {
        FuturesReadExt::read_to_string(self, buf)
    }

    /// A reader that reads this one to its end, then `next`.
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    ///
    /// weft::run(async {
    ///     let (first, second): (&[u8], &[u8]) = (b"one ", b"two");
    ///     let mut text = String::new();
    ///     first.chain(second).read_to_string(&mut text).await.unwrap();
    ///     assert_eq!(text, "one two");
    /// });
    /// ```
    fn chain<R: AsyncRead>(self, next: R) -> Chain<Self, R>
    where
        Self: Sized,
    {
        FuturesReadExt::chain(self, next)
    }

    /// A reader that ends after `limit` bytes of this one.
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    ///
    /// weft::run(async {
    ///     let reader: &[u8] = b"header|body";
    ///     let mut head = String::new();
    ///     reader.take(6).read_to_string(&mut head).await.unwrap();
    ///     assert_eq!(head, "header");
    /// });
    /// ```
    fn take(self, limit: u64) -> Take<Self>
    where
        Self: Sized,
    {
        FuturesReadExt::take(self, limit)
    }
}

impl<R: AsyncRead + ?Sized> AsyncReadExt for R {}
