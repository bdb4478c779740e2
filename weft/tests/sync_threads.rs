//! Channels and locks between runtimes on different threads: each side's waker reaches the other loop through
//! its remote queue.

use std::sync::Arc;
use std::thread;

use weft::sync::{mpsc, oneshot, Mutex, Notify, Semaphore};

/// Runs `future` on a new runtime on a new thread.
fn on_new_loop<F>(future: F) -> thread::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    thread::spawn(move || weft::Runtime::new().unwrap().block_on(future))
}

#[test]
fn two_runtimes_on_two_threads_ping_pong_100_000_messages() {
    const ROUNDS: u64 = 50_000; // 100,000 messages, half each way
    let (to_pong, mut pong_rx) = mpsc::channel::<u64>(1);
    let (to_ping, mut ping_rx) = mpsc::channel::<u64>(1);
    let pong = on_new_loop(async move {
        let mut echoed = 0u64;
        while let Some(value) = pong_rx.recv().await {
            to_ping.send(value + 1).await.unwrap();
            echoed += 1;
        }
        echoed
    });
    let ping = on_new_loop(async move {
        let mut value = 0;
        for _ in 0..ROUNDS {
            to_pong.send(value).await.unwrap();
            value = ping_rx.recv().await.unwrap();
        }
        value
    });
    assert_eq!(ping.join().unwrap(), ROUNDS);
    assert_eq!(pong.join().unwrap(), ROUNDS);
}

#[test]
fn producers_on_several_threads_keep_their_own_order() {
    const THREADS: u64 = 3;
    const EACH: u64 = 20_000;
    let (tx, mut rx) = mpsc::channel(8);
    let producers: Vec<_> = (0..THREADS)
        .map(|producer| {
            let tx = tx.clone();
            on_new_loop(async move {
                for seq in 0..EACH {
                    tx.send((producer, seq)).await.unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = on_new_loop(async move {
        let mut next = vec![0; THREADS as usize];
        while let Some((producer, seq)) = rx.recv().await {
            assert_eq!(
                seq, next[producer as usize],
                "producer {producer} out of order"
            );
            next[producer as usize] += 1;
        }
        next
    });
    for producer in producers {
        producer.join().unwrap();
    }
    assert_eq!(consumer.join().unwrap(), vec![EACH; THREADS as usize]);
}

#[test]
fn a_plain_thread_feeds_a_runtime_through_an_unbounded_channel() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let feeder = thread::spawn(move || {
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
    });
    let sum = weft::run(async move {
        let mut sum = 0u64;
        while let Some(i) = rx.recv().await {
            sum += i;
        }
        sum
    });
    feeder.join().unwrap();
    assert_eq!(sum, (0..10_000).sum());
}

#[test]
fn oneshot_replies_cross_threads() {
    let (requests, mut incoming) = mpsc::channel::<(u64, oneshot::Sender<u64>)>(4);
    let server = on_new_loop(async move {
        while let Some((n, reply)) = incoming.recv().await {
            let _ = reply.send(n * 2);
        }
    });
    let client = on_new_loop(async move {
        for n in 0..5_000 {
            let (reply, answer) = oneshot::channel();
            requests.send((n, reply)).await.unwrap();
            assert_eq!(answer.await.unwrap(), n * 2);
        }
    });
    client.join().unwrap();
    server.join().unwrap();
}

#[test]
fn a_mutex_shared_by_two_loops_loses_no_update() {
    let mutex = Arc::new(Mutex::new(0u64));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mutex = mutex.clone();
            on_new_loop(async move {
                for _ in 0..5_000 {
                    let mut guard = mutex.lock().await;
                    let seen = *guard;
                    weft::task::yield_now().await; // held across an .await, while the other loop waits
                    *guard = seen + 1;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(*mutex.try_lock().unwrap(), 10_000);
}

#[test]
fn a_semaphore_and_notify_work_across_loops() {
    let semaphore = Arc::new(Semaphore::new(0));
    let notify = Arc::new(Notify::new());
    let waiter = on_new_loop({
        let (semaphore, notify) = (semaphore.clone(), notify.clone());
        async move {
            for _ in 0..1_000 {
                semaphore.acquire().await.unwrap().forget();
                notify.notify_one();
            }
        }
    });
    weft::run(async move {
        for _ in 0..1_000 {
            semaphore.add_permits(1);
            notify.notified().await;
        }
    });
    waiter.join().unwrap();
}
