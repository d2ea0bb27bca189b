//! Alerting pages: rules list, the rule builder, the raw TICKscript editor, the task page
//! with its pipeline graph, active alerts and history.
//!
//! The pages reach the alerter only through [`AlertBackend`], so the UI runs (and says
//! alerting is off) without one, and tests can use the real engine over a temporary store.
//!
//! - `rule`: the builder's model, validation and TICKscript generation; `quote`: the
//!   TICKscript literals and checks that keep form values inside them.
//! - `engine`: [`AlertBackend`] for `alerter::engine::Engine`.
//! - `graph`: a task's DOT graph drawn as SVG with per-node stats.
//! - `pages`: list, task page, raw editor, alerts and history.
//! - `builder`: the builder page: pickers, preview and "send test".

mod builder;
mod engine;
mod graph;
mod pages;
mod quote;
pub(crate) mod rule;

use std::collections::BTreeMap;

use serde::Serialize;

pub use alerter::engine::{HistoryEvent, HistoryQuery};
pub(crate) use builder::{builder_form, builder_submit};
pub(crate) use pages::{
    alerts_page, annotations, delete, delete_form, edit_form, edit_submit, history_page,
    rules_list, set_enabled, task_page,
};

use crate::error::Result;
use crate::state::BoxFuture;

/// One task as the rules list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskSummary {
    pub id: String,
    pub enabled: bool,
    /// Running (enabled and started).
    pub executing: bool,
    /// Why it does not run, if it failed.
    pub error: String,
    pub script: String,
    /// ns since the epoch.
    pub modified: i64,
}

/// One task with what its page shows.
#[derive(Debug, Clone, Serialize)]
pub struct TaskDetail {
    pub summary: TaskSummary,
    /// `stream` or `batch`.
    pub task_type: String,
    /// Kapacitor's DOT: with stats while executing, else the plain graph.
    pub dot: String,
    /// Per node (`alert3`): collected, emitted, errors, alerts_triggered, ...
    pub node_stats: BTreeMap<String, BTreeMap<String, i64>>,
}

/// A TICKscript the alerter refused, with where (1-based), when it knows.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// What the UI needs from an alerter. Blocking work happens inside the futures.
pub trait AlertBackend: Send + Sync + 'static {
    /// Every task, by id.
    fn list(&self) -> BoxFuture<'_, Result<Vec<TaskSummary>>>;
    /// One task; `UiError::NotFound` when there is none.
    fn show<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<TaskDetail>>;
    /// Creates (`create`) or replaces a task's script; a refused script is
    /// `UiError::Script`. A new task starts enabled.
    fn save<'a>(&'a self, id: &'a str, script: &'a str, create: bool) -> BoxFuture<'a, Result<()>>;
    fn set_enabled<'a>(&'a self, id: &'a str, enabled: bool) -> BoxFuture<'a, Result<()>>;
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>>;
    /// Parses and checks a script without saving it.
    fn check(&self, script: &str) -> Result<()>;
    /// Runs a stream script offline as task `name` over points (in any order) and returns
    /// the events it would have sent; handlers are not run. Clocked nodes (deadman) run on
    /// data time, ending at `until_ns`.
    fn test_run(
        &self,
        name: String,
        script: String,
        points: Vec<common::Point>,
        until_ns: i64,
    ) -> BoxFuture<'_, Result<Vec<HistoryEvent>>>;
    /// Sends one test event through every handler of the script's alert nodes; one line
    /// per handler saying what happened.
    fn send_test(&self, script: String) -> BoxFuture<'_, Result<Vec<String>>>;
    /// Stored alert events, newest first.
    fn history(&self, q: HistoryQuery) -> BoxFuture<'_, Result<Vec<HistoryEvent>>>;
    /// Where log handlers may write (a log handler's file goes there).
    fn log_dir(&self) -> Option<String>;
}

/// Newest event per (task, alert id) whose level is not OK: the alerts firing now, as far
/// as the stored history tells.
pub fn active(history: &[HistoryEvent]) -> Vec<HistoryEvent> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for ev in history {
        if seen.insert((ev.task.clone(), ev.id.clone())) && ev.level != alerter::alert::Level::Ok {
            out.push(ev.clone());
        }
    }
    out
}
