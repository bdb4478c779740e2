//! The results: medians with min–max per runtime, the weft ratios, the table printed on stdout, the JSON in
//! `target/weft-bench/latest.json`, and the `RESULTS.md` history.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::harness::Options;
use crate::runtime::Runtime;
use crate::spec::{Better, Case, Metric};
use crate::sys::{self, Machine};

/// Median and range of one figure over the runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Median (the mean of the middle two for an even count).
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
    /// Every run, in run order.
    pub runs: Vec<f64>,
}

impl Stat {
    /// The statistics of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            runs: values.to_vec(),
        })
    }
}

/// One row of the table: one figure of one case, for every runtime.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Case label (`echo c=50`).
    pub case: String,
    /// Workload name.
    pub workload: String,
    /// Connections (network cases) or 0.
    pub conns: usize,
    /// Figure key.
    pub metric: String,
    /// Figure label (may be empty).
    pub label: String,
    /// Unit.
    pub unit: String,
    /// `higher` or `lower` is better.
    pub better: String,
    /// Per runtime: the statistics, or `null` when the runtime has no figure (see `missing`).
    pub results: BTreeMap<String, Option<Stat>>,
    /// Per runtime without a figure: why (`not applicable`, a not-yet reason, or a failure).
    pub missing: BTreeMap<String, String>,
    /// `a/b` for each pair of [`ratio_pairs`]: ratio of the medians, `null` when either is missing.
    pub ratios: BTreeMap<String, Option<f64>>,
}

impl Row {
    /// An empty row for `metric` of `case`.
    pub fn new(case: Case, metric: &Metric) -> Row {
        Row {
            case: case.label(),
            workload: case.workload.name().to_string(),
            conns: case.conns,
            metric: metric.key.to_string(),
            label: metric.label.to_string(),
            unit: metric.unit.to_string(),
            better: match metric.better {
                Better::Higher => "higher",
                Better::Lower => "lower",
            }
            .to_string(),
            results: BTreeMap::new(),
            missing: BTreeMap::new(),
            ratios: BTreeMap::new(),
        }
    }

    fn median_of(&self, rt: &str) -> Option<f64> {
        self.results
            .get(rt)
            .and_then(|s| s.as_ref())
            .map(|s| s.median)
    }

    /// Computes the ratio of medians for every column pair of [`ratio_pairs`] among `runtimes`.
    pub fn fill_ratios(&mut self, runtimes: &[Runtime]) {
        let names: Vec<&str> = runtimes.iter().map(|r| r.name()).collect();
        for (num, den) in ratio_pairs(&names) {
            let ratio = match (self.median_of(num), self.median_of(den)) {
                (Some(w), Some(o)) if o != 0.0 => Some(w / o),
                _ => None,
            };
            self.ratios.insert(format!("{num}/{den}"), ratio);
        }
    }

    /// The table's first column: case and figure label.
    pub fn title(&self) -> String {
        if self.label.is_empty() {
            self.case.clone()
        } else {
            format!("{} {}", self.case, self.label)
        }
    }
}

/// The ratio columns among the columns `runtimes` (names, in column order), as (numerator, denominator):
/// - `weft/x` for every other single-loop column x but the per-driver ones (`weft` runs one of them);
/// - each per-driver column over tokio current_thread and over its own ceiling: `weft-uring/tokio-ct`,
///   `weft-uring/raw-uring`, `weft-epoll/tokio-ct`, `weft-epoll/raw`;
/// - each 2-loop column (`weft-2`, `weft-2rr`, `weft-2u`) over `weft` (the cost of a second loop) and over `tokio-mt2`
///   (the same two CPUs with work stealing).
pub fn ratio_pairs<'a>(runtimes: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let two_loops = [
        Runtime::Weft2.name(),
        Runtime::Weft2Rr.name(),
        Runtime::Weft2Unpinned.name(),
    ];
    let drivers = [
        (Runtime::WeftUring.name(), Runtime::RawUring.name()),
        (Runtime::WeftEpoll.name(), Runtime::Raw.name()),
    ];
    let is_driver = |rt: &str| drivers.iter().any(|&(d, _)| d == rt);
    let present = |name: &str| runtimes.iter().copied().find(|&r| r == name);
    let mut pairs = Vec::new();
    if let Some(weft) = present(Runtime::Weft.name()) {
        for &rt in runtimes {
            if rt != weft && !two_loops.contains(&rt) && !is_driver(rt) {
                pairs.push((weft, rt));
            }
        }
    }
    for (driver, ceiling) in drivers {
        if let Some(driver) = present(driver) {
            for den in [Runtime::TokioCt.name(), ceiling] {
                if let Some(den) = present(den) {
                    pairs.push((driver, den));
                }
            }
        }
    }
    for &rt in runtimes.iter().filter(|r| two_loops.contains(r)) {
        for &den in runtimes {
            if den == Runtime::Weft.name() || den == Runtime::TokioMt2.name() {
                pairs.push((rt, den));
            }
        }
    }
    pairs
}

/// Per case and runtime, the JSON-only figures of each run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extras {
    /// Case label.
    pub case: String,
    /// Runtime name.
    pub runtime: String,
    /// One map per successful run.
    pub runs: Vec<BTreeMap<String, f64>>,
}

/// Everything one harness run measured; serialised as `latest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// When the run started (UTC).
    pub date: String,
    /// The command that produced it.
    pub command: String,
    /// `tiny`, `quick` or `full`.
    pub size: String,
    /// Runs per figure.
    pub runs: usize,
    /// Where.
    pub machine: Machine,
    /// Columns, in order.
    pub runtimes: Vec<String>,
    /// Wall time of the whole run.
    pub elapsed_s: f64,
    /// The table.
    pub rows: Vec<Row>,
    /// Lines printed under the table: what could not run yet, and failures.
    pub notes: Vec<String>,
    /// JSON-only context figures (RSS, threads, server CPU use, …).
    pub extras: Vec<Extras>,
    /// The machine's load average (1, 5, 15 min) when the run started and when it ended: on a shared machine,
    /// how busy it was around the figures.
    #[serde(default)]
    pub load_average: Option<(String, String)>,
}

impl Report {
    /// An empty report for `opts`.
    pub fn new(opts: &Options, elapsed: Duration) -> Report {
        Report {
            date: sys::utc_now(),
            command: String::new(),
            size: opts.size.name().to_string(),
            runs: opts.runs,
            machine: Machine::detect(),
            runtimes: opts.runtimes.iter().map(|r| r.name().to_string()).collect(),
            elapsed_s: elapsed.as_secs_f64(),
            rows: Vec::new(),
            notes: Vec::new(),
            extras: Vec::new(),
            load_average: None,
        }
    }

    /// The figures of `runtime` in the row for `case` and `metric`, if measured.
    pub fn stat(&self, case: &str, metric: &str, runtime: &str) -> Option<&Stat> {
        self.rows
            .iter()
            .find(|r| r.case == case && r.metric == metric)
            .and_then(|r| r.results.get(runtime))
            .and_then(Option::as_ref)
    }

    /// The table as Markdown (readable as is on a terminal), with the notes under it.
    pub fn render(&self) -> String {
        let names: Vec<&str> = self.runtimes.iter().map(String::as_str).collect();
        let ratio_cols: Vec<String> = ratio_pairs(&names)
            .into_iter()
            .map(|(num, den)| format!("{num}/{den}"))
            .collect();
        let mut header = vec!["workload".to_string(), "unit".to_string()];
        header.extend(self.runtimes.iter().cloned());
        header.extend(ratio_cols.iter().cloned());
        let mut table = vec![header];
        for row in &self.rows {
            let mut line = vec![
                row.title(),
                format!(
                    "{} {}",
                    row.unit,
                    if row.better == "higher" { "↑" } else { "↓" }
                ),
            ];
            for rt in &self.runtimes {
                line.push(match row.results.get(rt).and_then(Option::as_ref) {
                    Some(s) => fmt_stat(s),
                    None => match row.missing.get(rt).map(String::as_str) {
                        Some("not applicable") | None => "–".to_string(),
                        Some(m) if m.starts_with("failed") => "failed".to_string(),
                        Some(_) => "n/a".to_string(),
                    },
                });
            }
            for col in &ratio_cols {
                line.push(match row.ratios.get(col).copied().flatten() {
                    Some(r) => format!("{r:.2}"),
                    None => "–".to_string(),
                });
            }
            table.push(line);
        }
        let width = |s: &str| s.chars().count();
        let cols = table[0].len();
        let widths: Vec<usize> = (0..cols)
            .map(|c| table.iter().map(|l| width(&l[c])).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (i, line) in table.iter().enumerate() {
            out.push('|');
            for (c, cell) in line.iter().enumerate() {
                let pad = widths[c] - width(cell);
                // Text columns left-aligned, figures right-aligned.
                if c < 2 {
                    let _ = write!(out, " {cell}{} |", " ".repeat(pad));
                } else {
                    let _ = write!(out, " {}{cell} |", " ".repeat(pad));
                }
            }
            out.push('\n');
            if i == 0 {
                out.push('|');
                for (c, w) in widths.iter().enumerate() {
                    let dashes = "-".repeat(*w);
                    if c < 2 {
                        let _ = write!(out, " {dashes} |");
                    } else {
                        let _ = write!(out, " {}:|", &dashes);
                    }
                }
                out.push('\n');
            }
        }
        out.push('\n');
        let _ = writeln!(
            out,
            "Median [min–max] of {} run(s) per figure, each in a fresh process; ↑ higher is better, ↓ lower is better; \
             a/b is the ratio of medians.",
            self.runs
        );
        for note in &self.notes {
            let _ = writeln!(out, "- {note}");
        }
        out
    }

    /// Writes the report as pretty JSON to `path`, creating its directory.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }

    /// Puts this run on top of the history in `path` (a `RESULTS.md`), older runs below.
    pub fn record(&self, path: &Path) -> std::io::Result<()> {
        const HEAD: &str = "\
# weft-bench results

Newest run on top; made by `cargo run -p weft-bench --release [-- --quick] --record`. Each figure is the median
[min–max] of N runs (5 full, 3 quick), every run in a fresh process, the runtimes interleaved. Ratios taken in
the same run are what count: absolute numbers drift between runs.

- weft: `weft::Runtime::new()` defaults (driver Auto: io_uring where the kernel allows it). weft-epoll,
  weft-uring (servers only): weft on one loop built with `Builder::driver(Driver::Epoll)` / `Driver::IoUring`.
  tokio-ct: `current_thread`. tokio-mt: `multi_thread` with its default
  worker count (2 here; 1 for the servers, which are pinned to one CPU). smol: `async_executor::LocalExecutor` on
  `async_io::block_on`, async-channel, `blocking::unblock`, async-net. raw: hand-written edge-triggered epoll on one
  thread, no runtime (echo only): the readiness ceiling. raw-uring: hand-written io_uring on one thread, no runtime
  (echo only; `SINGLE_ISSUER|DEFER_TASKRUN`, multishot accept, a multishot recv per connection into a provided
  buffer ring of 4 KiB buffers, one send in flight per connection, one `io_uring_enter` per turn): the
  completion ceiling. Servers on both CPUs (echo and http only): weft-2, weft with 2
  loops, each pinned to its CPU, each with its own `SO_REUSEPORT` listener; weft-2rr, the same 2 loops with one
  acceptor on loop 0 handing connections round-robin to the loops; weft-2u, weft-2 with its loops unpinned
  (`pin_loops(false)`, left to the kernel's scheduler as tokio's workers are); tokio-mt2, `multi_thread` with 2 workers. The
  machine has 2 CPUs, shared with the load generator: their throughput is bounded by the shared CPUs, and the
  honest figure is the server's CPU per message (all threads summed).
- echo and http: the single-CPU servers pinned to CPU 0, the one load generator (its own epoll loop, no runtime)
  pinned to CPU 1; closed loop, 64-byte messages or keep-alive `GET /`; server cpu = the server's utime + stime (all
  threads) over the window divided by the round trips. http_wrk: the same http servers measured by `wrk -t1
  -c50` (Debian's wrk) pinned to CPU 1, after an untimed wrk warm-up; wrk's req/s and latency percentiles, server
  cpu over wrk's measured run divided by its requests.
- `spawn_warm` and `chained_spawn_warm`: the cold batch (1M spawn+join; 1,000 chains 1,000 deep) run twice untimed,
  then 7 timed batches in the same process (quick: 1 and 5); the figure is the median timed batch. Their `cpu` rows
  count the process's CPU time (user + system, all threads) instead of wall time: a busy machine disturbs it less.
- Runs during which other processes used more than 0.25 CPU are counted under each table; on a machine shared with
  builds those figures are noisy.
";
        let old = std::fs::read_to_string(path).unwrap_or_default();
        // Older entries start at the first second-level heading; whatever header they had is replaced.
        let older = if old.starts_with("## ") {
            old.as_str()
        } else {
            old.find("\n## ").map_or("", |i| &old[i + 1..])
        };
        let m = &self.machine;
        let mut entry = String::new();
        let _ = writeln!(entry, "## {} — {} run\n", self.date, self.size);
        let _ = writeln!(
            entry,
            "- machine: {} CPUs (`nproc`), {}, Linux {}",
            m.nproc, m.cpu_model, m.kernel
        );
        let _ = writeln!(entry, "- command: `{}`", self.command);
        let two_cpus: Vec<&str> = self
            .runtimes
            .iter()
            .map(String::as_str)
            .filter(|r| Runtime::from_name(r).is_some_and(|r| r.server_cpus() > 1))
            .collect();
        let placement = if two_cpus.is_empty() {
            String::new()
        } else {
            format!(
                " ({} servers on both CPUs, shared with the load generator)",
                two_cpus.join(", ")
            )
        };
        let _ = writeln!(
            entry,
            "- took {:.0} s; servers pinned to CPU 0{placement}, load generator to CPU 1",
            self.elapsed_s
        );
        if let Some((start, end)) = &self.load_average {
            let _ = writeln!(
                entry,
                "- load average (1, 5, 15 min, `uptime`): {start} at the start, {end} at the end"
            );
        }
        entry.push('\n');
        entry.push_str(&self.render());
        let text = if older.is_empty() {
            format!("{HEAD}\n{entry}")
        } else {
            format!("{HEAD}\n{entry}\n{older}")
        };
        std::fs::write(path, text)
    }
}

/// `median [min–max]` (just the median for one run).
pub fn fmt_stat(s: &Stat) -> String {
    if s.runs.len() <= 1 || s.min == s.max {
        fmt_num(s.median)
    } else {
        format!(
            "{} [{}–{}]",
            fmt_num(s.median),
            fmt_num(s.min),
            fmt_num(s.max)
        )
    }
}

/// A number with three significant digits and a k/M/G suffix from 10,000 up: `1.23M`, `45.6k`, `512`, `0.812`.
pub fn fmt_num(v: f64) -> String {
    fn sig3(x: f64) -> String {
        let a = x.abs();
        if a >= 100.0 {
            format!("{x:.0}")
        } else if a >= 10.0 {
            format!("{x:.1}")
        } else if a >= 1.0 {
            format!("{x:.2}")
        } else {
            format!("{x:.3}")
        }
    }
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a == 0.0 {
        "0".to_string()
    } else if a >= 1e9 {
        format!("{}G", sig3(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", sig3(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", sig3(v / 1e3))
    } else {
        sig3(v)
    }
}

/// `target/weft-bench/latest.json` under the workspace root.
pub fn default_json_path() -> PathBuf {
    workspace_root().join("target/weft-bench/latest.json")
}

/// `weft-bench/RESULTS.md`.
pub fn results_md_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("RESULTS.md")
}

/// The workspace root: the parent of this crate's manifest directory (known at compile time).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(1_234_567.0), "1.23M");
        assert_eq!(fmt_num(45_600.0), "45.6k");
        assert_eq!(fmt_num(512.3), "512");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(0.8123), "0.812");
        assert_eq!(fmt_num(0.0), "0");
    }

    fn sample(date: &str) -> Report {
        Report {
            date: date.to_string(),
            command: "cargo run -p weft-bench --release -- --quick".into(),
            size: "quick".into(),
            runs: 3,
            machine: Machine {
                nproc: 2,
                cpu_model: "cpu".into(),
                kernel: "6.1".into(),
            },
            runtimes: vec!["weft".into(), "tokio-ct".into()],
            elapsed_s: 1.0,
            rows: Vec::new(),
            notes: vec!["a note".into()],
            extras: Vec::new(),
            load_average: Some(("1.00 0.50 0.25".into(), "2.00 1.00 0.50".into())),
        }
    }

    #[test]
    fn ratio_pairs_compare_two_loops_with_one_and_with_tokio_mt2() {
        let pairs = ratio_pairs(&["weft", "weft-2", "weft-2rr", "tokio-ct", "tokio-mt2"]);
        assert_eq!(
            pairs,
            [
                ("weft", "tokio-ct"),
                ("weft", "tokio-mt2"),
                ("weft-2", "weft"),
                ("weft-2", "tokio-mt2"),
                ("weft-2rr", "weft"),
                ("weft-2rr", "tokio-mt2"),
            ]
        );
        assert_eq!(ratio_pairs(&["weft-2", "tokio-ct"]), []);
        assert_eq!(ratio_pairs(&["tokio-ct", "smol"]), []);
    }

    #[test]
    fn ratio_pairs_compare_each_driver_with_tokio_ct_and_its_own_ceiling() {
        let pairs = ratio_pairs(&[
            "weft",
            "weft-epoll",
            "weft-uring",
            "tokio-ct",
            "raw",
            "raw-uring",
        ]);
        assert_eq!(
            pairs,
            [
                ("weft", "tokio-ct"),
                ("weft", "raw"),
                ("weft", "raw-uring"),
                ("weft-uring", "tokio-ct"),
                ("weft-uring", "raw-uring"),
                ("weft-epoll", "tokio-ct"),
                ("weft-epoll", "raw"),
            ]
        );
        assert_eq!(
            ratio_pairs(&["weft-epoll", "tokio-ct", "raw-uring"]),
            [("weft-epoll", "tokio-ct")]
        );
    }

    #[test]
    fn render_marks_missing_cells_and_ratios() {
        use crate::spec::{Size, Workload};
        let mut report = sample("2000-01-01 00:00 UTC");
        report.runtimes = vec!["weft".into(), "tokio-ct".into(), "raw".into()];
        let case = Workload::PingPong.cases(Size::Quick)[0];
        let mut row = Row::new(case, &Workload::PingPong.metrics()[0]);
        row.results.insert("weft".into(), None);
        row.missing
            .insert("weft".into(), "weft::sync::mpsc not built yet".into());
        row.results
            .insert("tokio-ct".into(), Stat::of(&[200.0, 250.0, 300.0]));
        row.results.insert("raw".into(), None);
        row.missing.insert("raw".into(), "not applicable".into());
        row.fill_ratios(&[Runtime::Weft, Runtime::TokioCt, Runtime::Raw]);
        assert_eq!(row.ratios["weft/tokio-ct"], None);
        report.rows.push(row);
        report.notes = vec!["weft n/a for ping_pong: weft::sync::mpsc not built yet".into()];
        let text = report.render();
        let line = text.lines().find(|l| l.starts_with("| ping_pong")).unwrap();
        assert!(line.contains("n/a"), "{line}");
        assert!(line.contains("250 [200–300]"), "{line}");
        assert!(text.contains("- weft n/a for ping_pong: weft::sync::mpsc not built yet"));
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["rows"][0]["results"]["weft"].is_null());
    }

    #[test]
    fn record_puts_newest_on_top() {
        let path =
            std::env::temp_dir().join(format!("weft-bench-results-{}.md", std::process::id()));
        let _ = std::fs::remove_file(&path);
        sample("2000-01-01 00:00 UTC").record(&path).unwrap();
        sample("2000-01-02 00:00 UTC").record(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(text.matches("# weft-bench results").count(), 1);
        let newer = text.find("2000-01-02").unwrap();
        let older = text.find("2000-01-01").unwrap();
        assert!(newer < older, "{text}");
        assert!(text.contains("- a note"));
        assert!(text.contains("1.00 0.50 0.25 at the start, 2.00 1.00 0.50 at the end"));
    }

    #[test]
    fn stats() {
        let s = Stat::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Stat::of(&[1.0, 2.0, 3.0, 4.0]).unwrap().median, 2.5);
        assert!(Stat::of(&[]).is_none());
        assert_eq!(fmt_stat(&s), "2.00 [1.00–3.00]");
    }
}
