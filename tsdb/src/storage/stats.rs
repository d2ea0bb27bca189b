//! Self-monitoring: a snapshot of the store's state for `/metrics`, a health probe for
//! `/health`, and request counters the HTTP layer updates.
//!
//! The snapshot reads state that already exists (the committed sequence, the head, the
//! catalog, file sizes, the chunk table) instead of adding counters to the write path, so
//! scraping costs the writer nothing: at most a shared head lock held while counting, and a
//! scan of the chunk index on a reader connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{DB_FILE, Store, schema::LOG_FILE};
use crate::{Error, Result};

/// Counters of the write path, kept by the store itself (relaxed atomics: one add per
/// committed request, so they cost the writer nothing measurable).
#[derive(Debug, Default)]
pub struct WriteCounters {
    pub points_written: AtomicU64,
    pub values_written: AtomicU64,
    /// Points parsed but refused by the store (type conflicts, retention, series limit).
    pub points_dropped: AtomicU64,
    /// Requests waiting for the writer (writes and jobs).
    pub queued: AtomicU64,
}

impl WriteCounters {
    pub(super) fn record(&self, outcome: &super::WriteOutcome) {
        self.points_written
            .fetch_add(outcome.points_written as u64, Ordering::Relaxed);
        self.values_written
            .fetch_add(outcome.values_written as u64, Ordering::Relaxed);
        self.points_dropped
            .fetch_add(outcome.dropped as u64, Ordering::Relaxed);
    }

    pub(super) fn dequeued(&self, n: u64) {
        self.queued.fetch_sub(n, Ordering::Relaxed);
    }
}

/// What `/metrics` reports about the store.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    /// Points and values committed, and points the store refused, since start.
    pub points_written: u64,
    pub values_written: u64,
    pub points_dropped: u64,
    /// Requests waiting for the writer right now.
    pub write_queue_depth: u64,
    /// The newest committed write-log sequence (one per write request that stored points).
    pub committed_seq: u64,
    /// Values held in memory, not yet in chunks.
    pub head_values: usize,
    /// Compressed chunks and their payload bytes.
    pub chunks: u64,
    pub chunk_bytes: u64,
    /// Values stored in chunks.
    pub chunk_values: u64,
    /// Rows in the write log (kept until flushed and `log_retention` has passed): a value
    /// that only grows means flushing is stuck.
    pub write_log_rows: u64,
    /// Series per database.
    pub series: Vec<(String, usize)>,
    /// On-disk size of each file in the data directory that belongs to tigk, with its WAL.
    pub files: Vec<(String, u64)>,
}

/// Why the store does not accept writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Pass,
    /// Up, but not accepting writes right now (queue full or the writer is stuck).
    Degraded(String),
    ShuttingDown,
}

/// The files whose sizes are reported, relative to the data directory.
const FILES: &[&str] = &[DB_FILE, LOG_FILE, "alerter.db", "ui.db"];

impl Store {
    /// Reads the current state. Blocking (SQLite): call it from `spawn_blocking`.
    pub fn stats(&self) -> Result<StoreStats> {
        let mut s = StoreStats {
            committed_seq: *self.shared.committed.borrow(),
            points_written: self.shared.counters.points_written.load(Ordering::Relaxed),
            values_written: self.shared.counters.values_written.load(Ordering::Relaxed),
            points_dropped: self.shared.counters.points_dropped.load(Ordering::Relaxed),
            write_queue_depth: self.shared.counters.queued.load(Ordering::Relaxed),
            head_values: self
                .shared
                .head
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .value_count(),
            ..StoreStats::default()
        };
        {
            let cat = self.catalog();
            s.series = cat
                .databases
                .values()
                .map(|db| (db.name.clone(), cat.series_count(db.id)))
                .collect();
        }
        for name in FILES {
            for suffix in ["", "-wal"] {
                let file = format!("{name}{suffix}");
                if let Ok(m) = std::fs::metadata(self.dir().join(&file)) {
                    s.files.push((file, m.len()));
                }
            }
        }
        let conn = self.reader()?;
        // length() of a blob reads the record header only, not the payload.
        let (chunks, bytes, values): (i64, i64, i64) = conn.query_row(
            "SELECT count(*), coalesce(sum(length(data)), 0), coalesce(sum(count), 0)
             FROM main.chunks",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        s.chunks = chunks as u64;
        s.chunk_bytes = bytes as u64;
        s.chunk_values = values as u64;
        s.write_log_rows = conn.query_row("SELECT count(*) FROM log.write_log", [], |r| {
            r.get::<_, i64>(0)
        })? as u64;
        Ok(s)
    }

    /// Whether the writer answers within `timeout`: a no-op job goes through the same
    /// bounded queue as writes, so a full queue or a stuck writer shows up here.
    pub async fn health(&self, timeout: Duration) -> Health {
        match tokio::time::timeout(timeout, self.run(|_| Ok(()))).await {
            Ok(Ok(())) => Health::Pass,
            Ok(Err(Error::ShuttingDown)) => Health::ShuttingDown,
            Ok(Err(Error::Overloaded)) => Health::Degraded("write queue is full".into()),
            Ok(Err(e)) => Health::Degraded(e.to_string()),
            Err(_) => Health::Degraded(format!("the writer did not answer within {timeout:?}")),
        }
    }
}

/// Upper bounds (seconds) of the query latency histogram's buckets.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Counters of the HTTP API, updated by a middleware (one relaxed atomic add per request).
#[derive(Debug, Default)]
pub struct RequestStats {
    /// /write and /api/v2/write answered 204.
    pub writes_ok: AtomicU64,
    /// Answered 400 (parse errors or partial writes).
    pub writes_rejected: AtomicU64,
    /// Points a partial write reported as dropped (`dropped=N`).
    pub points_dropped: AtomicU64,
    /// Answered 429 or 503: the write queue was full or the store was stopping.
    pub writes_overloaded: AtomicU64,
    /// Answered 401 or 403.
    pub writes_unauthorized: AtomicU64,
    /// Answered 413 (body too large) and other statuses.
    pub writes_other: AtomicU64,
    pub queries: AtomicU64,
    pub query_errors: AtomicU64,
    /// Queries per bucket of [`LATENCY_BUCKETS`] (not cumulative), then +Inf.
    pub query_latency: [AtomicU64; 13],
    /// Sum of query latencies in microseconds.
    pub query_latency_us: AtomicU64,
}

impl RequestStats {
    /// Records one answered /write request.
    pub fn record_write(&self, status: u16, dropped: Option<u64>) {
        let counter = match status {
            200..=299 => &self.writes_ok,
            400 => &self.writes_rejected,
            401 | 403 => &self.writes_unauthorized,
            429 | 503 => &self.writes_overloaded,
            _ => &self.writes_other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(n) = dropped {
            self.points_dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Records one answered /query request.
    pub fn record_query(&self, ok: bool, elapsed: Duration) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.query_errors.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        // Store per-bucket counts; the exporter accumulates them.
        self.query_latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.query_latency_us
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
}

/// The process's resident set size in bytes (Linux; `None` elsewhere).
pub fn process_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
