//! The soak's server on 2 loops (`weft-bench __soak_server <limit_s> 2`), in its own process as the soak runs
//! it: it announces an echo port and an http port, serves both, reports its live tasks summed over its 2 loops,
//! and spreads connections over both loops (one `SO_REUSEPORT` listener per loop). No timing is asserted.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use weft_bench::child::Message;
use weft_bench::harness::Proc;
use weft_bench::loadgen::HTTP_REQUEST;
use weft_bench::soak::ServerTick;

const LIMIT: Duration = Duration::from_secs(60);

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_weft-bench"))
}

/// The next report of `server` in which `done` holds; panics at the deadline.
fn tick_where(
    server: &mut Proc,
    deadline: Instant,
    done: impl Fn(&ServerTick) -> bool,
) -> ServerTick {
    // Bounded by the deadline: `message` waits at most until then.
    loop {
        match server.message(deadline) {
            Ok(Message::Tick(t)) if done(&t) => return t,
            Ok(Message::Tick(_)) => {}
            other => panic!("server answered {other:?}"),
        }
    }
}

#[test]
fn serves_echo_and_http_on_both_loops() {
    let deadline = Instant::now() + LIMIT;
    let args = [
        "__soak_server".to_string(),
        "60".to_string(),
        "2".to_string(),
    ];
    let mut server = Proc::spawn(&exe(), &args, "soak server".into()).unwrap();
    let (echo, http) = match server.message(deadline) {
        Ok(Message::SoakPorts { echo, http }) => (echo, http),
        other => panic!("expected the ports, got {other:?}"),
    };
    let idle = tick_where(&mut server, deadline, |_| true);
    assert_eq!(idle.loops, 2);

    let mut echo_conns: Vec<TcpStream> = (0..32)
        .map(|_| TcpStream::connect(("127.0.0.1", echo)).unwrap())
        .collect();
    for (i, conn) in echo_conns.iter_mut().enumerate() {
        conn.set_read_timeout(Some(LIMIT)).unwrap();
        let msg = [i as u8; 64];
        conn.write_all(&msg).unwrap();
        let mut back = [0u8; 64];
        conn.read_exact(&mut back).unwrap();
        assert_eq!(back, msg);
    }

    let mut web = TcpStream::connect(("127.0.0.1", http)).unwrap();
    web.set_read_timeout(Some(LIMIT)).unwrap();
    web.write_all(HTTP_REQUEST).unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    // Bounded by the read timeout and the response's length.
    while !response.ends_with(b"Hello, World!") {
        let n = web.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed early: {:?}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&buf[..n]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200 OK"));

    // Every connection is a live task, counted over both loops, and both loops have some (the kernel hashes
    // each connection to one listener: 33 all on one of 2 has a chance of 2^-32).
    let loaded = tick_where(&mut server, deadline, |t| {
        t.tasks_alive >= idle.tasks_alive + 33
    });
    assert_eq!(loaded.tasks_alive, idle.tasks_alive + 33);
    // Both loops run the same idle tasks (an accept loop per server), so half of the idle ones are on each.
    let all_on_one_loop = idle.tasks_alive / 2 + 33;
    assert!(
        loaded.busiest_loop_tasks < all_on_one_loop,
        "{loaded:?}: every connection on one loop"
    );

    drop(echo_conns);
    drop(web);
    let drained = tick_where(&mut server, deadline, |t| t.tasks_alive == idle.tasks_alive);
    assert_eq!(drained.loops, 2);
}
