//! The soak's load generator checks every byte it gets back: against a faithful echo server it runs every kind
//! of connection without an error; against one that changes a byte it reports corruption. (No timing is
//! asserted: only what the client counted.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use weft_bench::churn::{self, ChurnConfig, ClientFigures, Counters};

/// A thread-per-connection std echo server on 127.0.0.1 that flips the byte at `corrupt_at` of each
/// connection's stream, if given. Its threads end when their peers close; the listener's with the test process.
fn echo_server(corrupt_at: Option<u64>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || serve(stream, corrupt_at));
        }
    });
    port
}

fn serve(mut stream: TcpStream, corrupt_at: Option<u64>) {
    let mut buf = [0u8; 4096];
    let mut offset = 0u64;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some(at) = corrupt_at {
            if (offset..offset + n as u64).contains(&at) {
                buf[(at - offset) as usize] ^= 0x20;
            }
        }
        offset += n as u64;
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Runs the load generator against `port` for `how_long`.
fn load(port: u16, how_long: Duration) -> (ClientFigures, Vec<String>) {
    let cfg = ChurnConfig {
        port,
        conns: 8,
        churn_per_s: 200,
        parallel: 16,
        reply_timeout: Duration::from_secs(5),
        time_limit: how_long,
    };
    let counters = Counters::default();
    churn::run(&cfg, &counters, &AtomicBool::new(false)).unwrap();
    (counters.snapshot(), counters.first_errors())
}

#[test]
fn a_faithful_server_sees_no_error() {
    let (figures, errors) = load(echo_server(None), Duration::from_millis(1500));
    assert_eq!(figures.errors, 0, "{errors:?}");
    assert!(figures.echoes > 0, "{figures:?}");
    assert!(figures.opened > 10, "{figures:?}");
    assert!(figures.finished > 0, "{figures:?}");
}

#[test]
fn a_changed_byte_is_corruption() {
    let (figures, errors) = load(echo_server(Some(1000)), Duration::from_millis(1500));
    assert!(figures.corrupt > 0, "{figures:?} {errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("wrong byte at offset 1000")),
        "{errors:?}"
    );
}
