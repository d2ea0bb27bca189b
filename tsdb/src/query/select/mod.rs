//! SELECT execution. (Being built: see ARCHITECTURE.md.)

use influxql::SelectStatement;

use super::{QueryContext, QueryError, SeriesResult};
use crate::Store;

/// Runs one SELECT. Blocking: call it off the async runtime.
pub fn execute(
    _store: &Store,
    _stmt: &SelectStatement,
    _ctx: &QueryContext,
) -> Result<Vec<SeriesResult>, QueryError> {
    Err(QueryError::new("SELECT is not supported yet"))
}
