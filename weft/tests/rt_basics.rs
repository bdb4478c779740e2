//! The basics of running a loop: `weft::run`, `Runtime::block_on` (twice, nested), spawning from outside a
//! runtime and from other threads, spawning onto a runtime that is gone, and wakes that come from other
//! threads.

use std::cell::RefCell;
use std::future::poll_fn;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use std::thread;

use weft::{Handle, JoinHandle, Runtime};

/// The text of a panic payload (`&str` or `String`).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Counts how many times it is dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn run_returns_the_output_of_the_future() {
    assert_eq!(weft::run(async { 40 + 2 }), 42);
    let text = weft::run(async {
        let task = weft::spawn(async { String::from("from a task") });
        task.await.unwrap()
    });
    assert_eq!(text, "from a task");
}

#[test]
fn run_can_be_called_again_on_the_same_thread() {
    for i in 0..5 {
        assert_eq!(
            weft::run(async move { weft::spawn(async move { i }).await }).unwrap(),
            i
        );
    }
}

#[test]
fn block_on_twice_continues_tasks_from_the_first_run() {
    let runtime = Runtime::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let gate: Rc<RefCell<(bool, Option<Waker>)>> = Rc::new(RefCell::new((false, None)));

    let (parked, never_polled) = runtime.block_on({
        let log = log.clone();
        let gate = gate.clone();
        async move {
            // A task that starts in the first run and parks until the gate opens.
            let parked = weft::spawn({
                let log = log.clone();
                let gate = gate.clone();
                async move {
                    log.borrow_mut().push("parked: started");
                    poll_fn(|cx| {
                        let mut gate = gate.borrow_mut();
                        if gate.0 {
                            Poll::Ready(())
                        } else {
                            gate.1 = Some(cx.waker().clone());
                            Poll::Pending
                        }
                    })
                    .await;
                    log.borrow_mut().push("parked: finished");
                    "parked done"
                }
            });
            // Let it reach its bookmark.
            while gate.borrow().1.is_none() {
                weft::task::yield_now().await;
            }
            // A task spawned at the very end of the first run: the loop never gets to poll it there.
            let never_polled = weft::spawn({
                let log = log.clone();
                async move {
                    log.borrow_mut().push("late: ran");
                    "late done"
                }
            });
            (parked, never_polled)
        }
    });
    assert_eq!(*log.borrow(), ["parked: started"]);
    assert!(!parked.is_finished());

    // Between runs, open the gate and wake the parked task from outside any loop.
    let waker = {
        let mut gate = gate.borrow_mut();
        gate.0 = true;
        gate.1.take().unwrap()
    };
    waker.wake();

    let (parked, never_polled) =
        runtime.block_on(async move { (parked.await, never_polled.await) });
    assert_eq!(parked.unwrap(), "parked done");
    assert_eq!(never_polled.unwrap(), "late done");
    let log = log.borrow();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log.contains(&"parked: finished"));
    assert!(log.contains(&"late: ran"));
}

#[test]
fn spawn_outside_a_runtime_panics_clearly() {
    let payload = catch_unwind(|| {
        drop(weft::spawn(async {}));
    })
    .expect_err("weft::spawn outside a runtime must panic");
    let text = panic_text(payload.as_ref());
    assert!(
        text.contains("outside a runtime"),
        "panic message: {text:?}"
    );

    let payload = catch_unwind(|| {
        drop(weft::spawn_blocking(|| {}));
    })
    .expect_err("weft::spawn_blocking outside a runtime must panic");
    let text = panic_text(payload.as_ref());
    assert!(
        text.contains("outside a runtime"),
        "panic message: {text:?}"
    );

    let payload = catch_unwind(|| {
        drop(weft::task::Builder::new().name("x").spawn(async {}));
    })
    .expect_err("task::Builder::spawn outside a runtime must panic");
    let text = panic_text(payload.as_ref());
    assert!(
        text.contains("outside a runtime"),
        "panic message: {text:?}"
    );

    let payload =
        catch_unwind(Handle::current).expect_err("Handle::current outside a runtime must panic");
    let text = panic_text(payload.as_ref());
    assert!(
        text.contains("outside a runtime"),
        "panic message: {text:?}"
    );
}

#[test]
fn try_current_is_some_only_inside_a_runtime() {
    assert!(Handle::try_current().is_none());
    let found = weft::run(async { Handle::try_current().is_some() });
    assert!(found);
    // Leaving block_on clears the context again.
    assert!(Handle::try_current().is_none());
}

#[test]
fn handle_current_spawns_on_the_running_loop() {
    let value = weft::run(async {
        let handle = Handle::current();
        handle.spawn(async { 7 }).await.unwrap()
    });
    assert_eq!(value, 7);
}

#[test]
fn block_on_inside_a_task_panics() {
    let error = weft::run(async {
        weft::spawn(async {
            let inner = Runtime::new().unwrap();
            inner.block_on(async {});
        })
        .await
        .expect_err("a nested block_on must panic the task")
    });
    assert!(error.is_panic());
    let text = panic_text(error.into_panic().as_ref());
    assert!(text.contains("inside a runtime"), "panic message: {text:?}");
}

#[test]
fn block_on_nested_in_block_on_panics_and_the_runtime_stays_usable() {
    let runtime = Runtime::new().unwrap();
    let payload = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            runtime.block_on(async {});
        })
    }))
    .expect_err("block_on inside block_on must panic");
    let text = panic_text(payload.as_ref());
    assert!(text.contains("inside a runtime"), "panic message: {text:?}");
    assert!(
        Handle::try_current().is_none(),
        "the context must be restored"
    );
    assert_eq!(
        runtime.block_on(async { weft::spawn(async { 5 }).await.unwrap() }),
        5
    );
}

#[test]
fn handle_spawn_from_eight_threads_at_once() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 1_000;
    let runtime = Runtime::new().unwrap();
    let handle = runtime.handle();
    let total = runtime.block_on(async move {
        let start = Arc::new(std::sync::Barrier::new(THREADS as usize));
        let threads: Vec<thread::JoinHandle<Vec<JoinHandle<u64>>>> = (0..THREADS)
            .map(|t| {
                let handle = handle.clone();
                let start = start.clone();
                thread::spawn(move || {
                    start.wait();
                    (0..PER_THREAD)
                        .map(|i| handle.spawn(async move { t * PER_THREAD + i }))
                        .collect()
                })
            })
            .collect();
        // Join the spawner threads off the loop, so the loop keeps running (and taking remote spawns) meanwhile.
        let handles = weft::spawn_blocking(move || {
            threads
                .into_iter()
                .flat_map(|thread| thread.join().unwrap())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        assert_eq!(handles.len() as u64, THREADS * PER_THREAD);
        let results = weft::join_all(handles).await;
        results.into_iter().map(Result::unwrap).sum::<u64>()
    });
    let n = THREADS * PER_THREAD;
    assert_eq!(total, n * (n - 1) / 2);
}

#[test]
fn handle_spawn_before_block_on_runs_in_the_next_run() {
    let runtime = Runtime::new().unwrap();
    let handle = runtime.handle();
    let spawned: Vec<JoinHandle<usize>> =
        thread::spawn(move || (0..100).map(|i| handle.spawn(async move { i })).collect())
            .join()
            .unwrap();
    let results = runtime.block_on(weft::join_all(spawned));
    assert_eq!(results.into_iter().map(Result::unwrap).sum::<usize>(), 4950);
}

#[test]
fn handle_spawn_after_the_runtime_is_dropped_is_cancelled() {
    let runtime = Runtime::new().unwrap();
    let handle = runtime.handle();
    drop(runtime);

    let ran = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicUsize::new(0));
    let task = {
        let ran = ran.clone();
        let guard = DropCounter(dropped.clone());
        handle.spawn(async move {
            let _guard = guard;
            ran.store(true, Ordering::SeqCst);
        })
    };
    // The future was refused and dropped; it never ran.
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(task.is_finished());
    let error = weft::run(task).expect_err("a task spawned on a dead runtime must fail");
    assert!(error.is_cancelled(), "{error:?}");
    assert!(!ran.load(Ordering::SeqCst));

    // Also from another thread.
    let task = thread::spawn(move || handle.spawn(async { 1 }))
        .join()
        .unwrap();
    assert!(weft::run(task).unwrap_err().is_cancelled());
}

#[test]
fn a_task_woken_from_another_thread_runs() {
    let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
    let flag = Arc::new(AtomicBool::new(false));
    let waker_thread = {
        let flag = flag.clone();
        thread::spawn(move || {
            let waker = waker_rx.recv().unwrap();
            flag.store(true, Ordering::SeqCst);
            waker.wake();
        })
    };
    let polls = weft::run(async move {
        let task = weft::spawn(async move {
            let mut polls = 0;
            let mut sent = false;
            poll_fn(|cx| {
                polls += 1;
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
            polls
        });
        task.await.unwrap()
    });
    waker_thread.join().unwrap();
    assert!(polls >= 2, "the task completed only after the remote wake");
}

#[test]
fn the_main_future_woken_from_another_thread_resumes() {
    let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
    let flag = Arc::new(AtomicBool::new(false));
    let waker_thread = {
        let flag = flag.clone();
        thread::spawn(move || {
            let waker = waker_rx.recv().unwrap();
            flag.store(true, Ordering::SeqCst);
            waker.wake();
        })
    };
    let mut sent = false;
    weft::run(poll_fn(move |cx| {
        if flag.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if !sent {
            waker_tx.send(cx.waker().clone()).unwrap();
            sent = true;
        }
        Poll::Pending
    }));
    waker_thread.join().unwrap();
}

#[test]
fn a_spawn_blocking_completion_wakes_the_loop() {
    let value = weft::run(async {
        let task = weft::spawn(async { weft::spawn_blocking(|| 6 * 7).await.unwrap() });
        task.await.unwrap()
    });
    assert_eq!(value, 42);
}

#[test]
fn public_types_implement_debug() {
    let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    assert!(format!("{runtime:?}").contains("Runtime"));
    assert!(format!("{:?}", runtime.handle()).contains("Handle"));
    assert!(format!("{:?}", weft::Builder::new()).contains("Builder"));
    assert!(format!("{:?}", weft::UnhandledPanic::Report).contains("Report"));
    runtime.block_on(async {
        let task = weft::spawn(async {});
        assert!(format!("{task:?}").contains("JoinHandle"));
        assert!(format!("{:?}", task.abort_handle()).contains("AbortHandle"));
        assert!(!format!("{:?}", task.id()).is_empty());
        let error = {
            task.abort();
            task.await.unwrap_err()
        };
        assert!(!format!("{error:?}").is_empty());
        assert!(!format!("{:?}", weft::time::sleep(std::time::Duration::ZERO)).is_empty());
        assert!(!format!("{:?}", weft::time::Instant::now()).is_empty());
        assert!(!format!("{:?}", weft::task::yield_now()).is_empty());
        assert!(!format!("{:?}", weft::join_all(Vec::<std::future::Ready<()>>::new())).is_empty());
    });
}
