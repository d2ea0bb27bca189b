//! Reading columns: chunks from SQLite merged with the head.

use super::Store;
use super::batch::Value;
use super::catalog::{FieldId, SeriesId};
use super::column::normalize;
use crate::codec::{self, Column};
use crate::{Error, Result};

impl Store {
    /// The points of one series x field with `start <= time <= end`, sorted by time, with
    /// duplicates resolved (last write wins). `None` when there are none.
    pub fn read_column(
        &self,
        series: SeriesId,
        field: FieldId,
        start: i64,
        end: i64,
    ) -> Result<Option<(Vec<i64>, Column)>> {
        // Head first, chunks second: a flush in between then shows its points twice
        // (identical, merged below) instead of not at all.
        let head = self
            .shared
            .head
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .snapshot(&(series, field), start, end);
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT data FROM chunks WHERE series_id = ?1 AND field_id = ?2 AND min_time <= ?4 AND max_time >= ?3
             ORDER BY id",
        )?;
        let mut rows = stmt.query((series, field, start, end))?;
        let mut times: Vec<i64> = Vec::new();
        let mut values: Option<Column> = None;
        let mut pieces = 0;
        while let Some(row) = rows.next()? {
            let blob = row
                .get_ref(0)?
                .as_blob()
                .map_err(|e| Error::corrupt("chunk", e.to_string()))?;
            let (t, v) = codec::decode_chunk(blob)?;
            append(&mut times, &mut values, t, v);
            pieces += 1;
        }
        if let Some((t, v)) = head {
            append(&mut times, &mut values, t, v);
            pieces += 1;
        }
        let Some(values) = values else {
            return Ok(None);
        };
        let sorted_single = pieces == 1 && times.windows(2).all(|w| w[0] < w[1]);
        let (t, v) = if sorted_single && times.first() >= Some(&start) && times.last() <= Some(&end)
        {
            (times, values)
        } else {
            normalize(&times, &values, start, end)
        };
        if t.is_empty() {
            return Ok(None);
        }
        Ok(Some((t, v)))
    }

    /// The newest point of a column, for `last()` and lastpoint queries.
    pub fn last_value(&self, series: SeriesId, field: FieldId) -> Result<Option<(i64, Value)>> {
        let head_last = self
            .shared
            .head
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .last(&(series, field));
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT data FROM chunks WHERE series_id = ?1 AND field_id = ?2 ORDER BY max_time DESC, id DESC LIMIT 1",
        )?;
        let mut rows = stmt.query((series, field))?;
        let mut best = head_last;
        if let Some(row) = rows.next()? {
            let (t, v) = codec::decode_chunk(
                row.get_ref(0)?
                    .as_blob()
                    .map_err(|e| Error::corrupt("chunk", e.to_string()))?,
            )?;
            if let Some(i) = (0..t.len()).max_by_key(|&i| (t[i], i)) {
                if best.as_ref().is_none_or(|(bt, _)| t[i] > *bt) {
                    best = v.value(i).map(|v| (t[i], v));
                }
            }
        }
        Ok(best)
    }
}

fn append(times: &mut Vec<i64>, values: &mut Option<Column>, t: Vec<i64>, v: Column) {
    match values {
        None => {
            *times = t;
            *values = Some(v);
        }
        Some(acc) => {
            if acc.extend_from(&v) {
                times.extend_from_slice(&t);
            }
        }
    }
}
