//! Memory per idle connection: a weft server whose tasks read into an 8 KiB buffer and echo, `CONNS`
//! connections that each make ROUNDS (the first argument, default 1) round trips of BYTES (the second, default
//! 100) and then stay open, idle; the server's RSS growth divided by the connection count. Run it once per
//! driver and compare:
//!
//! ```sh
//! cargo run -p weft-bench --release --example idle_conns -- 3                      # Auto: io_uring here
//! WEFT_DRIVER=epoll cargo run -p weft-bench --release --example idle_conns -- 3    # readiness
//! ```
//!
//! The clients are blocking std sockets on another thread of the same process (kernel socket memory is not in
//! RSS; their user-space memory is a few bytes each), so the growth is the server's: its tasks, its read
//! buffers, and whatever the driver holds per connection.

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;

/// Connections held open.
const CONNS: usize = 5_000;
/// One message, unless the second argument says otherwise.
const MESSAGE: usize = 100;

/// Resident memory of this process in bytes (`VmRSS`).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 1024
}

fn main() -> std::io::Result<()> {
    // One measurement per process: freed memory stays in the allocator and would hide a second one's growth.
    let arg = |n: usize, default: usize| {
        std::env::args().nth(n).map_or(default, |arg| {
            arg.parse().expect("ROUNDS and BYTES are numbers")
        })
    };
    let (rounds, message) = (arg(1, 1), arg(2, MESSAGE));
    let runtime = weft::Runtime::new()?;
    let per_conn = runtime.block_on(measure(rounds, message))?;
    println!(
        "driver {}: {rounds} round trip(s) of {message} bytes, then idle: {per_conn} bytes per connection \
         ({CONNS} connections)",
        runtime.driver()
    );
    Ok(())
}

async fn measure(rounds: usize, message: usize) -> std::io::Result<usize> {
    let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = weft::spawn(async move {
        let mut tasks = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            let (stream, _) = listener.accept().await.unwrap();
            tasks.push(weft::spawn(async move {
                let mut buf = vec![0; 8 * 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }));
        }
        tasks
    });
    weft::time::sleep(std::time::Duration::from_millis(50)).await;
    let before = rss();
    let (done_tx, done_rx) = weft::sync::oneshot::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut conns = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            conns.push(StdStream::connect(addr).unwrap());
        }
        let mut buf = vec![0u8; message];
        let out = vec![7u8; message];
        for _ in 0..rounds {
            for conn in &mut conns {
                conn.write_all(&out).unwrap();
            }
            for conn in &mut conns {
                conn.read_exact(&mut buf).unwrap();
            }
        }
        let _ = done_tx.send(());
        let _ = release_rx.recv(); // hold the connections open until measured
        drop(conns);
    });
    done_rx
        .await
        .expect("the client thread finished its rounds");
    let tasks = server.await.expect("the acceptor finished");
    weft::time::sleep(std::time::Duration::from_millis(100)).await;
    let after = rss();
    release_tx.send(()).unwrap();
    for task in tasks {
        let _ = task.await;
    }
    Ok(after.saturating_sub(before) / CONNS)
}
