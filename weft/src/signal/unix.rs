//! Unix signals: [`signal`] registers a [`Signal`] listener for a [`SignalKind`].

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::panic::Location;
use std::task::{Context, Poll};

use super::registry;
use crate::cell::coop;
use crate::cell::{Label, Op};
use crate::sys::signal as sys;

/// Which signal: the common ones by name, any other by number with [`from_raw`](SignalKind::from_raw).
///
/// ```
/// use weft::signal::unix::SignalKind;
///
/// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
/// assert_eq!(SignalKind::from_raw(libc::SIGHUP), SignalKind::hangup());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// Any signal by its number; [`signal`] checks that it can be caught.
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> i32 {
        self.0
    }

    /// `SIGINT`: Ctrl-C in a terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: the polite request to stop (what `kill`, systemd and Kubernetes send first).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away; by convention for daemons, "reload your configuration".
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ in a terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`: meaning defined by the application.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`: meaning defined by the application.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD`: a child process stopped or exited.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGWINCH`: the terminal changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }

    /// `SIGALRM`: a timer set with `alarm(2)` expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGPIPE`: a write to a pipe nobody reads.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }
}

impl From<i32> for SignalKind {
    fn from(signum: i32) -> SignalKind {
        SignalKind(signum)
    }
}

/// Why `signum` cannot be listened to, if it cannot.
fn refuse(signum: i32) -> Option<io::Error> {
    let why = match signum {
        libc::SIGKILL | libc::SIGSTOP => "it cannot be caught",
        libc::SIGILL | libc::SIGFPE | libc::SIGSEGV | libc::SIGBUS => {
            "a handler that returns would re-run the faulting instruction forever"
        }
        1..=31 => return None,
        _ if (sys::min_realtime()..=sys::max_realtime()).contains(&signum) => return None,
        _ if (32..sys::min_realtime()).contains(&signum) => {
            "the C library keeps it for its own use (threads, timers)"
        }
        _ => "it is no signal number",
    };
    Some(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("weft::signal: cannot listen to signal {signum}: {why}"),
    ))
}

/// Starts listening to `kind`: the returned [`Signal`] receives every delivery that arrives from now on.
///
/// The first registration of a signal in the process installs weft's handler, which stays (see the [module
/// docs](super)); the signal no longer has its default action, such as ending the process.
///
/// ```
/// use weft::signal::unix::{signal, SignalKind};
///
/// weft::run(async {
///     let mut hangups = signal(SignalKind::hangup()).unwrap();
///     // An operator asks for a reload:
///     std::process::Command::new("kill")
///         .args(["-HUP", &std::process::id().to_string()])
///         .status()
///         .unwrap();
///     hangups.recv().await.unwrap();
///     println!("reloading the configuration");
/// });
/// ```
///
/// # Errors
/// `InvalidInput` for a signal that cannot or must not be caught (`SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE`,
/// `SIGSEGV`, `SIGBUS`), a number that is no signal, or a real-time signal the C library reserves; the OS's
/// error if the self-pipe, the reader thread or the handler cannot be set up.
///
/// ```
/// use weft::signal::unix::{signal, SignalKind};
///
/// let error = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
/// assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(error.to_string().contains("cannot be caught"), "{error}");
/// assert!(signal(SignalKind::from_raw(0)).is_err());
/// assert!(signal(SignalKind::from_raw(1000)).is_err());
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    if let Some(error) = refuse(kind.0) {
        return Err(error);
    }
    let (id, seen) = registry::register(kind.0)?;
    Ok(Signal { kind, id, seen })
}

/// A listener of one signal, made by [`signal`]. `Send + Sync`; it may move between loops and threads.
///
/// Dropping it stops listening (the signal stays caught; see the [module docs](super)).
pub struct Signal {
    /// Which signal.
    kind: SignalKind,
    /// This listener's id in the registry.
    id: u64,
    /// The signal's delivery count this listener has seen.
    seen: u64,
}

impl Signal {
    /// Waits for the next delivery of the signal since this listener was registered or last received;
    /// deliveries in between merge into one. Always `Some(())` (the `Option` matches tokio's signature).
    ///
    /// Cancel-safe: a delivery that arrives while no `recv` future exists is received by the next one.
    ///
    /// ```
    /// use weft::signal::unix::{signal, SignalKind};
    ///
    /// weft::run(async {
    ///     let mut first = signal(SignalKind::user_defined2()).unwrap();
    ///     let mut second = signal(SignalKind::user_defined2()).unwrap();
    ///     let me = std::process::id().to_string();
    ///     std::process::Command::new("kill").args(["-USR2", &me]).status().unwrap();
    ///     // Every listener receives each delivery.
    ///     assert_eq!(first.recv().await, Some(()));
    ///     assert_eq!(second.recv().await, Some(()));
    /// });
    /// ```
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Option<()>> + '_ {
        self.recv_at(Location::caller())
    }

    /// [`recv`](Self::recv), bookmarked at `location`.
    pub(super) fn recv_at(
        &mut self,
        location: &'static Location<'static>,
    ) -> impl Future<Output = Option<()>> + '_ {
        poll_fn(move |cx| {
            let poll = self.poll_recv(cx);
            if poll.is_pending() {
                crate::cell::bookmark(location, Label::number(Op::SignalRecv, self.kind.0 as u32));
            }
            poll
        })
    }

    /// Polls for the next delivery (see [`recv`](Self::recv)); for hand-written futures and `Stream`s.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        coop::budgeted(cx, |cx| {
            if registry::poll(self.id, self.kind.0, &mut self.seen, cx.waker()) {
                Poll::Ready(Some(()))
            } else {
                Poll::Pending
            }
        })
    }

    /// The signal this listener receives.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        registry::deregister(self.id);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("seen", &self.seen)
            .finish()
    }
}
