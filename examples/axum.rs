//! An axum 0.8 app on weft: JSON in and out, a path parameter, and state shared by every request in a
//! `weft::sync::Mutex`, served by `weft::compat::serve` until Ctrl-C (SIGINT), then stopped gracefully.
//!
//! ```sh
//! cargo run --features hyper --example axum            # 127.0.0.1:3000; PORT=0 (or an argument 0) picks any port
//! curl http://127.0.0.1:3000/hello/ada                 # {"greeting":"Hello, ada!"}
//! curl -X POST -H 'content-type: application/json' -d '{"value":"blue"}' http://127.0.0.1:3000/kv/colour
//! curl http://127.0.0.1:3000/kv/colour                 # {"key":"colour","value":"blue"}
//! curl -X POST http://127.0.0.1:3000/counter           # {"count":1}, then 2, 3, ...
//! ```
//!
//! It prints `listening on http://ADDRESS/` once it accepts, and `bye` after a graceful stop; the test
//! `weft/tests/compat_serve.rs` runs it and drives it with curl.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use weft::net::TcpListener;
use weft::sync::Mutex;

/// What every request shares: a key-value store and a counter.
#[derive(Default)]
struct Store {
    /// Values stored with `POST /kv/{key}`.
    values: HashMap<String, String>,
    /// How many times `POST /counter` was called.
    count: u64,
}

/// The state handed to handlers (axum wants it `Clone + Send + Sync`).
type Shared = Arc<Mutex<Store>>;

/// `GET /hello/{name}`'s answer.
#[derive(Serialize)]
struct Greeting {
    /// "Hello, {name}!"
    greeting: String,
}

/// The body `POST /kv/{key}` takes.
#[derive(Deserialize)]
struct NewValue {
    /// What to store.
    value: String,
}

/// One stored entry, as `GET /kv/{key}` and `POST /kv/{key}` answer.
#[derive(Serialize)]
struct Entry {
    /// The key from the path.
    key: String,
    /// Its value.
    value: String,
}

/// `POST /counter`'s answer.
#[derive(Serialize)]
struct Count {
    /// The counter after this call.
    count: u64,
}

async fn hello(Path(name): Path<String>) -> Json<Greeting> {
    Json(Greeting {
        greeting: format!("Hello, {name}!"),
    })
}

async fn put_value(
    State(store): State<Shared>,
    Path(key): Path<String>,
    Json(new): Json<NewValue>,
) -> (StatusCode, Json<Entry>) {
    store
        .lock()
        .await
        .values
        .insert(key.clone(), new.value.clone());
    (
        StatusCode::CREATED,
        Json(Entry {
            key,
            value: new.value,
        }),
    )
}

async fn get_value(
    State(store): State<Shared>,
    Path(key): Path<String>,
) -> Result<Json<Entry>, StatusCode> {
    let value = store.lock().await.values.get(&key).cloned();
    match value {
        Some(value) => Ok(Json(Entry { key, value })),
        None => Err(StatusCode::NOT_FOUND),
    }
}

async fn count(State(store): State<Shared>) -> Json<Count> {
    let mut store = store.lock().await;
    store.count += 1;
    Json(Count { count: store.count })
}

/// The application: every route and its state.
pub fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "Hello from weft\n" }))
        .route("/hello/{name}", get(hello))
        .route("/kv/{key}", get(get_value).post(put_value))
        .route("/counter", post(count))
        .with_state(Shared::default())
}

/// Serves [`app`] on 127.0.0.1:`port` until Ctrl-C (SIGINT), then stops gracefully.
pub async fn serve(port: &str) -> io::Result<()> {
    // Set up before the first request, so a Ctrl-C from then on stops the server gracefully.
    let ctrl_c = weft::signal::ctrl_c();
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}/", listener.local_addr()?);
    weft::compat::serve(listener, app())
        .with_graceful_shutdown(async move {
            if let Err(error) = ctrl_c.await {
                eprintln!("cannot wait for Ctrl-C: {error}");
                std::future::pending::<()>().await;
            }
        })
        .await?;
    println!("bye");
    Ok(())
}

#[weft::main]
async fn main() -> io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .or_else(|| std::env::args().nth(1))
        .unwrap_or_else(|| "3000".to_string());
    serve(&port).await
}
