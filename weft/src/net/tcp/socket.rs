//! [`TcpSocket`]: a TCP socket before bind or connect, for setting options first.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

use super::super::backoff::AcceptBackoff;
use super::super::source::{Source, Wait};
use crate::cell::Op;

use super::*;

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
    pub(super) socket: Socket,
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
    pub(super) fn for_addr(address: SocketAddr) -> io::Result<TcpSocket> {
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
    pub(super) async fn connect_with(
        self,
        address: SocketAddr,
        wait: Wait,
    ) -> io::Result<TcpStream> {
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
