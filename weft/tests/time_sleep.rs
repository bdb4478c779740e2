//! `sleep` and `sleep_until`, mostly under the virtual clock: exact durations, past deadlines, many timers on
//! one deadline, dropped timers leaving the wheel, re-armed timers, far deadlines, and one real-clock sleep.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use weft::time::{sleep, sleep_until, timeout, Instant, Sleep};
use weft::Builder;

/// Records the virtual time of every poll of the future it wraps.
struct RecordPolls<F> {
    inner: F,
    polls: Rc<RefCell<Vec<Instant>>>,
}

impl<F: Future + Unpin> Future for RecordPolls<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.borrow_mut().push(Instant::now());
        Pin::new(&mut self.inner).poll(cx)
    }
}

/// Polls `sleep` exactly once (registering its timer) and says whether it was ready.
async fn poll_once(sleep: &mut Sleep) -> bool {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *sleep).poll(cx).is_ready())).await
}

/// A waker that does nothing (std's `Waker::noop` is newer than this crate's MSRV).
struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

#[weft::test(start_paused = true)]
async fn sleep_zero_completes_without_moving_the_clock() {
    let start = Instant::now();
    sleep(Duration::ZERO).await;
    assert_eq!(Instant::now(), start);
    sleep(Duration::from_nanos(0)).await;
    assert_eq!(Instant::now(), start);
}

#[test]
fn sleep_zero_completes_on_the_real_clock() {
    weft::run(async {
        for _ in 0..100 {
            sleep(Duration::ZERO).await;
        }
    });
}

#[weft::test(start_paused = true)]
async fn sleep_advances_virtual_time_by_exactly_its_duration() {
    let durations_ms = [
        1u64, 2, 7, 63, 64, 65, 100, 999, 1_000, 4_095, 4_096, 4_097, 65_536, 262_143, 3_600_000,
        86_400_000,
    ];
    for ms in durations_ms {
        let start = Instant::now();
        sleep(Duration::from_millis(ms)).await;
        assert_eq!(
            Instant::now() - start,
            Duration::from_millis(ms),
            "sleep of {ms} ms"
        );
    }
}

#[weft::test(start_paused = true)]
async fn sleep_until_a_future_instant_wakes_exactly_then() {
    let start = Instant::now();
    let deadline = start + Duration::from_millis(1_500);
    sleep_until(deadline).await;
    assert_eq!(Instant::now(), deadline);
}

#[weft::test(start_paused = true)]
async fn sleep_until_a_past_instant_completes_at_once() {
    sleep(Duration::from_secs(10)).await;
    let start = Instant::now();
    sleep_until(start - Duration::from_secs(5)).await;
    sleep_until(start).await;
    assert_eq!(Instant::now(), start, "no time passed");
    let past = sleep_until(start - Duration::from_millis(1));
    assert!(past.is_elapsed());
}

#[weft::test(start_paused = true)]
async fn sleeps_in_many_tasks_wake_in_deadline_order_at_their_deadline() {
    let start = Instant::now();
    let woke = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..100u64)
        .map(|i| {
            let woke = woke.clone();
            let ms = 1 + (i * 37) % 100; // a permutation of 1..=100
            weft::spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                woke.borrow_mut().push((ms, Instant::now() - start));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let woke = woke.borrow();
    let order: Vec<u64> = woke.iter().map(|(ms, _)| *ms).collect();
    assert_eq!(order, (1..=100).collect::<Vec<_>>());
    for (ms, elapsed) in woke.iter() {
        assert_eq!(*elapsed, Duration::from_millis(*ms));
    }
}

#[weft::test(start_paused = true)]
async fn ten_thousand_timers_on_one_deadline_fire_together() {
    const TIMERS: usize = 10_000;
    let start = Instant::now();
    let deadline = start + Duration::from_millis(250);
    let woke = Rc::new(RefCell::new(Vec::with_capacity(TIMERS)));
    let tasks: Vec<_> = (0..TIMERS)
        .map(|_| {
            let woke = woke.clone();
            weft::spawn(async move {
                sleep_until(deadline).await;
                woke.borrow_mut().push(Instant::now());
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let woke = woke.borrow();
    assert_eq!(woke.len(), TIMERS);
    // Every timer saw the same instant: the clock moved once, straight to the deadline.
    assert!(woke.iter().all(|&at| at == deadline));
    assert_eq!(Instant::now(), deadline);
}

/// A task polls 10,000 one-hour sleeps once each (registering them with its own waker) and drops them, then
/// sleeps two hours. Had the dropped timers stayed in the wheel, the clock would stop at one hour and the
/// task would be woken there for nothing.
#[weft::test(start_paused = true)]
async fn dropped_sleeps_leave_the_wheel() {
    let start = Instant::now();
    for _ in 0..10_000 {
        let mut hour = sleep(Duration::from_secs(3600));
        assert!(!poll_once(&mut hour).await);
        drop(hour);
    }
    let polls = Rc::new(RefCell::new(Vec::new()));
    RecordPolls {
        inner: sleep(Duration::from_secs(7200)),
        polls: polls.clone(),
    }
    .await;
    assert_eq!(
        *polls.borrow(),
        [start, start + Duration::from_secs(7200)],
        "the two-hour sleep was polled once to start and once at its deadline"
    );
}

/// Same, with the one-hour sleeps owned by tasks that are aborted.
#[weft::test(start_paused = true)]
async fn sleeps_of_aborted_tasks_leave_the_wheel() {
    let start = Instant::now();
    let tasks: Vec<_> = (0..10_000)
        .map(|_| weft::spawn(sleep(Duration::from_secs(3600))))
        .collect();
    weft::task::yield_now().await;
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        assert!(task.await.unwrap_err().is_cancelled());
    }
    let polls = Rc::new(RefCell::new(Vec::new()));
    RecordPolls {
        inner: sleep(Duration::from_secs(7200)),
        polls: polls.clone(),
    }
    .await;
    assert_eq!(*polls.borrow(), [start, start + Duration::from_secs(7200)]);
}

/// Same, with the sleeps dropped on another thread (the loop learns of them through its remote queue).
#[weft::test(start_paused = true)]
async fn sleeps_dropped_on_another_thread_leave_the_wheel() {
    let start = Instant::now();
    let mut sleeps = Vec::new();
    for _ in 0..1_000 {
        let mut hour = sleep(Duration::from_secs(3600));
        assert!(!poll_once(&mut hour).await);
        sleeps.push(hour);
    }
    thread::spawn(move || drop(sleeps)).join().unwrap();
    let polls = Rc::new(RefCell::new(Vec::new()));
    RecordPolls {
        inner: sleep(Duration::from_secs(7200)),
        polls: polls.clone(),
    }
    .await;
    assert_eq!(*polls.borrow(), [start, start + Duration::from_secs(7200)]);
}

#[weft::test(start_paused = true)]
async fn a_sleep_reset_to_an_earlier_deadline_wakes_then_and_only_then() {
    let start = Instant::now();
    let mut timer = sleep(Duration::from_secs(10));
    assert!(!poll_once(&mut timer).await);
    timer.reset(start + Duration::from_secs(2));
    assert_eq!(timer.deadline(), start + Duration::from_secs(2));
    (&mut timer).await;
    assert_eq!(Instant::now() - start, Duration::from_secs(2));
    // The original 10 s registration is gone: a 20 s sleep is not woken at 10 s.
    let polls = Rc::new(RefCell::new(Vec::new()));
    RecordPolls {
        inner: sleep_until(start + Duration::from_secs(20)),
        polls: polls.clone(),
    }
    .await;
    assert_eq!(
        *polls.borrow(),
        [
            start + Duration::from_secs(2),
            start + Duration::from_secs(20)
        ]
    );
}

#[weft::test(start_paused = true)]
async fn a_sleep_reset_to_a_later_deadline_is_not_woken_at_the_old_one() {
    let start = Instant::now();
    let mut timer = sleep(Duration::from_secs(1));
    assert!(!poll_once(&mut timer).await);
    timer.reset(start + Duration::from_secs(5));
    let polls = Rc::new(RefCell::new(Vec::new()));
    RecordPolls {
        inner: &mut timer,
        polls: polls.clone(),
    }
    .await;
    assert_eq!(*polls.borrow(), [start, start + Duration::from_secs(5)]);
}

#[weft::test(start_paused = true)]
async fn a_completed_sleep_can_be_reset_and_awaited_again() {
    let start = Instant::now();
    let mut timer = sleep(Duration::from_millis(100));
    (&mut timer).await;
    assert!(timer.is_elapsed());
    assert_eq!(Instant::now() - start, Duration::from_millis(100));
    timer.reset(Instant::now() + Duration::from_millis(300));
    assert!(!timer.is_elapsed());
    (&mut timer).await;
    assert_eq!(Instant::now() - start, Duration::from_millis(400));
    // Reset into the past: ready at once.
    timer.reset(start);
    (&mut timer).await;
    assert_eq!(Instant::now() - start, Duration::from_millis(400));
}

#[weft::test(start_paused = true)]
async fn a_sleep_reset_many_times_wakes_only_at_the_last_deadline() {
    let start = Instant::now();
    let mut timer = sleep(Duration::from_secs(1));
    for i in 0..1000u64 {
        assert!(!poll_once(&mut timer).await);
        timer.reset(start + Duration::from_millis(1 + (i * 7919) % 5000));
    }
    timer.reset(start + Duration::from_secs(6));
    let polls = Rc::new(RefCell::new(Vec::new()));
    RecordPolls {
        inner: &mut timer,
        polls: polls.clone(),
    }
    .await;
    assert_eq!(*polls.borrow(), [start, start + Duration::from_secs(6)]);
}

#[weft::test(start_paused = true)]
async fn a_deadline_years_away_works() {
    let years = Duration::from_secs(5 * 365 * 86_400);
    let start = Instant::now();
    sleep(years).await;
    let elapsed = Instant::now() - start;
    assert!(elapsed >= years, "{elapsed:?}");
    assert_eq!(elapsed, years);
    // And the wheel still works at short range afterwards.
    let start = Instant::now();
    sleep(Duration::from_millis(3)).await;
    assert_eq!(Instant::now() - start, Duration::from_millis(3));
}

#[weft::test(start_paused = true)]
async fn a_duration_max_sleep_is_created_without_panicking() {
    let start = Instant::now();
    let forever = sleep(Duration::MAX);
    assert!(forever.deadline() > start);
    assert!(!forever.is_elapsed());
    let result = timeout(Duration::from_secs(1), forever).await;
    assert!(result.is_err(), "a Duration::MAX sleep never completes");
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
}

#[test]
fn a_real_clock_sleep_is_never_early() {
    weft::run(async {
        let real = std::time::Instant::now();
        let start = Instant::now();
        sleep(Duration::from_millis(20)).await;
        assert!(
            real.elapsed() >= Duration::from_millis(20),
            "{:?}",
            real.elapsed()
        );
        assert!(start.elapsed() >= Duration::from_millis(20));

        let deadline = Instant::now() + Duration::from_millis(15);
        sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
    });
}

#[test]
fn a_sleep_moved_to_another_runtime_still_completes() {
    let first = Builder::new().start_paused(true).build().unwrap();
    // The registered sleep is handed out of block_on on purpose, to be awaited on the other runtime.
    #[allow(clippy::async_yields_async)]
    let mut timer = first.block_on(async {
        let mut timer = sleep(Duration::from_secs(3600));
        assert!(!poll_once(&mut timer).await);
        timer
    });
    let second = Builder::new().build().unwrap();
    // The deadline is an hour of the first runtime's (virtual) clock; move it close on the real clock.
    timer.reset(Instant::now() + Duration::from_millis(5));
    second.block_on(async { (&mut timer).await });
    assert!(timer.is_elapsed());
    drop(timer);
    drop(first);
}

#[test]
fn a_sleep_polled_outside_a_runtime_panics_clearly() {
    let mut timer = sleep(Duration::from_millis(1));
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    let payload =
        catch_unwind(AssertUnwindSafe(|| Pin::new(&mut timer).poll(&mut cx))).unwrap_err();
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(text.contains("outside a runtime"), "{text:?}");
}
