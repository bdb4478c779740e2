//! UDP on 127.0.0.1 (`send_to`/`recv_from`, `connect` + `send`/`recv`, `peek_from`) and Unix-domain sockets
//! (a stream through a path, `UnixStream::pair`, `UnixDatagram` pairs and bound paths).

use std::net::Shutdown;

use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};

mod common;
use common::run;
use common::temp_dir::TempDir;

#[test]
fn udp_send_to_recv_from_round_trip() {
    run(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let client_addr = client.local_addr().unwrap();

        let echo = weft::spawn(async move {
            let mut buf = [0; 2048];
            for _ in 0..10 {
                let (len, from) = server.recv_from(&mut buf).await.unwrap();
                assert_eq!(from, client_addr);
                let sent = server.send_to(&buf[..len], from).await.unwrap();
                assert_eq!(sent, len);
            }
        });

        let mut buf = [0; 2048];
        for round in 0..10usize {
            let datagram: Vec<u8> = (0..100 + round * 97)
                .map(|i| (i * 7 + round) as u8)
                .collect();
            assert_eq!(
                client.send_to(&datagram, server_addr).await.unwrap(),
                datagram.len()
            );
            // peek_from sees the reply without taking it; recv_from then takes the same datagram.
            let (peeked, from) = client.peek_from(&mut buf).await.unwrap();
            assert_eq!((peeked, from), (datagram.len(), server_addr));
            assert_eq!(&buf[..peeked], &datagram[..]);
            let (len, from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!((len, from), (datagram.len(), server_addr));
            assert_eq!(&buf[..len], &datagram[..]);
        }
        echo.await.unwrap();
    });
}

#[test]
fn udp_keeps_datagram_boundaries_and_order() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_addr = b.local_addr().unwrap();
        // A few datagrams queued before anyone receives: each recv gets exactly one, in order (loopback does
        // not reorder or drop a handful of small datagrams).
        for index in 0..8u8 {
            let datagram = vec![index; 1 + index as usize * 3];
            a.send_to(&datagram, b_addr).await.unwrap();
        }
        let mut buf = [0; 64];
        for index in 0..8u8 {
            let (len, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, a.local_addr().unwrap());
            assert_eq!(&buf[..len], &vec![index; 1 + index as usize * 3][..]);
        }
        // A datagram longer than the buffer is truncated to it (the rest is discarded, not read next).
        a.send_to(&[9; 100], b_addr).await.unwrap();
        a.send_to(b"next", b_addr).await.unwrap();
        let mut small = [0; 10];
        let (len, _) = b.recv_from(&mut small).await.unwrap();
        assert_eq!((len, small), (10, [9; 10]));
        let (len, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"next");
    });
}

#[test]
fn udp_connect_send_recv() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        a.connect(b_addr).await.unwrap();
        b.connect(a_addr).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b_addr);
        assert_eq!(b.peer_addr().unwrap(), a_addr);

        // A connected socket only receives from its peer: the stranger's datagram is filtered out.
        stranger.send_to(b"not for you", a_addr).await.unwrap();

        let receiver = weft::spawn(async move {
            let mut buf = [0; 64];
            let mut got = Vec::new();
            for _ in 0..5 {
                let len = a.recv(&mut buf).await.unwrap();
                got.push(buf[..len].to_vec());
                a.send(&buf[..len]).await.unwrap();
            }
            got
        });
        let mut buf = [0; 64];
        for index in 0..5u8 {
            let message = [b'm', b'0' + index];
            assert_eq!(b.send(&message).await.unwrap(), 2);
            let len = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..len], &message);
        }
        let got = receiver.await.unwrap();
        assert_eq!(
            got,
            (0..5u8).map(|i| vec![b'm', b'0' + i]).collect::<Vec<_>>()
        );
    });
}

#[test]
fn unix_stream_round_trip_through_a_path() {
    let dir = TempDir::new("stream");
    let path = dir.path().join("echo.sock");
    run(async {
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let server = weft::spawn(async move {
            let mut served = 0;
            for _ in 0..3 {
                let (stream, _) = listener.accept().await.unwrap();
                let mut buf = vec![0; 4096];
                loop {
                    let read = stream.read(&mut buf).await.unwrap();
                    if read == 0 {
                        break;
                    }
                    stream.write_all(&buf[..read]).await.unwrap();
                    served += read;
                }
            }
            served
        });
        let mut total = 0;
        for connection in 0..3usize {
            let stream = UnixStream::connect(&path).await.unwrap();
            let payload: Vec<u8> = (0..50_000 + connection * 1_001)
                .map(|i| (i % 251) as u8 ^ connection as u8)
                .collect();
            let (written, echoed) = weft::join!(
                async {
                    stream.write_all(&payload).await?;
                    stream.shutdown(Shutdown::Write)
                },
                async {
                    let mut echoed = Vec::new();
                    (&stream).read_to_end(&mut echoed).await.map(|_| echoed)
                }
            );
            written.unwrap();
            assert!(
                echoed.unwrap() == payload,
                "connection {connection}: echo differs"
            );
            total += payload.len();
        }
        assert_eq!(server.await.unwrap(), total);
    });
    assert!(path.exists(), "the socket file stays until removed");
    drop(dir);
    assert!(!path.exists());
}

#[test]
fn unix_stream_pair_round_trip() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let writer = weft::spawn(async move {
            for index in 0..100u32 {
                a.write_all(&index.to_le_bytes()).await.unwrap();
            }
            // Dropping closes a; b then reads EOF.
        });
        let reader = weft::spawn(async move {
            let mut bytes = Vec::new();
            (&b).read_to_end(&mut bytes).await.unwrap();
            bytes
        });
        writer.await.unwrap();
        let bytes = reader.await.unwrap();
        let numbers: Vec<u32> = bytes
            .chunks(4)
            .map(|chunk| u32::from_le_bytes(chunk.try_into().unwrap()))
            .collect();
        assert_eq!(numbers, (0..100).collect::<Vec<_>>());

        // Owned halves of a Unix stream work like TCP's.
        let (c, mut d) = UnixStream::pair().unwrap();
        let (mut c_read, c_write) = c.into_split();
        c_write.write_all(b"ping").await.unwrap();
        drop(c_write);
        let mut got = Vec::new();
        d.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"ping");
        d.write_all(b"pong").await.unwrap();
        d.close().await.unwrap();
        let mut reply = Vec::new();
        c_read.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"pong");
    });
}

#[test]
fn unix_datagram_pair() {
    run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut buf = [0; 64];
        for index in 0..5u8 {
            let datagram = vec![index; index as usize + 1];
            assert_eq!(a.send(&datagram).await.unwrap(), datagram.len());
        }
        for index in 0..5u8 {
            let len = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..len], &vec![index; index as usize + 1][..]);
        }
        // The other way, with a receiver already waiting.
        let receiver = weft::spawn(async move {
            let mut buf = [0; 64];
            let len = a.recv(&mut buf).await.unwrap();
            buf[..len].to_vec()
        });
        weft::task::yield_now().await;
        b.send(b"back").await.unwrap();
        assert_eq!(receiver.await.unwrap(), b"back");
    });
}

#[test]
fn unix_datagram_bind_and_send_to() {
    let dir = TempDir::new("datagram");
    let (a_path, b_path) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
    run(async {
        let a = UnixDatagram::bind(&a_path).unwrap();
        let b = UnixDatagram::bind(&b_path).unwrap();
        assert_eq!(
            a.local_addr().unwrap().as_pathname(),
            Some(a_path.as_path())
        );

        let mut buf = [0; 64];
        a.send_to(b"to b", &b_path).await.unwrap();
        let (len, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"to b");
        assert_eq!(from.as_pathname(), Some(a_path.as_path()));
        b.send_to(b"to a", from.as_pathname().unwrap())
            .await
            .unwrap();
        let (len, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"to a");
        assert_eq!(from.as_pathname(), Some(b_path.as_path()));

        // An unbound socket can send to a path; its address is unnamed.
        let unbound = UnixDatagram::unbound().unwrap();
        unbound.send_to(b"anonymous", &b_path).await.unwrap();
        let (len, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"anonymous");
        assert!(from.is_unnamed());

        // connect + send.
        unbound.connect(&a_path).unwrap();
        unbound.send(b"connected").await.unwrap();
        let len = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"connected");
    });
    drop(dir);
    assert!(!a_path.exists() && !b_path.exists());
}

#[test]
fn an_empty_datagram_is_received_once_as_zero_bytes() {
    run(async {
        let udp_a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp_b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        udp_a.connect(udp_b.local_addr().unwrap()).await.unwrap();
        udp_b.connect(udp_a.local_addr().unwrap()).await.unwrap();
        let (unix_a, unix_b) = UnixDatagram::pair().unwrap();
        let mut buf = [0; 8];

        udp_a.send(b"").await.unwrap();
        udp_a.send(b"next").await.unwrap();
        assert_eq!(udp_b.recv(&mut buf).await.unwrap(), 0);
        assert_eq!(udp_b.recv(&mut buf).await.unwrap(), 4); // the empty one was taken, not left queued
        assert_eq!(&buf[..4], b"next");

        unix_a.send(b"").await.unwrap();
        unix_a.send(b"next").await.unwrap();
        assert_eq!(unix_b.recv(&mut buf).await.unwrap(), 0);
        assert_eq!(unix_b.recv(&mut buf).await.unwrap(), 4);
        assert_eq!(&buf[..4], b"next");
    });
}
