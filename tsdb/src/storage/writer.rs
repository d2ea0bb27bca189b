//! The writer thread: group commit of write requests, DDL, and (in `maintenance`) flushes,
//! compaction, retention and log trimming, all on the one write connection.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use super::batch::{PointBatch, ResolvedPoint, encode_payload};
use super::catalog::{Catalog, MeasurementId, SeriesId};
use super::head::ColumnKey;
use super::{Command, Shared, WriteOutcome, now_ns};
use crate::{Error, Result};

pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) shared: Arc<Shared>,
    pub(super) next_seq: u64,
    pub(super) last_write: Instant,
    pub(super) dirty_since_idle_flush: bool,
    pub(super) last_maintenance: Instant,
    /// Columns flushed since the last compaction: only these can have new small chunks.
    pub(super) touched: HashSet<ColumnKey>,
    /// A compaction slice ran out of time: the next tick goes on with `touched`.
    pub(super) compaction_unfinished: bool,
    /// The encoder thread that flushes run on (see `flush`).
    pub(super) flusher: super::flush::Flusher,
}

struct PendingWrite {
    seq: u64,
    points: Vec<ResolvedPoint>,
    outcome: WriteOutcome,
    reply: oneshot::Sender<Result<WriteOutcome>>,
}

const TICK: Duration = Duration::from_millis(500);

impl Writer {
    pub(super) fn new(conn: Connection, shared: Arc<Shared>) -> Result<Writer> {
        let last_seq: Option<i64> = conn
            .query_row(
                "SELECT value FROM store_state WHERE key = 'last_seq'",
                [],
                |r| r.get(0),
            )
            .ok();
        Ok(Writer {
            conn,
            shared,
            next_seq: last_seq.unwrap_or(0) as u64 + 1,
            last_write: Instant::now(),
            dirty_since_idle_flush: false,
            last_maintenance: Instant::now(),
            touched: HashSet::new(),
            compaction_unfinished: false,
            flusher: super::flush::Flusher::start(),
        })
    }

    pub(super) fn run(mut self, rx: Receiver<Command>) {
        let mut pending: Option<Command> = None;
        loop {
            let cmd = match pending.take() {
                Some(c) => c,
                None => match rx.recv_timeout(TICK) {
                    Ok(c) => {
                        self.shared.counters.dequeued(1);
                        c
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        self.store_encoded(false);
                        self.background();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            match cmd {
                Command::Write { .. } => {
                    let mut group = vec![cmd];
                    while group.len() < self.shared.options.max_group {
                        match rx.try_recv() {
                            Ok(c @ Command::Write { .. }) => {
                                self.shared.counters.dequeued(1);
                                group.push(c);
                            }
                            Ok(other) => {
                                self.shared.counters.dequeued(1);
                                pending = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.write_group(group);
                }
                Command::Job(job) => job(&mut self),
                Command::Abort => return,
                Command::Shutdown => break,
            }
            self.store_encoded(false);
            if self.last_maintenance.elapsed() >= TICK {
                self.background();
            }
        }
        if let Err(e) = self.flush_all() {
            tracing::error!("final flush failed: {e}");
        }
    }

    fn write_group(&mut self, group: Vec<Command>) {
        let first_seq = self.next_seq;
        let result = self.commit_group(group);
        match result {
            Ok(pending) => {
                let mut full = Vec::new();
                {
                    let mut head = self.shared.head.write().unwrap_or_else(|e| e.into_inner());
                    for p in &pending {
                        for point in &p.points {
                            head.append(p.seq, point, self.shared.options.chunk_points, &mut full);
                        }
                    }
                }
                self.update_last_values(&pending);
                for p in &pending {
                    self.shared.counters.record(&p.outcome);
                }
                let last = self.next_seq - 1;
                self.shared.committed.send_replace(last);
                for p in pending {
                    let _ = p.reply.send(Ok(p.outcome));
                }
                self.last_write = Instant::now();
                self.dirty_since_idle_flush = true;
                // Full columns are encoded on the encoder thread: the next group's writes
                // need not wait for it (see `flush`).
                if !full.is_empty() {
                    self.flush_async(full);
                }
                if self.head_values() > self.shared.options.max_head_values {
                    // Back-pressure: the head may not outgrow its limit while the encoder
                    // falls behind; wait for what is out before sealing more.
                    if self.flusher.outstanding() > 0 {
                        self.store_encoded(true);
                    }
                    if self.head_values() > self.shared.options.max_head_values {
                        let keys = self
                            .shared
                            .head
                            .read()
                            .unwrap_or_else(|e| e.into_inner())
                            .keys();
                        self.flush_async(keys);
                    }
                }
            }
            Err((e, replies)) => {
                // The transaction rolled back: undo the catalog entries it added in memory.
                self.next_seq = first_seq;
                self.reload_catalog();
                tracing::error!("write not stored: {e}");
                let reason = match &e {
                    Error::Sqlite(rusqlite::Error::SqliteFailure(code, _))
                        if code.code == rusqlite::ErrorCode::SystemIoFailure
                            && self.read_only_dir() =>
                    {
                        // SQLite says "disk I/O error" for EROFS too: name the real cause.
                        "read-only file system".to_string()
                    }
                    Error::Sqlite(rusqlite::Error::SqliteFailure(code, _)) => code.to_string(),
                    _ => "storage error".to_string(),
                };
                for r in replies {
                    let _ = r.send(Err(Error::WriteFailed(reason.clone())));
                }
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn commit_group(
        &mut self,
        group: Vec<Command>,
    ) -> std::result::Result<Vec<PendingWrite>, (Error, Vec<oneshot::Sender<Result<WriteOutcome>>>)>
    {
        let mut replies = Vec::new();
        let mut requests = Vec::new();
        for cmd in group {
            if let Command::Write {
                db,
                rp,
                batch,
                now,
                reply,
            } = cmd
            {
                requests.push((db, rp, batch, now));
                replies.push(reply);
            }
        }
        let tx = match self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(tx) => tx,
            Err(e) => return Err((e.into(), replies)),
        };
        let mut pending = Vec::new();
        let mut payload = Vec::new();
        let mut next_seq = self.next_seq;
        let mut catalog = self
            .shared
            .catalog
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let mut failed = None;
        for ((db, rp, batch, now), reply) in requests.into_iter().zip(replies) {
            match resolve(
                &mut catalog,
                &tx,
                &db,
                rp.as_deref(),
                &batch,
                now,
                &self.shared.options,
            ) {
                Ok((points, mut outcome)) => {
                    if points.is_empty() {
                        // Nothing to commit: answered now, but its drops still count.
                        self.shared.counters.record(&outcome);
                        let _ = reply.send(Ok(outcome));
                        continue;
                    }
                    payload.clear();
                    encode_payload(&points, &mut payload);
                    let rp_id = points_rp(&catalog, &db, rp.as_deref());
                    let res = tx
                        .prepare_cached("INSERT INTO write_log (seq, rp_id, time_ns, payload) VALUES (?1, ?2, ?3, ?4)")
                        .and_then(|mut s| s.execute((next_seq as i64, rp_id, now_ns(), &payload)));
                    if let Err(e) = res {
                        failed = Some(e.into());
                        pending.push(PendingWrite {
                            seq: 0,
                            points: Vec::new(),
                            outcome: WriteOutcome::default(),
                            reply,
                        });
                        break;
                    }
                    outcome.seq = next_seq;
                    pending.push(PendingWrite {
                        seq: next_seq,
                        points,
                        outcome,
                        reply,
                    });
                    next_seq += 1;
                }
                // A request-level error (unknown database...) fails that request only.
                Err(e) if !matches!(e, Error::Sqlite(_)) => {
                    let _ = reply.send(Err(e));
                }
                Err(e) => {
                    failed = Some(e);
                    pending.push(PendingWrite {
                        seq: 0,
                        points: Vec::new(),
                        outcome: WriteOutcome::default(),
                        reply,
                    });
                    break;
                }
            }
        }
        drop(catalog);
        let commit = match failed {
            Some(e) => Err(e),
            None => tx
                .execute(
                    "INSERT INTO store_state (key, value) VALUES ('last_seq', ?1)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [next_seq as i64 - 1],
                )
                .map_err(Error::from)
                .and_then(|_| tx.commit().map_err(Error::from)),
        };
        match commit {
            Ok(()) => {
                self.next_seq = next_seq;
                Ok(pending)
            }
            Err(e) => Err((e, pending.into_iter().map(|p| p.reply).collect())),
        }
    }

    /// Runs a catalog change in its own transaction.
    pub(super) fn ddl<T>(
        &mut self,
        f: impl FnOnce(&mut Catalog, &Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = {
            let mut catalog = self
                .shared
                .catalog
                .write()
                .unwrap_or_else(|e| e.into_inner());
            f(&mut catalog, &tx)
        };
        match result.and_then(|v| tx.commit().map(|_| v).map_err(Error::from)) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.reload_catalog();
                Err(e)
            }
        }
    }

    /// A catalog change that removes series: their head columns and chunks go with it.
    /// The head is flushed first so that replaying the log after a restart cannot bring
    /// deleted points back (replay starts after the floor set here).
    pub(super) fn drop_data(
        &mut self,
        f: impl FnOnce(&mut Catalog, &Transaction<'_>) -> Result<Vec<SeriesId>>,
    ) -> Result<()> {
        self.flush_all()?;
        let floor = self.next_seq as i64 - 1;
        let dropped = self.ddl(|cat, tx| {
            let dropped = f(cat, tx)?;
            let mut del = tx.prepare_cached("DELETE FROM chunks WHERE series_id = ?1")?;
            for id in &dropped {
                del.execute([id])?;
            }
            set_state(tx, "replay_floor", floor)?;
            Ok(dropped)
        })?;
        self.forget_last_values();
        let set: HashSet<SeriesId> = dropped.into_iter().collect();
        self.shared
            .head
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .drop_series(&set);
        Ok(())
    }

    pub(super) fn delete_range(&mut self, series: &[SeriesId], start: i64, end: i64) -> Result<()> {
        self.flush_all()?;
        let floor = self.next_seq as i64 - 1;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        super::maintenance::delete_range_in(&tx, series, start, end)?;
        set_state(&tx, "replay_floor", floor)?;
        tx.commit()?;
        self.forget_last_values();
        Ok(())
    }

    pub(super) fn alter_retention_policy(
        &mut self,
        db: &str,
        name: &str,
        duration_ns: Option<i64>,
        make_default: bool,
    ) -> Result<()> {
        self.ddl(|cat, tx| {
            let database = cat
                .databases
                .get_mut(db)
                .ok_or_else(|| Error::DatabaseNotFound(db.into()))?;
            let rp = database
                .rps
                .get_mut(name)
                .ok_or_else(|| Error::RetentionPolicyNotFound(name.into()))?;
            if let Some(d) = duration_ns {
                tx.execute(
                    "UPDATE retention_policies SET duration_ns = ?1 WHERE id = ?2",
                    (d, rp.id),
                )?;
                rp.duration_ns = d;
            }
            if make_default {
                tx.execute(
                    "UPDATE databases SET default_rp = ?1 WHERE id = ?2",
                    (name, database.id),
                )?;
                database.default_rp = name.to_string();
            }
            Ok(())
        })
    }

    /// Moves cached last values forward. Only columns already cached are touched: an
    /// uncached column's newest point may sit in a chunk, so a backfilled write must not
    /// pose as its last value. Readers fill misses (see `Store::last_value`).
    fn update_last_values(&self, pending: &[PendingWrite]) {
        let mut cache = self
            .shared
            .last_values
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if cache.is_empty() {
            return;
        }
        for p in pending {
            for point in &p.points {
                for (field, value) in &point.fields {
                    if let Some(entry) = cache.get_mut(&(point.series, *field))
                        && point.time >= entry.0
                    {
                        *entry = (point.time, value.clone());
                    }
                }
            }
        }
    }

    /// Deletes can remove a column's newest point; forget everything cached.
    pub(super) fn forget_last_values(&self) {
        self.shared
            .last_values
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Whether the data directory's files cannot be opened for writing because the file
    /// system is read-only (remounted after a disk error, or by an operator).
    fn read_only_dir(&self) -> bool {
        let log = self.shared.dir.join(super::schema::LOG_FILE);
        matches!(
            std::fs::OpenOptions::new().append(true).open(log),
            Err(e) if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem
        )
    }

    pub(super) fn reload_catalog(&mut self) {
        match Catalog::load(&self.conn) {
            Ok(c) => {
                *self
                    .shared
                    .catalog
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = c
            }
            Err(e) => tracing::error!("reloading the catalog failed: {e}"),
        }
    }

    pub(super) fn head_values(&self) -> usize {
        self.shared
            .head
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .value_count()
    }

    pub(super) fn flush_or_log(&mut self, keys: Vec<ColumnKey>) {
        if let Err(e) = self.flush_columns(keys) {
            tracing::error!("flush failed (data stays in the log and head): {e}");
        }
    }
}

pub(super) fn set_state(tx: &Connection, key: &str, value: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO store_state (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )?;
    Ok(())
}

fn points_rp(catalog: &Catalog, db: &str, rp: Option<&str>) -> i64 {
    catalog
        .retention_policy(db, rp)
        .map(|(_, rp)| rp.id)
        .unwrap_or(0)
}

/// Resolves a batch against the catalog inside the group's transaction: creates missing
/// measurements, series and fields, and drops the points 1.x would drop.
fn resolve(
    catalog: &mut Catalog,
    tx: &Transaction<'_>,
    db: &str,
    rp: Option<&str>,
    batch: &PointBatch,
    now: i64,
    options: &super::StoreOptions,
) -> Result<(Vec<ResolvedPoint>, WriteOutcome)> {
    let (database, policy) = catalog.retention_policy(db, rp)?;
    let (db_id, rp_id, duration) = (database.id, policy.id, policy.duration_ns);
    let cutoff = if duration > 0 {
        now.saturating_sub(duration)
    } else {
        i64::MIN
    };
    let mut outcome = WriteOutcome::default();
    let refuse = |outcome: &mut WriteOutcome, reason: String| {
        outcome.dropped += 1;
        outcome.drop_reason.get_or_insert(reason);
    };
    // Each distinct series is resolved once, at its first point that passes retention;
    // `Some(None)` = refused by the series limit.
    let mut series_ids: Vec<Option<(MeasurementId, Option<SeriesId>)>> =
        vec![None; batch.series.len()];
    let mut points = Vec::with_capacity(batch.points.len());
    'points: for p in &batch.points {
        if p.time < cutoff {
            refuse(&mut outcome, "points beyond retention policy".to_string());
            continue;
        }
        let slot = &mut series_ids[p.series as usize];
        let (mid, series) = match *slot {
            Some(resolved) => resolved,
            None => {
                let s = &batch.series[p.series as usize];
                let mid = catalog.ensure_measurement(tx, rp_id, &s.measurement)?;
                let id = match catalog.series_id(mid, &s.key) {
                    Some(id) => Some(id),
                    None if catalog.series_count(db_id) >= options.max_series_per_database => None,
                    None => Some(catalog.ensure_series(tx, mid, &s.key, || s.tags.clone())?),
                };
                *slot = Some((mid, id));
                (mid, id)
            }
        };
        let Some(series) = series else {
            refuse(
                &mut outcome,
                format!(
                    "max-series-per-database limit exceeded: ({})",
                    options.max_series_per_database
                ),
            );
            continue;
        };
        let mut fields = Vec::with_capacity(p.values.len());
        for (name_idx, value) in &batch.values[p.values.start as usize..p.values.end as usize] {
            let name = &batch.field_names[*name_idx as usize];
            match catalog.ensure_field(tx, mid, name, value.field_type()) {
                Ok(id) => fields.push((id, value.clone())),
                Err(e @ Error::FieldTypeConflict { .. }) => {
                    refuse(&mut outcome, e.to_string());
                    continue 'points;
                }
                Err(e) => return Err(e),
            }
        }
        outcome.points_written += 1;
        outcome.values_written += fields.len();
        points.push(ResolvedPoint {
            series,
            time: p.time,
            fields,
        });
    }
    Ok((points, outcome))
}
