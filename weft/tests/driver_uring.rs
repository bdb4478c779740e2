//! The io_uring driver: a wake from another thread ends a park in the ring, 10,000 connections opened and closed
//! leave the descriptor count flat (and every close reaches the peer), a dropped listener refuses connections at
//! once, more registrations at once than the ring
//! has entries, a socket closed while its poll is in flight, and the fallback to epoll for real: a child process
//! whose seccomp filter denies `io_uring_setup`.
//!
//! Tests that need io_uring say "skipped" and pass where the kernel refuses it; the fallback test runs anywhere.

use std::time::Duration;

use weft::net::{TcpListener, TcpStream, UnixStream};
use weft::runtime::Driver;
use weft::{Builder, Runtime};

mod common;
use common::isolated_stderr;
use common::uring::{on_uring, uring_runtime};

/// Open descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_spawn_from_another_thread_wakes_the_loop_parked_in_the_ring() {
    let Some(runtime) = uring_runtime() else {
        return;
    };
    let handle = runtime.handle();
    let answer = runtime.block_on(async move {
        let (sender, receiver) = weft::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            // Give the loop time to park in io_uring_enter (nothing else can wake it).
            std::thread::sleep(Duration::from_millis(50));
            handle.spawn(async move { sender.send(42).unwrap() })
        });
        let answer = receiver.await.unwrap();
        thread.join().unwrap().await.unwrap();
        answer
    });
    assert_eq!(answer, 42);
    assert!(runtime.handle().metrics().parks >= 1, "the loop parked");
}

/// One connection: a byte there and back, then a close, awaited until the server's half has closed too.
async fn round_trip(
    address: std::net::SocketAddr,
    i: u32,
    closes: &mut weft::sync::mpsc::UnboundedReceiver<()>,
) {
    let stream = TcpStream::connect(address).await.unwrap();
    let byte = [i as u8];
    stream.write_all(&byte).await.unwrap();
    let mut back = [0; 1];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(back, byte);
    drop(stream);
    closes.recv().await.unwrap();
}

#[test]
fn ten_thousand_connections_opened_and_closed_leave_the_descriptor_count_flat() {
    common::isolated(
        "ten_thousand_connections_opened_and_closed_leave_the_descriptor_count_flat",
        || {
            on_uring(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let address = listener.local_addr().unwrap();
                // Each server half says when it has seen its peer's close and closed too.
                let (closed, mut closes) = weft::sync::mpsc::unbounded_channel();
                let server = weft::spawn(async move {
                    loop {
                        let (stream, _) = listener.accept().await.unwrap();
                        let closed = closed.clone();
                        weft::spawn(async move {
                            let mut buf = [0; 16];
                            // Echo until the peer's close arrives: it only does if the closed socket's poll
                            // let go of its file.
                            loop {
                                match stream.read(&mut buf).await.unwrap() {
                                    0 => break,
                                    read => stream.write_all(&buf[..read]).await.unwrap(),
                                }
                            }
                            drop(stream);
                            closed.send(()).unwrap();
                        });
                    }
                });
                for i in 0..100 {
                    round_trip(address, i, &mut closes).await;
                }
                let before = open_fds();
                for i in 0..10_000 {
                    round_trip(address, i, &mut closes).await;
                }
                assert_eq!(
                    open_fds(),
                    before,
                    "descriptors leaked over 10,000 connections"
                );
                server.abort();
            });
        },
    );
}

#[test]
fn more_sockets_registered_at_once_than_the_ring_has_entries_all_get_their_data() {
    const PAIRS: usize = 1_000; // the ring has 256 submission entries
    on_uring(async {
        let pairs: Vec<(UnixStream, UnixStream)> =
            (0..PAIRS).map(|_| UnixStream::pair().unwrap()).collect();
        // One poll of join_all registers every reader before the loop parks: 1,000 polls queued at once.
        let readers = weft::join_all(pairs.iter().map(|(reader, _)| async move {
            let mut byte = [0; 1];
            reader.read_exact(&mut byte).await.unwrap();
            byte[0]
        }));
        let writers = async {
            weft::task::yield_now().await;
            for (i, (_, writer)) in pairs.iter().enumerate() {
                writer.write_all(&[i as u8]).await.unwrap();
            }
        };
        let (bytes, ()) = weft::join!(readers, writers);
        let expected: Vec<u8> = (0..PAIRS).map(|i| i as u8).collect();
        assert_eq!(bytes, expected);
    });
}

#[test]
fn a_socket_closed_while_its_poll_is_in_flight_is_released_and_its_number_reused_safely() {
    // In a process of its own: other tests' sockets would take the freed number first.
    common::isolated(
        "a_socket_closed_while_its_poll_is_in_flight_is_released_and_its_number_reused_safely",
        || {
            on_uring(async {
                use std::os::fd::AsRawFd;
                let (first, first_peer) = UnixStream::pair().unwrap();
                let first_fd = first.as_raw_fd();
                // A read that waits: its poll is submitted when the loop parks, and is in flight when we close.
                let mut buf = [0; 8];
                let waited =
                    weft::time::timeout(Duration::from_millis(20), first.read(&mut buf)).await;
                assert!(waited.is_err(), "nothing was written, the read waited");
                drop(first);
                // The close reached the peer: the cancelled poll let go of the socket's file.
                let mut end = [0; 8];
                assert_eq!(first_peer.read(&mut end).await.unwrap(), 0);
                // A new socket takes the same number; the old poll's completions must not reach it, nor its data miss.
                let (second, second_peer) = UnixStream::pair().unwrap();
                assert!(
                    [second.as_raw_fd(), second_peer.as_raw_fd()].contains(&first_fd),
                    "the descriptor number was reused"
                );
                let (second, second_peer) = if second.as_raw_fd() == first_fd {
                    (second, second_peer)
                } else {
                    (second_peer, second)
                };
                let reader = async {
                    let mut got = [0; 5];
                    second.read_exact(&mut got).await.unwrap();
                    got
                };
                let writer = async {
                    weft::time::sleep(Duration::from_millis(5)).await;
                    second_peer.write_all(b"fresh").await.unwrap();
                };
                let (got, ()) = weft::join!(reader, writer);
                assert_eq!(&got, b"fresh");
            });
        },
    );
}

#[test]
fn a_listener_dropped_with_its_poll_in_flight_refuses_connections_at_once() {
    on_uring(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // An accept that waits: the listener's poll is in flight in the ring.
        let waited = weft::time::timeout(Duration::from_millis(20), listener.accept()).await;
        assert!(waited.is_err(), "nobody connected, the accept waited");
        drop(listener);
        // No park in between: the cancel must have let go of the listening socket before its close.
        let refused = std::net::TcpStream::connect(address).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    });
}

/// Installs, on this thread, a seccomp filter under which `io_uring_setup` fails with `EPERM`.
fn deny_io_uring_setup() {
    let filter = [
        // Load the system call number.
        bpf(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        // io_uring_setup? Then the next instruction, else skip it.
        bpf(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            0,
            1,
            libc::SYS_io_uring_setup as u32,
        ),
        bpf(
            libc::BPF_RET | libc::BPF_K,
            0,
            0,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        bpf(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes plain integers.
    let result = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(result, 0, "{}", std::io::Error::last_os_error());
    // SAFETY: `program` points at `filter`, which outlives the call; the kernel copies the program.
    let result = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &program as *const libc::sock_fprog,
        )
    };
    assert_eq!(result, 0, "{}", std::io::Error::last_os_error());
}

/// One classic BPF instruction.
fn bpf(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// Echoes one message over TCP on the current runtime.
async fn echo_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let client = TcpStream::connect(address).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    client.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn where_seccomp_denies_io_uring_auto_runs_on_epoll_silently_and_explicit_io_uring_fails() {
    let stderr = isolated_stderr(
        "where_seccomp_denies_io_uring_auto_runs_on_epoll_silently_and_explicit_io_uring_fails",
        &[("WEFT_DRIVER", None)],
        || {
            deny_io_uring_setup();
            let error = Builder::new().driver(Driver::IoUring).build().unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
            let message = error.to_string();
            assert!(message.contains("io_uring"), "{message}");
            assert!(message.contains("Operation not permitted"), "{message}");
            let runtime = Runtime::new().unwrap();
            assert_eq!(runtime.driver(), Driver::Epoll);
            runtime.block_on(echo_once());
        },
    );
    if let Some(stderr) = stderr {
        assert!(
            !stderr.contains("weft:"),
            "Auto falls back silently: {stderr}"
        );
    }
}

#[test]
fn where_seccomp_denies_io_uring_weft_driver_io_uring_falls_back_and_says_so_once() {
    let stderr = isolated_stderr(
        "where_seccomp_denies_io_uring_weft_driver_io_uring_falls_back_and_says_so_once",
        &[("WEFT_DRIVER", Some("io_uring"))],
        || {
            deny_io_uring_setup();
            for _ in 0..3 {
                let runtime = Runtime::new().unwrap();
                assert_eq!(runtime.driver(), Driver::Epoll);
                runtime.block_on(echo_once());
            }
        },
    );
    if let Some(stderr) = stderr {
        let said: Vec<&str> = stderr
            .lines()
            .filter(|line| line.starts_with("weft:"))
            .collect();
        assert_eq!(said.len(), 1, "said once: {stderr}");
        assert!(
            said[0].contains("WEFT_DRIVER=io_uring")
                && said[0].contains("Operation not permitted")
                && said[0].contains("running on epoll"),
            "{}",
            said[0]
        );
    }
}
