//! The loop's registry of live tasks (task rule 5): a slab of references, so shutdown can drop every task and
//! the x-ray can list them.

#![forbid(unsafe_code)]

use crate::cell::state::MAX_SLOTS;
use crate::cell::TaskRef;

/// Every live task of one loop; touched only on the loop's thread.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Slots; a task remembers its index in its header.
    slots: Vec<Option<TaskRef>>,
    /// Vacant slot indices.
    vacant: Vec<u32>,
    /// Occupied slots.
    len: usize,
}

impl Registry {
    /// Adds a task, keeping its reference.
    pub(crate) fn insert(&mut self, task: TaskRef) {
        // Indices past the end are stale (shutdown pops from the end).
        let reusable = std::iter::from_fn(|| self.vacant.pop())
            .find(|&index| (index as usize) < self.slots.len());
        let index = match reusable {
            Some(index) => index,
            None => {
                assert!(
                    self.slots.len() < MAX_SLOTS,
                    "more than {MAX_SLOTS} live tasks on one loop"
                );
                let index = self.slots.len() as u32;
                self.slots.push(None);
                index
            }
        };
        task.header().set_registry_slot(index);
        self.slots[index as usize] = Some(task);
        self.len += 1;
    }

    /// Removes the task at `index` and returns its reference.
    // Every completed task passes here: inlined into the loop wherever the compiler splits the crate.
    #[inline]
    pub(crate) fn remove_at(&mut self, index: u32) -> Option<TaskRef> {
        let task = self.slots.get_mut(index as usize)?.take()?;
        self.len -= 1;
        if self.len == 0 {
            // Give memory back after a burst of tasks: an empty registry starts over small.
            self.slots = Vec::new();
            self.vacant = Vec::new();
        } else {
            self.vacant.push(index);
        }
        Some(task)
    }

    /// Every task in the registry.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &TaskRef> {
        self.slots.iter().flatten()
    }

    /// Tasks alive.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Removes and returns any one task (shutdown drains the registry this way, since dropping one task may
    /// spawn or drop others).
    pub(crate) fn pop_any(&mut self) -> Option<TaskRef> {
        while let Some(slot) = self.slots.pop() {
            if let Some(task) = slot {
                self.len -= 1;
                return Some(task);
            }
        }
        self.vacant.clear();
        None
    }
}
