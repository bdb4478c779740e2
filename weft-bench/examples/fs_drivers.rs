//! Files on each driver: a 64 MiB file read through `weft::fs::File` in 64 KiB chunks, the same file read
//! whole with `weft::fs::read`, and `weft::fs::metadata` 10,000 times. Run it once per driver and compare:
//!
//! ```sh
//! cargo run -p weft-bench --release --example fs_drivers                       # Auto: io_uring here
//! WEFT_DRIVER=epoll cargo run -p weft-bench --release --example fs_drivers     # the blocking pool
//! ```
//!
//! Prints the median of 5 runs of each (the file is in the page cache after the first read).

use std::time::{Duration, Instant};

use weft::io::AsyncReadExt;

/// The file's size.
const FILE_LEN: usize = 64 * 1024 * 1024;
/// One read.
const CHUNK: usize = 64 * 1024;
/// `fs::metadata` calls per run.
const STATS: usize = 10_000;
/// Runs of each measurement.
const RUNS: usize = 5;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> std::io::Result<()> {
    let path = std::env::temp_dir().join(format!("weft-bench-fs-{}", std::process::id()));
    std::fs::write(&path, vec![7u8; FILE_LEN])?;
    let runtime = weft::Runtime::new()?;
    let (chunks, whole, stats) = runtime.block_on(async {
        let (mut chunks, mut whole, mut stats) = (Vec::new(), Vec::new(), Vec::new());
        let mut buf = vec![0; CHUNK];
        for _ in 0..RUNS {
            let start = Instant::now();
            let mut file = weft::fs::File::open(&path).await?;
            let mut total = 0;
            loop {
                let read = file.read(&mut buf).await?;
                if read == 0 {
                    break;
                }
                total += read;
            }
            assert_eq!(total, FILE_LEN);
            chunks.push(start.elapsed());

            let start = Instant::now();
            assert_eq!(weft::fs::read(&path).await?.len(), FILE_LEN);
            whole.push(start.elapsed());

            let start = Instant::now();
            for _ in 0..STATS {
                assert_eq!(weft::fs::metadata(&path).await?.len(), FILE_LEN as u64);
            }
            stats.push(start.elapsed());
        }
        Ok::<_, std::io::Error>((median(chunks), median(whole), median(stats)))
    })?;
    std::fs::remove_file(&path)?;
    println!("driver {}", runtime.driver());
    println!(
        "read 64 MiB in 64 KiB chunks (File::read): {:>8.2} ms  ({:.2} GiB/s)",
        chunks.as_secs_f64() * 1e3,
        FILE_LEN as f64 / chunks.as_secs_f64() / (1u64 << 30) as f64
    );
    println!(
        "read 64 MiB whole (fs::read):               {:>8.2} ms",
        whole.as_secs_f64() * 1e3
    );
    println!(
        "fs::metadata x {STATS}:                       {:>8.2} ms  ({:.2} us each)",
        stats.as_secs_f64() * 1e3,
        stats.as_secs_f64() * 1e6 / STATS as f64
    );
    Ok(())
}
