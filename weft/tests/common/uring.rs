//! Runtimes on the io_uring driver, for the tests of what only io_uring does.

use std::future::Future;
use std::time::Duration;

use weft::runtime::Driver;
use weft::{Builder, Runtime};

/// A runtime on io_uring, or `None` (and a note) where this machine refuses it.
pub fn uring_runtime() -> Option<Runtime> {
    match Builder::new().driver(Driver::IoUring).build() {
        Ok(runtime) => {
            assert_eq!(runtime.driver(), Driver::IoUring);
            Some(runtime)
        }
        Err(error) => {
            eprintln!("skipped: {error}");
            None
        }
    }
}

/// Runs `body` on `runtime` under the 120 s hang guard of the other I/O tests.
pub fn guarded<F: Future>(runtime: Runtime, body: F) -> F::Output {
    runtime.block_on(async {
        weft::time::timeout(Duration::from_secs(120), body)
            .await
            .expect("hang guard: the test did not finish in 120 s")
    })
}

/// Runs `body` on an io_uring runtime (see [`guarded`]), or returns `None` where there is none.
pub fn on_uring<F: Future>(body: F) -> Option<F::Output> {
    Some(guarded(uring_runtime()?, body))
}
