//! Files on the io_uring driver: reads, writes, opens and syncs go through the loop's ring (the blocking pool
//! stays unused), a file dropped with an operation in flight, on its loop or on another thread, loses nothing
//! and leaks no descriptor, and many files read at once. On epoll (`WEFT_DRIVER=epoll`), the same bodies run
//! and the operations use the pool, as the driver-specific assertions say.

use std::future::{poll_fn, Future};
use std::os::unix::fs::MetadataExt;
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

/// The fields of `stat` both kinds of metadata report, for comparing weft's answer with std's.
fn stat_fields(m: &impl MetadataExt) -> [i64; 12] {
    [
        m.dev() as i64,
        m.ino() as i64,
        i64::from(m.mode()),
        m.nlink() as i64,
        i64::from(m.uid()),
        i64::from(m.gid()),
        m.size() as i64,
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.blocks() as i64,
    ]
}

#[test]
fn metadata_of_paths_files_links_and_entries_comes_from_the_ring_and_equals_std() {
    let scratch = TempDir::new("uring-statx");
    let path = scratch.join("file.bin");
    let link = scratch.join("link");
    let runtime = weft::Runtime::new().unwrap();
    let handle = runtime.handle();
    runtime.block_on(async {
        let mut file = File::create(&path).await.unwrap();
        file.write_all(&pattern(4321)).await.unwrap();
        // `metadata` of an open file waits for its queued write, then looks at the descriptor itself.
        let of_file = file.metadata().await.unwrap();
        assert_eq!(of_file.len(), 4321);
        file.close().await.unwrap();
        std::os::unix::fs::symlink(&path, &link).unwrap();

        let std_file = std::fs::metadata(&path).unwrap();
        let of_path = weft::fs::metadata(&path).await.unwrap();
        assert!(of_path.is_file() && !of_path.is_dir() && !of_path.is_symlink());
        assert_eq!(stat_fields(&of_path), stat_fields(&std_file));
        assert_eq!(of_path.permissions(), std_file.permissions());
        assert_eq!(of_path.modified().unwrap(), std_file.modified().unwrap());
        assert_eq!(of_path.created().ok(), std_file.created().ok());
        assert_eq!(of_file.ino(), std_file.ino());

        // Through the link, and of the link itself.
        assert_eq!(
            stat_fields(&weft::fs::metadata(&link).await.unwrap()),
            stat_fields(&std_file)
        );
        let of_link = weft::fs::symlink_metadata(&link).await.unwrap();
        assert!(of_link.is_symlink());
        assert_eq!(
            stat_fields(&of_link),
            stat_fields(&std::fs::symlink_metadata(&link).unwrap())
        );

        // A directory, and a directory entry (which does not follow the link).
        let of_dir = weft::fs::metadata(scratch.path()).await.unwrap();
        assert!(of_dir.is_dir());
        assert_eq!(
            of_dir.file_type(),
            std::fs::metadata(scratch.path())
                .unwrap()
                .file_type()
                .into()
        );
        let mut entries = weft::fs::read_dir(scratch.path()).await.unwrap();
        let mut seen = 0;
        while let Some(entry) = entries.next_entry().await.unwrap() {
            let ours = entry.metadata().await.unwrap();
            let std = std::fs::symlink_metadata(entry.path()).unwrap();
            assert_eq!(stat_fields(&ours), stat_fields(&std), "{:?}", entry.path());
            assert_eq!(entry.file_type().await.unwrap(), ours.file_type());
            seen += 1;
        }
        assert_eq!(seen, 2);

        // Nothing there: the error std gives.
        let missing = weft::fs::metadata(scratch.join("missing"))
            .await
            .unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    });
    if runtime.driver() == Driver::Epoll {
        assert!(
            handle.metrics().blocking_threads > 0,
            "on epoll, metadata runs on the pool"
        );
    }

    // Listing a directory (above) has no io_uring form and starts the pool: without it, nothing here does.
    let runtime = weft::Runtime::new().unwrap();
    let handle = runtime.handle();
    runtime.block_on(async {
        let mut file = File::open(&path).await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 4321);
        assert!(weft::fs::metadata(&link).await.unwrap().is_file());
        assert!(weft::fs::symlink_metadata(&link)
            .await
            .unwrap()
            .is_symlink());
    });
    if runtime.driver() == Driver::IoUring {
        assert_eq!(
            handle.metrics().blocking_threads,
            0,
            "on io_uring, metadata is a statx on the ring"
        );
    }
}

/// Polls `future` once and drops it, finished or not.
async fn poll_once_then_drop<F: Future>(future: F) {
    let mut future = std::pin::pin!(future);
    poll_fn(|cx| {
        let _ = future.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await
}

#[test]
fn metadata_futures_dropped_mid_flight_leave_the_loop_and_the_next_answers_correct() {
    let scratch = TempDir::new("uring-statx-dropped");
    let path = scratch.join("file.bin");
    std::fs::write(&path, pattern(777)).unwrap();
    weft::run(async {
        let mut file = File::open(&path).await.unwrap();
        for _ in 0..200 {
            // Polled once (the statx is submitted), then dropped: its slot keeps the buffer it writes into
            // until the completion.
            poll_once_then_drop(weft::fs::metadata(&path)).await;
            poll_once_then_drop(file.metadata()).await;
        }
        assert_eq!(weft::fs::metadata(&path).await.unwrap().len(), 777);
        assert_eq!(file.metadata().await.unwrap().len(), 777);
    });
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
