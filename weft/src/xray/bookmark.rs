//! Bookmarks: where a task is parked — the line that awaited and the [`Label`] its leaf future left (see
//! `task::label`), as the x-ray reports show them.

use std::borrow::Cow;
use std::fmt;
use std::panic::Location;

use crate::cell::Label;

/// Where a task is parked: the line of the user's code that awaited, and what it waits on.
///
/// Every weft leaf future (sleep, timeout, interval, socket operations, channel and lock operations,
/// `JoinHandle`, `yield_now`) leaves one in its task when it returns `Pending`. Read them with
/// [`xray::dump`](crate::xray::dump) or [`Handle::dump`](crate::Handle::dump).
///
/// ```
/// use std::time::Duration;
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let sleeper = weft::spawn(async { weft::time::sleep(Duration::from_secs(2)).await });
///     weft::task::yield_now().await; // the sleeper runs to its bookmark
///     let dump = weft::xray::dump();
///     let task = dump.tasks().iter().find(|task| task.id == sleeper.id()).unwrap();
///     let bookmark = task.bookmark.as_ref().unwrap();
///     assert_eq!(bookmark.label, "sleep 2.0s");
///     assert_eq!(bookmark.location.line(), line!() - 6);
///     assert_eq!(bookmark.to_string(), format!("sleep 2.0s at {}", bookmark.location));
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bookmark {
    /// The line that awaited (captured with `#[track_caller]` when the leaf future was created). For
    /// operations reached through a trait (`AsyncRead::poll_read` called by another library), it is the line
    /// inside weft that served the call; the label still names the operation.
    pub location: &'static Location<'static>,
    /// What the task waits on, the operation's name first: "sleep 2.0s", "TcpStream::read fd 7", "mpsc::recv".
    pub label: Cow<'static, str>,
}

impl Bookmark {
    /// A bookmark from its raw parts.
    pub(crate) fn new(location: &'static Location<'static>, label: Label) -> Bookmark {
        Bookmark {
            location,
            label: Cow::Owned(label.text()),
        }
    }
}

impl fmt::Display for Bookmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.label, self.location)
    }
}
