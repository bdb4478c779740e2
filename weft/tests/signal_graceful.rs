//! examples/graceful.rs, driven for real: the example's server runs in a child process (this test binary
//! re-executed, calling the example's own `serve`), a slow request is in flight when SIGTERM arrives, and the
//! request still completes with 200 while new connections are refused; then the process exits 0.
#![cfg(feature = "hyper")]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdout, Stdio};
use std::time::Duration;

#[allow(dead_code)] // its `main` is the example's; the test calls `serve`
#[path = "../../examples/graceful.rs"]
mod graceful;

mod common;
use common::child::{child_command, is_child, wait_child};

/// Reads the server's stdout until a line containing `wanted`, and returns that line.
fn line_with(lines: &mut impl Iterator<Item = std::io::Result<String>>, wanted: &str) -> String {
    for line in lines {
        let line = line.unwrap();
        if line.contains(wanted) {
            return line;
        }
    }
    panic!("the server's output ended before a line with {wanted:?}");
}

#[test]
fn sigterm_during_a_slow_request_lets_it_finish_then_exits_0() {
    const TEST: &str = "sigterm_during_a_slow_request_lets_it_finish_then_exits_0";
    if is_child(TEST) {
        weft::run(graceful::serve("127.0.0.1:0")).unwrap();
        return;
    }
    let mut server = child_command(TEST, None)
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout: ChildStdout = server.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let listening = line_with(&mut lines, "listening on http://");
    // The harness may print "test name ... " on the same line first.
    let address = listening
        .split_once("http://")
        .unwrap()
        .1
        .trim_end_matches('/')
        .to_string();

    let client = std::thread::spawn({
        let address = address.clone();
        move || {
            let mut stream = std::net::TcpStream::connect(&address).unwrap();
            stream
                .write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        }
    });
    line_with(&mut lines, "request /slow");
    // SAFETY: kill(2) on our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(server.id() as i32, libc::SIGTERM) }, 0);
    line_with(&mut lines, "shutting down");
    let refused = std::net::TcpStream::connect(&address).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    let response = client.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("done\n"), "{response}");
    line_with(&mut lines, "every connection closed");
    // Killed after 60 s: a hang guard, not a timing assertion.
    let run = wait_child(server, Duration::from_secs(60));
    assert!(
        !run.killed,
        "the server did not exit within 60 s of SIGTERM"
    );
    assert!(run.status.success(), "{:?}", run.status);
}
