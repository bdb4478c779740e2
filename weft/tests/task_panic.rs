//! Panics in tasks: they become `JoinError`s with their payload, they never take the loop down, detached
//! panics follow the `UnhandledPanic` policy, and panicking destructors are contained too.

use std::future::pending;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weft::task::yield_now;
use weft::{Builder, JoinError, UnhandledPanic};

mod common;
use common::without_deadlock;

/// Counts how many times it is dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Panics when dropped.
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

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

/// Spawns `n` tasks that each yield a few times and return their index; checks they all complete.
async fn others_still_run(n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            weft::spawn(async move {
                yield_now().await;
                yield_now().await;
                i
            })
        })
        .collect();
    let results = weft::join_all(tasks).await;
    let values: Vec<usize> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(values, (0..n).collect::<Vec<_>>());
}

#[weft::test]
async fn a_panic_becomes_a_join_error_with_its_payload() {
    let before = weft::spawn(async {
        yield_now().await;
        "before"
    });
    let task = weft::spawn(async {
        yield_now().await;
        panic!("boom");
    });
    let after = weft::spawn(async {
        yield_now().await;
        "after"
    });
    let error = task.await.unwrap_err();
    assert!(error.is_panic());
    assert!(!error.is_cancelled());
    let payload = error.into_panic();
    assert_eq!(*payload.downcast::<&str>().unwrap(), "boom");
    // The loop kept running the other tasks.
    assert_eq!(before.await.unwrap(), "before");
    assert_eq!(after.await.unwrap(), "after");
    others_still_run(10).await;
}

#[weft::test]
async fn a_formatted_panic_payload_is_a_string() {
    let n = 7;
    let error = weft::spawn(async move {
        panic!("failed with {n}");
    })
    .await
    .unwrap_err();
    let payload = error.into_panic();
    assert_eq!(*payload.downcast::<String>().unwrap(), "failed with 7");
}

#[weft::test]
async fn a_custom_panic_payload_survives() {
    #[derive(Debug, PartialEq)]
    struct Custom(u32);
    let error = weft::spawn(async {
        std::panic::panic_any(Custom(5));
    })
    .await
    .unwrap_err();
    assert!(error.is_panic());
    assert_eq!(*error.into_panic().downcast::<Custom>().unwrap(), Custom(5));
}

#[test]
fn into_panic_can_be_resumed() {
    let error: JoinError =
        weft::run(async { weft::spawn(async { panic!("again") }).await.unwrap_err() });
    let payload = catch_unwind(AssertUnwindSafe(|| resume_unwind(error.into_panic()))).unwrap_err();
    assert_eq!(panic_text(payload.as_ref()), "again");
}

#[weft::test]
async fn try_into_panic_gives_back_a_cancelled_error() {
    let task = weft::spawn(pending::<()>());
    task.abort();
    let error = task.await.unwrap_err();
    let error = error.try_into_panic().unwrap_err();
    assert!(error.is_cancelled());
}

#[weft::test]
async fn many_panicking_tasks_do_not_disturb_the_others() {
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            weft::spawn(async move {
                yield_now().await;
                if i % 2 == 0 {
                    panic!("even {i}");
                }
                i
            })
        })
        .collect();
    let results = weft::join_all(tasks).await;
    for (i, result) in results.into_iter().enumerate() {
        if i % 2 == 0 {
            let payload = result.unwrap_err().into_panic();
            assert_eq!(*payload.downcast::<String>().unwrap(), format!("even {i}"));
        } else {
            assert_eq!(result.unwrap(), i);
        }
    }
}

#[test]
fn a_detached_panic_is_reported_and_the_runtime_continues() {
    let runtime = Builder::new().build().unwrap();
    let value = runtime.block_on(async {
        drop(weft::spawn(async {
            panic!("nobody is listening (expected in this test)");
        }));
        drop(
            weft::task::Builder::new()
                .name("named-panicker")
                .spawn(async {
                    yield_now().await;
                    panic!("named task panic (expected in this test)");
                }),
        );
        for _ in 0..5 {
            yield_now().await;
        }
        others_still_run(10).await;
        3
    });
    assert_eq!(value, 3);
    // The runtime is still usable afterwards.
    assert_eq!(
        runtime.block_on(async { weft::spawn(async { 4 }).await.unwrap() }),
        4
    );
}

#[test]
fn a_detached_panic_with_ignore_is_silent_and_the_runtime_continues() {
    let runtime = Builder::new()
        .unhandled_panic(UnhandledPanic::Ignore)
        .build()
        .unwrap();
    let value = runtime.block_on(async {
        for _ in 0..10 {
            drop(weft::spawn(async {
                yield_now().await;
                panic!("ignored (expected in this test)");
            }));
        }
        for _ in 0..5 {
            yield_now().await;
        }
        others_still_run(10).await;
        "still here"
    });
    assert_eq!(value, "still here");
}

#[test]
fn shutdown_runtime_policy_makes_block_on_panic_while_the_main_future_sleeps() {
    let runtime = Builder::new()
        .start_paused(true)
        .unhandled_panic(UnhandledPanic::ShutdownRuntime)
        .build()
        .unwrap();
    let payload = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            drop(weft::spawn(async {
                panic!("detached (expected in this test)");
            }));
            weft::time::sleep(Duration::from_secs(3600)).await;
            "the main future must not finish"
        })
    }))
    .expect_err("block_on must panic under UnhandledPanic::ShutdownRuntime");
    let text = panic_text(payload.as_ref());
    assert!(text.contains("ShutdownRuntime"), "panic message: {text:?}");
    drop(runtime);
}

#[test]
fn shutdown_runtime_policy_makes_block_on_panic_while_the_main_future_is_busy() {
    let runtime = Builder::new()
        .unhandled_panic(UnhandledPanic::ShutdownRuntime)
        .build()
        .unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            drop(weft::spawn(async {
                panic!("detached (expected in this test)");
            }));
            // Busy (yielding) long enough for the loop to notice; bounded.
            for _ in 0..10_000 {
                yield_now().await;
            }
        })
    }));
    assert!(
        result.is_err(),
        "block_on must panic under UnhandledPanic::ShutdownRuntime"
    );
}

#[test]
fn shutdown_runtime_policy_makes_block_on_panic_while_the_main_future_is_idle() {
    let panicked = without_deadlock(Duration::from_secs(30), || {
        let runtime = Builder::new()
            .unhandled_panic(UnhandledPanic::ShutdownRuntime)
            .build()
            .unwrap();
        catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(async {
                drop(weft::spawn(async {
                    panic!("detached (expected in this test)");
                }));
                pending::<()>().await;
            })
        }))
        .is_err()
    });
    assert!(
        panicked,
        "block_on must panic under UnhandledPanic::ShutdownRuntime"
    );
}

#[test]
fn shutdown_runtime_policy_ignores_panics_that_a_join_handle_sees() {
    let runtime = Builder::new()
        .unhandled_panic(UnhandledPanic::ShutdownRuntime)
        .build()
        .unwrap();
    let seen = runtime.block_on(async {
        let error = weft::spawn(async { panic!("seen (expected in this test)") })
            .await
            .unwrap_err();
        for _ in 0..5 {
            yield_now().await;
        }
        others_still_run(5).await;
        error.is_panic()
    });
    assert!(seen);
}

#[weft::test]
async fn a_panic_in_a_destructor_during_abort_is_contained() {
    let task = weft::spawn(async {
        let _bomb = PanicOnDrop("destructor panic during abort (expected in this test)");
        pending::<()>().await;
    });
    yield_now().await;
    task.abort();
    let error = task.await.unwrap_err();
    assert!(error.is_panic() || error.is_cancelled(), "{error:?}");
    if error.is_panic() {
        assert_eq!(
            panic_text(error.into_panic().as_ref()),
            "destructor panic during abort (expected in this test)"
        );
    }
    others_still_run(10).await;
}

#[weft::test]
async fn a_panic_in_a_destructor_during_abort_of_a_detached_task_is_contained() {
    let task = weft::spawn(async {
        let _bomb = PanicOnDrop("detached destructor panic (expected in this test)");
        pending::<()>().await;
    });
    let abort = task.abort_handle();
    drop(task);
    yield_now().await;
    abort.abort();
    yield_now().await;
    assert!(abort.is_finished());
    others_still_run(10).await;
}

#[weft::test]
async fn a_panic_while_dropping_a_finished_future_is_a_join_error() {
    let task = weft::spawn(async {
        let _bomb = PanicOnDrop("dropped at completion (expected in this test)");
        yield_now().await;
        1
    });
    let error = task.await.unwrap_err();
    assert!(error.is_panic(), "{error:?}");
    others_still_run(5).await;
}

#[weft::test]
async fn a_panic_while_dropping_a_detached_output_is_contained() {
    let task = weft::spawn(async {
        yield_now().await;
        PanicOnDrop("output dropped by the loop (expected in this test)")
    });
    drop(task);
    for _ in 0..5 {
        yield_now().await;
    }
    others_still_run(5).await;
}

#[test]
fn a_panic_in_a_destructor_at_shutdown_does_not_stop_the_others() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let runtime = weft::Runtime::new().unwrap();
    runtime.block_on(async {
        for i in 0..10 {
            let counter = DropCounter(dropped.clone());
            drop(weft::spawn(async move {
                let _counter = counter;
                let _bomb = (i % 3 == 0).then_some(PanicOnDrop(
                    "shutdown destructor panic (expected in this test)",
                ));
                pending::<()>().await;
            }));
        }
        yield_now().await;
    });
    drop(runtime);
    assert_eq!(dropped.load(Ordering::SeqCst), 10, "every task was dropped");
}

#[test]
fn a_panic_in_the_main_future_propagates_out_of_block_on() {
    let runtime = weft::Runtime::new().unwrap();
    let payload = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            yield_now().await;
            panic!("main future panic (expected in this test)");
        })
    }))
    .unwrap_err();
    assert_eq!(
        panic_text(payload.as_ref()),
        "main future panic (expected in this test)"
    );
    assert_eq!(
        runtime.block_on(async { weft::spawn(async { 1 }).await.unwrap() }),
        1
    );
}

#[weft::test]
async fn join_error_display_says_what_happened() {
    let panicked = weft::spawn(async { panic!("kaboom") }).await.unwrap_err();
    let text = panicked.to_string();
    assert!(text.contains("panicked"), "{text}");
    assert!(text.contains("kaboom"), "{text}");
    assert!(!format!("{panicked:?}").is_empty());

    let task = weft::spawn(pending::<()>());
    task.abort();
    let cancelled = task.await.unwrap_err();
    let text = cancelled.to_string();
    assert!(text.contains("cancelled"), "{text}");
    assert!(!format!("{cancelled:?}").is_empty());

    // A JoinError is a std error, and converts into io::Error.
    let boxed: Box<dyn std::error::Error> = Box::new(cancelled);
    assert!(boxed.to_string().contains("cancelled"));
    let io: std::io::Error = panicked.into();
    assert!(io.to_string().contains("panicked"));
}

#[weft::test]
async fn a_join_handle_dropped_while_unwinding_does_not_abort_the_process() {
    let task =
        weft::spawn(async { PanicOnDrop("output dropped by its handle (expected in this test)") });
    while !task.is_finished() {
        yield_now().await;
    }
    // Dropping the handle drops the output, whose destructor panics. Were that panic let loose while this
    // thread unwinds, the process would abort; it is reported instead, and the unwinding goes on.
    let unwound = catch_unwind(AssertUnwindSafe(move || {
        let _handle = task;
        panic!("unwinding with a JoinHandle on the stack (expected in this test)");
    }));
    let payload = unwound.unwrap_err();
    assert_eq!(
        panic_text(payload.as_ref()),
        "unwinding with a JoinHandle on the stack (expected in this test)"
    );
    others_still_run(5).await;
}

#[weft::test]
async fn dropping_a_join_handle_never_raises_the_outputs_destructor_panic() {
    let task =
        weft::spawn(async { PanicOnDrop("output dropped by its handle (expected in this test)") });
    while !task.is_finished() {
        yield_now().await;
    }
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(task)));
    assert!(
        dropped.is_ok(),
        "the destructor's panic escaped JoinHandle::drop"
    );
    others_still_run(5).await;
}

#[test]
fn a_destructor_panic_behind_a_dropped_join_handle_follows_the_unhandled_panic_policy() {
    let runtime = Builder::new()
        .unhandled_panic(UnhandledPanic::ShutdownRuntime)
        .build()
        .unwrap();
    let stopped = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            let task =
                weft::spawn(async { PanicOnDrop("reported as unhandled (expected in this test)") });
            while !task.is_finished() {
                yield_now().await;
            }
            drop(task);
            for _ in 0..5 {
                yield_now().await;
            }
        })
    }));
    let payload = stopped.expect_err("block_on went on after a panic nobody could see");
    assert!(
        panic_text(payload.as_ref()).contains("UnhandledPanic::ShutdownRuntime"),
        "{}",
        panic_text(payload.as_ref())
    );
}
