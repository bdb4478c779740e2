//! Wakers: wakes from other threads racing the task's completion, wakes of finished tasks and of tasks whose
//! runtime is gone, `yield_now` fairness, and memory after a million short tasks.

use std::cell::{Cell, RefCell};
use std::future::{pending, poll_fn};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use std::thread;

use weft::task::yield_now;

mod common;
use common::isolated;

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// A wake racing the task's own completion, 1,000 times. Each task parks once, hands its waker to another
/// thread, and wakes itself too: it completes on its next poll while the other thread wakes it (by value, by
/// reference, and through a clone). Each task's body must complete exactly once, and nothing may hang.
#[test]
fn wakes_from_other_threads_racing_completion() {
    const ROUNDS: usize = 1_000;
    let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
    let remote_wakes = Arc::new(AtomicUsize::new(0));
    let waker_thread = {
        let remote_wakes = remote_wakes.clone();
        thread::spawn(move || {
            for waker in waker_rx {
                waker.wake_by_ref();
                // A clone woken by value: a separate reference taken and released.
                let clone = waker.clone();
                clone.wake();
                waker.wake();
                remote_wakes.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let completions = Arc::new(AtomicUsize::new(0));
    weft::run({
        let completions = completions.clone();
        async move {
            for round in 0..ROUNDS {
                let waker_tx = waker_tx.clone();
                let completions = completions.clone();
                let task = weft::spawn(async move {
                    let mut polled = false;
                    poll_fn(|cx| {
                        if polled {
                            return Poll::Ready(());
                        }
                        polled = true;
                        waker_tx.send(cx.waker().clone()).unwrap();
                        // Half the rounds wake themselves at once, racing the remote wake; the others wait
                        // for it.
                        if round % 2 == 0 {
                            cx.waker().wake_by_ref();
                        }
                        Poll::Pending
                    })
                    .await;
                    completions.fetch_add(1, Ordering::SeqCst);
                    round
                });
                assert_eq!(task.await.unwrap(), round);
            }
        }
    });
    waker_thread.join().unwrap();
    assert_eq!(completions.load(Ordering::SeqCst), ROUNDS);
    assert_eq!(remote_wakes.load(Ordering::SeqCst), ROUNDS);
}

/// Same race, with the task parked until another thread sets a flag and wakes it, and the main future awaiting
/// many such tasks at once.
#[test]
fn remote_wakes_of_many_parked_tasks_all_arrive() {
    const TASKS: usize = 1_000;
    let (waker_tx, waker_rx) = mpsc::channel::<(Arc<AtomicBool>, Waker)>();
    let waker_thread = thread::spawn(move || {
        for (flag, waker) in waker_rx {
            flag.store(true, Ordering::SeqCst);
            waker.wake_by_ref();
            waker.wake();
        }
    });
    let polls = Rc::new(Cell::new(0usize));
    let total = weft::run({
        let polls = polls.clone();
        async move {
            let tasks: Vec<_> = (0..TASKS)
                .map(|i| {
                    let waker_tx = waker_tx.clone();
                    let polls = polls.clone();
                    weft::spawn(async move {
                        let flag = Arc::new(AtomicBool::new(false));
                        let mut sent = false;
                        poll_fn(|cx| {
                            polls.set(polls.get() + 1);
                            if flag.load(Ordering::SeqCst) {
                                return Poll::Ready(());
                            }
                            if !sent {
                                waker_tx.send((flag.clone(), cx.waker().clone())).unwrap();
                                sent = true;
                            }
                            Poll::Pending
                        })
                        .await;
                        i
                    })
                })
                .collect();
            drop(waker_tx);
            weft::join_all(tasks)
                .await
                .into_iter()
                .map(Result::unwrap)
                .sum::<usize>()
        }
    });
    waker_thread.join().unwrap();
    assert_eq!(total, TASKS * (TASKS - 1) / 2);
    // Each task: one poll that parks, and at least one after the flag; two wakes while scheduled coalesce.
    assert!(polls.get() >= 2 * TASKS);
    assert!(
        polls.get() <= 3 * TASKS,
        "{} polls for {TASKS} tasks",
        polls.get()
    );
}

#[test]
fn waking_a_finished_task_is_harmless() {
    let (waker, remote_waker) = weft::run(async {
        let task = weft::spawn(async {
            let waker = poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
            yield_now().await;
            waker
        });
        let waker = task.await.unwrap();
        // Finished: wake it locally, every way.
        waker.wake_by_ref();
        // A clone woken by value: a separate reference taken and released.
        let clone = waker.clone();
        clone.wake();
        yield_now().await;
        let remote = waker.clone();
        let thread_waker = waker.clone();
        thread::spawn(move || {
            thread_waker.wake_by_ref();
            thread_waker.wake();
        })
        .join()
        .unwrap();
        // The loop still works, and the stale wakes ran nothing.
        assert_eq!(weft::spawn(async { 1 }).await.unwrap(), 1);
        (waker, remote)
    });
    // After the runtime is gone, too.
    waker.wake();
    thread::spawn(move || remote_waker.wake()).join().unwrap();
}

#[test]
fn waking_after_the_runtime_is_dropped_is_harmless() {
    let runtime = weft::Runtime::new().unwrap();
    let wakers: Vec<Waker> = runtime.block_on(async {
        let (tx, rx) = mpsc::channel::<Waker>();
        for _ in 0..10 {
            let tx = tx.clone();
            drop(weft::spawn(async move {
                poll_fn(|cx| {
                    let _ = tx.send(cx.waker().clone());
                    Poll::Ready(())
                })
                .await;
                pending::<()>().await;
            }));
        }
        for _ in 0..3 {
            yield_now().await;
        }
        rx.try_iter().collect()
    });
    assert_eq!(wakers.len(), 10);
    drop(runtime);
    let mut wakers = wakers.into_iter();
    // From this thread (no runtime), every way.
    for waker in wakers.by_ref().take(5) {
        waker.wake_by_ref();
        // A clone woken by value: a separate reference taken and released.
        let clone = waker.clone();
        clone.wake();
        waker.wake();
    }
    // From other threads.
    let threads: Vec<_> = wakers
        .map(|waker| {
            thread::spawn(move || {
                waker.wake_by_ref();
                waker.wake();
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    // And from inside another runtime.
    let runtime = weft::Runtime::new().unwrap();
    let late: Waker = runtime.block_on(async {
        let task = weft::spawn(async { poll_fn(|cx| Poll::Ready(cx.waker().clone())).await });
        task.await.unwrap()
    });
    drop(runtime);
    weft::run(async move {
        late.wake_by_ref();
        late.wake();
        yield_now().await;
    });
}

#[test]
fn a_waker_moved_to_another_runtime_wakes_its_own_task() {
    // A task on runtime A parks; its waker is woken from inside runtime B's task on another thread.
    let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
    let flag = Arc::new(AtomicBool::new(false));
    let other = {
        let flag = flag.clone();
        thread::spawn(move || {
            let waker = waker_rx.recv().unwrap();
            weft::run(async move {
                weft::spawn(async move {
                    flag.store(true, Ordering::SeqCst);
                    waker.wake();
                })
                .await
                .unwrap();
            });
        })
    };
    weft::run(async move {
        let mut sent = false;
        poll_fn(|cx| {
            if flag.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            if !sent {
                waker_tx.send(cx.waker().clone()).unwrap();
                sent = true;
            }
            Poll::Pending
        })
        .await;
    });
    other.join().unwrap();
}

#[weft::test]
async fn yield_now_lets_other_tasks_run() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let make = |name: &'static str| {
        let log = log.clone();
        weft::spawn(async move {
            for step in 0..3 {
                log.borrow_mut().push(format!("{name}{step}"));
                yield_now().await;
            }
        })
    };
    let a = make("a");
    let b = make("b");
    let c = make("c");
    a.await.unwrap();
    b.await.unwrap();
    c.await.unwrap();
    assert_eq!(
        *log.borrow(),
        ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]
    );
}

#[weft::test]
async fn yield_now_in_the_main_future_lets_spawned_tasks_run() {
    let ran = Rc::new(Cell::new(0));
    for _ in 0..10 {
        let ran = ran.clone();
        drop(weft::spawn(async move { ran.set(ran.get() + 1) }));
    }
    assert_eq!(ran.get(), 0, "spawned tasks start at the loop's next turn");
    yield_now().await;
    assert_eq!(ran.get(), 10);
}

#[weft::test]
async fn a_self_waking_task_does_not_starve_the_others() {
    let stop = Rc::new(Cell::new(false));
    let spinner = {
        let stop = stop.clone();
        weft::spawn(async move {
            let mut spins = 0u64;
            while !stop.get() {
                spins += 1;
                poll_fn(|cx| {
                    cx.waker().wake_by_ref();
                    Poll::Ready(())
                })
                .await;
                yield_now().await;
                assert!(spins < 1_000_000, "the other task never ran");
            }
            spins
        })
    };
    let stopper = {
        let stop = stop.clone();
        weft::spawn(async move {
            for _ in 0..10 {
                yield_now().await;
            }
            stop.set(true);
        })
    };
    stopper.await.unwrap();
    let spins = spinner.await.unwrap();
    assert!(spins >= 10);
}

/// A million spawned-and-finished tasks leave memory where it started (counts, not time).
#[test]
#[cfg_attr(miri, ignore = "a million tasks take hours under Miri")]
fn a_million_finished_tasks_leave_memory_where_it_started() {
    if std::env::var_os("WEFT_UNDER_ASAN").is_some() {
        // ASAN's quarantine holds freed memory back on purpose, so resident memory says nothing about leaks there
        // (its leak checker covers them).
        return;
    }
    isolated(
        "a_million_finished_tasks_leave_memory_where_it_started",
        || {
            const BATCH: usize = 10_000;
            const BATCHES: usize = 100;
            let runtime = weft::Runtime::new().unwrap();
            let run_batch = |runtime: &weft::Runtime| {
                runtime.block_on(async {
                    let tasks: Vec<_> = (0..BATCH).map(|i| weft::spawn(async move { i })).collect();
                    let mut sum = 0;
                    for task in tasks {
                        sum += task.await.unwrap();
                    }
                    assert_eq!(sum, BATCH * (BATCH - 1) / 2);
                });
            };
            // Warm-up: let the allocator, queues and registry reach their working size.
            run_batch(&runtime);
            let before = resident_bytes();
            for _ in 0..BATCHES {
                run_batch(&runtime);
            }
            let after = resident_bytes();
            let growth = after.saturating_sub(before);
            println!("VmRSS before {before} B, after {after} B, growth {growth} B");
            assert!(
                growth < 32 * 1024 * 1024,
                "resident memory grew by {growth} bytes over {} tasks",
                BATCH * BATCHES
            );
        },
    );
}
