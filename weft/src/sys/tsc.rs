//! The CPU's time-stamp counter: a clock read in a few nanoseconds, for stamping trace events (the vDSO's
//! `clock_gettime` costs ~35 ns on a VM). Used only when `/proc/cpuinfo` says the counter is constant-rate and keeps
//! running in sleep states (`constant_tsc` and `nonstop_tsc`); ticks are turned into nanoseconds later, against
//! the monotonic clock.
//!
//! Reference: Intel SDM vol. 3, "Time-Stamp Counter"; the `tsc` flags in Linux's /proc/cpuinfo.

use std::sync::OnceLock;

/// Whether the TSC can serve as a clock on this machine.
pub(crate) fn is_reliable() -> bool {
    static RELIABLE: OnceLock<bool> = OnceLock::new();
    *RELIABLE.get_or_init(|| {
        cfg!(target_arch = "x86_64")
            && std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
                info.lines()
                    .find(|line| line.starts_with("flags"))
                    .is_some_and(|flags| {
                        let has = |flag: &str| flags.split_whitespace().any(|word| word == flag);
                        has("constant_tsc") && has("nonstop_tsc")
                    })
            })
    })
}

/// Reads the TSC (0 where there is none; callers check [`is_reliable`] first).
#[cfg(target_arch = "x86_64")]
pub(crate) fn read() -> u64 {
    // SAFETY: RDTSC exists on every x86_64 CPU and only reads a register; it touches no memory.
    unsafe { std::arch::x86_64::_rdtsc() }
}

/// Reads the TSC (0 where there is none; callers check [`is_reliable`] first).
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn read() -> u64 {
    0
}
