//! `weft-xray`: see a weft program from outside.
//!
//! ```text
//! weft-xray view TRACE.json [MORE.json ...] -o TRACE.html [--slow-ms N]
//! ```
//! Each subcommand lives in a file of its own; this file only dispatches.

mod view;

use std::process::ExitCode;

/// What `weft-xray` says when it is called without a subcommand it knows.
const USAGE: &str = "usage: weft-xray view TRACE.json [MORE.json ...] -o TRACE.html [--slow-ms N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("view") => view::run(&args[1..]),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("weft-xray: {message}");
            ExitCode::FAILURE
        }
    }
}
