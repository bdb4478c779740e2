//! [`Instant`]: a point in time that follows the runtime's clock.

#![forbid(unsafe_code)]

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

use super::context;

/// A measurement of a monotonic clock, like [`std::time::Instant`], except that inside a runtime built with
/// [`start_paused(true)`](crate::Builder::start_paused) it follows the **virtual** clock.
///
/// ```
/// use std::time::Duration;
/// use weft::time::Instant;
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let start = Instant::now();
///     weft::time::sleep(Duration::from_secs(3600)).await;
///     assert!(start.elapsed() >= Duration::from_secs(3600)); // an hour passed, virtually
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// The current time: the runtime's virtual clock when it is paused, the OS's monotonic clock otherwise.
    ///
    /// ```
    /// use weft::time::Instant;
    ///
    /// let before = Instant::now(); // outside a runtime: the OS clock
    /// assert!(before.into_std() <= std::time::Instant::now());
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let start = Instant::now();
    ///     std::thread::sleep(std::time::Duration::from_millis(5)); // real time passes...
    ///     assert_eq!(Instant::now(), start); // ...virtual time does not
    /// });
    /// ```
    pub fn now() -> Instant {
        Instant(context::with_current(|timers| match timers {
            Some(timers) if timers.clock().is_paused() => timers.clock().now(),
            _ => std::time::Instant::now(),
        }))
    }

    /// Wraps a standard instant.
    ///
    /// ```
    /// use weft::time::Instant;
    ///
    /// let std_instant = std::time::Instant::now();
    /// assert_eq!(Instant::from_std(std_instant).into_std(), std_instant);
    /// ```
    pub fn from_std(instant: std::time::Instant) -> Instant {
        Instant(instant)
    }

    /// The standard instant.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::Instant;
    ///
    /// let instant = Instant::now();
    /// let later = instant + Duration::from_secs(1);
    /// assert_eq!(later.into_std() - instant.into_std(), Duration::from_secs(1));
    /// ```
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// Time since `earlier`, or zero if `earlier` is later.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::Instant;
    ///
    /// let earlier = Instant::now();
    /// let later = earlier + Duration::from_secs(5);
    /// assert_eq!(later.duration_since(earlier), Duration::from_secs(5));
    /// assert_eq!(earlier.duration_since(later), Duration::ZERO);
    /// ```
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time since `earlier`, or `None` if `earlier` is later.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::Instant;
    ///
    /// let earlier = Instant::now();
    /// let later = earlier + Duration::from_secs(5);
    /// assert_eq!(later.checked_duration_since(earlier), Some(Duration::from_secs(5)));
    /// assert_eq!(earlier.checked_duration_since(later), None);
    /// ```
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// Time since `earlier`, or zero if `earlier` is later.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::Instant;
    ///
    /// let earlier = Instant::now();
    /// let later = earlier + Duration::from_millis(1500);
    /// assert_eq!(later.saturating_duration_since(earlier), Duration::from_millis(1500));
    /// assert_eq!(earlier.saturating_duration_since(later), Duration::ZERO);
    /// ```
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time since this instant, by [`Instant::now`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{sleep, Instant};
    ///
    /// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    /// runtime.block_on(async {
    ///     let start = Instant::now();
    ///     sleep(Duration::from_secs(2)).await;
    ///     assert_eq!(start.elapsed(), Duration::from_secs(2)); // exact: the clock is virtual
    /// });
    /// ```
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + duration`, or `None` on overflow.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::Instant;
    ///
    /// let now = Instant::now();
    /// assert_eq!(now.checked_add(Duration::from_secs(1)), Some(now + Duration::from_secs(1)));
    /// assert_eq!(now.checked_add(Duration::MAX), None);
    /// ```
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, or `None` on underflow.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::Instant;
    ///
    /// let later = Instant::now() + Duration::from_secs(10);
    /// assert_eq!(later.checked_sub(Duration::from_secs(10)).unwrap() + Duration::from_secs(10), later);
    /// assert_eq!(later.checked_sub(Duration::MAX), None);
    /// ```
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }

    /// `self + duration`, or about thirty years from now if that overflows — "never", for a timer.
    pub(crate) fn saturating_add(&self, duration: Duration) -> Instant {
        self.checked_add(duration)
            .or_else(|| self.checked_add(Duration::from_secs(86400 * 365 * 30)))
            .unwrap_or(*self)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(instant: std::time::Instant) -> Instant {
        Instant(instant)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, duration: Duration) -> Instant {
        Instant(self.0 + duration)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        self.0 += duration;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    fn sub(self, duration: Duration) -> Instant {
        Instant(self.0 - duration)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        self.0 -= duration;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
