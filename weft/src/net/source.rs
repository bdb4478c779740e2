//! [`Source`]: a non-blocking descriptor and its registration with a loop's driver.
//!
//! A source registers lazily, with the loop of the thread that first uses it, so a socket created outside a
//! runtime or on one loop can be handed to another (an acceptor loop passing connections to worker loops is the
//! everyday case). If it is later used on a different loop, it registers there and tells the old loop to forget
//! it. Every operation follows the same pattern: try the system call; on `WouldBlock`, clear the cached readiness
//! and wait for the driver to report readiness again.
//!
//! The socket types are thin wrappers over a `Source`: [`read_with`](Source::read_with) and
//! [`write_with`](Source::write_with) turn one system call into a future that retries it until it stops saying
//! `WouldBlock` (async-io's `Async::read_with` shape), so a socket method is that call and its bookmark.

use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::cell::coop;
use crate::cell::{Label, Op};
use crate::driver::{Direction, Handoff, HandoffSender};
use crate::runtime::context;
use crate::runtime::Shared;

/// What a waiting operation leaves as its task's bookmark when it returns `Pending`: the line that awaited
/// (captured with `#[track_caller]` where the future was made) and the operation. The descriptor is added from
/// the source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wait {
    /// The line that awaited.
    location: &'static Location<'static>,
    /// What it waits on.
    op: Op,
}

impl Wait {
    /// A wait for `op` at `location`.
    pub(crate) const fn new(location: &'static Location<'static>, op: Op) -> Wait {
        Wait { location, op }
    }

    /// A wait for `op` at the caller's line (or, through `#[track_caller]` functions, at their caller's).
    #[track_caller]
    pub(crate) fn here(op: Op) -> Wait {
        Wait::new(Location::caller(), op)
    }
}

/// No registration yet.
const UNREGISTERED: u64 = u64::MAX;

/// A descriptor plus where it is registered: `loop id << 32 | key`.
#[derive(Debug)]
pub(crate) struct Source<T: AsFd> {
    /// Where the descriptor is registered. Declared before `io`, so a dropped source forgets its registration
    /// before the descriptor closes.
    registration: Registration,
    /// The socket, non-blocking.
    io: T,
}

/// `loop id << 32 | driver key`, or `UNREGISTERED`; dropping it frees the entry in that loop's driver.
#[derive(Debug)]
struct Registration(AtomicU64);

/// Socket I/O polled on a thread that runs no loop: a mistake in the program, so a panic (the rule in the
/// `runtime` module's docs), naming the line that made the operation.
#[cold]
#[inline(never)]
fn outside_runtime(wait: Wait) -> ! {
    let operation = Label::fd(wait.op, 0).text();
    let operation = operation.trim_end_matches(" fd 0");
    panic!(
        "weft: {operation} (made at {}) polled outside a runtime: use the socket inside weft::run, \
         #[weft::main] or Runtime::block_on",
        wait.location
    )
}

impl<T: AsFd> Source<T> {
    /// Wraps a non-blocking descriptor; it registers on first use.
    pub(crate) fn new(io: T) -> Source<T> {
        Source {
            registration: Registration(AtomicU64::new(UNREGISTERED)),
            io,
        }
    }

    /// The descriptor.
    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }

    /// Takes the descriptor out, still non-blocking, and frees its entry in the loop it was registered with. The
    /// socket may stay in that loop's epoll set until it is closed; registering it again, on any loop, updates
    /// that entry (see `sys::Epoll::add`).
    pub(crate) fn into_inner(self) -> io::Result<T> {
        let Source { registration, io } = self;
        drop(registration);
        Ok(io)
    }

    /// A future that runs `op` once the socket is readable, again each time it says `WouldBlock`, and resolves
    /// to its first other result. While it waits, the task's bookmark is `op_name` on this descriptor at the
    /// caller's line (through `#[track_caller]` functions, the line of the user's call).
    #[track_caller]
    pub(crate) fn read_with<'a, R>(
        &'a self,
        op_name: Op,
        op: impl FnMut(&T) -> io::Result<R> + 'a,
    ) -> impl Future<Output = io::Result<R>> + 'a {
        self.io_with(Direction::Read, Wait::here(op_name), op)
    }

    /// [`read_with`](Self::read_with) for writing: waits until the socket is writable.
    #[track_caller]
    pub(crate) fn write_with<'a, R>(
        &'a self,
        op_name: Op,
        op: impl FnMut(&T) -> io::Result<R> + 'a,
    ) -> impl Future<Output = io::Result<R>> + 'a {
        self.io_with(Direction::Write, Wait::here(op_name), op)
    }

    /// The future of [`read_with`](Self::read_with) and [`write_with`](Self::write_with).
    fn io_with<'a, R>(
        &'a self,
        direction: Direction,
        wait: Wait,
        mut op: impl FnMut(&T) -> io::Result<R> + 'a,
    ) -> impl Future<Output = io::Result<R>> + 'a {
        poll_fn(move |cx| self.poll_io(cx, direction, wait, &mut op))
    }

    /// Runs `op` when the socket is ready in `direction`, waiting as long as it says `WouldBlock`. While it
    /// waits, the task's bookmark is `wait` on this descriptor.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        wait: Wait,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        coop::budgeted(cx, |cx| self.poll_io_now(cx, direction, wait, &mut op))
    }

    /// [`poll_io`](Self::poll_io) once the task's budget allows it.
    #[inline(always)]
    fn poll_io_now<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        wait: Wait,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        context::with_core(|core| {
            let Some(core) = core else {
                outside_runtime(wait);
            };
            let key = match self.key_on(core.shared(), |fd| core.driver().register(fd)) {
                Ok(key) => key,
                Err(error) => return Poll::Ready(Err(error)),
            };
            let driver = core.driver();
            loop {
                if driver.poll_ready(key, direction, cx).is_pending() {
                    self.bookmark(wait);
                    return Poll::Pending;
                }
                match op(&self.io) {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        driver.clear_ready(key, direction)
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    result => return Poll::Ready(result),
                }
            }
        })
    }

    /// Whether this loop's driver moves a connected stream's bytes by completions (`recv`/`send` operations)
    /// rather than readiness; `false` outside a runtime (the readiness path then panics with the caller's line).
    #[inline]
    pub(crate) fn completion_streams(&self) -> bool {
        context::with_core(|core| core.is_some_and(|core| core.driver().completion_streams()))
    }

    /// Runs a completion-I/O call of a connected stream (`op`, given the driver and this stream's key), within
    /// the task's budget; while it waits, the task's bookmark is `wait` on this descriptor.
    pub(crate) fn poll_completion<R>(
        &self,
        cx: &mut Context<'_>,
        wait: Wait,
        op: impl FnOnce(&crate::driver::Reactor, u32, &mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        coop::budgeted(cx, |cx| {
            context::with_core(|core| {
                let Some(core) = core else {
                    outside_runtime(wait);
                };
                let driver = core.driver();
                // A stream that moved here reads what its previous loop received first (`driver::Handoff`).
                let on_move = |key| {
                    let handoff = Arc::new(Handoff::default());
                    driver.expect_handoff(key, handoff.clone());
                    Some(handoff)
                };
                let key = match self.key_moving(
                    core.shared(),
                    |fd| driver.register_stream(fd),
                    on_move,
                ) {
                    Ok(key) => key,
                    Err(error) => return Poll::Ready(Err(error)),
                };
                let result = op(driver, key, cx);
                if result.is_pending() {
                    self.bookmark(wait);
                }
                result
            })
        })
    }

    /// Runs `op` with the driver and this stream's key if the current loop does completion I/O and the stream
    /// is registered with it; `None` otherwise.
    pub(crate) fn with_completion_key<R>(
        &self,
        op: impl FnOnce(&crate::driver::Reactor, u32, &Shared) -> R,
    ) -> Option<R> {
        context::with_core(|core| {
            let core = core?;
            if !core.driver().completion_streams() {
                return None;
            }
            let registration = self.registration.0.load(Ordering::Acquire);
            if registration == UNREGISTERED
                || (registration >> 32) as u32 != core.shared().id() as u32
            {
                return None;
            }
            Some(op(core.driver(), registration as u32, core.shared()))
        })
    }

    /// Leaves `wait` on this descriptor as the task's bookmark (for an operation that waits on something else
    /// first, such as an accept pausing at the descriptor limit).
    pub(crate) fn bookmark(&self, wait: Wait) {
        crate::cell::bookmark(
            wait.location,
            Label::fd(wait.op, self.io.as_fd().as_raw_fd()),
        );
    }

    /// Like [`poll_io`](Self::poll_io) for a stream transfer of up to `want` bytes: a short transfer (some bytes,
    /// fewer than asked) means the kernel's queue was drained or filled, so the cached readiness is cleared
    /// right away and the next call waits for the driver instead of spending a system call to learn
    /// `WouldBlock`. Edge-triggered epoll reports the next arrival (or free space) as a new event.
    pub(crate) fn poll_transfer(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        want: usize,
        wait: Wait,
        op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let result = self.poll_io(cx, direction, wait, op);
        if let Poll::Ready(Ok(done)) = result {
            if done > 0 && done < want {
                self.clear_ready_after_short_transfer(direction);
            }
        }
        result
    }

    /// Forgets that `direction` is ready (on the current loop), keeping any hang-up or error seen.
    fn clear_ready_after_short_transfer(&self, direction: Direction) {
        context::with_core(|core| {
            if let Some(core) = core {
                let registration = self.registration.0.load(Ordering::Relaxed);
                if registration != UNREGISTERED
                    && (registration >> 32) as u32 == core.shared().id() as u32
                {
                    core.driver()
                        .clear_ready_after_short_transfer(registration as u32, direction);
                }
            }
        });
    }

    /// This source's key on the current loop, registering it there if needed.
    fn key_on(
        &self,
        shared: &Shared,
        register: impl FnOnce(i32) -> io::Result<u32>,
    ) -> io::Result<u32> {
        self.key_moving(shared, register, |_| None)
    }

    /// [`key_on`](Self::key_on); when the source moves here from another loop, `on_move(new key)` may give a
    /// [`Handoff`] for the old loop to pass the stream's leftovers through.
    fn key_moving(
        &self,
        shared: &Shared,
        register: impl FnOnce(i32) -> io::Result<u32>,
        on_move: impl FnOnce(u32) -> Option<Arc<Handoff>>,
    ) -> io::Result<u32> {
        let loop_id = shared.id() as u32;
        let current = self.registration.0.load(Ordering::Acquire);
        if current != UNREGISTERED && (current >> 32) as u32 == loop_id {
            return Ok(current as u32);
        }
        let key = register(self.io.as_fd().as_raw_fd())?;
        let registration = (u64::from(loop_id) << 32) | u64::from(key);
        match self.registration.0.compare_exchange(current, registration, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                if current != UNREGISTERED {
                    forget_elsewhere(current, on_move(key).map(HandoffSender));
                }
                Ok(key)
            }
            Err(_) => Err(io::Error::other(
                "weft: one socket used from two runtimes at the same moment; give each half to one runtime",
            )),
        }
    }
}

/// Tells the loop named in `registration` to free its entry for a source it no longer owns; a stream that moved
/// also passes its leftovers through `handoff` (dropped unsent, it completes empty: never a reader left waiting).
fn forget_elsewhere(registration: u64, handoff: Option<HandoffSender>) {
    let (loop_id, key) = (registration >> 32, registration as u32);
    let freed_here = context::with_core(|core| match core {
        Some(core) if core.shared().id() as u32 == loop_id as u32 => {
            core.driver().deregister(key);
            true
        }
        _ => false,
    });
    if !freed_here {
        if let Some(shared) = Shared::find(loop_id) {
            shared.push_remote(|remote| remote.orphan_sources.push((key, handoff)));
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let registration = *self.0.get_mut();
        if registration != UNREGISTERED {
            // The descriptor closes right after (the source's `io` field drops next), which takes it out of
            // epoll.
            forget_elsewhere(registration, None);
        }
    }
}
