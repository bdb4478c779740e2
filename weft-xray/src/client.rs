//! The client side of the inspection socket: finds a process's socket, checks that it may be trusted, sends one
//! request and reads the one-line reply, turning each way that can fail into a one-line message that says which.

use std::fs;
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a process has to answer a request.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest reply accepted (a dump of a very large process still fits).
const MAX_REPLY: usize = 256 * 1024 * 1024;

/// Reads the PID argument of `ps`, `pstree` and `top`.
pub fn pid_arg(rest: &[String]) -> Result<u32, String> {
    match rest {
        [pid] => pid
            .parse::<u32>()
            .ok()
            .filter(|&pid| pid > 0)
            .ok_or_else(|| format!("{pid:?} is not a process id")),
        [] => {
            Err("missing PID (the process id of a weft program started with WEFT_INSPECT=1)".into())
        }
        _ => Err(format!("expected one PID, got {}", rest.join(" "))),
    }
}

/// A process whose inspection socket was found.
#[derive(Debug, Clone)]
pub struct Process {
    /// Its id.
    pub pid: u32,
    /// Its socket.
    socket: PathBuf,
}

/// This process's effective user id.
fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments and always succeeds.
    unsafe { libc::geteuid() }
}

/// The value of `name` in the environment of process `pid`, if it can be read.
fn environment_of(pid: u32, name: &str) -> Option<String> {
    let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|&byte| byte == 0).find_map(|entry| {
        let entry = std::str::from_utf8(entry).ok()?;
        let value = entry.strip_prefix(name)?.strip_prefix('=')?;
        Some(value.to_owned()).filter(|value| !value.is_empty())
    })
}

impl Process {
    /// Finds the inspection socket of process `pid`, where the process would have made it: under its
    /// `XDG_RUNTIME_DIR` (or ours), else `/tmp/weft-<uid>`.
    pub fn find(pid: u32) -> Result<Process, String> {
        let owner = match fs::metadata(format!("/proc/{pid}")) {
            Ok(meta) => meta.uid(),
            Err(error) if error.kind() == ErrorKind::NotFound => {
                return Err(format!(
                    "no process with pid {pid} (it has exited, or never existed)"
                ))
            }
            Err(error) => return Err(format!("cannot look at process {pid}: {error}")),
        };
        let me = effective_uid();
        if owner != me && me != 0 {
            return Err(format!(
                "process {pid} belongs to uid {owner}, not to you (uid {me}): its inspection socket is private \
                 to its user; run weft-xray as that user"
            ));
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        let runtime_dirs = [
            environment_of(pid, "XDG_RUNTIME_DIR"),
            std::env::var("XDG_RUNTIME_DIR")
                .ok()
                .filter(|dir| !dir.is_empty()),
        ];
        for runtime_dir in runtime_dirs.into_iter().flatten() {
            dirs.push(Path::new(&runtime_dir).join("weft"));
        }
        dirs.push(PathBuf::from(format!("/tmp/weft-{owner}")));
        dirs.dedup();
        for dir in &dirs {
            let socket = dir.join(format!("{pid}.sock"));
            match fs::symlink_metadata(&socket) {
                Ok(_) => {
                    check_dir(dir, owner)?;
                    return Ok(Process { pid, socket });
                }
                Err(error) if error.kind() == ErrorKind::PermissionDenied => {
                    return Err(format!(
                        "permission denied looking into {}: it belongs to another user",
                        dir.display()
                    ))
                }
                Err(_) => {}
            }
        }
        let looked: Vec<String> = dirs.iter().map(|dir| dir.display().to_string()).collect();
        Err(format!(
            "process {pid} has no weft inspection socket (looked in {}); start it with WEFT_INSPECT=1",
            looked.join(" and ")
        ))
    }

    /// Sends `{"v":1,"cmd":cmd}` and returns the reply, checked to say `"ok":true`.
    pub fn request(&self, cmd: &str) -> Result<Value, String> {
        let pid = self.pid;
        let socket = self.socket.display();
        let mut stream = UnixStream::connect(&self.socket).map_err(|error| match error.kind() {
            ErrorKind::ConnectionRefused => format!(
                "process {pid}'s inspection socket {socket} is not being served (left over from an \
                 earlier process with this pid?)"
            ),
            ErrorKind::PermissionDenied => {
                format!("permission denied opening {socket}: it belongs to another user")
            }
            _ => format!("cannot connect to {socket}: {error}"),
        })?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let silent =
            || format!("process {pid} did not answer on {socket} within 2 s (is it stopped?)");
        let _ = stream.set_write_timeout(Some(ANSWER_TIMEOUT));
        stream
            .write_all(format!("{{\"v\":1,\"cmd\":\"{cmd}\"}}\n").as_bytes())
            .map_err(|error| match error.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => silent(),
                _ => format!("cannot write to {socket}: {error}"),
            })?;
        let mut reply = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        while !reply.ends_with(b"\n") {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(silent());
            }
            stream
                .set_read_timeout(Some(left))
                .map_err(|error| error.to_string())?;
            match stream.read(&mut chunk) {
                Ok(0) if reply.is_empty() => {
                    return Err(format!("process {pid} closed {socket} without answering"))
                }
                Ok(0) => break,
                Ok(read) => reply.extend_from_slice(&chunk[..read]),
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return Err(silent())
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(format!("cannot read from {socket}: {error}")),
            }
            if reply.len() > MAX_REPLY {
                return Err(format!("process {pid} sent a reply over {MAX_REPLY} bytes"));
            }
        }
        let reply: Value = serde_json::from_slice(&reply)
            .map_err(|error| format!("process {pid} sent a reply that is not JSON: {error}"))?;
        if reply["ok"] != Value::Bool(true) {
            let why = reply["error"].as_str().unwrap_or("no reason given");
            return Err(format!("process {pid} refused the request: {why}"));
        }
        Ok(reply)
    }
}

/// Checks that the socket directory belongs to the process's user and lets nobody else in, as the process
/// made it; anything else may be a trap set by another user.
fn check_dir(dir: &Path, owner: u32) -> Result<(), String> {
    let meta = fs::symlink_metadata(dir)
        .map_err(|error: io::Error| format!("{}: {error}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!(
            "{} is not a directory: not trusting it",
            dir.display()
        ));
    }
    if meta.uid() != owner {
        return Err(format!(
            "socket directory {} is owned by uid {}, not by the process's user (uid {owner}): not trusting it",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "socket directory {} has mode {:o}, open to other users (it should be 700): not trusting it",
            dir.display(),
            meta.mode() & 0o777
        ));
    }
    Ok(())
}
