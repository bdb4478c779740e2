//! `weft::compat::serve(..).on_every_loop(spread)`: an axum Router served by every loop of a two-loop runtime,
//! through `SO_REUSEPORT` listeners or one acceptor handing connections round-robin, with graceful shutdown.
#![cfg(feature = "hyper")]

mod common;

use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use common::without_deadlock;
use weft::compat::Spread;
use weft::io::AsyncReadExt;
use weft::net::{TcpListener, TcpStream};
use weft::sync::oneshot;
use weft::JoinHandle;

const LIMIT: Duration = Duration::from_secs(60);

fn two_loops() -> weft::Runtime {
    weft::Builder::new()
        .loops(2)
        .pin_loops(false)
        .build()
        .unwrap()
}

/// An app that answers with the loop serving the request; `/slow` takes 200 ms first.
fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { weft::current_loop().index().to_string() }),
        )
        .route(
            "/slow",
            get(|| async {
                weft::time::sleep(Duration::from_millis(200)).await;
                format!("slow {}", weft::current_loop().index())
            }),
        )
}

/// One GET on a connection of its own; the body.
async fn get_body(address: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response.split("\r\n\r\n").nth(1).unwrap().to_owned()
}

/// Spawns `app()` served on every loop with `spread` until the returned sender sends (or is dropped); returns the
/// listener's address, that sender and the server's task.
fn serve_until_stopped(
    listener: TcpListener,
    spread: Spread,
) -> (SocketAddr, oneshot::Sender<()>, JoinHandle<io::Result<()>>) {
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = weft::spawn(
        weft::compat::serve(listener, app())
            .on_every_loop(spread)
            .with_graceful_shutdown(async move {
                stopped.await.ok();
            })
            .into_future(),
    );
    (address, stop, server)
}

#[test]
fn reuse_port_serves_on_every_loop() {
    without_deadlock(LIMIT, || {
        two_loops().block_on(async {
            let listener = TcpListener::bind_reuseport("127.0.0.1:0").await.unwrap();
            let (address, stop, server) = serve_until_stopped(listener, Spread::ReusePort);
            let mut served = [0; 2];
            let mut attempts = 0;
            // The other loop binds its listener as the server starts: ask until both have answered.
            while served.contains(&0) {
                attempts += 1;
                assert!(attempts < 2000, "one loop never served: {served:?}");
                let body = get_body(address, "/").await;
                served[body.parse::<usize>().unwrap()] += 1;
            }
            stop.send(()).unwrap();
            server.await.unwrap().unwrap();
            assert!(
                TcpStream::connect(address).await.is_err(),
                "every listener is closed"
            );
        });
    });
}

#[test]
fn round_robin_hands_connections_to_the_loops_in_turn() {
    without_deadlock(LIMIT, || {
        two_loops().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (address, stop, server) = serve_until_stopped(listener, Spread::RoundRobin);
            let mut loops = Vec::new();
            for _ in 0..6 {
                loops.push(get_body(address, "/").await);
            }
            assert_eq!(loops, ["0", "1", "0", "1", "0", "1"]);
            stop.send(()).unwrap();
            server.await.unwrap().unwrap();
        });
    });
}

#[test]
fn graceful_shutdown_lets_a_request_in_flight_on_another_loop_finish() {
    without_deadlock(LIMIT, || {
        two_loops().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (address, stop, server) = serve_until_stopped(listener, Spread::RoundRobin);
            assert_eq!(get_body(address, "/").await, "0"); // the next connection goes to loop 1
            let slow = weft::spawn(get_body(address, "/slow"));
            weft::time::sleep(Duration::from_millis(50)).await; // the request is in flight on loop 1
            stop.send(()).unwrap();
            assert_eq!(slow.await.unwrap(), "slow 1");
            server.await.unwrap().unwrap();
        });
    });
}

#[test]
fn reuse_port_needs_a_reuse_port_listener_and_says_so() {
    without_deadlock(LIMIT, || {
        two_loops().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let error = weft::compat::serve(listener, app())
                .on_every_loop(Spread::ReusePort)
                .await
                .unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
            assert!(error.to_string().contains("bind_reuseport"), "{error}");
        });
    });
}

#[test]
fn with_one_loop_it_is_plain_serve() {
    without_deadlock(LIMIT, || {
        weft::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (address, stop, server) = serve_until_stopped(listener, Spread::ReusePort);
            assert_eq!(get_body(address, "/").await, "0");
            stop.send(()).unwrap();
            server.await.unwrap().unwrap();
        });
    });
}
