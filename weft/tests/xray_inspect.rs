//! The inspection socket (`Builder::inspect`): real Unix sockets, requests from other threads. Replies parse as
//! JSON and name the tasks; bad requests get error replies; the socket is owner-only; a loop stuck in a poll is
//! still answered, naming the task that blocks it; the socket is gone once the runtime is dropped.
//!
//! No timing assertions: a stuck loop is made by a task that sleeps in a loop until the test lets it go.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// A runtime serving the inspection socket, and the socket's path.
fn inspected() -> (weft::Runtime, PathBuf) {
    let runtime = weft::Builder::new()
        .inspect(true)
        .slow_poll_threshold(Some(Duration::from_millis(20)))
        .on_slow_poll(|_| {})
        .build()
        .unwrap();
    let path = runtime.inspect_socket().expect("inspect(true)").to_owned();
    (runtime, path)
}

/// Sends `request` (bytes as given) and reads the one-line reply.
fn exchange(path: &Path, request: &[u8]) -> String {
    let mut socket = UnixStream::connect(path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket.write_all(request).unwrap();
    let mut reply = String::new();
    BufReader::new(socket).read_line(&mut reply).unwrap();
    assert!(reply.ends_with('\n'), "one line: {reply:?}");
    reply
}

/// Sends a request for `cmd` and parses the reply.
fn ask(path: &Path, cmd: &str) -> Value {
    let reply = exchange(path, format!("{{\"v\":1,\"cmd\":\"{cmd}\"}}\n").as_bytes());
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["v"], 1);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["cmd"], cmd);
    assert_eq!(reply["pid"], std::process::id());
    reply
}

/// Asks from another thread while the loop waits on that thread's join, so the loop can answer.
async fn ask_from_outside(path: &Path, cmd: &'static str) -> Value {
    let path = path.to_owned();
    weft::spawn_blocking(move || ask(&path, cmd)).await.unwrap()
}

#[test]
fn dump_and_metrics_replies_parse_as_json_and_name_the_tasks() {
    let (runtime, path) = inspected();
    runtime.block_on(async {
        let sleeper = weft::task::Builder::new()
            .name("sleeper")
            .spawn(weft::time::sleep(Duration::from_secs(60)));
        // A JoinHandle is a future: this task awaits it.
        let waiter = weft::task::Builder::new().name("waiter").spawn(sleeper);
        weft::task::yield_now().await;
        weft::task::yield_now().await;

        let dump = ask_from_outside(&path, "dump").await;
        assert_eq!(dump["answered"], true, "{dump}");
        let tasks = dump["tasks"].as_array().unwrap();
        let row = |name: &str| {
            tasks
                .iter()
                .find(|task| task["name"] == name)
                .unwrap_or_else(|| panic!("no task {name}: {dump}"))
        };
        let (sleeper, waiter_row) = (row("sleeper"), row("waiter"));
        assert_eq!(sleeper["state"], "parked");
        assert_eq!(sleeper["bookmark"]["label"], "sleep 60.0s");
        assert!(sleeper["bookmark"]["location"]
            .as_str()
            .unwrap()
            .contains("xray_inspect.rs"));
        assert!(sleeper["spawned_at"]
            .as_str()
            .unwrap()
            .contains("xray_inspect.rs"));
        assert_eq!(sleeper["polls"], 1);
        assert_eq!(sleeper["awaited_by"], waiter_row["id"]);
        assert_eq!(waiter_row["id"], waiter.id().as_u64());
        assert!(dump["text"].as_str().unwrap().contains("sleeper"));

        let metrics = ask_from_outside(&path, "metrics").await;
        let metrics = &metrics["metrics"];
        assert!(metrics["tasks_spawned"].as_u64().unwrap() >= 2, "{metrics}");
        assert!(metrics["tasks_alive"].as_u64().unwrap() >= 2, "{metrics}");
        assert!(metrics["busy_us"].is_u64() && metrics["parked_us"].is_u64());
        waiter.abort();
    });
}

#[test]
fn slow_polls_are_kept_and_served() {
    let (runtime, path) = inspected();
    runtime.block_on(async {
        weft::task::Builder::new()
            .name("hog")
            .spawn(async { std::thread::sleep(Duration::from_millis(60)) })
            .await
            .unwrap();
        let reply = ask_from_outside(&path, "slow_polls").await;
        assert_eq!(reply["threshold_ms"], 20.0);
        let slow = reply["slow_polls"].as_array().unwrap();
        let hog = slow
            .iter()
            .find(|slow| slow["name"] == "hog" && slow["still_running"] == false)
            .unwrap_or_else(|| panic!("{reply}"));
        assert!(hog["duration_us"].as_u64().unwrap() >= 60_000);
    });
}

#[test]
fn bad_requests_get_error_replies_and_the_socket_keeps_serving() {
    let (runtime, path) = inspected();
    let too_long = vec![b'x'; 70 * 1024];
    let cases: [(&[u8], &str); 6] = [
        (b"this is not json\n", "not valid JSON"),
        (b"[1,2]\n", "must be a JSON object"),
        (b"{\"v\":2,\"cmd\":\"dump\"}\n", "version"),
        (b"{\"v\":1}\n", "missing \"cmd\""),
        (b"{\"v\":1,\"cmd\":\"reboot\"}\n", "unknown cmd"),
        (&too_long, "longer than 65536 bytes"),
    ];
    for (request, expected) in cases {
        let reply: Value = serde_json::from_str(&exchange(&path, request)).unwrap();
        assert_eq!(reply["ok"], false, "{reply}");
        assert_eq!(reply["v"], 1);
        let error = reply["error"].as_str().unwrap();
        assert!(
            error.contains(expected),
            "{error:?} should say {expected:?}"
        );
    }
    // Deep nesting is refused, not a stack overflow.
    let deep = format!("{}\n", "[".repeat(50_000));
    let reply: Value = serde_json::from_str(&exchange(&path, deep.as_bytes())).unwrap();
    assert_eq!(reply["ok"], false);
    // A client that connects and says nothing is dropped without a reply; then others are served.
    let mut silent = UnixStream::connect(&path).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut nothing = Vec::new();
    assert_eq!(silent.read_to_end(&mut nothing).unwrap(), 0);
    runtime.block_on(async {
        let reply = ask_from_outside(&path, "metrics").await;
        assert_eq!(reply["ok"], true);
    });
}

#[test]
fn the_socket_is_owner_only_in_a_private_directory() {
    let (_runtime, path) = inspected();
    let socket = std::fs::symlink_metadata(&path).unwrap();
    let dir = std::fs::symlink_metadata(path.parent().unwrap()).unwrap();
    assert_eq!(socket.permissions().mode() & 0o777, 0o600);
    assert!(dir.is_dir());
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!((socket.uid(), dir.uid()), (uid, uid));
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(&std::process::id().to_string()), "{name}");
}

#[test]
fn a_stuck_loop_is_answered_naming_the_task_that_blocks_it() {
    let (runtime, path) = inspected();
    let release = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let asker = std::thread::spawn({
        let release = release.clone();
        move || {
            started_rx.recv().unwrap(); // the loop is in the spinner's poll from here on
            let reply = ask(&path, "dump");
            release.store(true, SeqCst);
            reply
        }
    });
    runtime.block_on(async move {
        let spinner = weft::task::Builder::new()
            .name("spinner")
            .spawn(async move {
                started_tx.send(()).unwrap();
                while !release.load(SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        let id = spinner.id();
        spinner.await.unwrap();
        let reply = weft::spawn_blocking(move || asker.join().unwrap())
            .await
            .unwrap();
        assert_eq!(reply["answered"], false, "{reply}");
        assert_eq!(reply["reason"], "stuck");
        assert_eq!(reply["blocking"]["id"], id.as_u64());
        assert_eq!(reply["blocking"]["name"], "spinner");
        assert!(reply["text"].as_str().unwrap().contains("'spinner'"));
    });
}

#[test]
fn the_socket_is_removed_when_the_runtime_is_dropped() {
    let (runtime, path) = inspected();
    assert!(path.exists());
    let second = weft::Builder::new().inspect(true).build().unwrap();
    let second_path = second.inspect_socket().unwrap().to_owned();
    assert_ne!(
        second_path, path,
        "two runtimes in one process, two sockets"
    );
    drop(runtime);
    assert!(!path.exists());
    assert!(UnixStream::connect(&path).is_err());
    drop(second);
    assert!(!second_path.exists());
    let plain = weft::Runtime::new().unwrap();
    assert!(plain.inspect_socket().is_none(), "off by default");
}

#[test]
fn runtimes_made_and_dropped_at_once_each_keep_their_own_socket() {
    let threads: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..25 {
                    let runtime = weft::Builder::new().inspect(true).build().unwrap();
                    let path = runtime.inspect_socket().unwrap().to_owned();
                    // Answered without the loop: metrics are published, not asked of it.
                    let reply: Value =
                        serde_json::from_str(&exchange(&path, b"{\"v\":1,\"cmd\":\"metrics\"}\n"))
                            .unwrap();
                    assert_eq!(reply["ok"], true);
                    drop(runtime);
                    assert!(!path.exists() || UnixStream::connect(&path).is_ok());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn a_runtime_of_two_loops_is_inspected_whole() {
    let runtime = weft::Builder::new()
        .loops(2)
        .pin_loops(false)
        .inspect(true)
        .build()
        .unwrap();
    let path = runtime.inspect_socket().expect("inspect(true)").to_owned();
    let handle = runtime.handle();
    let second = handle.loops()[1];
    runtime.block_on(async {
        let _here = weft::task::Builder::new()
            .name("here")
            .spawn(weft::time::sleep(Duration::from_secs(60)));
        let there = handle.spawn_on(second, async {
            weft::task::Builder::new()
                .name("there")
                .spawn(weft::time::sleep(Duration::from_secs(60)))
                .await
                .unwrap();
        });
        // Until both named tasks are parked, as the socket sees them.
        let dump = loop {
            let dump = ask_from_outside(&path, "dump").await;
            let parked = |name: &str| {
                dump["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|task| task["name"] == name && task["state"] == "parked")
            };
            if parked("here") && parked("there") {
                break dump;
            }
            weft::time::sleep(Duration::from_millis(1)).await;
        };
        assert_eq!(dump["answered"], true, "{dump}");
        assert_eq!(dump["unanswered"], Value::Array(Vec::new()));
        let loop_of = |name: &str| {
            dump["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|task| task["name"] == name)
                .unwrap()["loop"]
                .clone()
        };
        assert_eq!(loop_of("here"), 0);
        assert_eq!(loop_of("there"), 1);
        let metrics = ask_from_outside(&path, "metrics").await;
        let loops = metrics["metrics"]["loops"].as_array().unwrap();
        assert_eq!(loops.len(), 2, "{metrics}");
        assert_eq!(loops[1]["loop"], 1);
        there.abort();
    });
}
