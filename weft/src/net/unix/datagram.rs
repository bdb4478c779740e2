//! [`UnixDatagram`]: a Unix-domain datagram socket, an [`IoDatagram`] over `std::os::unix::net::UnixDatagram`, and
//! what only Unix-domain datagram sockets have.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::{self as std_unix, SocketAddr};
use std::path::Path;

use super::super::datagram::{DatagramSocket, IoDatagram};
use crate::cell::Op;

/// A Unix-domain datagram socket: `IoDatagram<std::os::unix::net::UnixDatagram>` (its `from_std`, `into_std`,
/// `local_addr`, `send`, `recv` and `recv_from` are [`IoDatagram`]'s).
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
pub type UnixDatagram = IoDatagram<std_unix::UnixDatagram>;

#[allow(private_interfaces, reason = "DatagramSocket is sealed")]
impl DatagramSocket for std_unix::UnixDatagram {
    type Addr = SocketAddr;

    const SEND: Op = Op::UnixDatagramSend;
    const RECV: Op = Op::UnixDatagramRecv;

    fn local_addr_socket(&self) -> io::Result<SocketAddr> {
        self.local_addr()
    }

    fn recv_from_socket(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buf)
    }
}

/// The methods only a Unix-domain datagram socket has.
impl IoDatagram<std_unix::UnixDatagram> {
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
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
