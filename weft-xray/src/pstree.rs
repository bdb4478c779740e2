//! `weft-xray pstree PID`: the process's tasks as the tree of who awaits whom — each task under the task whose
//! `.await` parks on it (its `JoinHandle`, or its group's `join_next`).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::client::Process;
use crate::table;

/// Prints the tree.
pub fn run(pid: u32) -> Result<(), String> {
    let dump = Process::find(pid)?.request("dump")?;
    print!("{}", render(pid, &dump));
    Ok(())
}

/// The tree for a dump reply: roots (tasks nobody awaits) in the dump's order, children below with
/// `├─`/`└─` branches.
pub fn render(pid: u32, dump: &Value) -> String {
    let tasks = match table::tasks(dump) {
        Ok(tasks) => tasks,
        Err(text) => return format!("process {pid}: {text}\n"),
    };
    let ids: HashSet<u64> = tasks
        .iter()
        .filter_map(|task| task["id"].as_u64())
        .collect();
    let mut children: HashMap<u64, Vec<&Value>> = HashMap::new();
    let mut roots = Vec::new();
    for task in tasks {
        match task["awaited_by"]
            .as_u64()
            .filter(|waiter| ids.contains(waiter))
        {
            Some(waiter) => children.entry(waiter).or_default().push(task),
            None => roots.push(task),
        }
    }
    let mut out = format!("process {pid}\n");
    let mut printed = HashSet::new();
    let last_root = roots.len().saturating_sub(1);
    for (index, root) in roots.iter().enumerate() {
        branch(
            &mut out,
            root,
            "",
            index == last_root,
            &children,
            &mut printed,
        );
    }
    // Tasks awaiting each other in a cycle (a deadlock) have no root: show them too.
    for task in tasks {
        if !printed.contains(&task["id"].as_u64().unwrap_or(0)) {
            branch(&mut out, task, "", true, &children, &mut printed);
        }
    }
    out
}

/// Writes `task` after `prefix` and its branch, then the tasks it awaits.
fn branch(
    out: &mut String,
    task: &Value,
    prefix: &str,
    last: bool,
    children: &HashMap<u64, Vec<&Value>>,
    printed: &mut HashSet<u64>,
) {
    let id = task["id"].as_u64().unwrap_or(0);
    let line = if last { "└─ " } else { "├─ " };
    out.push_str(&format!(
        "{prefix}{line}{}  {}  {}\n",
        table::title(task),
        table::text(&task["state"]),
        table::bookmark(&task["bookmark"])
    ));
    if !printed.insert(id) {
        return;
    }
    let below = children.get(&id).map_or(&[][..], Vec::as_slice);
    let prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    for (index, child) in below.iter().enumerate() {
        branch(
            out,
            child,
            &prefix,
            index + 1 == below.len(),
            children,
            printed,
        );
    }
}
