//! The driver: where the loop parks, and the reactor that turns readiness into wake-ups.
//!
//! A loop owns one [`Reactor`]: the table of its sockets ([`Registrations`], shared by both backends) and one
//! backend chosen when the runtime is built — epoll (edge-triggered readiness) or io_uring. The backend is a
//! plain enum, so the loop's calls are static dispatch: a branch, no virtual call. [`Driver`] is the public name
//! of the choice.
//!
//! On io_uring (Linux 6.0 and later), connected streams move their bytes by completions: `recv` operations, then
//! one multishot `recv` into a provided-buffer ring for a stream that reads in a loop, and writes gathered into
//! one `send` per stream per loop turn (`streams.rs`, `buf_ring.rs`); listeners accept by multishot accept
//! (`accepts.rs`); the op table (`ops.rs`) owns every operation's memory until its last completion. Everything
//! else — datagrams, a connect in progress, streams on older kernels, or all streams when
//! `WEFT_URING_STREAMS=poll` is set (for comparisons, and so CI keeps that path tested) — uses readiness from
//! multishot polls, as on epoll. `WEFT_URING_SENDS=eager` makes a write with nothing queued a `send(2)` at once
//! instead of joining the next park's batch (for comparisons).
//!
//! # Invariants
//!
//! 1. The backend is chosen once, in [`Reactor::new`], and never changes: [`Reactor::kind`] is what runs,
//!    never [`Driver::Auto`].
//! 2. [`Driver::Auto`] never fails because of io_uring: any reason io_uring cannot run (ENOSYS, EPERM from
//!    seccomp or `kernel.io_uring_disabled`, a kernel without the features it needs) falls back to epoll. It says
//!    so on stderr, once per process, only when the user asked for io_uring through `WEFT_DRIVER`.
//!    An explicit [`Driver::IoUring`] fails instead, with the reason.
//!
//! Registrations follow the rules in `registrations.rs`; io_uring's operations those in `uring.rs`.

#![deny(unsafe_code)] // allowed in uring.rs and buf_ring.rs alone, where memory is shared with the kernel

mod accepts;
mod buf_ring;
mod epoll;
mod ops;
mod registrations;
mod streams;
mod uring;

use std::cell::RefCell;
use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::{OwnedFd, RawFd};
use std::sync::{Arc, Once};
use std::task::{Context, Poll};
use std::time::Duration;

pub(crate) use ops::FileOp;
pub(crate) use registrations::{Direction, Ready};
pub(crate) use streams::{Handoff, HandoffSender};

use crate::sys::EventFd;
use epoll::EpollBackend;
use registrations::Registrations;
use uring::UringBackend;

/// The environment variable that overrides [`Driver::Auto`].
const ENV: &str = "WEFT_DRIVER";

/// Which I/O driver a runtime's loop parks in.
///
/// [`Builder::driver`](crate::Builder::driver) chooses; [`Runtime::driver`](crate::Runtime::driver) and
/// [`Handle::driver`](crate::Handle::driver) say what runs (`Epoll` or `IoUring`, never `Auto`).
/// `WEFT_DRIVER=epoll|io_uring|auto` in the environment overrides `Auto`.
///
/// ```
/// use weft::runtime::Driver;
///
/// let runtime = weft::Builder::new().driver(Driver::Epoll).build().unwrap();
/// assert_eq!(runtime.driver(), Driver::Epoll);
/// assert_eq!(Driver::IoUring.to_string(), "io_uring");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Driver {
    /// io_uring where the kernel allows it, else epoll (the default). `WEFT_DRIVER` overrides it.
    #[default]
    Auto,
    /// Edge-triggered epoll.
    Epoll,
    /// io_uring; building a runtime fails with the reason where it is unavailable.
    IoUring,
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Driver::Auto => "auto",
            Driver::Epoll => "epoll",
            Driver::IoUring => "io_uring",
        })
    }
}

impl Driver {
    /// The driver named by `WEFT_DRIVER`, if it is set; an unknown name is an error.
    fn from_env() -> io::Result<Option<Driver>> {
        let Some(value) = std::env::var_os(ENV) else {
            return Ok(None);
        };
        match value.to_str().map(str::trim) {
            Some("epoll") => Ok(Some(Driver::Epoll)),
            Some("io_uring") | Some("io-uring") | Some("uring") => Ok(Some(Driver::IoUring)),
            Some("auto") | Some("") => Ok(Some(Driver::Auto)),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("weft: {ENV}={value:?} names no driver; use epoll, io_uring or auto"),
            )),
        }
    }
}

/// The backend a loop runs (invariant 1).
#[derive(Debug)]
// One per loop, inside the loop's boxed `Core`: the size does not matter, a `Box` would cost a pointer chase.
#[allow(clippy::large_enum_variant)]
enum Backend {
    /// Edge-triggered epoll.
    Epoll(EpollBackend),
    /// io_uring.
    IoUring(UringBackend),
}

/// A loop's reactor: its registrations and the backend that feeds them.
#[derive(Debug)]
pub(crate) struct Reactor {
    /// Every registered socket, its cached readiness and its waiters.
    registrations: RefCell<Registrations>,
    /// Where readiness comes from and where the loop parks.
    backend: Backend,
}

impl Reactor {
    /// A reactor on the driver `requested` (with `WEFT_DRIVER` applied to `Auto`), listening to `wake`.
    pub(crate) fn new(requested: Driver, wake: &EventFd) -> io::Result<Reactor> {
        let (wanted, from_env) = match requested {
            Driver::Auto => match Driver::from_env()? {
                Some(driver) => (driver, driver == Driver::IoUring),
                None => (Driver::Auto, false),
            },
            explicit => (explicit, false),
        };
        let backend = match wanted {
            Driver::Epoll => Backend::Epoll(EpollBackend::new(wake)?),
            Driver::IoUring if !from_env => match UringBackend::new(wake) {
                Ok(uring) => Backend::IoUring(uring),
                Err(error) => {
                    return Err(io::Error::new(
                        error.kind(),
                        format!(
                            "weft: the io_uring driver is unavailable here ({error}); \
                             use Driver::Auto or Driver::Epoll to run on epoll"
                        ),
                    ))
                }
            },
            Driver::Auto | Driver::IoUring => match UringBackend::new(wake) {
                Ok(uring) => Backend::IoUring(uring),
                Err(error) => {
                    if from_env {
                        say_fallback_once(&error);
                    }
                    Backend::Epoll(EpollBackend::new(wake)?)
                }
            },
        };
        Ok(Reactor {
            registrations: RefCell::new(Registrations::default()),
            backend,
        })
    }

    /// The driver that runs: `Epoll` or `IoUring` (invariant 1).
    pub(crate) fn kind(&self) -> Driver {
        match self.backend {
            Backend::Epoll(_) => Driver::Epoll,
            Backend::IoUring(_) => Driver::IoUring,
        }
    }

    /// Whether the driver has anything to look at between turns (if not, the zero-timeout poll can be skipped:
    /// the eventfd is only written while the loop is parked, and the loop checks its remote queue itself).
    pub(crate) fn has_io_sources(&self) -> bool {
        self.registrations.borrow().len() > 0
            || match &self.backend {
                Backend::Epoll(_) => false,
                Backend::IoUring(uring) => uring.has_unsubmitted(),
            }
    }

    /// Registers `fd` for both directions and returns its key. The socket starts out assumed ready both ways:
    /// the first operation just tries.
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<u32> {
        let mut registrations = self.registrations.borrow_mut();
        let (key, token) = registrations.insert(fd)?;
        let watched = match &self.backend {
            Backend::Epoll(epoll) => epoll.watch(fd, token),
            Backend::IoUring(uring) => uring.watch(fd, token),
        };
        if let Err(error) = watched {
            registrations.remove(key);
            return Err(error);
        }
        registrations.set_watched(key, true);
        Ok(key)
    }

    /// Registers a connected stream socket: like [`register`](Self::register), except that where streams do
    /// completion I/O ([`completion_streams`](Self::completion_streams)) nothing watches its readiness.
    pub(crate) fn register_stream(&self, fd: RawFd) -> io::Result<u32> {
        if self.completion_streams() {
            let (key, _) = self.registrations.borrow_mut().insert(fd)?;
            return Ok(key);
        }
        self.register(fd)
    }

    /// Whether connected streams read and write through completions (`recv`/`send` operations on io_uring,
    /// `streams.rs`) rather than readiness.
    #[inline]
    pub(crate) fn completion_streams(&self) -> bool {
        match &self.backend {
            Backend::Epoll(_) => false,
            Backend::IoUring(uring) => uring.completion_streams(),
        }
    }

    /// How many file operations tasks await on the ring (0 on epoll): a paused clock waits for them as for
    /// blocking work.
    pub(crate) fn file_ops_awaited(&self) -> usize {
        match &self.backend {
            Backend::Epoll(_) => 0,
            Backend::IoUring(uring) => uring.tasks_awaited(),
        }
    }

    /// The ring, for a stream doing completion I/O.
    fn uring(&self) -> &UringBackend {
        match &self.backend {
            Backend::IoUring(uring) => uring,
            Backend::Epoll(_) => unreachable!("weft: completion I/O on the epoll driver"),
        }
    }

    /// The generation and descriptor of the stream registered as `key`. A stream registered with a poll (a
    /// socket that connected through readiness) stops being watched: its data now comes by completions.
    fn stream(&self, key: u32) -> (u32, u32, RawFd) {
        let mut registrations = self.registrations.borrow_mut();
        let (generation, fd) = registrations.identity(key);
        if registrations.set_watched(key, false) {
            self.uring()
                .cancel_watch(registrations::token(generation, key));
        }
        (key, generation, fd)
    }

    /// Reads (or peeks) from the completion stream `key` (`streams.rs`).
    pub(crate) fn poll_stream_read(
        &self,
        key: u32,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        consume: bool,
    ) -> Poll<io::Result<usize>> {
        let stream = self.stream(key);
        self.uring().poll_stream_read(stream, cx, buf, consume)
    }

    /// The next connection of the listener `key`, by multishot accept (`accepts.rs`; where streams do
    /// completion I/O, listeners accept through the ring too).
    pub(crate) fn poll_accept(
        &self,
        key: u32,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<std::os::fd::OwnedFd>> {
        let listener = self.stream(key);
        self.uring().poll_accept(listener, cx)
    }

    /// Writes to the completion stream `key`: the bytes go with the next park (`streams.rs`).
    pub(crate) fn poll_stream_write(
        &self,
        key: u32,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = self.stream(key);
        self.uring().poll_stream_write(stream, cx, bufs)
    }

    /// Waits until the completion stream `key` has sent everything written to it.
    pub(crate) fn poll_stream_flush(&self, key: u32, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (key, generation, _) = self.stream(key);
        self.uring().poll_stream_flush(key, generation, cx)
    }

    /// `shutdown(Write)` of the completion stream `key`: `true` if it happens after unsent bytes, `false` if
    /// the caller shuts down now.
    pub(crate) fn stream_shutdown_after_sends(&self, key: u32) -> bool {
        let stream = self.stream(key);
        self.uring().stream_shutdown_after_sends(stream)
    }

    /// The completion stream `key` leaves the ring (`into_std`): sends what it owes and waits out its `recv`
    /// in flight; returns how many received bytes it holds unread and whether written bytes are still unsent.
    pub(crate) fn settle_stream(&self, key: u32, wake: &EventFd) -> (usize, bool) {
        let (key, generation, _) = self.stream(key);
        self.uring()
            .settle_stream((key, generation), wake, &self.registrations)
    }

    /// Starts a task's file operation on the ring and returns its index; on epoll, hands it back (the caller
    /// runs it on the blocking pool).
    pub(crate) fn submit_file(&self, op: FileOp) -> Result<u32, FileOp> {
        match &self.backend {
            Backend::IoUring(uring) => Ok(uring.submit_file(op)),
            Backend::Epoll(_) => Err(op),
        }
    }

    /// Polls the file operation `index` (from [`submit_file`](Self::submit_file)): its result, its buffer and,
    /// for an `openat`, the new descriptor.
    pub(crate) fn poll_file(
        &self,
        index: u32,
        cx: &mut Context<'_>,
    ) -> Poll<(io::Result<usize>, Vec<u8>, Option<OwnedFd>)> {
        self.uring().poll_task(index, cx)
    }

    /// The future awaiting the file operation `index` is gone (`uring.rs` invariant 7).
    pub(crate) fn forget_file(&self, index: u32) {
        self.uring().forget_task(index);
    }

    /// Frees a registration (registrations invariant 2: before its descriptor closes). On io_uring, a stream's
    /// `recv` is cancelled and its unsent bytes submitted, and the poll cancelled, before this returns.
    pub(crate) fn deregister(&self, key: u32) {
        self.deregister_with(key, true, None, None);
    }

    /// Frees the registration of a socket that another thread dropped or took to another loop: its descriptor
    /// may be closed already (and its number reused), so nothing is submitted by number — bytes a stream was
    /// given on this loop and had not yet submitted are dropped (`streams.rs` invariant 2 names the exception).
    pub(crate) fn deregister_orphan(
        &self,
        key: u32,
        handoff: Option<HandoffSender>,
        wake: &EventFd,
    ) {
        self.deregister_with(key, false, handoff, Some(wake));
    }

    /// The stream registered as `key` moved here from another loop: its reads wait for what that loop passes on
    /// (`streams.rs` invariant 1). Nothing to wait for where streams use readiness.
    pub(crate) fn expect_handoff(&self, key: u32, handoff: Arc<Handoff>) {
        if self.completion_streams() {
            let stream = self.stream(key);
            self.uring().expect_handoff(stream, handoff);
        }
    }

    /// [`deregister`](Self::deregister), `descriptor_open` saying whether the number still names the socket; a
    /// stream that moved passes its leftovers on through `handoff` (completed empty on every other path).
    fn deregister_with(
        &self,
        key: u32,
        descriptor_open: bool,
        handoff: Option<HandoffSender>,
        wake: Option<&EventFd>,
    ) {
        let removed = self.registrations.borrow_mut().remove(key);
        if let (Some((token, watched)), Backend::IoUring(uring)) = (removed, &self.backend) {
            let handing = handoff.is_some();
            uring.close_stream(key, descriptor_open, handoff);
            if watched {
                uring.cancel_watch(token);
            }
            uring.release();
            if let (true, Some(wake)) = (handing, wake) {
                uring.finish_handoff(key, wake, &self.registrations);
            }
        }
        // Anything else: a handoff still here is dropped, which completes it empty.
    }

    /// Ready in `direction`? If not, stores the waker and returns `Pending`.
    #[inline]
    pub(crate) fn poll_ready(
        &self,
        key: u32,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<Ready> {
        self.registrations
            .borrow_mut()
            .poll_ready(key, direction, cx)
    }

    /// The system call said `WouldBlock`: forget all cached readiness for `direction`.
    #[inline]
    pub(crate) fn clear_ready(&self, key: u32, direction: Direction) {
        self.registrations.borrow_mut().clear_ready(key, direction);
    }

    /// A stream transfer came up short: forget only that `direction` is ready.
    #[inline]
    pub(crate) fn clear_ready_after_short_transfer(&self, key: u32, direction: Direction) {
        self.registrations
            .borrow_mut()
            .clear_ready_after_short_transfer(key, direction);
    }

    /// Waits for events for at most `timeout` (`None`: until one arrives) and dispatches them; returns how many
    /// I/O events (the loop's own wake-ups not counted) it received.
    pub(crate) fn park(&self, timeout: Option<Duration>, wake: &EventFd) -> u64 {
        match &self.backend {
            Backend::Epoll(epoll) => epoll.park(timeout, wake, &self.registrations),
            Backend::IoUring(uring) => uring.park(timeout, wake, &self.registrations),
        }
    }
}

/// Keeps `cx`'s waker in `slot`, cloning it only if the one there would not wake the same task.
fn store_waker(slot: &mut Option<std::task::Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// Says once per process, on stderr, why `WEFT_DRIVER=io_uring` runs on epoll (invariant 2).
fn say_fallback_once(error: &io::Error) {
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "weft: {ENV}=io_uring, but io_uring is unavailable ({error}); running on epoll"
        );
    });
}
