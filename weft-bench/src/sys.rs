//! Linux plumbing: memory and CPU figures from `/proc`, CPU pinning, the child watchdog, and machine facts for
//! the report.

use std::io::{self, Read};
use std::time::{Duration, Instant};

/// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`: the kernel reports kB), or a plain count
/// (`Threads`).
pub fn status_field(pid: Option<u32>, field: &str) -> io::Result<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path)?;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let mut parts = rest.split_whitespace();
            let n: u64 = parts
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| io::Error::other(format!("bad {field} line: {line}")))?;
            return Ok(match parts.next() {
                Some("kB") => n * 1024,
                _ => n,
            });
        }
    }
    Err(io::Error::other(format!("no {field} in status")))
}

/// The number of open descriptors of process `pid` (entries of `/proc/<pid>/fd`).
pub fn open_fds(pid: u32) -> io::Result<u64> {
    let mut count = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        entry?;
        count += 1;
    }
    Ok(count)
}

/// Sets `SO_LINGER` to zero seconds, so that closing `socket` resets the connection (RST) instead of closing it
/// in order (FIN); std has no stable setter for it.
pub fn set_linger_zero(socket: &impl std::os::fd::AsRawFd) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `linger` is a valid libc::linger that outlives the call and the length passed is its exact size;
    // a descriptor that is not a socket makes the kernel return an error, not undefined behaviour.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::addr_of!(linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Peak-RSS measurement around one phase of a workload: the baseline is the current RSS, and (where the kernel
/// allows it) the peak (`VmHWM`) is reset to it first, so the figure is the growth caused by the phase.
#[derive(Clone, Copy, Debug)]
pub struct MemProbe {
    baseline: u64,
    reset: bool,
}

impl MemProbe {
    /// Takes the baseline now.
    pub fn start() -> MemProbe {
        // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let baseline = status_field(None, "VmRSS").unwrap_or(0);
        MemProbe { baseline, reset }
    }

    /// Peak RSS since the baseline minus the baseline, in bytes.
    pub fn peak_delta(&self) -> u64 {
        status_field(None, "VmHWM")
            .unwrap_or(0)
            .saturating_sub(self.baseline)
    }

    /// Whether the peak could be reset at the baseline (otherwise the peak may predate it).
    pub fn was_reset(&self) -> bool {
        self.reset
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times.
pub fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf only reads a configuration value; it has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// User plus system CPU time used so far by every thread of process `pid`.
pub fn process_cpu_time(pid: u32) -> io::Result<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
    let after = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(|| io::Error::other("bad stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field 3 (state) is fields[0], so utime (field 14) is fields[11] and stime (15) fields[12].
    let get = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("bad stat field"))
    };
    let ticks = get(11)? + get(12)?;
    Ok(Duration::from_nanos(
        ticks * 1_000_000_000 / clock_ticks_per_sec(),
    ))
}

/// User plus system CPU time used so far by every thread of this process, to the microsecond (`getrusage`;
/// `/proc` counts in clock ticks, too coarse for one batch of a warm workload).
pub fn own_cpu_time() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value; getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// User plus system CPU time of this process's children that have ended and been reaped (`getrusage`
/// `RUSAGE_CHILDREN`): a child's CPU time appears here once it is waited for.
pub fn children_cpu_time() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value; getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_CHILDREN with a valid pointer cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The load average over 1, 5 and 15 minutes as `/proc/loadavg` gives it (`"4.28 2.57 1.74"`), if readable.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}

/// CPU time the whole machine spent busy so far (all CPUs: user, nice, system, irq, softirq, steal), from
/// `/proc/stat`. Minus the CPU time of the processes under test, it tells how much else ran during a measurement.
pub fn machine_busy_time() -> io::Result<Duration> {
    let text = std::fs::read_to_string("/proc/stat")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| io::Error::other("no cpu line in /proc/stat"))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal ...: everything but idle (3) and iowait (4), up to steal.
    let ticks: u64 = f
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Ok(Duration::from_nanos(
        ticks * 1_000_000_000 / clock_ticks_per_sec(),
    ))
}

/// Watches how much CPU time *other* processes use on the machine while a measurement runs, so noisy runs can be
/// flagged (another build on a shared 2-core machine skews every figure).
#[derive(Clone, Copy, Debug)]
pub struct Interference {
    start: Instant,
    busy: Duration,
    ours: Duration,
}

impl Interference {
    /// The shortest span measured (shorter ones report `None`).
    pub const MIN_SPAN: Duration = Duration::from_millis(500);

    /// Starts watching; `ours` is the CPU time the processes under test have used so far.
    pub fn start(ours: Duration) -> Option<Interference> {
        Some(Interference {
            start: Instant::now(),
            busy: machine_busy_time().ok()?,
            ours,
        })
    }

    /// CPU used by everything else since [`Interference::start`], in cores (0.5 = half a CPU on average);
    /// `ours` is the CPU time of the processes under test now. `None` for spans under [`Self::MIN_SPAN`].
    pub fn other_cores(&self, ours: Duration) -> Option<f64> {
        let busy = machine_busy_time().ok()?.saturating_sub(self.busy);
        let mine = ours.saturating_sub(self.ours);
        let wall = self.start.elapsed();
        // /proc times count in clock ticks (10 ms): shorter spans say nothing.
        if wall < Self::MIN_SPAN {
            return None;
        }
        Some(busy.saturating_sub(mine).as_secs_f64() / wall.as_secs_f64())
    }
}

/// Pins the calling thread, and so every thread it creates afterwards, to one CPU.
///
/// Fails when the CPU does not exist or is outside the allowed set (callers treat that as "unpinned").
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpu >= cpus || cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::other(format!(
            "cpu {cpu} not available ({cpus} cpus)"
        )));
    }
    // SAFETY: cpu_set_t is a plain bit array, for which all-zero bytes is the valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu < CPU_SETSIZE` (checked above), so CPU_SET writes inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid, initialised cpu_set_t and the size passed is its exact size; pid 0 means the
    // calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Starts the watchdog of a child process: one thread that ends the process with status 3 when its standard
/// input reaches end of file (the harness closed it, or died) or when `limit` has passed, whichever comes first.
///
/// This is what guarantees that no server or workload outlives the harness, whatever happens to it.
pub fn start_watchdog(limit: Duration) {
    let deadline = Instant::now() + limit;
    let spawned = std::thread::Builder::new()
        .name("weft-bench-watchdog".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = [0u8; 64];
            // Each turn either consumes input, sees EOF, or waits up to 1 s: bounded by the deadline.
            loop {
                let now = Instant::now();
                if now >= deadline {
                    eprintln!("weft-bench child: time limit {limit:?} reached, exiting");
                    std::process::exit(3);
                }
                let wait_ms = (deadline - now).as_millis().min(1000) as i32;
                let mut pfd = libc::pollfd {
                    fd: 0,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: `pfd` is one valid pollfd and we pass a count of exactly 1.
                let rc = unsafe { libc::poll(&mut pfd, 1, wait_ms) };
                if rc > 0 {
                    match stdin.read(&mut buf) {
                        Ok(0) | Err(_) => std::process::exit(3),
                        Ok(_) => {}
                    }
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("weft-bench child: no watchdog thread: {e}");
    }
}

/// Facts about the machine for the report.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Machine {
    /// `nproc`: CPUs available to this process.
    pub nproc: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads the facts of this machine.
    pub fn detect() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            kernel,
        }
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_status_and_stat() {
        assert!(status_field(None, "VmRSS").unwrap() > 0);
        assert!(status_field(None, "Threads").unwrap() >= 1);
        process_cpu_time(std::process::id()).unwrap();
        assert!(open_fds(std::process::id()).unwrap() >= 3);
        let me = || process_cpu_time(std::process::id()).unwrap();
        let w = Interference::start(me()).unwrap();
        assert!(w.other_cores(me()).is_none());
    }

    /// CPU time of the calling thread alone.
    fn thread_cpu_time() -> Duration {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid timespec that clock_gettime writes; this clock exists on every Linux.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        assert_eq!(rc, 0);
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }

    /// What the many-loop columns rely on: the server's CPU figure (`process_cpu_time`, read from another
    /// process) counts every thread, not only the first.
    #[test]
    fn process_cpu_time_sums_every_thread() {
        const EACH: Duration = Duration::from_millis(300);
        let before = process_cpu_time(std::process::id()).unwrap();
        let spinners: Vec<_> = (0..2)
            .map(|_| {
                std::thread::spawn(|| {
                    // Bounded by the thread's own CPU time, which grows while it spins.
                    while thread_cpu_time() < EACH {
                        std::hint::black_box(0u64);
                    }
                })
            })
            .collect();
        for s in spinners {
            s.join().unwrap();
        }
        let used = process_cpu_time(std::process::id())
            .unwrap()
            .saturating_sub(before);
        // /proc counts in clock ticks: allow two ticks per thread of rounding.
        let tick = Duration::from_nanos(1_000_000_000 / clock_ticks_per_sec());
        assert!(
            used + tick * 4 >= EACH * 2,
            "two threads spent {:?} each, the process shows {used:?}",
            EACH
        );
    }

    #[test]
    fn date_looks_right() {
        let d = utc_now();
        assert!(d.starts_with("20") && d.ends_with("UTC"), "{d}");
    }
}
