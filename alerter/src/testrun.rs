//! Offline test runs (`tigk task test`): a task over line protocol in an isolated,
//! in-memory engine, returning the alert events it would send. Handlers are not run,
//! so their paths and addresses are not checked either.
//!
//! Stream tasks get the points in file order, as if written to the task's first dbrp.
//! Batch tasks get the points loaded into a temporary store, then run at the given
//! schedule instants.
//!
//! The clock of `stats`/`deadman` and `barrier` nodes is data time here (the engine's
//! is the wall clock): it starts at the range's start or the first point, each point
//! (or batch run) first advances it to its own time, and the range's end, when given,
//! is where it stops, so that a deadman can fire after the data ends.

use std::collections::BTreeMap;

use common::line_protocol::{Parser, Precision};

use crate::alert::AlertEvent;
use crate::batch::{BatchSource, QuerySpec, StoreSource};
use crate::error::Error;
use crate::options::Options;
use crate::runtime::Task;
use crate::tick::{self, CheckOptions, Dbrp, TaskType, VarValue};

/// Options of [`test_run`].
#[derive(Debug, Clone, Default)]
pub struct TestRunOptions {
    /// Task id (what `.TaskName` shows); `"test"` when empty.
    pub name: String,
    /// Timestamp precision of the input.
    pub precision: Precision,
    /// dbrps given out of band, when the script has no `dbrp`.
    pub dbrps: Vec<Dbrp>,
    /// Template var values.
    pub vars: BTreeMap<String, VarValue>,
    /// Batch: run exactly at these instants (ns).
    pub at: Vec<i64>,
    /// Batch: run at every schedule instant in `(from, to]` (ns). Without `at` and
    /// `range`, the range is from the earliest point to the latest point plus the
    /// query's period and offset. Stream: the clock runs from `from` to `to`.
    pub range: Option<(i64, i64)>,
}

/// Parses line protocol; every point needs a timestamp.
pub fn parse_points(input: &str, precision: Precision) -> Result<Vec<common::Point>, Error> {
    let mut out = Vec::new();
    let mut parser = Parser::new(input.as_bytes(), precision);
    while let Some(r) = parser.next() {
        let p = r.map_err(|e| Error::Input(format!("input: {e}")))?;
        if p.timestamp.is_none() {
            return Err(Error::Input(format!(
                "input: line {}: a timestamp is required in test data",
                parser.line()
            )));
        }
        out.push(p.to_owned_point());
    }
    Ok(out)
}

fn compile(script: &str, opts: &TestRunOptions) -> Result<Task, Error> {
    let check = CheckOptions {
        dbrps: opts.dbrps.clone(),
        require_dbrp: true,
        task_type: None,
        vars: opts.vars.clone(),
    };
    let graph = tick::compile(script, &check)?;
    let name = if opts.name.is_empty() {
        "test"
    } else {
        &opts.name
    };
    let run_opts = Options {
        skip_handler_checks: true,
        ..Options::default()
    };
    Task::new(name, graph, &run_opts)
}

/// Runs a task offline over line protocol and returns its alert events in order
/// (`AlertEvent::to_json` gives what a log handler would write).
///
/// Blocking; safe to call from inside or outside a tokio runtime.
pub fn test_run(
    script: &str,
    input: &str,
    opts: &TestRunOptions,
) -> Result<Vec<AlertEvent>, Error> {
    let (script, input, opts) = (script.to_string(), input.to_string(), opts.clone());
    std::thread::scope(|s| {
        s.spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(test_run_async(&script, &input, &opts))
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Input("test run panicked".into())))
    })
}

/// The async form of [`test_run`].
pub async fn test_run_async(
    script: &str,
    input: &str,
    opts: &TestRunOptions,
) -> Result<Vec<AlertEvent>, Error> {
    let mut task = compile(script, opts)?;
    let points = parse_points(input, opts.precision)?;
    let Some(dbrp) = task.graph().dbrps.first().cloned() else {
        return Err(Error::Invalid("must specify dbrp".into()));
    };
    match task.graph().task_type {
        TaskType::Stream => {
            let range = opts.range;
            Ok(feed_stream(
                &mut task,
                &dbrp.db,
                &dbrp.rp,
                &points,
                range.map(|r| r.0),
                range.map(|r| r.1),
            ))
        }
        TaskType::Batch => {
            let dir = tempfile::tempdir()?;
            let store = tsdb::Store::open(dir.path(), tsdb::StoreOptions::default())?;
            let result = run_batch(&mut task, &store, &points, opts).await;
            store.shutdown();
            result
        }
    }
}

/// Feeds points to a stream task in order, as a test run does: the task's clock
/// (stats/deadman, barrier) starts at `from` (else the first point), reaches each
/// point's time before the point, and ends at `to` when given. What `influxDBOut` and
/// `httpPost` nodes produce is dropped. For previews and offline runs.
pub fn feed_stream(
    task: &mut Task,
    db: &str,
    rp: &str,
    points: &[common::Point],
    from: Option<i64>,
    to: Option<i64>,
) -> Vec<AlertEvent> {
    let mut events = Vec::new();
    if let Some(t) = from.or_else(|| points.first().and_then(|p| p.timestamp)) {
        events.extend(task.tick(t, false));
    }
    for p in points {
        if let Some(t) = p.timestamp {
            events.extend(task.tick(t, false));
        }
        events.extend(task.push_point(db, rp, p));
        task.take_writes();
        task.take_posts();
    }
    if let Some(t) = to {
        events.extend(task.tick(t, false));
    }
    events
}

async fn run_batch(
    task: &mut Task,
    store: &tsdb::Store,
    points: &[common::Point],
    opts: &TestRunOptions,
) -> Result<Vec<AlertEvent>, Error> {
    let specs = QuerySpec::all(task.graph())?;
    let mut created = Vec::new();
    for d in &task.graph().dbrps {
        if !created.contains(&d.db) {
            store.create_database(&d.db).await?;
            created.push(d.db.clone());
        }
        if d.rp != "autogen" {
            store
                .create_retention_policy(&d.db, &d.rp, 0, 0, 1, false)
                .await?;
        }
    }
    let dbrp = task.graph().dbrps.first().cloned();
    if let Some(d) = &dbrp
        && !points.is_empty()
    {
        let mut batch = tsdb::storage::PointBatch::new();
        for p in points {
            batch.push_point(p, 0);
        }
        let now = points.iter().filter_map(|p| p.timestamp).max().unwrap_or(0);
        store.write(&d.db, Some(&d.rp), batch, now).await?;
    }
    let source = StoreSource::new(store.clone());
    let mut instants: Vec<(i64, usize)> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let times: Vec<i64> = if !opts.at.is_empty() {
            opts.at.clone()
        } else {
            let (from, to) = opts.range.unwrap_or_else(|| {
                let min = points.iter().filter_map(|p| p.timestamp).min().unwrap_or(0);
                let max = points.iter().filter_map(|p| p.timestamp).max().unwrap_or(0);
                (min, max + spec.period + spec.offset)
            });
            let mut v = Vec::new();
            let mut t = from;
            while let Some(next) = spec.next_after(t, from) {
                if next > to || v.len() >= 100_000 {
                    break;
                }
                v.push(next);
                t = next;
            }
            v
        };
        instants.extend(times.into_iter().map(|t| (t, i)));
    }
    instants.sort();
    let mut events = Vec::new();
    if let Some(&(first, _)) = instants.first() {
        events.extend(task.tick(opts.range.map_or(first, |r| r.0), false));
    }
    for (now, i) in instants {
        let spec = &specs[i];
        events.extend(task.tick(now, false));
        events.extend(run_query(task, spec, &source, now).await?);
    }
    Ok(events)
}

/// Runs one query node once at `now` and feeds the result to the task.
pub async fn run_query(
    task: &mut Task,
    spec: &QuerySpec,
    source: &dyn BatchSource,
    now: i64,
) -> Result<Vec<AlertEvent>, Error> {
    let q = spec.query_text(now)?;
    let series = source.query(&spec.db, &spec.rp, &q, now).await?;
    let batches = spec.to_batches(series, now);
    let events = task.push_batches(spec.node, batches);
    task.take_writes();
    task.take_posts();
    Ok(events)
}
