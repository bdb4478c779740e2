//! The tour: the async/await model, live, with measurements. Runs in a few seconds.
//!
//! ```sh
//! cargo run --release --example tour
//! ```

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use weft::time::sleep;

/// Resident memory of this process in bytes (Linux), or 0 if unknown.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// Threads of this process (Linux), or 0 if unknown.
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// A guard that says when it is dropped — to show when a cancelled task's destructors run.
struct Announce(&'static str, Rc<Cell<bool>>);

impl Drop for Announce {
    fn drop(&mut self) {
        self.1.set(true);
        println!("     drop({}) ran", self.0);
    }
}

/// An async fn: calling it builds a state machine; nothing in its body runs until it is awaited.
async fn brew(name: &str, seconds: u64, started: &Cell<bool>) -> String {
    started.set(true);
    sleep(Duration::from_secs(seconds)).await; // a bookmark: the task steps aside here
    format!("{name} ready")
}

/// Busy-waits on the loop's thread: CPU-bound work, the thing that blocks an event loop.
fn spin(duration: Duration) -> u64 {
    let start = Instant::now();
    let mut counter = 0u64;
    while start.elapsed() < duration {
        counter = counter.wrapping_add(1);
        std::hint::black_box(counter);
    }
    counter
}

/// Runs a sleeper that should wake every 10 ms while `work` runs, and returns its worst lateness.
async fn worst_lateness_during<F: std::future::Future>(work: F) -> Duration {
    let worst = Rc::new(Cell::new(Duration::ZERO));
    let stop = Rc::new(Cell::new(false));
    let sleeper = weft::spawn({
        let (worst, stop) = (worst.clone(), stop.clone());
        async move {
            while !stop.get() {
                let asked = Instant::now();
                sleep(Duration::from_millis(10)).await;
                let late = asked.elapsed().saturating_sub(Duration::from_millis(10));
                worst.set(worst.get().max(late));
            }
        }
    });
    weft::task::yield_now().await; // let the sleeper start
    work.await;
    stop.set(true);
    sleeper.await.unwrap();
    worst.get()
}

fn main() {
    let tour_start = Instant::now();
    weft::run(async {
        println!("weft tour — the async/await model, live\n");

        println!("1. Calling an async fn runs nothing: it returns a future, a plan.");
        let started = Cell::new(false);
        let coffee = brew("coffee", 0, &started);
        println!("   after calling brew(): body started? {}", started.get());
        let result = coffee.await;
        println!(
            "   after .await:         body started? {} -> {result:?}\n",
            started.get()
        );

        println!("2. Two 1 s sleeps, gathered with join!, take 1 s, not 2: both wait at once.");
        let begin = Instant::now();
        let (a, b) = weft::join!(sleep(Duration::from_secs(1)), sleep(Duration::from_secs(1)));
        let _ = (a, b);
        println!(
            "   two 1 s sleeps took {:.3} s\n",
            begin.elapsed().as_secs_f64()
        );

        println!("3. 10,000 tasks sleeping at once, on one thread.");
        let rss_before = resident_bytes();
        let begin = Instant::now();
        let sleepers: Vec<_> = (0..10_000)
            .map(|_| weft::spawn(async { sleep(Duration::from_millis(500)).await }))
            .collect();
        weft::task::yield_now().await; // every sleeper is now parked at its bookmark
        let rss_parked = resident_bytes();
        let threads = thread_count();
        for sleeper in weft::join_all(sleepers).await {
            sleeper.unwrap();
        }
        println!(
            "   10,000 x 500 ms sleeps took {:.3} s on {threads} thread(s); about {} bytes of memory per sleeping task\n",
            begin.elapsed().as_secs_f64(),
            rss_parked.saturating_sub(rss_before) / 10_000
        );

        println!("4. create_task: spawn a task, it runs on its own; await its JoinHandle for the result.");
        let task = weft::spawn(async { (1..=10u64).product::<u64>() });
        println!("   the task computed 10! = {}\n", task.await.unwrap());

        println!("5. Cancelling a task stops it at its bookmark, and its destructors run.");
        let dropped = Rc::new(Cell::new(false));
        let task = weft::spawn({
            let guard = Announce("guard held across an .await", dropped.clone());
            async move {
                let _guard = guard;
                sleep(Duration::from_secs(3600)).await; // parked here when cancelled
                unreachable!("a cancelled task never resumes");
            }
        });
        weft::task::yield_now().await; // let it reach its bookmark
        let dump = weft::xray::dump();
        if let Some(bookmark) = dump
            .tasks()
            .iter()
            .find(|t| t.id == task.id())
            .and_then(|t| t.bookmark.as_ref())
        {
            println!("   the task is parked at its bookmark: {bookmark}");
        }
        task.abort();
        weft::task::yield_now().await; // by the loop's next turn the destructors have run
        let outcome = task.await;
        println!(
            "   destructor ran: {}; the JoinHandle says: {}\n",
            dropped.get(),
            outcome.unwrap_err()
        );

        println!("6. CPU-bound work blocks the loop: a 10 ms sleeper is late by as long as the work runs...");
        let late = worst_lateness_during(async {
            spin(Duration::from_millis(300));
        })
        .await;
        println!(
            "   300 ms of CPU work on the loop:           sleeper late by {:>6.1} ms",
            late.as_secs_f64() * 1e3
        );
        let late = worst_lateness_during(async {
            weft::spawn_blocking(|| spin(Duration::from_millis(300)))
                .await
                .unwrap();
        })
        .await;
        println!(
            "   the same work in spawn_blocking:          sleeper late by {:>6.1} ms  (the loop stays free)\n",
            late.as_secs_f64() * 1e3
        );

        println!("7. X-ray: every task's bookmark, on demand — where each one is parked and what it waits for.");
        let (tx, mut rx) = weft::sync::mpsc::channel::<&str>(1);
        let lock = Rc::new(weft::sync::Mutex::new(0));
        let held = lock.lock().await;
        let consumer = weft::task::Builder::new()
            .name("consumer")
            .spawn(async move { rx.recv().await });
        let locker = weft::task::Builder::new().name("locker").spawn({
            let lock = lock.clone();
            async move { *lock.lock().await += 1 }
        });
        let napper = weft::task::Builder::new()
            .name("napper")
            .spawn(async { sleep(Duration::from_millis(200)).await });
        let waiter = weft::task::Builder::new()
            .name("waiter")
            .spawn(async move { napper.await.unwrap() });
        sleep(Duration::from_millis(20)).await; // everyone reaches a bookmark
        for line in weft::xray::dump().to_string().lines() {
            println!("   {line}");
        }
        tx.send("hello").await.unwrap();
        drop(held);
        let _ = (consumer.await, locker.await, waiter.await);
        println!();

        println!("8. gather, structured: a TaskGroup owns its tasks. Results come in completion order; the first");
        println!("   failure (fail_fast) cancels the rest; dropping the group would cancel whatever still runs.");
        let begin = Instant::now();
        let mut group = weft::task::TaskGroup::new().fail_fast();
        for (site, millis) in [
            ("a.example", 300u64),
            ("b.example", 100),
            ("c.example", 200),
            ("down.example", 250),
            ("slow.example", 900),
        ] {
            group.spawn(async move {
                sleep(Duration::from_millis(millis)).await;
                if site.starts_with("down") {
                    Err(format!("{site} refused"))
                } else {
                    Ok(format!("{site} in {millis} ms"))
                }
            });
        }
        while let Some(result) = group.join_next().await {
            match result {
                Ok(Ok(page)) => println!("   fetched {page}"),
                Ok(Err(error)) => println!("   failed: {error} -> its siblings are cancelled"),
                Err(cancelled) => println!("   cancelled: {cancelled}"),
            }
        }
        println!(
            "   the group finished in {:.3} s: the unfinished fetches were cancelled at their bookmarks, not awaited\n",
            begin.elapsed().as_secs_f64()
        );
    });
    println!(
        "tour finished in {:.2} s",
        tour_start.elapsed().as_secs_f64()
    );
}
