//! The tokio bridge (feature "tokio-bridge"): `weft::compat::with_tokio` lets tokio's sockets, timers and
//! `tokio::spawn` — and reqwest, which needs all three — run from weft tasks, over real sockets on 127.0.0.1;
//! and a task that uses tokio outside the bridge gets a panic report that points at it.
#![cfg(feature = "tokio-bridge")]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft::compat::with_tokio;
use weft::net::{TcpListener, TcpStream};

mod common;
use common::child::{is_child, run_child};

#[test]
fn a_tokio_stream_talks_to_a_weft_listener() {
    weft::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4];
            stream.read_exact(&mut request).await.unwrap();
            stream.write_all(b"pong").await.unwrap();
            request
        });
        let reply = with_tokio(async move {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            stream.write_all(b"ping").await.unwrap();
            let mut reply = [0u8; 4];
            stream.read_exact(&mut reply).await.unwrap();
            reply
        })
        .await;
        assert_eq!(&reply, b"pong");
        assert_eq!(&server.await.unwrap(), b"ping");
    });
}

#[test]
fn a_weft_stream_talks_to_a_tokio_listener() {
    weft::run(async {
        let listener = with_tokio(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .await
            .unwrap();
        let address = listener.local_addr().unwrap();
        let server = weft::spawn(with_tokio(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4];
            stream.read_exact(&mut request).await.unwrap();
            stream.write_all(b"pong").await.unwrap();
            request
        }));
        let stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"ping").await.unwrap();
        let mut reply = [0u8; 4];
        stream.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"pong");
        assert_eq!(&server.await.unwrap(), b"ping");
    });
}

#[test]
fn tokio_sleep_completes_inside_the_bridge() {
    weft::run(async {
        let started = std::time::Instant::now();
        let slept = with_tokio(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            // weft's own timers work inside the bridge too.
            weft::time::sleep(Duration::from_millis(1)).await;
            "slept"
        })
        .await;
        assert_eq!(slept, "slept");
        // A lower bound only: the sleep really waited, it was not skipped.
        assert!(started.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn tokio_spawn_inside_the_bridge_returns_its_value() {
    weft::run(async {
        let answer = with_tokio(async {
            let task = tokio::spawn(async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                6 * 7
            });
            task.await.unwrap()
        })
        .await;
        assert_eq!(answer, 42);
    });
}

#[test]
fn many_weft_tasks_use_the_bridge_at_once() {
    const TASKS: u64 = 500;
    weft::run(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                weft::spawn(async move {
                    with_tokio(async move {
                        tokio::time::sleep(Duration::from_millis(i % 7)).await;
                        tokio::spawn(async move { i * 2 }).await.unwrap()
                    })
                    .await
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        assert_eq!(total, TASKS * (TASKS - 1));
    });
}

#[test]
fn every_loop_of_a_many_loop_runtime_uses_the_one_bridge() {
    let runtime = weft::Builder::new()
        .loops(2)
        .pin_loops(false)
        .build()
        .unwrap();
    let tasks = runtime.handle().spawn_on_each(|id| async move {
        let bridge_thread = with_tokio(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            tokio::spawn(async { std::thread::current().id() })
                .await
                .unwrap()
        })
        .await;
        (id, weft::current_loop(), bridge_thread)
    });
    let results = runtime.block_on(weft::join_all(tasks));
    let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.len(), 2);
    for (id, ran_on, _) in &results {
        assert_eq!(id, ran_on, "the bridged future stayed on its loop");
    }
    assert_eq!(
        results[0].2, results[1].2,
        "one bridge thread for the process"
    );
}

#[test]
fn a_bridged_future_dropped_while_it_waits_on_tokio_is_cancelled() {
    weft::run(async {
        let (_keep, never) = tokio::sync::oneshot::channel::<()>();
        let outcome = weft::time::timeout(
            Duration::from_millis(5),
            with_tokio(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                never.await
            }),
        )
        .await;
        assert!(outcome.is_err(), "the hour-long tokio sleep was cut short");
        // The bridge still works after one of its futures was dropped mid-wait.
        assert_eq!(
            with_tokio(async { tokio::spawn(async { 5 }).await.unwrap() }).await,
            5
        );
    });
}

#[test]
fn a_task_waiting_on_tokio_is_bookmarked_at_the_bridge() {
    weft::run(async {
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let line = line!() + 1;
        let waiter = weft::spawn(with_tokio(async move { released.await.unwrap() }));
        weft::task::yield_now().await;
        let dump = weft::xray::dump();
        let info = dump
            .tasks()
            .iter()
            .find(|info| info.id == waiter.id())
            .unwrap();
        let bookmark = info.bookmark.clone().expect("a parked task has a bookmark");
        assert_eq!(bookmark.label, "with_tokio", "{dump}");
        assert!(
            bookmark.location.file().ends_with("compat_tokio_bridge.rs"),
            "{bookmark}"
        );
        assert_eq!(bookmark.location.line(), line, "{bookmark}");
        release.send(()).unwrap();
        waiter.await.unwrap();
    });
}

/// A minimal HTTP/1.1 server on weft's sockets: answers every `GET /path` on a keep-alive connection with the
/// path as the body.
async fn serve_paths(listener: TcpListener) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        weft::spawn(async move {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                let read = stream.read(&mut buf).await.unwrap_or(0);
                if read == 0 {
                    return;
                }
                request.extend_from_slice(&buf[..read]);
                while let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&request[..end]).into_owned();
                    request.drain(..end + 4);
                    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n\r\n{path}",
                        path.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

#[test]
fn reqwest_gets_from_a_weft_server_through_the_bridge() {
    const REQUESTS: usize = 50;
    weft::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        weft::spawn(serve_paths(listener));
        let client = reqwest::Client::new();
        let tasks: Vec<_> = (0..REQUESTS)
            .map(|i| {
                let client = client.clone();
                weft::spawn(async move {
                    let url = format!("http://{address}/item/{i}");
                    with_tokio(async move {
                        let response = client.get(url).send().await.unwrap();
                        assert_eq!(response.status(), 200);
                        response.text().await.unwrap()
                    })
                    .await
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), format!("/item/{i}"));
        }
    });
}

/// Re-executes this test binary to run only `test`, in its child role; returns its stderr after checking that
/// it passed. The child is killed after a minute (a guard against a hang, not a timing assertion).
fn child_stderr(test: &str) -> String {
    let run = run_child(test, None, Duration::from_secs(60));
    run.assert_passed();
    run.stderr
}

#[test]
fn a_tokio_panic_outside_the_bridge_is_reported_with_a_hint() {
    const TEST: &str = "a_tokio_panic_outside_the_bridge_is_reported_with_a_hint";
    if is_child(TEST) {
        weft::run(async {
            // Detached: nobody will see its panic, so weft reports it on stderr.
            let task = weft::spawn(async {
                tokio::time::sleep(Duration::from_millis(1)).await;
            });
            let id = task.id();
            drop(task);
            while weft::xray::dump().tasks().iter().any(|info| info.id == id) {
                weft::task::yield_now().await;
            }
        });
        return;
    }
    let stderr = child_stderr(TEST);
    let report = stderr
        .lines()
        .position(|line| line.starts_with("weft: ") && line.contains("there is no reactor running"))
        .unwrap_or_else(|| panic!("no report of the task's panic:\n{stderr}"));
    let hint = stderr.lines().nth(report + 1).unwrap_or_default();
    assert!(
        hint.starts_with("weft: hint:") && hint.contains("weft::compat::with_tokio"),
        "the report's next line is not the hint:\n{stderr}"
    );
}
