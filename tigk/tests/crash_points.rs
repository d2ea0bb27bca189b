//! Crashes at named points of a flush and a compaction (`TIGK_CRASH_AT`, see
//! tsdb/src/storage/crash.rs): after a restart every acknowledged point is there exactly
//! once, and nothing else is.

mod support;

use std::time::{Duration, Instant};

use support::{Server, encode, post};

const SERIES: u32 = 3;

/// One batch: `n` points spread over the series, values and timestamps unique per point.
fn batch(first: u64, n: u64) -> String {
    (first..first + n)
        .map(|i| {
            format!(
                "crash,host=h{} v={i}i {}\n",
                i % u64::from(SERIES),
                1_700_000_000_000_000_000u64 + i * 1_000
            )
        })
        .collect()
}

fn totals(server: &Server) -> (u64, u64) {
    let v = support::query(server, "crash", "SELECT count(v), sum(v) FROM crash");
    let row = &v["results"][0]["series"][0]["values"][0];
    (row[1].as_u64().unwrap_or(0), row[2].as_u64().unwrap_or(0))
}

fn crash_at(point: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    // Without the server's own metrics: an `_internal` write alone would reach the crash
    // point three seconds later, before this test's writes on a slow machine.
    let config = dir.path().join("tigk.toml");
    std::fs::write(&config, "[monitor]\nstore_enabled = false\n").expect("config");
    let data = dir.path().join("data");
    let config = config.to_str().expect("utf-8 path");
    let server = Server::start_with_env(
        &data,
        &["--no-auth", "--config", config],
        &[("TIGK_CRASH_AT", point)],
    );
    let (st, body) = post(
        &server.url("/query"),
        "application/x-www-form-urlencoded",
        format!("q={}", encode("CREATE DATABASE crash")).as_bytes(),
    )
    .expect("create");
    assert_eq!(st, 200, "{body}");

    // Enough points for full-chunk flushes during ingest; the idle flush and compaction
    // follow three seconds after the last write.
    let (mut acked, mut acked_sum, mut next) = (0u64, 0u64, 0u64);
    let mut server = server;
    for _ in 0..8 {
        let n = 2000;
        match post(
            &server.url("/write?db=crash"),
            "text/plain",
            batch(next, n).as_bytes(),
        ) {
            Ok((204, _)) => {
                acked += n;
                acked_sum += (next..next + n).sum::<u64>();
            }
            // The crash may cut this request: not acknowledged, so it may or may not be
            // there after the restart; the check below allows for exactly this batch.
            _ => break,
        }
        next += n;
    }
    let started = Instant::now();
    let crashed = loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{point}: never reached"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!crashed.success(), "{point}: exited cleanly");
    drop(server);

    server = Server::start(&data, &["--no-auth"]);
    let (count, sum) = totals(&server);
    let cut = next..next + 2000;
    let cut_sum: u64 = cut.clone().sum();
    assert!(
        (count, sum) == (acked, acked_sum) || (count, sum) == (acked + 2000, acked_sum + cut_sum),
        "{point}: after the restart {count} points (sum {sum}), acknowledged {acked} (sum {acked_sum})"
    );
    // And the data survives a clean flush after recovery as well.
    server.stop();
    let server = Server::start(&data, &["--no-auth"]);
    assert_eq!(
        totals(&server),
        (count, sum),
        "{point}: changed after a second restart"
    );
    server.stop();
}

#[test]
fn crash_after_flushed_chunks_commit() {
    crash_at("flush.chunks_committed");
}

#[test]
fn crash_after_the_log_is_trimmed() {
    crash_at("flush.log_trimmed");
}

#[test]
fn crash_after_a_compaction_merge() {
    crash_at("compact.merged");
}

#[test]
fn crash_before_the_checkpoint() {
    crash_at("flush.before_checkpoint");
}

#[test]
fn crash_after_retention_deletes_expired_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--no-auth"]);
    let q = |server: &Server, q: &str| {
        let (st, body) = post(
            &server.url("/query"),
            "application/x-www-form-urlencoded",
            format!("q={}", encode(q)).as_bytes(),
        )
        .expect("query");
        assert_eq!(st, 200, "{body}");
    };
    q(&server, "CREATE DATABASE crash");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64;
    let hour = 3_600_000_000_000i64;
    // 1000 points three hours old, 500 from the last ten minutes, in other series: retention
    // drops whole chunks, and a chunk holding both would be kept.
    let mut body = String::new();
    for i in 0..1000i64 {
        body.push_str(&format!(
            "crash,host=old{} v={i}i {}\n",
            i % 3,
            now - 3 * hour + i * 1_000_000
        ));
    }
    for i in 0..500i64 {
        body.push_str(&format!(
            "crash,host=new{} v={}i {}\n",
            i % 3,
            10_000 + i,
            now - hour / 6 + i * 1_000_000
        ));
    }
    let (st, text) = post(
        &server.url("/write?db=crash"),
        "text/plain",
        body.as_bytes(),
    )
    .expect("write");
    assert_eq!(st, 204, "{text}");
    q(
        &server,
        "ALTER RETENTION POLICY autogen ON crash DURATION 1h SHARD DURATION 1h",
    );
    server.stop(); // flushes: the old points are in chunks now

    // Retention runs at the first tick after a start: the crash point is reached there.
    let mut server = Server::start_with_env(
        dir.path(),
        &["--no-auth"],
        &[("TIGK_CRASH_AT", "retention.deleted")],
    );
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            assert!(!status.success(), "exited cleanly");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "retention never ran"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    server = Server::start(dir.path(), &["--no-auth"]);
    // The expired points are gone, every recent one is there, and last() is a recent value.
    assert_eq!(totals(&server).0, 500);
    let v = support::query(&server, "crash", "SELECT last(v) FROM crash");
    assert_eq!(v["results"][0]["series"][0]["values"][0][1], 10_499, "{v}");
    server.stop();
}
