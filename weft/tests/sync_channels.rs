//! Channels on one loop: mpsc ordering, capacity, close and drop; oneshot, watch and broadcast semantics.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use weft::sync::mpsc::error::{TryRecvError, TrySendError};
use weft::sync::{broadcast, mpsc, oneshot, watch};
use weft::task::yield_now;
use weft::time::sleep;

/// A waker that does nothing, to poll a future by hand.
fn noop_waker() -> Waker {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Noop))
}

/// Lets every other task run until the loop is idle (the virtual clock only moves when all are waiting).
async fn settle() {
    sleep(Duration::from_millis(1)).await;
}

#[weft::test]
async fn messages_of_each_producer_arrive_in_order_with_many_producers() {
    const PRODUCERS: usize = 8;
    const EACH: u32 = 2_000;
    let (tx, mut rx) = mpsc::channel(4);
    for producer in 0..PRODUCERS {
        let tx = tx.clone();
        weft::spawn(async move {
            for seq in 0..EACH {
                tx.send((producer, seq)).await.unwrap();
                if seq % 7 == 0 {
                    yield_now().await;
                }
            }
        });
    }
    drop(tx);
    let mut next = [0u32; PRODUCERS];
    let mut total = 0;
    while let Some((producer, seq)) = rx.recv().await {
        assert_eq!(seq, next[producer], "producer {producer} out of order");
        next[producer] += 1;
        total += 1;
    }
    assert_eq!(total, PRODUCERS * EACH as usize);
}

#[weft::test(start_paused = true)]
async fn no_send_completes_beyond_the_capacity() {
    let (tx, mut rx) = mpsc::channel(3);
    let sent = Rc::new(Cell::new(0));
    let producer = weft::spawn({
        let sent = sent.clone();
        async move {
            for i in 0..10 {
                tx.send(i).await.unwrap();
                sent.set(sent.get() + 1);
            }
        }
    });
    settle().await;
    assert_eq!(
        sent.get(),
        3,
        "exactly the capacity is sent without a receive"
    );
    for expected in 0..7 {
        assert_eq!(rx.recv().await, Some(expected));
        settle().await;
        assert_eq!(
            sent.get(),
            4 + expected,
            "one receive makes room for one send"
        );
        assert_eq!(rx.len(), 3);
    }
    for expected in 7..10 {
        assert_eq!(rx.recv().await, Some(expected));
    }
    assert_eq!(rx.recv().await, None);
    producer.await.unwrap();
}

#[weft::test]
async fn try_send_and_reserve_count_against_the_capacity() {
    let (tx, mut rx) = mpsc::channel(2);
    let permit = tx.reserve().await.unwrap();
    tx.try_send(1).unwrap();
    assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    assert_eq!(tx.capacity(), 0);
    permit.send(0);
    assert_eq!(rx.recv().await, Some(1)); // the reserved slot was used after 1 was sent
    assert_eq!(rx.recv().await, Some(0));
    assert_eq!(tx.capacity(), 2);
    let permit = tx.try_reserve().unwrap();
    drop(permit); // unused permits give the room back
    assert_eq!(tx.capacity(), 2);
}

#[weft::test]
async fn recv_gives_none_once_every_sender_is_gone_and_it_is_empty() {
    let (tx, mut rx) = mpsc::channel(4);
    let tx2 = tx.clone();
    tx.send(1).await.unwrap();
    drop(tx);
    tx2.send(2).await.unwrap();
    drop(tx2);
    assert_eq!(rx.recv().await, Some(1));
    assert_eq!(rx.recv().await, Some(2));
    assert_eq!(rx.recv().await, None);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[weft::test]
async fn a_waiting_receiver_is_woken_when_the_last_sender_goes() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let receiver = weft::spawn(async move { rx.recv().await });
    yield_now().await;
    drop(tx);
    assert_eq!(receiver.await.unwrap(), None);
}

#[weft::test]
async fn close_refuses_new_messages_but_delivers_those_sent_and_reserved() {
    let (tx, mut rx) = mpsc::channel(4);
    tx.send(1).await.unwrap();
    let permit = tx.reserve().await.unwrap();
    rx.close();
    assert!(tx.is_closed());
    assert!(tx.send(2).await.is_err());
    assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    assert!(tx.reserve().await.is_err());
    assert_eq!(rx.recv().await, Some(1));
    // A permit reserved before the close may still send: the receiver waits for it.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let receiver = weft::spawn(async move {
        let first = rx.recv().await;
        (first, rx.recv().await)
    });
    yield_now().await;
    permit.send(4);
    assert_eq!(receiver.await.unwrap(), (Some(4), None));
}

#[weft::test]
async fn close_with_an_unused_permit_ends_when_the_permit_is_dropped() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let permit = tx.reserve_owned().await.unwrap();
    rx.close();
    let receiver = weft::spawn(async move { rx.recv().await });
    yield_now().await;
    assert!(!receiver.is_finished());
    drop(permit);
    assert_eq!(receiver.await.unwrap(), None);
}

#[weft::test]
async fn dropping_the_receiver_fails_waiting_senders_and_drops_buffered_messages() {
    let token = Arc::new(());
    let (tx, rx) = mpsc::channel(1);
    tx.send(token.clone()).await.unwrap();
    let blocked = weft::spawn({
        let tx = tx.clone();
        let token = token.clone();
        async move { tx.send(token).await.is_err() }
    });
    let closed = weft::spawn({
        let tx = tx.clone();
        async move { tx.closed().await }
    });
    yield_now().await;
    assert_eq!(Arc::strong_count(&token), 3);
    drop(rx);
    assert!(blocked.await.unwrap(), "a sender waiting for room fails");
    closed.await.unwrap();
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "buffered and refused messages are dropped"
    );
    let error = tx.send(token.clone()).await.unwrap_err();
    assert!(Arc::ptr_eq(&error.0, &token), "the message is given back");
}

#[weft::test]
async fn waiting_senders_get_room_in_the_order_they_asked() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.send(0).await.unwrap();
    for i in 1..=5 {
        let tx = tx.clone();
        weft::spawn(async move { tx.send(i).await.unwrap() });
        yield_now().await; // each one starts waiting before the next is spawned
    }
    drop(tx);
    let mut got = Vec::new();
    while let Some(i) = rx.recv().await {
        got.push(i);
    }
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
}

#[weft::test]
async fn unbounded_channel_never_waits_and_ends_when_senders_go() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for i in 0..10_000 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.len(), 10_000);
    drop(tx);
    for i in 0..10_000 {
        assert_eq!(rx.recv().await, Some(i));
    }
    assert_eq!(rx.recv().await, None);
}

#[weft::test]
async fn receivers_are_streams() {
    use futures_core::Stream;

    let (tx, mut rx) = mpsc::channel(2);
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    drop(tx);
    let mut got = Vec::new();
    while let Some(item) = poll_fn(|cx| std::pin::Pin::new(&mut rx).poll_next(cx)).await {
        got.push(item);
    }
    assert_eq!(got, [1, 2]);
}

#[test]
fn senders_and_receivers_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<mpsc::Sender<String>>();
    send_sync::<mpsc::Receiver<String>>();
    send_sync::<mpsc::UnboundedSender<String>>();
    send_sync::<mpsc::Permit<'static, String>>();
    send_sync::<oneshot::Sender<String>>();
    send_sync::<oneshot::Receiver<String>>();
    send_sync::<watch::Sender<String>>();
    send_sync::<watch::Receiver<String>>();
    send_sync::<broadcast::Sender<String>>();
    send_sync::<broadcast::Receiver<String>>();
    fn future_is_send<F: Future + Send>(_: F) {}
    let (tx, mut rx) = mpsc::channel::<String>(1);
    future_is_send(tx.send(String::new()));
    future_is_send(tx.reserve());
    future_is_send(rx.recv());
}

#[weft::test]
async fn oneshot_delivers_once_and_reports_a_dropped_sender() {
    let (tx, rx) = oneshot::channel();
    weft::spawn(async move { tx.send("reply").unwrap() });
    assert_eq!(rx.await, Ok("reply"));

    let (tx, rx) = oneshot::channel::<u8>();
    let receiver = weft::spawn(rx);
    yield_now().await;
    drop(tx);
    assert!(receiver.await.unwrap().is_err());
}

#[weft::test]
async fn oneshot_sender_learns_the_receiver_is_gone() {
    let (mut tx, rx) = oneshot::channel::<u8>();
    let waiting = weft::spawn(async move {
        tx.closed().await;
        tx.send(1)
    });
    yield_now().await;
    drop(rx);
    assert_eq!(waiting.await.unwrap(), Err(1));
}

#[test]
fn oneshot_receiver_polled_and_left_keeps_the_value() {
    let (tx, mut rx) = oneshot::channel();
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(std::pin::Pin::new(&mut rx).poll(&mut cx).is_pending());
    tx.send(5).unwrap();
    assert_eq!(
        std::pin::Pin::new(&mut rx).poll(&mut cx),
        Poll::Ready(Ok(5))
    );
}

#[weft::test]
async fn watch_keeps_the_latest_value_and_reports_changes() {
    let (tx, mut rx) = watch::channel(0);
    let mut rx2 = rx.clone();
    assert!(!rx.has_changed().unwrap());
    let watcher = weft::spawn(async move {
        let mut seen = Vec::new();
        while rx2.changed().await.is_ok() {
            seen.push(*rx2.borrow_and_update());
        }
        seen
    });
    yield_now().await;
    tx.send(1).unwrap();
    tx.send(2).unwrap(); // before the watcher runs: it sees only the latest
    yield_now().await;
    tx.send_modify(|value| *value += 1);
    yield_now().await;
    assert_eq!(*rx.borrow(), 3);
    rx.changed().await.unwrap();
    assert!(!rx.has_changed().unwrap());
    drop(tx);
    assert_eq!(watcher.await.unwrap(), [2, 3]);
    assert!(rx.changed().await.is_err());
}

#[weft::test]
async fn watch_sender_closed_completes_when_receivers_are_gone() {
    let (tx, rx) = watch::channel(());
    let rx2 = tx.subscribe();
    assert_eq!(tx.receiver_count(), 2);
    let closed = weft::spawn(async move { tx.closed().await });
    yield_now().await;
    drop(rx);
    yield_now().await;
    assert!(!closed.is_finished());
    drop(rx2);
    closed.await.unwrap();
}

#[weft::test]
async fn broadcast_gives_every_receiver_every_message() {
    let (tx, mut a) = broadcast::channel(8);
    let mut b = tx.subscribe();
    let reader = weft::spawn(async move {
        let mut got = Vec::new();
        while let Ok(message) = b.recv().await {
            got.push(message);
        }
        got
    });
    for i in 0..5 {
        assert_eq!(tx.send(i).unwrap(), 2);
        yield_now().await;
    }
    drop(tx);
    let mut got = Vec::new();
    while let Ok(message) = a.recv().await {
        got.push(message);
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert_eq!(reader.await.unwrap(), [0, 1, 2, 3, 4]);
}

#[weft::test]
async fn broadcast_tells_a_lagging_receiver_how_many_it_missed() {
    use weft::sync::broadcast::error::RecvError;

    let (tx, mut slow) = broadcast::channel(3);
    let mut fast = tx.subscribe();
    for i in 0..10 {
        tx.send(i).unwrap();
        assert_eq!(fast.recv().await, Ok(i));
    }
    assert_eq!(slow.recv().await, Err(RecvError::Lagged(7)));
    assert_eq!(slow.recv().await, Ok(7));
    assert_eq!(slow.recv().await, Ok(8));
    assert_eq!(slow.recv().await, Ok(9));
    drop(tx);
    assert_eq!(slow.recv().await, Err(RecvError::Closed));
}

#[test]
fn broadcast_send_with_no_receiver_gives_the_message_back() {
    let (tx, rx) = broadcast::channel(1);
    drop(rx);
    assert_eq!(tx.send(1).unwrap_err().0, 1);
    let mut late = tx.subscribe();
    tx.send(2).unwrap();
    assert_eq!(late.try_recv(), Ok(2));
}

#[test]
fn channels_work_without_a_runtime_for_their_non_async_parts() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    let fut = pin!(rx.recv());
    let waker = noop_waker();
    assert!(fut.poll(&mut Context::from_waker(&waker)).is_pending());
}
