//! [`Handle`]: the thread-safe way into a runtime.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use super::loops::{LoopId, OnLoop};
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

    /// Every live loop of the runtime, in index order (this handle's loop alone with one loop).
    pub(crate) fn every_loop(&self) -> Vec<Arc<Shared>> {
        match self.shared.group() {
            Some(group) => group.live(),
            None => vec![self.shared.clone()],
        }
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
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Some(handle) => handle,
            None => panic!(
                "weft::Handle::current called outside a runtime: call it inside weft::run or #[weft::main]"
            ),
        }
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
    ///
    /// With [several loops](crate::Builder::loops), the task goes to the least busy one: the loop with the fewest
    /// live tasks at its latest turn, counting tasks handed to it and not yet taken in (so a burst of spawns
    /// spreads out before any loop has turned).
    ///
    /// ```
    /// let runtime = weft::Builder::new().loops(2).pin_loops(false).build().unwrap();
    /// let handle = runtime.handle();
    /// let placed = runtime.block_on(async move {
    ///     let tasks: Vec<_> = (0..10).map(|_| handle.spawn(async { weft::current_loop() })).collect();
    ///     weft::join_all(tasks).await
    /// });
    /// let on_second = placed.iter().filter(|id| id.as_ref().unwrap().index() == 1).count();
    /// assert!((1..10).contains(&on_second)); // spread over both loops
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let location = Location::caller();
        let Some(group) = self.shared.group() else {
            return spawn_onto(&self.shared, future, location);
        };
        let mut future = Some(future);
        if group.steals() {
            // On one of this runtime's loops: the task waits there for its first poll, and an idle loop may take it.
            let waiting = context::with_core(|core| {
                let core = core.filter(|core| {
                    core.shared()
                        .group()
                        .is_some_and(|own| Arc::ptr_eq(own, group))
                })?;
                match core.spawn_waiting(future.take()?, location) {
                    Ok(handle) => Some(handle),
                    Err(back) => {
                        future = Some(back);
                        None
                    }
                }
            });
            if let Some(handle) = waiting {
                return handle;
            }
        }
        let future = future.expect("given back unless spawned");
        match group.least_busy() {
            // Through the remote queue even onto this thread's loop, so its count of tasks handed in is right.
            Some(target) => target.spawn_remote(future, location, group.steals()),
            None => spawn_onto(&self.shared, future, location),
        }
    }

    /// The runtime's loops, in index order (one, unless built with [`Builder::loops`](crate::Builder::loops)).
    ///
    /// ```
    /// let runtime = weft::Builder::new().loops(3).pin_loops(false).build().unwrap();
    /// let ids: Vec<usize> = runtime.handle().loops().iter().map(|id| id.index()).collect();
    /// assert_eq!(ids, [0, 1, 2]);
    /// assert_eq!(weft::Runtime::new().unwrap().handle().loops().len(), 1);
    /// ```
    pub fn loops(&self) -> Vec<LoopId> {
        match self.shared.group() {
            Some(group) => group.ids(),
            None => vec![self.shared.loop_id()],
        }
    }

    /// Spawns a `Send` task on loop `id`, from any thread. On a runtime that has shut down, the task is
    /// cancelled without running.
    ///
    /// ```
    /// let runtime = weft::Builder::new().loops(2).pin_loops(false).build().unwrap();
    /// let handle = runtime.handle();
    /// let second = handle.loops()[1];
    /// let ran_on = runtime.block_on(handle.spawn_on(second, async { weft::current_loop() }));
    /// assert_eq!(ran_on.unwrap(), second);
    /// ```
    ///
    /// # Panics
    /// If the runtime has no loop `id`.
    #[track_caller]
    pub fn spawn_on<F>(&self, id: LoopId, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let location = Location::caller();
        let target = match self.shared.group() {
            Some(group) => group.get(id),
            None if id == self.shared.loop_id() => Some(self.shared.clone()),
            None => panic!("weft: no {id} in a runtime of 1 loop"),
        };
        // A loop that is gone: its runtime shut down, so this one refuses the task too.
        spawn_onto(target.as_ref().unwrap_or(&self.shared), future, location)
    }

    /// Runs `make(id)` on every loop `id` and spawns the future it returns there; returns their handles in loop
    /// order. The future is built on its loop and need not be `Send`, so per-loop state can live in an `Rc`.
    /// Aborting a handle aborts that loop's task.
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let runtime = weft::Builder::new().loops(2).pin_loops(false).build().unwrap();
    /// let handle = runtime.handle();
    /// let tasks = handle.spawn_on_each(|id| {
    ///     let state = Rc::new(id.index() * 10); // not Send: built on its loop, used there
    ///     async move { *state + 1 }
    /// });
    /// let outputs: Vec<usize> = runtime
    ///     .block_on(weft::join_all(tasks))
    ///     .into_iter()
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(outputs, [1, 11]);
    /// ```
    #[track_caller]
    pub fn spawn_on_each<M, Fut>(&self, make: M) -> Vec<JoinHandle<Fut::Output>>
    where
        M: Fn(LoopId) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let location = Location::caller();
        let make = Arc::new(make);
        self.loops()
            .into_iter()
            .map(|id| {
                let task = OnLoop::new(id, make.clone(), location);
                let target = match self.shared.group() {
                    Some(group) => group.get(id),
                    None => Some(self.shared.clone()),
                };
                spawn_onto(target.as_ref().unwrap_or(&self.shared), task, location)
            })
            .collect()
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

/// Spawns a `Send` task on the loop `target`: straight onto its run queue on its own thread, else through its
/// remote queue.
fn spawn_onto<F>(
    target: &Arc<Shared>,
    future: F,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let on_target = context::with_core_of(Arc::as_ptr(target), |core| core.is_some());
    if on_target {
        context::with_core(|core| {
            core.expect("checked above")
                .spawn_local(future, None, location)
        })
    } else {
        target.spawn_remote(future, location, false)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("id", &self.shared.id())
            .finish()
    }
}
