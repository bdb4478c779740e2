//! TCP: [`TcpListener`], [`TcpStream`] and [`TcpSocket`] (socket options before bind or connect).

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::backoff::AcceptBackoff;
use super::source::{Source, Wait};
use super::split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use super::{each_addr, impl_stream_methods, impl_stream_traits};
use crate::cell::Op;
use crate::driver::Direction;
use crate::sys;

/// The backlog of listeners made by [`TcpListener::bind`].
const DEFAULT_BACKLOG: i32 = 1024;

/// A TCP server socket.
///
/// ```
/// use weft::net::{TcpListener, TcpStream};
///
/// weft::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let address = listener.local_addr().unwrap();
///     let client = weft::spawn(async move {
///         let stream = TcpStream::connect(address).await.unwrap();
///         stream.write_all(b"hello").await.unwrap();
///     });
///     let (stream, _peer) = listener.accept().await.unwrap();
///     let mut buf = [0; 5];
///     stream.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hello");
///     client.await.unwrap();
/// });
/// ```
pub struct TcpListener {
    /// The listening socket.
    source: Source<std::net::TcpListener>,
    /// Pauses between accepts at the descriptor limit.
    backoff: AcceptBackoff,
}

impl TcpListener {
    /// Binds to `addr` (with `SO_REUSEADDR`, backlog 1024) and listens. Port 0 picks a free port.
    ///
    /// ```
    /// use weft::net::TcpListener;
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let address = listener.local_addr().unwrap();
    ///     assert_ne!(address.port(), 0); // the OS picked a free port
    ///     // The port is taken now: a second listener cannot bind it.
    ///     let error = TcpListener::bind(address).await.unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |address| async move {
            let socket = TcpSocket::for_addr(address)?;
            socket.set_reuseaddr(true)?;
            socket.bind(address)?;
            socket.listen(DEFAULT_BACKLOG as u32)
        })
        .await
    }

    /// Wraps a standard listener (made non-blocking here).
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let address = std_listener.local_addr().unwrap();
    /// weft::run(async {
    ///     let listener = TcpListener::from_std(std_listener).unwrap();
    ///     assert_eq!(listener.local_addr().unwrap(), address);
    ///     let client = TcpStream::connect(address).await.unwrap();
    ///     let (_server, peer) = listener.accept().await.unwrap();
    ///     assert_eq!(peer, client.local_addr().unwrap());
    /// });
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            source: Source::new(listener),
            backoff: AcceptBackoff::default(),
        })
    }

    /// Accepts a connection. Cancel-safe: a connection is never lost by dropping the future.
    ///
    /// At the descriptor limit (`EMFILE`, `ENFILE`) or out of kernel memory (`ENOBUFS`, `ENOMEM`) the first
    /// call returns the error and the connection stays queued. Calls after that do not fail again: they wait,
    /// retrying on a timer (5 ms, doubling up to 200 ms), until an accept succeeds. So an accept loop that
    /// reports errors and keeps accepting is right as it stands: it costs nothing while the limit lasts, the
    /// loop's other tasks keep being served, and accepting resumes by itself once descriptors are free.
    ///
    /// ```no_run
    /// # weft::run(async {
    /// # let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// loop {
    ///     match listener.accept().await {
    ///         Ok((stream, _peer)) => drop(weft::spawn(async move { drop(stream) })),
    ///         Err(error) => eprintln!("accept: {error}"), // once per spell at the limit; no busy loop
    ///     }
    /// }
    /// # });
    /// ```
    ///
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, peer) = listener.accept().await.unwrap();
    ///     assert_eq!(peer, client.local_addr().unwrap()); // the address of the client
    ///     assert_eq!(server.local_addr().unwrap(), listener.local_addr().unwrap());
    /// });
    /// ```
    #[track_caller]
    pub fn accept(&self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + '_ {
        let wait = Wait::here(Op::TcpAccept);
        poll_fn(move |cx| self.poll_accept_with(cx, wait))
    }

    /// Polls for a connection: `Ready` with the stream and the peer's address, or `Pending` (and the task is
    /// woken when a connection arrives). For hand-written futures; [`accept`](Self::accept) awaits this.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let waiting = poll_fn(|cx| Poll::Ready(listener.poll_accept(cx).is_pending())).await;
    ///     assert!(waiting); // nobody has connected yet
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (_server, peer) = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
    ///     assert_eq!(peer, client.local_addr().unwrap());
    /// });
    /// ```
    #[track_caller]
    pub fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.poll_accept_with(cx, Wait::here(Op::TcpAccept))
    }

    /// Polls for a connection, bookmarking `wait` while it waits.
    fn poll_accept_with(
        &self,
        cx: &mut std::task::Context<'_>,
        wait: Wait,
    ) -> std::task::Poll<io::Result<(TcpStream, SocketAddr)>> {
        let poll = self.backoff.poll(cx, |cx| {
            self.source.poll_io(cx, Direction::Read, wait, |listener| {
                let (socket, address) = sys::socket::accept(listener.as_fd())?;
                let address = address.as_socket().ok_or_else(|| {
                    io::Error::other("accepted a connection with a non-IP address")
                })?;
                Ok((TcpStream::from_socket(socket), address))
            })
        });
        if poll.is_pending() {
            self.source.bookmark(wait);
        }
        poll
    }

    /// The address it listens on.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use weft::net::TcpListener;
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let address = listener.local_addr().unwrap();
    ///     assert_eq!(address.ip(), Ipv4Addr::LOCALHOST);
    ///     assert_ne!(address.port(), 0);
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Sets the IP time-to-live of accepted sockets.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     listener.set_ttl(42).unwrap();
    ///     let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     // weft has no getter; a std view of the same socket reads the option back.
    ///     let view = std::net::TcpStream::from(server.as_fd().try_clone_to_owned().unwrap());
    ///     assert_eq!(view.ttl().unwrap(), 42);
    /// });
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.get_ref().as_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

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
    fn from_socket(socket: Socket) -> TcpStream {
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
    async fn finish_connect(self, wait: Wait) -> io::Result<TcpStream> {
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
        super::shut_down(self.source.get_ref().shutdown(how))
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

impl super::split::Stream for TcpStream {
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

/// A TCP socket not yet bound or connected, for setting options first (`SO_REUSEPORT` to shard a listener
/// across loops, buffer sizes, the backlog).
///
/// ```
/// use weft::net::TcpSocket;
///
/// weft::run(async {
///     let socket = TcpSocket::new_v4().unwrap();
///     socket.set_reuseaddr(true).unwrap();
///     socket.set_reuseport(true).unwrap();
///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let listener = socket.listen(128).unwrap();
///     assert!(listener.local_addr().unwrap().port() > 0);
/// });
/// ```
pub struct TcpSocket {
    /// The socket, non-blocking and close-on-exec.
    socket: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    ///
    /// ```
    /// use weft::net::TcpSocket;
    ///
    /// weft::run(async {
    ///     let socket = TcpSocket::new_v4().unwrap();
    ///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let listener = socket.listen(16).unwrap();
    ///     assert!(listener.local_addr().unwrap().is_ipv4());
    /// });
    /// ```
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    ///
    /// ```
    /// use weft::net::TcpSocket;
    ///
    /// weft::run(async {
    ///     let socket = TcpSocket::new_v6().unwrap();
    ///     if socket.bind("[::1]:0".parse().unwrap()).is_err() {
    ///         return; // this host has no IPv6 loopback address
    ///     }
    ///     let listener = socket.listen(16).unwrap();
    ///     assert!(listener.local_addr().unwrap().is_ipv6());
    /// });
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// A socket of the family of `address`.
    fn for_addr(address: SocketAddr) -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::for_address(address))
    }

    /// A new socket in `domain`.
    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let socket = Socket::new(
            domain,
            Type::STREAM.nonblocking().cloexec(),
            Some(Protocol::TCP),
        )?;
        Ok(TcpSocket { socket })
    }

    /// Sets `SO_REUSEADDR`: the address can be bound again while connections that used it linger in
    /// `TIME_WAIT`, as when a server restarts. ([`TcpListener::bind`] sets it for you.)
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use weft::net::{TcpListener, TcpSocket, TcpStream};
    ///
    /// fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    ///     let socket = TcpSocket::new_v4()?;
    ///     socket.set_reuseaddr(true)?;
    ///     socket.bind(address)?;
    ///     socket.listen(16)
    /// }
    ///
    /// weft::run(async {
    ///     let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let address = listener.local_addr().unwrap();
    ///     let client = TcpStream::connect(address).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     drop(server); // the server closes first, so its end lingers in TIME_WAIT
    ///     assert_eq!(client.read(&mut [0; 1]).await.unwrap(), 0);
    ///     drop((client, listener));
    ///     // Without SO_REUSEADDR this would fail with AddrInUse for a minute or so.
    ///     let restarted = listen(address).unwrap();
    ///     assert_eq!(restarted.local_addr().unwrap(), address);
    /// });
    /// ```
    pub fn set_reuseaddr(&self, reuse: bool) -> io::Result<()> {
        self.socket.set_reuse_address(reuse)
    }

    /// Sets `SO_REUSEPORT`: several sockets (one per loop) may listen on one port; the kernel spreads
    /// connections between them.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use weft::net::{TcpListener, TcpSocket};
    ///
    /// fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    ///     let socket = TcpSocket::new_v4()?;
    ///     socket.set_reuseport(true)?;
    ///     socket.bind(address)?;
    ///     socket.listen(16)
    /// }
    ///
    /// weft::run(async {
    ///     let first = listen("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let address = first.local_addr().unwrap();
    ///     let second = listen(address).unwrap(); // the same port, a second listener
    ///     assert_eq!(second.local_addr().unwrap(), address);
    /// });
    /// ```
    pub fn set_reuseport(&self, reuse: bool) -> io::Result<()> {
        self.socket.set_reuse_port(reuse)
    }

    /// Sets `SO_SNDBUF`. Linux doubles the value (for its bookkeeping) and enforces a minimum.
    ///
    /// ```
    /// use weft::net::TcpSocket;
    ///
    /// weft::run(async {
    ///     let socket = TcpSocket::new_v4().unwrap();
    ///     socket.set_send_buffer_size(64 * 1024).unwrap();
    ///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let listener = socket.listen(16).unwrap();
    ///     // weft has no getter; socket2 reads the option back.
    ///     let size = socket2::SockRef::from(&listener).send_buffer_size().unwrap();
    ///     assert!(size >= 64 * 1024);
    /// });
    /// ```
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_send_buffer_size(size as usize)
    }

    /// Sets `SO_RCVBUF`. Linux doubles the value (for its bookkeeping) and enforces a minimum.
    ///
    /// ```
    /// use weft::net::TcpSocket;
    ///
    /// weft::run(async {
    ///     let socket = TcpSocket::new_v4().unwrap();
    ///     socket.set_recv_buffer_size(64 * 1024).unwrap();
    ///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let listener = socket.listen(16).unwrap();
    ///     // weft has no getter; socket2 reads the option back.
    ///     let size = socket2::SockRef::from(&listener).recv_buffer_size().unwrap();
    ///     assert!(size >= 64 * 1024);
    /// });
    /// ```
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_recv_buffer_size(size as usize)
    }

    /// Sets `TCP_NODELAY` before connecting; the stream keeps it.
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpSocket};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let socket = TcpSocket::new_v4().unwrap();
    ///     socket.set_nodelay(true).unwrap();
    ///     let stream = socket.connect(listener.local_addr().unwrap()).await.unwrap();
    ///     assert!(stream.nodelay().unwrap());
    /// });
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_tcp_nodelay(nodelay)
    }

    /// Binds to `address`: the local address to listen on, or to connect from.
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpSocket};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let socket = TcpSocket::new_v4().unwrap();
    ///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap(); // connect from a chosen address
    ///     let stream = socket.connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (_, peer) = listener.accept().await.unwrap();
    ///     assert_eq!(peer, stream.local_addr().unwrap());
    /// });
    /// ```
    pub fn bind(&self, address: SocketAddr) -> io::Result<()> {
        self.socket.bind(&address.into())
    }

    /// Listens with room for `backlog` pending connections.
    ///
    /// ```
    /// use weft::net::{TcpSocket, TcpStream};
    ///
    /// weft::run(async {
    ///     let socket = TcpSocket::new_v4().unwrap();
    ///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let listener = socket.listen(8).unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (_, peer) = listener.accept().await.unwrap();
    ///     assert_eq!(peer, client.local_addr().unwrap());
    /// });
    /// ```
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.socket.listen(backlog.min(i32::MAX as u32) as i32)?;
        Ok(TcpListener {
            source: Source::new(std::net::TcpListener::from(self.socket)),
            backoff: AcceptBackoff::default(),
        })
    }

    /// Connects to `address`.
    ///
    /// Cancellation safety: dropping the future closes the half-open socket; nothing is left behind.
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpSocket};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let address = listener.local_addr().unwrap();
    ///     let stream = TcpSocket::new_v4().unwrap().connect(address).await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), address);
    /// });
    /// ```
    #[track_caller]
    pub fn connect(self, address: SocketAddr) -> impl Future<Output = io::Result<TcpStream>> {
        self.connect_with(address, Wait::here(Op::TcpConnect))
    }

    /// Connects to `address`, bookmarking `wait` while the connection is being made.
    async fn connect_with(self, address: SocketAddr, wait: Wait) -> io::Result<TcpStream> {
        match self.socket.connect(&address.into()) {
            Ok(()) => {}
            Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(error) => return Err(error),
        }
        TcpStream::from_socket(self.socket)
            .finish_connect(wait)
            .await
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("fd", &self.socket.as_raw_fd())
            .finish()
    }
}
