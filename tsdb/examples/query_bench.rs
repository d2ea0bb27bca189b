//! SELECT benchmark: the seven TSBS queries of bench/peers.sh, run in-process (no HTTP)
//! against the default bench data set, median of N runs each.
//!
//! ```text
//! cargo run --release -p tsdb --example query_bench -- /tmp/perf-data/cpu-only-100h-24hr-seed123-float.lp [DIR] [RUNS]
//! ```
//! The store in DIR (default /tmp/qbench-tigk) is loaded once and reused by later runs.

use std::time::Instant;

use common::line_protocol::{Parser, Precision};
use tsdb::auth::Principal;
use tsdb::query::{QueryContext, QueryLimits, select};
use tsdb::storage::PointBatch;
use tsdb::{Store, StoreOptions};

const QUERIES: &[(&str, &str)] = &[
    (
        "single-groupby-1-1-1",
        "SELECT max(usage_user) from cpu where (hostname = 'host_7') and time >= '2016-01-01T11:00:00Z' and time < '2016-01-01T12:00:00Z' group by time(1m)",
    ),
    (
        "single-groupby-5-1-12",
        "SELECT max(usage_user), max(usage_system), max(usage_idle), max(usage_nice), max(usage_iowait) from cpu where (hostname = 'host_7') and time >= '2016-01-01T06:00:00Z' and time < '2016-01-01T18:00:00Z' group by time(1m)",
    ),
    (
        "cpu-max-all-8",
        "SELECT max(usage_user),max(usage_system),max(usage_idle),max(usage_nice),max(usage_iowait),max(usage_irq),max(usage_softirq),max(usage_steal),max(usage_guest),max(usage_guest_nice) from cpu where (hostname = 'host_3' or hostname = 'host_40' or hostname = 'host_77' or hostname = 'host_14' or hostname = 'host_51' or hostname = 'host_88' or hostname = 'host_25' or hostname = 'host_62') and time >= '2016-01-01T08:00:00Z' and time < '2016-01-01T16:00:00Z' group by time(1h)",
    ),
    (
        "double-groupby-1",
        "SELECT mean(usage_user) from cpu where time >= '2016-01-01T06:00:00Z' and time < '2016-01-01T18:00:00Z' group by time(1h),hostname",
    ),
    (
        "high-cpu-1",
        "SELECT * from cpu where usage_user > 90.0 and (hostname = 'host_7') and time >= '2016-01-01T06:00:00Z' and time < '2016-01-01T18:00:00Z'",
    ),
    (
        "lastpoint",
        "SELECT * from cpu group by \"hostname\" order by time desc limit 1",
    ),
    (
        "groupby-orderby-limit",
        "SELECT max(usage_user) from cpu WHERE time < '2016-01-01T12:00:00Z' group by time(1m) limit 5",
    ),
];

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let data = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "/tmp/perf-data/cpu-only-100h-24hr-seed123-float.lp".into());
    let dir = std::path::PathBuf::from(
        args.get(2)
            .cloned()
            .unwrap_or_else(|| "/tmp/qbench-tigk".into()),
    );
    let runs: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(20);
    let marker = dir.join("loaded");
    let store = Store::open(&dir, StoreOptions::default())?;
    if !marker.exists() {
        store.create_database("benchmark").await?;
        let body = std::fs::read(&data)?;
        let started = Instant::now();
        let mut batch = PointBatch::new();
        let mut values = 0usize;
        for p in Parser::new(&body, Precision::Nanosecond) {
            batch.push(&p?, 0);
            if batch.len() == 5000 {
                values += batch.value_count();
                store
                    .write("benchmark", None, std::mem::take(&mut batch), now_ns())
                    .await?;
            }
        }
        values += batch.value_count();
        store.write("benchmark", None, batch, now_ns()).await?;
        store.flush().await?;
        eprintln!("loaded {values} values in {:.1?}", started.elapsed());
        std::fs::write(&marker, b"")?;
    }
    let ctx = QueryContext {
        database: Some("benchmark".into()),
        retention_policy: None,
        principal: Principal::anonymous_admin(),
        now: now_ns(),
        limits: QueryLimits::default(),
        read_only_method: false,
    };
    println!("| query | median ms | min ms | rows |");
    println!("|---|---:|---:|---:|");
    // QB_ONLY=name runs one query (for profiling).
    let only = std::env::var("QB_ONLY").ok();
    for (name, q) in QUERIES {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let parsed = influxql::parse_query(q)?;
        let Some(influxql::Statement::Select(stmt)) = parsed.statements.first() else {
            continue;
        };
        let mut times = Vec::with_capacity(runs);
        let mut rows = 0;
        // One warm-up run, as peers.sh does.
        for i in 0..=runs {
            let t = Instant::now();
            let out = select::execute(&store, stmt, &ctx)?;
            if i > 0 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            rows = out.iter().map(|s| s.values.len()).sum();
        }
        times.sort_by(f64::total_cmp);
        let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
        let min = times.first().copied().unwrap_or(0.0);
        println!("| {name} | {median:.2} | {min:.2} | {rows} |");
        if std::env::var_os("QB_RSS").is_some() {
            eprintln!("{name}: {}", rss());
        }
    }
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.shutdown()).await?;
    Ok(())
}

/// VmRSS / RssAnon / RssFile / VmHWM of this process, for `QB_RSS=1`.
fn rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            ["VmRSS", "RssAnon", "RssFile", "VmHWM"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" / ")
}
