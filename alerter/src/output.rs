//! Where `influxDBOut` nodes write. By default the store the stream tasks read (so a task's
//! output is in the write log, with its lineage); [`Options::output`](crate::Options::output)
//! sends it elsewhere instead: with a remote storage engine, to the engine, where the UI and
//! the batch tasks read.

use std::collections::BTreeMap;

use common::Point;

use crate::batch::BoxFuture;
use crate::error::Error;
use crate::runtime::Write;

/// A destination for `influxDBOut` points other than the store.
pub trait PointOutput: Send + Sync + std::fmt::Debug {
    /// Writes `points` into `db`.`rp` (`rp` empty: the database's default policy), after
    /// creating `db` when `create` (`.create()`) asks for it.
    fn write<'a>(
        &'a self,
        db: &'a str,
        rp: &'a str,
        create: bool,
        points: Vec<Point>,
    ) -> BoxFuture<'a, Result<(), Error>>;
}

/// Writes `writes` grouped by destination, one request a group; returns the failures.
pub(crate) async fn write_grouped(
    out: &dyn PointOutput,
    writes: impl IntoIterator<Item = Write>,
) -> Vec<Error> {
    let mut groups: BTreeMap<(String, String, bool), Vec<Point>> = BTreeMap::new();
    for w in writes {
        groups
            .entry((w.database, w.retention_policy, w.create))
            .or_default()
            .push(w.point);
    }
    let mut failed = Vec::new();
    for ((db, rp, create), points) in groups {
        if let Err(e) = out.write(&db, &rp, create, points).await {
            failed.push(e);
        }
    }
    failed
}
