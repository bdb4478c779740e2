//! Smoke test: every workload runs at its tiny size on every runtime that supports it, through the real harness
//! (fresh child processes, the load generator, the report), so the benchmark never rots. No timing assertions:
//! only that every supported cell produced its figures.

use std::path::PathBuf;

use weft_bench::harness::{self, Options};
use weft_bench::runtime::{support, Runtime, Support};
use weft_bench::spec::{Size, Workload};

fn tiny(workload: Workload) -> Options {
    let mut opts = Options::new(Size::Tiny, PathBuf::from(env!("CARGO_BIN_EXE_weft-bench")));
    opts.workloads = vec![workload];
    opts.runs = 1;
    opts.progress = false;
    opts
}

fn smoke(workload: Workload) {
    smoke_with(tiny(workload));
}

fn smoke_with(opts: Options) {
    let workload = opts.workloads[0];
    let report = harness::run(&opts);
    let text = report.render();
    assert!(!report.rows.is_empty(), "no rows:\n{text}");
    for row in &report.rows {
        for rt in Runtime::ALL {
            let cell = &row.results[rt.name()];
            match support(rt, workload) {
                Support::Run(_) if workload == Workload::HttpWrk && opts.wrk.is_none() => {
                    assert!(cell.is_none());
                    assert_eq!(
                        row.missing.get(rt.name()).map(String::as_str),
                        Some(weft_bench::wrk::NOT_INSTALLED),
                        "{text}"
                    );
                }
                Support::Run(_) => assert!(
                    cell.is_some(),
                    "{} {}: no figure ({:?})\n{text}",
                    row.title(),
                    rt,
                    row.missing.get(rt.name())
                ),
                Support::NotYet(_) | Support::NotApplicable => assert!(cell.is_none()),
            }
        }
    }
    // The JSON round-trips.
    let json = serde_json::to_string(&report).unwrap();
    let back: weft_bench::report::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.rows.len(), report.rows.len());
}

#[test]
fn spawn() {
    smoke(Workload::Spawn);
}

#[test]
fn spawn_warm() {
    smoke(Workload::SpawnWarm);
}

#[test]
fn chained_spawn() {
    smoke(Workload::ChainedSpawn);
}

#[test]
fn chained_spawn_warm() {
    smoke(Workload::ChainedSpawnWarm);
}

#[test]
fn yield_many() {
    smoke(Workload::YieldMany);
}

#[test]
fn ping_pong() {
    smoke(Workload::PingPong);
}

#[test]
fn timers() {
    smoke(Workload::Timers);
}

#[test]
fn idle_memory() {
    smoke(Workload::IdleMemory);
}

#[test]
fn echo() {
    smoke(Workload::Echo);
}

#[test]
fn http() {
    smoke(Workload::Http);
}

/// The http servers under wrk: every http server's cell has figures where wrk is installed, and says "wrk not
/// installed" where it is not.
#[test]
fn http_wrk() {
    smoke(Workload::HttpWrk);
}

/// Without wrk the `http_wrk` rows say so, and the run goes on.
#[test]
fn http_wrk_without_wrk_says_so() {
    let mut opts = tiny(Workload::HttpWrk);
    opts.wrk = None;
    smoke_with(opts);
}

#[test]
fn blocking() {
    smoke(Workload::Blocking);
}

#[test]
fn select() {
    smoke(Workload::Select);
}

#[test]
fn group() {
    smoke(Workload::Group);
}
