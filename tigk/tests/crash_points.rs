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
    let server = Server::start_with_env(dir.path(), &["--no-auth"], &[("TIGK_CRASH_AT", point)]);
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

    server = Server::start(dir.path(), &["--no-auth"]);
    let (count, sum) = totals(&server);
    let cut = next..next + 2000;
    let cut_sum: u64 = cut.clone().sum();
    assert!(
        (count, sum) == (acked, acked_sum) || (count, sum) == (acked + 2000, acked_sum + cut_sum),
        "{point}: after the restart {count} points (sum {sum}), acknowledged {acked} (sum {acked_sum})"
    );
    // And the data survives a clean flush after recovery as well.
    server.stop();
    let server = Server::start(dir.path(), &["--no-auth"]);
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
