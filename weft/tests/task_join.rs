//! `JoinHandle` and `AbortHandle`: outputs, abort (before the first poll, while parked, after completion, from
//! another thread), `is_finished`, ids, detaching, and `!Send` tasks.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::future::pending;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use weft::task::{yield_now, AbortHandle};
use weft::{Builder, JoinHandle};

/// Counts how many times it is dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[weft::test]
async fn join_handle_gives_the_output() {
    assert_eq!(weft::spawn(async { 42 }).await.unwrap(), 42);
    let text = weft::spawn(async { String::from("hello") }).await.unwrap();
    assert_eq!(text, "hello");
    let boxed: Vec<u8> = weft::spawn(async { vec![1, 2, 3] }).await.unwrap();
    assert_eq!(boxed, [1, 2, 3]);
    // A unit task.
    weft::spawn(async {}).await.unwrap();
}

#[weft::test]
async fn join_handle_gives_the_output_of_a_task_that_parked() {
    let task = weft::spawn(async {
        for _ in 0..10 {
            yield_now().await;
        }
        weft::time::sleep(Duration::from_millis(1)).await;
        7
    });
    assert_eq!(task.await.unwrap(), 7);
}

#[weft::test]
async fn abort_before_the_first_poll_cancels_without_running() {
    let ran = Rc::new(Cell::new(false));
    let dropped = Arc::new(AtomicUsize::new(0));
    let task = {
        let ran = ran.clone();
        let guard = DropCounter(dropped.clone());
        weft::spawn(async move {
            let _guard = guard;
            ran.set(true);
        })
    };
    task.abort();
    let error = task.await.unwrap_err();
    assert!(error.is_cancelled());
    assert!(!error.is_panic());
    assert!(!ran.get(), "an aborted task's body never runs");
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "its future was dropped");
}

#[weft::test]
async fn abort_of_a_parked_task_runs_its_destructors_by_the_next_turn() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let reached = Rc::new(Cell::new(false));
    let task = {
        let guard = DropCounter(dropped.clone());
        let reached = reached.clone();
        weft::spawn(async move {
            let _guard = guard;
            reached.set(true);
            pending::<()>().await;
        })
    };
    yield_now().await;
    assert!(reached.get(), "the task reached its bookmark");
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    assert!(!task.is_finished());

    task.abort();
    yield_now().await;
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "destructors ran by the loop's next turn"
    );
    assert!(task.is_finished());
    assert!(task.await.unwrap_err().is_cancelled());
}

#[weft::test]
async fn abort_from_another_task_runs_destructors_by_the_next_turn() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let victim = {
        let guard = DropCounter(dropped.clone());
        weft::spawn(async move {
            let _guard = guard;
            weft::time::sleep(Duration::from_secs(3600)).await;
        })
    };
    let abort = victim.abort_handle();
    let dropped_seen = {
        let dropped = dropped.clone();
        weft::spawn(async move {
            yield_now().await;
            abort.abort();
            yield_now().await;
            dropped.load(Ordering::SeqCst)
        })
    };
    assert_eq!(dropped_seen.await.unwrap(), 1);
    assert!(victim.await.unwrap_err().is_cancelled());
}

#[weft::test]
async fn abort_after_completion_keeps_the_output() {
    let task = weft::spawn(async { 5 });
    for _ in 0..3 {
        yield_now().await;
    }
    assert!(task.is_finished());
    task.abort();
    task.abort_handle().abort();
    assert_eq!(task.await.unwrap(), 5);
}

#[weft::test]
async fn abort_twice_is_harmless() {
    let task = weft::spawn(pending::<()>());
    yield_now().await;
    task.abort();
    task.abort();
    yield_now().await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
}

#[weft::test]
async fn abort_of_a_task_that_is_already_scheduled_cancels_it() {
    // A yields (it goes back on the run queue behind B); B, polled next in the same turn, aborts A while A is
    // scheduled. A must not resume after its bookmark.
    let ran_after = Rc::new(Cell::new(false));
    let victim_abort: Rc<RefCell<Option<AbortHandle>>> = Rc::new(RefCell::new(None));
    let victim = {
        let ran_after = ran_after.clone();
        weft::spawn(async move {
            yield_now().await;
            ran_after.set(true);
        })
    };
    *victim_abort.borrow_mut() = Some(victim.abort_handle());
    let aborter = {
        let victim_abort = victim_abort.clone();
        weft::spawn(async move {
            victim_abort.borrow().as_ref().unwrap().abort();
        })
    };
    aborter.await.unwrap();
    let error = victim.await.unwrap_err();
    assert!(error.is_cancelled());
    assert!(
        !ran_after.get(),
        "the task never resumed after its bookmark"
    );
}

#[weft::test]
async fn is_finished_follows_the_task() {
    let (tx, rx) = mpsc::channel::<()>();
    let task = weft::spawn(async move {
        loop {
            if rx.try_recv().is_ok() {
                return 3;
            }
            yield_now().await;
        }
    });
    assert!(!task.is_finished());
    yield_now().await;
    assert!(!task.is_finished());
    tx.send(()).unwrap();
    for _ in 0..3 {
        yield_now().await;
    }
    assert!(task.is_finished());
    assert!(task.abort_handle().is_finished());
    assert_eq!(task.await.unwrap(), 3);

    let cancelled = weft::spawn(pending::<()>());
    let abort = cancelled.abort_handle();
    assert!(!abort.is_finished());
    abort.abort();
    yield_now().await;
    assert!(abort.is_finished());
    assert!(cancelled.is_finished());
}

#[test]
fn ids_are_unique_across_tasks_threads_and_runtimes() {
    let runtime = weft::Runtime::new().unwrap();
    let handle = runtime.handle();
    let mut ids = HashSet::new();
    let local: Vec<JoinHandle<()>> = runtime.block_on(async {
        let tasks: Vec<_> = (0..1000).map(|_| weft::spawn(async {})).collect();
        let named = weft::task::Builder::new().name("named").spawn(async {});
        let blocking = weft::spawn_blocking(|| {});
        tasks.into_iter().chain([named, blocking]).collect()
    });
    let remote: Vec<JoinHandle<()>> = (0..4)
        .map(|_| {
            let handle = handle.clone();
            thread::spawn(move || (0..500).map(|_| handle.spawn(async {})).collect::<Vec<_>>())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    let other_runtime: Vec<JoinHandle<()>> =
        weft::run(async { (0..100).map(|_| weft::spawn(async {})).collect() });
    for task in local.iter().chain(&remote).chain(&other_runtime) {
        assert!(ids.insert(task.id()), "duplicate task id {:?}", task.id());
        assert_eq!(task.id(), task.abort_handle().id());
    }
    assert_eq!(ids.len(), 1002 + 2000 + 100);
    runtime.block_on(async {
        for task in local.into_iter().chain(remote) {
            task.await.unwrap();
        }
    });
}

#[weft::test]
async fn join_error_carries_the_task_id() {
    let task = weft::spawn(pending::<()>());
    let id = task.id();
    task.abort();
    assert_eq!(task.await.unwrap_err().id(), id);
}

#[test]
fn abort_handle_clone_aborts_from_another_thread() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let result = weft::run(async {
        let task = {
            let guard = DropCounter(dropped.clone());
            weft::spawn(async move {
                let _guard = guard;
                pending::<()>().await;
            })
        };
        yield_now().await;
        let abort: AbortHandle = task.abort_handle();
        let clone = abort.clone();
        drop(abort);
        // The loop parks awaiting the task; the abort from another thread must wake it.
        let aborter = thread::spawn(move || clone.abort());
        let result = task.await;
        aborter.join().unwrap();
        result
    });
    assert!(result.unwrap_err().is_cancelled());
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn abort_handles_race_from_many_threads() {
    weft::run(async {
        for _ in 0..50 {
            let task = weft::spawn(pending::<()>());
            yield_now().await;
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let abort = task.abort_handle();
                    thread::spawn(move || abort.abort())
                })
                .collect();
            assert!(task.await.unwrap_err().is_cancelled());
            for thread in threads {
                thread.join().unwrap();
            }
        }
    });
}

#[test]
fn abort_handle_outlives_the_join_handle_and_the_runtime() {
    let abort = weft::run(async {
        let task = weft::spawn(pending::<()>());
        let abort = task.abort_handle();
        drop(task);
        abort
    });
    // The runtime is gone: aborting does nothing harmful.
    abort.abort();
    assert!(abort.is_finished());
    let clone = abort.clone();
    thread::spawn(move || clone.abort()).join().unwrap();
}

#[weft::test(start_paused = true)]
async fn dropping_the_join_handle_detaches_the_task() {
    let done = Rc::new(Cell::new(false));
    let task = {
        let done = done.clone();
        weft::spawn(async move {
            weft::time::sleep(Duration::from_secs(1)).await;
            done.set(true);
        })
    };
    drop(task);
    weft::time::sleep(Duration::from_secs(2)).await;
    assert!(done.get(), "a detached task still runs to completion");
}

#[test]
fn a_detached_tasks_output_is_dropped_when_it_finishes() {
    let dropped = Arc::new(AtomicUsize::new(0));
    weft::run(async {
        let counter = DropCounter(dropped.clone());
        let task = weft::spawn(async move {
            yield_now().await;
            counter
        });
        drop(task);
        for _ in 0..3 {
            yield_now().await;
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn an_unread_output_is_dropped_with_its_join_handle() {
    let dropped = Arc::new(AtomicUsize::new(0));
    // The finished task's handle is handed out of the runtime on purpose.
    #[allow(clippy::async_yields_async)]
    let task = weft::run(async {
        let counter = DropCounter(dropped.clone());
        let task = weft::spawn(async move { counter });
        for _ in 0..3 {
            yield_now().await;
        }
        assert!(task.is_finished());
        task
    });
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        0,
        "the output waits for its handle"
    );
    drop(task);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[weft::test]
async fn a_task_awaits_another_tasks_join_handle() {
    let first = weft::spawn(async {
        yield_now().await;
        20
    });
    let second = weft::spawn(async move { first.await.unwrap() + 1 });
    let third = weft::spawn(async move { second.await.unwrap() * 2 });
    assert_eq!(third.await.unwrap(), 42);
}

#[weft::test(start_paused = true)]
async fn a_chain_of_tasks_awaiting_each_other_completes() {
    let mut task = weft::spawn(async { 0u64 });
    for i in 1..=200u64 {
        let previous = task;
        task = weft::spawn(async move {
            if i % 50 == 0 {
                weft::time::sleep(Duration::from_millis(i)).await;
            }
            previous.await.unwrap() + i
        });
    }
    assert_eq!(task.await.unwrap(), 200 * 201 / 2);
}

#[weft::test]
async fn a_task_sees_another_tasks_cancellation() {
    let victim = weft::spawn(pending::<u8>());
    let abort = victim.abort_handle();
    let watcher = weft::spawn(async move { victim.await.unwrap_err().is_cancelled() });
    yield_now().await;
    abort.abort();
    assert!(watcher.await.unwrap());
}

#[test]
fn join_handle_is_send_when_the_output_is() {
    fn assert_send<T: Send>(_: &T) {}
    let runtime = weft::Runtime::new().unwrap();
    let task = runtime.block_on(async {
        let task = weft::spawn(async { 1u32 });
        assert_send(&task);
        while !task.is_finished() {
            yield_now().await;
        }
        (task,)
    });
    // Awaited on another thread, on another runtime.
    let value = thread::spawn(move || weft::run(task.0)).join().unwrap();
    assert_eq!(value.unwrap(), 1);
}

#[weft::test]
async fn tasks_need_not_be_send() {
    let shared = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let shared = shared.clone();
            weft::spawn(async move {
                yield_now().await;
                shared.borrow_mut().push(i);
                Rc::new(i) // a !Send output too
            })
        })
        .collect();
    let mut outputs = Vec::new();
    for task in tasks {
        outputs.push(*task.await.unwrap());
    }
    assert_eq!(outputs, (0..10).collect::<Vec<_>>());
    let mut seen = shared.borrow().clone();
    seen.sort_unstable();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
}

#[weft::test]
async fn named_tasks_run_like_any_other() {
    let task = weft::task::Builder::new()
        .name("worker")
        .spawn(async { "named" });
    assert_eq!(task.await.unwrap(), "named");
    let task = weft::task::Builder::new().spawn(async { 2 });
    assert_eq!(task.await.unwrap(), 2);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "two loops polling real-clock 1 ms timers never finish under Miri"
)]
fn a_task_awaiting_a_join_handle_from_another_runtime_on_another_thread_wakes() {
    let (handle_tx, handle_rx) = mpsc::channel();
    let release = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let other = {
        let release = release.clone();
        let finished = finished.clone();
        thread::spawn(move || {
            let runtime = Builder::new().build().unwrap();
            let handle = runtime.handle();
            let task = {
                let finished = finished.clone();
                handle.spawn(async move {
                    // Finishes once released, checking on its own (real-clock) timer.
                    while !release.load(Ordering::SeqCst) {
                        weft::time::sleep(Duration::from_millis(1)).await;
                    }
                    finished.store(true, Ordering::SeqCst);
                    99
                })
            };
            handle_tx.send(task).unwrap();
            // Keep this loop running until the task has finished.
            runtime.block_on(async {
                while !finished.load(Ordering::SeqCst) {
                    weft::time::sleep(Duration::from_millis(1)).await;
                }
            });
        })
    };
    let task = handle_rx.recv().unwrap();
    // This loop parks on the JoinHandle; the other loop's thread completes the task and must wake it.
    let value = weft::run(async move {
        release.store(true, Ordering::SeqCst);
        task.await.unwrap()
    });
    assert_eq!(value, 99);
    other.join().unwrap();
}
