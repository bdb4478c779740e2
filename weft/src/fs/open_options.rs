//! [`OpenOptions`]: how to open a file (read, write, append, create, ...), then [`open`](OpenOptions::open) it
//! without blocking the loop.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::op::{self, Op};
use super::ring::RingDone;
use super::File;
use crate::driver::FileOp;

/// Options for opening a file, set with chained calls, then [`open`](OpenOptions::open). The same options as
/// [`std::fs::OpenOptions`], whose documentation describes how they combine; only `open` is async.
///
/// ```
/// use weft::fs::OpenOptions;
/// use weft::io::AsyncWriteExt;
///
/// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-{}", std::process::id()));
/// weft::run(async {
///     let mut log = OpenOptions::new().create(true).append(true).open(&path).await?;
///     log.write_all(b"one\n").await?;
///     log.flush().await?;
///     let mut log = OpenOptions::new().append(true).open(&path).await?;
///     log.write_all(b"two\n").await?;
///     log.flush().await?;
///     assert_eq!(weft::fs::read_to_string(&path).await?, "one\ntwo\n");
/// #   weft::fs::remove_file(&path).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// The options themselves; std knows how to open with them.
    std: std::fs::OpenOptions,
    /// The same options, readable, to open with `openat` on io_uring; `None` for options made by std (which
    /// cannot be read back): those open on the blocking pool.
    flags: Option<Flags>,
}

/// What [`OpenOptions`] were told, to turn into `open(2)` flags as std does.
#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    /// `read`.
    read: bool,
    /// `write`.
    write: bool,
    /// `append`.
    append: bool,
    /// `truncate`.
    truncate: bool,
    /// `create`.
    create: bool,
    /// `create_new`.
    create_new: bool,
    /// `mode`, if set (std's default is `0o666`).
    mode: Option<u32>,
    /// `custom_flags`.
    custom: i32,
}

impl Flags {
    /// The `open(2)` flags and mode, as std computes them; `None` for a combination std refuses (it opens on
    /// the pool then, so the error is std's own).
    fn to_open(self) -> Option<(i32, u32)> {
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => return None,
        };
        let creation = match (
            self.write || self.append,
            self.truncate,
            self.create,
            self.create_new,
        ) {
            (false, false, false, false) => 0,
            (false, ..) => return None,
            (true, true, _, false) if self.append => return None,
            (true, _, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, false, false, false) => 0,
            (true, false, true, false) => libc::O_CREAT,
            (true, true, false, false) => libc::O_TRUNC,
            (true, true, true, false) => libc::O_CREAT | libc::O_TRUNC,
        };
        let custom = self.custom & !libc::O_ACCMODE;
        Some((access | creation | custom, self.mode.unwrap_or(0o666)))
    }
}

impl OpenOptions {
    /// Options with everything off: set at least one of `read`, `write` or `append` before opening.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-new-{}", std::process::id()));
    /// weft::run(async {
    ///     let error = weft::fs::OpenOptions::new().open(&path).await.unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput); // no access mode chosen
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions {
            std: std::fs::OpenOptions::new(),
            flags: Some(Flags::default()),
        }
    }

    /// Open for reading.
    ///
    /// ```
    /// use weft::io::AsyncReadExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-read-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::write(&path, b"readable").await?;
    ///     let mut file = weft::fs::OpenOptions::new().read(true).open(&path).await?;
    ///     let mut text = String::new();
    ///     file.read_to_string(&mut text).await?;
    ///     assert_eq!(text, "readable");
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.std.read(read);
        if let Some(flags) = &mut self.flags {
            flags.read = read;
        }
        self
    }

    /// Open for writing, from the start of the file (overwriting in place unless `truncate` or `append`).
    ///
    /// ```
    /// use weft::io::AsyncWriteExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-write-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::write(&path, b"hello world").await?;
    ///     let mut file = weft::fs::OpenOptions::new().write(true).open(&path).await?;
    ///     file.write_all(b"HELLO").await?;
    ///     file.flush().await?;
    ///     assert_eq!(weft::fs::read(&path).await?, b"HELLO world");
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.std.write(write);
        if let Some(flags) = &mut self.flags {
            flags.write = write;
        }
        self
    }

    /// Open for appending: every write goes to the end of the file. Implies write access.
    ///
    /// ```
    /// use weft::io::AsyncWriteExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-append-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::write(&path, b"start").await?;
    ///     let mut file = weft::fs::OpenOptions::new().append(true).open(&path).await?;
    ///     file.write_all(b"+end").await?;
    ///     file.flush().await?;
    ///     assert_eq!(weft::fs::read(&path).await?, b"start+end");
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.std.append(append);
        if let Some(flags) = &mut self.flags {
            flags.append = append;
        }
        self
    }

    /// Cut the file to length 0 when opening it. Needs write access.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-truncate-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::write(&path, b"old contents").await?;
    ///     let _file = weft::fs::OpenOptions::new().write(true).truncate(true).open(&path).await?;
    ///     assert_eq!(weft::fs::metadata(&path).await?.len(), 0);
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.std.truncate(truncate);
        if let Some(flags) = &mut self.flags {
            flags.truncate = truncate;
        }
        self
    }

    /// Create the file if it does not exist. Needs write or append access.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-create-{}", std::process::id()));
    /// weft::run(async {
    ///     let _file = weft::fs::OpenOptions::new().write(true).create(true).open(&path).await?;
    ///     assert!(weft::fs::try_exists(&path).await?);
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.std.create(create);
        if let Some(flags) = &mut self.flags {
            flags.create = create;
        }
        self
    }

    /// Create the file, failing with [`AlreadyExists`](io::ErrorKind::AlreadyExists) if it exists (atomically:
    /// no other process can create it in between). Needs write or append access; `create` and `truncate` are
    /// then ignored.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-create-new-{}", std::process::id()));
    /// weft::run(async {
    ///     let mut options = weft::fs::OpenOptions::new();
    ///     options.write(true).create_new(true);
    ///     let _first = options.open(&path).await?;
    ///     let second = options.open(&path).await.unwrap_err();
    ///     assert_eq!(second.kind(), std::io::ErrorKind::AlreadyExists);
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.std.create_new(create_new);
        if let Some(flags) = &mut self.flags {
            flags.create_new = create_new;
        }
        self
    }

    /// The permission bits of a file this call creates (before the process umask applies); `0o666` unless set.
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-mode-{}", std::process::id()));
    /// weft::run(async {
    ///     let _file = weft::fs::OpenOptions::new().write(true).create(true).mode(0o600).open(&path).await?;
    ///     let mode = weft::fs::metadata(&path).await?.permissions().mode();
    ///     assert_eq!(mode & 0o777, 0o600);
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.std.mode(mode);
        if let Some(flags) = &mut self.flags {
            flags.mode = Some(mode);
        }
        self
    }

    /// Extra `open(2)` flags (`libc::O_*`), or-ed with the ones the other options set. Access-mode bits are
    /// ignored: use `read`, `write` and `append`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-flags-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::write(&path, b"").await?;
    ///     const O_NOFOLLOW: i32 = 0o400000; // libc::O_NOFOLLOW on Linux
    ///     let _file = weft::fs::OpenOptions::new().read(true).custom_flags(O_NOFOLLOW).open(&path).await?;
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.std.custom_flags(flags);
        if let Some(mirror) = &mut self.flags {
            mirror.custom = flags;
        }
        self
    }

    /// Opens the file at `path` with these options, on the blocking pool.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-open-options-open-{}", std::process::id()));
    /// weft::run(async {
    ///     let missing = weft::fs::OpenOptions::new().read(true).open(&path).await.unwrap_err();
    ///     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        Ok(File::from_std(self.open_std(path.as_ref()).await?))
    }

    /// Opens `path` as a std file (on the loop's ring where it runs one, else on the pool).
    pub(super) async fn open_std(&self, path: &Path) -> io::Result<std::fs::File> {
        op::run(Open {
            path: path.to_owned(),
            options: self.std.clone(),
            flags: self.flags,
        })
        .await
    }
}

impl Default for OpenOptions {
    /// The same as [`OpenOptions::new`]: everything off.
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    /// Wraps options set up with std.
    fn from(std: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions { std, flags: None }
    }
}

/// Opens a file (`openat`).
struct Open {
    /// The file to open.
    path: PathBuf,
    /// How.
    options: std::fs::OpenOptions,
    /// How, readable (for `openat` on io_uring).
    flags: Option<Flags>,
}

impl Op for Open {
    type Output = io::Result<std::fs::File>;

    fn run_blocking(self) -> Self::Output {
        self.options.open(self.path)
    }

    /// `openat` with the flags std would use; options std refuses, or a path with a NUL byte, open on the
    /// pool for std's own error.
    fn ring_form(&mut self) -> Option<FileOp> {
        let (flags, mode) = self.flags?.to_open()?;
        let path = CString::new(self.path.as_os_str().as_bytes()).ok()?;
        Some(FileOp::Open { path, flags, mode })
    }

    fn ring_done(self, (result, _, opened): RingDone) -> Self::Output {
        result?;
        let fd = opened
            .ok_or_else(|| io::Error::other("weft: openat completed without a descriptor"))?;
        Ok(std::fs::File::from(fd))
    }
}
