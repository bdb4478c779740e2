//! [`UnixDatagram`]: a Unix-domain datagram socket.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self as std_unix, SocketAddr};
use std::path::Path;

use super::super::source::Source;
use crate::cell::Op;

/// A Unix-domain datagram socket.
///
/// ```
/// use weft::net::UnixDatagram;
///
/// weft::run(async {
///     let (a, b) = UnixDatagram::pair().unwrap();
///     a.send(b"one datagram").await.unwrap();
///     let mut buf = [0; 32];
///     let len = b.recv(&mut buf).await.unwrap();
///     assert_eq!(&buf[..len], b"one datagram");
/// });
/// ```
pub struct UnixDatagram {
    /// The socket, non-blocking.
    pub(super) source: Source<std_unix::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to `path`.
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-datagram-bind.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// weft::run(async {
    ///     let receiver = UnixDatagram::bind(&path).unwrap();
    ///     let sender = UnixDatagram::unbound().unwrap();
    ///     sender.send_to(b"to a path", &path).await.unwrap();
    ///     let mut buf = [0; 16];
    ///     let len = receiver.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..len], b"to a path");
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std_unix::UnixDatagram::bind(path)?)
    }

    /// An unbound socket (can send to paths, but nobody can reply: its address is unnamed).
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-datagram-unbound.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// weft::run(async {
    ///     let receiver = UnixDatagram::bind(&path).unwrap();
    ///     let sender = UnixDatagram::unbound().unwrap();
    ///     assert!(sender.local_addr().unwrap().is_unnamed());
    ///     sender.send_to(b"anonymous", &path).await.unwrap();
    ///     let mut buf = [0; 16];
    ///     let (_, from) = receiver.recv_from(&mut buf).await.unwrap();
    ///     assert!(from.is_unnamed());
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std_unix::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixDatagram::pair().unwrap();
    ///     b.send(b"pong").await.unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(a.recv(&mut buf).await.unwrap(), 4);
    /// });
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std_unix::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Wraps a standard socket (made non-blocking here).
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// let (std_a, std_b) = std::os::unix::net::UnixDatagram::pair().unwrap();
    /// weft::run(async {
    ///     let a = UnixDatagram::from_std(std_a).unwrap();
    ///     std_b.send(b"from std").unwrap(); // the std side still works, blocking
    ///     let mut buf = [0; 8];
    ///     let len = a.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..len], b"from std");
    /// });
    /// ```
    pub fn from_std(socket: std_unix::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            source: Source::new(socket),
        })
    }

    /// Gives the standard socket back, **still non-blocking** (as tokio's `into_std`): call `set_nonblocking(false)`
    /// before blocking calls on it. It leaves its loop's reactor, and [`from_std`](Self::from_std) adopts it again
    /// on any loop. A socket that was registered comes back under a new descriptor number, with the limit that
    /// [`IoStream::into_std`](crate::net::IoStream::into_std) describes.
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixDatagram::pair().unwrap();
    ///     a.send(b"to std").await.unwrap();
    ///     let b = b.into_std().unwrap();
    ///     b.set_nonblocking(false).unwrap(); // it comes back non-blocking
    ///     let mut buf = [0; 16];
    ///     let len = b.recv(&mut buf).unwrap();
    ///     assert_eq!(&buf[..len], b"to std");
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std_unix::UnixDatagram> {
        self.source.into_inner()
    }

    /// Sets the default peer, for [`send`](Self::send) and [`recv`](Self::recv).
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-datagram-connect.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// weft::run(async {
    ///     let receiver = UnixDatagram::bind(&path).unwrap();
    ///     let sender = UnixDatagram::unbound().unwrap();
    ///     sender.connect(&path).unwrap();
    ///     sender.send(b"no address needed").await.unwrap();
    ///     let mut buf = [0; 32];
    ///     let len = receiver.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..len], b"no address needed");
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.source.get_ref().connect(path)
    }

    /// Sends to the connected peer; returns the datagram's length.
    ///
    /// Cancellation safety: a datagram goes out whole in one system call or not at all, so dropping the future
    /// never sends part of it.
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixDatagram::pair().unwrap();
    ///     assert_eq!(a.send(b"hello").await.unwrap(), 5);
    ///     let mut buf = [0; 8];
    ///     let len = b.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..len], b"hello");
    /// });
    /// ```
    #[track_caller]
    pub fn send<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        self.source
            .write_with(Op::UnixDatagramSend, move |socket| socket.send(buf))
    }

    /// Receives from the connected peer. Cancel-safe. Each call returns one datagram; one longer than `buf` is
    /// truncated.
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixDatagram::pair().unwrap();
    ///     a.send(b"first").await.unwrap();
    ///     a.send(b"second").await.unwrap();
    ///     let mut buf = [0; 16];
    ///     let len = b.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..len], b"first"); // datagram boundaries are kept
    ///     let len = b.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..len], b"second");
    /// });
    /// ```
    #[track_caller]
    pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        self.source
            .read_with(Op::UnixDatagramRecv, move |socket| socket.recv(buf))
    }

    /// Sends to `path`; returns the datagram's length.
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-datagram-send-to.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// weft::run(async {
    ///     let receiver = UnixDatagram::bind(&path).unwrap();
    ///     let sender = UnixDatagram::unbound().unwrap();
    ///     assert_eq!(sender.send_to(b"note", &path).await.unwrap(), 4);
    ///     let mut buf = [0; 8];
    ///     assert_eq!(receiver.recv(&mut buf).await.unwrap(), 4);
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn send_to<'a>(
        &'a self,
        buf: &'a [u8],
        path: impl AsRef<Path> + 'a,
    ) -> impl Future<Output = io::Result<usize>> + 'a {
        self.source.write_with(Op::UnixDatagramSend, move |socket| {
            socket.send_to(buf, path.as_ref())
        })
    }

    /// Receives a datagram and its sender's address. Cancel-safe.
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// let dir = std::env::temp_dir();
    /// let server_path = dir.join(format!("weft-{}-datagram-server.sock", std::process::id()));
    /// let client_path = dir.join(format!("weft-{}-datagram-client.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&server_path);
    /// let _ = std::fs::remove_file(&client_path);
    /// weft::run(async {
    ///     let server = UnixDatagram::bind(&server_path).unwrap();
    ///     let client = UnixDatagram::bind(&client_path).unwrap(); // bound, so it can get a reply
    ///     client.send_to(b"ping", &server_path).await.unwrap();
    ///     let mut buf = [0; 8];
    ///     let (len, from) = server.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!(from.as_pathname(), Some(client_path.as_path()));
    ///     server.send_to(&buf[..len], from.as_pathname().unwrap()).await.unwrap();
    ///     assert_eq!(client.recv(&mut buf).await.unwrap(), 4);
    /// });
    /// std::fs::remove_file(&server_path).unwrap();
    /// std::fs::remove_file(&client_path).unwrap();
    /// ```
    #[track_caller]
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a {
        self.source
            .read_with(Op::UnixDatagramRecv, move |socket| socket.recv_from(buf))
    }

    /// The local address.
    ///
    /// ```
    /// use weft::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-datagram-local-addr.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let socket = UnixDatagram::bind(&path).unwrap();
    /// assert_eq!(socket.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.get_ref().as_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
