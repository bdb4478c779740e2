//! `interval` under the virtual clock: the first tick at once, then ticks at exact multiples of the period,
//! and the three missed-tick behaviours after the consumer falls 3.5 periods behind.

use std::panic::catch_unwind;
use std::time::Duration;

use weft::time::{interval, interval_at, sleep, Instant, MissedTickBehavior};

const PERIOD: Duration = Duration::from_millis(100);

/// `start + n` milliseconds.
fn at(start: Instant, ms: u64) -> Instant {
    start + Duration::from_millis(ms)
}

#[weft::test(start_paused = true)]
async fn the_first_tick_completes_at_once() {
    let start = Instant::now();
    let mut ticks = interval(PERIOD);
    let first = ticks.tick().await;
    assert_eq!(first, start);
    assert_eq!(Instant::now(), start);
}

#[weft::test(start_paused = true)]
async fn ticks_come_at_exact_multiples_of_the_period() {
    let start = Instant::now();
    let mut ticks = interval(PERIOD);
    for n in 0..20u64 {
        let scheduled = ticks.tick().await;
        assert_eq!(scheduled, at(start, 100 * n));
        assert_eq!(Instant::now(), scheduled, "tick {n} came exactly on time");
    }
}

#[weft::test(start_paused = true)]
async fn interval_at_starts_at_the_given_instant() {
    let start = Instant::now();
    let mut ticks = interval_at(at(start, 250), PERIOD);
    assert_eq!(ticks.tick().await, at(start, 250));
    assert_eq!(Instant::now(), at(start, 250));
    assert_eq!(ticks.tick().await, at(start, 350));
    assert_eq!(Instant::now(), at(start, 350));
}

#[weft::test(start_paused = true)]
async fn the_default_missed_tick_behaviour_is_burst() {
    let ticks = interval(PERIOD);
    assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
    assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
    assert_eq!(ticks.period(), PERIOD);
}

/// Ticks at 0 and 100, then the consumer is busy until 450 (3.5 periods after the tick at 100). Returns the
/// interval, ready to tick again.
async fn fall_behind(behavior: MissedTickBehavior) -> (Instant, weft::time::Interval) {
    let start = Instant::now();
    let mut ticks = interval(PERIOD);
    ticks.set_missed_tick_behavior(behavior);
    assert_eq!(ticks.missed_tick_behavior(), behavior);
    assert_eq!(ticks.tick().await, start);
    assert_eq!(ticks.tick().await, at(start, 100));
    sleep(Duration::from_millis(350)).await;
    assert_eq!(Instant::now(), at(start, 450));
    (start, ticks)
}

#[weft::test(start_paused = true)]
async fn burst_fires_the_missed_ticks_back_to_back_then_keeps_the_schedule() {
    let (start, mut ticks) = fall_behind(MissedTickBehavior::Burst).await;
    // The missed ticks at 200, 300 and 400 fire at once (now = 450), then the schedule resumes at 500.
    for ms in [200, 300, 400] {
        assert_eq!(ticks.tick().await, at(start, ms));
        assert_eq!(
            Instant::now(),
            at(start, 450),
            "missed tick {ms} fired at once"
        );
    }
    for ms in [500, 600, 700] {
        assert_eq!(ticks.tick().await, at(start, ms));
        assert_eq!(Instant::now(), at(start, ms));
    }
}

#[weft::test(start_paused = true)]
async fn delay_fires_one_late_tick_then_restarts_the_schedule_from_it() {
    let (start, mut ticks) = fall_behind(MissedTickBehavior::Delay).await;
    // One late tick (scheduled at 200, fired at 450); the next is one period after it, and so on.
    assert_eq!(ticks.tick().await, at(start, 200));
    assert_eq!(Instant::now(), at(start, 450));
    for ms in [550, 650, 750] {
        assert_eq!(ticks.tick().await, at(start, ms));
        assert_eq!(Instant::now(), at(start, ms));
    }
}

#[weft::test(start_paused = true)]
async fn skip_fires_one_late_tick_then_returns_to_the_original_grid() {
    let (start, mut ticks) = fall_behind(MissedTickBehavior::Skip).await;
    // One late tick (scheduled at 200, fired at 450); 300 and 400 are dropped; the grid resumes at 500.
    assert_eq!(ticks.tick().await, at(start, 200));
    assert_eq!(Instant::now(), at(start, 450));
    for ms in [500, 600, 700] {
        assert_eq!(ticks.tick().await, at(start, ms));
        assert_eq!(Instant::now(), at(start, ms));
    }
}

#[weft::test(start_paused = true)]
async fn a_late_tick_that_missed_nothing_keeps_the_schedule() {
    // Late by half a period: no tick was missed, so every behaviour keeps the original grid.
    for behavior in [
        MissedTickBehavior::Burst,
        MissedTickBehavior::Delay,
        MissedTickBehavior::Skip,
    ] {
        let start = Instant::now();
        let mut ticks = interval(PERIOD);
        ticks.set_missed_tick_behavior(behavior);
        ticks.tick().await;
        sleep(Duration::from_millis(150)).await;
        assert_eq!(ticks.tick().await, at(start, 100), "{behavior:?}");
        assert_eq!(Instant::now(), at(start, 150));
        assert_eq!(ticks.tick().await, at(start, 200), "{behavior:?}");
        assert_eq!(Instant::now(), at(start, 200));
    }
}

#[weft::test(start_paused = true)]
async fn reset_starts_the_schedule_over_one_period_from_now() {
    let start = Instant::now();
    let mut ticks = interval(PERIOD);
    ticks.tick().await;
    sleep(Duration::from_millis(30)).await;
    ticks.reset();
    assert_eq!(ticks.tick().await, at(start, 130));
    assert_eq!(Instant::now(), at(start, 130));
    assert_eq!(ticks.tick().await, at(start, 230));
}

#[weft::test(start_paused = true)]
async fn an_interval_in_a_spawned_task_ticks_alongside_others() {
    let start = Instant::now();
    let fast = weft::spawn(async move {
        let mut ticks = interval(Duration::from_millis(10));
        let mut seen = Vec::new();
        for _ in 0..10 {
            seen.push(ticks.tick().await - start);
        }
        seen
    });
    let slow = weft::spawn(async move {
        let mut ticks = interval(Duration::from_millis(45));
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(ticks.tick().await - start);
        }
        seen
    });
    let fast = fast.await.unwrap();
    let slow = slow.await.unwrap();
    assert_eq!(
        fast,
        (0..10u64)
            .map(|n| Duration::from_millis(10 * n))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        slow,
        (0..3u64)
            .map(|n| Duration::from_millis(45 * n))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_zero_period_panics() {
    assert!(catch_unwind(|| interval(Duration::ZERO)).is_err());
    assert!(catch_unwind(|| interval_at(Instant::now(), Duration::ZERO)).is_err());
}

#[test]
fn real_clock_ticks_are_never_early() {
    weft::run(async {
        let start = Instant::now();
        let mut ticks = interval_at(start, Duration::from_millis(5));
        for n in 0..4u32 {
            let scheduled = ticks.tick().await;
            assert_eq!(scheduled, start + Duration::from_millis(5) * n);
            assert!(Instant::now() >= scheduled);
        }
    });
}
