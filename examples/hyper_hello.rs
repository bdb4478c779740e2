//! hyper 1.x serving "Hello, world!" on weft.
//!
//! ```sh
//! cargo run --release --features hyper --example hyper_hello             # 127.0.0.1:3000
//! cargo run --release --features hyper --example hyper_hello -- 127.0.0.1:8080
//! curl http://127.0.0.1:3000/
//! ```

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use weft::compat::{WeftIo, WeftTimer};
use weft::net::TcpListener;

/// The whole application.
async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!",
    ))))
}

#[weft::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let listener = TcpListener::bind(address.as_str()).await?;
    println!("hyper on weft: http://{}/", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(connection) => connection,
            Err(error) => {
                eprintln!("accept: {error}");
                continue;
            }
        };
        stream.set_nodelay(true)?;
        weft::spawn(async move {
            let connection = http1::Builder::new()
                .timer(WeftTimer::new())
                .serve_connection(WeftIo::new(stream), service_fn(hello));
            if let Err(error) = connection.await {
                eprintln!("connection: {error}");
            }
        });
    }
}
