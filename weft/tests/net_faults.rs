//! Network faults on 127.0.0.1: refused connects, peer resets, writes to a closed peer (never `SIGPIPE`), `accept`
//! at the descriptor limit, cancelled reads and accepts that lose nothing, descriptors closed by dropped and
//! aborted streams, and a socket error that must not leave a reader spinning.
//!
//! Tests that need a process of their own (a lowered descriptor limit, the default `SIGPIPE` disposition, an
//! exact count of open descriptors, a possible busy loop) re-execute this test binary with `--exact <test>` and
//! an environment variable naming the test; the child runs the body and reports through its exit status.

use std::future::{poll_fn, Future};
use std::io::{self, Read};
use std::process::Command;
use std::task::Poll;
use std::time::Duration;

use weft::net::{TcpListener, TcpStream, UdpSocket};
use weft::task::yield_now;
use weft::time::{sleep, timeout};

mod common;
use common::child::{child_command, is_child, wait_child};
use common::run;

/// [`child_command`], with backtraces on: a child's panic says where it came from.
fn traced_child(test: &str, nofile: Option<u32>) -> Command {
    let mut command = child_command(test, nofile);
    command.env("RUST_BACKTRACE", "1");
    command
}

/// Runs `test`'s child role in a child process and asserts that it ran exactly that one test and passed.
fn assert_child_passes(test: &str, nofile: Option<u32>) {
    let run = wait_child(
        traced_child(test, nofile).spawn().unwrap(),
        Duration::from_secs(120),
    );
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(run.status.signal(), None, "{}", run.report());
    }
    run.assert_passed();
}

/// A connected pair: (client side, server side).
async fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

/// One echo round trip on a fresh connection: proof that the loop still serves sockets.
async fn fresh_connection_works() {
    let (client, server) = connected_pair().await;
    client.write_all(b"still alive").await.unwrap();
    let mut buf = [0; 11];
    server.read_exact(&mut buf).await.unwrap();
    server.write_all(&buf).await.unwrap();
    let mut back = [0; 11];
    client.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"still alive");
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 253) as u8 ^ seed.wrapping_mul(31))
        .collect()
}

#[test]
fn connect_to_closed_port_is_refused() {
    run(async {
        for _ in 0..3 {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            drop(listener);
            let error = TcpStream::connect(address).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error:?}");
        }
        fresh_connection_works().await;
    });
}

#[test]
fn connections_reset_before_accept_never_make_accept_fail() {
    // Clients that connect and reset (SO_LINGER 0) before the server accepts: on io_uring the kernel has
    // accepted them, and asking for the peer's address then finds none (ENOTCONN). accept must not fail for
    // them — many servers stop on an accept error — and the next live connection must come through.
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        for _ in 0..10 {
            let doomed = TcpStream::connect(address).await.unwrap();
            doomed.set_linger(Some(Duration::ZERO)).unwrap();
            drop(doomed); // RST
        }
        let live = TcpStream::connect(address).await.unwrap();
        let live_address = live.local_addr().unwrap();
        // On epoll, accept(2) hands the reset ones out too (their reads then fail); on io_uring they are skipped.
        let mut served = None;
        for _ in 0..11 {
            let (stream, peer) = listener
                .accept()
                .await
                .expect("a connection reset before accept is not an accept error");
            if peer == live_address {
                served = Some(stream);
                break;
            }
        }
        let served = served.expect("the live connection was accepted");
        live.write_all(b"still here").await.unwrap();
        let mut buf = [0; 10];
        served.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still here");
    });
}

#[test]
fn peer_reset_mid_read_fails_the_read_and_the_loop_lives_on() {
    run(async {
        let (client, server) = connected_pair().await;
        let reader = weft::spawn(async move {
            let mut buf = [0; 64];
            let first = client.read(&mut buf).await;
            (first, client)
        });
        // Let the reader park in its read (ordering, not time: it has run and found nothing to read).
        for _ in 0..5 {
            yield_now().await;
        }
        assert!(!reader.is_finished(), "nothing was sent: the read waits");
        server.set_linger(Some(Duration::ZERO)).unwrap();
        drop(server); // SO_LINGER 0: close sends RST

        let (first, client) = reader.await.unwrap();
        match &first {
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => {}
            Ok(0) => {}
            other => panic!("a reset peer: expected ConnectionReset or EOF, got {other:?}"),
        }
        // The stream stays dead but never hangs: reads end, writes fail.
        let mut buf = [0; 64];
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => {}
            Ok(read) => panic!("read {read} bytes from a reset connection"),
        }
        let error = client.write(b"after reset").await.unwrap_err();
        assert!(
            matches!(
                error.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{error:?}"
        );
        drop(client);
        fresh_connection_works().await;
    });
}

/// Declared here because `libc` is not a dev-dependency: Rust's runtime ignores `SIGPIPE` at startup, so the
/// child puts back the default disposition (terminate) to prove that weft's writes never raise it.
mod signals {
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    const SIG_ERR: usize = usize::MAX;

    pub fn default_sigpipe() {
        // SAFETY: signal(2) with SIG_DFL installs no handler code; SIGPIPE is 13 on Linux.
        let previous = unsafe { signal(SIGPIPE, SIG_DFL) };
        assert_ne!(previous, SIG_ERR, "signal(SIGPIPE, SIG_DFL) failed");
    }
}

#[test]
fn write_to_closed_peer_is_broken_pipe_never_sigpipe() {
    const TEST: &str = "write_to_closed_peer_is_broken_pipe_never_sigpipe";
    if !is_child(TEST) {
        // The child dies of SIGPIPE (status with a signal) if a write raises it.
        return assert_child_passes(TEST, None);
    }
    signals::default_sigpipe();
    run(async {
        let (client, server) = connected_pair().await;
        drop(server); // a normal close: FIN now, RST for whatever arrives after
        let mut buf = [0; 16];
        assert_eq!(client.read(&mut buf).await.unwrap(), 0, "EOF from the peer");

        let chunk = vec![7u8; 4096];
        let mut first_error = None;
        let mut writes_ok = 0;
        for _ in 0..2_000 {
            match client.write(&chunk).await {
                Ok(_) => {
                    writes_ok += 1;
                    sleep(Duration::from_millis(1)).await; // let the RST come back
                }
                Err(error) => {
                    first_error = Some(error);
                    break;
                }
            }
        }
        let error = first_error.expect("writes to a closed peer kept succeeding");
        assert!(
            matches!(
                error.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "first error after {writes_ok} writes: {error:?}"
        );
        // Once the reset is consumed, every further write is EPIPE, through every write path.
        for _ in 0..3 {
            let error = client.write(&chunk).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error:?}");
        }
        let error = client.write_all(&chunk).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error:?}");
        let error = client
            .write_vectored(&[io::IoSlice::new(b"a"), io::IoSlice::new(b"b")])
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error:?}");
        fresh_connection_works().await;
    });
}

#[test]
fn accept_at_descriptor_limit_returns_emfile_then_recovers() {
    const TEST: &str = "accept_at_descriptor_limit_returns_emfile_then_recovers";
    const EMFILE: i32 = 24;
    if !is_child(TEST) {
        // A low soft limit keeps the child's /dev/null hoard small whatever the machine's limit is.
        return assert_child_passes(TEST, Some(256));
    }
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        client.write_all(b"queued").await.unwrap();

        // Use up every descriptor.
        let mut hoard = Vec::new();
        loop {
            assert!(hoard.len() < 100_000, "never reached the descriptor limit");
            match std::fs::File::open("/dev/null") {
                Ok(file) => hoard.push(file),
                Err(error) => {
                    assert_eq!(error.raw_os_error(), Some(EMFILE), "{error:?}");
                    break;
                }
            }
        }
        assert!(!hoard.is_empty());

        // accept reports EMFILE once instead of waiting, and the connection stays queued...
        let error = listener.accept().await.unwrap_err();
        assert_eq!(error.raw_os_error(), Some(EMFILE), "{error:?}");
        // ...then waits (retrying on a timer) instead of failing again or spinning while the limit lasts.
        for _ in 0..2 {
            let waited = timeout(Duration::from_millis(500), listener.accept()).await;
            assert!(waited.is_err(), "accept at the limit returned {waited:?}");
        }

        // Once a descriptor is free, accepting resumes by itself.
        hoard.truncate(hoard.len() - 4);
        let (stream, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap(), "the pending connection");
        let mut buf = [0; 6];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"queued");
        stream.write_all(b"served").await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"served");
        drop(hoard);
        fresh_connection_works().await;
    });
}

/// The child role of `server_at_descriptor_limit_keeps_serving_and_recovers`: an echo server whose accept loop
/// reports errors and keeps accepting, as every tutorial writes it. It prints its port, then serves until
/// killed; each failed accept is one `accept error:` line on stderr.
fn echo_server_until_killed() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("port {}", listener.local_addr().unwrap().port());
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(weft::spawn(async move {
                    let mut buf = [0; 1024];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => {
                                if stream.write_all(&buf[..read]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                })),
                Err(error) => eprintln!("accept error: {error}"),
            }
        }
    });
}

/// One echo round trip through a blocking client socket (its read times out rather than hang).
fn echo_round_trip(client: &mut std::net::TcpStream, message: &[u8]) -> io::Result<()> {
    use std::io::Write;
    client.write_all(message)?;
    let mut back = vec![0; message.len()];
    client.read_exact(&mut back)?;
    assert_eq!(back, message);
    Ok(())
}

#[test]
fn server_at_descriptor_limit_keeps_serving_and_recovers() {
    const TEST: &str = "server_at_descriptor_limit_keeps_serving_and_recovers";
    if is_child(TEST) {
        return echo_server_until_killed();
    }
    use std::io::{BufRead, BufReader};
    use std::net::TcpStream as StdStream;

    // The server runs in a child process limited to 64 descriptors; the clients are here, unlimited.
    let mut child = traced_child(TEST, Some(64)).spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let port_tx = lines_tx.clone();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            // The harness's "test ... " may precede it on the same line.
            if let Some((_, port)) = line.rsplit_once("port ") {
                let _ = port_tx.send(port.trim().to_string());
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut errors = Vec::new();
        for line in stderr.lines().map_while(Result::ok) {
            if line.starts_with("accept error") {
                let _ = lines_tx.send(line.clone());
                errors.push(line);
            }
        }
        errors
    });
    let guard = Duration::from_secs(60); // a hang guard, not a timing assertion
    let port: u16 = lines.recv_timeout(guard).unwrap().parse().unwrap();
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let connect = move || {
        let stream = StdStream::connect(address).unwrap();
        stream.set_read_timeout(Some(guard)).unwrap();
        stream
    };

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // Ten connections, served.
        let mut served: Vec<StdStream> = (0..10).map(|_| connect()).collect();
        for (i, client) in served.iter_mut().enumerate() {
            echo_round_trip(client, format!("hello {i}").as_bytes()).unwrap();
        }
        // Two hundred more, from another thread: the server runs out of descriptors.
        let extras = std::thread::spawn(move || (0..200).map(|_| connect()).collect::<Vec<_>>())
            .join()
            .unwrap();
        let error = lines
            .recv_timeout(guard)
            .expect("the server never hit the limit");
        assert!(error.contains("Too many open files"), "{error}");
        // At the limit, the ten are still served, round after round.
        for round in 0..20 {
            for (i, client) in served.iter_mut().enumerate() {
                echo_round_trip(client, format!("round {round} client {i}").as_bytes()).unwrap();
            }
        }
        // The error was reported once for the whole spell at the limit: the accept loop did not spin on it.
        assert!(
            lines.try_recv().is_err(),
            "a second accept error at the limit"
        );
        // The extras go away; new clients are served again without anyone touching the server.
        drop(extras);
        for i in 0..10 {
            let mut client = connect();
            echo_round_trip(&mut client, format!("new {i}").as_bytes()).unwrap();
        }
        for client in &mut served {
            echo_round_trip(client, b"still here").unwrap();
        }
    }));
    let _ = child.kill();
    let status = child.wait().unwrap();
    let errors = errors.join().unwrap();
    if let Err(panic) = outcome {
        eprintln!("server: {status:?}, accept errors: {errors:?}");
        std::panic::resume_unwind(panic);
    }
    // Draining the ~150 closed extras still queued refills the 64 descriptors a few times over, each spell
    // reported once: a handful of lines in all, where a spinning accept loop prints millions.
    assert!(
        errors.len() <= 10,
        "{} accept errors: {errors:?}",
        errors.len()
    );
}

#[test]
fn read_cancelled_by_timeout_loses_no_bytes() {
    run(async {
        let (client, server) = connected_pair().await;
        let mut buf = vec![0; 256 * 1024];
        for round in 0..4u8 {
            let timed_out = timeout(Duration::from_millis(20), client.read(&mut buf)).await;
            assert!(timed_out.is_err(), "nothing was sent yet: {timed_out:?}");

            let data = pattern(50_000 + round as usize * 7_777, round);
            server.write_all(&data).await.unwrap();
            let mut got = vec![0; data.len()];
            client.read_exact(&mut got).await.unwrap();
            assert!(
                got == data,
                "round {round}: bytes differ after a cancelled read"
            );
        }

        // A read that was woken by the data's arrival but dropped before it was polled again takes nothing.
        let data = pattern(10_000, 99);
        {
            let mut read = std::pin::pin!(client.read(&mut buf));
            let first = poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
            assert!(first.is_pending());
            server.write_all(&data).await.unwrap();
            for _ in 0..5 {
                yield_now().await; // the loop sees the readiness event and wakes us
            }
        }
        let mut got = vec![0; data.len()];
        client.read_exact(&mut got).await.unwrap();
        assert!(got == data, "bytes lost by a dropped, woken read");

        // And nothing extra is left behind.
        drop(server);
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn accept_cancelled_by_timeout_loses_no_connection() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        for round in 0..3u8 {
            let timed_out = timeout(Duration::from_millis(20), listener.accept()).await;
            assert!(timed_out.is_err(), "nobody connected yet");
            let client = TcpStream::connect(address).await.unwrap();
            client.write_all(&[round]).await.unwrap();
            let (server, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            let mut byte = [0];
            server.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte, [round]);
        }
    });
}

/// Descriptors open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn dropped_and_aborted_streams_close_their_descriptors() {
    const TEST: &str = "dropped_and_aborted_streams_close_their_descriptors";
    if !is_child(TEST) {
        // Counting /proc/self/fd needs a process where no other test opens sockets meanwhile.
        return assert_child_passes(TEST, None);
    }
    use std::cell::RefCell;
    use std::rc::Rc;

    const EXCHANGED: usize = 1_000;
    const BATCH: usize = 100;
    const ABORTED: usize = 100;

    let before_runtime = open_fds();
    let runtime = weft::Runtime::new().unwrap();
    runtime.block_on(async {
        let with_runtime = open_fds();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let handlers: Rc<RefCell<Vec<weft::JoinHandle<usize>>>> = Rc::default();
        let acceptor = weft::spawn({
            let handlers = handlers.clone();
            async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    handlers.borrow_mut().push(weft::spawn(async move {
                        let mut buf = [0; 1024];
                        let mut echoed = 0;
                        loop {
                            let read = stream.read(&mut buf).await.unwrap_or(0);
                            if read == 0 {
                                return echoed;
                            }
                            stream.write_all(&buf[..read]).await.unwrap();
                            echoed += read;
                        }
                    }));
                }
            }
        });

        // 1,000 connections: open, exchange, drop.
        for batch in 0..EXCHANGED / BATCH {
            let clients = (0..BATCH).map(|index| {
                weft::spawn(async move {
                    let stream = TcpStream::connect(address).await.unwrap();
                    let message = pattern(100 + index, batch as u8);
                    stream.write_all(&message).await.unwrap();
                    let mut back = vec![0; message.len()];
                    stream.read_exact(&mut back).await.unwrap();
                    assert_eq!(back, message);
                })
            });
            for client in weft::join_all(clients).await {
                client.unwrap();
            }
        }

        // 100 more, whose client task is aborted while blocked in read; half of their server tasks (also
        // blocked in read) are aborted too, the other half see EOF.
        let blocked: Vec<_> = (0..ABORTED)
            .map(|_| {
                weft::spawn(async move {
                    let stream = TcpStream::connect(address).await.unwrap();
                    let mut buf = [0; 16];
                    let _ = stream.read(&mut buf).await; // nobody writes: parks here
                    unreachable!("the read of an idle connection completed");
                })
            })
            .collect();
        let mut turns = 0;
        while handlers.borrow().len() < EXCHANGED + ABORTED {
            turns += 1;
            assert!(
                turns < 100_000,
                "the blocked connections were never accepted"
            );
            yield_now().await;
        }
        for _ in 0..5 {
            yield_now().await; // every blocked reader has reached its read
        }
        assert!(blocked.iter().all(|task| !task.is_finished()));
        for task in &blocked {
            task.abort();
        }
        for handler in handlers.borrow()[EXCHANGED..].iter().step_by(2) {
            handler.abort();
        }
        for task in blocked {
            assert!(task.await.unwrap_err().is_cancelled());
        }
        // Now the listener, blocked in accept.
        acceptor.abort();
        assert!(acceptor.await.unwrap_err().is_cancelled());

        let handlers = std::mem::take(&mut *handlers.borrow_mut());
        let mut echoed = 0;
        let mut cancelled = 0;
        for (index, result) in weft::join_all(handlers).await.into_iter().enumerate() {
            match result {
                Ok(bytes) => echoed += bytes,
                Err(error) => {
                    assert!(error.is_cancelled());
                    assert!(index >= EXCHANGED && (index - EXCHANGED) % 2 == 0);
                    cancelled += 1;
                }
            }
        }
        assert_eq!(cancelled, ABORTED / 2);
        assert_eq!(
            echoed,
            (0..EXCHANGED / BATCH)
                .map(|_| (0..BATCH).map(|i| 100 + i).sum::<usize>())
                .sum::<usize>()
        );

        // Every socket is closed while the runtime still runs (after at most a few turns of the loop).
        let mut turns = 0;
        while open_fds() != with_runtime && turns < 10 {
            yield_now().await;
            turns += 1;
        }
        assert_eq!(
            open_fds(),
            with_runtime,
            "descriptors left open after every stream was dropped or aborted"
        );

        // Descriptor numbers (and driver keys) are reused now; new sockets work on them.
        fresh_connection_works().await;
        assert_eq!(open_fds(), with_runtime);
    });
    drop(runtime);
    assert_eq!(
        open_fds(),
        before_runtime,
        "the runtime closed its own descriptors"
    );
}

#[test]
fn udp_error_then_recv_waits_instead_of_spinning() {
    const TEST: &str = "udp_error_then_recv_waits_instead_of_spinning";
    if !is_child(TEST) {
        // A spinning child never yields to its timer; the parent kills it after a generous deadline.
        let run = wait_child(
            traced_child(TEST, None).spawn().unwrap(),
            Duration::from_secs(20),
        );
        assert!(
            !run.killed,
            "the child hung (busy loop in recv after a socket error)\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.stdout, run.stderr
        );
        assert!(
            run.status.success() && run.stdout.contains("1 passed"),
            "child failed: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.status,
            run.stdout,
            run.stderr
        );
        return;
    }
    run(async {
        let closed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let closed_addr = closed.local_addr().unwrap();
        drop(closed);
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.connect(closed_addr).await.unwrap();
        socket.send(b"anyone?").await.unwrap();
        // Let the loop park once while the error is pending, so the driver sees EPOLLERR for this socket.
        sleep(Duration::from_millis(50)).await;
        let mut buf = [0; 16];
        // Loopback answers with ICMP port unreachable: a connected UDP socket reports it on its next recv.
        let first = timeout(Duration::from_secs(5), socket.recv(&mut buf))
            .await
            .expect("no ICMP error arrived");
        let error = first.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error:?}");
        println!("first recv: {error:?}");
        // The error is consumed; nothing is queued, so the next recv must wait (here: until the timeout).
        let second = timeout(Duration::from_millis(50), socket.recv(&mut buf)).await;
        assert!(second.is_err(), "nothing to receive: {second:?}");
        println!("second recv timed out as it should");
        fresh_connection_works().await;
    });
}

#[test]
fn closing_a_connection_the_peer_reset_is_not_an_error() {
    use std::net::Shutdown;
    use weft::io::AsyncWriteExt;
    run(async {
        // The peer closes with SO_LINGER 0: a reset. Shutting down or closing our side afterwards succeeds.
        for how in ["shutdown", "close", "owned half", "borrowed half"] {
            let (client, mut server) = connected_pair().await;
            client.set_linger(Some(Duration::ZERO)).unwrap();
            drop(client);
            let mut buf = [0; 16];
            let reset = loop {
                match server.read(&mut buf).await {
                    Ok(0) => break false,
                    Ok(_) => continue,
                    Err(error) => break error.kind() == io::ErrorKind::ConnectionReset,
                }
            };
            assert!(reset, "{how}: the reset never arrived");
            match how {
                "shutdown" => server.shutdown(Shutdown::Write).unwrap(),
                "close" => server.close().await.unwrap(),
                "owned half" => {
                    let (_read, mut write) = server.into_split();
                    write.close().await.unwrap();
                }
                _ => {
                    let (_read, mut write) = TcpStream::split(&mut server);
                    write.close().await.unwrap();
                }
            }
        }
    });
}

#[test]
fn closing_a_unix_stream_whose_peer_is_gone_is_not_an_error() {
    use std::net::Shutdown;
    use weft::io::AsyncWriteExt;
    run(async {
        let (a, mut b) = weft::net::UnixStream::pair().unwrap();
        drop(a);
        let mut buf = [0; 4];
        assert_eq!(b.read(&mut buf).await.unwrap(), 0);
        b.shutdown(Shutdown::Write).unwrap();
        b.close().await.unwrap();
    });
}
