//! I/O traits and helpers: the `futures-io` traits every weft stream implements, their extension traits, and
//! buffering and copying from `futures-util`. [`AsyncReadExt`] is weft's own, futures-util's without the by-value
//! `split`, so that `stream.split()` means a weft stream's borrowed halves.
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

mod read_ext;

pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
pub use futures_util::io::{
    copy, copy_buf, empty, repeat, sink, AsyncBufReadExt, AsyncSeekExt, AsyncWriteExt, BufReader,
    BufWriter, Chain, Cursor, Empty, Read, ReadExact, ReadHalf, ReadToEnd, ReadToString,
    ReadVectored, Repeat, Sink, Take, WriteHalf,
};
pub use read_ext::AsyncReadExt;
pub use std::io::{Error, ErrorKind, IoSlice, IoSliceMut, Result, SeekFrom};
