//! Real signals sent to the test process: every listener receives each delivery after it registered, on any
//! loop and thread; deliveries between two receives merge; a registered signal never kills the process while an
//! unregistered one keeps its default; signals that cannot be caught are refused with a clear error.
//!
//! Signals are process-wide and the tests of this binary run in parallel, so each test uses a signal of its own;
//! a test that needs the process's default dispositions runs in a child process.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use weft::signal::unix::{signal, SignalKind};
use weft::time::timeout;

mod common;
use common::child::{child_command, is_child};
use common::{isolated, run};

/// Sends `signum` to this process.
fn raise(signum: i32) {
    // SAFETY: kill(2) with our own pid and a valid signal number has no memory-safety preconditions.
    let result = unsafe { libc::kill(libc::getpid(), signum) };
    assert_eq!(result, 0, "kill: {}", std::io::Error::last_os_error());
}

/// True if a `recv` completes within 100 ms (used only to show that one does not: a delivery is immediate).
async fn receives_soon(signal: &mut weft::signal::unix::Signal) -> bool {
    timeout(Duration::from_millis(100), signal.recv())
        .await
        .is_ok()
}

#[test]
fn every_listener_on_any_loop_and_thread_receives_each_delivery() {
    let kind = SignalKind::user_defined1();
    // A listener on another thread, on its own runtime.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let other = std::thread::spawn(move || {
        weft::run(async move {
            let mut listener = signal(kind).unwrap();
            ready_tx.send(()).unwrap();
            timeout(Duration::from_secs(60), listener.recv())
                .await
                .expect("the other thread's listener got the signal")
        })
    });
    ready_rx.recv().unwrap();
    run(async move {
        let mut first = signal(kind).unwrap();
        let mut second = signal(kind).unwrap();
        // Waiting before the delivery (woken by it) and not waiting yet (finds it later) both receive it.
        let waiting = weft::spawn(async move { first.recv().await });
        weft::task::yield_now().await;
        raise(libc::SIGUSR1);
        assert_eq!(waiting.await.unwrap(), Some(()));
        assert_eq!(second.recv().await, Some(()));
        // A listener registered after the delivery does not receive it.
        let mut late = signal(kind).unwrap();
        assert!(!receives_soon(&mut late).await);
        raise(libc::SIGUSR1);
        assert_eq!(late.recv().await, Some(()));
    });
    assert_eq!(other.join().unwrap(), Some(()));
}

#[test]
fn deliveries_between_two_receives_merge_and_none_is_lost() {
    run(async {
        let mut listener = signal(SignalKind::user_defined2()).unwrap();
        for _ in 0..3 {
            raise(libc::SIGUSR2);
        }
        // The handler has run before kill(2) returns for a signal to the calling thread's process, but the
        // reader thread may still be catching up: recv waits for it.
        assert_eq!(listener.recv().await, Some(()));
        // Three deliveries, one or more receives: at least one, and never one for nothing afterwards once
        // everything arrived. Drain what merged, then expect quiet.
        while receives_soon(&mut listener).await {}
        assert!(!receives_soon(&mut listener).await);
        // A delivery while no recv is in progress is kept for the next one.
        raise(libc::SIGUSR2);
        assert_eq!(listener.recv().await, Some(()));
    });
}

#[test]
fn ctrl_c_completes_on_sigint_and_the_process_survives() {
    // In a process of its own, so that Ctrl-C still stops the rest of this test binary.
    isolated(
        "ctrl_c_completes_on_sigint_and_the_process_survives",
        || {
            run(async {
                let ctrl_c = weft::signal::ctrl_c(); // registered now, before the signal
                raise(libc::SIGINT);
                ctrl_c.await.unwrap();
                // SIGINT stays caught with no listener left: a second Ctrl-C does not end the process.
                raise(libc::SIGINT);
                weft::time::sleep(Duration::from_millis(20)).await;
            });
        },
    );
}

#[test]
fn a_task_waiting_for_a_signal_shows_it_as_its_bookmark() {
    run(async {
        let mut listener = signal(SignalKind::window_change()).unwrap();
        let line = line!() + 1;
        let waiting = weft::spawn(async move { listener.recv().await });
        weft::task::yield_now().await;
        let dump = weft::xray::dump();
        let task = dump
            .tasks()
            .iter()
            .find(|task| task.id == waiting.id())
            .unwrap();
        let bookmark = task.bookmark.as_ref().expect("a bookmark");
        assert_eq!(bookmark.label, "Signal::recv SIGWINCH");
        assert_eq!(bookmark.location.line(), line);
        raise(libc::SIGWINCH);
        assert_eq!(waiting.await.unwrap(), Some(()));
    });
}

#[test]
fn signals_that_cannot_be_caught_are_refused_with_a_clear_error() {
    for (signum, words) in [
        (libc::SIGKILL, "cannot be caught"),
        (libc::SIGSTOP, "cannot be caught"),
        (libc::SIGSEGV, "faulting instruction"),
        (libc::SIGFPE, "faulting instruction"),
        (0, "no signal number"),
        (-1, "no signal number"),
        (65, "no signal number"),
        (1000, "no signal number"),
        (32, "C library"),
    ] {
        let error = signal(SignalKind::from_raw(signum)).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{signum}");
        let text = error.to_string();
        assert!(text.contains(words), "signal {signum}: {text}");
        assert!(text.contains(&signum.to_string()), "{text}");
    }
    // Real-time signals the C library leaves to applications are fine.
    assert!(signal(SignalKind::from_raw(libc::SIGRTMAX())).is_ok());
}

#[test]
fn an_unregistered_signal_keeps_its_default_action() {
    const TEST: &str = "an_unregistered_signal_keeps_its_default_action";
    if is_child(TEST) {
        // The child: signals are set up (another signal is registered), SIGTERM is not: it ends the process.
        let _listener = signal(SignalKind::hangup()).unwrap();
        raise(libc::SIGTERM);
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    let status = child_command(TEST, None).output().unwrap().status;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

#[test]
fn a_registered_sigterm_is_received_instead_of_ending_the_process() {
    // SIGTERM in a process of its own: nothing else in this binary may have it registered.
    isolated(
        "a_registered_sigterm_is_received_instead_of_ending_the_process",
        || {
            run(async {
                let mut terminate = signal(SignalKind::terminate()).unwrap();
                raise(libc::SIGTERM);
                assert_eq!(terminate.recv().await, Some(()));
                drop(terminate);
                raise(libc::SIGTERM); // still caught: no listener, no death
                weft::time::sleep(Duration::from_millis(20)).await;
            });
        },
    );
}
