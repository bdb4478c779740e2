//! [`UnixListener`]: a Unix-domain server socket.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self as std_unix, SocketAddr};
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};

use super::super::backoff::AcceptBackoff;
use super::super::source::{Source, Wait};
use crate::cell::Op;
use crate::driver::Direction;
use crate::sys;

use super::*;

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
    pub(super) source: Source<std_unix::UnixListener>,
    /// Pauses between accepts at the descriptor limit.
    pub(super) backoff: AcceptBackoff,
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

    /// Gives the standard listener back, **still non-blocking** (as tokio's `into_std`): call `set_nonblocking(false)`
    /// before blocking calls on it. It leaves its loop's reactor, and [`from_std`](Self::from_std) adopts it again
    /// on any loop.
    ///
    /// ```
    /// use weft::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("weft-{}-listener-into-std.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// weft::run(async {
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let _client = UnixStream::connect(&path).await.unwrap();
    ///     let std_listener = listener.into_std().unwrap();
    ///     std_listener.set_nonblocking(false).unwrap(); // it comes back non-blocking
    ///     let (_server, peer) = std_listener.accept().unwrap(); // the connection waited in the backlog
    ///     assert!(peer.is_unnamed());
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std_unix::UnixListener> {
        self.source.into_inner()
    }

    /// Accepts a connection. Cancel-safe. A client that did not bind a path of its own has an unnamed
    /// address.
    ///
    /// At the descriptor limit (`EMFILE`, `ENFILE`) or out of kernel memory (`ENOBUFS`, `ENOMEM`) the first
    /// call returns the error and the connection stays queued; calls after that wait, retrying on a timer
    /// (5 ms, doubling up to 200 ms), until an accept succeeds, as [`TcpListener::accept`](crate::net::TcpListener::accept)
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
                if self.source.completion_streams() {
                    // io_uring: a multishot accept delivers the connections.
                    let accepted = self
                        .source
                        .poll_completion(cx, wait, |driver, key, cx| driver.poll_accept(key, cx));
                    return accepted.map(|accepted| {
                        let stream = std_unix::UnixStream::from(accepted?);
                        let address = stream.peer_addr()?;
                        Ok((UnixStream::from_nonblocking(stream), address))
                    });
                }
                self.source.poll_io(cx, Direction::Read, wait, |listener| {
                    let (socket, _) = sys::socket::accept(listener.as_fd())?;
                    let stream = std_unix::UnixStream::from(std::os::fd::OwnedFd::from(socket));
                    let address = stream.peer_addr()?;
                    Ok((UnixStream::from_nonblocking(stream), address))
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

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.get_ref().as_fd()
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
