//! Whole-file reads and writes (`fs::read`, `fs::read_to_string`, `fs::write`) on the loop's io_uring: an
//! `openat`, then reads into the growing result (or one write of every byte), each a ring operation. On epoll
//! or outside a loop, the functions run std's own on the pool instead (`functions.rs`).
//!
//! Dropping the future stops a read between operations (the read in flight is cancelled); a write already
//! submitted is seen through by the driver (`uring.rs` invariant 7), so the file holds either the old
//! contents' truncation or every byte, as with std on a pool thread whose caller went away.

use std::fs::File as StdFile;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use super::op::{self, Op};
use super::ring::RingDone;
use super::OpenOptions;
use crate::driver::FileOp;

/// The first read asks for this much; each next one for as much as was read so far (so a large file takes a
/// logarithmic number of operations), at most [`LARGEST_READ`].
const FIRST_READ: usize = 16 * 1024;

/// The most one read asks for.
const LARGEST_READ: usize = 16 * 1024 * 1024;

/// Reads the whole file at `path` through the ring.
pub(super) async fn read(path: &Path) -> io::Result<Vec<u8>> {
    let file = Arc::new(OpenOptions::new().read(true).open_std(path).await?);
    let mut bytes = Vec::new();
    loop {
        let len = bytes.len().clamp(FIRST_READ, LARGEST_READ);
        let (read, back) = op::submit(ReadInto {
            file: file.clone(),
            bytes,
            len,
        })
        .await?;
        bytes = back;
        match read {
            Ok(0) => return Ok(bytes),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Creates or truncates the file at `path` and writes `contents` to it through the ring.
pub(super) async fn write(path: &Path, contents: Vec<u8>) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open_std(path)
        .await?;
    op::run(WriteAll {
        file: Arc::new(file),
        contents,
    })
    .await
}

/// Reads up to `len` bytes at the cursor, appended to `bytes`.
struct ReadInto {
    /// The file.
    file: Arc<StdFile>,
    /// The result so far.
    bytes: Vec<u8>,
    /// The most to read.
    len: usize,
}

impl Op for ReadInto {
    type Output = (io::Result<usize>, Vec<u8>);

    fn run_blocking(mut self) -> Self::Output {
        let result = (&*self.file)
            .take(self.len as u64)
            .read_to_end(&mut self.bytes);
        (result, self.bytes)
    }

    fn ring_form(&mut self) -> Option<FileOp> {
        Some(FileOp::Read {
            file: self.file.clone(),
            buf: std::mem::take(&mut self.bytes),
            len: self.len,
        })
    }

    fn ring_done(self, (result, bytes, _): RingDone) -> Self::Output {
        (result, bytes)
    }
}

/// Writes every byte of `contents` at the cursor.
struct WriteAll {
    /// The file.
    file: Arc<StdFile>,
    /// The bytes.
    contents: Vec<u8>,
}

impl Op for WriteAll {
    type Output = io::Result<()>;

    fn run_blocking(self) -> Self::Output {
        (&*self.file).write_all(&self.contents)
    }

    fn ring_form(&mut self) -> Option<FileOp> {
        Some(FileOp::Write {
            file: self.file.clone(),
            buf: std::mem::take(&mut self.contents),
        })
    }

    fn ring_done(self, (result, bytes, _): RingDone) -> Self::Output {
        match result? {
            written if written < bytes.len() => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "failed to write whole buffer",
            )),
            _ => Ok(()),
        }
    }
}
