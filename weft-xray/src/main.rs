//! `weft-xray`: look into a running weft process from outside.
//!
//! ```text
//! weft-xray ps PID        every live task: state, idle time, polls, who awaits it, bookmark, spawn line
//! weft-xray pstree PID    the tasks as the tree of who awaits whom
//! weft-xray top PID       refreshed every second: polls/s, busiest tasks, slow polls (q or Ctrl-C quits)
//! weft-xray view TRACE.json [MORE.json ...] -o TRACE.html    the loop's timeline as one page
//! ```
//!
//! `ps`, `pstree` and `top` read the process's inspection socket, which it serves when started with
//! `WEFT_INSPECT=1` (or `weft::Builder::inspect(true)`); see `docs/inspect.md` for the protocol. Errors are one
//! line on stderr and exit code 1.

mod client;
mod ps;
mod pstree;
mod table;
mod terminal;
mod top;
mod view;

use std::process::ExitCode;

/// How to call the tool.
const USAGE: &str =
    "usage: weft-xray ps PID | pstree PID | top PID | view TRACE.json [MORE.json ...] -o TRACE.html [--slow-ms N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(sub) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let rest = &args[1..];
    let result = match sub.as_str() {
        "ps" => client::pid_arg(rest).and_then(ps::run),
        "pstree" => client::pid_arg(rest).and_then(pstree::run),
        "top" => client::pid_arg(rest).and_then(top::run),
        "view" => view::run(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown subcommand {other:?}; {USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("weft-xray: {message}");
            ExitCode::FAILURE
        }
    }
}
