//! `CancellationToken`: a tree (parents cancel children, never the reverse), clones share one flag, waiters on
//! other threads and other runtimes wake, a dropped middle token hands its children to its parent, and a dropped
//! `cancelled()` future loses nothing.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use weft::sync::CancellationToken;
use weft::task::yield_now;

#[test]
fn parents_cancel_children_never_the_reverse() {
    let root = CancellationToken::new();
    let child = root.child_token();
    let grandchild = child.child_token();
    let sibling = root.child_token();
    grandchild.cancel();
    assert!(grandchild.is_cancelled());
    assert!(!child.is_cancelled() && !root.is_cancelled() && !sibling.is_cancelled());
    child.cancel();
    assert!(!root.is_cancelled() && !sibling.is_cancelled());
    root.cancel();
    assert!(sibling.is_cancelled());
    // A child of a cancelled token starts cancelled.
    assert!(root.child_token().is_cancelled());
    assert!(root.child_token().child_token().is_cancelled());
}

#[test]
fn clones_are_the_same_token() {
    let token = CancellationToken::new();
    let clone = token.clone();
    let child_of_clone = clone.child_token();
    token.cancel();
    assert!(clone.is_cancelled());
    assert!(child_of_clone.is_cancelled());
}

#[test]
fn a_deep_chain_cancels_without_recursion() {
    let root = CancellationToken::new();
    let mut chain = vec![root.child_token()];
    for _ in 0..100_000 {
        let next = chain.last().unwrap().child_token();
        chain.push(next);
    }
    root.cancel();
    assert!(chain.iter().all(CancellationToken::is_cancelled));
    drop(chain); // and dropping it does not recurse either
}

#[test]
fn dropping_a_middle_token_keeps_its_children_under_the_grandparent() {
    let root = CancellationToken::new();
    let middle = root.child_token();
    let leaf = middle.child_token();
    drop(middle);
    assert!(!leaf.is_cancelled());
    root.cancel();
    assert!(leaf.is_cancelled());
}

#[weft::test]
async fn waiters_wake_on_cancel_of_an_ancestor() {
    let root = CancellationToken::new();
    let mut waiters = Vec::new();
    for _ in 0..10 {
        let token = root.child_token().child_token();
        waiters.push(weft::spawn(async move {
            token.cancelled().await;
            token.is_cancelled()
        }));
    }
    yield_now().await;
    assert!(waiters.iter().all(|waiter| !waiter.is_finished()));
    root.cancel();
    for waiter in waiters {
        assert!(waiter.await.unwrap());
    }
    // Already cancelled: at once.
    root.cancelled().await;
}

#[weft::test]
async fn a_dropped_cancelled_future_loses_nothing() {
    let token = CancellationToken::new();
    let lost = weft::select! {
        biased;
        _ = token.cancelled() => false,
        _ = async {} => true,
    };
    assert!(lost);
    token.cancel();
    token.cancelled().await;
}

#[test]
fn cancel_from_another_thread_wakes_tasks_on_other_runtimes() {
    let root = CancellationToken::new();
    let threads = 4;
    let parked = Arc::new(Barrier::new(threads + 1));
    let runners: Vec<_> = (0..threads)
        .map(|_| {
            let token = root.child_token();
            let parked = parked.clone();
            thread::spawn(move || {
                let runtime = weft::Runtime::new().unwrap();
                runtime.block_on(async move {
                    let mut group = weft::task::TaskGroup::new();
                    for _ in 0..8 {
                        group.spawn(token.clone().cancelled_owned());
                    }
                    yield_now().await; // every waiter parks
                    parked.wait();
                    group.join_all().await.len()
                })
            })
        })
        .collect();
    parked.wait();
    thread::sleep(Duration::from_millis(10));
    let cancel = root.clone();
    thread::spawn(move || cancel.cancel()).join().unwrap();
    for runner in runners {
        assert_eq!(runner.join().unwrap(), 8);
    }
}

#[test]
fn many_threads_make_and_drop_children_while_another_cancels() {
    for _ in 0..20 {
        let root = CancellationToken::new();
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let root = root.clone();
                thread::spawn(move || {
                    let mut kept = Vec::new();
                    for i in 0..500 {
                        let child = root.child_token();
                        let grandchild = child.child_token();
                        if i % 3 == 0 {
                            kept.push(grandchild);
                        }
                    }
                    kept
                })
            })
            .collect();
        root.cancel();
        for worker in workers {
            for token in worker.join().unwrap() {
                assert!(token.is_cancelled());
            }
        }
    }
}

#[test]
fn tokens_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<CancellationToken>();
    fn assert_send<T: Send + 'static>(_: T) {}
    assert_send(CancellationToken::new().cancelled_owned());
}

#[weft::test]
async fn a_drop_guard_cancels_when_its_scope_ends() {
    let token = CancellationToken::new();
    let helper = weft::spawn(token.clone().cancelled_owned());
    {
        let _guard = token.clone().drop_guard();
        yield_now().await;
    }
    helper.await.unwrap();
}

#[weft::test]
async fn a_task_waiting_for_cancellation_shows_its_bookmark() {
    let token = CancellationToken::new();
    let waiter = weft::spawn({
        let token = token.clone();
        async move { token.cancelled().await }
    });
    yield_now().await;
    let dump = weft::xray::dump();
    let task = dump
        .tasks()
        .iter()
        .find(|task| task.id == waiter.id())
        .unwrap();
    let bookmark = task.bookmark.as_ref().unwrap();
    assert_eq!(bookmark.label, "CancellationToken::cancelled");
    assert!(bookmark
        .location
        .file()
        .ends_with("sync_cancellation_token.rs"));
    token.cancel();
    waiter.await.unwrap();
}
