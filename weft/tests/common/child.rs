//! Child processes of the test binary itself: a test that needs a process of its own (a lowered descriptor
//! limit, a signal, a process-wide measurement) re-executes the binary to run only itself, in its child role.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Set in a child process to the name of the test whose child role it plays.
const CHILD_ROLE: &str = "WEFT_TEST_CHILD_ROLE";

/// True in the child process of `test`.
pub fn is_child(test: &str) -> bool {
    std::env::var(CHILD_ROLE).as_deref() == Ok(test)
}

/// The command that re-executes this test binary to run only `test` (ignored or not, on one test thread) in its
/// child role, under a soft limit of `nofile` open descriptors if given (`ulimit -n` of `/bin/sh`, which then
/// `exec`s the binary); stdin is empty, stdout and stderr are piped.
pub fn child_command(test: &str, nofile: Option<u32>) -> Command {
    let exe = std::env::current_exe().unwrap();
    let test_args = [
        test,
        "--exact",
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ];
    let mut command = match nofile {
        Some(limit) => {
            let mut command = Command::new("/bin/sh");
            command
                .arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                .arg(&exe)
                .args(test_args);
            command
        }
        None => {
            let mut command = Command::new(&exe);
            command.args(test_args);
            command
        }
    };
    command
        .env(CHILD_ROLE, test)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// What a child process did.
pub struct ChildRun {
    /// How it exited.
    pub status: ExitStatus,
    /// Its stdout; empty if the caller took the pipe.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// Whether it was killed for outliving its deadline.
    pub killed: bool,
}

impl ChildRun {
    /// Everything the child said, for an assertion's message.
    pub fn report(&self) -> String {
        format!(
            "status {:?}, killed {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.killed, self.stdout, self.stderr
        )
    }

    /// Asserts that the child exited successfully after running its one test.
    pub fn assert_passed(&self) {
        assert!(self.status.success(), "the child failed: {}", self.report());
        assert!(
            self.stdout.contains("1 passed"),
            "the child did not run the test: {}",
            self.report()
        );
    }
}

/// Waits for `child` to exit, killing it if it has not after `deadline` (a guard against hangs, not a timing
/// assertion); collects its stdout (unless already taken) and stderr meanwhile, so a full pipe never blocks it.
pub fn wait_child(mut child: Child, deadline: Duration) -> ChildRun {
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out = std::thread::spawn(move || read_all(stdout));
    let err = std::thread::spawn(move || read_all(stderr));
    let started = Instant::now();
    let mut killed = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            killed = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    ChildRun {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        killed,
    }
}

/// Runs `test`'s child role in a child process ([`child_command`]) and waits for it ([`wait_child`]).
pub fn run_child(test: &str, nofile: Option<u32>, deadline: Duration) -> ChildRun {
    wait_child(child_command(test, nofile).spawn().unwrap(), deadline)
}

/// All of `pipe` as text; empty without one.
fn read_all(pipe: Option<impl Read>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_string(&mut text);
    }
    text
}
