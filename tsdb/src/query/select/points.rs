//! Where SELECT reads points from: the [`Store`], or the rows of a subquery held in memory
//! ([`MemPoints`]). Both look alike to the executor: a catalog (measurements, series, tag
//! index) and typed columns per series x field.

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, RwLockReadGuard};

use common::FieldType;

use crate::Store;
use crate::codec::{Column, ColumnBuf};
use crate::storage::{Catalog, FieldDef, FieldId, Measurement, Series, SeriesId, Value};

/// The catalog of a [`Points`], borrowed for the duration of a planning step.
pub enum CatalogView<'a> {
    Locked(RwLockReadGuard<'a, Catalog>),
    Plain(&'a Catalog),
}

impl Deref for CatalogView<'_> {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        match self {
            CatalogView::Locked(g) => g,
            CatalogView::Plain(c) => c,
        }
    }
}

/// The order of a raw query's rows from several series of one group, before ORDER BY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowOrder {
    /// By time; rows with equal times in series order, reversed under ORDER BY DESC.
    #[default]
    Time,
    /// By time, equal times in series order in both directions (rows of a subquery that
    /// groups by time: 1.x emits them window by window, series by series).
    TimeThenSeries,
    /// Series by series, each by ascending time in both directions (rows of a subquery
    /// aggregating without GROUP BY time: in 1.x they all belong to one window).
    SeriesThenTime,
}

/// The reads the SELECT executor needs. Times are inclusive nanosecond bounds; columns come
/// back sorted by time.
pub trait Points: Sync {
    fn catalog(&self) -> CatalogView<'_>;
    /// `bufs[i]` receives `cols[i]` in `[start, end]` (emptied when it has no points).
    fn read_columns_into(
        &self,
        cols: &[(SeriesId, FieldId)],
        start: i64,
        end: i64,
        bufs: &mut [ColumnBuf],
    ) -> crate::Result<()>;
    fn read_column(
        &self,
        series: SeriesId,
        field: FieldId,
        start: i64,
        end: i64,
    ) -> crate::Result<Option<(Vec<i64>, Column)>>;
    /// The newest point of a column.
    fn last_value(&self, series: SeriesId, field: FieldId) -> crate::Result<Option<(i64, Value)>>;
    /// The oldest and newest timestamps of a column.
    fn time_bounds(&self, series: SeriesId, field: FieldId) -> crate::Result<Option<(i64, i64)>>;
    fn row_order(&self) -> RowOrder {
        RowOrder::Time
    }
    /// True when points outside the WHERE time range still count. A subquery's rows do:
    /// 1.x applies the outer time range to the inner statement only, so an inner row
    /// stamped with the start of a bucket that began before the outer lower bound is kept
    /// (and falls in the outer query's first bucket).
    fn reads_outside_range(&self) -> bool {
        false
    }
    /// True when a raw query selecting only tags returns a row per point. 1.x returns
    /// nothing for stored series, but a row per inner row for a subquery.
    fn tag_only_rows(&self) -> bool {
        false
    }
}

impl Points for Store {
    fn catalog(&self) -> CatalogView<'_> {
        CatalogView::Locked(Store::catalog(self))
    }
    fn read_columns_into(
        &self,
        cols: &[(SeriesId, FieldId)],
        start: i64,
        end: i64,
        bufs: &mut [ColumnBuf],
    ) -> crate::Result<()> {
        Store::read_columns_into(self, cols, start, end, bufs)
    }
    fn read_column(
        &self,
        series: SeriesId,
        field: FieldId,
        start: i64,
        end: i64,
    ) -> crate::Result<Option<(Vec<i64>, Column)>> {
        Store::read_column(self, series, field, start, end)
    }
    fn last_value(&self, series: SeriesId, field: FieldId) -> crate::Result<Option<(i64, Value)>> {
        Store::last_value(self, series, field)
    }
    fn time_bounds(&self, series: SeriesId, field: FieldId) -> crate::Result<Option<(i64, i64)>> {
        Store::time_bounds(self, series, field)
    }
}

/// Points built from result rows (a subquery's output): one measurement per series name,
/// one series per tag set. A column holds one value per time, so rows of a series that
/// share a timestamp (a raw subquery over several series) go to sibling series with the
/// same tags: grouping puts them back together.
#[derive(Default)]
pub struct MemPoints {
    catalog: Catalog,
    columns: HashMap<(SeriesId, FieldId), (Vec<i64>, Column)>,
    /// measurement name -> id, in first-seen order of ids.
    names: BTreeMap<String, i64>,
    next_id: i64,
    pub order: RowOrder,
}

impl MemPoints {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds one series of rows: `rows[i] = (time, values)` with `values[j]` the value of
    /// field `fields[j]` (`None` = no value). Rows must be sorted by time.
    pub fn add_series(
        &mut self,
        name: &str,
        tags: &BTreeMap<String, String>,
        fields: &[String],
        rows: Vec<(i64, Vec<Option<Value>>)>,
    ) {
        let mid = match self.names.get(name) {
            Some(&id) => id,
            None => {
                let id = self.id();
                self.names.insert(name.to_string(), id);
                self.catalog.measurements.insert(
                    id,
                    Measurement {
                        id,
                        name: name.to_string(),
                        ..Measurement::default()
                    },
                );
                id
            }
        };
        // Split rows sharing a timestamp: the k-th row at a time goes to sibling k.
        let mut siblings: Vec<Vec<(i64, Vec<Option<Value>>)>> = Vec::new();
        let mut last_time = None;
        let mut k = 0usize;
        for row in rows {
            k = if last_time == Some(row.0) { k + 1 } else { 0 };
            last_time = Some(row.0);
            if siblings.len() <= k {
                siblings.push(Vec::new());
            }
            if let Some(s) = siblings.get_mut(k) {
                s.push(row);
            }
        }
        let tag_list: crate::storage::catalog::SeriesTags = tags
            .iter()
            .map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str())))
            .collect::<Vec<_>>()
            .into();
        for (n, rows) in siblings.into_iter().enumerate() {
            let sid = self.id();
            let mut key = name.to_string();
            for (k, v) in tag_list.iter() {
                key.push_str(&format!(",{k}={v}"));
            }
            if n > 0 {
                key.push_str(&format!("#{n}"));
            }
            let Some(m) = self.catalog.measurements.get_mut(&mid) else {
                return;
            };
            m.series.insert(sid);
            for (k, v) in tag_list.iter() {
                m.tags
                    .entry(k.clone())
                    .or_default()
                    .entry(v.clone())
                    .or_default()
                    .insert(sid);
            }
            self.catalog.series.insert(
                sid,
                Series {
                    id: sid,
                    measurement_id: mid,
                    key: key.into(),
                    tags: tag_list.clone(),
                },
            );
            for (j, field) in fields.iter().enumerate() {
                let mut times = Vec::new();
                let mut values: Vec<&Value> = Vec::new();
                for (t, vals) in &rows {
                    if let Some(Some(v)) = vals.get(j) {
                        times.push(*t);
                        values.push(v);
                    }
                }
                let Some(first) = values.first() else {
                    continue;
                };
                // The field's type is the first one seen; integers join float fields as
                // floats, other mismatches are dropped (1.x gives a field one type).
                let next_field_id = self.next_id + 1;
                let def = *m.fields.entry(field.clone()).or_insert_with(|| FieldDef {
                    id: next_field_id,
                    field_type: first.field_type(),
                });
                if def.id == next_field_id {
                    self.next_id += 1;
                }
                let mut col = empty_column(def.field_type);
                let mut kept = Vec::with_capacity(times.len());
                for (t, v) in times.into_iter().zip(values) {
                    let ok = match (def.field_type, v) {
                        (FieldType::Float, Value::Integer(i)) => col.push(&Value::Float(*i as f64)),
                        _ => col.push(v),
                    };
                    if ok {
                        kept.push(t);
                    }
                }
                if !kept.is_empty() {
                    self.columns.insert((sid, def.id), (kept, col));
                }
            }
        }
    }

    /// The measurements, by name.
    pub fn measurements(&self) -> impl Iterator<Item = &Measurement> {
        self.names
            .values()
            .filter_map(|id| self.catalog.measurements.get(id))
    }

    fn range(
        &self,
        series: SeriesId,
        field: FieldId,
        start: i64,
        end: i64,
    ) -> Option<(&[i64], &Column, usize, usize)> {
        let (times, col) = self.columns.get(&(series, field))?;
        let lo = times.partition_point(|&t| t < start);
        let hi = times.partition_point(|&t| t <= end);
        (lo < hi).then_some((times.as_slice(), col, lo, hi))
    }
}

fn empty_column(t: FieldType) -> Column {
    match t {
        FieldType::Float => Column::Float(Vec::new()),
        FieldType::Integer => Column::Integer(Vec::new()),
        FieldType::Unsigned => Column::Unsigned(Vec::new()),
        FieldType::String => Column::String(Vec::new()),
        FieldType::Boolean => Column::Boolean(Vec::new()),
    }
}

fn slice(col: &Column, lo: usize, hi: usize) -> Column {
    fn s<T: Clone>(v: &[T], lo: usize, hi: usize) -> Vec<T> {
        v.get(lo..hi).map(<[T]>::to_vec).unwrap_or_default()
    }
    match col {
        Column::Float(v) => Column::Float(s(v, lo, hi)),
        Column::Integer(v) => Column::Integer(s(v, lo, hi)),
        Column::Unsigned(v) => Column::Unsigned(s(v, lo, hi)),
        Column::String(v) => Column::String(s(v, lo, hi)),
        Column::Boolean(v) => Column::Boolean(s(v, lo, hi)),
    }
}

impl Points for MemPoints {
    fn catalog(&self) -> CatalogView<'_> {
        CatalogView::Plain(&self.catalog)
    }
    fn read_columns_into(
        &self,
        cols: &[(SeriesId, FieldId)],
        start: i64,
        end: i64,
        bufs: &mut [ColumnBuf],
    ) -> crate::Result<()> {
        for (&(series, field), buf) in cols.iter().zip(bufs.iter_mut()) {
            match self.range(series, field, start, end) {
                Some((times, col, lo, hi)) => {
                    buf.times.clear();
                    buf.times
                        .extend_from_slice(times.get(lo..hi).unwrap_or_default());
                    buf.values = slice(col, lo, hi);
                }
                None => {
                    buf.times.clear();
                    buf.clear_values();
                }
            }
        }
        Ok(())
    }
    fn read_column(
        &self,
        series: SeriesId,
        field: FieldId,
        start: i64,
        end: i64,
    ) -> crate::Result<Option<(Vec<i64>, Column)>> {
        Ok(self
            .range(series, field, start, end)
            .map(|(times, col, lo, hi)| {
                (
                    times.get(lo..hi).unwrap_or_default().to_vec(),
                    slice(col, lo, hi),
                )
            }))
    }
    fn last_value(&self, series: SeriesId, field: FieldId) -> crate::Result<Option<(i64, Value)>> {
        Ok(self.columns.get(&(series, field)).and_then(|(times, col)| {
            let i = times.len().checked_sub(1)?;
            Some((*times.get(i)?, col.value(i)?))
        }))
    }
    fn row_order(&self) -> RowOrder {
        self.order
    }
    fn reads_outside_range(&self) -> bool {
        true
    }
    fn tag_only_rows(&self) -> bool {
        true
    }
    fn time_bounds(&self, series: SeriesId, field: FieldId) -> crate::Result<Option<(i64, i64)>> {
        Ok(self
            .columns
            .get(&(series, field))
            .and_then(|(times, _)| Some((*times.first()?, *times.last()?))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> Option<Value> {
        Some(Value::Float(v))
    }

    #[test]
    fn rows_sharing_a_time_go_to_sibling_series_with_the_same_tags() {
        let mut mem = MemPoints::default();
        let tags = BTreeMap::from([("host".to_string(), "a".to_string())]);
        let fields = vec!["x".to_string(), "y".to_string()];
        mem.add_series(
            "m",
            &tags,
            &fields,
            vec![
                (1, vec![f(1.0), None]),
                (1, vec![f(2.0), Some(Value::Integer(7))]),
                (2, vec![f(3.0), None]),
            ],
        );
        let m = mem.measurements().next().expect("measurement");
        assert_eq!(m.series.len(), 2);
        let x = m.fields.get("x").expect("x").id;
        let y = m.fields.get("y").expect("y");
        assert_eq!(y.field_type, FieldType::Integer);
        let ids: Vec<SeriesId> = m.series.iter().copied().collect();
        let (first, second) = (ids[0], ids[1]);
        assert_eq!(
            mem.read_column(first, x, i64::MIN, i64::MAX).expect("read"),
            Some((vec![1, 2], Column::Float(vec![1.0, 3.0])))
        );
        assert_eq!(
            mem.read_column(second, x, 0, 5).expect("read"),
            Some((vec![1], Column::Float(vec![2.0])))
        );
        // y only has a value in the second row at time 1: the first sibling has no column.
        assert_eq!(mem.read_column(first, y.id, 0, 5).expect("read"), None);
        assert_eq!(mem.time_bounds(first, x).expect("bounds"), Some((1, 2)));
        assert_eq!(
            mem.last_value(first, x).expect("last"),
            Some((2, Value::Float(3.0)))
        );
        let cat = mem.catalog();
        for id in ids {
            assert_eq!(cat.series.get(&id).map(|s| s.tags.len()), Some(1));
        }
        assert_eq!(
            m.tags.get("host").and_then(|v| v.get("a")).map(|s| s.len()),
            Some(2)
        );
    }

    #[test]
    fn integers_join_a_float_field_and_other_types_are_dropped() {
        let mut mem = MemPoints::default();
        let fields = vec!["x".to_string()];
        mem.add_series("m", &BTreeMap::new(), &fields, vec![(1, vec![f(1.5)])]);
        let tags = BTreeMap::from([("k".to_string(), "v".to_string())]);
        mem.add_series(
            "m",
            &tags,
            &fields,
            vec![
                (1, vec![Some(Value::Integer(2))]),
                (2, vec![Some(Value::String("s".into()))]),
            ],
        );
        let m = mem.measurements().next().expect("measurement");
        let x = m.fields.get("x").expect("x");
        assert_eq!(x.field_type, FieldType::Float);
        let second = *m.series.iter().last().expect("series");
        assert_eq!(
            mem.read_column(second, x.id, 0, 5).expect("read"),
            Some((vec![1], Column::Float(vec![2.0])))
        );
    }
}
