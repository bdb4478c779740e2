//! The http workload's shared parts: the hello-world service and connection settings every runtime's server uses,
//! and [`FuturesIo`], a small adapter that lets hyper 1.x drive any `futures-io` stream (async-net's, weft's).

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

/// The body every server answers with.
pub const HELLO: &[u8] = b"Hello, World!";

/// The hello-world service: `200 OK` with [`HELLO`] for every request.
pub async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(HELLO))))
}

/// The HTTP/1 connection settings every server uses (hyper's defaults: keep-alive, no timer, so no header read
/// timeout).
pub fn http1() -> hyper::server::conn::http1::Builder {
    hyper::server::conn::http1::Builder::new()
}

/// Adapts a `futures-io` stream to hyper's `rt::Read` / `rt::Write`.
///
/// Reads go through a small initialised scratch buffer and are copied into hyper's (possibly uninitialised)
/// buffer, so the adapter needs no `unsafe`; the copy is the size of what was read (a request is ~40 bytes).
#[derive(Debug)]
pub struct FuturesIo<T> {
    inner: T,
    scratch: Box<[u8]>,
    vectored: bool,
}

impl<T> FuturesIo<T> {
    /// Wraps a stream.
    pub fn new(inner: T) -> FuturesIo<T> {
        FuturesIo {
            inner,
            scratch: vec![0u8; 8192].into_boxed_slice(),
            vectored: false,
        }
    }

    /// Tells hyper whether the stream's `poll_write_vectored` really gathers (`writev`) — futures-io cannot say,
    /// and hyper copies into one buffer when it does not.
    pub fn vectored(mut self, vectored: bool) -> FuturesIo<T> {
        self.vectored = vectored;
        self
    }
}

impl<T: futures_lite::AsyncRead + Unpin> hyper::rt::Read for FuturesIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining().min(this.scratch.len());
        match Pin::new(&mut this.inner).poll_read(cx, &mut this.scratch[..want]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&this.scratch[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: futures_lite::AsyncWrite + Unpin> hyper::rt::Write for FuturesIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
