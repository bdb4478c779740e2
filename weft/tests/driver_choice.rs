//! Choosing the I/O driver: what `Builder::driver` and `WEFT_DRIVER` ask for is what `Runtime::driver` and
//! `Handle::driver` report. CI runs the I/O tests once per driver (`WEFT_DRIVER=epoll`, `WEFT_DRIVER=io_uring`);
//! the first test here proves each pass really ran on the driver it names.

use weft::runtime::Driver;
use weft::Builder;

mod common;
use common::isolated_stderr;

/// Whether this machine can run io_uring (an explicit request builds).
fn io_uring_available() -> bool {
    Builder::new().driver(Driver::IoUring).build().is_ok()
}

#[test]
fn the_runtime_reports_the_driver_weft_driver_asked_for() {
    let asked = std::env::var("WEFT_DRIVER").ok();
    let expected = match asked.as_deref() {
        Some("epoll") => Driver::Epoll,
        // io_uring (or Auto) where the kernel allows it; a machine without it falls back to epoll.
        _ if io_uring_available() => Driver::IoUring,
        _ => Driver::Epoll,
    };
    let runtime = weft::Runtime::new().unwrap();
    assert_eq!(runtime.driver(), expected, "WEFT_DRIVER={asked:?}");
    assert_eq!(runtime.handle().driver(), expected);
    let inside = runtime.block_on(async { weft::Handle::current().driver() });
    assert_eq!(inside, expected);
    println!("WEFT_DRIVER={asked:?}: the runtime runs {expected}");
}

#[test]
fn an_explicit_driver_is_not_overridden_by_the_environment() {
    let runtime = Builder::new().driver(Driver::Epoll).build().unwrap();
    assert_eq!(runtime.driver(), Driver::Epoll);
    if io_uring_available() {
        let runtime = Builder::new().driver(Driver::IoUring).build().unwrap();
        assert_eq!(runtime.driver(), Driver::IoUring);
    }
}

#[test]
fn weft_driver_epoll_overrides_auto_silently() {
    let stderr = isolated_stderr(
        "weft_driver_epoll_overrides_auto_silently",
        &[("WEFT_DRIVER", Some("epoll"))],
        || {
            let runtime = weft::Runtime::new().unwrap();
            assert_eq!(runtime.driver(), Driver::Epoll);
        },
    );
    if let Some(stderr) = stderr {
        assert!(!stderr.contains("weft:"), "nothing to say: {stderr}");
    }
}

#[test]
fn weft_driver_io_uring_overrides_auto_silently_where_it_runs() {
    if !io_uring_available() {
        eprintln!(
            "skipped: io_uring is unavailable on this machine (driver_uring.rs tests the fallback)"
        );
        return;
    }
    let stderr = isolated_stderr(
        "weft_driver_io_uring_overrides_auto_silently_where_it_runs",
        &[("WEFT_DRIVER", Some("io_uring"))],
        || {
            let runtime = weft::Runtime::new().unwrap();
            assert_eq!(runtime.driver(), Driver::IoUring);
        },
    );
    if let Some(stderr) = stderr {
        assert!(!stderr.contains("weft:"), "nothing to say: {stderr}");
    }
}

#[test]
fn a_weft_driver_naming_no_driver_fails_the_build_clearly() {
    isolated_stderr(
        "a_weft_driver_naming_no_driver_fails_the_build_clearly",
        &[("WEFT_DRIVER", Some("kqueue"))],
        || {
            let error = weft::Runtime::new().unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
            let message = error.to_string();
            assert!(
                message.contains("WEFT_DRIVER") && message.contains("kqueue"),
                "{message}"
            );
            assert!(message.contains("epoll, io_uring or auto"), "{message}");
            // An explicit choice does not read the environment.
            let runtime = Builder::new().driver(Driver::Epoll).build().unwrap();
            assert_eq!(runtime.driver(), Driver::Epoll);
        },
    );
}

#[test]
fn drivers_print_their_names() {
    assert_eq!(Driver::Epoll.to_string(), "epoll");
    assert_eq!(Driver::IoUring.to_string(), "io_uring");
    assert_eq!(Driver::Auto.to_string(), "auto");
    assert_eq!(Driver::default(), Driver::Auto);
    assert_eq!(format!("{:?}", Driver::IoUring), "IoUring");
}
