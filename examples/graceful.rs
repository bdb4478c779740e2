//! A hyper server that stops gracefully: on SIGTERM or Ctrl-C it stops accepting, lets the requests in flight
//! finish (for up to 10 s), then exits 0 — what systemd, Kubernetes and a terminal expect of a service.
//!
//! ```sh
//! cargo run --features hyper --example graceful             # 127.0.0.1:3000
//! curl http://127.0.0.1:3000/slow &                        # a request that takes 1.5 s
//! kill -TERM <pid>                                         # the request still completes, then the server exits
//! ```
//!
//! It prints one line per event (listening, each request, shutting down, done), which the test
//! `weft/tests/signal_graceful.rs` reads while it drives this very code in a child process.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::future::{select, Either};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use weft::compat::{WeftIo, WeftTimer};
use weft::net::TcpListener;
use weft::signal::unix::{signal, SignalKind};
use weft::time::{sleep, timeout};

/// How long the requests in flight get to finish once a stop was asked for.
const GRACE: Duration = Duration::from_secs(10);

/// The application: `/slow` takes 1.5 s, everything else answers at once.
async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    println!("request {}", request.uri().path());
    if request.uri().path() == "/slow" {
        sleep(Duration::from_millis(1500)).await;
    }
    Ok(Response::new(Full::new(Bytes::from_static(b"done\n"))))
}

/// Serves on `address` until SIGTERM or SIGINT, then shuts down gracefully.
pub async fn serve(address: &str) -> io::Result<()> {
    // Registered before accepting anything: from here on, SIGTERM and Ctrl-C are ours to handle.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let listener = TcpListener::bind(address).await?;
    println!("listening on http://{}/", listener.local_addr()?);

    let (stop, stopped) = weft::sync::watch::channel(false);
    let mut connections = Vec::new();
    loop {
        let mut accept = pin!(listener.accept());
        let accepted = poll_fn(|cx| {
            if terminate.poll_recv(cx).is_ready() || interrupt.poll_recv(cx).is_ready() {
                return Poll::Ready(None);
            }
            accept.as_mut().poll(cx).map(Some)
        })
        .await;
        let stream = match accepted {
            None => break, // a stop was asked for
            Some(Ok((stream, _))) => stream,
            Some(Err(error)) => {
                eprintln!("accept: {error}"); // at the descriptor limit: weft's accept backs off
                continue;
            }
        };
        stream.set_nodelay(true)?;
        let mut stopped = stopped.clone();
        connections.retain(|connection: &weft::JoinHandle<()>| !connection.is_finished());
        connections.push(weft::spawn(async move {
            let mut connection = pin!(http1::Builder::new()
                .timer(WeftTimer::new())
                .serve_connection(WeftIo::new(stream), service_fn(handle)));
            let result = match select(connection.as_mut(), pin!(stopped.changed())).await {
                Either::Left((result, _)) => result,
                Either::Right((_, mut connection)) => {
                    // Finish the request in progress (if any), then close; an idle connection closes now.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                eprintln!("connection: {error}");
            }
        }));
    }

    drop(listener); // stop accepting: new connections are refused from now on
    println!(
        "shutting down: stopped accepting, {} connection(s) open",
        connections.len()
    );
    let _ = stop.send(true);
    match timeout(GRACE, weft::join_all(connections)).await {
        Ok(_) => println!("every connection closed; bye"),
        // The runtime's shutdown aborts what is left.
        Err(_) => eprintln!("connections still open after {GRACE:?}; closing them"),
    }
    Ok(())
}

#[weft::main]
async fn main() -> io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_string());
    serve(&address).await
}
