//! The virtual clock (`start_paused`): it jumps straight to the next deadline when every task is idle, stands
//! still while any task is busy, and never jumps while `spawn_blocking` work is in flight.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::thread;
use std::time::Duration;

use weft::task::yield_now;
use weft::time::{sleep, timeout, Instant};
use weft::Builder;

const HOUR: Duration = Duration::from_secs(3600);

#[weft::test(start_paused = true)]
async fn the_clock_jumps_when_every_task_is_idle() {
    let start = Instant::now();
    sleep(HOUR).await;
    assert_eq!(Instant::now() - start, HOUR);
}

#[weft::test(start_paused = true)]
async fn the_clock_jumps_from_deadline_to_deadline_across_tasks() {
    let start = Instant::now();
    let log = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = [30u64, 10, 20]
        .into_iter()
        .map(|minutes| {
            let log = log.clone();
            weft::spawn(async move {
                sleep(Duration::from_secs(60 * minutes)).await;
                log.borrow_mut().push((minutes, Instant::now() - start));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        *log.borrow(),
        [
            (10, Duration::from_secs(600)),
            (20, Duration::from_secs(1200)),
            (30, Duration::from_secs(1800)),
        ]
    );
    assert_eq!(Instant::now() - start, Duration::from_secs(1800));
}

#[weft::test(start_paused = true)]
async fn time_stands_still_while_tasks_are_busy() {
    let start = Instant::now();
    let fired = Rc::new(Cell::new(false));
    let sleeper = {
        let fired = fired.clone();
        weft::spawn(async move {
            sleep(Duration::from_millis(1)).await;
            fired.set(true);
        })
    };
    for _ in 0..1_000 {
        yield_now().await;
        assert_eq!(
            Instant::now(),
            start,
            "the clock moved while a task was busy"
        );
    }
    assert!(
        !fired.get(),
        "a 1 ms timer fired while the loop was never idle"
    );
    sleeper.await.unwrap();
    assert!(fired.get());
    assert_eq!(Instant::now() - start, Duration::from_millis(1));
}

#[weft::test(start_paused = true)]
async fn time_stands_still_while_a_spawned_task_is_busy() {
    let start = Instant::now();
    let busy = weft::spawn(async move {
        for _ in 0..1_000 {
            yield_now().await;
        }
        Instant::now()
    });
    let sleeper = weft::spawn(async move {
        sleep(Duration::from_millis(5)).await;
        Instant::now()
    });
    let busy_done = busy.await.unwrap();
    assert_eq!(busy_done, start);
    assert_eq!(sleeper.await.unwrap(), start + Duration::from_millis(5));
}

#[weft::test(start_paused = true)]
async fn real_time_passing_does_not_move_the_virtual_clock() {
    let start = Instant::now();
    // Block the loop for a moment of real time: the virtual clock does not follow.
    thread::sleep(Duration::from_millis(20));
    assert_eq!(Instant::now(), start);
    yield_now().await;
    assert_eq!(Instant::now(), start);
}

#[weft::test(start_paused = true)]
async fn the_clock_never_jumps_while_spawn_blocking_work_is_in_flight() {
    let start = Instant::now();
    let blocking = weft::spawn_blocking(|| {
        thread::sleep(Duration::from_millis(200));
        "done"
    });
    let result = timeout(HOUR, blocking).await;
    assert_eq!(
        result
            .expect("the clock jumped an hour while blocking work ran")
            .unwrap(),
        "done"
    );
    assert_eq!(
        Instant::now(),
        start,
        "no virtual time passes while waiting on blocking work"
    );
    // Once the blocking work is done, the clock jumps again.
    sleep(HOUR).await;
    assert_eq!(Instant::now() - start, HOUR);
}

#[weft::test(start_paused = true)]
async fn a_timer_waits_for_blocking_work_in_flight() {
    let start = Instant::now();
    let log = Rc::new(RefCell::new(Vec::new()));
    let blocking = weft::spawn_blocking(|| thread::sleep(Duration::from_millis(100)));
    let sleeper = {
        let log = log.clone();
        weft::spawn(async move {
            sleep(Duration::from_millis(10)).await;
            log.borrow_mut().push("sleeper woke");
        })
    };
    blocking.await.unwrap();
    log.borrow_mut().push("blocking done");
    sleeper.await.unwrap();
    assert_eq!(*log.borrow(), ["blocking done", "sleeper woke"]);
    assert_eq!(Instant::now() - start, Duration::from_millis(10));
}

#[test]
fn the_clock_never_jumps_while_blocking_work_from_another_thread_is_in_flight() {
    let runtime = Builder::new().start_paused(true).build().unwrap();
    let handle = runtime.handle();
    let (result, elapsed) = runtime.block_on(async move {
        let start = Instant::now();
        let blocking = thread::spawn(move || {
            handle.spawn_blocking(|| {
                thread::sleep(Duration::from_millis(100));
                7
            })
        })
        .join()
        .unwrap();
        let result = timeout(HOUR, blocking).await;
        (result, Instant::now() - start)
    });
    assert_eq!(
        result
            .expect("the clock jumped while blocking work ran")
            .unwrap(),
        7
    );
    assert_eq!(elapsed, Duration::ZERO);
}

#[weft::test(start_paused = true)]
async fn many_blocking_jobs_in_flight_hold_the_clock() {
    let start = Instant::now();
    let jobs: Vec<_> = (0..20u64)
        .map(|i| {
            weft::spawn_blocking(move || {
                thread::sleep(Duration::from_millis(5));
                i
            })
        })
        .collect();
    let gathered = timeout(Duration::from_secs(1), weft::join_all(jobs)).await;
    let sum: u64 = gathered
        .expect("the clock jumped while blocking work ran")
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(sum, 190);
    assert_eq!(Instant::now(), start);
}

#[test]
fn instant_outside_a_runtime_follows_the_real_clock() {
    let runtime = Builder::new().start_paused(true).build().unwrap();
    let inside = runtime.block_on(async {
        sleep(HOUR).await;
        Instant::now()
    });
    let outside = Instant::now();
    // The virtual clock ran an hour ahead; the real one did not.
    assert!(inside > outside);
    assert!(inside - outside > Duration::from_secs(3000));
}

#[test]
fn paused_runtimes_on_different_threads_keep_their_own_clocks() {
    let threads: Vec<_> = [1u64, 2, 3, 5, 8]
        .into_iter()
        .map(|hours| {
            thread::spawn(move || {
                let runtime = Builder::new().start_paused(true).build().unwrap();
                runtime.block_on(async move {
                    let start = Instant::now();
                    for _ in 0..hours {
                        sleep(HOUR).await;
                    }
                    Instant::now() - start
                })
            })
        })
        .collect();
    for (thread, hours) in threads.into_iter().zip([1u64, 2, 3, 5, 8]) {
        assert_eq!(thread.join().unwrap(), HOUR * hours as u32);
    }
}

#[test]
fn the_virtual_clock_carries_over_between_block_on_calls() {
    let runtime = Builder::new().start_paused(true).build().unwrap();
    let start = runtime.block_on(async {
        let start = Instant::now();
        sleep(HOUR).await;
        start
    });
    let elapsed = runtime.block_on(async move {
        sleep(HOUR).await;
        Instant::now() - start
    });
    assert_eq!(elapsed, 2 * HOUR);
}
