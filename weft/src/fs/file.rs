//! [`File`]: an open file with the `futures-io` traits, whose reads, writes and seeks run on the blocking pool,
//! or, on a loop that runs io_uring, whose reads, writes, syncs and `metadata` are ring operations (at the
//! file's cursor; seeks, `set_len` and a write right after a read ahead stay on the pool).
//!
//! A `File` is either idle, holding its buffer (maybe with read-ahead bytes not yet handed out), or busy with
//! one operation in flight, which owns the buffer and a clone of the descriptor until it finishes. This is
//! tokio's design; see `tokio::fs::File`.
//!
//! # Invariants
//!
//! 1. At most one operation per `File` is in flight, and each waits for the one before, so operations reach
//!    the OS in the order they were made, and an operation found finished by a `File` method that just started
//!    one is that method's own.
//! 2. While idle, the OS cursor is ahead of the position the user sees by exactly the buffer's unread bytes.
//!    Writes, seeks and `set_len` step back over them first.
//! 3. A write is reported done, with its length, as soon as it is queued. Its error, if any, is returned by
//!    the next operation on the file, which then does not run. Its bytes belong to the operation, which runs
//!    even if the `File` is dropped (and `op` rule 1 covers a pool that shuts down first).

use std::fmt;
use std::fs::File as StdFile;
use std::future::{poll_fn, Future};
use std::io::{self, Seek, SeekFrom};
use std::mem;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};

use super::buf::Buf;
use super::metadata::{self, Metadata};
use super::op::{self, Op, Pending};
use super::ring::RingDone;
use super::OpenOptions;
use crate::driver::FileOp;

/// The most one read or write moves in one trip to the pool.
const MAX_BUFFER: usize = 64 * 1024;

/// An open file. Read, write and seek it with the [`io`](crate::io) extension traits; each operation runs on
/// the blocking pool (on io_uring, reads, writes and syncs go through the loop's ring), one at a time, in the
/// order they were made.
///
/// ```
/// use weft::fs::File;
/// use weft::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, SeekFrom};
///
/// # let path = std::env::temp_dir().join(format!("weft-doc-fs-file-{}", std::process::id()));
/// weft::run(async {
///     let mut file = File::create(&path).await?;
///     file.write_all(b"hello, file").await?;
///     file.flush().await?; // the write has reached the OS, or its error is here
///
///     let mut file = File::open(&path).await?;
///     file.seek(SeekFrom::Start(7)).await?;
///     let mut rest = String::new();
///     file.read_to_string(&mut rest).await?;
///     assert_eq!(rest, "file");
/// #   weft::fs::remove_file(&path).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
///
/// # Writes are queued
///
/// A write copies up to 64 KiB into the file's buffer, hands it to the pool and returns at once with that
/// length, before the bytes reach the OS. So:
///
/// - [`flush`](crate::io::AsyncWriteExt::flush) (or [`close`](crate::io::AsyncWriteExt::close),
///   [`sync_all`](File::sync_all), [`sync_data`](File::sync_data)) waits for it: once it returns `Ok`, every
///   earlier write has reached the OS.
/// - An error of a queued write is returned by the next operation on the file (a read, write, seek, flush, or
///   one of the methods here), which then does not run.
/// - Dropping a `File` with a write in flight does not lose the write: the pool (or, on io_uring, the loop's
///   ring, which never cancels a write) still performs it. It is done at the latest when the runtime is dropped
///   (the runtime waits for running blocking jobs and for the ring's file operations, and a file write still
///   queued is performed by the thread dropping the runtime). Its error is lost, though, and other code may
///   read the file before it lands: flush first if that matters.
///
/// A read asks the OS for at most as many bytes as the caller's buffer holds (up to 64 KiB). Wrap a `File` in
/// a [`BufReader`](crate::io::BufReader) for many small reads.
pub struct File {
    /// The descriptor, shared with the operation in flight.
    std: Arc<StdFile>,
    /// Idle with the buffer, or busy with an operation that owns it.
    state: State,
}

/// What a [`File`] is doing.
enum State {
    /// No operation in flight; the buffer holds read-ahead bytes, if any (rule 2).
    Idle(Buf),
    /// An operation is in flight (on the pool or the loop's ring); it gives back its outcome and the buffer.
    Busy(Pending<(Outcome, Buf)>),
}

/// How an operation on a [`File`] ended.
enum Outcome {
    /// A read of this many bytes (now in the buffer), or its error.
    Read(io::Result<usize>),
    /// A queued write (rule 3).
    Write(io::Result<()>),
    /// A seek, with the position the caller asked for (to tell it from an abandoned seek) and the result.
    Seek {
        /// The caller's argument, before adjusting for read-ahead bytes.
        requested: SeekFrom,
        /// The new position from the start of the file.
        result: io::Result<u64>,
    },
    /// `set_len`, `sync_all` or `sync_data`.
    Done(io::Result<()>),
    /// `metadata`.
    Metadata(io::Result<Metadata>),
    /// The operation panicked or was cancelled; its buffer is gone.
    Failed(io::Error),
}

impl Outcome {
    /// An error the user has not been told about yet: a queued write's (rule 3), or a lost operation's.
    fn unseen_error(self) -> Option<io::Error> {
        match self {
            Outcome::Write(Err(error)) | Outcome::Failed(error) => Some(error),
            _ => None,
        }
    }
}

impl File {
    /// Opens the file at `path` for reading. Like [`std::fs::File::open`].
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-file-open-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::write(&path, b"contents").await?;
    ///     let mut file = weft::fs::File::open(&path).await?;
    ///     let mut bytes = Vec::new();
    ///     file.read_to_end(&mut bytes).await?;
    ///     assert_eq!(bytes, b"contents");
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens the file at `path` for writing, creating it if needed and truncating it if not. Like
    /// [`std::fs::File::create`].
    ///
    /// ```
    /// use weft::io::AsyncWriteExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-file-create-{}", std::process::id()));
    /// weft::run(async {
    ///     let mut file = weft::fs::File::create(&path).await?;
    ///     file.write_all(b"fresh").await?;
    ///     file.flush().await?;
    ///     assert_eq!(weft::fs::read(&path).await?, b"fresh");
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates a new file at `path` for writing; an error of kind
    /// [`AlreadyExists`](io::ErrorKind::AlreadyExists) if there is one. Like [`std::fs::File::create_new`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-file-create-new-{}", std::process::id()));
    /// weft::run(async {
    ///     let _file = weft::fs::File::create_new(&path).await?;
    ///     let taken = weft::fs::File::create_new(&path).await.unwrap_err();
    ///     assert_eq!(taken.kind(), std::io::ErrorKind::AlreadyExists);
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// Options to open a file with: the same as [`OpenOptions::new`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-file-options-{}", std::process::id()));
    /// weft::run(async {
    ///     let _file = weft::fs::File::options().write(true).create(true).open(&path).await?;
    ///     assert!(weft::fs::try_exists(&path).await?);
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps a file opened with std; later operations run on the blocking pool. Needs no runtime.
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-file-from-std-{}", std::process::id()));
    /// std::fs::write(&path, b"opened by std")?;
    /// let mut file = weft::fs::File::from_std(std::fs::File::open(&path)?);
    /// weft::run(async {
    ///     let mut text = String::new();
    ///     file.read_to_string(&mut text).await?;
    ///     assert_eq!(text, "opened by std");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn from_std(std: StdFile) -> File {
        File {
            std: Arc::new(std),
            state: State::Idle(Buf::default()),
        }
    }

    /// Waits for the operation in flight, then flushes the file's data and metadata to the storage device
    /// (`fsync`). Like [`std::fs::File::sync_all`]. Returns the error of an earlier queued write, if any.
    ///
    /// ```
    /// use weft::io::AsyncWriteExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-file-sync-all-{}", std::process::id()));
    /// weft::run(async {
    ///     let mut file = weft::fs::File::create(&path).await?;
    ///     file.write_all(b"durable").await?;
    ///     file.sync_all().await?; // on disk, not only in the page cache
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.sync(false).await
    }

    /// Like [`sync_all`](File::sync_all), but flushes metadata only where needed to read the data back
    /// (`fdatasync`). Like [`std::fs::File::sync_data`].
    ///
    /// ```
    /// use weft::io::AsyncWriteExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-file-sync-data-{}", std::process::id()));
    /// weft::run(async {
    ///     let mut file = weft::fs::File::create(&path).await?;
    ///     file.write_all(b"durable data").await?;
    ///     file.sync_data().await?;
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn sync_data(&mut self) -> io::Result<()> {
        self.sync(true).await
    }

    /// `fsync` or `fdatasync` after the operation in flight.
    async fn sync(&mut self, data_only: bool) -> io::Result<()> {
        let outcome = self
            .run_exclusive(|file, buf| {
                op::submit(SyncToDevice {
                    file,
                    buf,
                    data_only,
                })
            })
            .await?;
        match outcome {
            Outcome::Done(result) => result,
            Outcome::Failed(error) => Err(error),
            _ => unreachable!("rule 1: the outcome is the sync's own"),
        }
    }

    /// Waits for the operation in flight, then truncates or extends the file to `len` bytes (extending with
    /// zeros). Like [`std::fs::File::set_len`]; the position does not move, and read-ahead bytes are dropped.
    ///
    /// ```
    /// use weft::io::AsyncWriteExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-file-set-len-{}", std::process::id()));
    /// weft::run(async {
    ///     let mut file = weft::fs::File::create(&path).await?;
    ///     file.write_all(b"0123456789").await?;
    ///     file.set_len(4).await?;
    ///     assert_eq!(weft::fs::read(&path).await?, b"0123");
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn set_len(&mut self, len: u64) -> io::Result<()> {
        let outcome = self
            .run_exclusive(|file, mut buf| {
                let seek_back = buf.discard_unread();
                op::submit(SetLen {
                    file,
                    buf,
                    seek_back,
                    len,
                })
            })
            .await?;
        match outcome {
            Outcome::Done(result) => result,
            Outcome::Failed(error) => Err(error),
            _ => unreachable!("rule 1: the outcome is set_len's own"),
        }
    }

    /// Waits for the operation in flight, then reads the file's metadata (`fstat`), so the length counts every
    /// write made so far. Like [`std::fs::File::metadata`]; it takes `&mut self` to order itself after them.
    ///
    /// ```
    /// use weft::io::AsyncWriteExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-file-metadata-{}", std::process::id()));
    /// weft::run(async {
    ///     let mut file = weft::fs::File::create(&path).await?;
    ///     file.write_all(&[7; 1000]).await?;
    ///     let metadata = file.metadata().await?;
    ///     assert!(metadata.is_file());
    ///     assert_eq!(metadata.len(), 1000);
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn metadata(&mut self) -> io::Result<Metadata> {
        let outcome = self
            .run_exclusive(|file, buf| op::submit(FileMetadata { file, buf }))
            .await?;
        match outcome {
            Outcome::Metadata(result) => result,
            Outcome::Failed(error) => Err(error),
            _ => unreachable!("rule 1: the outcome is metadata's own"),
        }
    }

    /// Waits until idle (returning an unseen error), starts the operation `start` makes from the descriptor and
    /// the buffer, and waits for its outcome, which is its own (rule 1). If the caller's future is dropped, the
    /// operation stays in flight and the next one waits for it.
    async fn run_exclusive(
        &mut self,
        start: impl FnOnce(Arc<StdFile>, Buf) -> Pending<(Outcome, Buf)>,
    ) -> io::Result<Outcome> {
        poll_fn(|cx| self.poll_idle(cx)).await?;
        let State::Idle(buf) = &mut self.state else {
            unreachable!("poll_idle returned, so the file is idle");
        };
        let buf = mem::take(buf);
        self.state = State::Busy(start(self.std.clone(), buf));
        let outcome = poll_fn(|cx| self.poll_finish(cx)).await;
        Ok(outcome.expect("an operation was just started"))
    }

    /// Waits for the operation in flight, if any, and returns its outcome; the file is idle afterwards.
    /// `None` if it was idle already.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outcome>> {
        let State::Busy(handle) = &mut self.state else {
            return Poll::Ready(None);
        };
        let (outcome, buf) = match ready!(Pin::new(handle).poll(cx)) {
            Ok(finished) => finished,
            Err(join_error) => (Outcome::Failed(join_error.into()), Buf::default()),
        };
        self.state = State::Idle(buf);
        Poll::Ready(Some(outcome))
    }

    /// Waits until no operation is in flight; an error the user has not seen yet is returned (rule 3).
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(self.poll_finish(cx)).and_then(Outcome::unseen_error) {
            Some(error) => Poll::Ready(Err(error)),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl From<StdFile> for File {
    /// The same as [`File::from_std`].
    fn from(std: StdFile) -> File {
        File::from_std(std)
    }
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle(buf) => {
                    if !buf.is_empty() || dst.is_empty() {
                        return Poll::Ready(Ok(buf.copy_to(dst)));
                    }
                    let read = ReadAhead {
                        file: this.std.clone(),
                        buf: mem::take(buf),
                        len: dst.len().min(MAX_BUFFER),
                    };
                    this.state = State::Busy(op::submit(read));
                }
                State::Busy(_) => match ready!(this.poll_finish(cx)) {
                    Some(Outcome::Read(Ok(0))) => return Poll::Ready(Ok(0)),
                    // The bytes are in the buffer; the next turn copies them out.
                    Some(Outcome::Read(Ok(_))) => {}
                    Some(Outcome::Read(Err(error))) => return Poll::Ready(Err(error)),
                    Some(outcome) => {
                        if let Some(error) = outcome.unseen_error() {
                            return Poll::Ready(Err(error));
                        }
                    }
                    None => {}
                },
            }
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle(buf) => {
                    if src.is_empty() {
                        return Poll::Ready(Ok(0));
                    }
                    let mut buf = mem::take(buf);
                    let seek_back = buf.discard_unread();
                    let queued = buf.copy_from(src, MAX_BUFFER);
                    let write = QueuedWrite {
                        file: this.std.clone(),
                        buf,
                        seek_back,
                    };
                    this.state = State::Busy(op::submit(write));
                    return Poll::Ready(Ok(queued));
                }
                State::Busy(_) => {
                    if let Some(error) =
                        ready!(this.poll_finish(cx)).and_then(Outcome::unseen_error)
                    {
                        return Poll::Ready(Err(error));
                    }
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }
}

impl AsyncSeek for File {
    /// Moves the position. If the seek's future is dropped before it finishes, the seek still happens. A seek
    /// abandoned that way and then asked again with the same `pos` counts once, as the trait cannot tell the
    /// two calls apart.
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle(buf) => {
                    // The OS cursor is ahead of the caller by the unread bytes (rule 2).
                    let target = match pos {
                        SeekFrom::Current(offset) => {
                            let unread = buf.unread() as i64;
                            SeekFrom::Current(offset.checked_sub(unread).ok_or_else(|| {
                                io::Error::new(
                                    io::ErrorKind::InvalidInput,
                                    "seek offset overflows an i64",
                                )
                            })?)
                        }
                        absolute => absolute,
                    };
                    let mut buf = mem::take(buf);
                    buf.discard_unread();
                    let seek = Reposition {
                        file: this.std.clone(),
                        buf,
                        requested: pos,
                        target,
                    };
                    this.state = State::Busy(op::submit(seek));
                }
                State::Busy(_) => match ready!(this.poll_finish(cx)) {
                    Some(Outcome::Seek { requested, result }) if requested == pos => {
                        return Poll::Ready(result);
                    }
                    Some(outcome) => {
                        if let Some(error) = outcome.unseen_error() {
                            return Poll::Ready(Err(error));
                        }
                    }
                    None => {}
                },
            }
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("std", &self.std)
            .field("busy", &matches!(self.state, State::Busy(_)))
            .finish()
    }
}

/// Moves the cursor back over `bytes` read-ahead bytes, if any (rule 2).
fn seek_back(mut file: &StdFile, bytes: usize) -> io::Result<()> {
    if bytes > 0 {
        file.seek(SeekFrom::Current(-(bytes as i64)))?;
    }
    Ok(())
}

/// Reads up to `len` bytes at the cursor into the buffer.
struct ReadAhead {
    /// The descriptor.
    file: Arc<StdFile>,
    /// Empty; receives the bytes.
    buf: Buf,
    /// The most to read.
    len: usize,
}

impl Op for ReadAhead {
    type Output = (Outcome, Buf);

    fn run_blocking(mut self) -> Self::Output {
        let result = self.buf.read_from(&self.file, self.len);
        (Outcome::Read(result), self.buf)
    }

    /// A `read` at the cursor, which the kernel moves (rule 2 holds as on the pool).
    fn ring_form(&mut self) -> Option<FileOp> {
        Some(FileOp::Read {
            file: self.file.clone(),
            buf: self.buf.lend_for_read(),
            len: self.len,
        })
    }

    fn ring_done(mut self, (result, bytes, _): RingDone) -> Self::Output {
        self.buf.give_back(bytes);
        (Outcome::Read(result), self.buf)
    }
}

/// Writes the buffer at the cursor, after stepping back over read-ahead bytes (rules 2 and 3).
struct QueuedWrite {
    /// The descriptor.
    file: Arc<StdFile>,
    /// The bytes to write.
    buf: Buf,
    /// Read-ahead bytes the cursor must step back over first.
    seek_back: usize,
}

impl Op for QueuedWrite {
    type Output = (Outcome, Buf);

    fn run_blocking(mut self) -> Self::Output {
        let result =
            seek_back(&self.file, self.seek_back).and_then(|()| self.buf.write_to(&self.file));
        (Outcome::Write(result), self.buf)
    }

    /// The caller was told these bytes are written (rule 3): write them here, on the thread that shut the
    /// pool down.
    fn cancelled(self) {
        let _ = self.run_blocking();
    }

    /// A `write` of all the bytes at the cursor; after a read ahead (the cursor must step back first) it runs
    /// on the pool.
    fn ring_form(&mut self) -> Option<FileOp> {
        (self.seek_back == 0).then(|| FileOp::Write {
            file: self.file.clone(),
            buf: self.buf.lend_for_write(),
        })
    }

    fn ring_done(mut self, (result, bytes, _): RingDone) -> Self::Output {
        let len = bytes.len();
        let mut bytes = bytes;
        bytes.clear();
        self.buf.give_back(bytes);
        let result = match result {
            Ok(written) if written < len => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "failed to write the whole buffer",
            )),
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        };
        (Outcome::Write(result), self.buf)
    }
}

/// Moves the cursor (`lseek`).
struct Reposition {
    /// The descriptor.
    file: Arc<StdFile>,
    /// Passed through.
    buf: Buf,
    /// What the caller asked for.
    requested: SeekFrom,
    /// What to ask the OS for (the request adjusted for read-ahead bytes).
    target: SeekFrom,
}

impl Op for Reposition {
    type Output = (Outcome, Buf);

    fn run_blocking(self) -> Self::Output {
        let result = (&*self.file).seek(self.target);
        let outcome = Outcome::Seek {
            requested: self.requested,
            result,
        };
        (outcome, self.buf)
    }
}

/// Truncates or extends the file (`ftruncate`), after stepping back over read-ahead bytes.
struct SetLen {
    /// The descriptor.
    file: Arc<StdFile>,
    /// Passed through.
    buf: Buf,
    /// Read-ahead bytes the cursor must step back over first.
    seek_back: usize,
    /// The new length.
    len: u64,
}

impl Op for SetLen {
    type Output = (Outcome, Buf);

    fn run_blocking(self) -> Self::Output {
        let result =
            seek_back(&self.file, self.seek_back).and_then(|()| self.file.set_len(self.len));
        (Outcome::Done(result), self.buf)
    }
}

/// Flushes the file to the device (`fsync` or `fdatasync`).
struct SyncToDevice {
    /// The descriptor.
    file: Arc<StdFile>,
    /// Passed through.
    buf: Buf,
    /// `fdatasync` if true.
    data_only: bool,
}

impl Op for SyncToDevice {
    type Output = (Outcome, Buf);

    fn run_blocking(self) -> Self::Output {
        let result = if self.data_only {
            self.file.sync_data()
        } else {
            self.file.sync_all()
        };
        (Outcome::Done(result), self.buf)
    }

    fn ring_form(&mut self) -> Option<FileOp> {
        Some(FileOp::Sync {
            file: self.file.clone(),
            data_only: self.data_only,
        })
    }

    fn ring_done(self, (result, _, _): RingDone) -> Self::Output {
        (Outcome::Done(result.map(drop)), self.buf)
    }
}

/// Reads the file's metadata (`fstat`, or a `statx` of the descriptor on the ring).
struct FileMetadata {
    /// The descriptor.
    file: Arc<StdFile>,
    /// Passed through.
    buf: Buf,
}

impl Op for FileMetadata {
    type Output = (Outcome, Buf);

    fn run_blocking(self) -> Self::Output {
        let result = self.file.metadata().map(Metadata::from);
        (Outcome::Metadata(result), self.buf)
    }

    fn ring_form(&mut self) -> Option<FileOp> {
        Some(metadata::statx_of_file(self.file.clone()))
    }

    fn ring_done(self, done: RingDone) -> Self::Output {
        (Outcome::Metadata(Metadata::from_ring(done)), self.buf)
    }
}
