//! The inspection socket: a running process's dump, metrics and recent slow polls, as JSON, for tools outside
//! it (`weft-xray ps PID`). Off by default; on with [`Builder::inspect`] or `WEFT_INSPECT=1`.
//!
//! # Where and who
//!
//! The socket is `$XDG_RUNTIME_DIR/weft/<pid>.sock`, or `/tmp/weft-<uid>/<pid>.sock` when `XDG_RUNTIME_DIR` is
//! unset (a second inspected runtime in the same process gets `<pid>-2.sock`, and so on). The directory is
//! created with mode 0700 if missing, and must be a directory (not a link) owned by this process's user with
//! no access for anyone else, or the runtime refuses to open the socket; the socket itself is made 0600. So only
//! the process's own user (and root) can connect. The socket file is removed when the runtime is dropped (not
//! when the process exits without dropping it, e.g. by `std::process::exit` or a signal: a leftover file names
//! a dead pid, which `weft-xray` reports as such, and the next runtime with that pid replaces it).
//!
//! It is served by a thread of its own, not by the loop, so it answers while the loop is stuck in a long poll:
//! the dump then says so and names the task that blocks the loop (as [`Handle::dump`](crate::Handle::dump)
//! does, waiting up to a second for the loop first).
//!
//! # Protocol, version 1
//!
//! Connect, write one request line, read one reply line; the server then closes the connection. A request is
//! a JSON object on one line, at most 64 KiB: `{"v":1,"cmd":"dump"}`, with `cmd` one of `"dump"`,
//! `"metrics"`, `"slow_polls"`. A client that sends nothing for 2 seconds is disconnected. Every reply is a JSON
//! object on one line with `"v":1` and `"ok"`; a bad request (not JSON, too long, unknown `cmd`, `v` other than
//! 1) gets `{"v":1,"ok":false,"error":"..."}`. Otherwise `"ok":true`, `"cmd"` and `"pid"`, and:
//!
//! - **dump**: `"answered"` (bool: every loop answered), `"text"` (the dump as [`Dump`]'s `Display` prints it),
//!   `"busy_measured"` (bool) and `"tasks"`: an array, longest-parked first, of the tasks of every loop that
//!   answered, `{"id", "loop" (its loop's index), "name" (string or null), "state" ("ready" | "running" |
//!   "parked"), "bookmark" (null or {"label", "location"}), "spawned_at", "polls", "busy_us", "idle_ms",
//!   "awaited_by" (id or null)}`; and `"unanswered"`: an array (empty when answered) of the loops that did not
//!   answer, `{"loop", "reason" ("stuck" | "not_running" | "shut_down"), "blocking"}`, `"blocking"` being null
//!   or the task whose poll blocks that loop, `{"id", "name", "spawned_at", "running_for_ms" (or null),
//!   "resumed_from" (a bookmark or null)}`. The first of them is also given as top-level `"reason"` and
//!   `"blocking"`.
//! - **metrics**: `"metrics"`: the fields of [`Metrics`] by name, durations as `"busy_us"` and `"parked_us"`, and
//!   `"loops"`: the same counters per loop, each with its `"loop"` index.
//! - **slow_polls**: `"threshold_ms"` (null when detection is off) and `"slow_polls"`: the latest reports (at
//!   most 64, oldest first), `{"id", "loop", "name", "spawned_at", "bookmark", "duration_us", "still_running"}`.
//!
//! Locations are `"file:line:column"`. Ids and counts are integers. New fields may be added within version 1;
//! a change that breaks a reader gets a new `v`.
//!
//! ```sh
//! $ echo '{"v":1,"cmd":"metrics"}' | socat - UNIX-CONNECT:/run/user/1000/weft/4242.sock
//! {"v":1,"ok":true,"cmd":"metrics","pid":4242,"metrics":{"tasks_spawned":12,...}}
//! ```
//!
//! References: unix(7) for the socket, and Python's `python -m asyncio ps PID`, which inspects a process
//! from outside the same way.

#![forbid(unsafe_code)]

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::dump::{Blocking, Unanswered};
use super::json::{self, Value};
use super::slow_poll::PollWatch;
use super::{Bookmark, Dump, Metrics, SlowPoll};
use crate::loom::lock_std;
use crate::runtime::{Builder, Handle, Runtime};

/// The longest request line, in bytes.
pub(crate) const MAX_REQUEST: usize = 64 * 1024;

/// How long the server waits for a client's request, or for it to take the reply.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The protocol's version.
const VERSION: u64 = 1;

/// A running inspection socket; dropping it closes and removes the socket.
#[derive(Debug)]
pub(crate) struct Inspector {
    /// The socket's path.
    path: PathBuf,
    /// Tells the server thread to stop.
    stop: Arc<AtomicBool>,
    /// The listening socket, shared with the thread: kept open here until the file is removed, so the file never
    /// names a closed socket while the runtime lives.
    _listening: UnixListener,
}

impl Inspector {
    /// Opens the socket for the runtime of `handle` and starts its thread. `threshold`: the slow-poll threshold,
    /// for the `slow_polls` reply.
    pub(crate) fn start(handle: &Handle, threshold: Option<Duration>) -> io::Result<Inspector> {
        let dir = socket_dir()?;
        let (listener, path) = bind(&dir)?;
        let stop = Arc::new(AtomicBool::new(false));
        let server = Server {
            handle: handle.clone(),
            threshold,
        };
        let listening = match listener.try_clone() {
            Ok(listening) => listening,
            Err(error) => {
                forget(&path);
                return Err(error);
            }
        };
        let stopped = stop.clone();
        let spawned = thread::Builder::new()
            .name("weft-inspect".into())
            .spawn(move || server.run(&listener, &stopped));
        if let Err(error) = spawned {
            forget(&path);
            return Err(error);
        }
        Ok(Inspector {
            path,
            stop,
            _listening: listening,
        })
    }
}

impl Drop for Inspector {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        // Wakes the thread from `accept`; it sees `stop` and exits on its own (not joined: a client may hold it
        // for up to CLIENT_TIMEOUT, and the runtime's drop should not wait for that). The socket stays open
        // (`_listening`) until the file is gone, so nobody can have replaced the file meanwhile.
        let _ = UnixStream::connect(&self.path);
        forget(&self.path);
    }
}

/// Removes the socket file at `path`, which this process no longer serves.
fn forget(path: &Path) {
    let mut live = lock_std(&LIVE);
    let _ = fs::remove_file(path);
    live.retain(|live| live != path);
}

/// The directory of inspection sockets: created (0700) if missing, and checked to be ours and private.
fn socket_dir() -> io::Result<PathBuf> {
    let uid = crate::sys::process::effective_uid();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|dir| !dir.is_empty()) {
        Some(runtime_dir) => Path::new(&runtime_dir).join("weft"),
        None => PathBuf::from(format!("/tmp/weft-{uid}")),
    };
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(with_path(error, "could not create", &dir)),
    }
    let meta = fs::symlink_metadata(&dir).map_err(|error| with_path(error, "cannot read", &dir))?;
    let refuse = |why: String| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "weft inspection socket: {}: {why}; refusing to use it",
                dir.display()
            ),
        )
    };
    if !meta.is_dir() {
        return Err(refuse("not a directory".into()));
    }
    if meta.uid() != uid {
        return Err(refuse(format!(
            "owned by uid {}, not by us (uid {uid})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refuse(format!(
            "mode {:o} lets others in (it must be 0700)",
            meta.mode() & 0o777
        )));
    }
    Ok(dir)
}

/// `error` with what was done to `path`.
fn with_path(error: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("weft inspection socket: {what} {}: {error}", path.display()),
    )
}

/// The sockets this process serves now. A socket file named after our pid and not in here is a leftover of an
/// earlier process that had our pid; binding under this lock means two runtimes never take the same name, and
/// none removes another's file (asking the file instead — does anyone answer? — races with a socket that is
/// bound but not yet listening).
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Binds `<pid>.sock` in `dir` (or `<pid>-2.sock`, ... if another runtime of this process has it), replacing a
/// leftover file of an earlier process with our pid; makes it 0600.
fn bind(dir: &Path) -> io::Result<(UnixListener, PathBuf)> {
    let pid = std::process::id();
    let mut live = lock_std(&LIVE);
    let mut number = 1;
    loop {
        let path = dir.join(match number {
            1 => format!("{pid}.sock"),
            n => format!("{pid}-{n}.sock"),
        });
        number += 1;
        if live.contains(&path) {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(with_path(error, "cannot remove the leftover", &path)),
        }
        let listener =
            UnixListener::bind(&path).map_err(|error| with_path(error, "cannot bind", &path))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .map_err(|error| with_path(error, "cannot set the mode of", &path))?;
        live.push(path.clone());
        return Ok((listener, path));
    }
}

/// What the server thread answers from.
struct Server {
    /// The runtime.
    handle: Handle,
    /// The slow-poll threshold, if detection is on.
    threshold: Option<Duration>,
}

impl Server {
    /// Accepts connections until told to stop, serving each in turn.
    fn run(&self, listener: &UnixListener, stop: &AtomicBool) {
        for stream in listener.incoming() {
            if stop.load(SeqCst) {
                return;
            }
            match stream {
                Ok(stream) => self.serve(&stream),
                // Out of file descriptors, or the like: wait instead of spinning on the error.
                Err(_) => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Reads one request line from `stream` and writes the reply.
    fn serve(&self, stream: &UnixStream) {
        let _ = stream.set_read_timeout(Some(CLIENT_TIMEOUT));
        let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
        let mut line = Vec::new();
        let limit = MAX_REQUEST as u64 + 1;
        if BufReader::new(stream.take(limit))
            .read_until(b'\n', &mut line)
            .is_err()
            || line.is_empty()
        {
            return; // silent, timed out or gone: nobody to answer
        }
        let reply = if line.len() > MAX_REQUEST && !line.ends_with(b"\n") {
            error(&format!("request longer than {MAX_REQUEST} bytes"))
        } else {
            self.answer(&line)
        };
        let mut writer = stream;
        let _ = writeln!(writer, "{reply}");
    }

    /// The reply to one request line.
    fn answer(&self, line: &[u8]) -> Value {
        let Ok(text) = std::str::from_utf8(line) else {
            return error("request is not UTF-8");
        };
        let request = match json::parse(text) {
            Ok(request @ Value::Object(_)) => request,
            Ok(_) => return error("request must be a JSON object like {\"v\":1,\"cmd\":\"dump\"}"),
            Err(why) => return error(&format!("request is not valid JSON: {why}")),
        };
        match request.get("v") {
            Some(Value::Number(v)) if *v == VERSION as f64 => {}
            _ => {
                return error(
                    "unsupported or missing protocol version \"v\" (this process speaks 1)",
                )
            }
        }
        let cmd = match request.get("cmd") {
            Some(Value::Str(cmd)) => cmd.as_str(),
            _ => return error("missing \"cmd\": one of \"dump\", \"metrics\", \"slow_polls\""),
        };
        let body = match cmd {
            "dump" => dump_fields(&self.handle.dump()),
            "metrics" => vec![("metrics".into(), metrics_json(&self.handle.metrics()))],
            "slow_polls" => self.slow_polls(),
            other => {
                return error(&format!(
                    "unknown cmd {other:?}: one of \"dump\", \"metrics\", \"slow_polls\""
                ))
            }
        };
        let mut reply = vec![
            ("v".into(), Value::UInt(VERSION)),
            ("ok".into(), Value::Bool(true)),
            ("cmd".into(), Value::from(cmd)),
            ("pid".into(), Value::UInt(u64::from(std::process::id()))),
        ];
        reply.extend(body);
        Value::Object(reply)
    }

    /// The fields of a `slow_polls` reply.
    fn slow_polls(&self) -> Vec<(String, Value)> {
        let recent = self
            .handle
            .shared()
            .probe_shared
            .as_ref()
            .and_then(|part| part.downcast_ref::<PollWatch>())
            .map(PollWatch::recent)
            .unwrap_or_default();
        vec![
            (
                "threshold_ms".into(),
                self.threshold.map_or(Value::Null, |threshold| {
                    Value::Number(threshold.as_secs_f64() * 1e3)
                }),
            ),
            (
                "slow_polls".into(),
                Value::Array(recent.iter().map(slow_poll_json).collect()),
            ),
        ]
    }
}

/// An error reply.
fn error(why: &str) -> Value {
    Value::Object(vec![
        ("v".into(), Value::UInt(VERSION)),
        ("ok".into(), Value::Bool(false)),
        ("error".into(), Value::from(why)),
    ])
}

/// A bookmark, or null.
fn bookmark_json(bookmark: Option<&Bookmark>) -> Value {
    bookmark.map_or(Value::Null, |bookmark| {
        Value::Object(vec![
            ("label".into(), Value::from(bookmark.label.as_ref())),
            (
                "location".into(),
                Value::from(bookmark.location.to_string()),
            ),
        ])
    })
}

/// Saturating microseconds.
fn micros(duration: Duration) -> Value {
    Value::UInt(u64::try_from(duration.as_micros()).unwrap_or(u64::MAX))
}

/// The fields of a `dump` reply.
fn dump_fields(dump: &Dump) -> Vec<(String, Value)> {
    let mut fields = vec![
        ("answered".into(), Value::Bool(dump.answered())),
        ("text".into(), Value::from(dump.to_string())),
    ];
    let tasks = dump
        .tasks()
        .iter()
        .map(|task| {
            Value::Object(vec![
                ("id".into(), Value::UInt(task.id.as_u64())),
                ("loop".into(), Value::UInt(task.loop_id.index() as u64)),
                ("name".into(), Value::opt_str(task.name.as_deref())),
                ("state".into(), Value::from(task.state.to_string())),
                ("bookmark".into(), bookmark_json(task.bookmark.as_ref())),
                (
                    "spawned_at".into(),
                    Value::from(task.spawned_at.to_string()),
                ),
                ("polls".into(), Value::UInt(task.polls)),
                ("busy_us".into(), micros(task.busy)),
                (
                    "idle_ms".into(),
                    Value::UInt(u64::try_from(task.idle_for.as_millis()).unwrap_or(u64::MAX)),
                ),
                (
                    "awaited_by".into(),
                    task.awaited_by
                        .map_or(Value::Null, |id| Value::UInt(id.as_u64())),
                ),
            ])
        })
        .collect();
    fields.push(("busy_measured".into(), Value::Bool(dump.busy_measured())));
    fields.push(("tasks".into(), Value::Array(tasks)));
    let unanswered: Vec<Value> = dump
        .unanswered_loops()
        .iter()
        .map(|(loop_id, why)| {
            let (reason, blocking) = match why {
                Unanswered::ShutDown => ("shut_down", None),
                Unanswered::NotRunning => ("not_running", None),
                Unanswered::Stuck { blocking, .. } => ("stuck", blocking.as_ref()),
            };
            Value::Object(vec![
                ("loop".into(), Value::UInt(loop_id.index() as u64)),
                ("reason".into(), Value::from(reason)),
                (
                    "blocking".into(),
                    blocking.map_or(Value::Null, blocking_json),
                ),
            ])
        })
        .collect();
    // The first loop that did not answer also at the top level (with one loop: the loop).
    if let Some(Value::Object(first)) = unanswered.first() {
        fields.extend(first.iter().skip(1).cloned());
    }
    fields.push(("unanswered".into(), Value::Array(unanswered)));
    fields
}

/// The task blocking a stuck loop.
fn blocking_json(blocking: &Blocking) -> Value {
    Value::Object(vec![
        ("id".into(), Value::UInt(blocking.id.as_u64())),
        ("name".into(), Value::opt_str(blocking.name.as_deref())),
        (
            "spawned_at".into(),
            Value::from(blocking.spawned_at.to_string()),
        ),
        (
            "running_for_ms".into(),
            blocking.running_for.map_or(Value::Null, |running| {
                Value::Number(running.as_secs_f64() * 1e3)
            }),
        ),
        (
            "resumed_from".into(),
            bookmark_json(blocking.resumed_from.as_ref()),
        ),
    ])
}

/// The `metrics` object.
fn metrics_json(metrics: &Metrics) -> Value {
    let count = |name: &str, value: u64| (name.to_owned(), Value::UInt(value));
    Value::Object(vec![
        count("tasks_spawned", metrics.tasks_spawned),
        count("tasks_alive", metrics.tasks_alive),
        count("polls", metrics.polls),
        ("busy_us".into(), micros(metrics.busy)),
        ("parked_us".into(), micros(metrics.parked)),
        count("parks", metrics.parks),
        count("local_wakes", metrics.local_wakes),
        count("remote_wakes", metrics.remote_wakes),
        count("timers_fired", metrics.timers_fired),
        count("io_events", metrics.io_events),
        count("blocking_threads", metrics.blocking_threads),
        count("blocking_threads_idle", metrics.blocking_threads_idle),
        count("blocking_queue_depth", metrics.blocking_queue_depth),
        count(
            "blocking_threads_abandoned",
            metrics.blocking_threads_abandoned,
        ),
        count("slow_polls", metrics.slow_polls),
        (
            "loops".into(),
            Value::Array(
                metrics
                    .loops
                    .iter()
                    .map(|one| {
                        Value::Object(vec![
                            count("loop", one.loop_id.index() as u64),
                            count("tasks_spawned", one.tasks_spawned),
                            count("tasks_alive", one.tasks_alive),
                            count("polls", one.polls),
                            ("busy_us".into(), micros(one.busy)),
                            ("parked_us".into(), micros(one.parked)),
                            count("parks", one.parks),
                            count("local_wakes", one.local_wakes),
                            count("remote_wakes", one.remote_wakes),
                            count("timers_fired", one.timers_fired),
                            count("io_events", one.io_events),
                            count("slow_polls", one.slow_polls),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

/// One slow-poll report.
fn slow_poll_json(slow: &SlowPoll) -> Value {
    Value::Object(vec![
        ("id".into(), Value::UInt(slow.id.as_u64())),
        ("loop".into(), Value::UInt(slow.loop_id.index() as u64)),
        ("name".into(), Value::opt_str(slow.name.as_deref())),
        (
            "spawned_at".into(),
            Value::from(slow.spawned_at.to_string()),
        ),
        ("bookmark".into(), bookmark_json(slow.bookmark.as_ref())),
        ("duration_us".into(), micros(slow.duration)),
        ("still_running".into(), Value::Bool(slow.still_running)),
    ])
}

/// The inspection socket's switch on the runtime's builder.
impl Builder {
    /// Serves this runtime's dump, metrics and recent slow polls as JSON on a Unix socket that only this
    /// process's user can open, for `weft-xray ps/pstree/top PID` (see the protocol in `docs/inspect.md`).
    /// Off by default; the environment turns it on with `WEFT_INSPECT=1` (then a socket that cannot be opened
    /// is said on stderr and the runtime runs without it; with `inspect(true)`, [`build`](Builder::build)
    /// fails with the reason). The socket is answered by a thread of its own, so a stuck loop can still be
    /// inspected, and removed when the runtime is dropped.
    ///
    /// ```
    /// use std::io::{BufRead, BufReader, Write};
    /// use std::os::unix::net::UnixStream;
    ///
    /// let runtime = weft::Builder::new().inspect(true).build().unwrap();
    /// let path = runtime.inspect_socket().unwrap().to_owned();
    /// let mut socket = UnixStream::connect(&path).unwrap();
    /// socket.write_all(b"{\"v\":1,\"cmd\":\"metrics\"}\n").unwrap();
    /// let mut reply = String::new();
    /// BufReader::new(socket).read_line(&mut reply).unwrap();
    /// assert!(reply.starts_with("{\"v\":1,\"ok\":true,\"cmd\":\"metrics\""));
    /// drop(runtime);
    /// assert!(!path.exists());
    /// ```
    pub fn inspect(&mut self, on: bool) -> &mut Builder {
        super::XraySettings::set_inspect(self, on);
        self
    }
}

/// Where a runtime's inspection socket is.
impl Runtime {
    /// The path of this runtime's inspection socket, if it serves one ([`Builder::inspect`]).
    ///
    /// ```
    /// let runtime = weft::Builder::new().inspect(true).build().unwrap();
    /// let path = runtime.inspect_socket().unwrap();
    /// assert!(path.to_str().unwrap().ends_with(".sock"));
    /// assert!(weft::Builder::new().inspect(false).build().unwrap().inspect_socket().is_none());
    /// ```
    pub fn inspect_socket(&self) -> Option<&Path> {
        self.attached()?
            .downcast_ref::<Inspector>()
            .map(|inspector| inspector.path.as_path())
    }
}
