//! The buffer a [`File`](super::File) lends to each operation: bytes read ahead and not yet handed out, or
//! bytes queued for writing.

use std::fs::File as StdFile;
use std::io::{self, Read, Write};

/// Bytes moving between a `File` and the OS. Between operations it holds only read-ahead bytes; `pos` marks how
/// many of those the reader has taken.
#[derive(Debug, Default)]
pub(super) struct Buf {
    /// The bytes; `bytes[pos..]` are not handed out yet.
    bytes: Vec<u8>,
    /// How many of `bytes` the reader has taken.
    pos: usize,
}

impl Buf {
    /// True if no byte is waiting to be read.
    pub(super) fn is_empty(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// How many read-ahead bytes are waiting: the OS cursor is this far ahead of the reader.
    pub(super) fn unread(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Copies waiting bytes into `dst` and returns how many.
    pub(super) fn copy_to(&mut self, dst: &mut [u8]) -> usize {
        let n = self.unread().min(dst.len());
        dst[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        n
    }

    /// Forgets waiting bytes and returns how many there were, for the caller to seek back over.
    pub(super) fn discard_unread(&mut self) -> usize {
        let unread = self.unread();
        self.clear();
        unread
    }

    /// Takes up to `max` bytes of `src` to write; the buffer must be empty. Returns how many.
    pub(super) fn copy_from(&mut self, src: &[u8], max: usize) -> usize {
        debug_assert!(
            self.is_empty(),
            "read-ahead bytes must be discarded before a write"
        );
        self.clear();
        let n = src.len().min(max);
        self.bytes.extend_from_slice(&src[..n]);
        n
    }

    /// Reads up to `len` bytes from `file` into the (empty) buffer with one `read` call, retried only if
    /// interrupted. Returns how many it read; 0 means end of file.
    pub(super) fn read_from(&mut self, mut file: &StdFile, len: usize) -> io::Result<usize> {
        self.clear();
        self.bytes.resize(len, 0);
        let result = loop {
            match file.read(&mut self.bytes) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.bytes.truncate(*result.as_ref().unwrap_or(&0));
        result
    }

    /// Writes every byte in the buffer to `file`, then empties it (even on error: the bytes are not retried).
    pub(super) fn write_to(&mut self, mut file: &StdFile) -> io::Result<()> {
        let result = file.write_all(&self.bytes[self.pos..]);
        self.clear();
        result
    }

    /// Lends the allocation, emptied, for the ring to read into (the buffer is empty meanwhile).
    pub(super) fn lend_for_read(&mut self) -> Vec<u8> {
        self.clear();
        std::mem::take(&mut self.bytes)
    }

    /// Lends the queued bytes for the ring to write (the buffer is empty meanwhile).
    pub(super) fn lend_for_write(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.drain(..self.pos);
        self.pos = 0;
        bytes
    }

    /// Takes back a lent allocation: the bytes it holds are read ahead (after a write, it holds none).
    pub(super) fn give_back(&mut self, bytes: Vec<u8>) {
        self.bytes = bytes;
        self.pos = 0;
    }

    /// Empties the buffer, keeping its allocation.
    fn clear(&mut self) {
        self.bytes.clear();
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::Buf;

    #[test]
    fn copies_out_in_pieces_then_reports_nothing_unread() {
        let mut buf = Buf::default();
        assert_eq!(buf.copy_from(b"abcdef", 4), 4);
        let mut dst = [0; 3];
        assert_eq!(buf.copy_to(&mut dst), 3);
        assert_eq!(&dst, b"abc");
        assert_eq!(buf.unread(), 1);
        assert_eq!(buf.copy_to(&mut dst), 1);
        assert_eq!(dst[0], b'd');
        assert!(buf.is_empty());
        assert_eq!(buf.copy_to(&mut dst), 0);
    }

    #[test]
    fn discarding_reports_how_far_to_seek_back() {
        let mut buf = Buf::default();
        buf.copy_from(b"0123456789", 64);
        buf.copy_to(&mut [0; 4]);
        assert_eq!(buf.discard_unread(), 6);
        assert!(buf.is_empty());
        assert_eq!(buf.discard_unread(), 0);
    }
}
