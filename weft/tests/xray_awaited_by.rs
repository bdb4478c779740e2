//! Who awaits whom: `TaskInfo::awaited_by` names the task whose `.await` parks on a task's `JoinHandle` or, for
//! a `TaskGroup`'s children, in the group's `join_next`/`join_all`; `Dump::tree` prints it as a tree; the edge
//! goes away when the waiter stops waiting.
//!
//! No timing assertions: the virtual clock and the loop's order.

use std::future::pending;
use std::time::Duration;

use weft::task::{Id, TaskGroup};
use weft::time::{sleep, timeout};
use weft::xray::{Dump, TaskInfo};

/// A runtime with a virtual clock.
fn paused() -> weft::Runtime {
    weft::Builder::new().start_paused(true).build().unwrap()
}

/// The task `id` in `dump`.
fn task(dump: &Dump, id: Id) -> &TaskInfo {
    dump.tasks()
        .iter()
        .find(|task| task.id == id)
        .unwrap_or_else(|| panic!("task {id} not in the dump:\n{dump}"))
}

/// Lets every spawned task run to its bookmark.
async fn settle() {
    for _ in 0..3 {
        weft::task::yield_now().await;
    }
}

#[test]
fn a_chain_of_awaits_names_each_waiter_and_prints_as_a_tree() {
    paused().block_on(async {
        let c = weft::task::Builder::new().name("c").spawn(pending::<()>());
        let c_id = c.id();
        let b = weft::task::Builder::new()
            .name("b")
            .spawn(async move { c.await.unwrap() });
        let b_id = b.id();
        let a = weft::task::Builder::new()
            .name("a")
            .spawn(async move { b.await.unwrap() });
        settle().await;

        let dump = weft::xray::dump();
        assert_eq!(task(&dump, c_id).awaited_by, Some(b_id), "{dump}");
        assert_eq!(task(&dump, b_id).awaited_by, Some(a.id()), "{dump}");
        assert_eq!(
            task(&dump, a.id()).awaited_by,
            None,
            "a is awaited by the block_on future, not a task"
        );

        let tree = dump.tree().to_string();
        let lines: Vec<&str> = tree.lines().collect();
        assert_eq!(lines.len(), 3, "{tree}");
        assert!(
            lines[0].starts_with(&format!("task {} 'a'", a.id())),
            "{tree}"
        );
        assert!(
            lines[1].starts_with(&format!("└─ task {b_id} 'b'")),
            "{tree}"
        );
        assert!(
            lines[2].starts_with(&format!("   └─ task {c_id} 'c'")),
            "{tree}"
        );
        assert!(lines[2].contains("parked"), "{tree}");
        a.abort();
    });
}

#[test]
fn a_groups_children_are_awaited_by_the_groups_owner() {
    paused().block_on(async {
        let (ids_tx, ids_rx) = weft::sync::oneshot::channel();
        let owner = weft::task::Builder::new().name("owner").spawn(async move {
            let mut group = TaskGroup::new();
            let ids: Vec<Id> = (0..3)
                .map(|n| {
                    group
                        .spawn_named(format!("child {n}"), sleep(Duration::from_secs(60)))
                        .id()
                })
                .collect();
            ids_tx.send(ids).unwrap();
            group.join_all().await
        });
        let children = ids_rx.await.unwrap();
        let outsider = weft::spawn(sleep(Duration::from_secs(60)));
        settle().await;

        let dump = weft::xray::dump();
        for &child in &children {
            assert_eq!(task(&dump, child).awaited_by, Some(owner.id()), "{dump}");
        }
        assert_eq!(task(&dump, outsider.id()).awaited_by, None);
        assert_eq!(task(&dump, owner.id()).awaited_by, None);

        let tree = dump.tree().to_string();
        let owner_line = tree
            .lines()
            .position(|line| line.contains("'owner'"))
            .unwrap();
        let below: Vec<&str> = tree.lines().skip(owner_line + 1).take(3).collect();
        for line in &below {
            assert!(line.contains("'child "), "{tree}");
        }
        assert!(below[2].starts_with("└─ "), "{tree}");
        owner.abort();
        outsider.abort();
    });
}

#[test]
fn the_edge_is_cleared_when_the_waiter_completes_or_drops_the_handle() {
    paused().block_on(async {
        let awaited = weft::spawn(pending::<()>());
        let awaited_id = awaited.id();
        let impatient = weft::spawn(async move {
            // Gives up after 10 ms: the timeout drops the handle (the task is detached), then it sleeps.
            let _ = timeout(Duration::from_millis(10), awaited).await;
            sleep(Duration::from_secs(60)).await;
        });
        settle().await;
        let dump = weft::xray::dump();
        assert_eq!(task(&dump, awaited_id).awaited_by, Some(impatient.id()));

        sleep(Duration::from_millis(20)).await;
        let dump = weft::xray::dump();
        assert_eq!(
            task(&dump, awaited_id).awaited_by,
            None,
            "handle dropped:\n{dump}"
        );

        let awaited = weft::spawn(pending::<()>());
        let awaited_id = awaited.id();
        let waiter = weft::spawn(async move {
            let mut awaited = awaited;
            let _ = timeout(Duration::from_millis(10), &mut awaited).await;
            Some(awaited) // handed back: alive, no longer awaited
        });
        settle().await;
        let dump = weft::xray::dump();
        assert_eq!(task(&dump, awaited_id).awaited_by, Some(waiter.id()));

        let awaited = waiter.await.unwrap().unwrap();
        let dump = weft::xray::dump();
        assert_eq!(
            task(&dump, awaited_id).awaited_by,
            None,
            "waiter completed:\n{dump}"
        );
        awaited.abort();
        impatient.abort();
    });
}
