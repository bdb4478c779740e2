//! An echo server: every byte a client sends comes back.
//!
//! ```sh
//! cargo run --release --example echo               # listens on 127.0.0.1:7878
//! cargo run --release --example echo -- 127.0.0.1:9000
//! ```
//! Try it with `nc 127.0.0.1 7878`.

use weft::net::{TcpListener, TcpStream};

/// Echoes until the client closes its side.
async fn echo(stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let read = stream.read(&mut buf).await?;
        if read == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..read]).await?;
    }
}

#[weft::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".to_string());
    let listener = TcpListener::bind(address.as_str()).await?;
    println!("echo server listening on {}", listener.local_addr()?);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // A peer that reset the connection already makes this fail: that is its own affair, not the
                // server's (a `?` here would stop the server).
                let _ = stream.set_nodelay(true);
                weft::spawn(async move {
                    if let Err(error) = echo(stream).await {
                        eprintln!("{peer}: {error}");
                    }
                });
            }
            // Out of descriptors, or a connection that died in the backlog: report it and keep serving. At the
            // descriptor limit weft reports the error once, then `accept` waits (retrying on a timer) until a
            // descriptor is free, so this loop never spins and the connections already open keep being served.
            Err(error) => eprintln!("accept: {error}"),
        }
    }
}
