//! What one `weft::compat::with_tokio` call costs, in nanoseconds per call: a future that is ready at once
//! (`async {}`, `ready(1)`) awaited directly and through the bridge, and a round trip to the bridge's thread
//! (`tokio::spawn` of a ready future, awaited: one cross-thread wake back into weft). Each row is the median of
//! seven rounds, after a warm-up round that also starts the bridge runtime.
//!
//! ```sh
//! cargo run --release -p weft-bench --example bridge_cost
//! ```

use std::future::{ready, Future};
use std::hint::black_box;
use std::time::Instant;

use weft::compat::with_tokio;

/// Rounds per row; the median is reported.
const ROUNDS: usize = 7;

/// Awaits `make()` `calls` times on the current weft task and returns nanoseconds per call (median of rounds).
async fn per_call<F: Future>(calls: u32, mut make: impl FnMut() -> F) -> f64 {
    let mut samples = Vec::with_capacity(ROUNDS);
    for round in 0..=ROUNDS {
        let started = Instant::now();
        for _ in 0..calls {
            black_box(make().await);
        }
        let nanos = started.elapsed().as_nanos() as f64 / f64::from(calls);
        if round > 0 {
            samples.push(nanos); // round 0 warms up
        }
    }
    samples.sort_by(f64::total_cmp);
    samples[ROUNDS / 2]
}

fn main() {
    weft::run(async {
        let rows = [
            (
                "async {} direct",
                per_call(2_000_000, || async { black_box(()) }).await,
            ),
            (
                "with_tokio(async {})",
                per_call(2_000_000, || with_tokio(async { black_box(()) })).await,
            ),
            (
                "ready(1) direct",
                per_call(2_000_000, || ready(black_box(1))).await,
            ),
            (
                "with_tokio(ready(1))",
                per_call(2_000_000, || with_tokio(ready(black_box(1)))).await,
            ),
            (
                "with_tokio(tokio::spawn(ready))",
                per_call(20_000, || {
                    with_tokio(async { tokio::spawn(ready(black_box(1))).await.unwrap() })
                })
                .await,
            ),
        ];
        println!("{:<34} {:>12}", "per call", "ns (median)");
        for (name, nanos) in rows {
            println!("{name:<34} {nanos:>12.1}");
        }
    });
}
