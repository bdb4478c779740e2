//! hyper 1.x on weft: a server answering a plain HTTP client, and a hyper client fetching from it.
#![cfg(feature = "hyper")]

use std::convert::Infallible;
use std::io::{Read, Write};

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use weft::compat::{WeftExecutor, WeftIo, WeftTimer};
use weft::net::{TcpListener, TcpStream};

async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("Hello, world! You asked for {}", request.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// Serves `connections` connections with hyper, then stops.
async fn serve(listener: TcpListener, connections: usize) {
    for _ in 0..connections {
        let (stream, _) = listener.accept().await.unwrap();
        weft::spawn(async move {
            hyper::server::conn::http1::Builder::new()
                .timer(WeftTimer::new())
                .serve_connection(WeftIo::new(stream), hyper::service::service_fn(hello))
                .await
                .unwrap();
        });
    }
}

#[test]
fn a_hyper_server_on_weft_answers_a_plain_http_client() {
    weft::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = weft::spawn(serve(listener, 1));
        let reply = weft::spawn_blocking(move || {
            let mut client = std::net::TcpStream::connect(address).unwrap();
            client
                .write_all(b"GET /plain HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut reply = String::new();
            client.read_to_string(&mut reply).unwrap();
            reply
        })
        .await
        .unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert!(
            reply.ends_with("Hello, world! You asked for /plain"),
            "{reply}"
        );
        server.await.unwrap();
    });
}

#[test]
fn a_hyper_client_on_weft_fetches_from_a_hyper_server_on_weft() {
    weft::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = weft::spawn(serve(listener, 1));
        let stream = TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(WeftIo::new(stream))
            .await
            .unwrap();
        let driver = weft::spawn(connection);
        for path in ["/one", "/two", "/three"] {
            let request = Request::get(path)
                .header("host", "localhost")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, format!("Hello, world! You asked for {path}"));
        }
        drop(sender);
        driver.await.unwrap().unwrap();
        server.await.unwrap();
    });
}

#[test]
fn hyper_timers_follow_the_virtual_clock() {
    use hyper::rt::Timer;
    let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let start = weft::time::Instant::now();
        WeftTimer::new()
            .sleep(std::time::Duration::from_secs(30))
            .await;
        assert_eq!(start.elapsed(), std::time::Duration::from_secs(30));
    });
}

#[test]
fn the_executor_spawns_on_the_current_loop() {
    use hyper::rt::Executor;
    weft::run(async {
        let done = std::rc::Rc::new(std::cell::Cell::new(false));
        let flag = done.clone();
        WeftExecutor::new().execute(async move { flag.set(true) });
        weft::task::yield_now().await;
        assert!(done.get());
    });
}
