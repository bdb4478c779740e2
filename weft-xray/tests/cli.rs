//! The real `weft-xray` binary against a live weft process: `ps`, `pstree` and `top` name its tasks and
//! bookmarks; each kind of bad input exits 1 with a one-line message that says which.
//!
//! The inspected process is this test binary itself, re-run with `--ignored --exact inspected_service` and
//! `WEFT_INSPECT=1`, each in a private `XDG_RUNTIME_DIR`. No timing assertions.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use weft::task::TaskGroup;
use weft::time::sleep;

/// Set when this binary runs as the inspected service.
const SERVICE: &str = "WEFT_XRAY_TEST_SERVICE";

/// Not a test of its own: the service the other tests inspect, run when they re-run this binary with
/// `SERVICE` set (ignored otherwise). A task group with three workers, a supervisor awaiting a job, and the
/// runtime's socket path on stdout once they are parked.
#[test]
#[ignore = "the service the other tests start; runs only when they re-run this binary"]
fn inspected_service() {
    if std::env::var_os(SERVICE).is_none() {
        return;
    }
    let runtime = weft::Builder::new().build().unwrap(); // WEFT_INSPECT=1 comes from the environment
    let socket = runtime
        .inspect_socket()
        .expect("WEFT_INSPECT=1 opens the socket")
        .to_owned();
    runtime.block_on(async move {
        let _acceptor = weft::task::Builder::new().name("acceptor").spawn(async {
            let mut group = TaskGroup::new();
            for n in 0..3 {
                group.spawn_named(format!("worker {n}"), async {
                    loop {
                        sleep(Duration::from_millis(20)).await;
                    }
                });
            }
            group.join_all().await
        });
        let job = weft::task::Builder::new()
            .name("job")
            .spawn(sleep(Duration::from_secs(600)));
        // A JoinHandle is a future: this task awaits it.
        let _supervisor = weft::task::Builder::new().name("supervisor").spawn(job);
        sleep(Duration::from_millis(50)).await;
        println!("ready {}", socket.display());
        // The tests kill it long before; the limit only keeps a leftover from running forever.
        sleep(Duration::from_secs(120)).await;
    });
}

/// A private directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "weft-xray-cli-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Relaxed)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .unwrap();
        TempDir(path)
    }

    /// Its `weft` subdirectory, where sockets go, made with `mode`.
    fn socket_dir(&self, mode: u32) -> PathBuf {
        let dir = self.0.join("weft");
        std::fs::DirBuilder::new().mode(mode).create(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running child process, killed and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The inspected service, started and parked.
struct Service {
    process: Running,
    dir: TempDir,
}

impl Service {
    fn start() -> Service {
        let dir = TempDir::new();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "inspected_service",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SERVICE, "1")
            .env("WEFT_INSPECT", "1")
            .env("XDG_RUNTIME_DIR", &dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let process = Running(child);
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .expect("the service exited before it was ready")
                .unwrap();
            // libtest prints "test inspected_service ... " on the same line first.
            if let Some((_, socket)) = line.split_once("ready ") {
                assert!(Path::new(socket).starts_with(&dir.0), "{socket}");
                break;
            }
        }
        Service { process, dir }
    }

    fn pid(&self) -> u32 {
        self.process.0.id()
    }
}

/// `weft-xray` with `args`, `XDG_RUNTIME_DIR` set to `dir`, and `stdin` fed in.
fn xray(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    xray_command(dir, args, stdin, |_| {})
}

/// As [`xray`], with `adjust` applied to the command first.
fn xray_command(
    dir: &Path,
    args: &[&str],
    stdin: &[u8],
    adjust: impl FnOnce(&mut Command),
) -> Output {
    try_xray_command(dir, args, stdin, adjust).unwrap()
}

/// As [`xray_command`], saying whether the binary could be started at all.
fn try_xray_command(
    dir: &Path,
    args: &[&str],
    stdin: &[u8],
    adjust: impl FnOnce(&mut Command),
) -> std::io::Result<Output> {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft-xray"));
    command
        .args(args)
        .env("XDG_RUNTIME_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    adjust(&mut command);
    let mut child = command.spawn()?;
    // A run that fails early may be gone before it reads its input: a broken pipe here is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output()
}

/// The output of a run that must succeed.
fn success(output: Output) -> String {
    assert!(
        output.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Checks a run failed with exit code 1 and a one-line error containing `expected`.
fn fails_saying(output: Output, expected: &str) {
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("weft-xray: "), "{stderr:?}");
    assert!(
        stderr.contains(expected),
        "{stderr:?} should say {expected:?}"
    );
}

/// A live process that is not a weft service (with `XDG_RUNTIME_DIR` = `dir`).
fn bystander(dir: &Path) -> Running {
    Running(
        Command::new("sleep")
            .arg("60")
            .env("XDG_RUNTIME_DIR", dir)
            .spawn()
            .unwrap(),
    )
}

#[test]
fn ps_lists_the_tasks_with_names_and_bookmarks() {
    let service = Service::start();
    let table = success(xray(
        &service.dir.0,
        &["ps", &service.pid().to_string()],
        b"",
    ));
    assert!(
        table.starts_with(&format!("process {}: 6 live tasks", service.pid())),
        "{table}"
    );
    let header = table.lines().nth(1).unwrap();
    for column in [
        "id",
        "name",
        "state",
        "polls",
        "awaited by",
        "bookmark",
        "spawned at",
    ] {
        assert!(header.contains(column), "{header}");
    }
    for name in ["acceptor", "worker 0", "worker 2", "supervisor", "job"] {
        assert!(table.contains(name), "{name} missing:\n{table}");
    }
    assert!(table.contains("TaskGroup::join_next at "), "{table}");
    assert!(table.contains("sleep 600.0s at "), "{table}");
    assert!(table.contains("JoinHandle task "), "{table}");
    assert!(
        table.contains("cli.rs:"),
        "bookmarks and spawn lines point at the source:\n{table}"
    );
}

#[test]
fn pstree_puts_each_task_under_the_one_that_awaits_it() {
    let service = Service::start();
    let tree = success(xray(
        &service.dir.0,
        &["pstree", &service.pid().to_string()],
        b"",
    ));
    let lines: Vec<&str> = tree.lines().collect();
    let at = |name: &str| {
        lines
            .iter()
            .position(|line| line.contains(&format!("'{name}'")))
            .unwrap_or_else(|| panic!("{name} missing:\n{tree}"))
    };
    // Each level of the tree is three characters of prefix ("│  " or "   ") before the branch ("├─"/"└─").
    let depth = |index: usize| lines[index].chars().take_while(|&c| c != '─').count() / 3;
    let (acceptor, supervisor, job) = (at("acceptor"), at("supervisor"), at("job"));
    assert_eq!(job, supervisor + 1, "{tree}");
    assert_eq!(depth(job), depth(supervisor) + 1, "{tree}");
    for worker in ["worker 0", "worker 1", "worker 2"] {
        let worker = at(worker);
        assert!(worker > acceptor && worker <= acceptor + 3, "{tree}");
        assert_eq!(depth(worker), depth(acceptor) + 1, "{tree}");
    }
    assert!(lines[job].contains("sleep 600.0s"), "{tree}");
}

#[test]
fn top_shows_the_busiest_tasks_and_quits_on_q() {
    let service = Service::start();
    let screen = success(xray(
        &service.dir.0,
        &["top", &service.pid().to_string()],
        b"q\n",
    ));
    assert!(
        screen.contains(&format!("process {}", service.pid())),
        "{screen}"
    );
    assert!(screen.contains("polls/s"), "{screen}");
    assert!(screen.contains("worker 1"), "{screen}");
    assert!(screen.contains("latest slow polls"), "{screen}");
    // Ctrl-C (as a byte, what a terminal in raw mode sends) quits too.
    success(xray(
        &service.dir.0,
        &["top", &service.pid().to_string()],
        b"\x03",
    ));
}

#[test]
fn a_dead_pid_is_said_to_be_gone() {
    let dir = TempDir::new();
    let mut exited = Command::new("true").spawn().unwrap();
    let pid = exited.id();
    exited.wait().unwrap();
    fails_saying(
        xray(&dir.0, &["ps", &pid.to_string()], b""),
        "no process with pid",
    );
}

#[test]
fn a_process_without_a_socket_is_said_to_have_none() {
    let dir = TempDir::new();
    let other = bystander(&dir.0);
    fails_saying(
        xray(&dir.0, &["pstree", &other.0.id().to_string()], b""),
        "has no weft inspection socket",
    );
}

#[test]
fn a_socket_that_does_not_answer_times_out() {
    let dir = TempDir::new();
    let other = bystander(&dir.0);
    let socket = dir.socket_dir(0o700).join(format!("{}.sock", other.0.id()));
    let _deaf = UnixListener::bind(&socket).unwrap(); // accepts into its backlog, never reads or replies
    fails_saying(
        xray(&dir.0, &["ps", &other.0.id().to_string()], b""),
        "did not answer",
    );
}

#[test]
fn a_leftover_socket_nobody_serves_is_said_to_be_so() {
    let dir = TempDir::new();
    let other = bystander(&dir.0);
    let socket = dir.socket_dir(0o700).join(format!("{}.sock", other.0.id()));
    drop(UnixListener::bind(&socket).unwrap()); // the file stays, nobody listens
    fails_saying(
        xray(&dir.0, &["ps", &other.0.id().to_string()], b""),
        "not being served",
    );
}

#[test]
fn a_socket_directory_others_can_enter_is_not_trusted() {
    let dir = TempDir::new();
    let other = bystander(&dir.0);
    let socket = dir.socket_dir(0o755).join(format!("{}.sock", other.0.id()));
    let _listener = UnixListener::bind(&socket).unwrap();
    fails_saying(
        xray(&dir.0, &["top", &other.0.id().to_string()], b"q\n"),
        "not trusting it",
    );
}

#[test]
fn another_users_process_is_refused() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        // Root: run weft-xray as `nobody` against a service of root's.
        let service = Service::start();
        let pid = service.pid().to_string();
        let run_as_nobody = try_xray_command(&service.dir.0, &["ps", &pid], b"", |command| {
            command.uid(65534).gid(65534);
        });
        match run_as_nobody {
            Ok(output) => fails_saying(output, "belongs to uid 0, not to you (uid 65534)"),
            // The binary lies where `nobody` may not go (a private target directory): nothing to test here.
            Err(error) => eprintln!("skipped: cannot run weft-xray as nobody: {error}"),
        }
    } else {
        // Anyone else: pid 1 is root's.
        let dir = TempDir::new();
        fails_saying(xray(&dir.0, &["ps", "1"], b""), "belongs to uid 0");
    }
}

#[test]
fn arguments_that_are_not_a_pid_are_refused() {
    let dir = TempDir::new();
    fails_saying(xray(&dir.0, &["ps", "abc"], b""), "is not a process id");
    fails_saying(xray(&dir.0, &["pstree"], b""), "missing PID");
    fails_saying(xray(&dir.0, &["frobnicate"], b""), "unknown subcommand");
}
