//! [`ChildStdin`], [`ChildStdout`], [`ChildStderr`]: a child's pipes, non-blocking and registered with the loop
//! like sockets.
//!
//! Writes use `write(2)`: a pipe is no socket, so `MSG_NOSIGNAL` does not apply. Writing to a child that closed
//! its stdin is `BrokenPipe` in a Rust program (whose runtime ignores `SIGPIPE` before `main`); a program that
//! restores `SIGPIPE`'s default action is ended by such a write, as with std's pipes.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::cell::Op;
use crate::driver::Direction;
use crate::net::source::{Source, Wait};
use crate::sys;

/// A pipe end made non-blocking for the loop.
fn nonblocking(fd: impl Into<OwnedFd>) -> io::Result<Source<OwnedFd>> {
    let fd = fd.into();
    sys::fd::set_nonblocking(fd.as_raw_fd(), true)?;
    Ok(Source::new(fd))
}

/// The error for a write after [`close`](futures_io::AsyncWrite::poll_close).
fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "weft: the child's stdin was closed",
    )
}

/// The writing end of a child's stdin (`Stdio::piped()`): `futures-io` [`AsyncWrite`](crate::io::AsyncWrite)
/// (and tokio's under the `tokio-io` feature).
///
/// The child sees end of input when this is dropped or closed (`AsyncWriteExt::close`). Cancel-safe as a
/// socket write is: a dropped `write` future wrote nothing or the count it would have returned.
///
/// ```
/// use weft::io::{AsyncReadExt, AsyncWriteExt};
/// use weft::process::{Command, Stdio};
///
/// weft::run(async {
///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"echoed").await.unwrap();
///     stdin.close().await.unwrap(); // end of input: cat exits
///     let mut text = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut text).await.unwrap();
///     assert_eq!(text, "echoed");
///     assert!(child.wait().await.unwrap().success());
/// });
/// ```
pub struct ChildStdin {
    /// The pipe, until closed.
    source: Option<Source<OwnedFd>>,
}

impl ChildStdin {
    /// Wraps std's pipe end.
    pub(super) fn new(stdin: std::process::ChildStdin) -> io::Result<ChildStdin> {
        Ok(ChildStdin {
            source: Some(nonblocking(stdin)?),
        })
    }
}

impl crate::io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let Some(source) = &self.source else {
            return Poll::Ready(Err(closed()));
        };
        let wait = Wait::here(Op::ChildStdinWrite);
        source.poll_transfer(cx, Direction::Write, buf.len(), wait, |fd| {
            sys::socket::write(fd.as_fd(), buf)
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes the pipe: the child reads end of input. Later writes fail with `BrokenPipe`.
    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.source = None;
        Poll::Ready(Ok(()))
    }
}

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fd = self
            .source
            .as_ref()
            .map(|source| source.get_ref().as_raw_fd());
        f.debug_struct("ChildStdin").field("fd", &fd).finish()
    }
}

/// Implements a readable child pipe type.
macro_rules! child_output {
    ($(#[$doc:meta])* $name:ident, $std:ty, $op:ident) => {
        $(#[$doc])*
        pub struct $name {
            /// The pipe.
            source: Source<OwnedFd>,
        }

        impl $name {
            /// Wraps std's pipe end.
            pub(super) fn new(pipe: $std) -> io::Result<$name> {
                Ok($name {
                    source: nonblocking(pipe)?,
                })
            }
        }

        impl crate::io::AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let wait = Wait::here(Op::$op);
                self.source.poll_transfer(cx, Direction::Read, buf.len(), wait, |fd| {
                    sys::socket::read(fd.as_fd(), buf)
                })
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.source.get_ref().as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.source.get_ref().as_raw_fd()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

child_output!(
    /// The reading end of a child's stdout (`Stdio::piped()`): `futures-io` [`AsyncRead`](crate::io::AsyncRead)
    /// (and tokio's under the `tokio-io` feature). End of stream (`Ok(0)`) once the child, and every process
    /// that inherited the pipe, closed it. Cancel-safe: a dropped `read` future took no data.
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    /// use weft::process::{Command, Stdio};
    ///
    /// weft::run(async {
    ///     let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn().unwrap();
    ///     let mut out = Vec::new();
    ///     child.stdout.take().unwrap().read_to_end(&mut out).await.unwrap();
    ///     assert_eq!(out, b"hi\n");
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    ChildStdout,
    std::process::ChildStdout,
    ChildStdoutRead
);

child_output!(
    /// The reading end of a child's stderr (`Stdio::piped()`): like [`ChildStdout`].
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    /// use weft::process::{Command, Stdio};
    ///
    /// weft::run(async {
    ///     let mut child = Command::new("sh")
    ///         .args(["-c", "echo oops >&2"])
    ///         .stderr(Stdio::piped())
    ///         .spawn()
    ///         .unwrap();
    ///     let mut text = String::new();
    ///     child.stderr.take().unwrap().read_to_string(&mut text).await.unwrap();
    ///     assert_eq!(text, "oops\n");
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    ChildStderr,
    std::process::ChildStderr,
    ChildStderrRead
);
