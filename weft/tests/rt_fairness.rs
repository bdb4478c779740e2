//! Fairness: a task that is always ready does not starve a timer on its loop. Each test runs a 10 ms ticker
//! beside a flood — a TCP stream a peer keeps full, an unbounded channel fed by another thread, a task woken
//! over and over by another thread — and asserts the ticker's worst delay.
//!
//! These are the rare timing assertions worth having (issue 13): without the cooperative budget the worst delay
//! was 0.2–3 s; with it, a few milliseconds. The bound, 100 ms, is far above that and above the noise of a
//! loaded 2-core machine. The tests take turns (one lock), so their floods do not compete for the cores.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use weft::net::{TcpListener, TcpStream};
use weft::sync::{mpsc, Notify};
use weft::time::{sleep_until, Instant};

mod common;
use common::run;

/// The ticker's period.
const PERIOD: Duration = Duration::from_millis(10);

/// Ticks measured per test.
const TICKS: u32 = 50;

/// The worst delay allowed: generous, far above what the budget gives and above scheduling noise.
const BOUND: Duration = Duration::from_millis(100);

/// One test at a time.
static TURN: Mutex<()> = Mutex::new(());

/// Ticks every `PERIOD`, `TICKS` times, and returns the worst delay of a tick past its deadline.
async fn ticker_worst_delay() -> Duration {
    let mut worst = Duration::ZERO;
    let mut next = Instant::now() + PERIOD;
    for _ in 0..TICKS {
        sleep_until(next).await;
        worst = worst.max(Instant::now().saturating_duration_since(next));
        next += PERIOD;
    }
    worst
}

/// Stops a feeding thread when dropped, also when the test fails.
struct Stop(Arc<AtomicBool>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn ticker_keeps_time_beside_a_task_draining_an_endless_tcp_stream() {
    let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let stop = Arc::new(AtomicBool::new(false));
    let (worst, read) = run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stopped = stop.clone();
        let writer = std::thread::spawn(move || {
            let mut peer = std::net::TcpStream::connect(address).unwrap();
            let chunk = vec![7u8; 64 * 1024];
            while !stopped.load(Ordering::Relaxed) {
                if peer.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let (stream, _) = listener.accept().await.unwrap();
        let read = Arc::new(AtomicU64::new(0));
        let drained = read.clone();
        let reader = weft::spawn(async move {
            let stream: TcpStream = stream;
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => drained.fetch_add(n as u64, Ordering::Relaxed),
                };
            }
        });
        let _stop = Stop(stop.clone());
        let worst = ticker_worst_delay().await;
        reader.abort();
        drop(_stop);
        let _ = reader.await;
        writer.join().unwrap();
        (worst, read.load(Ordering::Relaxed))
    });
    eprintln!("tcp flood: worst tick delay {worst:?}, {read} bytes drained");
    assert!(read > 0, "the flood never flowed");
    assert!(worst < BOUND, "a 10 ms tick was {worst:?} late");
}

#[test]
fn ticker_keeps_time_beside_a_task_draining_a_channel_fed_by_another_thread() {
    let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let (worst, got) = run(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        // A backlog to start with (draining it alone takes longer than the bound), then a thread that keeps it
        // from emptying, at most a backlog ahead so memory stays bounded.
        const BACKLOG: u64 = 2_000_000;
        for i in 0..BACKLOG {
            tx.send(i).unwrap();
        }
        let (stopped, seen) = (stop.clone(), received.clone());
        let feeder = std::thread::spawn(move || {
            let mut sent = BACKLOG;
            while !stopped.load(Ordering::Relaxed) {
                if sent - seen.load(Ordering::Relaxed) < BACKLOG {
                    if tx.send(sent).is_err() {
                        break;
                    }
                    sent += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        });
        let count = received.clone();
        let drainer = weft::spawn(async move {
            while let Some(message) = rx.recv().await {
                std::hint::black_box(message);
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
        let _stop = Stop(stop.clone());
        let worst = ticker_worst_delay().await;
        drop(_stop);
        feeder.join().unwrap();
        drainer.await.unwrap(); // the feeder dropped its sender: the drainer ends
        (worst, received.load(Ordering::Relaxed))
    });
    eprintln!("channel flood: worst tick delay {worst:?}, {got} messages drained");
    assert!(got > 0, "the flood never flowed");
    assert!(worst < BOUND, "a 10 ms tick was {worst:?} late");
}

#[test]
fn ticker_keeps_time_beside_a_task_woken_by_another_thread_without_end() {
    let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let stop = Arc::new(AtomicBool::new(false));
    let (worst, woken) = run(async {
        let notify = Arc::new(Notify::new());
        let (stopped, notifier) = (stop.clone(), notify.clone());
        let waker_thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                notifier.notify_one();
            }
        });
        let woken = Arc::new(AtomicU64::new(0));
        let count = woken.clone();
        let waiter = weft::spawn(async move {
            loop {
                notify.notified().await;
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
        let _stop = Stop(stop.clone());
        let worst = ticker_worst_delay().await;
        drop(_stop);
        waker_thread.join().unwrap();
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        (worst, woken.load(Ordering::Relaxed))
    });
    eprintln!("cross-thread wakes: worst tick delay {worst:?}, {woken} wake-ups");
    assert!(woken > 0, "the waiter was never woken");
    assert!(worst < BOUND, "a 10 ms tick was {worst:?} late");
}
