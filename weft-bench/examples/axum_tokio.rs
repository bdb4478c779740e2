//! The very app of weft's `examples/axum.rs` (same routes, same handlers, its state in a `weft::sync::Mutex`),
//! served by `axum::serve` on tokio's current_thread runtime: the reference `wrk` measures
//! `weft::compat::serve` against.
//!
//! ```sh
//! cargo run -p weft-bench --release --example axum_tokio -- 3001
//! wrk -t1 -c50 -d5s http://127.0.0.1:3001/hello/ada
//! ```

#[allow(dead_code)] // its `main` and `serve` run on weft; only `app` is used here
#[path = "../../examples/axum.rs"]
mod axum_example;

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .or_else(|| std::env::args().nth(1))
        .unwrap_or_else(|| "3001".to_string());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
            println!("listening on http://{}/", listener.local_addr()?);
            // Serves until killed (tokio's "signal" feature is not among weft-bench's).
            axum::serve(listener, axum_example::app()).await
        })
}
