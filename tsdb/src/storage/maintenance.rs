//! Work the writer does between requests: replaying the log at start, flushing head
//! columns into chunks, merging small chunks, dropping expired data, trimming the log.

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::batch::decode_payload;
use super::column::normalize;
use super::flush::{encode_split, insert_chunks};
use super::head::ColumnKey;
use super::now_ns;
use super::writer::Writer;
use crate::Result;
use crate::codec::{self, Column};

/// Columns flushed per transaction: bounds the memory a flush copies at once.
const FLUSH_GROUP: usize = 64;
/// pco level for chunks rewritten by compaction (flushes use the codec's default).
const COMPACTION_PCO_LEVEL: usize = 8;
/// How often retention and compaction run while the store is busy.
const SLOW_PERIOD: std::time::Duration = std::time::Duration::from_secs(30);
/// Compaction work done in one go between write groups while the store is busy.
const COMPACTION_SLICE: std::time::Duration = std::time::Duration::from_millis(40);
/// Columns compacted per transaction in a slice: small, so a slice ends near its budget.
const SLICE_GROUP: usize = 8;

impl Writer {
    /// Rebuilds the head from the write log after a restart.
    pub(super) fn recover(&mut self) -> Result<()> {
        let floor: i64 = state(&self.conn, "replay_floor")?.unwrap_or(0);
        let mut flushed: HashMap<ColumnKey, u64> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT series_id, field_id, MAX(max_seq) FROM chunks WHERE max_seq > ?1 GROUP BY 1, 2")?;
            let rows = stmt.query_map([floor], |r| {
                Ok(((r.get(0)?, r.get(1)?), r.get::<_, i64>(2)? as u64))
            })?;
            for row in rows {
                let (k, v) = row?;
                flushed.insert(k, v);
            }
        }
        let mut full = Vec::new();
        let mut replayed = 0usize;
        {
            let catalog = self
                .shared
                .catalog
                .read()
                .unwrap_or_else(|e| e.into_inner());
            let mut head = self.shared.head.write().unwrap_or_else(|e| e.into_inner());
            let mut stmt = self
                .conn
                .prepare("SELECT seq, payload FROM write_log WHERE seq > ?1 ORDER BY seq")?;
            let mut rows = stmt.query([floor])?;
            while let Some(row) = rows.next()? {
                let seq = row.get::<_, i64>(0)? as u64;
                let payload: Vec<u8> = row.get(1)?;
                let mut points = decode_payload(&payload)?;
                for p in &mut points {
                    if !catalog.series.contains_key(&p.series) {
                        continue;
                    }
                    p.fields
                        .retain(|(f, _)| flushed.get(&(p.series, *f)).is_none_or(|&s| s < seq));
                    head.append(seq, p, self.shared.options.chunk_points, &mut full);
                    replayed += 1;
                }
                self.next_seq = self.next_seq.max(seq + 1);
            }
        }
        self.shared.committed.send_replace(self.next_seq - 1);
        if replayed > 0 {
            tracing::info!("replayed {replayed} points from the write log");
            self.dirty_since_idle_flush = true;
        }
        if !full.is_empty() {
            self.flush_columns(full)?;
        }
        Ok(())
    }

    /// Called when the queue is quiet and every tick while busy.
    pub(super) fn background(&mut self) {
        self.last_maintenance = Instant::now();
        let opts = self.shared.options.clone();
        if self.dirty_since_idle_flush && self.last_write.elapsed() >= opts.idle_flush {
            self.dirty_since_idle_flush = false;
            if let Err(e) = self.flush_all() {
                tracing::error!("idle flush failed: {e}");
            }
            return;
        }
        let old = self
            .shared
            .head
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .older_than(opts.max_head_age);
        if !old.is_empty() {
            self.flush_async(old);
        }
        thread_local! { static LAST_SLOW: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) }; }
        let due = LAST_SLOW.with(|c| {
            let due = c.get().is_none_or(|t| t.elapsed() >= SLOW_PERIOD);
            if due {
                c.set(Some(Instant::now()));
            }
            due
        });
        if due && let Err(e) = self.enforce_retention() {
            tracing::error!("retention failed: {e}");
        }
        // Compaction decodes and re-encodes chunks: while writes arrive it runs in slices
        // of COMPACTION_SLICE, one per tick, so that no write waits long behind it.
        if (due || (self.compaction_unfinished && !self.touched.is_empty()))
            && let Err(e) = self.compact_for(Some(COMPACTION_SLICE))
        {
            tracing::error!("compaction failed: {e}");
        }
    }

    /// Flushes every head column, merges small chunks and trims the log.
    pub(super) fn flush_all(&mut self) -> Result<()> {
        let started = Instant::now();
        // Columns being encoded elsewhere are stored first: flushing them again here
        // would only throw that work away.
        self.store_encoded(true);
        let (keys, values) = {
            let head = self.shared.head.read().unwrap_or_else(|e| e.into_inner());
            (head.keys(), head.value_count())
        };
        self.flush_columns(keys)?;
        let merged = self.compact()?;
        self.trim_log()?;
        // Compaction frees pages too; give them back before checkpointing.
        self.release_free_pages()?;
        super::crash::point("flush.before_checkpoint");
        self.conn.execute_batch(
            "PRAGMA main.wal_checkpoint(TRUNCATE); PRAGMA log.wal_checkpoint(TRUNCATE);",
        )?;
        if values > 0 || merged > 0 {
            tracing::info!(
                "flushed {values} values and merged {merged} chunk runs in {} ms",
                started.elapsed().as_millis()
            );
        }
        Ok(())
    }

    /// Writes the given head columns as chunks, then removes them from the head.
    pub(super) fn flush_columns(&mut self, mut keys: Vec<ColumnKey>) -> Result<()> {
        keys.sort_unstable();
        let chunk_points = self.shared.options.chunk_points.max(1);
        for group in keys.chunks(FLUSH_GROUP) {
            // Copy under the read lock: readers keep seeing the data in the head until
            // the chunks are committed. Only this thread mutates the head, so nothing
            // changes between the copy and the removal below.
            let copies: Vec<(ColumnKey, Vec<i64>, Column, u64)> = {
                let head = self.shared.head.read().unwrap_or_else(|e| e.into_inner());
                group
                    .iter()
                    .filter_map(|k| {
                        let (t, v) = head.snapshot(k, i64::MIN, i64::MAX)?;
                        let last_seq = head.pieces(k).map(|c| c.last_seq).max()?;
                        let (t, v) = normalize(&t, &v, i64::MIN, i64::MAX);
                        Some((*k, t, v, last_seq))
                    })
                    .collect()
            };
            let mut encoded = Vec::with_capacity(copies.len());
            for (key, times, values, max_seq) in &copies {
                encoded.push((*key, *max_seq, encode_split(times, values, chunk_points)?));
            }
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (key, max_seq, chunks) in &encoded {
                insert_chunks(&tx, *key, *max_seq, chunks)?;
            }
            tx.commit()?;
            super::crash::point("flush.chunks_committed");
            let mut head = self.shared.head.write().unwrap_or_else(|e| e.into_inner());
            for (k, ..) in &copies {
                head.take(k);
                self.touched.insert(*k);
            }
        }
        self.trim_log()
    }

    /// Merges runs of consecutive chunks of recently flushed columns, up to
    /// `compact_points` per chunk. The merged chunk takes the row of the run's last chunk,
    /// so the id order (which decides last-write-wins) is preserved. Returns the runs merged.
    pub(super) fn compact(&mut self) -> Result<usize> {
        self.compact_for(None)
    }

    /// [`Writer::compact`] that stops once `budget` is spent, leaving the columns not
    /// reached for the next call.
    pub(super) fn compact_for(&mut self, budget: Option<std::time::Duration>) -> Result<usize> {
        let started = Instant::now();
        let target = self
            .shared
            .options
            .compact_points
            .max(self.shared.options.chunk_points) as i64;
        let mut columns: Vec<ColumnKey> = self.touched.drain().collect();
        columns.sort_unstable();
        let mut merged = 0;
        let group_size = if budget.is_some() {
            SLICE_GROUP
        } else {
            FLUSH_GROUP
        };
        self.compaction_unfinished = false;
        for (i, group) in columns.chunks(group_size).enumerate() {
            if budget.is_some_and(|b| started.elapsed() >= b) {
                self.touched.extend(&columns[i * group_size..]);
                self.compaction_unfinished = true;
                break;
            }
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            for &(series, field) in group {
                let chunks: Vec<(i64, i64, i64, Vec<u8>)> = {
                    let mut stmt = tx.prepare_cached(
                        "SELECT id, count, max_seq, data FROM chunks
                         WHERE series_id = ?1 AND field_id = ?2 AND count < ?3 ORDER BY id",
                    )?;
                    let rows = stmt.query_map((series, field, target), |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?;
                    rows.collect::<rusqlite::Result<_>>()?
                };
                if chunks.len() < 2 {
                    continue;
                }
                // Only chunks adjacent in id order may merge: a full chunk in between was
                // written between them and must keep its place.
                let ids: Vec<i64> = {
                    let mut stmt = tx.prepare_cached(
                        "SELECT id FROM chunks WHERE series_id = ?1 AND field_id = ?2 ORDER BY id",
                    )?;
                    let rows = stmt.query_map((series, field), |r| r.get(0))?;
                    rows.collect::<rusqlite::Result<_>>()?
                };
                let mut run: Vec<&(i64, i64, i64, Vec<u8>)> = Vec::new();
                let mut run_count = 0;
                let mut prev_pos: Option<usize> = None;
                for c in &chunks {
                    let pos = ids.binary_search(&c.0).ok();
                    let adjacent = matches!((prev_pos, pos), (Some(a), Some(b)) if b == a + 1);
                    if !(adjacent && run_count + c.1 <= target) {
                        if run.len() > 1 {
                            merge_run(&tx, &run)?;
                            merged += 1;
                        }
                        run.clear();
                        run_count = 0;
                    }
                    run.push(c);
                    run_count += c.1;
                    prev_pos = pos;
                }
                if run.len() > 1 {
                    merge_run(&tx, &run)?;
                    merged += 1;
                }
            }
            tx.commit()?;
            if merged > 0 {
                super::crash::point("compact.merged");
            }
        }
        Ok(merged)
    }

    /// Drops chunks wholly older than their retention policy allows.
    fn enforce_retention(&mut self) -> Result<()> {
        let now = now_ns();
        let policies: Vec<(i64, i64)> = {
            let cat = self
                .shared
                .catalog
                .read()
                .unwrap_or_else(|e| e.into_inner());
            cat.databases
                .values()
                .flat_map(|d| d.rps.values())
                .filter(|rp| rp.duration_ns > 0)
                .map(|rp| (rp.id, now.saturating_sub(rp.duration_ns)))
                .collect()
        };
        for (rp_id, cutoff) in policies {
            let n = self.conn.execute(
                "DELETE FROM chunks WHERE max_time < ?1 AND series_id IN
                   (SELECT s.id FROM series s JOIN measurements m ON s.measurement_id = m.id WHERE m.rp_id = ?2)",
                (cutoff, rp_id),
            )?;
            if n > 0 {
                super::crash::point("retention.deleted");
                self.forget_last_values();
                tracing::info!("retention dropped {n} chunks of policy {rp_id}");
            }
        }
        Ok(())
    }

    /// Deletes log rows that are flushed and read by every subscriber (or older than the
    /// log retention), then returns the freed pages to the file system.
    pub(super) fn trim_log(&mut self) -> Result<()> {
        let head_min = self
            .shared
            .head
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .min_seq();
        let keep_from = head_min.unwrap_or(self.next_seq) as i64;
        let sub_min: Option<i64> = self
            .conn
            .query_row("SELECT MIN(acked_seq) FROM subscriptions", [], |r| r.get(0))
            .optional()?
            .flatten();
        let sub_keep = sub_min.map_or(i64::MAX, |s| s + 1);
        let age_cutoff =
            now_ns().saturating_sub(self.shared.options.log_retention.as_nanos() as i64);
        let n = self.conn.execute(
            "DELETE FROM write_log WHERE seq < ?1 AND (seq < ?2 OR time_ns < ?3)",
            (keep_from, sub_keep, age_cutoff),
        )?;
        if n > 0 {
            super::crash::point("flush.log_trimmed");
            self.release_free_pages()?;
        }
        Ok(())
    }

    /// Gives freed pages back to the file system. `incremental_vacuum` frees one page per
    /// step, so it must be stepped to the end (a single `execute` would free one page).
    pub(super) fn release_free_pages(&mut self) -> Result<()> {
        for sql in [
            "PRAGMA main.incremental_vacuum",
            "PRAGMA log.incremental_vacuum",
        ] {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
        }
        Ok(())
    }
}

fn merge_run(tx: &Connection, run: &[&(i64, i64, i64, Vec<u8>)]) -> Result<()> {
    let mut times = Vec::new();
    let mut values: Option<Column> = None;
    for (_, _, _, data) in run {
        let (t, v) = codec::decode_chunk(data)?;
        times.extend_from_slice(&t);
        match &mut values {
            None => values = Some(v),
            Some(acc) => {
                if !acc.extend_from(&v) {
                    // Mixed types in one column cannot be merged; leave the run alone.
                    return Ok(());
                }
            }
        }
    }
    let Some(values) = values else { return Ok(()) };
    let (t, v) = normalize(&times, &values, i64::MIN, i64::MAX);
    let (Some(&min), Some(&max)) = (t.first(), t.last()) else {
        return Ok(());
    };
    // Compaction rewrites each chunk once, off the write path: spend more CPU for a
    // tighter encoding than flushes use (pco level 8 vs 6: ~0.05 bytes/value on floats).
    let opts = codec::EncodeOptions {
        pco_level: COMPACTION_PCO_LEVEL,
        ..codec::EncodeOptions::default()
    };
    let blob = codec::encode_chunk_with(&t, &v, &opts)?;
    let max_seq = run.iter().map(|c| c.2).max().unwrap_or(0);
    let Some(last) = run.last() else {
        return Ok(());
    };
    tx.prepare_cached("UPDATE chunks SET min_time = ?1, max_time = ?2, count = ?3, max_seq = ?4, data = ?5 WHERE id = ?6")?
        .execute((min, max, t.len() as i64, max_seq, blob, last.0))?;
    let mut del = tx.prepare_cached("DELETE FROM chunks WHERE id = ?1")?;
    for c in &run[..run.len() - 1] {
        del.execute([c.0])?;
    }
    Ok(())
}

/// Removes the points in `[start, end]` from the chunks of `series`, rewriting each
/// affected chunk in place (same id, so write order is kept).
pub(super) fn delete_range_in(tx: &Connection, series: &[i64], start: i64, end: i64) -> Result<()> {
    let mut select = tx.prepare_cached(
        "SELECT id, data FROM chunks WHERE series_id = ?1 AND min_time <= ?3 AND max_time >= ?2",
    )?;
    let mut update = tx.prepare_cached(
        "UPDATE chunks SET min_time = ?1, max_time = ?2, count = ?3, data = ?4 WHERE id = ?5",
    )?;
    let mut delete = tx.prepare_cached("DELETE FROM chunks WHERE id = ?1")?;
    for &s in series {
        let rows: Vec<(i64, Vec<u8>)> = select
            .query_map((s, start, end), |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, data) in rows {
            let (t, v) = codec::decode_chunk(&data)?;
            let keep: Vec<usize> = (0..t.len())
                .filter(|&i| t[i] < start || t[i] > end)
                .collect();
            if keep.is_empty() {
                delete.execute([id])?;
                continue;
            }
            let kt: Vec<i64> = keep.iter().map(|&i| t[i]).collect();
            let kv = v.gather(&keep);
            let blob = codec::encode_chunk(&kt, &kv)?;
            update.execute((kt[0], kt[kt.len() - 1], kt.len() as i64, blob, id))?;
        }
    }
    Ok(())
}

fn state(conn: &Connection, key: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row("SELECT value FROM store_state WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}
