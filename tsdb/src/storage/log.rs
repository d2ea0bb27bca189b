//! The write subscription: every accepted write, in commit order, with a sequence number.
//!
//! This is the boundary the alerter (and anything else downstream) uses. The store knows
//! nothing of its subscribers beyond a name and the sequence each has acknowledged, which
//! holds back log trimming so that a subscriber can re-read after a restart.

use common::Point;
use rusqlite::OptionalExtension;
use tokio::sync::watch;

use super::Store;
use super::batch::decode_payload;
use crate::{Error, Result};

/// One accepted write request, as a subscriber sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteEntry {
    pub seq: u64,
    pub database: String,
    pub retention_policy: String,
    pub points: Vec<Point>,
}

/// Reading the store's writes in commit order.
pub trait WriteLog: Send + Sync {
    /// The sequence of the newest committed write (0 before the first).
    fn committed_seq(&self) -> u64;
    /// Wakes whenever `committed_seq` grows.
    fn watch_committed(&self) -> watch::Receiver<u64>;
    /// Up to `max` entries with `seq > after`, oldest first. Fails with
    /// [`Error::LogTrimmed`] when entries after `after` are no longer kept.
    fn read_after(&self, after: u64, max: usize) -> Result<Vec<WriteEntry>>;
    /// Registers `subscriber` (if new) and records that it has processed everything up
    /// to `seq`; the log keeps later entries for it.
    fn acknowledge(
        &self,
        subscriber: &str,
        seq: u64,
    ) -> impl std::future::Future<Output = Result<()>> + Send;
}

impl WriteLog for Store {
    fn committed_seq(&self) -> u64 {
        *self.shared.committed.borrow()
    }

    fn watch_committed(&self) -> watch::Receiver<u64> {
        self.shared.committed.subscribe()
    }

    fn read_after(&self, after: u64, max: usize) -> Result<Vec<WriteEntry>> {
        let conn = self.reader()?;
        let oldest: Option<i64> = conn
            .query_row("SELECT MIN(seq) FROM write_log", [], |r| r.get(0))
            .optional()?
            .flatten();
        let committed = self.committed_seq();
        if after < committed {
            match oldest {
                Some(o) if (o as u64) <= after + 1 => {}
                other => {
                    return Err(Error::LogTrimmed {
                        requested: after + 1,
                        oldest: other.map_or(committed + 1, |o| o as u64),
                    });
                }
            }
        }
        let mut stmt = conn.prepare_cached(
            "SELECT seq, rp_id, payload FROM write_log WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows: Vec<(i64, i64, Vec<u8>)> = stmt
            .query_map((after as i64, committed as i64, max as i64), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let catalog = self.catalog();
        let mut entries = Vec::with_capacity(rows.len());
        for (seq, rp_id, payload) in rows {
            let (database, retention_policy) = catalog
                .databases
                .values()
                .find_map(|d| {
                    d.rps
                        .values()
                        .find(|rp| rp.id == rp_id)
                        .map(|rp| (d.name.clone(), rp.name.clone()))
                })
                .unwrap_or_default();
            let mut points = Vec::new();
            for p in decode_payload(&payload)? {
                // Series dropped since the write are skipped: their data is gone.
                let Some(series) = catalog.series.get(&p.series) else {
                    continue;
                };
                let Some(m) = catalog.measurements.get(&series.measurement_id) else {
                    continue;
                };
                let fields = p
                    .fields
                    .iter()
                    .filter_map(|(f, v)| {
                        catalog
                            .field_owner
                            .get(f)
                            .map(|(_, name)| (name.clone(), v.to_field_value()))
                    })
                    .collect();
                points.push(Point {
                    measurement: m.name.clone(),
                    tags: series.tags.to_vec(),
                    fields,
                    timestamp: Some(p.time),
                });
            }
            entries.push(WriteEntry {
                seq: seq as u64,
                database,
                retention_policy,
                points,
            });
        }
        Ok(entries)
    }

    async fn acknowledge(&self, subscriber: &str, seq: u64) -> Result<()> {
        let name = subscriber.to_string();
        self.run(move |w| {
            w.conn.execute(
                "INSERT INTO subscriptions (name, acked_seq) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET acked_seq = MAX(acked_seq, excluded.acked_seq)",
                (name, seq as i64),
            )?;
            Ok(())
        })
        .await
    }
}
