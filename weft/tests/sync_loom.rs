//! Loom models of the cross-thread wake of mpsc and oneshot: every interleaving (up to the preemption bound)
//! of a sender and a receiver on two threads must deliver every message, in order, and never lose a wake
//! (a lost wake shows up as a deadlock, which loom reports). Also the cancellation-token tree: a cancel racing
//! a waiter, a child's drop, or a child being made never misses a descendant.
//!
//! Built only with `--cfg loom`, where weft's `sync` module takes its `Arc`, `Mutex` and atomics from loom:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p weft --test sync_loom --release
//! ```
//!
//! With 3 preemptions the models take seconds; 4 takes about two minutes. Use a separate target directory
//! (`CARGO_TARGET_DIR`), since `--cfg loom` rebuilds every crate.

#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use weft::sync::{mpsc, oneshot, CancellationToken};

/// Runs `model` under loom, with a preemption bound of 3 unless `LOOM_MAX_PREEMPTIONS` sets one.
fn check(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(model);
}

#[test]
fn mpsc_bounded_send_and_recv_across_threads() {
    check(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let producer = thread::spawn(move || {
            block_on(async {
                tx.send(1).await.unwrap();
                tx.send(2).await.unwrap(); // waits for room: the receiver's recv must wake it
            })
        });
        block_on(async {
            assert_eq!(rx.recv().await, Some(1));
            assert_eq!(rx.recv().await, Some(2));
            assert_eq!(rx.recv().await, None); // the producer's drop must wake us
        });
        producer.join().unwrap();
    });
}

#[test]
fn mpsc_two_senders_on_two_threads() {
    check(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let tx2 = tx.clone();
        let first = thread::spawn(move || block_on(async { tx.send(1).await.unwrap() }));
        let second = thread::spawn(move || block_on(async { tx2.send(2).await.unwrap() }));
        let mut got = block_on(async {
            let a = rx.recv().await.unwrap();
            let b = rx.recv().await.unwrap();
            assert_eq!(rx.recv().await, None);
            vec![a, b]
        });
        got.sort();
        assert_eq!(got, [1, 2]);
        first.join().unwrap();
        second.join().unwrap();
    });
}

#[test]
fn mpsc_receiver_dropped_while_a_sender_waits() {
    check(|| {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let producer = thread::spawn(move || {
            // Either it gets room (the receiver took 0 first) or it fails: it never hangs.
            block_on(async { tx.send(1).await.is_ok() })
        });
        let received = rx.try_recv().is_ok();
        drop(rx);
        let sent = producer.join().unwrap();
        assert!(received || !sent);
    });
}

#[test]
fn mpsc_unbounded_send_wakes_the_receiver() {
    check(|| {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let producer = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        block_on(async {
            assert_eq!(rx.recv().await, Some(1));
            assert_eq!(rx.recv().await, Some(2));
            assert_eq!(rx.recv().await, None);
        });
        producer.join().unwrap();
    });
}

#[test]
fn oneshot_send_wakes_the_receiver() {
    check(|| {
        let (tx, rx) = oneshot::channel();
        let sender = thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(block_on(rx), Ok(7));
        sender.join().unwrap();
    });
}

#[test]
fn oneshot_sender_dropped_wakes_the_receiver() {
    check(|| {
        let (tx, rx) = oneshot::channel::<u8>();
        let sender = thread::spawn(move || drop(tx));
        assert!(block_on(rx).is_err());
        sender.join().unwrap();
    });
}

#[test]
fn oneshot_receiver_dropped_wakes_closed() {
    check(|| {
        let (mut tx, rx) = oneshot::channel::<u8>();
        let receiver = thread::spawn(move || drop(rx));
        block_on(tx.closed());
        assert_eq!(tx.send(1), Err(1));
        receiver.join().unwrap();
    });
}

#[test]
fn oneshot_send_races_receiver_drop_without_leaking() {
    check(|| {
        let value = loom::sync::Arc::new(());
        let (tx, rx) = oneshot::channel();
        let sender = thread::spawn({
            let value = value.clone();
            move || tx.send(value).is_ok()
        });
        drop(rx);
        sender.join().unwrap();
        // Whoever lost the race dropped the value: nothing leaks.
        assert_eq!(loom::sync::Arc::strong_count(&value), 1);
    });
}

#[test]
fn oneshot_receiver_changes_its_waker_while_the_value_arrives() {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    check(|| {
        let (tx, mut rx) = oneshot::channel();
        // Registered with one waker...
        let noop = Waker::from(Arc::new(Noop));
        let first = std::pin::Pin::new(&mut rx).poll(&mut Context::from_waker(&noop));
        let sender = thread::spawn(move || tx.send(3).unwrap());
        // ...then awaited with another, racing the send: the new one must be woken.
        let value = match first {
            std::task::Poll::Ready(result) => result.unwrap(),
            std::task::Poll::Pending => block_on(rx).unwrap(),
        };
        assert_eq!(value, 3);
        sender.join().unwrap();
    });
}

#[test]
fn oneshot_close_races_send() {
    check(|| {
        let (tx, mut rx) = oneshot::channel();
        let sender = thread::spawn(move || tx.send(5).is_ok());
        rx.close();
        let received = rx.try_recv().ok();
        let sent = sender.join().unwrap();
        // A value is either delivered (sent before the close) or handed back, never both, never lost.
        assert_eq!(sent, received == Some(5));
    });
}

#[test]
fn mutex_hand_off_between_threads() {
    use weft::sync::Mutex;
    check(|| {
        let mutex = loom::sync::Arc::new(Mutex::new(0));
        let other = thread::spawn({
            let mutex = mutex.clone();
            move || block_on(async { *mutex.lock().await += 1 })
        });
        block_on(async { *mutex.lock().await += 1 });
        other.join().unwrap();
        assert_eq!(*mutex.try_lock().unwrap(), 2);
    });
}

#[test]
fn notify_one_is_not_lost_across_threads() {
    use weft::sync::Notify;
    check(|| {
        let notify = loom::sync::Arc::new(Notify::new());
        let notifier = thread::spawn({
            let notify = notify.clone();
            move || notify.notify_one()
        });
        block_on(notify.notified());
        notifier.join().unwrap();
    });
}

#[test]
fn cancellation_token_cancel_wakes_a_waiter_on_a_child_across_threads() {
    check(|| {
        let root = CancellationToken::new();
        let child = root.child_token();
        let canceller = thread::spawn(move || root.cancel());
        block_on(child.cancelled()); // a lost wake would deadlock
        assert!(child.is_cancelled());
        canceller.join().unwrap();
    });
}

#[test]
fn cancellation_token_child_drop_races_parent_cancel() {
    check(|| {
        let root = CancellationToken::new();
        let child = root.child_token();
        let grandchild = child.child_token();
        let dropper = thread::spawn(move || drop(child)); // hands the grandchild up to the root
        root.cancel();
        dropper.join().unwrap();
        // Whichever came first, the grandchild is reached by the root's cancellation.
        assert!(grandchild.is_cancelled());
    });
}

#[test]
fn cancellation_token_child_made_while_the_parent_is_cancelled() {
    check(|| {
        let root = CancellationToken::new();
        let middle = root.child_token();
        let maker = thread::spawn(move || {
            let leaf = middle.child_token();
            drop(middle); // the leaf moves up to the root, or is cancelled with it
            leaf
        });
        root.cancel();
        let leaf = maker.join().unwrap();
        assert!(leaf.is_cancelled());
    });
}
