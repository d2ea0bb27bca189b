//! `SELECT ... INTO`. Each behaviour here was compared with InfluxDB 1.6.7 on the golden data
//! (same `written` counts, same points read back): GROUP BY tags stay tags, selected tags
//! become fields, `:MEASUREMENT` keeps the source name, the count of points written is the
//! answer, and the errors for a missing database or policy are 1.6.7's.

use common::line_protocol::{Parser, Precision};
use tsdb::auth::Principal;
use tsdb::query::{Cell, QueryContext, QueryEngine, QueryLimits, StatementResult};
use tsdb::storage::PointBatch;
use tsdb::{Store, StoreOptions};

const T0: i64 = 1_767_225_600_000_000_000;
const S: i64 = 1_000_000_000;
const RANGE: &str = "time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:05:00Z'";

/// cpu: 3 hosts, one point every 10 s for 5 minutes.
async fn engine(dir: &std::path::Path) -> QueryEngine {
    let store = Store::open(dir, StoreOptions::default()).expect("open");
    store.create_database("db").await.expect("create db");
    let mut lp = String::new();
    for h in 0..3 {
        for i in 0..30 {
            lp.push_str(&format!(
                "cpu,host=h{h} v={},n={i}i {}\n",
                h * 100 + i,
                T0 + i * 10 * S
            ));
        }
    }
    let mut batch = PointBatch::new();
    for p in Parser::new(lp.as_bytes(), Precision::Nanosecond) {
        batch.push(&p.expect("parses"), 0);
    }
    store.write("db", None, batch, T0).await.expect("write");
    QueryEngine::new(store)
}

async fn run_as(engine: &QueryEngine, q: &str, principal: Principal) -> StatementResult {
    let ctx = QueryContext {
        database: Some("db".into()),
        retention_policy: None,
        principal,
        now: T0 + 3600 * S,
        limits: QueryLimits::default(),
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

async fn run(engine: &QueryEngine, q: &str) -> StatementResult {
    run_as(engine, q, Principal::anonymous_admin()).await
}

fn written(r: &StatementResult) -> i64 {
    assert_eq!(r.error, None);
    assert_eq!(r.series[0].name.as_deref(), Some("result"));
    assert_eq!(r.series[0].columns, ["time", "written"]);
    match r.series[0].values[0][1] {
        Cell::Integer(n) => n,
        ref other => panic!("written is {other:?}"),
    }
}

#[tokio::test]
async fn aggregates_are_written_back_with_their_group_tags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path()).await;
    let q = format!("SELECT mean(v) INTO agg FROM cpu WHERE {RANGE} GROUP BY time(1m), host");
    assert_eq!(written(&run(&engine, &q).await), 15);
    let back = run(&engine, "SELECT * FROM agg WHERE host = 'h1'").await;
    assert_eq!(back.series[0].columns, ["time", "host", "mean"]);
    assert_eq!(
        back.series[0].values[0],
        vec![
            Cell::Time(T0),
            Cell::String("h1".into()),
            Cell::Float(102.5)
        ]
    );
    let keys = run(&engine, "SHOW TAG KEYS FROM agg").await;
    assert_eq!(
        keys.series[0].values,
        vec![vec![Cell::String("host".into())]]
    );
    // Running it again overwrites the same points: still 15 of them.
    assert_eq!(written(&run(&engine, &q).await), 15);
    let count = run(&engine, "SELECT count(mean) FROM agg").await;
    assert_eq!(count.series[0].values[0][1], Cell::Integer(15));
}

#[tokio::test]
async fn selected_tags_become_fields_and_measurement_backreferences_keep_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path()).await;
    let q = format!("SELECT v, host INTO raw FROM cpu WHERE {RANGE}");
    // 90 rows, but without GROUP BY tags the three hosts' rows share one series: the last
    // row of each timestamp wins, as in 1.6.7.
    assert_eq!(written(&run(&engine, &q).await), 90);
    let fields = run(&engine, "SHOW FIELD KEYS FROM raw").await;
    let names: Vec<&Cell> = fields.series[0].values.iter().map(|r| &r[0]).collect();
    assert!(names.contains(&&Cell::String("host".into())), "{names:?}");
    assert_eq!(
        run(&engine, "SELECT count(v) FROM raw").await.series[0].values[0][1],
        Cell::Integer(30)
    );

    let q = format!(
        "SELECT max(n) INTO db.autogen.:MEASUREMENT FROM cpu WHERE {RANGE} GROUP BY time(5m), *"
    );
    assert_eq!(written(&run(&engine, &q).await), 3);
    let max = run(&engine, "SELECT max FROM cpu WHERE host = 'h2'").await;
    assert_eq!(
        max.series[0].values,
        vec![vec![Cell::Time(T0), Cell::Integer(29)]]
    );
}

#[tokio::test]
async fn targets_must_exist_and_be_writable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path()).await;
    let q = format!("SELECT mean(v) INTO nosuch..x FROM cpu WHERE {RANGE} GROUP BY time(1m)");
    assert_eq!(
        run(&engine, &q).await.error.as_deref(),
        Some("database not found: nosuch")
    );
    let q = format!("SELECT mean(v) INTO db.nosuch.x FROM cpu WHERE {RANGE} GROUP BY time(1m)");
    assert_eq!(
        run(&engine, &q).await.error.as_deref(),
        Some("retention policy not found: nosuch")
    );
    let reader = Principal {
        name: "reader".into(),
        admin: false,
        database: Some("db".into()),
        can_read: true,
        can_write: false,
    };
    let q = format!("SELECT mean(v) INTO x FROM cpu WHERE {RANGE} GROUP BY time(1m)");
    let r = run_as(&engine, &q, reader).await;
    assert!(r.error.is_some(), "a read-only principal wrote");
    assert!(
        run(&engine, "SHOW MEASUREMENTS").await.series[0]
            .values
            .iter()
            .all(|r| r[0] != Cell::String("x".into()))
    );
    let q = "SELECT v INTO empty FROM cpu WHERE host = 'nosuch'";
    assert_eq!(written(&run(&engine, q).await), 0);
}
