//! [`timeout`]: give a future a deadline.

#![forbid(unsafe_code)]

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Instant, Sleep};
use crate::cell::{Label, Op};

/// Runs `future` for at most `duration`: `Ok(output)` if it finishes in time, `Err(Elapsed)` otherwise, in
/// which case the future is dropped at its bookmark (its destructors run). The future is polled before the
/// timer, so one that is ready at once succeeds even with a zero duration.
///
/// ```
/// use std::time::Duration;
/// use weft::time::{sleep, timeout};
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     assert_eq!(timeout(Duration::from_secs(1), async { 5 }).await, Ok(5));
///     let slow = sleep(Duration::from_secs(10));
///     assert!(timeout(Duration::from_secs(1), slow).await.is_err());
/// });
/// ```
///
/// # Cancellation safety
/// As safe as `future`: when time is up (or the `Timeout` is dropped) `future` is dropped at its bookmark, so
/// wrap only futures that lose nothing when dropped — every weft leaf future — or give it `&mut` a future you
/// keep.
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: Sleep::new(
            Instant::now().saturating_add(duration),
            Location::caller(),
            Label::duration(Op::Timeout, duration),
        ),
    }
}

/// Like [`timeout`], with a deadline instead of a duration.
///
/// Cancellation safety: as for [`timeout`]: as safe as `future`.
///
/// ```
/// use std::time::Duration;
/// use weft::time::{sleep, timeout_at, Instant};
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let deadline = Instant::now() + Duration::from_secs(1);
///     assert!(timeout_at(deadline, sleep(Duration::from_secs(2))).await.is_err());
///     assert_eq!(Instant::now(), deadline); // it gave up exactly at the deadline
///     // A deadline in the past still lets a ready future finish.
///     assert_eq!(timeout_at(deadline, async { "ready" }).await, Ok("ready"));
/// });
/// ```
#[track_caller]
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: Sleep::new(
            deadline,
            Location::caller(),
            Sleep::label(Op::Timeout, deadline),
        ),
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`timeout`] and [`timeout_at`]. When the deadline passes first, the wrapped
    /// future is dropped with it (its destructors run).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    /// use weft::time::{sleep, timeout, Timeout};
    ///
    /// struct Guard(Rc<Cell<bool>>);
    /// impl Drop for Guard {
    ///     fn drop(&mut self) {
    ///         self.0.set(true);
    ///     }
    /// }
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let dropped = Rc::new(Cell::new(false));
    ///     let guard = Guard(dropped.clone());
    ///     let slow = async move {
    ///         let _guard = guard;
    ///         sleep(Duration::from_secs(10)).await;
    ///     };
    ///     let limited: Timeout<_> = timeout(Duration::from_secs(1), slow);
    ///     assert!(limited.await.is_err());
    ///     assert!(dropped.get()); // the slow future was cleaned up
    /// });
    /// ```
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{sleep, timeout, Instant};
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let limited = timeout(Duration::from_secs(1), sleep(Duration::from_secs(5)));
    ///     assert_eq!(limited.get_ref().deadline(), Instant::now() + Duration::from_secs(5));
    /// });
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Unwraps the future, dropping the timer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{sleep, timeout, Instant};
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let start = Instant::now();
    ///     let limited = timeout(Duration::from_secs(1), sleep(Duration::from_secs(5)));
    ///     limited.into_inner().await; // no time limit any more
    ///     assert_eq!(start.elapsed(), Duration::from_secs(5));
    /// });
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    /// # Panics
    /// Outside a runtime, at the line that polls it (the `.await`), unless the wrapped future is ready first.
    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match this.sleep.poll_quietly(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => {
                // The wrapped future's own bookmark, if it left one, says more than the time limit.
                let (location, label) = this.sleep.bookmark();
                crate::cell::bookmark_if_none(location, label);
                Poll::Pending
            }
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("future", &self.future)
            .field("deadline", &self.sleep.deadline())
            .finish()
    }
}

/// The error of a [`timeout`] whose deadline passed first. It converts into an [`std::io::Error`] of kind
/// `TimedOut`, so `?` works in functions that return `io::Result`.
///
/// ```
/// use std::time::Duration;
/// use weft::time::{sleep, timeout};
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let elapsed = timeout(Duration::from_millis(1), sleep(Duration::from_secs(1)))
///         .await
///         .unwrap_err();
///     assert_eq!(elapsed.to_string(), "deadline has elapsed");
///     let error: std::io::Error = elapsed.into();
///     assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::ErrorKind::TimedOut.into()
    }
}
