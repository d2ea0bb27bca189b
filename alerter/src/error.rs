//! The crate's error type.

use crate::tick::TickError;

/// Everything the alerter can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A TICKscript that does not parse or check; the text is Kapacitor's wording.
    #[error("{0}")]
    Tick(#[from] TickError),
    /// A node, property or handler tigk does not run yet.
    #[error("{0}")]
    Unsupported(String),
    /// A task definition that checks but cannot run (bad template, refused handler...).
    #[error("{0}")]
    Invalid(String),
    /// Rendering an alert template failed.
    #[error("{0}")]
    Template(String),
    /// Saved state that does not match the task.
    #[error("invalid saved state: {0}")]
    State(String),
    /// Input data that does not parse (test runs).
    #[error("{0}")]
    Input(String),
    /// A batch query failed.
    #[error("query failed: {0}")]
    Query(String),
    /// An `influxDBOut` destination other than the store failed (see [`crate::output`]).
    #[error("influxDBOut: {0}")]
    Output(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] tsdb::Error),
    /// The alerter's own database failed.
    #[error("alerter database: {0}")]
    Db(String),
    /// No such task.
    #[error("task {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
