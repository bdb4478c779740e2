//! What x-ray's always-on bookkeeping (bookmarks, poll statistics) or the cooperative budget costs, in
//! instructions: run ping_pong, spawn+join or yield_many under cachegrind, in a normal build and in one with `--cfg weft_no_xray`, at two sizes, and divide
//! the difference by the extra operations — instruction counts do not depend on code placement or on a noisy
//! machine, which time does.
//!
//! ```sh
//! cargo build --release -p weft-bench --example xray_cost
//! RUSTFLAGS="--cfg weft_no_xray" CARGO_TARGET_DIR=target/no-xray cargo build --release -p weft-bench --example xray_cost
//! for bin in target/release/examples/xray_cost target/no-xray/release/examples/xray_cost; do
//!   for n in 200000 400000; do
//!     valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null $bin ping_pong $n 2>&1 | grep 'I *refs'
//!   done
//! done
//! ```
fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "ping_pong".into());
    let n: usize = args.next().map_or(1000, |n| n.parse().expect("a count"));
    weft::run(async move {
        match what.as_str() {
            "ping_pong" => {
                let (to_pong, mut pong_rx) = weft::sync::mpsc::channel::<usize>(1);
                let (to_ping, mut ping_rx) = weft::sync::mpsc::channel::<usize>(1);
                let pong = weft::spawn(async move {
                    while let Some(v) = pong_rx.recv().await {
                        if to_ping.send(v + 1).await.is_err() {
                            break;
                        }
                    }
                });
                let ping = weft::spawn(async move {
                    let mut v = 0;
                    for _ in 0..n / 2 {
                        to_pong.send(v).await.unwrap();
                        v = ping_rx.recv().await.unwrap();
                    }
                    v
                });
                assert_eq!(ping.await.unwrap(), n / 2);
                pong.await.unwrap();
            }
            "spawn" => {
                let handles: Vec<_> = (0..n).map(|i| weft::spawn(async move { i })).collect();
                for h in handles {
                    h.await.unwrap();
                }
            }
            "yield_many" => {
                let tasks: Vec<_> = (0..100)
                    .map(|_| {
                        weft::spawn(async move {
                            for _ in 0..n / 100 {
                                weft::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            }
            _ => panic!("ping_pong, spawn or yield_many"),
        }
    });
}
