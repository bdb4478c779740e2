//! `stream.split()` with `weft::io::AsyncReadExt` (and `AsyncWriteExt`) in scope resolves to the stream's own
//! borrowed halves (`weft::net::ReadHalf`/`WriteHalf`), not to futures-util's by-value `split`. The type
//! annotations are the compile-time half of each test; the data through the halves, and the stream still being
//! there afterwards (it was borrowed, not consumed), are the run-time half.

use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{ReadHalf, TcpListener, TcpStream, UnixStream, WriteHalf};

mod common;
use common::run;

#[test]
fn tcp_split_with_async_read_ext_in_scope_gives_weft_borrowed_halves() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();

        let (mut reader, writer): (ReadHalf<'_, TcpStream>, WriteHalf<'_, TcpStream>) =
            stream.split();
        // `write_all(&self)` is weft's half's inherent method; futures-util's WriteHalf has none.
        writer.write_all(b"through weft's half").await.unwrap();
        let mut buf = [0; 19];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"through weft's half");

        server.write_all(b"back").await.unwrap();
        let mut back = [0; 4];
        AsyncReadExt::read_exact(&mut reader, &mut back)
            .await
            .unwrap();
        assert_eq!(&back, b"back");

        // The halves borrowed the stream: it is still ours, whole.
        assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
        stream.write_all(b"!").await.unwrap();
        server.read_exact(&mut buf[..1]).await.unwrap();
        assert_eq!(&buf[..1], b"!");
    });
}

#[test]
fn unix_split_with_async_read_ext_in_scope_gives_weft_borrowed_halves() {
    run(async {
        let (mut a, b) = UnixStream::pair().unwrap();

        let (reader, mut writer): (ReadHalf<'_, UnixStream>, WriteHalf<'_, UnixStream>) = a.split();
        writer.write_all(b"unix half").await.unwrap();
        let mut buf = [0; 9];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"unix half");

        b.write_all(b"reply").await.unwrap();
        let mut reply = [0; 5];
        reader.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"reply");

        // Closing weft's write half shuts down the write side; the peer reads end of stream.
        writer.close().await.unwrap();
        assert_eq!(b.read(&mut buf).await.unwrap(), 0);

        // Borrowed, not consumed: the stream still reads.
        b.write_all(b"still here").await.unwrap();
        let mut rest = [0; 10];
        a.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"still here");
    });
}

#[test]
fn split_on_a_mutable_reference_also_gives_weft_halves() {
    /// What code holding `&mut TcpStream` writes: the same call through a reference.
    fn halves(stream: &mut TcpStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
        stream.split()
    }

    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (_reader, writer) = halves(&mut stream);
        writer.write_all(b"ref").await.unwrap();
        let mut buf = [0; 3];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ref");
    });
}
