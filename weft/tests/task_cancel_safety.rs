//! Cancel safety under `select!`: a weft future that was polled (and parked as a waiter) and then loses a race
//! is dropped — and loses nothing. The message, the bytes, the connection, the lock and the permit that arrived
//! for it while it waited are all still there for the next call.
//!
//! Each test runs the same race: a `biased` `select!` polls an `alarm` branch first and the operation second;
//! both park. A helper task then makes the operation ready (sends, writes, connects, unlocks) *and* rings the
//! alarm in the same turn, so the next poll sees the alarm first: the operation loses after it was woken, the
//! worst moment for a future that takes something on its way to completion.

use std::time::Duration;

use weft::net::{TcpListener, TcpStream};
use weft::sync::{mpsc, oneshot, Mutex, Semaphore};
use weft::task::yield_now;

/// Waits for the helper's alarm; both branches park on the first poll, the alarm wins the second.
async fn lose_to_alarm<F: std::future::Future>(operation: F, alarm: oneshot::Receiver<()>) {
    weft::select! {
        biased;
        _ = alarm => {}
        _ = operation => panic!("the operation won; the race did not happen as planned"),
    }
}

#[weft::test]
async fn a_recv_that_loses_a_race_leaves_the_message_in_the_channel() {
    let (tx, mut rx) = mpsc::channel(1);
    let (ring, alarm) = oneshot::channel();
    weft::spawn(async move {
        yield_now().await; // the select below parks first
        tx.send("message").await.unwrap();
        ring.send(()).unwrap();
    });
    lose_to_alarm(rx.recv(), alarm).await;
    assert_eq!(rx.recv().await, Some("message"));
}

#[weft::test]
async fn a_lock_that_loses_a_race_leaks_no_lock() {
    let mutex = std::sync::Arc::new(Mutex::new(0));
    let held = mutex.clone().lock_owned().await;
    let (ring, alarm) = oneshot::channel();
    weft::spawn(async move {
        yield_now().await;
        drop(held); // hands the lock to the waiting `lock` future...
        ring.send(()).unwrap(); // ...which then loses
    });
    lose_to_alarm(mutex.lock(), alarm).await;
    let mut guard = mutex
        .try_lock()
        .expect("the lock went back when its waiter was dropped");
    *guard += 1;
}

#[weft::test]
async fn an_acquire_that_loses_a_race_leaks_no_permit() {
    let semaphore = std::sync::Arc::new(Semaphore::new(1));
    let held = semaphore.clone().acquire_owned().await.unwrap();
    let (ring, alarm) = oneshot::channel();
    weft::spawn(async move {
        yield_now().await;
        drop(held);
        ring.send(()).unwrap();
    });
    lose_to_alarm(semaphore.acquire(), alarm).await;
    assert_eq!(semaphore.available_permits(), 1);
    let _permit = semaphore.try_acquire().expect("the permit went back");
}

#[weft::test]
async fn an_accept_that_loses_a_race_leaves_the_connection_queued() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (ring, alarm) = oneshot::channel();
    let client = weft::spawn(async move {
        yield_now().await;
        // In one turn of the loop: connect (a blocking connect to loopback completes at once), let the kernel
        // queue the connection (blocking the loop on purpose, so no wake reaches the select first), ring.
        let client = std::net::TcpStream::connect(address).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        ring.send(()).unwrap();
        TcpStream::from_std(client).unwrap()
    });
    lose_to_alarm(listener.accept(), alarm).await;
    let client = client.await.unwrap();
    let (accepted, peer) = weft::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .expect("the connection was lost with the dropped accept")
        .unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    client.write_all(b"hi").await.unwrap();
    let mut buf = [0; 2];
    accepted.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hi");
}

#[weft::test]
async fn a_read_that_loses_a_race_leaves_the_bytes_in_the_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let (ring, alarm) = oneshot::channel();
    let writer = weft::spawn(async move {
        yield_now().await;
        // In one turn: write, let the bytes reach the server's socket (blocking the loop on purpose), ring.
        client.write_all(b"precious bytes").await.unwrap();
        std::thread::sleep(Duration::from_millis(20));
        ring.send(()).unwrap();
        client
    });
    let mut buf = [0u8; 64];
    lose_to_alarm(server.read(&mut buf), alarm).await;
    let _client = writer.await.unwrap();
    let n = weft::time::timeout(Duration::from_secs(5), server.read(&mut buf))
        .await
        .expect("the bytes were lost with the dropped read")
        .unwrap();
    assert_eq!(&buf[..n], b"precious bytes");
}

#[test]
fn every_race_above_also_holds_on_a_random_start() {
    // The unbiased select! may poll the operation first; run the recv race many times either way.
    let runtime = weft::Runtime::new().unwrap();
    runtime.block_on(async {
        let (tx, mut rx) = mpsc::channel(1);
        let mut received = 0;
        for i in 0..200u32 {
            let (ring, alarm) = oneshot::channel();
            let tx = tx.clone();
            weft::spawn(async move {
                yield_now().await;
                tx.send(i).await.unwrap();
                ring.send(()).unwrap();
            });
            weft::select! {
                _ = alarm => {}
                Some(_) = rx.recv() => received += 1,
            }
            // Whatever won, the message is either counted or still in the channel.
            if let Ok(_message) = rx.try_recv() {
                received += 1;
            }
        }
        assert_eq!(received, 200);
    });
}
