//! Files and directories, without blocking the loop: the functions of [`std::fs`] as `async fn`s, and a
//! [`File`] with the `futures-io` traits.
//!
//! The kernel has no readiness notification for regular files (epoll calls them always ready, then a read
//! blocks on the disk). So on a loop that runs the io_uring driver, reads, writes, opens, `fsync`s and
//! metadata (`statx`) (and `read`, `read_to_string`, `write`) are io_uring operations the loop submits and
//! completes itself; every other operation, and every operation on epoll or outside a loop, runs on the
//! blocking pool. Either way the calling task waits for it like for any other buzzer, and the API is the same.
//! Every operation is a value behind one internal trait (`op::Op`), which says whether it has an io_uring form.
//!
//! Cancellation: dropping the future of an operation does not undo it — a write is completed, never half-done
//! by the drop (on io_uring it is never cancelled); a read or an open still waiting on io_uring is cancelled,
//! and its result, if it came anyway, is dropped (an opened descriptor closed).
//!
//! On io_uring, a file operation in flight belongs to the loop that started it: a [`File`] with one in flight
//! must be awaited on that loop (moving it to another loop or runtime then panics, saying so). A task stays on
//! its loop, so this only matters when a file is handed to another loop mid-operation.
//!
//! ```
//! use weft::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # let dir = std::env::temp_dir().join(format!("weft-doc-fs-{}", std::process::id()));
//! weft::run(async {
//!     weft::fs::create_dir_all(&dir).await?;
//!     weft::fs::write(dir.join("greeting.txt"), "hello").await?;
//!
//!     let mut file = weft::fs::OpenOptions::new().append(true).open(dir.join("greeting.txt")).await?;
//!     file.write_all(b", world").await?;
//!     file.flush().await?; // writes are queued; flush waits for them
//!
//!     let mut text = String::new();
//!     weft::fs::File::open(dir.join("greeting.txt")).await?.read_to_string(&mut text).await?;
//!     assert_eq!(text, "hello, world");
//! #   weft::fs::remove_dir_all(&dir).await?;
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! Paths are copied into the operation, so a borrowed path need not outlive the call. Errors are the
//! `io::Error`s std returns; an operation that panicked (which std's do not) reads as an error of kind
//! [`Other`](std::io::ErrorKind::Other).

#![forbid(unsafe_code)]

mod buf;
mod file;
mod functions;
mod metadata;
mod op;
mod open_options;
mod read_dir;
mod ring;
mod whole;

pub use file::File;
pub use functions::{
    canonicalize, copy, create_dir, create_dir_all, metadata, read, read_to_string, remove_dir,
    remove_dir_all, remove_file, rename, symlink_metadata, try_exists, write,
};
pub use metadata::{FileType, Metadata};
pub use open_options::OpenOptions;
pub use read_dir::{read_dir, DirEntry, ReadDir};
pub use std::fs::Permissions;
