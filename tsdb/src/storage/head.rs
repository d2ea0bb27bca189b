//! The head: points accepted since their column was last flushed, in memory.
//!
//! Every point here is also in the write log, so the head can be rebuilt after a crash.

use std::collections::HashMap;
use std::time::Instant;

use super::batch::{ResolvedPoint, Value};
use super::catalog::{FieldId, SeriesId};
use crate::codec::Column;

/// Unflushed points of one series x field.
#[derive(Debug)]
pub struct ColumnHead {
    pub times: Vec<i64>,
    pub values: Column,
    /// Lowest and highest write-log sequence whose points are in this column.
    pub first_seq: u64,
    pub last_seq: u64,
    pub since: Instant,
}

pub type ColumnKey = (SeriesId, FieldId);

#[derive(Debug, Default)]
pub struct Head {
    columns: HashMap<ColumnKey, ColumnHead>,
    values: usize,
}

impl Head {
    /// Appends one point's values, returning the columns that reached `chunk_points`.
    pub fn append(
        &mut self,
        seq: u64,
        point: &ResolvedPoint,
        chunk_points: usize,
        full: &mut Vec<ColumnKey>,
    ) {
        for (field, value) in &point.fields {
            let key = (point.series, *field);
            let col = self.columns.entry(key).or_insert_with(|| ColumnHead {
                times: Vec::new(),
                values: Column::empty_like(value),
                first_seq: seq,
                last_seq: seq,
                since: Instant::now(),
            });
            // A type mismatch cannot happen (field ids carry one type); skipping keeps the
            // head consistent if it ever did.
            if col.values.push(value) {
                col.times.push(point.time);
                col.last_seq = seq;
                self.values += 1;
                if col.times.len() == chunk_points {
                    full.push(key);
                }
            }
        }
    }

    pub fn take(&mut self, key: &ColumnKey) -> Option<ColumnHead> {
        let col = self.columns.remove(key)?;
        self.values -= col.times.len();
        Some(col)
    }

    pub fn get(&self, key: &ColumnKey) -> Option<&ColumnHead> {
        self.columns.get(key)
    }

    pub fn keys(&self) -> Vec<ColumnKey> {
        self.columns.keys().copied().collect()
    }

    /// Columns whose oldest point has waited longer than `age`.
    pub fn older_than(&self, age: std::time::Duration) -> Vec<ColumnKey> {
        self.columns
            .iter()
            .filter(|(_, c)| c.since.elapsed() >= age)
            .map(|(k, _)| *k)
            .collect()
    }

    pub fn value_count(&self) -> usize {
        self.values
    }

    /// The lowest log sequence still needed to rebuild the head, if any.
    pub fn min_seq(&self) -> Option<u64> {
        self.columns.values().map(|c| c.first_seq).min()
    }

    /// Drops every column of the given series (DROP SERIES / MEASUREMENT / DATABASE).
    pub fn drop_series(&mut self, series: &std::collections::HashSet<SeriesId>) {
        let keys: Vec<ColumnKey> = self
            .columns
            .keys()
            .filter(|k| series.contains(&k.0))
            .copied()
            .collect();
        for k in keys {
            self.take(&k);
        }
    }

    /// Values of a column in `[start, end]`, unsorted, for a reader to merge.
    pub fn snapshot(&self, key: &ColumnKey, start: i64, end: i64) -> Option<(Vec<i64>, Column)> {
        let col = self.columns.get(key)?;
        let idx: Vec<usize> = (0..col.times.len())
            .filter(|&i| col.times[i] >= start && col.times[i] <= end)
            .collect();
        if idx.is_empty() {
            return None;
        }
        Some((
            idx.iter().map(|&i| col.times[i]).collect(),
            col.values.gather(&idx),
        ))
    }

    /// The newest value of a column (by time), for last-value lookups.
    pub fn last(&self, key: &ColumnKey) -> Option<(i64, Value)> {
        let col = self.columns.get(key)?;
        let (i, t) = col
            .times
            .iter()
            .enumerate()
            .max_by_key(|(i, t)| (**t, *i))?;
        Some((*t, col.values.value(i)?))
    }
}
