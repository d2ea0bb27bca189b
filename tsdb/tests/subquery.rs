//! Subqueries beyond the golden set (tests/golden/queries.txt holds the answers recorded
//! from InfluxDB 1.6.7): the query limits hold inside subqueries, and deep nesting runs.

use common::line_protocol::{Parser, Precision};
use tsdb::auth::Principal;
use tsdb::query::{Cell, QueryContext, QueryEngine, QueryLimits, StatementResult};
use tsdb::storage::PointBatch;
use tsdb::{Store, StoreOptions};

const T0: i64 = 1_767_225_600_000_000_000;
const S: i64 = 1_000_000_000;

/// cpu: 4 hosts x 100 points, one every 10 s.
async fn store(dir: &std::path::Path) -> Store {
    let store = Store::open(dir, StoreOptions::default()).expect("open");
    store.create_database("db").await.expect("create db");
    let mut lp = String::new();
    for h in 0..4 {
        for i in 0..100 {
            lp.push_str(&format!(
                "cpu,host=h{h} v={} {}\n",
                h * 1000 + i,
                T0 + i * 10 * S
            ));
        }
    }
    let mut batch = PointBatch::new();
    for p in Parser::new(lp.as_bytes(), Precision::Nanosecond) {
        batch.push(&p.expect("parses"), 0);
    }
    store.write("db", None, batch, T0).await.expect("write");
    store
}

async fn run(engine: &QueryEngine, q: &str, limits: QueryLimits) -> StatementResult {
    let ctx = QueryContext {
        database: Some("db".into()),
        retention_policy: None,
        principal: Principal::anonymous_admin(),
        now: T0 + 3600 * S,
        limits,
        read_only_method: false,
    };
    let parsed = influxql::parse_query(q).expect("parses");
    engine
        .execute(&parsed, &ctx)
        .await
        .into_iter()
        .next()
        .expect("one result")
}

const RANGE: &str = "time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:20:00Z'";

#[tokio::test]
async fn limits_hold_inside_subqueries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = QueryEngine::new(store(dir.path()).await);

    // 400 points read by the inner statement: over a budget of 300 even though the outer
    // statement only reads 4 rows back.
    let q = format!("SELECT max(m) FROM (SELECT max(v) AS m FROM cpu WHERE {RANGE} GROUP BY host)");
    let ok = run(&engine, &q, QueryLimits::default()).await;
    assert_eq!(ok.error, None);
    assert_eq!(
        ok.series[0].values,
        vec![vec![Cell::Time(T0 + 990 * S), Cell::Float(3099.0)]]
    );
    let limits = QueryLimits {
        max_points: 300,
        ..QueryLimits::default()
    };
    let r = run(&engine, &q, limits).await;
    assert_eq!(r.error.as_deref(), Some("max-select-point limit exceeded"));

    // The budget covers the whole statement: inner reads (400) plus the rows read back.
    let limits = QueryLimits {
        max_points: 401,
        ..QueryLimits::default()
    };
    let q2 = format!("SELECT count(v) FROM (SELECT v FROM cpu WHERE {RANGE})");
    let r = run(&engine, &q2, limits).await;
    assert_eq!(r.error.as_deref(), Some("max-select-point limit exceeded"));

    let limits = QueryLimits {
        max_series: 3,
        ..QueryLimits::default()
    };
    let r = run(&engine, &q, limits).await;
    assert_eq!(
        r.error.as_deref(),
        Some("max-select-series limit exceeded: (4/3)")
    );

    // The inner GROUP BY time(1s) over 20 minutes: 1200 buckets.
    let limits = QueryLimits {
        max_buckets: 1000,
        ..QueryLimits::default()
    };
    let q = format!(
        "SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu WHERE {RANGE} GROUP BY time(1s))"
    );
    let r = run(&engine, &q, limits).await;
    assert_eq!(
        r.error.as_deref(),
        Some("max-select-buckets limit exceeded: (1200/1000)")
    );
}

#[tokio::test]
async fn subqueries_nest_and_keep_every_inner_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = QueryEngine::new(store(dir.path()).await);
    // Rows of four series share each timestamp: every one is a point of the outer query.
    let q = format!("SELECT count(v), sum(v) FROM (SELECT v FROM cpu WHERE {RANGE})");
    let r = run(&engine, &q, QueryLimits::default()).await;
    let want_sum: f64 = (0..4)
        .flat_map(|h| (0..100).map(move |i| (h * 1000 + i) as f64))
        .sum();
    assert_eq!(
        r.series[0].values,
        vec![vec![
            Cell::Time(0),
            Cell::Integer(400),
            Cell::Float(want_sum)
        ]]
    );
    // Ten levels of nesting: each level passes the rows through.
    let mut q = format!("SELECT v FROM cpu WHERE {RANGE}");
    for _ in 0..10 {
        q = format!("SELECT v FROM ({q})");
    }
    let q = format!("SELECT count(v) FROM ({q}) GROUP BY host");
    let r = run(&engine, &q, QueryLimits::default()).await;
    assert_eq!(r.error, None);
    assert_eq!(r.series.len(), 4);
    for s in &r.series {
        assert_eq!(s.values, vec![vec![Cell::Time(0), Cell::Integer(100)]]);
    }
}
