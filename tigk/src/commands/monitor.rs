//! Self-monitoring: every `interval` the server writes its own metrics into the `_internal`
//! database, as InfluxDB 1.x's `[monitor]` does, through the store's ordinary write path.
//!
//! Measurements carry InfluxDB's names where one exists (`httpd`, `write`,
//! `queryExecutor`, `runtime`, `system`, `database`) and tigk's own otherwise (`store`,
//! `alerter`, `task`). Counters are cumulative since start, as in InfluxDB: graph them with
//! a rate. It lives in the binary because it reads both the store and the alerter.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use common::{FieldValue, Point};
use tsdb::Store;
use tsdb::storage::{LATENCY_BUCKETS, PointBatch, RequestStats, process_rss_bytes};

/// InfluxDB's names for the self-monitoring database and its policy.
pub const DATABASE: &str = "_internal";
pub const POLICY: &str = "monitor";

/// What the collector reads.
#[derive(Clone)]
pub struct Sources {
    pub store: Store,
    pub requests: Arc<RequestStats>,
    pub alerter: Option<alerter::engine::Engine>,
    pub hostname: String,
}

/// Creates `_internal` with a `monitor` policy of `retention` (its only policy, as in
/// InfluxDB) unless the database exists; an existing one is left as the user set it.
pub async fn ensure_database(store: &Store, retention: Duration) -> anyhow::Result<()> {
    if store.catalog().databases.contains_key(DATABASE) {
        return Ok(());
    }
    let ns = i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX);
    let shard = tsdb::storage::catalog::shard_duration_for(ns);
    store.create_database(DATABASE).await?;
    store
        .create_retention_policy(DATABASE, POLICY, ns, shard, 1, true)
        .await?;
    store
        .drop_retention_policy(DATABASE, tsdb::storage::catalog::AUTOGEN)
        .await?;
    Ok(())
}

/// Records every `interval` until the returned task is aborted.
pub fn spawn(
    sources: Sources,
    interval: Duration,
    retention: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = ensure_database(&sources.store, retention).await {
            tracing::warn!("self-monitoring is off: creating {DATABASE}: {e:#}");
            return;
        }
        let started = Instant::now();
        let mut last = Previous::default();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let src = sources.clone();
            let collected = tokio::task::spawn_blocking(move || {
                let points = collect(&src, &mut last, started.elapsed());
                (points, last)
            })
            .await;
            let points = match collected {
                Ok((points, prev)) => {
                    last = prev;
                    points
                }
                Err(_) => return,
            };
            let result = match points {
                Ok(points) => record(&sources.store, &points).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                // Overloaded or stopping: the next interval tries again.
                tracing::debug!("recording self-monitoring points: {e:#}");
            }
        }
    })
}

/// Writes one interval's points.
async fn record(store: &Store, points: &[Point]) -> anyhow::Result<()> {
    let now = now_ns();
    let mut batch = PointBatch::new();
    for p in points {
        batch.push_point(p, now);
    }
    let outcome = store.write(DATABASE, Some(POLICY), batch, now).await?;
    if let Some(why) = outcome.drop_reason {
        tracing::debug!("self-monitoring points dropped: {why}");
    }
    Ok(())
}

/// The query latency histogram at the previous interval, for per-interval figures.
#[derive(Default, Clone, Copy)]
struct Previous {
    buckets: [u64; 13],
    latency_us: u64,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn int(v: u64) -> FieldValue {
    FieldValue::Integer(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Tags sorted by key, as the store's batch expects.
fn point(
    measurement: &str,
    host: &str,
    extra: Option<(&str, &str)>,
    fields: Vec<(&str, FieldValue)>,
) -> Point {
    let mut tags = vec![("hostname".to_string(), host.to_string())];
    if let Some((k, v)) = extra {
        tags.push((k.to_string(), v.to_string()));
    }
    tags.sort();
    Point {
        measurement: measurement.to_string(),
        tags,
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        timestamp: None,
    }
}

/// One interval's points. Blocking: reads SQLite and the alerter's locks.
fn collect(src: &Sources, prev: &mut Previous, uptime: Duration) -> anyhow::Result<Vec<Point>> {
    let host = src.hostname.as_str();
    let stats = src.store.stats().context("reading store stats")?;
    let r = &src.requests;
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut out = Vec::new();

    let write_req = load(&r.writes_ok)
        + load(&r.writes_rejected)
        + load(&r.writes_overloaded)
        + load(&r.writes_unauthorized)
        + load(&r.writes_other);
    out.push(point(
        "httpd",
        host,
        None,
        vec![
            ("writeReq", int(write_req)),
            ("writeReqOK", int(load(&r.writes_ok))),
            ("writeReqRejected", int(load(&r.writes_rejected))),
            ("writeReqOverloaded", int(load(&r.writes_overloaded))),
            ("authFail", int(load(&r.writes_unauthorized))),
            ("pointsWrittenDropped", int(load(&r.points_dropped))),
            ("queryReq", int(load(&r.queries))),
            ("queryReqErrors", int(load(&r.query_errors))),
            (
                "queryReqDurationNs",
                int(load(&r.query_latency_us).saturating_mul(1000)),
            ),
        ],
    ));
    out.push(point(
        "write",
        host,
        None,
        vec![
            ("pointReq", int(stats.points_written + stats.points_dropped)),
            ("pointsWritten", int(stats.points_written)),
            ("valuesWritten", int(stats.values_written)),
            ("writeDrop", int(stats.points_dropped)),
            ("queueDepth", int(stats.write_queue_depth)),
            ("committedSeq", int(stats.committed_seq)),
        ],
    ));

    // Latency over the last interval, from the histogram's growth since then.
    let mut buckets = [0u64; 13];
    for (b, c) in buckets.iter_mut().zip(r.query_latency.iter()) {
        *b = load(c);
    }
    let latency_us = load(&r.query_latency_us);
    let delta: Vec<u64> = buckets
        .iter()
        .zip(prev.buckets.iter())
        .map(|(now, before)| now.saturating_sub(*before))
        .collect();
    let recent: u64 = delta.iter().sum();
    let mut qe = vec![
        ("queriesExecuted", int(load(&r.queries))),
        ("queryDurationNs", int(latency_us.saturating_mul(1000))),
        ("recentQueries", int(recent)),
    ];
    if recent > 0 {
        let mean = latency_us.saturating_sub(prev.latency_us) as f64 / 1e6 / recent as f64;
        qe.push(("recentMeanSeconds", FieldValue::Float(mean)));
        qe.push(("recentP99Seconds", FieldValue::Float(p99_bound(&delta))));
    }
    out.push(point("queryExecutor", host, None, qe));
    *prev = Previous {
        buckets,
        latency_us,
    };

    let mut runtime = Vec::new();
    if let Some(rss) = process_rss_bytes() {
        runtime.push(("rssBytes", int(rss)));
    }
    if let Some(n) = proc_status("Threads:") {
        runtime.push(("threads", int(n)));
    }
    if !runtime.is_empty() {
        out.push(point("runtime", host, None, runtime));
    }
    out.push(point(
        "system",
        host,
        None,
        vec![("uptime", int(uptime.as_secs()))],
    ));

    let disk: u64 = stats.files.iter().map(|(_, n)| *n).sum();
    out.push(point(
        "store",
        host,
        None,
        vec![
            ("diskBytes", int(disk)),
            ("chunks", int(stats.chunks)),
            ("chunkBytes", int(stats.chunk_bytes)),
            (
                "storedValues",
                int(stats.chunk_values + stats.head_values as u64),
            ),
            ("headValues", int(stats.head_values as u64)),
            ("writeLogRows", int(stats.write_log_rows)),
        ],
    ));
    {
        let cat = src.store.catalog();
        for db in cat.databases.values() {
            let measurements: usize = db
                .rps
                .values()
                .map(|rp| cat.measurements_of(rp.id).count())
                .sum();
            out.push(point(
                "database",
                host,
                Some(("database", &db.name)),
                vec![
                    ("numSeries", int(cat.series_count(db.id) as u64)),
                    ("numMeasurements", int(measurements as u64)),
                ],
            ));
        }
    }

    if let Some(engine) = &src.alerter {
        out.extend(alerter_points(engine, host));
    }
    Ok(out)
}

/// The upper bound (seconds) of the latency bucket holding the 99th percentile of `counts`
/// (per bucket of [`LATENCY_BUCKETS`], then +Inf); past the last bound it is the last bound,
/// a floor rather than an estimate.
fn p99_bound(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let target = (total * 99).div_ceil(100).max(1);
    let mut seen = 0;
    let idx = counts
        .iter()
        .position(|n| {
            seen += n;
            seen >= target
        })
        .unwrap_or(LATENCY_BUCKETS.len());
    LATENCY_BUCKETS
        .get(idx)
        .or(LATENCY_BUCKETS.last())
        .copied()
        .unwrap_or(0.0)
}

/// `alerter` (totals, Kapacitor's `num_tasks`/`num_enabled_tasks` in camelCase) and one
/// `task` point per task with its nodes' counters summed.
fn alerter_points(engine: &alerter::engine::Engine, host: &str) -> Vec<Point> {
    let tasks = engine.list();
    let mut out = Vec::new();
    let mut totals = [0i64; 3]; // errors, alerts triggered, crits triggered
    let mut enabled = 0u64;
    let mut executing = 0u64;
    for t in &tasks {
        let sum = |key: &str| -> i64 { t.node_stats.values().filter_map(|m| m.get(key)).sum() };
        let collected = t
            .node_stats
            .values()
            .filter_map(|m| m.get("collected"))
            .max()
            .copied()
            .unwrap_or(0);
        let (errors, alerts, crits) = (
            sum("errors"),
            sum("alerts_triggered"),
            sum("crits_triggered"),
        );
        totals[0] += errors;
        totals[1] += alerts;
        totals[2] += crits;
        enabled += u64::from(t.def.status == alerter::engine::Status::Enabled);
        executing += u64::from(t.executing);
        out.push(point(
            "task",
            host,
            Some(("task", &t.def.id)),
            vec![
                ("executing", FieldValue::Boolean(t.executing)),
                ("collected", FieldValue::Integer(collected)),
                ("errors", FieldValue::Integer(errors)),
                ("alertsTriggered", FieldValue::Integer(alerts)),
                ("critsTriggered", FieldValue::Integer(crits)),
                (
                    "warnsTriggered",
                    FieldValue::Integer(sum("warns_triggered")),
                ),
                ("oksTriggered", FieldValue::Integer(sum("oks_triggered"))),
            ],
        ));
    }
    let mut fields = vec![
        ("numTasks", int(tasks.len() as u64)),
        ("numEnabledTasks", int(enabled)),
        ("numExecutingTasks", int(executing)),
        ("errors", FieldValue::Integer(totals[0])),
        ("alertsTriggered", FieldValue::Integer(totals[1])),
        ("critsTriggered", FieldValue::Integer(totals[2])),
    ];
    let (sent, failed) = engine.deliveries();
    fields.push(("deliveriesSent", int(sent)));
    fields.push(("deliveriesFailed", int(failed)));
    match engine.backlog() {
        Ok((behind, pending)) => {
            fields.push(("writeLogBehind", int(behind)));
            fields.push(("deliveriesPending", int(pending)));
        }
        Err(e) => tracing::debug!("reading the alerter's backlog: {e}"),
    }
    out.push(point("alerter", host, None, fields));
    out
}

/// A number from /proc/self/status (Linux; `None` elsewhere).
fn proc_status(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_is_the_bound_of_the_bucket_holding_it() {
        let mut counts = [0u64; 13];
        counts[0] = 99; // <= 5 ms
        counts[5] = 1; // <= 250 ms
        assert_eq!(p99_bound(&counts), 0.005);
        counts[5] = 2;
        assert_eq!(p99_bound(&counts), 0.25);
        let mut slow = [0u64; 13];
        slow[12] = 3; // beyond the last bound
        assert_eq!(p99_bound(&slow), 30.0);
    }
}
