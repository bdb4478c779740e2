//! The blocking pool behind `spawn_blocking`: results, panics, many jobs, the thread limit, thread reuse,
//! spawning from other threads, and aborting a job that has not started.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use weft::{Builder, Runtime};

mod common;
use common::without_deadlock;

/// Tracks how many closures run at once, and the most ever seen.
#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Concurrency {
    /// Marks a closure as running for the duration of `f`.
    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        let value = f();
        self.now.fetch_sub(1, Ordering::SeqCst);
        value
    }
}

#[weft::test]
async fn spawn_blocking_returns_the_result() {
    assert_eq!(weft::spawn_blocking(|| 6 * 7).await.unwrap(), 42);
    let text = weft::spawn_blocking(|| "x".repeat(3)).await.unwrap();
    assert_eq!(text, "xxx");
}

#[weft::test]
async fn the_closure_runs_off_the_loop_thread() {
    let loop_thread = thread::current().id();
    let pool_thread = weft::spawn_blocking(|| thread::current().id())
        .await
        .unwrap();
    assert_ne!(pool_thread, loop_thread);
}

#[weft::test]
async fn a_panic_in_the_closure_is_a_join_error() {
    let error = weft::spawn_blocking(|| -> u32 { panic!("blocking boom (expected in this test)") })
        .await
        .unwrap_err();
    assert!(error.is_panic());
    assert_eq!(
        *error.into_panic().downcast::<&str>().unwrap(),
        "blocking boom (expected in this test)"
    );
    // The pool still works.
    assert_eq!(weft::spawn_blocking(|| 1).await.unwrap(), 1);
}

#[weft::test]
async fn a_thousand_calls_all_complete() {
    let jobs = (0..1_000u64).map(|i| weft::spawn_blocking(move || i * 3));
    let results = weft::join_all(jobs).await;
    let sum: u64 = results.into_iter().map(Result::unwrap).sum();
    assert_eq!(sum, 3 * 999 * 1_000 / 2);
}

#[weft::test]
async fn blocking_handles_report_is_finished() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let job = weft::spawn_blocking(move || release_rx.recv().unwrap());
    assert!(!job.is_finished());
    release_tx.send(()).unwrap();
    job.await.unwrap();
}

#[test]
fn max_blocking_threads_limits_how_many_run_at_once() {
    let runtime = Builder::new().max_blocking_threads(2).build().unwrap();
    let concurrency = Arc::new(Concurrency::default());
    let threads = runtime.block_on({
        let concurrency = concurrency.clone();
        async move {
            let jobs = (0..20).map(|_| {
                let concurrency = concurrency.clone();
                weft::spawn_blocking(move || {
                    concurrency.run(|| {
                        thread::sleep(Duration::from_millis(2));
                        thread::current().id()
                    })
                })
            });
            weft::join_all(jobs)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect::<HashSet<_>>()
        }
    });
    let max = concurrency.max.load(Ordering::SeqCst);
    assert!((1..=2).contains(&max), "{max} closures ran at once");
    assert!(threads.len() <= 2, "{} threads", threads.len());
}

#[test]
fn the_pool_grows_on_demand_to_run_jobs_that_wait_for_each_other() {
    // Sixteen jobs that each wait for all the others: only a pool that starts a thread for each can finish.
    without_deadlock(Duration::from_secs(60), || {
        const JOBS: usize = 16;
        let runtime = Runtime::new().unwrap();
        let barrier = Arc::new(Barrier::new(JOBS));
        let threads = runtime.block_on(async move {
            let jobs = (0..JOBS).map(|_| {
                let barrier = barrier.clone();
                weft::spawn_blocking(move || {
                    barrier.wait();
                    thread::current().id()
                })
            });
            weft::join_all(jobs)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect::<HashSet<_>>()
        });
        assert_eq!(threads.len(), JOBS);
    });
}

#[test]
fn a_single_thread_pool_reuses_its_thread() {
    let runtime = Builder::new().max_blocking_threads(1).build().unwrap();
    let threads = runtime.block_on(async {
        let mut threads = HashSet::new();
        for _ in 0..100 {
            threads.insert(
                weft::spawn_blocking(|| thread::current().id())
                    .await
                    .unwrap(),
            );
        }
        threads
    });
    assert_eq!(threads.len(), 1);
}

#[test]
fn a_two_thread_pool_never_uses_more_than_two_threads() {
    let runtime = Builder::new().max_blocking_threads(2).build().unwrap();
    let threads = runtime.block_on(async {
        let mut threads = HashSet::new();
        for round in 0..50 {
            // Alternate sequential and pairwise-concurrent calls.
            if round % 2 == 0 {
                threads.insert(
                    weft::spawn_blocking(|| thread::current().id())
                        .await
                        .unwrap(),
                );
            } else {
                let (a, b) = weft::join!(
                    weft::spawn_blocking(|| thread::current().id()),
                    weft::spawn_blocking(|| thread::current().id()),
                );
                threads.insert(a.unwrap());
                threads.insert(b.unwrap());
            }
        }
        threads
    });
    assert!(threads.len() <= 2, "{} threads", threads.len());
}

#[test]
fn sequential_calls_reuse_threads() {
    let runtime = Runtime::new().unwrap();
    let threads = runtime.block_on(async {
        let mut threads = HashSet::new();
        for _ in 0..100 {
            threads.insert(
                weft::spawn_blocking(|| thread::current().id())
                    .await
                    .unwrap(),
            );
        }
        threads
    });
    assert!(
        threads.len() <= 2,
        "100 sequential calls ran on {} distinct threads",
        threads.len()
    );
}

#[test]
fn handle_spawn_blocking_from_another_thread() {
    let runtime = Runtime::new().unwrap();
    let handle = runtime.handle();
    // Spawned from another thread, awaited on the runtime.
    let job = thread::spawn({
        let handle = handle.clone();
        move || handle.spawn_blocking(|| 5)
    })
    .join()
    .unwrap();
    assert_eq!(runtime.block_on(job).unwrap(), 5);
    // Spawned and awaited on another thread (on a runtime of its own), while this runtime is idle.
    let value = thread::spawn(move || {
        let job = handle.spawn_blocking(|| 11);
        weft::run(job).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(value, 11);
    // From many threads at once.
    let jobs: Vec<_> = (0..8u64)
        .map(|i| {
            let handle = runtime.handle();
            thread::spawn(move || {
                (0..50u64)
                    .map(|j| handle.spawn_blocking(move || i * 50 + j))
                    .collect::<Vec<_>>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    let sum: u64 = runtime
        .block_on(weft::join_all(jobs))
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(sum, 399 * 400 / 2);
}

#[test]
fn aborting_a_queued_job_cancels_it_and_the_closure_never_runs() {
    let (first, queued, ran) = without_deadlock(Duration::from_secs(60), || {
        let runtime = Builder::new().max_blocking_threads(1).build().unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let (first, queued) = runtime.block_on({
            let ran = ran.clone();
            async move {
                let (started_tx, started_rx) = mpsc::channel::<()>();
                let (release_tx, release_rx) = mpsc::channel::<()>();
                // Occupies the only pool thread until released.
                let first = weft::spawn_blocking(move || {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    "first"
                });
                let queued = weft::spawn_blocking(move || {
                    ran.store(true, Ordering::SeqCst);
                    "queued"
                });
                // Block the loop thread until the first job runs: the second is then surely queued.
                started_rx.recv().unwrap();
                assert!(!queued.is_finished());
                queued.abort();
                release_tx.send(()).unwrap();
                (first.await, queued.await)
            }
        });
        (first, queued, ran.load(Ordering::SeqCst))
    });
    assert_eq!(first.unwrap(), "first");
    assert!(queued.unwrap_err().is_cancelled());
    assert!(!ran, "an aborted queued job never runs");
}

#[test]
fn aborting_a_running_job_lets_it_finish_without_hanging() {
    let (result, finished) = without_deadlock(Duration::from_secs(60), || {
        let runtime = Runtime::new().unwrap();
        let finished = Arc::new(AtomicBool::new(false));
        let result = runtime.block_on({
            let finished = finished.clone();
            async move {
                let (started_tx, started_rx) = mpsc::channel::<()>();
                let (release_tx, release_rx) = mpsc::channel::<()>();
                let job = weft::spawn_blocking(move || {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    finished.store(true, Ordering::SeqCst);
                    9
                });
                started_rx.recv().unwrap();
                // A closure cannot be interrupted: abort has no bookmark to stop at.
                job.abort();
                release_tx.send(()).unwrap();
                job.await
            }
        });
        (result, finished.load(Ordering::SeqCst))
    });
    assert!(finished, "a running closure runs to its end");
    match result {
        Ok(value) => assert_eq!(value, 9),
        Err(error) => assert!(error.is_cancelled(), "{error:?}"),
    }
}

#[test]
fn idle_threads_exit_after_keep_alive_and_later_jobs_still_run() {
    let runtime = Builder::new()
        .thread_keep_alive(Duration::from_millis(1))
        .build()
        .unwrap();
    let sum = runtime.block_on(async {
        let mut sum = 0u64;
        for i in 0..20u64 {
            sum += weft::spawn_blocking(move || i).await.unwrap();
            // Long enough (real time) for the idle thread to time out, sometimes: either way the job runs.
            weft::time::sleep(Duration::from_millis(2)).await;
        }
        sum
    });
    assert_eq!(sum, 190);
}

#[test]
fn a_blocking_result_outlives_its_runtime() {
    let runtime = Runtime::new().unwrap();
    let job = runtime.block_on(async {
        let job = weft::spawn_blocking(|| String::from("kept"));
        while !job.is_finished() {
            weft::time::sleep(Duration::from_millis(1)).await;
        }
        (job,)
    });
    drop(runtime);
    assert_eq!(weft::run(job.0).unwrap(), "kept");
}

#[test]
fn spawn_blocking_from_inside_a_blocking_closure_via_a_handle() {
    let runtime = Runtime::new().unwrap();
    let handle = runtime.handle();
    let value = runtime.block_on(async move {
        let inner = weft::spawn_blocking(move || handle.spawn_blocking(|| 21))
            .await
            .unwrap();
        inner.await.unwrap() * 2
    });
    assert_eq!(value, 42);
}
