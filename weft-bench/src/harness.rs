//! The parent side: plans the runs, runs every case of every runtime in fresh child processes — interleaved
//! (weft, tokio, smol, weft, tokio, smol, …) — and gathers the figures into a [`Report`].
//!
//! A run during which other processes used more than [`OTHER_CPU_NOISY`] of a CPU (a build on a shared machine)
//! is run once more — at most an eighth of the runs, and only during [`Size::retry_window`], so the time limits
//! hold — and the less disturbed of the two is kept; the report counts the disturbed runs that remain.
//!
//! Children are this same executable re-run with hidden arguments (`__child`, `__loadgen`). Each one is owned by
//! a [`Proc`] guard that kills and reaps it when dropped, and each has its own watchdog, so a failure anywhere
//! leaves no server behind.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::child::{Message, OTHER_CPU, OTHER_CPU_NOISY};
use crate::loadgen::{LoadConfig, Mode};
use crate::report::{Report, Row, Stat};
use crate::runtime::{support, Runtime, Support};
use crate::spec::{Case, Size, Workload};
use crate::{sys, Figures};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Run size.
    pub size: Size,
    /// Runs per figure.
    pub runs: usize,
    /// Runtimes (columns), in column order.
    pub runtimes: Vec<Runtime>,
    /// Workloads, in table order.
    pub workloads: Vec<Workload>,
    /// The `weft-bench` executable to re-run as children.
    pub exe: PathBuf,
    /// Print one progress line per run on stderr.
    pub progress: bool,
    /// The `wrk` executable for `http_wrk` (found on `PATH`); without it those cells say
    /// [`crate::wrk::NOT_INSTALLED`].
    pub wrk: Option<PathBuf>,
}

impl Options {
    /// Every workload and runtime at `size`, re-running `exe`.
    pub fn new(size: Size, exe: PathBuf) -> Options {
        Options {
            size,
            runs: size.default_runs(),
            runtimes: Runtime::ALL.to_vec(),
            workloads: Workload::ALL.to_vec(),
            exe,
            progress: true,
            wrk: crate::wrk::find(),
        }
    }
}

/// A child process that is killed (if still running) and reaped when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    lines: Receiver<String>,
    name: String,
}

impl Proc {
    /// Starts `exe args…` with piped stdin (its watchdog ends it when that closes) and stdout (read by a thread
    /// that ends when the child does).
    pub fn spawn(exe: &PathBuf, args: &[String], name: String) -> std::io::Result<Proc> {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("read {name}"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Proc { child, lines, name })
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next [`Message`] line, waiting until `deadline` (other lines are passed on to stderr).
    pub fn message(&mut self, deadline: Instant) -> Result<Message, String> {
        // Bounded by the deadline; each line is consumed once.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => match serde_json::from_str::<Message>(&line) {
                    Ok(m) => return Ok(m),
                    Err(_) => eprintln!("[{}] {line}", self.name),
                },
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{}: no answer in time", self.name))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().map(|s| s.to_string());
                    return Err(format!(
                        "{}: exited without an answer ({})",
                        self.name,
                        status.unwrap_or_else(|e| e.to_string())
                    ));
                }
            }
        }
    }

    /// Every [`Message`] the child has written so far, without waiting (other lines are passed on to stderr);
    /// `Err` once its stdout has closed and everything before that was read.
    pub fn try_messages(&mut self) -> Result<Vec<Message>, String> {
        let mut messages = Vec::new();
        // Bounded: each line is consumed once and the child writes a few lines a second.
        loop {
            match self.lines.try_recv() {
                Ok(line) => match serde_json::from_str::<Message>(&line) {
                    Ok(m) => messages.push(m),
                    Err(_) => eprintln!("[{}] {line}", self.name),
                },
                Err(mpsc::TryRecvError::Empty) => return Ok(messages),
                Err(mpsc::TryRecvError::Disconnected) => {
                    return Err(format!("{}: its output closed", self.name))
                }
            }
        }
    }

    /// How the child ended, if it has (it is reaped then); `None` while it runs.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Gives the child up to `grace` to exit by itself, then kills it; reaps it either way.
    pub fn finish(mut self, grace: Duration) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Drop kills and reaps.
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn child_args(rt: Runtime, case: Case, size: Size) -> Vec<String> {
    vec![
        "__child".into(),
        rt.name().into(),
        case.workload.name().into(),
        size.name().into(),
        case.conns.to_string(),
    ]
}

/// Runs one self-contained case in a fresh child.
fn run_child(opts: &Options, rt: Runtime, case: Case) -> Result<Figures, String> {
    let name = format!("{} {}", rt, case.label());
    let mut proc = Proc::spawn(&opts.exe, &child_args(rt, case, opts.size), name)
        .map_err(|e| format!("cannot start child: {e}"))?;
    let msg = proc.message(Instant::now() + opts.size.child_time_limit());
    proc.finish(Duration::from_secs(2));
    match msg? {
        Message::Done(f) => Ok(f),
        Message::Failed(e) => Err(e),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

/// Runs one server case: the server child (pinned to CPU 0), then the load generator child, or wrk for
/// `http_wrk` (pinned to CPU 1).
fn run_server(opts: &Options, rt: Runtime, case: Case) -> Result<Figures, String> {
    let name = format!("{} {} server", rt, case.label());
    let mut server = Proc::spawn(&opts.exe, &child_args(rt, case, opts.size), name)
        .map_err(|e| format!("cannot start server: {e}"))?;
    let port = match server.message(Instant::now() + Duration::from_secs(20))? {
        Message::Port(p) => p,
        Message::Failed(e) => return Err(e),
        other => return Err(format!("server answered {other:?} instead of a port")),
    };
    let params = opts.size.params();
    let mut figures = if case.workload == Workload::HttpWrk {
        let wrk = opts.wrk.as_ref().ok_or(crate::wrk::NOT_INSTALLED)?;
        let cfg = crate::wrk::WrkConfig {
            port,
            conns: case.conns,
            warmup: params.warmup,
            window: params.window,
            server_pid: server.pid(),
        };
        crate::wrk::measure(wrk, &cfg).map_err(|e| e.to_string())?
    } else {
        run_load_generator(opts, rt, case, port, server.pid())?
    };
    let pid = Some(server.pid());
    if let Ok(hwm) = sys::status_field(pid, "VmHWM") {
        figures = figures.extra("server_peak_rss_mib", hwm as f64 / (1024.0 * 1024.0));
    }
    if let Ok(threads) = sys::status_field(pid, "Threads") {
        figures = figures.extra("server_threads", threads as f64);
    }
    drop(server); // kills and reaps the server
    Ok(figures)
}

/// Runs our load generator against the server on `port` and returns its figures.
fn run_load_generator(
    opts: &Options,
    rt: Runtime,
    case: Case,
    port: u16,
    server_pid: u32,
) -> Result<Figures, String> {
    let params = opts.size.params();
    let cfg = LoadConfig {
        mode: if case.workload == Workload::Http {
            Mode::Http
        } else {
            Mode::Echo
        },
        port,
        conns: case.conns,
        warmup: params.warmup,
        window: params.window,
        server_pid: Some(server_pid),
    };
    let mut args = vec!["__loadgen".to_string()];
    args.extend(cfg.to_args());
    let mut load = Proc::spawn(&opts.exe, &args, format!("load generator for {rt}"))
        .map_err(|e| format!("cannot start load generator: {e}"))?;
    let msg = load.message(Instant::now() + cfg.time_limit());
    load.finish(Duration::from_secs(2));
    match msg? {
        Message::Done(f) => Ok(f),
        Message::Failed(e) => Err(e),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

/// What happened for one runtime on one case.
#[derive(Debug, Default)]
struct Outcomes {
    figures: Vec<Figures>,
    failures: Vec<String>,
    missing: Option<String>,
}

/// CPU used by other processes during a run (0 when unknown or failed).
fn disturbance(result: &Result<Figures, String>) -> f64 {
    result
        .as_ref()
        .ok()
        .and_then(|f| f.extras.get(OTHER_CPU).copied())
        .unwrap_or(0.0)
}

/// Short form of a run's first figure for the progress line.
fn headline(case: Case, f: &Figures) -> String {
    let m = case.workload.metrics()[0];
    f.values
        .get(m.key)
        .map(|v| format!("{} {}", crate::report::fmt_num(*v), m.unit))
        .unwrap_or_default()
}

/// Runs everything `opts` asks for and returns the report (`command` left empty for the caller to fill in).
pub fn run(opts: &Options) -> Report {
    let started = Instant::now();
    let date = sys::utc_now();
    let load_at_start = sys::load_average();
    let cases: Vec<Case> = opts
        .workloads
        .iter()
        .flat_map(|w| w.cases(opts.size))
        .collect();
    let mut outcomes: BTreeMap<(Case, Runtime), Outcomes> = BTreeMap::new();
    let mut planned = 0;
    for &case in &cases {
        for &rt in &opts.runtimes {
            let o = outcomes.entry((case, rt)).or_default();
            match support(rt, case.workload) {
                Support::Run(_) if case.workload == Workload::HttpWrk && opts.wrk.is_none() => {
                    o.missing = Some(crate::wrk::NOT_INSTALLED.to_string())
                }
                Support::Run(_) => planned += opts.runs,
                Support::NotYet(reason) => o.missing = Some(reason.to_string()),
                Support::NotApplicable => o.missing = Some("not applicable".to_string()),
            }
        }
    }

    let mut done = 0;
    let mut retries_left = planned / 8 + 2;
    for &case in &cases {
        for run in 0..opts.runs {
            for &rt in &opts.runtimes {
                let o = outcomes.get_mut(&(case, rt)).expect("planned above");
                if o.missing.is_some() {
                    continue;
                }
                done += 1;
                let t = Instant::now();
                let run_once = || {
                    if case.workload.is_server() {
                        run_server(opts, rt, case)
                    } else {
                        run_child(opts, rt, case)
                    }
                };
                let mut result = run_once();
                // A run disturbed by other load on the machine is run again, once, within a budget.
                if retries_left > 0
                    && started.elapsed() < opts.size.retry_window()
                    && disturbance(&result) > OTHER_CPU_NOISY
                {
                    retries_left -= 1;
                    if opts.progress {
                        eprintln!(
                            "        {} {}: other load on the machine ({:.2} CPU), running it again",
                            case.label(),
                            rt.name(),
                            disturbance(&result)
                        );
                    }
                    std::thread::sleep(Duration::from_millis(500));
                    let again = run_once();
                    if again.is_ok() && disturbance(&again) < disturbance(&result) {
                        result = again;
                    }
                }
                if opts.progress {
                    let what = match &result {
                        Ok(f) => headline(case, f),
                        Err(e) => format!("FAILED: {e}"),
                    };
                    eprintln!(
                        "[{done:>3}/{planned}] {:<18} {:<9} run {}/{}  {what}  ({:.1} s)",
                        case.label(),
                        rt.name(),
                        run + 1,
                        opts.runs,
                        t.elapsed().as_secs_f64()
                    );
                }
                match result {
                    Ok(f) => o.figures.push(f),
                    Err(e) => o.failures.push(e),
                }
            }
        }
    }

    let mut report = Report::new(opts, started.elapsed());
    report.date = date;
    for &case in &cases {
        for metric in case.workload.metrics() {
            let mut row = Row::new(case, metric);
            for &rt in &opts.runtimes {
                let o = &outcomes[&(case, rt)];
                let values: Vec<f64> = o
                    .figures
                    .iter()
                    .filter_map(|f| f.values.get(metric.key).copied())
                    .collect();
                let stat = Stat::of(&values);
                if stat.is_none() {
                    let why = o.missing.clone().unwrap_or_else(|| {
                        o.failures
                            .first()
                            .map_or("no figure reported".to_string(), |e| format!("failed: {e}"))
                    });
                    row.missing.insert(rt.name().to_string(), why);
                }
                row.results.insert(rt.name().to_string(), stat);
            }
            row.fill_ratios(&opts.runtimes);
            report.rows.push(row);
        }
        for &rt in &opts.runtimes {
            let o = &outcomes[&(case, rt)];
            if !o.failures.is_empty() {
                report.notes.push(format!(
                    "{rt} {}: {} of {} runs failed; first: {}",
                    case.label(),
                    o.failures.len(),
                    o.failures.len() + o.figures.len(),
                    o.failures[0]
                ));
            }
            if !o.figures.is_empty() {
                report.extras.push(crate::report::Extras {
                    case: case.label(),
                    runtime: rt.name().to_string(),
                    runs: o.figures.iter().map(|f| f.extras.clone()).collect(),
                });
            }
        }
    }
    let is_noisy = |f: &Figures| {
        f.extras
            .get(OTHER_CPU)
            .is_some_and(|&c| c > OTHER_CPU_NOISY)
    };
    let total: usize = outcomes.values().map(|o| o.figures.len()).sum();
    let mut noisy_by_case: BTreeMap<Case, usize> = BTreeMap::new();
    for ((case, _), o) in &outcomes {
        let n = o.figures.iter().filter(|f| is_noisy(f)).count();
        if n > 0 {
            *noisy_by_case.entry(*case).or_default() += n;
        }
    }
    let noisy: usize = noisy_by_case.values().sum();
    if noisy > 0 {
        let per_case: Vec<String> = noisy_by_case
            .iter()
            .map(|(case, n)| format!("{} {n}", case.label()))
            .collect();
        report.notes.push(format!(
            "{noisy} of {total} runs had other processes using more than {OTHER_CPU_NOISY} CPU on the machine \
             (`{OTHER_CPU}` in the JSON), so their figures are disturbed: {}",
            per_case.join(", ")
        ));
    }
    // One line per runtime and reason for what could not run yet.
    let mut not_yet: BTreeMap<(Runtime, String), Vec<&'static str>> = BTreeMap::new();
    for &w in &opts.workloads {
        for &rt in &opts.runtimes {
            if let Support::NotYet(reason) = support(rt, w) {
                not_yet
                    .entry((rt, reason.to_string()))
                    .or_default()
                    .push(w.name());
            }
        }
    }
    let not_yet_notes = not_yet
        .into_iter()
        .map(|((rt, reason), ws)| format!("{rt} n/a for {}: {reason}", ws.join(", ")));
    report.notes.splice(0..0, not_yet_notes);
    if opts.wrk.is_none() && opts.workloads.contains(&Workload::HttpWrk) {
        report.notes.insert(
            0,
            format!(
                "http_wrk n/a: {} (`apt-get install wrk`)",
                crate::wrk::NOT_INSTALLED
            ),
        );
    }
    report.elapsed_s = started.elapsed().as_secs_f64();
    report.load_average = load_at_start.zip(sys::load_average());
    report
}
