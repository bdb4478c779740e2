//! Every socket type converts to its standard library type and back (`into_std`, `from_std`) and shows its
//! descriptor (`AsFd`, `AsRawFd`). A socket that has done I/O (so is registered with a loop) goes out with
//! `into_std`, is adopted again with `from_std` in another task or on another runtime's thread, and data still
//! flows; what `into_std` hands back is still non-blocking, as tokio's is.

use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd};

use weft::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};

mod common;
use common::run;
use common::tcp_pair;
use common::temp_dir::TempDir;

#[test]
fn tcp_stream_into_std_then_from_std_in_another_task_still_carries_data() {
    run(async {
        let (client, server) = tcp_pair().await;
        client.write_all(b"before").await.unwrap(); // registered with this loop now
        let mut buf = [0; 6];
        server.read_exact(&mut buf).await.unwrap();

        let std_client = client.into_std().unwrap();
        let task = weft::spawn(async move {
            let client = TcpStream::from_std(std_client).unwrap();
            client.write_all(b"after").await.unwrap();
            let mut reply = [0; 5];
            client.read_exact(&mut reply).await.unwrap();
            reply
        });
        let mut after = [0; 5];
        server.read_exact(&mut after).await.unwrap();
        assert_eq!(&after, b"after");
        server.write_all(b"reply").await.unwrap();
        assert_eq!(&task.await.unwrap(), b"reply");
    });
}

#[test]
fn tcp_stream_into_std_then_from_std_on_another_runtime_still_carries_data() {
    run(async {
        let (client, server) = tcp_pair().await;
        client.write_all(b"here").await.unwrap();
        let mut buf = [0; 4];
        server.read_exact(&mut buf).await.unwrap();

        let std_client = client.into_std().unwrap();
        let thread = std::thread::spawn(move || {
            weft::run(async move {
                let client = TcpStream::from_std(std_client).unwrap();
                client.write_all(b"there").await.unwrap();
            })
        });
        let mut there = [0; 5];
        server.read_exact(&mut there).await.unwrap();
        assert_eq!(&there, b"there");
        thread.join().unwrap();
        // The stream was dropped on the other runtime: end of stream here.
        assert_eq!(server.read(&mut there).await.unwrap(), 0);
    });
}

#[test]
fn into_std_hands_back_a_non_blocking_stream() {
    run(async {
        let (client, server) = tcp_pair().await;
        server.write_all(b"x").await.unwrap();
        let mut one = [0; 1];
        client.read_exact(&mut one).await.unwrap();

        let mut std_client = client.into_std().unwrap();
        let error = std_client.read(&mut one).unwrap_err(); // nothing queued
        assert_eq!(error.kind(), ErrorKind::WouldBlock);
        std_client.set_nonblocking(false).unwrap();
        server.write_all(b"y").await.unwrap();
        // The blocking read below holds the loop's thread: the write must have left first. On io_uring a
        // write's bytes go to the kernel with the loop's next turn, and flush waits until they have.
        weft::io::AsyncWriteExt::flush(&mut &server).await.unwrap();
        std_client.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"y");
    });
}

#[test]
fn unix_stream_into_std_then_from_std_in_another_task_still_carries_data() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        a.write_all(b"1").await.unwrap();
        let mut one = [0; 1];
        b.read_exact(&mut one).await.unwrap();

        let std_a = a.into_std().unwrap();
        let task = weft::spawn(async move {
            let a = UnixStream::from_std(std_a).unwrap();
            a.write_all(b"2").await.unwrap();
            let mut reply = [0; 1];
            a.read_exact(&mut reply).await.unwrap();
            reply
        });
        b.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"2");
        b.write_all(b"3").await.unwrap();
        assert_eq!(&task.await.unwrap(), b"3");
    });
}

#[test]
fn tcp_listener_into_std_then_from_std_still_accepts() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let first = TcpStream::connect(address).await.unwrap();
        let _ = listener.accept().await.unwrap(); // registered with this loop now
        drop(first);

        let std_listener = listener.into_std().unwrap();
        let accepter = weft::spawn(async move {
            let listener = TcpListener::from_std(std_listener).unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let mut buf = [0; 5];
            server.read_exact(&mut buf).await.unwrap();
            buf
        });
        let client = TcpStream::connect(address).await.unwrap();
        client.write_all(b"again").await.unwrap();
        assert_eq!(&accepter.await.unwrap(), b"again");
    });
}

#[test]
fn unix_listener_into_std_then_from_std_still_accepts() {
    let dir = TempDir::new("unix-listener");
    let path = dir.join("listener.sock");
    run(async move {
        let listener = UnixListener::bind(&path).unwrap();
        let first = UnixStream::connect(&path).await.unwrap();
        let _ = listener.accept().await.unwrap();
        drop(first);

        let std_listener = listener.into_std().unwrap();
        let accepter = weft::spawn(async move {
            let listener = UnixListener::from_std(std_listener).unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let mut buf = [0; 5];
            server.read_exact(&mut buf).await.unwrap();
            buf
        });
        let client = UnixStream::connect(&path).await.unwrap();
        client.write_all(b"again").await.unwrap();
        assert_eq!(&accepter.await.unwrap(), b"again");
    });
}

#[test]
fn udp_socket_into_std_then_from_std_still_receives() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_address = b.local_addr().unwrap();
        a.send_to(b"one", b_address).await.unwrap();
        let mut buf = [0; 8];
        assert_eq!(b.recv_from(&mut buf).await.unwrap().0, 3);

        let std_b = b.into_std().unwrap();
        let receiver = weft::spawn(async move {
            let b = UdpSocket::from_std(std_b).unwrap();
            let mut buf = [0; 8];
            let (len, _) = b.recv_from(&mut buf).await.unwrap();
            buf[..len].to_vec()
        });
        a.send_to(b"two", b_address).await.unwrap();
        assert_eq!(receiver.await.unwrap(), b"two");
    });
}

#[test]
fn unix_datagram_into_std_then_from_std_still_receives() {
    run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        a.send(b"one").await.unwrap();
        let mut buf = [0; 8];
        assert_eq!(b.recv(&mut buf).await.unwrap(), 3);

        let std_b = b.into_std().unwrap();
        let receiver = weft::spawn(async move {
            let b = UnixDatagram::from_std(std_b).unwrap();
            let mut buf = [0; 8];
            let len = b.recv(&mut buf).await.unwrap();
            buf[..len].to_vec()
        });
        a.send(b"two").await.unwrap();
        assert_eq!(receiver.await.unwrap(), b"two");
    });
}

/// The descriptor `AsFd` lends, checked against `AsRawFd`.
fn lent_fd<T: AsFd + AsRawFd>(socket: &T) -> std::os::fd::OwnedFd {
    assert_eq!(socket.as_fd().as_raw_fd(), socket.as_raw_fd());
    socket.as_fd().try_clone_to_owned().unwrap()
}

#[test]
fn every_socket_type_lends_its_descriptor_through_as_fd() {
    let dir = TempDir::new("as-fd");
    run(async move {
        // Each descriptor, viewed as the std type, is the same socket: same addresses.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let view = std::net::TcpListener::from(lent_fd(&listener));
        assert_eq!(view.local_addr().unwrap(), listener.local_addr().unwrap());

        let (client, _server) = tcp_pair().await;
        let view = std::net::TcpStream::from(lent_fd(&client));
        assert_eq!(view.peer_addr().unwrap(), client.peer_addr().unwrap());

        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let view = std::net::UdpSocket::from(lent_fd(&udp));
        assert_eq!(view.local_addr().unwrap(), udp.local_addr().unwrap());

        let path = dir.join("listener.sock");
        let unix_listener = UnixListener::bind(&path).unwrap();
        let view = std::os::unix::net::UnixListener::from(lent_fd(&unix_listener));
        assert_eq!(
            view.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );

        let unix_client = UnixStream::connect(&path).await.unwrap();
        let view = std::os::unix::net::UnixStream::from(lent_fd(&unix_client));
        assert_eq!(
            view.peer_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );

        let datagram_path = dir.join("datagram.sock");
        let datagram = UnixDatagram::bind(&datagram_path).unwrap();
        let view = std::os::unix::net::UnixDatagram::from(lent_fd(&datagram));
        assert_eq!(
            view.local_addr().unwrap().as_pathname(),
            Some(datagram_path.as_path())
        );
    });
}

#[test]
fn round_trips_repeat_on_one_loop_and_keep_the_descriptor_number() {
    run(async {
        let (mut client, server) = tcp_pair().await;
        let number = client.as_raw_fd();
        for round in 0..5u8 {
            client.write_all(&[round]).await.unwrap(); // registered with this loop again
            let mut byte = [0; 1];
            server.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], round);
            server.write_all(&[round]).await.unwrap();
            client.read_exact(&mut byte).await.unwrap(); // and waits on it there
            assert_eq!(byte[0], round);
            let std_client = client.into_std().unwrap();
            assert_eq!(std_client.as_raw_fd(), number);
            client = TcpStream::from_std(std_client).unwrap();
        }
    });
}

#[test]
fn a_stream_moved_to_another_loop_and_back_still_carries_data() {
    move_back_and_forth(4);
}

#[test]
fn a_stream_moved_between_loops_hundreds_of_times_never_strands_a_loop() {
    // Each move makes the old loop hand the stream's leftovers on while it takes its remote queue, right after it
    // announced a park; a wake rung meanwhile must still end that park (io_uring invariant 8). A lost one hangs.
    // Two threads keep both cores busy, so the loops are preempted at every point of their park, the one that
    // matters included (without them the window is rarely hit).
    let _busy = BusyThreads::start(2);
    move_back_and_forth(3000);
}

/// Moves one end of a TCP pair between two loops `rounds` times with `spawn_on`; after each move it writes a
/// byte, and reads the other end's answer on its new loop. A move that lost the answer, or a loop left asleep with
/// work queued, would hang: the 120 s guard turns that into a failure.
fn move_back_and_forth(rounds: u32) {
    let runtime = weft::Builder::new()
        .loops(2)
        .pin_loops(false)
        .build()
        .unwrap();
    let handle = runtime.handle();
    let loops = handle.loops();
    common::uring::guarded(runtime, async {
        let (mut client, server) = tcp_pair().await;
        for round in 0..rounds {
            let target = loops[(round % 2) as usize];
            let byte = round as u8;
            let moved = handle.spawn_on(target, async move {
                client.write_all(&[byte]).await.unwrap();
                let mut reply = [0; 1];
                client.read_exact(&mut reply).await.unwrap();
                assert_eq!(reply[0], byte.wrapping_add(100), "round {round}");
                client
            });
            let mut got = [0; 1];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(got[0], byte);
            server.write_all(&[byte.wrapping_add(100)]).await.unwrap();
            client = moved.await.unwrap();
        }
    });
}

/// Threads that spin until dropped (then they stop and are joined, however the test ends).
struct BusyThreads(
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    Vec<std::thread::JoinHandle<()>>,
);

impl BusyThreads {
    fn start(count: usize) -> BusyThreads {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..count)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        BusyThreads(stop, threads)
    }
}

impl Drop for BusyThreads {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        for thread in self.1.drain(..) {
            let _ = thread.join();
        }
    }
}
