//! `SELECT ... INTO`: the select's rows written back as points, answered as 1.x does with one
//! `result` series holding how many points were written.
//!
//! As in 1.x: the target database is the statement's (`INTO db.rp.m`) or the request's;
//! `:MEASUREMENT` keeps each source measurement's name; GROUP BY tags stay tags, every other
//! column (selected tags included) becomes a field; null cells are left out and rows with no
//! value at all are skipped; the write goes through the store's ordinary write path, so its
//! type rules, retention and durability are those of `/write`.

use common::{FieldValue, Point};
use influxql::SelectStatement;

use super::{Cell, QueryContext, QueryError, SeriesResult, select};
use crate::Store;
use crate::storage::PointBatch;

pub(super) async fn execute(
    store: &Store,
    stmt: &SelectStatement,
    ctx: &QueryContext,
) -> Result<Vec<SeriesResult>, QueryError> {
    let Some(target) = &stmt.into else {
        return Err(QueryError::new("SELECT ... INTO without a target"));
    };
    let db = target
        .database
        .clone()
        .or_else(|| ctx.database.clone())
        .ok_or_else(|| QueryError::new("database name required"))?;
    ctx.principal
        .authorize_write(&db)
        .map_err(|e| QueryError::new(e.to_string()))?;
    let mut read = stmt.clone();
    read.into = None;
    let (reader, read_ctx) = (store.clone(), ctx.clone());
    let series = tokio::task::spawn_blocking(move || select::execute(&reader, &read, &read_ctx))
        .await
        .map_err(|_| QueryError::new("query failed"))??;

    let mut batch = PointBatch::new();
    for s in &series {
        let Some(measurement) = target.measurement.clone().or_else(|| s.name.clone()) else {
            continue;
        };
        let tags: Vec<(String, String)> = s
            .tags
            .iter()
            .flatten()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for row in &s.values {
            let Some(Cell::Time(t)) = row.first() else {
                continue;
            };
            let fields: Vec<(String, FieldValue)> = s
                .columns
                .iter()
                .zip(row)
                .skip(1)
                .filter_map(|(name, cell)| field_value(cell).map(|v| (name.clone(), v)))
                .collect();
            if fields.is_empty() {
                continue;
            }
            let point = Point {
                measurement: measurement.clone(),
                tags: tags.clone(),
                fields,
                timestamp: Some(*t),
            };
            batch.push_point(&point, ctx.now);
        }
    }
    let written = if batch.is_empty() {
        0
    } else {
        let outcome = store
            .write(&db, target.retention_policy.as_deref(), batch, ctx.now)
            .await
            .map_err(|e| match e {
                // /write quotes the name, SELECT INTO does not (1.6.7).
                crate::Error::DatabaseNotFound(db) => {
                    QueryError::new(format!("database not found: {db}"))
                }
                e => QueryError::new(e.to_string()),
            })?;
        if let Some(reason) = outcome.drop_reason {
            return Err(QueryError::new(format!(
                "partial write: {reason} dropped={}",
                outcome.dropped
            )));
        }
        outcome.points_written
    };
    Ok(vec![SeriesResult {
        name: Some("result".into()),
        tags: None,
        columns: vec!["time".into(), "written".into()],
        values: vec![vec![Cell::Time(0), Cell::Integer(written as i64)]],
    }])
}

fn field_value(cell: &Cell) -> Option<FieldValue> {
    match cell {
        Cell::Null | Cell::Time(_) => None,
        Cell::Float(f) => Some(FieldValue::Float(*f)),
        Cell::Integer(i) => Some(FieldValue::Integer(*i)),
        Cell::Unsigned(u) => Some(FieldValue::Unsigned(*u)),
        Cell::String(s) => Some(FieldValue::String(s.clone())),
        Cell::Boolean(b) => Some(FieldValue::Boolean(*b)),
    }
}
