//! Runtime-neutral helpers shared by every runner: the figures a run reports, a one-shot completion signal, a
//! deterministic random generator, and latency statistics.
//!
//! Everything here is plain `std`, so no runtime under test gets a helper the others lack.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::sys::MemProbe;
use crate::Result;

/// The figures one run of one case reports: `values` are the table's figures (keys of
/// [`crate::spec::Workload::metrics`]), `extras` are context kept in the JSON only (RSS, thread counts, errors).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// The figures shown in the table.
    pub values: BTreeMap<String, f64>,
    /// Context kept only in the JSON.
    pub extras: BTreeMap<String, f64>,
}

impl Figures {
    /// No figures yet.
    pub fn new() -> Figures {
        Figures::default()
    }

    /// Adds a table figure.
    pub fn value(mut self, key: &str, v: f64) -> Figures {
        self.values.insert(key.to_string(), v);
        self
    }

    /// Adds a JSON-only figure.
    pub fn extra(mut self, key: &str, v: f64) -> Figures {
        self.extras.insert(key.to_string(), v);
        self
    }
}

/// `count / elapsed`, per second.
pub fn per_sec(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// `elapsed / count`, in nanoseconds.
pub fn ns_per(elapsed: Duration, count: usize) -> f64 {
    elapsed.as_nanos() as f64 / count.max(1) as f64
}

/// How long one batch of a warm workload took: wall time, and CPU time of the whole process (which leaves out the
/// time it waited for a core on a busy machine, and counts every thread of a multi-threaded runtime).
#[derive(Clone, Copy, Debug)]
pub struct BatchTime {
    /// Wall-clock time.
    pub wall: Duration,
    /// User + system CPU time of the process.
    pub cpu: Duration,
}

/// Started when a batch starts; [`BatchClock::stop`] gives its [`BatchTime`].
#[derive(Debug)]
pub struct BatchClock {
    /// When the batch started.
    wall: Instant,
    /// The process's CPU time then.
    cpu: Duration,
}

impl BatchClock {
    /// Starts timing a batch.
    pub fn start() -> BatchClock {
        BatchClock {
            cpu: crate::sys::own_cpu_time(),
            wall: Instant::now(),
        }
    }

    /// The batch is over.
    pub fn stop(self) -> BatchTime {
        let wall = self.wall.elapsed();
        BatchTime {
            wall,
            cpu: crate::sys::own_cpu_time().saturating_sub(self.cpu),
        }
    }
}

/// The median of `times` (the mean of the middle two for an even count, as the table's medians); `None` if empty.
fn median_of(mut times: Vec<Duration>) -> Option<Duration> {
    times.sort_unstable();
    let n = times.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(times[n / 2]),
        _ => Some((times[n / 2 - 1] + times[n / 2]) / 2),
    }
}

/// The figures of a warm workload (`spawn_warm`, `chained_spawn_warm`) from every batch it ran in one process, the
/// `warm_up` untimed ones first: `key` is `figure` of the median timed batch's wall time, `cpu_key` `figure` of the
/// median timed batch's CPU time; the JSON also keeps the first batch (the cold one, in the same process) and the
/// best and worst timed batch (wall time).
pub fn warm_figures(
    times: &[BatchTime],
    warm_up: usize,
    (key, cpu_key): (&str, &str),
    figure: impl Fn(Duration) -> f64,
) -> Result<Figures> {
    let timed = times.get(warm_up..).unwrap_or_default();
    let wall: Vec<Duration> = timed.iter().map(|t| t.wall).collect();
    let (Some(median), Some(cpu)) = (
        median_of(wall.clone()),
        median_of(timed.iter().map(|t| t.cpu).collect()),
    ) else {
        return Err(format!("no timed batch among {} (warm-up {warm_up})", times.len()).into());
    };
    let best = wall.iter().min().copied().unwrap_or(median);
    let worst = wall.iter().max().copied().unwrap_or(median);
    let mut figures = Figures::new()
        .value(key, figure(median))
        .value(cpu_key, figure(cpu))
        .extra("timed_batches", timed.len() as f64)
        .extra(&format!("{key}_best_batch"), figure(best))
        .extra(&format!("{key}_worst_batch"), figure(worst));
    if warm_up > 0 {
        figures = figures.extra(&format!("{key}_first_batch"), figure(times[0].wall));
    }
    Ok(figures)
}

struct SignalInner {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// The sending half of a one-shot completion signal (see [`signal`]).
#[derive(Debug)]
pub struct SignalTx {
    inner: Arc<SignalInner>,
}

/// The waiting half of a one-shot completion signal: a future that completes once [`SignalTx::fire`] was called.
#[derive(Debug)]
pub struct SignalRx {
    inner: Arc<SignalInner>,
}

impl std::fmt::Debug for SignalInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal")
            .field("fired", &self.fired.load(Ordering::Relaxed))
            .finish()
    }
}

/// A runtime-neutral one-shot signal, so `chained_spawn` measures each runtime's spawning and not its channels.
pub fn signal() -> (SignalTx, SignalRx) {
    let inner = Arc::new(SignalInner {
        fired: AtomicBool::new(false),
        waker: Mutex::new(None),
    });
    (
        SignalTx {
            inner: inner.clone(),
        },
        SignalRx { inner },
    )
}

impl SignalTx {
    /// Completes the [`SignalRx`] and wakes whoever waits on it.
    pub fn fire(self) {
        self.inner.fired.store(true, Ordering::Release);
        let waker = self
            .inner
            .waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Future for SignalRx {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut slot = self.inner.waker.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(cx.waker().clone());
        // Checked again under the lock: `fire` sets the flag before it takes the waker under the same lock, so
        // either we see the flag here or `fire` sees the waker we just stored.
        if self.inner.fired.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A small deterministic xorshift64* generator: every runtime gets the same sequence of random sleeps.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced by a fixed non-zero seed).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        self.next_u64() % (max + 1)
    }
}

/// The `q`-quantile (0.0–1.0) of sorted values, nearest rank; `None` when empty.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Sub-buckets per power of two in [`Histogram`]: relative error below 1/64.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

/// A log-linear histogram of nanosecond latencies with bounded memory (about 30 KiB) and under 1.6 % error, for
/// the load generator, which may record millions of round trips.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; ((64 - SUB_BITS as usize) + 1) * SUB as usize],
            total: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros(); // >= SUB_BITS
        let sub = (v >> (exp - SUB_BITS)) & (SUB - 1);
        ((exp - SUB_BITS + 1) as u64 * SUB + sub) as usize
    }

    fn lower_bound(index: usize) -> u64 {
        let index = index as u64;
        if index < SUB {
            return index;
        }
        let exp = index / SUB - 1 + SUB_BITS as u64;
        let sub = index % SUB;
        (1u64 << exp) | (sub << (exp - SUB_BITS as u64))
    }

    /// Records one value.
    pub fn record(&mut self, ns: u64) {
        self.counts[Self::index(ns)] += 1;
        self.total += 1;
    }

    /// How many values were recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The `q`-quantile (0.0–1.0), as the lower bound of its bucket; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Self::lower_bound(i));
            }
        }
        None
    }
}

/// The `timers` sleeps: `params.timer_tasks` random durations in `0..=timer_max` (µs resolution), the same
/// sequence for every runtime.
pub fn timer_delays(params: &crate::spec::Params) -> Vec<Duration> {
    let mut rng = Rng::new(42);
    let max_us = params.timer_max.as_micros() as u64;
    (0..params.timer_tasks)
        .map(|_| Duration::from_micros(rng.up_to(max_us)))
        .collect()
}

/// The `timers` figures, the same for every runtime.
pub fn timer_figures(
    wall: Duration,
    sorted_overshoot: &[Duration],
    growth_bytes: u64,
    cancels: usize,
    cancel_elapsed: Duration,
) -> Figures {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Figures::new()
        .value("wall_ms", ms(wall))
        .value(
            "overshoot_p99_ms",
            ms(quantile(sorted_overshoot, 0.99).unwrap_or_default()),
        )
        .value("rss_growth_mib", growth_bytes as f64 / (1024.0 * 1024.0))
        .value("cancel_per_s", per_sec(cancels, cancel_elapsed))
        .extra(
            "overshoot_p50_ms",
            ms(quantile(sorted_overshoot, 0.5).unwrap_or_default()),
        )
        .extra(
            "overshoot_max_ms",
            ms(sorted_overshoot.last().copied().unwrap_or_default()),
        )
}

/// The longest the `idle_memory` root waits for every task's first poll.
pub const IDLE_SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// The `idle_memory` figures, the same for every runtime.
pub fn idle_figures(n: usize, polled: usize, probe: &MemProbe) -> Result<Figures> {
    if polled < n {
        return Err(format!("only {polled} of {n} idle tasks were polled in time").into());
    }
    Ok(Figures::new()
        .value("bytes_per_task", probe.peak_delta() as f64 / n as f64)
        .extra("hwm_reset", f64::from(u8::from(probe.was_reset()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_close() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v * 10);
        }
        let p50 = h.quantile(0.5).unwrap() as f64;
        let p99 = h.quantile(0.99).unwrap() as f64;
        assert!((p50 / 500_000.0 - 1.0).abs() < 0.02, "{p50}");
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.02, "{p99}");
        assert_eq!(h.len(), 100_000);
    }

    #[test]
    fn histogram_bucket_bounds_round_trip() {
        for v in [0u64, 1, 63, 64, 65, 127, 128, 1000, 1 << 40, u64::MAX] {
            let i = Histogram::index(v);
            assert!(Histogram::lower_bound(i) <= v);
        }
    }

    #[test]
    fn quantile_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&v, 1.0), Some(100));
        assert_eq!(quantile::<u32>(&[], 0.5), None);
    }

    #[test]
    fn signal_completes() {
        let (tx, rx) = signal();
        tx.fire();
        futures_lite::future::block_on(rx);
    }
}
