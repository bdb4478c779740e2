//! Hints added to a panic report when the panic's message is one that weft knows how to fix: a tokio-only
//! crate used from a weft task, which panics because it finds no tokio runtime.

/// The line tokio's "no reactor" panics get: how to run tokio-only code from a weft task.
const TOKIO_CONTEXT: &str = "hint: this code needs a tokio runtime; run it inside \
    weft::compat::with_tokio(...) (feature \"tokio-bridge\"), which polls it in a background tokio runtime's context";

/// One line to add to the report of a panic whose message is `message`, if weft knows what it means.
pub(crate) fn hint_for_panic(message: &str) -> Option<&'static str> {
    // tokio's CONTEXT_MISSING_ERROR, and the wording of its docs that other crates repeat.
    let needs_tokio = message.contains("there is no reactor running")
        || message.contains("must be called from the context of a Tokio");
    needs_tokio.then_some(TOKIO_CONTEXT)
}

#[cfg(test)]
mod tests {
    use super::hint_for_panic;

    #[test]
    fn tokio_context_panics_point_at_the_bridge() {
        for message in [
            "there is no reactor running, must be called from the context of a Tokio 1.x runtime",
            "`spawn_local` must be called from the context of a Tokio runtime",
        ] {
            let hint = hint_for_panic(message).expect(message);
            assert!(hint.contains("weft::compat::with_tokio"), "{hint}");
            assert!(hint.contains("tokio-bridge"), "{hint}");
        }
    }

    #[test]
    fn other_panics_get_no_hint() {
        for message in [
            "",
            "index out of bounds",
            "called `Option::unwrap()` on a `None` value",
        ] {
            assert_eq!(hint_for_panic(message), None, "{message}");
        }
    }
}
