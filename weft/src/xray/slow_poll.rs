//! Slow polls: a poll that blocks the loop longer than a threshold, reported after it returns and, by a
//! watchdog thread, while it is still running.
//!
//! While detection is on, the loop publishes each poll — start time, task id, spawn location, name — under an
//! uncontended lock ([`PollWatch`]); the watchdog reads only that record, never task memory, so it cannot race
//! with a task being freed.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::bookmark::Bookmark;
use crate::cell::Id;
use crate::cell::Label;
use crate::runtime::LoopId;

/// A poll that blocked the loop for longer than the slow-poll threshold.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let runtime = weft::Builder::new()
///     .slow_poll_threshold(Some(Duration::from_millis(20)))
///     .on_slow_poll({
///         let seen = seen.clone();
///         move |slow: &weft::xray::SlowPoll| seen.lock().unwrap().push(slow.clone())
///     })
///     .build()
///     .unwrap();
/// runtime.block_on(async {
///     weft::task::Builder::new()
///         .name("hog")
///         .spawn(async { std::thread::sleep(Duration::from_millis(60)) }) // blocks the loop
///         .await
///         .unwrap();
/// });
/// drop(runtime);
/// let seen = seen.lock().unwrap();
/// let after = seen.iter().find(|slow| !slow.still_running).expect("reported when it returned");
/// assert_eq!(after.name.as_deref(), Some("hog"));
/// assert!(after.duration >= Duration::from_millis(60));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SlowPoll {
    /// The task.
    pub id: Id,
    /// The loop it blocked (see [`Builder::loops`](crate::Builder::loops)).
    pub loop_id: LoopId,
    /// Its name, if it was given one with [`task::Builder::name`](crate::cell::Builder::name).
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
    /// The bookmark the poll resumed from (where the task was parked before this poll), if any.
    pub bookmark: Option<Bookmark>,
    /// How long the poll has blocked the loop (so far, if `still_running`).
    pub duration: Duration,
    /// Reported by the watchdog while the poll is still running (the loop is stuck in it right now).
    pub still_running: bool,
}

impl SlowPoll {
    /// A report.
    pub(crate) fn new(
        loop_id: LoopId,
        id: Id,
        name: Option<String>,
        spawned_at: &'static Location<'static>,
        bookmark: Option<Bookmark>,
        duration: Duration,
        still_running: bool,
    ) -> SlowPoll {
        SlowPoll {
            id,
            loop_id,
            name,
            spawned_at,
            bookmark,
            duration,
            still_running,
        }
    }
}

impl fmt::Display for SlowPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let task = crate::cell::TaskTitle(self.id, self.name.as_deref());
        let ms = self.duration.as_secs_f64() * 1e3;
        write!(f, "{task} (spawned at {}) ", self.spawned_at)?;
        if self.loop_id.index() > 0 {
            write!(f, "on {} ", self.loop_id)?;
        }
        if self.still_running {
            write!(
                f,
                "has been blocking the loop for {ms:.1} ms and is still running"
            )?;
        } else {
            write!(f, "blocked the loop for {ms:.1} ms")?;
        }
        match &self.bookmark {
            Some(bookmark) => write!(f, "; it resumed from {bookmark}"),
            None => Ok(()),
        }
    }
}

/// Where slow polls are reported.
pub(crate) type SlowPollHandler = Arc<dyn Fn(&SlowPoll) + Send + Sync>;

/// Slow-poll detection settings of a runtime.
#[derive(Clone)]
pub(crate) struct SlowPollConfig {
    /// Report polls longer than this; `None`: detection is off.
    pub(crate) threshold: Option<Duration>,
    /// Where reports go.
    pub(crate) handler: SlowPollHandler,
}

impl SlowPollConfig {
    /// The default: 100 ms in debug builds, off in release builds, unless `WEFT_SLOW_POLL` (e.g. `100ms`, `1s`,
    /// `250us`, or `off`) says otherwise; reports go to stderr.
    pub(crate) fn from_env() -> SlowPollConfig {
        let default = if cfg!(debug_assertions) {
            Some(Duration::from_millis(100))
        } else {
            None
        };
        let threshold = match std::env::var("WEFT_SLOW_POLL") {
            Ok(value) => parse_threshold(&value).unwrap_or(default),
            Err(_) => default,
        };
        SlowPollConfig {
            threshold,
            handler: Arc::new(|slow: &SlowPoll| eprintln!("weft: slow poll: {slow}")),
        }
    }
}

impl fmt::Debug for SlowPollConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlowPollConfig")
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

/// Parses `off`, `100ms`, `1s`, `250us` or a bare number of milliseconds. `None` if malformed.
fn parse_threshold(value: &str) -> Option<Option<Duration>> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") || value == "0" {
        return Some(None);
    }
    let (number, unit) = value.split_at(
        value
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(value.len()),
    );
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "ms" => number / 1e3,
        "s" => number,
        "us" | "µs" => number / 1e6,
        _ => return None,
    };
    Some(Some(Duration::from_secs_f64(seconds)))
}

/// The poll in progress, as the loop publishes it for the watchdog.
#[derive(Debug)]
pub(crate) struct PollWatch {
    /// The loop watched.
    loop_id: LoopId,
    /// The poll running now, if any.
    current: Mutex<Option<Polled>>,
    /// Set at shutdown; the watchdog exits.
    stop: Mutex<bool>,
    /// Wakes the watchdog at shutdown.
    stopped: Condvar,
    /// Polls begun so far: numbers each poll for [`Polled::sequence`].
    begun: AtomicU64,
}

/// A poll in progress.
#[derive(Debug, Clone)]
struct Polled {
    /// Counts polls, so the watchdog reports each stuck poll once.
    sequence: u64,
    /// When it started.
    started: Instant,
    /// The task.
    id: Id,
    /// Where it was spawned.
    spawned_at: &'static Location<'static>,
    /// Its name, if any.
    name: Option<Arc<str>>,
    /// The bookmark it resumed from.
    resumed_from: Option<(&'static Location<'static>, Label)>,
}

impl PollWatch {
    /// The loop watched.
    pub(crate) fn loop_id(&self) -> LoopId {
        self.loop_id
    }

    /// Nothing being polled.
    pub(crate) fn new(loop_id: LoopId) -> PollWatch {
        PollWatch {
            loop_id,
            current: Mutex::new(None),
            stop: Mutex::new(false),
            stopped: Condvar::new(),
            begun: AtomicU64::new(0),
        }
    }

    /// The loop starts polling `id` at `started`.
    pub(crate) fn begin(
        &self,
        started: Instant,
        id: Id,
        spawned_at: &'static Location<'static>,
        name: Option<Arc<str>>,
        resumed_from: Option<(&'static Location<'static>, Label)>,
    ) {
        let sequence = self.begun.fetch_add(1, Relaxed);
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Polled {
            sequence,
            started,
            id,
            spawned_at,
            name,
            resumed_from,
        });
    }

    /// The poll in progress: (task id, name, how long it has run, the bookmark it resumed from).
    pub(crate) fn current(&self) -> Option<(Id, Option<String>, Duration, Option<Bookmark>)> {
        let polled = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()?;
        Some((
            polled.id,
            polled.name.as_deref().map(str::to_owned),
            polled.started.elapsed(),
            polled
                .resumed_from
                .map(|(location, label)| Bookmark::new(location, label)),
        ))
    }

    /// The poll returned.
    pub(crate) fn end(&self) {
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

/// The watchdog thread of one runtime.
#[derive(Debug)]
pub(crate) struct Watchdog {
    /// Shared with the loop.
    watch: Arc<PollWatch>,
    /// Joined at shutdown.
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts a watchdog reporting polls stuck for longer than `threshold` to `handler`.
    pub(crate) fn start(
        watch: Arc<PollWatch>,
        threshold: Duration,
        handler: SlowPollHandler,
    ) -> Watchdog {
        let shared = watch.clone();
        let thread = thread::Builder::new()
            .name("weft-watchdog".into())
            .spawn(move || watch_loop(&shared, threshold, &handler))
            .ok();
        Watchdog { watch, thread }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        *self
            .watch
            .stop
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        self.watch.stopped.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Checks the published poll every `threshold / 2` and reports it once if it runs past the threshold.
fn watch_loop(watch: &PollWatch, threshold: Duration, handler: &SlowPollHandler) {
    let period = (threshold / 2).max(Duration::from_millis(1));
    let mut reported = u64::MAX;
    let mut stop = watch
        .stop
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let (guard, _) = watch
            .stopped
            .wait_timeout(stop, period)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        stop = guard;
        if *stop {
            return;
        }
        let polled = watch
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let Some(polled) = polled else { continue };
        let running = polled.started.elapsed();
        if running < threshold || polled.sequence == reported {
            continue;
        }
        reported = polled.sequence;
        let name = polled.name.as_deref().map(str::to_owned);
        let bookmark = polled
            .resumed_from
            .map(|(location, label)| Bookmark::new(location, label));
        let slow = SlowPoll::new(
            watch.loop_id,
            polled.id,
            name,
            polled.spawned_at,
            bookmark,
            running,
            true,
        );
        drop(stop);
        handler(&slow);
        stop = watch
            .stop
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_with_units() {
        assert_eq!(
            parse_threshold("100ms"),
            Some(Some(Duration::from_millis(100)))
        );
        assert_eq!(parse_threshold("2s"), Some(Some(Duration::from_secs(2))));
        assert_eq!(
            parse_threshold("250us"),
            Some(Some(Duration::from_micros(250)))
        );
        assert_eq!(parse_threshold("50"), Some(Some(Duration::from_millis(50))));
        assert_eq!(parse_threshold("off"), Some(None));
        assert_eq!(parse_threshold("0"), Some(None));
        assert_eq!(parse_threshold("fast"), None);
        assert_eq!(parse_threshold("10 parsecs"), None);
    }
}
