//! Files written by the previous chunk format: a store whose chunks are version-1 blobs (as
//! tigk wrote them before the paged format) opens, answers the same, and compaction rewrites
//! the merged chunks in the current format.

use common::{FieldValue, Point};
use rusqlite::Connection;

use super::*;
use crate::codec::{self, Column, EncodeOptions};

fn batch(from: i64, n: i64) -> PointBatch {
    let mut b = PointBatch::new();
    for i in from..from + n {
        let p = Point {
            measurement: "cpu".into(),
            tags: vec![("host".into(), format!("h{}", i % 2))],
            fields: vec![
                ("v".into(), FieldValue::Float(i as f64 / 4.0)),
                ("n".into(), FieldValue::Integer(i)),
            ],
            timestamp: Some(1_000_000_000 * i),
        };
        b.push_point(&p, 0);
    }
    b
}

fn options() -> StoreOptions {
    StoreOptions {
        chunk_points: 8,
        compact_points: 64,
        ..StoreOptions::default()
    }
}

/// Every column of the store, read whole, in catalog order.
fn everything(store: &Store) -> Vec<(i64, i64, Vec<i64>, Column)> {
    let mut keys: Vec<(i64, i64)> = {
        let conn = Connection::open(store.dir().join(DB_FILE)).expect("open");
        let mut stmt = conn
            .prepare("SELECT DISTINCT series_id, field_id FROM chunks ORDER BY 1, 2")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    };
    keys.sort_unstable();
    keys.into_iter()
        .filter_map(|(s, f)| {
            let (t, v) = store.read_column(s, f, i64::MIN, i64::MAX).expect("read")?;
            Some((s, f, t, v))
        })
        .collect()
}

fn versions(dir: &std::path::Path) -> Vec<u8> {
    let conn = Connection::open(dir.join(DB_FILE)).expect("open");
    let mut stmt = conn.prepare("SELECT data FROM chunks").expect("prepare");
    stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
        .expect("query")
        .map(|b| b.expect("blob").first().copied().unwrap_or(0))
        .collect()
}

#[tokio::test]
async fn version_one_chunks_are_read_and_compacted_into_the_current_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), options()).expect("open");
    store.create_database("db").await.expect("create db");
    store
        .write("db", None, batch(0, 40), 0)
        .await
        .expect("write");
    store.flush().await.expect("flush");
    let before = everything(&store);
    assert!(!before.is_empty());
    store.shutdown();

    // Rewrite every chunk as the previous format wrote it.
    {
        let conn = Connection::open(dir.path().join(DB_FILE)).expect("open");
        let rows: Vec<(i64, Vec<u8>)> = {
            let mut stmt = conn
                .prepare("SELECT id, data FROM chunks")
                .expect("prepare");
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("query")
                .collect::<rusqlite::Result<_>>()
                .expect("rows")
        };
        for (id, blob) in rows {
            let (t, v) = codec::decode_chunk(&blob).expect("decode");
            let old = codec::encode_chunk_v1(&t, &v, &EncodeOptions::default()).expect("v1");
            conn.execute("UPDATE chunks SET data = ?1 WHERE id = ?2", (old, id))
                .expect("rewrite");
        }
    }
    assert!(versions(dir.path()).iter().all(|v| *v == 1));

    let store = Store::open(dir.path(), options()).expect("reopen");
    assert_eq!(
        everything(&store),
        before,
        "v1 chunks read back differently"
    );
    // New writes and a flush merge the small v1 chunks with new ones in the current format.
    store
        .write("db", None, batch(40, 40), 0)
        .await
        .expect("write");
    store.flush().await.expect("flush");
    let after = everything(&store);
    for (s, f, t, _) in &before {
        let (_, _, t2, _) = after
            .iter()
            .find(|(s2, f2, ..)| s2 == s && f2 == f)
            .expect("column kept");
        assert!(t2.starts_with(t), "old points lost in column {s}/{f}");
    }
    // Each column's small chunks (three of v1, three new) merge into one current-format chunk.
    let found = versions(dir.path());
    assert!(
        found.iter().all(|v| *v == codec::FORMAT_VERSION),
        "v1 chunks left after compaction: {found:?}"
    );
    store.shutdown();
}
