//! [`Metadata`] and [`FileType`]: what `stat` says about a file, the same whether it came from a `statx` on the
//! loop's io_uring or from std on the blocking pool.
//!
//! std's `Metadata` and `FileType` have no public constructor, so an answer the ring wrote cannot become one.
//! These two types have std's methods (and implement std's Unix extension traits), so code written for std's
//! types reads the same; `From<std::fs::Metadata>` and `From<std::fs::FileType>` convert. (monoio and compio
//! made the same choice for the same reason.)
//!
//! # Invariants
//!
//! 1. A `Metadata` holds exactly what `stat(2)` reports, whichever way it was read: `mode` with its type bits,
//!    times as seconds and nanoseconds since the epoch, `dev`/`rdev` as one number (`makedev`), the creation
//!    time only where the file system reports one.
//! 2. A `statx` answer is read field by field at the offsets of `libc::statx`, from a buffer of exactly its
//!    size: no unaligned or out-of-bounds read, no `unsafe`.

use std::ffi::CString;
use std::fmt;
use std::fs::{File as StdFile, Permissions};
use std::io;
use std::mem::{offset_of, size_of};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::ring::RingDone;
use crate::driver::FileOp;

/// What `statx` is asked for: std's `stat` fields and the creation time.
const STATX_MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME;

/// The size of the buffer a ring `statx` writes into (rule 2).
const STATX_LEN: usize = size_of::<libc::statx>();

/// A ring `statx` of `path` with `AT_*` `flags`; `None` if the path has a NUL byte (the pool then gives std's
/// error for it).
pub(super) fn statx_of_path(path: &Path, flags: i32) -> Option<FileOp> {
    Some(FileOp::Stat {
        path: CString::new(path.as_os_str().as_bytes()).ok()?,
        file: None,
        flags,
        mask: STATX_MASK,
        buf: vec![0; STATX_LEN],
    })
}

/// A ring `statx` of the open `file` itself (`AT_EMPTY_PATH`), as `fstat` would.
pub(super) fn statx_of_file(file: Arc<StdFile>) -> FileOp {
    FileOp::Stat {
        path: CString::default(),
        file: Some(file),
        flags: libc::AT_EMPTY_PATH,
        mask: STATX_MASK,
        buf: vec![0; STATX_LEN],
    }
}

/// A point in time as `stat` gives it: seconds since the epoch (negative before it) and nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Timestamp {
    /// Whole seconds since 1970-01-01 UTC.
    sec: i64,
    /// Nanoseconds, 0..1e9.
    nsec: u32,
}

impl Timestamp {
    /// As a `SystemTime`.
    fn to_system_time(self) -> SystemTime {
        let nanos = Duration::from_nanos(u64::from(self.nsec));
        if self.sec >= 0 {
            UNIX_EPOCH + Duration::from_secs(self.sec as u64) + nanos
        } else {
            UNIX_EPOCH - Duration::from_secs(self.sec.unsigned_abs()) + nanos
        }
    }

    /// From a `SystemTime` (std's creation time).
    fn from_system_time(time: SystemTime) -> Timestamp {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp {
                sec: after.as_secs() as i64,
                nsec: after.subsec_nanos(),
            },
            Err(before) => {
                let before = before.duration();
                let (mut sec, mut nsec) = (-(before.as_secs() as i64), before.subsec_nanos());
                if nsec > 0 {
                    sec -= 1;
                    nsec = 1_000_000_000 - nsec;
                }
                Timestamp { sec, nsec }
            }
        }
    }
}

/// Information about a file: its type, size, permissions, owner and times. Returned by
/// [`metadata`](super::metadata), [`symlink_metadata`](super::symlink_metadata),
/// [`File::metadata`](super::File::metadata) and [`DirEntry::metadata`](super::DirEntry::metadata).
///
/// It has the methods of [`std::fs::Metadata`] and implements [`std::os::unix::fs::MetadataExt`] (bring it into
/// scope for `mode()`, `ino()`, `uid()`...). On a loop that runs io_uring it is read with a `statx` on the ring,
/// elsewhere with std on the blocking pool; the values are the same.
///
/// ```
/// use std::os::unix::fs::MetadataExt;
///
/// # let path = std::env::temp_dir().join(format!("weft-doc-fs-metadata-type-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::write(&path, b"twelve bytes").await?;
///     let metadata = weft::fs::metadata(&path).await?;
///     assert!(metadata.is_file() && !metadata.is_dir());
///     assert_eq!(metadata.len(), 12);
///     assert_eq!(metadata.ino(), std::fs::metadata(&path)?.ino());
///     assert_eq!(metadata.modified()?, std::fs::metadata(&path)?.modified()?);
/// #   weft::fs::remove_file(&path).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct Metadata {
    /// Type and permission bits (`st_mode`).
    mode: u32,
    /// Size in bytes.
    len: u64,
    /// Inode number.
    ino: u64,
    /// The device the file lives on.
    dev: u64,
    /// The device a device file stands for.
    rdev: u64,
    /// Hard links.
    nlink: u64,
    /// Owner.
    uid: u32,
    /// Group.
    gid: u32,
    /// Preferred I/O block size.
    blksize: u64,
    /// 512-byte blocks allocated.
    blocks: u64,
    /// Last access.
    accessed: Timestamp,
    /// Last change of the contents.
    modified: Timestamp,
    /// Last change of the inode.
    changed: Timestamp,
    /// Creation, where the file system records it.
    created: Option<Timestamp>,
}

impl Metadata {
    /// The outcome of a ring `statx` ([`statx_of_path`], [`statx_of_file`]): its error, or its answer.
    pub(super) fn from_ring((result, buf, _): RingDone) -> io::Result<Metadata> {
        result.map(|_| Metadata::from_statx_bytes(&buf))
    }

    /// Reads a `statx` answer from the buffer a ring operation filled (rule 2).
    fn from_statx_bytes(buf: &[u8]) -> Metadata {
        assert_eq!(buf.len(), STATX_LEN, "a statx buffer is one libc::statx");
        let bytes = |at: usize, len: usize| &buf[at..at + len];
        let u16_at = |at: usize| u16::from_ne_bytes(bytes(at, 2).try_into().expect("2 bytes"));
        let u32_at = |at: usize| u32::from_ne_bytes(bytes(at, 4).try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_ne_bytes(bytes(at, 8).try_into().expect("8 bytes"));
        let time_at = |at: usize| Timestamp {
            sec: i64::from_ne_bytes(
                bytes(at + offset_of!(libc::statx_timestamp, tv_sec), 8)
                    .try_into()
                    .expect("8 bytes"),
            ),
            nsec: u32_at(at + offset_of!(libc::statx_timestamp, tv_nsec)),
        };
        let device = |major: usize, minor: usize| libc::makedev(u32_at(major), u32_at(minor));
        let mask = u32_at(offset_of!(libc::statx, stx_mask));
        Metadata {
            mode: u32::from(u16_at(offset_of!(libc::statx, stx_mode))),
            len: u64_at(offset_of!(libc::statx, stx_size)),
            ino: u64_at(offset_of!(libc::statx, stx_ino)),
            dev: device(
                offset_of!(libc::statx, stx_dev_major),
                offset_of!(libc::statx, stx_dev_minor),
            ),
            rdev: device(
                offset_of!(libc::statx, stx_rdev_major),
                offset_of!(libc::statx, stx_rdev_minor),
            ),
            nlink: u64::from(u32_at(offset_of!(libc::statx, stx_nlink))),
            uid: u32_at(offset_of!(libc::statx, stx_uid)),
            gid: u32_at(offset_of!(libc::statx, stx_gid)),
            blksize: u64::from(u32_at(offset_of!(libc::statx, stx_blksize))),
            blocks: u64_at(offset_of!(libc::statx, stx_blocks)),
            accessed: time_at(offset_of!(libc::statx, stx_atime)),
            modified: time_at(offset_of!(libc::statx, stx_mtime)),
            changed: time_at(offset_of!(libc::statx, stx_ctime)),
            created: (mask & libc::STATX_BTIME != 0)
                .then(|| time_at(offset_of!(libc::statx, stx_btime))),
        }
    }

    /// The file's type.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-metadata-file-type-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::create_dir_all(&dir).await?;
    ///     assert!(weft::fs::metadata(&dir).await?.file_type().is_dir());
    /// #   weft::fs::remove_dir_all(&dir).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn file_type(&self) -> FileType {
        FileType {
            mode: self.mode & libc::S_IFMT,
        }
    }

    /// True for a directory. Like [`std::fs::Metadata::is_dir`].
    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }

    /// True for a regular file. Like [`std::fs::Metadata::is_file`].
    pub fn is_file(&self) -> bool {
        self.file_type().is_file()
    }

    /// True for a symbolic link (only [`symlink_metadata`](super::symlink_metadata) and
    /// [`DirEntry::metadata`](super::DirEntry::metadata) can see one). Like [`std::fs::Metadata::is_symlink`].
    pub fn is_symlink(&self) -> bool {
        self.file_type().is_symlink()
    }

    /// The size in bytes. Like [`std::fs::Metadata::len`].
    #[allow(clippy::len_without_is_empty)] // std's name; a file's emptiness is `len() == 0`
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The permission bits. Like [`std::fs::Metadata::permissions`].
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// # let path = std::env::temp_dir().join(format!("weft-doc-fs-metadata-permissions-{}", std::process::id()));
    /// weft::run(async {
    ///     weft::fs::write(&path, b"").await?;
    ///     std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))?;
    ///     assert_eq!(weft::fs::metadata(&path).await?.permissions().mode() & 0o777, 0o640);
    /// #   weft::fs::remove_file(&path).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode)
    }

    /// The last change of the contents. Like [`std::fs::Metadata::modified`] (always available on Linux).
    pub fn modified(&self) -> io::Result<SystemTime> {
        Ok(self.modified.to_system_time())
    }

    /// The last access (as the file system records it: see `noatime`, `relatime`). Like
    /// [`std::fs::Metadata::accessed`].
    pub fn accessed(&self) -> io::Result<SystemTime> {
        Ok(self.accessed.to_system_time())
    }

    /// The creation time: an error of kind [`Unsupported`](io::ErrorKind::Unsupported) where the file system
    /// does not record one. Like [`std::fs::Metadata::created`].
    pub fn created(&self) -> io::Result<SystemTime> {
        match self.created {
            Some(created) => Ok(created.to_system_time()),
            None => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "creation time is not available for this file system",
            )),
        }
    }
}

impl From<std::fs::Metadata> for Metadata {
    /// The same information from std's type (for code that has one; weft's functions return this type).
    fn from(std: std::fs::Metadata) -> Metadata {
        let time = |sec: i64, nsec: i64| Timestamp {
            sec,
            nsec: nsec as u32,
        };
        Metadata {
            mode: std.mode(),
            len: std.size(),
            ino: std.ino(),
            dev: std.dev(),
            rdev: std.rdev(),
            nlink: std.nlink(),
            uid: std.uid(),
            gid: std.gid(),
            blksize: std.blksize(),
            blocks: std.blocks(),
            accessed: time(std.atime(), std.atime_nsec()),
            modified: time(std.mtime(), std.mtime_nsec()),
            changed: time(std.ctime(), std.ctime_nsec()),
            created: std.created().ok().map(Timestamp::from_system_time),
        }
    }
}

impl MetadataExt for Metadata {
    fn dev(&self) -> u64 {
        self.dev
    }
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        self.mode
    }
    fn nlink(&self) -> u64 {
        self.nlink
    }
    fn uid(&self) -> u32 {
        self.uid
    }
    fn gid(&self) -> u32 {
        self.gid
    }
    fn rdev(&self) -> u64 {
        self.rdev
    }
    fn size(&self) -> u64 {
        self.len
    }
    fn atime(&self) -> i64 {
        self.accessed.sec
    }
    fn atime_nsec(&self) -> i64 {
        i64::from(self.accessed.nsec)
    }
    fn mtime(&self) -> i64 {
        self.modified.sec
    }
    fn mtime_nsec(&self) -> i64 {
        i64::from(self.modified.nsec)
    }
    fn ctime(&self) -> i64 {
        self.changed.sec
    }
    fn ctime_nsec(&self) -> i64 {
        i64::from(self.changed.nsec)
    }
    fn blksize(&self) -> u64 {
        self.blksize
    }
    fn blocks(&self) -> u64 {
        self.blocks
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("file_type", &self.file_type())
            .field("permissions", &self.permissions())
            .field("len", &self.len)
            .field("modified", &self.modified())
            .field("accessed", &self.accessed())
            .field("created", &self.created())
            .finish_non_exhaustive()
    }
}

/// A file's type: regular file, directory, symbolic link, or (through [`FileTypeExt`]) a device, FIFO or
/// socket. Like [`std::fs::FileType`], whose methods it has; `From<std::fs::FileType>` converts.
///
/// ```
/// use std::os::unix::fs::FileTypeExt;
///
/// # let dir = std::env::temp_dir().join(format!("weft-doc-fs-file-type-{}", std::process::id()));
/// weft::run(async {
///     weft::fs::create_dir_all(&dir).await?;
///     let file_type = weft::fs::metadata(&dir).await?.file_type();
///     assert!(file_type.is_dir() && !file_type.is_file() && !file_type.is_socket());
///     assert_eq!(file_type, weft::fs::FileType::from(std::fs::metadata(&dir)?.file_type()));
/// #   weft::fs::remove_dir_all(&dir).await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileType {
    /// The `S_IFMT` bits of `st_mode`.
    mode: u32,
}

impl FileType {
    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.mode == libc::S_IFDIR
    }

    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.mode == libc::S_IFREG
    }

    /// True for a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.mode == libc::S_IFLNK
    }
}

impl From<std::fs::FileType> for FileType {
    fn from(std: std::fs::FileType) -> FileType {
        let mode = if std.is_dir() {
            libc::S_IFDIR
        } else if std.is_file() {
            libc::S_IFREG
        } else if std.is_symlink() {
            libc::S_IFLNK
        } else if std.is_block_device() {
            libc::S_IFBLK
        } else if std.is_char_device() {
            libc::S_IFCHR
        } else if std.is_fifo() {
            libc::S_IFIFO
        } else if std.is_socket() {
            libc::S_IFSOCK
        } else {
            0
        };
        FileType { mode }
    }
}

impl FileTypeExt for FileType {
    fn is_block_device(&self) -> bool {
        self.mode == libc::S_IFBLK
    }
    fn is_char_device(&self) -> bool {
        self.mode == libc::S_IFCHR
    }
    fn is_fifo(&self) -> bool {
        self.mode == libc::S_IFIFO
    }
    fn is_socket(&self) -> bool {
        self.mode == libc::S_IFSOCK
    }
}

impl fmt::Debug for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.mode {
            libc::S_IFDIR => "directory",
            libc::S_IFREG => "file",
            libc::S_IFLNK => "symlink",
            libc::S_IFBLK => "block device",
            libc::S_IFCHR => "char device",
            libc::S_IFIFO => "fifo",
            libc::S_IFSOCK => "socket",
            _ => "unknown",
        };
        f.debug_tuple("FileType").field(&name).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_system_time_on_both_sides_of_the_epoch() {
        for (sec, nsec) in [(0, 0), (1_700_000_000, 123), (-1, 999_999_999), (-5, 1)] {
            let stamp = Timestamp { sec, nsec };
            assert!(Timestamp::from_system_time(stamp.to_system_time()) == stamp);
        }
    }

    #[test]
    fn a_statx_buffer_is_read_at_libc_offsets_with_the_creation_time_only_where_reported() {
        let mut buf = vec![0u8; STATX_LEN];
        let mut put = |at: usize, bytes: &[u8]| buf[at..at + bytes.len()].copy_from_slice(bytes);
        put(
            offset_of!(libc::statx, stx_mode),
            &((libc::S_IFREG | 0o640) as u16).to_ne_bytes(),
        );
        put(offset_of!(libc::statx, stx_size), &321u64.to_ne_bytes());
        put(offset_of!(libc::statx, stx_dev_major), &8u32.to_ne_bytes());
        put(offset_of!(libc::statx, stx_dev_minor), &3u32.to_ne_bytes());
        let mtime = offset_of!(libc::statx, stx_mtime);
        put(
            mtime + offset_of!(libc::statx_timestamp, tv_sec),
            &(-2i64).to_ne_bytes(),
        );
        put(
            mtime + offset_of!(libc::statx_timestamp, tv_nsec),
            &5u32.to_ne_bytes(),
        );
        let without_btime = Metadata::from_statx_bytes(&buf);
        assert!(without_btime.is_file());
        assert_eq!(without_btime.len(), 321);
        assert_eq!(without_btime.permissions().mode() & 0o777, 0o640);
        assert_eq!(without_btime.dev(), libc::makedev(8, 3));
        assert_eq!((without_btime.mtime(), without_btime.mtime_nsec()), (-2, 5));
        let unsupported = without_btime.created().unwrap_err();
        assert_eq!(unsupported.kind(), io::ErrorKind::Unsupported);

        let mut buf = buf.clone();
        buf[offset_of!(libc::statx, stx_mask)..][..4]
            .copy_from_slice(&libc::STATX_BTIME.to_ne_bytes());
        assert_eq!(
            Metadata::from_statx_bytes(&buf).created().unwrap(),
            UNIX_EPOCH
        );
    }

    #[test]
    #[cfg_attr(miri, ignore)] // a real file: Miri's isolation has no file system
    fn std_metadata_converts_to_the_same_values() {
        let path = std::env::temp_dir().join(format!("weft-metadata-unit-{}", std::process::id()));
        std::fs::write(&path, [1; 321]).unwrap();
        let std = std::fs::metadata(&path).unwrap();
        let ours = Metadata::from(std.clone());
        assert_eq!(
            (ours.len(), ours.ino(), ours.mode()),
            (321, std.ino(), std.mode())
        );
        assert_eq!(ours.modified().unwrap(), std.modified().unwrap());
        assert_eq!(ours.created().ok(), std.created().ok());
        assert_eq!(ours.file_type(), FileType::from(std.file_type()));
        std::fs::remove_file(&path).unwrap();
    }
}
