//! `select!` over two ready futures, weft's and tokio's, in one process, for profiling `select` (perf record).

use std::future::ready;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let n = 50_000_000usize;
    let rt = weft::Runtime::new().unwrap();
    for _ in 0..2 {
        let weft_ns = rt.block_on(async {
            let start = Instant::now();
            let mut sum = 0usize;
            for i in 0..n {
                sum += weft::select! {
                    a = ready(black_box(i & 1)) => a,
                    b = ready(black_box(1 - (i & 1))) => b,
                };
            }
            black_box(sum);
            start.elapsed().as_nanos() as f64 / n as f64
        });
        let tokio = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let tokio_ns = tokio.block_on(async {
            let start = Instant::now();
            let mut sum = 0usize;
            for i in 0..n {
                sum += tokio::select! {
                    a = ready(black_box(i & 1)) => a,
                    b = ready(black_box(1 - (i & 1))) => b,
                };
            }
            black_box(sum);
            start.elapsed().as_nanos() as f64 / n as f64
        });
        println!("weft {weft_ns:.2} ns/select, tokio {tokio_ns:.2} ns/select");
    }
}
