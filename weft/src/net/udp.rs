//! UDP: [`UdpSocket`], an [`IoDatagram`] over `std::net::UdpSocket`, and what only UDP sockets have.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

use super::datagram::{DatagramSocket, IoDatagram};
use super::each_addr;
use super::source::{Source, Wait};
use crate::cell::Op;
use crate::driver::Direction;

/// A UDP socket: `IoDatagram<std::net::UdpSocket>` (its `from_std`, `into_std`, `local_addr`, `send`, `recv` and
/// `recv_from` are [`IoDatagram`]'s).
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
pub type UdpSocket = IoDatagram<std::net::UdpSocket>;

#[allow(private_interfaces, reason = "DatagramSocket is sealed")]
impl DatagramSocket for std::net::UdpSocket {
    type Addr = SocketAddr;

    const SEND: Op = Op::UdpSend;
    const RECV: Op = Op::UdpRecv;

    fn local_addr_socket(&self) -> io::Result<SocketAddr> {
        self.local_addr()
    }

    fn recv_from_socket(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buf)
    }
}

/// The methods only a UDP socket has.
impl IoDatagram<std::net::UdpSocket> {
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

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
