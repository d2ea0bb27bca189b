//! Which enabled tasks this alerter runs when several share one set of task definitions
//! (several tigk instances over one remote engine). The server decides (a member list and
//! their liveness, tigk's `cluster` module); the engine only asks [`Placement::owns`].
//!
//! A task this instance does not own stays defined and enabled but is parked: no stream
//! processing, no batch runs, no deliveries. When ownership changes the server calls
//! [`Engine::rebalance`]: newly owned tasks start from the state this instance last saved
//! for them, at the newest write (as an enable does) or, with
//! [`Engine::rebalance_from`], replaying the write log from a position the server chose
//! (and kept with [`Engine::hold_log`]); tasks owned elsewhere stop.

use std::sync::Arc;

use super::{Engine, Status, lock};

/// Which tasks this alerter runs. Must answer the same for the same task until the server
/// calls [`Engine::rebalance`] after a change.
pub trait Placement: Send + Sync {
    /// Whether this instance runs `task`.
    fn owns(&self, task: &str) -> bool;

    /// Where `task` runs (for task info); `None` when tasks are not shared.
    fn owner(&self, _task: &str) -> Option<String> {
        None
    }
}

/// A single instance: it runs every task.
#[derive(Debug, Clone, Copy, Default)]
pub struct Everything;

impl Placement for Everything {
    fn owns(&self, _task: &str) -> bool {
        true
    }
}

/// What a [`Engine::rebalance`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebalanced {
    /// Tasks started here (now owned).
    pub started: Vec<String>,
    /// Tasks parked here (owned elsewhere now).
    pub parked: Vec<String>,
}

impl Engine {
    pub(super) fn owns(&self, id: &str) -> bool {
        self.inner.placement.owns(id)
    }

    /// Starts the enabled tasks this instance owns and does not run, and parks the ones it
    /// runs but no longer owns. A parked task's state is the one it last saved (a stream
    /// task saves every few seconds and when idle).
    pub fn rebalance(&self) -> Rebalanced {
        self.rebalance_from(None)
    }

    /// [`Engine::rebalance`] with the stream tasks it starts reading the write log after
    /// `replay_from` (when that is older than the newest write): the writes of a hand-over
    /// window, which the previous owner may not have evaluated. Keep them with
    /// [`Engine::hold_log`].
    pub fn rebalance_from(&self, replay_from: Option<u64>) -> Rebalanced {
        let mut done = Rebalanced::default();
        let tasks: Vec<(String, bool)> = lock(&self.inner.tasks)
            .iter()
            .filter(|(_, e)| e.def.status == Status::Enabled)
            .map(|(id, e)| (id.clone(), e.running.is_some()))
            .collect();
        for (id, running) in tasks {
            match (self.owns(&id), running) {
                (true, false) => match self.start_from(&id, false, replay_from) {
                    Ok(()) => done.started.push(id),
                    Err(e) => tracing::warn!(task = %id, "task failed to start: {e}"),
                },
                (false, true) => {
                    let r = lock(&self.inner.tasks)
                        .get_mut(&id)
                        .and_then(|e| e.running.take());
                    self.stop(&id, r);
                    done.parked.push(id);
                }
                _ => {}
            }
        }
        done
    }

    /// Keeps the write log after `seq` (the store trims what every running stream task
    /// has read): what a take-over may replay. `None` lets it go.
    pub fn hold_log(&self, seq: Option<u64>) {
        let mut p = lock(&self.inner.positions);
        match seq {
            Some(s) => p.insert(HOLD.to_string(), s),
            None => p.remove(HOLD),
        };
    }
}

/// The write-log position held by [`Engine::hold_log`] (not a task id: ids have no spaces).
pub(super) const HOLD: &str = " hand-over";

pub(super) type Shared = Arc<dyn Placement>;
