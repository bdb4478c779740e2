//! Cancellation safety: dropping a `send` never half-sends, dropping a `recv` never loses a message, and
//! dropping a `lock`/`acquire` never leaks a permit nor blocks the queue (a granted-then-dropped waiter passes
//! its permit on). Each case is checked either with `weft::time::timeout` on the virtual clock or by polling a
//! future once by hand and dropping it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use weft::sync::mpsc::error::TryRecvError;
use weft::sync::{broadcast, mpsc, oneshot, watch, Barrier, Mutex, Notify, RwLock, Semaphore};
use weft::time::timeout;

/// A waker that does nothing.
fn noop_waker() -> Waker {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Noop))
}

/// Polls `future` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    let waker = noop_waker();
    future.poll(&mut Context::from_waker(&waker))
}

/// A boxed future polled once and kept for later: a waiter in line.
fn waiter<'a, T>(future: impl Future<Output = T> + 'a) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    let mut future: Pin<Box<dyn Future<Output = T> + 'a>> = Box::pin(future);
    assert!(poll_once(future.as_mut()).is_pending(), "expected to wait");
    future
}

const SECOND: Duration = Duration::from_secs(1);

#[weft::test(start_paused = true)]
async fn a_timed_out_send_delivers_nothing_and_drops_its_message() {
    let token = Arc::new(());
    let (tx, mut rx) = mpsc::channel(1);
    tx.send(Some(token.clone())).await.unwrap();
    assert!(timeout(SECOND, tx.send(Some(token.clone()))).await.is_err());
    assert_eq!(
        Arc::strong_count(&token),
        2,
        "the cancelled message is dropped"
    );
    assert!(rx.recv().await.unwrap().is_some());
    assert_eq!(
        rx.try_recv().unwrap_err(),
        TryRecvError::Empty,
        "nothing half-sent"
    );
    assert_eq!(tx.capacity(), 1, "no permit leaked");
    tx.send(None).await.unwrap();
    assert_eq!(rx.recv().await, Some(None));
}

#[test]
fn a_send_granted_a_permit_then_dropped_passes_it_on() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let first = waiter(tx.send(1));
    let mut second = waiter(tx.send(2));
    assert_eq!(rx.try_recv(), Ok(0)); // the freed slot is granted to `first`...
    drop(first); // ...which is dropped before it runs: the permit goes to `second`
    assert_eq!(poll_once(second.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(tx.capacity(), 1);
}

#[weft::test(start_paused = true)]
async fn reserve_then_send_keeps_the_message_across_a_timeout() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.send("first").await.unwrap();
    let message = "kept";
    // The wait for room is cancelled; the message was never moved into it.
    assert!(timeout(SECOND, tx.reserve()).await.is_err());
    assert_eq!(tx.capacity(), 0);
    assert_eq!(rx.recv().await, Some("first"));
    let permit = timeout(SECOND, tx.reserve()).await.unwrap().unwrap();
    permit.send(message);
    assert_eq!(rx.recv().await, Some("kept"));
}

#[test]
fn a_reserve_granted_then_dropped_passes_the_permit_on() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let held = tx.try_reserve().unwrap();
    let first = waiter(tx.reserve());
    let mut second = waiter(tx.reserve());
    drop(held); // granted to `first`
    drop(first); // passed to `second`
    let Poll::Ready(Ok(permit)) = poll_once(second.as_mut()) else {
        panic!("the permit was not passed on");
    };
    permit.send(9);
    assert_eq!(rx.try_recv(), Ok(9));
}

#[weft::test(start_paused = true)]
async fn a_timed_out_recv_loses_no_message() {
    let (tx, mut rx) = mpsc::channel(4);
    assert!(timeout(SECOND, rx.recv()).await.is_err());
    tx.send(1).await.unwrap();
    assert_eq!(rx.recv().await, Some(1));

    let (tx, mut rx) = mpsc::unbounded_channel();
    assert!(timeout(SECOND, rx.recv()).await.is_err());
    tx.send(2).unwrap();
    assert_eq!(rx.recv().await, Some(2));
}

#[test]
fn a_recv_polled_then_dropped_leaves_the_message_in_the_channel() {
    let (tx, mut rx) = mpsc::channel(1);
    {
        let recv = waiter(rx.recv());
        tx.try_send(5).unwrap(); // arrives while the recv waits
        drop(recv);
    }
    assert_eq!(rx.try_recv(), Ok(5));
}

#[weft::test(start_paused = true)]
async fn a_timed_out_oneshot_receive_keeps_the_receiver_usable() {
    let (tx, mut rx) = oneshot::channel();
    assert!(timeout(SECOND, &mut rx).await.is_err());
    tx.send("late").unwrap();
    assert_eq!(rx.await, Ok("late"));
}

#[weft::test(start_paused = true)]
async fn a_timed_out_lock_leaves_the_mutex_working() {
    let mutex = Mutex::new(0);
    let guard = mutex.lock().await;
    assert!(timeout(SECOND, mutex.lock()).await.is_err());
    drop(guard);
    *timeout(SECOND, mutex.lock()).await.unwrap() += 1;
    assert_eq!(*mutex.try_lock().unwrap(), 1);
}

#[test]
fn a_lock_granted_then_dropped_passes_the_lock_on() {
    let mutex = Mutex::new(Vec::new());
    let holder = mutex.try_lock().unwrap();
    let first = waiter(mutex.lock());
    let mut second = waiter(mutex.lock());
    drop(holder); // the lock goes to `first`
    assert!(mutex.try_lock().is_err(), "handed over, not freed");
    drop(first); // and on to `second`
    let Poll::Ready(mut guard) = poll_once(second.as_mut()) else {
        panic!("the lock was not passed on");
    };
    guard.push("second");
    drop(guard);
    drop(second);
    assert_eq!(*mutex.try_lock().unwrap(), ["second"]);
}

#[test]
fn a_write_lock_dropped_while_waiting_lets_readers_behind_it_in() {
    let lock = RwLock::new(0);
    let reader = lock.try_read().unwrap();
    let writer = waiter(lock.write());
    let mut late_reader = waiter(lock.read()); // waits behind the writer (FIFO)
    drop(writer);
    assert!(poll_once(late_reader.as_mut()).is_ready());
    drop(reader);
}

#[test]
fn a_write_lock_granted_then_dropped_passes_it_on() {
    let lock = RwLock::new(0);
    let reader = lock.try_read().unwrap();
    let writer = waiter(lock.write());
    let mut next = waiter(lock.write());
    drop(reader); // granted to `writer`
    drop(writer); // passed on to `next`
    let Poll::Ready(mut guard) = poll_once(next.as_mut()) else {
        panic!("the write lock was not passed on");
    };
    *guard = 1;
}

#[weft::test(start_paused = true)]
async fn a_timed_out_acquire_leaks_no_permit() {
    let semaphore = Semaphore::new(2);
    let held = semaphore.acquire_many(2).await.unwrap();
    assert!(timeout(SECOND, semaphore.acquire()).await.is_err());
    drop(held);
    assert_eq!(semaphore.available_permits(), 2);
    assert_eq!(
        timeout(SECOND, semaphore.acquire_many(2))
            .await
            .unwrap()
            .unwrap()
            .num_permits(),
        2
    );
}

#[test]
fn an_acquire_granted_then_dropped_passes_its_permits_on() {
    let semaphore = Semaphore::new(3);
    let held = semaphore.try_acquire_many(3).unwrap();
    let first = waiter(semaphore.acquire_many(2));
    let mut second = waiter(semaphore.acquire_many(3));
    drop(held); // 3 free: `first` is granted 2, `second` still needs 3
    assert_eq!(semaphore.available_permits(), 1);
    drop(first); // its 2 come back: `second` gets all 3
    let Poll::Ready(Ok(permit)) = poll_once(second.as_mut()) else {
        panic!("the permits were not passed on");
    };
    assert_eq!(permit.num_permits(), 3);
    drop(permit);
    drop(second);
    assert_eq!(semaphore.available_permits(), 3);
}

#[test]
fn a_big_waiter_dropped_from_the_front_unblocks_small_ones_behind_it() {
    let semaphore = Semaphore::new(1);
    let big = waiter(semaphore.acquire_many(2)); // 1 free, needs 2: waits at the front
    let mut small = waiter(semaphore.acquire()); // fits, but waits behind `big` (FIFO)
    drop(big);
    assert!(matches!(poll_once(small.as_mut()), Poll::Ready(Ok(_))));
}

#[test]
fn close_fails_waiting_acquires() {
    let semaphore = Semaphore::new(0);
    let mut waiting = waiter(semaphore.acquire());
    semaphore.close();
    assert!(matches!(poll_once(waiting.as_mut()), Poll::Ready(Err(_))));
}

#[test]
fn a_notification_handed_to_a_dropped_waiter_goes_to_the_next() {
    let notify = Notify::new();
    let first = waiter(notify.notified());
    let mut second = waiter(notify.notified());
    notify.notify_one(); // to `first`
    drop(first); // passed on to `second`
    assert!(poll_once(second.as_mut()).is_ready());
    // And nothing is stored beyond that one notification.
    let mut third = Box::pin(notify.notified());
    assert!(poll_once(third.as_mut()).is_pending());
}

#[weft::test(start_paused = true)]
async fn a_timed_out_notified_does_not_eat_a_later_notification() {
    let notify = Notify::new();
    assert!(timeout(SECOND, notify.notified()).await.is_err());
    notify.notify_one();
    timeout(SECOND, notify.notified()).await.unwrap();
}

#[weft::test(start_paused = true)]
async fn a_timed_out_watch_changed_still_reports_the_change_later() {
    let (tx, mut rx) = watch::channel(0);
    assert!(timeout(SECOND, rx.changed()).await.is_err());
    tx.send(1).unwrap();
    timeout(SECOND, rx.changed()).await.unwrap().unwrap();
    assert_eq!(*rx.borrow(), 1);
}

#[weft::test(start_paused = true)]
async fn a_timed_out_broadcast_recv_loses_no_message() {
    let (tx, mut rx) = broadcast::channel(4);
    assert!(timeout(SECOND, rx.recv()).await.is_err());
    tx.send(1).unwrap();
    assert_eq!(timeout(SECOND, rx.recv()).await.unwrap(), Ok(1));
}

#[weft::test(start_paused = true)]
async fn a_cancelled_barrier_wait_takes_its_arrival_back() {
    let barrier = Barrier::new(2);
    assert!(timeout(SECOND, barrier.wait()).await.is_err());
    // Had the cancelled arrival counted, this one would complete the round alone.
    assert!(timeout(SECOND, barrier.wait()).await.is_err());
    let (a, b) = weft::join!(barrier.wait(), barrier.wait());
    assert!(a.is_leader() != b.is_leader());
}

#[test]
fn a_send_granted_room_after_which_the_receiver_goes_gets_its_message_back() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let mut waiting = waiter(tx.send(1));
    assert_eq!(rx.try_recv(), Ok(0)); // room granted to `waiting`...
    drop(rx); // ...but the receiver goes before it runs
    match poll_once(waiting.as_mut()) {
        Poll::Ready(Err(error)) => assert_eq!(error.0, 1),
        other => panic!("expected the message back, got {other:?}"),
    }
}
