//! weft's servers on several loops (`weft::Builder::loops`), in the two ways a many-loop server can take its
//! connections:
//!
//! - **reuseport** ([`Runtime::Weft2`], and the soak's server): every loop binds its own
//!   `TcpListener::bind_reuseport` listener on the same port (`Handle::spawn_on_each`), and the kernel spreads new
//!   connections between them; each loop accepts and serves its own, with no hand-off between loops.
//! - **round-robin** ([`Runtime::Weft2Rr`]): one listener, one acceptor on loop 0 handing each accepted stream to
//!   the next loop in turn with `Handle::spawn_on` — the mode for kernels where `SO_REUSEPORT` balances badly.
//!
//! The loops are pinned (weft's default with more than one loop: loop i on the i-th CPU of the affinity mask),
//! so these servers run on both CPUs of the bench machine and share them with the load generator.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::net::{TcpListener, TcpStream};

use crate::child::{announce_port, Ctx, Message, SERVER_MAX_CONNS};
use crate::rt_weft::{echo_conn, http_conn};
use crate::runtime::{Runtime, Support};
use crate::soak::ServerTick;
use crate::spec::Workload;
use crate::{Figures, Result};

/// Loops of the bench's many-loop columns: the machine has 2 CPUs.
pub const LOOPS: usize = 2;

/// The table of `weft-2`, `weft-2rr` and `weft-2u`: the servers only.
pub fn support(runtime: Runtime, workload: Workload) -> Support {
    match (runtime, workload) {
        (Runtime::Weft2, Workload::Echo) => Support::Run(echo_reuseport),
        (Runtime::Weft2, Workload::Http) => Support::Run(http_reuseport),
        (Runtime::Weft2Unpinned, Workload::Echo) => Support::Run(echo_reuseport_unpinned),
        (Runtime::Weft2Unpinned, Workload::Http) => Support::Run(http_reuseport_unpinned),
        (Runtime::Weft2Rr, Workload::Echo) => Support::Run(echo_round_robin),
        (Runtime::Weft2Rr, Workload::Http) => Support::Run(http_round_robin),
        _ => Support::NotApplicable,
    }
}

/// What a server does with one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// `echo`: writes back what it reads.
    Echo,
    /// `http`: hyper's HTTP/1 hello world.
    Http,
}

impl Service {
    /// Serves one connection until the peer closes it.
    async fn serve(self, stream: TcpStream) {
        match self {
            Service::Echo => echo_conn(stream).await,
            Service::Http => http_conn(stream).await,
        }
    }
}

/// A runtime of `loops` loops, with weft's defaults unless the environment asks to compare: `WEFT_BENCH_STEAL=1`
/// turns on `Builder::steal`, `WEFT_BENCH_PIN=0` turns off `Builder::pin_loops` (the figures in RESULTS.md say
/// which runs used them).
fn runtime(loops: usize) -> Result<weft::Runtime> {
    runtime_pinned(loops, true)
}

/// [`runtime`], its loops pinned only if `pin` (and `WEFT_BENCH_PIN` does not say `0`).
fn runtime_pinned(loops: usize, pin: bool) -> Result<weft::Runtime> {
    let knob = |name: &str| std::env::var(name).ok();
    let mut builder = weft::Builder::new();
    builder.loops(loops);
    if knob("WEFT_BENCH_STEAL").as_deref() == Some("1") {
        builder.steal(true);
    }
    if !pin || knob("WEFT_BENCH_PIN").as_deref() == Some("0") {
        builder.pin_loops(false);
    }
    Ok(builder.build()?)
}

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn echo_reuseport(_ctx: &Ctx) -> Result<Figures> {
    serve_reuseport(Service::Echo, true)
}

fn http_reuseport(_ctx: &Ctx) -> Result<Figures> {
    serve_reuseport(Service::Http, true)
}

fn echo_reuseport_unpinned(_ctx: &Ctx) -> Result<Figures> {
    serve_reuseport(Service::Echo, false)
}

fn http_reuseport_unpinned(_ctx: &Ctx) -> Result<Figures> {
    serve_reuseport(Service::Http, false)
}

fn echo_round_robin(_ctx: &Ctx) -> Result<Figures> {
    serve_round_robin(Service::Echo)
}

fn http_round_robin(_ctx: &Ctx) -> Result<Figures> {
    serve_round_robin(Service::Http)
}

/// Counts accept errors across loops (the soak reports them); the bench's servers fail on the first instead.
#[derive(Clone, Debug, Default)]
pub struct AcceptErrors(Arc<AtomicU64>);

impl AcceptErrors {
    /// Accept errors so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// How long a loop's accept loop keeps accepting.
#[derive(Clone, Copy, Debug)]
enum Accepting {
    /// [`SERVER_MAX_CONNS`] connections, failing on the first accept error (the bench's servers).
    Bench,
    /// Until the deadline, counting accept errors and waiting a little after each (the soak's servers).
    Until(Instant),
}

/// One loop's accept loop: accepts on `listener` and serves each connection on this loop.
async fn accept_here(
    listener: TcpListener,
    service: Service,
    accepting: Accepting,
    errors: AcceptErrors,
) -> io::Result<()> {
    match accepting {
        Accepting::Bench => {
            for _ in 0..SERVER_MAX_CONNS {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                drop(weft::spawn(service.serve(stream)));
            }
            // Every connection slot is used: keep serving the accepted ones until the process is ended.
            std::future::pending::<()>().await;
        }
        Accepting::Until(deadline) => {
            // Bounded by the deadline (and, while nobody connects, by the child's watchdog).
            while Instant::now() < deadline {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        // A peer that has already reset may refuse the option; its task ends at once.
                        let _ = stream.set_nodelay(true);
                        drop(weft::spawn(service.serve(stream)));
                    }
                    Err(e) => {
                        if errors.0.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("weft-bench server: accept failed: {e}");
                        }
                        weft::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Binds one `SO_REUSEPORT` listener per loop of `handle` on one port and starts `service`'s accept loop on each;
/// returns the port once every loop listens, and the accept loops' handles.
///
/// A first listener on port 0 picks the port; it is closed once every loop has its own, before the port is
/// announced, so no connection ever waits in a listener nobody accepts on.
async fn listen_on_every_loop(
    handle: &weft::Handle,
    service: Service,
    accepting: Accepting,
    errors: &AcceptErrors,
) -> Result<(u16, Vec<weft::JoinHandle<io::Result<()>>>)> {
    let first = TcpListener::bind_reuseport(localhost()).await?;
    let addr = first.local_addr()?;
    let loops = handle.loops().len();
    let (ready_tx, mut ready_rx) = weft::sync::mpsc::channel::<io::Result<()>>(loops);
    let errors = errors.clone();
    let servers = handle.spawn_on_each(move |_loop| {
        let ready = ready_tx.clone();
        let errors = errors.clone();
        async move {
            let listener = match TcpListener::bind_reuseport(addr).await {
                Ok(listener) => listener,
                Err(e) => {
                    let _ = ready
                        .send(Err(io::Error::new(e.kind(), e.to_string())))
                        .await;
                    return Err(e);
                }
            };
            let _ = ready.send(Ok(())).await;
            drop(ready);
            accept_here(listener, service, accepting, errors).await
        }
    });
    for _ in 0..loops {
        ready_rx
            .recv()
            .await
            .ok_or("a loop ended before binding its listener")??;
    }
    drop(first);
    Ok((addr.port(), servers))
}

/// `weft-2`: `service` on every loop, each with its own `SO_REUSEPORT` listener.
fn serve_reuseport(service: Service, pin: bool) -> Result<Figures> {
    let rt = runtime_pinned(LOOPS, pin)?;
    let handle = rt.handle();
    rt.block_on(async move {
        let errors = AcceptErrors::default();
        let (port, servers) =
            listen_on_every_loop(&handle, service, Accepting::Bench, &errors).await?;
        announce_port(port)?;
        for result in weft::join_all(servers).await {
            result.map_err(|e| e.to_string())??;
        }
        Ok(Figures::new())
    })
}

/// `weft-2rr`: one acceptor on loop 0; accepted connection i is served on loop i mod [`LOOPS`].
fn serve_round_robin(service: Service) -> Result<Figures> {
    let rt = runtime(LOOPS)?;
    let handle = rt.handle();
    rt.block_on(async move {
        let listener = TcpListener::bind(localhost()).await?;
        announce_port(listener.local_addr()?.port())?;
        let loops = handle.loops();
        for i in 0..SERVER_MAX_CONNS {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            // The stream registers with the loop that first uses it: the one it is handed to.
            drop(handle.spawn_on(loops[i % loops.len()], service.serve(stream)));
        }
        // Every connection slot is used: keep serving the accepted ones until the process is ended.
        std::future::pending::<()>().await;
        Ok(Figures::new())
    })
}

/// The soak's server ([`crate::soak`]): `echo` and hyper's hello world, each on its own port with a
/// `SO_REUSEPORT` listener on every one of `loops` loops, accepting until `deadline`; a thread writes the
/// runtime's figures ([`weft::Handle::metrics`], summed over every loop) as a [`Message::Tick`] line every `every`.
///
/// Accept errors are counted and reported, not fatal: at the descriptor limit the server waits and tries again,
/// as a real server would, and the soak judges what that does to its figures.
pub fn soak_server(loops: usize, deadline: Instant, every: Duration) -> Result<()> {
    let rt = runtime(loops)?;
    let handle = rt.handle();
    let errors = AcceptErrors::default();
    let ticker = {
        let (handle, errors) = (handle.clone(), errors.clone());
        move || {
            // One line per `every` until stdout closes or the deadline: bounded by both.
            while Instant::now() < deadline {
                std::thread::sleep(every);
                let metrics = handle.metrics();
                let tick = ServerTick {
                    tasks_alive: metrics.tasks_alive,
                    tasks_spawned: metrics.tasks_spawned,
                    polls: metrics.polls,
                    accept_errors: errors.get(),
                    loops: metrics.loops.len() as u64,
                    busiest_loop_tasks: metrics
                        .loops
                        .iter()
                        .map(|l| l.tasks_alive)
                        .max()
                        .unwrap_or(0),
                };
                if Message::Tick(tick).emit().is_err() {
                    return;
                }
            }
        }
    };
    rt.block_on(async move {
        let accepting = Accepting::Until(deadline);
        let (echo_port, echo) =
            listen_on_every_loop(&handle, Service::Echo, accepting, &errors).await?;
        let (http_port, http) =
            listen_on_every_loop(&handle, Service::Http, accepting, &errors).await?;
        Message::SoakPorts {
            echo: echo_port,
            http: http_port,
        }
        .emit()?;
        std::thread::Builder::new()
            .name("soak-ticker".into())
            .spawn(ticker)?;
        for result in weft::join_all(echo.into_iter().chain(http)).await {
            result.map_err(|e| e.to_string())??;
        }
        Ok(())
    })
}
