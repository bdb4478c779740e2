//! `weft-xray view`: a weft trace (Chrome trace-event JSON, written by `Builder::trace_path`) turned into one
//! self-contained HTML page that draws the loop's timeline: a lane per task with a slice per poll, the loop's
//! parking in the OS, wake arrows, slow polls in red; zoom, pan, and a click that shows a slice's task, its
//! bookmark and its spawn line. Several traces (several loops) make one page, a track group per loop.
//!
//! The page is `assets/view.html` with the trace's events embedded as JSON in place of its placeholder: no
//! network, no files beside it.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The page, with [`DATA_PLACEHOLDER`] where the data goes.
const TEMPLATE: &str = include_str!("../assets/view.html");

/// The text in [`TEMPLATE`] that the data replaces.
const DATA_PLACEHOLDER: &str = "/*WEFT_TRACE_DATA*/";

/// Polls at least this long are drawn in red unless `--slow-ms` says otherwise (slices the runtime itself
/// marked slow are red whatever their length).
const DEFAULT_SLOW_MS: f64 = 10.0;

/// What the command line asked for.
#[derive(Debug, PartialEq)]
struct Options {
    /// The trace files, drawn together.
    traces: Vec<PathBuf>,
    /// Where the page goes.
    output: PathBuf,
    /// Polls at least this long (in ms) are slow.
    slow_ms: f64,
}

/// What `view` says when its arguments are wrong.
const USAGE: &str = "usage: weft-xray view TRACE.json [MORE.json ...] -o TRACE.html [--slow-ms N]";

/// Runs `weft-xray view` with `args` (those after "view"): reads the traces, writes the page, and prints one
/// line saying what it drew. A trace that cannot be read, is truncated or is not JSON is an error naming the
/// file and what is wrong with it.
///
/// ```text
/// $ WEFT_TRACE=trace.json cargo run --example xray
/// $ weft-xray view trace.json -o trace.html
/// weft-xray: wrote trace.html: 412 polls of 25 tasks on 1 loop
/// ```
pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse_args(args)?;
    let mut events = Vec::new();
    for path in &options.traces {
        events.extend(read_trace(path)?);
    }
    let summary = Summary::of(&events);
    if summary.slices == 0 {
        return Err(format!(
            "{}: no slices to draw (is it a weft trace?)",
            names(&options.traces)
        ));
    }
    let page = page(
        &names(&options.traces),
        options.slow_ms,
        events.into_iter().map(Value::Object).collect(),
    );
    std::fs::write(&options.output, page)
        .map_err(|error| format!("cannot write {}: {error}", options.output.display()))?;
    println!(
        "weft-xray: wrote {}: {} polls of {} tasks on {} loop{}",
        options.output.display(),
        summary.polls,
        summary.tasks,
        summary.loops,
        if summary.loops == 1 { "" } else { "s" }
    );
    Ok(())
}

/// Reads the command line: trace files, `-o PAGE` (required), `--slow-ms N`.
fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut traces = Vec::new();
    let mut output = None;
    let mut slow_ms = DEFAULT_SLOW_MS;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-o" | "--output" => {
                let path = args.next().ok_or("-o needs a file name")?;
                output = Some(PathBuf::from(path));
            }
            "--slow-ms" => {
                let value = args.next().ok_or("--slow-ms needs a number")?;
                slow_ms = value
                    .parse()
                    .ok()
                    .filter(|ms: &f64| ms.is_finite() && *ms >= 0.0)
                    .ok_or_else(|| format!("--slow-ms: not a number of milliseconds: {value:?}"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(format!("unknown option {flag:?}; {USAGE}"));
            }
            path => traces.push(PathBuf::from(path)),
        }
    }
    if traces.is_empty() {
        return Err(format!("no trace file given; {USAGE}"));
    }
    let output = output.ok_or_else(|| format!("no output page given (-o TRACE.html); {USAGE}"))?;
    Ok(Options {
        traces,
        output,
        slow_ms,
    })
}

/// The events of one trace file that the page draws: slices (`X`), wakes (flow starts, `s`) and thread names
/// (`M`). Accepts both forms of the format: an object with `traceEvents`, or a bare array of events.
fn read_trace(path: &Path) -> Result<Vec<Map<String, Value>>, String> {
    let name = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read {name}: {error}"))?;
    if text.trim().is_empty() {
        return Err(format!("{name} is empty: not a trace"));
    }
    let document: Value = serde_json::from_str(&text).map_err(|error| match error.classify() {
        serde_json::error::Category::Eof => format!(
            "{name} is truncated: the JSON stops at line {}, column {} (a trace is complete once its \
             runtime is dropped or weft::xray::flush_trace returns)",
            error.line(),
            error.column()
        ),
        _ => format!("{name} is not JSON: {error}"),
    })?;
    let events = match document {
        Value::Object(mut object) => match object.remove("traceEvents") {
            Some(Value::Array(events)) => events,
            _ => {
                return Err(format!(
                    "{name} is not a trace: a JSON object without a \"traceEvents\" array"
                ))
            }
        },
        Value::Array(events) => events,
        _ => {
            return Err(format!(
                "{name} is not a trace: neither an object nor an array"
            ))
        }
    };
    Ok(events
        .into_iter()
        .filter_map(|event| match event {
            Value::Object(event)
                if matches!(
                    event.get("ph").and_then(Value::as_str),
                    Some("X" | "s" | "M")
                ) =>
            {
                Some(event)
            }
            _ => None,
        })
        .collect())
}

/// What a set of events holds, for the line `view` prints.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    /// Slices of any kind.
    slices: usize,
    /// Task polls.
    polls: usize,
    /// Distinct tasks (per loop).
    tasks: usize,
    /// Distinct loops (pid, tid).
    loops: usize,
}

impl Summary {
    /// Counts `events`.
    fn of(events: &[Map<String, Value>]) -> Summary {
        let number = |event: &Map<String, Value>, key: &str| event.get(key).and_then(Value::as_u64);
        let mut tasks = HashSet::new();
        let mut loops = HashSet::new();
        let mut summary = Summary::default();
        for event in events.iter().filter(|event| event["ph"] == "X") {
            let track = (number(event, "pid"), number(event, "tid"));
            summary.slices += 1;
            loops.insert(track);
            if event.get("cat").and_then(Value::as_str) == Some("poll") {
                summary.polls += 1;
                let task = event.get("args").and_then(|args| args.get("task"));
                tasks.insert((track, task.and_then(Value::as_u64)));
            }
        }
        summary.tasks = tasks.len();
        summary.loops = loops.len();
        summary
    }
}

/// The files' names, for the page's title and messages.
fn names(paths: &[PathBuf]) -> String {
    let names: Vec<_> = paths
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    names.join(", ")
}

/// The page: the template with the data in place of its placeholder.
fn page(title: &str, slow_ms: f64, events: Vec<Value>) -> String {
    let mut data = Map::new();
    data.insert("title".to_owned(), Value::from(title));
    data.insert("slow_us".to_owned(), Value::from(slow_ms * 1000.0));
    data.insert("events".to_owned(), Value::Array(events));
    TEMPLATE.replacen(
        DATA_PLACEHOLDER,
        &script_safe(&Value::Object(data).to_string()),
        1,
    )
}

/// JSON that can sit inside a `<script>` element: every `<` (which JSON allows only inside strings) written as
/// `\u003c`, so no `</script>` or `<!--` in a task's name ends the element early.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn arguments_name_the_traces_the_page_and_the_slow_threshold() {
        let options = parse_args(&strings(&[
            "a.json",
            "b.json",
            "-o",
            "t.html",
            "--slow-ms",
            "2.5",
        ]));
        assert_eq!(
            options,
            Ok(Options {
                traces: vec![PathBuf::from("a.json"), PathBuf::from("b.json")],
                output: PathBuf::from("t.html"),
                slow_ms: 2.5,
            })
        );
        assert!(parse_args(&strings(&["a.json"]))
            .unwrap_err()
            .contains("-o"));
        assert!(parse_args(&strings(&["-o", "t.html"]))
            .unwrap_err()
            .contains("no trace"));
        assert!(parse_args(&strings(&["a.json", "-o"])).is_err());
        assert!(parse_args(&strings(&["a.json", "-o", "t", "--slow-ms", "x"])).is_err());
        assert!(parse_args(&strings(&["a.json", "-o", "t", "--frobnicate"])).is_err());
    }

    #[test]
    fn a_script_end_tag_in_the_data_cannot_end_the_script() {
        let events =
            vec![serde_json::json!({"name": "</script><script>alert(1)</script>", "ph": "X"})];
        let page = page("t", 10.0, events);
        let opening = r#"id="trace">"#;
        let start = page.find(opening).unwrap() + opening.len();
        let end = start + page[start..].find("</script>").unwrap();
        let data: Value =
            serde_json::from_str(&page[start..end]).expect("the whole data, then the end tag");
        assert_eq!(
            data["events"][0]["name"],
            "</script><script>alert(1)</script>"
        );
    }
}
