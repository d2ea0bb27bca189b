//! The store: a SQLite file holding a write log, compressed column chunks and the catalog,
//! plus an in-memory head.
//!
//! ```text
//!  HTTP /write ──parse──▶ PointBatch ──queue (bounded)──▶ writer thread
//!                                                        │ one transaction per group:
//!                                                        │   catalog rows + write_log row
//!                                                        │ COMMIT ─▶ 204, head append,
//!                                                        │           subscribers woken
//!                                                        └ later: head ─▶ chunks, log trimmed
//!  queries ──▶ catalog (RwLock) + head (RwLock) + chunks (read-only connections)
//! ```
//!
//! One thread owns the only write connection: SQLite serialises writers anyway, and a
//! single owner makes group commit, flushes and compaction trivially ordered. Readers use
//! their own read-only connections and never block it (WAL mode).

mod batch;
pub mod catalog;
mod column;
mod crash;
mod dirlock;
mod flush;
mod head;
mod log;
mod maintenance;
mod options;
mod read;
mod schema;
mod stats;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{oneshot, watch};

pub use batch::{BatchPoint, BatchSeries, PointBatch, ResolvedPoint, Value};
pub use catalog::{Catalog, Database, FieldDef, Measurement, RetentionPolicy, Series};
pub use catalog::{FieldId, MeasurementId, RpId, SeriesId};
pub use column::normalize;
pub use dirlock::{DirLock, LOCK_FILE, lock_data_dir};
pub use log::{WriteEntry, WriteLog};
pub use options::StoreOptions;
pub use schema::FORMAT_VERSION;
pub use stats::{Health, LATENCY_BUCKETS, RequestStats, StoreStats, process_rss_bytes};

use crate::{Error, Result};
use head::Head;
use writer::Writer;

/// What became of one write request.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WriteOutcome {
    pub points_written: usize,
    pub values_written: usize,
    /// Points parsed fine but refused (type conflicts, limits, retention), as 1.x's `dropped=N`.
    pub dropped: usize,
    /// The first reason a point was dropped, in 1.x's words.
    pub drop_reason: Option<String>,
    /// The write-log sequence of the request, 0 when nothing was written.
    pub seq: u64,
}

/// What the writer thread is asked to do.
// Writes dominate the queue; boxing their batch would add an allocation per write to save
// bytes in a bounded channel.
#[allow(clippy::large_enum_variant)]
enum Command {
    Write {
        db: String,
        rp: Option<String>,
        batch: PointBatch,
        now: i64,
        reply: oneshot::Sender<Result<WriteOutcome>>,
    },
    Job(Box<dyn FnOnce(&mut Writer) + Send>),
    Shutdown,
    /// Stop at once without flushing: what a crash leaves behind (tests only).
    Abort,
}

struct Shared {
    dir: PathBuf,
    options: StoreOptions,
    catalog: RwLock<Catalog>,
    head: RwLock<Head>,
    readers: Mutex<Vec<Connection>>,
    committed: watch::Sender<u64>,
    /// Write counters for `/metrics`, updated by the writer after each commit.
    counters: stats::WriteCounters,
    /// Newest point per column, for `last()` and lastpoint queries (see `read::last_value`).
    last_values: RwLock<std::collections::HashMap<head::ColumnKey, (i64, Value)>>,
    /// This process's claim on the data directory, held until the writer stops.
    dir_lock: Mutex<Option<dirlock::DirLock>>,
}

/// A handle to an open store; cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    queue: SyncSender<Command>,
    writer: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// The file name of the store inside its data directory.
pub const DB_FILE: &str = "tigk.db";

impl Store {
    /// Opens (creating if needed) the store in `dir`, replays the write log into the head
    /// and starts the writer thread.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Store> {
        let dir_lock = dirlock::lock_data_dir(dir)?;
        let path = dir.join(DB_FILE);
        let mut conn = Connection::open(&path)?;
        schema::attach_log(&conn, dir)?;
        schema::migrate(&mut conn)?;
        schema::configure(&conn, options.synchronous_full)?;
        let catalog = Catalog::load(&conn)?;
        let (committed_tx, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            options: options.clone(),
            catalog: RwLock::new(catalog),
            head: RwLock::new(Head::default()),
            readers: Mutex::new(Vec::new()),
            committed: committed_tx,
            last_values: RwLock::new(std::collections::HashMap::new()),
            counters: stats::WriteCounters::default(),
            dir_lock: Mutex::new(Some(dir_lock)),
        });
        let mut writer = Writer::new(conn, shared.clone())?;
        writer.recover()?;
        let (queue, rx) = mpsc::sync_channel(options.queue_capacity);
        let handle = std::thread::Builder::new()
            .name("tsdb-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Store {
            shared,
            queue,
            writer: Arc::new(Mutex::new(Some(handle))),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    pub fn options(&self) -> &StoreOptions {
        &self.shared.options
    }

    /// Writes a batch and returns once it is committed (durable per the options).
    pub async fn write(
        &self,
        db: &str,
        rp: Option<&str>,
        batch: PointBatch,
        now: i64,
    ) -> Result<WriteOutcome> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Write {
            db: db.to_string(),
            rp: rp.map(str::to_string),
            batch,
            now,
            reply,
        })?;
        rx.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Runs `f` on the writer thread, after every write queued before it.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Job(Box::new(move |w| {
            let _ = tx.send(f(w));
        })))?;
        rx.await.map_err(|_| Error::ShuttingDown)?
    }

    fn send(&self, cmd: Command) -> Result<()> {
        // Counted before the send so the writer's decrement can never come first.
        self.shared
            .counters
            .queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.queue.try_send(cmd).map_err(|e| {
            self.shared
                .counters
                .queued
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            match e {
                TrySendError::Full(_) => Error::Overloaded,
                TrySendError::Disconnected(_) => Error::ShuttingDown,
            }
        })
    }

    /// Creates a database (idempotent) whose `autogen` policy keeps data for
    /// [`StoreOptions::default_retention`].
    pub async fn create_database(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        let duration = self
            .shared
            .options
            .default_retention
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        self.run(move |w| w.ddl(|cat, tx| cat.create_database(tx, &name, duration)))
            .await
    }

    pub async fn drop_database(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.run(move |w| w.drop_data(move |cat, tx| cat.drop_database(tx, &name)))
            .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn create_retention_policy(
        &self,
        db: &str,
        name: &str,
        duration_ns: i64,
        shard_duration_ns: i64,
        replication: i64,
        make_default: bool,
    ) -> Result<()> {
        let (db, name) = (db.to_string(), name.to_string());
        self.run(move |w| {
            w.ddl(|cat, tx| {
                cat.create_retention_policy(
                    tx,
                    &db,
                    &name,
                    duration_ns,
                    shard_duration_ns,
                    replication,
                    make_default,
                )
            })
        })
        .await
    }

    /// Changes a policy's duration and/or makes it the default (ALTER RETENTION POLICY).
    pub async fn alter_retention_policy(
        &self,
        db: &str,
        name: &str,
        duration_ns: Option<i64>,
        make_default: bool,
    ) -> Result<()> {
        let (db, name) = (db.to_string(), name.to_string());
        self.run(move |w| w.alter_retention_policy(&db, &name, duration_ns, make_default))
            .await
    }

    pub async fn drop_retention_policy(&self, db: &str, name: &str) -> Result<()> {
        let (db, name) = (db.to_string(), name.to_string());
        self.run(move |w| w.drop_data(move |cat, tx| cat.drop_retention_policy(tx, &db, &name)))
            .await
    }

    pub async fn drop_measurement(&self, mid: MeasurementId) -> Result<()> {
        self.run(move |w| w.drop_data(move |cat, tx| cat.drop_measurement(tx, mid)))
            .await
    }

    /// Drops whole series with their data and catalog entries (DROP SERIES).
    pub async fn drop_series(&self, ids: Vec<SeriesId>) -> Result<()> {
        self.run(move |w| {
            w.drop_data(move |cat, tx| {
                cat.drop_series(tx, &ids)?;
                Ok(ids)
            })
        })
        .await
    }

    /// Deletes the points of `series` in `[start, end]`, keeping the series (DELETE).
    pub async fn delete_range(&self, series: Vec<SeriesId>, start: i64, end: i64) -> Result<()> {
        self.run(move |w| w.delete_range(&series, start, end)).await
    }

    /// Flushes the whole head to chunks and compacts (tests, shutdown, backups).
    pub async fn flush(&self) -> Result<()> {
        self.run(|w| w.flush_all()).await
    }

    /// Stops the writer after a final flush and waits for it. Later calls fail with
    /// `ShuttingDown`. Blocking: from async code, call it in `spawn_blocking`.
    pub fn shutdown(&self) {
        let _ = self.queue.send(Command::Shutdown);
        if let Some(h) = self.writer.lock().ok().and_then(|mut g| g.take()) {
            let _ = h.join();
        }
        self.release_dir();
    }

    /// Once the writer has stopped the directory is free for another store (a restart).
    fn release_dir(&self) {
        if let Ok(mut lock) = self.shared.dir_lock.lock() {
            lock.take();
        }
    }

    /// Stops the writer without flushing the head, leaving the files as a crash would.
    #[doc(hidden)]
    pub fn simulate_crash(&self) {
        let _ = self.queue.send(Command::Abort);
        if let Some(h) = self.writer.lock().ok().and_then(|mut g| g.take()) {
            let _ = h.join();
        }
        self.release_dir();
    }

    /// The catalog, for planning queries. Hold the guard briefly: the writer waits on it.
    pub fn catalog(&self) -> RwLockReadGuard<'_, Catalog> {
        self.shared
            .catalog
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A read-only connection from the pool, returned on drop.
    fn reader(&self) -> Result<PooledReader<'_>> {
        let conn = match self.shared.readers.lock().ok().and_then(|mut p| p.pop()) {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    self.shared.dir.join(DB_FILE),
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                schema::attach_log(&c, &self.shared.dir)?;
                c
            }
        };
        Ok(PooledReader {
            conn: Some(conn),
            store: self,
        })
    }
}

struct PooledReader<'a> {
    conn: Option<Connection>,
    store: &'a Store,
}

impl std::ops::Deref for PooledReader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("invariant: connection present until drop")
    }
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut pool)) = (self.conn.take(), self.store.shared.readers.lock())
            && pool.len() < self.store.shared.options.readers
        {
            pool.push(conn);
        }
    }
}

/// Wall-clock time in nanoseconds since the epoch: the crate's one clock.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Opens the store's file for offline administration (users, tokens) without starting a
/// writer, so it is safe while a server runs on the same directory.
pub fn admin_connection(dir: &Path) -> Result<Connection> {
    std::fs::create_dir_all(dir)?;
    let mut conn = Connection::open(dir.join(DB_FILE))?;
    schema::attach_log(&conn, dir)?;
    schema::migrate(&mut conn)?;
    schema::configure(&conn, true)?;
    Ok(conn)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod upgrade_tests;
