//! The head: points accepted since their column was last flushed, in memory.
//!
//! Every point here is also in the write log, so the head can be rebuilt after a crash.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
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
    /// Columns that reached the chunk size, waiting for the flush after the current group
    /// commit. Sealing at exactly the chunk size keeps chunks even and stops a full
    /// column's buffers from doubling their capacity for a few more points. Sealed pieces
    /// never change again, so a flush can encode them on another thread from shared
    /// references (`Arc`) while readers keep seeing them here.
    sealed: HashMap<ColumnKey, Vec<Arc<ColumnHead>>>,
    values: usize,
}

impl Head {
    /// Appends one point's values, sealing columns that reach `chunk_points` and listing
    /// them in `full`.
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
            if !col.values.push(value) {
                continue;
            }
            col.times.push(point.time);
            col.last_seq = seq;
            self.values += 1;
            if col.times.len() >= chunk_points
                && let Some(done) = self.columns.remove(&key)
            {
                self.sealed.entry(key).or_default().push(Arc::new(done));
                full.push(key);
            }
        }
    }

    /// Removes everything the head holds for a column (sealed pieces and the open one).
    pub fn take(&mut self, key: &ColumnKey) {
        let sealed = self.sealed.remove(key).unwrap_or_default();
        let open = self.columns.remove(key);
        self.values -= sealed
            .iter()
            .map(|c| c.times.len())
            .chain(open.map(|c| c.times.len()))
            .sum::<usize>();
    }

    /// Seals a column's open piece and returns every piece it holds, for a flush that
    /// encodes them elsewhere. Points appended later go to a new piece, with a later log
    /// sequence than every piece returned here.
    pub fn seal(&mut self, key: &ColumnKey) -> Vec<Arc<ColumnHead>> {
        if let Some(open) = self.columns.remove(key) {
            self.sealed.entry(*key).or_default().push(Arc::new(open));
        }
        self.sealed.get(key).cloned().unwrap_or_default()
    }

    /// Removes pieces returned by [`Head::seal`] once their chunks are committed. False
    /// (and nothing removed) when the column no longer starts with exactly those pieces:
    /// another flush or a drop took them meanwhile, and the chunks must not be stored.
    pub fn take_sealed(&mut self, key: &ColumnKey, pieces: &[Arc<ColumnHead>]) -> bool {
        if !self.holds_sealed(key, pieces) {
            return false;
        }
        self.values -= pieces.iter().map(|c| c.times.len()).sum::<usize>();
        if let Some(held) = self.sealed.get_mut(key) {
            held.drain(..pieces.len());
            if held.is_empty() {
                self.sealed.remove(key);
            }
        }
        true
    }

    /// True while `take_sealed` with these pieces would succeed.
    pub fn holds_sealed(&self, key: &ColumnKey, pieces: &[Arc<ColumnHead>]) -> bool {
        self.sealed.get(key).is_some_and(|held| {
            !pieces.is_empty()
                && held.len() >= pieces.len()
                && held.iter().zip(pieces).all(|(a, b)| Arc::ptr_eq(a, b))
        })
    }

    /// Every piece held for a column, oldest first.
    pub fn pieces(&self, key: &ColumnKey) -> impl Iterator<Item = &ColumnHead> {
        self.sealed
            .get(key)
            .into_iter()
            .flatten()
            .map(|c| &**c)
            .chain(self.columns.get(key))
    }

    pub fn keys(&self) -> Vec<ColumnKey> {
        let mut keys: Vec<ColumnKey> = self
            .columns
            .keys()
            .chain(self.sealed.keys())
            .copied()
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Columns whose oldest point has waited longer than `age`, and every sealed column.
    pub fn older_than(&self, age: std::time::Duration) -> Vec<ColumnKey> {
        self.columns
            .iter()
            .filter(|(_, c)| c.since.elapsed() >= age)
            .map(|(k, _)| *k)
            .chain(self.sealed.keys().copied())
            .collect()
    }

    pub fn value_count(&self) -> usize {
        self.values
    }

    /// The lowest log sequence still needed to rebuild the head, if any.
    pub fn min_seq(&self) -> Option<u64> {
        self.columns
            .values()
            .chain(self.sealed.values().flatten().map(|c| &**c))
            .map(|c| c.first_seq)
            .min()
    }

    /// Drops every column of the given series (DROP SERIES / MEASUREMENT / DATABASE).
    pub fn drop_series(&mut self, series: &HashSet<SeriesId>) {
        for k in self.keys().into_iter().filter(|k| series.contains(&k.0)) {
            self.take(&k);
        }
    }

    /// Values of a column in `[start, end]`, oldest piece first and unsorted, for a reader
    /// to merge.
    pub fn snapshot(&self, key: &ColumnKey, start: i64, end: i64) -> Option<(Vec<i64>, Column)> {
        let mut out: Option<(Vec<i64>, Column)> = None;
        for col in self.pieces(key) {
            let idx: Vec<usize> = (0..col.times.len())
                .filter(|&i| col.times[i] >= start && col.times[i] <= end)
                .collect();
            if idx.is_empty() {
                continue;
            }
            let times = idx.iter().map(|&i| col.times[i]);
            let values = col.values.gather(&idx);
            match &mut out {
                None => out = Some((times.collect(), values)),
                Some((t, v)) => {
                    if v.extend_from(&values) {
                        t.extend(times);
                    }
                }
            }
        }
        out
    }

    /// The newest value of a column (by time), for last-value lookups.
    pub fn last(&self, key: &ColumnKey) -> Option<(i64, Value)> {
        let mut best: Option<(i64, Value)> = None;
        for col in self.pieces(key) {
            let Some((i, t)) = col.times.iter().enumerate().max_by_key(|(i, t)| (**t, *i)) else {
                continue;
            };
            // `>=`: among equal times the later piece holds the later write.
            if best.as_ref().is_none_or(|(bt, _)| *t >= *bt) {
                best = col.values.value(i).map(|v| (*t, v));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(series: SeriesId, time: i64, v: f64) -> ResolvedPoint {
        ResolvedPoint {
            series,
            time,
            fields: vec![(1, Value::Float(v))],
        }
    }

    #[test]
    fn full_columns_are_sealed_at_exactly_the_chunk_size() {
        let mut head = Head::default();
        let mut full = Vec::new();
        for t in 0..10 {
            head.append(1, &point(7, t, t as f64), 4, &mut full);
        }
        assert_eq!(full, vec![(7, 1), (7, 1)]);
        let pieces: Vec<usize> = head.pieces(&(7, 1)).map(|c| c.times.len()).collect();
        assert_eq!(pieces, vec![4, 4, 2]);
        assert!(head.pieces(&(7, 1)).all(|c| c.times.capacity() <= 4));
        assert_eq!(
            head.snapshot(&(7, 1), 3, 8).map(|(t, _)| t),
            Some(vec![3, 4, 5, 6, 7, 8])
        );
        assert_eq!(head.last(&(7, 1)), Some((9, Value::Float(9.0))));
        head.take(&(7, 1));
        assert_eq!(head.value_count(), 0);
    }

    #[test]
    fn sealed_pieces_leave_only_if_still_held() {
        let mut head = Head::default();
        let mut full = Vec::new();
        for t in 0..6 {
            head.append(1, &point(7, t, t as f64), 4, &mut full);
        }
        let pieces = head.seal(&(7, 1));
        assert_eq!(
            pieces.iter().map(|c| c.times.len()).collect::<Vec<_>>(),
            vec![4, 2]
        );
        // Points after the seal start a new piece that stays in the head.
        head.append(2, &point(7, 6, 6.0), 4, &mut full);
        assert!(head.take_sealed(&(7, 1), &pieces));
        assert_eq!(head.value_count(), 1);
        assert_eq!(
            head.snapshot(&(7, 1), i64::MIN, i64::MAX).map(|(t, _)| t),
            Some(vec![6])
        );
        assert!(!head.take_sealed(&(7, 1), &pieces), "already taken");
        // A flush that took the column meanwhile makes an older seal stale.
        let stale = head.seal(&(7, 1));
        head.take(&(7, 1));
        assert!(!head.holds_sealed(&(7, 1), &stale));
        assert!(!head.take_sealed(&(7, 1), &stale));
        assert_eq!(head.value_count(), 0);
    }
}
