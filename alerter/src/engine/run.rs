//! The loops of a running task: the stream follower (write log), the batch scheduler,
//! and one outbox worker per handler.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::{Inner, SUBSCRIBER, TaskDef, lock, now_ns};
use crate::alert::AlertEvent;
use crate::alert::handlers::{Delivery, HandlerSpec, deliver_once, log_has_line};
use crate::batch::QuerySpec;
use crate::error::Error;
use crate::runtime::Task;
use crate::tick::TaskType;
use tsdb::storage::WriteLog;

/// Write-log entries per step (one transaction each).
const STEP_ENTRIES: usize = 256;
/// Delivery attempts before an event is given up (and logged).
const MAX_ATTEMPTS: i64 = 5;
/// How often a stream task saves its state (events are queued at every step). A save
/// serializes the task's whole state (all groups); a restart replays at most this much
/// of the write log, recreating already-queued events under the same keys.
const SAVE_EVERY: Duration = Duration::from_secs(5);
/// Delivered outbox rows kept per task as replay dedup keys.
const KEEP_DELIVERED: usize = 10_000;
/// How often an outbox worker prunes delivered rows.
const PRUNE_EVERY: Duration = Duration::from_secs(30);
/// How often the wall clock of stats/deadman and barrier nodes advances.
const TICK_EVERY: Duration = Duration::from_millis(250);

struct Ctx {
    inner: Arc<Inner>,
    def: TaskDef,
    task: Arc<Mutex<Task>>,
    handlers: BTreeMap<String, usize>,
    notify: Vec<Arc<Notify>>,
    error: Arc<Mutex<String>>,
    /// Whether the task has nodes on the clock.
    clocked: bool,
    /// One bounded queue and worker per httpPost URL (at most once, like Kapacitor).
    posts: Mutex<BTreeMap<String, Delivery>>,
}

impl Ctx {
    /// Saves the step (state, position, events) and wakes the outbox workers.
    /// With `seq` `None` only the events are queued: the saved state stays behind,
    /// and a restart replays from it, recreating these events under the same keys.
    fn commit(&self, seq: Option<u64>, events: Vec<AlertEvent>) -> Result<(), Error> {
        let state = seq.map(|_| lock(&self.task).snapshot());
        let rows: Vec<(AlertEvent, usize)> = events
            .into_iter()
            .map(|e| {
                let n = self.handlers.get(&e.node).copied().unwrap_or(0);
                (e, n)
            })
            .collect();
        let queued = match (seq, state) {
            (Some(seq), Some(state)) => lock(&self.inner.db).commit_step(
                &self.def.id,
                &self.def.script,
                seq,
                &state,
                &rows,
            )?,
            _ => lock(&self.inner.db).queue_events(&self.def.id, &rows)?,
        };
        if queued > 0 {
            for n in &self.notify {
                n.notify_one();
            }
        }
        Ok(())
    }

    /// Advances the task's clock to now and queues the events it caused (they are not
    /// recreated by a replay, so they go to the outbox at once).
    fn tick(&self) -> Result<(), Error> {
        if !self.clocked {
            return Ok(());
        }
        let events = lock(&self.task).tick(now_ns(), true);
        self.send_posts();
        if events.is_empty() {
            return Ok(());
        }
        self.commit(None, events)
    }

    /// Hands what httpPost nodes produced to their delivery queues; never waits.
    fn send_posts(&self) {
        let posts = lock(&self.task).take_posts();
        if posts.is_empty() {
            return;
        }
        let mut queues = lock(&self.posts);
        for p in posts {
            let url = match &p.spec {
                HandlerSpec::Post { url, .. } => url.clone(),
                _ => continue,
            };
            let q = queues
                .entry(url)
                .or_insert_with(|| Delivery::start(p.spec.clone(), &self.inner.opts));
            q.send(Arc::from(p.body));
        }
    }

    fn fail(&self, e: impl std::fmt::Display) {
        tracing::warn!(task = %self.def.id, "{e}");
        *lock(&self.error) = e.to_string();
    }
}

pub(super) fn spawn(
    inner: Arc<Inner>,
    def: TaskDef,
    task: Arc<Mutex<Task>>,
    start_seq: u64,
    stop: watch::Receiver<bool>,
    error: Arc<Mutex<String>>,
) -> Result<Vec<JoinHandle<()>>, Error> {
    let specs = lock(&task).handlers();
    let mut handles = Vec::new();
    let mut notify = Vec::new();
    let mut counts = BTreeMap::new();
    for (node, list) in specs {
        counts.insert(node.clone(), list.len());
        for (h, spec) in list.into_iter().enumerate() {
            let n = Arc::new(Notify::new());
            notify.push(n.clone());
            let (inner, id, node) = (inner.clone(), def.id.clone(), node.clone());
            handles.push(
                inner
                    .rt
                    .clone()
                    .spawn(outbox_worker(inner, id, node, h, spec, n)),
            );
        }
    }
    let batch_specs = if def.task_type == TaskType::Batch {
        QuerySpec::all(lock(&task).graph())?
    } else {
        Vec::new()
    };
    let clocked = lock(&task).clocked();
    let ctx = Ctx {
        inner: inner.clone(),
        def,
        task,
        handlers: counts,
        notify,
        error,
        clocked,
        posts: Mutex::new(BTreeMap::new()),
    };
    let h = match ctx.def.task_type {
        TaskType::Stream => inner.rt.spawn(stream_loop(ctx, start_seq, stop)),
        TaskType::Batch => inner.rt.spawn(batch_loop(ctx, batch_specs, stop)),
    };
    handles.push(h);
    Ok(handles)
}

/// Writes what `influxDBOut` nodes produced: `produced` with the lineage of the entry
/// that caused it, anything else the task holds (clock-driven nodes) as its own. Each
/// write is marked with its lineage plus this task (see `log::LogCache::lineage`).
/// Replays rewrite the same points, which the store takes as overwrites.
async fn write_out(ctx: &Ctx, produced: Produced) {
    let rest = lock(&ctx.task).take_writes();
    if let Some(out) = ctx.inner.opts.output.clone() {
        // Not into the write log: no lineage to keep (see `crate::output`).
        let writes = produced.into_iter().flat_map(|(_, w)| w).chain(rest);
        for e in crate::output::write_grouped(out.as_ref(), writes).await {
            ctx.fail(e);
        }
        return;
    }
    type Key = (String, String, bool, super::log::Lineage);
    let mut groups: BTreeMap<Key, tsdb::storage::PointBatch> = BTreeMap::new();
    let own = |from: Option<super::log::Lineage>| {
        let mut l = from.map(|l| (*l).clone()).unwrap_or_default();
        l.insert(ctx.def.id.clone());
        Arc::new(l)
    };
    let tagged = produced
        .into_iter()
        .map(|(l, w)| (own(l), w))
        .chain((!rest.is_empty()).then(|| (own(None), rest)));
    for (lineage, writes) in tagged {
        for w in writes {
            groups
                .entry((w.database, w.retention_policy, w.create, lineage.clone()))
                .or_default()
                .push_point(&w.point, 0);
        }
    }
    for ((db, rp, create, lineage), batch) in groups {
        if create && let Err(e) = ctx.inner.store.create_database(&db).await {
            ctx.fail(format!("influxDBOut: creating database {db}: {e}"));
            continue;
        }
        let rp = (!rp.is_empty()).then_some(rp);
        let in_flight = ctx.inner.log.begin_write(ctx.inner.store.committed_seq());
        match ctx
            .inner
            .store
            .write(&db, rp.as_deref(), batch, now_ns())
            .await
        {
            Ok(done) => in_flight.done(done.seq, lineage),
            Err(e) => ctx.fail(format!("influxDBOut: writing to {db}: {e}")),
        }
    }
}

/// The writes `influxDBOut` nodes made in a step, each with the lineage of the entry
/// that caused it.
type Produced = Vec<(Option<super::log::Lineage>, Vec<crate::runtime::Write>)>;

async fn acknowledge(inner: &Inner, id: &str, seq: u64) {
    let min = {
        let mut p = lock(&inner.positions);
        p.insert(id.to_string(), seq);
        p.values().copied().min().unwrap_or(seq)
    };
    // An acknowledgement is a transaction on the store's writer, between ingest's
    // writes: only the slowest task's saves move the minimum, so most saves skip it.
    if inner.acked.load(std::sync::atomic::Ordering::Relaxed) == min {
        return;
    }
    match inner.store.acknowledge(SUBSCRIBER, min).await {
        Ok(()) => inner.acked.store(min, std::sync::atomic::Ordering::Relaxed),
        Err(e) => tracing::warn!("acknowledging the write log: {e}"),
    }
}

/// The disk side of a step (state save, event queue), off the async workers and the
/// evaluator threads: a synced transaction must hold up neither.
async fn commit(ctx: &Arc<Ctx>, seq: Option<u64>, events: Vec<AlertEvent>) -> Result<(), Error> {
    let c = ctx.clone();
    tokio::task::spawn_blocking(move || c.commit(seq, events))
        .await
        .unwrap_or_else(|e| Err(Error::State(format!("saving task state: {e}"))))
}

/// What a stream step read from the write log and what evaluating it raised.
enum Step {
    Idle,
    Evaluated {
        last: u64,
        events: Vec<AlertEvent>,
        produced: Produced,
    },
}

/// Reads the write-log entries after `seq` and evaluates them (on an evaluator thread).
fn step(ctx: &Ctx, seq: u64) -> Result<Step, tsdb::Error> {
    let entries = ctx
        .inner
        .log
        .read_after(&ctx.inner.store, seq, STEP_ENTRIES)?;
    let Some(last) = entries.last().map(|e| e.seq) else {
        return Ok(Step::Idle);
    };
    // Before the task lock: finding a lineage may wait for a write in flight.
    let lineages: Vec<_> = entries
        .iter()
        .map(|e| ctx.inner.log.lineage(e.seq))
        .collect();
    let mut t = lock(&ctx.task);
    let mut events = Vec::new();
    let mut produced = Vec::new();
    for (e, lineage) in entries.iter().zip(lineages) {
        if lineage.as_ref().is_some_and(|l| l.contains(&ctx.def.id)) {
            // This task's own output, maybe through others: feeding it back loops.
            continue;
        }
        for p in &e.points {
            events.extend(t.push_point(&e.database, &e.retention_policy, p));
        }
        let writes = t.take_writes();
        if !writes.is_empty() {
            produced.push((lineage, writes));
        }
    }
    Ok(Step::Evaluated {
        last,
        events,
        produced,
    })
}

async fn stream_loop(ctx: Ctx, mut seq: u64, mut stop: watch::Receiver<bool>) {
    let ctx = Arc::new(ctx);
    let inner = ctx.inner.clone();
    let mut committed = inner.store.watch_committed();
    acknowledge(&inner, &ctx.def.id, seq).await;
    // Tasks save at different phases of SAVE_EVERY (by a hash of the id): a save
    // serializes all of a task's groups, and 100 tasks saving at once stalled
    // evaluation for seconds.
    let phase = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        ctx.def.id.hash(&mut h);
        Duration::from_millis(h.finish() % SAVE_EVERY.as_millis().max(1) as u64)
    };
    let now = std::time::Instant::now();
    let mut saved_at = now.checked_sub(phase).unwrap_or(now);
    let mut dirty = false;
    let clocked = ctx.clocked;
    let mut ticked_at = std::time::Instant::now();
    if let Err(e) = ctx.tick() {
        ctx.fail(format!("saving task state: {e}; task stopped"));
        return;
    }
    loop {
        if *stop.borrow() {
            return;
        }
        if clocked && ticked_at.elapsed() >= TICK_EVERY {
            ticked_at = std::time::Instant::now();
            if let Err(e) = ctx.tick() {
                ctx.fail(format!("saving task state: {e}; task stopped"));
                return;
            }
            dirty = true;
        }
        let c = ctx.clone();
        let Some(result) = inner.eval.run(move || step(&c, seq)).await else {
            ctx.fail("evaluation failed; task stopped");
            return;
        };
        let (last, events, produced) = match result {
            Ok(Step::Evaluated {
                last,
                events,
                produced,
            }) => (last, events, produced),
            Ok(Step::Idle) => {
                if dirty && saved_at.elapsed() < SAVE_EVERY {
                    // Idle but saved recently: wait for data or for the save to be due.
                    // (Saving at every idle moment serialized each task's whole state per
                    // write, which dominated the cost of 100 tasks at a steady write rate.)
                    let due = SAVE_EVERY.saturating_sub(saved_at.elapsed());
                    tokio::select! {
                        r = committed.changed() => if r.is_err() { return },
                        _ = stop.changed() => {}
                        _ = tokio::time::sleep(due) => {}
                        _ = tokio::time::sleep(TICK_EVERY), if clocked => {}
                    }
                    continue;
                }
                if dirty {
                    // Idle: save now, so that a restart has little to replay.
                    match commit(&ctx, Some(seq), Vec::new()).await {
                        Ok(()) => {
                            dirty = false;
                            saved_at = std::time::Instant::now();
                            acknowledge(&inner, &ctx.def.id, seq).await;
                        }
                        Err(e) => {
                            ctx.fail(format!("saving task state: {e}; task stopped"));
                            return;
                        }
                    }
                }
                tokio::select! {
                    r = committed.changed() => if r.is_err() { return },
                    _ = stop.changed() => {}
                    _ = tokio::time::sleep(TICK_EVERY), if clocked => {}
                }
                continue;
            }
            Err(tsdb::Error::LogTrimmed { oldest, .. }) => {
                ctx.fail(format!(
                    "write log trimmed: skipping writes {}..{}",
                    seq + 1,
                    oldest.saturating_sub(1)
                ));
                seq = oldest.saturating_sub(1);
                continue;
            }
            Err(e) => {
                ctx.fail(format!("reading the write log: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        seq = last;
        let save = saved_at.elapsed() >= SAVE_EVERY;
        write_out(&ctx, produced).await;
        ctx.send_posts();
        match commit(&ctx, save.then_some(seq), events).await {
            Ok(()) if save => {
                dirty = false;
                saved_at = std::time::Instant::now();
                acknowledge(&inner, &ctx.def.id, seq).await;
            }
            Ok(()) => dirty = true,
            Err(e) => {
                // The state in memory is ahead of the saved one; only a restart from
                // the saved state keeps them consistent, so stop here.
                ctx.fail(format!("saving task state: {e}; task stopped"));
                return;
            }
        }
    }
}

async fn batch_loop(ctx: Ctx, specs: Vec<QuerySpec>, mut stop: watch::Receiver<bool>) {
    let source = ctx.inner.batch.clone();
    let origin = now_ns();
    let mut next: Vec<Option<i64>> = specs.iter().map(|s| s.next_after(origin, origin)).collect();
    loop {
        let Some((i, at)) = next
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.map(|t| (i, t)))
            .min_by_key(|(_, t)| *t)
        else {
            return;
        };
        let wait = (at - now_ns()).max(0) as u64;
        let wait = if ctx.clocked {
            Duration::from_nanos(wait).min(TICK_EVERY)
        } else {
            Duration::from_nanos(wait)
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if ctx.clocked {
            if let Err(e) = ctx.tick() {
                ctx.fail(format!("saving task state: {e}; task stopped"));
                return;
            }
            if now_ns() < at {
                continue;
            }
        }
        let spec = &specs[i];
        next[i] = spec.next_after(at, origin);
        let events = {
            // The query runs without the task lock; only feeding results takes it.
            let q = match spec.query_text(at) {
                Ok(q) => q,
                Err(e) => {
                    ctx.fail(e);
                    continue;
                }
            };
            let series = match crate::batch::BatchSource::query(
                &*source, &spec.db, &spec.rp, &q, at,
            )
            .await
            {
                Ok(s) => s,
                Err(e) => {
                    ctx.fail(e);
                    continue;
                }
            };
            let batches = spec.to_batches(series, at);
            lock(&ctx.task).push_batches(spec.node, batches)
        };
        write_out(&ctx, Vec::new()).await;
        ctx.send_posts();
        if let Err(e) = ctx.commit(Some(0), events) {
            ctx.fail(format!("saving task state: {e}; task stopped"));
            return;
        }
    }
}

async fn outbox_worker(
    inner: Arc<Inner>,
    task: String,
    node: String,
    handler: usize,
    spec: HandlerSpec,
    notify: Arc<Notify>,
) {
    let mut pruned_at = std::time::Instant::now();
    loop {
        let rows = match lock(&inner.db).pending(&task, &node, handler, 64) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(task = %task, "reading the outbox: {e}");
                Vec::new()
            }
        };
        if rows.is_empty() {
            // Pruning scans the task's rows: now and then, not at every idle moment
            // (that made delivery quadratic in the outbox size under an alert storm).
            if pruned_at.elapsed() >= PRUNE_EVERY {
                let _ = lock(&inner.db).prune_delivered(&task, KEEP_DELIVERED);
                pruned_at = std::time::Instant::now();
            }
            // Also wake up now and then to retry failed deliveries.
            let _ = tokio::time::timeout(Duration::from_secs(5), notify.notified()).await;
            continue;
        }
        // A row tried before may have been delivered just before a crash; a log line
        // can be checked, so it is not appended twice. Other handlers cannot tell and
        // deliver again (at least once).
        let mut results: Vec<(i64, bool)> = Vec::with_capacity(rows.len());
        let mut todo = Vec::with_capacity(rows.len());
        for row in rows {
            if row.attempts > 0 && log_has_line(&spec, &row.json) {
                results.push((row.rowid, true));
            } else {
                todo.push(row);
            }
        }
        let ids: Vec<i64> = todo.iter().map(|r| r.rowid).collect();
        let mut failed = false;
        if let Err(e) = lock(&inner.db).begin(&ids) {
            // Without the marks a crash after delivery would repeat it; retry later.
            tracing::warn!(task = %task, "updating the outbox: {e}");
            todo.clear();
            failed = true;
        }
        for row in todo {
            let ok = match deliver_once(&spec, &row.json, &inner.opts).await {
                Ok(()) => {
                    inner
                        .deliveries
                        .0
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    true
                }
                Err(e) => {
                    inner
                        .deliveries
                        .1
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(task = %task, node = %row.node, handler = row.handler, "alert delivery failed: {e}");
                    failed = true;
                    false
                }
            };
            results.push((row.rowid, ok));
        }
        if let Err(e) = lock(&inner.db).finish(&results, MAX_ATTEMPTS) {
            tracing::warn!(task = %task, "updating the outbox: {e}");
        }
        if failed {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
