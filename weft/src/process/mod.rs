//! Child processes: [`Command`] starts one, [`Child`] waits for it, its pipes are async I/O on the loop.
//!
//! `Command` is std's builder (the same methods, `&mut self -> &mut Self`) plus
//! [`kill_on_drop`](Command::kill_on_drop). Starting a process is std's `spawn` (fork/exec with the error of a
//! failed `exec` reported back, every descriptor close-on-exec); weft then makes the pipes non-blocking and
//! registers them with the loop like sockets, so reading a child's output and feeding its input are ordinary
//! `.await`s that never block the loop.
//!
//! # Waiting for the exit: pidfd, else `SIGCHLD`
//!
//! On Linux ≥ 5.3 each child gets a **pidfd** (`pidfd_open(2)`), a descriptor that becomes readable when the
//! process exits; it sits in the loop's epoll set like a socket, so waiting costs nothing and the right task is
//! woken directly. Where the kernel has no pidfds (`ENOSYS`, or `EPERM` from a seccomp filter of an old container
//! runtime), weft listens to `SIGCHLD` through [`signal`](crate::signal) instead, and each waiter tries its own
//! pid on every `SIGCHLD` (never `waitpid(-1)`, which would steal other code's children). Setting `WEFT_NO_PIDFD`
//! in the environment forces the `SIGCHLD` path (for testing it on a kernel that has pidfds).
//!
//! # No zombies
//!
//! A child is reaped by weft exactly once: by [`Child::wait`] (or `try_wait`, `kill`, `output`, `status`), or,
//! when its `Child` is dropped first, in the background — a small task on the current loop waits for the exit
//! and reaps it (a [`kill_on_drop`](Command::kill_on_drop) child is sent `SIGKILL` first). A child whose
//! `Child` is dropped off a loop, or whose reaper is dropped because the runtime shut down, is reaped by the
//! next `spawn` or completed wait in the process after it exited.
//!
//! If anything fails after the process started (no descriptor left for its pidfd, say), `spawn` kills and
//! reaps it before returning the error, and closes its pipes: a failed `spawn` leaves no process, zombie or
//! descriptor behind.
//!
//! References: pidfd_open(2), waitpid(2), tokio's `tokio::process` (the same interface).

#![forbid(unsafe_code)]

mod child;
mod pipe;

pub use child::Child;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;

use crate::io::AsyncReadExt;
use crate::sys;

/// A process to start: std's [`Command`](std::process::Command) builder, plus
/// [`kill_on_drop`](Command::kill_on_drop), with async [`output`](Command::output) and
/// [`status`](Command::status).
///
/// ```
/// use weft::process::Command;
///
/// weft::run(async {
///     let output = Command::new("sh")
///         .args(["-c", "echo \"$GREETING\"; echo warning >&2; exit 7"])
///         .env("GREETING", "hello")
///         .output()
///         .await
///         .unwrap();
///     assert_eq!(output.stdout, b"hello\n");
///     assert_eq!(output.stderr, b"warning\n");
///     assert_eq!(output.status.code(), Some(7));
/// });
/// ```
pub struct Command {
    /// std's builder.
    std: std::process::Command,
    /// Kill the child when its `Child` is dropped before it was reaped.
    kill_on_drop: bool,
    /// Which of stdin, stdout, stderr the user configured (`output` pipes only the others, as std's does).
    configured: [bool; 3],
}

impl Command {
    /// A command that runs `program` (found in `PATH` unless it contains a `/`), with no arguments, the
    /// parent's environment and working directory, and stdin/stdout/stderr inherited (for `spawn` and
    /// `status`; `output` captures stdout and stderr).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, value);
        self
    }

    /// Sets environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what `env` adds afterwards).
    ///
    /// ```
    /// use weft::process::Command;
    ///
    /// weft::run(async {
    ///     let output = Command::new("/usr/bin/env").env_clear().env("ONLY", "me").output().await.unwrap();
    ///     assert_eq!(output.stdout, b"ONLY=me\n");
    /// });
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// ```
    /// use weft::process::Command;
    ///
    /// weft::run(async {
    ///     let output = Command::new("pwd").current_dir("/").output().await.unwrap();
    ///     assert_eq!(output.stdout, b"/\n");
    /// });
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// The child's stdin: [`Stdio::piped()`] makes [`Child::stdin`] a [`ChildStdin`].
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(stdio);
        self.configured[0] = true;
        self
    }

    /// The child's stdout: [`Stdio::piped()`] makes [`Child::stdout`] a [`ChildStdout`].
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(stdio);
        self.configured[1] = true;
        self
    }

    /// The child's stderr: [`Stdio::piped()`] makes [`Child::stderr`] a [`ChildStderr`].
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(stdio);
        self.configured[2] = true;
        self
    }

    /// Whether a child whose [`Child`] is dropped before it was reaped is killed (`SIGKILL`); either way it is
    /// reaped in the background. Off by default, as in std and tokio: a dropped `Child` keeps running.
    ///
    /// ```
    /// use weft::process::Command;
    ///
    /// weft::run(async {
    ///     let child = Command::new("sleep").arg("1000").kill_on_drop(true).spawn().unwrap();
    ///     let pid = child.id().unwrap();
    ///     drop(child); // killed now, reaped by a background task on this loop
    ///     while std::path::Path::new(&format!("/proc/{pid}")).exists() {
    ///         weft::time::sleep(std::time::Duration::from_millis(5)).await;
    ///     }
    /// });
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Whether [`kill_on_drop`](Self::kill_on_drop) is on.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// std's builder, to read what is configured.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// std's builder, for what only it offers (`std::os::unix::process::CommandExt`: `uid`, `process_group`,
    /// `arg0`, ...). Stdio set through it counts as set for [`output`](Self::output) only if also set here.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the process. Its pipes are registered with the loop that first uses them; its exit is watched
    /// by a pidfd (or `SIGCHLD`, see the [module docs](self)).
    ///
    /// # Errors
    /// std's error when the program cannot be started (`NotFound` for a program that does not exist,
    /// `PermissionDenied`, ...), or the OS's error when a descriptor or the exit watch cannot be set up (then
    /// the process is killed and reaped). Either way no descriptor is left open.
    ///
    /// ```
    /// use weft::process::Command;
    ///
    /// weft::run(async {
    ///     let error = Command::new("surely-no-such-program").spawn().unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        child::sweep_orphans();
        let mut started = self.std.spawn()?;
        let pid = started.id();
        let (stdin, stdout, stderr) = (
            started.stdin.take(),
            started.stdout.take(),
            started.stderr.take(),
        );
        // std's `Child` only holds the pid now; weft reaps it.
        drop(started);
        let watched = (|| {
            let pipes = (
                stdin.map(ChildStdin::new).transpose()?,
                stdout.map(ChildStdout::new).transpose()?,
                stderr.map(ChildStderr::new).transpose()?,
            );
            let running = child::Running::watch(pid)?;
            Ok(Child::new(running, pipes, self.kill_on_drop))
        })();
        watched.inspect_err(|_| {
            // No way to wait for it: do not leave it running unseen, nor as a zombie.
            let _ = sys::process::kill(pid);
            let _ = sys::process::reap_blocking(pid);
        })
    }

    /// Runs the process to completion and collects its output: stdout and stderr are captured (unless set
    /// otherwise), stdin reads nothing (unless set otherwise), as with std's `output`.
    ///
    /// Dropping the future leaves the child to finish alone (killed if [`kill_on_drop`](Self::kill_on_drop)),
    /// reaped in the background.
    ///
    /// ```
    /// use weft::process::Command;
    ///
    /// weft::run(async {
    ///     let output = Command::new("echo").arg("hello").output().await.unwrap();
    ///     assert!(output.status.success());
    ///     assert_eq!(output.stdout, b"hello\n");
    /// });
    /// ```
    pub async fn output(&mut self) -> io::Result<Output> {
        let defaults = [
            (
                0,
                Stdio::null as fn() -> Stdio,
                Stdio::inherit as fn() -> Stdio,
            ),
            (1, Stdio::piped, Stdio::inherit),
            (2, Stdio::piped, Stdio::inherit),
        ];
        for &(index, for_output, _) in &defaults {
            if !self.configured[index] {
                self.set_stdio(index, for_output());
            }
        }
        let spawned = self.spawn();
        // Back to the defaults of `spawn` and `status`, as if `output` had set nothing.
        for &(index, _, default) in &defaults {
            if !self.configured[index] {
                self.set_stdio(index, default());
            }
        }
        let mut child = spawned?;
        let stdout = read_all(child.stdout.take());
        let stderr = read_all(child.stderr.take());
        let (status, stdout, stderr) =
            futures_util::future::join3(child.wait(), stdout, stderr).await;
        Ok(Output {
            status: status?,
            stdout: stdout?,
            stderr: stderr?,
        })
    }

    /// Runs the process to completion and returns its exit status. stdin, stdout and stderr are inherited
    /// unless set otherwise; pipes asked for are closed at once.
    ///
    /// ```
    /// use weft::process::Command;
    ///
    /// weft::run(async {
    ///     let status = Command::new("sh").args(["-c", "exit 2"]).status().await.unwrap();
    ///     assert_eq!(status.code(), Some(2));
    /// });
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        drop((child.stdout.take(), child.stderr.take()));
        child.wait().await
    }

    /// Sets stdin (0), stdout (1) or stderr (2) without marking it configured.
    fn set_stdio(&mut self, index: usize, stdio: Stdio) {
        match index {
            0 => self.std.stdin(stdio),
            1 => self.std.stdout(stdio),
            _ => self.std.stderr(stdio),
        };
    }
}

/// Everything a pipe delivers until end of stream (nothing for no pipe).
async fn read_all<R: crate::io::AsyncRead + Unpin>(pipe: Option<R>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut bytes).await?;
    }
    Ok(bytes)
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            configured: [false; 3],
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("command", &self.std)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish()
    }
}
