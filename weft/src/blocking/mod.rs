//! The blocking pool behind [`spawn_blocking`](crate::spawn_blocking): CPU-bound or blocking work runs here so
//! it never stalls the loop.
//!
//! Threads start on demand, up to a maximum, and exit after sitting idle for the keep-alive time. A job is a task
//! cell like any other (its "future" runs the closure once), so a `JoinHandle` awaits it, a panic becomes a
//! `JoinError`, and its completion wakes the awaiting task through the usual waker. The pool counts jobs in
//! flight so that a virtual clock never jumps while one runs. At shutdown, queued jobs are cancelled and the
//! pool waits for running ones, so no thread outlives the runtime — unless the shutdown has a deadline
//! ([`Runtime::shutdown_timeout`](crate::Runtime::shutdown_timeout)): then threads still running a job when it
//! passes are left to finish alone (detached) and counted in
//! `xray::Metrics::blocking_threads_abandoned`.

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use crate::cell::raw;
use crate::cell::raw::SendTask;
use crate::cell::{Id, JoinHandle, Owner, TaskRef};

/// A job: the task, and the reference its thread keeps while running it.
struct Job {
    /// The queue's reference (task rule 4), consumed by `run`.
    task: SendTask,
    /// Keeps the cell alive while the closure runs (the stand-in for a loop's registry, task rule 5).
    keep: TaskRef,
}

/// The blocking pool of one runtime (shared by its loops: clones are the same pool).
#[derive(Clone)]
pub(crate) struct Pool {
    /// Shared with the pool's threads.
    inner: Arc<Inner>,
}

/// What the pool's threads share.
struct Inner {
    /// Queue and thread accounting.
    state: Mutex<State>,
    /// Signalled when a job is queued or at shutdown.
    work: Condvar,
    /// Signalled when a thread leaves its work loop (a shutdown with a deadline waits on it).
    exited: Condvar,
    /// Threads a shutdown with a deadline left running their job.
    abandoned: AtomicUsize,
    /// The thread limit.
    max_threads: usize,
    /// How long an idle thread waits before exiting.
    keep_alive: Duration,
    /// Jobs queued or running.
    in_flight: AtomicUsize,
    /// Called on a pool thread when the last job in flight ends (the loop, if its virtual clock waits for the
    /// pool, wants to know); set once by the runtime that owns the pool.
    on_idle: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

use crate::loom::lock_std as lock;

/// The pool's mutable state.
///
/// `available` counts threads not running a job: waiting for work, or just finished and about to look. A
/// thread counts itself available the moment its closure returns — before the job's completion wakes the task
/// awaiting it — so a task that spawns its next job right away finds that thread instead of starting another.
#[derive(Default)]
struct State {
    /// Jobs waiting for a thread.
    queue: VecDeque<Job>,
    /// Threads alive.
    threads: usize,
    /// Threads not running a job.
    available: usize,
    /// No more jobs; threads exit.
    shutdown: bool,
    /// Handles of started threads, joined at shutdown.
    handles: Vec<thread::JoinHandle<()>>,
}

thread_local! {
    /// On a pool thread: its pool, so a finished closure can count the thread available at once.
    static WORKER: RefCell<Option<Arc<Inner>>> = const { RefCell::new(None) };
    /// On a pool thread: whether the running job's closure has returned (and so counted the thread available).
    static FINISHED: Cell<bool> = const { Cell::new(false) };
}

/// Called when a closure returns on a pool thread: the thread is available from now on.
fn closure_returned() {
    let _ = WORKER.try_with(|worker| {
        if let Some(inner) = &*worker.borrow() {
            lock(&inner.state).available += 1;
            FINISHED.set(true);
        }
    });
}

/// The closure as a future that runs it on its first poll.
struct BlockingFuture<F>(Option<F>);

impl<F> Unpin for BlockingFuture<F> {}

impl<F: FnOnce() -> T, T> Future for BlockingFuture<F> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<T> {
        let function = self.0.take().expect("a blocking job runs once");
        let output = function();
        closure_returned();
        Poll::Ready(output)
    }
}

impl Pool {
    /// An empty pool (no threads until the first job).
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                exited: Condvar::new(),
                abandoned: AtomicUsize::new(0),
                max_threads,
                keep_alive,
                in_flight: AtomicUsize::new(0),
                on_idle: OnceLock::new(),
            }),
        }
    }

    /// Sets what a pool thread calls when the last job in flight ends (once; later calls are ignored). The pool
    /// knows nothing of loops: this is how it tells one that blocking work is over.
    pub(crate) fn on_idle(&self, callback: impl Fn() + Send + Sync + 'static) {
        let _ = self.inner.on_idle.set(Box::new(callback));
    }

    /// Threads alive, threads not running a job, jobs waiting for a thread, and threads abandoned by a
    /// shutdown with a deadline.
    pub(crate) fn stats(&self) -> (u64, u64, u64, u64) {
        let state = lock(&self.inner.state);
        (
            state.threads as u64,
            state.available as u64,
            state.queue.len() as u64,
            self.inner.abandoned.load(Ordering::SeqCst) as u64,
        )
    }

    /// Jobs queued or running.
    pub(crate) fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Queues `function`; starts a thread if none is idle and the limit allows.
    ///
    /// `S` is the runtime's loop type: a job has no owner loop, but its cell is made for that type all the same.
    pub(crate) fn spawn<S, F, T>(
        &self,
        function: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<T>
    where
        S: Owner,
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (keep, task, handle) =
            raw::new_send_task::<_, S>(BlockingFuture(Some(function)), Id::next(), location);
        let job = Job { task, keep };
        let mut state = lock(&self.inner.state);
        if state.shutdown {
            drop(state);
            let _ = job.task.shutdown();
            return handle;
        }
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        state.queue.push_back(job);
        if state.available >= state.queue.len() {
            // An available thread will take it (one not yet waiting checks the queue before it waits).
            self.inner.work.notify_one();
        } else if state.threads < self.inner.max_threads {
            state.handles.retain(|handle| !handle.is_finished());
            let inner = self.inner.clone();
            let spawned = thread::Builder::new()
                .name("weft-blocking".into())
                .spawn(move || {
                    WORKER.with(|worker| *worker.borrow_mut() = Some(inner.clone()));
                    inner.work_loop();
                    WORKER.with(|worker| worker.borrow_mut().take());
                });
            match spawned {
                Ok(handle) => {
                    state.threads += 1;
                    state.available += 1;
                    state.handles.push(handle);
                }
                Err(error) if state.threads == 0 => {
                    // No thread to run it, now or later: fail the job rather than leave it queued forever.
                    let job = state.queue.pop_back().expect("just pushed");
                    drop(state);
                    self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
                    eprintln!("weft: could not start a blocking thread: {error}");
                    let _ = job.task.shutdown();
                }
                // Threads exist; they will get to the job.
                Err(_) => {}
            }
        }
        handle
    }

    /// Cancels queued jobs, lets running ones finish, and joins every thread — or, with a `deadline`, waits
    /// for running jobs only until then and leaves the threads still running one to finish alone (detached,
    /// counted as abandoned). Never waits for the calling thread (a runtime dropped by its own blocking job).
    pub(crate) fn shutdown(&self, deadline: Option<Instant>) {
        let (queued, handles) = {
            let mut state = lock(&self.inner.state);
            state.shutdown = true;
            (
                std::mem::take(&mut state.queue),
                std::mem::take(&mut state.handles),
            )
        };
        self.inner.work.notify_all();
        for job in queued {
            let _ = job.task.shutdown();
            self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        let me = thread::current().id();
        let Some(deadline) = deadline else {
            for handle in handles {
                if handle.thread().id() != me {
                    let _ = handle.join();
                }
            }
            return;
        };
        let on_pool = usize::from(handles.iter().any(|handle| handle.thread().id() == me));
        let mut state = lock(&self.inner.state);
        while state.threads > on_pool {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .inner
                .exited
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        let left = state.threads.saturating_sub(on_pool);
        drop(state);
        self.inner.abandoned.fetch_add(left, Ordering::SeqCst);
        for handle in handles {
            // A thread that left its loop ends at once; one still in a job is detached by dropping its handle.
            if handle.is_finished() && handle.thread().id() != me {
                let _ = handle.join();
            }
        }
    }
}

impl Inner {
    /// A pool thread: run jobs until idle for `keep_alive` or shut down.
    fn work_loop(&self) {
        let mut state = lock(&self.state);
        loop {
            if let Some(job) = state.queue.pop_front() {
                state.available -= 1;
                drop(state);
                FINISHED.set(false);
                let _ = job.task.run();
                drop(job.keep);
                if !FINISHED.get() {
                    // The closure panicked or the job was cancelled: count the thread available here.
                    lock(&self.state).available += 1;
                }
                if self.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                    // The last job ended: a loop with a virtual clock may jump again.
                    if let Some(on_idle) = self.on_idle.get() {
                        on_idle();
                    }
                }
                state = lock(&self.state);
                continue;
            }
            if state.shutdown {
                break;
            }
            let (guard, wait) = self
                .work
                .wait_timeout(state, self.keep_alive)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state = guard;
            if wait.timed_out() && state.queue.is_empty() && !state.shutdown {
                break;
            }
        }
        state.available -= 1;
        state.threads -= 1;
        self.exited.notify_all();
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("Pool")
            .field("threads", &state.threads)
            .field("available", &state.available)
            .field("queued", &state.queue.len())
            .field("max_threads", &self.inner.max_threads)
            .finish()
    }
}
