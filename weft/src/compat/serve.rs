//! [`serve`]: an accept loop that serves a tower `Service` (an axum `Router`, say) over HTTP/1.1 and HTTP/2 on
//! weft, like `axum::serve` does on tokio; [`Serve::with_graceful_shutdown`] stops it without cutting a request.
//!
//! # Invariants
//! 1. Every connection runs as its own weft task on the loop that accepted it, holding one receiver of the stop
//!    channel; the serve loop holds none, so "every receiver is gone" means "every connection is closed".
//! 2. An accept error never ends the loop: it is written to stderr and the loop accepts again. Running out of
//!    descriptors (`EMFILE`) is reported once per episode by the listener, which then retries on a timer; any
//!    other error that is not about one connection gets a short pause, so no error becomes a busy loop.
//! 3. On the shutdown signal the listener is dropped first (new connections are refused), then every connection
//!    is told to finish the request in progress and close; the future returns once all of them have.
//!
//! hyper-util's `auto` builder reads a connection's first bytes: the HTTP/2 preface means HTTP/2 (prior
//! knowledge, as gRPC and `curl --http2-prior-knowledge` send it), anything else HTTP/1.1.

use std::error::Error as StdError;
use std::fmt;
use std::future::{poll_fn, Future, IntoFuture};
use std::io;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower_service::Service;

use super::{WeftExecutor, WeftIo, WeftTimer};
use crate::net::{TcpListener, TcpStream};
use crate::sync::watch;

/// The pause after an accept error that is neither about one connection nor a descriptor limit (which the
/// listener backs off from by itself).
const ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The error type hyper accepts from services and bodies.
type BoxError = Box<dyn StdError + Send + Sync>;

/// What [`serve`] can serve: a tower `Service` of HTTP requests, `Clone` (one copy per connection), whose response
/// body is any `http_body::Body` — an axum `Router`, a `tower::service_fn`. One name for the bound that every
/// function of the server repeats; implemented for every type that meets it, and unnameable outside the crate.
pub trait HttpService:
    Service<
        Request<Incoming>,
        Response = Response<<Self as HttpService>::ResponseBody>,
        Future: 'static,
        Error: Into<BoxError>,
    > + Clone
    + 'static
{
    /// The body of the service's responses.
    type ResponseBody: Body<Error: Into<BoxError>> + 'static;
}

impl<S, B> HttpService for S
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    type ResponseBody = B;
}

/// Serves `service` on every connection `listener` accepts, over HTTP/1.1 or HTTP/2 (chosen by the connection's
/// first bytes), until the future is dropped; `.await` it (it is [`IntoFuture`]).
///
/// Each connection is a weft task on the current loop (neither the service nor its futures need be `Send`), with
/// `TCP_NODELAY` set and [`WeftTimer`] and [`WeftExecutor`] given to hyper. A failed accept (`EMFILE` when the
/// process is out of descriptors) is written to stderr and retried after a pause, never returned. Errors of one
/// connection (a client that hangs up mid-request) end that connection only and are not logged, as with
/// `axum::serve`.
///
/// ```no_run
/// use axum::{routing::get, Router};
///
/// #[weft::main]
/// async fn main() -> std::io::Result<()> {
///     let app = Router::new().route("/", get(|| async { "Hello from weft" }));
///     let listener = weft::net::TcpListener::bind("127.0.0.1:3000").await?;
///     weft::compat::serve(listener, app).await // serves until the process ends
/// }
/// ```
///
/// `Router` is one service among many: a `tower::service_fn` or a hand-written `Service` works as well. The
/// example on [`Serve::with_graceful_shutdown`] serves one request and stops.
pub fn serve<S>(listener: TcpListener, service: S) -> Serve<S> {
    Serve { listener, service }
}

/// What [`serve`] returns: `.await` it to serve forever, or call [`with_graceful_shutdown`](Self::with_graceful_shutdown).
///
/// ```no_run
/// use axum::{routing::get, Router};
///
/// weft::run(async {
///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let serving = weft::compat::serve(listener, Router::new().route("/", get(|| async { "hi" })));
///     println!("{serving:?}"); // Serve { local_addr: Ok(127.0.0.1:...) }
///     serving.await.unwrap();
/// });
/// ```
#[must_use = "a Serve does nothing until it is awaited"]
pub struct Serve<S> {
    /// Where connections come from.
    listener: TcpListener,
    /// Cloned once per connection.
    service: S,
}

impl<S> Serve<S> {
    /// The listener and the service.
    pub(super) fn into_parts(self) -> (TcpListener, S) {
        (self.listener, self.service)
    }

    /// Serves until `signal` completes, then stops accepting, lets every connection finish the request it is
    /// serving, and returns `Ok(())` once every connection is closed. Idle keep-alive connections are closed
    /// at once; a client that keeps its connection open with no request in flight does not delay the return.
    ///
    /// ```
    /// use std::future::IntoFuture;
    /// use axum::{routing::get, Router};
    /// use weft::io::AsyncReadExt;
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let address = listener.local_addr().unwrap();
    ///     let (stop, stopped) = weft::sync::oneshot::channel::<()>();
    ///     let app = Router::new().route("/", get(|| async { "Hello from weft" }));
    ///     let server = weft::spawn(
    ///         weft::compat::serve(listener, app)
    ///             .with_graceful_shutdown(async move { stopped.await.ok(); })
    ///             .into_future(),
    ///     );
    ///
    ///     let mut client = TcpStream::connect(address).await.unwrap();
    ///     client
    ///         .write_all(b"GET / HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n")
    ///         .await
    ///         .unwrap();
    ///     let mut response = Vec::new();
    ///     client.read_to_end(&mut response).await.unwrap();
    ///     assert!(String::from_utf8(response).unwrap().ends_with("Hello from weft"));
    ///
    ///     stop.send(()).unwrap();
    ///     server.await.unwrap().unwrap(); // every connection closed, serve returned Ok
    /// });
    /// ```
    pub fn with_graceful_shutdown<G>(self, signal: G) -> WithGracefulShutdown<S, G>
    where
        G: Future<Output = ()> + 'static,
    {
        WithGracefulShutdown {
            serve: self,
            signal,
        }
    }
}

impl<S> fmt::Debug for Serve<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("local_addr", &self.listener.local_addr())
            .finish_non_exhaustive()
    }
}

impl<S> IntoFuture for Serve<S>
where
    S: HttpService,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self.listener, self.service, std::future::pending()))
    }
}

/// What [`Serve::with_graceful_shutdown`] returns: `.await` it to serve until the signal, then stop gracefully.
///
/// ```no_run
/// use axum::{routing::get, Router};
///
/// #[weft::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = weft::net::TcpListener::bind("127.0.0.1:3000").await?;
///     let app = Router::new().route("/", get(|| async { "Hello from weft" }));
///     let ctrl_c = async { weft::signal::ctrl_c().await.unwrap() };
///     weft::compat::serve(listener, app).with_graceful_shutdown(ctrl_c).await
/// }
/// ```
#[must_use = "a WithGracefulShutdown does nothing until it is awaited"]
pub struct WithGracefulShutdown<S, G> {
    /// The server.
    serve: Serve<S>,
    /// Completes when serving should stop.
    signal: G,
}

impl<S, G> fmt::Debug for WithGracefulShutdown<S, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithGracefulShutdown")
            .field("serve", &self.serve)
            .finish_non_exhaustive()
    }
}

impl<S, G> IntoFuture for WithGracefulShutdown<S, G>
where
    S: HttpService,
    G: Future<Output = ()> + 'static,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self.serve.listener, self.serve.service, self.signal))
    }
}

/// The accept loop (invariants 1–3).
pub(super) async fn run<S>(
    listener: TcpListener,
    service: S,
    signal: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: HttpService,
{
    let connections = Connections::new(service);
    accept_loop(listener, signal, |stream| connections.serve(stream)).await;
    connections.drain().await;
    Ok(())
}

/// Accepts until `signal` completes, handing each connection to `take` (invariant 2: accept errors are written
/// and retried), then drops the listener (invariant 3: new connections are refused from then on).
pub(super) async fn accept_loop(
    listener: TcpListener,
    signal: impl Future<Output = ()>,
    mut take: impl FnMut(TcpStream),
) {
    let mut signal = pin!(signal);
    loop {
        let stream = match accept_until(&listener, signal.as_mut()).await {
            None => break,
            Some(Ok((stream, _))) => stream,
            Some(Err(error)) => {
                eprintln!("weft::compat::serve: accept failed: {error}");
                if !is_about_one_connection(&error) && !is_descriptor_limit(&error) {
                    let pause = pin!(crate::time::sleep(ERROR_PAUSE));
                    if pause_until(pause, signal.as_mut()).await.is_none() {
                        break;
                    }
                }
                continue;
            }
        };
        take(stream);
    }
    drop(listener);
}

/// The connections one loop serves, each a weft task on this loop holding a receiver of `stop` (invariant 1).
pub(super) struct Connections<S> {
    /// HTTP/1.1 or HTTP/2 by the first bytes, with weft's timer and executor.
    builder: auto::Builder<WeftExecutor>,
    /// Cloned once per connection.
    service: S,
    /// Tells every connection to finish; nobody else holds a receiver.
    stop: watch::Sender<bool>,
}

impl<S> Connections<S>
where
    S: HttpService,
{
    /// No connections yet.
    pub(super) fn new(service: S) -> Connections<S> {
        let mut builder = auto::Builder::new(WeftExecutor::new());
        builder.http1().timer(WeftTimer::new());
        builder.http2().timer(WeftTimer::new());
        let (stop, first_receiver) = watch::channel(false);
        drop(first_receiver); // invariant 1: only connections hold receivers
        Connections {
            builder,
            service,
            stop,
        }
    }

    /// Serves `stream` as a task of its own on this loop.
    pub(super) fn serve(&self, stream: TcpStream) {
        // A socket that cannot take the option still serves, only with Nagle's delays.
        let _ = stream.set_nodelay(true);
        let connection = self
            .builder
            .serve_connection(
                WeftIo::new(stream),
                TowerToHyperService::new(self.service.clone()),
            )
            .into_owned();
        drop(crate::spawn(serve_connection(
            connection,
            self.stop.subscribe(),
        )));
    }

    /// Tells every connection to finish its request in flight and close, and waits until all have.
    pub(super) async fn drain(self) {
        let _ = self.stop.send(true); // an Err only says no connection is open
        self.stop.closed().await;
    }
}

/// One connection until it closes, or, once `stopped` changes, until its request in flight is answered.
async fn serve_connection<S>(
    connection: auto::Connection<'static, WeftIo<TcpStream>, TowerToHyperService<S>, WeftExecutor>,
    mut stopped: watch::Receiver<bool>,
) where
    S: HttpService,
{
    let mut connection = pin!(connection);
    let mut stop = pin!(stopped.changed());
    let mut told = false;
    // A connection's error is the client's business (see `serve`); the connection simply ends.
    let _ = poll_fn(|cx| {
        if !told && stop.as_mut().poll(cx).is_ready() {
            told = true;
            connection.as_mut().graceful_shutdown();
        }
        connection.as_mut().poll(cx)
    })
    .await;
}

/// The next accepted connection, or `None` once `signal` completed.
async fn accept_until(
    listener: &TcpListener,
    mut signal: Pin<&mut impl Future<Output = ()>>,
) -> Option<io::Result<(TcpStream, std::net::SocketAddr)>> {
    let mut accept = pin!(listener.accept());
    poll_fn(|cx| {
        if signal.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        accept.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Waits out `pause`; `None` if `signal` completed first.
async fn pause_until(
    mut pause: Pin<&mut crate::time::Sleep>,
    mut signal: Pin<&mut impl Future<Output = ()>>,
) -> Option<()> {
    poll_fn(|cx| {
        if signal.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        pause.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Errors `accept(2)` returns about the one connection it tried to take (the next accept may well succeed).
fn is_about_one_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Out of descriptors or memory: the listener itself retries on a timer (see `net/backoff.rs`).
fn is_descriptor_limit(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
