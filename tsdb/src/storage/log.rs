//! The write subscription: every accepted write, in commit order, with a sequence number.
//!
//! This is the boundary the alerter (and anything else downstream) uses. The store knows
//! nothing of its subscribers beyond a name and the sequence each has acknowledged, which
//! holds back log trimming so that a subscriber can re-read after a restart.

use common::Point;
use rusqlite::OptionalExtension;
use tokio::sync::watch;

use std::collections::HashMap;

use super::Store;
use super::batch::{ResolvedPoint, decode_payload};
use super::catalog::{FieldId, SeriesId};
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
        // Decoding and building points happen without the catalog lock: every write
        // takes it exclusively, and a subscriber that held it through a whole step
        // (thousands of points, perhaps on a low-priority thread) stalled ingest.
        let mut decoded = Vec::with_capacity(rows.len());
        for (seq, rp_id, payload) in rows {
            decoded.push((seq, rp_id, decode_payload(&payload)?));
        }
        let names = Names::look_up(self, &decoded);
        let mut entries = Vec::with_capacity(decoded.len());
        for (seq, rp_id, resolved) in decoded {
            let (database, retention_policy) = names.rps.get(&rp_id).cloned().unwrap_or_default();
            let mut points = Vec::with_capacity(resolved.len());
            for p in resolved {
                // Series dropped since the write are skipped: their data is gone.
                let Some(Some((measurement, tags))) = names.series.get(&p.series) else {
                    continue;
                };
                let fields = p
                    .fields
                    .iter()
                    .filter_map(|(f, v)| {
                        let name = names.fields.get(f)?.as_ref()?;
                        Some((name.clone(), v.to_field_value()))
                    })
                    .collect();
                points.push(Point {
                    measurement: measurement.clone(),
                    tags: tags
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
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

type Decoded = Vec<(i64, i64, Vec<ResolvedPoint>)>;
type SeriesNames = (String, super::catalog::SeriesTags);

/// The catalog names a step's entries need, copied out under one short read lock.
#[derive(Default)]
struct Names {
    rps: HashMap<i64, (String, String)>,
    /// Measurement name and tags; `None` for a series dropped since.
    series: HashMap<SeriesId, Option<SeriesNames>>,
    fields: HashMap<FieldId, Option<String>>,
}

impl Names {
    /// Collects the ids first, so that the lock is held for one lookup per distinct id
    /// rather than per point.
    fn look_up(store: &Store, decoded: &Decoded) -> Names {
        let mut n = Names::default();
        for (_, rp_id, points) in decoded {
            n.rps.entry(*rp_id).or_default();
            for p in points {
                n.series.entry(p.series).or_insert(None);
                for (f, _) in &p.fields {
                    n.fields.entry(*f).or_insert(None);
                }
            }
        }
        let catalog = store.catalog();
        for (rp_id, names) in n.rps.iter_mut() {
            if let Some(found) = catalog.databases.values().find_map(|d| {
                d.rps
                    .values()
                    .find(|rp| rp.id == *rp_id)
                    .map(|rp| (d.name.clone(), rp.name.clone()))
            }) {
                *names = found;
            }
        }
        for (id, names) in n.series.iter_mut() {
            *names = catalog.series.get(id).and_then(|series| {
                let m = catalog.measurements.get(&series.measurement_id)?;
                Some((m.name.clone(), series.tags.clone()))
            });
        }
        for (id, name) in n.fields.iter_mut() {
            *name = catalog.field_owner.get(id).map(|(_, name)| name.clone());
        }
        n
    }
}
