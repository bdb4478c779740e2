//! `weft-xray top PID`: the process refreshed every second — tasks alive, polls per second, how busy the loop
//! is, the busiest tasks and the latest slow polls. q or Ctrl-C quits (a line "q" when stdin is not a terminal).

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::Process;
use crate::table;
use crate::terminal::{self, Keys};

/// Time between refreshes.
const REFRESH: Duration = Duration::from_secs(1);

/// Rows of the busiest-tasks table.
const TOP_TASKS: usize = 20;

/// Slow polls shown.
const RECENT_SLOW: usize = 5;

/// One look at the process.
struct Sample {
    /// When it was taken.
    at: Instant,
    /// The metrics reply's `metrics`.
    metrics: Value,
    /// The dump reply.
    dump: Value,
    /// The slow_polls reply.
    slow: Value,
}

impl Sample {
    /// Asks the process.
    fn take(process: &Process) -> Result<Sample, String> {
        Ok(Sample {
            at: Instant::now(),
            metrics: process.request("metrics")?["metrics"].take(),
            dump: process.request("dump")?,
            slow: process.request("slow_polls")?,
        })
    }

    /// Polls of each task in the dump, by id.
    fn polls(&self) -> HashMap<u64, (u64, u64)> {
        table::tasks(&self.dump)
            .map(|tasks| {
                tasks
                    .iter()
                    .filter_map(|task| {
                        let busy = task["busy_us"].as_u64().unwrap_or(0);
                        Some((task["id"].as_u64()?, (task["polls"].as_u64()?, busy)))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Runs until q, Ctrl-C, or the process goes away (an error).
pub fn run(pid: u32) -> Result<(), String> {
    let process = Process::find(pid)?;
    let mut keys = Keys::open()?;
    let clear = terminal::is_terminal(libc::STDOUT_FILENO);
    let mut previous: Option<Sample> = None;
    loop {
        let sample = Sample::take(&process)?;
        let frame = render(pid, previous.as_ref(), &sample);
        let mut out = std::io::stdout().lock();
        let written = if clear {
            write!(out, "\x1b[H\x1b[2J{frame}")
        } else {
            writeln!(out, "{frame}")
        };
        written
            .and_then(|()| out.flush())
            .map_err(|error| format!("cannot write: {error}"))?;
        drop(out);
        previous = Some(sample);
        if keys.wait_for_quit(REFRESH) {
            return Ok(());
        }
    }
}

/// Per second, between two counter readings `dt` apart.
fn rate(now: &Value, before: Option<&Value>, dt: f64) -> Option<f64> {
    let (now, before) = (now.as_f64()?, before?.as_f64()?);
    (dt > 0.0).then(|| (now - before).max(0.0) / dt)
}

/// One screen.
fn render(pid: u32, previous: Option<&Sample>, sample: &Sample) -> String {
    let dt = previous.map_or(0.0, |previous| (sample.at - previous.at).as_secs_f64());
    let metrics = &sample.metrics;
    let before = previous.map(|previous| &previous.metrics);
    let per_second = |field: &str| {
        rate(&metrics[field], before.map(|before| &before[field]), dt)
            .map_or_else(|| "-".into(), |rate| format!("{rate:.0}"))
    };
    let busy_percent = rate(
        &metrics["busy_us"],
        before.map(|before| &before["busy_us"]),
        dt,
    )
    .map_or_else(|| "-".into(), |us| format!("{:.0}%", us / 1e4));
    let mut out = format!(
        "weft-xray top — process {pid} — every {}s (q quits)\n\
         tasks: {} alive, {} spawned   polls/s: {}   loop busy: {}   wakes/s: {}   slow polls: {}\n\n",
        REFRESH.as_secs(),
        metrics["tasks_alive"],
        metrics["tasks_spawned"],
        per_second("polls"),
        busy_percent,
        per_second("local_wakes"),
        metrics["slow_polls"],
    );
    match table::tasks(&sample.dump) {
        Err(text) => out.push_str(&format!("{text}\n")),
        Ok(tasks) => {
            let before = previous.map(Sample::polls).unwrap_or_default();
            let mut rows: Vec<(u64, u64, Vec<String>)> = tasks
                .iter()
                .map(|task| {
                    let id = task["id"].as_u64().unwrap_or(0);
                    let polls = task["polls"].as_u64().unwrap_or(0);
                    let busy = task["busy_us"].as_u64().unwrap_or(0);
                    let (polls_before, busy_before) =
                        before.get(&id).copied().unwrap_or((polls, busy));
                    let polled = polls.saturating_sub(polls_before);
                    let busy_delta = busy.saturating_sub(busy_before);
                    let rate = if dt > 0.0 {
                        format!("{:.0}", polled as f64 / dt)
                    } else {
                        "-".into()
                    };
                    let row = vec![
                        id.to_string(),
                        table::text(&task["name"]),
                        table::text(&task["state"]),
                        rate,
                        polls.to_string(),
                        if sample.dump["busy_measured"] == Value::Bool(true) {
                            table::duration_ms(busy as f64 / 1e3)
                        } else {
                            "-".into()
                        },
                        table::bookmark(&task["bookmark"]),
                    ];
                    (busy_delta, polled, row)
                })
                .collect();
            // Busiest first: by time in polls since the last refresh when measured, then by polls.
            rows.sort_by_key(|row| std::cmp::Reverse((row.0, row.1)));
            let shown: Vec<Vec<String>> =
                rows.into_iter().take(TOP_TASKS).map(|row| row.2).collect();
            out.push_str(&table::render(
                &[
                    "id", "name", "state", "polls/s", "polls", "busy", "bookmark",
                ],
                &shown,
            ));
        }
    }
    let slow = sample.slow["slow_polls"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    out.push_str("\nlatest slow polls");
    match sample.slow["threshold_ms"].as_f64() {
        Some(threshold) => out.push_str(&format!(" (over {}):\n", table::duration_ms(threshold))),
        None => out.push_str(" (detection off: WEFT_SLOW_POLL=100ms turns it on):\n"),
    }
    if slow.is_empty() {
        out.push_str("  none\n");
    }
    for report in slow.iter().rev().take(RECENT_SLOW) {
        out.push_str(&format!(
            "  {} {} {}{}\n",
            table::title(report),
            table::duration_ms(report["duration_us"].as_f64().unwrap_or(0.0) / 1e3),
            if report["still_running"] == Value::Bool(true) {
                "(still running) "
            } else {
                ""
            },
            table::bookmark(&report["bookmark"]),
        ));
    }
    out
}
