//! [`Sleep`]: a future that completes at a deadline.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::context;
use super::Instant;
use crate::cell::coop;
use crate::cell::{Label, Op};

/// Waits until `duration` has passed. A zero duration completes on the first poll.
///
/// The timer is registered in the loop's wheel on the first poll and leaves it as soon as the `Sleep` is
/// dropped. Resolution is 1 ms; a sleep never ends early.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let start = weft::time::Instant::now();
///     weft::time::sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
///
/// # Cancellation safety
/// Dropping a `Sleep` loses nothing: its timer leaves the wheel, and a new sleep waits afresh. To keep one
/// deadline across the iterations of a `select!` loop, pin it and poll it by `&mut`.
///
/// # Panics
/// When awaited (polled) outside a runtime, at the line of the `.await`; creating it anywhere is fine (the rule
/// is in the docs of the `weft::runtime` module).
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(
        Instant::now().saturating_add(duration),
        Location::caller(),
        Label::duration(Op::Sleep, duration),
    )
}

/// Waits until `deadline`. A deadline in the past completes on the first poll.
///
/// Cancellation safety: as for [`sleep`]: dropping it loses nothing.
///
/// ```
/// use std::time::Duration;
/// use weft::time::{sleep_until, Instant};
///
/// weft::run(async {
///     let deadline = Instant::now() + Duration::from_millis(10);
///     sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(
        deadline,
        Location::caller(),
        Sleep::label(Op::Sleep, deadline),
    )
}

/// The future returned by [`sleep`] and [`sleep_until`]. Creating one starts no timer; the first poll does.
///
/// ```
/// use std::time::Duration;
/// use weft::time::{sleep, Instant, Sleep};
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let start = Instant::now();
///     let mut timer: Sleep = sleep(Duration::from_secs(1));
///     (&mut timer).await; // awaited through `&mut`, so it can be inspected afterwards
///     assert!(timer.is_elapsed());
///     assert_eq!(Instant::now(), timer.deadline());
///     assert_eq!(timer.deadline() - start, Duration::from_secs(1));
/// });
/// ```
pub struct Sleep {
    /// When it completes.
    deadline: Instant,
    /// Its entry in a loop's wheel, once polled.
    registration: Option<Registration>,
    /// The line that created it: its task's bookmark while it waits.
    location: &'static Location<'static>,
    /// What the bookmark says ("sleep 2.0s").
    label: Label,
}

/// A timer entry in a particular loop's wheel.
#[derive(Debug, Clone, Copy)]
struct Registration {
    /// The loop whose wheel holds the entry.
    loop_id: u64,
    /// The entry's key in that wheel.
    key: u32,
}

impl Sleep {
    /// A sleep until `deadline`, not yet registered, bookmarked at `location` with `label` while it waits.
    pub(crate) fn new(
        deadline: Instant,
        location: &'static Location<'static>,
        label: Label,
    ) -> Sleep {
        Sleep {
            deadline,
            registration: None,
            location,
            label,
        }
    }

    /// A label for `op` waiting until `deadline`: the time left from now.
    pub(crate) fn label(op: Op, deadline: Instant) -> Label {
        Label::duration(op, deadline.saturating_duration_since(Instant::now()))
    }

    /// Polls without leaving a bookmark (for the timers that leave their own: timeout, interval).
    ///
    /// # Panics
    /// Outside a runtime, at the caller's line (through every `#[track_caller]` poll above it: the `.await`).
    #[track_caller]
    pub(crate) fn poll_quietly(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.poll_on_current(cx) {
            Ok(poll) => poll,
            Err(NoRuntime) => no_runtime(self.location),
        }
    }

    /// Polls with the current loop's timers, or says there are none.
    fn poll_on_current(&mut self, cx: &mut Context<'_>) -> Result<Poll<()>, NoRuntime> {
        let registration = self.registration;
        let outcome = context::with_current(|timers| {
            let Some(timers) = timers else {
                return Err(NoRuntime);
            };
            Ok(match registration {
                Some(registration) if registration.loop_id == timers.loop_id() => {
                    let mut wheel = timers.wheel().borrow_mut();
                    if wheel.is_fired(registration.key) {
                        wheel.remove(registration.key);
                        Some(Poll::Ready(()))
                    } else {
                        wheel.set_waker(registration.key, cx.waker());
                        Some(Poll::Pending)
                    }
                }
                // Registered with another loop (the sleep moved): start over on this one.
                Some(_) => None,
                None => {
                    let clock = timers.clock();
                    if self.deadline.into_std() <= clock.now() {
                        return Ok(Some(Poll::Ready(())));
                    }
                    let deadline = clock.deadline_ms(self.deadline.into_std());
                    let key = timers
                        .wheel()
                        .borrow_mut()
                        .insert(deadline, cx.waker().clone());
                    self.registration = Some(Registration {
                        loop_id: timers.loop_id(),
                        key,
                    });
                    Some(Poll::Pending)
                }
            })
        })?;
        Ok(match outcome {
            Some(Poll::Ready(())) => {
                self.registration = None;
                Poll::Ready(())
            }
            Some(Poll::Pending) => Poll::Pending,
            None => {
                self.deregister();
                return self.poll_on_current(cx);
            }
        })
    }

    /// Where it was created and what it waits for, for a bookmark left by whoever polls it.
    pub(crate) fn bookmark(&self) -> (&'static Location<'static>, Label) {
        (self.location, self.label)
    }

    /// When this sleep completes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{sleep, Instant};
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let timer = sleep(Duration::from_secs(5));
    ///     assert_eq!(timer.deadline(), Instant::now() + Duration::from_secs(5));
    /// });
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True if the deadline has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::sleep;
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let mut timer = sleep(Duration::from_secs(1));
    ///     assert!(!timer.is_elapsed());
    ///     (&mut timer).await;
    ///     assert!(timer.is_elapsed());
    /// });
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (earlier or later); the sleep can then be awaited again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{sleep, Instant};
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let start = Instant::now();
    ///     let mut timer = sleep(Duration::from_secs(1));
    ///     timer.reset(start + Duration::from_secs(5));
    ///     (&mut timer).await;
    ///     assert_eq!(Instant::now() - start, Duration::from_secs(5));
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.move_deadline(deadline);
        self.label = Sleep::label(self.label.op(), deadline);
    }

    /// Moves the deadline, keeping the label (for a timer that leaves its own bookmark, such as an interval,
    /// whose every tick moves it: no clock read for a label nobody shows).
    pub(crate) fn move_deadline(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = deadline;
    }

    /// Takes the entry out of its wheel: directly on the owning loop's thread, otherwise by telling that loop.
    fn deregister(&mut self) {
        let Some(registration) = self.registration.take() else {
            return;
        };
        let removed_here = context::with_current(|timers| match timers {
            Some(timers) if timers.loop_id() == registration.loop_id => {
                match timers.wheel().try_borrow_mut() {
                    Ok(mut wheel) => {
                        wheel.remove(registration.key);
                        true
                    }
                    Err(_) => false,
                }
            }
            _ => false,
        });
        if !removed_here {
            context::orphan(registration.loop_id, registration.key);
        }
    }
}

/// There is no runtime on this thread.
struct NoRuntime;

/// The panic of a timer polled outside a runtime, at the caller's line (the rule is in the runtime module's
/// docs). The message names where the timer was made too, for a poll that comes through a combinator.
#[cold]
#[track_caller]
fn no_runtime(created_at: &Location<'_>) -> ! {
    panic!(
        "weft timer (created at {created_at}) polled outside a runtime: timers need a weft runtime on this \
         thread (weft::run, #[weft::main] or Runtime::block_on)"
    )
}

impl Future for Sleep {
    type Output = ();

    /// # Panics
    /// Outside a runtime, at the line that polls it (the `.await`).
    #[track_caller]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let poll = coop::budgeted(cx, |cx| match self.poll_on_current(cx) {
            Ok(poll) => poll.map(Ok),
            Err(no_runtime) => Poll::Ready(Err(no_runtime)),
        });
        let poll = match poll {
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Ready(Err(NoRuntime)) => no_runtime(self.location),
            Poll::Pending => Poll::Pending,
        };
        if poll.is_pending() {
            crate::cell::bookmark(self.location, self.label);
        }
        poll
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}
