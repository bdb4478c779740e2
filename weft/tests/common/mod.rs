//! Helpers shared by the integration tests (each test binary uses some of them).
#![allow(dead_code)]

pub mod child;
pub mod temp_dir;
pub mod uring;

use std::future::Future;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use child::{child_command, is_child, wait_child};

/// Runs `body` on a fresh runtime. The 120 s bound only turns a hang (a lost wake-up) into a failure; no test
/// asserts anything about time.
pub fn run<F: Future>(body: F) -> F::Output {
    weft::run(async {
        weft::time::timeout(Duration::from_secs(120), body)
            .await
            .expect("hang guard: the test did not finish in 120 s")
    })
}

/// Runs `f` on its own thread and fails (instead of hanging the suite) if it does not finish within `limit`.
/// This is a deadlock detector with a generous bound, not a timing assertion.
pub fn without_deadlock<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let thread = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => {
            thread.join().unwrap();
            value
        }
        // The closure panicked: propagate its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the thread ended without sending"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("deadlock: still running after {limit:?}"),
    }
}

/// How long an isolated test may run before its child is killed: a guard against hangs, not a timing assertion.
const ISOLATED_GUARD: Duration = Duration::from_secs(300);

/// Runs `body` in a child process of this test binary that runs only the test `name` (on one test thread), so
/// that process-wide measurements (threads, descriptors, resident memory) are not disturbed by the other tests of
/// this binary that run in parallel. In the child, runs `body` itself.
pub fn isolated(name: &str, body: impl FnOnce()) {
    isolated_with(name, &[], None, body)
}

/// [`isolated`], with `env` set in the child and, if given, its soft limit of open descriptors lowered to
/// `nofile` (`ulimit -n` of `/bin/sh`, which then `exec`s the test binary).
pub fn isolated_with(name: &str, env: &[(&str, &str)], nofile: Option<u32>, body: impl FnOnce()) {
    if is_child(name) {
        body();
        return;
    }
    let mut command = child_command(name, nofile);
    command.envs(env.iter().copied());
    wait_child(command.spawn().unwrap(), ISOLATED_GUARD).assert_passed();
}

/// [`isolated`], with each `(key, Some(value))` set and each `(key, None)` removed in the child's environment.
/// Returns the child's stderr in the parent, once it passed; returns `None` in the child, after running `body`.
pub fn isolated_stderr(
    name: &str,
    env: &[(&str, Option<&str>)],
    body: impl FnOnce(),
) -> Option<String> {
    if is_child(name) {
        body();
        return None;
    }
    let mut command = child_command(name, None);
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let run = wait_child(command.spawn().unwrap(), ISOLATED_GUARD);
    run.assert_passed();
    Some(run.stderr)
}

/// A connected TCP pair on 127.0.0.1: (client, server).
pub async fn tcp_pair() -> (weft::net::TcpStream, weft::net::TcpStream) {
    let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = weft::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}
