//! `EngineSource::with_limits`: pages run under the server's query limits.

use tsdb::query::QueryLimits;
use tsdb::{Store, StoreOptions};
use ui::{DataSource, EngineSource};

#[tokio::test]
async fn pages_run_under_the_configured_limits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("store");
    store.create_database("telegraf").await.expect("db");
    let mut batch = tsdb::storage::PointBatch::new();
    for host in ["a", "b"] {
        let p = common::Point {
            measurement: "cpu".into(),
            tags: vec![("host".into(), host.into())],
            fields: vec![("v".into(), common::FieldValue::Float(1.0))],
            timestamp: Some(1_000_000_000),
        };
        batch.push_point(&p, 0);
    }
    store
        .write("telegraf", None, batch, 0)
        .await
        .expect("write");
    let q = "SELECT v FROM cpu";
    let open = EngineSource::new(store.clone());
    assert_eq!(open.query("telegraf", q).await.expect("query").len(), 1);
    let limited = EngineSource::with_limits(
        store.clone(),
        QueryLimits {
            max_series: 1,
            ..QueryLimits::default()
        },
    );
    let err = limited
        .query("telegraf", q)
        .await
        .expect_err("over the limit");
    assert!(
        err.to_string().contains("max-select-series limit exceeded"),
        "{err}"
    );
    store.shutdown();
}
