//! X-ray: a small echo server with one deliberately slow handler, watched from the inside.
//!
//! ```sh
//! cargo run --release --example xray
//! ```
//! It shows every x-ray tool: a **dump** of every task with its bookmark (the line it is parked at and what it
//! waits for), taken inside the loop and from another thread — which, while the slow handler blocks the loop,
//! gets no answer and names the task to blame; slow polls caught and named **while** they block the loop (and
//! again when they end, with the bookmark they resumed from); the loop's metrics read from another thread; and
//! a trace of the loop written to `target/xray-trace.json` — open it at ui.perfetto.dev.

use std::time::Duration;

use weft::net::{TcpListener, TcpStream};

/// Echoes one message; a message that says "slow" is handled with CPU work on the loop — the bug x-ray finds.
async fn echo_once(stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0; 64];
    let read = stream.read(&mut buf).await?;
    if buf[..read].starts_with(b"slow") {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(1200) {
            std::hint::spin_loop(); // CPU-bound work that should have gone to spawn_blocking
        }
    }
    stream.write_all(&buf[..read]).await
}

fn main() -> std::io::Result<()> {
    std::fs::create_dir_all("target")?;
    let trace = std::path::Path::new("target/xray-trace.json");
    let runtime = weft::Builder::new()
        .slow_poll_threshold(Some(Duration::from_millis(50)))
        .on_slow_poll(|slow| println!("  slow poll caught: {slow}"))
        .trace_path(trace)
        .build()?;
    let handle = runtime.handle();

    // Another thread asks for a dump while the slow handler blocks the loop.
    let monitor = std::thread::spawn({
        let handle = handle.clone();
        move || {
            std::thread::sleep(Duration::from_millis(150));
            handle.dump()
        }
    });

    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        println!("echo server on {address}; 20 clients, one of them sends \"slow\"");
        let server = weft::task::Builder::new()
            .name("acceptor")
            .spawn(async move {
                for i in 0..20 {
                    let (stream, _) = listener.accept().await.unwrap();
                    let name = if i == 7 {
                        "handler (slow)".to_string()
                    } else {
                        format!("handler {i}")
                    };
                    weft::task::Builder::new()
                        .name(name)
                        .spawn(echo_once(stream));
                }
            });
        weft::task::Builder::new().name("inspector").spawn(async {
            weft::time::sleep(Duration::from_millis(22)).await;
            println!(
                "\nxray::dump() from inside the loop, 22 ms in:\n{}",
                weft::xray::dump()
            );
        });
        let clients: Vec<_> = (0..20)
            .map(|i| {
                weft::spawn(async move {
                    weft::time::sleep(Duration::from_millis(5 * i)).await;
                    let stream = TcpStream::connect(address).await.unwrap();
                    let message: &[u8] = if i == 7 { b"slow please" } else { b"hello" };
                    stream.write_all(message).await.unwrap();
                    let mut reply = vec![0; message.len()];
                    stream.read_exact(&mut reply).await.unwrap();
                })
            })
            .collect();
        for client in weft::join_all(clients).await {
            client.unwrap();
        }
        server.await.unwrap();
        Ok::<_, std::io::Error>(())
    })?;

    let stuck = monitor.join().unwrap();
    println!("\nHandle::dump() from another thread, 150 ms in:\n  {stuck}");

    let metrics = std::thread::spawn(move || handle.metrics()).join().unwrap();
    println!("\nmetrics, read from another thread:");
    println!(
        "  tasks spawned {}, alive {}, polls {}",
        metrics.tasks_spawned, metrics.tasks_alive, metrics.polls
    );
    println!("  busy {:?}, parked {:?}", metrics.busy, metrics.parked);
    println!(
        "  wakes local {} / remote {}, timers fired {}, I/O events {}, slow polls {}",
        metrics.local_wakes,
        metrics.remote_wakes,
        metrics.timers_fired,
        metrics.io_events,
        metrics.slow_polls
    );
    drop(runtime); // writes the trace
    println!(
        "\ntrace of the loop: {} — open it at ui.perfetto.dev",
        trace.display()
    );
    Ok(())
}
