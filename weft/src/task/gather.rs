//! Gather: run several futures at once and collect every output — [`join!`](crate::join) for a fixed set,
//! [`join_all`] for any number.
//!
//! Each child gets its own waker, which records the child's index in a shared ready list and wakes the parent.
//! The parent then polls only the children on that list, so a wake costs O(1) however many children there are
//! (polling all of them on every wake would make `join_all` over n futures cost O(n²)).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Which children of a gather need polling; shared between the parent and the children's wakers.
struct ReadyShared {
    /// `queued[i]` is set while child `i` is on the list.
    queued: Box<[AtomicBool]>,
    /// The list itself, and the parent's waker.
    list: Mutex<ReadyList>,
}

/// The ready list.
struct ReadyList {
    /// Children woken since the parent last looked.
    indices: Vec<u32>,
    /// Whom to wake when a child is woken.
    parent: Option<Waker>,
}

/// The waker given to one child.
struct ChildWaker {
    /// The gather's shared list.
    shared: Arc<ReadyShared>,
    /// The child's index.
    index: u32,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.shared.queued[self.index as usize].swap(true, Ordering::AcqRel) {
            return;
        }
        let mut list = self
            .shared
            .list
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        list.indices.push(self.index);
        if let Some(parent) = &list.parent {
            parent.wake_by_ref();
        }
    }
}

/// The parent's side of a gather's ready list.
struct ReadySet {
    /// Shared with the child wakers.
    shared: Arc<ReadyShared>,
    /// Each child's waker, made on first use.
    wakers: Vec<Option<Waker>>,
}

impl ReadySet {
    /// A set of `len` children, all ready for their first poll.
    fn new(len: usize) -> ReadySet {
        let len32 = u32::try_from(len).expect("a gather of more than 4 billion futures");
        ReadySet {
            shared: Arc::new(ReadyShared {
                queued: (0..len).map(|_| AtomicBool::new(true)).collect(),
                list: Mutex::new(ReadyList {
                    indices: (0..len32).collect(),
                    parent: None,
                }),
            }),
            wakers: vec![None; len],
        }
    }

    /// Registers the parent's waker and moves the ready list into `batch`; each child in it is unqueued before
    /// it is polled, so a wake during its poll queues it again.
    fn take_batch(&mut self, cx: &mut Context<'_>, batch: &mut Vec<u32>) {
        let mut list = self
            .shared
            .list
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &list.parent {
            Some(parent) if parent.will_wake(cx.waker()) => {}
            _ => list.parent = Some(cx.waker().clone()),
        }
        std::mem::swap(&mut list.indices, batch);
        drop(list);
        for &index in batch.iter() {
            self.shared.queued[index as usize].store(false, Ordering::Release);
        }
    }

    /// Child `index`'s waker.
    fn waker(&mut self, index: usize) -> &Waker {
        let shared = &self.shared;
        self.wakers[index].get_or_insert_with(|| {
            Waker::from(Arc::new(ChildWaker {
                shared: shared.clone(),
                index: index as u32,
            }))
        })
    }
}

/// A child of a gather: its future, then its output.
enum MaybeDone<F: Future> {
    /// Still running.
    Running(F),
    /// Finished; output not yet collected.
    Done(F::Output),
    /// Output collected.
    Taken,
}

impl<F: Future> MaybeDone<F> {
    /// Polls the child if it is still running; true once it has an output.
    ///
    /// # Safety
    /// `self` must not move again until dropped (it is pinned by the caller's structure).
    unsafe fn poll_pinned(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            MaybeDone::Running(future) => {
                // SAFETY: the caller guarantees `self`, hence the future inside it, never moves again.
                let future = unsafe { Pin::new_unchecked(future) };
                match future.poll(cx) {
                    Poll::Ready(output) => {
                        *self = MaybeDone::Done(output);
                        true
                    }
                    Poll::Pending => false,
                }
            }
            MaybeDone::Done(_) => true,
            MaybeDone::Taken => true,
        }
    }

    /// Takes the output.
    fn take(&mut self) -> F::Output {
        match std::mem::replace(self, MaybeDone::Taken) {
            MaybeDone::Done(output) => output,
            _ => panic!("gather output taken before it was ready, or twice"),
        }
    }
}

/// Runs every future of `iter` at once and returns their outputs in input order — asyncio's `gather`.
///
/// A wake of one future re-polls only that future, so gathering 100,000 futures costs O(1) per wake.
///
/// ```
/// weft::run(async {
///     let tasks = (0..10).map(|i| weft::spawn(async move { i * i }));
///     let squares: Vec<i32> = weft::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
///     assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
/// });
/// ```
pub fn join_all<I>(iter: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let children: Box<[MaybeDone<I::Item>]> = iter.into_iter().map(MaybeDone::Running).collect();
    let ready = ReadySet::new(children.len());
    JoinAll {
        remaining: children.len(),
        children: Box::into_pin(children),
        ready,
        batch: Vec::new(),
    }
}

/// The future returned by [`join_all`]. Its outputs come in input order, whatever order the futures finish
/// in.
///
/// ```
/// use std::time::Duration;
/// use weft::task::JoinAll;
/// use weft::time::sleep;
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let gather: JoinAll<_> = weft::join_all((1..=3u64).map(|i| async move {
///         sleep(Duration::from_secs(4 - i)).await; // the last one finishes first
///         i
///     }));
///     assert_eq!(gather.await, [1, 2, 3]);
/// });
/// ```
#[must_use = "futures do nothing unless you .await them"]
pub struct JoinAll<F: Future> {
    /// The children; pinned in their box, never moved.
    children: Pin<Box<[MaybeDone<F>]>>,
    /// Which children to poll next.
    ready: ReadySet,
    /// Children still running.
    remaining: usize,
    /// The batch being polled (buffer reused).
    batch: Vec<u32>,
}

impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = &mut *self;
        let mut batch = std::mem::take(&mut this.batch);
        this.ready.take_batch(cx, &mut batch);
        // SAFETY: we never move a child out of the pinned box; `MaybeDone` values are replaced in place.
        let children = unsafe { this.children.as_mut().get_unchecked_mut() };
        for index in batch.drain(..) {
            let child = &mut children[index as usize];
            if let MaybeDone::Running(_) = child {
                let mut child_cx = Context::from_waker(this.ready.waker(index as usize));
                // SAFETY: the child lives in the pinned box and is never moved (see above).
                if unsafe { child.poll_pinned(&mut child_cx) } {
                    this.remaining -= 1;
                }
            }
        }
        this.batch = batch;
        if this.remaining > 0 {
            return Poll::Pending;
        }
        Poll::Ready(children.iter_mut().map(MaybeDone::take).collect())
    }
}

impl<F: Future> fmt::Debug for JoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinAll")
            .field("len", &self.children.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}

/// Support for the [`join!`](crate::join) macro; not public API.
#[doc(hidden)]
pub mod __private {
    use super::{MaybeDone, ReadySet};
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Context;

    pub use std::future::poll_fn;
    pub use std::pin::pin;
    pub use std::task::Poll;

    /// The state of one `join!`: its ready list and its buffer.
    pub struct Join {
        /// Which children to poll.
        ready: ReadySet,
        /// Flags of the current batch, by child index.
        due: Vec<bool>,
        /// Buffer for the batch.
        batch: Vec<u32>,
        /// Children still running.
        remaining: usize,
    }

    impl Join {
        /// A join of `len` children.
        pub fn new(len: usize) -> Join {
            Join {
                ready: ReadySet::new(len),
                due: vec![false; len],
                batch: Vec::new(),
                remaining: len,
            }
        }

        /// Starts a poll of the parent: marks which children were woken.
        pub fn begin(&mut self, cx: &mut Context<'_>) {
            let mut batch = std::mem::take(&mut self.batch);
            self.ready.take_batch(cx, &mut batch);
            for index in batch.drain(..) {
                self.due[index as usize] = true;
            }
            self.batch = batch;
        }

        /// Polls child `index` if it was woken.
        pub fn poll_child<F: Future>(&mut self, index: usize, child: Pin<&mut Child<F>>) {
            if !std::mem::take(&mut self.due[index]) {
                return;
            }
            // SAFETY: the child is pinned, so it never moves again until dropped (`Child` is a plain wrapper
            // whose only field is structurally pinned).
            let child = unsafe { child.get_unchecked_mut() };
            if let MaybeDone::Running(_) = child.0 {
                let mut cx = Context::from_waker(self.ready.waker(index));
                // SAFETY: as above: the child, and so its future, is pinned.
                if unsafe { child.0.poll_pinned(&mut cx) } {
                    self.remaining -= 1;
                }
            }
        }

        /// True once every child has an output.
        pub fn is_done(&self) -> bool {
            self.remaining == 0
        }
    }

    /// One child of a `join!`.
    pub struct Child<F: Future>(MaybeDone<F>);

    impl<F: Future> std::fmt::Debug for Child<F> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let state = match self.0 {
                MaybeDone::Running(_) => "running",
                MaybeDone::Done(_) => "done",
                MaybeDone::Taken => "taken",
            };
            f.debug_tuple("Child").field(&state).finish()
        }
    }

    impl std::fmt::Debug for Join {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Join")
                .field("remaining", &self.remaining)
                .finish()
        }
    }

    impl<F: Future> Child<F> {
        /// Wraps a future.
        pub fn new(future: F) -> Child<F> {
            Child(MaybeDone::Running(future))
        }

        /// Takes the output (after [`Join::is_done`]).
        pub fn take(self: Pin<&mut Self>) -> F::Output {
            // SAFETY: taking the output replaces a finished child's `Done` with `Taken`: no future is moved
            // (a running child panics in `take` without moving anything).
            unsafe { self.get_unchecked_mut() }.0.take()
        }
    }
}

/// Runs several futures at once on the current task and returns all their outputs as a tuple, once every one
/// has finished — asyncio's `gather` for a fixed set. The futures run concurrently, not in parallel: they
/// take turns on this task, and a wake of one re-polls only that one.
///
/// ```
/// use std::time::Duration;
/// use weft::time::{sleep, Instant};
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let start = Instant::now();
///     let (a, b) = weft::join!(
///         async { sleep(Duration::from_secs(1)).await; "a" },
///         async { sleep(Duration::from_secs(1)).await; "b" },
///     );
///     assert_eq!((a, b), ("a", "b"));
///     assert_eq!(start.elapsed(), Duration::from_secs(1)); // together, not one after the other
/// });
/// ```
#[macro_export]
macro_rules! join {
    ($($future:expr),+ $(,)?) => {
        $crate::__join_internal!(@normalize () () $($future,)+)
    };
}

/// Implementation of [`join!`]: gives each future the list of `_` that skips to its place in the tuple.
#[doc(hidden)]
#[macro_export]
macro_rules! __join_internal {
    (@unit $_t:tt) => { () };
    (@normalize ($($done:tt)*) ($($skip:tt)*) $head:expr, $($rest:expr,)*) => {
        $crate::__join_internal!(@normalize ($($done)* [($($skip)*) $head]) ($($skip)* _) $($rest,)*)
    };
    (@normalize ($([($($skip:tt)*) $future:expr])*) ($($count:tt)*)) => {{
        // Each child pinned where it stands, so the expansion needs no `unsafe` of its own.
        let mut children = ( $( $crate::task::__private::pin!($crate::task::__private::Child::new($future)), )* );
        let children = &mut children;
        let mut join = $crate::task::__private::Join::new(<[()]>::len(&[$($crate::__join_internal!(@unit $count)),*]));
        $crate::task::__private::poll_fn(move |cx| {
            join.begin(cx);
            $(
                {
                    let ( $($skip,)* child, .. ) = &mut *children;
                    let index = <[()]>::len(&[$($crate::__join_internal!(@unit $skip)),*]);
                    join.poll_child(index, child.as_mut());
                }
            )*
            if join.is_done() {
                $crate::task::__private::Poll::Ready(( $( {
                    let ( $($skip,)* child, .. ) = &mut *children;
                    child.as_mut().take()
                }, )* ))
            } else {
                $crate::task::__private::Poll::Pending
            }
        }).await
    }};
}
