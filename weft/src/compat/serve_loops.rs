//! [`Serve::on_every_loop`]: one [`serve`](super::serve) across every loop of a
//! [many-loop runtime](crate::Builder::loops), in one of two ways ([`Spread`]).
//!
//! # Invariants
//! 1. Each loop serves its connections with its own copy of the service, as tasks of its own (a connection never
//!    moves between loops once served), so nothing of a request is shared between loops but what the service
//!    shares itself.
//! 2. On the shutdown signal every loop stops taking connections first, then lets its connections finish; the
//!    future returns once every loop has. The first loop that fails (a listener it cannot bind) stops them all, and
//!    its error is returned.

use std::fmt;
use std::future::{poll_fn, Future, IntoFuture};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Mutex;
use std::task::Poll;

use super::serve::{accept_loop, run, Connections, HttpService, Serve};
use crate::net::{TcpListener, TcpStream};
use crate::runtime::LoopId;
use crate::sync::{mpsc, watch};
use crate::{Handle, JoinHandle};

/// How [`Serve::on_every_loop`] spreads connections over the loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Spread {
    /// Every loop accepts on a listener of its own, bound with `SO_REUSEPORT` to the given listener's address
    /// (which must have been bound with [`TcpListener::bind_reuseport`]); the kernel spreads new connections
    /// between them and no connection crosses loops.
    ReusePort,
    /// The loop that awaits the server accepts every connection and hands them to the loops in turn. For kernels
    /// or setups where `SO_REUSEPORT` balances badly (few long-lived connections); each connection crosses loops
    /// once, at accept.
    RoundRobin,
}

impl<S> Serve<S> {
    /// Serves on every loop of the runtime instead of the current one: each loop serves its share of the
    /// connections with its own clone of `service` (which must be `Send + Sync` to reach the loops; an axum
    /// `Router` is). With one loop this is [`serve`](super::serve) as it stands.
    ///
    /// ```
    /// use std::future::IntoFuture;
    /// use axum::{routing::get, Router};
    /// use weft::compat::Spread;
    /// use weft::io::AsyncReadExt;
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// let runtime = weft::Builder::new().loops(2).pin_loops(false).build().unwrap();
    /// runtime.block_on(async {
    ///     let listener = TcpListener::bind_reuseport("127.0.0.1:0").await.unwrap();
    ///     let address = listener.local_addr().unwrap();
    ///     let app = Router::new().route("/", get(|| async { weft::current_loop().to_string() }));
    ///     let (stop, stopped) = weft::sync::oneshot::channel::<()>();
    ///     let server = weft::spawn(
    ///         weft::compat::serve(listener, app)
    ///             .on_every_loop(Spread::ReusePort)
    ///             .with_graceful_shutdown(async move { stopped.await.ok(); })
    ///             .into_future(),
    ///     );
    ///     let mut client = TcpStream::connect(address).await.unwrap();
    ///     client.write_all(b"GET / HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n").await.unwrap();
    ///     let mut response = String::new();
    ///     client.read_to_string(&mut response).await.unwrap();
    ///     assert!(response.ends_with("loop 0") || response.ends_with("loop 1"));
    ///     stop.send(()).unwrap();
    ///     server.await.unwrap().unwrap();
    /// });
    /// ```
    pub fn on_every_loop(self, spread: Spread) -> ServeLoops<S, std::future::Pending<()>> {
        let (listener, service) = self.into_parts();
        ServeLoops {
            listener,
            service,
            spread,
            signal: std::future::pending(),
        }
    }
}

/// What [`Serve::on_every_loop`] returns: `.await` it to serve on every loop, or add
/// [`with_graceful_shutdown`](Self::with_graceful_shutdown).
#[must_use = "a ServeLoops does nothing until it is awaited"]
pub struct ServeLoops<S, G> {
    /// The listener given to `serve`.
    listener: TcpListener,
    /// Cloned for each loop, then per connection.
    service: S,
    /// How connections reach the loops.
    spread: Spread,
    /// Completes when serving should stop.
    signal: G,
}

impl<S, G> ServeLoops<S, G> {
    /// Serves until `signal` completes, then every loop stops accepting and lets its connections finish their
    /// request in flight; returns `Ok(())` once every connection on every loop is closed. See
    /// [`Serve::with_graceful_shutdown`].
    pub fn with_graceful_shutdown<G2>(self, signal: G2) -> ServeLoops<S, G2>
    where
        G2: Future<Output = ()> + 'static,
    {
        ServeLoops {
            listener: self.listener,
            service: self.service,
            spread: self.spread,
            signal,
        }
    }
}

impl<S, G> fmt::Debug for ServeLoops<S, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeLoops")
            .field("local_addr", &self.listener.local_addr())
            .field("spread", &self.spread)
            .finish_non_exhaustive()
    }
}

impl<S, G> IntoFuture for ServeLoops<S, G>
where
    S: HttpService + Send + Sync,
    G: Future<Output = ()> + 'static,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let handle = Handle::current();
            if handle.loops().len() == 1 {
                return run(self.listener, self.service, self.signal).await;
            }
            match self.spread {
                Spread::ReusePort => {
                    reuse_port(&handle, self.listener, self.service, self.signal).await
                }
                Spread::RoundRobin => {
                    round_robin(&handle, self.listener, self.service, self.signal).await
                }
            }
        })
    }
}

/// Completes once `stopped` says `true` or its sender is gone.
async fn stop_asked(mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow_and_update() {
        if stopped.changed().await.is_err() {
            return;
        }
    }
}

/// [`Spread::ReusePort`]: a full server on every loop, each on its own listener (invariants 1 and 2).
async fn reuse_port<S>(
    handle: &Handle,
    listener: TcpListener,
    service: S,
    signal: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: HttpService + Send + Sync,
{
    let address = listener.local_addr()?;
    let here = crate::current_loop();
    // The given listener serves on this loop: connections already queued on it are not lost.
    let given = Mutex::new(Some(listener));
    let (stop, stopped) = watch::channel(false);
    let servers = handle.spawn_on_each(move |id: LoopId| {
        let own = (id == here).then(|| crate::loom::lock_std(&given).take()).flatten();
        let service = service.clone();
        let stopped = stopped.clone();
        async move {
            let listener = match own {
                Some(listener) => listener,
                None => TcpListener::bind_reuseport(address).await.map_err(|error| {
                    io::Error::new(
                        error.kind(),
                        format!(
                            "weft::compat::serve: {id} could not listen on {address} ({error}); serving on every \
                             loop with Spread::ReusePort needs a listener made by TcpListener::bind_reuseport"
                        ),
                    )
                })?,
            };
            run(listener, service, stop_asked(stopped)).await
        }
    });
    until_stopped(servers, signal, || {
        let _ = stop.send(true);
    })
    .await
}

/// [`Spread::RoundRobin`]: this loop accepts, each loop serves the connections handed to it (invariants 1 and 2).
async fn round_robin<S>(
    handle: &Handle,
    listener: TcpListener,
    service: S,
    signal: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: HttpService + Send + Sync,
{
    let loops = handle.loops();
    let (senders, receivers): (Vec<_>, Vec<_>) = loops
        .iter()
        .map(|_| mpsc::unbounded_channel::<TcpStream>())
        .unzip();
    let receivers: Mutex<Vec<_>> = Mutex::new(receivers.into_iter().map(Some).collect());
    let workers = handle.spawn_on_each(move |id: LoopId| {
        let streams = crate::loom::lock_std(&receivers)[id.index()].take();
        let service = service.clone();
        async move {
            let Some(mut streams) = streams else {
                return Ok(());
            };
            let connections = Connections::new(service);
            while let Some(stream) = streams.recv().await {
                connections.serve(stream);
            }
            // The acceptor stopped: finish what this loop serves.
            connections.drain().await;
            Ok(())
        }
    });
    let mut next = 0;
    let acceptor = accept_loop(listener, signal, move |stream| {
        // A worker that is gone only happens at shutdown; the connection is dropped with it.
        let _ = senders[next % senders.len()].send(stream);
        next += 1;
    });
    // The acceptor ends at the signal; dropping it drops the senders it owns, so every worker drains and ends.
    until_stopped(workers, acceptor, || ()).await
}

/// Waits for `signal` (or for a server to end early, with an error or not), then drops `signal`, calls `stop` and
/// waits for every server; returns the first error.
async fn until_stopped(
    mut servers: Vec<JoinHandle<io::Result<()>>>,
    signal: impl Future<Output = ()>,
    stop: impl FnOnce(),
) -> io::Result<()> {
    let early = {
        // Dropped at the end of this block: a signal that owns what keeps the servers going lets them go.
        let mut signal = pin!(signal);
        poll_fn(|cx| {
            if signal.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            first_finished(&mut servers, cx).map(Some)
        })
        .await
    };
    stop();
    let mut outcome = Ok(());
    if let Some((index, result)) = early {
        merge(&mut outcome, result);
        drop(servers.remove(index));
    }
    for server in servers {
        merge(&mut outcome, server.await);
    }
    outcome
}

/// The first of `tasks` that finished, with its index and result (a panicked or cancelled task as an error).
fn first_finished(
    tasks: &mut [JoinHandle<io::Result<()>>],
    cx: &mut std::task::Context<'_>,
) -> Poll<(usize, Result<io::Result<()>, crate::JoinError>)> {
    for (index, task) in tasks.iter_mut().enumerate() {
        if let Poll::Ready(result) = Pin::new(task).poll(cx) {
            return Poll::Ready((index, result));
        }
    }
    Poll::Pending
}

/// Keeps the first error of a server's outcome.
fn merge(outcome: &mut io::Result<()>, joined: Result<io::Result<()>, crate::JoinError>) {
    let result = joined.unwrap_or_else(|error| Err(io::Error::other(error.to_string())));
    if outcome.is_ok() {
        *outcome = result;
    }
}
