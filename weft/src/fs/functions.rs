//! The free functions: one operation on one or two paths each, like their namesakes in [`std::fs`].
//!
//! Each takes its paths as `impl AsRef<Path>`, copies them into an operation value that owns them, and awaits
//! that operation on the blocking pool (see `op`). Each function is followed by its operation. On a loop that
//! runs io_uring, `read`, `read_to_string` and `write` go through its ring instead (`whole.rs`).

use std::io;
use std::path::{Path, PathBuf};

use super::metadata::{self, Metadata};
use super::op::{self, Op};
use super::ring::{RingDone, RingOp};
use super::whole;
use crate::driver::FileOp;

/// Reads the whole file at `path` into a vector of bytes. Like [`std::fs::read`].
///
/// ```
/// # let path = std::env::temp_dir().join(format!("weft-doc-fs-read-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::write(&path, b"hello").await?;
///     assert_eq!(weft::fs::read(&path).await?, b"hello");
/// #   weft::fs::remove_file(&path).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    if RingOp::available() {
        return whole::read(path.as_ref()).await;
    }
    op::run(ReadFile(path.as_ref().to_owned())).await
}

/// Reads a whole file into memory.
struct ReadFile(PathBuf);

impl Op for ReadFile {
    type Output = io::Result<Vec<u8>>;

    fn run_blocking(self) -> Self::Output {
        std::fs::read(self.0)
    }
}

/// Reads the whole file at `path` as UTF-8 text. Like [`std::fs::read_to_string`]: text that is not UTF-8 is
/// an error of kind [`InvalidData`](io::ErrorKind::InvalidData).
///
/// ```
/// # let path = std::env::temp_dir().join(format!("weft-doc-fs-read-to-string-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::write(&path, "héllo").await?;
///     assert_eq!(weft::fs::read_to_string(&path).await?, "héllo");
/// #   weft::fs::remove_file(&path).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    if RingOp::available() {
        let bytes = whole::read(path.as_ref()).await?;
        return String::from_utf8(bytes).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )
        });
    }
    op::run(ReadFileToString(path.as_ref().to_owned())).await
}

/// Reads a whole file into memory as text.
struct ReadFileToString(PathBuf);

impl Op for ReadFileToString {
    type Output = io::Result<String>;

    fn run_blocking(self) -> Self::Output {
        std::fs::read_to_string(self.0)
    }
}

/// Writes `contents` to the file at `path`, creating it if needed and replacing what it held. Like
/// [`std::fs::write`]. The bytes are copied first, so the caller keeps `contents`.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("weft-doc-fs-write-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::write(&path, b"first").await?;
///     weft::fs::write(&path, b"second").await?;
///     assert_eq!(weft::fs::read(&path).await?, b"second");
/// #   weft::fs::remove_file(&path).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    if RingOp::available() {
        return whole::write(path.as_ref(), contents.as_ref().to_owned()).await;
    }
    op::run(WriteFile {
        path: path.as_ref().to_owned(),
        contents: contents.as_ref().to_owned(),
    })
    .await
}

/// Replaces a file's contents.
struct WriteFile {
    /// The file to create or truncate.
    path: PathBuf,
    /// What it will hold.
    contents: Vec<u8>,
}

impl Op for WriteFile {
    type Output = io::Result<()>;

    fn run_blocking(self) -> Self::Output {
        std::fs::write(self.path, self.contents)
    }
}

/// The metadata of the file or directory at `path`, following symbolic links. Like [`std::fs::metadata`].
///
/// ```
/// # let path = std::env::temp_dir().join(format!("weft-doc-fs-metadata-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::write(&path, b"12345").await?;
///     let metadata = weft::fs::metadata(&path).await?;
///     assert!(metadata.is_file());
///     assert_eq!(metadata.len(), 5);
/// #   weft::fs::remove_file(&path).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    op::run(Stat {
        path: path.as_ref().to_owned(),
        follow_symlinks: true,
    })
    .await
}

/// The metadata of the file, directory or symbolic link at `path`, without following a link in the last
/// component. Like [`std::fs::symlink_metadata`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-symlink-metadata-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir_all(&dir).await?;
///     std::os::unix::fs::symlink(&dir, dir.join("link"))?;
///     let link = weft::fs::symlink_metadata(dir.join("link")).await?;
///     assert!(link.file_type().is_symlink());
///     assert!(weft::fs::metadata(dir.join("link")).await?.is_dir()); // metadata follows the link
/// #   weft::fs::remove_dir_all(&dir).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    op::run(Stat {
        path: path.as_ref().to_owned(),
        follow_symlinks: false,
    })
    .await
}

/// Reads the metadata of a path (`stat` or `lstat`).
struct Stat {
    /// What to look at.
    path: PathBuf,
    /// `stat` if true, `lstat` if false.
    follow_symlinks: bool,
}

impl Op for Stat {
    type Output = io::Result<Metadata>;

    fn run_blocking(self) -> Self::Output {
        let std = if self.follow_symlinks {
            std::fs::metadata(self.path)
        } else {
            std::fs::symlink_metadata(self.path)
        };
        std.map(Metadata::from)
    }

    /// A `statx` of the path; a path with a NUL byte stays on the pool for std's own error.
    fn ring_form(&mut self) -> Option<FileOp> {
        let flags = if self.follow_symlinks {
            0
        } else {
            libc::AT_SYMLINK_NOFOLLOW
        };
        metadata::statx_of_path(&self.path, flags)
    }

    fn ring_done(self, done: RingDone) -> Self::Output {
        Metadata::from_ring(done)
    }
}

/// True if something exists at `path` (following symbolic links), false if nothing does, and an error if that
/// cannot be known (a permission error on a parent, say). Like [`Path::try_exists`].
///
/// ```
/// # let path = std::env::temp_dir().join(format!("weft-doc-fs-try-exists-{}", std::process::id()));
/// weft::run(async {
///     assert!(!weft::fs::try_exists(&path).await?);
///     weft::fs::write(&path, b"").await?;
///     assert!(weft::fs::try_exists(&path).await?);
/// #   weft::fs::remove_file(&path).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    op::run(TryExists(path.as_ref().to_owned())).await
}

/// Checks whether a path exists.
struct TryExists(PathBuf);

impl Op for TryExists {
    type Output = io::Result<bool>;

    fn run_blocking(self) -> Self::Output {
        self.0.try_exists()
    }
}

/// Creates the directory `path`; its parent must exist. Like [`std::fs::create_dir`]: an error of kind
/// [`AlreadyExists`](io::ErrorKind::AlreadyExists) if something is already there.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-create-dir-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir(&dir).await?;
///     assert!(weft::fs::metadata(&dir).await?.is_dir());
///     let again = weft::fs::create_dir(&dir).await.unwrap_err();
///     assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
/// #   weft::fs::remove_dir(&dir).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    op::run(CreateDir {
        path: path.as_ref().to_owned(),
        recursive: false,
    })
    .await
}

/// Creates the directory `path` and every missing parent; succeeds if it already exists. Like
/// [`std::fs::create_dir_all`].
///
/// ```
/// # let root = std::env::temp_dir().join(format!("weft-doc-fs-create-dir-all-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir_all(root.join("a/b/c")).await?;
///     weft::fs::create_dir_all(root.join("a/b/c")).await?; // already there: fine
///     assert!(weft::fs::metadata(root.join("a/b/c")).await?.is_dir());
/// #   weft::fs::remove_dir_all(&root).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    op::run(CreateDir {
        path: path.as_ref().to_owned(),
        recursive: true,
    })
    .await
}

/// Creates a directory (`mkdir`), or a directory and its parents.
struct CreateDir {
    /// The directory to create.
    path: PathBuf,
    /// Create missing parents too, and accept an existing directory.
    recursive: bool,
}

impl Op for CreateDir {
    type Output = io::Result<()>;

    fn run_blocking(self) -> Self::Output {
        if self.recursive {
            std::fs::create_dir_all(self.path)
        } else {
            std::fs::create_dir(self.path)
        }
    }
}

/// Removes the file (or symbolic link) at `path`. Like [`std::fs::remove_file`].
///
/// ```
/// # let path = std::env::temp_dir().join(format!("weft-doc-fs-remove-file-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::write(&path, b"short-lived").await?;
///     weft::fs::remove_file(&path).await?;
///     let gone = weft::fs::metadata(&path).await.unwrap_err();
///     assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    op::run(RemoveFile(path.as_ref().to_owned())).await
}

/// Unlinks a file.
struct RemoveFile(PathBuf);

impl Op for RemoveFile {
    type Output = io::Result<()>;

    fn run_blocking(self) -> Self::Output {
        std::fs::remove_file(self.0)
    }
}

/// Removes the empty directory at `path`. Like [`std::fs::remove_dir`]; use [`remove_dir_all`] for a tree.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-remove-dir-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir(&dir).await?;
///     weft::fs::remove_dir(&dir).await?;
///     assert!(!weft::fs::try_exists(&dir).await?);
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    op::run(RemoveDir(path.as_ref().to_owned())).await
}

/// Removes an empty directory.
struct RemoveDir(PathBuf);

impl Op for RemoveDir {
    type Output = io::Result<()>;

    fn run_blocking(self) -> Self::Output {
        std::fs::remove_dir(self.0)
    }
}

/// Removes the directory at `path` and everything in it, without following symbolic links. Like
/// [`std::fs::remove_dir_all`].
///
/// ```
/// # let root = std::env::temp_dir().join(format!("weft-doc-fs-remove-dir-all-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir_all(root.join("nested/deeper")).await?;
///     weft::fs::write(root.join("nested/file.txt"), b"data").await?;
///     weft::fs::remove_dir_all(&root).await?;
///     assert!(!weft::fs::try_exists(&root).await?);
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    op::run(RemoveDirAll(path.as_ref().to_owned())).await
}

/// Removes a directory tree.
struct RemoveDirAll(PathBuf);

impl Op for RemoveDirAll {
    type Output = io::Result<()>;

    fn run_blocking(self) -> Self::Output {
        std::fs::remove_dir_all(self.0)
    }
}

/// Renames `from` to `to`, replacing `to` if it is a file. Like [`std::fs::rename`]: both must be on the
/// same file system.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-rename-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir_all(&dir).await?;
///     weft::fs::write(dir.join("draft.txt"), b"text").await?;
///     weft::fs::rename(dir.join("draft.txt"), dir.join("final.txt")).await?;
///     assert_eq!(weft::fs::read(dir.join("final.txt")).await?, b"text");
///     assert!(!weft::fs::try_exists(dir.join("draft.txt")).await?);
/// #   weft::fs::remove_dir_all(&dir).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    op::run(Rename {
        from: from.as_ref().to_owned(),
        to: to.as_ref().to_owned(),
    })
    .await
}

/// Renames a path.
struct Rename {
    /// The current name.
    from: PathBuf,
    /// The new name.
    to: PathBuf,
}

impl Op for Rename {
    type Output = io::Result<()>;

    fn run_blocking(self) -> Self::Output {
        std::fs::rename(self.from, self.to)
    }
}

/// Copies the contents and permissions of the file `from` to the file `to`, replacing what `to` held, and
/// returns the number of bytes copied. Like [`std::fs::copy`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-copy-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir_all(&dir).await?;
///     weft::fs::write(dir.join("original"), b"twice").await?;
///     let copied = weft::fs::copy(dir.join("original"), dir.join("copy")).await?;
///     assert_eq!(copied, 5);
///     assert_eq!(weft::fs::read(dir.join("copy")).await?, b"twice");
/// #   weft::fs::remove_dir_all(&dir).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    op::run(Copy {
        from: from.as_ref().to_owned(),
        to: to.as_ref().to_owned(),
    })
    .await
}

/// Copies a file.
struct Copy {
    /// The source.
    from: PathBuf,
    /// The destination.
    to: PathBuf,
}

impl Op for Copy {
    type Output = io::Result<u64>;

    fn run_blocking(self) -> Self::Output {
        std::fs::copy(self.from, self.to)
    }
}

/// The absolute form of `path`, with every `.`, `..` and symbolic link resolved; the path must exist. Like
/// [`std::fs::canonicalize`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-canonicalize-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir_all(dir.join("sub")).await?;
///     let roundabout = dir.join("sub/../sub/.");
///     let direct = weft::fs::canonicalize(dir.join("sub")).await?;
///     assert_eq!(weft::fs::canonicalize(&roundabout).await?, direct);
///     assert!(direct.is_absolute());
/// #   weft::fs::remove_dir_all(&dir).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    op::run(Canonicalize(path.as_ref().to_owned())).await
}

/// Resolves a path (`realpath`).
struct Canonicalize(PathBuf);

impl Op for Canonicalize {
    type Output = io::Result<PathBuf>;

    fn run_blocking(self) -> Self::Output {
        std::fs::canonicalize(self.0)
    }
}
