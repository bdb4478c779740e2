//! Text output shared by the subcommands: aligned tables, durations and task titles as the dump prints them.

use serde_json::Value;

/// Lines of `header` and `rows`, every column but the last padded to its widest cell, two spaces apart.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let last = header.len().saturating_sub(1);
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|title| (*title).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            if index == last {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[index]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A duration in milliseconds as the dump shows it: "1.2s", "12.0ms", "250µs".
pub fn duration_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1}s", ms / 1e3)
    } else if ms >= 1.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{}µs", (ms * 1e3).round())
    }
}

/// "task 7" or "task 7 'name'", from a task object of a reply.
pub fn title(task: &Value) -> String {
    let id = &task["id"];
    match task["name"].as_str() {
        Some(name) => format!("task {id} '{name}'"),
        None => format!("task {id}"),
    }
}

/// A bookmark object as the dump prints it: "sleep 2.0s at src/main.rs:7:9", or "-".
pub fn bookmark(bookmark: &Value) -> String {
    match (bookmark["label"].as_str(), bookmark["location"].as_str()) {
        (Some(label), Some(location)) => format!("{label} at {location}"),
        _ => "-".into(),
    }
}

/// A string field, or "-".
pub fn text(value: &Value) -> String {
    value.as_str().map_or_else(|| "-".into(), str::to_owned)
}

/// The tasks of a dump reply, or the reply's own text when the loop did not answer (it names the task that
/// blocks the loop).
pub fn tasks(dump: &Value) -> Result<&Vec<Value>, String> {
    if dump["answered"] == Value::Bool(true) {
        dump["tasks"]
            .as_array()
            .ok_or_else(|| "the dump reply has no task list".to_owned())
    } else {
        Err(text(&dump["text"]))
    }
}
