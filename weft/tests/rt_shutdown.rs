//! Dropping a runtime: every remaining task is dropped (its destructors run), destructors may spawn without
//! hanging the shutdown, and no thread or file descriptor outlives the runtime.

use std::future::{pending, poll_fn};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use std::thread;
use std::time::Duration;

use weft::{Builder, Handle, JoinHandle, Runtime};

mod common;
use common::{isolated, without_deadlock};

/// Counts how many times it is dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Threads of this process.
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Open descriptors of this process (the directory handle used to count is included every time).
fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits (bounded) for the thread count to come back to `expected`: a joined thread may linger in /proc for a
/// moment after `pthread_join` returns.
fn settled_thread_count(expected: usize) -> usize {
    let mut count = thread_count();
    for _ in 0..200 {
        if count == expected {
            break;
        }
        thread::sleep(Duration::from_millis(10));
        count = thread_count();
    }
    count
}

#[test]
fn dropping_the_runtime_drops_every_remaining_task() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = || DropCounter(dropped.clone());
    let runtime = Runtime::new().unwrap();
    let mut expected = 0;

    let kept: Vec<JoinHandle<()>> = runtime.block_on(async {
        let mut kept = Vec::new();
        // Parked forever.
        for _ in 0..10 {
            let g = guard();
            kept.push(weft::spawn(async move {
                let _g = g;
                pending::<()>().await;
            }));
        }
        // Sleeping (real clock, an hour).
        for _ in 0..10 {
            let g = guard();
            drop(weft::spawn(async move {
                let _g = g;
                weft::time::sleep(Duration::from_secs(3600)).await;
            }));
        }
        // Waiting on another parked task.
        let target = weft::spawn(pending::<()>());
        let g = guard();
        kept.push(weft::spawn(async move {
            let _g = g;
            let _ = target.await;
        }));
        // Let all of them reach their bookmark.
        for _ in 0..3 {
            weft::task::yield_now().await;
        }
        // Spawned at the very end: never polled.
        for _ in 0..10 {
            let g = guard();
            kept.push(weft::spawn(async move {
                let _g = g;
            }));
        }
        kept
    });
    expected += 10 + 10 + 1 + 10;
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        0,
        "nothing is dropped before the runtime is"
    );

    // Spawned from another thread while no block_on runs: they never run.
    let handle = runtime.handle();
    let remote: Vec<JoinHandle<()>> = {
        let dropped = dropped.clone();
        thread::spawn(move || {
            (0..10)
                .map(|_| {
                    let g = DropCounter(dropped.clone());
                    handle.spawn(async move {
                        let _g = g;
                        unreachable!("a task spawned after the last block_on never runs");
                    })
                })
                .collect()
        })
        .join()
        .unwrap()
    };
    expected += 10;

    drop(runtime);
    assert_eq!(dropped.load(Ordering::SeqCst), expected);
    for task in kept.iter().chain(&remote) {
        assert!(task.is_finished());
    }
    let results = weft::run(weft::join_all(kept.into_iter().chain(remote)));
    for result in results {
        assert!(result.unwrap_err().is_cancelled());
    }
}

#[test]
fn dropping_the_runtime_cancels_queued_blocking_jobs_and_waits_for_running_ones() {
    let (first_ran, second_ran) = without_deadlock(Duration::from_secs(60), || {
        let first_ran = Arc::new(AtomicBool::new(false));
        let second_ran = Arc::new(AtomicBool::new(false));
        let runtime = Builder::new().max_blocking_threads(1).build().unwrap();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();

        /// Releases the first job when the second job's closure is dropped without running.
        struct ReleaseOnDrop(mpsc::Sender<()>);
        impl Drop for ReleaseOnDrop {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }

        let (first, second) = runtime.block_on(async {
            let first = weft::spawn_blocking({
                let first_ran = first_ran.clone();
                move || {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    first_ran.store(true, Ordering::SeqCst);
                }
            });
            let second = weft::spawn_blocking({
                let second_ran = second_ran.clone();
                let release = ReleaseOnDrop(release_tx);
                move || {
                    let _release = release;
                    second_ran.store(true, Ordering::SeqCst);
                }
            });
            (first, second)
        });
        // The single pool thread is busy with the first job; the second waits in the queue.
        started_rx.recv().unwrap();
        drop(runtime);
        assert!(
            first.is_finished(),
            "shutdown waits for running blocking jobs"
        );
        assert!(second.is_finished());
        let (first, second) = weft::run(async { (first.await, second.await) });
        first.unwrap();
        assert!(second.unwrap_err().is_cancelled());
        (
            first_ran.load(Ordering::SeqCst),
            second_ran.load(Ordering::SeqCst),
        )
    });
    assert!(first_ran);
    assert!(
        !second_ran,
        "a queued blocking job never runs after shutdown"
    );
}

#[test]
fn a_destructor_that_spawns_during_shutdown_does_not_hang_or_panic() {
    let dropped = without_deadlock(Duration::from_secs(60), || {
        let dropped = Arc::new(AtomicUsize::new(0));
        let (handles_tx, handles_rx) = mpsc::channel::<JoinHandle<()>>();

        /// On drop: spawns (with weft::spawn, Handle::spawn and spawn_blocking) a task that holds another
        /// `SpawnOnDrop`, up to `depth` levels.
        struct SpawnOnDrop {
            depth: usize,
            handle: Handle,
            handles: mpsc::Sender<JoinHandle<()>>,
            dropped: Arc<AtomicUsize>,
        }
        impl Drop for SpawnOnDrop {
            fn drop(&mut self) {
                self.dropped.fetch_add(1, Ordering::SeqCst);
                if self.depth == 0 {
                    return;
                }
                let child = SpawnOnDrop {
                    depth: self.depth - 1,
                    handle: self.handle.clone(),
                    handles: self.handles.clone(),
                    dropped: self.dropped.clone(),
                };
                let spawned = weft::spawn(async move {
                    let _child = child;
                    pending::<()>().await;
                });
                let _ = self.handles.send(spawned);
                let flag = self.dropped.clone();
                let _ = self.handles.send(self.handle.spawn(async move {
                    flag.fetch_add(1000, Ordering::SeqCst);
                }));
                let _ = self.handles.send(weft::spawn_blocking(|| {}));
            }
        }

        let runtime = Runtime::new().unwrap();
        let handle = runtime.handle();
        runtime.block_on(async {
            let guard = SpawnOnDrop {
                depth: 10,
                handle,
                handles: handles_tx,
                dropped: dropped.clone(),
            };
            drop(weft::spawn(async move {
                let _guard = guard;
                pending::<()>().await;
            }));
            weft::task::yield_now().await;
        });
        drop(runtime);
        let handles: Vec<_> = handles_rx.try_iter().collect();
        assert_eq!(
            handles.len(),
            30,
            "every destructor in the chain ran and spawned"
        );
        for task in &handles {
            assert!(
                task.is_finished(),
                "a task spawned during shutdown is settled when drop returns"
            );
        }
        for result in weft::run(weft::join_all(handles)) {
            // Local and remote spawns during shutdown are cancelled; a blocking job may have run.
            if let Err(error) = result {
                assert!(error.is_cancelled(), "{error:?}");
            }
        }
        dropped.load(Ordering::SeqCst)
    });
    // 11 guards dropped (depth 10 down to 0); no task spawned with Handle::spawn during shutdown ran.
    assert_eq!(dropped, 11);
}

#[test]
fn a_destructor_that_wakes_or_aborts_other_tasks_during_shutdown_is_harmless() {
    without_deadlock(Duration::from_secs(60), || {
        /// On drop, wakes a waker and aborts a task.
        struct Poke(Option<Waker>, Option<weft::task::AbortHandle>);
        impl Drop for Poke {
            fn drop(&mut self) {
                if let Some(waker) = self.0.take() {
                    waker.wake();
                }
                if let Some(abort) = self.1.take() {
                    abort.abort();
                }
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let runtime = Runtime::new().unwrap();
        runtime.block_on(async {
            let mut previous: Option<(Waker, weft::task::AbortHandle)> = None;
            for _ in 0..20 {
                let poke = match previous.take() {
                    Some((waker, abort)) => Poke(Some(waker), Some(abort)),
                    None => Poke(None, None),
                };
                let counter = DropCounter(dropped.clone());
                let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
                let task = weft::spawn(async move {
                    let _poke = poke;
                    let _counter = counter;
                    let mut sent = false;
                    poll_fn(|cx| {
                        if !sent {
                            waker_tx.send(cx.waker().clone()).unwrap();
                            sent = true;
                        }
                        Poll::<()>::Pending
                    })
                    .await;
                });
                let mut waker = None;
                for _ in 0..100 {
                    waker = waker_rx.try_recv().ok();
                    if waker.is_some() {
                        break;
                    }
                    weft::task::yield_now().await;
                }
                previous = Some((waker.expect("the task ran"), task.abort_handle()));
            }
        });
        drop(runtime);
        assert_eq!(dropped.load(Ordering::SeqCst), 20);
    });
}

#[test]
fn dropping_a_runtime_inside_another_runtimes_task_drops_its_tasks() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let inner = Runtime::new().unwrap();
    let counter = DropCounter(dropped.clone());
    // The JoinHandle is handed out of block_on on purpose, to be awaited on the other runtime.
    #[allow(clippy::async_yields_async)]
    let task = inner.block_on(async move {
        weft::spawn(async move {
            let _counter = counter;
            pending::<()>().await;
        })
    });
    weft::run(async move {
        let outer_value = weft::spawn(async move { 1 });
        drop(inner);
        // The outer loop is still the current one and still works.
        assert_eq!(outer_value.await.unwrap(), 1);
        assert!(task.await.unwrap_err().is_cancelled());
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_a_runtime_that_never_ran_is_fine() {
    for _ in 0..10 {
        drop(Runtime::new().unwrap());
        drop(Builder::new().start_paused(true).build().unwrap());
    }
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot spawn the process that counts threads")]
fn no_threads_left_after_drop() {
    isolated("no_threads_left_after_drop", || {
        let before = thread_count();
        {
            let runtime = Builder::new().max_blocking_threads(4).build().unwrap();
            let sum: u64 = runtime.block_on(async {
                let jobs = (0..8u64).map(|i| {
                    weft::spawn_blocking(move || {
                        thread::sleep(Duration::from_millis(5));
                        i
                    })
                });
                weft::join_all(jobs)
                    .await
                    .into_iter()
                    .map(Result::unwrap)
                    .sum()
            });
            assert_eq!(sum, 28);
            assert!(thread_count() > before, "the pool started threads");
            // One more job still running when the runtime is dropped.
            let (started_tx, started_rx) = mpsc::channel();
            #[allow(clippy::async_yields_async)]
            let _running = runtime.block_on(async move {
                weft::spawn_blocking(move || {
                    started_tx.send(()).unwrap();
                    thread::sleep(Duration::from_millis(50));
                })
            });
            started_rx.recv().unwrap();
        }
        assert_eq!(
            settled_thread_count(before),
            before,
            "threads left behind by a dropped runtime"
        );

        // Same with a runtime whose pool never started.
        {
            let runtime = Runtime::new().unwrap();
            runtime.block_on(async { weft::spawn(async {}).await.unwrap() });
        }
        assert_eq!(settled_thread_count(before), before);
    });
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot spawn the process that counts fds")]
fn no_fds_leaked_by_100_runtimes() {
    isolated("no_fds_leaked_by_100_runtimes", || {
        let before = fd_count();
        for i in 0..100u64 {
            let runtime = if i % 2 == 0 {
                Runtime::new().unwrap()
            } else {
                Builder::new().start_paused(true).build().unwrap()
            };
            let value = runtime.block_on(async move {
                weft::time::sleep(Duration::from_millis(1)).await;
                let blocking = weft::spawn_blocking(move || i).await.unwrap();
                let task = weft::spawn(async move { i }).await.unwrap();
                blocking + task
            });
            assert_eq!(value, 2 * i);
            // Leave a parked task behind for the drop to clean up.
            runtime.block_on(async {
                drop(weft::spawn(pending::<()>()));
                weft::task::yield_now().await;
            });
            drop(runtime);
        }
        assert_eq!(fd_count(), before, "descriptors leaked by dropped runtimes");
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "abandons a stuck blocking thread on purpose; Miri reports threads left running at exit"
)]
fn shutdown_timeout_returns_by_its_deadline_despite_stuck_blocking_work() {
    let runtime = Runtime::new().unwrap();
    let handle = runtime.handle();
    let dropped = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let (started_tx, started_rx) = weft::sync::oneshot::channel();
        drop(weft::spawn_blocking(move || {
            started_tx.send(()).unwrap();
            thread::sleep(Duration::from_secs(60));
        }));
        started_rx.await.unwrap();
        // A task still parked at shutdown: aborted, its destructor runs.
        let counter = DropCounter(dropped.clone());
        drop(weft::spawn(async move {
            let _counter = counter;
            pending::<()>().await;
        }));
        weft::task::yield_now().await;
    });
    let started = std::time::Instant::now();
    runtime.shutdown_timeout(Duration::from_millis(100));
    // A hang guard, not a timing assertion: the stuck job sleeps for 60 s.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    let metrics = handle.metrics();
    assert_eq!(metrics.blocking_threads_abandoned, 1);
    // The runtime is gone: spawning through the handle cancels at once.
    let late = handle.spawn(async { 1 });
    assert!(weft::run(late).unwrap_err().is_cancelled());
}

#[test]
fn shutdown_timeout_waits_for_blocking_work_that_finishes_in_time() {
    let runtime = Runtime::new().unwrap();
    let handle = runtime.handle();
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    runtime.block_on(async {
        let (started_tx, started_rx) = weft::sync::oneshot::channel();
        drop(weft::spawn_blocking(move || {
            started_tx.send(()).unwrap();
            thread::sleep(Duration::from_millis(50));
            flag.store(true, Ordering::SeqCst);
        }));
        started_rx.await.unwrap();
    });
    runtime.shutdown_timeout(Duration::from_secs(30));
    assert!(finished.load(Ordering::SeqCst));
    assert_eq!(handle.metrics().blocking_threads_abandoned, 0);
}
