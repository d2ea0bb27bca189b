//! Reading columns: chunks from SQLite merged with the head.

use super::Store;
use super::batch::Value;
use super::catalog::{FieldId, SeriesId};
use super::column::normalize;
use crate::codec::{self, Column, ColumnBuf};
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
        snapshot(&conn, || {
            self.read_with(&conn, series, field, start, end, buf)
        })
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
        snapshot(&conn, || {
            for (&(series, field), buf) in cols.iter().zip(bufs.iter_mut()) {
                self.read_with(&conn, series, field, start, end, buf)?;
            }
            Ok(())
        })
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
        // The chunks' identities first (no blob is loaded), then each blob from the cache
        // or SQLite; the caller's transaction makes both statements see one snapshot.
        let keys: Vec<ChunkKey> = conn
            .prepare_cached(
                "SELECT id, count, min_time, max_time, max_seq FROM chunks
                 WHERE series_id = ?1 AND field_id = ?2 AND min_time <= ?4 AND max_time >= ?3
                 ORDER BY id",
            )?
            .query_map((series, field, start, end), |r| {
                Ok(ChunkKey {
                    id: r.get(0)?,
                    count: r.get(1)?,
                    min_time: r.get(2)?,
                    max_time: r.get(3)?,
                    max_seq: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut pieces = 0;
        let mut extra: Option<ColumnBuf> = None;
        for key in keys {
            // Blobs are checked in full once, when they enter the cache.
            let blob = match cache_get(&self.shared, &key) {
                Some(blob) => blob,
                None => {
                    let mut stmt = conn.prepare_cached("SELECT data FROM chunks WHERE id = ?1")?;
                    let mut rows = stmt.query([key.id])?;
                    let Some(row) = rows.next()? else { continue };
                    let data = row
                        .get_ref(0)?
                        .as_blob()
                        .map_err(|e| Error::corrupt("chunk", e.to_string()))?;
                    codec::verify(data)?;
                    cache_put(&self.shared, key, data)
                }
            };
            let decode = codec::decode_range_into_verified;
            if pieces == 0 {
                decode(&blob, start, end, &mut buf.times, &mut buf.values)?;
            } else {
                let more = extra.get_or_insert_with(ColumnBuf::default);
                decode(&blob, start, end, &mut more.times, &mut more.values)?;
                if buf.values.extend_from(&more.values) {
                    buf.times.extend_from_slice(&more.times);
                }
            }
            pieces += 1;
        }
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

/// Runs `f` in one read transaction, so that its statements see one snapshot.
fn snapshot<T>(conn: &rusqlite::Connection, f: impl FnOnce() -> Result<T>) -> Result<T> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let out = f();
    let end = conn.prepare_cached("COMMIT")?.execute([]);
    let out = out?;
    end?;
    Ok(out)
}

/// What identifies a chunk's content: every statement that rewrites a chunk in place
/// changes its count or time range (compaction merges more points in, deletes take
/// points out) unless the content stays the same, and a reused id belongs to a newer
/// flush, whose `max_seq` is higher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ChunkKey {
    id: i64,
    count: i64,
    min_time: i64,
    max_time: i64,
    max_seq: i64,
}

/// Recently read chunk blobs, shared by the stores of the process (each keyed by its own
/// `Shared`; a dropped store's entries go at the next access). Reading a blob from SQLite
/// costs a `pread` per 1 KiB overflow page (about 40 us for a day-long chunk) where the
/// cache costs a hash lookup, so dashboards that re-run queries over the same columns
/// skip most of it. Bounded by [`CACHE_BYTES`] (anonymous memory, so it counts in RSS).
struct BlobCache {
    owner: std::sync::Weak<super::Shared>,
    map: HashMap<ChunkKey, (Arc<[u8]>, u64)>,
    bytes: usize,
    tick: u64,
}

/// Bytes of blobs the cache keeps, over all stores: about 150 day-long float chunks.
const CACHE_BYTES: usize = 8 << 20;

static CACHES: Mutex<Vec<BlobCache>> = Mutex::new(Vec::new());

fn cache_get(owner: &Arc<super::Shared>, key: &ChunkKey) -> Option<Arc<[u8]>> {
    let mut caches = CACHES.lock().unwrap_or_else(|e| e.into_inner());
    let c = caches
        .iter_mut()
        .find(|c| std::ptr::eq(c.owner.as_ptr(), Arc::as_ptr(owner)))?;
    c.tick += 1;
    let tick = c.tick;
    let (blob, used) = c.map.get_mut(key)?;
    *used = tick;
    Some(blob.clone())
}

fn cache_put(owner: &Arc<super::Shared>, key: ChunkKey, data: &[u8]) -> Arc<[u8]> {
    let blob: Arc<[u8]> = Arc::from(data);
    if blob.len() > CACHE_BYTES / 16 {
        return blob;
    }
    let mut caches = CACHES.lock().unwrap_or_else(|e| e.into_inner());
    caches.retain(|c| c.owner.strong_count() > 0);
    let at = match caches
        .iter()
        .position(|c| std::ptr::eq(c.owner.as_ptr(), Arc::as_ptr(owner)))
    {
        Some(i) => i,
        None => {
            caches.push(BlobCache {
                owner: Arc::downgrade(owner),
                map: HashMap::new(),
                bytes: 0,
                tick: 0,
            });
            caches.len() - 1
        }
    };
    if let Some(c) = caches.get_mut(at) {
        c.tick += 1;
        if let Some((old, _)) = c.map.insert(key, (blob.clone(), c.tick)) {
            c.bytes -= old.len();
        }
        c.bytes += blob.len();
    }
    // Evict the least recently used blobs, over all stores, down to the bound.
    while caches.iter().map(|c| c.bytes).sum::<usize>() > CACHE_BYTES {
        let oldest = caches
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.map.iter().map(move |(k, (_, used))| (*used, i, *k)))
            .min_by_key(|e| e.0);
        let Some((_, i, k)) = oldest else { break };
        if let Some(c) = caches.get_mut(i)
            && let Some((old, _)) = c.map.remove(&k)
        {
            c.bytes -= old.len();
        }
    }
    blob
}

#[cfg(test)]
mod tests {
    use common::{FieldValue, Point};

    use super::super::{PointBatch, StoreOptions};
    use super::*;

    fn floats(store: &Store, key: (SeriesId, FieldId)) -> (Vec<i64>, Vec<f64>) {
        match store
            .read_column(key.0, key.1, i64::MIN, i64::MAX)
            .expect("read")
        {
            Some((t, Column::Float(v))) => (t, v),
            None => (vec![], vec![]),
            Some(other) => panic!("unexpected column {other:?}"),
        }
    }

    /// Chunks rewritten in place (compaction, deletes) are never served from the cache
    /// under their old content.
    #[tokio::test]
    async fn cached_chunks_follow_rewrites_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = StoreOptions {
            chunk_points: 4,
            compact_points: 8,
            ..StoreOptions::default()
        };
        let store = Store::open(dir.path(), opts).expect("open");
        store.create_database("db").await.expect("db");
        let write = |pts: Vec<(i64, f64)>| {
            let mut b = PointBatch::new();
            for (t, v) in pts {
                let p = Point {
                    measurement: "m".into(),
                    tags: vec![("host".into(), "a".into())],
                    fields: vec![("f".into(), FieldValue::Float(v))],
                    timestamp: Some(t),
                };
                b.push_point(&p, 0);
            }
            let store = store.clone();
            async move { store.write("db", None, b, 0).await.expect("write") }
        };
        write((0..4).map(|t| (t, 1.0)).collect()).await;
        write(vec![(4, 1.0), (5, 1.0)]).await;
        store.flush().await.expect("flush 1");
        let key = {
            let cat = store.catalog();
            let (_, rp) = cat.retention_policy("db", None).expect("rp");
            let mid = cat.measurement_id(rp.id, "m").expect("m");
            let sid = cat.series_id(mid, "m,host=a").expect("series");
            (sid, cat.measurements[&mid].fields["f"].id)
        };
        for _ in 0..2 {
            assert_eq!(floats(&store, key).1, vec![1.0; 6]);
        }
        write(vec![(0, 99.0), (6, 1.0)]).await;
        store.flush().await.expect("flush 2");
        for _ in 0..2 {
            let (t, v) = floats(&store, key);
            assert_eq!(t, vec![0, 1, 2, 3, 4, 5, 6]);
            assert_eq!(v[0], 99.0);
        }
        store.delete_range(vec![key.0], 2, 3).await.expect("delete");
        for _ in 0..2 {
            assert_eq!(floats(&store, key).0, vec![0, 1, 4, 5, 6]);
        }
        let mut buf = ColumnBuf::default();
        store
            .read_columns_into(&[key, key], 1, 4, std::slice::from_mut(&mut buf))
            .expect("batch");
        assert_eq!(buf.times, vec![1, 4]);
        store.shutdown();
    }
}
