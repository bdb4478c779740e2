//! `weft-xray view TRACE.json -o TRACE.html`: a placeholder so the dispatcher compiles; the real page is built on
//! the `view` branch, which replaces this file.

/// Not built on this branch.
pub fn run(_args: &[String]) -> Result<(), String> {
    Err("view is not built into this weft-xray (it lands from the `view` branch)".into())
}
