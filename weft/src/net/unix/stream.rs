//! [`UnixStream`]: a Unix-domain stream connection.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self as std_unix, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use socket2::{Domain, SockAddr, Socket, Type};

use super::super::source::{Source, Wait};
use super::super::split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use super::super::{impl_stream_methods, impl_stream_traits};
use crate::cell::Op;
use crate::driver::Direction;

/// A Unix-domain stream: like [`TcpStream`](crate::net::TcpStream), over a path.
///
/// ```
/// use weft::net::UnixStream;
///
/// weft::run(async {
///     let (client, server) = UnixStream::pair().unwrap();
///     let echo = weft::spawn(async move {
///         let mut buf = [0; 64];
///         let read = server.read(&mut buf).await.unwrap();
///         server.write_all(&buf[..read]).await.unwrap();
///     });
///     client.write_all(b"ping").await.unwrap();
///     let mut reply = [0; 4];
///     client.read_exact(&mut reply).await.unwrap();
///     assert_eq!(&reply, b"ping");
///     echo.await.unwrap();
/// });
/// ```
pub struct UnixStream {
    /// The connected socket.
    pub(super) source: Source<std_unix::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`. Nobody listening there is `ConnectionRefused`; no file there is
    /// `NotFound`.
    ///
    /// Cancellation safety: dropping the future closes the half-open socket; nothing is left behind.
    ///
    /// ```
    /// use weft::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-stream-connect.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// weft::run(async {
    ///     let error = UnixStream::connect(&path).await.unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let client = UnixStream::connect(&path).await.unwrap();
    ///     assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    ///     drop(listener);
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn connect(path: impl AsRef<Path>) -> impl Future<Output = io::Result<UnixStream>> {
        UnixStream::connect_with(path, Wait::here(Op::UnixConnect))
    }

    /// Connects to `path`, bookmarking `wait` while the connection is being made.
    async fn connect_with(path: impl AsRef<Path>, wait: Wait) -> io::Result<UnixStream> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)?;
        match socket.connect(&SockAddr::unix(path)?) {
            Ok(()) => {}
            Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
        let stream = UnixStream {
            source: Source::new(std_unix::UnixStream::from(std::os::fd::OwnedFd::from(
                socket,
            ))),
        };
        poll_fn(|cx| {
            stream.source.poll_io(cx, Direction::Write, wait, |stream| {
                match stream.take_error()? {
                    Some(error) => Err(error),
                    None => stream.peer_addr().map(|_| ()),
                }
            })
        })
        .await?;
        Ok(stream)
    }

    /// A connected pair of streams.
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     a.write_all(b"across").await.unwrap();
    ///     let mut buf = [0; 6];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"across");
    /// });
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std_unix::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a standard stream (made non-blocking here).
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// let (std_a, std_b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// weft::run(async {
    ///     let a = UnixStream::from_std(std_a).unwrap();
    ///     let b = UnixStream::from_std(std_b).unwrap();
    ///     b.write_all(b"adopted").await.unwrap();
    ///     let mut buf = [0; 7];
    ///     a.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"adopted");
    /// });
    /// ```
    pub fn from_std(stream: std_unix::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            source: Source::new(stream),
        })
    }

    /// The local address: the listener's path on the accepting side, unnamed on the connecting side.
    ///
    /// ```
    /// use weft::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-stream-local-addr.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// weft::run(async {
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let client = UnixStream::connect(&path).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     assert!(client.local_addr().unwrap().is_unnamed());
    ///     assert_eq!(server.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// ```
    /// use weft::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-stream-peer-addr.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// weft::run(async {
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let client = UnixStream::connect(&path).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    ///     assert!(server.peer_addr().unwrap().is_unnamed());
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Shuts down the read side, the write side, or both. On a connection the peer has already closed this
    /// succeeds (`NotConnected` is not an error here).
    ///
    /// ```
    /// use weft::net::{Shutdown, UnixStream};
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     a.write_all(b"done").await.unwrap();
    ///     a.shutdown(Shutdown::Write).unwrap();
    ///     let mut buf = [0; 4];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(b.read(&mut buf).await.unwrap(), 0); // end of stream
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        super::super::shut_down(self.source.get_ref().shutdown(how))
    }

    /// Borrowed halves. With [`AsyncReadExt`](crate::io::AsyncReadExt) in scope, `stream.split()` means
    /// `AsyncReadExt::split`; write `UnixStream::split(&mut stream)` to get these halves.
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (mut a, b) = UnixStream::pair().unwrap();
    ///     let (mut reader, writer) = a.split();
    ///     writer.write_all(b"out").await.unwrap();
    ///     let mut buf = [0; 3];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     b.write_all(b"in").await.unwrap();
    ///     drop(b);
    ///     let mut received = Vec::new();
    ///     weft::io::copy(&mut reader, &mut received).await.unwrap();
    ///     assert_eq!(received, b"in");
    /// });
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_, UnixStream>, WriteHalf<'_, UnixStream>) {
        (ReadHalf::new(self), WriteHalf::new(self))
    }

    /// Owned halves; dropping the write half shuts down the write side.
    ///
    /// ```
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let (_reader, writer) = a.into_split();
    ///     weft::spawn(async move {
    ///         writer.write_all(b"bye").await.unwrap();
    ///     })
    ///     .await
    ///     .unwrap();
    ///     let mut buf = [0; 3];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(b.read(&mut buf).await.unwrap(), 0); // the dropped write half shut down
    /// });
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf<UnixStream>, OwnedWriteHalf<UnixStream>) {
        let stream = Arc::new(self);
        (
            OwnedReadHalf::new(stream.clone()),
            OwnedWriteHalf::new(stream),
        )
    }
}

impl_stream_methods!(UnixStream, UnixRead, UnixWrite);
impl_stream_traits!(UnixStream);

impl super::super::split::Stream for UnixStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.get_ref().as_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
