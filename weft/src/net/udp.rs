//! UDP: [`UdpSocket`].

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use super::each_addr;
use super::source::{Source, Wait};
use crate::cell::Op;
use crate::driver::Direction;

/// A UDP socket.
///
/// ```
/// use weft::net::UdpSocket;
///
/// weft::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"datagram", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0; 32];
///     let (len, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!((&buf[..len], from), (&b"datagram"[..], a.local_addr().unwrap()));
/// });
/// ```
pub struct UdpSocket {
    /// The socket, non-blocking.
    source: Source<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`. Port 0 picks a free port.
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let address = socket.local_addr().unwrap();
    ///     assert_ne!(address.port(), 0);
    ///     let error = UdpSocket::bind(address).await.unwrap_err(); // taken
    ///     assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(addr, |address| async move {
            let socket = Socket::new(
                Domain::for_address(address),
                Type::DGRAM.nonblocking().cloexec(),
                Some(Protocol::UDP),
            )?;
            socket.bind(&address.into())?;
            Ok(UdpSocket {
                source: Source::new(std::net::UdpSocket::from(socket)),
            })
        })
        .await
    }

    /// Wraps a standard socket (made non-blocking here).
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let address = std_socket.local_addr().unwrap();
    /// weft::run(async {
    ///     let socket = UdpSocket::from_std(std_socket).unwrap();
    ///     assert_eq!(socket.local_addr().unwrap(), address);
    ///     socket.send_to(b"to myself", address).await.unwrap();
    ///     let mut buf = [0; 16];
    ///     let (len, from) = socket.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!((&buf[..len], from), (&b"to myself"[..], address));
    /// });
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            source: Source::new(socket),
        })
    }

    /// Gives the standard socket back, **still non-blocking** (as tokio's `into_std`): call `set_nonblocking(false)`
    /// before blocking calls on it. It leaves its loop's reactor, and [`from_std`](Self::from_std) adopts it again
    /// on any loop. A socket that was registered comes back under a new descriptor number, with the limit that
    /// [`IoStream::into_std`](crate::net::IoStream::into_std) describes.
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.send_to(b"to std", b.local_addr().unwrap()).await.unwrap();
    ///     let b = b.into_std().unwrap();
    ///     b.set_nonblocking(false).unwrap(); // it comes back non-blocking
    ///     let mut buf = [0; 16];
    ///     let (len, _) = b.recv_from(&mut buf).unwrap();
    ///     assert_eq!(&buf[..len], b"to std");
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        self.source.into_inner()
    }

    /// The local address.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_eq!(socket.local_addr().unwrap().ip(), Ipv4Addr::LOCALHOST);
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// The connected peer's address; `NotConnected` before [`connect`](Self::connect).
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_eq!(a.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Sets the default peer for [`send`](Self::send) and filters [`recv`](Self::recv) to it.
    ///
    /// Cancellation safety: dropping the future leaves the socket connected to the address, or as it was.
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     stranger.send_to(b"filtered out", a.local_addr().unwrap()).await.unwrap();
    ///     b.send_to(b"from the peer", a.local_addr().unwrap()).await.unwrap();
    ///     let mut buf = [0; 32];
    ///     let len = a.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..len], b"from the peer");
    /// });
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |address| async move {
            self.source.get_ref().connect(address)
        })
        .await
    }

    /// Sends a datagram to the connected peer; returns its length.
    ///
    /// Cancellation safety: a datagram goes out whole in one system call or not at all, so dropping the future
    /// never sends part of it.
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(a.send(b"hello").await.unwrap(), 5);
    ///     let mut buf = [0; 16];
    ///     let (len, from) = b.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!((&buf[..len], from), (&b"hello"[..], a.local_addr().unwrap()));
    /// });
    /// ```
    #[track_caller]
    pub fn send<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        self.source
            .write_with(Op::UdpSend, move |socket| socket.send(buf))
    }

    /// Receives a datagram from the connected peer; a datagram longer than `buf` is truncated. Cancel-safe.
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     b.connect(a.local_addr().unwrap()).await.unwrap();
    ///     a.send_to(b"0123456789", b.local_addr().unwrap()).await.unwrap();
    ///     let mut small = [0; 4];
    ///     assert_eq!(b.recv(&mut small).await.unwrap(), 4); // the other 6 bytes are gone
    ///     assert_eq!(&small, b"0123");
    /// });
    /// ```
    #[track_caller]
    pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        self.source
            .read_with(Op::UdpRecv, move |socket| socket.recv(buf))
    }

    /// Sends a datagram to `target`; returns its length.
    ///
    /// Cancellation safety: a datagram goes out whole in one system call or not at all, so dropping the future
    /// never sends part of it.
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_eq!(a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap(), 4);
    ///     let mut buf = [0; 16];
    ///     let (len, _) = b.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..len], b"ping");
    /// });
    /// ```
    #[track_caller]
    pub fn send_to<'a>(
        &'a self,
        buf: &'a [u8],
        target: impl ToSocketAddrs + 'a,
    ) -> impl Future<Output = io::Result<usize>> + 'a {
        let wait = Wait::here(Op::UdpSend);
        each_addr(target, move |address| {
            poll_fn(move |cx| {
                self.source.poll_io(cx, Direction::Write, wait, |socket| {
                    socket.send_to(buf, address)
                })
            })
        })
    }

    /// Receives a datagram and its sender's address; a datagram longer than `buf` is truncated. Cancel-safe.
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     client.send_to(b"ping", server.local_addr().unwrap()).await.unwrap();
    ///     let mut buf = [0; 16];
    ///     let (len, from) = server.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!(from, client.local_addr().unwrap());
    ///     server.send_to(&buf[..len], from).await.unwrap(); // reply to the sender
    ///     assert_eq!(client.recv_from(&mut buf).await.unwrap().0, 4);
    /// });
    /// ```
    #[track_caller]
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a {
        self.source
            .read_with(Op::UdpRecv, move |socket| socket.recv_from(buf))
    }

    /// Receives a datagram without removing it from the queue.
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.send_to(b"still there", b.local_addr().unwrap()).await.unwrap();
    ///     let mut buf = [0; 16];
    ///     let peeked = b.peek_from(&mut buf).await.unwrap();
    ///     let received = b.recv_from(&mut buf).await.unwrap(); // the same datagram again
    ///     assert_eq!(peeked, received);
    ///     assert_eq!(&buf[..received.0], b"still there");
    /// });
    /// ```
    #[track_caller]
    pub fn peek_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a {
        self.source
            .read_with(Op::UdpRecv, move |socket| socket.peek_from(buf))
    }

    /// Allows sending to broadcast addresses.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     socket.set_broadcast(true).unwrap();
    ///     // weft has no getter; a std view of the same socket reads the option back.
    ///     let view = std::net::UdpSocket::from(socket.as_fd().try_clone_to_owned().unwrap());
    ///     assert!(view.broadcast().unwrap());
    /// });
    /// ```
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.source.get_ref().set_broadcast(broadcast)
    }

    /// Sets the IP time-to-live.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     socket.set_ttl(8).unwrap();
    ///     // weft has no getter; a std view of the same socket reads the option back.
    ///     let view = std::net::UdpSocket::from(socket.as_fd().try_clone_to_owned().unwrap());
    ///     assert_eq!(view.ttl().unwrap(), 8);
    /// });
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.get_ref().as_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
