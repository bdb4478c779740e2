//! The load generator for `echo` and `http`: one program, the same for every server, built on no runtime under
//! test — one thread, edge-triggered epoll ([`crate::epoll`]), non-blocking std sockets.
//!
//! It runs as its own child process (`weft-bench __loadgen ...`), pinned to CPU 1 while the server is pinned to
//! CPU 0. It opens `conns` connections to 127.0.0.1 and drives them closed-loop: each connection sends a message
//! (64 bytes for echo, a keep-alive `GET /` for http), waits for the whole response, and sends the next. After a
//! warm-up it measures for a fixed window: completed round trips per second, p50/p99 round-trip latency, and the
//! server's CPU time per message (utime + stime of the server pid from `/proc/<pid>/stat`, read at both ends of
//! the window). Every loop is bounded in count and time.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::child::Message;
use crate::common::Histogram;
use crate::epoll::{self, Epoll, Events};
use crate::{sys, Figures, Result};

/// The CPU the load generator is pinned to.
pub const LOADGEN_CPU: usize = 1;

/// The echo message: 64 bytes.
pub const ECHO_MSG: [u8; 64] =
    *b"weft-bench echo message, 64 bytes long: 0123456789abcdefghijkl.\n";

/// The http request: keep-alive `GET /`.
pub const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Reads handled for one connection per event before it goes to the back of the line.
const READS_PER_TURN: usize = 16;

/// What the load generator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 64-byte echo round trips.
    Echo,
    /// HTTP/1.1 keep-alive `GET /` round trips.
    Http,
}

impl Mode {
    /// `echo` or `http`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Http => "http",
        }
    }

    fn request(self) -> &'static [u8] {
        match self {
            Mode::Echo => &ECHO_MSG,
            Mode::Http => HTTP_REQUEST,
        }
    }
}

/// One load run.
#[derive(Clone, Copy, Debug)]
pub struct LoadConfig {
    /// Protocol.
    pub mode: Mode,
    /// Server port on 127.0.0.1.
    pub port: u16,
    /// Connections.
    pub conns: usize,
    /// Load before the measured window.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
    /// The server's pid, for its CPU time.
    pub server_pid: Option<u32>,
}

impl LoadConfig {
    /// The command-line arguments that [`main`] parses back.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            self.mode.name().to_string(),
            self.port.to_string(),
            self.conns.to_string(),
            self.warmup.as_millis().to_string(),
            self.window.as_millis().to_string(),
            self.server_pid.map_or("0".into(), |p| p.to_string()),
        ]
    }

    fn from_args(args: &[String]) -> std::result::Result<LoadConfig, String> {
        let [mode, port, conns, warmup, window, pid] = args else {
            return Err(format!(
                "usage: __loadgen <echo|http> <port> <conns> <warmup_ms> <window_ms> <server_pid>, got {args:?}"
            ));
        };
        let num = |s: &String| s.parse::<u64>().map_err(|_| format!("bad number {s}"));
        Ok(LoadConfig {
            mode: match mode.as_str() {
                "echo" => Mode::Echo,
                "http" => Mode::Http,
                m => return Err(format!("unknown mode {m}")),
            },
            port: u16::try_from(num(port)?).map_err(|_| "bad port")?,
            conns: num(conns)? as usize,
            warmup: Duration::from_millis(num(warmup)?),
            window: Duration::from_millis(num(window)?),
            server_pid: Some(num(pid)? as u32).filter(|&p| p != 0),
        })
    }

    /// The longest a load run may take, connection set-up included.
    pub fn time_limit(&self) -> Duration {
        self.warmup + self.window + Duration::from_secs(30)
    }
}

/// Entry point of `weft-bench __loadgen ...`: pins itself, runs, prints one [`Message`] line.
pub fn main(args: &[String]) -> std::process::ExitCode {
    let cfg = match LoadConfig::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = Message::Failed(e).emit();
            return std::process::ExitCode::from(2);
        }
    };
    if let Err(e) = sys::pin_to_cpu(LOADGEN_CPU) {
        eprintln!("weft-bench: load generator not pinned: {e}");
    }
    sys::start_watchdog(cfg.time_limit());
    let msg = match run(&cfg) {
        Ok(f) => Message::Done(f),
        Err(e) => Message::Failed(format!("load generator: {e}")),
    };
    let ok = matches!(msg, Message::Done(_));
    let _ = msg.emit();
    std::process::ExitCode::from(if ok { 0 } else { 1 })
}

struct Conn {
    stream: TcpStream,
    sent_at: Instant,
    got: Vec<u8>,
}

/// Outcome of reading what a connection has.
enum Drive {
    /// Nothing more for now.
    Idle,
    /// Handled `READS_PER_TURN` reads: more may be there.
    Again,
    /// Closed or broken.
    Dead(String),
}

/// Whether `got` holds one whole response: `Ok(true)` when complete, `Ok(false)` when more is needed.
fn response_complete(mode: Mode, got: &[u8]) -> std::result::Result<bool, String> {
    match mode {
        Mode::Echo => {
            if got.len() < ECHO_MSG.len() {
                Ok(false)
            } else if got == ECHO_MSG {
                Ok(true)
            } else {
                Err(format!("bad echo ({} bytes)", got.len()))
            }
        }
        Mode::Http => {
            let Some(head_end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
                return if got.len() > 16 * 1024 {
                    Err("http head too long".into())
                } else {
                    Ok(false)
                };
            };
            let head = std::str::from_utf8(&got[..head_end]).map_err(|_| "non-utf8 head")?;
            let mut lines = head.split("\r\n");
            let status = lines.next().unwrap_or_default();
            if !status.starts_with("HTTP/1.1 200") {
                return Err(format!("bad status line {status:?}"));
            }
            let len = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .ok_or("no content-length")?;
            let total = head_end + 4 + len;
            match got.len().cmp(&total) {
                std::cmp::Ordering::Less => Ok(false),
                std::cmp::Ordering::Equal => Ok(true),
                std::cmp::Ordering::Greater => Err("more bytes than one response".into()),
            }
        }
    }
}

/// The measurement state of one load run.
struct Meter {
    hist: Histogram,
    /// Window start and the server's CPU time then.
    start: Option<(Instant, Duration)>,
    end: Instant,
    done: u64,
}

/// Reads what `conn` has; for each whole response, records it and sends the next request (until `end`).
fn drive(mode: Mode, conn: &mut Conn, buf: &mut [u8], meter: &mut Meter) -> Drive {
    for _ in 0..READS_PER_TURN {
        let n = match conn.stream.read(buf) {
            Ok(0) => return Drive::Dead("server closed the connection".into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drive::Idle,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Drive::Dead(e.to_string()),
        };
        conn.got.extend_from_slice(&buf[..n]);
        match response_complete(mode, &conn.got) {
            Ok(false) => {}
            Ok(true) => {
                let now = Instant::now();
                conn.got.clear();
                if let Some((t0, _)) = meter.start {
                    if now >= t0 && now < meter.end {
                        meter.done += 1;
                        meter
                            .hist
                            .record((now - conn.sent_at).as_nanos().min(u64::MAX as u128) as u64);
                    }
                }
                if now < meter.end {
                    // One message in flight per connection: the send buffer is empty, so this write is whole.
                    match conn.stream.write(mode.request()) {
                        Ok(n) if n == mode.request().len() => conn.sent_at = now,
                        Ok(_) => return Drive::Dead("short write".into()),
                        Err(e) => return Drive::Dead(e.to_string()),
                    }
                }
            }
            Err(e) => return Drive::Dead(e),
        }
    }
    Drive::Again
}

/// Runs one load: connects, warms up, measures, and returns the figures (keys of the workload's metrics).
pub fn run(cfg: &LoadConfig) -> Result<Figures> {
    let addr = SocketAddr::from(([127, 0, 0, 1], cfg.port));
    let ep = Epoll::new()?;
    let mut conns: Vec<Option<Conn>> = Vec::with_capacity(cfg.conns);
    for i in 0..cfg.conns {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        ep.add(&stream, epoll::IN | epoll::RDHUP | epoll::ET, i as u64)?;
        conns.push(Some(Conn {
            stream,
            sent_at: Instant::now(),
            got: Vec::with_capacity(1024),
        }));
    }

    let begin = Instant::now();
    let measure_from = begin + cfg.warmup;
    let mut meter = Meter {
        hist: Histogram::new(),
        start: None,
        end: measure_from + cfg.window,
        done: 0,
    };
    for conn in conns.iter_mut().flatten() {
        conn.stream.write_all(cfg.mode.request())?;
        conn.sent_at = Instant::now();
    }

    let cpu_of_server = || cfg.server_pid.and_then(|p| sys::process_cpu_time(p).ok());
    let cpu_of_both = || {
        cpu_of_server().unwrap_or_default()
            + sys::process_cpu_time(std::process::id()).unwrap_or_default()
    };
    let mut others = None;
    let mut events = Events::with_capacity(1024);
    let mut again: Vec<usize> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut errors: Vec<String> = Vec::new();
    let mut alive = cfg.conns;
    // Each turn waits at most 10 ms, so the count bound is far above what the time bound allows.
    let max_turns = (cfg.warmup + cfg.window).as_millis() as u64 * 1_000 + 1_000_000;
    for _turn in 0..max_turns {
        let now = Instant::now();
        if meter.start.is_none() && now >= measure_from {
            meter.start = Some((now, cpu_of_server().unwrap_or_default()));
            others = sys::Interference::start(cpu_of_both());
        }
        if now >= meter.end || alive == 0 {
            break;
        }
        let next_boundary = if meter.start.is_none() {
            measure_from
        } else {
            meter.end
        };
        let timeout = if again.is_empty() {
            (next_boundary - now).as_millis().clamp(1, 10) as i32
        } else {
            0
        };
        ep.wait(&mut events, timeout)?;
        let mut ready = std::mem::take(&mut again);
        ready.extend(events.iter().map(|(token, _)| token as usize));
        for i in ready {
            let Some(conn) = conns.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            match drive(cfg.mode, conn, &mut buf, &mut meter) {
                Drive::Idle => {}
                Drive::Again => again.push(i),
                Drive::Dead(e) => {
                    errors.push(e);
                    conns[i] = None;
                    alive -= 1;
                    again.retain(|&j| j != i);
                }
            }
        }
    }
    let (t1, cpu1) = (Instant::now(), cpu_of_server());
    let other = others.and_then(|o| o.other_cores(cpu_of_both()));
    drop(conns);

    let Some((t0, cpu0)) = meter.start else {
        return Err(format!("no connection survived the warm-up: {errors:?}").into());
    };
    if meter.done == 0 {
        return Err(format!("no round trip completed in the window: {errors:?}").into());
    }
    let window = t1
        .saturating_duration_since(t0)
        .min(cfg.window)
        .max(Duration::from_micros(1));
    let done = meter.done as f64;
    let us = |q: f64| meter.hist.quantile(q).unwrap_or(0) as f64 / 1_000.0;
    let (rate_key, cpu_key) = match cfg.mode {
        Mode::Echo => ("msgs_per_s", "cpu_ns_per_msg"),
        Mode::Http => ("reqs_per_s", "cpu_ns_per_req"),
    };
    let mut f = Figures::new()
        .value(rate_key, done / window.as_secs_f64())
        .value("p50_us", us(0.50))
        .value("p99_us", us(0.99))
        .extra("p999_us", us(0.999))
        .extra("round_trips", done)
        .extra("window_s", window.as_secs_f64())
        .extra("conns_lost", errors.len() as f64);
    if let Some(cpu1) = cpu1 {
        let cpu = cpu1.saturating_sub(cpu0);
        f = f
            .value(cpu_key, cpu.as_nanos() as f64 / done)
            .extra("server_cpu_util", cpu.as_secs_f64() / window.as_secs_f64());
    }
    if let Some(other) = other {
        f = f.extra(crate::child::OTHER_CPU, other);
    }
    if let Some(e) = errors.first() {
        eprintln!(
            "weft-bench load generator: {} connection(s) lost, first: {e}",
            errors.len()
        );
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_responses() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\ndate: x\r\n\r\nHello, World!";
        assert_eq!(response_complete(Mode::Http, ok), Ok(true));
        assert_eq!(response_complete(Mode::Http, &ok[..20]), Ok(false));
        assert_eq!(
            response_complete(Mode::Http, &ok[..ok.len() - 1]),
            Ok(false)
        );
        assert!(response_complete(Mode::Http, b"HTTP/1.1 500 X\r\n\r\n").is_err());
    }

    #[test]
    fn checks_echo() {
        assert_eq!(response_complete(Mode::Echo, &ECHO_MSG[..10]), Ok(false));
        assert_eq!(response_complete(Mode::Echo, &ECHO_MSG), Ok(true));
        assert!(response_complete(Mode::Echo, &[0u8; 64]).is_err());
    }

    #[test]
    fn args_round_trip() {
        let cfg = LoadConfig {
            mode: Mode::Http,
            port: 8080,
            conns: 50,
            warmup: Duration::from_millis(250),
            window: Duration::from_secs(1),
            server_pid: Some(1234),
        };
        let back = LoadConfig::from_args(&cfg.to_args()).unwrap();
        assert_eq!(back.port, 8080);
        assert_eq!(back.mode, Mode::Http);
        assert_eq!(back.server_pid, Some(1234));
        assert_eq!(back.window, Duration::from_secs(1));
    }
}
