//! tokio's I/O traits on weft's types (feature "tokio-io"): code written against `tokio::io` runs on weft's
//! sockets, split halves and files.
#![cfg(feature = "tokio-io")]

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use weft::net::{TcpListener, TcpStream};

#[test]
fn tokio_extension_traits_drive_a_tcp_stream() {
    weft::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 5];
            AsyncReadExt::read_exact(&mut stream, &mut request)
                .await
                .unwrap();
            AsyncWriteExt::write_all(&mut stream, b"pong\nsecond line\n")
                .await
                .unwrap();
            AsyncWriteExt::shutdown(&mut stream).await.unwrap();
            request
        });
        let mut stream = TcpStream::connect(address).await.unwrap();
        AsyncWriteExt::write_all(&mut stream, b"ping!")
            .await
            .unwrap();
        let mut lines = BufReader::new(stream).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("pong"));
        assert_eq!(
            lines.next_line().await.unwrap().as_deref(),
            Some("second line")
        );
        assert_eq!(
            lines.next_line().await.unwrap(),
            None,
            "EOF after the server shut down"
        );
        assert_eq!(&server.await.unwrap(), b"ping!");
    });
}

#[test]
fn owned_halves_work_with_tokio_copy() {
    weft::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let echo = weft::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (mut read, mut write) = stream.into_split();
            tokio::io::copy(&mut read, &mut write).await.unwrap()
        });
        let stream = TcpStream::connect(address).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let writer = weft::spawn({
            let payload = payload.clone();
            async move {
                write.write_all(&payload).await.unwrap();
                write.shutdown().await.unwrap();
            }
        });
        let mut back = Vec::new();
        read.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        assert_eq!(back, payload);
        assert_eq!(echo.await.unwrap(), payload.len() as u64);
    });
}

#[test]
fn a_weft_file_through_tokio_traits() {
    let path = std::env::temp_dir().join(format!("weft-tokio-io-{}.txt", std::process::id()));
    weft::run(async {
        let mut file = weft::fs::File::create(&path).await.unwrap();
        AsyncWriteExt::write_all(&mut file, b"written through tokio's AsyncWrite")
            .await
            .unwrap();
        AsyncWriteExt::flush(&mut file).await.unwrap();
        drop(file);
        let mut file = weft::fs::File::open(&path).await.unwrap();
        let mut text = String::new();
        AsyncReadExt::read_to_string(&mut file, &mut text)
            .await
            .unwrap();
        assert_eq!(text, "written through tokio's AsyncWrite");
    });
    std::fs::remove_file(&path).unwrap();
}
