//! [`TcpListener`]: a TCP server socket.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::super::backoff::AcceptBackoff;
use super::super::each_addr;
use super::super::source::{Source, Wait};
use crate::cell::Op;
use crate::driver::Direction;
use crate::sys;

use super::*;

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
    pub(super) source: Source<std::net::TcpListener>,
    /// Pauses between accepts at the descriptor limit.
    pub(super) backoff: AcceptBackoff,
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

    /// Binds to `addr` with `SO_REUSEPORT` (and `SO_REUSEADDR`, backlog 1024) and listens: every loop of a
    /// [many-loop runtime](crate::Builder::loops) binds its own listener on the same port, and the kernel spreads
    /// new connections between them, so each loop accepts and serves its share with no hand-off between loops.
    ///
    /// With port 0, bind the first listener, then bind the others to the port it got.
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let first = TcpListener::bind_reuseport("127.0.0.1:0").await.unwrap();
    ///     let address = first.local_addr().unwrap();
    ///     let second = TcpListener::bind_reuseport(address).await.unwrap(); // the same port again
    ///     assert_eq!(second.local_addr().unwrap(), address);
    ///     let _client = TcpStream::connect(address).await.unwrap(); // queued on one of the two
    /// });
    /// ```
    pub async fn bind_reuseport(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |address| async move {
            let socket = TcpSocket::for_addr(address)?;
            socket.set_reuseaddr(true)?;
            socket.set_reuseport(true)?;
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

    /// Gives the standard listener back, **still non-blocking** (as tokio's `into_std`): call `set_nonblocking(false)`
    /// before blocking calls on it. It leaves its loop's reactor, and [`from_std`](Self::from_std) adopts it again
    /// on any loop.
    ///
    /// ```
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let address = listener.local_addr().unwrap();
    ///     let _client = TcpStream::connect(address).await.unwrap();
    ///     let std_listener = listener.into_std().unwrap();
    ///     std_listener.set_nonblocking(false).unwrap(); // it comes back non-blocking
    ///     let (_server, peer) = std_listener.accept().unwrap(); // the connection waited in the backlog
    ///     assert_eq!(peer, _client.local_addr().unwrap());
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        self.source.into_inner()
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
    /// A connection its client reset before it was accepted never fails `accept`: on epoll it is handed out (its
    /// first read fails); on io_uring, which accepts ahead, it has no peer address left and is closed and
    /// skipped.
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
            if self.source.completion_streams() {
                // io_uring: a multishot accept delivers the connections; the peer's address is asked after.
                loop {
                    let accepted = std::task::ready!(self.source.poll_completion(
                        cx,
                        wait,
                        |driver, key, cx| driver.poll_accept(key, cx)
                    ));
                    let socket = socket2::Socket::from(accepted?);
                    let address = match socket.peer_addr() {
                        Ok(address) => address,
                        // The peer reset the connection after the kernel accepted it and before we asked:
                        // it has no peer any more (`ENOTCONN`). It is closed and skipped — a dead connection,
                        // not a failed accept, which would stop many a server's accept loop.
                        Err(error) if error.kind() == io::ErrorKind::NotConnected => continue,
                        Err(error) => return std::task::Poll::Ready(Err(error)),
                    };
                    let address = address.as_socket().ok_or_else(|| {
                        io::Error::other("accepted a connection with a non-IP address")
                    })?;
                    return std::task::Poll::Ready(Ok((TcpStream::from_socket(socket), address)));
                }
            }
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
