//! Bookmark labels: what a parked task waits on, packed in 32 bits.
//!
//! A weft leaf future (sleep, a socket read, a channel receive, a lock, ...) captures `Location::caller()` when
//! it is created and, when it returns `Pending`, leaves that location and a packed [`Label`] (an operation and a
//! small argument: a file descriptor, a duration, a task id) for the loop, which files it in the header of the
//! task it polled ([`stats`](super::stats)) — one thread-local store on the `Pending` path, nothing on the `Ready`
//! path. Labels are formatted only when somebody reads them (a dump, a slow-poll report), so the hot path never
//! builds a string. They live here, beside the task header that keeps them, so that leaf futures leave bookmarks
//! without naming the x-ray layer, which only reads them.

#![forbid(unsafe_code)]

use std::time::Duration;

/// What a task waits on: the operation, which names the label and says how to read its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Op {
    /// No label (an empty slot).
    None = 0,
    /// `time::sleep`, `sleep_until`, `Sleep::reset`: argument = the duration.
    Sleep,
    /// `time::timeout`: argument = the duration.
    Timeout,
    /// `Interval::tick`: argument = the period.
    Interval,
    /// `task::yield_now`.
    YieldNow,
    /// Awaiting a `JoinHandle`: argument = the task's id.
    Join,
    /// Awaiting the `JoinHandle` of `spawn_blocking` work: argument = its task id.
    JoinBlocking,
    /// `TcpListener::accept`: argument = fd.
    TcpAccept,
    /// `TcpStream::connect`: argument = fd.
    TcpConnect,
    /// A read on a TCP stream or its read half: argument = fd.
    TcpRead,
    /// A write on a TCP stream or its write half: argument = fd.
    TcpWrite,
    /// `UdpSocket` receive: argument = fd.
    UdpRecv,
    /// `UdpSocket` send: argument = fd.
    UdpSend,
    /// `UnixListener::accept`: argument = fd.
    UnixAccept,
    /// `UnixStream::connect`: argument = fd.
    UnixConnect,
    /// A read on a Unix stream or its read half: argument = fd.
    UnixRead,
    /// A write on a Unix stream or its write half: argument = fd.
    UnixWrite,
    /// `UnixDatagram` receive: argument = fd.
    UnixDatagramRecv,
    /// `UnixDatagram` send: argument = fd.
    UnixDatagramSend,
    /// Waiting for readiness (`readable`/`writable`): argument = fd.
    Ready,
    /// `mpsc::Sender::send` (the channel is full).
    MpscSend,
    /// `mpsc::Receiver::recv`.
    MpscRecv,
    /// Awaiting a `oneshot::Receiver`.
    OneshotRecv,
    /// `oneshot::Sender::closed`.
    OneshotClosed,
    /// `mpsc::Sender::closed` (also the unbounded sender's).
    MpscClosed,
    /// `watch::Sender::closed`.
    WatchClosed,
    /// `watch::Receiver::changed`.
    WatchChanged,
    /// `broadcast::Receiver::recv`.
    BroadcastRecv,
    /// `Mutex::lock`.
    MutexLock,
    /// `RwLock::read`.
    RwLockRead,
    /// `RwLock::write`.
    RwLockWrite,
    /// `Semaphore::acquire`.
    SemaphoreAcquire,
    /// `Notify::notified`.
    Notified,
    /// `Barrier::wait`.
    BarrierWait,
    /// A file-system operation running on the blocking pool.
    Fs,
    /// `TaskGroup::join_next`: argument = the group's key (not shown), which the loop also keeps for each child
    /// (`Core::join_group`), so that a dump can tell whom the children are awaited by.
    GroupJoin,
    /// `CancellationToken::cancelled`.
    Cancelled,
    /// `Signal::recv` (also `ctrl_c`): argument = the signal number.
    SignalRecv,
    /// `Child::wait` (also `kill`, `output`, `status`): argument = the pid.
    ChildWait,
    /// A write to a child's stdin: argument = fd.
    ChildStdinWrite,
    /// A read from a child's stdout: argument = fd.
    ChildStdoutRead,
    /// A read from a child's stderr: argument = fd.
    ChildStderrRead,
    /// `compat::with_tokio`: the future waits on something of tokio's (feature `tokio-bridge`).
    WithTokio,
}

/// How an operation's argument reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    /// No argument.
    None,
    /// A duration (see [`Label::duration`]).
    Duration,
    /// A file descriptor.
    Fd,
    /// A task id.
    Task,
    /// A signal number.
    Signal,
    /// A process id.
    Pid,
}

impl Op {
    /// Every operation, by its number.
    const ALL: [Op; 43] = [
        Op::None,
        Op::Sleep,
        Op::Timeout,
        Op::Interval,
        Op::YieldNow,
        Op::Join,
        Op::JoinBlocking,
        Op::TcpAccept,
        Op::TcpConnect,
        Op::TcpRead,
        Op::TcpWrite,
        Op::UdpRecv,
        Op::UdpSend,
        Op::UnixAccept,
        Op::UnixConnect,
        Op::UnixRead,
        Op::UnixWrite,
        Op::UnixDatagramRecv,
        Op::UnixDatagramSend,
        Op::Ready,
        Op::MpscSend,
        Op::MpscRecv,
        Op::OneshotRecv,
        Op::OneshotClosed,
        Op::MpscClosed,
        Op::WatchClosed,
        Op::WatchChanged,
        Op::BroadcastRecv,
        Op::MutexLock,
        Op::RwLockRead,
        Op::RwLockWrite,
        Op::SemaphoreAcquire,
        Op::Notified,
        Op::BarrierWait,
        Op::Fs,
        Op::GroupJoin,
        Op::Cancelled,
        Op::SignalRecv,
        Op::ChildWait,
        Op::ChildStdinWrite,
        Op::ChildStdoutRead,
        Op::ChildStderrRead,
        Op::WithTokio,
    ];

    /// The operation's name (the label's first word) and how its argument reads.
    fn describe(self) -> (&'static str, Arg) {
        match self {
            Op::None => ("", Arg::None),
            Op::Sleep => ("sleep", Arg::Duration),
            Op::Timeout => ("timeout", Arg::Duration),
            Op::Interval => ("Interval::tick", Arg::Duration),
            Op::YieldNow => ("yield_now", Arg::None),
            Op::Join => ("JoinHandle", Arg::Task),
            Op::JoinBlocking => ("spawn_blocking", Arg::Task),
            Op::TcpAccept => ("TcpListener::accept", Arg::Fd),
            Op::TcpConnect => ("TcpStream::connect", Arg::Fd),
            Op::TcpRead => ("TcpStream::read", Arg::Fd),
            Op::TcpWrite => ("TcpStream::write", Arg::Fd),
            Op::UdpRecv => ("UdpSocket::recv", Arg::Fd),
            Op::UdpSend => ("UdpSocket::send", Arg::Fd),
            Op::UnixAccept => ("UnixListener::accept", Arg::Fd),
            Op::UnixConnect => ("UnixStream::connect", Arg::Fd),
            Op::UnixRead => ("UnixStream::read", Arg::Fd),
            Op::UnixWrite => ("UnixStream::write", Arg::Fd),
            Op::UnixDatagramRecv => ("UnixDatagram::recv", Arg::Fd),
            Op::UnixDatagramSend => ("UnixDatagram::send", Arg::Fd),
            Op::Ready => ("ready", Arg::Fd),
            Op::MpscSend => ("mpsc::send", Arg::None),
            Op::MpscRecv => ("mpsc::recv", Arg::None),
            Op::OneshotRecv => ("oneshot::recv", Arg::None),
            Op::OneshotClosed => ("oneshot::closed", Arg::None),
            Op::MpscClosed => ("mpsc::closed", Arg::None),
            Op::WatchClosed => ("watch::closed", Arg::None),
            Op::WatchChanged => ("watch::changed", Arg::None),
            Op::BroadcastRecv => ("broadcast::recv", Arg::None),
            Op::MutexLock => ("Mutex::lock", Arg::None),
            Op::RwLockRead => ("RwLock::read", Arg::None),
            Op::RwLockWrite => ("RwLock::write", Arg::None),
            Op::SemaphoreAcquire => ("Semaphore::acquire", Arg::None),
            Op::Notified => ("Notify::notified", Arg::None),
            Op::BarrierWait => ("Barrier::wait", Arg::None),
            Op::Fs => ("fs", Arg::None),
            Op::GroupJoin => ("TaskGroup::join_next", Arg::None),
            Op::Cancelled => ("CancellationToken::cancelled", Arg::None),
            Op::SignalRecv => ("Signal::recv", Arg::Signal),
            Op::ChildWait => ("Child::wait", Arg::Pid),
            Op::ChildStdinWrite => ("ChildStdin::write", Arg::Fd),
            Op::ChildStdoutRead => ("ChildStdout::read", Arg::Fd),
            Op::ChildStderrRead => ("ChildStderr::read", Arg::Fd),
            Op::WithTokio => ("with_tokio", Arg::None),
        }
    }
}

/// Bits of a label's argument.
const ARG_BITS: u32 = 24;
/// The largest argument; larger values are stored as this and shown as "≥" it.
const ARG_MAX: u32 = (1 << ARG_BITS) - 1;
/// In a duration argument: the rest counts seconds, not milliseconds.
const SECONDS_FLAG: u32 = 1 << (ARG_BITS - 1);

/// What a task waits on, packed in 32 bits: an [`Op`] (8 bits) and its argument (24 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Label(u32);

impl Label {
    /// An operation without an argument.
    pub(crate) const fn plain(op: Op) -> Label {
        Label((op as u32) << ARG_BITS)
    }

    /// An operation on a file descriptor.
    pub(crate) fn fd(op: Op, fd: i32) -> Label {
        Label::with(op, u32::try_from(fd).unwrap_or(ARG_MAX).min(ARG_MAX))
    }

    /// An operation on a task.
    pub(crate) fn task(op: Op, id: crate::cell::Id) -> Label {
        Label::with(
            op,
            u32::try_from(id.as_u64()).unwrap_or(ARG_MAX).min(ARG_MAX),
        )
    }

    /// An operation on a signal (`number`) or a process (a pid), by its number.
    pub(crate) fn number(op: Op, number: u32) -> Label {
        Label::with(op, number.min(ARG_MAX))
    }

    /// A timed operation: milliseconds (rounded up) up to about 2.3 hours, seconds beyond.
    pub(crate) fn duration(op: Op, duration: Duration) -> Label {
        let ms = duration.as_nanos().div_ceil(1_000_000);
        let arg = match u32::try_from(ms) {
            Ok(ms) if ms < SECONDS_FLAG => ms,
            _ => {
                SECONDS_FLAG
                    | u32::try_from(duration.as_secs())
                        .unwrap_or(u32::MAX)
                        .min(SECONDS_FLAG - 1)
            }
        };
        Label::with(op, arg)
    }

    /// Packs `op` and `arg` (at most `ARG_MAX`).
    fn with(op: Op, arg: u32) -> Label {
        Label(((op as u32) << ARG_BITS) | arg)
    }

    /// The operation.
    pub(crate) fn op(self) -> Op {
        Op::ALL
            .get((self.0 >> ARG_BITS) as usize)
            .copied()
            .unwrap_or(Op::None)
    }

    /// The argument, unless it was too large to keep (then it reads "≥" the largest).
    pub(crate) fn argument(self) -> Option<u32> {
        Some(self.0 & ARG_MAX).filter(|&arg| arg != ARG_MAX)
    }

    /// The packed form.
    pub(crate) fn to_bits(self) -> u32 {
        self.0
    }

    /// From the packed form.
    pub(crate) fn from_bits(bits: u32) -> Label {
        Label(bits)
    }

    /// The label as text: "sleep 2.0s", "TcpStream::read fd 7", "mpsc::recv".
    pub(crate) fn text(self) -> String {
        let (name, kind) = self.op().describe();
        let arg = self.0 & ARG_MAX;
        let at_most = if arg == ARG_MAX { "≥" } else { "" };
        match kind {
            Arg::None => name.to_owned(),
            Arg::Fd => format!("{name} fd {at_most}{arg}"),
            Arg::Task => format!("{name} task {at_most}{arg}"),
            Arg::Signal => format!("{name} {}", signal_name(arg)),
            Arg::Pid => format!("{name} pid {at_most}{arg}"),
            Arg::Duration if arg & SECONDS_FLAG != 0 => {
                format!("{name} {}s", arg & !SECONDS_FLAG)
            }
            Arg::Duration => format!("{name} {}", format_ms(arg)),
        }
    }
}

/// A signal as a label shows it: "SIGTERM", or "signal 40" for one without a common name.
fn signal_name(number: u32) -> String {
    let name = match i32::try_from(number).unwrap_or(-1) {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGWINCH => "SIGWINCH",
        _ => return format!("signal {number}"),
    };
    name.to_owned()
}

/// A duration in milliseconds the way a label shows it: "250ms", "2.0s", "90.0s".
fn format_ms(ms: u32) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", f64::from(ms) / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_like_the_operation() {
        assert_eq!(
            Label::duration(Op::Sleep, Duration::from_secs(2)).text(),
            "sleep 2.0s"
        );
        assert_eq!(
            Label::duration(Op::Sleep, Duration::from_millis(250)).text(),
            "sleep 250ms"
        );
        assert_eq!(
            Label::duration(Op::Sleep, Duration::from_micros(10)).text(),
            "sleep 1ms"
        );
        assert_eq!(
            Label::duration(Op::Timeout, Duration::from_secs(90)).text(),
            "timeout 90.0s"
        );
        assert_eq!(
            Label::duration(Op::Sleep, Duration::from_secs(86_400 * 3)).text(),
            "sleep 259200s"
        );
        assert_eq!(Label::fd(Op::TcpRead, 7).text(), "TcpStream::read fd 7");
        assert_eq!(
            Label::fd(Op::TcpRead, i32::MAX).text(),
            "TcpStream::read fd ≥16777215"
        );
        assert_eq!(Label::plain(Op::MpscRecv).text(), "mpsc::recv");
        assert_eq!(
            Label::number(Op::SignalRecv, libc::SIGTERM as u32).text(),
            "Signal::recv SIGTERM"
        );
        assert_eq!(
            Label::number(Op::SignalRecv, 40).text(),
            "Signal::recv signal 40"
        );
        assert_eq!(
            Label::number(Op::ChildWait, 4242).text(),
            "Child::wait pid 4242"
        );
        assert_eq!(Label::plain(Op::MpscRecv).op(), Op::MpscRecv);
        assert_eq!(
            Label::number(Op::GroupJoin, 9).text(),
            "TaskGroup::join_next"
        );
        assert_eq!(Label::number(Op::GroupJoin, 9).argument(), Some(9));
        assert_eq!(Label::fd(Op::TcpRead, i32::MAX).argument(), None);
        for (number, op) in Op::ALL.iter().enumerate() {
            assert_eq!(*op as usize, number, "Op::ALL is in declaration order");
        }
    }
}
