//! Benchmark (not a test): what 100 enabled stream tasks cost the store's ingest, how
//! late their alerts are, and how much memory a group takes.
//!
//! One process holds a store and the alerter engine, as `tigk serve` does. Telegraf-shaped
//! `cpu` data (TSBS cpu-only shape: `host` x `cpu` series, the 10 `usage_*` fields, 10 s
//! interval, deterministic) goes through the store's write path (line protocol parsed
//! into a `PointBatch`, `Store::write`) twice: into a store without tasks, then into a
//! fresh store with 100 tasks (half thresholds, half windowed means, all grouped by host
//! and cpu, each logging to its own file).
//!
//! Lag = when the event's line appears in its log file (polled every 5 ms) minus when the
//! write holding the triggering point returned (committed). For a threshold the trigger
//! is the point itself; for an aligned window it is the first point at the window's end,
//! whose time is the event time.
//!
//! ```text
//! cargo run --release -p alerter --example tasks_bench -- [--hosts 100] [--cpus 4] [--hours 1 | --minutes M]
//!     [--tasks 100] [--per-write 10] [--rate VALUES_PER_S]
//! ```

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alerter::Options;
use alerter::engine::{Engine, Status, TaskRequest};
use common::line_protocol::{Parser, Precision};

type BoxError = Box<dyn std::error::Error>;

const FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];
const T0: i64 = 1_704_067_200_000_000_000;
const STEP: i64 = 10_000_000_000;

struct Args {
    hosts: usize,
    cpus: usize,
    hours: i64,
    tasks: usize,
    /// Timestamps per write (each write holds hosts x cpus x this many lines).
    per_write: usize,
    /// Minutes of data (overrides hours when set).
    minutes: i64,
    /// Paced ingest, values/s (0: as fast as the store takes it).
    rate: usize,
}

fn args() -> Args {
    let mut a = Args {
        hosts: 100,
        cpus: 4,
        hours: 1,
        tasks: 100,
        per_write: 10,
        minutes: 0,
        rate: 0,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for w in v.chunks(2) {
        let n = w.get(1).and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
        match w[0].as_str() {
            "--hosts" => a.hosts = n.max(1),
            "--cpus" => a.cpus = n.max(1),
            "--hours" => a.hours = n.max(1) as i64,
            "--tasks" => a.tasks = n,
            "--per-write" => a.per_write = n.max(1),
            "--minutes" => a.minutes = n as i64,
            "--rate" => a.rate = n,
            other => eprintln!("ignored argument {other}"),
        }
    }
    a
}

/// SplitMix64: deterministic data without a dependency.
struct Rng(u64);
impl Rng {
    fn f(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes of line protocol, each with the data times it holds. Every series does a
/// bounded random walk per field (TSBS's shape), full-precision floats.
fn generate(a: &Args) -> Vec<(Vec<i64>, String)> {
    let mut rng = Rng(42);
    let series = a.hosts * a.cpus;
    // Per series and field a centre the walk reverts to: most series are calm, a few
    // busy ones cross the thresholds now and then (an alert storm is not the case
    // measured here).
    let centre: Vec<[f64; 10]> = (0..series)
        .map(|_| {
            let mut c = [0.0; 10];
            for (f, v) in c.iter_mut().enumerate() {
                *v = match FIELDS[f] {
                    "usage_idle" => 30.0 + rng.f() * 65.0,
                    "usage_user" => rng.f() * 60.0,
                    _ => rng.f() * 10.0,
                };
            }
            c
        })
        .collect();
    let mut state = centre.clone();
    let minutes = if a.minutes > 0 {
        a.minutes
    } else {
        a.hours * 60
    };
    let steps = (minutes * 60 * 1_000_000_000 / STEP) as usize;
    let mut out = Vec::new();
    let mut s = 0;
    while s < steps {
        let mut body = String::new();
        let mut times = Vec::new();
        for k in s..(s + a.per_write).min(steps) {
            let t = T0 + k as i64 * STEP;
            times.push(t);
            for (i, (st, ce)) in state.iter_mut().zip(&centre).enumerate() {
                let (h, c) = (i / a.cpus, i % a.cpus);
                body.push_str(&format!("cpu,host=host_{h},cpu=cpu{c} "));
                for (f, v) in st.iter_mut().enumerate() {
                    let noise = (rng.f() - 0.5) * 12.0;
                    *v = (*v + (ce[f] - *v) * 0.2 + noise).clamp(0.0, 100.0);
                    if f > 0 {
                        body.push(',');
                    }
                    body.push_str(&format!("{}={}", FIELDS[f], v));
                }
                body.push_str(&format!(" {t}\n"));
            }
        }
        out.push((times, body));
        s += a.per_write;
    }
    out
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Ingests every write; returns (seconds, commit instant per data time).
async fn ingest(
    store: &tsdb::Store,
    writes: &[(Vec<i64>, String)],
    per_value: Duration,
) -> Result<(f64, HashMap<i64, Instant>), BoxError> {
    let mut committed = HashMap::new();
    let start = Instant::now();
    let mut due = start;
    for (times, body) in writes {
        tokio::time::sleep_until(due.into()).await;
        let mut batch = tsdb::storage::PointBatch::new();
        let parser = Parser::new(body.as_bytes(), Precision::Nanosecond);
        for p in parser {
            batch.push(&p?, 0);
        }
        due += per_value * batch.value_count() as u32;
        store.write("telegraf", None, batch, 0).await?;
        let at = Instant::now();
        for t in times {
            committed.insert(*t, at);
        }
    }
    Ok((start.elapsed().as_secs_f64(), committed))
}

fn script(i: usize, dir: &Path) -> String {
    let log = dir.join(format!("task{i}.log"));
    // Thresholds spread so that some series cross them now and then.
    if i.is_multiple_of(2) {
        format!(
            r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('cpu')
        .groupBy('host', 'cpu')
    |alert()
        .crit(lambda: "usage_user" > {})
        .stateChangesOnly()
        .details('')
        .log('{}')
"#,
            80 + i % 20,
            log.display()
        )
    } else {
        format!(
            r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('cpu')
        .groupBy('host', 'cpu')
    |window()
        .period(1m)
        .every(1m)
        .align()
    |mean('usage_idle')
    |alert()
        .crit(lambda: "mean" < {})
        .stateChangesOnly()
        .details('')
        .log('{}')
"#,
            20 + i % 20,
            log.display()
        )
    }
}

/// Polls the log files; records (event time, when seen) for every new line.
fn tail(files: Vec<PathBuf>, stop: Arc<AtomicBool>, seen: Arc<Mutex<Vec<(i64, Instant)>>>) {
    let mut offsets = vec![0u64; files.len()];
    let mut partial = vec![String::new(); files.len()];
    while !stop.load(Ordering::Relaxed) {
        for (i, f) in files.iter().enumerate() {
            let Ok(mut file) = std::fs::File::open(f) else {
                continue;
            };
            if file.seek(SeekFrom::Start(offsets[i])).is_err() {
                continue;
            }
            let mut buf = String::new();
            let Ok(n) = file.read_to_string(&mut buf) else {
                continue;
            };
            offsets[i] += n as u64;
            let now = Instant::now();
            partial[i].push_str(&buf);
            while let Some(nl) = partial[i].find('\n') {
                let line: String = partial[i].drain(..=nl).collect();
                let t = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| alerter::gofmt::parse_rfc3339(v["time"].as_str()?));
                if let Some(t) = t
                    && let Ok(mut s) = seen.lock()
                {
                    s.push((t, now));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> Result<(), BoxError> {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let writes = generate(&a);
    let values: usize = writes.iter().map(|(t, _)| t.len()).sum::<usize>() * a.hosts * a.cpus * 10;
    let groups = a.hosts * a.cpus;
    let pace = if a.rate > 0 {
        Duration::from_secs_f64(1.0 / a.rate as f64)
    } else {
        Duration::ZERO
    };
    println!(
        "data: {} hosts x {} cpus = {groups} series, {} writes of {} s of data at 10 s, {values} values; pace {}",
        a.hosts,
        a.cpus,
        writes.len(),
        a.per_write * 10,
        if a.rate > 0 {
            format!("{} values/s", a.rate)
        } else {
            "none".into()
        }
    );

    // Without tasks.
    let dir0 = tempfile::tempdir()?;
    let store0 = tsdb::Store::open(dir0.path(), tsdb::StoreOptions::default())?;
    let (secs0, _) = rt.block_on(async {
        store0.create_database("telegraf").await?;
        ingest(&store0, &writes, pace).await
    })?;
    store0.shutdown();
    drop(store0);
    let rss0 = rss_kib();
    let rate0 = values as f64 / secs0;
    println!("no tasks: {secs0:.2} s, {:.0} values/s", rate0);

    // With tasks.
    let dir = tempfile::tempdir()?;
    let alerts = dir.path().join("alerts");
    std::fs::create_dir_all(&alerts)?;
    let store = tsdb::Store::open(&dir.path().join("store"), tsdb::StoreOptions::default())?;
    let opts = Options {
        alert_dir: Some(alerts.clone()),
        ..Options::default()
    };
    let files: Vec<PathBuf> = (0..a.tasks)
        .map(|i| alerts.join(format!("task{i}.log")))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let tailer = {
        let (files, stop, seen) = (files.clone(), stop.clone(), seen.clone());
        std::thread::spawn(move || tail(files, stop, seen))
    };
    let (secs1, committed, engine) = rt.block_on(async {
        store.create_database("telegraf").await?;
        let engine = Engine::open(dir.path(), store.clone(), opts)?;
        for i in 0..a.tasks {
            engine.define(TaskRequest {
                id: Some(format!("task{i}")),
                script: Some(script(i, &alerts)),
                status: Some(Status::Enabled),
                ..TaskRequest::default()
            })?;
        }
        let (secs, committed) = ingest(&store, &writes, pace).await?;
        Ok::<_, BoxError>((secs, committed, engine))
    })?;
    let ingest_end = Instant::now();
    let rate1 = values as f64 / secs1;
    // Let the tasks and deliveries finish: the engine's backlog empties, and the
    // tailer has read every line.
    let mut last = (0usize, Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let n = seen.lock().map(|s| s.len()).unwrap_or(0);
        if n != last.0 {
            last = (n, Instant::now());
        } else if engine.backlog()? == (0, 0) && last.1.elapsed() > Duration::from_millis(200) {
            break;
        }
    }
    let drained = last.1;
    stop.store(true, Ordering::Relaxed);
    let _ = tailer.join();
    let rss1 = rss_kib();
    let mut lags: Vec<f64> = seen
        .lock()
        .map(|s| {
            s.iter()
                .filter_map(|(t, at)| {
                    committed
                        .get(t)
                        .map(|c| at.duration_since(*c).as_secs_f64())
                })
                .collect()
        })
        .unwrap_or_default();
    lags.sort_by(f64::total_cmp);
    let state_bytes: i64 = rusqlite::Connection::open(dir.path().join("alerter.db"))?.query_row(
        "SELECT coalesce(sum(length(state)), 0) FROM task_state",
        [],
        |r| r.get(0),
    )?;
    let task_groups = groups * a.tasks;
    println!(
        "{} tasks: {secs1:.2} s, {:.0} values/s = {:.0}% of no tasks; all events delivered {:.2} s after the last write",
        a.tasks,
        rate1,
        100.0 * rate1 / rate0,
        drained.saturating_duration_since(ingest_end).as_secs_f64()
    );
    println!(
        "events {}; lag write commit -> log line: p50 {:.3} s, p99 {:.3} s, max {:.3} s",
        lags.len(),
        pct(&lags, 0.5),
        pct(&lags, 0.99),
        lags.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "memory: RSS {} MiB with tasks vs {} MiB after the run without ({} task-groups): ~{:.0} bytes/group; saved state {:.0} bytes/group",
        rss1 / 1024,
        rss0 / 1024,
        task_groups,
        (rss1.saturating_sub(rss0) * 1024) as f64 / task_groups as f64,
        state_bytes as f64 / task_groups as f64
    );
    engine.shutdown();
    store.shutdown();
    Ok(())
}
