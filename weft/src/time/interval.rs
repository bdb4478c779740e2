//! [`Interval`]: ticks at a fixed period.

#![forbid(unsafe_code)]

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Instant, Sleep};
use crate::cell::{Label, Op};

/// What an [`Interval`] does when ticks were missed because the task was busy for longer than a period.
///
/// ```
/// use std::time::Duration;
/// use weft::time::{interval, sleep, Instant, MissedTickBehavior};
///
/// /// Ticks every 100 ms, but the task is busy from 0 to 350 ms: when does the tick after the late one come?
/// fn tick_after_late_one(behavior: MissedTickBehavior) -> Duration {
///     let runtime = weft::Builder::new().start_paused(true).build().unwrap();
///     runtime.block_on(async {
///         let start = Instant::now();
///         let mut ticks = interval(Duration::from_millis(100));
///         ticks.set_missed_tick_behavior(behavior);
///         ticks.tick().await; // at 0
///         sleep(Duration::from_millis(350)).await; // busy: the ticks at 100, 200 and 300 are missed
///         let late = ticks.tick().await; // at once, whatever the behavior
///         assert_eq!(late - start, Duration::from_millis(100)); // it reports when it was due
///         ticks.tick().await;
///         start.elapsed()
///     })
/// }
///
/// assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
/// assert_eq!(tick_after_late_one(MissedTickBehavior::Burst), Duration::from_millis(350)); // catching up
/// assert_eq!(tick_after_late_one(MissedTickBehavior::Delay), Duration::from_millis(450)); // 350 + 100
/// assert_eq!(tick_after_late_one(MissedTickBehavior::Skip), Duration::from_millis(400)); // back on schedule
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, keeping the original schedule. The default.
    ///
    /// See the example on [`MissedTickBehavior`].
    #[default]
    Burst,
    /// Start the schedule over: the next tick is one period after the late one.
    ///
    /// See the example on [`MissedTickBehavior`].
    Delay,
    /// Drop the missed ticks: the next tick is the next point on the original schedule after now.
    ///
    /// See the example on [`MissedTickBehavior`].
    Skip,
}

/// Ticks every `period`; the first tick completes immediately.
///
/// ```
/// use std::time::Duration;
/// use weft::time::{interval, Instant};
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let start = Instant::now();
///     let mut ticks = interval(Duration::from_millis(100));
///     for _ in 0..3 {
///         ticks.tick().await;
///     }
///     assert_eq!(Instant::now() - start, Duration::from_millis(200));
/// });
/// ```
///
/// # Panics
/// If `period` is zero.
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// ```
/// use std::time::Duration;
/// use weft::time::{interval_at, Instant};
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let start = Instant::now();
///     let mut ticks = interval_at(start + Duration::from_millis(50), Duration::from_millis(100));
///     assert_eq!(ticks.tick().await - start, Duration::from_millis(50));
///     assert_eq!(ticks.tick().await - start, Duration::from_millis(150));
/// });
/// ```
///
/// # Panics
/// If `period` is zero.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "weft::time::interval needs a non-zero period"
    );
    Interval {
        sleep: Sleep::new(
            start,
            Location::caller(),
            Label::duration(Op::Interval, period),
        ),
        period,
        missed_tick_behavior: MissedTickBehavior::Burst,
    }
}

/// A schedule of ticks; see [`interval`].
///
/// ```
/// use std::time::Duration;
/// use weft::time::{interval, timeout};
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let mut ticks = interval(Duration::from_millis(250));
///     let mut count = 0;
///     let forever = async {
///         loop {
///             ticks.tick().await;
///             count += 1;
///         }
///     };
///     assert!(timeout(Duration::from_millis(1100), forever).await.is_err());
///     assert_eq!(count, 5); // at 0, 250, 500, 750 and 1000 ms
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    /// Sleeps until the next tick.
    sleep: Sleep,
    /// Time between ticks.
    period: Duration,
    /// What to do after a late tick.
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns when it was scheduled.
    ///
    /// Cancellation safety: dropping the future loses no tick; the next call returns the same tick.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{interval, Instant};
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let start = Instant::now();
    ///     let mut ticks = interval(Duration::from_secs(1));
    ///     assert_eq!(ticks.tick().await, start); // the first tick is immediate
    ///     assert_eq!(ticks.tick().await, start + Duration::from_secs(1));
    /// });
    /// ```
    #[track_caller]
    pub fn tick(&mut self) -> impl Future<Output = Instant> + '_ {
        Tick {
            interval: self,
            location: Location::caller(),
        }
    }

    /// Polls for the next tick: `Ready` with the tick's scheduled time once it is due, otherwise `Pending` (and
    /// the task is woken when it is due).
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    /// use std::time::Duration;
    /// use weft::time::{interval, Instant};
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let start = Instant::now();
    ///     let mut ticks = interval(Duration::from_secs(1));
    ///     assert_eq!(poll_fn(|cx| ticks.poll_tick(cx)).await, start);
    ///     let next_is_due = poll_fn(|cx| Poll::Ready(ticks.poll_tick(cx).is_ready())).await;
    ///     assert!(!next_is_due); // the next tick is a second away
    /// });
    /// ```
    #[track_caller]
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        self.poll_tick_at(cx, Location::caller())
    }

    /// [`poll_tick`](Self::poll_tick), bookmarked at `location` while it waits.
    #[track_caller]
    fn poll_tick_at(
        &mut self,
        cx: &mut Context<'_>,
        location: &'static Location<'static>,
    ) -> Poll<Instant> {
        if self.sleep.poll_quietly(cx).is_pending() {
            crate::cell::bookmark(location, Label::duration(Op::Interval, self.period));
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let next = match self.missed_tick_behavior {
            MissedTickBehavior::Burst => scheduled.saturating_add(self.period),
            MissedTickBehavior::Delay if now > scheduled.saturating_add(self.period) => {
                now.saturating_add(self.period)
            }
            MissedTickBehavior::Delay => scheduled.saturating_add(self.period),
            MissedTickBehavior::Skip => {
                let next = scheduled.saturating_add(self.period);
                if next > now {
                    next
                } else {
                    let behind = now.duration_since(scheduled).as_nanos();
                    let periods = behind / self.period.as_nanos() + 1;
                    let skip = Duration::from_nanos(
                        u64::try_from(periods * self.period.as_nanos()).unwrap_or(u64::MAX),
                    );
                    scheduled.saturating_add(skip)
                }
            }
        };
        self.sleep.move_deadline(next);
        Poll::Ready(scheduled)
    }

    /// Restarts the schedule: the next tick is one period from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{interval, sleep, Instant};
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let start = Instant::now();
    ///     let mut ticks = interval(Duration::from_millis(100));
    ///     ticks.tick().await; // at 0
    ///     sleep(Duration::from_millis(30)).await;
    ///     ticks.reset(); // the tick due at 100 moves to 30 + 100
    ///     ticks.tick().await;
    ///     assert_eq!(start.elapsed(), Duration::from_millis(130));
    /// });
    /// ```
    pub fn reset(&mut self) {
        self.sleep
            .move_deadline(Instant::now().saturating_add(self.period));
    }

    /// The period.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ticks = weft::time::interval(Duration::from_millis(250));
    /// assert_eq!(ticks.period(), Duration::from_millis(250));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The missed-tick policy; [`MissedTickBehavior::Burst`] unless set.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{interval, MissedTickBehavior};
    ///
    /// let ticks = interval(Duration::from_secs(1));
    /// assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets the missed-tick policy; see [`MissedTickBehavior`] for what each one does.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{interval, MissedTickBehavior};
    ///
    /// let mut ticks = interval(Duration::from_secs(1));
    /// ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    /// assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Skip);
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }
}

/// The future of [`Interval::tick`]: a named type rather than a closure, so that a panic in its poll names the
/// caller's `.await`.
#[derive(Debug)]
struct Tick<'a> {
    /// The interval that ticks.
    interval: &'a mut Interval,
    /// Where `tick` was called: the bookmark while it waits.
    location: &'static Location<'static>,
}

impl Future for Tick<'_> {
    type Output = Instant;

    #[track_caller]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Instant> {
        let location = self.location;
        self.interval.poll_tick_at(cx, location)
    }
}
