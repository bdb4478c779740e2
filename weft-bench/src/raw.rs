//! The ceiling: a hand-written echo server with no runtime at all — one thread, edge-triggered epoll, non-blocking
//! std sockets — reported as runtime `raw` in the echo rows.
//!
//! Its message handling is the same as every runtime's echo server: read what is there into a 4 KiB buffer and
//! write it all back, with `TCP_NODELAY` on each accepted connection.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

use crate::child::{announce_port, Ctx, SERVER_MAX_CONNS};
use crate::epoll::{self, Epoll, Events};
use crate::{Figures, Result};

/// Token of the listening socket; connections use their slot index.
const LISTENER: u64 = u64::MAX;
/// Reads handled for one connection per event before it goes to the back of the line (fairness bound).
const READS_PER_TURN: usize = 64;

struct Conn {
    stream: TcpStream,
    /// Bytes read but not yet written back (the socket's send buffer was full).
    pending: Vec<u8>,
}

enum Step {
    /// Nothing more to do until the next readiness edge.
    Idle,
    /// More may be readable: handle it again after the next wait (without blocking).
    Again,
    /// Closed or failed: drop the connection.
    Close,
}

/// Serves echo on 127.0.0.1 until the process is ended (by the harness, or the watchdog's time limit).
pub fn echo(_ctx: &Ctx) -> Result<Figures> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    let ep = Epoll::new()?;
    ep.add(&listener, epoll::IN | epoll::ET, LISTENER)?;
    announce_port(listener.local_addr()?.port())?;

    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut accepted = 0usize;
    let mut events = Events::with_capacity(1024);
    let mut again: Vec<usize> = Vec::new();
    let mut buf = [0u8; 4096];

    // Bounded in time by the process watchdog; each turn handles at most the events of one wait.
    loop {
        let timeout = if again.is_empty() { 1000 } else { 0 };
        ep.wait(&mut events, timeout)?;
        let mut ready: Vec<usize> = std::mem::take(&mut again);
        for (token, _flags) in events.iter() {
            if token == LISTENER {
                accept_all(&listener, &ep, &mut conns, &mut free, &mut accepted)?;
            } else {
                ready.push(token as usize);
            }
        }
        for slot in ready {
            let Some(conn) = conns.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            match handle(conn, &mut buf) {
                Step::Idle => {}
                Step::Again => again.push(slot),
                Step::Close => {
                    conns[slot] = None; // closing the descriptor removes it from epoll
                    free.push(slot);
                    again.retain(|&s| s != slot);
                }
            }
        }
    }
}

fn accept_all(
    listener: &TcpListener,
    ep: &Epoll,
    conns: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
    accepted: &mut usize,
) -> io::Result<()> {
    // Bounded by the backlog and by SERVER_MAX_CONNS.
    while *accepted < SERVER_MAX_CONNS {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        *accepted += 1;
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        let slot = free.pop().unwrap_or_else(|| {
            conns.push(None);
            conns.len() - 1
        });
        ep.add(
            &stream,
            epoll::IN | epoll::OUT | epoll::RDHUP | epoll::ET,
            slot as u64,
        )?;
        conns[slot] = Some(Conn {
            stream,
            pending: Vec::new(),
        });
    }
    Ok(())
}

/// Writes as much of `data` as the socket takes; returns how much was written, or `None` when the connection
/// failed.
fn write_some(stream: &mut TcpStream, data: &[u8]) -> Option<usize> {
    let mut done = 0;
    while done < data.len() {
        match stream.write(&data[done..]) {
            Ok(0) => return None,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(done)
}

/// Flushes what is pending, then reads and echoes until the socket would block (edge-triggered: we must drain).
fn handle(conn: &mut Conn, buf: &mut [u8]) -> Step {
    if !conn.pending.is_empty() {
        let pending = std::mem::take(&mut conn.pending);
        match write_some(&mut conn.stream, &pending) {
            None => return Step::Close,
            Some(n) if n < pending.len() => {
                conn.pending = pending[n..].to_vec();
                return Step::Idle; // wait for the writable edge
            }
            Some(_) => {}
        }
    }
    for _ in 0..READS_PER_TURN {
        let n = match conn.stream.read(buf) {
            Ok(0) => return Step::Close,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Idle,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Step::Close,
        };
        match write_some(&mut conn.stream, &buf[..n]) {
            None => return Step::Close,
            Some(w) if w < n => {
                conn.pending.extend_from_slice(&buf[w..n]);
                return Step::Idle; // reading resumes on the writable edge
            }
            Some(_) => {}
        }
    }
    Step::Again
}
