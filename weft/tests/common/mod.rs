//! Helpers shared by the integration tests (each test binary uses some of them).
#![allow(dead_code)]

use std::future::Future;
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

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

/// Set in the child process that runs one test alone.
const ISOLATED_ENV: &str = "WEFT_TEST_ISOLATED";

/// Runs `body` in a child process of this test binary that runs only the test `name` (on one test thread), so
/// that process-wide measurements (threads, descriptors, resident memory) are not disturbed by the other tests of
/// this binary that run in parallel. In the child, runs `body` itself.
pub fn isolated(name: &str, body: impl FnOnce()) {
    isolated_with(name, &[], None, body)
}

/// [`isolated`], with `env` set in the child and, if given, its soft limit of open descriptors lowered to
/// `nofile` (`ulimit -n` of `/bin/sh`, which then `exec`s the test binary).
pub fn isolated_with(name: &str, env: &[(&str, &str)], nofile: Option<u32>, body: impl FnOnce()) {
    if std::env::var(ISOLATED_ENV).as_deref() == Ok(name) {
        body();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let args = [name, "--exact", "--test-threads=1", "--nocapture"];
    let mut command = match nofile {
        Some(limit) => {
            let mut command = Command::new("/bin/sh");
            command
                .arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                .arg(&exe)
                .args(args);
            command
        }
        None => {
            let mut command = Command::new(&exe);
            command.args(args);
            command
        }
    };
    command.env(ISOLATED_ENV, name);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "isolated test {name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("1 passed"),
        "isolated test {name} did not run in the child:\n{stdout}"
    );
}

/// [`isolated`], with each `(key, Some(value))` set and each `(key, None)` removed in the child's environment.
/// Returns the child's stderr in the parent, once it passed; returns `None` in the child, after running `body`.
pub fn isolated_stderr(
    name: &str,
    env: &[(&str, Option<&str>)],
    body: impl FnOnce(),
) -> Option<String> {
    if std::env::var(ISOLATED_ENV).as_deref() == Ok(name) {
        body();
        return None;
    }
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(ISOLATED_ENV, name);
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "isolated test {name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    Some(stderr)
}
