//! weft's sockets through the `futures-io` traits and the helpers of `weft::io`: `copy` between streams,
//! `BufReader::read_line`, `read_to_end` / `write_all` / `close`, `BufWriter`, and vectored writes.

use std::io::{ErrorKind, IoSlice};
use std::net::SocketAddr;

use weft::io::{copy, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use weft::net::{TcpListener, TcpSocket, TcpStream, UnixStream};

mod common;
use common::run;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 131 + i / 251) % 256) as u8 ^ seed)
        .collect()
}

/// A listener and a connected pair through it: (client side, server side, listener address).
async fn connected_pair() -> (TcpStream, TcpStream, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let client = TcpStream::connect(address).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server, address)
}

/// A connected pair with small kernel buffers (`TcpSocket` options), so big writes are partial.
async fn small_buffer_pair() -> (TcpStream, TcpStream) {
    let listening = TcpSocket::new_v4().unwrap();
    listening.set_recv_buffer_size(64 * 1024).unwrap();
    listening.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = listening.listen(16).unwrap();
    let connecting = TcpSocket::new_v4().unwrap();
    connecting.set_send_buffer_size(64 * 1024).unwrap();
    let client = connecting
        .connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

#[test]
fn copy_from_one_stream_to_another() {
    run(async {
        // producer --tcp--> [copy] --tcp--> [copy] --unix--> consumer
        let (producer, tcp_in, _) = connected_pair().await;
        let (tcp_out, tcp_in2, _) = connected_pair().await;
        let (unix_out, mut consumer) = UnixStream::pair().unwrap();
        let data = pattern(3 * 1024 * 1024 + 17, 5);

        let produce = weft::spawn({
            let data = data.clone();
            async move {
                let mut producer = producer;
                AsyncWriteExt::write_all(&mut producer, &data)
                    .await
                    .unwrap();
                AsyncWriteExt::close(&mut producer).await.unwrap();
            }
        });
        let first_hop = weft::spawn(async move {
            let mut tcp_out = tcp_out;
            let copied = copy(&tcp_in, &mut tcp_out).await.unwrap();
            tcp_out.close().await.unwrap();
            copied
        });
        let second_hop = weft::spawn(async move {
            let mut unix_out = unix_out;
            let copied = copy(tcp_in2, &mut unix_out).await.unwrap();
            unix_out.close().await.unwrap();
            copied
        });
        let mut received = Vec::new();
        consumer.read_to_end(&mut received).await.unwrap();

        produce.await.unwrap();
        assert_eq!(first_hop.await.unwrap(), data.len() as u64);
        assert_eq!(second_hop.await.unwrap(), data.len() as u64);
        assert_eq!(received.len(), data.len());
        assert!(received == data, "bytes changed on the way");
    });
}

#[test]
fn buf_reader_read_line_over_tcp() {
    run(async {
        let (client, server, _) = connected_pair().await;
        let lines: Vec<String> = (0..200)
            .map(|i| format!("line {i}: {}", "x".repeat(i % 37)))
            .collect();
        let mut text = lines.join("\n");
        text.push_str("\nno newline at the end");

        let writer = weft::spawn({
            let text = text.clone();
            async move {
                // Uneven chunks, with a turn of the loop between them, so lines arrive cut in odd places.
                let bytes = text.as_bytes();
                let mut offset = 0;
                let mut step = 1;
                while offset < bytes.len() {
                    let end = (offset + step).min(bytes.len());
                    server.write_all(&bytes[offset..end]).await.unwrap();
                    offset = end;
                    step = step % 97 + 13;
                    weft::task::yield_now().await;
                }
                // Dropping the server side: EOF after the last, unterminated line.
            }
        });

        // A tiny buffer makes every line span several fills.
        let mut reader = BufReader::with_capacity(8, client);
        let mut line = String::new();
        for expected in &lines {
            line.clear();
            let read = reader.read_line(&mut line).await.unwrap();
            assert_eq!(read, expected.len() + 1);
            assert_eq!(line, format!("{expected}\n"));
        }
        line.clear();
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 21);
        assert_eq!(line, "no newline at the end");
        line.clear();
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 0, "EOF");
        assert!(line.is_empty());
        writer.await.unwrap();
    });
}

#[test]
fn read_to_end_write_all_close_through_the_traits() {
    run(async {
        let (mut client, mut server, _) = connected_pair().await;
        let request = pattern(700_000, 1);
        let response = pattern(300_001, 2);

        let serve = weft::spawn({
            let response = response.clone();
            async move {
                let mut request = Vec::new();
                // AsyncReadExt::read_to_end: everything until the client's close.
                let read = AsyncReadExt::read_to_end(&mut server, &mut request)
                    .await
                    .unwrap();
                assert_eq!(read, request.len());
                AsyncWriteExt::write_all(&mut server, &response)
                    .await
                    .unwrap();
                AsyncWriteExt::flush(&mut server).await.unwrap();
                AsyncWriteExt::close(&mut server).await.unwrap();
                request
            }
        });

        // The trait methods, named explicitly (the inherent write_all/read_exact would win otherwise).
        AsyncWriteExt::write_all(&mut client, &request[..1000])
            .await
            .unwrap();
        // ... and through `&TcpStream`, which implements the traits too.
        AsyncWriteExt::write_all(&mut &client, &request[1000..])
            .await
            .unwrap();
        AsyncWriteExt::flush(&mut client).await.unwrap();
        AsyncWriteExt::close(&mut client).await.unwrap();
        // close shut down our write side: further writes fail, reading still works.
        let error = AsyncWriteExt::write(&mut client, b"late")
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BrokenPipe);

        let mut head = [0; 10];
        AsyncReadExt::read_exact(&mut client, &mut head)
            .await
            .unwrap();
        assert_eq!(&head[..], &response[..10]);
        let mut rest = Vec::new();
        AsyncReadExt::read_to_end(&mut &client, &mut rest)
            .await
            .unwrap();
        assert_eq!(rest.len(), response.len() - 10);
        assert!(rest == response[10..], "response differs");
        assert!(serve.await.unwrap() == request, "request differs");
    });
}

#[test]
fn buf_writer_coalesces_small_writes() {
    run(async {
        let (client, mut server, _) = connected_pair().await;
        let writer = weft::spawn(async move {
            let mut writer = BufWriter::with_capacity(1024, client);
            for index in 0..5_000u32 {
                writer.write_all(&index.to_be_bytes()).await.unwrap();
            }
            writer.flush().await.unwrap();
            writer.close().await.unwrap(); // flushes, then shuts down the write side
        });
        let mut bytes = Vec::new();
        server.read_to_end(&mut bytes).await.unwrap();
        writer.await.unwrap();
        let numbers: Vec<u32> = bytes
            .chunks(4)
            .map(|chunk| u32::from_be_bytes(chunk.try_into().unwrap()))
            .collect();
        assert_eq!(numbers, (0..5_000).collect::<Vec<_>>());
    });
}

#[test]
fn write_vectored_sends_the_slices_in_order() {
    run(async {
        let (client, server, _) = connected_pair().await;

        // Small slices fit the socket buffer: one call takes them all, empty slices included.
        let parts: [&[u8]; 4] = [b"head|", b"", b"middle|", b"tail"];
        let slices: Vec<IoSlice<'_>> = parts.iter().map(|part| IoSlice::new(part)).collect();
        let written = client.write_vectored(&slices).await.unwrap();
        assert_eq!(written, 16);
        let mut got = [0; 16];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"head|middle|tail");

        // Through the trait as well.
        let written = AsyncWriteExt::write_vectored(
            &mut &client,
            &[IoSlice::new(b"one "), IoSlice::new(b"two")],
        )
        .await
        .unwrap();
        assert_eq!(written, 7);
        let mut got = [0; 7];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"one two");

        // Large slices overflow small socket buffers: calls write part, and the rest follows in order.
        let (client, server) = small_buffer_pair().await;
        let buffers: Vec<Vec<u8>> = (0..64)
            .map(|i| pattern(20_000 + i * 1_013, i as u8))
            .collect();
        let expected: Vec<u8> = buffers.concat();
        let reader = weft::spawn(async move {
            let mut received = vec![0; expected.len()];
            server.read_exact(&mut received).await.unwrap();
            assert!(received == expected, "vectored bytes out of order");
            received.len()
        });
        let mut written_total = 0;
        let mut calls = 0;
        let (mut index, mut offset) = (0, 0);
        while index < buffers.len() {
            let mut slices = vec![IoSlice::new(&buffers[index][offset..])];
            slices.extend(buffers[index + 1..].iter().map(|b| IoSlice::new(b)));
            let remaining: usize = slices.iter().map(|s| s.len()).sum();
            let written = client.write_vectored(&slices).await.unwrap();
            assert!(written > 0 && written <= remaining);
            written_total += written;
            calls += 1;
            // Advance past what was written.
            let mut left = written;
            while left > 0 {
                let in_this = buffers[index].len() - offset;
                if left >= in_this {
                    left -= in_this;
                    index += 1;
                    offset = 0;
                } else {
                    offset += left;
                    left = 0;
                }
            }
            while index < buffers.len() && offset == buffers[index].len() {
                index += 1;
                offset = 0;
            }
        }
        assert!(calls > 1, "3 MiB cannot fit 64 KiB buffers in one call");
        assert_eq!(written_total, buffers.iter().map(Vec::len).sum::<usize>());
        assert_eq!(reader.await.unwrap(), written_total);
    });
}
