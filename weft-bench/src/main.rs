//! `weft-bench`: runs the benchmark workloads of `shared/BENCH.md` on weft, tokio, smol and raw epoll and
//! io_uring loops, prints one table and writes `target/weft-bench/latest.json`.
//!
//! ```text
//! cargo run -p weft-bench --release -- --quick        # every workload, small sizes, under 3 minutes
//! cargo run -p weft-bench --release                   # full sizes, under 15 minutes
//! cargo run -p weft-bench --release -- echo spawn     # just these
//! cargo run -p weft-bench --release -- soak --seconds 60   # weft's echo server under churn, fails on growth
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use weft_bench::harness::{self, Options};
use weft_bench::report;
use weft_bench::runtime::Runtime;
use weft_bench::spec::{Size, Workload};

const USAGE: &str = "\
usage: weft-bench soak [--seconds N] [--conns N] [--churn N] [--parallel N]   (see `weft-bench soak --help`)
       weft-bench [--quick] [--runs N] [--runtimes weft,tokio-ct,...] [--json PATH | --no-json] [--record] [WORKLOAD...]

  --quick          small sizes, 3 runs per figure (under 3 minutes); default: full sizes, 5 runs
  --runs N         runs per figure
  --runtimes LIST  comma-separated columns among weft, weft-epoll, weft-uring, weft-2, weft-2rr, weft-2u,
                   tokio-ct, tokio-mt, tokio-mt2, smol, raw, raw-uring
                   (`tokio` means tokio-ct and tokio-mt; weft-epoll and weft-uring are weft on one loop with that
                   driver, servers only; the 2-CPU columns weft-2, weft-2rr, weft-2u (unpinned loops), tokio-mt2
                   serve echo and http only;
                   raw (epoll) and raw-uring (io_uring), hand-written with no runtime, serve echo only)
  --json PATH      where to write the JSON (default: target/weft-bench/latest.json in the workspace)
  --no-json        write no JSON
  --record         also put this run on top of weft-bench/RESULTS.md
  --record-json P  run nothing: put the run saved in JSON file P on top of weft-bench/RESULTS.md
  --size tiny      the smoke test's sizes
  WORKLOAD         spawn spawn_warm chained_spawn chained_spawn_warm yield_many ping_pong timers idle_memory
                   echo http http_wrk blocking select group (default: all; http_wrk is http measured by
                   `wrk -t1`, which must be installed)

environment, for comparisons (say so when recording):
  WEFT_BENCH_ONE_CPU=1  every server on CPU 0, the 2-CPU columns too (the load generator keeps CPU 1 to itself)
  WEFT_BENCH_PIN=0      weft-2 and weft-2rr with unpinned loops
  WEFT_BENCH_STEAL=1    the many-loop columns with `Builder::steal(true)`";

struct Cli {
    opts: Options,
    json: Option<PathBuf>,
    record: bool,
    record_json: Option<PathBuf>,
}

fn parse(args: &[String], exe: PathBuf) -> Result<Cli, String> {
    let mut opts = Options::new(Size::Full, exe);
    let mut runs = None;
    let mut json = Some(report::default_json_path());
    let mut record = false;
    let mut record_json = None;
    let mut workloads = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--quick" => opts.size = Size::Quick,
            "--full" => opts.size = Size::Full,
            "--size" => {
                let v = value("--size")?;
                opts.size = Size::from_name(&v).ok_or_else(|| format!("unknown size {v}"))?;
            }
            "--runs" => {
                let v = value("--runs")?;
                runs = Some(
                    v.parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("bad --runs {v}"))?,
                );
            }
            "--runtimes" => {
                let v = value("--runtimes")?;
                let mut rts = Vec::new();
                for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match name {
                        "tokio" => rts.extend([Runtime::TokioCt, Runtime::TokioMt]),
                        _ => rts.push(
                            Runtime::from_name(name)
                                .ok_or_else(|| format!("unknown runtime {name}"))?,
                        ),
                    }
                }
                // Column order is fixed; duplicates dropped.
                opts.runtimes = Runtime::ALL
                    .into_iter()
                    .filter(|r| rts.contains(r))
                    .collect();
            }
            "--json" => json = Some(PathBuf::from(value("--json")?)),
            "--no-json" => json = None,
            "--record" => record = true,
            "--record-json" => record_json = Some(PathBuf::from(value("--record-json")?)),
            "-h" | "--help" => return Err(String::new()),
            w => workloads.push(
                Workload::from_name(w).ok_or_else(|| format!("unknown workload or option {w}"))?,
            ),
        }
    }
    opts.runs = runs.unwrap_or(opts.size.default_runs());
    if !workloads.is_empty() {
        opts.workloads = Workload::ALL
            .into_iter()
            .filter(|w| workloads.contains(w))
            .collect();
    }
    if opts.runtimes.is_empty() {
        return Err("no runtime selected".into());
    }
    Ok(Cli {
        opts,
        json,
        record,
        record_json,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("__child") => return weft_bench::child::main(&args[1..]),
        Some("__loadgen") => return weft_bench::loadgen::main(&args[1..]),
        Some("__soak_server") => return weft_bench::soak::server_main(&args[1..]),
        _ => {}
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("weft-bench: cannot find my own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.first().map(String::as_str) == Some("soak") {
        return weft_bench::soak::main(&args[1..], &exe);
    }
    let cli = match parse(&args, exe) {
        Ok(cli) => cli,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("weft-bench: {e}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };

    if let Some(saved) = &cli.record_json {
        return record_saved(saved);
    }
    let mut report = harness::run(&cli.opts);
    report.command = if args.is_empty() {
        "cargo run -p weft-bench --release".to_string()
    } else {
        format!("cargo run -p weft-bench --release -- {}", args.join(" "))
    };
    println!("{}", report.render());
    println!(
        "{} run(s) per figure, {} sizes, {:.0} s in all.",
        report.runs, report.size, report.elapsed_s
    );
    if let Some(path) = &cli.json {
        match report.write_json(path) {
            Ok(()) => println!("JSON: {}", path.display()),
            Err(e) => eprintln!("weft-bench: cannot write {}: {e}", path.display()),
        }
    }
    if cli.record {
        let path = report::results_md_path();
        match report.record(&path) {
            Ok(()) => println!("recorded in {}", path.display()),
            Err(e) => eprintln!("weft-bench: cannot write {}: {e}", path.display()),
        }
    }
    ExitCode::SUCCESS
}

/// `--record-json`: puts a saved run on top of `RESULTS.md`.
fn record_saved(saved: &std::path::Path) -> ExitCode {
    let report: report::Report = match std::fs::read_to_string(saved)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weft-bench: cannot read {}: {e}", saved.display());
            return ExitCode::FAILURE;
        }
    };
    let path = report::results_md_path();
    match report.record(&path) {
        Ok(()) => {
            println!(
                "recorded the {} run of {} in {}",
                report.size,
                report.date,
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("weft-bench: cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
