//! [`Handle`]: the thread-safe way into a runtime.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use super::{context, Shared};
use crate::cell::JoinHandle;

/// A cheap, cloneable reference to a runtime, usable from any thread: spawn `Send` tasks onto its loop, or
/// run closures on its blocking pool.
///
/// ```
/// let runtime = weft::Runtime::new().unwrap();
/// let handle = runtime.handle();
/// let threads: Vec<_> = (0..4)
///     .map(|i| {
///         let handle = handle.clone();
///         std::thread::spawn(move || handle.spawn(async move { i * 10 }))
///     })
///     .collect();
/// let tasks: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
/// let results = runtime.block_on(weft::join_all(tasks));
/// assert_eq!(results.into_iter().map(Result::unwrap).sum::<i32>(), 60);
/// ```
#[derive(Clone)]
pub struct Handle {
    /// The loop's shared half.
    shared: Arc<Shared>,
}

impl Handle {
    /// Wraps a loop's shared half.
    pub(crate) fn new(shared: Arc<Shared>) -> Handle {
        Handle { shared }
    }

    /// The loop's shared half (for the x-ray's methods on `Handle`).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The handle of the runtime running on this thread.
    ///
    /// ```
    /// weft::run(async {
    ///     let handle = weft::Handle::current();
    ///     // Hand it to a plain thread, which spawns back onto this loop.
    ///     let task = std::thread::spawn(move || handle.spawn(async { 7 })).join().unwrap();
    ///     assert_eq!(task.await.unwrap(), 7);
    /// });
    /// ```
    ///
    /// # Panics
    /// Outside a runtime; see [`try_current`](Handle::try_current).
    pub fn current() -> Handle {
        Handle::try_current().expect("weft::Handle::current called outside a runtime: call it inside weft::run or #[weft::main]")
    }

    /// The I/O driver the runtime's loop runs: [`Driver::Epoll`](super::Driver::Epoll) or
    /// [`Driver::IoUring`](super::Driver::IoUring), never `Auto`.
    ///
    /// ```
    /// use weft::runtime::Driver;
    ///
    /// let runtime = weft::Builder::new().driver(Driver::Epoll).build().unwrap();
    /// let handle = runtime.handle();
    /// assert_eq!(std::thread::spawn(move || handle.driver()).join().unwrap(), Driver::Epoll);
    /// ```
    pub fn driver(&self) -> super::Driver {
        self.shared.driver
    }

    /// The handle of the runtime running on this thread, if any.
    ///
    /// ```
    /// assert!(weft::Handle::try_current().is_none()); // no runtime on this thread
    /// weft::run(async {
    ///     assert!(weft::Handle::try_current().is_some());
    /// });
    /// ```
    pub fn try_current() -> Option<Handle> {
        context::with_core(|core| core.map(|core| Handle::new(core.shared().clone())))
    }

    /// Spawns a `Send` task on this runtime's loop, from any thread. It runs when the loop next turns (while
    /// some thread is in the runtime's `block_on`). On a runtime that has shut down, the task is cancelled
    /// without running and its handle reports a cancelled [`JoinError`](crate::JoinError).
    ///
    /// ```
    /// let runtime = weft::Runtime::new().unwrap();
    /// let handle = runtime.handle();
    /// let task = std::thread::spawn({
    ///     let handle = handle.clone();
    ///     move || handle.spawn(async { "ran on the loop" })
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(runtime.block_on(task).unwrap(), "ran on the loop");
    ///
    /// drop(runtime);
    /// let late = handle.spawn(async { "never runs" });
    /// assert!(weft::run(late).unwrap_err().is_cancelled());
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let location = Location::caller();
        let on_this_loop = context::with_core_of(Arc::as_ptr(&self.shared), |core| core.is_some());
        if on_this_loop {
            context::with_core(|core| {
                core.expect("checked above")
                    .spawn_local(future, None, location)
            })
        } else {
            self.shared.spawn_remote(future, location)
        }
    }

    /// Runs `function` on this runtime's blocking pool; see [`spawn_blocking`](crate::spawn_blocking).
    ///
    /// ```
    /// let runtime = weft::Runtime::new().unwrap();
    /// let handle = runtime.handle();
    /// // From a thread that is not running the loop:
    /// let task = std::thread::spawn(move || handle.spawn_blocking(|| (1..=10u32).product::<u32>()))
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(runtime.block_on(task).unwrap(), 3_628_800);
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, T>(&self, function: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.shared.spawn_blocking(function, Location::caller())
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("id", &self.shared.id())
            .finish()
    }
}
