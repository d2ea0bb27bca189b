//! Store behaviour through its public API: writes, reads, restarts, drops, the write log.

use common::{FieldValue, Point};

use super::*;
use crate::codec::Column;

fn point(m: &str, host: &str, fields: &[(&str, FieldValue)], t: i64) -> Point {
    Point {
        measurement: m.into(),
        tags: vec![("host".into(), host.into())],
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        timestamp: Some(t),
    }
}

fn batch(points: &[Point]) -> PointBatch {
    let mut b = PointBatch::new();
    for p in points {
        b.push_point(p, 0);
    }
    b
}

fn small_chunks() -> StoreOptions {
    StoreOptions {
        chunk_points: 4,
        ..StoreOptions::default()
    }
}

async fn open(dir: &std::path::Path, opts: StoreOptions) -> Store {
    let store = Store::open(dir, opts).expect("open");
    store.create_database("db").await.expect("create db");
    store
}

fn ids(store: &Store, m: &str, host: &str, field: &str) -> (SeriesId, FieldId) {
    let cat = store.catalog();
    let (_, rp) = cat.retention_policy("db", None).expect("rp");
    let mid = cat.measurement_id(rp.id, m).expect("measurement");
    let sid = cat
        .series_id(mid, &format!("{m},host={host}"))
        .expect("series");
    let fid = cat.measurements[&mid].fields[field].id;
    (sid, fid)
}

fn floats(store: &Store, key: (SeriesId, FieldId)) -> (Vec<i64>, Vec<f64>) {
    match store
        .read_column(key.0, key.1, i64::MIN, i64::MAX)
        .expect("read")
    {
        Some((t, Column::Float(v))) => (t, v),
        None => (vec![], vec![]),
        Some(other) => panic!("unexpected column {other:?}"),
    }
}

#[tokio::test]
async fn writes_survive_restart_with_and_without_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), small_chunks()).await;
    let pts: Vec<Point> = (0..10)
        .map(|i| point("cpu", "a", &[("v", FieldValue::Float(i as f64))], i * 10))
        .collect();
    let out = store
        .write("db", None, batch(&pts), 0)
        .await
        .expect("write");
    assert_eq!((out.points_written, out.dropped, out.seq), (10, 0, 1));
    let key = ids(&store, "cpu", "a", "v");
    // 10 points with chunks of 4: two chunks flushed, two points still in the head.
    let (t, v) = floats(&store, key);
    assert_eq!(t, (0..10).map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(v[9], 9.0);
    store.simulate_crash();
    let store = Store::open(dir.path(), small_chunks()).expect("reopen");
    assert_eq!(floats(&store, key).0.len(), 10, "replayed head + chunks");
    store.flush().await.expect("flush");
    store.shutdown();
    let store = Store::open(dir.path(), small_chunks()).expect("reopen 2");
    let (t, v) = floats(&store, key);
    assert_eq!(t.len(), 10);
    assert_eq!(v, (0..10).map(|i| i as f64).collect::<Vec<_>>());
    store.shutdown();
}

#[tokio::test]
async fn duplicates_merge_fields_last_write_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), small_chunks()).await;
    let first = point(
        "m",
        "a",
        &[("x", FieldValue::Float(1.0)), ("y", FieldValue::Float(1.0))],
        5,
    );
    store
        .write("db", None, batch(&[first]), 0)
        .await
        .expect("w1");
    store.flush().await.expect("flush");
    let second = point("m", "a", &[("x", FieldValue::Float(2.0))], 5);
    store
        .write("db", None, batch(&[second.clone(), second]), 0)
        .await
        .expect("w2");
    let (t, x) = floats(&store, ids(&store, "m", "a", "x"));
    let (_, y) = floats(&store, ids(&store, "m", "a", "y"));
    assert_eq!((t, x, y), (vec![5], vec![2.0], vec![1.0]));
    store.flush().await.expect("flush again");
    assert_eq!(floats(&store, ids(&store, "m", "a", "x")).1, vec![2.0]);
    store.shutdown();
}

#[tokio::test]
async fn type_conflicts_drop_the_point_with_1x_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), StoreOptions::default()).await;
    store
        .write(
            "db",
            None,
            batch(&[point("m", "a", &[("f", FieldValue::Float(1.0))], 1)]),
            0,
        )
        .await
        .expect("w1");
    let out = store
        .write(
            "db",
            None,
            batch(&[
                point("m", "a", &[("f", FieldValue::String("x".into()))], 2),
                point("m", "a", &[("f", FieldValue::Float(3.0))], 3),
            ]),
            0,
        )
        .await
        .expect("w2");
    assert_eq!(out.points_written, 1);
    assert_eq!(out.dropped, 1);
    assert_eq!(
        out.drop_reason.as_deref(),
        Some(
            "field type conflict: input field \"f\" on measurement \"m\" is type string, already exists as type float"
        )
    );
    store.shutdown();
}

#[tokio::test]
async fn unknown_database_and_policy_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), StoreOptions::default()).await;
    let b = batch(&[point("m", "a", &[("f", FieldValue::Float(1.0))], 1)]);
    assert!(matches!(
        store.write("nope", None, b.clone(), 0).await,
        Err(Error::DatabaseNotFound(_))
    ));
    assert!(matches!(
        store.write("db", Some("nope"), b, 0).await,
        Err(Error::RetentionPolicyNotFound(_))
    ));
    store.shutdown();
}

#[tokio::test]
async fn retention_and_series_limits_drop_points() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = StoreOptions {
        max_series_per_database: 2,
        ..StoreOptions::default()
    };
    let store = open(dir.path(), opts).await;
    store
        .create_retention_policy(
            "db",
            "short",
            3_600_000_000_000,
            3_600_000_000_000,
            1,
            false,
        )
        .await
        .expect("rp");
    let now = 10 * 3_600_000_000_000i64;
    let old = batch(&[point("m", "a", &[("f", FieldValue::Float(1.0))], 0)]);
    let out = store
        .write("db", Some("short"), old, now)
        .await
        .expect("write");
    assert_eq!((out.points_written, out.dropped), (0, 1));
    assert_eq!(
        out.drop_reason.as_deref(),
        Some("points beyond retention policy")
    );
    let many: Vec<Point> = ["a", "b", "c"]
        .iter()
        .map(|h| point("m", h, &[("f", FieldValue::Float(1.0))], 1))
        .collect();
    let out = store
        .write("db", None, batch(&many), now)
        .await
        .expect("write");
    assert_eq!((out.points_written, out.dropped), (2, 1));
    assert!(
        out.drop_reason
            .unwrap_or_default()
            .contains("max-series-per-database")
    );
    store.shutdown();
}

#[tokio::test]
async fn dropped_data_does_not_come_back_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), small_chunks()).await;
    let pts: Vec<Point> = (0..6)
        .flat_map(|i| {
            [
                point("m", "a", &[("f", FieldValue::Float(i as f64))], i),
                point("m", "b", &[("f", FieldValue::Float(i as f64))], i),
            ]
        })
        .collect();
    store
        .write("db", None, batch(&pts), 0)
        .await
        .expect("write");
    let a = ids(&store, "m", "a", "f");
    let b = ids(&store, "m", "b", "f");
    store.drop_series(vec![a.0]).await.expect("drop series");
    store.delete_range(vec![b.0], 2, 3).await.expect("delete");
    assert_eq!(floats(&store, b).0, vec![0, 1, 4, 5]);
    store.simulate_crash(); // the log still holds the original writes
    let store = Store::open(dir.path(), small_chunks()).expect("reopen");
    assert!(!store.catalog().series.contains_key(&a.0));
    assert_eq!(floats(&store, a).0, Vec::<i64>::new());
    assert_eq!(floats(&store, b).0, vec![0, 1, 4, 5]);
    store.drop_database("db").await.expect("drop db");
    assert!(store.catalog().databases.is_empty());
    store.shutdown();
}

#[tokio::test]
async fn write_log_is_read_in_order_and_kept_for_subscribers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), small_chunks()).await;
    store.acknowledge("alerter", 0).await.expect("register");
    for i in 0..3 {
        let p = point(
            "cpu",
            "a",
            &[("usage_idle", FieldValue::Float(50.0 + i as f64))],
            i,
        );
        store
            .write("db", None, batch(&[p]), 0)
            .await
            .expect("write");
    }
    assert_eq!(store.committed_seq(), 3);
    store.flush().await.expect("flush"); // flushed, but the subscriber has not read it
    let entries = store.read_after(1, 10).expect("read");
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(entries[0].database, "db");
    assert_eq!(entries[0].retention_policy, "autogen");
    assert_eq!(
        entries[1].points[0].fields[0],
        ("usage_idle".into(), FieldValue::Float(52.0))
    );
    store.acknowledge("alerter", 3).await.expect("ack");
    store.flush().await.expect("flush trims");
    assert!(matches!(
        store.read_after(0, 10),
        Err(Error::LogTrimmed { .. })
    ));
    assert!(store.read_after(3, 10).expect("nothing new").is_empty());
    store.shutdown();
    let store = Store::open(dir.path(), small_chunks()).expect("reopen");
    assert_eq!(store.committed_seq(), 3, "sequence survives an empty log");
    store.shutdown();
}

#[tokio::test]
async fn last_value_prefers_newest_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), small_chunks()).await;
    let pts: Vec<Point> = [5, 1, 9, 3, 7]
        .iter()
        .map(|&t| point("m", "a", &[("f", FieldValue::Integer(t))], t))
        .collect();
    store
        .write("db", None, batch(&pts), 0)
        .await
        .expect("write");
    let key = ids(&store, "m", "a", "f");
    assert_eq!(
        store.last_value(key.0, key.1).expect("last"),
        Some((9, Value::Integer(9)))
    );
    store.flush().await.expect("flush");
    assert_eq!(
        store.last_value(key.0, key.1).expect("last"),
        Some((9, Value::Integer(9)))
    );
    store.shutdown();
}

#[tokio::test]
async fn flushed_log_space_is_returned_to_the_file_system() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), StoreOptions::default()).await;
    for b in 0..20 {
        let pts: Vec<Point> = (0..500)
            .map(|i| {
                point(
                    "m",
                    &format!("h{}", i % 50),
                    &[("v", FieldValue::Float(i as f64 * 1.5))],
                    b * 1000 + i,
                )
            })
            .collect();
        store
            .write("db", None, batch(&pts), 0)
            .await
            .expect("write");
    }
    store.flush().await.expect("flush");
    let conn = admin_connection(dir.path()).expect("conn");
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .expect("freelist");
    let log: i64 = conn
        .query_row("SELECT COUNT(*) FROM write_log", [], |r| r.get(0))
        .expect("log");
    assert_eq!((log, free), (0, 0), "log trimmed and its pages released");
    store.shutdown();
}

#[tokio::test]
async fn compaction_merges_runs_and_keeps_last_write_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = StoreOptions {
        chunk_points: 4,
        compact_points: 8,
        ..StoreOptions::default()
    };
    let store = open(dir.path(), opts.clone()).await;
    let write = |pts: Vec<(i64, f64)>| {
        let b = batch(
            &pts.iter()
                .map(|&(t, v)| point("m", "a", &[("f", FieldValue::Float(v))], t))
                .collect::<Vec<_>>(),
        );
        let store = store.clone();
        async move { store.write("db", None, b, 0).await.expect("write") }
    };
    write((0..4).map(|t| (t, 1.0)).collect()).await; // a full chunk of 4
    write(vec![(4, 1.0), (5, 1.0)]).await;
    store.flush().await.expect("flush 1");
    write(vec![(0, 99.0), (6, 1.0)]).await; // overwrites t=0, written last
    store.flush().await.expect("flush 2");
    let key = ids(&store, "m", "a", "f");
    let (t, v) = floats(&store, key);
    assert_eq!(t, vec![0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(v[0], 99.0, "the later write wins after compaction");
    let conn = admin_connection(dir.path()).expect("conn");
    let chunks: i64 = conn
        .query_row("SELECT COUNT(*) FROM chunks", [], |r| r.get(0))
        .expect("count");
    assert_eq!(
        chunks, 1,
        "4 + 2 + 2 points merged into one chunk of at most 8"
    );
    store.shutdown();
    let store = Store::open(dir.path(), opts).expect("reopen");
    assert_eq!(floats(&store, key).1[0], 99.0);
    store.shutdown();
}

#[tokio::test]
async fn write_counters_and_queue_depth_for_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), StoreOptions::default()).await;
    let pts = [
        point(
            "m",
            "a",
            &[("f", FieldValue::Float(1.0)), ("g", FieldValue::Float(2.0))],
            1,
        ),
        point("m", "a", &[("f", FieldValue::Float(1.0))], 2),
    ];
    store
        .write("db", None, batch(&pts), 0)
        .await
        .expect("write");
    let conflict = [point("m", "a", &[("f", FieldValue::Boolean(true))], 3)];
    store
        .write("db", None, batch(&conflict), 0)
        .await
        .expect("write");
    let s = store.stats().expect("stats");
    assert_eq!(
        (s.points_written, s.values_written, s.points_dropped),
        (2, 3, 1)
    );
    assert_eq!(s.write_queue_depth, 0, "every queued request was taken");
    store.shutdown();
}

#[tokio::test]
async fn columns_encoded_off_the_writer_are_stored_once_in_write_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), small_chunks()).await;
    // One point per request, so full columns are sealed and encoded while later writes
    // (including overwrites of earlier times) keep arriving.
    for i in 0..40i64 {
        let p = point("cpu", "a", &[("v", FieldValue::Float(i as f64))], i * 10);
        store
            .write("db", None, batch(&[p]), 0)
            .await
            .expect("write");
        if i % 7 == 6 {
            let again = point("cpu", "a", &[("v", FieldValue::Float(-1.0))], (i - 3) * 10);
            store
                .write("db", None, batch(&[again]), 0)
                .await
                .expect("overwrite");
        }
    }
    let key = ids(&store, "cpu", "a", "v");
    let expected: Vec<f64> = (0..40i64)
        .map(|i| {
            if (i + 3) % 7 == 6 && i + 3 < 40 {
                -1.0
            } else {
                i as f64
            }
        })
        .collect();
    // Reads are whole while chunks are on their way (the pieces stay in the head until then).
    assert_eq!(floats(&store, key).1, expected);
    let mut waited = 0;
    while store.stats().expect("stats").head_values >= 4 {
        assert!(waited < 500, "the encoder never stored the full columns");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 1;
    }
    assert!(store.stats().expect("stats").chunks >= 10);
    let (t, v) = floats(&store, key);
    assert_eq!(t, (0..40).map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(v, expected);
    // After a crash the log replays only what no chunk holds: nothing lost, nothing doubled.
    store.simulate_crash();
    let store = Store::open(dir.path(), small_chunks()).expect("reopen");
    let (t, v) = floats(&store, key);
    assert_eq!(t.len(), 40);
    assert_eq!(v, expected);
    store.shutdown();
}
