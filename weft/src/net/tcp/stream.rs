//! [`TcpStream`]: a TCP connection.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{SockRef, Socket};

use super::super::each_addr;
use super::super::source::Wait;
use super::super::stream::{IoStream, StreamSocket};
use crate::cell::Op;
use crate::driver::Direction;

use super::*;

/// A TCP connection: an [`IoStream`] over a `std::net::TcpStream`. Implements [`AsyncRead`](crate::io::AsyncRead)
/// and [`AsyncWrite`](crate::io::AsyncWrite), also through `&TcpStream`; its inherent
/// [`read`](IoStream::read), [`write`](IoStream::write), [`write_all`](IoStream::write_all),
/// [`read_exact`](IoStream::read_exact), [`write_vectored`](IoStream::write_vectored) and
/// [`peek`](IoStream::peek) take `&self`, and [`split`](IoStream::split), [`into_split`](IoStream::into_split),
/// [`shutdown`](IoStream::shutdown), [`from_std`](IoStream::from_std) and [`into_std`](IoStream::into_std) are
/// documented there too, once for both stream types.
///
/// ```
/// use weft::net::{TcpListener, TcpStream};
///
/// weft::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let address = listener.local_addr().unwrap();
///     let server = weft::spawn(async move {
///         let (stream, _) = listener.accept().await.unwrap();
///         let mut buf = [0; 64];
///         let read = stream.read(&mut buf).await.unwrap();
///         stream.write_all(&buf[..read]).await.unwrap(); // echo
///     });
///     let stream = TcpStream::connect(address).await.unwrap();
///     stream.set_nodelay(true).unwrap();
///     stream.write_all(b"ping").await.unwrap();
///     let mut reply = [0; 4];
///     stream.read_exact(&mut reply).await.unwrap();
///     assert_eq!(&reply, b"ping");
///     server.await.unwrap();
/// });
/// ```
pub type TcpStream = IoStream<std::net::TcpStream>;

#[allow(private_interfaces, reason = "StreamSocket is sealed")]
impl StreamSocket for std::net::TcpStream {
    const READ: Op = Op::TcpRead;
    const WRITE: Op = Op::TcpWrite;

    fn set_nonblocking_socket(&self, nonblocking: bool) -> io::Result<()> {
        self.set_nonblocking(nonblocking)
    }

    fn shutdown_socket(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

/// The methods only a TCP stream has.
impl IoStream<std::net::TcpStream> {
    /// Connects to `addr` (non-blocking connect, then a wait for writability). A refused connection is
    /// `ErrorKind::ConnectionRefused`.
    ///
    /// Cancellation safety: dropping the future closes the half-open socket; nothing else is left behind.
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let address = listener.local_addr().unwrap();
    ///     let stream = TcpStream::connect(address).await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), address);
    ///
    ///     drop(listener); // nobody listens on the port any more
    ///     let error = TcpStream::connect(address).await.unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    /// });
    /// ```
    #[track_caller]
    pub fn connect(addr: impl ToSocketAddrs) -> impl Future<Output = io::Result<TcpStream>> {
        let wait = Wait::here(Op::TcpConnect);
        each_addr(addr, move |address| async move {
            TcpSocket::for_addr(address)?
                .connect_with(address, wait)
                .await
        })
    }

    /// Wraps a connected socket.
    pub(super) fn from_socket(socket: Socket) -> TcpStream {
        IoStream::from_nonblocking(std::net::TcpStream::from(socket))
    }

    /// Waits until a non-blocking connect finishes, and reports its outcome; bookmarks `wait` while it waits.
    pub(super) async fn finish_connect(self, wait: Wait) -> io::Result<TcpStream> {
        poll_fn(|cx| {
            self.source.poll_io(cx, Direction::Write, wait, |stream| {
                if let Some(error) = stream.take_error()? {
                    return Err(error);
                }
                match stream.peer_addr() {
                    Ok(_) => Ok(()),
                    Err(error) if error.raw_os_error() == Some(libc::ENOTCONN) => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Err(error) => Err(error),
                }
            })
        })
        .await?;
        Ok(self)
    }

    /// The local address.
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, peer) = listener.accept().await.unwrap();
    ///     assert_eq!(client.local_addr().unwrap(), peer);
    ///     assert_eq!(server.local_addr().unwrap(), listener.local_addr().unwrap());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     assert_eq!(client.peer_addr().unwrap(), listener.local_addr().unwrap());
    ///     assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm: small writes go out at once).
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     stream.set_nodelay(true).unwrap();
    ///     assert!(stream.nodelay().unwrap());
    /// });
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.source.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set (off by default).
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     assert!(!stream.nodelay().unwrap());
    ///     stream.set_nodelay(true).unwrap();
    ///     assert!(stream.nodelay().unwrap());
    /// });
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.source.get_ref().nodelay()
    }

    /// Sets the IP time-to-live.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     stream.set_ttl(16).unwrap();
    ///     // weft has no getter; a std view of the same socket reads the option back.
    ///     let view = std::net::TcpStream::from(stream.as_fd().try_clone_to_owned().unwrap());
    ///     assert_eq!(view.ttl().unwrap(), 16);
    /// });
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes closing the stream abort the connection: the peer gets a
    /// reset instead of an orderly end of stream.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     client.set_linger(Some(Duration::ZERO)).unwrap();
    ///     drop(client);
    ///     let error = server.read(&mut [0; 16]).await.unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    /// });
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        SockRef::from(self.source.get_ref()).set_linger(linger)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     assert!(stream.take_error().unwrap().is_none()); // a healthy connection
    /// });
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
