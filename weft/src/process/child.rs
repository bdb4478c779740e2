//! [`Child`]: a running child process, and how its exit is waited for and reaped — also after the `Child` is gone.
//!
//! # Invariants
//!
//! 1. Only weft reaps a child it spawned (`waitpid` with its pid), so until then the pid names that child.
//! 2. A child whose `Child` is dropped before it was reaped is handed to a reaper: a task on the current loop
//!    that waits for its exit (pidfd or `SIGCHLD`) and reaps it; off a loop, or when that task is dropped
//!    unfinished (the runtime shuts down), it goes to the orphan list, which every later `spawn` and every
//!    completed wait sweeps with `waitpid(WNOHANG)`.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::panic::Location;
use std::pin::Pin;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use super::pipe::{ChildStderr, ChildStdin, ChildStdout};
use crate::cell::{Label, Op};
use crate::driver::Direction;
use crate::net::source::{Source, Wait};
use crate::runtime::context;
use crate::signal::unix::{signal, Signal, SignalKind};
use crate::sys;

/// How the exit of a child is noticed.
enum ExitWatch {
    /// Its pidfd, readable once it exited (Linux ≥ 5.3).
    Pidfd(Source<OwnedFd>),
    /// `SIGCHLD`, where the kernel has no pidfd: any child's exit wakes every waiter, who each try their pid.
    Sigchld(Signal),
}

/// A child not reaped yet, and how to wait for it.
pub(super) struct Running {
    /// Its pid (invariant 1).
    pid: u32,
    /// How its exit is noticed.
    watch: ExitWatch,
}

/// Whether pidfds are off: the kernel has none (or a seccomp filter refuses them), or `WEFT_NO_PIDFD` is set,
/// which lets tests take the `SIGCHLD` path on kernels that have pidfds.
fn pidfd_unavailable() -> &'static std::sync::atomic::AtomicBool {
    static OFF: OnceLock<std::sync::atomic::AtomicBool> = OnceLock::new();
    OFF.get_or_init(|| {
        std::sync::atomic::AtomicBool::new(std::env::var_os("WEFT_NO_PIDFD").is_some())
    })
}

impl Running {
    /// Starts watching `pid` for its exit.
    pub(super) fn watch(pid: u32) -> io::Result<Running> {
        use std::sync::atomic::Ordering::Relaxed;
        if !pidfd_unavailable().load(Relaxed) {
            match sys::process::pidfd_open(pid) {
                Ok(fd) => {
                    return Ok(Running {
                        pid,
                        watch: ExitWatch::Pidfd(Source::new(fd)),
                    })
                }
                Err(error)
                    if matches!(error.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) =>
                {
                    pidfd_unavailable().store(true, Relaxed);
                }
                Err(error) => return Err(error),
            }
        }
        Ok(Running {
            pid,
            watch: ExitWatch::Sigchld(signal(SignalKind::child())?),
        })
    }

    /// Reaps the child if it has exited.
    fn try_reap(&self) -> io::Result<Option<ExitStatus>> {
        sys::process::try_reap(self.pid)
    }

    /// Waits for the exit and reaps the child; while waiting, the task's bookmark is `Child::wait` at
    /// `location`.
    fn poll_exit(
        &mut self,
        cx: &mut Context<'_>,
        location: &'static Location<'static>,
    ) -> Poll<io::Result<ExitStatus>> {
        let pid = self.pid;
        let poll = match &mut self.watch {
            ExitWatch::Pidfd(source) => {
                let wait = Wait::new(location, Op::ChildWait);
                source.poll_io(cx, Direction::Read, wait, |_| {
                    sys::process::try_reap(pid)?
                        .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))
                })
            }
            ExitWatch::Sigchld(sigchld) => loop {
                // The listener exists before this check, so an exit after it is a new delivery.
                match sys::process::try_reap(pid) {
                    Ok(None) => {}
                    done => break Poll::Ready(done.map(|status| status.expect("checked"))),
                }
                if sigchld.poll_recv(cx).is_pending() {
                    break Poll::Pending;
                }
            },
        };
        if poll.is_pending() {
            crate::cell::bookmark(location, Label::number(Op::ChildWait, pid));
        } else {
            sweep_orphans();
        }
        poll
    }
}

/// Children whose `Child` and reaper are gone before they exited (invariant 2).
static ORPHANS: Mutex<Vec<Running>> = Mutex::new(Vec::new());

/// Reaps every orphan that has exited (or that is no longer ours to reap).
pub(super) fn sweep_orphans() {
    let mut orphans = crate::runtime::shared::lock(&ORPHANS);
    if !orphans.is_empty() {
        orphans.retain(|orphan| matches!(orphan.try_reap(), Ok(None)));
    }
}

/// Takes over a child whose `Child` was dropped before it was reaped (invariant 2).
fn adopt(running: Running) {
    if !matches!(running.try_reap(), Ok(None)) {
        return; // reaped now, or not ours any more
    }
    let reaper = Reaper(Some(running));
    let refused = context::with_core(|core| match core {
        Some(core) => {
            let name: Arc<str> = Arc::from("weft::process reaper");
            drop(core.spawn_local(reaper, Some(name), Location::caller()));
            None
        }
        None => Some(reaper),
    });
    // Off a loop: the reaper's destructor files the child as an orphan.
    drop(refused);
}

/// A background task that waits for an abandoned child and reaps it; if dropped first, it files the child in
/// the orphan list.
struct Reaper(Option<Running>);

impl Future for Reaper {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(running) = &mut self.0 else {
            return Poll::Ready(());
        };
        match running.poll_exit(cx, Location::caller()) {
            Poll::Pending => Poll::Pending,
            // Reaped, or not reapable (someone else reaped it: nothing left to do).
            Poll::Ready(_) => {
                self.0 = None;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(running) = self.0.take() {
            if matches!(running.try_reap(), Ok(None)) {
                crate::runtime::shared::lock(&ORPHANS).push(running);
            }
        }
    }
}

/// The state of a child's exit.
enum State {
    /// Not reaped yet.
    Running(Running),
    /// Reaped, with this status.
    Exited(ExitStatus),
}

/// A child process started by [`Command::spawn`](super::Command::spawn).
///
/// Its pipes (when the command asked for `Stdio::piped()`) are the public fields, to `take()` and use from
/// any task. Dropping a `Child` does not kill the process — unless the command said
/// [`kill_on_drop`](super::Command::kill_on_drop) — but it never leaves a zombie: the exit is reaped in the
/// background (see the [module docs](super)).
///
/// ```
/// use weft::process::Command;
///
/// weft::run(async {
///     let mut child = Command::new("sleep").arg("10").spawn().unwrap();
///     assert!(child.id().is_some());
///     assert!(child.try_wait().unwrap().is_none()); // still sleeping
///     child.kill().await.unwrap();
///     assert_eq!(child.id(), None); // reaped
/// });
/// ```
pub struct Child {
    /// The child's stdin, if the command piped it.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if the command piped it.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if the command piped it.
    pub stderr: Option<ChildStderr>,
    /// Running or reaped.
    state: State,
    /// Kill it when dropped unreaped.
    kill_on_drop: bool,
}

impl Child {
    /// A child being watched, with its pipes.
    pub(super) fn new(
        running: Running,
        pipes: (Option<ChildStdin>, Option<ChildStdout>, Option<ChildStderr>),
        kill_on_drop: bool,
    ) -> Child {
        Child {
            stdin: pipes.0,
            stdout: pipes.1,
            stderr: pipes.2,
            state: State::Running(running),
            kill_on_drop,
        }
    }

    /// The child's process id, until it has been reaped (`None` after a wait returned its status: the
    /// number may already belong to another process).
    pub fn id(&self) -> Option<u32> {
        match &self.state {
            State::Running(running) => Some(running.pid),
            State::Exited(_) => None,
        }
    }

    /// Waits for the child to exit and returns its status. Closes the child's stdin first (a child reading
    /// its input to the end would otherwise wait for us while we wait for it).
    ///
    /// Cancel-safe: dropping the future leaves the child running and `wait` can be called again. Calling it
    /// after the child was reaped returns the same status again.
    ///
    /// ```
    /// use weft::process::Command;
    ///
    /// weft::run(async {
    ///     let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
    ///     let status = child.wait().await.unwrap();
    ///     assert_eq!(status.code(), Some(3));
    ///     assert_eq!(child.wait().await.unwrap().code(), Some(3));
    /// });
    /// ```
    #[track_caller]
    pub fn wait(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + '_ {
        let location = Location::caller();
        drop(self.stdin.take());
        poll_fn(move |cx| self.poll_wait_at(cx, location))
    }

    /// Polls for the exit (see [`wait`](Self::wait), which also closes stdin).
    #[track_caller]
    pub fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        self.poll_wait_at(cx, Location::caller())
    }

    /// [`poll_wait`](Self::poll_wait), bookmarked at `location`.
    fn poll_wait_at(
        &mut self,
        cx: &mut Context<'_>,
        location: &'static Location<'static>,
    ) -> Poll<io::Result<ExitStatus>> {
        match &mut self.state {
            State::Exited(status) => Poll::Ready(Ok(*status)),
            State::Running(running) => {
                let poll = running.poll_exit(cx, location);
                if let Poll::Ready(Ok(status)) = poll {
                    self.state = State::Exited(status);
                }
                poll
            }
        }
    }

    /// The child's status if it has exited (reaping it), `None` if it still runs. Never waits.
    ///
    /// ```
    /// use weft::process::Command;
    ///
    /// weft::run(async {
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     let status = loop {
    ///         if let Some(status) = child.try_wait().unwrap() {
    ///             break status;
    ///         }
    ///         weft::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     };
    ///     assert!(status.success());
    /// });
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match &self.state {
            State::Exited(status) => Ok(Some(*status)),
            State::Running(running) => {
                let status = running.try_reap()?;
                if let Some(status) = status {
                    self.state = State::Exited(status);
                    sweep_orphans();
                }
                Ok(status)
            }
        }
    }

    /// Sends `SIGKILL` to the child without waiting for it to exit; [`wait`](Self::wait) then reaps it.
    ///
    /// # Errors
    /// `InvalidInput` if the child was already reaped (its pid may belong to another process by now).
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use weft::process::Command;
    ///
    /// weft::run(async {
    ///     let mut child = Command::new("sleep").arg("10").spawn().unwrap();
    ///     child.start_kill().unwrap();
    ///     assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
    ///     assert!(child.start_kill().is_err());
    /// });
    /// ```
    pub fn start_kill(&mut self) -> io::Result<()> {
        match &self.state {
            State::Running(running) => sys::process::kill(running.pid),
            State::Exited(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "weft: cannot kill a child that has exited and was reaped",
            )),
        }
    }

    /// Kills the child with `SIGKILL` and waits until it is reaped. `Ok` also if it had already exited.
    ///
    /// ```
    /// use weft::process::Command;
    ///
    /// weft::run(async {
    ///     let mut child = Command::new("sleep").arg("10").spawn().unwrap();
    ///     child.kill().await.unwrap();
    ///     assert!(child.try_wait().unwrap().is_some());
    /// });
    /// ```
    #[track_caller]
    pub fn kill(&mut self) -> impl Future<Output = io::Result<()>> + '_ {
        let location = Location::caller();
        async move {
            if let State::Running(running) = &self.state {
                sys::process::kill(running.pid)?;
            }
            poll_fn(|cx| self.poll_wait_at(cx, location)).await?;
            Ok(())
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Exited(ExitStatus::default()));
        if let State::Running(running) = state {
            if self.kill_on_drop {
                let _ = sys::process::kill(running.pid);
            }
            adopt(running);
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Child");
        match &self.state {
            State::Running(running) => debug.field("pid", &running.pid),
            State::Exited(status) => debug.field("status", status),
        };
        debug
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish()
    }
}

impl fmt::Debug for Running {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let watch = match &self.watch {
            ExitWatch::Pidfd(source) => format!("pidfd {}", source.get_ref().as_raw_fd()),
            ExitWatch::Sigchld(_) => "SIGCHLD".to_owned(),
        };
        f.debug_struct("Running")
            .field("pid", &self.pid)
            .field("watch", &watch)
            .finish()
    }
}
