//! [`UnixStream`]: a Unix-domain stream connection.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::{self as std_unix, SocketAddr};
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};

use super::super::source::Wait;
use super::super::stream::{IoStream, StreamSocket};
use crate::cell::Op;
use crate::driver::Direction;

/// A Unix-domain stream: like [`TcpStream`](crate::net::TcpStream), over a path; an [`IoStream`] over a
/// `std::os::unix::net::UnixStream`. Its reads, writes, halves, `shutdown`, `from_std` and `into_std` are
/// [`IoStream`]'s, documented there once for both stream types.
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
pub type UnixStream = IoStream<std_unix::UnixStream>;

#[allow(private_interfaces, reason = "StreamSocket is sealed")]
impl StreamSocket for std_unix::UnixStream {
    const READ: Op = Op::UnixRead;
    const WRITE: Op = Op::UnixWrite;

    fn set_nonblocking_socket(&self, nonblocking: bool) -> io::Result<()> {
        self.set_nonblocking(nonblocking)
    }

    fn shutdown_socket(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

/// The methods only a Unix-domain stream has.
impl IoStream<std_unix::UnixStream> {
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
        let stream = UnixStream::from_nonblocking(std_unix::UnixStream::from(
            std::os::fd::OwnedFd::from(socket),
        ));
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
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
