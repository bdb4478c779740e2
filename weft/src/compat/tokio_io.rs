//! tokio's I/O traits on weft's I/O types (feature `tokio-io`): `tokio::io::AsyncRead` and `tokio::io::AsyncWrite`
//! for [`TcpStream`], [`UnixStream`], their borrowed and owned halves, [`fs::File`](crate::fs::File) and a child
//! process's pipes ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`]) — so crates
//! written against tokio's traits (codecs, tokio-util framing, tower services) run on weft's sockets and files.
//!
//! Each impl forwards to the type's `futures-io` impl. A read fills tokio's `ReadBuf` through
//! `initialize_unfilled`, which zeroes only bytes that were never initialised, once per buffer.
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use weft::net::UnixStream;
//!
//! weft::run(async {
//!     let (mut a, mut b) = UnixStream::pair().unwrap();
//!     AsyncWriteExt::write_all(&mut a, b"through tokio's traits").await.unwrap();
//!     AsyncWriteExt::shutdown(&mut a).await.unwrap();
//!     let mut text = String::new();
//!     AsyncReadExt::read_to_string(&mut b, &mut text).await.unwrap();
//!     assert_eq!(text, "through tokio's traits");
//! });
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead as FuturesRead, AsyncWrite as FuturesWrite};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::fs::File;
use crate::net::split::{Hold, ReadSide, WriteSide};
use crate::net::{TcpStream, UnixStream};
use crate::process::{ChildStderr, ChildStdin, ChildStdout};

/// tokio's `poll_read` through a futures-io reader.
fn poll_read_into<R: FuturesRead + ?Sized>(
    reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    match reader.poll_read(cx, buf.initialize_unfilled()) {
        Poll::Ready(Ok(read)) => {
            buf.advance(read);
            Poll::Ready(Ok(()))
        }
        Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
        Poll::Pending => Poll::Pending,
    }
}

/// Implements tokio's `AsyncRead` by forwarding to the type's futures-io impl: `[generics] Type [where-bounds];`.
macro_rules! tokio_read {
    ($([$($generics:tt)*] $type:ty [$($bounds:tt)*];)*) => {$(
        impl<$($generics)*> AsyncRead for $type where $($bounds)* {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
                poll_read_into(self, cx, buf)
            }
        }
    )*};
}

/// Implements tokio's `AsyncWrite` by forwarding to the type's futures-io impl: `[generics] Type [where-bounds];`.
macro_rules! tokio_write {
    ($([$($generics:tt)*] $type:ty [$($bounds:tt)*];)*) => {$(
        impl<$($generics)*> AsyncWrite for $type where $($bounds)* {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                FuturesWrite::poll_write(self, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                FuturesWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                FuturesWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                FuturesWrite::poll_close(self, cx)
            }
        }
    )*};
}

tokio_read! {
    [] TcpStream [];
    [] UnixStream [];
    [] File [];
    [] ChildStdout [];
    [] ChildStderr [];
    [H: Hold] ReadSide<H> [for<'b> &'b H::Target: FuturesRead];
}

tokio_write! {
    [] TcpStream [];
    [] UnixStream [];
    [] File [];
    [] ChildStdin [];
    [H: Hold] WriteSide<H> [for<'b> &'b H::Target: FuturesWrite];
}
