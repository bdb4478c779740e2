//! [`yield_now`]: step aside once so other tasks can run.

#![forbid(unsafe_code)]

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::cell::{Label, Op};

/// Lets every other ready task run once before this one continues: the task wakes itself and returns
/// `Pending`, so it goes to the back of the run queue.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// weft::run(async {
///     let ran = Rc::new(Cell::new(false));
///     let other = weft::spawn({
///         let ran = ran.clone();
///         async move { ran.set(true) }
///     });
///     weft::task::yield_now().await;
///     assert!(ran.get());
///     other.await.unwrap();
/// });
/// ```
#[track_caller]
pub fn yield_now() -> YieldNow {
    YieldNow {
        yielded: false,
        location: Location::caller(),
    }
}

/// The future returned by [`yield_now`]: `Pending` on its first poll (after waking its task), `Ready` on the
/// next.
///
/// ```
/// use std::future::{poll_fn, Future};
/// use std::pin::pin;
/// use std::task::Poll;
///
/// weft::run(async {
///     let mut step_aside = pin!(weft::task::yield_now());
///     let first = poll_fn(|cx| Poll::Ready(step_aside.as_mut().poll(cx))).await;
///     assert!(first.is_pending());
///     step_aside.await; // ready on the second poll
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you .await them"]
pub struct YieldNow {
    /// Whether it has returned `Pending` once.
    yielded: bool,
    /// The line that yielded: the task's bookmark until it runs again.
    location: &'static Location<'static>,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        crate::cell::bookmark(self.location, Label::plain(Op::YieldNow));
        Poll::Pending
    }
}
