//! [`Builder`]: spawn a task with a name.

#![forbid(unsafe_code)]

use std::sync::Arc;

/// Spawns a task with options — today, a name that shows up in panic reports and in the x-ray.
///
/// ```
/// weft::run(async {
///     let task = weft::task::Builder::new().name("fetch-user").spawn(async { 1 });
///     assert_eq!(task.await.unwrap(), 1);
/// });
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    /// The task's name.
    name: Option<Arc<str>>,
}

impl Builder {
    /// A builder with no name.
    ///
    /// ```
    /// weft::run(async {
    ///     let task = weft::task::Builder::new().spawn(async { "unnamed" });
    ///     assert_eq!(task.await.unwrap(), "unnamed");
    /// });
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task. Names need not be unique; a panic report names the task that panicked.
    ///
    /// ```
    /// weft::run(async {
    ///     let workers: Vec<_> = (0..3)
    ///         .map(|i| weft::task::Builder::new().name(format!("worker-{i}")).spawn(async move { i }))
    ///         .collect();
    ///     let results: Vec<i32> = weft::join_all(workers).await.into_iter().map(Result::unwrap).collect();
    ///     assert_eq!(results, [0, 1, 2]);
    /// });
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(Arc::from(name.into()));
        self
    }

    /// The name given, if any (the runtime spawns the task: see `Builder::spawn` in `runtime`).
    pub(crate) fn into_name(self) -> Option<Arc<str>> {
        self.name
    }
}
