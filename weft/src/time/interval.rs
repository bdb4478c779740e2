//! [`Interval`]: ticks at a fixed period.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Instant, Sleep};

/// What an [`Interval`] does when ticks were missed because the task was busy for longer than a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, keeping the original schedule. The default.
    #[default]
    Burst,
    /// Start the schedule over: the next tick is one period after the late one.
    Delay,
    /// Drop the missed ticks: the next tick is the next point on the original schedule after now.
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
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
/// If `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "weft::time::interval needs a non-zero period"
    );
    Interval {
        sleep: Sleep::new(start),
        period,
        missed_tick_behavior: MissedTickBehavior::Burst,
    }
}

/// A schedule of ticks; see [`interval`].
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
    pub fn tick(&mut self) -> impl Future<Output = Instant> + '_ {
        poll_fn(|cx| self.poll_tick(cx))
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
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
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(Instant::now().saturating_add(self.period));
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The missed-tick policy.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets the missed-tick policy.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }
}
