//! `timeout` and `timeout_at` under the virtual clock: the output when the future wins, `Elapsed` at exactly
//! the deadline otherwise, and the inner future dropped then.

use std::cell::{Cell, RefCell};
use std::future::{pending, ready};
use std::rc::Rc;
use std::time::Duration;

use weft::time::{sleep, timeout, timeout_at, Elapsed, Instant};

/// Records the virtual time at which it is dropped.
struct DropClock(Rc<RefCell<Vec<Instant>>>);

impl Drop for DropClock {
    fn drop(&mut self) {
        self.0.borrow_mut().push(Instant::now());
    }
}

#[weft::test(start_paused = true)]
async fn timeout_returns_the_output_when_the_future_finishes_first() {
    let start = Instant::now();
    let result = timeout(Duration::from_secs(2), async {
        sleep(Duration::from_secs(1)).await;
        5
    })
    .await;
    assert_eq!(result, Ok(5));
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
}

#[weft::test(start_paused = true)]
async fn timeout_gives_elapsed_at_exactly_the_deadline() {
    let start = Instant::now();
    let result = timeout(Duration::from_secs(1), sleep(Duration::from_secs(10))).await;
    let _elapsed: Elapsed = result.unwrap_err();
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
}

#[weft::test(start_paused = true)]
async fn timeout_drops_the_inner_future_at_the_deadline() {
    let start = Instant::now();
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let guard = DropClock(dropped.clone());
    let result = timeout(Duration::from_millis(1500), async move {
        let _guard = guard;
        pending::<()>().await;
    })
    .await;
    assert!(result.is_err());
    assert_eq!(
        *dropped.borrow(),
        [start + Duration::from_millis(1500)],
        "the inner future was dropped once, at the deadline"
    );
}

#[weft::test(start_paused = true)]
async fn timeout_drops_the_inner_future_when_it_finishes_too() {
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let guard = DropClock(dropped.clone());
    let start = Instant::now();
    let result = timeout(Duration::from_secs(10), async move {
        let _guard = guard;
        sleep(Duration::from_secs(3)).await;
        "done"
    })
    .await;
    assert_eq!(result, Ok("done"));
    assert_eq!(*dropped.borrow(), [start + Duration::from_secs(3)]);
}

#[weft::test(start_paused = true)]
async fn a_ready_future_with_a_zero_timeout_is_ok() {
    let start = Instant::now();
    assert_eq!(timeout(Duration::ZERO, ready(7)).await, Ok(7));
    assert_eq!(timeout(Duration::ZERO, async { "now" }).await, Ok("now"));
    assert_eq!(Instant::now(), start);
}

#[weft::test(start_paused = true)]
async fn a_pending_future_with_a_zero_timeout_elapses_at_once() {
    let start = Instant::now();
    assert!(timeout(Duration::ZERO, pending::<()>()).await.is_err());
    assert_eq!(Instant::now(), start);
}

#[weft::test(start_paused = true)]
async fn a_future_ready_at_the_deadline_wins() {
    // Both timers fire at the same instant; the future is polled before the timer.
    let start = Instant::now();
    let result = timeout(Duration::from_secs(1), sleep(Duration::from_secs(1))).await;
    assert_eq!(result, Ok(()));
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
}

#[weft::test(start_paused = true)]
async fn timeout_at_uses_an_instant() {
    let start = Instant::now();
    let deadline = start + Duration::from_millis(750);
    assert!(timeout_at(deadline, pending::<()>()).await.is_err());
    assert_eq!(Instant::now(), deadline);
    // A deadline in the past: a ready future still wins, a pending one elapses at once.
    assert_eq!(timeout_at(start, ready(1)).await, Ok(1));
    assert!(timeout_at(start, pending::<()>()).await.is_err());
    assert_eq!(Instant::now(), deadline);
}

#[weft::test(start_paused = true)]
async fn nested_timeouts_the_shorter_one_wins() {
    let start = Instant::now();
    let outer = timeout(
        Duration::from_secs(5),
        timeout(Duration::from_secs(2), pending::<()>()),
    )
    .await;
    assert!(matches!(outer, Ok(Err(_))), "{outer:?}");
    assert_eq!(Instant::now() - start, Duration::from_secs(2));

    let start = Instant::now();
    let outer = timeout(
        Duration::from_secs(2),
        timeout(Duration::from_secs(5), pending::<()>()),
    )
    .await;
    assert!(outer.is_err(), "{outer:?}");
    assert_eq!(Instant::now() - start, Duration::from_secs(2));
}

#[weft::test(start_paused = true)]
async fn timing_out_on_a_join_handle_detaches_the_task() {
    let done = Rc::new(Cell::new(false));
    let task = {
        let done = done.clone();
        weft::spawn(async move {
            sleep(Duration::from_secs(10)).await;
            done.set(true);
        })
    };
    let start = Instant::now();
    assert!(timeout(Duration::from_secs(1), task).await.is_err());
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
    assert!(!done.get());
    sleep(Duration::from_secs(20)).await;
    assert!(
        done.get(),
        "the task kept running after its handle was dropped"
    );
}

#[weft::test(start_paused = true)]
async fn many_timeouts_each_elapse_at_their_own_deadline() {
    let start = Instant::now();
    let tasks: Vec<_> = (1..=50u64)
        .map(|i| {
            weft::spawn(async move {
                let result = timeout(Duration::from_millis(i * 10), pending::<()>()).await;
                (result.is_err(), Instant::now() - start)
            })
        })
        .collect();
    for (i, result) in weft::join_all(tasks).await.into_iter().enumerate() {
        let (elapsed_err, at) = result.unwrap();
        assert!(elapsed_err);
        assert_eq!(at, Duration::from_millis((i as u64 + 1) * 10));
    }
}

#[weft::test(start_paused = true)]
async fn a_timeout_can_be_unwrapped_and_inspected() {
    let wrapped = timeout(Duration::from_secs(1), ready(3));
    assert!(format!("{wrapped:?}").contains("Timeout"));
    let _inner: &std::future::Ready<i32> = wrapped.get_ref();
    let inner = wrapped.into_inner();
    assert_eq!(inner.await, 3);
}

#[weft::test(start_paused = true)]
async fn elapsed_is_an_error_that_reads_well() {
    let error = timeout(Duration::ZERO, pending::<()>()).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("elapsed"), "{text}");
    assert_eq!(error, error.clone());
    let boxed: Box<dyn std::error::Error> = Box::new(error);
    assert!(!boxed.to_string().is_empty());
    let io: std::io::Error = error.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn a_real_clock_timeout_elapses_and_is_never_early() {
    weft::run(async {
        let real = std::time::Instant::now();
        assert!(timeout(Duration::from_millis(20), pending::<()>())
            .await
            .is_err());
        assert!(real.elapsed() >= Duration::from_millis(20));
        assert_eq!(
            timeout(Duration::from_secs(60), async {
                sleep(Duration::from_millis(1)).await;
                1
            })
            .await,
            Ok(1)
        );
    });
}
