//! Connected streams on io_uring move their bytes by completions (`recv`/`send` operations). These tests hold
//! that to what a stream promises on any driver: reads dropped midway lose nothing, writes that returned are
//! sent in order even when the stream or the whole runtime goes away right after, writes wait when the peer
//! reads nothing (and a dropped waiting write wrote nothing), more operations than the ring has entries all
//! complete, and a stream that holds bytes it has read ahead refuses `into_std` rather than lose them.
//!
//! Tests that need io_uring say "skipped" and pass where the kernel refuses it.

use std::io::{Read, Write};
use std::time::Duration;

use weft::net::{TcpStream, UnixStream};
use weft::Runtime;

mod common;
use common::tcp_pair;

/// An io_uring runtime whose streams do completion I/O, or `None` (and a note) where this machine refuses
/// io_uring or streams are told to use readiness there (`WEFT_URING_STREAMS=poll`, the fallback of kernels
/// before 6.0, which CI also runs).
fn uring_runtime() -> Option<Runtime> {
    if std::env::var_os("WEFT_URING_STREAMS").is_some_and(|value| value == "poll") {
        eprintln!("skipped: WEFT_URING_STREAMS=poll");
        return None;
    }
    common::uring::uring_runtime()
}

/// Runs `body` on [`uring_runtime`] under the hang guard.
fn on_uring<F: std::future::Future>(body: F) -> Option<F::Output> {
    Some(common::uring::guarded(uring_runtime()?, body))
}

/// A recognisable byte pattern: byte `i` of a stream is `i % 251`.
fn pattern(start: usize, len: usize) -> Vec<u8> {
    (start..start + len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn reads_dropped_while_their_recv_is_in_flight_lose_no_bytes() {
    on_uring(async {
        let (client, server) = tcp_pair().await;
        const TOTAL: usize = 256 * 1024;
        let writer = weft::spawn(async move {
            // Small chunks with pauses between them, so many reads find nothing and are dropped by their timeout.
            let data = pattern(0, TOTAL);
            for chunk in data.chunks(4096) {
                client.write_all(chunk).await.unwrap();
                weft::time::sleep(Duration::from_micros(200)).await;
            }
            client
        });
        let mut received = Vec::with_capacity(TOTAL);
        let mut dropped = 0;
        let mut buf = vec![0; 8192];
        while received.len() < TOTAL {
            match weft::time::timeout(Duration::from_micros(50), server.read(&mut buf)).await {
                Ok(read) => received.extend_from_slice(&buf[..read.unwrap()]),
                Err(_) => dropped += 1,
            }
        }
        assert!(dropped > 0, "some reads were dropped while they waited");
        assert_eq!(received, pattern(0, TOTAL), "every byte, in order");
        drop(writer.await.unwrap());
    });
}

#[test]
fn a_stream_dropped_right_after_writing_still_sends_everything_then_closes() {
    on_uring(async {
        let (client, server) = tcp_pair().await;
        const TOTAL: usize = 4 * 1024 * 1024; // far more than the send window: some is in flight at the drop
        let std_server = server.into_std().unwrap();
        std_server.set_nonblocking(false).unwrap();
        let reader = std::thread::spawn(move || {
            let mut std_server = std_server;
            let mut all = Vec::new();
            std_server.read_to_end(&mut all).unwrap(); // ends only when the client's close arrives
            all
        });
        client.write_all(&pattern(0, TOTAL)).await.unwrap();
        drop(client);
        let all = weft::spawn_blocking(move || reader.join().unwrap())
            .await
            .unwrap();
        assert_eq!(all.len(), TOTAL);
        assert!(
            all == pattern(0, TOTAL),
            "every byte, in order, then end of stream"
        );
    });
}

#[test]
fn a_stream_dropped_while_a_send_waits_for_the_peer_still_sends_everything_in_order() {
    on_uring(async {
        let (client, server) = tcp_pair().await;
        let std_server = server.into_std().unwrap();
        std_server.set_nonblocking(false).unwrap();
        let (start, started) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            started.recv().unwrap(); // the peer reads nothing until the stream is gone
            let mut std_server = std_server;
            let mut all = Vec::new();
            std_server.read_to_end(&mut all).unwrap();
            all
        });
        // Small writes, each sent on its own turn, until the kernel's buffers are full: a send then waits in
        // the kernel while later writes gather behind it, until the window is full too.
        let mut written = 0;
        loop {
            let chunk = pattern(written, 1024);
            match weft::time::timeout(Duration::from_millis(100), client.write(&chunk)).await {
                Ok(n) => written += n.unwrap(),
                Err(_) => break, // the window is full
            }
            weft::task::yield_now().await;
            assert!(written < 512 * 1024 * 1024, "writes never waited");
        }
        drop(client); // a send in flight, bytes gathered behind it
        start.send(()).unwrap();
        let all = weft::spawn_blocking(move || reader.join().unwrap())
            .await
            .unwrap();
        assert_eq!(all.len(), written);
        assert!(
            all == pattern(0, written),
            "every byte, in order, then end of stream"
        );
    });
}

#[test]
fn a_reader_that_stops_reading_holds_back_the_peer_and_resumes_without_loss() {
    on_uring(async {
        let (client, server) = tcp_pair().await;
        // A few reads that wait make the server's stream one that reads in a loop (a multishot recv).
        for round in 0..4 {
            client.write_all(&pattern(round * 10, 10)).await.unwrap();
            let mut buf = [0; 10];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf.to_vec(), pattern(round * 10, 10));
        }
        // Now the server reads nothing while the client sends as much as it can.
        let mut sent = 40;
        loop {
            let chunk = pattern(sent, 64 * 1024);
            match weft::time::timeout(Duration::from_millis(200), client.write(&chunk)).await {
                Ok(n) => sent += n.unwrap(),
                Err(_) => break, // everything is full: the reader's side took no more than it holds
            }
            assert!(sent < 1024 * 1024 * 1024, "the writer was never held back");
        }
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut all = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        loop {
            match server.read(&mut buf).await.unwrap() {
                0 => break,
                n => all.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(all.len(), sent - 40);
        assert!(all == pattern(40, sent - 40), "every byte, in order");
    });
}

#[test]
fn a_stream_closed_with_its_multishot_recv_armed_lets_go_and_its_number_serves_a_new_stream_cleanly(
) {
    use std::os::fd::AsRawFd;
    on_uring(async {
        for round in 0..50 {
            let (client, server) = tcp_pair().await;
            // Reads that wait: the server's stream moves to a multishot recv, armed when it is dropped.
            for i in 0..3 {
                client.write_all(&[i]).await.unwrap();
                let mut byte = [0; 1];
                server.read_exact(&mut byte).await.unwrap();
            }
            let number = server.as_raw_fd();
            drop(server);
            // The close reached the peer: the recv let go of the socket's file.
            let mut rest = [0; 1];
            assert_eq!(client.read(&mut rest).await.unwrap(), 0, "round {round}");
            let _ = client.write_all(b"late bytes for a closed stream").await;
            // A new stream, likely on the same number, sees only its own bytes.
            let (client2, server2) = tcp_pair().await;
            client2.write_all(b"fresh").await.unwrap();
            let mut fresh = [0; 5];
            server2.read_exact(&mut fresh).await.unwrap();
            assert_eq!(
                &fresh,
                b"fresh",
                "round {round} (number {number} -> {})",
                server2.as_raw_fd()
            );
        }
    });
}

#[test]
fn a_stream_that_read_ahead_on_one_loop_and_moves_to_another_loses_nothing() {
    if uring_runtime().is_none() {
        return;
    }
    let runtime = weft::Builder::new()
        .driver(weft::runtime::Driver::IoUring)
        .loops(2)
        .build()
        .unwrap();
    let handle = runtime.handle();
    let loops = handle.loops();
    let (first, second) = (loops[0], loops[1]);
    common::uring::guarded(runtime, async move {
        for round in 0..20u8 {
            let (client, server) = handle.spawn_on(first, tcp_pair()).await.unwrap();
            // On the first loop: reads that wait (the stream moves to a multishot recv), and one read dropped
            // while its recv waits.
            let server = handle
                .spawn_on(first, async move {
                    for i in 0..3u8 {
                        client.write_all(&[i]).await.unwrap();
                        let mut byte = [0; 1];
                        server.read_exact(&mut byte).await.unwrap();
                    }
                    let mut byte = [0; 1];
                    let dropped =
                        weft::time::timeout(Duration::from_millis(1), server.read(&mut byte));
                    assert!(dropped.await.is_err(), "nothing was sent yet");
                    // Bytes arrive while nobody reads: the first loop receives them ahead.
                    client.write_all(&pattern(0, 5000)).await.unwrap();
                    weft::io::AsyncWriteExt::flush(&mut &client).await.unwrap();
                    weft::time::sleep(Duration::from_millis(5)).await;
                    (client, server)
                })
                .await
                .unwrap();
            let (client, server) = server;
            // On the second loop: everything, in order, then what comes next.
            let got = handle
                .spawn_on(second, async move {
                    let mut all = vec![0; 5000];
                    server.read_exact(&mut all).await.unwrap();
                    client.write_all(b"after").await.unwrap();
                    let mut after = [0; 5];
                    server.read_exact(&mut after).await.unwrap();
                    (all, after)
                })
                .await
                .unwrap();
            assert!(
                got.0 == pattern(0, 5000),
                "round {round}: the bytes received ahead, in order"
            );
            assert_eq!(&got.1, b"after", "round {round}");
        }
    });
}

#[test]
fn bytes_written_just_before_the_runtime_drops_are_sent() {
    let Some(runtime) = uring_runtime() else {
        return;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        all
    });
    let stream = runtime.block_on(async {
        let stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"last words before shutdown")
            .await
            .unwrap();
        stream // kept past the runtime: its loop goes first
    });
    drop(runtime);
    drop(stream);
    assert_eq!(reader.join().unwrap(), b"last words before shutdown");
}

#[test]
fn a_peer_that_reads_nothing_makes_writes_wait_and_a_dropped_waiting_write_wrote_nothing() {
    on_uring(async {
        let (client, server) = tcp_pair().await;
        // Fill the kernel's buffers and the stream's window: the peer reads nothing yet.
        let mut accepted = 0;
        let chunk = vec![7u8; 64 * 1024];
        let waited = loop {
            match weft::time::timeout(Duration::from_millis(200), client.write(&chunk)).await {
                Ok(written) => accepted += written.unwrap(),
                Err(_) => break true, // this write waited and was dropped
            }
            assert!(accepted < 256 * 1024 * 1024, "writes never waited");
        };
        assert!(waited);
        // Everything the writes said they took arrives, and nothing more.
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut total = 0;
        let mut buf = vec![0; 64 * 1024];
        loop {
            match server.read(&mut buf).await.unwrap() {
                0 => break,
                read => {
                    assert!(buf[..read].iter().all(|&b| b == 7));
                    total += read;
                }
            }
        }
        assert_eq!(total, accepted, "exactly the bytes the writes reported");
    });
}

#[test]
fn a_thousand_streams_each_with_a_recv_and_a_send_in_flight_all_complete() {
    const PAIRS: usize = 1_000; // the ring has 256 submission entries
    on_uring(async {
        let pairs: Vec<(UnixStream, UnixStream)> =
            (0..PAIRS).map(|_| UnixStream::pair().unwrap()).collect();
        let echoes = weft::join_all(pairs.iter().map(|(a, b)| async move {
            let mut request = [0; 2];
            b.read_exact(&mut request).await.unwrap();
            b.write_all(&request).await.unwrap();
            let mut reply = [0; 2];
            a.read_exact(&mut reply).await.unwrap();
            u16::from_le_bytes(reply)
        }));
        let sends = async {
            weft::task::yield_now().await;
            for (i, (a, _)) in pairs.iter().enumerate() {
                a.write_all(&(i as u16).to_le_bytes()).await.unwrap();
            }
        };
        let (replies, ()) = weft::join!(echoes, sends);
        let expected: Vec<u16> = (0..PAIRS as u16).collect();
        assert_eq!(replies, expected);
    });
}

#[test]
fn into_std_refuses_a_stream_holding_bytes_it_read_ahead_and_hands_back_one_that_holds_none() {
    on_uring(async {
        let (client, server) = tcp_pair().await;
        client.write_all(b"hello").await.unwrap();
        let mut head = [0; 5];
        // A peek takes the bytes from the kernel into the stream, without handing them out.
        let peeked = server.peek(&mut head).await.unwrap();
        assert!(peeked > 0);
        let error = server.into_std().unwrap_err();
        assert!(
            error.to_string().contains("unread"),
            "a clear reason: {error}"
        );

        let (client, server) = tcp_pair().await;
        client.write_all(b"hello").await.unwrap();
        let mut all = [0; 5];
        server.read_exact(&mut all).await.unwrap();
        let mut std_server = server.into_std().unwrap();
        std_server.set_nonblocking(false).unwrap();
        client.write_all(b" std").await.unwrap();
        client.flush_sends().await;
        let mut rest = [0; 4];
        std_server.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b" std");
        std_server.write_all(b"!").unwrap();
        let mut bang = [0; 1];
        client.read_exact(&mut bang).await.unwrap();
        assert_eq!(&bang, b"!");
    });
}

/// `flush` through the trait, named for what it waits for here.
trait FlushSends {
    async fn flush_sends(&self);
}

impl FlushSends for TcpStream {
    async fn flush_sends(&self) {
        weft::io::AsyncWriteExt::flush(&mut &*self).await.unwrap();
    }
}
