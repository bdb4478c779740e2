//! I/O traits and helpers: the `futures-io` traits every weft stream implements, their extension traits, and
//! buffering and copying from `futures-util`.
//!
//! ```
//! use weft::io::{AsyncReadExt, AsyncWriteExt};
//! use weft::net::UnixStream;
//!
//! weft::run(async {
//!     let (mut a, mut b) = UnixStream::pair().unwrap();
//!     a.write_all(b"through the traits").await.unwrap();
//!     a.close().await.unwrap(); // shuts down the write side: b reads to EOF
//!     let mut text = String::new();
//!     b.read_to_string(&mut text).await.unwrap();
//!     assert_eq!(text, "through the traits");
//! });
//! ```

#![forbid(unsafe_code)]

pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
pub use futures_util::io::{
    copy, copy_buf, empty, repeat, sink, AsyncBufReadExt, AsyncReadExt, AsyncSeekExt,
    AsyncWriteExt, BufReader, BufWriter, Cursor, Empty, ReadHalf, Repeat, Sink, WriteHalf,
};
pub use std::io::{Error, ErrorKind, IoSlice, IoSliceMut, Result, SeekFrom};
