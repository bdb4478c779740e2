//! Locks on one loop: Mutex fairness and guards held across `.await`, RwLock, Semaphore, Notify, Barrier.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use weft::sync::{Barrier, Mutex, Notify, RwLock, Semaphore};
use weft::task::yield_now;

#[weft::test]
async fn a_task_that_unlocks_and_relocks_at_once_does_not_starve_a_waiter() {
    let mutex = Arc::new(Mutex::new(()));
    let order = Rc::new(RefCell::new(Vec::new()));
    let hog = weft::spawn({
        let mutex = mutex.clone();
        let order = order.clone();
        async move {
            for _ in 0..100 {
                let _guard = mutex.lock().await;
                order.borrow_mut().push("hog");
                yield_now().await; // holds the lock across an .await, then re-locks at once
            }
        }
    });
    yield_now().await; // the hog holds the lock now
    let waiter = weft::spawn({
        let mutex = mutex.clone();
        let order = order.clone();
        async move {
            // Queued on the lock in this same poll, while the hog holds it.
            order.borrow_mut().push("queued");
            let _guard = mutex.lock().await;
            order.borrow_mut().push("waiter");
        }
    });
    waiter.await.unwrap();
    hog.await.unwrap();
    let order = order.borrow();
    let queued = order.iter().position(|who| *who == "queued").unwrap();
    let got_it = order.iter().position(|who| *who == "waiter").unwrap();
    assert!(
        queued < 90,
        "the hog finished before the waiter queued: test is void"
    );
    assert_eq!(
        got_it,
        queued + 1,
        "the hog re-locked {} times while the waiter waited",
        got_it - queued - 1
    );
}

#[weft::test]
async fn waiters_get_the_mutex_in_the_order_they_asked() {
    let mutex = Arc::new(Mutex::new(Vec::new()));
    let guard = mutex.lock().await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mutex = mutex.clone();
        tasks.push(weft::spawn(async move { mutex.lock().await.push(i) }));
        yield_now().await;
    }
    drop(guard);
    weft::join_all(tasks).await;
    assert_eq!(*mutex.lock().await, (0..10).collect::<Vec<_>>());
}

#[weft::test]
async fn a_guard_held_across_await_excludes_other_tasks() {
    let mutex = Arc::new(Mutex::new(0u32));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let mutex = mutex.clone();
            weft::spawn(async move {
                for _ in 0..50 {
                    let mut guard = mutex.lock().await;
                    let seen = *guard;
                    yield_now().await;
                    *guard = seen + 1; // lost updates would show if two held the lock
                }
            })
        })
        .collect();
    weft::join_all(tasks).await;
    assert_eq!(*mutex.lock().await, 1_000);
}

#[weft::test]
async fn owned_guards_move_into_tasks() {
    let mutex = Arc::new(Mutex::new(String::new()));
    let guard = mutex.clone().lock_owned().await;
    let task = weft::spawn(async move {
        let mut guard = guard;
        guard.push_str("written in a task");
    });
    task.await.unwrap();
    assert_eq!(*mutex.lock().await, "written in a task");
}

#[weft::test]
async fn a_waiting_writer_holds_back_later_readers() {
    let lock = Arc::new(RwLock::new(0));
    let reader = lock.read().await;
    let writer = weft::spawn({
        let lock = lock.clone();
        async move { *lock.write().await = 1 }
    });
    yield_now().await; // the writer waits for `reader`
    assert!(
        lock.try_read().is_err(),
        "a new reader would overtake the writer"
    );
    let late_reader = weft::spawn({
        let lock = lock.clone();
        async move { *lock.read().await }
    });
    yield_now().await;
    drop(reader);
    writer.await.unwrap();
    assert_eq!(
        late_reader.await.unwrap(),
        1,
        "the late reader ran after the writer"
    );
}

#[weft::test]
async fn readers_share_the_lock() {
    let lock = RwLock::new(5);
    let guards: Vec<_> = (0..100).map(|_| lock.try_read().unwrap()).collect();
    assert!(guards.iter().all(|guard| **guard == 5));
    assert!(lock.try_write().is_err());
    drop(guards);
    *lock.write().await += 1;
    assert_eq!(*lock.read().await, 6);
}

#[weft::test]
async fn a_semaphore_limits_concurrency() {
    let semaphore = Arc::new(Semaphore::new(3));
    let running = Rc::new(RefCell::new((0, 0))); // (now, peak)
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let semaphore = semaphore.clone();
            let running = running.clone();
            weft::spawn(async move {
                let _permit = semaphore.acquire().await.unwrap();
                {
                    let mut running = running.borrow_mut();
                    running.0 += 1;
                    running.1 = running.1.max(running.0);
                }
                yield_now().await;
                yield_now().await;
                running.borrow_mut().0 -= 1;
            })
        })
        .collect();
    weft::join_all(tasks).await;
    assert_eq!(running.borrow().1, 3);
    assert_eq!(semaphore.available_permits(), 3);
}

#[weft::test]
async fn a_large_request_is_not_overtaken_by_small_ones() {
    let semaphore = Arc::new(Semaphore::new(2));
    let held = semaphore.acquire().await.unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    let big = weft::spawn({
        let (semaphore, order) = (semaphore.clone(), order.clone());
        async move {
            let _permits = semaphore.acquire_many(2).await.unwrap();
            order.borrow_mut().push("big");
        }
    });
    yield_now().await;
    let small = weft::spawn({
        let (semaphore, order) = (semaphore.clone(), order.clone());
        async move {
            let _permit = semaphore.acquire().await.unwrap(); // one is free, but `big` asked first
            order.borrow_mut().push("small");
        }
    });
    yield_now().await;
    assert!(order.borrow().is_empty());
    drop(held);
    big.await.unwrap();
    small.await.unwrap();
    assert_eq!(*order.borrow(), ["big", "small"]);
}

#[weft::test]
async fn closing_a_semaphore_fails_waiters_and_later_acquires() {
    let semaphore = Arc::new(Semaphore::new(0));
    let waiting = weft::spawn({
        let semaphore = semaphore.clone();
        async move { semaphore.acquire().await.is_err() }
    });
    yield_now().await;
    semaphore.close();
    assert!(waiting.await.unwrap());
    assert!(semaphore.acquire().await.is_err());
    semaphore.add_permits(1);
    assert!(semaphore.try_acquire().is_err(), "closed stays closed");
}

#[weft::test]
async fn notify_one_wakes_waiters_one_at_a_time_in_order() {
    let notify = Arc::new(Notify::new());
    let order = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            let (notify, order) = (notify.clone(), order.clone());
            weft::spawn(async move {
                notify.notified().await;
                order.borrow_mut().push(i);
            })
        })
        .collect();
    yield_now().await;
    for expected_len in 1..=3 {
        notify.notify_one();
        yield_now().await;
        yield_now().await;
        assert_eq!(order.borrow().len(), expected_len);
    }
    weft::join_all(tasks).await;
    assert_eq!(*order.borrow(), [0, 1, 2]);
}

#[weft::test]
async fn notify_waiters_wakes_everyone_waiting_and_stores_nothing() {
    let notify = Arc::new(Notify::new());
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let notify = notify.clone();
            weft::spawn(async move { notify.notified().await })
        })
        .collect();
    yield_now().await;
    notify.notify_waiters();
    weft::join_all(tasks).await;
    let later = weft::spawn({
        let notify = notify.clone();
        async move { notify.notified().await }
    });
    yield_now().await;
    yield_now().await;
    assert!(!later.is_finished(), "notify_waiters stores no permit");
    notify.notify_one();
    later.await.unwrap();
}

#[weft::test]
async fn a_barrier_releases_each_round_together_with_one_leader() {
    let barrier = Arc::new(Barrier::new(4));
    for _round in 0..3 {
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let barrier = barrier.clone();
                weft::spawn(async move { barrier.wait().await.is_leader() })
            })
            .collect();
        let leaders = weft::join_all(tasks)
            .await
            .into_iter()
            .filter(|leader| *leader.as_ref().unwrap())
            .count();
        assert_eq!(leaders, 1);
    }
}

#[test]
fn locks_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Mutex<Vec<u8>>>();
    send_sync::<RwLock<Vec<u8>>>();
    send_sync::<Semaphore>();
    send_sync::<Notify>();
    send_sync::<Barrier>();
    send_sync::<weft::sync::MutexGuard<'static, Vec<u8>>>();
    send_sync::<weft::sync::OwnedMutexGuard<Vec<u8>>>();
    send_sync::<weft::sync::OwnedSemaphorePermit>();
    fn future_is_send<F: std::future::Future + Send>(_: F) {}
    let mutex = Mutex::new(0);
    future_is_send(mutex.lock());
    let semaphore = Semaphore::new(1);
    future_is_send(semaphore.acquire());
    let notify = Notify::new();
    future_is_send(notify.notified());
}
