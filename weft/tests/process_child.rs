//! Real child processes: output and exit codes, a megabyte through `cat` both ways at once, 200 children at once,
//! kill, no zombie ever (kill_on_drop and plain drops), a child that closes its stdout early or its stdin, and bad
//! input: a program that does not exist and the descriptor limit, neither leaking a descriptor or a process.
//! The `SIGCHLD` path (kernels without pidfds) is run in a child process with `WEFT_NO_PIDFD` set.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::process::{Command, Stdio};
use weft::time::sleep;

mod common;
use common::{isolated, isolated_with, run};

/// Open descriptors of this process.
fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The state letter of process `pid` from /proc (`Z` for a zombie), or `None` once it is gone entirely.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Waits (on the loop) until process `pid` is gone: neither running nor a zombie.
async fn until_gone(pid: u32) {
    while process_state(pid).is_some() {
        sleep(Duration::from_millis(5)).await;
    }
}

/// True if `pid` is no child of ours to reap (reaped already): `waitpid` says `ECHILD`.
fn not_our_child(pid: u32) -> bool {
    let mut status = 0;
    // SAFETY: waitpid with a valid pointer to a local int; WNOHANG never blocks.
    let result = unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) };
    result == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
}

#[test]
fn output_collects_stdout_stderr_and_the_exit_code() {
    run(async {
        let output = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .output()
            .await
            .unwrap();
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
        assert_eq!(output.status.code(), Some(3));
        let status = Command::new("true").status().await.unwrap();
        assert!(status.success());
        // output() left the command's stdio as it was: status() inherits again (nothing captured, no error).
        let mut command = Command::new("sh");
        command.args(["-c", "exit 0"]);
        command.output().await.unwrap();
        assert!(command.status().await.unwrap().success());
    });
}

#[test]
fn a_megabyte_through_cat_both_ways_at_once() {
    run(async {
        let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // The pipes hold 64 KiB: writing all before reading would deadlock, so both run at once.
        let sent = data.clone();
        let writer = weft::spawn(async move {
            stdin.write_all(&sent).await.unwrap();
            stdin.close().await.unwrap();
        });
        let mut echoed = Vec::new();
        stdout.read_to_end(&mut echoed).await.unwrap();
        writer.await.unwrap();
        assert!(
            echoed == data,
            "cat echoed {} bytes, not the same",
            echoed.len()
        );
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn two_hundred_short_children_at_once() {
    run(async {
        let children: Vec<_> = (0..200)
            .map(|_| Command::new("true").spawn().unwrap())
            .collect();
        let waits = children.into_iter().map(|mut child| async move {
            let pid = child.id().unwrap();
            let status = child.wait().await.unwrap();
            (pid, status)
        });
        let statuses = weft::join_all(waits.map(weft::spawn)).await;
        for result in statuses {
            let (pid, status) = result.unwrap();
            assert!(status.success());
            assert!(not_our_child(pid));
        }
    });
}

#[test]
fn kill_ends_and_reaps_the_child() {
    run(async {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id().unwrap();
        assert!(child.try_wait().unwrap().is_none());
        child.kill().await.unwrap();
        assert_eq!(child.id(), None);
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
        assert!(not_our_child(pid));
        assert!(process_state(pid).is_none());
        // Killing a reaped child is refused: its pid may be someone else's by now.
        assert_eq!(
            child.start_kill().unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
    });
}

#[test]
fn kill_on_drop_leaves_no_process_and_no_zombie() {
    run(async {
        let child = Command::new("sleep")
            .arg("1000")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        drop(child);
        until_gone(pid).await; // killed, and reaped: a zombie would stay in /proc
        assert!(not_our_child(pid));
    });
}

#[test]
fn a_dropped_child_keeps_running_and_is_reaped_when_it_exits() {
    run(async {
        let (marker_dir, marker) = {
            let dir = std::env::temp_dir().join(format!("weft-drop-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let marker = dir.join("ran");
            (dir, marker)
        };
        let _ = std::fs::remove_file(&marker);
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("sleep 0.2; touch {}", marker.display()))
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        drop(child); // not killed: it finishes its work
        until_gone(pid).await;
        assert!(marker.exists(), "the dropped child was killed");
        assert!(not_our_child(pid));
        std::fs::remove_dir_all(marker_dir).unwrap();
    });
}

#[test]
fn a_child_that_closes_stdout_early_still_reports_its_exit() {
    run(async {
        let mut child = Command::new("sh")
            .args(["-c", "echo partial; exec >&-; sleep 0.2; exit 4"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        assert_eq!(out, "partial\n"); // end of stream while the child still runs
        assert_eq!(child.wait().await.unwrap().code(), Some(4));
    });
}

#[test]
fn writing_to_a_child_that_stopped_reading_is_broken_pipe() {
    run(async {
        let mut child = Command::new("head")
            .args(["-c", "10"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let error = stdin.write_all(&vec![b'x'; 1 << 20]).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
        let mut out = Vec::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out.len(), 10);
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn a_waiting_child_shows_it_as_its_bookmark() {
    run(async {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id().unwrap();
        let (tx, rx) = weft::sync::oneshot::channel();
        let line = line!() + 2;
        let waiter = weft::spawn(async move {
            let status = child.wait().await;
            tx.send(child).unwrap();
            status
        });
        weft::task::yield_now().await;
        let dump = weft::xray::dump();
        let task = dump
            .tasks()
            .iter()
            .find(|task| task.id == waiter.id())
            .unwrap();
        let bookmark = task.bookmark.as_ref().expect("a bookmark");
        assert_eq!(bookmark.label, format!("Child::wait pid {pid}"));
        assert_eq!(bookmark.location.line(), line);
        // SAFETY: kill(2) on our own unreaped child.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
        let status = waiter.await.unwrap().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        drop(rx.await.unwrap());
    });
}

#[test]
fn a_program_that_does_not_exist_is_an_error_and_leaks_no_descriptor() {
    // Descriptors are counted in a process of their own: the other tests open pipes meanwhile.
    isolated(
        "a_program_that_does_not_exist_is_an_error_and_leaks_no_descriptor",
        || {
            run(async {
                // Warm up what opens descriptors once (the loop's, the first pidfd registration).
                Command::new("true").status().await.unwrap();
                let before = fd_count();
                for _ in 0..10 {
                    let error = Command::new("/no/such/program")
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap_err();
                    assert_eq!(error.kind(), std::io::ErrorKind::NotFound, "{error}");
                }
                let error = Command::new("/").output().await.unwrap_err();
                assert_eq!(
                    error.kind(),
                    std::io::ErrorKind::PermissionDenied,
                    "{error}"
                );
                assert_eq!(fd_count(), before);
            });
        },
    );
}

#[test]
fn spawning_at_the_descriptor_limit_fails_cleanly_and_recovers() {
    // Under `ulimit -n 64`, in a process of its own: fill the table to within a few descriptors of the limit, so
    // that the stdio pipes, std's exec-error pipe or the pidfd each run out in turn.
    isolated_with(
        "spawning_at_the_descriptor_limit_fails_cleanly_and_recovers",
        &[],
        Some(64),
        || {
            run(async {
                Command::new("true").status().await.unwrap();
                let mut failures = 0;
                for room in 0..10 {
                    let mut filler = Vec::new();
                    while fd_count() < 64 - room {
                        match std::fs::File::open("/dev/null") {
                            Ok(file) => filler.push(file),
                            Err(_) => break,
                        }
                    }
                    let before = fd_count();
                    match Command::new("true")
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                    {
                        Ok(mut child) => {
                            drop((child.stdin.take(), child.stdout.take(), child.stderr.take()));
                            assert!(child.wait().await.unwrap().success());
                        }
                        Err(error) => {
                            failures += 1;
                            assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{error}");
                            assert_eq!(fd_count(), before, "a failed spawn left a descriptor");
                        }
                    }
                    drop(filler);
                }
                assert!(failures > 0, "the limit was never reached");
                // Nothing left running or unreaped: this process has no children at all.
                let mut status = 0;
                // SAFETY: waitpid with a valid pointer; WNOHANG never blocks.
                let result = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
                assert_eq!(result, -1, "a child was left behind");
                assert_eq!(
                    std::io::Error::last_os_error().raw_os_error(),
                    Some(libc::ECHILD)
                );
                // With descriptors free again, spawning works.
                assert!(Command::new("true").status().await.unwrap().success());
            });
        },
    );
}

#[test]
fn without_pidfds_children_are_waited_for_through_sigchld() {
    isolated_with(
        "without_pidfds_children_are_waited_for_through_sigchld",
        &[("WEFT_NO_PIDFD", "1")],
        None,
        || {
            run(async {
                let output = Command::new("sh")
                    .args(["-c", "echo hi; exit 5"])
                    .output()
                    .await
                    .unwrap();
                assert_eq!(output.stdout, b"hi\n");
                assert_eq!(output.status.code(), Some(5));
                let children: Vec<_> = (0..50)
                    .map(|_| Command::new("true").spawn().unwrap())
                    .collect();
                for mut child in children {
                    assert!(child.wait().await.unwrap().success());
                }
                let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
                child.kill().await.unwrap();
                let child = Command::new("sleep")
                    .arg("1000")
                    .kill_on_drop(true)
                    .spawn()
                    .unwrap();
                let pid = child.id().unwrap();
                drop(child);
                until_gone(pid).await;
            });
        },
    );
}
