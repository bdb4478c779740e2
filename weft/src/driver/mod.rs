//! The driver: where the loop parks, and the reactor that turns readiness into wake-ups.
//!
//! A loop owns one [`Reactor`]: the table of its sockets ([`Registrations`], shared by both backends) and one
//! backend chosen when the runtime is built — epoll (edge-triggered readiness) or io_uring (multishot polls, the
//! groundwork for completion I/O). The backend is a plain enum, so the loop's calls are static dispatch: a branch,
//! no virtual call. [`Driver`] is the public name of the choice.
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

#![deny(unsafe_code)] // allowed in uring.rs alone, where the ring's queues are

mod epoll;
mod registrations;
mod uring;

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::sync::Once;
use std::task::{Context, Poll};
use std::time::Duration;

pub(crate) use registrations::{Direction, Ready};

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
        Ok(key)
    }

    /// Frees a registration (registrations invariant 2: before its descriptor closes).
    pub(crate) fn deregister(&self, key: u32) {
        let token = self.registrations.borrow_mut().remove(key);
        if let (Some(token), Backend::IoUring(uring)) = (token, &self.backend) {
            uring.unwatch(token);
        }
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
