//! Smoke test: every workload runs at its tiny size on every runtime that supports it, through the real harness
//! (fresh child processes, the load generator, the report), so the benchmark never rots. No timing assertions:
//! only that every supported cell produced its figures.

use std::path::PathBuf;

use weft_bench::harness::{self, Options};
use weft_bench::runtime::{support, Runtime, Support};
use weft_bench::spec::{Size, Workload};

fn smoke(workload: Workload) {
    let mut opts = Options::new(Size::Tiny, PathBuf::from(env!("CARGO_BIN_EXE_weft-bench")));
    opts.workloads = vec![workload];
    opts.runs = 1;
    opts.progress = false;
    let report = harness::run(&opts);
    let text = report.render();
    assert!(!report.rows.is_empty(), "no rows:\n{text}");
    for row in &report.rows {
        for rt in Runtime::ALL {
            let cell = &row.results[rt.name()];
            match support(rt, workload) {
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
