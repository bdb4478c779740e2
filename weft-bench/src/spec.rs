//! What is measured: the workloads of `shared/BENCH.md`, their cases, the figures each reports, and the sizes they
//! run at.
//!
//! Everything here is plain data shared by the harness (which plans runs and prints the table) and the child
//! processes (which run one case and report its figures), so both sides agree on names, units and sizes.

use std::fmt;
use std::time::Duration;

/// One workload of `BENCH.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// Spawn and join many trivial tasks from one task.
    Spawn,
    /// [`Workload::Spawn`] warm: in one process, warm-up batches, then timed batches (the median one counts).
    SpawnWarm,
    /// Each task spawns the next, `chain_depth` deep, repeated.
    ChainedSpawn,
    /// [`Workload::ChainedSpawn`] warm: in one process, warm-up batches, then timed batches (the median one
    /// counts).
    ChainedSpawnWarm,
    /// Many tasks each yield many times.
    YieldMany,
    /// Two tasks bounce a value through the runtime's own bounded channel.
    PingPong,
    /// Many tasks sleep a random time; then many timers are created and cancelled.
    Timers,
    /// Many tasks parked on a never-ready future: bytes per task.
    IdleMemory,
    /// TCP echo server on 127.0.0.1 driven by the shared load generator.
    Echo,
    /// hyper 1.x hello-world server driven by the shared load generator.
    Http,
    /// The same hello-world server driven by `wrk -t1` instead (see [`crate::wrk`]).
    HttpWrk,
    /// Many `spawn_blocking` calls of a tiny closure.
    Blocking,
    /// `select!` over two ready futures, many times.
    Select,
    /// Spawn and join many trivial tasks through a task set (`TaskGroup`, `JoinSet`).
    Group,
}

impl Workload {
    /// Every workload, in table order.
    pub const ALL: [Workload; 14] = [
        Workload::Spawn,
        Workload::SpawnWarm,
        Workload::ChainedSpawn,
        Workload::ChainedSpawnWarm,
        Workload::YieldMany,
        Workload::PingPong,
        Workload::Timers,
        Workload::IdleMemory,
        Workload::Echo,
        Workload::Http,
        Workload::HttpWrk,
        Workload::Blocking,
        Workload::Select,
        Workload::Group,
    ];

    /// The workload's name as used on the command line, in the table and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Spawn => "spawn",
            Workload::ChainedSpawn => "chained_spawn",
            Workload::SpawnWarm => "spawn_warm",
            Workload::ChainedSpawnWarm => "chained_spawn_warm",
            Workload::YieldMany => "yield_many",
            Workload::PingPong => "ping_pong",
            Workload::Timers => "timers",
            Workload::IdleMemory => "idle_memory",
            Workload::Echo => "echo",
            Workload::Http => "http",
            Workload::HttpWrk => "http_wrk",
            Workload::Blocking => "blocking",
            Workload::Select => "select",
            Workload::Group => "group",
        }
    }

    /// Parses a name produced by [`Workload::name`]; `-` is read as `_` (`http-wrk`).
    pub fn from_name(name: &str) -> Option<Workload> {
        let name = name.replace('-', "_");
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// Whether the case is a server driven by the load generator (the child announces a port and serves until it
    /// is killed) rather than a self-contained run that prints its own figures.
    pub fn is_server(self) -> bool {
        matches!(self, Workload::Echo | Workload::Http | Workload::HttpWrk)
    }

    /// The cases this workload runs at `size`, each in its own processes.
    pub fn cases(self, size: Size) -> Vec<Case> {
        let conns: &[usize] = match (self, size) {
            (Workload::Echo, Size::Tiny) => &[4, 16],
            (Workload::Echo, _) => &[50, 500],
            (Workload::Http | Workload::HttpWrk, Size::Tiny) => &[4],
            (Workload::Http | Workload::HttpWrk, _) => &[50],
            _ => &[0],
        };
        conns
            .iter()
            .map(|&conns| Case {
                workload: self,
                conns,
            })
            .collect()
    }

    /// The figures this workload reports, in table order.
    pub fn metrics(self) -> &'static [Metric] {
        use Better::{Higher, Lower};
        const fn m(
            key: &'static str,
            label: &'static str,
            unit: &'static str,
            better: Better,
        ) -> Metric {
            Metric {
                key,
                label,
                unit,
                better,
            }
        }
        const SPAWN: &[Metric] = &[m("tasks_per_s", "", "tasks/s", Higher)];
        const CHAINED_SPAWN: &[Metric] = &[m("ns_per_link", "", "ns/link", Lower)];
        // The warm rows also count the process's CPU time, which a busy machine disturbs far less than wall time.
        const SPAWN_WARM: &[Metric] = &[
            m("tasks_per_s", "", "tasks/s", Higher),
            m("cpu_tasks_per_s", "cpu", "tasks/CPU-s", Higher),
        ];
        const CHAINED_SPAWN_WARM: &[Metric] = &[
            m("ns_per_link", "", "ns/link", Lower),
            m("cpu_ns_per_link", "cpu", "CPU ns/link", Lower),
        ];
        const YIELD_MANY: &[Metric] = &[m("ns_per_poll", "", "ns/poll", Lower)];
        const PING_PONG: &[Metric] = &[m("ns_per_hop", "", "ns/hop", Lower)];
        const TIMERS: &[Metric] = &[
            m("wall_ms", "sleep wall", "ms", Lower),
            m("overshoot_p99_ms", "sleep overshoot p99", "ms", Lower),
            m("rss_growth_mib", "sleep peak RSS growth", "MiB", Lower),
            m("cancel_per_s", "create+cancel", "timers/s", Higher),
        ];
        const IDLE_MEMORY: &[Metric] = &[m("bytes_per_task", "", "B/task", Lower)];
        const ECHO: &[Metric] = &[
            m("msgs_per_s", "", "msg/s", Higher),
            m("p50_us", "p50", "µs", Lower),
            m("p99_us", "p99", "µs", Lower),
            m("cpu_ns_per_msg", "server cpu", "ns/msg", Lower),
        ];
        const HTTP: &[Metric] = &[
            m("reqs_per_s", "", "req/s", Higher),
            m("p50_us", "p50", "µs", Lower),
            m("p99_us", "p99", "µs", Lower),
            m("cpu_ns_per_req", "server cpu", "ns/req", Lower),
        ];
        const BLOCKING: &[Metric] = &[m("calls_per_s", "", "calls/s", Higher)];
        const SELECT: &[Metric] = &[m("ns_per_select", "", "ns/select", Lower)];
        const GROUP: &[Metric] = &[m("tasks_per_s", "", "tasks/s", Higher)];
        match self {
            Workload::Spawn => SPAWN,
            Workload::SpawnWarm => SPAWN_WARM,
            Workload::ChainedSpawn => CHAINED_SPAWN,
            Workload::ChainedSpawnWarm => CHAINED_SPAWN_WARM,
            Workload::YieldMany => YIELD_MANY,
            Workload::PingPong => PING_PONG,
            Workload::Timers => TIMERS,
            Workload::IdleMemory => IDLE_MEMORY,
            Workload::Echo => ECHO,
            Workload::Http | Workload::HttpWrk => HTTP,
            Workload::Blocking => BLOCKING,
            Workload::Select => SELECT,
            Workload::Group => GROUP,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One measured case: a workload and, for the network workloads, its connection count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Case {
    /// The workload.
    pub workload: Workload,
    /// Connections for `echo` and `http`; 0 for the others.
    pub conns: usize,
}

impl Case {
    /// A short label: `spawn`, `echo c=50`.
    pub fn label(&self) -> String {
        if self.conns == 0 {
            self.workload.name().to_string()
        } else {
            format!("{} c={}", self.workload.name(), self.conns)
        }
    }
}

/// Which direction of a figure is the good one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Throughput-like: more is better.
    Higher,
    /// Cost-like (time, bytes): less is better.
    Lower,
}

impl Better {
    /// An arrow for the table: `↑` or `↓`.
    pub fn arrow(self) -> &'static str {
        match self {
            Better::Higher => "↑",
            Better::Lower => "↓",
        }
    }
}

/// One figure a workload reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// Key in [`crate::Figures`] and in the JSON.
    pub key: &'static str,
    /// Extra words for the table's workload column when a workload has several figures (may be empty).
    pub label: &'static str,
    /// Unit of the stored value, shown in the table.
    pub unit: &'static str,
    /// Which direction is good.
    pub better: Better,
}

/// How big a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Smallest sizes, for the smoke test: only checks that every runner works.
    Tiny,
    /// `--quick`: small sizes, 1 s load windows; the whole run takes under 3 minutes on 2 cores.
    Quick,
    /// The sizes of `BENCH.md`, 5 s load windows.
    Full,
}

impl Size {
    /// The name used on the child command lines and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Size::Tiny => "tiny",
            Size::Quick => "quick",
            Size::Full => "full",
        }
    }

    /// Parses a name produced by [`Size::name`].
    pub fn from_name(name: &str) -> Option<Size> {
        [Size::Tiny, Size::Quick, Size::Full]
            .into_iter()
            .find(|s| s.name() == name)
    }

    /// Runs per figure (the table shows their median and range).
    pub fn default_runs(self) -> usize {
        match self {
            Size::Tiny => 1,
            Size::Quick => 3,
            Size::Full => 5,
        }
    }

    /// The longest a child process may live before its own watchdog ends it, and the longest the harness waits
    /// for it.
    pub fn child_time_limit(self) -> Duration {
        match self {
            Size::Tiny => Duration::from_secs(60),
            Size::Quick => Duration::from_secs(90),
            Size::Full => Duration::from_secs(240),
        }
    }

    /// How long into a run disturbed runs may still be run again (keeps `--quick` under 3 minutes and the full
    /// run under 15 on a busy machine).
    pub fn retry_window(self) -> Duration {
        match self {
            Size::Tiny => Duration::ZERO,
            Size::Quick => Duration::from_secs(120),
            Size::Full => Duration::from_secs(660),
        }
    }

    /// The workload sizes for this run size.
    pub fn params(self) -> Params {
        match self {
            Size::Tiny => Params {
                spawn_tasks: 1_000,
                chain_depth: 100,
                chain_repeats: 2,
                warm_up_batches: 1,
                warm_batches: 2,
                yield_tasks: 10,
                yields_per_task: 10,
                ping_pong_hops: 100,
                timer_tasks: 100,
                timer_max: Duration::from_millis(10),
                timer_cancels: 100,
                idle_tasks: 1_000,
                blocking_calls: 100,
                select_iterations: 1_000,
                group_tasks: 1_000,
                warmup: Duration::from_millis(50),
                window: Duration::from_millis(100),
            },
            Size::Quick => Params {
                spawn_tasks: 200_000,
                chain_depth: 1_000,
                chain_repeats: 100,
                warm_up_batches: 1,
                warm_batches: 5,
                yield_tasks: 100,
                yields_per_task: 2_000,
                ping_pong_hops: 200_000,
                timer_tasks: 20_000,
                timer_max: Duration::from_millis(100),
                timer_cancels: 200_000,
                idle_tasks: 200_000,
                blocking_calls: 20_000,
                select_iterations: 2_000_000,
                group_tasks: 200_000,
                warmup: Duration::from_millis(250),
                window: Duration::from_secs(1),
            },
            Size::Full => Params {
                spawn_tasks: 1_000_000,
                chain_depth: 1_000,
                chain_repeats: 1_000,
                warm_up_batches: 2,
                warm_batches: 7,
                yield_tasks: 100,
                yields_per_task: 10_000,
                ping_pong_hops: 1_000_000,
                timer_tasks: 100_000,
                timer_max: Duration::from_millis(100),
                timer_cancels: 1_000_000,
                idle_tasks: 1_000_000,
                blocking_calls: 100_000,
                select_iterations: 10_000_000,
                group_tasks: 1_000_000,
                warmup: Duration::from_secs(1),
                window: Duration::from_secs(5),
            },
        }
    }
}

/// Concrete workload sizes (see [`Size::params`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// `spawn`: tasks spawned and joined.
    pub spawn_tasks: usize,
    /// `chained_spawn`: links per chain.
    pub chain_depth: usize,
    /// `chained_spawn`: chains run one after the other.
    pub chain_repeats: usize,
    /// `spawn_warm`, `chained_spawn_warm`: untimed batches first (each one the whole cold workload), so the
    /// allocator, the runtime's task storage and the page tables are settled.
    pub warm_up_batches: usize,
    /// `spawn_warm`, `chained_spawn_warm`: timed batches after the warm-up; the median batch is the figure.
    pub warm_batches: usize,
    /// `yield_many`: tasks.
    pub yield_tasks: usize,
    /// `yield_many`: yields per task.
    pub yields_per_task: usize,
    /// `ping_pong`: channel hops in total (half of them each way).
    pub ping_pong_hops: usize,
    /// `timers`: sleeping tasks.
    pub timer_tasks: usize,
    /// `timers`: the longest random sleep.
    pub timer_max: Duration,
    /// `timers`: timers created and cancelled.
    pub timer_cancels: usize,
    /// `idle_memory`: parked tasks.
    pub idle_tasks: usize,
    /// `blocking`: `spawn_blocking` calls.
    pub blocking_calls: usize,
    /// `select`: `select!`s run.
    pub select_iterations: usize,
    /// `group`: tasks spawned into one task set and joined.
    pub group_tasks: usize,
    /// `echo`/`http`: load before the measured window.
    pub warmup: Duration,
    /// `echo`/`http`: the measured window.
    pub window: Duration,
}
