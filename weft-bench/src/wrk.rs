//! `wrk` as a second http client (workload `http_wrk`), so no http figure depends on our own load generator
//! alone.
//!
//! The server is started exactly as for `http`; then `wrk -t1 -c<conns> -d<warm-up>s` runs once untimed, and
//! `wrk -t1 -c<conns> -d<window>s --latency` is measured. Both are started from a thread pinned to
//! [`LOADGEN_CPU`], so wrk (which inherits that affinity) runs where our load generator runs. The figures are
//! wrk's own (requests in its window, p50 and p99 of its latency distribution) and the server's CPU time over the
//! measured wrk run (utime + stime of the server pid from `/proc/<pid>/stat`, as the load generator reads it)
//! divided by wrk's request count. wrk takes whole seconds only, so windows are rounded up to a second.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::loadgen::LOADGEN_CPU;
use crate::{sys, Figures, Result};

/// Why `http_wrk` cells are empty on a machine without wrk.
pub const NOT_INSTALLED: &str = "wrk not installed";

/// The `wrk` executable on `PATH`, if there is one.
pub fn find() -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("wrk"))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// One wrk run against a server.
#[derive(Clone, Copy, Debug)]
pub struct WrkConfig {
    /// Server port on 127.0.0.1.
    pub port: u16,
    /// Connections (`-c`).
    pub conns: usize,
    /// The untimed first run (rounded up to whole seconds; none when zero).
    pub warmup: Duration,
    /// The measured run (rounded up to whole seconds, at least one).
    pub window: Duration,
    /// The server's pid, for its CPU time.
    pub server_pid: u32,
}

/// `d` in whole seconds, rounded up.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// What one wrk run printed that the bench uses.
#[derive(Clone, Debug, PartialEq)]
pub struct WrkOutput {
    /// Requests completed (`N requests in Xs`).
    pub requests: u64,
    /// wrk's window (`in Xs`).
    pub elapsed: Duration,
    /// Latency percentiles of `--latency`: p50 and p99.
    pub p50: Duration,
    /// See `p50`.
    pub p99: Duration,
    /// Connect, read, write and timeout errors summed (0 when wrk printed no `Socket errors` line).
    pub socket_errors: u64,
    /// `Non-2xx or 3xx responses` (0 when absent).
    pub bad_responses: u64,
}

/// A wrk time such as `182.00us`, `1.23ms`, `2.00s`, `1.00m`.
fn parse_time(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let secs = match unit {
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// Parses wrk's report (run with `--latency`).
pub fn parse(text: &str) -> std::result::Result<WrkOutput, String> {
    let mut requests = None;
    let (mut p50, mut p99) = (None, None);
    let (mut socket_errors, mut bad_responses) = (0, 0);
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", t] => p50 = parse_time(t),
            ["99%", t] => p99 = parse_time(t),
            [n, "requests", "in", t, ..] => {
                let t = t.trim_end_matches(',');
                requests = n.parse::<u64>().ok().zip(parse_time(t));
            }
            ["Socket", "errors:", rest @ ..] => {
                // connect 0, read 0, write 0, timeout 0
                socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                bad_responses = n.parse().map_err(|_| format!("bad line {line:?}"))?;
            }
            _ => {}
        }
    }
    let (requests, elapsed) = requests.ok_or("no `N requests in Xs` line")?;
    Ok(WrkOutput {
        requests,
        elapsed,
        p50: p50.ok_or("no 50% latency line (run with --latency)")?,
        p99: p99.ok_or("no 99% latency line (run with --latency)")?,
        socket_errors,
        bad_responses,
    })
}

/// Runs `wrk args…` to completion within `limit` and returns its stdout; a failure says what wrk printed.
fn run_wrk(wrk: &Path, args: &[String], limit: Duration) -> Result<String> {
    let mut child = Command::new(wrk)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", wrk.display()))?;
    let deadline = Instant::now() + limit;
    // Bounded by the deadline; wrk ends by itself after its duration.
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("wrk still running after {limit:?}: killed").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_string(&mut out)?;
    }
    if let Some(mut s) = child.stderr.take() {
        s.read_to_string(&mut err)?;
    }
    if !status.success() {
        return Err(format!("wrk {status}: {}{}", err.trim(), out.trim()).into());
    }
    Ok(out)
}

/// Runs the warm-up and the measured wrk run, pinned to [`LOADGEN_CPU`], and returns the http figures.
pub fn measure(wrk: &Path, cfg: &WrkConfig) -> Result<Figures> {
    let (wrk, cfg) = (wrk.to_path_buf(), *cfg);
    std::thread::Builder::new()
        .name("wrk".into())
        .spawn(move || {
            // wrk inherits this thread's affinity.
            if let Err(e) = sys::pin_to_cpu(LOADGEN_CPU) {
                eprintln!("weft-bench: wrk not pinned: {e}");
            }
            measure_here(&wrk, &cfg)
        })?
        .join()
        .map_err(|_| "the wrk thread panicked")?
}

fn measure_here(wrk: &Path, cfg: &WrkConfig) -> Result<Figures> {
    let url = format!("http://127.0.0.1:{}/", cfg.port);
    let args = |secs: u64, latency: bool| {
        let mut a = vec![
            "-t1".to_string(),
            format!("-c{}", cfg.conns),
            format!("-d{secs}s"),
        ];
        if latency {
            a.push("--latency".into());
        }
        a.push(url.clone());
        a
    };
    let grace = Duration::from_secs(30);
    let warmup = whole_seconds(cfg.warmup);
    if warmup > 0 {
        run_wrk(
            wrk,
            &args(warmup, false),
            Duration::from_secs(warmup) + grace,
        )?;
    }
    let window = whole_seconds(cfg.window).max(1);
    let server_cpu = || sys::process_cpu_time(cfg.server_pid);
    // wrk's CPU time is counted once it is reaped, among this process's children.
    let ours = || server_cpu().unwrap_or_default() + sys::children_cpu_time();
    let cpu0 = server_cpu()?;
    let others = sys::Interference::start(ours());
    let text = run_wrk(
        wrk,
        &args(window, true),
        Duration::from_secs(window) + grace,
    )?;
    let cpu1 = server_cpu()?;
    let other = others.and_then(|o| o.other_cores(ours()));
    let out = parse(&text).map_err(|e| format!("{e} in wrk's output:\n{text}"))?;
    if out.bad_responses > 0 {
        return Err(format!("wrk: {} non-2xx/3xx responses", out.bad_responses).into());
    }
    if out.requests == 0 {
        return Err(format!("wrk completed no request:\n{text}").into());
    }
    let cpu = cpu1.saturating_sub(cpu0);
    let requests = out.requests as f64;
    let window_s = out.elapsed.as_secs_f64().max(1e-6);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut f = Figures::new()
        .value("reqs_per_s", requests / window_s)
        .value("p50_us", us(out.p50))
        .value("p99_us", us(out.p99))
        .value("cpu_ns_per_req", cpu.as_nanos() as f64 / requests)
        .extra("round_trips", requests)
        .extra("window_s", window_s)
        .extra("socket_errors", out.socket_errors as f64)
        .extra("server_cpu_util", cpu.as_secs_f64() / window_s);
    if let Some(other) = other {
        f = f.extra(crate::child::OTHER_CPU, other);
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\
Running 5s test @ http://127.0.0.1:40000/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   190.12us   40.00us   3.05ms   91.00%
    Req/Sec   262.10k     5.00k  270.00k    88.00%
  Latency Distribution
     50%  182.00us
     75%  200.00us
     90%  220.00us
     99%    1.23ms
  1304500 requests in 5.00s, 110.23MB read
  Socket errors: connect 0, read 2, write 1, timeout 0
Requests/sec: 260900.00
Transfer/sec:     22.05MB
";

    #[test]
    fn parses_requests_latency_and_errors() {
        let out = parse(REPORT).unwrap();
        assert_eq!(out.requests, 1_304_500);
        assert_eq!(out.elapsed, Duration::from_secs(5));
        let micros = |d: Duration| (d.as_secs_f64() * 1e6).round() as u64;
        assert_eq!(micros(out.p50), 182);
        assert_eq!(micros(out.p99), 1230);
        assert_eq!(out.socket_errors, 3);
        assert_eq!(out.bad_responses, 0);
    }

    #[test]
    fn counts_bad_responses_and_rejects_reports_without_latency() {
        let with_bad = format!("{REPORT}  Non-2xx or 3xx responses: 7\n");
        assert_eq!(parse(&with_bad).unwrap().bad_responses, 7);
        let without = REPORT.replace("     50%  182.00us\n", "");
        assert!(parse(&without).unwrap_err().contains("50%"));
        assert!(parse("").is_err());
    }

    #[test]
    fn windows_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::from_millis(250)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(5)), 5);
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(parse_time("2.00s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_time("1.5x"), None);
    }
}
