//! Results of bucketed panel queries, cached for the part of the range that has settled.
//!
//! A dashboard over `now-24h` with 5 min buckets asks the store for 24 h of raw points on
//! every load and every auto refresh, though only the newest bucket or two can still change.
//! A panel query is therefore split at bucket boundaries into
//!
//! - a head `[from, b1)`: the partial first bucket (it moves with `now`), always queried;
//! - a middle `[b1, cut)`: whole buckets that ended at least [`SETTLE_NS`] ago, answered
//!   from this cache when the same statement over the same span ran before;
//! - a tail `[cut, to)`: the buckets still filling, always queried;
//!
//! and the three answers are joined series by series. Every aggregate the builder offers
//! (`query::AGGREGATES`) reads only its own bucket, so the join equals the unsplit answer
//! (tested against the real engine below). `b1` and `cut` are multiples of the interval, so
//! the middle's statement, and so its cache key, stays the same until the range has moved on
//! by a bucket: a cached middle is at most one interval old. Points written later than
//! [`SETTLE_NS`] behind their timestamp, or deleted, show once that bucket of the range moves.
//! Raw InfluxQL panels are never split: their text may hold anything (LIMIT, fill(previous),
//! derivative) that a split would change.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tsdb::query::{Cell, SeriesResult};

use crate::error::Result;
use crate::state::DataSource;

/// Buckets ending later than this before now are still queried live: agents flush every
/// 10 s, and a busy one may be a few flushes late.
pub const SETTLE_NS: i64 = 60 * 1_000_000_000;
/// Below this many settled buckets a split saves too little to be worth three statements.
const MIN_CACHED_BUCKETS: i64 = 8;
/// The whole cache holds at most this many cells (a cell is 32 bytes plus any string).
const MAX_CELLS: usize = 2_000_000;
/// A single answer larger than this is not kept.
const MAX_ENTRY_CELLS: usize = 400_000;

type SeriesKey = (Option<String>, Option<BTreeMap<String, String>>);
type SeriesKeyRef<'a> = (&'a Option<String>, &'a Option<BTreeMap<String, String>>);

/// How one bucketed query over `[from, to)` is split; spans are `[start, end)` in ns.
/// What a `fill(null)` statement with `aggregate` gives for an empty bucket.
pub fn empty_bucket(aggregate: &str) -> Cell {
    if aggregate == "count" {
        Cell::Integer(0)
    } else {
        Cell::Null
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub head: Option<(i64, i64)>,
    pub middle: (i64, i64),
    pub tail: Option<(i64, i64)>,
}

/// The split of `[from, to)` for buckets of `interval` at `now`, or `None` when too few
/// buckets have settled for a split to pay.
pub fn split(from: i64, to: i64, interval: i64, now: i64) -> Option<Split> {
    if interval <= 0 || to <= from {
        return None;
    }
    let b1 = from
        .div_euclid(interval)
        .checked_add(i64::from(from.rem_euclid(interval) != 0))?;
    let b1 = b1.checked_mul(interval)?;
    let settled = to.min(now.saturating_sub(SETTLE_NS));
    let cut = settled.div_euclid(interval).checked_mul(interval)?;
    if cut <= b1 || (cut - b1) / interval < MIN_CACHED_BUCKETS {
        return None;
    }
    Some(Split {
        head: (from < b1).then_some((from, b1)),
        middle: (b1, cut),
        tail: (cut < to).then_some((cut, to)),
    })
}

struct Entry {
    result: Arc<Vec<SeriesResult>>,
    cells: usize,
    used: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    cells: usize,
    clock: u64,
}

/// Settled middles by database and statement text, least recently used dropped first.
#[derive(Default)]
pub struct ResultCache {
    inner: Mutex<Inner>,
}

fn cells(r: &[SeriesResult]) -> usize {
    r.iter()
        .map(|s| s.values.len() * s.columns.len().max(1))
        .sum()
}

impl ResultCache {
    fn get(&self, key: &str) -> Option<Arc<Vec<SeriesResult>>> {
        let mut g = self.inner.lock().ok()?;
        g.clock += 1;
        let now = g.clock;
        let e = g.map.get_mut(key)?;
        e.used = now;
        Some(e.result.clone())
    }

    fn put(&self, key: String, result: Arc<Vec<SeriesResult>>) {
        let n = cells(&result);
        if n > MAX_ENTRY_CELLS {
            return;
        }
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        g.clock += 1;
        let used = g.clock;
        if let Some(old) = g.map.remove(&key) {
            g.cells -= old.cells;
        }
        while g.cells + n > MAX_CELLS {
            let Some(oldest) = g
                .map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = g.map.remove(&oldest) {
                g.cells -= e.cells;
            }
        }
        g.cells += n;
        g.map.insert(
            key,
            Entry {
                result,
                cells: n,
                used,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().map(|g| g.map.len()).unwrap_or(0)
    }

    /// The answer of the bucketed statement `statement(start, end)` over `[from, to)` in
    /// `db`, its settled middle from the cache when it can be. `empty` is what the statement
    /// gives for an empty bucket (null, or 0 for `count`, as 1.x).
    #[allow(clippy::too_many_arguments)]
    pub async fn bucketed(
        &self,
        source: &dyn DataSource,
        db: &str,
        statement: impl Fn(i64, i64) -> Result<String>,
        (from, to): (i64, i64),
        interval: i64,
        empty: Cell,
        now: i64,
    ) -> Result<Vec<SeriesResult>> {
        let Some(sp) = split(from, to, interval, now) else {
            return source.query(db, &statement(from, to)?).await;
        };
        let middle_q = statement(sp.middle.0, sp.middle.1)?;
        let key = format!("{db}\n{middle_q}");
        let live = |span: Option<(i64, i64)>| {
            let q = span.map(|(a, b)| statement(a, b));
            async move {
                match q {
                    Some(q) => source.query(db, &q?).await,
                    None => Ok(Vec::new()),
                }
            }
        };
        let middle = async {
            if let Some(hit) = self.get(&key) {
                return Ok::<_, crate::error::UiError>(hit);
            }
            let r = Arc::new(source.query(db, &middle_q).await?);
            self.put(key.clone(), r.clone());
            Ok(r)
        };
        let (head, middle, tail) = tokio::join!(live(sp.head), middle, live(sp.tail));
        let (head, middle, tail) = (head?, middle?, tail?);
        let mut parts: Vec<(&[SeriesResult], (i64, i64))> = Vec::with_capacity(3);
        if let Some(span) = sp.head {
            parts.push((&head, span));
        }
        parts.push((&middle, sp.middle));
        if let Some(span) = sp.tail {
            parts.push((&tail, span));
        }
        Ok(join(&parts, interval, &empty))
    }
}

/// Joins the answers over consecutive spans series by series. A series missing from a span
/// gets an `empty` row per bucket there, as `fill(null)` gives over the whole range.
fn join(parts: &[(&[SeriesResult], (i64, i64))], interval: i64, empty: &Cell) -> Vec<SeriesResult> {
    let mut out: BTreeMap<SeriesKey, SeriesResult> = BTreeMap::new();
    for (part, _) in parts {
        for s in part.iter() {
            out.entry((s.name.clone(), s.tags.clone()))
                .or_insert_with(|| SeriesResult {
                    name: s.name.clone(),
                    tags: s.tags.clone(),
                    columns: s.columns.clone(),
                    values: Vec::new(),
                });
        }
    }
    // Each part indexed by series once: a linear search per series and part made the join
    // quadratic in the series count (200 interfaces, 40,000 comparisons of tag maps).
    let indexed: Vec<HashMap<SeriesKeyRef<'_>, &SeriesResult>> = parts
        .iter()
        .map(|(part, _)| part.iter().map(|s| ((&s.name, &s.tags), s)).collect())
        .collect();
    // Every joined series gets about one row per bucket of the whole span.
    let buckets: usize = parts
        .iter()
        .map(|(_, (a, b))| usize::try_from((b - a) / interval.max(1) + 1).unwrap_or(0))
        .sum();
    for (key, joined) in out.iter_mut() {
        joined.values.reserve(buckets);
        for ((_, (start, end)), index) in parts.iter().zip(&indexed) {
            match index.get(&(&key.0, &key.1)) {
                Some(s) => joined.values.extend(s.values.iter().cloned()),
                None => {
                    let nulls = joined.columns.len().saturating_sub(1);
                    let mut t = start.div_euclid(interval) * interval;
                    while t < *end {
                        let mut row = Vec::with_capacity(nulls + 1);
                        row.push(Cell::Time(t));
                        row.extend(std::iter::repeat_n(empty.clone(), nulls));
                        joined.values.push(row);
                        t += interval;
                    }
                }
            }
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::EngineSource;

    const S: i64 = 1_000_000_000;
    const M: i64 = 60 * S;

    #[test]
    fn splits_at_settled_bucket_boundaries() {
        let now = 1_000 * M + 7 * S;
        let sp = split(now - 120 * M, now, 5 * M, now).expect("split");
        assert_eq!(sp.head, Some((now - 120 * M, 885 * M)));
        // 1000 min + 7 s - 60 s settles at 999:07, so the last whole bucket ends at 995.
        assert_eq!(sp.middle, (885 * M, 995 * M));
        assert_eq!(sp.tail, Some((995 * M, now)));
        // An aligned start has no head; an old enough end has no tail.
        let sp = split(100 * M, 200 * M, 5 * M, now).expect("split");
        assert_eq!(
            (sp.head, sp.middle, sp.tail),
            (None, (100 * M, 200 * M), None)
        );
        // Too few settled buckets: no split.
        assert_eq!(split(now - 30 * M, now, 5 * M, now), None);
        assert_eq!(split(now - 30 * M, now, 0, now), None);
        assert_eq!(
            split(-12 * M + 1, 0, M, 10 * M).map(|s| s.middle),
            Some((-11 * M, 0))
        );
    }

    /// The joined answer equals the engine's answer over the whole range, with a cold and a
    /// warm cache, for every aggregate the builder offers, with series that have no points
    /// in one of the spans.
    #[tokio::test(flavor = "multi_thread")]
    async fn split_answers_equal_whole_answers() -> Result<()> {
        let dir = tempfile::tempdir().expect("tmp");
        let store = tsdb::Store::open(dir.path(), tsdb::StoreOptions::default()).expect("store");
        store.create_database("db").await.expect("db");
        let now = 7_200 * M + 13 * S;
        let mut lp = String::new();
        for i in 0..720i64 {
            let t = now - 2 * 3600 * S + i * 10 * S + 3 * S;
            lp.push_str(&format!("cpu,host=a v={} {t}\n", (i % 17) as f64 * 1.5));
            // b only in the first hour (missing from the tail), c only in the last
            // 3 minutes (missing from the head and the middle).
            if i < 360 {
                lp.push_str(&format!("cpu,host=b v={}.5 {t}\n", i % 5));
            }
            if i >= 702 {
                lp.push_str(&format!("cpu,host=c v={} {t}\n", i as f64));
            }
        }
        let mut batch = tsdb::storage::PointBatch::new();
        for p in common::line_protocol::Parser::new(lp.as_bytes(), Default::default()) {
            batch.push(&p.expect("line"), now);
        }
        store.write("db", None, batch, now).await.expect("write");
        let source = EngineSource::new(store.clone());
        let cache = ResultCache::default();
        let from = now - 2 * 3600 * S;
        for agg in crate::query::AGGREGATES {
            let statement = |a: i64, b: i64| {
                Ok(format!(
                    "SELECT {agg}(v) AS v FROM cpu WHERE time >= {a} AND time < {b} \
                     GROUP BY time(5m), host fill(null)"
                ))
            };
            let whole = source.query("db", &statement(from, now)?).await?;
            assert_eq!(whole.len(), 3, "{agg}");
            for pass in ["cold", "warm"] {
                let joined = cache
                    .bucketed(
                        &source,
                        "db",
                        statement,
                        (from, now),
                        5 * M,
                        empty_bucket(agg),
                        now,
                    )
                    .await?;
                assert_eq!(joined, whole, "{agg}, {pass} cache");
            }
        }
        assert_eq!(cache.len(), crate::query::AGGREGATES.len());
        store.shutdown();
        Ok(())
    }
}
