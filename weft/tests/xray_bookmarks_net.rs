//! Bookmarks of the socket operations: a task parked in an accept, connect, read, write or receive shows the
//! operation and descriptor ("TcpStream::read fd 7") and the line of the test that awaited it; once the operation
//! can go on, the task finishes and leaves the dump.
//!
//! Real sockets on 127.0.0.1 and in a temporary directory. Each parked task returns `line!()` written on the line
//! of its awaiting call, so the bookmark's line is checked against the line the compiler saw. A split half
//! awaited through its inherent methods shows the same: the stream's operation, at the test's line.

use std::os::fd::AsRawFd;
use std::panic::Location;
use std::pin::Pin;
use std::time::Duration;

use weft::net::{
    TcpListener, TcpSocket, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream,
};
use weft::task::Id;
use weft::xray::{Bookmark, TaskState};

mod common;
use common::run;
use common::tcp_pair;
use common::temp_dir::TempDir;

/// Waits until task `id` is parked with a bookmark (real sockets: the loop must see the kernel say "not
/// ready"), and returns the bookmark. Polls the dump every millisecond for up to ten seconds.
async fn parked(id: Id) -> Bookmark {
    for _ in 0..10_000 {
        let dump = weft::xray::dump();
        let task = dump
            .tasks()
            .iter()
            .find(|task| task.id == id)
            .unwrap_or_else(|| panic!("task {id} is not in the dump (it finished?):\n{dump}"));
        if task.state == TaskState::Parked {
            if let Some(bookmark) = &task.bookmark {
                return bookmark.clone();
            }
        }
        weft::time::sleep(Duration::from_millis(1)).await;
    }
    panic!(
        "task {id} never parked with a bookmark:\n{}",
        weft::xray::dump()
    );
}

/// Checks that `bookmark` says `label` and points at `line` of this file.
#[track_caller]
fn assert_bookmark(bookmark: &Bookmark, label: &str, line: u32) {
    assert_eq!(bookmark.label, label, "{bookmark}");
    assert!(
        bookmark.location.file().ends_with("xray_bookmarks_net.rs"),
        "the bookmark points into the test, not into weft: {bookmark}"
    );
    assert_eq!(bookmark.location.line(), line, "{bookmark}");
}

/// Checks that the finished task `id` has left the dump.
fn assert_gone(id: Id) {
    let dump = weft::xray::dump();
    assert!(
        dump.tasks().iter().all(|task| task.id != id),
        "task {id} finished but is still listed:\n{dump}"
    );
}

/// A connected TCP pair on 127.0.0.1 whose buffers are small (the client's send buffer, the server's receive
/// buffer): (client, server). While the server does not read, a large write from the client parks.
async fn tcp_pair_with_small_buffers() -> (TcpStream, TcpStream) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(16).unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    let client = socket
        .connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Far more than the buffers of [`tcp_pair_with_small_buffers`] hold.
const LARGE_WRITE: usize = 8 << 20;

/// Reads [`LARGE_WRITE`] bytes of sevens from `server`: what unblocks a writer parked on a full socket.
async fn drain_large_write(server: &TcpStream) {
    let mut all = vec![0; LARGE_WRITE];
    server.read_exact(&mut all).await.unwrap();
    assert!(all.iter().all(|&byte| byte == 7));
}

#[test]
fn tcp_accept_bookmarks_the_listener() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (address, fd) = (listener.local_addr().unwrap(), listener.as_raw_fd());
        let acceptor = weft::spawn(async move { (listener.accept().await, line!()) });
        let id = acceptor.id();
        let bookmark = parked(id).await;

        let client = TcpStream::connect(address).await.unwrap();
        let (peer, line) = acceptor.await.unwrap();
        assert_eq!(peer.unwrap().1, client.local_addr().unwrap());
        assert_bookmark(&bookmark, &format!("TcpListener::accept fd {fd}"), line);
        assert_gone(id);
    });
}

#[test]
fn tcp_connect_bookmarks_the_connecting_socket() {
    run(async {
        // A listener whose accept queue is full drops new SYNs, so a connect to it stays in progress until
        // the queue has room and the client retransmits its SYN (about a second later on Linux).
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let address = listener.local_addr().unwrap();
        let first = TcpStream::connect(address).await.unwrap(); // fills the queue (backlog 0 holds one)

        let connector = weft::spawn(async move { (TcpStream::connect(address).await, line!()) });
        let id = connector.id();
        // If this kernel answers anyway (no queue limit), the connect finishes at once and there is nothing to
        // see: skip rather than fail.
        let mut bookmark = None;
        for _ in 0..200 {
            let dump = weft::xray::dump();
            match dump.tasks().iter().find(|task| task.id == id) {
                None => break,
                Some(task) if task.state == TaskState::Parked && task.bookmark.is_some() => {
                    bookmark = task.bookmark.clone();
                    break;
                }
                Some(_) => weft::time::sleep(Duration::from_millis(1)).await,
            }
        }
        let Some(bookmark) = bookmark else {
            eprintln!("skipped: the connect did not park (the kernel accepted it at once)");
            return;
        };
        // Make room in the queue; the retransmitted SYN then gets through.
        let (_first_server, _) = listener.accept().await.unwrap();
        let (connected, line) = connector.await.unwrap();
        let stream = connected.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), address);
        let fd = stream.as_raw_fd(); // the descriptor it connected on
        assert_bookmark(&bookmark, &format!("TcpStream::connect fd {fd}"), line);
        assert_gone(id);
        drop(first);
    });
}

#[test]
fn tcp_read_bookmarks_the_stream() {
    run(async {
        let (client, server) = tcp_pair().await;
        let fd = server.as_raw_fd();
        let reader = weft::spawn(async move {
            let mut buf = [0; 16];
            (server.read(&mut buf).await, line!())
        });
        let id = reader.id();
        let bookmark = parked(id).await;

        client.write_all(b"wake").await.unwrap();
        let (read, line) = reader.await.unwrap();
        assert_eq!(read.unwrap(), 4);
        assert_bookmark(&bookmark, &format!("TcpStream::read fd {fd}"), line);
        assert_gone(id);
    });
}

#[test]
fn tcp_write_bookmarks_the_stream_once_the_buffers_are_full() {
    run(async {
        // Small buffers on both ends, and the peer does not read: the write parks.
        let (client, server) = tcp_pair_with_small_buffers().await;
        let fd = client.as_raw_fd();

        let writer = weft::spawn(async move {
            let data = vec![7u8; LARGE_WRITE];
            (client.write_all(&data).await, line!())
        });
        let id = writer.id();
        let bookmark = parked(id).await;

        drain_large_write(&server).await;
        let (written, line) = writer.await.unwrap();
        written.unwrap();
        assert_bookmark(&bookmark, &format!("TcpStream::write fd {fd}"), line);
        assert_gone(id);
    });
}

#[test]
fn owned_read_half_bookmarks_the_stream_read() {
    run(async {
        let (client, server) = tcp_pair().await;
        let fd = server.as_raw_fd();
        let (read_half, _write_half) = server.into_split();
        let reader = weft::spawn(async move {
            let mut buf = [0; 16];
            (read_half.read(&mut buf).await, line!())
        });
        let id = reader.id();
        let bookmark = parked(id).await;

        client.write_all(b"half").await.unwrap();
        let (read, line) = reader.await.unwrap();
        assert_eq!(read.unwrap(), 4);
        // The half's inherent `read` passes the awaiting line on to the stream's.
        assert_bookmark(&bookmark, &format!("TcpStream::read fd {fd}"), line);
        assert_gone(id);
    });
}

#[test]
fn borrowed_read_half_bookmarks_the_stream_read() {
    run(async {
        let (client, mut server) = tcp_pair().await;
        let fd = server.as_raw_fd();
        let reader = weft::spawn(async move {
            let (read_half, _write_half) = TcpStream::split(&mut server);
            let mut buf = [0; 16];
            (read_half.read(&mut buf).await, line!())
        });
        let id = reader.id();
        let bookmark = parked(id).await;

        client.write_all(b"borrowed").await.unwrap();
        let (read, line) = reader.await.unwrap();
        assert_eq!(read.unwrap(), 8);
        assert_bookmark(&bookmark, &format!("TcpStream::read fd {fd}"), line);
        assert_gone(id);
    });
}

#[test]
fn owned_write_half_bookmarks_the_stream_write_all() {
    run(async {
        let (client, server) = tcp_pair_with_small_buffers().await;
        let fd = client.as_raw_fd();
        let (_read_half, write_half) = client.into_split();
        let writer = weft::spawn(async move {
            let data = vec![7u8; LARGE_WRITE];
            (write_half.write_all(&data).await, line!())
        });
        let id = writer.id();
        let bookmark = parked(id).await;

        drain_large_write(&server).await;
        let (written, line) = writer.await.unwrap();
        written.unwrap();
        assert_bookmark(&bookmark, &format!("TcpStream::write fd {fd}"), line);
        assert_gone(id);
    });
}

#[test]
fn a_read_through_the_async_read_trait_is_labelled_with_the_stream() {
    run(async {
        let (client, server) = tcp_pair().await;
        let fd = server.as_raw_fd();
        // What hyper and other trait users do: poll `AsyncRead::poll_read` from a future of their own.
        let reader = weft::spawn(async move {
            let mut buf = [0; 16];
            std::future::poll_fn(|cx| {
                weft::io::AsyncRead::poll_read(Pin::new(&mut &server), cx, &mut buf)
            })
            .await
        });
        let id = reader.id();
        let bookmark = parked(id).await;
        assert_eq!(bookmark.label, format!("TcpStream::read fd {fd}"));
        assert_ne!(
            bookmark.location.file(),
            Location::caller().file(),
            "the trait path has no caller's line to show"
        );

        client.write_all(b"trait").await.unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), 5);
        assert_gone(id);
    });
}

#[test]
fn udp_recv_from_bookmarks_the_socket() {
    run(async {
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (address, fd) = (receiver.local_addr().unwrap(), receiver.as_raw_fd());
        let task = weft::spawn(async move {
            let mut buf = [0; 16];
            (receiver.recv_from(&mut buf).await, line!())
        });
        let id = task.id();
        let bookmark = parked(id).await;

        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender.send_to(b"datagram", address).await.unwrap();
        let (received, line) = task.await.unwrap();
        assert_eq!(received.unwrap().0, 8);
        assert_bookmark(&bookmark, &format!("UdpSocket::recv fd {fd}"), line);
        assert_gone(id);
    });
}

#[test]
fn unix_accept_bookmarks_the_listener() {
    let dir = TempDir::new("xray-accept");
    let path = dir.join("accept.sock");
    run(async {
        let listener = UnixListener::bind(&path).unwrap();
        let fd = listener.as_raw_fd();
        let acceptor = weft::spawn(async move { (listener.accept().await, line!()) });
        let id = acceptor.id();
        let bookmark = parked(id).await;

        let client = UnixStream::connect(&path).await.unwrap();
        let (accepted, line) = acceptor.await.unwrap();
        let (server, _) = accepted.unwrap();
        client.write_all(b"hi").await.unwrap();
        let mut buf = [0; 2];
        server.read_exact(&mut buf).await.unwrap();
        assert_bookmark(&bookmark, &format!("UnixListener::accept fd {fd}"), line);
        assert_gone(id);
    });
}

#[test]
fn unix_read_bookmarks_the_stream() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let fd = b.as_raw_fd();
        let reader = weft::spawn(async move {
            let mut buf = [0; 16];
            (b.read(&mut buf).await, line!())
        });
        let id = reader.id();
        let bookmark = parked(id).await;

        a.write_all(b"unix").await.unwrap();
        let (read, line) = reader.await.unwrap();
        assert_eq!(read.unwrap(), 4);
        assert_bookmark(&bookmark, &format!("UnixStream::read fd {fd}"), line);
        assert_gone(id);
    });
}

#[test]
fn unix_datagram_recv_bookmarks_the_socket() {
    run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let fd = b.as_raw_fd();
        let receiver = weft::spawn(async move {
            let mut buf = [0; 16];
            (b.recv(&mut buf).await, line!())
        });
        let id = receiver.id();
        let bookmark = parked(id).await;

        a.send(b"datagram").await.unwrap();
        let (received, line) = receiver.await.unwrap();
        assert_eq!(received.unwrap(), 8);
        assert_bookmark(&bookmark, &format!("UnixDatagram::recv fd {fd}"), line);
        assert_gone(id);
    });
}

#[test]
fn socket_futures_are_still_send() {
    fn assert_send<F: std::future::Future + Send>(_: F) {}
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = std_listener.local_addr().unwrap();
    let listener = TcpListener::from_std(std_listener).unwrap();
    let stream = TcpStream::from_std(std::net::TcpStream::connect(address).unwrap()).unwrap();
    let udp = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
    let (mut unix, _peer) = UnixStream::pair().unwrap();
    let (datagram, _peer) = UnixDatagram::pair().unwrap();
    let mut buf = [0; 8];
    // Made, never polled: only their types matter.
    assert_send(listener.accept());
    assert_send(TcpStream::connect(address));
    assert_send(TcpSocket::new_v4().unwrap().connect(address));
    assert_send(stream.read(&mut buf));
    assert_send(stream.read_exact(&mut buf));
    assert_send(stream.peek(&mut buf));
    assert_send(stream.write(b"x"));
    assert_send(stream.write_all(b"x"));
    assert_send(stream.write_vectored(&[std::io::IoSlice::new(b"x")]));
    let (read_half, write_half) = stream.into_split();
    assert_send(read_half.read(&mut buf));
    assert_send(read_half.read_exact(&mut buf));
    assert_send(read_half.peek(&mut buf));
    assert_send(write_half.write(b"x"));
    assert_send(write_half.write_all(b"x"));
    assert_send(write_half.write_vectored(&[std::io::IoSlice::new(b"x")]));
    assert_send(udp.send_to(b"x", address));
    assert_send(udp.send_to(b"x", "127.0.0.1:9"));
    assert_send(udp.recv_from(&mut buf));
    assert_send(udp.peek_from(&mut buf));
    assert_send(udp.send(b"x"));
    assert_send(udp.recv(&mut buf));
    assert_send(unix.read(&mut buf));
    assert_send(unix.write_all(b"x"));
    let (read_half, write_half) = UnixStream::split(&mut unix);
    assert_send(read_half.read(&mut buf));
    assert_send(read_half.peek(&mut buf));
    assert_send(write_half.write_all(b"x"));
    assert_send(write_half.write_vectored(&[std::io::IoSlice::new(b"x")]));
    assert_send(UnixStream::connect("/nonexistent"));
    assert_send(datagram.send_to(b"x", "/nonexistent"));
    assert_send(datagram.recv_from(&mut buf));
    assert_send(datagram.send(b"x"));
    assert_send(datagram.recv(&mut buf));
}
