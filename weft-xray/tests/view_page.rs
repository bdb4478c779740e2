//! `weft-xray view`, used as a person would: a real weft program writes a trace with a deliberately slow poll,
//! the real binary turns it into a page, and headless Chromium opens the page. In its `?selftest` mode the page
//! draws, reads back its own pixels (a slow poll is red), clicks the slow slice and writes what it saw into the
//! DOM, which `chromium --dump-dom` prints. Chromium is installed with apt if missing; where it cannot be, the
//! browser checks are skipped with a message (bad input is checked either way).
//!
//! `WEFT_XRAY_SCREENSHOT=path` also saves the screenshot there (that is how `docs/xray-view.png` is made).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-xray-view-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What the traced program tells the test about itself.
struct Traced {
    /// The task whose poll blocks the loop.
    cruncher: u64,
    /// The line where the cruncher parks after its slow poll.
    parked_line: u32,
}

/// Runs a small weft program with tracing on: a ticker, two workers passing turns, and a "cruncher" that blocks
/// the loop for 100 ms in one poll, then parks on a sleep.
fn run_traced_program(trace: &Path) -> Traced {
    let runtime = weft::Builder::new()
        .trace_path(trace)
        .slow_poll_threshold(Some(Duration::from_millis(30)))
        .on_slow_poll(|_| {})
        .build()
        .unwrap();
    let parked_line = Arc::new(AtomicU32::new(0));
    let parked_at = parked_line.clone();
    let traced = runtime.block_on(async {
        let name = |name: &str| weft::task::Builder::new().name(name);
        let cruncher = name("cruncher").spawn(async move {
            weft::time::sleep(Duration::from_millis(3)).await;
            // CPU work on the loop: the bug the page shows in red.
            std::thread::sleep(Duration::from_millis(100));
            parked_at.store(line!() + 1, Ordering::Relaxed);
            weft::time::sleep(Duration::from_millis(3)).await;
        });
        let ticker = name("ticker").spawn(async {
            for _ in 0..10 {
                weft::time::sleep(Duration::from_millis(2)).await;
            }
        });
        let workers: Vec<_> = (0..2)
            .map(|i| {
                name(&format!("worker {i}")).spawn(async {
                    for _ in 0..20 {
                        weft::task::yield_now().await;
                    }
                })
            })
            .collect();
        let cruncher_id = cruncher.id().as_u64();
        cruncher.await.unwrap();
        ticker.await.unwrap();
        for worker in workers {
            worker.await.unwrap();
        }
        cruncher_id
    });
    drop(runtime); // writes the trace
    Traced {
        cruncher: traced,
        parked_line: parked_line.load(Ordering::Relaxed),
    }
}

/// Runs `weft-xray` with `args`.
fn weft_xray(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft-xray"))
        .args(args)
        .output()
        .unwrap()
}

/// `weft-xray view TRACES... -o PAGE`, which must succeed.
fn view(traces: &[&Path], page: &Path) {
    let mut args = vec![Path::new("view")];
    args.extend(traces);
    args.extend([Path::new("-o"), page]);
    let output = weft_xray(&args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("polls of"), "{stdout}");
}

/// Tells the person running the tests, even while the test harness captures output (a skip must be seen).
fn say(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// The Chromium binary, installed with apt if missing; `None` (with a message) where there is none.
fn chromium() -> Option<&'static str> {
    static CHROMIUM: OnceLock<Option<&'static str>> = OnceLock::new();
    *CHROMIUM.get_or_init(|| {
        let found = || {
            ["chromium", "chromium-browser", "google-chrome"]
                .into_iter()
                .find(|name| {
                    Command::new(name)
                        .arg("--version")
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|status| status.success())
                })
        };
        if let Some(name) = found() {
            return Some(name);
        }
        say("view_page: installing chromium with apt-get (quiet, each step at most 10 minutes)");
        let apt = |args: &[&str]| {
            Command::new("timeout")
                .arg("600")
                .arg("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        };
        if !apt(&["install", "-y", "-qq", "chromium"]) {
            let _ = apt(&["update", "-qq"]) && apt(&["install", "-y", "-qq", "chromium"]);
        }
        let Some(name) = found() else {
            say("view_page: SKIPPED the browser checks: chromium is not installed and apt-get could not install it");
            return None;
        };
        // Installed is not enough: a container may forbid what headless Chromium needs.
        let profile = std::env::temp_dir().join(format!("weft-xray-view-{}-probe", std::process::id()));
        let starts = Command::new("timeout")
            .args(["60", name])
            .args(HEADLESS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--dump-dom", "about:blank"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        let _ = std::fs::remove_dir_all(profile);
        if !starts {
            say(&format!("view_page: SKIPPED the browser checks: {name} is installed but cannot start headless here"));
            return None;
        }
        Some(name)
    })
}

/// How the tests run Chromium: headless, as root in a container, no GPU.
const HEADLESS: [&str; 6] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--hide-scrollbars",
];

/// Runs headless Chromium on `url` with `args`, stdout to a file; kills it if it hangs.
fn headless(dir: &Path, url: &str, args: &[&str]) -> String {
    let chromium = chromium().expect("checked by the caller");
    let stdout = dir.join("chromium.out");
    let mut child = Command::new(chromium)
        .args(HEADLESS)
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(args)
        .arg(url)
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium failed: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(&stdout).unwrap()
}

/// Opens `page` in `?selftest` mode and returns what the page found.
fn self_test(dir: &Path, page: &Path) -> Value {
    let url = format!("file://{}?selftest", page.display());
    let dom = headless(dir, &url, &["--dump-dom", "--window-size=1400,800"]);
    let start = dom
        .find(r#"<pre id="selftest">"#)
        .expect("the page has its self-test element")
        + r#"<pre id="selftest">"#.len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("the self-test wrote no results ({error}): {text:?}"))
}

/// The poll slices in a trace file.
fn polls_in(trace: &Path) -> usize {
    let document: Value = serde_json::from_str(&std::fs::read_to_string(trace).unwrap()).unwrap();
    document["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["cat"] == "poll")
        .count()
}

#[test]
fn the_page_draws_every_poll_paints_the_slow_one_red_and_a_click_shows_its_bookmark() {
    let dir = scratch("page");
    let (trace, page) = (dir.join("t.json"), dir.join("t.html"));
    let traced = run_traced_program(&trace);
    view(&[&trace], &page);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains(" src="),
        "the page is self-contained: it loads nothing"
    );
    if chromium().is_none() {
        return;
    }
    let result = self_test(&dir, &page);
    assert_eq!(result["polls"], polls_in(&trace), "{result}");
    assert_eq!(
        result["tasks"], 4,
        "cruncher, ticker, two workers: {result}"
    );
    assert_eq!(result["tracks"], 1, "{result}");
    assert!(result["slicesDrawn"].as_u64().unwrap() > 0, "{result}");
    assert!(
        result["arrowsDrawn"].as_u64().unwrap() > 0,
        "wake arrows: {result}"
    );
    // Only the cruncher's poll is slow by design; a loaded machine may stall another one past 10 ms.
    assert!(result["slowPolls"].as_u64().unwrap() >= 1, "{result}");
    assert_eq!(result["slowTask"], traced.cruncher, "{result}");
    assert!(
        result["slowPollRedFraction"].as_f64().unwrap() >= 0.5,
        "the slow poll is red: {result}"
    );
    assert_eq!(
        result["fastPollRedFraction"], 0.0,
        "other polls are not: {result}"
    );
    let clicked = &result["clicked"];
    assert_eq!(clicked["task"], traced.cruncher, "{result}");
    assert_eq!(clicked["kind"], "poll");
    assert_eq!(clicked["slow"], "true");
    let bookmark = clicked["bookmark"].as_str().unwrap();
    assert!(
        bookmark.starts_with("sleep 3ms at ")
            && bookmark.contains(&format!("view_page.rs:{}:", traced.parked_line)),
        "{bookmark}"
    );
    let panel = clicked["panel"].as_str().unwrap();
    assert!(panel.contains("cruncher"), "{panel}");
    assert!(panel.contains(bookmark), "{panel}");
    assert!(panel.contains("spawned at"), "{panel}");
    assert!(
        clicked["wokenBy"].as_str().unwrap().starts_with("timers"),
        "its sleep's timer woke it: {result}"
    );
    assert_eq!(result["zoomedIn"], true, "the wheel zooms: {result}");
    assert_eq!(
        result["zoomKeptPointer"], true,
        "about the pointer: {result}"
    );
    assert_eq!(result["pannedBy"], 100.0, "a drag pans: {result}");
    assert_eq!(
        result["dragKeptSelection"], true,
        "a drag is not a click: {result}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn traces_of_two_loops_are_two_track_groups() {
    let dir = scratch("loops");
    let traces = [dir.join("a.json"), dir.join("b.json")];
    let threads: Vec<_> = traces
        .iter()
        .cloned()
        .map(|trace| std::thread::spawn(move || run_traced_program(&trace)))
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let page = dir.join("loops.html");
    view(&[&traces[0], &traces[1]], &page);
    if chromium().is_none() {
        return;
    }
    let result = self_test(&dir, &page);
    assert_eq!(result["tracks"], 2, "{result}");
    assert_eq!(result["tasks"], 8, "{result}");
    assert_eq!(
        result["polls"],
        polls_in(&traces[0]) + polls_in(&traces[1]),
        "{result}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_screenshot_shows_the_timeline() {
    let dir = scratch("screenshot");
    let (trace, page) = (dir.join("t.json"), dir.join("t.html"));
    run_traced_program(&trace);
    view(&[&trace], &page);
    if chromium().is_none() {
        return;
    }
    let png = dir.join("xray-view.png");
    let url = format!("file://{}?select=slow", page.display());
    headless(
        &dir,
        &url,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,800",
        ],
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    if let Some(copy) = std::env::var_os("WEFT_XRAY_SCREENSHOT") {
        std::fs::write(copy, &bytes).unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs `weft-xray view BAD -o PAGE` and returns its one-line error, checking it exits with 1 and writes no page.
fn view_fails(dir: &Path, bad: &Path) -> String {
    let page = dir.join("never.html");
    let output = weft_xray(&[Path::new("view"), bad, Path::new("-o"), &page]);
    assert_eq!(output.status.code(), Some(1));
    assert!(!page.exists(), "no page for bad input");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    stderr
}

#[test]
fn a_truncated_trace_is_a_clear_error() {
    let dir = scratch("truncated");
    let trace = dir.join("t.json");
    run_traced_program(&trace);
    let text = std::fs::read(&trace).unwrap();
    std::fs::write(&trace, &text[..text.len() / 2]).unwrap();
    let error = view_fails(&dir, &trace);
    assert!(error.contains("t.json is truncated"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_that_is_not_json_is_a_clear_error() {
    let dir = scratch("not-json");
    let trace = dir.join("notes.txt");
    std::fs::write(&trace, "these are not the events you are looking for\n").unwrap();
    let error = view_fails(&dir, &trace);
    assert!(error.contains("notes.txt is not JSON"), "{error}");
    std::fs::write(&trace, "{\"answer\": 42}").unwrap();
    let error = view_fails(&dir, &trace);
    assert!(error.contains("not a trace"), "{error}");
    let error = view_fails(&dir, &dir.join("missing.json"));
    assert!(error.contains("cannot read"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}
