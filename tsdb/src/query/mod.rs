//! The InfluxQL engine: runs parsed statements against the store.
//!
//! - [`QueryEngine::execute`] runs a whole request, one [`StatementResult`] per statement.
//! - `meta`: SHOW, CREATE, DROP, DELETE and the other non-SELECT statements.
//! - `select`: SELECT planning and execution.
//! - [`Cell`]: a result value; the HTTP layer formats it (JSON with Go's float rules, CSV).

pub mod cond;
mod into;
mod meta;
pub mod select;

use std::collections::BTreeMap;
use std::time::Duration;

use influxql::{Query, Statement};

use crate::Store;
use crate::auth::Principal;

/// The parse options of /query: `tz('...')` names are checked against the zone database,
/// so an unknown zone fails the request (HTTP 400) as in 1.x.
pub fn parse_options() -> influxql::ParseOptions {
    influxql::ParseOptions {
        tz_validator: Some(select::zone_exists),
        ..influxql::ParseOptions::default()
    }
}

/// One value in a result row. `Time` is kept apart so the HTTP layer can print it as
/// RFC 3339 or as an epoch in the requested unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    String(String),
    Boolean(bool),
    /// Nanoseconds since the epoch.
    Time(i64),
}

/// One series of a statement's result, as 1.x shapes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeriesResult {
    /// `None` for results without a name (SHOW SERIES, SHOW RETENTION POLICIES).
    pub name: Option<String>,
    /// `None` when the query has no GROUP BY tags (the key is then omitted).
    pub tags: Option<BTreeMap<String, String>>,
    pub columns: Vec<String>,
    pub values: Vec<Vec<Cell>>,
}

/// What one statement produced. An error here is per statement (HTTP 200).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementResult {
    pub statement_id: usize,
    pub series: Vec<SeriesResult>,
    /// `(level, text)`, e.g. `("warning", "deprecated use of ...")`.
    pub messages: Vec<(String, String)>,
    pub error: Option<String>,
}

/// Limits on what one query may cost, finite by default.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    pub timeout: Duration,
    /// Series a SELECT may touch.
    pub max_series: usize,
    /// Points a SELECT may read from storage.
    pub max_points: usize,
    /// GROUP BY time buckets per series.
    pub max_buckets: usize,
    /// Rows in a result, all series together.
    pub max_rows: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            timeout: Duration::from_secs(60),
            max_series: 100_000,
            max_points: 500_000_000,
            max_buckets: 1_000_000,
            max_rows: 10_000_000,
        }
    }
}

/// Who asks, and the request's defaults.
#[derive(Debug, Clone)]
pub struct QueryContext {
    /// The `db` parameter.
    pub database: Option<String>,
    /// The `rp` parameter.
    pub retention_policy: Option<String>,
    pub principal: Principal,
    /// `now()` for the whole request, nanoseconds.
    pub now: i64,
    pub limits: QueryLimits,
    /// The request came as GET: writing statements still run (as in 1.6.7) with a warning.
    pub read_only_method: bool,
}

/// A statement failure, worded as 1.x words it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

impl QueryError {
    pub fn new(msg: impl Into<String>) -> Self {
        QueryError(msg.into())
    }
}

impl From<crate::Error> for QueryError {
    fn from(e: crate::Error) -> Self {
        QueryError(e.to_string())
    }
}

/// Runs InfluxQL against a store.
#[derive(Clone)]
pub struct QueryEngine {
    store: Store,
}

impl QueryEngine {
    pub fn new(store: Store) -> Self {
        QueryEngine { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs every statement in order; a failing statement does not stop the others.
    pub async fn execute(&self, query: &Query, ctx: &QueryContext) -> Vec<StatementResult> {
        let mut results = Vec::with_capacity(query.statements.len());
        for (id, stmt) in query.statements.iter().enumerate() {
            let mut result = StatementResult {
                statement_id: id,
                ..StatementResult::default()
            };
            // 1.6.7 runs these with a deprecation warning. Refusing them is what makes a
            // cross-site GET (an <img> in a page, with the browser's cached Basic
            // credentials) unable to drop a database.
            if ctx.read_only_method
                && stmt.requires_write()
                && !matches!(stmt, Statement::Select(_))
            {
                result.error = Some(format!(
                    "refusing '{stmt}' over GET: statements that change the server need a POST request"
                ));
                results.push(result);
                continue;
            }
            let outcome =
                tokio::time::timeout(ctx.limits.timeout, self.execute_statement(stmt, ctx)).await;
            match outcome {
                Ok(Ok(series)) => result.series = series,
                Ok(Err(e)) => result.error = Some(e.0),
                Err(_) => result.error = Some("query timeout".into()),
            }
            results.push(result);
        }
        results
    }

    async fn execute_statement(
        &self,
        stmt: &Statement,
        ctx: &QueryContext,
    ) -> Result<Vec<SeriesResult>, QueryError> {
        match stmt {
            Statement::Select(select) if select.into.is_some() => {
                into::execute(&self.store, select, ctx).await
            }
            Statement::Select(select) => {
                let store = self.store.clone();
                let select = select.clone();
                let ctx = ctx.clone();
                // Scans are CPU and SQLite work: keep them off the async workers so a slow
                // query never stalls writes or other requests.
                tokio::task::spawn_blocking(move || select::execute(&store, &select, &ctx))
                    .await
                    .map_err(|_| QueryError::new("query failed"))?
            }
            other => meta::execute(&self.store, other, ctx).await,
        }
    }
}
