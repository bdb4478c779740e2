//! `weft-bench soak --seconds N` (or `--minutes N`) `--loops L`: weft's echo and hyper servers on every one of L
//! loops under load and churn for N seconds, watched for growth.
//!
//! The server runs in a child process (`weft-bench __soak_server`, [`server_main`]) — pinned to CPU 0 with one
//! loop; with several, each loop pinned to its own CPU (weft's default): an echo server and a hyper hello-world
//! server ([`crate::rt_weft_loops::soak_server`]), each with a `SO_REUSEPORT` listener on every loop, accepting
//! for as long as the run lasts and printing its live tasks ([`weft::Handle::metrics`], summed over the loops)
//! four times a second. The echo load ([`crate::churn`]) runs on a thread of this process pinned to CPU 1:
//! long-lived connections echoing closed-loop, and short-lived ones opened at a steady rate that end in every way
//! a client can end one (orderly, half-closed, reset, reset mid-echo, silent). The http load is the bench's load
//! generator (`weft-bench __loadgen http`, pinned to CPU 1): `http_conns` keep-alive connections, closed-loop,
//! every response checked, for the whole run.
//! Once a second this process samples the server's RSS (`VmRSS` of `/proc/<pid>/status`), its open descriptors
//! (`/proc/<pid>/fd`), its live tasks (its latest report, at most [`TICK`] old) and CPU time, and the client's
//! echoes and errors. When the run ends the load stops and the server must drain back to its idle counts; then
//! [`judge`] applies the rules below, and any broken rule fails the run (exit status 1). The server is killed and
//! reaped at the end whatever happens.
//!
//! # Rules
//! The warm-up is the first 20 % of the run (at least 5 s). The *baseline window* is the quarter of the run
//! (at least 3 s) right after the warm-up; the *last quarter* the same length at the end.
//! 1. The server lives, and reports its figures, to the end.
//! 2. The client sees no wrong byte, no lost echo (none within 5 s), no connection broken by the server and no
//!    failed connect; the server's accepts never fail (the churn's resets before accept included).
//! 3. RSS: the largest sample of the last quarter is at most the largest of the baseline window × 1.10 +
//!    4 MiB (allocator noise on a few-MiB server is under a MiB; a leak of 40 bytes per connection over a
//!    10-minute run at 200 connections a second is 4.6 MiB).
//! 4. Descriptors and live tasks: no sample after the warm-up is above its idle count + the connections the
//!    client can legitimately hold open (`conns` + `parallel`) + 16 (closed ones the server has not seen end).
//! 5. The floor of descriptors and live tasks does not rise: the smallest sample of the last quarter is at
//!    most the smallest of the baseline window + 2 + `parallel` / 8 (6 by default: short-lived connections
//!    caught open at every sample of a window, as when the machine gets busier). A slow leak raises the floor
//!    long before the ceiling.
//! 6. Drain: within 10 s of the load stopping, descriptors and live tasks are back to their idle counts.
//! 7. The load ran: at least a quarter of the asked churn rate after the warm-up, and echoes in its every second.
//! 8. The http load ran: the load generator answered, with requests served and no connection lost.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::child::{Message, SERVER_CPU};
use crate::churn::{self, ChurnConfig, ClientFigures, Counters};
use crate::harness::Proc;
use crate::loadgen::{LoadConfig, Mode, LOADGEN_CPU};
use crate::sys;

/// Rule 3: the fraction RSS may grow over the baseline window's largest sample.
pub const RSS_GROWTH_FRACTION: f64 = 0.10;

/// Rule 3: what RSS may grow beyond that fraction, in bytes.
pub const RSS_GROWTH_SLACK: u64 = 4 * 1024 * 1024;

/// Rule 4: descriptors or tasks of connections closed by the client that the server has not seen end yet.
pub const CEILING_SLACK: u64 = 16;

/// Rule 5: how far the floor may rise, plus `parallel` / [`FLOOR_SLACK_PER_PARALLEL`].
pub const FLOOR_SLACK: u64 = 2;

/// Rule 5: one more of floor rise allowed per this many short-lived connections that may be open at once.
pub const FLOOR_SLACK_PER_PARALLEL: u64 = 8;

/// Rule 6: how long the server has to drain once the load stops.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Rule 2: how long an echo may take.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the server reports its figures (a sample reads the latest report, so it is at most this old).
pub const TICK: Duration = Duration::from_millis(250);

/// The shortest run that leaves a warm-up, a baseline window and a last quarter.
pub const MIN_SECONDS: u64 = 10;

const USAGE: &str = "\
usage: weft-bench soak [--seconds N | --minutes N] [--loops N] [--conns N] [--churn N] [--parallel N] [--http-conns N]

  --seconds N   length of the run under load (default 60, at least 10); the first 20 % (at least 5 s) is warm-up
  --minutes N   the same in minutes
  --loops N     the server's loops (default 1; 0 = one per CPU); every loop serves echo and http
  --http-conns N  keep-alive connections of the http load (default 16)
  --conns N     long-lived connections echoing closed-loop (default 64)
  --churn N     short-lived connections opened per second (default 200)
  --parallel N  the most short-lived connections open at once (default 32)

Exits 0 when every rule holds, 1 when one does not (growth, corruption, errors, the server dying), 2 on bad usage.";

/// A soak server's own figures, sent every [`TICK`] as [`Message::Tick`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTick {
    /// [`weft::xray::Metrics::tasks_alive`]: tasks spawned and not yet complete.
    pub tasks_alive: u64,
    /// Tasks spawned since the start.
    pub tasks_spawned: u64,
    /// Task polls since the start.
    pub polls: u64,
    /// Accepts that failed.
    pub accept_errors: u64,
    /// The server's loops.
    #[serde(default)]
    pub loops: u64,
    /// The live tasks of the loop with the most (the tasks are spread over the loops when this is near
    /// `tasks_alive / loops`).
    #[serde(default)]
    pub busiest_loop_tasks: u64,
}

/// What to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Seconds under load.
    pub seconds: u64,
    /// Long-lived connections.
    pub conns: usize,
    /// Short-lived connections opened per second.
    pub churn_per_s: u32,
    /// The most short-lived connections open at once.
    pub parallel: usize,
    /// The server's loops (`weft::Builder::loops`: 0 = one per CPU).
    pub loops: usize,
    /// Keep-alive connections of the http load.
    pub http_conns: usize,
}

impl Plan {
    /// The warm-up: 20 % of the run, at least 5 s.
    pub fn warmup_s(&self) -> u64 {
        (self.seconds.div_ceil(5)).max(5)
    }

    /// The length of the baseline window and of the last quarter: a quarter of the run, at least 3 s.
    pub fn window_s(&self) -> u64 {
        (self.seconds.div_ceil(4)).max(3)
    }

    /// Rule 4: the connections the client can legitimately hold open on the server.
    pub fn legit_conns(&self) -> u64 {
        (self.conns + self.parallel + self.http_conns) as u64
    }

    /// Rule 5: how far the floor of descriptors and live tasks may rise.
    pub fn floor_slack(&self) -> u64 {
        FLOOR_SLACK + self.parallel as u64 / FLOOR_SLACK_PER_PARALLEL
    }

    fn parse(args: &[String]) -> Result<Plan, String> {
        let mut plan = Plan {
            seconds: 60,
            conns: 64,
            churn_per_s: 200,
            parallel: 32,
            loops: 1,
            http_conns: 16,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut number = |name: &str| -> Result<u64, String> {
                let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
                v.parse::<u64>().map_err(|_| format!("bad {name} {v}"))
            };
            match arg.as_str() {
                "--seconds" => plan.seconds = number("--seconds")?,
                "--minutes" => {
                    plan.seconds = number("--minutes")?
                        .checked_mul(60)
                        .ok_or("--minutes too large")?
                }
                "--loops" => plan.loops = number("--loops")? as usize,
                "--http-conns" => plan.http_conns = number("--http-conns")? as usize,
                "--conns" => plan.conns = number("--conns")? as usize,
                "--churn" => {
                    plan.churn_per_s =
                        u32::try_from(number("--churn")?).map_err(|_| "--churn too large")?
                }
                "--parallel" => plan.parallel = number("--parallel")? as usize,
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown soak option {other}")),
            }
        }
        if plan.seconds < MIN_SECONDS {
            return Err(format!("--seconds must be at least {MIN_SECONDS}"));
        }
        if plan.conns == 0 || plan.conns > 4096 || plan.parallel == 0 || plan.parallel > 1024 {
            return Err("--conns must be 1–4096 and --parallel 1–1024".into());
        }
        if plan.loops > 256 || plan.http_conns == 0 || plan.http_conns > 1024 {
            return Err("--loops must be 0–256 and --http-conns 1–1024".into());
        }
        Ok(plan)
    }
}

/// The server's descriptors, live tasks and RSS at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    /// RSS in bytes.
    pub rss: u64,
    /// Open descriptors.
    pub fds: u64,
    /// Live tasks.
    pub tasks: u64,
}

/// Reads one figure of a [`Level`].
type Figure = fn(&Level) -> u64;

/// One second of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Seconds since the load started (the second this sample is for).
    pub t: u64,
    /// When it was taken, since the load started: `t` seconds, or later on a busy machine. Per-second rates are
    /// taken over these, so a late sample does not show as a slow second followed by a fast one.
    pub at: Duration,
    /// The server's levels.
    pub level: Level,
    /// The server's CPU time so far.
    pub server_cpu: Duration,
    /// The client's totals so far.
    pub client: ClientFigures,
}

/// How the server drained after the load stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drained {
    /// Its levels at the end of the wait.
    pub level: Level,
    /// How long after the load stopped (the whole [`DRAIN_LIMIT`] when it did not get back to idle).
    pub after: Duration,
}

/// Everything one soak saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// What was run.
    pub plan: Plan,
    /// The server's levels before any connection.
    pub idle: Level,
    /// One per second under load.
    pub samples: Vec<Sample>,
    /// After the load stopped (`None` when the server did not live that long).
    pub drained: Option<Drained>,
    /// Why the server failed, if it did: died, stopped reporting, reported a failure.
    pub server_failure: Option<String>,
    /// The server's last report.
    pub last_tick: ServerTick,
    /// The server's report read by the last sample under load (how its live tasks were spread over its loops).
    pub loaded_tick: ServerTick,
    /// The client's totals when the load stopped.
    pub client: ClientFigures,
    /// The first errors the client saw.
    pub client_errors: Vec<String>,
    /// Why the load generator itself stopped early, if it did.
    pub client_failure: Option<String>,
    /// What the http load generator reported: its figures, or why it failed.
    pub http: Result<HttpLoad, String>,
}

/// What the http load generator reported at the end of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HttpLoad {
    /// Requests answered.
    pub requests: u64,
    /// Requests per second.
    pub per_s: f64,
    /// Connections lost (an error, a wrong response, or closed by the server).
    pub conns_lost: u64,
}

impl HttpLoad {
    fn from_figures(f: &crate::Figures) -> HttpLoad {
        let get = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
        HttpLoad {
            requests: get(&f.extras, "round_trips") as u64,
            per_s: get(&f.values, "reqs_per_s"),
            conns_lost: get(&f.extras, "conns_lost") as u64,
        }
    }
}

/// One rule's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The rule, in a few words.
    pub rule: &'static str,
    /// Whether it held.
    pub ok: bool,
    /// The figures behind it.
    pub detail: String,
}

/// Applies the rules of the module documentation to a record.
pub fn judge(r: &Record) -> Vec<Check> {
    let p = &r.plan;
    let mut checks = Vec::new();
    let mut check = |rule, ok, detail: String| checks.push(Check { rule, ok, detail });

    let complete = r.samples.len() as u64 >= p.seconds;
    check(
        "server lives and reports to the end",
        r.server_failure.is_none() && complete,
        match &r.server_failure {
            Some(e) => e.clone(),
            None if !complete => format!("only {} of {} samples", r.samples.len(), p.seconds),
            None => format!("{} samples", r.samples.len()),
        },
    );
    let last = r.client;
    check(
        "no wrong or lost byte",
        last.corrupt == 0,
        format!("{} corrupt connection(s)", last.corrupt),
    );
    let mut errors = format!(
        "{} error(s) on {} connections",
        last.errors,
        last.opened + p.conns as u64
    );
    if let Some(e) = &r.client_failure {
        let _ = write!(errors, "; load generator failed: {e}");
    }
    if let Some(e) = r.client_errors.first() {
        let _ = write!(errors, "; first: {e}");
    }
    check(
        "no client error",
        last.errors == 0 && r.client_failure.is_none(),
        errors,
    );
    check(
        "no accept error",
        r.last_tick.accept_errors == 0,
        format!(
            "{} accept(s) failed (the server prints the first)",
            r.last_tick.accept_errors
        ),
    );

    let warm = p.warmup_s();
    let after: Vec<&Sample> = r.samples.iter().filter(|s| s.t > warm).collect();
    let base: Vec<&Sample> = after
        .iter()
        .copied()
        .filter(|s| s.t <= warm + p.window_s())
        .collect();
    let tail: Vec<&Sample> = r
        .samples
        .iter()
        .filter(|s| s.t > p.seconds.saturating_sub(p.window_s()))
        .collect();
    if !complete || base.is_empty() || tail.is_empty() {
        check(
            "growth",
            false,
            "not judged: the run did not complete".into(),
        );
        return checks;
    }
    let max = |v: &[&Sample], f: Figure| v.iter().map(|s| f(&s.level)).max().unwrap_or(0);
    let min = |v: &[&Sample], f: Figure| v.iter().map(|s| f(&s.level)).min().unwrap_or(0);

    let rss_base = max(&base, |l| l.rss);
    let rss_limit = (rss_base as f64 * (1.0 + RSS_GROWTH_FRACTION)) as u64 + RSS_GROWTH_SLACK;
    let rss_tail = max(&tail, |l| l.rss);
    check(
        "RSS does not grow",
        rss_tail <= rss_limit,
        format!(
            "last quarter max {} MiB, baseline max {} MiB, limit {} MiB",
            mib(rss_tail),
            mib(rss_base),
            mib(rss_limit)
        ),
    );

    let counts: [(&'static str, &'static str, u64, Figure); 2] = [
        (
            "descriptors stay under the ceiling",
            "descriptors' floor does not rise",
            r.idle.fds,
            |l| l.fds,
        ),
        (
            "live tasks stay under the ceiling",
            "live tasks' floor does not rise",
            r.idle.tasks,
            |l| l.tasks,
        ),
    ];
    for (ceiling_rule, floor_rule, idle, f) in counts {
        let ceiling = idle + p.legit_conns() + CEILING_SLACK;
        let top = max(&after, f);
        check(
            ceiling_rule,
            top <= ceiling,
            format!(
                "max {top} after warm-up, ceiling {ceiling} (idle {idle} + {} connections + {CEILING_SLACK})",
                p.legit_conns()
            ),
        );
        let (floor_base, floor_tail) = (min(&base, f), min(&tail, f));
        let floor_limit = floor_base + p.floor_slack();
        check(
            floor_rule,
            floor_tail <= floor_limit,
            format!(
                "last quarter min {floor_tail}, baseline min {floor_base}, limit {floor_limit}"
            ),
        );
    }

    match r.drained {
        Some(d) => check(
            "server drains back to idle",
            d.level.fds <= r.idle.fds && d.level.tasks <= r.idle.tasks,
            format!(
                "{} fds, {} tasks {:.1} s after the load stopped (idle: {} fds, {} tasks)",
                d.level.fds,
                d.level.tasks,
                d.after.as_secs_f64(),
                r.idle.fds,
                r.idle.tasks
            ),
        ),
        None => check("server drains back to idle", false, "not measured".into()),
    }

    let (first, end) = (base[0], tail[tail.len() - 1]);
    let span = (end.t - first.t).max(1) as f64;
    let churn = (end.client.opened - first.client.opened) as f64 / span;
    let idle_seconds = after
        .windows(2)
        .filter(|w| w[1].client.echoes == w[0].client.echoes)
        .count();
    check(
        "the load ran",
        churn >= f64::from(p.churn_per_s) / 4.0 && idle_seconds == 0,
        format!(
            "{churn:.0} short-lived connections/s (asked {}), {idle_seconds} second(s) without an echo",
            p.churn_per_s
        ),
    );
    match &r.http {
        Ok(h) => check(
            "the http load ran without a lost connection",
            h.requests > 0 && h.conns_lost == 0,
            format!(
                "{} requests ({}/s) on {} connections, {} lost",
                h.requests,
                crate::report::fmt_num(h.per_s),
                p.http_conns,
                h.conns_lost
            ),
        ),
        Err(e) => check(
            "the http load ran without a lost connection",
            false,
            e.clone(),
        ),
    }
    checks
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// The server's levels now (RSS, descriptors; tasks from its last report).
fn level(pid: u32, tick: &ServerTick) -> Result<Level, String> {
    let rss = sys::status_field(Some(pid), "VmRSS").map_err(|e| format!("server RSS: {e}"))?;
    let fds = sys::open_fds(pid).map_err(|e| format!("server descriptors: {e}"))?;
    Ok(Level {
        rss,
        fds,
        tasks: tick.tasks_alive,
    })
}

/// The server child and its latest report.
struct Server {
    proc: Proc,
    tick: ServerTick,
    ticked_at: Instant,
}

impl Server {
    /// Reads what the server has written; `Err` when it failed or died.
    fn poll(&mut self) -> Result<(), String> {
        let messages = self.proc.try_messages();
        for m in messages.iter().flatten() {
            match m {
                Message::Tick(t) => {
                    self.tick = *t;
                    self.ticked_at = Instant::now();
                }
                Message::Failed(e) => return Err(format!("server failed: {e}")),
                _ => {}
            }
        }
        if let Some(status) = self.proc.exit_status() {
            return Err(format!("server exited: {status}"));
        }
        messages?;
        if self.ticked_at.elapsed() > Duration::from_secs(5) {
            return Err("server stopped reporting its figures".into());
        }
        Ok(())
    }
}

/// Sets the stop flag when dropped, so the load generator ends however the run does.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs the soak: starts the server, loads it, samples it, drains it, kills it.
pub fn run(plan: Plan, exe: &PathBuf, progress: bool) -> Result<Record, String> {
    let limit = Duration::from_secs(plan.seconds) + DRAIN_LIMIT + Duration::from_secs(60);
    let args = vec![
        "__soak_server".to_string(),
        limit.as_secs().to_string(),
        plan.loops.to_string(),
    ];
    let mut proc = Proc::spawn(exe, &args, "soak server".into())
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let pid = proc.pid();
    // The ports, then a report made after them: the figures of the idle server. Bounded by the deadline.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut ports, mut idle_tick) = (None, None);
    while idle_tick.is_none() {
        match proc.message(deadline)? {
            Message::SoakPorts { echo, http } => ports = Some((echo, http)),
            Message::Tick(t) if ports.is_some() => idle_tick = Some(t),
            Message::Tick(_) => {}
            Message::Failed(e) => return Err(format!("server failed: {e}")),
            other => return Err(format!("server answered {other:?}")),
        }
    }
    let (Some((port, http_port)), Some(tick)) = (ports, idle_tick) else {
        unreachable!("the loop above ends with both");
    };
    let mut server = Server {
        proc,
        tick,
        ticked_at: Instant::now(),
    };
    let idle = level(pid, &server.tick)?;

    let counters = Arc::new(Counters::default());
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let cfg = ChurnConfig {
        port,
        conns: plan.conns,
        churn_per_s: plan.churn_per_s,
        parallel: plan.parallel,
        reply_timeout: REPLY_TIMEOUT,
        time_limit: Duration::from_secs(plan.seconds + 30),
    };
    let client = {
        let (counters, stop) = (counters.clone(), stop.0.clone());
        std::thread::Builder::new()
            .name("soak-load".into())
            .spawn(move || {
                if let Err(e) = sys::pin_to_cpu(LOADGEN_CPU) {
                    eprintln!("weft-bench soak: load generator not pinned: {e}");
                }
                churn::run(&cfg, &counters, &stop).map_err(|e| e.to_string())
            })
            .map_err(|e| format!("cannot start the load generator: {e}"))?
    };

    let http_cfg = LoadConfig {
        mode: Mode::Http,
        port: http_port,
        conns: plan.http_conns,
        warmup: Duration::ZERO,
        window: Duration::from_secs(plan.seconds),
        server_pid: None,
    };
    let mut http_args = vec!["__loadgen".to_string()];
    http_args.extend(http_cfg.to_args());
    let mut http_load = Proc::spawn(exe, &http_args, "soak http load".into())
        .map_err(|e| format!("cannot start the http load generator: {e}"))?;

    let started = Instant::now();
    let mut record = Record {
        plan,
        idle,
        samples: Vec::with_capacity(plan.seconds as usize),
        drained: None,
        server_failure: None,
        last_tick: server.tick,
        loaded_tick: server.tick,
        client: ClientFigures::default(),
        client_errors: Vec::new(),
        client_failure: None,
        http: Err("not finished".into()),
    };
    let every = (plan.seconds / 20).max(1);
    for t in 1..=plan.seconds {
        std::thread::sleep(
            (started + Duration::from_secs(t)).saturating_duration_since(Instant::now()),
        );
        let sampled = server.poll().and_then(|()| {
            Ok(Sample {
                t,
                at: started.elapsed(),
                level: level(pid, &server.tick)?,
                server_cpu: sys::process_cpu_time(pid).unwrap_or_default(),
                client: counters.snapshot(),
            })
        });
        match sampled {
            Ok(s) => {
                record.samples.push(s);
                record.loaded_tick = server.tick;
            }
            Err(e) => {
                record.server_failure = Some(e);
                break;
            }
        }
        if progress && (t % every == 0 || t == plan.warmup_s()) {
            let rows = &record.samples[record.samples.len().saturating_sub(2)..];
            eprintln!("soak {}", progress_line(rows, plan.warmup_s()));
        }
        if client.is_finished() {
            break;
        }
    }

    drop(stop);
    let stopped = Instant::now();
    match client.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => record.client_failure = Some(e),
        Err(_) => record.client_failure = Some("panicked".into()),
    }
    record.client = counters.snapshot();
    record.client_errors = counters.first_errors();
    // The http load ends by itself at the end of its window; it is killed if it has not answered by its limit.
    record.http = match http_load.message(started + http_cfg.time_limit()) {
        Ok(Message::Done(f)) => Ok(HttpLoad::from_figures(&f)),
        Ok(Message::Failed(e)) => Err(format!("http load generator failed: {e}")),
        Ok(other) => Err(format!("http load generator answered {other:?}")),
        Err(e) => Err(e),
    };
    drop(http_load);

    if record.server_failure.is_none() {
        // Rule 6: wait for the server to see every connection end.
        let drained = loop {
            let polled = server.poll().and_then(|()| level(pid, &server.tick));
            match polled {
                Ok(l) if l.fds <= idle.fds && l.tasks <= idle.tasks => {
                    break Some(Drained {
                        level: l,
                        after: stopped.elapsed(),
                    })
                }
                Ok(l) if stopped.elapsed() >= DRAIN_LIMIT => {
                    break Some(Drained {
                        level: l,
                        after: stopped.elapsed(),
                    })
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => {
                    record.server_failure = Some(e);
                    break None;
                }
            }
        };
        record.drained = drained;
    }
    record.last_tick = server.tick;
    drop(server); // kills and reaps the server
    Ok(record)
}

/// The time between two samples in seconds (at least a millisecond).
fn seconds_between(a: &Sample, b: &Sample) -> f64 {
    b.at.saturating_sub(a.at).as_secs_f64().max(0.001)
}

fn progress_line(rows: &[Sample], warmup_s: u64) -> String {
    let Some(s) = rows.last() else {
        return String::new();
    };
    let rate = match rows {
        [a, b] => (b.client.echoes - a.client.echoes) as f64 / seconds_between(a, b),
        _ => s.client.echoes as f64,
    };
    format!(
        "{:>5} s{}  RSS {} MiB  fds {}  tasks {}  echoes/s {}  connections {}  errors {}",
        s.t,
        if s.t <= warmup_s { " (warm-up)" } else { "" },
        mib(s.level.rss),
        s.level.fds,
        s.level.tasks,
        crate::report::fmt_num(rate),
        s.client.opened,
        s.client.errors
    )
}

/// The summary: the plan, a table of samples at intervals, min/max/final per figure, each rule and the verdict.
pub fn render(r: &Record, checks: &[Check]) -> String {
    let p = &r.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "soak: {} s under load ({} s warm-up); echo: {} long-lived connections, {} short-lived connections/s (at most {} at once); http: {} keep-alive connections; server: {}, load generators on CPU {LOADGEN_CPU}\n",
        p.seconds,
        p.warmup_s(),
        p.conns,
        p.churn_per_s,
        p.parallel,
        p.http_conns,
        match r.last_tick.loops {
            0 | 1 => format!("1 loop on CPU {SERVER_CPU}"),
            n => format!("{n} loops, each pinned to its CPU (sharing them with the load generators)"),
        }
    );
    let _ = writeln!(
        out,
        "| t (s) | RSS (MiB) | fds | live tasks | echoes/s | new conns/s | server CPU | client errors |"
    );
    let _ = writeln!(
        out,
        "| -----:| ---------:| ---:| ----------:| --------:| -----------:| ----------:| -------------:|"
    );
    let _ = writeln!(
        out,
        "| idle | {} | {} | {} | – | – | – | – |",
        mib(r.idle.rss),
        r.idle.fds,
        r.idle.tasks
    );
    let every = (p.seconds / 12).max(1);
    let mut previous: Option<&Sample> = None;
    let mut since_shown: Option<&Sample> = None;
    for (i, s) in r.samples.iter().enumerate() {
        let shown = s.t % every == 0 || s.t == p.warmup_s() || i + 1 == r.samples.len();
        if shown {
            let from = since_shown.or(previous);
            let (echoes, conns, cpu) = match from {
                Some(a) => {
                    let dt = seconds_between(a, s);
                    (
                        (s.client.echoes - a.client.echoes) as f64 / dt,
                        (s.client.opened - a.client.opened) as f64 / dt,
                        s.server_cpu.saturating_sub(a.server_cpu).as_secs_f64() / dt,
                    )
                }
                None => (
                    s.client.echoes as f64 / s.t as f64,
                    s.client.opened as f64 / s.t as f64,
                    s.server_cpu.as_secs_f64() / s.t as f64,
                ),
            };
            let _ = writeln!(
                out,
                "| {}{} | {} | {} | {} | {} | {} | {:.0} % | {} |",
                s.t,
                if s.t == p.warmup_s() {
                    " (warm-up ends)"
                } else {
                    ""
                },
                mib(s.level.rss),
                s.level.fds,
                s.level.tasks,
                crate::report::fmt_num(echoes),
                crate::report::fmt_num(conns),
                cpu * 100.0,
                s.client.errors
            );
            since_shown = Some(s);
        }
        previous = Some(s);
    }
    if let Some(d) = r.drained {
        let _ = writeln!(
            out,
            "| drained ({:.1} s after) | {} | {} | {} | – | – | – | – |",
            d.after.as_secs_f64(),
            mib(d.level.rss),
            d.level.fds,
            d.level.tasks
        );
    }

    let after: Vec<&Sample> = r.samples.iter().filter(|s| s.t > p.warmup_s()).collect();
    if let (Some(first), Some(last)) = (after.first(), after.last()) {
        let _ = writeln!(
            out,
            "\n| after warm-up | at warm-up end | min | max | final |"
        );
        let _ = writeln!(out, "| --- | ---:| ---:| ---:| ---:|");
        let at_warm = r
            .samples
            .iter()
            .find(|s| s.t == p.warmup_s())
            .unwrap_or(first);
        let rows: [(&str, Figure, bool); 3] = [
            ("RSS (MiB)", |l| l.rss, true),
            ("fds", |l| l.fds, false),
            ("live tasks", |l| l.tasks, false),
        ];
        for (name, f, is_bytes) in rows {
            let show = |v: u64| if is_bytes { mib(v) } else { v.to_string() };
            let values = after.iter().map(|s| f(&s.level));
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} |",
                show(f(&at_warm.level)),
                show(values.clone().min().unwrap_or(0)),
                show(values.max().unwrap_or(0)),
                show(f(&last.level))
            );
        }
        let rates: Vec<f64> = after
            .windows(2)
            .map(|w| (w[1].client.echoes - w[0].client.echoes) as f64 / seconds_between(w[0], w[1]))
            .collect();
        if let (Some(lo), Some(hi)) = (
            rates.iter().copied().reduce(f64::min),
            rates.iter().copied().reduce(f64::max),
        ) {
            let _ = writeln!(
                out,
                "| echoes/s | – | {} | {} | {} |",
                crate::report::fmt_num(lo),
                crate::report::fmt_num(hi),
                crate::report::fmt_num(rates[rates.len() - 1])
            );
        }
        let span = (last.t - at_warm.t).max(1) as f64;
        let _ = writeln!(
            out,
            "\nafter warm-up: {} echoes/s, {} new connections/s on average; in all {} echoes, {} MiB echoed, {} \
             short-lived connections ({} ran their course), server spawned {} tasks, {} accept errors; at the \
             last sample under load {} live tasks, {} on the busiest of its {} loop(s)",
            crate::report::fmt_num((last.client.echoes - at_warm.client.echoes) as f64 / span),
            crate::report::fmt_num((last.client.opened - at_warm.client.opened) as f64 / span),
            last.client.echoes,
            mib(last.client.bytes),
            last.client.opened,
            last.client.finished,
            r.last_tick.tasks_spawned,
            r.last_tick.accept_errors,
            r.loaded_tick.tasks_alive,
            r.loaded_tick.busiest_loop_tasks,
            r.loaded_tick.loops
        );
    }

    let _ = writeln!(out);
    for c in checks {
        let _ = writeln!(
            out,
            "- {} {}: {}",
            if c.ok { "PASS" } else { "FAIL" },
            c.rule,
            c.detail
        );
    }
    let mut distinct: Vec<&String> = Vec::new();
    for e in &r.client_errors {
        if !distinct.contains(&e) {
            distinct.push(e);
        }
    }
    for e in distinct.iter().skip(1) {
        let _ = writeln!(out, "  another client error: {e}");
    }
    let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.rule).collect();
    if failed.is_empty() {
        let _ = writeln!(out, "\nverdict: PASS");
    } else {
        let _ = writeln!(out, "\nverdict: FAIL ({})", failed.join("; "));
    }
    out
}

/// Entry point of `weft-bench soak ...`.
pub fn main(args: &[String], exe: &PathBuf) -> ExitCode {
    let plan = match Plan::parse(args) {
        Ok(p) => p,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("weft-bench soak: {e}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let record = match run(plan, exe, true) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weft-bench soak: FAIL: {e}");
            return ExitCode::FAILURE;
        }
    };
    let checks = judge(&record);
    println!("{}", render(&record, &checks));
    if checks.iter().all(|c| c.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Entry point of `weft-bench __soak_server <limit_s> <loops>`: pins itself to CPU 0 when it has one loop (with
/// several, weft pins each loop to its own CPU), starts its watchdog, serves.
pub fn server_main(args: &[String]) -> ExitCode {
    let parsed = match args {
        [limit, loops] => limit.parse::<u64>().ok().zip(loops.parse::<usize>().ok()),
        _ => None,
    };
    let Some((limit, loops)) = parsed else {
        let _ = Message::Failed(format!(
            "usage: __soak_server <limit_s> <loops>, got {args:?}"
        ))
        .emit();
        return ExitCode::from(2);
    };
    let limit = Duration::from_secs(limit);
    if loops == 1 {
        if let Err(e) = sys::pin_to_cpu(SERVER_CPU) {
            eprintln!("weft-bench: soak server not pinned: {e}");
        }
    }
    sys::start_watchdog(limit);
    let deadline = Instant::now() + limit;
    if let Err(e) = crate::rt_weft_loops::soak_server(loops, deadline, TICK) {
        let _ = Message::Failed(e.to_string()).emit();
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn plan() -> Plan {
        Plan {
            seconds: 60,
            conns: 64,
            churn_per_s: 200,
            parallel: 32,
            loops: 2,
            http_conns: 16,
        }
    }

    /// A healthy run: flat levels with some churn noise, steady load, a clean drain.
    fn healthy() -> Record {
        let idle = Level {
            rss: 3 * MIB,
            fds: 8,
            tasks: 1,
        };
        let samples = (1..=60)
            .map(|t| Sample {
                t,
                at: Duration::from_secs(t),
                level: Level {
                    rss: 5 * MIB + (t % 3) * 100_000,
                    fds: 8 + 64 + t % 4,
                    tasks: 1 + 64 + t % 4,
                },
                server_cpu: Duration::from_millis(900 * t),
                client: ClientFigures {
                    echoes: 50_000 * t,
                    bytes: 64 * 50_000 * t,
                    opened: 200 * t,
                    finished: 200 * t - 1,
                    errors: 0,
                    corrupt: 0,
                },
            })
            .collect();
        Record {
            plan: plan(),
            idle,
            samples,
            drained: Some(Drained {
                level: idle,
                after: Duration::from_millis(300),
            }),
            server_failure: None,
            last_tick: ServerTick::default(),
            loaded_tick: ServerTick::default(),
            client: ClientFigures {
                echoes: 3_000_000,
                opened: 12_000,
                ..ClientFigures::default()
            },
            client_errors: Vec::new(),
            client_failure: None,
            http: Ok(HttpLoad {
                requests: 600_000,
                per_s: 10_000.0,
                conns_lost: 0,
            }),
        }
    }

    fn failed(r: &Record) -> Vec<&'static str> {
        judge(r)
            .into_iter()
            .filter(|c| !c.ok)
            .map(|c| c.rule)
            .collect()
    }

    #[test]
    fn windows_follow_the_length() {
        let p = plan();
        assert_eq!((p.warmup_s(), p.window_s()), (12, 15));
        let p = Plan { seconds: 600, ..p };
        assert_eq!((p.warmup_s(), p.window_s()), (120, 150));
        let p = Plan { seconds: 10, ..p };
        assert_eq!((p.warmup_s(), p.window_s()), (5, 3));
    }

    #[test]
    fn a_healthy_run_passes() {
        let r = healthy();
        assert_eq!(failed(&r), Vec::<&str>::new(), "{}", render(&r, &judge(&r)));
    }

    #[test]
    fn rss_growth_fails() {
        let mut r = healthy();
        for s in &mut r.samples {
            s.level.rss += s.t * 200_000; // 12 MB over the run
        }
        assert_eq!(failed(&r), ["RSS does not grow"]);
    }

    #[test]
    fn a_slow_descriptor_leak_fails_on_the_floor() {
        let mut r = healthy();
        for s in &mut r.samples {
            s.level.fds += s.t / 4; // 15 over the run: under the ceiling, but the floor rises
        }
        r.drained.as_mut().unwrap().level.fds += 15;
        assert_eq!(
            failed(&r),
            [
                "descriptors' floor does not rise",
                "server drains back to idle"
            ]
        );
    }

    #[test]
    fn a_task_leak_fails_on_the_ceiling() {
        let mut r = healthy();
        for s in &mut r.samples {
            s.level.tasks += s.t * 2;
        }
        let f = failed(&r);
        assert!(f.contains(&"live tasks stay under the ceiling"), "{f:?}");
        assert!(f.contains(&"live tasks' floor does not rise"), "{f:?}");
    }

    #[test]
    fn corruption_and_a_dead_server_fail() {
        let mut r = healthy();
        r.client.corrupt = 1;
        r.client.errors = 1;
        assert_eq!(failed(&r), ["no wrong or lost byte", "no client error"]);

        let mut r = healthy();
        r.samples.truncate(30);
        r.server_failure = Some("server exited: signal 9".into());
        r.drained = None;
        let f = failed(&r);
        assert_eq!(f[0], "server lives and reports to the end");
        assert!(f.contains(&"growth"));
    }

    #[test]
    fn a_stalled_load_fails() {
        let mut r = healthy();
        for s in &mut r.samples {
            if s.t > 40 {
                s.client.echoes = 50_000 * 40;
            }
        }
        assert_eq!(failed(&r), ["the load ran"]);
    }

    #[test]
    fn a_lost_or_missing_http_load_fails() {
        let mut r = healthy();
        r.http.as_mut().unwrap().conns_lost = 1;
        assert_eq!(failed(&r), ["the http load ran without a lost connection"]);

        let mut r = healthy();
        r.http = Err("soak http load: exited without an answer".into());
        assert_eq!(failed(&r), ["the http load ran without a lost connection"]);
    }

    #[test]
    fn the_http_connections_count_under_the_ceiling() {
        let mut r = healthy();
        for s in &mut r.samples {
            s.level.fds += 16; // the http load's keep-alive connections
            s.level.tasks += 16;
        }
        assert_eq!(failed(&r), Vec::<&str>::new());
    }

    #[test]
    fn a_late_sample_is_not_a_slow_second() {
        let mut r = healthy();
        // The sample of second 30 was taken 0.9 s late: its second saw 1.9 s of echoes, the next one 0.1 s.
        let s = &mut r.samples[29];
        s.at += Duration::from_millis(900);
        s.client.echoes += 45_000;
        let text = render(&r, &judge(&r));
        let rates = text
            .lines()
            .find(|l| l.starts_with("| echoes/s |"))
            .unwrap();
        assert_eq!(rates, "| echoes/s | – | 50.0k | 50.0k | 50.0k |", "{text}");
    }

    #[test]
    fn options_parse() {
        let args: Vec<String> = ["--seconds", "600", "--churn", "50"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = Plan::parse(&args).unwrap();
        assert_eq!((p.seconds, p.churn_per_s, p.conns), (600, 50, 64));
        assert!(Plan::parse(&["--seconds".to_string(), "3".to_string()]).is_err());
        assert!(Plan::parse(&["--bogus".to_string()]).is_err());
        let args: Vec<String> = ["--minutes", "3", "--loops", "2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = Plan::parse(&args).unwrap();
        assert_eq!((p.seconds, p.loops, p.http_conns), (180, 2, 16));
        assert_eq!(Plan::parse(&[]).unwrap().loops, 1);
        assert!(Plan::parse(&["--http-conns".to_string(), "0".to_string()]).is_err());
        assert!(Plan::parse(&["--loops".to_string(), "x".to_string()]).is_err());
    }
}
