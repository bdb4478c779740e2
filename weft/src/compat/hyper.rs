//! hyper 1.x on weft: [`WeftIo`] (hyper's `rt::Read`/`rt::Write` over any weft stream), [`WeftExecutor`]
//! (spawns hyper's background tasks on the current loop) and [`WeftTimer`] (hyper's timeouts on weft's wheel).
//!
//! ```no_run
//! use std::convert::Infallible;
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{Request, Response};
//! use weft::compat::{WeftIo, WeftTimer};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from("Hello, world!"))))
//! }
//!
//! # fn main() {
//! weft::run(async {
//!     let listener = weft::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//!     loop {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         weft::spawn(async move {
//!             let _ = hyper::server::conn::http1::Builder::new()
//!                 .timer(WeftTimer::new())
//!                 .serve_connection(WeftIo::new(stream), hyper::service::service_fn(hello))
//!                 .await;
//!         });
//!     }
//! });
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use futures_io::{AsyncRead, AsyncWrite};

use crate::time::{Instant, Sleep};

/// Size of the scratch buffer reads land in before hyper's buffer (bytes are copied once; no zeroing of
/// hyper's uninitialised buffer is needed).
const SCRATCH: usize = 16 * 1024;

/// A weft stream (anything `futures-io` `AsyncRead + AsyncWrite`) seen through hyper's I/O traits.
///
/// A whole HTTP/1 exchange over loopback, server and client both on weft:
///
/// ```
/// use std::convert::Infallible;
/// use http_body_util::{BodyExt, Empty, Full};
/// use hyper::body::{Bytes, Incoming};
/// use hyper::rt::Executor;
/// use hyper::{Request, Response};
/// use weft::compat::{WeftExecutor, WeftIo, WeftTimer};
/// use weft::net::{TcpListener, TcpStream};
///
/// async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
///     Ok(Response::new(Full::new(Bytes::from("Hello, world!"))))
/// }
///
/// weft::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let address = listener.local_addr().unwrap();
///     let server = weft::spawn(async move {
///         let (stream, _) = listener.accept().await.unwrap();
///         hyper::server::conn::http1::Builder::new()
///             .timer(WeftTimer::new())
///             .serve_connection(WeftIo::new(stream), hyper::service::service_fn(hello))
///             .await
///     });
///
///     let stream = TcpStream::connect(address).await.unwrap();
///     let (mut sender, connection) = hyper::client::conn::http1::handshake(WeftIo::new(stream))
///         .await
///         .unwrap();
///     WeftExecutor::new().execute(connection); // drives the client side of the connection
///     let request = Request::builder().uri("/").body(Empty::<Bytes>::new()).unwrap();
///     let response = sender.send_request(request).await.unwrap();
///     assert_eq!(response.status(), 200);
///     let body = response.into_body().collect().await.unwrap().to_bytes();
///     assert_eq!(body, "Hello, world!");
///
///     drop(sender); // the client hangs up, so the server's connection ends
///     server.await.unwrap().unwrap();
/// });
/// ```
pub struct WeftIo<T> {
    /// The stream.
    inner: T,
    /// Initialised once; reads go here, then into hyper's buffer.
    scratch: Box<[u8]>,
}

impl<T> WeftIo<T> {
    /// Wraps a stream.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// use hyper::rt::Write;
    /// use weft::compat::WeftIo;
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let mut io = WeftIo::new(a);
    ///     // What hyper calls when it writes:
    ///     let written = poll_fn(|cx| Pin::new(&mut io).poll_write(cx, b"raw bytes")).await.unwrap();
    ///     assert_eq!(written, 9);
    ///     let mut buf = [0; 9];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"raw bytes");
    /// });
    /// ```
    pub fn new(inner: T) -> WeftIo<T> {
        WeftIo {
            inner,
            scratch: Box::new([]),
        }
    }

    /// The stream.
    ///
    /// ```
    /// use weft::compat::WeftIo;
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let io = WeftIo::new(stream);
    ///     assert_eq!(io.inner().peer_addr().unwrap(), listener.local_addr().unwrap());
    /// });
    /// ```
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Unwraps the stream.
    ///
    /// ```
    /// use weft::compat::WeftIo;
    /// use weft::net::UnixStream;
    ///
    /// weft::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let a = WeftIo::new(a).into_inner(); // back to a plain weft stream
    ///     a.write_all(b"plain").await.unwrap();
    ///     let mut buf = [0; 5];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"plain");
    /// });
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for WeftIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.scratch.is_empty() {
            this.scratch = vec![0; SCRATCH].into_boxed_slice();
        }
        let want = buf.remaining().min(this.scratch.len());
        match Pin::new(&mut this.inner).poll_read(cx, &mut this.scratch[..want]) {
            Poll::Ready(Ok(read)) => {
                buf.put_slice(&this.scratch[..read]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for WeftIo<T> {
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
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

impl<T: fmt::Debug> fmt::Debug for WeftIo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WeftIo").field(&self.inner).finish()
    }
}

/// hyper's executor: spawns its background futures (HTTP/2 streams, client connections) on the current loop.
///
/// The futures it runs are detached tasks: they keep running, and their output is dropped. The example on
/// [`WeftIo`] gives it a client connection to drive.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use hyper::rt::Executor;
/// use weft::compat::WeftExecutor;
///
/// weft::run(async {
///     let done = Rc::new(Cell::new(false)); // the futures need not be Send
///     let flag = done.clone();
///     WeftExecutor::new().execute(async move { flag.set(true) });
///     assert!(!done.get()); // spawned, not run yet
///     weft::task::yield_now().await;
///     assert!(done.get());
/// });
/// ```
///
/// # Panics
/// `execute` panics outside a runtime, like [`weft::spawn`](crate::spawn).
#[derive(Debug, Clone, Copy, Default)]
pub struct WeftExecutor;

impl WeftExecutor {
    /// The executor (the same as `WeftExecutor::default()`).
    ///
    /// ```
    /// use hyper::rt::Executor;
    /// use weft::compat::WeftExecutor;
    ///
    /// weft::run(async {
    ///     let (sender, receiver) = std::sync::mpsc::channel();
    ///     WeftExecutor::new().execute(async move { sender.send(5).unwrap() });
    ///     weft::task::yield_now().await;
    ///     assert_eq!(receiver.try_recv(), Ok(5));
    /// });
    /// ```
    pub fn new() -> WeftExecutor {
        WeftExecutor
    }
}

impl<F> hyper::rt::Executor<F> for WeftExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, future: F) {
        drop(crate::spawn(future));
    }
}

/// hyper's timer (header-read timeouts, keep-alive) on weft's timer wheel; follows the virtual clock in a paused
/// runtime.
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// use weft::compat::WeftTimer;
/// use weft::time::Instant;
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let start = Instant::now();
///     WeftTimer::new().sleep(Duration::from_secs(30)).await; // a header-read timeout, say
///     assert_eq!(start.elapsed(), Duration::from_secs(30)); // virtual: instant
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct WeftTimer;

impl WeftTimer {
    /// The timer (the same as `WeftTimer::default()`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use hyper::rt::Timer;
    /// use weft::compat::WeftTimer;
    /// use weft::time::Instant;
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let timer = WeftTimer::new();
    ///     let start = Instant::now();
    ///     let mut sleep = timer.sleep_until((start + Duration::from_secs(5)).into_std());
    ///     timer.reset(&mut sleep, (start + Duration::from_secs(2)).into_std()); // moved earlier
    ///     sleep.await;
    ///     assert_eq!(start.elapsed(), Duration::from_secs(2));
    /// });
    /// ```
    pub fn new() -> WeftTimer {
        WeftTimer
    }
}

/// A weft [`Sleep`] as hyper's `rt::Sleep`: what [`WeftTimer`] hands to hyper.
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// use weft::compat::{WeftSleep, WeftTimer};
///
/// weft::run(async {
///     let mut sleep = WeftTimer::new().sleep(Duration::from_millis(1));
///     assert!(sleep.as_mut().downcast_mut_pin::<WeftSleep>().is_some());
///     sleep.await;
/// });
/// ```
#[derive(Debug)]
pub struct WeftSleep(Sleep);

impl Future for WeftSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl hyper::rt::Sleep for WeftSleep {}

impl hyper::rt::Timer for WeftTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(WeftSleep(crate::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: StdInstant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(WeftSleep(crate::time::sleep_until(Instant::from_std(
            deadline,
        ))))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: StdInstant) {
        match sleep.as_mut().downcast_mut_pin::<WeftSleep>() {
            Some(mut ours) => ours.0.reset(Instant::from_std(new_deadline)),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
