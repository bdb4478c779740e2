//! `weft::fs::File`: reads, queued writes and seeks against real files, and what happens to writes still in
//! flight when the file or the runtime goes away.

use std::future::poll_fn;
use std::io::{ErrorKind, SeekFrom};
use std::pin::Pin;
use std::sync::mpsc;
use std::task::Poll;

use weft::fs::{File, OpenOptions};
use weft::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

mod common;
use common::temp_dir::TempDir;

/// `len` bytes that differ from their neighbours, so a misplaced byte shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// A runtime whose blocking pool has one thread, so a test can hold operations in its queue.
fn one_thread_runtime() -> weft::Runtime {
    weft::Builder::new()
        .max_blocking_threads(1)
        .build()
        .unwrap()
}

/// Occupies the pool's only thread until the returned sender sends or is dropped: operations started
/// meanwhile wait in the queue.
fn occupy_pool() -> mpsc::Sender<()> {
    let (release, released) = mpsc::channel::<()>();
    drop(weft::spawn_blocking(move || {
        let _ = released.recv();
    }));
    release
}

/// Leaves `file` with read-ahead bytes it has not handed out: starts a read of `ahead` bytes, abandons it
/// (as a cancelled `read` future would), then takes `take` of those bytes with a smaller read. Needs the
/// one-thread runtime, so the abandoned read is certainly still queued when abandoned.
async fn read_ahead(file: &mut File, ahead: usize, take: usize) -> Vec<u8> {
    let release = occupy_pool();
    let mut big = vec![0; ahead];
    poll_fn(|cx| {
        let poll = Pin::new(&mut *file).poll_read(cx, &mut big);
        assert!(poll.is_pending(), "the pool is occupied, so the read waits");
        Poll::Ready(())
    })
    .await;
    release.send(()).unwrap();
    let mut small = vec![0; take];
    file.read_exact(&mut small).await.unwrap();
    small
}

#[test]
fn one_mebibyte_in_odd_chunks_reads_back_byte_exact() {
    let scratch = TempDir::new("odd-chunks");
    let path = scratch.join("big.bin");
    let data = pattern(1 << 20);
    weft::run(async {
        let mut file = File::create(&path).await.unwrap();
        let sizes = [1, 7, 4_093, 65_537, 100_003, 3, 65_536, 12_289];
        let mut written = 0;
        for size in sizes.iter().cycle() {
            if written == data.len() {
                break;
            }
            let end = (written + size).min(data.len());
            file.write_all(&data[written..end]).await.unwrap();
            written = end;
        }
        file.flush().await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), data.len() as u64);

        let mut back = Vec::new();
        File::open(&path)
            .await
            .unwrap()
            .read_to_end(&mut back)
            .await
            .unwrap();
        assert!(
            back == data,
            "read back {} bytes that differ from the 1 MiB written",
            back.len()
        );
    });
}

#[test]
fn seeks_after_partial_reads_land_where_the_reader_is() {
    let scratch = TempDir::new("seek-reads");
    let path = scratch.join("numbers.bin");
    let data = pattern(10_000);
    std::fs::write(&path, &data).unwrap();
    one_thread_runtime().block_on(async {
        let mut file = File::open(&path).await.unwrap();
        let mut chunk = [0; 100];
        file.read_exact(&mut chunk).await.unwrap();
        assert_eq!(chunk[..], data[..100]);
        assert_eq!(file.stream_position().await.unwrap(), 100);

        // 1000 bytes fetched, 10 handed out: the position is 110, not 1100.
        let taken = read_ahead(&mut file, 1_000, 10).await;
        assert_eq!(taken, data[100..110]);
        assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 110);
        let mut five = [0; 5];
        file.read_exact(&mut five).await.unwrap();
        assert_eq!(five[..], data[110..115]);

        // Current is relative to what the reader has seen, read-ahead or not.
        let taken = read_ahead(&mut file, 1_000, 10).await;
        assert_eq!(taken, data[115..125]);
        assert_eq!(file.seek(SeekFrom::Current(-25)).await.unwrap(), 100);
        file.read_exact(&mut chunk).await.unwrap();
        assert_eq!(chunk[..], data[100..200]);
        assert_eq!(file.seek(SeekFrom::Current(300)).await.unwrap(), 500);
        file.read_exact(&mut five).await.unwrap();
        assert_eq!(five[..], data[500..505]);

        // End and Start drop read-ahead bytes.
        read_ahead(&mut file, 1_000, 1).await;
        assert_eq!(file.seek(SeekFrom::End(-10)).await.unwrap(), 9_990);
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).await.unwrap();
        assert_eq!(tail, data[9_990..]);
        assert_eq!(file.read(&mut five).await.unwrap(), 0, "at the end");

        assert_eq!(file.seek(SeekFrom::Start(5_000)).await.unwrap(), 5_000);
        read_ahead(&mut file, 2_000, 7).await;
        assert_eq!(file.seek(SeekFrom::Start(42)).await.unwrap(), 42);
        file.read_exact(&mut five).await.unwrap();
        assert_eq!(five[..], data[42..47]);

        let error = file.seek(SeekFrom::Current(-1_000)).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "before the start");
        assert_eq!(
            file.stream_position().await.unwrap(),
            47,
            "a failed seek does not move"
        );
    });
}

#[test]
fn writes_then_seek_then_read() {
    let scratch = TempDir::new("write-seek-read");
    let path = scratch.join("mixed.txt");
    weft::run(async {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        file.write_all(b"hello world").await.unwrap();
        // The seek waits for the queued write.
        assert_eq!(file.seek(SeekFrom::Start(6)).await.unwrap(), 6);
        let mut word = [0; 5];
        file.read_exact(&mut word).await.unwrap();
        assert_eq!(&word, b"world");

        file.seek(SeekFrom::Start(0)).await.unwrap();
        file.write_all(b"HELLO").await.unwrap();
        assert_eq!(file.seek(SeekFrom::Current(1)).await.unwrap(), 6);
        file.write_all(b"WORLD!").await.unwrap();
        assert_eq!(file.seek(SeekFrom::End(0)).await.unwrap(), 12);

        file.seek(SeekFrom::Start(0)).await.unwrap();
        let mut all = String::new();
        file.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "HELLO WORLD!");
    });
}

#[test]
fn a_write_after_read_ahead_lands_at_the_read_position() {
    let scratch = TempDir::new("write-after-read-ahead");
    let path = scratch.join("digits.txt");
    std::fs::write(&path, b"0123456789").unwrap();
    one_thread_runtime().block_on(async {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .await
            .unwrap();
        assert_eq!(read_ahead(&mut file, 10, 3).await, b"012");
        file.write_all(b"abc").await.unwrap();
        assert_eq!(file.stream_position().await.unwrap(), 6);
        let mut rest = String::new();
        file.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "6789");

        // set_len drops read-ahead too, and keeps the position.
        file.seek(SeekFrom::Start(0)).await.unwrap();
        assert_eq!(read_ahead(&mut file, 10, 2).await, b"01");
        file.set_len(4).await.unwrap();
        assert_eq!(file.stream_position().await.unwrap(), 2);
        let mut rest = String::new();
        file.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "2a");
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"012a");
}

#[test]
fn a_failed_queued_write_is_reported_by_flush() {
    let scratch = TempDir::new("write-error");
    let path = scratch.join("read-only-handle");
    std::fs::write(&path, b"unchanged").unwrap();
    weft::run(async {
        // Opened for reading only: the write(2) fails with EBADF, after poll_write said Ok.
        let mut file = File::open(&path).await.unwrap();
        assert_eq!(
            file.write(b"nope").await.unwrap(),
            4,
            "queued, so reported written"
        );
        assert!(file.flush().await.is_err(), "the queued write's error");
        file.flush().await.unwrap(); // reported once

        file.write_all(b"nope").await.unwrap();
        assert!(
            file.sync_all().await.is_err(),
            "the next operation, whatever it is"
        );
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"unchanged");
}

#[test]
fn flush_guarantees_the_bytes_reached_the_file() {
    let scratch = TempDir::new("flush");
    let path = scratch.join("flushed.bin");
    let data = pattern(300_000);
    weft::run(async {
        let mut file = File::create(&path).await.unwrap();
        file.write_all(&data).await.unwrap();
        file.flush().await.unwrap();
        // Read behind the File's back, with std, while the File is still open.
        assert!(std::fs::read(&path).unwrap() == data);
        file.sync_data().await.unwrap();
    });
}

#[test]
fn a_file_dropped_without_flush_has_its_writes_on_disk_once_the_runtime_is_dropped() {
    let scratch = TempDir::new("drop-without-flush");
    let path = scratch.join("dropped.bin");
    let data = pattern(1 << 20);
    let runtime = weft::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut file = File::create(&path).await.unwrap();
        file.write_all(&data).await.unwrap();
        drop(file); // the last 64 KiB are still in flight
    });
    drop(runtime); // waits for the pool's running jobs
    assert!(std::fs::read(&path).unwrap() == data);
}

#[test]
fn a_queued_write_the_pool_never_ran_is_written_when_the_runtime_drops() {
    let scratch = TempDir::new("drop-queued");
    let path = scratch.join("queued.bin");
    let data = pattern(50_000); // one write: queued without waiting for the pool
    let runtime = one_thread_runtime();
    runtime.block_on(async {
        let mut file = File::from_std(std::fs::File::create(&path).unwrap());
        let release = occupy_pool();
        file.write_all(&data).await.unwrap(); // queued behind the occupying job
        drop(file);
        // The occupying job ends only when this job, queued after the write, is dropped unrun at shutdown.
        drop(weft::spawn_blocking(move || drop(release)));
    });
    // Shutdown cancels queued jobs; the write runs right there instead of being lost.
    drop(runtime);
    assert!(std::fs::read(&path).unwrap() == data);
}

#[test]
fn opening_a_missing_file_is_not_found() {
    let scratch = TempDir::new("open-missing");
    weft::run(async {
        let error = File::open(scratch.join("absent")).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        let error = OpenOptions::new()
            .write(true)
            .open(scratch.join("absent"))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
    });
}

#[test]
fn create_new_refuses_an_existing_file() {
    let scratch = TempDir::new("create-new");
    let path = scratch.join("exists");
    weft::run(async {
        let mut file = File::create_new(&path).await.unwrap();
        file.write_all(b"first").await.unwrap();
        file.close().await.unwrap();
        let error = File::create_new(&path).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AlreadyExists);
        assert_eq!(weft::fs::read(&path).await.unwrap(), b"first");
    });
}
