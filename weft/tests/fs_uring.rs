//! Files on the io_uring driver: reads, writes, opens and syncs go through the loop's ring (the blocking pool
//! stays unused), a file dropped with an operation in flight, on its loop or on another thread, loses nothing
//! and leaks no descriptor, and many files read at once. On epoll (`WEFT_DRIVER=epoll`), the same bodies run
//! and the operations use the pool, as the driver-specific assertions say.

use std::future::poll_fn;
use std::path::Path;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use weft::fs::{File, OpenOptions};
use weft::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use weft::runtime::Driver;

mod common;
use common::temp_dir::TempDir;

/// `len` bytes that differ from their neighbours, so a misplaced byte shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Whether this process holds a descriptor open on `path` (read from `/proc/self/fd`).
fn holds_descriptor_on(path: &Path) -> bool {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .any(|target| target == path)
}

/// Waits (a bounded wait: a guard against a hang, not a timing assertion) until no descriptor on `path` is
/// open; true if that happened.
async fn descriptor_closes(path: &Path) -> bool {
    for _ in 0..5_000 {
        if !holds_descriptor_on(path) {
            return true;
        }
        weft::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

/// Starts a read of `file` and leaves it in flight (as a `read` future polled once, then dropped); returns
/// how many bytes that one poll handed out (on io_uring always none: the completion comes with a later park;
/// a pool thread may be that quick).
async fn start_a_read(file: &mut File) -> usize {
    let mut buf = vec![0; 64 * 1024];
    let on_ring = weft::Handle::current().driver() == Driver::IoUring;
    poll_fn(|cx| match Pin::new(&mut *file).poll_read(cx, &mut buf) {
        Poll::Pending => Poll::Ready(0),
        Poll::Ready(read) => {
            assert!(!on_ring, "a read on the ring completes with a later park");
            Poll::Ready(read.unwrap())
        }
    })
    .await
}

#[test]
fn file_reads_writes_opens_and_syncs_on_io_uring_leave_the_blocking_pool_unused() {
    let scratch = TempDir::new("uring-no-pool");
    let path = scratch.join("file.bin");
    let data = pattern(300_000);
    let runtime = weft::Runtime::new().unwrap();
    let handle = runtime.handle();
    runtime.block_on(async {
        let mut file = File::create(&path).await.unwrap();
        file.write_all(&data).await.unwrap();
        file.sync_data().await.unwrap();
        file.sync_all().await.unwrap();
        file.close().await.unwrap();

        let mut appended = OpenOptions::new().append(true).open(&path).await.unwrap();
        appended.write_all(b"tail").await.unwrap();
        appended.flush().await.unwrap();

        let mut back = Vec::new();
        File::open(&path)
            .await
            .unwrap()
            .read_to_end(&mut back)
            .await
            .unwrap();
        assert!(back[..data.len()] == data[..]);
        assert_eq!(&back[data.len()..], b"tail");

        let whole = path.with_extension("whole");
        weft::fs::write(&whole, &data).await.unwrap();
        assert!(weft::fs::read(&whole).await.unwrap() == data);
        weft::fs::write(&whole, "text").await.unwrap();
        assert_eq!(weft::fs::read_to_string(&whole).await.unwrap(), "text");
    });
    let metrics = handle.metrics();
    match runtime.driver() {
        Driver::IoUring => assert_eq!(
            metrics.blocking_threads, 0,
            "on io_uring, no file operation of this test needs the pool"
        ),
        _ => assert!(
            metrics.blocking_threads > 0,
            "on epoll, file operations run on the pool"
        ),
    }
}

#[test]
fn a_read_abandoned_mid_flight_leaves_the_file_usable_and_the_next_reads_correct() {
    let scratch = TempDir::new("uring-abandoned-read");
    let path = scratch.join("file.bin");
    let data = pattern(200_000);
    std::fs::write(&path, &data).unwrap();
    weft::run(async {
        let mut file = File::open(&path).await.unwrap();
        let handed_out = start_a_read(&mut file).await;
        // The abandoned read's bytes are the file's read-ahead: the next reads start where it left off.
        let mut next = vec![0; 1000];
        file.read_exact(&mut next).await.unwrap();
        assert!(next == data[handed_out..handed_out + 1000]);
        let mut rest = Vec::new();
        file.read_to_end(&mut rest).await.unwrap();
        assert!(rest == data[handed_out + 1000..]);
    });
}

#[test]
fn a_file_dropped_with_a_read_in_flight_closes_its_descriptor_and_the_loop_goes_on() {
    let scratch = TempDir::new("uring-dropped-read");
    let path = scratch.join("file.bin");
    let data = pattern(100_000);
    std::fs::write(&path, &data).unwrap();
    weft::run(async {
        for _ in 0..50 {
            let mut file = File::open(&path).await.unwrap();
            start_a_read(&mut file).await;
            drop(file);
        }
        assert!(
            descriptor_closes(&path).await,
            "the descriptors of dropped files close once their reads end"
        );
        assert!(weft::fs::read(&path).await.unwrap() == data);
    });
}

#[test]
fn a_file_dropped_on_another_thread_with_a_read_in_flight_closes_its_descriptor() {
    let scratch = TempDir::new("uring-dropped-elsewhere");
    let path = scratch.join("file.bin");
    std::fs::write(&path, pattern(100_000)).unwrap();
    weft::run(async {
        let mut file = File::open(&path).await.unwrap();
        start_a_read(&mut file).await;
        // Dropped on a thread that runs no loop: the loop hears of it through its remote queue.
        std::thread::spawn(move || drop(file)).join().unwrap();
        assert!(
            descriptor_closes(&path).await,
            "the loop forgot the read and closed the descriptor"
        );
    });
}

#[test]
fn a_write_whose_file_is_dropped_mid_flight_still_lands_its_bytes() {
    let scratch = TempDir::new("uring-dropped-write");
    let path = scratch.join("file.bin");
    let data = pattern(64 * 1024 * 3 + 123);
    weft::run(async {
        let mut file = File::create(&path).await.unwrap();
        file.write_all(&data).await.unwrap();
        drop(file); // its last write is in flight, promised to land (File invariant 3)
        assert!(
            descriptor_closes(&path).await,
            "the write ended and let go of the descriptor"
        );
        assert!(weft::fs::read(&path).await.unwrap() == data);
    });
}

#[test]
fn a_large_file_read_whole_comes_back_byte_exact() {
    let scratch = TempDir::new("uring-large-whole");
    let path = scratch.join("large.bin");
    let data = pattern(5 * 1024 * 1024 + 7);
    std::fs::write(&path, &data).unwrap();
    weft::run(async {
        assert!(weft::fs::read(&path).await.unwrap() == data);
        let copy = scratch.join("copy.bin");
        weft::fs::write(&copy, &data).await.unwrap();
        assert!(std::fs::read(&copy).unwrap() == data);
    });
}

#[test]
fn two_hundred_files_read_at_once_each_read_back_exact() {
    let scratch = TempDir::new("uring-200-reads");
    let expected: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            let bytes: Vec<u8> = (0..(1000 + i * 97))
                .map(|j| ((i * 7 + j) % 256) as u8)
                .collect();
            std::fs::write(scratch.join(&format!("{i}.bin")), &bytes).unwrap();
            bytes
        })
        .collect();
    let runtime = weft::Runtime::new().unwrap();
    let handle = runtime.handle();
    let dir = scratch.path().to_owned();
    let read = runtime.block_on(async move {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let path = dir.join(format!("{i}.bin"));
                weft::spawn(async move {
                    let mut bytes = Vec::new();
                    File::open(&path)
                        .await
                        .unwrap()
                        .read_to_end(&mut bytes)
                        .await
                        .unwrap();
                    bytes
                })
            })
            .collect();
        let mut read = Vec::new();
        for task in tasks {
            read.push(task.await.unwrap());
        }
        read
    });
    assert!(read == expected);
    if runtime.driver() == Driver::IoUring {
        assert_eq!(
            handle.metrics().blocking_threads,
            0,
            "all 200 went through the ring"
        );
    }
}

#[test]
fn a_file_operation_awaited_on_another_runtime_than_its_ring_panics_with_a_clear_message() {
    let scratch = TempDir::new("uring-other-loop");
    let path = scratch.join("file.bin");
    std::fs::write(&path, pattern(10_000)).unwrap();
    let first = weft::Runtime::new().unwrap();
    // On the pool, the read may finish before its first poll returns: then its bytes are already consumed.
    let (mut file, read_first) = first.block_on(async {
        let mut file = File::open(&path).await.unwrap();
        let read_first = start_a_read(&mut file).await;
        (file, read_first)
    });
    let second = weft::Runtime::new().unwrap();
    let on_ring = first.driver() == Driver::IoUring;
    let awaited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        second.block_on(async {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).await.unwrap();
            bytes.len()
        })
    }));
    match awaited {
        Ok(len) => {
            assert!(
                !on_ring,
                "a ring operation polled on another loop must panic"
            );
            assert_eq!(
                read_first + len,
                10_000,
                "on the pool, a file moves between runtimes freely"
            );
        }
        Err(payload) => {
            assert!(on_ring, "only a ring operation is tied to its loop");
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            assert!(
                message.contains("polled on another thread or loop"),
                "the panic says what went wrong: {message}"
            );
        }
    }
}

#[test]
fn files_and_their_futures_stay_send_and_sync_so_handle_spawn_takes_them() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let scratch = TempDir::new("uring-send");
    let path = scratch.join("file.bin");
    std::fs::write(&path, b"bytes").unwrap();
    let runtime = weft::Runtime::new().unwrap();
    let handle = runtime.handle();
    let read = runtime.block_on(async {
        let file = File::open(&path).await.unwrap();
        send_sync(&file);
        let reading = weft::fs::read(path.clone());
        send(&reading);
        let task = handle.spawn(async move {
            let mut file = file;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).await.unwrap();
            assert_eq!(reading.await.unwrap(), bytes);
            bytes
        });
        task.await.unwrap()
    });
    assert_eq!(read, b"bytes");
}

#[test]
fn under_a_paused_clock_a_timeout_around_a_file_operation_waits_for_it() {
    let scratch = TempDir::new("uring-paused");
    let path = scratch.join("file.bin");
    let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let mut file = File::create(&path).await.unwrap();
        for _ in 0..20 {
            file.write_all(&pattern(64 * 1024)).await.unwrap();
            let synced = weft::time::timeout(Duration::from_secs(10), file.sync_all()).await;
            assert!(
                synced.is_ok(),
                "virtual time must not jump over a file operation in flight"
            );
        }
    });
}
