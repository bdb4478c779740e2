//! [`TcpStream`]: a TCP connection.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use socket2::{SockRef, Socket};

use super::super::source::{Source, Wait};
use super::super::split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use super::super::{each_addr, impl_stream_methods, impl_stream_traits};
use crate::cell::Op;
use crate::driver::Direction;

use super::*;

/// A TCP connection. Implements [`AsyncRead`](crate::io::AsyncRead) and [`AsyncWrite`](crate::io::AsyncWrite),
/// also through `&TcpStream`, and has inherent `read`, `write`, `write_all`, `read_exact`, `write_vectored` and
/// `peek` taking `&self`.
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
pub struct TcpStream {
    /// The connected socket.
    pub(crate) source: Source<std::net::TcpStream>,
}

impl TcpStream {
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
        TcpStream {
            source: Source::new(std::net::TcpStream::from(socket)),
        }
    }

    /// Wraps a standard stream (made non-blocking here).
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     // A blocking connect to a local listener returns at once.
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     let client = TcpStream::from_std(std_stream).unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     client.write_all(b"adopted").await.unwrap();
    ///     let mut buf = [0; 7];
    ///     server.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"adopted");
    /// });
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream {
            source: Source::new(stream),
        })
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

    /// Shuts down the read side, the write side (the peer reads EOF), or both. On a connection the peer has
    /// already reset this succeeds: there is nothing left to shut down (`NotConnected` is not an error here).
    ///
    /// ```
    /// use weft::net::{Shutdown, TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     client.write_all(b"last words").await.unwrap();
    ///     client.shutdown(Shutdown::Write).unwrap();
    ///     let mut buf = [0; 10];
    ///     server.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(server.read(&mut buf).await.unwrap(), 0); // end of stream
    ///     server.write_all(b"reply").await.unwrap(); // the other direction still works
    ///     client.read_exact(&mut buf[..5]).await.unwrap();
    ///     assert_eq!(&buf[..5], b"reply");
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        super::super::shut_down(self.source.get_ref().shutdown(how))
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

    /// Borrowed halves: read in one task and write in another without moving the stream. With
    /// [`AsyncReadExt`](crate::io::AsyncReadExt) in scope, `stream.split()` means `AsyncReadExt::split`; write
    /// `TcpStream::split(&mut stream)` to get these halves.
    ///
    /// ```
    /// use weft::io::AsyncWriteExt;
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let server = weft::spawn(async move {
    ///         let (mut stream, _) = listener.accept().await.unwrap();
    ///         let (mut reader, mut writer) = stream.split();
    ///         weft::io::copy(&mut reader, &mut writer).await.unwrap() // echo until end of stream
    ///     });
    ///     let (mut reader, mut writer) = client.split();
    ///     writer.write_all(b"echo me").await.unwrap();
    ///     writer.close().await.unwrap(); // shuts down the write side
    ///     let mut echoed = Vec::new();
    ///     weft::io::copy(&mut reader, &mut echoed).await.unwrap();
    ///     assert_eq!(echoed, b"echo me");
    ///     assert_eq!(server.await.unwrap(), 7);
    /// });
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf::new(self), WriteHalf::new(self))
    }

    /// Owned halves: `'static` and `Send`, for tasks or threads of their own. Dropping the write half shuts
    /// down the write side.
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
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let stream = Arc::new(self);
        (
            OwnedReadHalf::new(stream.clone()),
            OwnedWriteHalf::new(stream),
        )
    }
}

impl_stream_methods!(TcpStream, TcpRead, TcpWrite);
impl_stream_traits!(TcpStream);

impl super::super::split::Stream for TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.get_ref().as_fd()
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
