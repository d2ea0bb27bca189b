//! A write acknowledged with 204 survives `kill -9`, and no batch is half present.
//!
//! Four writers post batches, each batch its own series of `POINTS` points, while the
//! server is killed at an arbitrary moment. After a restart every acknowledged batch must
//! be complete, and every other batch complete or absent.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Server, post};
use tsdb::storage::WriteLog;
use tsdb::{Store, StoreOptions};

const POINTS: i64 = 500;
const WRITERS: usize = 4;

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    for round in 0..2 {
        let server = Server::start(dir.path(), &["--no-auth"]);
        let (status, _) = post(
            &server.url("/query"),
            "application/x-www-form-urlencoded",
            b"q=CREATE+DATABASE+db",
        )
        .expect("create db");
        assert_eq!(status, 200);
        let acked: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (acked, stop, url) = (acked.clone(), stop.clone(), server.url("/write?db=db"));
            writers.push(std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let batch = format!("r{round}w{w}b{n}");
                    let body: String = (0..POINTS)
                        .map(|i| format!("m,batch={batch} v={i},w={w}i {}\n", 1_000_000 + i))
                        .collect();
                    match post(&url, "text/plain", body.as_bytes()) {
                        Ok((204, _)) => acked.lock().expect("lock").push(batch),
                        Ok((status, text)) => panic!("unexpected {status}: {text}"),
                        Err(_) => break, // the server is gone
                    }
                    n += 1;
                }
            }));
        }
        // Let the writers get going, then kill without warning.
        std::thread::sleep(Duration::from_millis(1500 + 700 * round));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().expect("writer");
        }
        let acked = acked.lock().expect("lock").clone();
        assert!(
            acked.len() >= WRITERS,
            "writers made progress before the kill ({})",
            acked.len()
        );

        // Open the store directly, as the restarted server would, and check every batch.
        let store = Store::open(dir.path(), StoreOptions::default()).expect("reopen after kill");
        let (complete, partial) = batch_counts(&store);
        for b in &acked {
            assert_eq!(
                complete.get(b),
                Some(&true),
                "acknowledged batch {b} lost or incomplete"
            );
        }
        assert!(partial.is_empty(), "half-present batches: {partial:?}");
        assert!(store.committed_seq() as usize >= acked.len());
        store.shutdown();
    }
}

/// batch tag -> whether all its points are present; plus the batches with some but not all.
fn batch_counts(store: &Store) -> (std::collections::HashMap<String, bool>, Vec<String>) {
    let cat = store.catalog();
    let mut complete = std::collections::HashMap::new();
    let mut partial = Vec::new();
    let Ok((_, rp)) = cat.retention_policy("db", None) else {
        return (complete, partial);
    };
    let Some(mid) = cat.measurement_id(rp.id, "m") else {
        return (complete, partial);
    };
    let m = &cat.measurements[&mid];
    let fields: Vec<i64> = m.fields.values().map(|f| f.id).collect();
    for sid in &m.series {
        let series = &cat.series[sid];
        let batch = series
            .tags
            .iter()
            .find(|(k, _)| &**k == "batch")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let mut all = true;
        let mut any = false;
        for f in &fields {
            let n = store
                .read_column(*sid, *f, i64::MIN, i64::MAX)
                .expect("read")
                .map_or(0, |(t, _)| t.len() as i64);
            all &= n == POINTS;
            any |= n > 0;
        }
        if any && !all {
            partial.push(batch.clone());
        }
        complete.insert(batch, all);
    }
    (complete, partial)
}
