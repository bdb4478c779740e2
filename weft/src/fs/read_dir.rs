//! [`read_dir`]: the entries of a directory, fetched from the blocking pool in batches of 32, so listing a
//! large directory costs one trip to the pool per batch rather than per entry.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::mem;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;

use super::metadata::{self, FileType, Metadata};
use super::op::{self, Op};
use super::ring::RingDone;
use crate::driver::FileOp;

/// How many entries one trip to the pool fetches.
const BATCH: usize = 32;

/// Opens the directory at `path` for listing. Like [`std::fs::read_dir`]: the entries come in no particular
/// order, without `.` and `..`.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-read-dir-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir_all(&dir).await?;
///     weft::fs::write(dir.join("b.txt"), b"").await?;
///     weft::fs::write(dir.join("a.txt"), b"").await?;
///
///     let mut entries = weft::fs::read_dir(&dir).await?;
///     let mut names = Vec::new();
///     while let Some(entry) = entries.next_entry().await? {
///         names.push(entry.file_name());
///     }
///     names.sort();
///     assert_eq!(names, ["a.txt", "b.txt"]);
/// #   weft::fs::remove_dir_all(&dir).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let dir = op::run(OpenDir(path.as_ref().to_owned())).await?;
    Ok(ReadDir {
        state: State::Idle(Batch {
            entries: VecDeque::new(),
            rest: Some(dir),
        }),
    })
}

/// The entries of a directory, from [`read_dir`]. Take them with [`next_entry`](ReadDir::next_entry), or use
/// it as a [`Stream`] of `io::Result<DirEntry>`.
///
/// ```
/// use futures_util::StreamExt;
///
/// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-read-dir-stream-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir_all(dir.join("sub")).await?;
///     let entries: Vec<_> = weft::fs::read_dir(&dir).await?.collect().await;
///     assert_eq!(entries.len(), 1);
///     assert_eq!(entries[0].as_ref().unwrap().file_name(), "sub");
/// #   weft::fs::remove_dir_all(&dir).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct ReadDir {
    /// Entries on hand, or a batch being fetched.
    state: State,
}

/// What a [`ReadDir`] is doing.
enum State {
    /// Entries on hand, and the directory if not exhausted.
    Idle(Batch),
    /// A batch is being fetched on the pool.
    Busy(op::Pending<Batch>),
}

/// A batch of entries and what is left to list.
struct Batch {
    /// Entries not handed out yet.
    entries: VecDeque<io::Result<DirEntry>>,
    /// The open directory; `None` once it reported its end.
    rest: Option<std::fs::ReadDir>,
}

impl ReadDir {
    /// The next entry, or `None` when the directory has no more.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-next-entry-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::create_dir_all(&dir).await?;
    ///     weft::fs::write(dir.join("only"), b"").await?;
    ///     let mut entries = weft::fs::read_dir(&dir).await?;
    ///     let entry = entries.next_entry().await?.expect("one entry");
    ///     assert_eq!(entry.path(), dir.join("only"));
    ///     assert!(entries.next_entry().await?.is_none());
    /// #   weft::fs::remove_dir_all(&dir).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry: `Ready(Ok(None))` at the end, `Pending` while a batch is fetched (the waker
    /// of `cx` is woken when it arrives).
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-poll-next-entry-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::create_dir_all(&dir).await?;
    ///     let mut entries = weft::fs::read_dir(&dir).await?;
    ///     let first = poll_fn(|cx| entries.poll_next_entry(cx)).await?;
    ///     assert!(first.is_none()); // empty directory
    /// #   weft::fs::remove_dir_all(&dir).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.state {
                State::Idle(batch) => {
                    if let Some(entry) = batch.entries.pop_front() {
                        return Poll::Ready(entry.map(Some));
                    }
                    let Some(dir) = batch.rest.take() else {
                        return Poll::Ready(Ok(None));
                    };
                    let fetch = NextBatch {
                        dir,
                        entries: mem::take(&mut batch.entries),
                    };
                    self.state = State::Busy(op::submit(fetch));
                }
                State::Busy(handle) => match ready!(Pin::new(handle).poll(cx)) {
                    Ok(batch) => self.state = State::Idle(batch),
                    Err(join_error) => {
                        self.state = State::Idle(Batch {
                            entries: VecDeque::new(),
                            rest: None,
                        });
                        return Poll::Ready(Err(join_error.into()));
                    }
                },
            }
        }
    }
}

impl Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx).map(Result::transpose)
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ReadDir");
        match &self.state {
            State::Idle(batch) => debug
                .field("on_hand", &batch.entries.len())
                .field("exhausted", &batch.rest.is_none()),
            State::Busy(_) => debug.field("fetching", &true),
        };
        debug.finish()
    }
}

/// One entry of a directory, from [`ReadDir`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-dir-entry-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir_all(&dir).await?;
///     weft::fs::write(dir.join("notes.txt"), b"abc").await?;
///     let entry = weft::fs::read_dir(&dir).await?.next_entry().await?.unwrap();
///     assert_eq!(entry.file_name(), "notes.txt");
///     assert!(entry.file_type().await?.is_file());
///     assert_eq!(entry.metadata().await?.len(), 3);
/// #   weft::fs::remove_dir_all(&dir).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct DirEntry {
    /// The entry; shared with a `metadata` or `file_type` operation.
    std: Arc<std::fs::DirEntry>,
    /// Its type, read with the batch (free on most Linux file systems); `None` if that failed.
    file_type: Option<FileType>,
}

impl DirEntry {
    /// The full path: the directory given to [`read_dir`] joined with [`file_name`](DirEntry::file_name).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-dir-entry-path-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::create_dir_all(dir.join("child")).await?;
    ///     let entry = weft::fs::read_dir(&dir).await?.next_entry().await?.unwrap();
    ///     assert_eq!(entry.path(), dir.join("child"));
    /// #   weft::fs::remove_dir_all(&dir).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The entry's name within its directory.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-dir-entry-name-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::create_dir_all(&dir).await?;
    ///     weft::fs::write(dir.join("name.rs"), b"").await?;
    ///     let entry = weft::fs::read_dir(&dir).await?.next_entry().await?.unwrap();
    ///     assert_eq!(entry.file_name(), "name.rs");
    /// #   weft::fs::remove_dir_all(&dir).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's metadata, without following a symbolic link (like [`symlink_metadata`](super::symlink_metadata)
    /// of its path). Like [`std::fs::DirEntry::metadata`].
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-dir-entry-metadata-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::create_dir_all(&dir).await?;
    ///     weft::fs::write(dir.join("ten"), [0; 10]).await?;
    ///     let entry = weft::fs::read_dir(&dir).await?.next_entry().await?.unwrap();
    ///     assert_eq!(entry.metadata().await?.len(), 10);
    /// #   weft::fs::remove_dir_all(&dir).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn metadata(&self) -> io::Result<Metadata> {
        op::run(EntryMetadata(self.std.clone())).await
    }

    /// The entry's type (file, directory, symbolic link...), without following a link. Usually known from the
    /// listing already, so this rarely leaves the loop. Like [`std::fs::DirEntry::file_type`].
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-dir-entry-type-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::create_dir_all(dir.join("folder")).await?;
    ///     let entry = weft::fs::read_dir(&dir).await?.next_entry().await?.unwrap();
    ///     assert!(entry.file_type().await?.is_dir());
    /// #   weft::fs::remove_dir_all(&dir).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn file_type(&self) -> io::Result<FileType> {
        match self.file_type {
            Some(file_type) => Ok(file_type),
            None => op::run(EntryFileType(self.std.clone())).await,
        }
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DirEntry").field(&self.path()).finish()
    }
}

/// Opens a directory for listing (`opendir`).
struct OpenDir(PathBuf);

impl Op for OpenDir {
    type Output = io::Result<std::fs::ReadDir>;

    fn run_blocking(self) -> Self::Output {
        std::fs::read_dir(self.0)
    }
}

/// Reads up to [`BATCH`] entries (`readdir`), with their types.
struct NextBatch {
    /// The open directory.
    dir: std::fs::ReadDir,
    /// An empty queue to fill, reused from the last batch.
    entries: VecDeque<io::Result<DirEntry>>,
}

impl Op for NextBatch {
    type Output = Batch;

    fn run_blocking(mut self) -> Batch {
        for _ in 0..BATCH {
            match self.dir.next() {
                Some(entry) => self.entries.push_back(entry.map(|std| DirEntry {
                    file_type: std.file_type().ok().map(FileType::from),
                    std: Arc::new(std),
                })),
                None => {
                    return Batch {
                        entries: self.entries,
                        rest: None,
                    }
                }
            }
        }
        Batch {
            entries: self.entries,
            rest: Some(self.dir),
        }
    }
}

/// Reads an entry's metadata (`fstatat` without following links, or a `statx` of its path on the ring).
struct EntryMetadata(Arc<std::fs::DirEntry>);

impl Op for EntryMetadata {
    type Output = io::Result<Metadata>;

    fn run_blocking(self) -> Self::Output {
        self.0.metadata().map(Metadata::from)
    }

    fn ring_form(&mut self) -> Option<FileOp> {
        metadata::statx_of_path(&self.0.path(), libc::AT_SYMLINK_NOFOLLOW)
    }

    fn ring_done(self, done: RingDone) -> Self::Output {
        Metadata::from_ring(done)
    }
}

/// Reads an entry's type when the listing did not give it.
struct EntryFileType(Arc<std::fs::DirEntry>);

impl Op for EntryFileType {
    type Output = io::Result<FileType>;

    fn run_blocking(self) -> Self::Output {
        self.0.file_type().map(FileType::from)
    }
}
