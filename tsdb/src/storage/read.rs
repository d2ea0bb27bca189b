//! Reading columns: chunks from SQLite merged with the head.

use super::Store;
use super::batch::Value;
use super::catalog::{FieldId, SeriesId};
use super::column::normalize;
use crate::codec::{self, Column, ColumnBuf};
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
        let mut buf = ColumnBuf::default();
        if self.read_column_into(series, field, start, end, &mut buf)? {
            Ok(Some((buf.times, buf.values)))
        } else {
            Ok(None)
        }
    }

    /// [`Store::read_column`] into `buf`, reusing its allocations; false (and `buf`
    /// emptied) when there are no points. Each chunk decodes only the range (see
    /// [`codec::decode_range_into`]), and the blob is decoded straight from SQLite's
    /// buffer; a single chunk without head points needs no merge.
    pub fn read_column_into(
        &self,
        series: SeriesId,
        field: FieldId,
        start: i64,
        end: i64,
        buf: &mut ColumnBuf,
    ) -> Result<bool> {
        let conn = self.reader()?;
        self.read_with(&conn, series, field, start, end, buf)
    }

    /// [`Store::read_column_into`] for several columns (`bufs[i]` receives `cols[i]`),
    /// with one pooled connection for the batch.
    pub fn read_columns_into(
        &self,
        cols: &[(SeriesId, FieldId)],
        start: i64,
        end: i64,
        bufs: &mut [ColumnBuf],
    ) -> Result<()> {
        let conn = self.reader()?;
        for (&(series, field), buf) in cols.iter().zip(bufs.iter_mut()) {
            self.read_with(&conn, series, field, start, end, buf)?;
        }
        Ok(())
    }

    fn read_with(
        &self,
        conn: &rusqlite::Connection,
        series: SeriesId,
        field: FieldId,
        start: i64,
        end: i64,
        buf: &mut ColumnBuf,
    ) -> Result<bool> {
        buf.times.clear();
        buf.clear_values();
        if start > end {
            return Ok(false);
        }
        // Head first, chunks second: a flush in between then shows its points twice
        // (identical, merged below) instead of not at all.
        let head = self
            .shared
            .head
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .snapshot(&(series, field), start, end);
        let mut stmt = conn.prepare_cached(
            "SELECT data FROM chunks WHERE series_id = ?1 AND field_id = ?2 AND min_time <= ?4 AND max_time >= ?3
             ORDER BY id",
        )?;
        let mut rows = stmt.query((series, field, start, end))?;
        let mut pieces = 0;
        let mut extra: Option<ColumnBuf> = None;
        while let Some(row) = rows.next()? {
            let blob = row
                .get_ref(0)?
                .as_blob()
                .map_err(|e| Error::corrupt("chunk", e.to_string()))?;
            if pieces == 0 {
                codec::decode_range_into(blob, start, end, &mut buf.times, &mut buf.values)?;
            } else {
                let more = extra.get_or_insert_with(ColumnBuf::default);
                codec::decode_range_into(blob, start, end, &mut more.times, &mut more.values)?;
                if buf.values.extend_from(&more.values) {
                    buf.times.extend_from_slice(&more.times);
                }
            }
            pieces += 1;
        }
        drop(rows);
        drop(stmt);
        if let Some((t, v)) = head {
            if pieces == 0 {
                buf.times = t;
                buf.values = v;
            } else if buf.values.extend_from(&v) {
                buf.times.extend_from_slice(&t);
            }
            pieces += 1;
        }
        // One piece is sorted and within the range already (chunks by construction,
        // the head snapshot by `snapshot`'s contract, checked here all the same).
        let sorted_single = pieces == 1
            && buf.times.windows(2).all(|w| w[0] < w[1])
            && buf.times.first().is_none_or(|&t| t >= start)
            && buf.times.last().is_none_or(|&t| t <= end);
        if !sorted_single {
            let (t, v) = normalize(&buf.times, &buf.values, start, end);
            buf.times = t;
            buf.values = v;
        }
        Ok(!buf.times.is_empty())
    }

    /// The newest point of a column, for `last()` and lastpoint queries. Served from the
    /// last-value cache; a miss reads the head and the chunk with the newest data once.
    pub fn last_value(&self, series: SeriesId, field: FieldId) -> Result<Option<(i64, Value)>> {
        let key = (series, field);
        if let Some(hit) = self
            .shared
            .last_values
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(Some(hit.clone()));
        }
        let seq_before = *self.shared.committed.borrow();
        let best = self.last_value_uncached(series, field)?;
        if let Some(found) = &best {
            let mut cache = self
                .shared
                .last_values
                .write()
                .unwrap_or_else(|e| e.into_inner());
            // A commit since we looked may have brought a newer point that the writer did
            // not record (the entry did not exist yet): then leave the miss for next time.
            if *self.shared.committed.borrow() == seq_before {
                cache.entry(key).or_insert_with(|| found.clone());
            }
        }
        Ok(best)
    }

    fn last_value_uncached(
        &self,
        series: SeriesId,
        field: FieldId,
    ) -> Result<Option<(i64, Value)>> {
        let mut best = self
            .shared
            .head
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .last(&(series, field));
        let conn = self.reader()?;
        // Equal times: the later chunk (higher id) holds the later write, and the head is
        // later than every chunk.
        let mut stmt = conn.prepare_cached(
            "SELECT data, max_time FROM chunks WHERE series_id = ?1 AND field_id = ?2
             ORDER BY max_time DESC, id DESC LIMIT 1",
        )?;
        let mut rows = stmt.query((series, field))?;
        if let Some(row) = rows.next()? {
            let max_time: i64 = row.get(1)?;
            if best.as_ref().is_none_or(|(bt, _)| max_time > *bt) {
                let blob = row
                    .get_ref(0)?
                    .as_blob()
                    .map_err(|e| Error::corrupt("chunk", e.to_string()))?;
                let (t, v) = codec::decode_chunk(blob)?;
                if let Some(i) = (0..t.len()).max_by_key(|&i| (t[i], i)) {
                    best = v.value(i).map(|v| (t[i], v));
                }
            }
        }
        Ok(best)
    }

    /// The oldest and newest timestamps of a column, from chunk headers and the head,
    /// without decoding anything.
    pub fn time_bounds(&self, series: SeriesId, field: FieldId) -> Result<Option<(i64, i64)>> {
        let mut bounds: Option<(i64, i64)> = None;
        {
            let head = self.shared.head.read().unwrap_or_else(|e| e.into_inner());
            for piece in head.pieces(&(series, field)) {
                for &t in &piece.times {
                    bounds = Some(bounds.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
                }
            }
        }
        let conn = self.reader()?;
        let (lo, hi): (Option<i64>, Option<i64>) = conn
            .prepare_cached("SELECT MIN(min_time), MAX(max_time) FROM chunks WHERE series_id = ?1 AND field_id = ?2")?
            .query_row((series, field), |r| Ok((r.get(0)?, r.get(1)?)))?;
        if let (Some(lo), Some(hi)) = (lo, hi) {
            bounds = Some(bounds.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
        Ok(bounds)
    }
}
