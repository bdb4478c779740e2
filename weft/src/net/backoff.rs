//! [`AcceptBackoff`]: a listener out of descriptors reports it once, then waits instead of spinning.
//!
//! When the process (`EMFILE`) or the system (`ENFILE`) is out of descriptors, or the kernel out of memory for
//! the new socket (`ENOBUFS`, `ENOMEM`), `accept` fails while the connection stays queued, so the listener stays
//! readable: an accept loop that reports the error and accepts again (as every tutorial writes it) would call
//! `accept` millions of times a second, and nothing tells the loop when a descriptor is free again, since closing
//! one raises no event.
//!
//! So the first such error of an episode is returned to the caller; from then on `accept` waits on a timer
//! before it tries again, doubling the pause from [`FIRST_PAUSE`] up to [`LONGEST_PAUSE`], without reporting the
//! error again; the first accept that succeeds ends the episode. The caller's loop costs nothing meanwhile (a
//! retry every 200 ms at most), its other tasks keep being served, and accepting resumes by itself at most
//! [`LONGEST_PAUSE`] after descriptors free up. A timer rather than keeping the listener "ready" until an accept
//! succeeds: readiness kept is exactly what spins, as no event marks the moment the limit stops biting.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::cell::{Label, Op};
use crate::time::{Instant, Sleep};

/// The pause before the first retry of an episode.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(5);

/// The longest pause between two retries.
pub(crate) const LONGEST_PAUSE: Duration = Duration::from_millis(200);

/// The back-off state of one listener; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    /// An episode is under way (so `state` must be looked at); read without the lock on every accept.
    active: AtomicBool,
    /// The episode, while there is one.
    state: Mutex<Option<Episode>>,
}

/// An episode of resource errors.
#[derive(Debug)]
struct Episode {
    /// The pause that ran last (or runs now).
    pause: Duration,
    /// The timer before the next retry, while one is due.
    timer: Option<Sleep>,
}

/// Errors that mean "out of descriptors or memory", not "this connection failed".
fn is_resource_limit(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl AcceptBackoff {
    /// Polls `accept` under the back-off: waits out a pause that is running; on a resource error reports the
    /// first of the episode and pauses before the next try.
    pub(crate) fn poll<T>(
        &self,
        cx: &mut Context<'_>,
        mut accept: impl FnMut(&mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if self.active.load(Ordering::Acquire) && self.pausing(cx).is_pending() {
            return Poll::Pending;
        }
        match accept(cx) {
            Poll::Ready(Err(error)) if is_resource_limit(&error) => self.limited(cx, error),
            Poll::Ready(Ok(accepted)) => {
                if self.active.load(Ordering::Acquire) {
                    *self.lock() = None;
                    self.active.store(false, Ordering::Release);
                }
                Poll::Ready(Ok(accepted))
            }
            other => other,
        }
    }

    /// `Pending` while the pause runs (the task is woken when it ends); `Ready` when it is time to try again.
    fn pausing(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        let Some(timer) = state.as_mut().and_then(|episode| episode.timer.as_mut()) else {
            return Poll::Ready(());
        };
        match timer.poll_quietly(cx) {
            Poll::Ready(()) => {
                if let Some(episode) = state.as_mut() {
                    episode.timer = None;
                }
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// `accept` failed for lack of resources: the first time in an episode, returns the error; after that,
    /// pauses (twice as long as last time, up to the longest) and returns `Pending`.
    fn limited<T>(&self, cx: &mut Context<'_>, error: io::Error) -> Poll<io::Result<T>> {
        let mut state = self.lock();
        let first = state.is_none();
        let episode = state.get_or_insert(Episode {
            pause: FIRST_PAUSE / 2,
            timer: None,
        });
        episode.pause = (episode.pause * 2).min(LONGEST_PAUSE);
        let mut timer = Sleep::new(
            Instant::now() + episode.pause,
            std::panic::Location::caller(),
            Label::duration(Op::Sleep, episode.pause),
        );
        // Registers the timer now, so the task is woken when the pause ends even if it returns `Pending`.
        let registered = timer.poll_quietly(cx);
        episode.timer = registered.is_pending().then_some(timer);
        self.active.store(true, Ordering::Release);
        if first {
            return Poll::Ready(Err(error));
        }
        if registered.is_ready() {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// The episode, whatever a panic elsewhere left in the lock.
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Episode>> {
        crate::loom::lock_std(&self.state)
    }
}
