//! The bookmarks of the sync leaf futures: a task parked on a channel, lock, semaphore, `Notify` or barrier
//! shows the operation's label and the line of the test that awaited it (for a oneshot receiver, which is its
//! own future, the line of `oneshot::channel`), is reported `Parked`, and leaves the dump once released.
//!
//! Each waiting call is written as `noted(line!(), call)`, which notes the line it is on; `assert_parked` also
//! checks that this line of this file holds the call, so a reformatting that moves it fails loudly.

mod common;

use std::cell::Cell;
use std::future::{pending, poll_fn};
use std::sync::Arc;

use weft::sync::{broadcast, mpsc, oneshot, watch, Barrier, Mutex, Notify, RwLock, Semaphore};
use weft::task::Id;
use weft::xray::{Dump, TaskInfo, TaskState};
use weft::JoinHandle;

/// This file, to check that a recorded line holds the call it is meant to.
const SOURCE: &str = include_str!("xray_bookmarks_sync.rs");

thread_local! {
    /// The line noted by the latest [`noted`] on this thread (each test runs its loop on its own thread).
    static NOTED_LINE: Cell<u32> = const { Cell::new(0) };
}

/// Notes `line` (the caller's `line!()`, on the line of the call that made `value`) and passes `value` on.
fn noted<T>(line: u32, value: T) -> T {
    NOTED_LINE.set(line);
    value
}

/// Lets every spawned task run to its bookmark.
async fn settle() {
    for _ in 0..3 {
        weft::task::yield_now().await;
    }
}

/// The task `id` in `dump`, if listed.
fn find(dump: &Dump, id: Id) -> Option<&TaskInfo> {
    dump.tasks().iter().find(|task| task.id == id)
}

/// Checks that the task `id` is parked with the bookmark `label` at the line last [`noted`], a line of this file
/// that holds `call`.
fn assert_parked(id: Id, label: &str, call: &str) {
    let line = NOTED_LINE.get();
    let source_line = SOURCE.lines().nth(line as usize - 1).unwrap_or_default();
    assert!(
        source_line.contains(call),
        "line {line} should hold `{call}`: {source_line:?}"
    );
    let dump = weft::xray::dump();
    let task = find(&dump, id).unwrap_or_else(|| panic!("task {id} not in the dump:\n{dump}"));
    assert_eq!(task.state, TaskState::Parked, "{dump}");
    let bookmark = task
        .bookmark
        .as_ref()
        .unwrap_or_else(|| panic!("task {id} has no bookmark:\n{dump}"));
    assert_eq!(bookmark.label, label, "{bookmark}");
    assert_eq!(bookmark.location.line(), line, "{bookmark}");
    assert!(
        bookmark.location.file().ends_with("xray_bookmarks_sync.rs"),
        "{bookmark}"
    );
}

/// Awaits the released `task` and checks that a new dump no longer lists it.
async fn assert_done<T>(task: JoinHandle<T>) -> T {
    let id = task.id();
    let output = task.await.unwrap();
    let dump = weft::xray::dump();
    assert!(find(&dump, id).is_none(), "task {id} still listed:\n{dump}");
    output
}

#[test]
fn mpsc_recv() {
    common::run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(4);
        let task = weft::spawn(async move { noted(line!(), rx.recv()).await });
        settle().await;
        assert_parked(task.id(), "mpsc::recv", "rx.recv()");
        tx.send(7).await.unwrap();
        assert_eq!(assert_done(task).await, Some(7));
    });
}

#[test]
fn mpsc_unbounded_recv() {
    common::run(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
        let task = weft::spawn(async move { noted(line!(), rx.recv()).await });
        settle().await;
        assert_parked(task.id(), "mpsc::recv", "rx.recv()");
        drop(tx);
        assert_eq!(assert_done(task).await, None);
    });
}

#[test]
fn mpsc_poll_recv_bookmarks_its_caller() {
    common::run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let task = weft::spawn(async move { poll_fn(|cx| noted(line!(), rx.poll_recv(cx))).await });
        settle().await;
        assert_parked(task.id(), "mpsc::recv", "rx.poll_recv(cx)");
        tx.try_send(1).unwrap();
        assert_eq!(assert_done(task).await, Some(1));
    });
}

#[test]
fn mpsc_send_when_full() {
    common::run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        tx.try_send(1).unwrap();
        let task = weft::spawn(async move { noted(line!(), tx.send(2)).await.is_ok() });
        settle().await;
        assert_parked(task.id(), "mpsc::send", "tx.send(2)");
        assert_eq!(rx.recv().await, Some(1));
        assert!(assert_done(task).await);
        assert_eq!(rx.recv().await, Some(2));
    });
}

#[test]
fn mpsc_reserve() {
    common::run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        tx.try_send(1).unwrap();
        let task =
            weft::spawn(async move { noted(line!(), tx.reserve()).await.map(|p| p.send(2)) });
        settle().await;
        assert_parked(task.id(), "mpsc::send", "tx.reserve()");
        assert_eq!(rx.recv().await, Some(1));
        assert_done(task).await.unwrap();
        assert_eq!(rx.recv().await, Some(2));
    });
}

#[test]
fn mpsc_reserve_owned() {
    common::run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        tx.try_send(1).unwrap();
        let task = weft::spawn(async move { noted(line!(), tx.reserve_owned()).await.is_ok() });
        settle().await;
        assert_parked(task.id(), "mpsc::send", "tx.reserve_owned()");
        assert_eq!(rx.recv().await, Some(1));
        assert!(assert_done(task).await);
    });
}

#[test]
fn oneshot_receiver_bookmarks_the_channel_line() {
    common::run(async {
        let (tx, rx) = noted(line!(), oneshot::channel::<u32>());
        let task = weft::spawn(rx);
        settle().await;
        assert_parked(task.id(), "oneshot::recv", "oneshot::channel::<u32>()");
        tx.send(5).unwrap();
        assert_eq!(assert_done(task).await, Ok(5));
    });
}

#[test]
fn oneshot_sender_closed() {
    common::run(async {
        let (mut tx, rx) = oneshot::channel::<u32>();
        let task = weft::spawn(async move { noted(line!(), tx.closed()).await });
        settle().await;
        assert_parked(task.id(), "oneshot::closed", "tx.closed()");
        drop(rx);
        assert_done(task).await;
    });
}

#[test]
fn mpsc_sender_closed() {
    common::run(async {
        let (tx, rx) = mpsc::channel::<u32>(1);
        let task = weft::spawn(async move { noted(line!(), tx.closed()).await });
        settle().await;
        assert_parked(task.id(), "mpsc::closed", "tx.closed()");
        drop(rx);
        assert_done(task).await;
    });
}

#[test]
fn mpsc_unbounded_sender_closed() {
    common::run(async {
        let (tx, rx) = mpsc::unbounded_channel::<u32>();
        let task = weft::spawn(async move { noted(line!(), tx.closed()).await });
        settle().await;
        assert_parked(task.id(), "mpsc::closed", "tx.closed()");
        drop(rx);
        assert_done(task).await;
    });
}

#[test]
fn watch_sender_closed() {
    common::run(async {
        let (tx, rx) = watch::channel(0u32);
        let task = weft::spawn(async move { noted(line!(), tx.closed()).await });
        settle().await;
        assert_parked(task.id(), "watch::closed", "tx.closed()");
        drop(rx);
        assert_done(task).await;
    });
}

#[test]
fn oneshot_poll_closed_bookmarks_its_caller() {
    common::run(async {
        let (mut tx, mut rx) = oneshot::channel::<u32>();
        let task =
            weft::spawn(async move { poll_fn(|cx| noted(line!(), tx.poll_closed(cx))).await });
        settle().await;
        assert_parked(task.id(), "oneshot::closed", "tx.poll_closed(cx)");
        rx.close();
        assert_done(task).await;
    });
}

#[test]
fn watch_changed() {
    common::run(async {
        let (tx, mut rx) = watch::channel(0);
        let task = weft::spawn(async move { noted(line!(), rx.changed()).await.is_ok() });
        settle().await;
        assert_parked(task.id(), "watch::changed", "rx.changed()");
        tx.send(1).unwrap();
        assert!(assert_done(task).await);
    });
}

#[test]
fn broadcast_recv() {
    common::run(async {
        let (tx, mut rx) = broadcast::channel::<u32>(4);
        let task = weft::spawn(async move { noted(line!(), rx.recv()).await });
        settle().await;
        assert_parked(task.id(), "broadcast::recv", "rx.recv()");
        tx.send(3).unwrap();
        assert_eq!(assert_done(task).await, Ok(3));
    });
}

#[test]
fn mutex_lock() {
    common::run(async {
        let mutex = Arc::new(Mutex::new(0));
        let guard = mutex.lock().await;
        let waiter = mutex.clone();
        let task = weft::spawn(async move { *noted(line!(), waiter.lock()).await += 1 });
        settle().await;
        assert_parked(task.id(), "Mutex::lock", "waiter.lock()");
        drop(guard);
        assert_done(task).await;
        assert_eq!(*mutex.lock().await, 1);
    });
}

#[test]
fn mutex_lock_owned() {
    common::run(async {
        let mutex = Arc::new(Mutex::new(0));
        let guard = mutex.lock().await;
        let waiter = mutex.clone();
        let task = weft::spawn(async move { *noted(line!(), waiter.lock_owned()).await += 1 });
        settle().await;
        assert_parked(task.id(), "Mutex::lock", "waiter.lock_owned()");
        drop(guard);
        assert_done(task).await;
        assert_eq!(*mutex.lock().await, 1);
    });
}

#[test]
fn rwlock_read() {
    common::run(async {
        let lock = Arc::new(RwLock::new(1));
        let writer = lock.write().await;
        let reader = lock.clone();
        let task = weft::spawn(async move { *noted(line!(), reader.read()).await });
        settle().await;
        assert_parked(task.id(), "RwLock::read", "reader.read()");
        drop(writer);
        assert_eq!(assert_done(task).await, 1);
    });
}

#[test]
fn rwlock_write() {
    common::run(async {
        let lock = Arc::new(RwLock::new(1));
        let reader = lock.read().await;
        let writer = lock.clone();
        let task = weft::spawn(async move { *noted(line!(), writer.write()).await += 1 });
        settle().await;
        assert_parked(task.id(), "RwLock::write", "writer.write()");
        drop(reader);
        assert_done(task).await;
        assert_eq!(*lock.read().await, 2);
    });
}

#[test]
fn semaphore_acquire() {
    common::run(async {
        let semaphore = Arc::new(Semaphore::new(0));
        let waiter = semaphore.clone();
        let task = weft::spawn(async move { noted(line!(), waiter.acquire()).await.is_ok() });
        settle().await;
        assert_parked(task.id(), "Semaphore::acquire", "waiter.acquire()");
        semaphore.add_permits(1);
        assert!(assert_done(task).await);
    });
}

#[test]
fn semaphore_acquire_many() {
    common::run(async {
        let semaphore = Arc::new(Semaphore::new(1));
        let waiter = semaphore.clone();
        let task = weft::spawn(async move { noted(line!(), waiter.acquire_many(3)).await.is_ok() });
        settle().await;
        assert_parked(task.id(), "Semaphore::acquire", "waiter.acquire_many(3)");
        semaphore.add_permits(2);
        assert!(assert_done(task).await);
    });
}

#[test]
fn semaphore_acquire_owned() {
    common::run(async {
        let semaphore = Arc::new(Semaphore::new(0));
        let waiter = semaphore.clone();
        let task = weft::spawn(async move { noted(line!(), waiter.acquire_owned()).await.is_ok() });
        settle().await;
        assert_parked(task.id(), "Semaphore::acquire", "waiter.acquire_owned()");
        semaphore.add_permits(1);
        assert!(assert_done(task).await);
    });
}

#[test]
fn semaphore_acquire_many_owned() {
    common::run(async {
        let semaphore = Arc::new(Semaphore::new(0));
        let waiter = semaphore.clone();
        let task =
            weft::spawn(async move { noted(line!(), waiter.acquire_many_owned(2)).await.is_ok() });
        settle().await;
        assert_parked(
            task.id(),
            "Semaphore::acquire",
            "waiter.acquire_many_owned(2)",
        );
        semaphore.add_permits(2);
        assert!(assert_done(task).await);
    });
}

#[test]
fn semaphore_closed_while_waiting() {
    common::run(async {
        let semaphore = Arc::new(Semaphore::new(0));
        let waiter = semaphore.clone();
        let task = weft::spawn(async move { noted(line!(), waiter.acquire()).await.is_err() });
        settle().await;
        assert_parked(task.id(), "Semaphore::acquire", "waiter.acquire()");
        semaphore.close();
        assert!(assert_done(task).await);
    });
}

#[test]
fn notify_notified() {
    common::run(async {
        let notify = Arc::new(Notify::new());
        let waiter = notify.clone();
        let task = weft::spawn(async move { noted(line!(), waiter.notified()).await });
        settle().await;
        assert_parked(task.id(), "Notify::notified", "waiter.notified()");
        notify.notify_one();
        assert_done(task).await;
    });
}

#[test]
fn barrier_wait() {
    common::run(async {
        let barrier = Arc::new(Barrier::new(2));
        let waiter = barrier.clone();
        let task = weft::spawn(async move { noted(line!(), waiter.wait()).await.is_leader() });
        settle().await;
        assert_parked(task.id(), "Barrier::wait", "waiter.wait()");
        let leader = barrier.wait().await.is_leader();
        assert!(leader ^ assert_done(task).await, "exactly one leader");
    });
}

#[test]
fn operations_that_complete_at_once_leave_no_bookmark() {
    common::run(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(1).unwrap();
        let mutex = Arc::new(Mutex::new(()));
        let semaphore = Arc::new(Semaphore::new(1));
        let notify = Arc::new(Notify::new());
        notify.notify_one();
        let (mutex2, semaphore2, notify2) = (mutex.clone(), semaphore.clone(), notify.clone());
        let task = weft::spawn(async move {
            assert_eq!(rx.recv().await, Some(1));
            drop(mutex2.lock().await);
            drop(semaphore2.acquire().await.unwrap());
            notify2.notified().await;
            // Parks outside weft: nothing may have left a bookmark on the way here.
            pending::<()>().await;
        });
        settle().await;
        let dump = weft::xray::dump();
        let info = find(&dump, task.id()).expect("the task is alive");
        assert_eq!(info.state, TaskState::Parked);
        assert_eq!(info.bookmark, None, "{dump}");
        task.abort();
        drop(tx);
    });
}
