//! [`IoDatagram`]: a datagram socket — [`UdpSocket`](super::UdpSocket) and [`UnixDatagram`](super::UnixDatagram)
//! are its two kinds, and what they share is written here once: `from_std`/`into_std`, `local_addr`, `send` and
//! `recv` on a connected socket, `recv_from`, the descriptor traits. What differs (addresses to bind, connect and
//! send to; UDP's socket options) stays with each kind.
//!
//! # Invariants
//! 1. Every method that can wait is `#[track_caller]` and makes its bookmark when its future is made, so a task
//!    parked in it shows the line of the user's call.
//! 2. The socket is non-blocking from construction to [`into_std`](IoDatagram::into_std), which leaves it so.
//! 3. A datagram goes out whole in one system call or not at all: dropping a send future never sends part of
//!    one, and dropping a receive future loses nothing (the datagram stays queued for the next call).

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::source::Source;
use crate::cell::Op;
use crate::sys::{fd, socket as sys_socket};

/// A standard library datagram socket that an [`IoDatagram`] drives: `std::net::UdpSocket` or
/// `std::os::unix::net::UnixDatagram`. Sealed: the `Op`s name the socket's sends and receives in a bookmark.
#[allow(
    private_interfaces,
    reason = "sealed: outside the crate nobody can name or implement the trait, so nobody meets `Op`"
)]
pub trait DatagramSocket: AsFd + fmt::Debug + Send + Sync + 'static {
    /// The address of a socket of this kind: `std::net::SocketAddr` or `std::os::unix::net::SocketAddr`.
    type Addr;

    /// What a task waiting to send shows ("UdpSocket::send").
    #[doc(hidden)]
    const SEND: Op;
    /// What a task waiting to receive shows ("UdpSocket::recv").
    #[doc(hidden)]
    const RECV: Op;

    /// `local_addr` of the standard type.
    fn local_addr_socket(&self) -> io::Result<Self::Addr>;

    /// `recv_from` of the standard type (its address type is the kind's own).
    fn recv_from_socket(&self, buf: &mut [u8]) -> io::Result<(usize, Self::Addr)>;
}

/// A datagram socket on the loop's reactor; [`UdpSocket`](super::UdpSocket) is `IoDatagram<std::net::UdpSocket>`
/// and [`UnixDatagram`](super::UnixDatagram) is `IoDatagram<std::os::unix::net::UnixDatagram>`. Each `send` is
/// one datagram and each `recv` returns one, whole or truncated to the buffer.
///
/// ```
/// use weft::net::{IoDatagram, UnixDatagram};
///
/// weft::run(async {
///     let (a, b): (UnixDatagram, IoDatagram<std::os::unix::net::UnixDatagram>) = UnixDatagram::pair().unwrap();
///     a.send(b"one type").await.unwrap();
///     let mut buf = [0; 8];
///     assert_eq!(b.recv(&mut buf).await.unwrap(), 8);
/// });
/// ```
pub struct IoDatagram<T: DatagramSocket> {
    /// The socket, non-blocking (invariant 2).
    pub(crate) source: Source<T>,
}

impl<T: DatagramSocket> IoDatagram<T> {
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
    pub fn from_std(socket: T) -> io::Result<IoDatagram<T>> {
        fd::set_nonblocking(socket.as_fd().as_raw_fd(), true)?;
        Ok(IoDatagram {
            source: Source::new(socket),
        })
    }

    /// Gives the standard socket back, **still non-blocking** (as tokio's `into_std`): call `set_nonblocking(false)`
    /// before blocking calls on it. It leaves its loop's reactor, and [`from_std`](Self::from_std) adopts it again
    /// on any loop.
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
    pub fn into_std(self) -> io::Result<T> {
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
    pub fn local_addr(&self) -> io::Result<T::Addr> {
        self.source.get_ref().local_addr_socket()
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
            .write_with(T::SEND, move |socket| sys_socket::send(socket.as_fd(), buf))
    }

    /// Receives a datagram from the connected peer; a datagram longer than `buf` is truncated. Cancel-safe. Each
    /// call returns one datagram.
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
            .read_with(T::RECV, move |socket| sys_socket::recv(socket.as_fd(), buf))
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
    ) -> impl Future<Output = io::Result<(usize, T::Addr)>> + 'a {
        self.source
            .read_with(T::RECV, move |socket| socket.recv_from_socket(buf))
    }
}

impl<T: DatagramSocket> AsRawFd for IoDatagram<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_fd().as_raw_fd()
    }
}

impl<T: DatagramSocket> AsFd for IoDatagram<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.get_ref().as_fd()
    }
}
