//! TCP echo and streaming on 127.0.0.1: 1,000 concurrent echo connections with random message sizes, one 64 MiB
//! transfer, half-close, and borrowed and owned split halves. Every check is on bytes, counts and ordering; none
//! is on time.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::task::{Poll, Waker};

use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};

mod common;
use common::run;

/// xorshift64: a small deterministic generator for message sizes and contents.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: usize, high: usize) -> usize {
        low + (self.next() % (high - low + 1) as u64) as usize
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// The byte stream of the big transfer is a function of the position alone (splitmix64 of the word index), so
/// writer and reader agree on it however the kernel cuts it into reads.
fn fill_pattern(offset: u64, buf: &mut [u8]) {
    fn word(index: u64) -> [u8; 8] {
        let mut z = index.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    }
    let mut position = offset;
    let mut filled = 0;
    while filled < buf.len() {
        let bytes = word(position / 8);
        let start = (position % 8) as usize;
        let take = (8 - start).min(buf.len() - filled);
        buf[filled..filled + take].copy_from_slice(&bytes[start..start + take]);
        filled += take;
        position += take as u64;
    }
}

/// Reads exactly `expected.len()` bytes in small reads and compares them as they come.
async fn read_and_check(stream: &TcpStream, expected: &[u8], what: &str) -> io::Result<()> {
    let mut buf = vec![0; 4096];
    let mut got = 0;
    while got < expected.len() {
        let want = (expected.len() - got).min(buf.len());
        let read = stream.read(&mut buf[..want]).await?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{what}: EOF after {got} of {} bytes", expected.len()),
            ));
        }
        assert!(
            buf[..read] == expected[got..got + read],
            "{what}: echoed bytes differ in {}..{}",
            got,
            got + read
        );
        got += read;
    }
    Ok(())
}

/// Opens once `target` parties have arrived.
struct Gate {
    arrived: Cell<usize>,
    target: usize,
    waiters: RefCell<Vec<Waker>>,
}

impl Gate {
    fn new(target: usize) -> Rc<Gate> {
        Rc::new(Gate {
            arrived: Cell::new(0),
            target,
            waiters: RefCell::new(Vec::new()),
        })
    }

    fn arrive(&self) {
        self.arrived.set(self.arrived.get() + 1);
        if self.arrived.get() >= self.target {
            for waker in self.waiters.borrow_mut().drain(..) {
                waker.wake();
            }
        }
    }

    async fn opened(&self) {
        poll_fn(|cx| {
            if self.arrived.get() >= self.target {
                Poll::Ready(())
            } else {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// An echo server on 127.0.0.1 that echoes every connection until EOF, then closes it.
async fn echo_server() -> (SocketAddr, weft::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = weft::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            weft::spawn(async move {
                let mut buf = vec![0; 16 * 1024];
                loop {
                    let read = stream.read(&mut buf).await.unwrap();
                    if read == 0 {
                        break;
                    }
                    stream.write_all(&buf[..read]).await.unwrap();
                }
            });
        }
    });
    (address, server)
}

const CONNECTIONS: usize = 1_000;
const MESSAGES_PER_CONNECTION: usize = 2;

#[test]
fn echo_1000_concurrent_connections_random_sizes() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // Clients start exchanging only once the server has accepted every connection, so all 1,000 are open at
        // the same time.
        let gate = Gate::new(CONNECTIONS);
        let open = Rc::new(Cell::new(0usize));
        let peak = Rc::new(Cell::new(0usize));

        let server = weft::spawn({
            let (gate, open, peak) = (gate.clone(), open.clone(), peak.clone());
            async move {
                let mut handlers = Vec::with_capacity(CONNECTIONS);
                for _ in 0..CONNECTIONS {
                    let (stream, peer) = listener.accept().await.unwrap();
                    assert!(peer.ip().is_loopback());
                    open.set(open.get() + 1);
                    peak.set(peak.get().max(open.get()));
                    gate.arrive();
                    let open = open.clone();
                    handlers.push(weft::spawn(async move {
                        let mut buf = vec![0; 16 * 1024];
                        let mut echoed = 0usize;
                        loop {
                            let read = stream.read(&mut buf).await.unwrap();
                            if read == 0 {
                                break;
                            }
                            stream.write_all(&buf[..read]).await.unwrap();
                            echoed += read;
                        }
                        open.set(open.get() - 1);
                        echoed
                    }));
                }
                let mut total = 0;
                for echoed in weft::join_all(handlers).await {
                    total += echoed.unwrap();
                }
                total
            }
        });

        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|index| {
                let gate = gate.clone();
                weft::spawn(async move {
                    let stream = TcpStream::connect(address).await.unwrap();
                    gate.opened().await;
                    let mut rng = XorShift::new(index as u64 + 1);
                    let mut message = Vec::new();
                    let mut sizes = Vec::new();
                    for round in 0..MESSAGES_PER_CONNECTION {
                        let size = rng.between(1, 64 * 1024);
                        message.resize(size, 0);
                        rng.fill(&mut message);
                        let what = format!("connection {index} message {round} ({size} bytes)");
                        // Write and read at once: neither side's buffers have to hold a whole message.
                        let (written, checked) = weft::join!(
                            stream.write_all(&message),
                            read_and_check(&stream, &message, &what)
                        );
                        written.unwrap();
                        checked.unwrap();
                        sizes.push(size);
                    }
                    stream.shutdown(Shutdown::Write).unwrap();
                    let mut rest = [0; 16];
                    assert_eq!(
                        stream.read(&mut rest).await.unwrap(),
                        0,
                        "connection {index}: the server closes after our EOF and sends nothing more"
                    );
                    sizes
                })
            })
            .collect();

        let mut client_total = 0;
        for (index, sizes) in weft::join_all(clients).await.into_iter().enumerate() {
            let sizes = sizes.unwrap();
            // The sizes are the deterministic ones of this connection's generator.
            let mut rng = XorShift::new(index as u64 + 1);
            let mut scratch = Vec::new();
            for &size in &sizes {
                assert_eq!(size, rng.between(1, 64 * 1024));
                scratch.resize(size, 0);
                rng.fill(&mut scratch);
            }
            client_total += sizes.iter().sum::<usize>();
        }
        let server_total = server.await.unwrap();
        assert_eq!(server_total, client_total);
        assert_eq!(gate.arrived.get(), CONNECTIONS);
        assert_eq!(peak.get(), CONNECTIONS, "all connections were open at once");
        assert_eq!(open.get(), 0, "every server handler saw EOF");
    });
}

const BIG: u64 = 64 * 1024 * 1024;

#[test]
fn transfer_64_mib_through_one_connection() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();

        let reader = weft::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 64 * 1024];
            let mut expected = vec![0; 64 * 1024];
            let mut received = 0u64;
            let mut reads = 0u64;
            loop {
                let read = stream.read(&mut buf).await.unwrap();
                if read == 0 {
                    break;
                }
                reads += 1;
                fill_pattern(received, &mut expected[..read]);
                assert!(
                    buf[..read] == expected[..read],
                    "bytes {}..{} differ from the pattern",
                    received,
                    received + read as u64
                );
                received += read as u64;
                assert!(received <= BIG, "more bytes than were sent");
            }
            (received, reads)
        });

        let writer = weft::spawn(async move {
            let stream = TcpStream::connect(address).await.unwrap();
            let mut rng = XorShift::new(64);
            let mut chunk = vec![0; 256 * 1024];
            let mut sent = 0u64;
            let mut writes = 0u64;
            while sent < BIG {
                // Chunks of uneven sizes, so the pattern is checked across every kind of boundary.
                let size = (rng.between(1, chunk.len()) as u64).min(BIG - sent) as usize;
                fill_pattern(sent, &mut chunk[..size]);
                stream.write_all(&chunk[..size]).await.unwrap();
                sent += size as u64;
                writes += 1;
            }
            drop(stream); // the reader sees EOF
            (sent, writes)
        });

        let ((sent, writes), (received, reads)) = {
            let (w, r) = weft::join!(writer, reader);
            (w.unwrap(), r.unwrap())
        };
        assert_eq!(sent, BIG);
        assert_eq!(received, BIG);
        assert!(writes > 1 && reads > 1);
    });
}

#[test]
fn half_close_server_reads_to_eof_then_replies() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = vec![0; 8192];
            loop {
                let read = stream.read(&mut buf).await.unwrap();
                if read == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..read]);
            }
            // Our write side is still open after the peer's half-close.
            let reply = format!(
                "received {} bytes, last {}",
                request.len(),
                request[request.len() - 1]
            );
            stream.write_all(reply.as_bytes()).await.unwrap();
            request
        });

        let client = TcpStream::connect(address).await.unwrap();
        let mut request = vec![0; 300 * 1024];
        XorShift::new(7).fill(&mut request);
        client.write_all(&request).await.unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        // Writing after our own shutdown fails; reading still works.
        let error = client.write(b"late").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        let mut reply = Vec::new();
        let mut buf = [0; 100];
        loop {
            let read = client.read(&mut buf).await.unwrap();
            if read == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..read]);
        }
        assert_eq!(
            String::from_utf8(reply).unwrap(),
            format!(
                "received {} bytes, last {}",
                request.len(),
                request[request.len() - 1]
            )
        );
        assert_eq!(server.await.unwrap(), request);
    });
}

#[test]
fn borrowed_split_halves_in_one_task_with_join() {
    run(async {
        let (address, _server) = echo_server().await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        let mut payload = vec![0; 4 * 1024 * 1024];
        XorShift::new(11).fill(&mut payload);

        // Called as a path: with `AsyncReadExt` in scope, `stream.split()` would pick the by-value
        // `futures::io::AsyncReadExt::split` (a method on `T` wins over an inherent one on `&mut T`).
        let (mut read_half, mut write_half) = TcpStream::split(&mut stream);
        // 4 MiB through an echo: the writer would stall if nobody read at the same time.
        let (written, echoed) = weft::join!(
            async {
                for piece in payload.chunks(10_000) {
                    write_half.write_all(piece).await?;
                }
                write_half.close().await // shuts down our write side: the server sees EOF and closes
            },
            async {
                let mut echoed = Vec::new();
                read_half.read_to_end(&mut echoed).await.map(|_| echoed)
            }
        );
        written.unwrap();
        let echoed = echoed.unwrap();
        assert_eq!(echoed.len(), payload.len());
        assert!(echoed == payload, "echo differs");
        // The stream is usable as a whole again once the halves are gone: it is at EOF.
        let mut rest = [0; 8];
        assert_eq!(stream.read(&mut rest).await.unwrap(), 0);
    });
}

#[test]
fn owned_split_halves_in_two_spawned_tasks() {
    run(async {
        let (address, _server) = echo_server().await;
        let stream = TcpStream::connect(address).await.unwrap();
        let (mut read_half, write_half) = stream.into_split();

        const MESSAGES: u32 = 500;
        let writer = weft::spawn(async move {
            for index in 0..MESSAGES {
                let line = format!("message {index:05}\n");
                write_half.write_all(line.as_bytes()).await.unwrap();
            }
            // Dropping the owned write half shuts down the write side; the echo server then closes.
            drop(write_half);
            MESSAGES
        });
        let reader = weft::spawn(async move {
            let mut echoed = Vec::new();
            read_half.read_to_end(&mut echoed).await.unwrap();
            String::from_utf8(echoed).unwrap()
        });
        let (written, echoed) = weft::join!(writer, reader);
        assert_eq!(written.unwrap(), MESSAGES);
        let echoed = echoed.unwrap();
        let lines: Vec<&str> = echoed.lines().collect();
        assert_eq!(lines.len(), MESSAGES as usize);
        for (index, line) in lines.iter().enumerate() {
            assert_eq!(*line, format!("message {index:05}"), "in order, none lost");
        }
    });
}

#[test]
fn dropping_owned_write_half_gives_peer_eof_while_read_half_still_works() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0; 64];
            loop {
                let read = stream.read(&mut buf).await.unwrap();
                if read == 0 {
                    break; // EOF from the dropped write half
                }
                got.extend_from_slice(&buf[..read]);
            }
            stream.write_all(b"bye after EOF").await.unwrap();
            got
        });

        let stream = TcpStream::connect(address).await.unwrap();
        let (mut read_half, write_half) = stream.into_split();
        write_half.write_all(b"last words").await.unwrap();
        drop(write_half);
        // The read half still reads: the drop shut down writing, it did not close the socket.
        let mut reply = Vec::new();
        read_half.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"bye after EOF");
        assert_eq!(server.await.unwrap(), b"last words");
    });
}
