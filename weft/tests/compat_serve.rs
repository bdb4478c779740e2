//! `weft::compat::serve`: an axum `Router` answering HTTP/1.1 and HTTP/2 (prior knowledge) on one listener, a
//! graceful shutdown that lets the request in flight finish, an accept loop that survives running out of
//! descriptors, and examples/axum.rs driven by the real `curl`.
//!
//! Tests that need a process of their own (a lowered descriptor limit, a SIGINT) re-execute this test binary with
//! `--exact <test>` and an environment variable naming the test; the child runs the body and reports through its
//! exit status and output.
#![cfg(feature = "hyper")]

use std::future::IntoFuture;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use weft::compat::{WeftExecutor, WeftIo};
use weft::io::AsyncReadExt;
use weft::net::{TcpListener, TcpStream};
use weft::sync::Notify;
use weft::task::yield_now;

mod common;
use common::child::{child_command, is_child, run_child, wait_child};
use common::run;

/// How long a child process may run before it is killed: a guard against hangs, not a timing assertion.
const CHILD_GUARD: Duration = Duration::from_secs(120);

#[allow(dead_code)] // its `main` is the example's; the curl test's child calls `serve`
#[path = "../../examples/axum.rs"]
mod axum_example;

/// `GET /hello/{name}`: a path parameter in, JSON out.
async fn hello(Path(name): Path<String>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "greeting": format!("Hello, {name}!") }))
}

/// A small app: `/` answers text, `/hello/{name}` JSON.
fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "Hello from weft" }))
        .route("/hello/{name}", get(hello))
}

/// Sends raw HTTP/1.1 `requests` on one new connection and returns everything the server wrote until it closed.
async fn exchange(address: SocketAddr, requests: &str) -> String {
    let mut client = TcpStream::connect(address).await.unwrap();
    client.write_all(requests.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    client.read_to_end(&mut response).await.unwrap();
    String::from_utf8(response).unwrap()
}

#[test]
fn an_axum_router_answers_http1_requests() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = weft::spawn(weft::compat::serve(listener, app()).into_future());

        // Two requests on one keep-alive connection, the second asking the server to close.
        let response = exchange(
            address,
            "GET / HTTP/1.1\r\nHost: weft\r\n\r\n\
             GET /hello/ada HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(
            response.matches("HTTP/1.1 200 OK\r\n").count(),
            2,
            "{response}"
        );
        assert!(response.contains("Hello from weft"), "{response}");
        assert!(
            response.contains("content-type: application/json"),
            "{response}"
        );
        assert!(
            response.ends_with(r#"{"greeting":"Hello, ada!"}"#),
            "{response}"
        );

        // An unknown path is the router's 404, and the server goes on serving.
        let response = exchange(
            address,
            "GET /nowhere HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 404 "), "{response}");
        assert!(!server.is_finished());
        server.abort();
    });
}

#[test]
fn http2_with_prior_knowledge_and_http1_are_served_on_the_same_listener() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = weft::spawn(weft::compat::serve(listener, app()).into_future());

        // HTTP/1.1 first, from hyper's client.
        let stream = TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(WeftIo::new(stream))
            .await
            .unwrap();
        weft::spawn(connection);
        let request = Request::get("/hello/one")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.version(), hyper::Version::HTTP_11);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, r#"{"greeting":"Hello, one!"}"#);

        // Then HTTP/2 with prior knowledge (the preface first, no upgrade), several streams at once.
        let stream = TcpStream::connect(address).await.unwrap();
        let (sender, connection) =
            hyper::client::conn::http2::handshake(WeftExecutor::new(), WeftIo::new(stream))
                .await
                .unwrap();
        weft::spawn(connection);
        let mut streams = Vec::new();
        for name in ["two", "three", "four"] {
            let mut sender = sender.clone();
            streams.push(weft::spawn(async move {
                let request = Request::get(format!("http://weft/hello/{name}"))
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let response = sender.send_request(request).await.unwrap();
                assert_eq!(response.version(), hyper::Version::HTTP_2);
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(body, format!(r#"{{"greeting":"Hello, {name}!"}}"#));
            }));
        }
        for stream in streams {
            stream.await.unwrap();
        }
        assert!(!server.is_finished());
        server.abort();
    });
}

/// Gates for the slow route: it says when a request arrived, then waits to be let go.
#[derive(Clone, Default)]
struct Gates {
    arrived: Arc<Notify>,
    release: Arc<Notify>,
}

/// `GET /slow`: answers only once the test releases it.
async fn slow(State(gates): State<Gates>) -> &'static str {
    gates.arrived.notify_one();
    gates.release.notified().await;
    "slow, but finished"
}

#[test]
fn graceful_shutdown_lets_the_request_in_flight_finish_then_returns() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let gates = Gates::default();
        let app = Router::new()
            .route("/slow", get(slow))
            .with_state(gates.clone());
        let stop = Arc::new(Notify::new());
        let signal = {
            let stop = stop.clone();
            async move { stop.notified().await }
        };
        let server = weft::spawn(
            weft::compat::serve(listener, app)
                .with_graceful_shutdown(signal)
                .into_future(),
        );

        // A connection with nothing sent yet, and one whose request is in the handler.
        let mut idle = TcpStream::connect(address).await.unwrap();
        let slow_client = weft::spawn(exchange(
            address,
            "GET /slow HTTP/1.1\r\nHost: weft\r\n\r\n",
        ));
        gates.arrived.notified().await;

        stop.notify_one();
        for _ in 0..20 {
            yield_now().await;
        }
        assert!(
            !server.is_finished(),
            "serve returned while a request was in flight"
        );
        // No longer accepting: a new connection is refused.
        let refused = TcpStream::connect(address).await;
        assert!(refused.is_err(), "still accepting: {refused:?}");

        gates.release.notify_one();
        // The request in flight is answered in full, then its connection closed (no `Connection: close` sent).
        let response = slow_client.await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("slow, but finished"), "{response}");
        server.await.unwrap().unwrap();
        // The idle connection was closed too, without an answer.
        let mut rest = Vec::new();
        assert_eq!(idle.read_to_end(&mut rest).await.unwrap(), 0);
    });
}

#[test]
fn serve_survives_running_out_of_descriptors() {
    const TEST: &str = "serve_survives_running_out_of_descriptors";
    const EMFILE: i32 = 24;
    if !is_child(TEST) {
        // A low soft limit keeps the child's /dev/null hoard small.
        let child = run_child(TEST, Some(256), CHILD_GUARD);
        child.assert_passed();
        let (stderr, report) = (&child.stderr, child.report());
        let logged = stderr
            .lines()
            .filter(|line| line.starts_with("weft::compat::serve: accept failed"))
            .collect::<Vec<_>>();
        assert!(
            !logged.is_empty(),
            "the accept error was not logged\n{report}"
        );
        assert!(
            logged
                .iter()
                .all(|line| line.contains("Too many open files")),
            "{report}"
        );
        // Reported once per episode, then retried on a timer: not a line per spin.
        assert!(logged.len() <= 2, "{report}");
        return;
    }
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // A request queued before the table fills: the server cannot take its connection until a descriptor frees.
        let mut queued = TcpStream::connect(address).await.unwrap();
        queued
            .write_all(b"GET /hello/queued HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();

        let mut hoard = Vec::new();
        loop {
            assert!(hoard.len() < 100_000, "never reached the descriptor limit");
            match std::fs::File::open("/dev/null") {
                Ok(file) => hoard.push(file),
                Err(error) => {
                    assert_eq!(error.raw_os_error(), Some(EMFILE), "{error:?}");
                    break;
                }
            }
        }
        let server = weft::spawn(weft::compat::serve(listener, app()).into_future());
        // Let serve meet the limit and retry a few times (the listener pauses 5 ms, then longer).
        weft::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !server.is_finished(),
            "serve gave up at the descriptor limit"
        );

        drop(hoard);
        let mut response = Vec::new();
        queued.read_to_end(&mut response).await.unwrap();
        let response = String::from_utf8(response).unwrap();
        assert!(
            response.ends_with(r#"{"greeting":"Hello, queued!"}"#),
            "{response}"
        );
        let response = exchange(
            address,
            "GET / HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(response.ends_with("Hello from weft"), "{response}");
        server.abort();
    });
}

/// Runs `curl` with `args`; its stdout.
fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "60"])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "curl {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_axum_example_serves_curl_and_exits_cleanly_on_sigint() {
    const TEST: &str = "the_axum_example_serves_curl_and_exits_cleanly_on_sigint";
    if is_child(TEST) {
        return weft::run(axum_example::serve("0")).unwrap();
    }
    if Command::new("curl").arg("--version").output().is_err() {
        println!("skipped: the curl binary is not installed (apt-get install -y curl)");
        return;
    }
    let mut child = child_command(TEST, None).spawn().unwrap();
    // Lines of the child's stdout, as they come; the thread returns them all once the child closes it.
    let (lines, line_received) = std::sync::mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in stdout.lines() {
            let line = line.unwrap();
            all.push_str(&line);
            all.push('\n');
            let _ = lines.send(line);
        }
        all
    });
    let base = loop {
        // A hang guard, not a timing assertion.
        let Ok(line) = line_received.recv_timeout(Duration::from_secs(120)) else {
            let _ = child.kill();
            panic!("the example never said where it listens");
        };
        // libtest may have written "test <name> ... " before it on the same line.
        if let Some((_, base)) = line.trim().split_once("listening on ") {
            break base.to_string();
        }
    };

    assert_eq!(
        curl(&[&format!("{base}hello/ada")]),
        r#"{"greeting":"Hello, ada!"}"#
    );
    let json = ["-H", "content-type: application/json"];
    assert_eq!(
        curl(
            &[
                &json[..],
                &[
                    "-X",
                    "POST",
                    "-d",
                    r#"{"value":"blue"}"#,
                    &format!("{base}kv/colour")
                ]
            ]
            .concat()
        ),
        r#"{"key":"colour","value":"blue"}"#
    );
    // State is shared across requests (each curl is a connection of its own).
    assert_eq!(
        curl(&[&format!("{base}kv/colour")]),
        r#"{"key":"colour","value":"blue"}"#
    );
    assert_eq!(
        curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}kv/nothing")
        ]),
        "404"
    );
    assert_eq!(
        curl(&["-X", "POST", &format!("{base}counter")]),
        r#"{"count":1}"#
    );
    assert_eq!(
        curl(&[
            "--http2-prior-knowledge",
            "-X",
            "POST",
            &format!("{base}counter")
        ]),
        r#"{"count":2}"#
    );

    // Ctrl-C, as a terminal sends it.
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let run = wait_child(child, CHILD_GUARD);
    let (status, stderr) = (run.status, run.stderr);
    let stdout = reader.join().unwrap();
    let report = format!("status {status:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    assert_eq!(status.code(), Some(0), "{report}");
    assert!(stdout.contains("bye"), "{report}");
    assert!(stdout.contains("1 passed"), "{report}");
}
