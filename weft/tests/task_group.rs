//! `TaskGroup`: completion order, ownership (dropping the group aborts its children and their destructors run by
//! the next turn), panics kept in `JoinError`, fail-fast, `!Send` children, abort handles, and a `join_next`
//! that loses nothing when dropped.

use std::cell::Cell;
use std::future::pending;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weft::task::{yield_now, Outcome, TaskGroup};
use weft::time::sleep;
use weft::Builder;

/// Counts how many times it is dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A child that parks forever holding a drop counter.
async fn parked_forever(dropped: Arc<AtomicUsize>) {
    let _guard = DropCounter(dropped);
    pending::<()>().await;
}

#[test]
fn join_next_yields_in_completion_order() {
    let runtime = Builder::new().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let mut group = TaskGroup::new();
        for ms in [50u64, 10, 40, 20, 30] {
            group.spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                ms
            });
        }
        assert_eq!(group.len(), 5);
        let mut order = Vec::new();
        while let Some(result) = group.join_next().await {
            order.push(result.unwrap());
        }
        assert_eq!(order, [10, 20, 30, 40, 50]);
        assert!(group.is_empty());
        assert!(group.join_next().await.is_none());
    });
}

#[weft::test]
async fn an_empty_group_joins_to_none_at_once() {
    let mut group = TaskGroup::<()>::new();
    assert!(group.join_next().await.is_none());
    assert!(group.join_all().await.is_empty());
}

#[weft::test]
async fn dropping_the_group_aborts_children_and_runs_their_destructors_by_the_next_turn() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut group = TaskGroup::new();
    for _ in 0..10 {
        group.spawn(parked_forever(dropped.clone()));
    }
    yield_now().await; // every child runs to its bookmark
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    let before = weft::Handle::current().metrics().tasks_alive;
    drop(group);
    yield_now().await; // the loop's next turn
    assert_eq!(dropped.load(Ordering::SeqCst), 10);
    assert_eq!(weft::Handle::current().metrics().tasks_alive, before - 10);
}

#[weft::test]
async fn dropping_the_group_before_its_children_ran_drops_them_unpolled() {
    let polled = Rc::new(Cell::new(false));
    let mut group = TaskGroup::new();
    let flag = polled.clone();
    group.spawn(async move { flag.set(true) });
    drop(group);
    yield_now().await;
    yield_now().await;
    assert!(!polled.get());
}

#[weft::test]
async fn a_panicking_child_never_takes_the_owner_down() {
    let mut group = TaskGroup::new();
    group.spawn(async { panic!("child failed") });
    group.spawn(async { 5 });
    let mut panics = 0;
    let mut values = Vec::new();
    while let Some(result) = group.join_next().await {
        match result {
            Ok(value) => values.push(value),
            Err(error) => {
                assert!(error.is_panic());
                let payload = error.into_panic();
                assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "child failed");
                panics += 1;
            }
        }
    }
    assert_eq!((panics, values), (1, vec![5]));
}

#[weft::test]
async fn children_need_not_be_send() {
    let shared = Rc::new(Cell::new(0));
    let mut group = TaskGroup::new();
    for i in 1..=4 {
        let shared = shared.clone();
        group.spawn(async move {
            yield_now().await;
            shared.set(shared.get() + i);
        });
    }
    group.join_all().await;
    assert_eq!(shared.get(), 10);
}

#[weft::test]
async fn an_abort_handle_cancels_one_child() {
    let mut group = TaskGroup::new();
    let stuck = group.spawn(pending::<u8>());
    group.spawn(async { 1u8 });
    stuck.abort();
    let mut cancelled = 0;
    let mut finished = 0;
    for result in group.join_all().await {
        match result {
            Ok(1) => finished += 1,
            Err(error) if error.is_cancelled() => cancelled += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((cancelled, finished), (1, 1));
    assert!(stuck.is_finished());
}

#[weft::test]
async fn abort_all_keeps_finished_results() {
    let mut group = TaskGroup::new();
    group.spawn(async { Some(1) });
    yield_now().await; // the first child finishes
    group.spawn(async {
        pending::<()>().await;
        Some(2)
    });
    group.abort_all();
    let results = group.join_all().await;
    assert_eq!(*results[0].as_ref().unwrap(), Some(1));
    assert!(results[1].as_ref().unwrap_err().is_cancelled());
}

#[test]
fn fail_fast_aborts_siblings_on_the_first_err() {
    let runtime = Builder::new().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut group = TaskGroup::new().fail_fast();
        group.spawn(async {
            sleep(Duration::from_millis(10)).await;
            Ok::<u32, String>(1) // finishes before the failure: keeps its result
        });
        group.spawn(async {
            sleep(Duration::from_millis(20)).await;
            Err("broken".to_string())
        });
        for _ in 0..3 {
            let dropped = dropped.clone();
            group.spawn(async move {
                parked_forever(dropped).await;
                Ok(0)
            });
        }
        assert_eq!(group.join_next().await.unwrap().unwrap(), Ok(1));
        assert_eq!(
            group.join_next().await.unwrap().unwrap(),
            Err("broken".to_string())
        );
        // The siblings were aborted when the failure happened, not when the owner looked.
        yield_now().await;
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
        let rest = group.join_all().await;
        assert_eq!(rest.len(), 3);
        assert!(rest
            .iter()
            .all(|result| result.as_ref().unwrap_err().is_cancelled()));
        // A child spawned into a group that failed is aborted at once.
        group.spawn(async { Ok(9) });
        assert!(group.join_next().await.unwrap().unwrap_err().is_cancelled());
    });
}

#[weft::test]
async fn fail_fast_aborts_siblings_on_a_panic() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut group = TaskGroup::new().fail_fast();
    for _ in 0..4 {
        group.spawn(parked_forever(dropped.clone()));
    }
    group.spawn(async {
        yield_now().await;
        panic!("boom")
    });
    let results = group.join_all().await;
    assert_eq!(dropped.load(Ordering::SeqCst), 4);
    assert_eq!(
        results
            .iter()
            .filter(|r| r.as_ref().is_err_and(|e| e.is_panic()))
            .count(),
        1
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| r.as_ref().is_err_and(|e| e.is_cancelled()))
            .count(),
        4
    );
}

#[weft::test]
async fn without_fail_fast_an_err_does_not_abort_siblings() {
    let mut group = TaskGroup::new();
    group.spawn(async { Err::<u8, u8>(1) });
    group.spawn(async {
        yield_now().await;
        yield_now().await;
        Ok(2)
    });
    let mut results: Vec<_> = group
        .join_all()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    results.sort();
    assert_eq!(results, [Ok(2), Err(1)]);
}

#[test]
fn outcome_for_the_standard_types() {
    assert!(Err::<(), ()>(()).is_failure());
    assert!(!Ok::<(), ()>(()).is_failure());
    assert!(!().is_failure());
    assert!(!false.is_failure());
    assert!(!0u64.is_failure());
    assert!(!(-1i32).is_failure());
    assert!(!String::new().is_failure());
    assert!(!None::<u8>.is_failure());
    assert!(!Vec::<u8>::new().is_failure());
}

#[test]
fn a_dropped_join_next_loses_no_result() {
    let runtime = Builder::new().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let mut group = TaskGroup::new();
        group.spawn(async {
            sleep(Duration::from_millis(100)).await;
            "late"
        });
        // join_next loses a race against a timeout, and is dropped.
        let early = weft::time::timeout(Duration::from_millis(10), group.join_next()).await;
        assert!(early.is_err());
        assert_eq!(group.len(), 1);
        assert_eq!(group.join_next().await.unwrap().unwrap(), "late");
    });
}

#[weft::test]
async fn a_hundred_thousand_children_spawned_and_joined_keep_the_group_small() {
    let handle = weft::Handle::current();
    let alive_before = handle.metrics().tasks_alive;
    let mut group = TaskGroup::new();
    for i in 0..100_000u32 {
        group.spawn(async move { i });
        if i % 4 == 3 {
            for _ in 0..4 {
                group.join_next().await.unwrap().unwrap();
            }
        }
    }
    assert!(group.is_empty());
    // Four at a time at most: four slots, however many children came and went.
    assert_eq!(group.capacity(), 4);
    assert_eq!(handle.metrics().tasks_alive, alive_before);
}

#[weft::test]
async fn a_group_is_send_when_its_output_is() {
    fn assert_send<T: Send>(_: &T) {}
    let mut group = TaskGroup::new();
    group.spawn(async { 1u8 });
    assert_send(&group);
    // The group may be awaited from another task on the same loop.
    let total = weft::spawn(async move { group.join_all().await.len() })
        .await
        .unwrap();
    assert_eq!(total, 1);
}

#[weft::test]
async fn a_task_waiting_in_join_next_shows_its_bookmark() {
    let owner = weft::spawn(async {
        let mut group = TaskGroup::new();
        group.spawn(pending::<()>());
        group.join_next().await; // line of the bookmark
    });
    yield_now().await;
    yield_now().await;
    let dump = weft::xray::dump();
    let task = dump
        .tasks()
        .iter()
        .find(|task| task.id == owner.id())
        .unwrap();
    let bookmark = task.bookmark.as_ref().unwrap();
    assert_eq!(bookmark.label, "TaskGroup::join_next");
    assert!(bookmark.location.file().ends_with("task_group.rs"));
    owner.abort();
}

#[test]
fn a_runtime_dropped_while_a_task_owns_a_group_drops_everything() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let runtime = weft::Runtime::new().unwrap();
    let counter = dropped.clone();
    runtime.block_on(async move {
        let owner = weft::spawn(async move {
            let mut group = TaskGroup::new().fail_fast();
            for _ in 0..5 {
                let counter = counter.clone();
                group.spawn(async move {
                    parked_forever(counter).await;
                    Ok::<(), ()>(())
                });
            }
            group.join_all().await;
        });
        yield_now().await;
        yield_now().await;
        drop(owner); // detached: still running when the runtime goes
    });
    drop(runtime); // the owner's group is dropped inside the shutdown: it aborts its children there
    assert_eq!(dropped.load(Ordering::SeqCst), 5);
}

#[test]
fn a_child_panicking_in_its_destructor_at_shutdown_fails_its_group_quietly() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("destructor panic at shutdown (expected in this test)");
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let runtime = Builder::new()
        .unhandled_panic(weft::UnhandledPanic::Ignore)
        .build()
        .unwrap();
    let counter = dropped.clone();
    // The group outlives the runtime (returned from block_on), so its children go at the runtime's shutdown.
    let group = runtime.block_on(async move {
        let mut group = TaskGroup::new().fail_fast();
        group.spawn(async {
            let _bomb = PanicOnDrop;
            pending::<()>().await;
        });
        for _ in 0..3 {
            group.spawn(parked_forever(counter.clone()));
        }
        yield_now().await;
        group
    });
    drop(runtime);
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
    drop(group);
}

#[test]
fn a_group_joined_on_another_thread_while_its_children_finish_on_their_loop() {
    // The children run on loop A; the group is moved to thread B and joined there, so B may see a child's
    // notification before A has marked the child complete (the handle then parks B until it is).
    let (to_b, from_a) = std::sync::mpsc::channel::<TaskGroup<u32>>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<u32>();
    let joiner = std::thread::spawn(move || {
        let runtime = weft::Runtime::new().unwrap();
        for group in from_a {
            let mut group = group;
            let sum = runtime.block_on(async move {
                let mut sum = 0;
                while let Some(result) = group.join_next().await {
                    sum += result.unwrap();
                }
                sum
            });
            done_tx.send(sum).unwrap();
        }
    });
    let runtime = weft::Runtime::new().unwrap();
    runtime.block_on(async {
        for _ in 0..200 {
            let mut group = TaskGroup::new();
            for i in 0..50u32 {
                group.spawn(async move {
                    for _ in 0..(i % 4) {
                        yield_now().await;
                    }
                    i
                });
            }
            to_b.send(group).unwrap();
            // Keep loop A running its children until B has joined them all.
            loop {
                match done_rx.try_recv() {
                    Ok(sum) => {
                        assert_eq!(sum, (0..50).sum::<u32>());
                        break;
                    }
                    Err(_) => yield_now().await,
                }
            }
        }
    });
    drop(to_b);
    joiner.join().unwrap();
}

#[weft::test]
async fn blocking_children_join_like_the_others_and_fail_fast() {
    let mut group = TaskGroup::new().fail_fast();
    group.spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(5));
        Err::<u32, &str>("blocking failure")
    });
    let dropped = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let dropped = dropped.clone();
        group.spawn(async move {
            parked_forever(dropped).await;
            Ok(0)
        });
    }
    assert_eq!(
        group.join_next().await.unwrap().unwrap(),
        Err("blocking failure")
    );
    let rest = group.join_all().await;
    assert!(rest.iter().all(|r| r.as_ref().unwrap_err().is_cancelled()));
    assert_eq!(dropped.load(Ordering::SeqCst), 3);

    let mut group = TaskGroup::<u8>::new().fail_fast();
    group.spawn_blocking(|| panic!("blocking panic"));
    group.spawn(pending::<u8>());
    let results = group.join_all().await;
    assert_eq!(
        results
            .iter()
            .filter(|r| r.as_ref().is_err_and(|e| e.is_panic()))
            .count(),
        1
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| r.as_ref().is_err_and(|e| e.is_cancelled()))
            .count(),
        1
    );
}

#[weft::test]
async fn named_children_show_their_names_in_the_dump() {
    let mut group = TaskGroup::new();
    let child = group.spawn_named("worker-7", pending::<()>());
    yield_now().await;
    let dump = weft::xray::dump();
    let row = dump
        .tasks()
        .iter()
        .find(|task| task.id == child.id())
        .unwrap();
    assert_eq!(row.name.as_deref(), Some("worker-7"));
    assert!(row.spawned_at.file().ends_with("task_group.rs"));
    group.shutdown().await;
    assert!(group.is_empty());
    assert!(child.is_finished());
}
