//! Keys for `top`: the terminal in raw mode (no echo, no line buffering, Ctrl-C read as a key) while `top` runs,
//! restored on every way out — return, error or panic — by [`RawMode`]'s drop; lines when stdin is not a
//! terminal (a pipe, a test).
//!
//! References: termios(3), poll(2).

use std::time::{Duration, Instant};

/// Ctrl-C, as read in raw mode.
const CTRL_C: u8 = 3;

/// The terminal's settings before raw mode; put back when dropped.
struct RawMode {
    /// The settings to restore.
    saved: libc::termios,
}

impl RawMode {
    /// Puts the terminal on stdin in raw mode.
    fn enable() -> Result<RawMode, String> {
        // SAFETY: termios is plain data; all-zero is a valid value for tcgetattr to overwrite.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid pointer to a termios, as tcgetattr(3) requires.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } == -1 {
            return Err(format!(
                "cannot read the terminal's settings: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut raw = saved;
        // Keys one by one, not echoed, Ctrl-C as a byte (so that we restore the terminal before leaving).
        // Output processing stays on, so "\n" still starts a new line.
        raw.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: fd 0 and a valid termios, as tcsetattr(3) requires.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) } == -1 {
            return Err(format!(
                "cannot put the terminal in raw mode: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: fd 0 and the termios tcgetattr filled in.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved) };
    }
}

/// Whether `fd` is a terminal.
pub fn is_terminal(fd: i32) -> bool {
    // SAFETY: isatty only looks at the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

/// What `top` reads its keys from.
pub struct Keys {
    /// Raw mode, while stdin is a terminal.
    _raw: Option<RawMode>,
    /// Stdin reached its end: only the clock is left.
    ended: bool,
    /// A line read so far (stdin not a terminal).
    line: Vec<u8>,
}

impl Keys {
    /// Starts reading keys: raw mode if stdin is a terminal.
    pub fn open() -> Result<Keys, String> {
        let raw = if is_terminal(libc::STDIN_FILENO) {
            Some(RawMode::enable()?)
        } else {
            None
        };
        Ok(Keys {
            _raw: raw,
            ended: false,
            line: Vec::new(),
        })
    }

    /// Waits up to `timeout`; true if the user asked to quit (q, Q or Ctrl-C on a terminal; a line "q" or
    /// Ctrl-C on a pipe).
    pub fn wait_for_quit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            if self.ended {
                std::thread::sleep(left);
                return false;
            }
            let mut poll = libc::pollfd {
                fd: libc::STDIN_FILENO,
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
            // SAFETY: one valid pollfd, as poll(2) requires.
            let ready = unsafe { libc::poll(&mut poll, 1, ms) };
            if ready <= 0 {
                continue; // timed out (the loop sees the deadline) or interrupted
            }
            let mut buffer = [0u8; 256];
            // SAFETY: reads at most buffer.len() bytes into the buffer.
            let read =
                unsafe { libc::read(libc::STDIN_FILENO, buffer.as_mut_ptr().cast(), buffer.len()) };
            let Ok(read) = usize::try_from(read) else {
                continue; // EINTR and the like: poll again
            };
            if read == 0 {
                self.ended = true;
                if self.wants_quit_line() {
                    return true;
                }
                continue;
            }
            for &byte in &buffer[..read] {
                if byte == CTRL_C || (self._raw.is_some() && matches!(byte, b'q' | b'Q')) {
                    return true;
                }
                if byte == b'\n' {
                    if self.wants_quit_line() {
                        return true;
                    }
                    self.line.clear();
                } else if self.line.len() < 64 {
                    self.line.push(byte);
                }
            }
        }
    }

    /// Whether the line read so far says to quit.
    fn wants_quit_line(&self) -> bool {
        matches!(
            std::str::from_utf8(&self.line).map(str::trim),
            Ok("q" | "Q" | "quit")
        )
    }
}
