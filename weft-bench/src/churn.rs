//! The soak's load generator: long-lived connections echoing closed-loop, plus a steady stream of short-lived
//! connections that end in every way a client can end one. Like [`crate::loadgen`] it is built on no runtime
//! under test: one thread, edge-triggered epoll ([`crate::epoll`]), non-blocking std sockets, 127.0.0.1 only.
//!
//! Every byte sent on a connection is a deterministic function of the connection's id and the byte's offset
//! ([`pattern_byte`]), and every byte echoed back is checked against it, so a lost, duplicated, reordered or
//! misrouted byte is caught where it happens.
//!
//! # Invariants
//! 1. A connection's bytes are checked in order: `received <= sent` always, and byte `received` must equal
//!    `pattern_byte(id, received)`. A byte beyond `sent` is corruption.
//! 2. At most `parallel` short-lived connections are open at once, so the server can legitimately hold at most
//!    `conns + parallel` client connections (plus the few it has not yet seen closed).
//! 3. Every loop is bounded: a turn waits at most 10 ms and the run ends at its stop flag or its time limit.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::Rng;
use crate::epoll::{self, Epoll, Events};
use crate::{sys, Result};

/// The size of one echo message on the closed-loop connections.
pub const MESSAGE_LEN: u64 = 64;

/// Reads handled for one connection per event before it goes to the back of the line.
const READS_PER_TURN: usize = 16;

/// Error messages kept for the summary (the count is kept in full).
const ERRORS_KEPT: usize = 8;

/// What the load generator does.
#[derive(Clone, Copy, Debug)]
pub struct ChurnConfig {
    /// Server port on 127.0.0.1.
    pub port: u16,
    /// Long-lived connections, open for the whole run.
    pub conns: usize,
    /// Short-lived connections opened per second.
    pub churn_per_s: u32,
    /// The most short-lived connections open at once (invariant 2).
    pub parallel: usize,
    /// How long an echo may take before it counts as lost.
    pub reply_timeout: Duration,
    /// The run ends by then even if never stopped.
    pub time_limit: Duration,
}

/// How a connection behaves. Short-lived kinds are picked at random, with the shares listed in `Kind::SHORT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Open for the whole run, one 64-byte message in flight at a time.
    Long,
    /// A few echoes, then an orderly close (FIN).
    Polite,
    /// A few echoes, then `shutdown(Write)`; the server must answer with its own close, then we close.
    HalfClose,
    /// A few echoes, then a close with `SO_LINGER` 0 (RST).
    Reset,
    /// One message sent and the connection reset at once, before the echo comes back.
    ResetInFlight,
    /// Connect and close (FIN) without sending anything.
    Silent,
    /// Connect and reset without sending anything.
    SilentReset,
    /// 64–256 KiB streamed both ways at once (the server's writes must wait for our reads), then a close.
    Bulk,
}

impl Kind {
    /// Every short-lived kind with its share in percent.
    const SHORT: [(Kind, u64); 7] = [
        (Kind::Polite, 30),
        (Kind::HalfClose, 15),
        (Kind::Reset, 15),
        (Kind::ResetInFlight, 10),
        (Kind::Silent, 10),
        (Kind::SilentReset, 10),
        (Kind::Bulk, 10),
    ];

    fn pick(rng: &mut Rng) -> Kind {
        let mut roll = rng.up_to(99);
        for (kind, share) in Kind::SHORT {
            if roll < share {
                return kind;
            }
            roll -= share;
        }
        Kind::Polite
    }

    /// Whether the connection sends one message at a time and waits for its echo.
    fn is_closed_loop(self) -> bool {
        !matches!(self, Kind::Bulk)
    }
}

/// What the load generator has seen so far; shared with the sampler, which reads it once a second.
#[derive(Debug, Default)]
pub struct Counters {
    echoes: AtomicU64,
    bytes: AtomicU64,
    opened: AtomicU64,
    finished: AtomicU64,
    errors: AtomicU64,
    corrupt: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

/// A snapshot of [`Counters`]: totals since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientFigures {
    /// 64-byte messages echoed and checked on the closed-loop connections.
    pub echoes: u64,
    /// Bytes echoed and checked, every connection.
    pub bytes: u64,
    /// Short-lived connections opened.
    pub opened: u64,
    /// Short-lived connections that ran their whole course.
    pub finished: u64,
    /// Failures of any kind: corruption, a lost echo, a connection the server broke, a failed connect.
    pub errors: u64,
    /// Of those, wrong or extra bytes.
    pub corrupt: u64,
}

impl Counters {
    /// The totals now.
    pub fn snapshot(&self) -> ClientFigures {
        ClientFigures {
            echoes: self.echoes.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            opened: self.opened.load(Relaxed),
            finished: self.finished.load(Relaxed),
            errors: self.errors.load(Relaxed),
            corrupt: self.corrupt.load(Relaxed),
        }
    }

    /// The first few error messages.
    pub fn first_errors(&self) -> Vec<String> {
        self.first_errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    fn fail(&self, failure: &Failure) {
        self.errors.fetch_add(1, Relaxed);
        if failure.corrupt {
            self.corrupt.fetch_add(1, Relaxed);
        }
        if let Ok(mut kept) = self.first_errors.lock() {
            if kept.len() < ERRORS_KEPT {
                kept.push(failure.what.clone());
            }
        }
    }
}

/// Byte `offset` of connection `id`'s stream: a hash of both, so a shifted or misrouted byte does not match.
pub fn pattern_byte(id: u64, offset: u64) -> u8 {
    let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (offset >> 3);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x >> ((offset & 7) * 8)) as u8
}

fn fill_pattern(id: u64, offset: u64, out: &mut [u8]) {
    for (i, b) in out.iter_mut().enumerate() {
        *b = pattern_byte(id, offset + i as u64);
    }
}

/// Why a connection failed.
#[derive(Debug)]
struct Failure {
    what: String,
    corrupt: bool,
}

impl Failure {
    fn broken(kind: Kind, what: impl std::fmt::Display) -> Failure {
        Failure {
            what: format!("{kind:?} connection: {what}"),
            corrupt: false,
        }
    }
}

/// One open connection (long-lived, or short-lived with its own goal).
struct Conn {
    stream: TcpStream,
    kind: Kind,
    id: u64,
    /// Distinguishes this connection from earlier ones in the same slot (stale epoll tokens); set by
    /// [`Pool::insert`].
    generation: u32,
    /// Bytes written.
    sent: u64,
    /// Bytes to have written for now.
    want: u64,
    /// Bytes echoed and checked (invariant 1).
    received: u64,
    /// Bytes to echo over the connection's life (`u64::MAX` for [`Kind::Long`]).
    goal: u64,
    /// Since when we wait for the server (an echo, or its close); `None` while we owe it nothing.
    waiting_since: Option<Instant>,
    /// [`Kind::HalfClose`]: our side is shut, the server's close is due.
    shut: bool,
}

/// What a connection did with its turn.
enum Step {
    /// Still going.
    Open,
    /// Still going, more to read right away.
    Again,
    /// Ran its course.
    Done,
    /// Failed.
    Failed(Failure),
}

impl Conn {
    fn new(stream: TcpStream, kind: Kind, id: u64, goal: u64) -> Conn {
        let want = if kind.is_closed_loop() {
            MESSAGE_LEN.min(goal)
        } else {
            goal
        };
        Conn {
            stream,
            kind,
            id,
            generation: 0,
            sent: 0,
            want,
            received: 0,
            goal,
            waiting_since: None,
            shut: false,
        }
    }

    /// Reads and checks what the server sent, plans and writes what comes next.
    fn turn(&mut self, scratch: &mut [u8], counters: &Counters, now: Instant) -> Step {
        let mut step = Step::Open;
        let mut got_any = false;
        let mut reads = 0;
        // Bounded by READS_PER_TURN.
        while reads < READS_PER_TURN {
            reads += 1;
            let (buf, expect) = scratch.split_at_mut(scratch.len() / 2);
            let n = match self.stream.read(buf) {
                Ok(0) if self.shut && self.received == self.sent => return Step::Done,
                Ok(0) => {
                    return Step::Failed(Failure::broken(
                        self.kind,
                        format!(
                            "server closed after echoing {} of {} bytes",
                            self.received, self.sent
                        ),
                    ))
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Step::Failed(Failure::broken(self.kind, e)),
            };
            if let Err(f) = self.check(&buf[..n], &mut expect[..n]) {
                return Step::Failed(f);
            }
            got_any = true;
            let before = self.received / MESSAGE_LEN;
            self.received += n as u64;
            counters.bytes.fetch_add(n as u64, Relaxed);
            if self.kind.is_closed_loop() {
                counters
                    .echoes
                    .fetch_add(self.received / MESSAGE_LEN - before, Relaxed);
            }
            if reads == READS_PER_TURN {
                step = Step::Again;
            }
        }
        if got_any {
            // Progress: the wait for what is still owed starts again now.
            self.waiting_since = (self.received < self.sent).then_some(now);
        }
        if self.received == self.sent {
            if self.sent == self.goal {
                match self.kind {
                    Kind::HalfClose if !self.shut => {
                        if let Err(e) = self.stream.shutdown(Shutdown::Write) {
                            return Step::Failed(Failure::broken(self.kind, e));
                        }
                        self.shut = true;
                        self.waiting_since = Some(now);
                    }
                    Kind::HalfClose => {}
                    _ => return Step::Done,
                }
            } else if self.kind.is_closed_loop() && self.sent == self.want {
                self.want = (self.sent + MESSAGE_LEN).min(self.goal);
            }
        }
        if let Err(f) = self.write_due(scratch, now) {
            return Step::Failed(f);
        }
        step
    }

    /// Checks `got`, the next bytes of the echo, against the pattern (invariant 1).
    fn check(&self, got: &[u8], expect: &mut [u8]) -> std::result::Result<(), Failure> {
        let corrupt = |what: String| Failure {
            what: format!("{:?} connection: {what}", self.kind),
            corrupt: true,
        };
        if self.received + got.len() as u64 > self.sent {
            return Err(corrupt(format!(
                "{} bytes back when only {} of {} sent were unanswered",
                got.len(),
                self.sent - self.received,
                self.sent
            )));
        }
        fill_pattern(self.id, self.received, expect);
        if let Some(i) = got.iter().zip(expect.iter()).position(|(a, b)| a != b) {
            return Err(corrupt(format!(
                "wrong byte at offset {} (got {:#04x}, sent {:#04x})",
                self.received + i as u64,
                got[i],
                expect[i]
            )));
        }
        Ok(())
    }

    /// Writes bytes up to `want` until the socket would block.
    fn write_due(&mut self, scratch: &mut [u8], now: Instant) -> std::result::Result<(), Failure> {
        // Bounded: each write makes progress or ends the loop.
        while self.sent < self.want {
            let len = (self.want - self.sent).min(scratch.len() as u64) as usize;
            fill_pattern(self.id, self.sent, &mut scratch[..len]);
            match self.stream.write(&scratch[..len]) {
                Ok(0) => return Err(Failure::broken(self.kind, "write returned 0")),
                Ok(n) => {
                    if self.waiting_since.is_none() {
                        self.waiting_since = Some(now);
                    }
                    self.sent += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::broken(self.kind, e)),
            }
        }
        Ok(())
    }

    /// Closes the connection the way its kind ends.
    fn close(self) {
        if self.kind == Kind::Reset {
            // A failed setsockopt leaves an orderly close, which the server handles the same way.
            let _ = sys::set_linger_zero(&self.stream);
        }
    }
}

/// The connections and the epoll instance they are registered with; the slot index and the connection's
/// generation make its epoll token.
struct Pool {
    ep: Epoll,
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// The generation of the last connection inserted; every connection gets a new one.
    generation: u32,
}

impl Pool {
    fn token(index: usize, generation: u32) -> u64 {
        (u64::from(generation) << 32) | index as u64
    }

    fn insert(&mut self, mut conn: Conn) -> io::Result<usize> {
        self.generation = self.generation.wrapping_add(1);
        conn.generation = self.generation;
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let events = epoll::IN | epoll::OUT | epoll::RDHUP | epoll::ET;
        if let Err(e) = self
            .ep
            .add(&conn.stream, events, Pool::token(index, conn.generation))
        {
            self.free.push(index);
            return Err(e);
        }
        self.slots[index] = Some(conn);
        Ok(index)
    }

    fn get(&mut self, token: u64) -> Option<&mut Conn> {
        let (index, generation) = ((token & 0xFFFF_FFFF) as usize, (token >> 32) as u32);
        self.slots
            .get_mut(index)?
            .as_mut()
            .filter(|c| c.generation == generation)
    }

    fn remove(&mut self, token: u64) -> Option<Conn> {
        let index = (token & 0xFFFF_FFFF) as usize;
        self.get(token)?;
        let conn = self.slots[index].take()?;
        // Closing removes it from epoll too; deleting first keeps that true even if the fd were duplicated.
        let _ = self.ep.delete(&conn.stream);
        self.free.push(index);
        Some(conn)
    }
}

/// Runs the load until `stop` is set or the time limit passes. Connection failures are counted in `counters`,
/// not returned: only a failure of the generator itself (epoll) ends it early.
pub fn run(cfg: &ChurnConfig, counters: &Counters, stop: &AtomicBool) -> Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], cfg.port));
    let started = Instant::now();
    let deadline = started + cfg.time_limit;
    let mut pool = Pool {
        ep: Epoll::new()?,
        slots: Vec::new(),
        free: Vec::new(),
        generation: 0,
    };
    let mut rng = Rng::new(0x50A4);
    let mut next_id = 0u64;
    let mut long_alive = 0usize;
    let mut short_alive = 0usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(cfg.churn_per_s.max(1)));
    let mut next_open = started;
    let mut events = Events::with_capacity(1024);
    let mut again: Vec<u64> = Vec::new();
    let mut scratch = vec![0u8; 32 * 1024];
    let mut last_sweep = started;

    // Each turn waits at most 10 ms, so the count bound is far above what the time bound allows.
    let max_turns = cfg.time_limit.as_millis() as u64 * 1_000 + 1_000_000;
    for _turn in 0..max_turns {
        let now = Instant::now();
        if stop.load(Relaxed) || now >= deadline {
            break;
        }
        // Keep the long-lived set full (a lost one was counted as an error and is replaced).
        while long_alive < cfg.conns {
            next_id += 1;
            if open(&mut pool, addr, Kind::Long, next_id, u64::MAX, counters) {
                long_alive += 1;
            } else {
                break;
            }
        }
        // Open short-lived ones at the configured rate, never more than `parallel` at once (invariant 2).
        if cfg.churn_per_s > 0 {
            if now.saturating_duration_since(next_open) > Duration::from_secs(1) {
                next_open = now; // fell behind: do not burst to catch up
            }
            while now >= next_open && short_alive < cfg.parallel {
                next_open += interval;
                next_id += 1;
                counters.opened.fetch_add(1, Relaxed);
                short_alive +=
                    usize::from(open_short(&mut pool, addr, &mut rng, next_id, counters));
            }
        }

        let timeout = if again.is_empty() {
            let until_open = next_open.saturating_duration_since(now).as_millis();
            until_open.clamp(1, 10) as i32
        } else {
            0
        };
        pool.ep.wait(&mut events, timeout)?;
        let mut ready = std::mem::take(&mut again);
        ready.extend(events.iter().map(|(token, _)| token));
        let now = Instant::now();
        for token in ready {
            let Some(conn) = pool.get(token) else {
                continue;
            };
            let kind = conn.kind;
            let ended = match conn.turn(&mut scratch, counters, now) {
                Step::Open => false,
                Step::Again => {
                    if !again.contains(&token) {
                        again.push(token);
                    }
                    false
                }
                Step::Done => {
                    counters.finished.fetch_add(1, Relaxed);
                    true
                }
                Step::Failed(f) => {
                    counters.fail(&f);
                    true
                }
            };
            if ended {
                again.retain(|&t| t != token);
                if let Some(conn) = pool.remove(token) {
                    conn.close();
                }
                if kind == Kind::Long {
                    long_alive -= 1;
                } else {
                    short_alive -= 1;
                }
            }
        }

        // Ten times a second: an echo (or a close) the server owes for too long is lost.
        if now.duration_since(last_sweep) >= Duration::from_millis(100) {
            last_sweep = now;
            let late: Vec<(u64, Kind)> = pool
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.as_ref().map(|c| (i, c)))
                .filter(|(_, c)| {
                    c.waiting_since
                        .is_some_and(|t| now.duration_since(t) > cfg.reply_timeout)
                })
                .map(|(i, c)| (Pool::token(i, c.generation), c.kind))
                .collect();
            for (token, kind) in late {
                if let Some(conn) = pool.remove(token) {
                    counters.fail(&Failure::broken(
                        kind,
                        format!(
                            "no answer within {:?} ({} of {} bytes echoed)",
                            cfg.reply_timeout, conn.received, conn.sent
                        ),
                    ));
                }
                again.retain(|&t| t != token);
                if kind == Kind::Long {
                    long_alive -= 1;
                } else {
                    short_alive -= 1;
                }
            }
        }
    }
    // Dropping the pool closes every connection in order; the server sees them all end.
    Ok(())
}

/// Connects to the server, or counts the failure.
fn connect(addr: SocketAddr, kind: Kind, counters: &Counters) -> Option<TcpStream> {
    let setup = || -> io::Result<TcpStream> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    };
    match setup() {
        Ok(s) => Some(s),
        Err(e) => {
            counters.fail(&Failure::broken(kind, format!("connect: {e}")));
            None
        }
    }
}

/// Opens a connection of `kind` that echoes `goal` bytes and registers it; false if it could not.
fn open(
    pool: &mut Pool,
    addr: SocketAddr,
    kind: Kind,
    id: u64,
    goal: u64,
    counters: &Counters,
) -> bool {
    let Some(stream) = connect(addr, kind, counters) else {
        return false;
    };
    if let Err(e) = stream.set_nonblocking(true) {
        counters.fail(&Failure::broken(kind, e));
        return false;
    }
    // The first write happens on the first turn: registering a writable socket edge-triggered reports it once.
    match pool.insert(Conn::new(stream, kind, id, goal)) {
        Ok(_) => true,
        Err(e) => {
            counters.fail(&Failure::broken(kind, format!("epoll: {e}")));
            false
        }
    }
}

/// Opens one short-lived connection of a random kind. The kinds that never wait for the server are done here
/// and then; returns whether a connection stays open.
fn open_short(
    pool: &mut Pool,
    addr: SocketAddr,
    rng: &mut Rng,
    id: u64,
    counters: &Counters,
) -> bool {
    let kind = Kind::pick(rng);
    match kind {
        Kind::Silent | Kind::SilentReset | Kind::ResetInFlight => {
            let Some(stream) = connect(addr, kind, counters) else {
                return false;
            };
            if kind == Kind::ResetInFlight {
                let mut message = [0u8; MESSAGE_LEN as usize];
                fill_pattern(id, 0, &mut message);
                // Blocking socket, empty send buffer: the write is whole or fails.
                if let Err(e) = (&stream).write_all(&message) {
                    counters.fail(&Failure::broken(kind, e));
                    return false;
                }
            }
            if kind != Kind::Silent {
                let _ = sys::set_linger_zero(&stream);
            }
            drop(stream);
            counters.finished.fetch_add(1, Relaxed);
            false
        }
        Kind::Bulk => {
            let goal = (64 + rng.up_to(192)) * 1024;
            open(pool, addr, kind, id, goal, counters)
        }
        _ => {
            let goal = (1 + rng.up_to(4)) * MESSAGE_LEN;
            open(pool, addr, kind, id, goal, counters)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_differs_by_connection_and_offset() {
        let a: Vec<u8> = (0..256).map(|o| pattern_byte(1, o)).collect();
        let b: Vec<u8> = (0..256).map(|o| pattern_byte(2, o)).collect();
        let shifted: Vec<u8> = (1..257).map(|o| pattern_byte(1, o)).collect();
        assert_ne!(a, b);
        assert_ne!(a, shifted);
        let mut filled = [0u8; 256];
        fill_pattern(1, 0, &mut filled);
        assert_eq!(&filled[..], &a[..]);
    }

    #[test]
    fn kinds_share_one_hundred_percent() {
        assert_eq!(Kind::SHORT.iter().map(|(_, s)| s).sum::<u64>(), 100);
        let mut rng = Rng::new(7);
        let picks: Vec<Kind> = (0..1000).map(|_| Kind::pick(&mut rng)).collect();
        for (kind, _) in Kind::SHORT {
            assert!(picks.contains(&kind), "{kind:?} never picked");
        }
    }
}
