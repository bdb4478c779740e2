//! Unix-domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`].

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self as std_unix, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use socket2::{Domain, SockAddr, Socket, Type};

use super::backoff::AcceptBackoff;
use super::source::{Source, Wait};
use super::split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use super::{impl_stream_methods, impl_stream_traits};
use crate::cell::Op;
use crate::driver::Direction;
use crate::sys;

/// A Unix-domain stream server.
///
/// ```
/// use weft::net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("weft-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("listener.sock");
/// let _ = std::fs::remove_file(&path);
/// weft::run(async {
///     let listener = UnixListener::bind(&path).unwrap();
///     let client = weft::spawn({
///         let path = path.clone();
///         async move { UnixStream::connect(&path).await.unwrap().write_all(b"hi").await.unwrap() }
///     });
///     let (stream, _) = listener.accept().await.unwrap();
///     let mut buf = [0; 2];
///     stream.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hi");
///     client.await.unwrap();
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct UnixListener {
    /// The listening socket.
    source: Source<std_unix::UnixListener>,
    /// Pauses between accepts at the descriptor limit.
    backoff: AcceptBackoff,
}

impl UnixListener {
    /// Binds to `path` and listens. Synchronous, like `std` (binding a path does not wait).
    ///
    /// ```
    /// use weft::net::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-listener-bind.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// assert!(path.exists()); // binding creates the socket file...
    /// let error = UnixListener::bind(&path).unwrap_err(); // ...so the path is taken
    /// assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    /// drop(listener); // closing does not remove the file
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)?;
        socket.bind(&SockAddr::unix(path)?)?;
        socket.listen(1024)?;
        Ok(UnixListener {
            source: Source::new(std_unix::UnixListener::from(std::os::fd::OwnedFd::from(
                socket,
            ))),
            backoff: AcceptBackoff::default(),
        })
    }

    /// Wraps a standard listener (made non-blocking here).
    ///
    /// ```
    /// use weft::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-listener-from-std.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    /// weft::run(async {
    ///     let listener = UnixListener::from_std(std_listener).unwrap();
    ///     let client = UnixStream::connect(&path).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     client.write_all(b"hi").await.unwrap();
    ///     let mut buf = [0; 2];
    ///     server.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"hi");
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_std(listener: std_unix::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            source: Source::new(listener),
            backoff: AcceptBackoff::default(),
        })
    }

    /// Accepts a connection. Cancel-safe. A client that did not bind a path of its own has an unnamed
    /// address.
    ///
    /// At the descriptor limit (`EMFILE`, `ENFILE`) or out of kernel memory (`ENOBUFS`, `ENOMEM`) the first
    /// call returns the error and the connection stays queued; calls after that wait, retrying on a timer
    /// (5 ms, doubling up to 200 ms), until an accept succeeds, as [`TcpListener::accept`](super::TcpListener::accept)
    /// does: an accept loop that reports errors and keeps accepting never spins.
    ///
    /// ```
    /// use weft::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-listener-accept.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// weft::run(async {
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let _client = UnixStream::connect(&path).await.unwrap();
    ///     let (server, peer) = listener.accept().await.unwrap();
    ///     assert!(peer.is_unnamed());
    ///     assert_eq!(server.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn accept(&self) -> impl Future<Output = io::Result<(UnixStream, SocketAddr)>> + '_ {
        let wait = Wait::here(Op::UnixAccept);
        poll_fn(move |cx| {
            let poll = self.backoff.poll(cx, |cx| {
                self.source.poll_io(cx, Direction::Read, wait, |listener| {
                    let (socket, _) = sys::socket::accept(listener.as_fd())?;
                    let stream = std_unix::UnixStream::from(std::os::fd::OwnedFd::from(socket));
                    let address = stream.peer_addr()?;
                    Ok((
                        UnixStream {
                            source: Source::new(stream),
                        },
                        address,
                    ))
                })
            });
            if poll.is_pending() {
                self.source.bookmark(wait);
            }
            poll
        })
    }

    /// The address it listens on.
    ///
    /// ```
    /// use weft::net::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-listener-local-addr.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// A Unix-domain stream: like [`TcpStream`](super::TcpStream), over a path.
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
    source: Source<std_unix::UnixStream>,
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
        super::shut_down(self.source.get_ref().shutdown(how))
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

impl super::split::Stream for UnixStream {
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
    source: Source<std_unix::UnixDatagram>,
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
        let wait = Wait::here(Op::UnixDatagramSend);
        poll_fn(move |cx| {
            self.source
                .poll_io(cx, Direction::Write, wait, |socket| socket.send(buf))
        })
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
        let wait = Wait::here(Op::UnixDatagramRecv);
        poll_fn(move |cx| {
            self.source
                .poll_io(cx, Direction::Read, wait, |socket| socket.recv(buf))
        })
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
        let wait = Wait::here(Op::UnixDatagramSend);
        async move {
            let path = path.as_ref();
            poll_fn(|cx| {
                self.source.poll_io(cx, Direction::Write, wait, |socket| {
                    socket.send_to(buf, path)
                })
            })
            .await
        }
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
        let wait = Wait::here(Op::UnixDatagramRecv);
        poll_fn(move |cx| {
            self.source
                .poll_io(cx, Direction::Read, wait, |socket| socket.recv_from(buf))
        })
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

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
