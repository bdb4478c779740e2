//! `weft-xray ps PID`: every live task of the process as an aligned table, longest-parked first.

use serde_json::Value;

use crate::client::Process;
use crate::table;

/// Prints the process's tasks.
pub fn run(pid: u32) -> Result<(), String> {
    let dump = Process::find(pid)?.request("dump")?;
    print!("{}", render(pid, &dump));
    Ok(())
}

/// The table for a dump reply.
pub fn render(pid: u32, dump: &Value) -> String {
    let tasks = match table::tasks(dump) {
        Ok(tasks) => tasks,
        Err(text) => return format!("process {pid}: {text}\n"),
    };
    let measured = dump["busy_measured"] == Value::Bool(true);
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|task| {
            vec![
                task["id"].to_string(),
                table::text(&task["name"]),
                table::text(&task["state"]),
                table::duration_ms(task["idle_ms"].as_f64().unwrap_or(0.0)),
                task["polls"].to_string(),
                if measured {
                    table::duration_ms(task["busy_us"].as_f64().unwrap_or(0.0) / 1e3)
                } else {
                    "-".into()
                },
                task["awaited_by"]
                    .as_u64()
                    .map_or_else(|| "-".into(), |id| id.to_string()),
                table::bookmark(&task["bookmark"]),
                table::text(&task["spawned_at"]),
            ]
        })
        .collect();
    let count = rows.len();
    let mut out = format!(
        "process {pid}: {count} live task{}, longest-parked first\n",
        if count == 1 { "" } else { "s" }
    );
    out.push_str(&table::render(
        &[
            "id",
            "name",
            "state",
            "idle",
            "polls",
            "busy",
            "awaited by",
            "bookmark",
            "spawned at",
        ],
        &rows,
    ));
    out
}
